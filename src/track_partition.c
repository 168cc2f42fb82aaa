/*-------------------------------------------------------------------------
 *
 * track_partition.c
 *	  Partition maintenance on tracked sources: a TRUNCATE, DROP, DETACH or
 *	  ATTACH of a partition, at any depth, marks stale the processed windows
 *	  whose rows it removed or added.
 *
 * Rows leave a partitioned source not only one by one: a partition (or a
 * partition of a partition) is truncated, dropped or detached with all its
 * rows, and a table that holds rows is attached, the usual way to bulk-load
 * late data.  None of these passes through the capture index or fires a row
 * trigger (track.c), and PostgreSQL clones row triggers to partitions, not
 * statement triggers.  The library is not preloaded, so no ProcessUtility
 * hook sees the commands; these do:
 *
 * - TRUNCATE: a BEFORE TRUNCATE statement trigger on every leaf partition
 *	 under a tracked source, put there by track.c when tracking starts and
 *	 on partitions created or attached later (TrackSyncPartitionTriggers).
 *	 A TRUNCATE of a partitioned table fires it on each of its leaves.
 * - DROP TABLE of a partition, and DROP SCHEMA or DROP OWNED that take
 *	 partitions with them: the event trigger on ddl_command_start, while
 *	 the rows are still there.
 * - DETACH PARTITION (also CONCURRENTLY, FINALIZE): the ddl_command_start
 *	 trigger notes the partition's bounds, and the ddl_command_end trigger
 *	 marks once it is detached (in the second transaction of a concurrent
 *	 detach, when its rows have left every new snapshot), then takes the
 *	 partition trigger and the capture index off the detached table.
 * - ATTACH PARTITION and CREATE TABLE ... PARTITION OF (also in CREATE
 *	 SCHEMA): the ddl_command_end trigger marks what an attached table brought, and puts the TRUNCATE
 *	 trigger on the new leaves.
 *
 * Which windows.  Reading every row of a partition to learn which windows
 * it touches would cost as much as the data, so rows are placed by the
 * partition's bounds: at each level between the partition and the tracked
 * source where the parent is partitioned by RANGE or LIST with the tracked
 * event-time column as first key, the bounds narrow the event times the
 * partition may hold.  A side they leave open (a DEFAULT partition, a key
 * on another column or on an expression, MINVALUE or MAXVALUE) is closed by
 * the partition's rows: min() and max() of the column, an index probe each
 * where it is indexed, read as the table's owner.  A partition whose rows
 * cannot be read so (a foreign table, or an owner under forced row
 * security) keeps the side open.  The windows of each tracking pipeline
 * that overlap the range are marked stale, in the command's own
 * transaction: exactly the windows of the rows when the partitions follow
 * the grid, otherwise every window the partition's bounds (or its rows'
 * range) can hold.  A range that holds no event time marks nothing.
 *
 * Why no change is lost.  Marks commit with the command, and a window's
 * replacement consumes only the marks its snapshot sees (track.c): a window
 * replaced before the commit keeps its mark and is processed again, one
 * replaced after reads the partition's rows, or their absence.  That leaves
 * a window a run processes for the first time while the command runs: it
 * has no state row yet to be marked by, and an ATTACH or a concurrent
 * DETACH does not conflict with the locks its query takes.  So each command
 * behaves as a writer does (horizon.c): it holds a write lock on the source
 * or a partition of it before it reads the horizons (DROP takes the locks
 * DROP TABLE takes, parent first; ATTACH and DETACH a ROW EXCLUSIVE lock on
 * the table they alter; TRUNCATE holds its own), and marks every window in
 * the range before the horizon, processed or not, as well as every
 * processed one after it.  A run that raised the horizon before the lock
 * was taken is past the horizon read, so the windows it may be processing
 * for the first time are marked; a run that raises it later waits for the
 * command's transaction, since its lock is a write lock, before it
 * processes a window in full.  A mark of a window never processed is
 * consumed when it is first processed.
 *
 * A TRUNCATE of the tracked source itself marks every processed window
 * (track.c); its leaves mark theirs once more, which costs a statement each
 * and changes nothing.
 *
 * Not seen here: a partition dropped by any other command (DROP EXTENSION
 * of an extension that owns it), and legacy inheritance children, which
 * inherit no trigger or index and are not tracked at all (doc/late-data.md).
 * Rows that SPLIT or MERGE of partitions move stay in the source and need
 * no mark; the new partitions get the TRUNCATE trigger like any other.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_partitioned_table.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "grid.h"
#include "sandbox.h"
#include "track.h"

/*
 * The event times a partition may hold, in the column's own terms: instants
 * for timestamptz, local times for timestamp, a date as the local time of
 * its midnight.
 */
typedef struct EventRange
{
	bool		has_lo;
	Timestamp	lo;				/* inclusive */
	bool		has_hi;
	Timestamp	hi;				/* exclusive */
	bool		empty;			/* no event time at all */
} EventRange;

/* the range of one source's event-time column in one partition */
typedef struct KnownRange
{
	Oid			source;
	const char *column;
	EventRange	range;
} KnownRange;

/* what a DETACH will take away from a tracking pipeline, noted before it runs */
typedef struct DetachNote
{
	Oid			relid;
	CatalogTracker tracker;
	Oid			type;			/* of the event-time column */
	EventRange	range;			/* from the bounds the partition had */
} DetachNote;

static MemoryContext notes_context = NULL;
static List *detach_notes = NIL;	/* of DetachNote *, of the last ALTER TABLE */

PG_FUNCTION_INFO_V1(microbatch_track_partition_truncate);
PG_FUNCTION_INFO_V1(microbatch_on_partition_ddl_start);
PG_FUNCTION_INFO_V1(microbatch_on_partition_ddl_end);

/*
 * TrackersAbove lists the trackers whose source is an ancestor of relid, a
 * partition at any depth.
 */
static List *
TrackersAbove(Oid relid)
{
	List	   *ancestors;
	List	   *found = NIL;
	ListCell   *lc;

	if (!OidIsValid(relid) || !get_rel_relispartition(relid) || !CatalogHasTracking())
		return NIL;
	ancestors = get_partition_ancestors(relid);
	foreach(lc, CatalogReadTrackers(CurrentMemoryContext))
		if (list_member_oid(ancestors, ((CatalogTracker *) lfirst(lc))->source))
			found = lappend(found, lfirst(lc));
	return found;
}

/* Owner returns the owner of a relation, or InvalidOid. */
static Oid
Owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner = InvalidOid;

	if (HeapTupleIsValid(tuple))
	{
		owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
		ReleaseSysCache(tuple);
	}
	return owner;
}

/* NamespaceOwner returns the owner of a schema, or InvalidOid. */
static Oid
NamespaceOwner(Oid namespace)
{
	HeapTuple	tuple = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(namespace));
	Oid			owner = InvalidOid;

	if (HeapTupleIsValid(tuple))
	{
		owner = ((Form_pg_namespace) GETSTRUCT(tuple))->nspowner;
		ReleaseSysCache(tuple);
	}
	return owner;
}

/*
 * InTrackedTree tells whether relid is a tracked source or a partition of
 * one, at any depth.
 */
static bool
InTrackedTree(Oid relid)
{
	ListCell   *lc;

	if (!OidIsValid(relid) || !CatalogHasTracking())
		return false;
	foreach(lc, CatalogReadTrackers(CurrentMemoryContext))
		if (((CatalogTracker *) lfirst(lc))->source == relid)
			return true;
	return TrackersAbove(relid) != NIL;
}

/* EventType returns the type of a relation's event-time column, if supported. */
static Oid
EventType(Oid relid, const char *column)
{
	AttrNumber	attnum = get_attnum(relid, column);
	Oid			type;

	if (attnum == InvalidAttrNumber)
		return InvalidOid;
	type = get_atttype(relid, attnum);
	return type == TIMESTAMPTZOID || type == TIMESTAMPOID || type == DATEOID ? type : InvalidOid;
}

/* ColumnTime reads a finite value of the column as a Timestamp (see EventRange). */
static bool
ColumnTime(Datum value, Oid type, Timestamp *t)
{
	if (type == DATEOID)
	{
		DateADT		date = DatumGetDateADT(value);

		if (DATE_NOT_FINITE(date) || date >= (TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JDATE))
			return false;
		*t = (Timestamp) date * USECS_PER_DAY;
		return true;
	}
	*t = DatumGetTimestamp(value);
	return !TIMESTAMP_NOT_FINITE(*t);
}

/* After is the exclusive end of the values up to t included. */
static Timestamp
After(Timestamp t, Oid type)
{
	return type == DATEOID ? t + USECS_PER_DAY : t + 1;
}

/* NarrowLow closes the lower side of a range, or raises it. */
static void
NarrowLow(EventRange *range, Timestamp lo)
{
	if (!range->has_lo || lo > range->lo)
		range->lo = lo;
	range->has_lo = true;
}

/* NarrowHigh closes the upper side of a range, or lowers it. */
static void
NarrowHigh(EventRange *range, Timestamp hi)
{
	if (!range->has_hi || hi < range->hi)
		range->hi = hi;
	range->has_hi = true;
}

/* ConstTime reads the value of a bound, if it is a finite one. */
static bool
ConstTime(Node *node, Oid type, Timestamp *t)
{
	Const	   *value = (Const *) node;

	return node != NULL && IsA(node, Const) && !value->constisnull &&
		ColumnTime(value->constvalue, type, t);
}

/*
 * LevelBounds narrows the range by the bounds of child in parent, when
 * parent is partitioned by RANGE or LIST on the event-time column first.
 */
static void
LevelBounds(Oid child, Oid parent, const char *column, Oid type, EventRange *range)
{
	HeapTuple	tuple = SearchSysCache1(PARTRELID, ObjectIdGetDatum(parent));
	Form_pg_partitioned_table key;
	char		strategy;
	int			natts;
	AttrNumber	attnum;
	char	   *key_column;
	Datum		datum;
	bool		isnull;
	PartitionBoundSpec *spec;
	Timestamp	t;

	if (!HeapTupleIsValid(tuple))
		return;
	key = (Form_pg_partitioned_table) GETSTRUCT(tuple);
	strategy = key->partstrat;
	natts = key->partnatts;
	attnum = key->partattrs.values[0];
	ReleaseSysCache(tuple);
	if (attnum == 0)
		return;					/* an expression */
	key_column = get_attname(parent, attnum, true);
	if (key_column == NULL || strcmp(key_column, column) != 0)
		return;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(child));
	if (!HeapTupleIsValid(tuple))
		return;
	datum = SysCacheGetAttr(RELOID, tuple, Anum_pg_class_relpartbound, &isnull);
	spec = isnull ? NULL : (PartitionBoundSpec *) stringToNode(TextDatumGetCString(datum));
	ReleaseSysCache(tuple);
	if (spec == NULL || !IsA(spec, PartitionBoundSpec) || spec->is_default)
		return;

	if (strategy == PARTITION_STRATEGY_RANGE && spec->lowerdatums != NIL &&
		spec->upperdatums != NIL)
	{
		PartitionRangeDatum *lower = linitial(spec->lowerdatums);
		PartitionRangeDatum *upper = linitial(spec->upperdatums);

		if (lower->kind == PARTITION_RANGE_DATUM_VALUE && ConstTime(lower->value, type, &t))
			NarrowLow(range, t);
		/* with more key columns, the first one's upper bound is included */
		if (upper->kind == PARTITION_RANGE_DATUM_VALUE && ConstTime(upper->value, type, &t))
			NarrowHigh(range, natts > 1 ? After(t, type) : t);
	}
	else if (strategy == PARTITION_STRATEGY_LIST)
	{
		EventRange values = {false, 0, false, 0, false};
		ListCell   *lc;

		foreach(lc, spec->listdatums)
		{
			if (((Const *) lfirst(lc))->constisnull)
				continue;		/* NULL event times fall into no window */
			if (!ConstTime(lfirst(lc), type, &t))
				return;			/* infinity: no bound */
			if (!values.has_lo || t < values.lo)
				values.lo = t;
			if (!values.has_hi || After(t, type) > values.hi)
				values.hi = After(t, type);
			values.has_lo = values.has_hi = true;
		}
		if (!values.has_lo)
			range->empty = true;
		else
		{
			NarrowLow(range, values.lo);
			NarrowHigh(range, values.hi);
		}
	}
}

/*
 * BoundsRange is the range of event times that the bounds of relid and of
 * its ancestors up to source allow.
 */
static void
BoundsRange(Oid relid, Oid source, const char *column, Oid type, EventRange *range)
{
	Oid			child = relid;
	ListCell   *lc;

	memset(range, 0, sizeof(EventRange));
	foreach(lc, get_partition_ancestors(relid))
	{
		Oid			parent = lfirst_oid(lc);

		LevelBounds(child, parent, column, type, range);
		if (parent == source)
			break;
		child = parent;
	}
	if (range->has_lo && range->has_hi && range->lo >= range->hi)
		range->empty = true;
}

/*
 * ScanRange closes the open sides of a range with the least and greatest
 * event time of the rows of relid (and of its partitions), read as its
 * owner, when it can read them all.
 */
static void
ScanRange(Oid relid, const char *column, Oid type, EventRange *range)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class form;
	char		relkind;
	bool		forced_rls;
	Oid			owner;
	char	   *sql;
	Sandbox		sandbox;
	bool		isnull;
	Datum		value;
	Timestamp	t;

	if (!HeapTupleIsValid(tuple))
		return;
	form = (Form_pg_class) GETSTRUCT(tuple);
	relkind = form->relkind;
	forced_rls = form->relrowsecurity && form->relforcerowsecurity;
	owner = form->relowner;
	sql = psprintf("SELECT pg_catalog.min(%s), pg_catalog.max(%s) FROM %s",
				   quote_identifier(column), quote_identifier(column),
				   quote_qualified_identifier(get_namespace_name(form->relnamespace),
											  NameStr(form->relname)));
	ReleaseSysCache(tuple);
	if ((relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE) || forced_rls)
		return;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SandboxEnterTrusted(&sandbox, owner);
	if (SPI_execute(sql, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the event times of \"%s\"", get_rel_name(relid));
	SandboxLeave(&sandbox);
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		range->empty = true;
	else
	{
		if (ColumnTime(value, type, &t))
			NarrowLow(range, t);
		value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (!isnull && ColumnTime(value, type, &t))
			NarrowHigh(range, After(t, type));
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	if (range->has_lo && range->has_hi && range->lo >= range->hi)
		range->empty = true;
}

/* Instant reads a bound of a range as an instant of the tracker's zone. */
static bool
Instant(Timestamp t, Oid type, Grid *grid, TimestampTz *instant)
{
	if (type == TIMESTAMPTZOID)
	{
		*instant = t;
		return true;
	}
	return TrackEventInstant(TimestampGetDatum(t), TIMESTAMPOID, grid, instant);
}

/* how many marks of never processed windows MarkRange writes at a time */
#define MARK_CHUNK 10000

/*
 * MarkRange marks stale the windows of the tracker's pipeline that overlap
 * the range: every one before the horizon, processed or not (a run may be
 * processing it for the first time, see the top of the file), and every
 * one after it that has a state row.  Before the horizon means before the
 * pipeline's begin_at no more than after now: no run that did not wait for
 * this transaction plans a window later than that.
 */
static void
MarkRange(CatalogTracker *tracker, Oid type, EventRange *range)
{
	Grid		grid;
	TimestampTz from = DT_NOBEGIN;
	TimestampTz to = DT_NOEND;
	TimestampTz instant;
	TimestampTz until;
	TimestampTz w;
	int64	   *ids = NULL;
	TimestampTz *starts = NULL;
	int			n = 0;

	if (range->empty)
		return;
	GridInit(&grid, tracker->batch_size, tracker->time_zone);
	if (range->has_lo && Instant(range->lo, type, &grid, &instant))
		from = GridFloor(&grid, instant);
	if (range->has_hi && Instant(range->hi, type, &grid, &instant))
		to = instant;
	if (from >= to)
		return;

	until = Min(to, Min(tracker->horizon, GetCurrentTimestamp()));
	for (w = Max(from, tracker->begin_at); w < until; w = GridNext(&grid, w))
	{
		CHECK_FOR_INTERRUPTS();
		if (ids == NULL)
		{
			ids = palloc(sizeof(int64) * MARK_CHUNK);
			starts = palloc(sizeof(TimestampTz) * MARK_CHUNK);
		}
		ids[n] = tracker->pipeline_id;
		starts[n++] = w;
		if (n == MARK_CHUNK)
		{
			CatalogInsertStaleMarks(n, ids, starts);
			n = 0;
		}
	}
	if (n > 0)
		CatalogInsertStaleMarks(n, ids, starts);
	if (ids != NULL)
	{
		pfree(ids);
		pfree(starts);
	}
	if (Max(from, w) < to)
		CatalogMarkProcessedStale(tracker->pipeline_id, Max(from, w), to);
}

/*
 * PartitionRange is the range of event times of relid by a tracker's
 * column: from the bounds, and from the rows where they leave a side open
 * and scan allows.
 */
static void
PartitionRange(Oid relid, CatalogTracker *tracker, Oid type, bool scan, EventRange *range)
{
	BoundsRange(relid, tracker->source, tracker->event_time, type, range);
	if (range->empty || (range->has_lo && range->has_hi) || !scan)
		return;
	ScanRange(relid, tracker->event_time, type, range);
}

/*
 * MarkPartition marks, for every pipeline tracking a source above relid,
 * the windows the rows of relid may fall into.  The caller holds a write
 * lock on relid or on a table above it (see the top of the file), so the
 * horizons read here are those no run that did not wait for it has gone
 * past.  The range of one source's column is computed once.
 */
static void
MarkPartition(Oid relid, bool scan)
{
	List	   *known = NIL;
	ListCell   *lc;

	foreach(lc, TrackersAbove(relid))
	{
		CatalogTracker *tracker = lfirst(lc);
		Oid			type = EventType(relid, tracker->event_time);
		KnownRange *range = NULL;
		ListCell   *k;

		if (!OidIsValid(type))
			continue;
		foreach(k, known)
			if (((KnownRange *) lfirst(k))->source == tracker->source &&
				strcmp(((KnownRange *) lfirst(k))->column, tracker->event_time) == 0)
				range = lfirst(k);
		if (range == NULL)
		{
			range = palloc0(sizeof(KnownRange));
			range->source = tracker->source;
			range->column = tracker->event_time;
			PartitionRange(relid, tracker, type, scan, &range->range);
			known = lappend(known, range);
		}
		MarkRange(tracker, type, &range->range);
	}
}

/*
 * LockForDrop takes the locks a DROP of the partition relid takes, in the
 * order it takes them: its parent's, then its own.
 */
static void
LockForDrop(Oid relid)
{
	LockRelationOid(linitial_oid(get_partition_ancestors(relid)), AccessExclusiveLock);
	LockRelationOid(relid, AccessExclusiveLock);
}

/*
 * microbatch.track_partition_truncate() is the BEFORE TRUNCATE trigger of
 * the leaf partitions of tracked sources: it marks the windows of the rows
 * about to go.
 */
Datum
microbatch_track_partition_truncate(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BY_TRUNCATE(trigger->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("microbatch.track_partition_truncate() must be fired for TRUNCATE")));
	MarkPartition(RelationGetRelid(trigger->tg_relation), true);
	return PointerGetDatum(NULL);
}

/* PartitionCmdRelid resolves the partition an ATTACH or DETACH names. */
static Oid
PartitionCmdRelid(AlterTableCmd *cmd)
{
	PartitionCmd *partition = (PartitionCmd *) cmd->def;

	if (partition == NULL || !IsA(partition, PartitionCmd) || partition->name == NULL)
		return InvalidOid;
	return RangeVarGetRelid(partition->name, NoLock, true);
}

/* IsDetach tells whether an ALTER TABLE subcommand detaches a partition. */
static bool
IsDetach(AlterTableCmd *cmd)
{
#if PG_VERSION_NUM >= 140000
	if (cmd->subtype == AT_DetachPartitionFinalize)
		return true;
#endif
	return cmd->subtype == AT_DetachPartition;
}

/*
 * NoteDetaches notes, before an ALTER TABLE runs, the range of every
 * partition it detaches from under a tracked source, from its bounds
 * (which the detach removes).
 */
static void
NoteDetaches(AlterTableStmt *stmt)
{
	ListCell   *lc;

	if (notes_context == NULL)
		notes_context = AllocSetContextCreate(TopMemoryContext, "microbatch detach notes",
											  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(notes_context);
	detach_notes = NIL;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst(lc);
		Oid			relid;
		ListCell   *t;

		if (!IsA(cmd, AlterTableCmd) || !IsDetach(cmd))
			continue;
		relid = PartitionCmdRelid(cmd);
		foreach(t, TrackersAbove(relid))
		{
			CatalogTracker *tracker = lfirst(t);
			Oid			type = EventType(relid, tracker->event_time);
			MemoryContext old;
			DetachNote *note;

			if (!OidIsValid(type))
				continue;
			old = MemoryContextSwitchTo(notes_context);
			note = palloc0(sizeof(DetachNote));
			note->relid = relid;
			note->tracker = *tracker;
			note->tracker.event_time = pstrdup(tracker->event_time);
			note->tracker.batch_size = pstrdup(tracker->batch_size);
			note->tracker.time_zone = pstrdup(tracker->time_zone);
			note->tracker.target_event_time = NULL;
			note->type = type;
			BoundsRange(relid, tracker->source, tracker->event_time, type, &note->range);
			detach_notes = lappend(detach_notes, note);
			MemoryContextSwitchTo(old);
		}
	}
}

/*
 * MarkDetached marks, once relid is detached, what the notes taken before
 * say it took away: its former bounds, closed by its rows where open, by
 * the horizons read now, under a write lock on the table it was detached
 * from (see the top of the file).  Then it takes the partition trigger and the capture index
 * off it.
 */
static void
MarkDetached(Oid relid, Oid parent)
{
	List	   *trackers = NIL;
	bool		noted = false;
	ListCell   *lc;

	foreach(lc, detach_notes)
	{
		DetachNote *note = lfirst(lc);
		ListCell   *t;

		if (note->relid != relid)
			continue;
		if (!noted)
		{
			LockRelationOid(parent, RowExclusiveLock);
			trackers = CatalogReadTrackers(CurrentMemoryContext);
		}
		noted = true;
		if (!note->range.empty && !(note->range.has_lo && note->range.has_hi))
			ScanRange(relid, note->tracker.event_time, note->type, &note->range);
		foreach(t, trackers)
		{
			CatalogTracker *now = lfirst(t);

			if (now->pipeline_id == note->tracker.pipeline_id && now->source == note->tracker.source)
				MarkRange(now, note->type, &note->range);
		}
	}
	if (noted)
		TrackDropDetached(relid);
}

/*
 * MarkDroppedWith marks, before DROP SCHEMA or DROP OWNED, what the
 * partitions of tracked sources that live in one of the namespaces or
 * belong to one of the owners take away with them (the topmost of them
 * only: their own partitions are in their range).  A source that goes
 * too is forgotten (lifecycle.c): nothing to mark.
 */
static void
MarkDroppedWith(List *namespaces, List *owners)
{
	List	   *sources = NIL;
	List	   *doomed = NIL;
	ListCell   *lc;

	if (!CatalogHasTracking())
		return;
	foreach(lc, CatalogReadTrackers(CurrentMemoryContext))
		sources = list_append_unique_oid(sources, ((CatalogTracker *) lfirst(lc))->source);
	foreach(lc, sources)
	{
		Oid			source = lfirst_oid(lc);
		ListCell   *p;

		if (list_member_oid(namespaces, get_rel_namespace(source)) ||
			list_member_oid(owners, Owner(source)))
			continue;
		foreach(p, find_all_inheritors(source, NoLock, NULL))
		{
			Oid			relid = lfirst_oid(p);
			Oid			parent;

			if (relid == source ||
				!(list_member_oid(namespaces, get_rel_namespace(relid)) ||
				  list_member_oid(owners, Owner(relid))))
				continue;
			parent = linitial_oid(get_partition_ancestors(relid));
			if (parent != source &&
				(list_member_oid(namespaces, get_rel_namespace(parent)) ||
				 list_member_oid(owners, Owner(parent))))
				continue;
			doomed = list_append_unique_oid(doomed, relid);
		}
	}
	foreach(lc, doomed)
	{
		LockForDrop(lfirst_oid(lc));
		MarkPartition(lfirst_oid(lc), true);
	}
}

/*
 * microbatch.on_partition_ddl_start() runs at ddl_command_start of ALTER
 * TABLE, DROP TABLE, DROP SCHEMA and DROP OWNED: it marks what a drop takes
 * away from tracked sources, and notes the bounds of partitions a detach
 * is about to take.  A drop the caller may not do (it fails later) locks
 * and marks nothing.
 */
Datum
microbatch_on_partition_ddl_start(PG_FUNCTION_ARGS)
{
	Node	   *tree;
	ListCell   *lc;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("microbatch.on_partition_ddl_start() must be called as an event trigger")));
	tree = ((EventTriggerData *) fcinfo->context)->parsetree;

	if (IsA(tree, AlterTableStmt))
		NoteDetaches((AlterTableStmt *) tree);
	else if (IsA(tree, DropStmt) && ((DropStmt *) tree)->removeType == OBJECT_TABLE)
	{
		foreach(lc, ((DropStmt *) tree)->objects)
		{
			Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(lfirst(lc)),
												 NoLock, true);

			/* DROP checks ownership before it locks: no lock for others */
			if (TrackersAbove(relid) == NIL || !has_privs_of_role(GetUserId(), Owner(relid)))
				continue;
			LockForDrop(relid);
			MarkPartition(relid, true);
		}
	}
	else if (IsA(tree, DropStmt) && ((DropStmt *) tree)->removeType == OBJECT_SCHEMA)
	{
		List	   *namespaces = NIL;

		foreach(lc, ((DropStmt *) tree)->objects)
		{
			Oid			namespace = get_namespace_oid(strVal(lfirst(lc)), true);

			if (OidIsValid(namespace) && has_privs_of_role(GetUserId(), NamespaceOwner(namespace)))
				namespaces = lappend_oid(namespaces, namespace);
		}
		if (namespaces != NIL)
			MarkDroppedWith(namespaces, NIL);
	}
	else if (IsA(tree, DropOwnedStmt))
	{
		List	   *owners = NIL;

		foreach(lc, ((DropOwnedStmt *) tree)->roles)
		{
			Oid			role = get_rolespec_oid(lfirst(lc), true);

			if (OidIsValid(role) && has_privs_of_role(GetUserId(), role))
				owners = lappend_oid(owners, role);
		}
		if (owners != NIL)
			MarkDroppedWith(NIL, owners);
	}
	PG_RETURN_VOID();
}

/*
 * SyncCreated puts the TRUNCATE trigger on a partition just created under a
 * tracked source.
 */
static void
SyncCreated(CreateStmt *stmt)
{
	Oid			relid;

	if (stmt->partbound == NULL)
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (TrackersAbove(relid) != NIL)
		TrackSyncPartitionTriggers(relid);
}

/*
 * microbatch.on_partition_ddl_end() runs at ddl_command_end of CREATE TABLE,
 * CREATE SCHEMA and ALTER TABLE: a partition created under a tracked source gets the
 * TRUNCATE trigger; an attached one too, and marks what it brought; a
 * detached one marks what it took away (see NoteDetaches).  Any other
 * ALTER TABLE of a partitioned table under tracking makes sure its leaves
 * carry the trigger (SPLIT and MERGE of partitions make new ones).
 */
Datum
microbatch_on_partition_ddl_end(PG_FUNCTION_ARGS)
{
	Node	   *tree;
	bool		pushed;
	ListCell   *lc;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("microbatch.on_partition_ddl_end() must be called as an event trigger")));
	tree = ((EventTriggerData *) fcinfo->context)->parsetree;
	if (!IsA(tree, CreateStmt) && !IsA(tree, CreateSchemaStmt) && !IsA(tree, AlterTableStmt))
		PG_RETURN_VOID();

	/* the second transaction of a concurrent detach may have no snapshot */
	pushed = !ActiveSnapshotSet();
	if (pushed)
		PushActiveSnapshot(GetTransactionSnapshot());
	if (IsA(tree, CreateStmt))
		SyncCreated((CreateStmt *) tree);
	else if (IsA(tree, CreateSchemaStmt))
	{
		foreach(lc, ((CreateSchemaStmt *) tree)->schemaElts)
			if (IsA(lfirst(lc), CreateStmt))
				SyncCreated(lfirst(lc));
	}
	else
	{
		AlterTableStmt *stmt = (AlterTableStmt *) tree;
		Oid			parent = RangeVarGetRelid(stmt->relation, NoLock, true);
		bool		partition_cmd = false;

		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst(lc);
			Oid			relid;

			if (!IsA(cmd, AlterTableCmd))
				continue;
			if (cmd->subtype == AT_AttachPartition)
			{
				partition_cmd = true;
				relid = PartitionCmdRelid(cmd);
				if (TrackersAbove(relid) != NIL)
				{
					LockRelationOid(parent, RowExclusiveLock);
					MarkPartition(relid, true);
					TrackSyncPartitionTriggers(relid);
				}
			}
			else if (IsDetach(cmd))
			{
				partition_cmd = true;
				MarkDetached(PartitionCmdRelid(cmd), parent);
			}
		}
		if (!partition_cmd && OidIsValid(parent) &&
			get_rel_relkind(parent) == RELKIND_PARTITIONED_TABLE && InTrackedTree(parent))
			TrackSyncPartitionTriggers(parent);
	}
	if (pushed)
		PopActiveSnapshot();
	PG_RETURN_VOID();
}

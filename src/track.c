/*-------------------------------------------------------------------------
 *
 * track.c
 *	  Change tracking: the trigger on tracked sources that marks the
 *	  processed windows their changes fall into stale, what mb_track and
 *	  mb_untrack (pipeline.c) call to put it there and take it away, and
 *	  what a window's replacement calls to consume and to pass on marks.
 *
 * A pipeline that tracks a source (microbatch.sources) is told exactly
 * which of its windows changed, so that lookback can be 0.
 *
 * Capture.  mb_track puts three things on the source, whichever pipelines
 * track it: a capture index (capture.c) on the tracked event-time columns,
 * through which every inserted row passes (INSERT, COPY, MERGE, and the new
 * row of an update that is not HOT); AFTER UPDATE (old and new rows) and
 * AFTER DELETE row triggers that call microbatch.track_changes(); and an
 * AFTER TRUNCATE statement trigger.  On a partitioned table PostgreSQL
 * puts the index and the row triggers on every partition, so a write
 * straight into a partition is seen too; statement triggers it does not
 * clone, so every leaf partition under a tracked source gets a BEFORE
 * TRUNCATE trigger of its own (TrackSyncPartitionTriggers), which with the
 * rest of partition maintenance is track_partition.c's.
 *
 * Only changes before the horizon, the end of the last window processed in
 * full (horizon.c), are captured: the index compares each inserted row's
 * event time with it (TrackInsertedRow), and the row triggers fire only
 * WHEN microbatch.needs_mark(source, event_time) says so.  New events, the
 * bulk of any ingestion, are compared once and cost nothing more.
 *
 * A captured change is placed on every tracking pipeline's grid and its
 * window added to a per-transaction set (sorted; a row in a window already
 * in the set costs a binary search, not a grid computation); the set is
 * written as stale marks, one row per pipeline and window, just before the
 * transaction commits (XACT_EVENT_PRE_COMMIT), as the catalog owner
 * (catalog.c).  A transaction that touches two distant days writes two
 * marks, never the days between.  TRUNCATE marks every window with a state
 * row at once.
 *
 * The insert path was chosen by measurement (doc/benchmarks.md, counted in
 * instructions): a statement trigger with a transition table copies every
 * row (a COPY of a million rows +20-28%); a BEFORE row trigger makes COPY
 * give up its multi-row inserts (+90%); an AFTER row trigger whose WHEN is
 * false costs as much per row as the index (about 500 instructions, most of
 * it reading the column back from the stored tuple), but twice as much per
 * statement, and a late row queues an event whose tuple is fetched again.
 *
 * Marks are written for every captured change's window, processed or not:
 * whether a window has been processed is exactly what may be changing
 * concurrently (see below).  Planning only reports a mark as reason "stale" when its
 * window has been processed; a never-processed window is "new" or
 * "missing" anyway, and its mark is consumed when it is first processed.
 *
 * Consumption, and why no row is lost.  A window's replacement deletes the
 * marks of its window (TrackConsume) in its own transaction, after its
 * DELETE and before the INSERT that runs the pipeline's query.  Let W be a
 * writer that changes rows of window w and C the replacement of w.
 *
 * - Marks and source rows commit together, in W's transaction.
 * - In READ COMMITTED, C's mark DELETE and its INSERT ... <query> each take
 *	 a snapshot, the INSERT's after the DELETE finished.  If C's DELETE
 *	 sees (and so deletes) W's mark, W committed before that DELETE's
 *	 snapshot, hence before the INSERT's: the query reads W's rows.
 * - If W commits after the DELETE's snapshot, its mark is not visible to
 *	 the DELETE and is not deleted: whatever the query saw, w is marked and
 *	 the next run processes it again.  Marks are only ever inserted, never
 *	 updated, so the DELETE cannot follow an update chain into a mark
 *	 committed later.
 * - Under REPEATABLE READ or SERIALIZABLE both statements share one
 *	 snapshot, and the same holds.
 * - If C rolls back, its DELETE of marks rolls back with it.
 *
 * A change past the horizon is not captured at all: horizon.c argues why
 * the window it falls into reads it whenever that window is processed in
 * full.  So a row committed into a window while the window is processed is
 * either read by the window's query or leaves its window marked: never
 * lost.  The
 * isolation spec test/specs/track_vs_window.spec runs both orders, and a
 * window processed for the first time.
 *
 * A window's own replacement does not mark its own pipeline: while a
 * window is replaced (TrackReplaceBegin/End) the trigger ignores changes to
 * that target for its own pipeline, and for the pipelines that track the
 * target by the same event-time column, which TrackReplaceEnd marks instead
 * by range: every one of their windows that overlaps the replaced window,
 * whatever the two grids (a changed hour stales its day, a changed day its
 * 24 hours).
 *
 * Marks never grow without bound: there is one per writing transaction and
 * window until a run processes the window; runs delete marks outside
 * [begin_at, end_at) and of dropped pipelines, and when a pipeline stops
 * tracking its last source (mb_untrack, or the source is dropped) its marks
 * go.  Only a pipeline that tracks something consumes marks, so the windows
 * of the others pay no statement for it.
 *
 * The trackers of every relation are cached per backend, horizons
 * included, and reloaded when microbatch.sources changes: mb_track,
 * mb_untrack, mb_drop, the drop of a source and every move of a horizon
 * (horizon.c) send a relcache invalidation for microbatch.sources.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "compat.h"
#include "pipeline.h"
#include "sandbox.h"
#include "track.h"

#define TRIGGER_NAME "microbatch_track"
#define TRUNCATE_TRIGGER_NAME "microbatch_track_truncate"
#define PARTITION_TRIGGER_NAME "microbatch_track_partition"

/* a pipeline that tracks some relation, with its grid */
typedef struct Tracker
{
	CatalogTracker row;
	Grid		grid;
} Tracker;

/* how one relation (a source, or a partition of one) feeds one tracker */
typedef struct RelationTracker
{
	int			tracker;		/* index into trackers */
	AttrNumber	attnum;			/* the event-time column in this relation */
	Oid			type;
} RelationTracker;

/* the trackers of one relation */
typedef struct TrackedRelation
{
	Oid			relid;
	int			count;
	RelationTracker *trackers;
} TrackedRelation;

/* the windows one tracker saw change in this transaction */
typedef struct ChangedWindows
{
	int			count;
	int			capacity;
	TimestampTz *starts;		/* sorted, distinct */
	TimestampTz *ends;			/* the end of each of them */
	TimestampTz last_start;		/* the window of the last row, for a quick hit */
	TimestampTz last_end;
} ChangedWindows;

static MemoryContext cache_context = NULL;
static bool cache_valid = false;
static uint64 invalidations = 0;	/* how many arrived, ever */
static Oid	cached_sources_relid = InvalidOid;
static int	ntrackers = 0;
static Tracker *trackers = NULL;
static List *relations = NIL;	/* of TrackedRelation * */

static MemoryContext changes_context = NULL;
static ChangedWindows *changes = NULL;	/* one per tracker, this transaction */
static bool callbacks_registered = false;

/* the window being replaced now, whose own changes mark nothing */
static int64 replacing_pipeline = 0;
static Oid	replacing_target = InvalidOid;
static const char *replacing_event_time = NULL;

PG_FUNCTION_INFO_V1(microbatch_track_changes);
PG_FUNCTION_INFO_V1(microbatch_needs_mark);

static void LoadTrackers(void);
static bool TrackersLoaded(void);
static void InvalidateTrackers(Datum arg, Oid relid);
static void TrackXactCallback(XactEvent event, void *arg);
static void TrackSubXactCallback(SubXactEvent event, SubTransactionId sub,
								 SubTransactionId parent, void *arg);
static TrackedRelation *RelationTrackers(Relation relation);
static void AddChange(int tracker, TimestampTz start, TimestampTz end);
static void CollectTuple(TrackedRelation *tracked, TupleDesc desc, HeapTuple tuple);
static int	CompareColumnNames(const ListCell *a, const ListCell *b);
static void FlushChanges(void);
static Oid	TrackFunctionOid(void);
static void CreateTriggers(Oid source, List *columns);
static void DropCaptureIndexes(Oid source);
static void DropObjects(Oid classid, List *oids);
static bool IsCaptureIndex(Oid index, Oid am);
static void SyncTriggers(Oid source, List *columns_before);
static void DropTriggers(Oid source);
static Oid	PartitionFunctionOid(void);
static List *PartitionTriggers(Oid relid, Oid function);

/* RegisterCallbacks sets up the cache invalidation and commit hooks once. */
static void
RegisterCallbacks(void)
{
	if (callbacks_registered)
		return;
	cache_context = AllocSetContextCreate(TopMemoryContext, "microbatch trackers",
										  ALLOCSET_SMALL_SIZES);
	changes_context = AllocSetContextCreate(TopMemoryContext, "microbatch changes",
											ALLOCSET_SMALL_SIZES);
	CacheRegisterRelcacheCallback(InvalidateTrackers, (Datum) 0);
	RegisterXactCallback(TrackXactCallback, NULL);
	RegisterSubXactCallback(TrackSubXactCallback, NULL);
	callbacks_registered = true;
}

/* InvalidateTrackers drops the cache when microbatch.sources changed. */
static void
InvalidateTrackers(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cached_sources_relid)
	{
		cache_valid = false;
		invalidations++;
	}
}

/*
 * LoadTrackers reads every tracked source with its pipeline's grid.  Changes
 * already collected in this transaction are written first, since they
 * refer to the trackers by position.
 */
static void
LoadTrackers(void)
{
	List	   *rows;
	ListCell   *lc;
	int			i = 0;
	uint64		invalidations_before = invalidations;

	if (changes != NULL)
		FlushChanges();
	MemoryContextReset(cache_context);
	relations = NIL;
	ntrackers = 0;
	cached_sources_relid = get_relname_relid("sources", get_namespace_oid("microbatch", false));

	rows = CatalogReadTrackers(cache_context);
	ntrackers = list_length(rows);
	trackers = MemoryContextAllocZero(cache_context, sizeof(Tracker) * Max(ntrackers, 1));
	foreach(lc, rows)
	{
		MemoryContext old = MemoryContextSwitchTo(cache_context);

		trackers[i].row = *(CatalogTracker *) lfirst(lc);
		GridInit(&trackers[i].grid, trackers[i].row.batch_size, trackers[i].row.time_zone);
		MemoryContextSwitchTo(old);
		i++;
	}
	/* an invalidation that arrived while reading leaves it to be read again */
	cache_valid = invalidations == invalidations_before;
}

/*
 * TrackersLoaded makes sure the trackers are read, and tells whether the
 * installed catalog tracks anything at all (0.3 and later).
 */
static bool
TrackersLoaded(void)
{
	/* a valid cache was read from a catalog that tracks; dropping it invalidates */
	if (cache_valid)
		return true;
	if (!CatalogHasTracking())
		return false;
	RegisterCallbacks();
	LoadTrackers();
	return true;
}

/*
 * RelationTrackers returns the trackers of a relation: of itself, or of the
 * partitioned table it is a partition of.
 */
static TrackedRelation *
RelationTrackers(Relation relation)
{
	Oid			relid = RelationGetRelid(relation);
	TrackedRelation *tracked;
	List	   *tracked_oids = list_make1_oid(relid);
	MemoryContext old;
	ListCell   *lc;
	int			i;

	RegisterCallbacks();
	if (!cache_valid)
		LoadTrackers();
	foreach(lc, relations)
	{
		tracked = lfirst(lc);
		if (tracked->relid == relid)
			return tracked;
	}

	if (relation->rd_rel->relispartition)
		tracked_oids = list_concat(tracked_oids, get_partition_ancestors(relid));
	old = MemoryContextSwitchTo(cache_context);
	tracked = palloc0(sizeof(TrackedRelation));
	tracked->relid = relid;
	tracked->trackers = palloc0(sizeof(RelationTracker) * Max(ntrackers, 1));
	for (i = 0; i < ntrackers; i++)
	{
		AttrNumber	attnum;

		if (!list_member_oid(tracked_oids, trackers[i].row.source))
			continue;
		attnum = get_attnum(relid, trackers[i].row.event_time);
		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("tracked event-time column \"%s\" no longer exists in table \"%s\"",
							trackers[i].row.event_time, RelationGetRelationName(relation)),
					 errhint("Stop tracking it with mb_untrack, or track another column.")));
		tracked->trackers[tracked->count].tracker = i;
		tracked->trackers[tracked->count].attnum = attnum;
		tracked->trackers[tracked->count].type = get_atttype(relid, attnum);
		tracked->count++;
	}
	relations = lappend(relations, tracked);
	MemoryContextSwitchTo(old);
	return tracked;
}

/*
 * TrackEventInstant reads an event time of any supported type as an
 * instant: timestamp and date as local times of the grid's zone.  False for
 * an infinite or out-of-range value.
 */
bool
TrackEventInstant(Datum value, Oid type, Grid *grid, TimestampTz *instant)
{
	Timestamp	local;
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;

	if (type == TIMESTAMPTZOID)
		*instant = DatumGetTimestampTz(value);
	else
	{
		/* timestamp and date are local times in the pipeline's zone */
		if (type == DATEOID)
		{
			DateADT		date = DatumGetDateADT(value);

			/* a date past the last day of timestamp falls into no window */
			if (DATE_NOT_FINITE(date) || date >= TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JDATE)
				return false;
			local = (Timestamp) date * USECS_PER_DAY;
		}
		else
			local = DatumGetTimestamp(value);
		if (TIMESTAMP_NOT_FINITE(local) || timestamp2tm(local, NULL, &tm, &fsec, NULL, NULL) != 0)
			return false;
		offset = DetermineTimeZoneOffset(&tm, grid->tz);
		if (tm2timestamp(&tm, fsec, &offset, instant) != 0)
			return false;
	}
	return !TIMESTAMP_NOT_FINITE(*instant);
}

/*
 * AddChange adds a window to what a tracker saw change in this transaction,
 * keeping the set sorted and distinct.
 */
static void
AddChange(int tracker, TimestampTz start, TimestampTz end)
{
	ChangedWindows *changed;
	int			low = 0;
	int			high;

	if (changes == NULL)
		changes = MemoryContextAllocZero(changes_context,
										 sizeof(ChangedWindows) * Max(ntrackers, 1));
	changed = &changes[tracker];
	changed->last_start = start;
	changed->last_end = end;
	high = changed->count;
	while (low < high)
	{
		int			mid = (low + high) / 2;

		if (changed->starts[mid] == start)
			return;
		if (changed->starts[mid] < start)
			low = mid + 1;
		else
			high = mid;
	}
	if (changed->count == changed->capacity)
	{
		changed->capacity = Max(8, changed->capacity * 2);
		changed->starts = changed->starts == NULL ?
			MemoryContextAlloc(changes_context, sizeof(TimestampTz) * changed->capacity) :
			repalloc(changed->starts, sizeof(TimestampTz) * changed->capacity);
		changed->ends = changed->ends == NULL ?
			MemoryContextAlloc(changes_context, sizeof(TimestampTz) * changed->capacity) :
			repalloc(changed->ends, sizeof(TimestampTz) * changed->capacity);
	}
	memmove(&changed->starts[low + 1], &changed->starts[low],
			sizeof(TimestampTz) * (changed->count - low));
	memmove(&changed->ends[low + 1], &changed->ends[low],
			sizeof(TimestampTz) * (changed->count - low));
	changed->starts[low] = start;
	changed->ends[low] = end;
	changed->count++;
}

/*
 * SkipForReplacement tells whether a change seen by a tracker is a window's own
 * replacement, which marks nothing for its pipeline nor for those that
 * TrackReplaceEnd marks by range.
 */
static bool
SkipForReplacement(Tracker *tracker)
{
	if (replacing_pipeline == 0 || tracker->row.source != replacing_target)
		return false;
	return tracker->row.pipeline_id == replacing_pipeline ||
		strcmp(tracker->row.event_time, replacing_event_time) == 0;
}

/*
 * KnownWindow tells whether an instant falls into a window already
 * collected (a binary search: far cheaper than placing it on the grid), and
 * remembers that window for the next row.
 */
static inline bool
KnownWindow(ChangedWindows *changed, TimestampTz instant)
{
	int			low = 0;
	int			high = changed->count;

	if (changed->count > 0 && instant >= changed->last_start && instant < changed->last_end)
		return true;
	while (low < high)
	{
		int			mid = (low + high) / 2;

		if (changed->starts[mid] <= instant)
			low = mid + 1;
		else
			high = mid;
	}
	if (low == 0 || instant >= changed->ends[low - 1])
		return false;
	changed->last_start = changed->starts[low - 1];
	changed->last_end = changed->ends[low - 1];
	return true;
}

/*
 * CollectValue adds the window of one event time to what a tracker of the
 * relation saw change.
 */
static inline void
CollectValue(TrackedRelation *tracked, int i, Datum value, bool isnull)
{
	RelationTracker *rt = &tracked->trackers[i];
	Tracker    *tracker = &trackers[rt->tracker];
	TimestampTz instant;
	TimestampTz start;
	TimestampTz end;

	if (isnull || !TrackEventInstant(value, rt->type, &tracker->grid, &instant) ||
		instant >= tracker->row.horizon)
		return;
	if (changes != NULL && KnownWindow(&changes[rt->tracker], instant))
		return;
	if (SkipForReplacement(tracker))
		return;
	/* at the very ends of the range of timestamptz: a window no run processes */
	if (!GridWindowOf(&tracker->grid, instant, &start, &end))
		return;
	AddChange(rt->tracker, start, end);
}

/* CollectTuple adds the windows of one row's event time, for every tracker. */
static void
CollectTuple(TrackedRelation *tracked, TupleDesc desc, HeapTuple tuple)
{
	int			i;

	for (i = 0; i < tracked->count; i++)
	{
		bool		isnull;
		Datum		value = heap_getattr(tuple, tracked->trackers[i].attnum, desc, &isnull);

		CollectValue(tracked, i, value, isnull);
	}
}

/*
 * FlushChanges writes the windows collected in this transaction as stale
 * marks, in one statement, and forgets them.
 */
static void
FlushChanges(void)
{
	int			total = 0;
	int64	   *ids;
	TimestampTz *starts;
	int			i;
	int			n = 0;

	if (changes == NULL)
		return;
	for (i = 0; i < ntrackers; i++)
		total += changes[i].count;
	if (total > 0)
	{
		ids = palloc(sizeof(int64) * total);
		starts = palloc(sizeof(TimestampTz) * total);
		for (i = 0; i < ntrackers; i++)
		{
			int			j;

			for (j = 0; j < changes[i].count; j++)
			{
				ids[n] = trackers[i].row.pipeline_id;
				starts[n++] = changes[i].starts[j];
			}
		}
		CatalogInsertStaleMarks(n, ids, starts);
	}
	changes = NULL;
	MemoryContextReset(changes_context);
}

/*
 * TrackXactCallback writes the collected marks just before the transaction
 * commits or is prepared, and forgets them when it ends either way.
 */
static void
TrackXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			FlushChanges();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
			changes = NULL;
			MemoryContextReset(changes_context);
			replacing_pipeline = 0;
			break;
		default:
			break;
	}
}

/*
 * TrackSubXactCallback ends a replacement that failed.  Changes collected in
 * a subtransaction that rolled back stay collected: marking a window too
 * many is harmless.
 */
static void
TrackSubXactCallback(SubXactEvent event, SubTransactionId sub, SubTransactionId parent,
					 void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		replacing_pipeline = 0;
}

/*
 * microbatch.track_changes() is the trigger of tracked sources: rows go into
 * this transaction's set of changed windows; TRUNCATE marks every window
 * with a state row of every tracking pipeline at once.
 */
Datum
microbatch_track_changes(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	TrackedRelation *tracked;
	TupleDesc	desc;
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("microbatch.track_changes() must be called as a trigger")));
	tracked = RelationTrackers(trigger->tg_relation);
	desc = RelationGetDescr(trigger->tg_relation);

	if (TRIGGER_FIRED_BY_TRUNCATE(trigger->tg_event))
	{
		for (i = 0; i < tracked->count; i++)
			CatalogMarkAllProcessedStale(trackers[tracked->trackers[i].tracker].row.pipeline_id);
		return PointerGetDatum(NULL);
	}

	/* the new row of an INSERT, the old row of a DELETE, both of an UPDATE */
	if (!TRIGGER_FIRED_FOR_ROW(trigger->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("microbatch.track_changes() must be fired for each row, or for TRUNCATE")));
	if (tracked->count > 0)
		CollectTuple(tracked, desc, trigger->tg_trigtuple);
	if (tracked->count > 0 && TRIGGER_FIRED_BY_UPDATE(trigger->tg_event))
		CollectTuple(tracked, desc, trigger->tg_newtuple);
	return PointerGetDatum(NULL);
}

/*
 * LocalHorizon is a horizon as the local time of a pipeline's zone, the
 * way windows bound timestamp and date columns (executor.c).
 */
static Timestamp
LocalHorizon(Tracker *tracker)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	Timestamp	local;

	if (TIMESTAMP_NOT_FINITE(tracker->row.horizon) ||
		timestamp2tm(tracker->row.horizon, &offset, &tm, &fsec, NULL, tracker->grid.tz) != 0 ||
		tm2timestamp(&tm, fsec, NULL, &local) != 0)
		return tracker->row.horizon;
	return local;
}

/* TrackerBound is a tracker's horizon as an instant, or as local time. */
static Timestamp
TrackerBound(Tracker *tracker, bool local)
{
	return local ? LocalHorizon(tracker) : tracker->row.horizon;
}

/*
 * EventTimeValue reads an event time for comparison with a bound: an
 * instant, a local timestamp, or a date as the local midnight that starts
 * it.
 */
static inline Timestamp
EventTimeValue(Datum value, Oid type)
{
	DateADT		date;

	if (type != DATEOID)
		return DatumGetTimestamp(value);
	date = DatumGetDateADT(value);
	if (DATE_IS_NOBEGIN(date))
		return DT_NOBEGIN;
	if (DATE_IS_NOEND(date))
		return DT_NOEND;
	if (date >= (TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JDATE))
		return DT_NOEND - 1;	/* later than any finite horizon */
	return (Timestamp) date * USECS_PER_DAY;
}

/*
 * HorizonBound returns the latest horizon of the pipelines that track a
 * relation: an instant, or the local time of each pipeline's zone for a
 * column of type timestamp or date.  Changes before it need a mark.
 */
static Timestamp
HorizonBound(Oid relid, bool local)
{
	Timestamp	bound = DT_NOBEGIN;
	int			i;

	if (!TrackersLoaded())
		return bound;
	for (i = 0; i < ntrackers; i++)
		if (trackers[i].row.source == relid)
			bound = Max(bound, TrackerBound(&trackers[i], local));
	return bound;
}

/*
 * LockedForWriting tells whether this transaction holds, on a relation or
 * on one of its partitions, a lock that writing to it takes: ROW EXCLUSIVE
 * or a stronger one.  Taking one needs a write privilege on the relation.
 */
static bool
LockedForWriting(Oid relid)
{
	List	   *relids = list_make1_oid(relid);
	ListCell   *lc;

	/* a write straight into a partition locks the partition, not its parent */
	if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
		relids = find_all_inheritors(relid, NoLock, NULL);
	foreach(lc, relids)
	{
		LOCKTAG		tag;
		LOCKMODE	mode;

		SET_LOCKTAG_RELATION(tag, MyDatabaseId, lfirst_oid(lc));
		for (mode = RowExclusiveLock; mode <= AccessExclusiveLock; mode++)
			if (LockHeldByMeInMode(&tag, mode))
				return true;
	}
	return false;
}

/* what microbatch.needs_mark() keeps for the rest of a statement */
typedef struct MarkTest
{
	Oid			relid;
	Oid			type;			/* of the event-time column */
	Timestamp	bound;			/* event times before it need a mark */
} MarkTest;

/*
 * microbatch.needs_mark(source, event_time) is the WHEN condition of the
 * tracking row triggers (updates and deletes): whether a change at that
 * event time may fall into a window processed in full, that is, comes
 * before the horizon.  The horizon is read once per statement: a writer
 * holds its lock on the source to its end, and a run that raises the
 * horizon waits for it (horizon.c).
 *
 * The triggers' condition runs as the writer, so every role may execute
 * the function; but it answers only in the middle of a write: a caller
 * that holds no write lock on the source (nor on a partition of it, which
 * a write straight into the partition locks instead) gets yes whatever it
 * asks, which is always safe.  A role that may only read a tracked table
 * cannot learn from it whether the table is tracked nor how far its
 * pipelines have got.
 */
Datum
microbatch_needs_mark(PG_FUNCTION_ARGS)
{
	MarkTest   *test = (MarkTest *) fcinfo->flinfo->fn_extra;

	if (test == NULL || test->relid != PG_GETARG_OID(0))
	{
		Oid			relid = PG_GETARG_OID(0);

		test = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(MarkTest));
		test->relid = relid;
		test->type = get_fn_expr_argtype(fcinfo->flinfo, 1);
		if (test->type != TIMESTAMPTZOID && test->type != TIMESTAMPOID && test->type != DATEOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("an event time must be of type timestamptz, timestamp or date")));
		if (!LockedForWriting(relid))
			test->bound = DT_NOEND;
		else
			test->bound = HorizonBound(relid, test->type != TIMESTAMPTZOID);
		fcinfo->flinfo->fn_extra = test;
	}
	PG_RETURN_BOOL(EventTimeValue(PG_GETARG_DATUM(1), test->type) < test->bound);
}

/* what the capture index keeps for the rest of a statement */
typedef struct InsertCapture
{
	int			ncolumns;
	AttrNumber	attnums[INDEX_MAX_KEYS];	/* of the table */
	Oid			types[INDEX_MAX_KEYS];
	Timestamp	bounds[INDEX_MAX_KEYS];	/* event times before it are captured */
} InsertCapture;

/*
 * InsertCaptureCreate reads, for each column of a capture index, the
 * latest horizon of the pipelines that track the table by that column.
 */
static InsertCapture *
InsertCaptureCreate(Relation heap, Relation index, MemoryContext context)
{
	InsertCapture *capture = MemoryContextAllocZero(context, sizeof(InsertCapture));
	TrackedRelation *tracked = RelationTrackers(heap);
	int			k;
	int			i;

	capture->ncolumns = index->rd_index->indnatts;
	for (k = 0; k < capture->ncolumns; k++)
	{
		capture->attnums[k] = index->rd_index->indkey.values[k];
		capture->types[k] = TupleDescAttr(RelationGetDescr(index), k)->atttypid;
		capture->bounds[k] = DT_NOBEGIN;
		for (i = 0; i < tracked->count; i++)
			if (tracked->trackers[i].attnum == capture->attnums[k])
				capture->bounds[k] = Max(capture->bounds[k],
										 TrackerBound(&trackers[tracked->trackers[i].tracker],
													  capture->types[k] != TIMESTAMPTZOID));
	}
	return capture;
}

/*
 * TrackInsertedRow is what the capture index (capture.c) does with every
 * row inserted into a tracked source: compare its event times with the
 * horizon, cached for the statement as needs_mark does, and collect the
 * windows of those before it.
 */
void
TrackInsertedRow(Relation heap, Relation index, Datum *values, bool *isnull, void **cache,
				 MemoryContext context)
{
	InsertCapture *capture = (InsertCapture *) *cache;
	int			k;

	if (capture == NULL)
		*cache = capture = InsertCaptureCreate(heap, index, context);
	for (k = 0; k < capture->ncolumns; k++)
	{
		TrackedRelation *tracked;
		int			i;

		if (isnull[k] || EventTimeValue(values[k], capture->types[k]) >= capture->bounds[k])
			continue;
		/* a late row: looked up again, since the trackers may have been reloaded */
		tracked = RelationTrackers(heap);
		for (i = 0; i < tracked->count; i++)
			if (tracked->trackers[i].attnum == capture->attnums[k])
				CollectValue(tracked, i, values[k], false);
	}
}

/*
 * TrackReplaceBegin notes that a window of the pipeline is being replaced:
 * until TrackReplaceEnd, its own writes to its target mark nothing.
 */
void
TrackReplaceBegin(Pipeline *pipeline)
{
	replacing_pipeline = pipeline->id;
	replacing_target = pipeline->target;
	replacing_event_time = pipeline->event_time;
}

/*
 * TrackReplaceEnd marks stale, by range, every window of the pipelines that
 * track this pipeline's target by its event-time column and that overlaps
 * the replaced window [start, end), the pipeline itself excepted.
 */
void
TrackReplaceEnd(Pipeline *pipeline, TimestampTz start, TimestampTz end)
{
	int			capacity = 16;
	int			n = 0;
	int64	   *ids = palloc(sizeof(int64) * capacity);
	TimestampTz *starts = palloc(sizeof(TimestampTz) * capacity);
	int			i;

	replacing_pipeline = 0;
	if (!TrackersLoaded())
		return;
	for (i = 0; i < ntrackers; i++)
	{
		Tracker    *tracker = &trackers[i];
		TimestampTz w;
		TimestampTz next;

		if (tracker->row.source != pipeline->target ||
			tracker->row.pipeline_id == pipeline->id ||
			strcmp(tracker->row.event_time, pipeline->event_time) != 0)
			continue;
		for (next = start; next < end;)
		{
			CHECK_FOR_INTERRUPTS();
			/* a window out of the range of timestamptz is never processed */
			if (!GridWindowOf(&tracker->grid, next, &w, &next))
				continue;
			if (n == capacity)
			{
				capacity *= 2;
				ids = repalloc(ids, sizeof(int64) * capacity);
				starts = repalloc(starts, sizeof(TimestampTz) * capacity);
			}
			ids[n] = tracker->row.pipeline_id;
			starts[n++] = w;
		}
	}
	if (n > 0)
		CatalogInsertStaleMarks(n, ids, starts);
}

/*
 * TrackConsume deletes the stale marks of the windows starting in
 * [start, end) of a pipeline that is replacing them: called after the
 * window's DELETE and before its INSERT (see the top of this file).  Only
 * a pipeline that tracks something, or that tracked something and still
 * has marks from then (pipeline->marks_left, TrackMarksLeft), can have
 * marks, so the others pay no statement.
 */
void
TrackConsume(Pipeline *pipeline, TimestampTz start, TimestampTz end)
{
	int			i;

	if (pipeline->marks_left)
	{
		CatalogConsumeStaleMarks(pipeline->id, start, end);
		return;
	}
	if (!TrackersLoaded())
		return;
	for (i = 0; i < ntrackers; i++)
		if (trackers[i].row.pipeline_id == pipeline->id)
		{
			CatalogConsumeStaleMarks(pipeline->id, start, end);
			return;
		}
}

/*
 * TrackMarksLeft tells whether a pipeline that tracks nothing (any more)
 * has stale marks: the changes its sources saw while it tracked them.
 * They stay when it stops tracking (mb_untrack, a dropped source), since
 * the windows they mark are stale all the same, and its runs consume them.
 * One statement per run, for pipelines that track nothing.
 */
bool
TrackMarksLeft(Pipeline *pipeline)
{
	int			i;

	if (!CatalogHasTracking())
		return false;
	if (TrackersLoaded())
		for (i = 0; i < ntrackers; i++)
			if (trackers[i].row.pipeline_id == pipeline->id)
				return false;
	return CatalogHasStaleMarks(pipeline->id);
}

/* TrackFunctionOid returns the oid of microbatch.track_changes(). */
static Oid
TrackFunctionOid(void)
{
	return LookupFuncName(list_make2(makeString("microbatch"), makeString("track_changes")),
						  0, NULL, false);
}

/* CompareColumnNames orders a list of String nodes. */
static int
CompareColumnNames(const ListCell *a, const ListCell *b)
{
	return strcmp(strVal(lfirst(a)), strVal(lfirst(b)));
}

/*
 * SourceColumns lists, sorted, the distinct event-time columns by which
 * pipelines track source: what its triggers' WHEN conditions test.
 */
static List *
SourceColumns(Oid source)
{
	List	   *columns = NIL;
	ListCell   *lc;

	foreach(lc, CatalogReadTrackers(CurrentMemoryContext))
	{
		CatalogTracker *row = lfirst(lc);

		if (row->source == source && !list_member(columns, makeString(row->event_time)))
			columns = lappend(columns, makeString(row->event_time));
	}
	list_sort(columns, CompareColumnNames);
	return columns;
}

/*
 * MarkCondition is a trigger's WHEN condition: whether any of the event
 * times of the old or new row (prefix OLD or NEW; both for an UPDATE)
 * comes before the horizon.
 */
static char *
MarkCondition(Oid source, List *columns, bool old_row, bool new_row)
{
	StringInfoData condition;
	ListCell   *lc;

	initStringInfo(&condition);
	foreach(lc, columns)
	{
		const char *column = quote_identifier(strVal(lfirst(lc)));

		if (old_row)
			appendStringInfo(&condition, "%smicrobatch.needs_mark('%u'::pg_catalog.regclass, OLD.%s)",
							 condition.len > 0 ? " OR " : "", source, column);
		if (new_row)
			appendStringInfo(&condition, "%smicrobatch.needs_mark('%u'::pg_catalog.regclass, NEW.%s)",
							 condition.len > 0 ? " OR " : "", source, column);
	}
	return condition.data;
}

/* RelationOwner returns the owner of a relation. */
static Oid
RelationOwner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/* ColumnList is a list of column names for a statement. */
static char *
ColumnList(List *columns)
{
	StringInfoData list;
	ListCell   *lc;

	initStringInfo(&list);
	foreach(lc, columns)
		appendStringInfo(&list, "%s%s", list.len > 0 ? ", " : "",
						 quote_identifier(strVal(lfirst(lc))));
	return list.data;
}

/*
 * CreateTriggers puts the tracking triggers on source for the given
 * event-time columns, as the owner of the source: the statements are
 * fixed, and whoever tracks the source was checked for the TRIGGER
 * privilege (TrackSource), so that dropping one of several pipelines never
 * depends on the privileges of another's owner.
 */
static void
CreateTriggers(Oid source, List *columns)
{
	char	   *table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(source)),
												   get_rel_name(source));
	const char *call = "EXECUTE FUNCTION microbatch.track_changes()";
	List	   *statements = NIL;
	Sandbox		sandbox;
	ListCell   *lc;

	statements = lappend(statements,
						 psprintf("CREATE INDEX %s ON %s USING microbatch_capture (%s)",
								  quote_identifier(ChooseRelationName(get_rel_name(source), NULL,
																	  "microbatch_capture",
																	  get_rel_namespace(source),
																	  false)),
								  table, ColumnList(columns)));
	statements = lappend(statements,
						 psprintf("CREATE TRIGGER " TRIGGER_NAME "_update AFTER UPDATE ON %s"
								  " FOR EACH ROW WHEN (%s) %s",
								  table, MarkCondition(source, columns, true, true), call));
	statements = lappend(statements,
						 psprintf("CREATE TRIGGER " TRIGGER_NAME "_delete AFTER DELETE ON %s"
								  " FOR EACH ROW WHEN (%s) %s",
								  table, MarkCondition(source, columns, true, false), call));
	statements = lappend(statements,
						 psprintf("CREATE TRIGGER " TRUNCATE_TRIGGER_NAME " AFTER TRUNCATE ON %s"
								  " FOR EACH STATEMENT %s", table, call));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SandboxEnterTrusted(&sandbox, RelationOwner(source));
	foreach(lc, statements)
	{
		int			rc = SPI_execute(lfirst(lc), false, 0);

		if (rc != SPI_OK_UTILITY)
			elog(ERROR, "CREATE TRIGGER failed: %s", SPI_result_code_string(rc));
	}
	SandboxLeave(&sandbox);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * SyncTriggers makes the triggers on source test the columns it is tracked
 * by now: nothing to do when they are there and the columns are those of
 * before; otherwise dropped, and created again if any column is left.
 */
static void
SyncTriggers(Oid source, List *columns_before)
{
	List	   *columns = SourceColumns(source);

	if (equal(columns, columns_before) &&
		OidIsValid(get_trigger_oid(source, TRUNCATE_TRIGGER_NAME, true)) == (columns != NIL))
		return;
	DropTriggers(source);
	if (columns != NIL)
		CreateTriggers(source, columns);
}

/*
 * DropTriggers removes microbatch's tracking triggers from a relation: only
 * triggers that call microbatch.track_changes(), whatever their names.  With
 * InvalidOid, from every relation, and the partition triggers too.
 */
static void
DropTriggers(Oid source)
{
	Oid			function = TrackFunctionOid();
	Oid			partition_function = OidIsValid(source) ? InvalidOid : PartitionFunctionOid();
	Relation	pg_trigger = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	List	   *doomed = NIL;

	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(source));
	scan = systable_beginscan(pg_trigger, TriggerRelidNameIndexId, OidIsValid(source), NULL,
							  OidIsValid(source) ? 1 : 0, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_trigger form = (Form_pg_trigger) GETSTRUCT(tuple);

		if ((form->tgfoid == function ||
			 (OidIsValid(partition_function) && form->tgfoid == partition_function)) &&
			!form->tgisinternal && !OidIsValid(form->tgparentid))
			doomed = lappend_oid(doomed, form->oid);
	}
	systable_endscan(scan);
	table_close(pg_trigger, AccessShareLock);

	DropObjects(TriggerRelationId, doomed);
	DropCaptureIndexes(source);
}

/* DropObjects drops catalog objects of one class, as internal deletions. */
static void
DropObjects(Oid classid, List *oids)
{
	ListCell   *lc;

	foreach(lc, oids)
	{
		ObjectAddress address;

		ObjectAddressSet(address, classid, lfirst_oid(lc));
		performDeletion(&address, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
	}
}

/*
 * DropCaptureIndexes removes the capture indexes (capture.c) of a relation,
 * or of every relation when source is InvalidOid; those of partitions go
 * with their parent's.
 */
static void
DropCaptureIndexes(Oid source)
{
	Oid			am = get_am_oid("microbatch_capture", true);
	Relation	pg_class;
	TableScanDesc scan;
	HeapTuple	tuple;
	List	   *doomed = NIL;
	ListCell   *lc;

	if (!OidIsValid(am))
		return;
	if (OidIsValid(source))
	{
		Relation	rel = table_open(source, AccessShareLock);

		foreach(lc, RelationGetIndexList(rel))
			if (IsCaptureIndex(lfirst_oid(lc), am))
				doomed = lappend_oid(doomed, lfirst_oid(lc));
		table_close(rel, AccessShareLock);
	}
	else
	{
		pg_class = table_open(RelationRelationId, AccessShareLock);
		scan = table_beginscan_catalog(pg_class, 0, NULL);
		while (HeapTupleIsValid(tuple = heap_getnext(scan, ForwardScanDirection)))
		{
			Form_pg_class form = (Form_pg_class) GETSTRUCT(tuple);

			if (form->relam == am && !form->relispartition &&
				(form->relkind == RELKIND_INDEX || form->relkind == RELKIND_PARTITIONED_INDEX))
				doomed = lappend_oid(doomed, form->oid);
		}
		table_endscan(scan);
		table_close(pg_class, AccessShareLock);
	}
	DropObjects(RelationRelationId, doomed);
}

/* IsCaptureIndex tells whether an index is a capture index of the parent's */
static bool
IsCaptureIndex(Oid index, Oid am)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(index));
	bool		capture;

	if (!HeapTupleIsValid(tuple))
		return false;
	capture = ((Form_pg_class) GETSTRUCT(tuple))->relam == am &&
		!((Form_pg_class) GETSTRUCT(tuple))->relispartition;
	ReleaseSysCache(tuple);
	return capture;
}

/*
 * PartitionFunctionOid returns the oid of
 * microbatch.track_partition_truncate(), or InvalidOid when the installed
 * catalog has none.
 */
static Oid
PartitionFunctionOid(void)
{
	return LookupFuncName(list_make2(makeString("microbatch"),
									 makeString("track_partition_truncate")), 0, NULL, true);
}

/*
 * PartitionTriggers lists the triggers of a relation that call function,
 * whatever their names.
 */
static List *
PartitionTriggers(Oid relid, Oid function)
{
	Relation	pg_trigger = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	List	   *found = NIL;

	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(pg_trigger, TriggerRelidNameIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
		if (((Form_pg_trigger) GETSTRUCT(tuple))->tgfoid == function)
			found = lappend_oid(found, ((Form_pg_trigger) GETSTRUCT(tuple))->oid);
	systable_endscan(scan);
	table_close(pg_trigger, AccessShareLock);
	return found;
}

/*
 * TrackSyncPartitionTriggers makes every leaf partition in the tree of relid
 * (relid included) carry the BEFORE TRUNCATE trigger of track_partition.c
 * exactly when one of its ancestors is a tracked source: called when a
 * source starts or stops being tracked, and for partitions that are
 * created, attached or detached.  Created as the owner of the partition.
 * Foreign tables have no TRUNCATE triggers to carry.
 */
void
TrackSyncPartitionTriggers(Oid relid)
{
	Oid			function;
	List	   *sources = NIL;
	ListCell   *lc;

	if (!CatalogHasTracking() || !OidIsValid(function = PartitionFunctionOid()))
		return;
	foreach(lc, CatalogReadTrackers(CurrentMemoryContext))
		sources = list_append_unique_oid(sources, ((CatalogTracker *) lfirst(lc))->source);

	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Oid			leaf = lfirst_oid(lc);
		List	   *have;
		bool		want = false;

		if (get_rel_relkind(leaf) != RELKIND_RELATION)
			continue;
		if (get_rel_relispartition(leaf))
		{
			ListCell   *a;

			foreach(a, get_partition_ancestors(leaf))
				want = want || list_member_oid(sources, lfirst_oid(a));
		}
		have = PartitionTriggers(leaf, function);
		if (want && have == NIL)
		{
			char	   *sql = psprintf("CREATE TRIGGER " PARTITION_TRIGGER_NAME
									   " BEFORE TRUNCATE ON %s FOR EACH STATEMENT"
									   " EXECUTE FUNCTION microbatch.track_partition_truncate()",
									   quote_qualified_identifier(get_namespace_name(get_rel_namespace(leaf)),
																  get_rel_name(leaf)));
			Sandbox		sandbox;

			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			SandboxEnterTrusted(&sandbox, RelationOwner(leaf));
			if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "CREATE TRIGGER failed on \"%s\"", get_rel_name(leaf));
			SandboxLeave(&sandbox);
			if (SPI_finish() != SPI_OK_FINISH)
				elog(ERROR, "SPI_finish failed");
		}
		else if (!want && have != NIL)
			DropObjects(TriggerRelationId, have);
	}
}

/*
 * TrackDropDetached removes from a table just detached from a tracked
 * source what it kept of the source's tracking (a capture index, row
 * triggers of older PostgreSQL versions) and its partition triggers,
 * unless it is a tracked source itself.
 */
void
TrackDropDetached(Oid relid)
{
	ListCell   *lc;

	TrackSyncPartitionTriggers(relid);
	foreach(lc, CatalogReadTrackers(CurrentMemoryContext))
		if (((CatalogTracker *) lfirst(lc))->source == relid)
			return;
	DropTriggers(relid);
}

/*
 * TrackSignalChanged tells every backend (this one too) to reload its
 * trackers, horizons included, at its next transaction or lock: the relcache
 * invalidation of microbatch.sources is sent when this transaction commits.
 */
void
TrackSignalChanged(void)
{
	Oid			sources = get_relname_relid("sources", get_namespace_oid("microbatch", false));

	if (OidIsValid(sources))
		CacheInvalidateRelcacheByRelid(sources);
}

/*
 * TrackSource makes a pipeline track source by its event_time column: checks
 * the caller, the column and the owner's TRIGGER privilege, records it and
 * puts the triggers on the source.
 */
void
TrackSource(Pipeline *pipeline, Oid source, const char *event_time)
{
	char		relkind = get_rel_relkind(source);
	AclResult	acl;
	List	   *columns_before;

	if (!CatalogHasTracking())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("change tracking needs microbatch 0.3"),
				 errhint("Run ALTER EXTENSION microbatch UPDATE.")));
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source \"%s\" is not a table", get_rel_name(source)),
				 errdetail("Only changes to plain and partitioned tables can be tracked.")));
	if (get_rel_persistence(source) == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source \"%s\" is a temporary table", get_rel_name(source)),
				 errdetail("It goes with the session that created it, and no other session sees its changes.")));
	acl = pg_class_aclcheck(source, pipeline->owner, ACL_TRIGGER);
	if (acl != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("owner of pipeline \"%s\" may not create triggers on table \"%s\"",
						pipeline->name, get_rel_name(source)),
				 errhint("Tracking a source puts a trigger on it: its owner must have the TRIGGER privilege on it.")));
	(void) GridCheckEventColumn(source, event_time);
	if (CatalogSourceEventTime(pipeline->id, source) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("pipeline \"%s\" already tracks table \"%s\"",
						pipeline->name, get_rel_name(source)),
				 errhint("Stop tracking it first with mb_untrack to track another column.")));

	columns_before = SourceColumns(source);
	CatalogInsertSource(pipeline->id, source, event_time);
	SyncTriggers(source, columns_before);
	TrackSyncPartitionTriggers(source);
	TrackSignalChanged();
}

/*
 * Forget stops a pipeline tracking source, or every source it tracks, and
 * drops triggers no pipeline needs any more.  When the pipeline tracks
 * nothing any more, its marks go too.  Returns whether it tracked anything
 * it was asked to forget; if not, nothing is written.
 */
static bool
Forget(Pipeline *pipeline, Oid source, bool every)
{
	List	   *sources = NIL;
	List	   *columns_before = NIL;	/* of List *, parallel to sources */
	ListCell   *lc;
	ListCell   *before;

	if (!CatalogHasTracking())
		return false;
	foreach(lc, CatalogReadTrackers(CurrentMemoryContext))
	{
		CatalogTracker *row = lfirst(lc);

		if (row->pipeline_id == pipeline->id && (every || row->source == source))
		{
			sources = lappend_oid(sources, row->source);
			columns_before = lappend(columns_before, SourceColumns(row->source));
		}
	}
	if (sources == NIL)
		return false;
	foreach(lc, sources)
		(void) CatalogDeleteSource(pipeline->id, lfirst_oid(lc));
	forboth(lc, sources, before, columns_before)
	{
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(lfirst_oid(lc))))
		{
			SyncTriggers(lfirst_oid(lc), lfirst(before));
			TrackSyncPartitionTriggers(lfirst_oid(lc));
		}
	}
	/* its marks stay: the windows they mark are stale (TrackMarksLeft) */
	TrackSignalChanged();
	return true;
}

/*
 * TrackForget stops a pipeline tracking one source (mb_untrack).  Returns
 * false, and changes nothing, when the pipeline does not track it: another
 * table, an OID of no table, 0.
 */
bool
TrackForget(Pipeline *pipeline, Oid source)
{
	return OidIsValid(source) && Forget(pipeline, source, false);
}

/* TrackForgetAll stops a pipeline tracking anything (mb_drop). */
void
TrackForgetAll(Pipeline *pipeline)
{
	(void) Forget(pipeline, InvalidOid, true);
}

/*
 * TrackDropAll removes every tracking trigger, for DROP EXTENSION: the
 * triggers call a function of the extension and would block it.
 */
void
TrackDropAll(void)
{
	if (OidIsValid(get_namespace_oid("microbatch", true)) &&
		OidIsValid(LookupFuncName(list_make2(makeString("microbatch"),
											 makeString("track_changes")), 0, NULL, true)))
		DropTriggers(InvalidOid);
}

/*
 * TrackSourcesDropped forgets the tracking of tables just dropped (their
 * triggers went with them); for the sql_drop event trigger.
 */
void
TrackSourcesDropped(void)
{
	if (!CatalogHasTracking())
		return;
	CatalogDeleteSourcesOfDroppedTables();
	TrackSignalChanged();
}

/*
 * TrackPrune deletes the marks no run will consume: those of the
 * pipeline's windows outside [begin_at, end_at) and those of dropped
 * pipelines.
 */
void
TrackPrune(Pipeline *pipeline)
{
	if (CatalogHasTracking())
		CatalogPruneStaleMarks(pipeline->id, pipeline->begin_at,
							   pipeline->has_end_at ? pipeline->end_at : DT_NOEND);
}

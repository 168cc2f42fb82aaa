/*-------------------------------------------------------------------------
 *
 * targets.c
 *	  Pipelines that share a target table: each one owns its own range of
 *	  the target's event time, and a purge keeps all of them.
 *
 * A window replaces every row of the target whose event time lies in it,
 * whoever wrote the row.  Two pipelines whose ranges [begin_at, end_at)
 * overlap on one target would therefore replace each other's rows window
 * by window, and neither one's state would say so.  So a target belongs,
 * at any instant, to one pipeline's grid: mb_register, and mb_alter of
 * begin_at or end_at, refuse a range that overlaps the range of another
 * pipeline writing the same target (a NULL end_at runs to the end of
 * time).  Disjoint ranges stay allowed: one pipeline for history at daily
 * grain, another from a date on at hourly grain.
 *
 * The check reads the pipelines of every role, as the catalog owner: the
 * error names the other pipeline and its range, nothing else of it (not
 * its query, owner or state).  A role that may write the target may learn
 * that much, and needs it to choose a range; pipeline names are no secret
 * anyway (a name taken by another role is refused by name).  Registrations
 * and alterations of one target take a transaction-level advisory lock on
 * it first, so that two of them cannot both pass the check.
 *
 * A purge (mb_reset(purge => true), refresh.c) deletes the target's rows
 * outside the union of the ranges of the pipelines that write it, so that
 * a full refresh of one pipeline never deletes another's rows.  For the
 * purge, a range ends at end_at or now(), whichever comes first (now() when
 * there is no end_at): a run processes windows up to now() at most, so a
 * pipeline registered afresh would write no row dated later, and such rows
 * are no pipeline's (DESIGN.md 8).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "targets.h"

#define TARGET_LOCK_FIELD4 19779	/* 'M' 'B' + 1: not a run lock */

static const char *FormatRange(TimestampTz begin_at, bool has_end_at, TimestampTz end_at);
static int	CompareSpans(const ListCell *a, const ListCell *b);

/*
 * TargetsLock takes, until the end of the transaction, the lock that
 * serialises changes to the ranges of the pipelines writing a target.
 */
static void
TargetsLock(Oid target)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, (uint32) target, TARGET_LOCK_FIELD4);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* FormatRange writes a pipeline's range for messages. */
static const char *
FormatRange(TimestampTz begin_at, bool has_end_at, TimestampTz end_at)
{
	const char *begin = pstrdup(timestamptz_to_str(begin_at));

	if (!has_end_at)
		return psprintf("from %s on, with no end_at", begin);
	return psprintf("[%s, %s)", begin, timestamptz_to_str(end_at));
}

/*
 * TargetsCheckOverlap refuses the pipeline's range [begin_at, end_at)
 * (begin_at floored to its grid) when it overlaps the range of another
 * pipeline writing the same target, naming that pipeline.  pipeline->id
 * is 0 for a pipeline not registered yet.
 */
void
TargetsCheckOverlap(Pipeline *pipeline)
{
	ListCell   *lc;

	TargetsLock(pipeline->target);
	foreach(lc, CatalogTargetPipelines(pipeline->target))
	{
		CatalogTargetRange *other = lfirst(lc);

		if (other->pipeline_id == pipeline->id || strcmp(other->name, pipeline->name) == 0)
			continue;
		if (pipeline->begin_at < other->end_at && other->begin_at < pipeline->end_at)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("pipeline \"%s\" would overlap pipeline \"%s\" on target \"%s\"",
							pipeline->name, other->name, get_rel_name(pipeline->target)),
					 errdetail("Pipeline \"%s\"%s writes the target %s, pipeline \"%s\" would write it %s; each window replaces all of the target's rows in its range, so the two would replace each other's rows.",
							   other->name,
							   has_privs_of_role(GetUserId(), other->owner) ? "" : " (of another role)",
							   FormatRange(other->begin_at, other->has_end_at, other->end_at),
							   pipeline->name,
							   FormatRange(pipeline->begin_at, pipeline->has_end_at, pipeline->end_at)),
					 errhint("Give the pipelines disjoint ranges with begin_at and end_at, or write to another table.")));
	}
}

/* CompareSpans orders spans by their start. */
static int
CompareSpans(const ListCell *a, const ListCell *b)
{
	TargetSpan *sa = lfirst(a);
	TargetSpan *sb = lfirst(b);

	if (sa->start != sb->start)
		return sa->start < sb->start ? -1 : 1;
	return 0;
}

/*
 * TargetsKeptRanges returns the union of the ranges of every pipeline that
 * writes the pipeline's target (it included, with its range as given), as
 * disjoint spans in order; a range ends at now() at the latest.
 * A purge keeps the rows inside them.
 */
List *
TargetsKeptRanges(Pipeline *pipeline)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TargetSpan *own = palloc(sizeof(TargetSpan));
	List	   *spans = NIL;
	List	   *merged = NIL;
	TargetSpan *last = NULL;
	ListCell   *lc;

	foreach(lc, CatalogTargetPipelines(pipeline->target))
	{
		CatalogTargetRange *range = lfirst(lc);
		TargetSpan *span = palloc(sizeof(TargetSpan));

		if (range->pipeline_id == pipeline->id)
			continue;
		span->start = range->begin_at;
		span->end = range->has_end_at ? Min(range->end_at, now) : now;
		spans = lappend(spans, span);
	}
	own->start = pipeline->begin_at;
	own->end = pipeline->has_end_at ? Min(pipeline->end_at, now) : now;
	spans = lappend(spans, own);
	list_sort(spans, CompareSpans);

	foreach(lc, spans)
	{
		TargetSpan *span = lfirst(lc);

		if (span->end <= span->start)
			continue;
		if (last != NULL && span->start <= last->end)
			last->end = Max(last->end, span->end);
		else
		{
			last = span;
			merged = lappend(merged, span);
		}
	}
	return merged;
}

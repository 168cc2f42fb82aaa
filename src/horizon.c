/*-------------------------------------------------------------------------
 *
 * horizon.c
 *	  The tracking horizon: how far a pipeline has processed its windows in
 *	  full, so that writers to its tracked sources capture only the changes
 *	  that can fall into such windows.
 *
 * Tracking (track.c) must leave a window stale when a committed change
 * falls into it after it was processed.  Most writes, though, are new
 * events, later than every window processed so far: capturing them would
 * cost every writer a trigger call per row and buy nothing, since the run
 * that first processes their window reads them anyway.  So every tracked
 * source of a pipeline (a row of microbatch.sources) has a horizon, the end
 * of the pipeline's last window processed in full, and the tracking
 * triggers fire only WHEN microbatch.needs_mark(source, event_time) finds
 * the event time before the horizon.  A row past it costs its writer one
 * comparison with a value cached for the statement.
 *
 * Why no change is lost.  A window is processed in full only after the
 * horizon of every source its pipeline tracks has reached the window's
 * end.  A run's set-up (RunSetup) raises the horizons in its transaction
 * and commits; then, before any window runs, it waits for every
 * transaction that holds a write lock on a raised source or on a partition
 * of it to end (HorizonWaitForWriters):
 *
 * - Every backend caches the horizons with the trackers (track.c), for as
 *	 long as no relcache invalidation of microbatch.sources arrives; an
 *	 UPDATE of its rows sends none.  So a raise sends one itself
 *	 (TrackSignalChanged), with the set-up's commit, to every backend of
 *	 the database: those that wrote to the source before, a pooled
 *	 connection that keeps writing, included.
 * - A writer takes its RowExclusiveLock before it writes and keeps it to
 *	 its end.  Starting a transaction, and taking a lock the transaction
 *	 did not hold yet, process every pending invalidation, so a writer that
 *	 locks the source once the invalidation is sent drops its cache and
 *	 reads the new horizon before its first row.  It reads it with the
 *	 latest snapshot, not its transaction's (CatalogReadTrackers), and
 *	 captures every change before it.  What it caches for one statement
 *	 (needs_mark's, the capture index's) lives in that statement's
 *	 executor state, under a lock held to the transaction's end.
 * - A writer that locked the source before the invalidation was sent (the
 *	 set-up's commit sends it just after the commit is visible) may use the
 *	 old horizon for as long as it holds the lock.  The set-up waits for
 *	 it, since it looks for the lock holders only after its commit: the
 *	 writer's rows are committed (or gone) before any window takes its
 *	 snapshot, and the window reads them.
 *
 * A run that ends during that wait (cancelled, or failing) puts the
 * horizons back (HorizonWithdraw), so that the next run waits again; one
 * whose process dies there has them put back when it is settled
 * (CatalogSettleDeadRuns).
 *
 * A window cut short by now() (partial) needs no horizon: it is processed
 * again once more of it can be, and in full only once the horizon has
 * reached its end.  A horizon is lowered to the end of the last window
 * processed in full without any wait (after mb_reset, or from the
 * infinity that mb_track sets until the next run): writers still using
 * the higher one only capture more than they need.
 *
 * The cost falls on runs, not writers: a run that goes past the horizon
 * (once per window boundary for a pipeline that keeps up) waits for the
 * writes to its tracked sources that were in progress when it started,
 * and shows as waiting for a virtualxid lock meanwhile.  Autovacuum and
 * index builds hold no write lock and are not waited for.  A caller that
 * wrote to a tracked source and then runs mb_run in the same transaction
 * would wait for itself, and so would one whose transaction a writer waits
 * for; the leader sees its worker blocked on it, directly or through that
 * writer, and fails the run (launcher.c).
 *
 * mb_run_window runs inside the caller's transaction, which cannot commit a
 * raise before the window reads the sources.  It takes a SHARE lock on the
 * sources instead, which waits for their writers and keeps new ones out
 * until the caller's transaction ends, and raises the horizon under it.
 * Under REPEATABLE READ the window's snapshot may be older than writers it
 * waited for, so it leaves the window stale as well.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_inherits.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "compat.h"
#include "horizon.h"
#include "track.h"

/* the lock modes that writing to a table takes, or that come with them */
#define WRITE_LOCKS (LOCKBIT_ON(RowExclusiveLock) | LOCKBIT_ON(ShareRowExclusiveLock) | \
					 LOCKBIT_ON(ExclusiveLock) | LOCKBIT_ON(AccessExclusiveLock))

static TimestampTz PlanProcessedInFull(Pipeline *pipeline, PlannedWindow *windows, int n);
static List *SourceAndPartitions(List *sources);

/*
 * PlanProcessedInFull returns the end of the last window a plan processes
 * in full: every window but those cut short by now() (a window cut by
 * end_at is as complete as it will ever be).  DT_NOBEGIN if none.
 */
static TimestampTz
PlanProcessedInFull(Pipeline *pipeline, PlannedWindow *windows, int n)
{
	TimestampTz end = DT_NOBEGIN;
	int			i;

	for (i = 0; i < n; i++)
		if (!windows[i].partial || (pipeline->has_end_at && windows[i].end >= pipeline->end_at))
			end = Max(end, windows[i].end);
	return end;
}

/*
 * HorizonAdvance sets the horizons of the sources a pipeline tracks to the
 * end of the last window processed in full, counting those the plan is
 * about to process, in the run's set-up transaction.  It returns the
 * sources whose horizon it raised, in the caller's context: the caller
 * waits for their writers once this transaction has committed.
 */
List *
HorizonAdvance(Pipeline *pipeline, PlannedWindow *windows, int nwindows,
			   MemoryContext context)
{
	List	   *sources;
	List	   *raised = NIL;
	TimestampTz horizon = PlanProcessedInFull(pipeline, windows, nwindows);
	TimestampTz processed;
	ListCell   *lc;

	if (!CatalogHasTracking())
		return NIL;
	sources = CatalogSourceHorizons(pipeline->id, CurrentMemoryContext);
	if (sources == NIL)
		return NIL;
	if (CatalogProcessedInFull(pipeline->id, &processed))
		horizon = Max(horizon, processed);
	if (horizon == DT_NOBEGIN)
		horizon = pipeline->begin_at;

	foreach(lc, sources)
	{
		CatalogTracker *source = lfirst(lc);

		if (source->horizon < horizon)
		{
			MemoryContext old = MemoryContextSwitchTo(context);

			raised = lappend_oid(raised, source->source);
			MemoryContextSwitchTo(old);
		}
	}
	if (CatalogSetHorizon(pipeline->id, horizon))
		TrackSignalChanged();
	return raised;
}

/* SourceAndPartitions adds the partitions of partitioned sources. */
static List *
SourceAndPartitions(List *sources)
{
	List	   *relids = NIL;
	ListCell   *lc;

	foreach(lc, sources)
		relids = list_concat_unique_oid(relids, find_all_inheritors(lfirst_oid(lc), NoLock, NULL));
	return relids;
}

/*
 * HorizonWaitForWriters waits, in an open transaction that took no
 * snapshot of its own, until every other transaction that held a write
 * lock on one of the sources (or their partitions) when it was called has
 * ended.  New writers are not waited for: they capture by the new horizon.
 */
void
HorizonWaitForWriters(List *sources)
{
	List	   *relids;
	LockData   *locks;
	VirtualTransactionId *writers;
	int			nwriters = 0;
	int			i;

	if (sources == NIL)
		return;
	relids = SourceAndPartitions(sources);
	locks = GetLockStatusData();
	writers = palloc(sizeof(VirtualTransactionId) * Max(locks->nelements, 1));
	for (i = 0; i < locks->nelements; i++)
	{
		LockInstanceData *lock = &locks->locks[i];

		if (lock->locktag.locktag_type != LOCKTAG_RELATION ||
			lock->locktag.locktag_field1 != MyDatabaseId ||
			!list_member_oid(relids, lock->locktag.locktag_field2) ||
			(lock->holdMask & WRITE_LOCKS) == 0 || lock->pid == MyProcPid)
			continue;
		writers[nwriters++] = LockInstanceVxid(lock);
	}
	/* the catalog lookups above must not hold back vacuum while we wait */
	InvalidateCatalogSnapshot();
	for (i = 0; i < nwriters; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (VirtualTransactionIdIsValid(writers[i]))
			(void) VirtualXactLock(writers[i], true);
	}
}

/*
 * HorizonWithdraw undoes the raise of a run that ends before its wait for
 * the writers is over (a cancel, say): writers that locked a source before
 * the raise may still capture by the old horizon, and the next run, finding
 * the horizon already raised, would not wait for them.  The horizons go
 * back to the end of the windows processed in full, which is always safe
 * (see the top of the file); the next run raises them again, and waits.
 */
void
HorizonWithdraw(Pipeline *pipeline)
{
	TimestampTz processed;

	if (!CatalogHasTracking())
		return;
	if (!CatalogProcessedInFull(pipeline->id, &processed))
		processed = pipeline->begin_at;
	CatalogSetHorizon(pipeline->id, processed);
}

/*
 * HorizonLockForWindow makes the horizons of a pipeline's sources reach
 * the end of a window that mb_run_window is about to process inside the
 * caller's transaction: SHARE locks on the sources that are behind (see
 * the top of the file), then the raise.  Returns whether the window must
 * be left stale because the transaction's snapshot may predate the writers
 * the locks waited for.
 */
bool
HorizonLockForWindow(Pipeline *pipeline, PlannedWindow *window)
{
	TimestampTz horizon = PlanProcessedInFull(pipeline, window, 1);
	TimestampTz processed;
	ListCell   *lc;
	bool		raised = false;

	if (horizon == DT_NOBEGIN || !CatalogHasTracking())
		return false;
	foreach(lc, CatalogSourceHorizons(pipeline->id, CurrentMemoryContext))
	{
		CatalogTracker *source = lfirst(lc);
		ListCell   *rel;

		if (source->horizon >= horizon)
			continue;
		foreach(rel, SourceAndPartitions(list_make1_oid(source->source)))
			LockRelationOid(lfirst_oid(rel), ShareLock);
		raised = true;
	}
	if (!raised)
		return false;
	/* never below a window processed in full before */
	if (CatalogProcessedInFull(pipeline->id, &processed))
		horizon = Max(horizon, processed);
	if (CatalogSetHorizon(pipeline->id, horizon))
		TrackSignalChanged();
	return IsolationUsesXactSnapshot();
}

/*-------------------------------------------------------------------------
 *
 * runrecord.c
 *	  What a run records in the catalog at its start and at its end, for
 *	  a run driven in this session (run.c) or by background workers
 *	  (worker.c) alike.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "horizon.h"
#include "runrecord.h"
#include "track.h"

/*
 * RunSetup records the start of a run: it settles what dead earlier runs
 * (of this pipeline or any other that is not running) left marked running,
 * inserts the run's row, remembers how far the pipeline's state rows are
 * known to be contiguous, and moves the horizons of its tracked sources
 * to the windows it is about to process in full.  The caller holds the
 * run lock, commits, and then waits for the writers of the sources whose
 * horizon was raised (returned in context) before any window runs.
 */
List *
RunSetup(Pipeline *pipeline, RunPlan *plan, int64 run_id, int leader_pid,
		 MemoryContext context)
{
	CatalogSettleDeadRuns(pipeline->id);
	CatalogInsertRun(run_id, pipeline->id, RunKindName(plan->kind), plan->nwindows,
					 leader_pid);
	if (plan->kind == RUN_KIND_RUN)
	{
		CatalogAdvanceContiguous(pipeline->id, plan->contiguous_until);
		TrackPrune(pipeline);
	}
	return HorizonAdvance(pipeline, plan->windows, plan->nwindows, context);
}

/*
 * RunWaitForWriters waits, in the caller's open transaction and after the
 * set-up committed, for the writers of the sources whose horizon RunSetup
 * raised (HorizonWaitForWriters).  A cancel (pg_cancel_backend,
 * statement_timeout) or an error meanwhile ends the run before any window:
 * its row is marked cancelled (or failed) with the reason and every window
 * skipped, and the horizons are put back (HorizonWithdraw), all in the
 * caller's transaction; the error is returned for the caller to raise once
 * it has committed that.  NULL when the wait is over.
 */
ErrorData *
RunWaitForWriters(Pipeline *pipeline, List *raised, int64 run_id, int nwindows)
{
	MemoryContext context = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *error = NULL;

	if (raised == NIL)
		return NULL;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(context);
	PG_TRY();
	{
		HorizonWaitForWriters(raised);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(context);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(context);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(context);
		CurrentResourceOwner = owner;

		/* a worker waits in a transaction that took no snapshot */
		PushActiveSnapshot(GetTransactionSnapshot());
		CatalogFinishRun(run_id, error->sqlerrcode == ERRCODE_QUERY_CANCELED ? "cancelled" : "failed",
						 0, 0, nwindows, 0, 0);
		CatalogSetRunError(run_id, error->message);
		HorizonWithdraw(pipeline);
		PopActiveSnapshot();
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();
	return error;
}

/* RunFinish records how a run ended. */
void
RunFinish(RunSummary *summary, int64 run_id)
{
	const char *status = summary->cancelled ? "cancelled" :
		summary->failed > 0 ? "failed" : "succeeded";

	CatalogFinishRun(run_id, status, summary->succeeded, summary->failed, summary->skipped,
					 summary->rows_deleted, summary->rows_inserted);
}

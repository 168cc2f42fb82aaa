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

/* RunFinish records how a run ended. */
void
RunFinish(RunSummary *summary, int64 run_id)
{
	const char *status = summary->cancelled ? "cancelled" :
		summary->failed > 0 ? "failed" : "succeeded";

	CatalogFinishRun(run_id, status, summary->succeeded, summary->failed, summary->skipped,
					 summary->rows_deleted, summary->rows_inserted);
}

/*-------------------------------------------------------------------------
 *
 * runrecord.c
 *	  What a run records in the catalog at its start and at its end, for
 *	  a run driven in this session (run.c) or by background workers
 *	  (worker.c) alike.
 *
 * A session that drives a run itself (CALL mb_backfill in this session)
 * may leave without reaching the run's end: its client went away, it was
 * terminated, the server shuts down.  Such an exit is a FATAL error, which
 * aborts the session's transaction and runs the exit callbacks; the one
 * registered here records the open run as cancelled, with the counts of
 * what its windows committed, in a transaction of its own, so that the
 * run does not stay "running" until another run settles it.  (A run in
 * background workers is ended by its workers, launcher.c.)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/ipc.h"
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

/* the run this session drives itself, if any, and its pipeline */
static int64 session_run_id = 0;
static int64 session_pipeline_id = 0;
static TimestampTz session_begin_at = 0;
static bool exit_callback_registered = false;

static void CancelSessionRunOnExit(int code, Datum arg);

/*
 * RunSessionBegin notes that this session drives run_id itself, until
 * RunSessionEnd: should the session exit meanwhile, the run is recorded
 * as cancelled.
 */
void
RunSessionBegin(Pipeline *pipeline, int64 run_id)
{
	if (!exit_callback_registered)
	{
		before_shmem_exit(CancelSessionRunOnExit, (Datum) 0);
		exit_callback_registered = true;
	}
	session_run_id = run_id;
	session_pipeline_id = pipeline->id;
	session_begin_at = pipeline->begin_at;
}

/* RunSessionEnd notes that the session's run has ended or was recorded. */
void
RunSessionEnd(void)
{
	session_run_id = 0;
}

/*
 * CancelSessionRunOnExit records the run this session was driving as
 * cancelled when the session exits in the middle of it, and puts its
 * tracking horizons back (HorizonWithdraw): it may have left while it
 * waited for writers of a raised source, and the next run must wait for
 * them again.  The session's own transaction (the window in flight) is
 * rolled back first.
 */
static void
CancelSessionRunOnExit(int code, Datum arg)
{
	int64		run_id = session_run_id;
	Pipeline	pipeline;

	if (run_id == 0)
		return;
	session_run_id = 0;
	memset(&pipeline, 0, sizeof(pipeline));
	pipeline.id = session_pipeline_id;
	pipeline.begin_at = session_begin_at;
	AbortOutOfAnyTransaction();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	CatalogCancelAbandonedRun(run_id);
	HorizonWithdraw(&pipeline);
	PopActiveSnapshot();
	CommitTransactionCommand();
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

/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  A background worker that processes windows of a run.
 *
 * The leader (launcher.c) puts the plan in a DSM segment and starts up to
 * max_parallel workers.  Each worker connects to the leader's database,
 * takes the next queued window (or chunk of windows, coalesce.c), and
 * processes it exactly as a run in the calling session would: one
 * transaction that replaces it and records its outcome (CoalesceExecute).  It publishes
 * the outcome in the segment and sets the leader's latch.
 *
 * The leader cannot commit, so the workers also keep the run's catalog row:
 * the first worker to start records the run (RunSetup) while the others
 * wait, and whichever worker accounts for the last window, by finishing it
 * or by skipping what is left after a stop, records how the run ended.
 *
 * A stop (a failed window with on_error = 'stop', or the leader cancelled)
 * lets windows in flight finish or fail and turns every queued one into a
 * skipped one.  The leader cancels a window in flight by sending SIGINT,
 * which the guard records as that window's failure.  Interrupts are held
 * while bookkeeping commits, so a cancel never lands between a window's
 * transaction and its record.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "coalesce.h"
#include "executor.h"
#include "runrecord.h"
#include "worker.h"

static int	ClaimWindows(RunShared *shared, Pipeline *pipeline, int *n, bool *finalize);
static bool PublishSkipped(RunShared *shared, int first, int n);
static bool PublishOutcome(RunShared *shared, int index, WindowOutcome *outcome,
						   bool continue_on_error);
static void WaitForSetup(RunShared *shared, Pipeline *pipeline, RunPlan *plan);
static void FinishRunInCatalog(RunShared *shared);
static void NotifyLeader(RunShared *shared);

/* RunSharedSize is the size of the DSM segment for a run of n windows. */
Size
RunSharedSize(int nwindows)
{
	return MAXALIGN(sizeof(RunShared)) +
		MAXALIGN(sizeof(PlannedWindow) * nwindows) +
		MAXALIGN(sizeof(SharedOutcome) * nwindows) +
		MAXALIGN(sizeof(int) * nwindows);
}

/* RunSharedWindows returns the planned windows in the segment. */
PlannedWindow *
RunSharedWindows(RunShared *shared)
{
	return (PlannedWindow *) ((char *) shared + MAXALIGN(sizeof(RunShared)));
}

/* SharedOutcomes returns the outcome slot of every window. */
static SharedOutcome *
SharedOutcomes(RunShared *shared)
{
	return (SharedOutcome *) ((char *) RunSharedWindows(shared) +
							  MAXALIGN(sizeof(PlannedWindow) * shared->nwindows));
}

/*
 * RunSharedReadOutcome copies out a finished window's outcome; the message
 * of a failure long overwritten in the ring points to the catalog instead.
 */
void
RunSharedReadOutcome(RunShared *shared, int index, WindowOutcome *outcome)
{
	SharedOutcome *slot = &SharedOutcomes(shared)[index];

	memset(outcome, 0, sizeof(WindowOutcome));
	SpinLockAcquire(&shared->mutex);
	outcome->succeeded = slot->succeeded;
	outcome->partial = slot->partial;
	outcome->rows_deleted = slot->rows_deleted;
	outcome->rows_inserted = slot->rows_inserted;
	outcome->elapsed_ms = slot->elapsed_ms;
	memcpy(outcome->sqlstate, slot->sqlstate, sizeof(outcome->sqlstate));
	if (!slot->succeeded)
	{
		int			ring = slot->message_seq % MESSAGE_SLOTS;

		if (shared->message_owner[ring] == slot->message_seq)
			strlcpy(outcome->message, shared->messages[ring], sizeof(outcome->message));
		else
			strlcpy(outcome->message, "(see microbatch.windows for the message)",
					sizeof(outcome->message));
	}
	SpinLockRelease(&shared->mutex);
}

/* RunSharedFinishOrder returns window indexes in the order they finished. */
int *
RunSharedFinishOrder(RunShared *shared)
{
	return (int *) ((char *) SharedOutcomes(shared) +
					MAXALIGN(sizeof(SharedOutcome) * shared->nwindows));
}

/*
 * RunSharedStop tells the workers to start no more windows; cancelled also
 * marks the run as cancelled rather than failed.
 */
void
RunSharedStop(RunShared *shared, bool cancelled)
{
	SpinLockAcquire(&shared->mutex);
	shared->stop = true;
	shared->cancelled |= cancelled;
	SpinLockRelease(&shared->mutex);
}

/*
 * RunSharedRaiseError re-raises, in the leader, the error that stopped a
 * worker outside any window, with its own SQLSTATE, detail and hint.
 */
void
RunSharedRaiseError(RunShared *shared, const char *pipeline_name)
{
	if (shared->error[0] == '\0')
		return;
	ereport(ERROR,
			(errcode(shared->error_code),
			 errmsg("%s", shared->error),
			 shared->error_detail[0] ? errdetail("%s", shared->error_detail) : 0,
			 shared->error_hint[0] ? errhint("%s", shared->error_hint) : 0,
			 errcontext("background worker of pipeline \"%s\"", pipeline_name)));
}

/*
 * SettleAbandoned records, for a leader whose workers died, that the
 * windows they held (claimed, never finished) failed, and how the run
 * ended, with its exact totals.
 */
static void
SettleAbandoned(RunShared *shared)
{
	Pipeline   *pipeline;
	WindowOutcome outcome;
	int			claimed;
	int			abandoned = 0;
	int			i;

	memset(&outcome, 0, sizeof(outcome));
	strlcpy(outcome.sqlstate, "57P01", sizeof(outcome.sqlstate));
	strlcpy(outcome.message, "interrupted: the process running this window ended before it committed",
			sizeof(outcome.message));

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pipeline = CatalogReadPipeline(shared->pipeline_name);
	SpinLockAcquire(&shared->mutex);
	claimed = shared->next_window;
	SpinLockRelease(&shared->mutex);
	for (i = 0; i < claimed; i++)
	{
		PlannedWindow *window = &RunSharedWindows(shared)[i];

		if (SharedOutcomes(shared)[i].done)
			continue;
		abandoned++;
		if (pipeline != NULL)
			CatalogRecordWindow(pipeline->id, shared->run_id, window->start, window->end,
								&outcome);
	}
	CatalogFinishRun(shared->run_id, "failed", shared->succeeded, shared->failed + abandoned,
					 shared->skipped + shared->nwindows - claimed, shared->rows_deleted,
					 shared->rows_inserted);
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* NotifyLeader wakes the leader up to relay what happened. */
static void
NotifyLeader(RunShared *shared)
{
	PGPROC	   *leader = BackendPidGetProc(shared->leader_pid);

	if (leader != NULL)
		SetLatch(&leader->procLatch);
}

/*
 * ClaimWindows hands out the next chunk of queued windows (coalesce.c: one
 * window unless the pipeline coalesces them) and its length, or -1 when
 * there is none left.  After a stop it skips every queued window instead;
 * *finalize tells the caller that this accounted for the run's last window.
 * The chunk is measured outside the spinlock, then claimed if no other
 * worker took its first window meanwhile.
 */
static int
ClaimWindows(RunShared *shared, Pipeline *pipeline, int *n, bool *finalize)
{
	for (;;)
	{
		int			first;
		int			length = 1;
		int			index = -1;

		SpinLockAcquire(&shared->mutex);
		first = shared->next_window;
		SpinLockRelease(&shared->mutex);
		if (first < shared->nwindows)
			length = CoalesceChunkLength(pipeline, &RunSharedWindows(shared)[first],
										 shared->nwindows - first);

		*finalize = false;
		SpinLockAcquire(&shared->mutex);
		if (shared->stop)
		{
			int			left = shared->nwindows - shared->next_window;

			shared->next_window = shared->nwindows;
			shared->skipped += left;
			shared->accounted += left;
			*finalize = left > 0 && shared->accounted == shared->nwindows;
		}
		else if (shared->next_window != first)
			index = -2;			/* taken meanwhile: measure again */
		else if (first < shared->nwindows)
		{
			index = first;
			shared->next_window += length;
		}
		SpinLockRelease(&shared->mutex);
		if (index != -2)
		{
			*n = length;
			return index;
		}
	}
}

/*
 * PublishSkipped accounts for windows of a chunk skipped after a failure
 * stopped the run, and returns whether they were the run's last.
 */
static bool
PublishSkipped(RunShared *shared, int first, int n)
{
	bool		last;
	int			i;

	SpinLockAcquire(&shared->mutex);
	for (i = first; i < first + n; i++)
		SharedOutcomes(shared)[i].done = true;
	shared->skipped += n;
	shared->accounted += n;
	last = shared->accounted == shared->nwindows;
	SpinLockRelease(&shared->mutex);
	return last;
}

/*
 * PublishOutcome puts a finished window where the leader reads it, and
 * returns whether it was the run's last window to be accounted for.
 */
static bool
PublishOutcome(RunShared *shared, int index, WindowOutcome *outcome, bool continue_on_error)
{
	bool		last;
	SharedOutcome *slot = &SharedOutcomes(shared)[index];

	SpinLockAcquire(&shared->mutex);
	slot->done = true;
	slot->succeeded = outcome->succeeded;
	slot->partial = outcome->partial;
	slot->rows_deleted = outcome->rows_deleted;
	slot->rows_inserted = outcome->rows_inserted;
	slot->elapsed_ms = outcome->elapsed_ms;
	memcpy(slot->sqlstate, outcome->sqlstate, sizeof(slot->sqlstate));
	if (!outcome->succeeded)
	{
		int			seq = shared->messages_written++;

		slot->message_seq = seq;
		shared->message_owner[seq % MESSAGE_SLOTS] = seq;
		strlcpy(shared->messages[seq % MESSAGE_SLOTS], outcome->message, sizeof(shared->messages[0]));
	}
	RunSharedFinishOrder(shared)[shared->finished++] = index;
	shared->rows_deleted += outcome->rows_deleted;
	shared->rows_inserted += outcome->rows_inserted;
	if (outcome->succeeded)
		shared->succeeded++;
	else
	{
		shared->failed++;
		if (!continue_on_error)
			shared->stop = true;
	}
	shared->accounted++;
	last = shared->accounted == shared->nwindows;
	SpinLockRelease(&shared->mutex);
	NotifyLeader(shared);
	return last;
}

/*
 * WaitForSetup records the run in the catalog if no other worker has begun
 * to, or waits until the one that did is done.
 */
static void
WaitForSetup(RunShared *shared, Pipeline *pipeline, RunPlan *plan)
{
	bool		mine = false;

	SpinLockAcquire(&shared->mutex);
	if (shared->setup == SETUP_PENDING)
	{
		shared->setup = SETUP_IN_PROGRESS;
		mine = true;
	}
	SpinLockRelease(&shared->mutex);

	if (mine)
	{
		MemoryContext context = CurrentMemoryContext;
		List	   *raised;

		HOLD_INTERRUPTS();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		raised = RunSetup(pipeline, plan, shared->run_id, shared->leader_pid, context);
		PopActiveSnapshot();
		CommitTransactionCommand();
		RESUME_INTERRUPTS();
		if (raised != NIL)
		{
			ErrorData  *error;

			/* no window runs before the writers of the old horizon are gone */
			StartTransactionCommand();
			/*
			 * A cancel meanwhile ends the run, recorded: commit that, then
			 * fail.  The error is rethrown after the commit has freed the
			 * transaction's memory, so it is copied above it.
			 */
			MemoryContextSwitchTo(TopMemoryContext);
			error = RunWaitForWriters(pipeline, raised, shared->run_id, plan->nwindows);
			HOLD_INTERRUPTS();
			CommitTransactionCommand();
			RESUME_INTERRUPTS();
			if (error != NULL)
				ReThrowError(error);
		}
		SpinLockAcquire(&shared->mutex);
		shared->setup = SETUP_DONE;
		SpinLockRelease(&shared->mutex);
		return;
	}

	for (;;)
	{
		SharedSetupState setup;

		SpinLockAcquire(&shared->mutex);
		setup = shared->setup;
		SpinLockRelease(&shared->mutex);
		if (setup == SETUP_DONE)
			return;
		if (setup == SETUP_FAILED)
			proc_exit(0);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* FinishRunInCatalog records how the run ended, from the shared totals. */
static void
FinishRunInCatalog(RunShared *shared)
{
	RunSummary	summary;

	memset(&summary, 0, sizeof(summary));
	SpinLockAcquire(&shared->mutex);
	summary.failed = shared->failed;
	summary.skipped = shared->skipped;
	summary.succeeded = shared->succeeded;
	summary.rows_deleted = shared->rows_deleted;
	summary.rows_inserted = shared->rows_inserted;
	summary.cancelled = shared->cancelled;
	SpinLockRelease(&shared->mutex);

	HOLD_INTERRUPTS();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	RunFinish(&summary, shared->run_id);
	PopActiveSnapshot();
	CommitTransactionCommand();
	RESUME_INTERRUPTS();
	NotifyLeader(shared);
}

/*
 * MicrobatchWorkerMain is the entry point of a window worker: attach to the
 * run's segment, connect, and process windows until none is left.
 */
void
MicrobatchWorkerMain(Datum main_arg)
{
	dsm_segment *segment;
	RunShared  *shared;
	Pipeline   *pipeline;
	WindowExecutor *executor;
	RunPlan		plan;
	bool		finalize = false;
	int			index;
	int			n;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	segment = dsm_attach(DatumGetUInt32(main_arg));
	if (segment == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("microbatch worker could not attach to its run's shared memory")));
	shared = dsm_segment_address(segment);

	BackgroundWorkerInitializeConnectionByOid(shared->database_id, shared->user_id, 0);
	SetConfigOption("microbatch.coalesce_target", shared->coalesce_target, PGC_USERSET,
					PGC_S_SESSION);

	if (shared->settle)
	{
		SettleAbandoned(shared);
		dsm_detach(segment);
		proc_exit(0);
	}

	PG_TRY();
	{
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		/* the pipeline and its prepared statements outlive this transaction */
		MemoryContextSwitchTo(TopMemoryContext);
		pipeline = CatalogReadPipeline(shared->pipeline_name);
		if (pipeline == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("pipeline \"%s\" does not exist", shared->pipeline_name)));
		executor = WindowExecutorCreate(pipeline);
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(TopMemoryContext);

		memset(&plan, 0, sizeof(plan));
		plan.kind = (RunKind) shared->run_kind;
		plan.nwindows = shared->nwindows;
		plan.contiguous_until = shared->contiguous_until;
		plan.windows = RunSharedWindows(shared);
		WaitForSetup(shared, pipeline, &plan);
	}
	PG_CATCH();
	{
		ErrorData  *error;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(TopMemoryContext);
		error = CopyErrorData();
		SpinLockAcquire(&shared->mutex);
		shared->error_code = error->sqlerrcode;
		strlcpy(shared->error, error->message, sizeof(shared->error));
		if (error->detail)
			strlcpy(shared->error_detail, error->detail, sizeof(shared->error_detail));
		if (error->hint)
			strlcpy(shared->error_hint, error->hint, sizeof(shared->error_hint));
		if (shared->setup == SETUP_IN_PROGRESS || shared->setup == SETUP_PENDING)
			shared->setup = SETUP_FAILED;
		shared->stop = true;
		SpinLockRelease(&shared->mutex);
		NotifyLeader(shared);
		PG_RE_THROW();
	}
	PG_END_TRY();

	while ((index = ClaimWindows(shared, pipeline, &n, &finalize)) >= 0)
	{
		WindowOutcome *outcomes = MemoryContextAlloc(TopMemoryContext, sizeof(WindowOutcome) * n);
		int			ran;
		int			i;

		pgstat_report_activity(STATE_RUNNING,
							   psprintf("microbatch window %s",
										FormatWindow(pipeline, RunSharedWindows(shared)[index].start,
													 RunSharedWindows(shared)[index + n - 1].end)));

		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		ran = CoalesceExecute(executor, shared->run_id, &RunSharedWindows(shared)[index], n,
							  outcomes);
		HOLD_INTERRUPTS();
		PopActiveSnapshot();
		CommitTransactionCommand();
		RESUME_INTERRUPTS();
		pgstat_report_activity(STATE_IDLE, NULL);

		for (i = 0; i < ran; i++)
			finalize |= PublishOutcome(shared, index + i, &outcomes[i],
									   pipeline->continue_on_error);
		if (ran < n)
			finalize |= PublishSkipped(shared, index + ran, n - ran);
		pfree(outcomes);
		if (finalize)
			break;
	}

	if (finalize)
		FinishRunInCatalog(shared);
	WindowExecutorDestroy(executor);
	dsm_detach(segment);
	proc_exit(0);
}

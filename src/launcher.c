/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  Running a plan in background workers, from the calling session.
 *
 * The calling session is the leader.  It copies the plan into a DSM segment,
 * starts up to max_parallel dynamic workers (worker.c) that report back to
 * it (bgw_notify_pid), and waits on its latch, relaying each window the
 * workers finish as a progress line.  It writes nothing to the catalog: its
 * transaction may not commit, and the workers must not wait for it.
 *
 * Whatever ends the leader early also ends the run: an error or cancel
 * (statement_timeout, pg_cancel_backend, Ctrl-C) stops the queue, cancels
 * the windows in flight and waits for the workers to record that, before
 * the error goes on; a leader that exits (FATAL: its client went away, it
 * was terminated, the server shuts down) detaches from the segment, and the
 * detach callback does the same without waiting.  That callback runs after
 * the exiting transaction was aborted and its memory freed, so what it
 * reads, the leader's state and the workers' handles, lives in
 * TopMemoryContext, and the callback frees it; the workers then record the
 * run as cancelled (worker.c).
 *
 * A worker blocked on a lock that the leader's own transaction holds would
 * wait forever, with the leader waiting for it; the leader checks for that
 * while it waits (on a Citus cluster, on every node) and fails with a clear
 * error instead.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "citus.h"
#include "coalesce.h"
#include "launcher.h"
#include "run.h"
#include "worker.h"

#define LEADER_POLL_MS 250

typedef struct LeaderState
{
	dsm_segment *segment;
	RunShared  *shared;
	int			nworkers;
	BackgroundWorkerHandle **handles;
	bool		on_citus;		/* locks may be held on other nodes too */
	int			polls;			/* deadlock checks so far */
} LeaderState;

static RunShared *CreateSharedRun(Pipeline *pipeline, RunPlan *plan, int64 run_id,
								  dsm_segment **segment);
static int	StartWorkers(LeaderState *leader, Pipeline *pipeline, int wanted);
static void WaitForWorkers(LeaderState *leader, Pipeline *pipeline, RunSummary *summary);
static int	RelayFinished(LeaderState *leader, Pipeline *pipeline, RunSummary *summary,
						  int relayed);
static bool AllWorkersStopped(LeaderState *leader);
static bool WaitsForUs(pid_t worker);
static void CheckSelfDeadlock(LeaderState *leader, Pipeline *pipeline);
static void ReportSelfDeadlock(Pipeline *pipeline, pid_t worker_pid);
static void CancelWorkers(LeaderState *leader);
static void DescribeWorker(BackgroundWorker *worker, LeaderState *leader, Pipeline *pipeline);
static void SettleAbandonedWindows(LeaderState *leader, Pipeline *pipeline);
static void StopRunOnDetach(dsm_segment *segment, Datum arg);
static void LeaderFree(LeaderState *leader);

/* CreateSharedRun puts the plan into a new DSM segment for the workers. */
static RunShared *
CreateSharedRun(Pipeline *pipeline, RunPlan *plan, int64 run_id, dsm_segment **segment)
{
	RunShared  *shared;

	*segment = dsm_create(RunSharedSize(plan->nwindows), 0);
	shared = dsm_segment_address(*segment);
	memset(shared, 0, RunSharedSize(plan->nwindows));
	shared->database_id = MyDatabaseId;
	shared->user_id = GetAuthenticatedUserId();
	shared->leader_pid = MyProcPid;
	shared->run_id = run_id;
	strlcpy(shared->pipeline_name, pipeline->name, NAMEDATALEN);
	strlcpy(shared->coalesce_target, microbatch_coalesce_target, sizeof(shared->coalesce_target));
	shared->run_kind = plan->kind;
	shared->contiguous_until = plan->contiguous_until;
	shared->nwindows = plan->nwindows;
	SpinLockInit(&shared->mutex);
	memcpy(RunSharedWindows(shared), plan->windows, sizeof(PlannedWindow) * plan->nwindows);
	return shared;
}

/* DescribeWorker fills in a worker of the leader's run. */
static void
DescribeWorker(BackgroundWorker *worker, LeaderState *leader, Pipeline *pipeline)
{
	memset(worker, 0, sizeof(BackgroundWorker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_ConsistentState;
	worker->bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "microbatch");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "MicrobatchWorkerMain");
	snprintf(worker->bgw_name, BGW_MAXLEN, "microbatch worker for %s", pipeline->name);
	snprintf(worker->bgw_type, BGW_MAXLEN, "microbatch worker");
	worker->bgw_main_arg = UInt32GetDatum(dsm_segment_handle(leader->segment));
	worker->bgw_notify_pid = MyProcPid;
}

/*
 * StartWorkers registers up to wanted workers and returns how many it got;
 * it says so when that is fewer, and fails when it is none.
 */
static int
StartWorkers(LeaderState *leader, Pipeline *pipeline, int wanted)
{
	BackgroundWorker worker;
	MemoryContext caller_context;
	int			i;

	DescribeWorker(&worker, leader, pipeline);
	/* RegisterDynamicBackgroundWorker allocates each handle here too */
	caller_context = MemoryContextSwitchTo(TopMemoryContext);
	leader->handles = palloc0(sizeof(BackgroundWorkerHandle *) * wanted);
	for (i = 0; i < wanted; i++)
		if (!RegisterDynamicBackgroundWorker(&worker, &leader->handles[i]))
			break;
	leader->nworkers = i;
	MemoryContextSwitchTo(caller_context);

	if (leader->nworkers == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a background worker for pipeline \"%s\"", pipeline->name),
				 errdetail("Every background worker slot is taken."),
				 errhint("Raise max_worker_processes, or CALL mb_backfill with max_parallel => 1, which needs none.")));
	if (leader->nworkers < wanted)
		ereport(NOTICE,
				(errmsg("%s: using %d of %d workers: no more background worker slots are free",
						pipeline->name, leader->nworkers, wanted),
				 errhint("Raise max_worker_processes to run more windows at once.")));
	return leader->nworkers;
}

/* AllWorkersStopped tells whether every worker of the run has exited. */
static bool
AllWorkersStopped(LeaderState *leader)
{
	int			i;

	for (i = 0; i < leader->nworkers; i++)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(leader->handles[i], &pid) != BGWH_STOPPED)
			return false;
	}
	return true;
}

/* ReportSelfDeadlock fails the run whose worker waits for this session. */
static void
ReportSelfDeadlock(Pipeline *pipeline, pid_t worker_pid)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_DEADLOCK_DETECTED),
			 errmsg("run of pipeline \"%s\" waits for a lock held by its own transaction",
					pipeline->name),
			 errdetail("Background worker %d waits, directly or through another transaction, for a lock that this session holds, so it can never finish.",
					   (int) worker_pid),
			 errhint("Call mb_run outside the transaction that locked or changed the tables, or use mb_run_window inside it.")));
}

/*
 * WaitsForUs tells whether a process waits for a lock this session holds,
 * directly or through the processes it waits for: a run that moves the
 * tracking horizon waits for the writers of a source (horizon.c), and such
 * a writer may itself wait for this session's transaction.  The walk of
 * the wait-for graph is bounded; it only starts from a worker that waits.
 */
static bool
WaitsForUs(pid_t worker)
{
	List	   *todo = list_make1_int(worker);
	List	   *seen = NIL;

	while (todo != NIL && list_length(seen) < 32)
	{
		int			pid = linitial_int(todo);
		ArrayType  *blockers;
		int32	   *pids;
		int			n;
		int			j;

		todo = list_delete_first(todo);
		if (list_member_int(seen, pid))
			continue;
		seen = lappend_int(seen, pid);
		blockers = DatumGetArrayTypeP(DirectFunctionCall1(pg_blocking_pids,
														  Int32GetDatum(pid)));
		pids = (int32 *) ARR_DATA_PTR(blockers);
		n = ArrayGetNItems(ARR_NDIM(blockers), ARR_DIMS(blockers));
		for (j = 0; j < n; j++)
		{
			if (pids[j] == MyProcPid)
				return true;
			todo = lappend_int(todo, pids[j]);
		}
	}
	return false;
}

/*
 * CheckSelfDeadlock fails the run when a worker waits, directly or not, for
 * a lock held by this session's transaction: neither could ever go on.
 */
static void
CheckSelfDeadlock(LeaderState *leader, Pipeline *pipeline)
{
	/* Citus's wait graph asks every node: once a second is soon enough */
	bool		ask_citus = leader->on_citus &&
		leader->polls++ % (1000 / LEADER_POLL_MS) == 0;
	int			i;

	for (i = 0; i < leader->nworkers; i++)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(leader->handles[i], &pid) != BGWH_STARTED)
			continue;
		if ((ask_citus && CitusWaitsForUs(pid)) || WaitsForUs(pid))
			ReportSelfDeadlock(pipeline, pid);
	}
}

/*
 * RelayFinished reports the windows finished since the last call, in the
 * order they finished, and returns how many have been relayed in all.
 */
static int
RelayFinished(LeaderState *leader, Pipeline *pipeline, RunSummary *summary, int relayed)
{
	RunShared  *shared = leader->shared;
	int			finished;

	SpinLockAcquire(&shared->mutex);
	finished = shared->finished;
	SpinLockRelease(&shared->mutex);

	for (; relayed < finished; relayed++)
	{
		int			index = RunSharedFinishOrder(shared)[relayed];
		WindowOutcome outcome;

		RunSharedReadOutcome(shared, index, &outcome);

		SummaryCount(summary, &RunSharedWindows(shared)[index], &outcome);
		ProgressWindow(pipeline, summary, &RunSharedWindows(shared)[index], &outcome);
	}
	return relayed;
}

/*
 * WaitForWorkers relays progress until every worker has exited, then
 * checks that every window was accounted for.
 */
static void
WaitForWorkers(LeaderState *leader, Pipeline *pipeline, RunSummary *summary)
{
	RunShared  *shared = leader->shared;
	int			relayed = 0;

	for (;;)
	{
		int			rc;

		relayed = RelayFinished(leader, pipeline, summary, relayed);
		if (AllWorkersStopped(leader))
			break;
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   LEADER_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (rc & WL_TIMEOUT)
			CheckSelfDeadlock(leader, pipeline);
	}
	relayed = RelayFinished(leader, pipeline, summary, relayed);

	SpinLockAcquire(&shared->mutex);
	summary->skipped = shared->skipped;
	SpinLockRelease(&shared->mutex);

	RunSharedRaiseError(shared, pipeline->name);
	if (summary->done + summary->skipped < summary->windows)
	{
		SettleAbandonedWindows(leader, pipeline);
		ereport(ERROR,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("background worker of pipeline \"%s\" ended before finishing its windows",
						pipeline->name),
				 errdetail("%d of %d windows were processed; the window in flight was rolled back.",
						   summary->done, summary->windows),
				 errhint("Run mb_run('%s') again: it processes the rest.", pipeline->name)));
	}
}

/*
 * SettleAbandonedWindows runs when workers died holding windows (they were
 * terminated): one more worker records those windows as failed and ends
 * the run's row, since this session's transaction is about to fail and can
 * write nothing.  If no worker can start, the next run settles them.
 */
static void
SettleAbandonedWindows(LeaderState *leader, Pipeline *pipeline)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	leader->shared->settle = true;
	DescribeWorker(&worker, leader, pipeline);
	if (RegisterDynamicBackgroundWorker(&worker, &handle))
		(void) WaitForBackgroundWorkerShutdown(handle);
}

/* CancelWorkers stops the queue and cancels the windows in flight. */
static void
CancelWorkers(LeaderState *leader)
{
	int			i;

	RunSharedStop(leader->shared, true);
	for (i = 0; i < leader->nworkers; i++)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(leader->handles[i], &pid) == BGWH_STARTED)
			kill(pid, SIGINT);
	}
}

/*
 * StopRunOnDetach runs when the leader detaches from the segment without
 * having waited for its workers (it is exiting, or its transaction
 * aborted before the run began): cancel what is in flight.
 */
static void
StopRunOnDetach(dsm_segment *segment, Datum arg)
{
	LeaderState *leader = (LeaderState *) DatumGetPointer(arg);

	CancelWorkers(leader);
	LeaderFree(leader);
}

/* LeaderFree frees the leader's state, which lives in TopMemoryContext. */
static void
LeaderFree(LeaderState *leader)
{
	int			i;

	for (i = 0; i < leader->nworkers; i++)
		pfree(leader->handles[i]);
	if (leader->handles != NULL)
		pfree(leader->handles);
	pfree(leader);
}

/*
 * RunInWorkers processes a plan in up to max_parallel background workers
 * and relays their progress; the summary holds the run's totals.
 */
void
RunInWorkers(Pipeline *pipeline, RunPlan *plan, int max_parallel, RunSummary *summary)
{
	LeaderState *leader;
	int			wanted = Min(Min(max_parallel, plan->nwindows), microbatch_max_workers);

	if (TransactionIdIsCurrentTransactionId(pipeline->xmin))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pipeline \"%s\" was registered or altered in this transaction",
						pipeline->name),
				 errdetail("Windows run in background workers, which only see committed pipelines."),
				 errhint("Commit first, then run it.")));

	summary->run_id = CatalogNextRunId();
	/* the detach callback reads it when an exit has freed everything else */
	leader = MemoryContextAllocZero(TopMemoryContext, sizeof(LeaderState));
	leader->on_citus = CitusActive();
	leader->shared = CreateSharedRun(pipeline, plan, summary->run_id, &leader->segment);
	on_dsm_detach(leader->segment, StopRunOnDetach, PointerGetDatum(leader));

	PG_TRY();
	{
		int			nworkers = StartWorkers(leader, pipeline, Max(wanted, 1));

		ProgressPlanned(pipeline, plan, psprintf("%d worker%s", nworkers,
												 nworkers == 1 ? "" : "s"));
		WaitForWorkers(leader, pipeline, summary);
	}
	PG_CATCH();
	{
		/* let the workers record the cancel before the error goes on */
		HOLD_INTERRUPTS();
		CancelWorkers(leader);
		while (!AllWorkersStopped(leader))
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 100L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		cancel_on_dsm_detach(leader->segment, StopRunOnDetach, PointerGetDatum(leader));
		LeaderFree(leader);
		RESUME_INTERRUPTS();
		PG_RE_THROW();
	}
	PG_END_TRY();

	cancel_on_dsm_detach(leader->segment, StopRunOnDetach, PointerGetDatum(leader));
	dsm_detach(leader->segment);
	LeaderFree(leader);
	ProgressFinished(pipeline, summary);
}

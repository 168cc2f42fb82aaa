/*-------------------------------------------------------------------------
 *
 * run.c
 *	  The SQL entry points that process windows, and the driver that
 *	  processes them in the calling session.
 *
 * Every run takes its pipeline's run lock, plans, records a row in
 * microbatch.runs and then processes the plan's windows oldest first, each
 * in a transaction of its own.  Where the windows run depends on the caller:
 *
 * - SELECT mb_run / mb_retry cannot commit, so their windows run in
 *	 background workers (launcher.c) while this session waits and relays;
 * - CALL mb_backfill with max_parallel = 1 runs them right here, committing
 *	 after each window (this is why it is a procedure);
 * - mb_run_window runs one window inside the caller's own transaction.
 *
 * In this session, interrupts are held off while bookkeeping commits, and
 * taken inside a window, where a cancel rolls the window back, is recorded
 * as that window's failure, and ends the run as cancelled.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/resowner.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "catalog.h"
#include "coalesce.h"
#include "compat.h"
#include "deps.h"
#include "horizon.h"
#include "launcher.h"
#include "run.h"
#include "runlock.h"
#include "runrecord.h"

int			microbatch_max_workers = 8;

static void RunPipeline(Pipeline *pipeline, RunKind kind, TimestampTz from, TimestampTz to,
						int max_parallel, bool in_session, RunSummary *summary);
static void RunInSession(Pipeline *pipeline, RunPlan *plan, RunSummary *summary);
static void PutSummaryRow(ReturnSetInfo *rsinfo, Pipeline *pipeline, RunSummary *summary);
static void RunAndReturn(FunctionCallInfo fcinfo, RunKind kind);
static void CheckNonAtomic(FunctionCallInfo fcinfo);
static int	ArgMaxParallel(FunctionCallInfo fcinfo, int arg, Pipeline *pipeline);

PG_FUNCTION_INFO_V1(microbatch_run);
PG_FUNCTION_INFO_V1(microbatch_retry);
PG_FUNCTION_INFO_V1(microbatch_backfill);
PG_FUNCTION_INFO_V1(microbatch_backfill_all);
PG_FUNCTION_INFO_V1(microbatch_run_window);

/*
 * RunReportFailure ends a run in which windows failed with an ERROR that
 * names the pipeline and the first failure, so that scripts and pg_cron see
 * it.  What succeeded is already committed.
 */
void
RunReportFailure(Pipeline *pipeline, RunSummary *summary)
{
	if (summary->failed == 0)
		return;
	ereport(ERROR,
			(errcode(MAKE_SQLSTATE(summary->failed_sqlstate[0], summary->failed_sqlstate[1],
								   summary->failed_sqlstate[2], summary->failed_sqlstate[3],
								   summary->failed_sqlstate[4])),
			 errmsg("pipeline \"%s\": %d of %d windows failed", pipeline->name,
					summary->failed, summary->windows),
			 errdetail("First failure: window %s: %s",
					   FormatWindow(pipeline, summary->failed_start, summary->failed_end),
					   summary->failed_message),
			 errhint("Failed windows are listed in microbatch.windows; the next mb_run or mb_retry('%s') processes them again.",
					 pipeline->name)));
}

/*
 * RunInSession processes a plan in this session, one committed transaction
 * per window (or chunk of coalesced windows) that also records it; the
 * run's set-up and end are transactions of their own.
 */
static void
RunInSession(Pipeline *pipeline, RunPlan *plan, RunSummary *summary)
{
	WindowExecutor *executor = WindowExecutorCreate(pipeline);
	List	   *raised;
	ErrorData  *error;
	bool		stop = false;
	int			i;
	int			n;

	HOLD_INTERRUPTS();
	summary->run_id = CatalogNextRunId();
	raised = RunSetup(pipeline, plan, summary->run_id, MyProcPid, CurrentMemoryContext);
	MicrobatchCommit();
	/* from here, a session that exits records the run as cancelled */
	RunSessionBegin(pipeline, summary->run_id);
	RESUME_INTERRUPTS();
	/* a cancel during the wait ends the run, recorded: commit that, then fail */
	error = RunWaitForWriters(pipeline, raised, summary->run_id, plan->nwindows);
	if (error != NULL)
	{
		HOLD_INTERRUPTS();
		MicrobatchCommit();
		RunSessionEnd();
		RESUME_INTERRUPTS();
		WindowExecutorDestroy(executor);
		ReThrowError(error);
	}

	for (i = 0; i < plan->nwindows; i += n)
	{
		WindowOutcome *outcomes;
		int			ran;
		int			k;

		n = CoalesceChunkLength(pipeline, &plan->windows[i], plan->nwindows - i);
		if (stop)
		{
			summary->skipped += n;
			continue;
		}

		/* a cancel that arrived meanwhile is taken in here, and recorded */
		outcomes = palloc(sizeof(WindowOutcome) * n);
		ran = CoalesceExecute(executor, summary->run_id, &plan->windows[i], n, outcomes);
		HOLD_INTERRUPTS();
		MicrobatchCommit();
		for (k = 0; k < ran; k++)
		{
			SummaryCount(summary, &plan->windows[i + k], &outcomes[k]);
			ProgressWindow(pipeline, summary, &plan->windows[i + k], &outcomes[k]);
			if (!outcomes[k].succeeded && strcmp(outcomes[k].sqlstate, "57014") == 0)
				summary->cancelled = stop = true;
			else if (!outcomes[k].succeeded && !pipeline->continue_on_error)
				stop = true;
		}
		summary->skipped += n - ran;
		pfree(outcomes);
		RESUME_INTERRUPTS();
	}

	HOLD_INTERRUPTS();
	RunFinish(summary, summary->run_id);
	MicrobatchCommit();
	RunSessionEnd();
	RESUME_INTERRUPTS();
	WindowExecutorDestroy(executor);
	ProgressFinished(pipeline, summary);

	if (summary->cancelled)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("run of pipeline \"%s\" cancelled", pipeline->name),
				 errdetail("%d windows committed before the cancel; the window in flight was rolled back.",
						   summary->succeeded)));
}

/*
 * RunPipeline plans and processes one pipeline under its run lock, in this
 * session or in background workers.
 */
static void
RunPipeline(Pipeline *pipeline, RunKind kind, TimestampTz from, TimestampTz to,
			int max_parallel, bool in_session, RunSummary *summary)
{
	memset(summary, 0, sizeof(RunSummary));
	summary->started_at = GetCurrentTimestamp();

	RunLockAcquire(pipeline, true);
	PG_TRY();
	{
		RunPlan    *plan = PlanRun(pipeline, kind, from, to);

		/* windows whose upstreams are behind wait; running totals go in order */
		DepsHoldWaiting(pipeline, plan, true);
		if (DepsReadsOwnTarget(pipeline))
			max_parallel = 1;
		summary->windows = plan->nwindows;
		summary->waiting = plan->nwaiting;
		if (in_session)
		{
			ProgressPlanned(pipeline, plan, "in this session");
			RunInSession(pipeline, plan, summary);
		}
		else if (plan->nwindows == 0)
			ProgressPlanned(pipeline, plan, "");
		else
			RunInWorkers(pipeline, plan, max_parallel, summary);
	}
	PG_FINALLY();
	{
		RunLockRelease(pipeline);
	}
	PG_END_TRY();
}

/* PutSummaryRow adds a run's result row to an mb_run / mb_retry result. */
static void
PutSummaryRow(ReturnSetInfo *rsinfo, Pipeline *pipeline, RunSummary *summary)
{
	Datum		values[9];
	bool		nulls[9] = {false};
	Interval   *elapsed = palloc0(sizeof(Interval));

	elapsed->time = GetCurrentTimestamp() - summary->started_at;
	values[0] = CStringGetTextDatum(pipeline->name);
	values[1] = Int64GetDatum(summary->run_id);
	nulls[1] = summary->run_id == 0;
	values[2] = Int32GetDatum(summary->windows);
	values[3] = Int32GetDatum(summary->succeeded);
	values[4] = Int32GetDatum(summary->failed);
	values[5] = Int32GetDatum(summary->skipped);
	values[6] = Int64GetDatum(summary->rows_deleted);
	values[7] = Int64GetDatum(summary->rows_inserted);
	values[8] = IntervalPGetDatum(elapsed);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* ArgMaxParallel returns the max_parallel argument, or the pipeline's. */
static int
ArgMaxParallel(FunctionCallInfo fcinfo, int arg, Pipeline *pipeline)
{
	int			max_parallel;

	if (PG_NARGS() <= arg || PG_ARGISNULL(arg))
		return pipeline->max_parallel;
	max_parallel = PG_GETARG_INT32(arg);
	if (max_parallel < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_parallel must be at least 1, got %d", max_parallel)));
	return max_parallel;
}

/*
 * RunGuarded runs one pipeline for mb_run() of all pipelines, inside a
 * subtransaction, so that a pipeline that cannot run (its target dropped,
 * its owner gone, its query broken) is reported and the others still run.
 * A cancel goes on.  Returns the error, or NULL when the pipeline ran.
 */
static ErrorData *
RunGuarded(Pipeline *pipeline, RunKind kind, int max_parallel, RunSummary *summary)
{
	MemoryContext caller_context = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	ErrorData  *error = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller_context);
	PG_TRY();
	{
		PipelineCheckRunnable(pipeline);
		RunPipeline(pipeline, kind, 0, 0, max_parallel, false, summary);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller_context);
		error = CopyErrorData();
		if (error->sqlerrcode == ERRCODE_QUERY_CANCELED)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(caller_context);
	CurrentResourceOwner = caller_owner;
	return error;
}

/*
 * RunAllPipeline runs one pipeline for mb_run() of all pipelines: a busy
 * one is skipped with a notice, a broken one is reported with a warning
 * and added to *broken.  Returns whether it ran.
 */
static bool
RunAllPipeline(Pipeline *pipeline, RunKind kind, int max_parallel, RunSummary *summary,
			   StringInfo broken, int *nbroken, int *broken_code)
{
	ErrorData  *error = RunGuarded(pipeline, kind, max_parallel, summary);

	if (error != NULL && error->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
	{
		ereport(NOTICE,
				(errmsg("skipping pipeline \"%s\": another run of it is in progress",
						pipeline->name)));
		return false;
	}
	if (error != NULL)
	{
		ereport(WARNING,
				(errcode(error->sqlerrcode),
				 errmsg("pipeline \"%s\" could not run: %s", pipeline->name, error->message),
				 error->hint ? errhint("%s", error->hint) : 0));
		appendStringInfo(broken, "%s\"%s\"", *nbroken > 0 ? ", " : "", pipeline->name);
		if ((*nbroken)++ == 0)
			*broken_code = error->sqlerrcode;
		FreeErrorData(error);
		return false;
	}
	return true;
}

/*
 * RunAndReturn is mb_run and mb_retry: run one pipeline, or for mb_run with
 * no name every enabled one the caller may run, upstream first, and return
 * a row each; the downstreams of a pipeline that failed are skipped.
 * Running all of them goes on past busy and broken pipelines; the error
 * that ends it names them only after every other pipeline has run.
 */
static void
RunAndReturn(FunctionCallInfo fcinfo, RunKind kind)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		all = PG_ARGISNULL(0);
	List	   *names;
	ListCell   *lc;
	Pipeline   *failed_pipeline = NULL;
	RunSummary	failed_summary;
	StringInfoData broken;
	int			nbroken = 0;
	int			broken_code = 0;
	int			nran = 0;
	List	   *failed_names = NIL;	/* failed or skipped: their downstreams skip */

	PipelineCheckWritable();
	if (!all)
		names = list_make1(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	else if (kind == RUN_KIND_RUN)
		names = DepsOrder(CatalogEnabledPipelineNames());
	else
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline name must not be null")));

	initStringInfo(&broken);
	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, names)
	{
		Pipeline   *pipeline;
		RunSummary	summary;

		if (all)
		{
			/* running all pipelines: only the caller's own */
			const char *upstream;

			pipeline = CatalogReadPipeline(lfirst(lc));
			if (pipeline == NULL || !has_privs_of_role(GetUserId(), pipeline->owner))
				continue;
			upstream = DepsFailedUpstream(pipeline, failed_names);
			if (upstream != NULL)
			{
				ereport(NOTICE,
						(errmsg("skipping pipeline \"%s\": its upstream pipeline \"%s\" failed in this run",
								pipeline->name, upstream)));
				failed_names = lappend(failed_names, pipeline->name);
				continue;
			}
			if (!RunAllPipeline(pipeline, kind, ArgMaxParallel(fcinfo, 1, pipeline), &summary,
								&broken, &nbroken, &broken_code))
			{
				failed_names = lappend(failed_names, pipeline->name);
				continue;
			}
			if (summary.failed > 0)
				failed_names = lappend(failed_names, pipeline->name);
		}
		else
		{
			pipeline = PipelineOpen(lfirst(lc), PIPELINE_RUN);
			RunPipeline(pipeline, kind, 0, 0, ArgMaxParallel(fcinfo, 1, pipeline), false,
						&summary);
		}

		PutSummaryRow(rsinfo, pipeline, &summary);
		nran++;
		if (summary.failed > 0 && failed_pipeline == NULL)
		{
			failed_pipeline = pipeline;
			failed_summary = summary;
		}
	}
	if (nbroken > 0)
		ereport(ERROR,
				(errcode(broken_code),
				 errmsg("%d pipeline%s could not run: %s", nbroken, nbroken == 1 ? "" : "s",
						broken.data),
				 nran == 0 ?
				 errdetail("No other pipeline ran; the warnings above say what is wrong with these.") :
				 failed_pipeline ?
				 errdetail("%d other pipeline%s ran, but %d window%s of pipeline \"%s\" failed; the warnings above say what is wrong with the pipelines that could not run.",
						   nran, nran == 1 ? "" : "s",
						   failed_summary.failed, failed_summary.failed == 1 ? "" : "s",
						   failed_pipeline->name) :
				 errdetail("%d other pipeline%s ran; the warnings above say what is wrong with these.",
						   nran, nran == 1 ? "" : "s")));
	if (failed_pipeline)
		RunReportFailure(failed_pipeline, &failed_summary);
}

/* mb_run(name, max_parallel) processes what the pipeline needs. */
Datum
microbatch_run(PG_FUNCTION_ARGS)
{
	RunAndReturn(fcinfo, RUN_KIND_RUN);
	return (Datum) 0;
}

/* mb_retry(name, max_parallel) processes the failed windows only. */
Datum
microbatch_retry(PG_FUNCTION_ARGS)
{
	RunAndReturn(fcinfo, RUN_KIND_RETRY);
	return (Datum) 0;
}

/*
 * CheckNonAtomic refuses a CALL made inside a transaction block, where the
 * procedure could not commit after every window.
 */
static void
CheckNonAtomic(FunctionCallInfo fcinfo)
{
	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		((CallContext *) fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("mb_backfill cannot run inside a transaction block"),
				 errdetail("With max_parallel = 1 it runs in this session and commits after every window."),
				 errhint("CALL it on its own, pass max_parallel > 1 to run it in background workers, or use mb_run_window inside your transaction.")));
}

/*
 * BackfilledExtent widens [*from, *to) to the windows of the pipeline that
 * a backfill of it replaces: every window overlapping the range, from
 * begin_at to end_at.  An empty result has *from >= *to.
 */
static void
BackfilledExtent(Pipeline *pipeline, TimestampTz *from, TimestampTz *to)
{
	TimestampTz end = pipeline->has_end_at ? Min(*to, pipeline->end_at) : *to;
	TimestampTz last;

	*from = GridFloor(&pipeline->grid, Max(*from, pipeline->begin_at));
	if (*from >= end)
	{
		*to = *from;
		return;
	}
	last = GridFloor(&pipeline->grid, end);
	*to = last < end ? GridNext(&pipeline->grid, last) : end;
	if (pipeline->has_end_at)
		*to = Min(*to, pipeline->end_at);
}

/* a pipeline of a cascading backfill, with the range its upstreams replaced */
typedef struct CascadeStep
{
	Pipeline   *pipeline;
	TimestampTz from;
	TimestampTz to;
	int			max_parallel;
	bool		ran;			/* backfilled: its downstreams follow it */
} CascadeStep;

/*
 * PlanCascade lists the backfills of a cascade: the named pipeline's, then
 * every enabled pipeline downstream of it that the caller may run,
 * upstream first, each over the extent of the windows its upstreams in
 * the cascade will replace.  max_parallel, when given, applies to all.
 */
static List *
PlanCascade(Pipeline *root, TimestampTz from, TimestampTz to, int max_parallel_arg)
{
	CascadeStep *step = palloc0(sizeof(CascadeStep));
	List	   *steps;
	ListCell   *lc;

	step->pipeline = root;
	step->from = from;
	step->to = to;
	step->max_parallel = max_parallel_arg > 0 ? max_parallel_arg : root->max_parallel;
	steps = list_make1(step);
	foreach(lc, DepsDownstreams(root->name))
	{
		Pipeline   *pipeline = CatalogReadPipeline(lfirst(lc));

		if (pipeline == NULL || !has_privs_of_role(GetUserId(), pipeline->owner))
			continue;
		step = palloc0(sizeof(CascadeStep));
		step->pipeline = pipeline;
		step->max_parallel = max_parallel_arg > 0 ? max_parallel_arg : pipeline->max_parallel;
		steps = lappend(steps, step);
	}
	return steps;
}

/*
 * CascadeRange sets the range a downstream of a cascade backfills: the
 * union of the extents its upstreams replaced.  False when none of them
 * ran (skipped, or outside the range): then it has nothing to follow.
 */
static bool
CascadeRange(List *steps, CascadeStep *step)
{
	List	   *upstreams = DepsUpstreamNames(step->pipeline->name);
	ListCell   *lc;
	bool		found = false;

	foreach(lc, steps)
	{
		CascadeStep *up = lfirst(lc);
		ListCell   *name;
		TimestampTz from = up->from;
		TimestampTz to = up->to;

		if (up == step)
			break;
		if (!up->ran)
			continue;
		foreach(name, upstreams)
			if (strcmp(lfirst(name), up->pipeline->name) == 0)
				break;
		if (name == NULL)
			continue;
		BackfilledExtent(up->pipeline, &from, &to);
		if (from >= to)
			continue;
		step->from = found ? Min(step->from, from) : from;
		step->to = found ? Max(step->to, to) : to;
		found = true;
	}
	return found;
}

/*
 * CALL mb_backfill(name, start_time, end_time, max_parallel, cascade)
 * reprocesses every window overlapping [start_time, end_time), whatever
 * its state; a window whose upstream windows have not succeeded waits.
 * With cascade, every pipeline downstream of it is then backfilled over
 * the windows that overlap what its upstreams replaced, upstream first.
 * Before 0.3 the procedure had four arguments.
 */
Datum
microbatch_backfill(PG_FUNCTION_ARGS)
{
	Pipeline   *pipeline;
	Pipeline   *failed_pipeline = NULL;
	RunSummary	failed_summary;
	List	   *steps;
	ListCell   *lc;
	bool		cascade = PG_NARGS() > 4 && !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
	bool		in_session = false;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("start_time and end_time of a backfill must not be null")));
	GridCheckRange(PG_GETARG_TIMESTAMPTZ(1), PG_GETARG_TIMESTAMPTZ(2), "start_time", "end_time");
	pipeline = PipelineOpen(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
							PIPELINE_RUN);
	PipelineCheckAllowReset(pipeline, "mb_backfill");
	if (cascade)
		steps = PlanCascade(pipeline, PG_GETARG_TIMESTAMPTZ(1), PG_GETARG_TIMESTAMPTZ(2),
							PG_NARGS() > 3 && !PG_ARGISNULL(3) ?
							ArgMaxParallel(fcinfo, 3, pipeline) : 0);
	else
	{
		CascadeStep *step = palloc0(sizeof(CascadeStep));

		step->pipeline = pipeline;
		step->from = PG_GETARG_TIMESTAMPTZ(1);
		step->to = PG_GETARG_TIMESTAMPTZ(2);
		step->max_parallel = ArgMaxParallel(fcinfo, 3, pipeline);
		steps = list_make1(step);
	}

	/* in this session it commits per window; in workers it need not */
	foreach(lc, steps)
		if (((CascadeStep *) lfirst(lc))->max_parallel == 1)
			in_session = true;
	if (in_session)
		CheckNonAtomic(fcinfo);
	if (SPI_connect_ext(in_session ? SPI_OPT_NONATOMIC : 0) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	foreach(lc, steps)
	{
		CascadeStep *step = lfirst(lc);
		RunSummary	summary;

		if (step->pipeline != pipeline)
		{
			if (!CascadeRange(steps, step))
				continue;
			PipelineCheckRunnable(step->pipeline);
			if (!step->pipeline->allow_reset)
			{
				ereport(NOTICE,
						(errmsg("skipping pipeline \"%s\": it does not allow mb_backfill",
								step->pipeline->name),
						 errhint("Allow it with mb_alter('%s', allow_reset => true).",
								 step->pipeline->name)));
				continue;
			}
		}
		RunPipeline(step->pipeline, RUN_KIND_BACKFILL, step->from, step->to,
					step->max_parallel, step->max_parallel == 1, &summary);
		step->ran = true;
		if (summary.failed > 0 && failed_pipeline == NULL)
		{
			failed_pipeline = step->pipeline;
			failed_summary = summary;
		}
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	if (failed_pipeline)
		RunReportFailure(failed_pipeline, &failed_summary);
	PG_RETURN_VOID();
}

/*
 * CALL mb_backfill(start_time, end_time) backfills the range in every
 * enabled pipeline the caller may run, one after the other, upstream
 * first: a downstream's windows see its upstreams' new windows.
 */
Datum
microbatch_backfill_all(PG_FUNCTION_ARGS)
{
	List	   *names;
	ListCell   *lc;
	Pipeline   *failed_pipeline = NULL;
	RunSummary	failed_summary;

	PipelineCheckWritable();
	CheckNonAtomic(fcinfo);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("start_time and end_time of a backfill must not be null")));
	GridCheckRange(PG_GETARG_TIMESTAMPTZ(0), PG_GETARG_TIMESTAMPTZ(1), "start_time", "end_time");

	if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	names = DepsOrder(CatalogEnabledPipelineNames());
	foreach(lc, names)
	{
		Pipeline   *pipeline = CatalogReadPipeline(lfirst(lc));
		RunSummary	summary;

		if (pipeline == NULL || !has_privs_of_role(GetUserId(), pipeline->owner))
			continue;
		PipelineCheckRunnable(pipeline);
		if (!pipeline->allow_reset)
		{
			ereport(NOTICE,
					(errmsg("skipping pipeline \"%s\": it does not allow mb_backfill",
							pipeline->name),
					 errhint("Allow it with mb_alter('%s', allow_reset => true).",
							 pipeline->name)));
			continue;
		}
		RunPipeline(pipeline, RUN_KIND_BACKFILL, PG_GETARG_TIMESTAMPTZ(0),
					PG_GETARG_TIMESTAMPTZ(1), pipeline->max_parallel,
					pipeline->max_parallel == 1, &summary);
		if (summary.failed > 0 && failed_pipeline == NULL)
		{
			failed_pipeline = pipeline;
			failed_summary = summary;
		}
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	if (failed_pipeline)
		RunReportFailure(failed_pipeline, &failed_summary);
	PG_RETURN_VOID();
}

/*
 * mb_run_window(name, window_start) replaces one window inside the caller's
 * transaction: no commit, no workers.  Its state row is written in the same
 * transaction, so a rollback undoes both.
 */
Datum
microbatch_run_window(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Pipeline   *pipeline;
	TimestampTz start;
	TimestampTz full_end;
	TimestampTz limit;
	WindowExecutor *executor;
	WindowOutcome outcome;
	PlannedWindow window;
	bool		leave_stale;
	TimestampTz began = GetCurrentTimestamp();
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("window_start must not be null")));
	pipeline = PipelineOpen(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
							PIPELINE_RUN);
	start = PG_GETARG_TIMESTAMPTZ(1);
	GridCheckFinite(start, "window_start");
	if (GridFloor(&pipeline->grid, start) != start)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is not the start of a window of pipeline \"%s\"",
						timestamptz_to_str(start), pipeline->name),
				 errhint("The window that contains it starts at %s.",
						 timestamptz_to_str(GridFloor(&pipeline->grid, start)))));
	limit = GetCurrentTransactionStartTimestamp();
	if (pipeline->has_end_at)
		limit = Min(limit, pipeline->end_at);
	if (start < pipeline->begin_at || start >= limit)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window %s of pipeline \"%s\" is outside [begin_at, min(end_at, now()))",
						timestamptz_to_str(start), pipeline->name)));

	RunLockAcquire(pipeline, false);
	full_end = GridNext(&pipeline->grid, start);
	window.start = start;
	window.end = Min(full_end, limit);
	window.partial = limit < full_end;
	leave_stale = HorizonLockForWindow(pipeline, &window);
	memset(&outcome, 0, sizeof(outcome));
	executor = WindowExecutorCreate(pipeline);
	PG_TRY();
	{
		long		secs;
		int			usecs;

		ExecuteWindow(executor, start, window.end, &outcome);
		outcome.succeeded = true;
		outcome.partial = window.partial;
		TimestampDifference(began, GetCurrentTimestamp(), &secs, &usecs);
		outcome.elapsed_ms = secs * 1000.0 + usecs / 1000.0;
		CatalogRecordWindow(pipeline->id, 0, start, window.end, &outcome);
		if (leave_stale)
			CatalogInsertStaleMarks(1, &pipeline->id, &start);
	}
	PG_FINALLY();
	{
		WindowExecutorDestroy(executor);
	}
	PG_END_TRY();

	InitMaterializedSRF(fcinfo, 0);
	values[0] = Int64GetDatum(outcome.rows_deleted);
	values[1] = Int64GetDatum(outcome.rows_inserted);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

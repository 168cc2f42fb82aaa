/*-------------------------------------------------------------------------
 *
 * executor.c
 *	  Replacing one window of a pipeline's target.
 *
 * A window is replaced by two statements and a state row, all in one
 * transaction, so readers see the old window or the new one:
 *
 *	  DELETE FROM target WHERE event_time >= $1 AND event_time < $2;
 *	  WITH inserted AS (INSERT INTO target AS mb_target (columns) <query>
 *						RETURNING mb_target.event_time)
 *	  SELECT count(*), count(*) FILTER (WHERE <outside [$1, $2)>) FROM inserted;
 *	  UPDATE microbatch.windows ...;
 *
 * The INSERT counts the rows it wrote whose event time falls outside the
 * window; if there is one, the window fails, since another window would
 * delete that row or write it twice.  The statements run as the pipeline's
 * owner, with its search_path and with TimeZone set to its time zone, and
 * are prepared once per run.  They run in the pipeline's sandbox (sandbox.c):
 * whatever the query changes in the session is undone when the window
 * ends.  The DELETE compares the event-time column with
 * bounds of its own type (local time for timestamp, local dates for date),
 * so an index on that column serves it.
 *
 * On a Citus cluster the window's settings are adapted so that it behaves
 * there as on one node (citus.c).
 *
 * Then the pipeline's data checks (checks.c) run on the rows just written,
 * in the same transaction and sandbox; one that fails fails the window.
 *
 * Before the INSERT the window's stale marks are consumed, and after it
 * the pipelines that track this target are marked (track.c).
 *
 * ExecuteWindowGuarded wraps a window in a subtransaction: a failure rolls
 * back the window's statements and leaves the transaction usable, so that
 * the failure itself can be recorded and committed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "checks.h"
#include "citus.h"
#include "compat.h"
#include "executor.h"
#include "progress.h"
#include "sandbox.h"
#include "track.h"

static Datum BoundAsEventType(WindowExecutor *executor, TimestampTz bound);
static void PrepareStatements(WindowExecutor *executor);

/*
 * WindowExecutorCreate writes the statements that replace a window of the
 * pipeline.  It re-reads the query's columns, so a target altered since
 * registration is caught here, before any window runs.
 */
WindowExecutor *
WindowExecutorCreate(Pipeline *pipeline)
{
	WindowExecutor *executor = palloc0(sizeof(WindowExecutor));
	char	   *target;
	const char *event_time = quote_identifier(pipeline->event_time);
	List	   *columns = PipelineQueryColumns(pipeline);
	StringInfoData sql;
	ListCell   *lc;

	executor->pipeline = pipeline;
	executor->event_time_type = PipelineEventTimeType(pipeline);
	target = quote_qualified_identifier(get_namespace_name(get_rel_namespace(pipeline->target)),
										get_rel_name(pipeline->target));

	initStringInfo(&sql);
	appendStringInfo(&sql, "DELETE FROM %s WHERE %s >= $1 AND %s < $2",
					 target, event_time, event_time);
	executor->delete_sql = sql.data;

	initStringInfo(&sql);
	appendStringInfo(&sql, "WITH mb_inserted AS (INSERT INTO %s AS mb_target (", target);
	foreach(lc, columns)
		appendStringInfo(&sql, "%s%s", lc == list_head(columns) ? "" : ", ",
						 quote_identifier(strVal(lfirst(lc))));
	/* newlines keep a trailing "--" comment in the query from eating the rest */
	appendStringInfo(&sql, ")\n%s\nRETURNING mb_target.%s) "
					 "SELECT pg_catalog.count(*), "
					 "pg_catalog.count(*) FILTER (WHERE NOT coalesce(%s >= $1 AND %s < $2, false)) "
					 "FROM mb_inserted",
					 pipeline->query, event_time, event_time, event_time);
	executor->insert_sql = sql.data;

	executor->checks = ChecksLoad(pipeline);
	executor->on_citus = CitusActive();

	executor->window_context = AllocSetContextCreate(CurrentMemoryContext,
													 "microbatch window",
													 ALLOCSET_DEFAULT_SIZES);
	return executor;
}

/* WindowExecutorDestroy frees the kept plans and the window context. */
void
WindowExecutorDestroy(WindowExecutor *executor)
{
	if (executor->delete_plan)
		SPI_freeplan(executor->delete_plan);
	if (executor->insert_plan)
		SPI_freeplan(executor->insert_plan);
	executor->delete_plan = executor->insert_plan = NULL;
	ChecksFree(executor->checks);
	MemoryContextDelete(executor->window_context);
}

/*
 * PrepareStatements prepares the DELETE and the INSERT and keeps them for
 * the rest of the run.  It runs inside the owner's settings, so names in the
 * query resolve as they will when it executes.
 */
static void
PrepareStatements(WindowExecutor *executor)
{
	Oid			delete_types[2] = {executor->event_time_type, executor->event_time_type};
	Oid			insert_types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	SPIPlanPtr	plan;

	plan = SPI_prepare(executor->delete_sql, 2, delete_types);
	if (plan == NULL || SPI_keepplan(plan) != 0)
		elog(ERROR, "could not prepare \"%s\": %s", executor->delete_sql,
			 SPI_result_code_string(SPI_result));
	executor->delete_plan = plan;

	plan = SPI_prepare(executor->insert_sql, 2, insert_types);
	if (plan == NULL || SPI_keepplan(plan) != 0)
		elog(ERROR, "could not prepare the insert of pipeline \"%s\": %s",
			 executor->pipeline->name, SPI_result_code_string(SPI_result));
	executor->insert_plan = plan;
}

/*
 * BoundAsEventType converts a window bound to the event-time column's type:
 * local time for timestamp, and for date the first local date at or after
 * the bound, so that a window cut short mid-day still covers its day.
 * TimeZone is the pipeline's zone when this runs.
 */
static Datum
BoundAsEventType(WindowExecutor *executor, TimestampTz bound)
{
	Datum		d = TimestampTzGetDatum(bound);

	switch (executor->event_time_type)
	{
		case TIMESTAMPOID:
			return DirectFunctionCall1(timestamptz_timestamp, d);
		case DATEOID:
			{
				DateADT		date = DatumGetDateADT(DirectFunctionCall1(timestamptz_date, d));

				if (date2timestamptz_opt_overflow(date, NULL) < bound)
					date++;
				return DateADTGetDatum(date);
			}
		default:
			return d;
	}
}

/*
 * ExecuteWindow replaces the window [start, end) in the current transaction:
 * DELETE, then INSERT, as the owner.  Errors propagate; nothing is recorded.
 */
void
ExecuteWindow(WindowExecutor *executor, TimestampTz start, TimestampTz end,
			  WindowOutcome *outcome)
{
	Pipeline   *pipeline = executor->pipeline;
	Sandbox		sandbox;
	Datum		bounds[2];
	Datum		event_bounds[2];
	bool		isnull;
	int64		outside;
	int			rc;

	/* a cancel that arrived while bookkeeping held it off fails this window */
	CHECK_FOR_INTERRUPTS();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SandboxEnterPipeline(&sandbox, pipeline->owner, pipeline->search_path, pipeline->time_zone);
	if (executor->on_citus)
		CitusEnterWindow(pipeline->time_zone);

	if (executor->delete_plan == NULL)
		PrepareStatements(executor);

	bounds[0] = TimestampTzGetDatum(start);
	bounds[1] = TimestampTzGetDatum(end);
	event_bounds[0] = BoundAsEventType(executor, start);
	event_bounds[1] = BoundAsEventType(executor, end);

	/* its own writes mark nothing of itself (track.c) */
	TrackReplaceBegin(pipeline);
	rc = SPI_execute_plan(executor->delete_plan, event_bounds, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "DELETE of window failed: %s", SPI_result_code_string(rc));
	outcome->rows_deleted = SPI_processed;

	/* before the query takes its snapshot: why nothing is lost, in track.c */
	TrackConsume(pipeline, start, end);
	rc = SPI_execute_plan(executor->insert_plan, bounds, NULL, false, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "INSERT of window failed: %s", SPI_result_code_string(rc));
	outcome->rows_inserted = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 1, &isnull));
	outside = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 2, &isnull));
	if (outside > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("query of pipeline \"%s\" returned " INT64_FORMAT " of " INT64_FORMAT " rows outside window %s",
						pipeline->name, outside, outcome->rows_inserted,
						FormatWindow(pipeline, start, end)),
				 errdetail("Column \"%s\" of every row must fall inside the window, or another window would delete or duplicate the row.",
						   pipeline->event_time),
				 errhint("Filter the query's source on $1 and $2, and derive \"%s\" from the source's event time.",
						 pipeline->event_time)));
	ChecksRun(executor, start, end, bounds, event_bounds, outcome->rows_inserted);
	TrackReplaceEnd(pipeline, start, end);

	SandboxLeave(&sandbox);
	if (executor->on_citus)
		CitusLeaveWindow();
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * ExecuteWindowGuarded replaces a window inside a subtransaction of the
 * current transaction and records its outcome (and counts it in its run)
 * in that transaction, success or failure.  The caller commits.
 */
bool
ExecuteWindowGuarded(WindowExecutor *executor, int64 run_id, TimestampTz start,
					 TimestampTz end, bool partial, WindowOutcome *outcome)
{
	MemoryContext caller_context = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	TimestampTz began = GetCurrentTimestamp();
	long		secs;
	int			usecs;

	memset(outcome, 0, sizeof(WindowOutcome));
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(executor->window_context);
	PG_TRY();
	{
		ExecuteWindow(executor, start, end, outcome);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = caller_owner;
		outcome->succeeded = true;
		outcome->partial = partial;
	}
	PG_CATCH();
	{
		ErrorData  *error;

		MemoryContextSwitchTo(caller_context);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = caller_owner;

		outcome->succeeded = false;
		outcome->rows_deleted = outcome->rows_inserted = 0;
		strlcpy(outcome->sqlstate, unpack_sql_state(error->sqlerrcode), sizeof(outcome->sqlstate));
		strlcpy(outcome->message, error->message ? error->message : "unknown error",
				sizeof(outcome->message));
		FreeErrorData(error);
	}
	PG_END_TRY();
	MemoryContextReset(executor->window_context);

	TimestampDifference(began, GetCurrentTimestamp(), &secs, &usecs);
	outcome->elapsed_ms = secs * 1000.0 + usecs / 1000.0;

	CatalogRecordWindow(executor->pipeline->id, run_id, start, end, outcome);
	if (run_id > 0)
		CatalogCountRunWindow(run_id, outcome);
	return outcome->succeeded;
}

/*
 * MarkWindowRunning records that the window is about to be processed.  The
 * caller commits this on its own; the commit need not wait for the disk,
 * since losing the mark in a crash loses nothing: the window has not run.
 */
void
MarkWindowRunning(WindowExecutor *executor, int64 run_id, TimestampTz start, TimestampTz end)
{
	(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	CatalogMarkWindowRunning(executor->pipeline->id, run_id, start, end);
}

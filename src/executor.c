/*-------------------------------------------------------------------------
 *
 * executor.c
 *	  Replacing one window of a pipeline's target.
 *
 * A window is replaced by two statements and a state row, all in one
 * transaction, so readers see the old window or the new one:
 *
 *	  DELETE FROM target WHERE event_time >= $1 AND event_time < $2;
 *	  INSERT INTO target (columns)
 *	  SELECT ..., CASE WHEN microbatch.window_guard(mb_q.event_time, $1, $2)
 *					THEN mb_q.event_time END, ... FROM (<query>) mb_q;
 *	  INSERT INTO microbatch.windows ... ON CONFLICT DO UPDATE ...;
 *
 * The guard (guard.c) raises on the first row written whose event time
 * falls outside the window, since another window would delete that row or
 * write it twice; it keeps no row.  Against a catalog older than 0.3, which
 * lacks the guard, the INSERT counts such rows instead, through a CTE
 * (WITH ... RETURNING).  ExecuteRange replaces several consecutive windows
 * with one statement pair (coalesce.c), the guard then counting each
 * window's rows.  The statements run as the pipeline's
 * owner, with its search_path and with TimeZone set to its time zone, and
 * are prepared once per run.  A single window's statements get generic
 * plans at once: a window is a small slice of its sources, and its plan is
 * the same whatever the bounds, so planning it again for every window (as
 * the plan cache would, its generic estimate for "t >= $1 AND t < $2" being
 * a larger slice than a real window) only costs time.  Where a partitioned
 * table is read or replaced, planning is what prunes its partitions, so
 * those statements stay with the plan cache's choice; so do a chunk's
 * statements (coalesce.c), run rarely and over ranges wide enough for the
 * plan to depend on them.  They run in the pipeline's sandbox (sandbox.c):
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
 * ExecuteRangeGuarded wraps windows in a subtransaction: a failure rolls
 * back the windows' statements and leaves the transaction usable, so that
 * the failure itself can be recorded and committed (coalesce.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
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
#include "deps.h"
#include "executor.h"
#include "guard.h"
#include "progress.h"
#include "revalidate.h"
#include "sandbox.h"
#include "track.h"

static Datum BoundAsEventType(WindowExecutor *executor, TimestampTz bound);
static void PrepareStatements(WindowExecutor *executor);
static char *GuardedEventTime(WindowExecutor *executor, const char *event_time);
static int	ExecuteInsert(SPIPlanPtr plan, Datum *bounds);
static void SetOutcomeError(WindowOutcome *outcome, ErrorData *error);
static SPIPlanPtr PrepareKept(const char *sql, Oid *types, int options, const char *what);

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
	TargetShapeRead(&executor->shape, pipeline);
	target = quote_qualified_identifier(executor->shape.schema, executor->shape.table);

	initStringInfo(&sql);
	appendStringInfo(&sql, "DELETE FROM %s WHERE %s >= $1 AND %s < $2",
					 target, event_time, event_time);
	executor->delete_sql = sql.data;
	executor->delete_count_sql = psprintf("%s AND microbatch.window_deleted(%s::pg_catalog.timestamptz)",
										  sql.data, event_time);
	/*
	 * On a Citus cluster the query runs on its nodes: the guard there is
	 * window_check, the same test declared immutable, so that Citus pushes
	 * the INSERT ... SELECT down and the rows are checked where they are; a
	 * chunk's per-window counts (kept in this backend) would miss them, so
	 * windows are not coalesced; and Citus needs custom plans, so the plan
	 * cache keeps its choice (citus.c forces custom plans).
	 */
	executor->on_citus = CitusActive();
	executor->delete_generic = !executor->on_citus &&
		get_rel_relkind(pipeline->target) != RELKIND_PARTITIONED_TABLE;

	executor->guarded = CatalogHasGuard();
	if (!executor->guarded || executor->on_citus)
		pipeline->coalesce_windows = false;
	/* registration refuses it; a view the query reads may have changed since */
	if (pipeline->coalesce_windows && DepsReadsOwnTarget(pipeline))
		pipeline->coalesce_windows = false;
	initStringInfo(&sql);
	appendStringInfo(&sql, "%sINSERT INTO %s AS mb_target (",
					 executor->guarded ? "" : "WITH mb_inserted AS (", target);
	foreach(lc, columns)
		appendStringInfo(&sql, "%s%s", lc == list_head(columns) ? "" : ", ",
						 quote_identifier(strVal(lfirst(lc))));
	/* newlines keep a trailing "--" comment in the query from eating the rest */
	if (executor->guarded && executor->on_citus)
		appendStringInfo(&sql, ")\nSELECT mb_q.* FROM (\n%s\n) mb_q WHERE microbatch.window_check(%s, $1, $2)",
						 pipeline->query, GuardedEventTime(executor, event_time));
	else if (executor->guarded)
	{
		/*
		 * The guard sits in the select list, not in a WHERE clause: a qual
		 * would be pushed into the query (into its HAVING, say) and change
		 * its plan; a select-list expression is computed on the rows
		 * written and leaves the query's plan the one it has alone.
		 */
		appendStringInfoString(&sql, ")\nSELECT ");
		foreach(lc, columns)
		{
			const char *column = quote_identifier(strVal(lfirst(lc)));

			if (lc != list_head(columns))
				appendStringInfoString(&sql, ", ");
			if (strcmp(strVal(lfirst(lc)), pipeline->event_time) == 0)
				appendStringInfo(&sql, "CASE WHEN microbatch.window_guard(%s, $1, $2) THEN mb_q.%s END",
								 GuardedEventTime(executor, event_time), column);
			else
				appendStringInfo(&sql, "mb_q.%s", column);
		}
		appendStringInfo(&sql, " FROM (\n%s\n) mb_q", pipeline->query);
	}
	else
		appendStringInfo(&sql, ")\n%s\nRETURNING mb_target.%s) "
						 "SELECT pg_catalog.count(*), "
						 "pg_catalog.count(*) FILTER (WHERE NOT coalesce(%s >= $1 AND %s < $2, false)) "
						 "FROM mb_inserted",
						 pipeline->query, event_time, event_time, event_time);
	executor->insert_sql = sql.data;
	/* PipelineQueryColumns analysed the query and noted what it reads */
	executor->insert_generic = executor->delete_generic && !pipeline->reads_partitioned;

	executor->checks = ChecksLoad(pipeline);
	pipeline->marks_left = TrackMarksLeft(pipeline);

	executor->counted_at = GetCurrentTimestamp();
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
	if (executor->delete_count_plan)
		SPI_freeplan(executor->delete_count_plan);
	if (executor->insert_plan)
		SPI_freeplan(executor->insert_plan);
	if (executor->chunk_insert_plan)
		SPI_freeplan(executor->chunk_insert_plan);
	executor->delete_plan = executor->delete_count_plan = NULL;
	executor->insert_plan = executor->chunk_insert_plan = NULL;
	ChecksFree(executor->checks);
	MemoryContextDelete(executor->window_context);
}

/*
 * GuardedEventTime is the expression the guard checks: the query's event
 * time as the target's column will hold it, as a timestamptz.
 */
static char *
GuardedEventTime(WindowExecutor *executor, const char *event_time)
{
	Oid			type = executor->shape.event_type;

	return psprintf("mb_q.%s::%s", event_time,
					type == DATEOID ? "pg_catalog.date::pg_catalog.timestamptz" :
					type == TIMESTAMPOID ? "pg_catalog.timestamp::pg_catalog.timestamptz" :
					"pg_catalog.timestamptz");
}

/* PrepareKept prepares a statement with the given cursor options and keeps it. */
static SPIPlanPtr
PrepareKept(const char *sql, Oid *types, int options, const char *what)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, 2, types, options);

	if (plan == NULL || SPI_keepplan(plan) != 0)
		elog(ERROR, "could not prepare the %s: %s", what, SPI_result_code_string(SPI_result));
	return plan;
}

/*
 * PrepareStatements prepares the DELETE and the INSERT and keeps them for
 * the rest of the run.  It runs inside the owner's settings, so names in the
 * query resolve as they will when it executes.
 */
static void
PrepareStatements(WindowExecutor *executor)
{
	Oid			delete_types[2] = {executor->shape.event_type, executor->shape.event_type};
	Oid			insert_types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	int			delete_options = executor->delete_generic ? CURSOR_OPT_GENERIC_PLAN : 0;

	executor->delete_plan = PrepareKept(executor->delete_sql, delete_types, delete_options,
										"delete of a window");
	executor->insert_plan = PrepareKept(executor->insert_sql, insert_types,
										executor->insert_generic ? CURSOR_OPT_GENERIC_PLAN : 0,
										"insert of a window");
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

	switch (executor->shape.event_type)
	{
		case TIMESTAMPTZOID:
			return d;
		case TIMESTAMPOID:
			return DirectFunctionCall1(timestamptz_timestamp, d);
		case DATEOID:
			{
				DateADT		date = DatumGetDateADT(DirectFunctionCall1(timestamptz_date, d));

				if (date2timestamptz_opt_overflow(date, NULL) < bound)
					date++;
				return DateADTGetDatum(date);
			}
	}
	/* TargetShapeRead admits no other type */
	elog(ERROR, "unexpected event-time type %u", executor->shape.event_type);
	return (Datum) 0;
}

/*
 * ExecuteInsert runs the INSERT.  The guard's error about a row outside the
 * window is the pipeline's, not the statement's: it loses the context line
 * that would quote the generated statement.
 */
static int
ExecuteInsert(SPIPlanPtr plan, Datum *bounds)
{
	MemoryContext context = CurrentMemoryContext;
	int			rc = 0;

	PG_TRY();
	{
		rc = SPI_execute_plan(plan, bounds, NULL, false, 0);
	}
	PG_CATCH();
	{
		ErrorData  *error;

		if (!GuardRaised())
			PG_RE_THROW();
		MemoryContextSwitchTo(context);
		error = CopyErrorData();
		FlushErrorState();
		error->context = NULL;
		ReThrowError(error);
	}
	PG_END_TRY();
	return rc;
}

/*
 * ExecuteWindow replaces the window [start, end) in the current transaction:
 * DELETE, then INSERT, as the owner.  Errors propagate; nothing is recorded.
 */
void
ExecuteWindow(WindowExecutor *executor, TimestampTz start, TimestampTz end,
			  WindowOutcome *outcome)
{
	TimestampTz bounds[2] = {start, end};

	ExecuteRange(executor, bounds, 1, outcome);
}

/*
 * ExecuteRange replaces the consecutive windows bounds[0..nwindows] with
 * one DELETE and one INSERT over their whole range, then runs the data
 * checks on each window.  With more than one window the guard counts each
 * window's rows (GuardRowsInserted, GuardRowsDeleted); outcome gets the
 * totals.  Errors propagate; nothing is recorded.
 */
void
ExecuteRange(WindowExecutor *executor, TimestampTz *windows, int nwindows,
			 WindowOutcome *outcome)
{
	Pipeline   *pipeline = executor->pipeline;
	TimestampTz start = windows[0];
	TimestampTz end = windows[nwindows];
	Sandbox		sandbox;
	Datum		bounds[2];
	Datum		event_bounds[2];
	bool		isnull;
	int			rc;
	int			i;

	/* a cancel that arrived while bookkeeping held it off fails this window */
	CHECK_FOR_INTERRUPTS();
	/* the target may have changed since the run prepared its statements */
	TargetShapeRecheck(&executor->shape, pipeline);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SandboxEnterPipeline(&sandbox, pipeline->owner, pipeline->search_path, pipeline->time_zone);
	if (executor->on_citus)
		CitusEnterWindow(pipeline->time_zone);

	if (executor->delete_plan == NULL)
		PrepareStatements(executor);
	if (nwindows > 1 && executor->delete_count_plan == NULL)
	{
		Oid			delete_types[2] = {executor->shape.event_type, executor->shape.event_type};
		Oid			insert_types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};

		executor->delete_count_plan = PrepareKept(executor->delete_count_sql, delete_types, 0,
												  "delete of a chunk");
		executor->chunk_insert_plan = PrepareKept(executor->insert_sql, insert_types, 0,
												  "insert of a chunk");
	}

	bounds[0] = TimestampTzGetDatum(start);
	bounds[1] = TimestampTzGetDatum(end);
	event_bounds[0] = BoundAsEventType(executor, start);
	event_bounds[1] = BoundAsEventType(executor, end);

	/* its own writes mark nothing of itself (track.c) */
	TrackReplaceBegin(pipeline);
	GuardBegin(pipeline, windows, nwindows > 1 ? nwindows : 0);
	rc = SPI_execute_plan(nwindows > 1 ? executor->delete_count_plan : executor->delete_plan,
						  event_bounds, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "DELETE of window failed: %s", SPI_result_code_string(rc));
	outcome->rows_deleted = SPI_processed;

	/* before the query takes its snapshot: why nothing is lost, in track.c */
	TrackConsume(pipeline, start, end);
	rc = ExecuteInsert(nwindows > 1 ? executor->chunk_insert_plan : executor->insert_plan,
					   bounds);
	GuardEnd();
	if (executor->guarded)
	{
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "INSERT of window failed: %s", SPI_result_code_string(rc));
		outcome->rows_inserted = SPI_processed;
	}
	else
	{
		int64		outside;

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
	}

	/* checks hold per window, also in a chunk */
	for (i = 0; i < nwindows && executor->checks != NIL; i++)
	{
		Datum		window_bounds[2] = {TimestampTzGetDatum(windows[i]),
		TimestampTzGetDatum(windows[i + 1])};
		Datum		window_event_bounds[2] = {BoundAsEventType(executor, windows[i]),
		BoundAsEventType(executor, windows[i + 1])};

		ChecksRun(executor, windows[i], windows[i + 1], window_bounds, window_event_bounds,
				  nwindows > 1 ? GuardRowsInserted(i) : outcome->rows_inserted);
	}
	TrackReplaceEnd(pipeline, start, end);

	SandboxLeave(&sandbox);
	if (executor->on_citus)
		CitusLeaveWindow();
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * SetOutcomeError records why a window failed: the error's SQLSTATE, and
 * its message followed by its detail, which often says which row and why
 * (the row outside the window, the key that already exists), so that
 * microbatch.windows and the run's report keep it.  The text is cut at a
 * character boundary if it does not fit.
 */
static void
SetOutcomeError(WindowOutcome *outcome, ErrorData *error)
{
	const char *message = error->message ? error->message : "unknown error";
	char	   *text = error->detail ? psprintf("%s: %s", message, error->detail) : pstrdup(message);
	int			length = strlen(text);

	if (length >= (int) sizeof(outcome->message))
		length = pg_mbcliplen(text, length, sizeof(outcome->message) - 1);
	memcpy(outcome->message, text, length);
	outcome->message[length] = '\0';
	strlcpy(outcome->sqlstate, unpack_sql_state(error->sqlerrcode), sizeof(outcome->sqlstate));
	pfree(text);
}

/*
 * ExecuteRangeGuarded replaces the windows bounds[0..nwindows] inside a
 * subtransaction of the current transaction: a failure rolls back the
 * statements, leaves the transaction usable and is described in outcome.
 * Nothing is recorded.
 */
bool
ExecuteRangeGuarded(WindowExecutor *executor, TimestampTz *bounds, int nwindows,
					WindowOutcome *outcome)
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
		ExecuteRange(executor, bounds, nwindows, outcome);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = caller_owner;
		outcome->succeeded = true;
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
		SetOutcomeError(outcome, error);
		FreeErrorData(error);
	}
	PG_END_TRY();
	MemoryContextReset(executor->window_context);

	TimestampDifference(began, GetCurrentTimestamp(), &secs, &usecs);
	outcome->elapsed_ms = secs * 1000.0 + usecs / 1000.0;
	return outcome->succeeded;
}

/*
 * CountRunWindows adds windows just recorded to their run's counters in
 * microbatch.runs, in the windows' transaction but at most once a second:
 * the rest waits for the next window, or for the run's end, which writes
 * the exact totals (RunFinish).
 */
void
CountRunWindows(WindowExecutor *executor, int64 run_id, WindowOutcome *outcomes, int n)
{
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	if (run_id <= 0)
		return;
	for (i = 0; i < n; i++)
	{
		if (outcomes[i].succeeded)
			executor->uncounted.succeeded++;
		else
			executor->uncounted.failed++;
		executor->uncounted.rows_deleted += outcomes[i].rows_deleted;
		executor->uncounted.rows_inserted += outcomes[i].rows_inserted;
	}
	if (!TimestampDifferenceExceeds(executor->counted_at, now, 1000))
		return;
	CatalogCountRunWindows(run_id, executor->uncounted.succeeded, executor->uncounted.failed,
						   executor->uncounted.rows_deleted, executor->uncounted.rows_inserted);
	memset(&executor->uncounted, 0, sizeof(executor->uncounted));
	executor->counted_at = now;
}

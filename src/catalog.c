/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Every read and write of microbatch.pipelines, .windows, .runs and
 *	  .checks.
 *
 * The catalog tables belong to the extension's owner and ordinary roles may
 * only read their own rows (row-level security).  The functions here check
 * nothing about the caller: the SQL entry points do that first, and then
 * every statement below runs as the catalog owner, with its values passed as
 * parameters.  Statements run once per window are prepared once per backend
 * with generic plans (they look rows up by key: no bound changes their
 * plan) and kept, so recording a window costs an index lookup, no parsing
 * and no planning.  A window's state row is written once, in the window's
 * own transaction, and rewritten in place (a HOT update: fillfactor 90, and
 * no indexed column changes when a window is processed again with the same
 * outcome); the run's counters are written at most once a second while it
 * runs (RunCountWindow), then exactly when it ends.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "compat.h"
#include "sandbox.h"

#define MAX_STATEMENT_ARGS 16

/* a catalog statement, prepared on first use and kept for the backend */
typedef struct CatalogStatement
{
	const char *sql;
	int			nargs;
	Oid			argtypes[MAX_STATEMENT_ARGS];
	SPIPlanPtr	plan;
} CatalogStatement;

/* the caller's identity and settings while catalog statements run */
typedef struct CatalogSession
{
	Sandbox		sandbox;
	MemoryContext caller_context;
} CatalogSession;

#define PIPELINE_COLUMNS \
	"id, name, owner::oid, target::oid, event_time, query, batch_size, time_zone, " \
	"begin_at, end_at, lookback, max_parallel, on_error, enabled, search_path, " \
	"contiguous_until, xmin::text "

static CatalogStatement read_pipeline = {
	"SELECT " PIPELINE_COLUMNS ", allow_reset, coalesce_windows "
	"FROM microbatch.pipelines WHERE name = $1",
	1, {TEXTOID}
};

/* the same, while the installed catalog is older than 0.3 */
static CatalogStatement read_pipeline_0_2 = {
	"SELECT " PIPELINE_COLUMNS ", true, false FROM microbatch.pipelines WHERE name = $1",
	1, {TEXTOID}
};

/*
 * Recording an outcome rewrites the window's row (a HOT update when its
 * status stays the same), or inserts it on the window's first attempt.  Not
 * one INSERT ... ON CONFLICT DO UPDATE: that locks the row first, one more
 * WAL record per window.  A row left 'running' by an older version of this
 * library keeps its attempt count.
 */
static CatalogStatement update_window = {
	"UPDATE microbatch.windows AS w SET "
	"  window_end = $3, status = $4, rows_deleted = $5, rows_inserted = $6, "
	"  attempts = w.attempts + (w.status <> 'running')::int, run_id = $7, "
	"  started_at = CASE WHEN w.status = 'running' THEN w.started_at "
	"               ELSE pg_catalog.clock_timestamp() - $8 * interval '1 ms' END, "
	"  finished_at = pg_catalog.clock_timestamp(), sqlstate = $9, error = $10 "
	"WHERE w.pipeline_id = $1 AND w.window_start = $2",
	10, {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, INT8OID, INT8OID, INT8OID,
	FLOAT8OID, TEXTOID, TEXTOID}
};

static CatalogStatement insert_window = {
	"INSERT INTO microbatch.windows "
	"  (pipeline_id, window_start, window_end, status, attempts, rows_deleted, rows_inserted, "
	"   run_id, started_at, finished_at, sqlstate, error) "
	"VALUES ($1, $2, $3, $4, 1, $5, $6, $7, pg_catalog.clock_timestamp() - $8 * interval '1 ms', "
	"        pg_catalog.clock_timestamp(), $9, $10)",
	10, {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, INT8OID, INT8OID, INT8OID,
	FLOAT8OID, TEXTOID, TEXTOID}
};

static CatalogStatement count_run_windows = {
	"UPDATE microbatch.runs SET windows_done = windows_done + $2 + $3, "
	"  succeeded = succeeded + $2, failed = failed + $3, "
	"  rows_deleted = rows_deleted + $4, rows_inserted = rows_inserted + $5 "
	"WHERE run_id = $1",
	5, {INT8OID, INT4OID, INT4OID, INT8OID, INT8OID}
};

static void CatalogBegin(CatalogSession *session);
static void CatalogEnd(CatalogSession *session);
static int	CatalogExecute(CatalogStatement *statement, Datum *values, const char *nulls,
						   int expected);
static int	CatalogExecuteOnce(const char *sql, int nargs, Oid *argtypes, Datum *values,
							   const char *nulls, int expected);
static Pipeline *PipelineFromTuple(HeapTuple tuple, TupleDesc desc);
static char *GetText(HeapTuple tuple, TupleDesc desc, int column);
static Datum GetDatum(HeapTuple tuple, TupleDesc desc, int column, bool *isnull);

/*
 * CatalogOwner returns the role that owns the catalog tables: the role
 * catalog statements run as.
 */
Oid
CatalogOwner(void)
{
	Oid			namespace = get_namespace_oid("microbatch", false);
	Oid			relid = get_relname_relid("pipelines", namespace);
	HeapTuple	tuple;
	Oid			owner;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("microbatch catalog table \"microbatch.pipelines\" is missing")));
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * CatalogHas0_3 tells whether the installed catalog has what version 0.3
 * added (microbatch.checks, pipelines.allow_reset), so that this library
 * keeps working with an older catalog until ALTER EXTENSION UPDATE.
 */
static bool
CatalogHas0_3(void)
{
	return OidIsValid(get_relname_relid("checks", get_namespace_oid("microbatch", false)));
}

/*
 * CatalogHasGuard tells whether the installed catalog has what the speed
 * work of 0.3 added: microbatch.window_guard and pipelines.coalesce_windows,
 * created together.
 */
bool
CatalogHasGuard(void)
{
	Oid			namespace = get_namespace_oid("microbatch", false);

	return get_attnum(get_relname_relid("pipelines", namespace), "coalesce_windows") !=
		InvalidAttrNumber;
}

/*
 * CatalogBegin connects to SPI and becomes the catalog owner, with a
 * search_path of pg_catalog only (sandbox.c): no operator, function or type
 * of the caller's can stand in for the ones the statements mean.
 */
static void
CatalogBegin(CatalogSession *session)
{
	session->caller_context = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SandboxEnterTrusted(&session->sandbox, CatalogOwner());
}

/* CatalogEnd returns to the caller's identity and settings, and leaves SPI. */
static void
CatalogEnd(CatalogSession *session)
{
	SandboxLeave(&session->sandbox);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/* CatalogExecute runs a kept statement and checks its result code. */
static int
CatalogExecute(CatalogStatement *statement, Datum *values, const char *nulls, int expected)
{
	int			rc;

	if (statement->plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(statement->sql, statement->nargs,
											  statement->argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "could not prepare \"%s\": %s", statement->sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		statement->plan = plan;
	}
	rc = SPI_execute_plan(statement->plan, values, nulls, false, 0);
	if (rc != expected)
		elog(ERROR, "catalog statement \"%s\" failed: %s", statement->sql,
			 SPI_result_code_string(rc));
	return rc;
}

/* CatalogExecuteOnce runs a statement that is not worth keeping. */
static int
CatalogExecuteOnce(const char *sql, int nargs, Oid *argtypes, Datum *values,
				   const char *nulls, int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "catalog statement \"%s\" failed: %s", sql, SPI_result_code_string(rc));
	return rc;
}

/* GetDatum reads a column of an SPI result row. */
static Datum
GetDatum(HeapTuple tuple, TupleDesc desc, int column, bool *isnull)
{
	return SPI_getbinval(tuple, desc, column, isnull);
}

/* GetText reads a text column of an SPI result row as a C string, or NULL. */
static char *
GetText(HeapTuple tuple, TupleDesc desc, int column)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, column, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* PipelineFromTuple copies a pipelines row into a Pipeline. */
static Pipeline *
PipelineFromTuple(HeapTuple tuple, TupleDesc desc)
{
	Pipeline   *p = palloc0(sizeof(Pipeline));
	bool		isnull;
	Datum		d;
	char	   *on_error;

	p->id = DatumGetInt64(GetDatum(tuple, desc, 1, &isnull));
	p->name = GetText(tuple, desc, 2);
	p->owner = DatumGetObjectId(GetDatum(tuple, desc, 3, &isnull));
	p->target = DatumGetObjectId(GetDatum(tuple, desc, 4, &isnull));
	p->event_time = GetText(tuple, desc, 5);
	p->query = GetText(tuple, desc, 6);
	p->batch_size = GetText(tuple, desc, 7);
	p->time_zone = GetText(tuple, desc, 8);
	p->begin_at = DatumGetTimestampTz(GetDatum(tuple, desc, 9, &isnull));
	d = GetDatum(tuple, desc, 10, &isnull);
	p->has_end_at = !isnull;
	p->end_at = isnull ? DT_NOEND : DatumGetTimestampTz(d);
	p->lookback = DatumGetInt32(GetDatum(tuple, desc, 11, &isnull));
	p->max_parallel = DatumGetInt32(GetDatum(tuple, desc, 12, &isnull));
	on_error = GetText(tuple, desc, 13);
	p->continue_on_error = strcmp(on_error, "continue") == 0;
	p->enabled = DatumGetBool(GetDatum(tuple, desc, 14, &isnull));
	p->search_path = GetText(tuple, desc, 15);
	p->contiguous_until = DatumGetTimestampTz(GetDatum(tuple, desc, 16, &isnull));
	p->xmin = (TransactionId) strtoul(GetText(tuple, desc, 17), NULL, 10);
	p->allow_reset = DatumGetBool(GetDatum(tuple, desc, 18, &isnull));
	p->coalesce_windows = DatumGetBool(GetDatum(tuple, desc, 19, &isnull));
	GridInit(&p->grid, p->batch_size, p->time_zone);
	return p;
}

/* CatalogReadPipeline returns the named pipeline, or NULL if there is none. */
Pipeline *
CatalogReadPipeline(const char *name)
{
	CatalogSession session;
	Datum		values[1] = {CStringGetTextDatum(name)};
	Pipeline   *pipeline = NULL;

	CatalogBegin(&session);
	CatalogExecute(CatalogHasGuard() ? &read_pipeline : &read_pipeline_0_2, values, NULL,
				   SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		MemoryContext spi_context = MemoryContextSwitchTo(session.caller_context);

		pipeline = PipelineFromTuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
		MemoryContextSwitchTo(spi_context);
	}
	CatalogEnd(&session);
	return pipeline;
}

/* NamesFromResult copies the first column of an SPI result as a list. */
static List *
NamesFromResult(MemoryContext context)
{
	List	   *names = NIL;
	MemoryContext spi_context = MemoryContextSwitchTo(context);
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
		names = lappend(names, GetText(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	MemoryContextSwitchTo(spi_context);
	return names;
}

/* ReadNames runs a query that returns pipeline names, and copies them out. */
static List *
ReadNames(const char *sql)
{
	CatalogSession session;
	List	   *names;

	CatalogBegin(&session);
	CatalogExecuteOnce(sql, 0, NULL, NULL, NULL, SPI_OK_SELECT);
	names = NamesFromResult(session.caller_context);
	CatalogEnd(&session);
	return names;
}

/* CatalogEnabledPipelineNames lists every enabled pipeline, by name. */
List *
CatalogEnabledPipelineNames(void)
{
	return ReadNames("SELECT name FROM microbatch.pipelines WHERE enabled ORDER BY name");
}

/* CatalogAllPipelineNames lists every pipeline, enabled or not, by name. */
List *
CatalogAllPipelineNames(void)
{
	return ReadNames("SELECT name FROM microbatch.pipelines ORDER BY name");
}

/*
 * CatalogPipelinesOfDroppedTables lists the pipelines whose target is among
 * the objects the current DROP removed; only valid in a sql_drop trigger.
 */
List *
CatalogPipelinesOfDroppedTables(void)
{
	return ReadNames("SELECT p.name FROM microbatch.pipelines p "
					 "  JOIN pg_catalog.pg_event_trigger_dropped_objects() d "
					 "    ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
					 "   AND d.objid = p.target::pg_catalog.oid AND d.objsubid = 0 "
					 "ORDER BY p.name");
}

/*
 * CatalogPruneRuns deletes a pipeline's runs that finished before "before"
 * and that no window's latest state points to; returns how many.
 */
int64
CatalogPruneRuns(int64 pipeline_id, TimestampTz before)
{
	CatalogSession session;
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2] = {Int64GetDatum(pipeline_id), TimestampTzGetDatum(before)};
	int64		pruned;

	CatalogBegin(&session);
	CatalogExecuteOnce("DELETE FROM microbatch.runs r "
					   "WHERE r.pipeline_id = $1 AND r.status <> 'running' AND r.finished_at < $2 "
					   "  AND NOT EXISTS (SELECT 1 FROM microbatch.windows w "
					   "                   WHERE w.pipeline_id = $1 AND w.run_id = r.run_id)",
					   2, types, values, NULL, SPI_OK_DELETE);
	pruned = SPI_processed;
	CatalogEnd(&session);
	return pruned;
}

/*
 * CatalogRecordRunError records why a run of the pipeline, started by this
 * backend at or after "since", failed: in its run row, or, when it could not
 * start and left none, in a new failed run row (kind "run").  Returns the
 * run's id.
 */
int64
CatalogRecordRunError(int64 pipeline_id, TimestampTz since, const char *error)
{
	CatalogSession session;
	Oid			types[4] = {INT8OID, TIMESTAMPTZOID, INT4OID, TEXTOID};
	Datum		values[4] = {Int64GetDatum(pipeline_id), TimestampTzGetDatum(since),
		Int32GetDatum(MyProcPid), CStringGetTextDatum(error)};
	bool		isnull;
	int64		run_id;

	CatalogBegin(&session);
	CatalogExecuteOnce("WITH mine AS (SELECT r.run_id FROM microbatch.runs r"
					   "               WHERE r.pipeline_id = $1 AND r.started_at >= $2 AND r.pid = $3"
					   "               ORDER BY r.run_id DESC LIMIT 1),"
					   " updated AS (UPDATE microbatch.runs r SET error = $4"
					   "              FROM mine WHERE r.run_id = mine.run_id AND r.error IS NULL"
					   "              RETURNING r.run_id),"
					   " inserted AS (INSERT INTO microbatch.runs"
					   "               (pipeline_id, kind, started_at, finished_at, status, windows_total, pid, error)"
					   "              SELECT $1, 'run', pg_catalog.now(), pg_catalog.now(), 'failed', 0, $3, $4"
					   "               WHERE NOT EXISTS (SELECT 1 FROM mine)"
					   "              RETURNING run_id)"
					   " SELECT run_id FROM updated UNION ALL SELECT run_id FROM inserted"
					   " UNION ALL SELECT run_id FROM mine",
					   4, types, values, NULL, SPI_OK_SELECT);
	run_id = SPI_processed > 0 ?
		DatumGetInt64(GetDatum(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) : 0;
	CatalogEnd(&session);
	return run_id;
}

/* CatalogSetRunError records why a run ended, unless it says already. */
void
CatalogSetRunError(int64 run_id, const char *error)
{
	CatalogSession session;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(run_id), CStringGetTextDatum(error)};

	CatalogBegin(&session);
	CatalogExecuteOnce("UPDATE microbatch.runs SET error = $2 WHERE run_id = $1 AND error IS NULL",
					   2, types, values, NULL, SPI_OK_UPDATE);
	CatalogEnd(&session);
}

/* CatalogInsertPipeline stores a new pipeline and returns its id. */
int64
CatalogInsertPipeline(Pipeline *p)
{
	CatalogSession session;
	Oid			types[14] = {TEXTOID, OIDOID, OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID, INT4OID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[14];
	char		nulls[14];
	bool		isnull;
	int64		id;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(p->name);
	values[1] = ObjectIdGetDatum(p->owner);
	values[2] = ObjectIdGetDatum(p->target);
	values[3] = CStringGetTextDatum(p->event_time);
	values[4] = CStringGetTextDatum(p->query);
	values[5] = CStringGetTextDatum(p->batch_size);
	values[6] = CStringGetTextDatum(p->time_zone);
	values[7] = TimestampTzGetDatum(p->begin_at);
	values[8] = TimestampTzGetDatum(p->end_at);
	if (!p->has_end_at)
		nulls[8] = 'n';
	values[9] = Int32GetDatum(p->lookback);
	values[10] = Int32GetDatum(p->max_parallel);
	values[11] = CStringGetTextDatum(p->continue_on_error ? "continue" : "stop");
	values[12] = CStringGetTextDatum(p->search_path);
	values[13] = TimestampTzGetDatum(p->begin_at);

	CatalogBegin(&session);
	CatalogExecuteOnce("INSERT INTO microbatch.pipelines "
					   "  (name, owner, target, event_time, query, batch_size, time_zone, "
					   "   begin_at, end_at, lookback, max_parallel, on_error, search_path, "
					   "   contiguous_until) "
					   "VALUES ($1, $2::regrole, $3::regclass, $4, $5, $6, $7, $8, $9, $10, "
					   "        $11, $12, $13, $14) RETURNING id",
					   14, types, values, nulls, SPI_OK_INSERT_RETURNING);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	CatalogEnd(&session);
	return id;
}

/* CatalogUpdatePipeline stores the options mb_alter may change. */
void
CatalogUpdatePipeline(Pipeline *p)
{
	CatalogSession session;
	Oid			types[9] = {INT8OID, TEXTOID, INT4OID, TIMESTAMPTZOID, INT4OID, TEXTOID, BOOLOID,
	TEXTOID, BOOLOID};
	Datum		values[9];
	char		nulls[9];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(p->id);
	values[1] = CStringGetTextDatum(p->query);
	values[2] = Int32GetDatum(p->lookback);
	values[3] = TimestampTzGetDatum(p->end_at);
	if (!p->has_end_at)
		nulls[3] = 'n';
	values[4] = Int32GetDatum(p->max_parallel);
	values[5] = CStringGetTextDatum(p->continue_on_error ? "continue" : "stop");
	values[6] = BoolGetDatum(p->enabled);
	values[7] = CStringGetTextDatum(p->search_path);
	values[8] = BoolGetDatum(p->allow_reset);

	CatalogBegin(&session);
	CatalogExecuteOnce(CatalogHas0_3() ?
					   "UPDATE microbatch.pipelines SET query = $2, lookback = $3, end_at = $4, "
					   "  max_parallel = $5, on_error = $6, enabled = $7, search_path = $8, "
					   "  allow_reset = $9 "
					   "WHERE id = $1" :
					   "UPDATE microbatch.pipelines SET query = $2, lookback = $3, end_at = $4, "
					   "  max_parallel = $5, on_error = $6, enabled = $7, search_path = $8 "
					   "WHERE id = $1",
					   CatalogHas0_3() ? 9 : 8, types, values, nulls, SPI_OK_UPDATE);
	CatalogEnd(&session);
}

/* CatalogSetCoalesce stores a pipeline's coalesce_windows option. */
void
CatalogSetCoalesce(int64 pipeline_id, bool coalesce_windows)
{
	CatalogSession session;
	Oid			types[2] = {INT8OID, BOOLOID};
	Datum		values[2] = {Int64GetDatum(pipeline_id), BoolGetDatum(coalesce_windows)};

	CatalogBegin(&session);
	CatalogExecuteOnce("UPDATE microbatch.pipelines SET coalesce_windows = $2 WHERE id = $1",
					   2, types, values, NULL, SPI_OK_UPDATE);
	CatalogEnd(&session);
}

/*
 * CatalogSetCronJob stores the id of the pipeline's pg_cron job, or clears
 * it (has_job false); nothing with a catalog older than 0.3, which has no
 * place for it.
 */
void
CatalogSetCronJob(int64 pipeline_id, bool has_job, int64 jobid)
{
	CatalogSession session;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(pipeline_id), Int64GetDatum(jobid)};
	const char	nulls[2] = {' ', has_job ? ' ' : 'n'};

	if (get_attnum(get_relname_relid("pipelines", get_namespace_oid("microbatch", false)),
				   "cron_job") == InvalidAttrNumber)
		return;
	CatalogBegin(&session);
	CatalogExecuteOnce("UPDATE microbatch.pipelines SET cron_job = $2 WHERE id = $1",
					   2, types, values, nulls, SPI_OK_UPDATE);
	CatalogEnd(&session);
}

/*
 * CatalogTargetPipelines lists every pipeline that writes the target, of
 * every role, with the range of it each one writes.
 */
List *
CatalogTargetPipelines(Oid target)
{
	CatalogSession session;
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(target)};
	List	   *ranges = NIL;
	MemoryContext spi_context;
	uint64		i;

	CatalogBegin(&session);
	CatalogExecuteOnce("SELECT id, name, owner::pg_catalog.oid, begin_at, end_at "
					   "FROM microbatch.pipelines WHERE target::pg_catalog.oid = $1 ORDER BY begin_at, name",
					   1, types, values, NULL, SPI_OK_SELECT);
	spi_context = MemoryContextSwitchTo(session.caller_context);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		CatalogTargetRange *range = palloc0(sizeof(CatalogTargetRange));
		bool		isnull;
		Datum		d;

		range->pipeline_id = DatumGetInt64(GetDatum(tuple, desc, 1, &isnull));
		range->name = GetText(tuple, desc, 2);
		range->owner = DatumGetObjectId(GetDatum(tuple, desc, 3, &isnull));
		range->begin_at = DatumGetTimestampTz(GetDatum(tuple, desc, 4, &isnull));
		d = GetDatum(tuple, desc, 5, &isnull);
		range->has_end_at = !isnull;
		range->end_at = isnull ? DT_NOEND : DatumGetTimestampTz(d);
		ranges = lappend(ranges, range);
	}
	MemoryContextSwitchTo(spi_context);
	CatalogEnd(&session);
	return ranges;
}

/* CatalogDeletePipeline removes a pipeline with its windows and runs. */
void
CatalogDeletePipeline(int64 pipeline_id)
{
	CatalogSession session;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(pipeline_id)};

	CatalogBegin(&session);
	CatalogExecuteOnce("DELETE FROM microbatch.pipelines WHERE id = $1",
					   1, types, values, NULL, SPI_OK_DELETE);
	CatalogEnd(&session);
}

/* CatalogResetPipeline forgets every window of a pipeline. */
void
CatalogResetPipeline(Pipeline *p)
{
	CatalogSession session;
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2] = {Int64GetDatum(p->id), TimestampTzGetDatum(p->begin_at)};

	CatalogBegin(&session);
	CatalogExecuteOnce("DELETE FROM microbatch.windows WHERE pipeline_id = $1",
					   1, types, values, NULL, SPI_OK_DELETE);
	CatalogExecuteOnce("UPDATE microbatch.pipelines SET contiguous_until = $2 WHERE id = $1",
					   2, types, values, NULL, SPI_OK_UPDATE);
	CatalogEnd(&session);
}

/*
 * CatalogMoveBeginAt moves a pipeline's begin_at.  Moved later, the state of
 * the windows before it is forgotten; moved earlier, the windows it adds
 * have no state rows, so the search for gaps starts again there.
 */
void
CatalogMoveBeginAt(int64 pipeline_id, TimestampTz begin_at)
{
	CatalogSession session;
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2] = {Int64GetDatum(pipeline_id), TimestampTzGetDatum(begin_at)};

	CatalogBegin(&session);
	CatalogExecuteOnce("DELETE FROM microbatch.windows WHERE pipeline_id = $1 AND window_start < $2",
					   2, types, values, NULL, SPI_OK_DELETE);
	CatalogExecuteOnce("UPDATE microbatch.pipelines SET "
					   "  contiguous_until = CASE WHEN begin_at > $2 THEN $2 "
					   "                          ELSE GREATEST(contiguous_until, $2) END, "
					   "  begin_at = $2 "
					   "WHERE id = $1",
					   2, types, values, NULL, SPI_OK_UPDATE);
	CatalogEnd(&session);
}

/* CatalogReadChecks lists a pipeline's checks, by name. */
List *
CatalogReadChecks(int64 pipeline_id)
{
	CatalogSession session;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(pipeline_id)};
	List	   *checks = NIL;
	MemoryContext spi_context;
	uint64		i;

	if (!CatalogHas0_3())
		return NIL;
	CatalogBegin(&session);
	CatalogExecuteOnce("SELECT check_name, check_sql FROM microbatch.checks "
					   "WHERE pipeline_id = $1 ORDER BY check_name",
					   1, types, values, NULL, SPI_OK_SELECT);
	spi_context = MemoryContextSwitchTo(session.caller_context);
	for (i = 0; i < SPI_processed; i++)
	{
		CatalogCheck *check = palloc(sizeof(CatalogCheck));

		check->name = GetText(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		check->sql = GetText(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		checks = lappend(checks, check);
	}
	MemoryContextSwitchTo(spi_context);
	CatalogEnd(&session);
	return checks;
}

/* CatalogCheckExists tells whether a pipeline has a check of that name. */
bool
CatalogCheckExists(int64 pipeline_id, const char *check_name)
{
	CatalogSession session;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(pipeline_id), CStringGetTextDatum(check_name)};
	bool		exists;

	CatalogBegin(&session);
	CatalogExecuteOnce("SELECT 1 FROM microbatch.checks WHERE pipeline_id = $1 AND check_name = $2",
					   2, types, values, NULL, SPI_OK_SELECT);
	exists = SPI_processed > 0;
	CatalogEnd(&session);
	return exists;
}

/* CatalogInsertCheck stores a check that mb_add_check validated. */
void
CatalogInsertCheck(int64 pipeline_id, const char *check_name, const char *check_sql)
{
	CatalogSession session;
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3] = {Int64GetDatum(pipeline_id), CStringGetTextDatum(check_name),
	CStringGetTextDatum(check_sql)};

	CatalogBegin(&session);
	CatalogExecuteOnce("INSERT INTO microbatch.checks (pipeline_id, check_name, check_sql) "
					   "VALUES ($1, $2, $3)",
					   3, types, values, NULL, SPI_OK_INSERT);
	CatalogEnd(&session);
}

/* CatalogDeleteCheck removes a check; returns whether there was one. */
bool
CatalogDeleteCheck(int64 pipeline_id, const char *check_name)
{
	CatalogSession session;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {Int64GetDatum(pipeline_id), CStringGetTextDatum(check_name)};
	bool		deleted;

	CatalogBegin(&session);
	CatalogExecuteOnce("DELETE FROM microbatch.checks WHERE pipeline_id = $1 AND check_name = $2",
					   2, types, values, NULL, SPI_OK_DELETE);
	deleted = SPI_processed > 0;
	CatalogEnd(&session);
	return deleted;
}

/*
 * CatalogAdvanceContiguous records that every window before "until" has a
 * state row, so later plans need not look for gaps before it.
 */
void
CatalogAdvanceContiguous(int64 pipeline_id, TimestampTz until)
{
	CatalogSession session;
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2] = {Int64GetDatum(pipeline_id), TimestampTzGetDatum(until)};

	CatalogBegin(&session);
	CatalogExecuteOnce("UPDATE microbatch.pipelines SET contiguous_until = $2 "
					   "WHERE id = $1 AND contiguous_until < $2",
					   2, types, values, NULL, SPI_OK_UPDATE);
	CatalogEnd(&session);
}

/*
 * CatalogHighWater finds the end of the latest window that succeeded in
 * full, through the partial index on succeeded windows.
 */
bool
CatalogHighWater(int64 pipeline_id, TimestampTz *high_water)
{
	CatalogSession session;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(pipeline_id)};
	bool		isnull;
	Datum		d;

	CatalogBegin(&session);
	CatalogExecuteOnce("SELECT pg_catalog.max(window_end) FROM microbatch.windows "
					   "WHERE pipeline_id = $1 AND status = 'succeeded'",
					   1, types, values, NULL, SPI_OK_SELECT);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		*high_water = DatumGetTimestampTz(d);
	CatalogEnd(&session);
	return !isnull;
}

/* WindowStatesFromResult copies (start, end, status) rows out of SPI. */
static List *
WindowStatesFromResult(MemoryContext context)
{
	List	   *states = NIL;
	MemoryContext spi_context = MemoryContextSwitchTo(context);
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		WindowState *state = palloc0(sizeof(WindowState));
		bool		isnull;

		state->start = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 1, &isnull));
		state->end = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 2, &isnull));
		if (desc->natts >= 3)
			strlcpy(state->status, GetText(tuple, desc, 3), sizeof(state->status));
		states = lappend(states, state);
	}
	MemoryContextSwitchTo(spi_context);
	return states;
}

/*
 * ReadWindowStates runs a query over one pipeline's windows in [from, to),
 * oldest first, and returns at most limit of them.
 */
static List *
ReadWindowStates(const char *sql, int64 pipeline_id, TimestampTz from, TimestampTz to,
				 int limit)
{
	CatalogSession session;
	Oid			types[4] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID};
	Datum		values[4] = {Int64GetDatum(pipeline_id), TimestampTzGetDatum(from),
	TimestampTzGetDatum(to), Int32GetDatum(limit)};
	List	   *states;

	CatalogBegin(&session);
	CatalogExecuteOnce(sql, 4, types, values, NULL, SPI_OK_SELECT);
	states = WindowStatesFromResult(session.caller_context);
	CatalogEnd(&session);
	return states;
}

/*
 * CatalogPendingWindows lists, oldest first, at most limit windows in
 * [from, to) whose latest attempt did not succeed in full.  They are read
 * through the partial index, so the cost follows their number, not the
 * history's size.
 */
List *
CatalogPendingWindows(int64 pipeline_id, TimestampTz from, TimestampTz to, int limit)
{
	return ReadWindowStates("SELECT window_start, window_end, status FROM microbatch.windows "
							"WHERE pipeline_id = $1 AND status <> 'succeeded' "
							"  AND window_start >= $2 AND window_start < $3 "
							"ORDER BY window_start LIMIT $4",
							pipeline_id, from, to, limit);
}

/* CatalogRecordedStarts lists at most limit windows in [from, to) that have a row. */
List *
CatalogRecordedStarts(int64 pipeline_id, TimestampTz from, TimestampTz to, int limit)
{
	return ReadWindowStates("SELECT window_start, window_end FROM microbatch.windows "
							"WHERE pipeline_id = $1 AND window_start >= $2 AND window_start < $3 "
							"ORDER BY window_start LIMIT $4",
							pipeline_id, from, to, limit);
}

/* RecordValues fills the parameters of record_window for one outcome. */
static void
RecordValues(int64 pipeline_id, int64 run_id, TimestampTz start, TimestampTz end,
			 WindowOutcome *outcome, Datum *values, char *nulls)
{
	const char *status;

	if (!outcome->succeeded)
		status = WINDOW_FAILED;
	else
		status = outcome->partial ? WINDOW_PARTIAL : WINDOW_SUCCEEDED;

	memset(nulls, ' ', 10);
	values[0] = Int64GetDatum(pipeline_id);
	values[1] = TimestampTzGetDatum(start);
	values[2] = TimestampTzGetDatum(end);
	values[3] = CStringGetTextDatum(status);
	values[4] = Int64GetDatum(outcome->rows_deleted);
	values[5] = Int64GetDatum(outcome->rows_inserted);
	values[6] = Int64GetDatum(run_id);
	values[7] = Float8GetDatum(outcome->elapsed_ms);
	values[8] = CStringGetTextDatum(outcome->sqlstate);
	values[9] = CStringGetTextDatum(outcome->message);
	if (outcome->succeeded)
		nulls[8] = nulls[9] = 'n';
	else
		nulls[4] = nulls[5] = 'n';
	if (run_id <= 0)
		nulls[6] = 'n';
}

/* CatalogRecordWindow stores the outcome of a window in its state row. */
void
CatalogRecordWindow(int64 pipeline_id, int64 run_id, TimestampTz start, TimestampTz end,
					WindowOutcome *outcome)
{
	CatalogRecordWindows(pipeline_id, run_id, (TimestampTz[2]) {start, end}, 1, outcome);
}

/*
 * CatalogRecordWindows stores the outcomes of the consecutive windows
 * bounds[0..n] of a chunk, in one catalog session.
 */
void
CatalogRecordWindows(int64 pipeline_id, int64 run_id, TimestampTz *bounds, int n,
					 WindowOutcome *outcomes)
{
	CatalogSession session;
	int			i;

	CatalogBegin(&session);
	for (i = 0; i < n; i++)
	{
		Datum		values[10];
		char		nulls[10];

		RecordValues(pipeline_id, run_id, bounds[i], bounds[i + 1], &outcomes[i], values, nulls);
		CatalogExecute(&update_window, values, nulls, SPI_OK_UPDATE);
		if (SPI_processed == 0)
			CatalogExecute(&insert_window, values, nulls, SPI_OK_INSERT);
	}
	CatalogEnd(&session);
}

/* CatalogNextRunId hands out a run id; sequences do not roll back. */
int64
CatalogNextRunId(void)
{
	CatalogSession session;
	bool		isnull;
	int64		id;

	CatalogBegin(&session);
	CatalogExecuteOnce("SELECT pg_catalog.nextval('microbatch.runs_run_id_seq')",
					   0, NULL, NULL, NULL, SPI_OK_SELECT);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	CatalogEnd(&session);
	return id;
}

/*
 * The pipelines whose run lock some session holds (runlock.c; the status
 * view asks microbatch.running_pipelines(), which this library must not
 * need: it runs against older installed versions until they are updated).
 * A window marked running under any other pipeline belongs to a process
 * that died.
 */
#define BUSY_PIPELINES \
	"SELECT (l.classid::int8 << 32) | l.objid::int8 FROM pg_catalog.pg_locks l " \
	"WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 19778 " \
	"  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d " \
	"                     WHERE d.datname = pg_catalog.current_database())"

#define INTERRUPTED_MESSAGE \
	"'interrupted: the process running this window ended before it committed'"

/*
 * CatalogSettleDeadRuns settles what runs whose process died left behind:
 * of this pipeline (the caller holds its run lock, so nothing of it can
 * still be running) and of every pipeline that no session is running now.
 * Their windows still marked running become failed (never done), and
 * their runs failed.  Such a run may have died while it waited for the
 * writers of sources whose horizon it had raised: their horizons go back
 * to the end of the windows processed in full, as HorizonWithdraw does,
 * so that the next run waits for those writers.
 */
void
CatalogSettleDeadRuns(int64 pipeline_id)
{
	CatalogSession session;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(pipeline_id)};

	CatalogBegin(&session);
	CatalogExecuteOnce("UPDATE microbatch.windows SET status = 'failed', "
					   "  finished_at = pg_catalog.now(), sqlstate = '57P01', "
					   "  error = " INTERRUPTED_MESSAGE " "
					   "WHERE status = 'running' "
					   "  AND (pipeline_id = $1 OR pipeline_id NOT IN (" BUSY_PIPELINES "))",
					   1, types, values, NULL, SPI_OK_UPDATE);
	if (!CatalogHasTracking())
		CatalogExecuteOnce("UPDATE microbatch.runs SET status = 'failed', "
						   "  finished_at = pg_catalog.now() "
						   "WHERE status = 'running' "
						   "  AND (pipeline_id = $1 OR pipeline_id NOT IN (" BUSY_PIPELINES "))",
						   1, types, values, NULL, SPI_OK_UPDATE);
	else
		CatalogExecuteOnce("WITH settled AS ("
						   "  UPDATE microbatch.runs SET status = 'failed', "
						   "    finished_at = pg_catalog.now() "
						   "  WHERE status = 'running' "
						   "    AND (pipeline_id = $1 OR pipeline_id NOT IN (" BUSY_PIPELINES ")) "
						   "  RETURNING pipeline_id), "
						   " processed AS ("
						   "  SELECT p.id, coalesce((SELECT w.window_end FROM microbatch.windows w "
						   "                          WHERE w.pipeline_id = p.id AND w.status <> 'partial' "
						   "                          ORDER BY w.window_start DESC LIMIT 1), "
						   "                         p.begin_at) AS horizon "
						   "  FROM microbatch.pipelines p WHERE p.id IN (SELECT pipeline_id FROM settled)) "
						   "UPDATE microbatch.sources s SET horizon = processed.horizon FROM processed "
						   "WHERE s.pipeline_id = processed.id AND s.horizon > processed.horizon",
						   1, types, values, NULL, SPI_OK_UPDATE);
	CatalogEnd(&session);
}

/* CatalogInsertRun records the start of a run. */
void
CatalogInsertRun(int64 run_id, int64 pipeline_id, const char *kind, int windows_total,
				 int leader_pid)
{
	CatalogSession session;
	Oid			types[5] = {INT8OID, INT8OID, TEXTOID, INT4OID, INT4OID};
	Datum		values[5] = {Int64GetDatum(run_id), Int64GetDatum(pipeline_id),
		CStringGetTextDatum(kind), Int32GetDatum(windows_total),
	Int32GetDatum(leader_pid)};

	CatalogBegin(&session);
	CatalogExecuteOnce("INSERT INTO microbatch.runs "
					   "  (run_id, pipeline_id, kind, started_at, status, windows_total, pid) "
					   "VALUES ($1, $2, $3, pg_catalog.clock_timestamp(), 'running', $4, $5)",
					   5, types, values, NULL, SPI_OK_INSERT);
	CatalogEnd(&session);
}

/* CatalogCountRunWindows adds finished windows to their run's counters. */
void
CatalogCountRunWindows(int64 run_id, int succeeded, int failed, int64 rows_deleted,
					   int64 rows_inserted)
{
	CatalogSession session;
	Datum		values[5] = {Int64GetDatum(run_id), Int32GetDatum(succeeded),
		Int32GetDatum(failed), Int64GetDatum(rows_deleted),
	Int64GetDatum(rows_inserted)};

	CatalogBegin(&session);
	CatalogExecute(&count_run_windows, values, NULL, SPI_OK_UPDATE);
	CatalogEnd(&session);
}

/*
 * CatalogFinishRun records how a run ended, with its final counters (they
 * were written at most once a second while it ran).
 */
void
CatalogFinishRun(int64 run_id, const char *status, int succeeded, int failed, int skipped,
				 int64 rows_deleted, int64 rows_inserted)
{
	CatalogSession session;
	Oid			types[7] = {INT8OID, TEXTOID, INT4OID, INT4OID, INT4OID, INT8OID, INT8OID};
	Datum		values[7] = {Int64GetDatum(run_id), CStringGetTextDatum(status),
		Int32GetDatum(succeeded), Int32GetDatum(failed), Int32GetDatum(skipped),
	Int64GetDatum(rows_deleted), Int64GetDatum(rows_inserted)};

	CatalogBegin(&session);
	CatalogExecuteOnce("UPDATE microbatch.runs SET status = $2, skipped = $5, "
					   "  windows_done = $3 + $4, succeeded = $3, failed = $4, "
					   "  rows_deleted = $6, rows_inserted = $7, "
					   "  finished_at = pg_catalog.clock_timestamp() WHERE run_id = $1",
					   7, types, values, NULL, SPI_OK_UPDATE);
	CatalogEnd(&session);
}

/*
 * CatalogCancelAbandonedRun records a run whose session left in the middle
 * of it as cancelled, with the counts of what its windows committed.
 */
void
CatalogCancelAbandonedRun(int64 run_id)
{
	CatalogSession session;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(run_id)};

	CatalogBegin(&session);
	CatalogExecuteOnce("UPDATE microbatch.runs r SET status = 'cancelled', "
					   "  succeeded = w.succeeded, failed = w.failed, "
					   "  windows_done = w.succeeded + w.failed, "
					   "  skipped = r.windows_total - w.succeeded - w.failed, "
					   "  rows_deleted = w.rows_deleted, rows_inserted = w.rows_inserted, "
					   "  finished_at = pg_catalog.clock_timestamp(), "
					   "  error = 'the session running it ended' "
					   "FROM (SELECT pg_catalog.count(*) FILTER (WHERE status <> 'failed')::pg_catalog.int4 AS succeeded, "
					   "             pg_catalog.count(*) FILTER (WHERE status = 'failed')::pg_catalog.int4 AS failed, "
					   "             COALESCE(pg_catalog.sum(rows_deleted), 0)::pg_catalog.int8 AS rows_deleted, "
					   "             COALESCE(pg_catalog.sum(rows_inserted), 0)::pg_catalog.int8 AS rows_inserted "
					   "      FROM microbatch.windows WHERE run_id = $1) w "
					   "WHERE r.run_id = $1 AND r.status = 'running'",
					   1, types, values, NULL, SPI_OK_UPDATE);
	CatalogEnd(&session);
}

/*
 * Change tracking and dependencies: microbatch.sources, microbatch.stale and
 * pipelines.reads (track.c, deps.c).
 */

static void InsertStaleMarksSPI(int count, int64 *pipeline_ids, TimestampTz *starts);

static CatalogStatement insert_stale_marks = {
	"INSERT INTO microbatch.stale (pipeline_id, window_start) "
	"SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), "
	"                        pg_catalog.unnest($2::pg_catalog.timestamptz[]))",
	2, {INT8ARRAYOID, TIMESTAMPTZARRAYOID}
};

static CatalogStatement consume_stale_marks = {
	"DELETE FROM microbatch.stale "
	"WHERE pipeline_id = $1 AND window_start >= $2 AND window_start < $3",
	3, {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID}
};

/*
 * CatalogHasTracking tells whether the installed catalog has the tables of
 * change tracking (0.3 and later), so that tracking and dependencies stay
 * off with an older catalog.
 */
bool
CatalogHasTracking(void)
{
	Oid			namespace = get_namespace_oid("microbatch", true);

	return OidIsValid(namespace) && OidIsValid(get_relname_relid("stale", namespace));
}

/*
 * CatalogInsertStaleMarks stores a stale mark per (pipeline, window start).
 * Every writer to a tracked source calls this once per transaction, so it
 * inserts the rows straight into the heap and the one index, as core's
 * catalog code does: no statement, hence no name that could be resolved,
 * no plan, no settings to change.  Should the table ever have other
 * indexes, it goes through SPI like every other catalog statement.
 */
void
CatalogInsertStaleMarks(int count, int64 *pipeline_ids, TimestampTz *starts)
{
	Oid			namespace = get_namespace_oid("microbatch", false);
	Relation	stale = table_open(get_relname_relid("stale", namespace), RowExclusiveLock);
	List	   *indexes = RelationGetIndexList(stale);
	Oid			index_oid = get_relname_relid("stale_window_idx", namespace);
	Relation	index;
	IndexInfo  *index_info;
	TupleTableSlot **slots;
	int			i;

	if (list_length(indexes) != 1 || linitial_oid(indexes) != index_oid)
	{
		table_close(stale, RowExclusiveLock);
		InsertStaleMarksSPI(count, pipeline_ids, starts);
		return;
	}
	index = index_open(index_oid, RowExclusiveLock);
	index_info = BuildIndexInfo(index);
	slots = palloc(sizeof(TupleTableSlot *) * count);
	for (i = 0; i < count; i++)
	{
		Datum		values[3] = {Int64GetDatum(pipeline_ids[i]), TimestampTzGetDatum(starts[i]),
		TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())};
		bool		nulls[3] = {false, false, false};

		slots[i] = MakeSingleTupleTableSlot(RelationGetDescr(stale), &TTSOpsHeapTuple);
		ExecStoreHeapTuple(heap_form_tuple(RelationGetDescr(stale), values, nulls), slots[i],
						   true);
	}
	/* many marks (a transaction that touched many windows) fill pages at once */
	heap_multi_insert(stale, slots, count, GetCurrentCommandId(true), 0, NULL);
	for (i = 0; i < count; i++)
	{
		/* the index is on (pipeline_id, window_start): the first two columns */
		Datum		keys[2] = {Int64GetDatum(pipeline_ids[i]), TimestampTzGetDatum(starts[i])};
		bool		nulls[2] = {false, false};

		(void) MicrobatchIndexInsert(index, keys, nulls, &slots[i]->tts_tid, stale,
									 UNIQUE_CHECK_NO, index_info);
		ExecDropSingleTupleTableSlot(slots[i]);
	}
	index_close(index, RowExclusiveLock);
	table_close(stale, RowExclusiveLock);
}

/*
 * InsertStaleMarksSPI stores stale marks with an INSERT statement.  Called
 * just before commit, when portals are closed, it brings its own snapshot.
 */
static void
InsertStaleMarksSPI(int count, int64 *pipeline_ids, TimestampTz *starts)
{
	CatalogSession session;
	bool		pushed = !ActiveSnapshotSet();
	Datum	   *ids = palloc(sizeof(Datum) * count);
	Datum	   *times = palloc(sizeof(Datum) * count);
	Datum		values[2];
	int			i;

	for (i = 0; i < count; i++)
	{
		ids[i] = Int64GetDatum(pipeline_ids[i]);
		times[i] = TimestampTzGetDatum(starts[i]);
	}
	values[0] = PointerGetDatum(construct_array(ids, count, INT8OID, 8, FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_array(times, count, TIMESTAMPTZOID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (pushed)
		PushActiveSnapshot(GetTransactionSnapshot());
	CatalogBegin(&session);
	CatalogExecute(&insert_stale_marks, values, NULL, SPI_OK_INSERT);
	CatalogEnd(&session);
	if (pushed)
		PopActiveSnapshot();
}

/*
 * CatalogMarkAllProcessedStale marks every window of a pipeline that has a
 * state row stale: its source was truncated.
 */
void
CatalogMarkAllProcessedStale(int64 pipeline_id)
{
	CatalogSession session;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(pipeline_id)};

	CatalogBegin(&session);
	CatalogExecuteOnce("INSERT INTO microbatch.stale (pipeline_id, window_start) "
					   "SELECT pipeline_id, window_start FROM microbatch.windows "
					   "WHERE pipeline_id = $1",
					   1, types, values, NULL, SPI_OK_INSERT);
	CatalogEnd(&session);
}

/*
 * CatalogMarkProcessedStale marks stale every window of a pipeline that has
 * a state row and starts in [from, to): rows of a partition that was
 * truncated, dropped, detached or attached fell into them.
 */
void
CatalogMarkProcessedStale(int64 pipeline_id, TimestampTz from, TimestampTz to)
{
	CatalogSession session;
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3] = {Int64GetDatum(pipeline_id), TimestampTzGetDatum(from),
	TimestampTzGetDatum(to)};

	CatalogBegin(&session);
	CatalogExecuteOnce("INSERT INTO microbatch.stale (pipeline_id, window_start) "
					   "SELECT pipeline_id, window_start FROM microbatch.windows "
					   "WHERE pipeline_id = $1 AND window_start >= $2 AND window_start < $3",
					   3, types, values, NULL, SPI_OK_INSERT);
	CatalogEnd(&session);
}

/*
 * CatalogConsumeStaleMarks deletes the marks of the windows starting in
 * [from, to): those this statement's snapshot sees.  Marks committed later
 * stay (track.c explains why this loses nothing).
 */
void
CatalogConsumeStaleMarks(int64 pipeline_id, TimestampTz from, TimestampTz to)
{
	CatalogSession session;
	Datum		values[3] = {Int64GetDatum(pipeline_id), TimestampTzGetDatum(from),
	TimestampTzGetDatum(to)};

	CatalogBegin(&session);
	CatalogExecute(&consume_stale_marks, values, NULL, SPI_OK_DELETE);
	CatalogEnd(&session);
}

/* CatalogHasStaleMarks tells whether a pipeline has any stale mark. */
bool
CatalogHasStaleMarks(int64 pipeline_id)
{
	CatalogSession session;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(pipeline_id)};
	bool		isnull;
	bool		found;

	CatalogBegin(&session);
	CatalogExecuteOnce("SELECT EXISTS (SELECT FROM microbatch.stale WHERE pipeline_id = $1)",
					   1, types, values, NULL, SPI_OK_SELECT);
	found = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	CatalogEnd(&session);
	return found;
}

/*
 * CatalogPruneStaleMarks deletes the marks of windows outside [from, to):
 * before begin_at or after end_at, where no run will consume them; and the
 * marks of pipelines that were dropped while a writer marked them.
 */
void
CatalogPruneStaleMarks(int64 pipeline_id, TimestampTz from, TimestampTz to)
{
	CatalogSession session;
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3] = {Int64GetDatum(pipeline_id), TimestampTzGetDatum(from),
	TimestampTzGetDatum(to)};

	CatalogBegin(&session);
	CatalogExecuteOnce("DELETE FROM microbatch.stale "
					   "WHERE pipeline_id = $1 AND (window_start < $2 OR window_start >= $3)",
					   3, types, values, NULL, SPI_OK_DELETE);
	CatalogExecuteOnce("DELETE FROM microbatch.stale s WHERE NOT EXISTS "
					   "  (SELECT 1 FROM microbatch.pipelines p WHERE p.id = s.pipeline_id)",
					   0, NULL, NULL, NULL, SPI_OK_DELETE);
	CatalogEnd(&session);
}

/*
 * CatalogStaleWindows lists, oldest first, at most limit processed windows
 * (succeeded or partial) in [from, to) that carry a stale mark.  It starts
 * from the marks, so its cost follows their number, not the history's.
 */
List *
CatalogStaleWindows(int64 pipeline_id, TimestampTz from, TimestampTz to, int limit)
{
	if (!CatalogHasTracking())
		return NIL;
	return ReadWindowStates("SELECT w.window_start, w.window_end FROM "
							"  (SELECT DISTINCT s.window_start FROM microbatch.stale s "
							"    WHERE s.pipeline_id = $1 AND s.window_start >= $2 "
							"      AND s.window_start < $3) s "
							"  JOIN microbatch.windows w "
							"    ON w.pipeline_id = $1 AND w.window_start = s.window_start "
							"WHERE w.status IN ('succeeded', 'partial') "
							"ORDER BY w.window_start LIMIT $4",
							pipeline_id, from, to, limit);
}

/* CatalogSourceEventTime returns the column by which a pipeline tracks source, or NULL. */
char *
CatalogSourceEventTime(int64 pipeline_id, Oid source)
{
	CatalogSession session;
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2] = {Int64GetDatum(pipeline_id), ObjectIdGetDatum(source)};
	char	   *event_time = NULL;

	CatalogBegin(&session);
	CatalogExecuteOnce("SELECT event_time FROM microbatch.sources "
					   "WHERE pipeline_id = $1 AND source = $2::pg_catalog.regclass",
					   2, types, values, NULL, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		MemoryContext spi_context = MemoryContextSwitchTo(session.caller_context);

		event_time = GetText(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		MemoryContextSwitchTo(spi_context);
	}
	CatalogEnd(&session);
	return event_time;
}

/* CatalogInsertSource records that a pipeline tracks source. */
void
CatalogInsertSource(int64 pipeline_id, Oid source, const char *event_time)
{
	CatalogSession session;
	Oid			types[3] = {INT8OID, OIDOID, TEXTOID};
	Datum		values[3] = {Int64GetDatum(pipeline_id), ObjectIdGetDatum(source),
	CStringGetTextDatum(event_time)};

	CatalogBegin(&session);
	CatalogExecuteOnce("INSERT INTO microbatch.sources (pipeline_id, source, event_time) "
					   "VALUES ($1, $2::pg_catalog.regclass, $3)",
					   3, types, values, NULL, SPI_OK_INSERT);
	CatalogEnd(&session);
}

/* CatalogDeleteSource removes a pipeline's tracking of one source. */
bool
CatalogDeleteSource(int64 pipeline_id, Oid source)
{
	CatalogSession session;
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2] = {Int64GetDatum(pipeline_id), ObjectIdGetDatum(source)};
	bool		deleted;

	CatalogBegin(&session);
	CatalogExecuteOnce("DELETE FROM microbatch.sources "
					   "WHERE pipeline_id = $1 AND source = $2::pg_catalog.regclass",
					   2, types, values, NULL, SPI_OK_DELETE);
	deleted = SPI_processed > 0;
	CatalogEnd(&session);
	return deleted;
}

/*
 * CatalogDeleteSourcesOfDroppedTables forgets the tracking of the tables the
 * current DROP removed, and the marks of pipelines that track nothing any
 * more; only valid in a sql_drop trigger.
 */
void
CatalogDeleteSourcesOfDroppedTables(void)
{
	CatalogSession session;

	CatalogBegin(&session);
	CatalogExecuteOnce("DELETE FROM microbatch.sources s "
					   "USING pg_catalog.pg_event_trigger_dropped_objects() d "
					   "WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
					   "  AND d.objid = s.source::pg_catalog.oid AND d.objsubid = 0",
					   0, NULL, NULL, NULL, SPI_OK_DELETE);
	CatalogExecuteOnce("DELETE FROM microbatch.stale m WHERE NOT EXISTS "
					   "  (SELECT 1 FROM microbatch.sources s WHERE s.pipeline_id = m.pipeline_id)",
					   0, NULL, NULL, NULL, SPI_OK_DELETE);
	CatalogEnd(&session);
}

/*
 * CatalogReadTrackers lists every tracked source with what its trigger
 * needs, in the caller's context.  It reads with the latest snapshot, not
 * the transaction's: a writer under REPEATABLE READ that locks a source
 * after a run raised its horizon must capture by the new one (horizon.c).
 */
List *
CatalogReadTrackers(MemoryContext context)
{
	CatalogSession session;
	List	   *trackers = NIL;
	MemoryContext spi_context;
	SPIPlanPtr	plan;
	int			rc;
	uint64		i;

	CatalogBegin(&session);
	plan = SPI_prepare("SELECT s.pipeline_id, s.source::pg_catalog.oid, s.event_time, "
					   "       p.batch_size, p.time_zone, p.target::pg_catalog.oid, p.event_time, "
					   "       s.horizon, p.begin_at "
					   "FROM microbatch.sources s JOIN microbatch.pipelines p ON p.id = s.pipeline_id",
					   0, NULL);
	if (plan == NULL)
		elog(ERROR, "could not prepare the read of microbatch.sources: %s",
			 SPI_result_code_string(SPI_result));
	/* not read-only: this transaction's own changes to it must be seen */
	rc = SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(), InvalidSnapshot,
							  false, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading microbatch.sources failed: %s", SPI_result_code_string(rc));
	spi_context = MemoryContextSwitchTo(context);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		CatalogTracker *tracker = palloc0(sizeof(CatalogTracker));
		bool		isnull;

		tracker->pipeline_id = DatumGetInt64(GetDatum(tuple, desc, 1, &isnull));
		tracker->source = DatumGetObjectId(GetDatum(tuple, desc, 2, &isnull));
		tracker->event_time = GetText(tuple, desc, 3);
		tracker->batch_size = GetText(tuple, desc, 4);
		tracker->time_zone = GetText(tuple, desc, 5);
		tracker->target = DatumGetObjectId(GetDatum(tuple, desc, 6, &isnull));
		tracker->target_event_time = GetText(tuple, desc, 7);
		tracker->horizon = DatumGetTimestampTz(GetDatum(tuple, desc, 8, &isnull));
		tracker->begin_at = DatumGetTimestampTz(GetDatum(tuple, desc, 9, &isnull));
		trackers = lappend(trackers, tracker);
	}
	MemoryContextSwitchTo(spi_context);
	CatalogEnd(&session);
	return trackers;
}

/*
 * CatalogSourceHorizons lists the sources a pipeline tracks and the
 * horizon of each, in the caller's context.
 */
List *
CatalogSourceHorizons(int64 pipeline_id, MemoryContext context)
{
	CatalogSession session;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(pipeline_id)};
	List	   *sources = NIL;
	uint64		i;

	CatalogBegin(&session);
	CatalogExecuteOnce("SELECT source::pg_catalog.oid, horizon FROM microbatch.sources "
					   "WHERE pipeline_id = $1",
					   1, types, values, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext spi_context = MemoryContextSwitchTo(context);
		CatalogTracker *tracker = palloc0(sizeof(CatalogTracker));
		bool		isnull;

		tracker->pipeline_id = pipeline_id;
		tracker->source = DatumGetObjectId(GetDatum(SPI_tuptable->vals[i],
													SPI_tuptable->tupdesc, 1, &isnull));
		tracker->horizon = DatumGetTimestampTz(GetDatum(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 2, &isnull));
		sources = lappend(sources, tracker);
		MemoryContextSwitchTo(spi_context);
	}
	CatalogEnd(&session);
	return sources;
}

/*
 * CatalogSetHorizon moves the horizon of every source a pipeline tracks,
 * and tells whether any moved.
 */
bool
CatalogSetHorizon(int64 pipeline_id, TimestampTz horizon)
{
	CatalogSession session;
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2] = {Int64GetDatum(pipeline_id), TimestampTzGetDatum(horizon)};
	bool		moved;

	CatalogBegin(&session);
	CatalogExecuteOnce("UPDATE microbatch.sources SET horizon = $2 "
					   "WHERE pipeline_id = $1 AND horizon <> $2",
					   2, types, values, NULL, SPI_OK_UPDATE);
	moved = SPI_processed > 0;
	CatalogEnd(&session);
	return moved;
}

/*
 * CatalogProcessedInFull finds the end of the last window of a pipeline
 * whose state says it was processed in full (any status but partial:
 * a failed window may still have rows of an earlier success).
 */
bool
CatalogProcessedInFull(int64 pipeline_id, TimestampTz *end)
{
	CatalogSession session;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(pipeline_id)};
	bool		found;
	bool		isnull;

	CatalogBegin(&session);
	CatalogExecuteOnce("SELECT window_end FROM microbatch.windows "
					   "WHERE pipeline_id = $1 AND status <> 'partial' "
					   "ORDER BY window_start DESC LIMIT 1",
					   1, types, values, NULL, SPI_OK_SELECT);
	found = SPI_processed > 0;
	if (found)
		*end = DatumGetTimestampTz(GetDatum(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											&isnull));
	CatalogEnd(&session);
	return found;
}

/* CatalogSetReads stores the relations a pipeline's query reads. */
void
CatalogSetReads(int64 pipeline_id, List *relids)
{
	CatalogSession session;
	Oid			types[2] = {INT8OID, OIDARRAYOID};
	Datum	   *oids = palloc(sizeof(Datum) * Max(list_length(relids), 1));
	Datum		values[2];
	ListCell   *lc;
	int			n = 0;

	foreach(lc, relids)
		oids[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = Int64GetDatum(pipeline_id);
	values[1] = PointerGetDatum(construct_array(oids, n, OIDOID, sizeof(Oid), true,
												TYPALIGN_INT));
	CatalogBegin(&session);
	CatalogExecuteOnce("UPDATE microbatch.pipelines SET reads = $2::pg_catalog.regclass[] "
					   "WHERE id = $1",
					   2, types, values, NULL, SPI_OK_UPDATE);
	CatalogEnd(&session);
}

/*
 * CatalogReadGraph lists every pipeline with its target, the relations its
 * query names, whether it is enabled and its owner, by name.
 */
List *
CatalogReadGraph(MemoryContext context)
{
	CatalogSession session;
	List	   *nodes = NIL;
	MemoryContext spi_context;
	uint64		i;

	CatalogBegin(&session);
	CatalogExecuteOnce("SELECT id, name, target::pg_catalog.oid, reads::pg_catalog.oid[], enabled, "
					   "       owner::pg_catalog.oid "
					   "FROM microbatch.pipelines ORDER BY name",
					   0, NULL, NULL, NULL, SPI_OK_SELECT);
	spi_context = MemoryContextSwitchTo(context);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		CatalogGraphNode *node = palloc0(sizeof(CatalogGraphNode));
		bool		isnull;
		Datum	   *oids;
		int			n;
		int			j;

		node->id = DatumGetInt64(GetDatum(tuple, desc, 1, &isnull));
		node->name = GetText(tuple, desc, 2);
		node->target = DatumGetObjectId(GetDatum(tuple, desc, 3, &isnull));
		deconstruct_array(DatumGetArrayTypeP(GetDatum(tuple, desc, 4, &isnull)), OIDOID,
						  sizeof(Oid), true, TYPALIGN_INT, &oids, NULL, &n);
		for (j = 0; j < n; j++)
			node->reads = lappend_oid(node->reads, DatumGetObjectId(oids[j]));
		node->enabled = DatumGetBool(GetDatum(tuple, desc, 5, &isnull));
		node->owner = DatumGetObjectId(GetDatum(tuple, desc, 6, &isnull));
		nodes = lappend(nodes, node);
	}
	MemoryContextSwitchTo(spi_context);
	CatalogEnd(&session);
	return nodes;
}

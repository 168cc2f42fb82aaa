/*-------------------------------------------------------------------------
 *
 * cron.c
 *	  Scheduling pipelines with pg_cron, when it is installed.
 *
 * pg_cron is a soft dependency: only mb_schedule and mb_unschedule need it,
 * and they say how to install it when it is missing.  A pipeline's job runs
 * "CALL microbatch.run_job('<name>')" in the pipeline's database.  It is
 * created while acting as the pipeline's owner, so pg_cron records the
 * owner as the job's user and runs it with the owner's rights, whoever
 * scheduled it.  Jobs are named 'microbatch:<name>' when pg_cron lives in
 * the pipeline's database, and 'microbatch:<database>:<name>' when it lives
 * in another, reached through cron.schedule_in_database (pg_cron 1.4 and
 * later) by a background worker (cron_call.c), so that pipelines of one
 * owner in two databases never share a job.
 *
 * microbatch.cron_jobs() feeds microbatch.status: the schedule and the last
 * outcome pg_cron recorded in cron.job_run_details for every job of this
 * database's pipelines, including runs that never reached microbatch (a
 * failed connection, a missing privilege).  Any role may give its own job
 * such a name, so mb_schedule keeps the id of the job it made
 * (microbatch.pipelines.cron_job, cleared by mb_unschedule) and the status
 * shows that job only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "catalog.h"
#include "compat.h"
#include "cron.h"
#include "cron_call.h"
#include "pipeline.h"
#include "sandbox.h"

static void CronNotInstalled(void);
static char *CronJobName(const char *pipeline, bool local);

PG_FUNCTION_INFO_V1(microbatch_schedule);
PG_FUNCTION_INFO_V1(microbatch_unschedule);
PG_FUNCTION_INFO_V1(microbatch_schedule_of);
PG_FUNCTION_INFO_V1(microbatch_cron_jobs);
PG_FUNCTION_INFO_V1(microbatch_run_job);

/* CronNotInstalled reports that pg_cron is not there to be used. */
static void
CronNotInstalled(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("pg_cron is not installed in database \"%s\"",
					get_database_name(MyDatabaseId)),
			 errhint("Add pg_cron to shared_preload_libraries, set cron.database_name to this database (or to the one where you CREATE EXTENSION pg_cron), restart, and CREATE EXTENSION pg_cron there.")));
}

/*
 * CronJobName is the name of a pipeline's pg_cron job: qualified by the
 * database when pg_cron lives in another one.
 */
static char *
CronJobName(const char *pipeline, bool local)
{
	if (local)
		return psprintf("microbatch:%s", pipeline);
	return psprintf("microbatch:%s:%s", get_database_name(MyDatabaseId), pipeline);
}

/*
 * CronUnschedule removes the pipeline's job, and says whether there was
 * one.  With missing_ok, a missing pg_cron is no error, and neither is a
 * cron database out of reach (a warning says so): there is no job to keep.
 */
bool
CronUnschedule(Pipeline *pipeline, bool missing_ok)
{
	CronRequest *request;

	if (CronIsLocal() && !CronInstalled())
	{
		if (missing_ok)
			return false;
		CronNotInstalled();
	}
	request = CronRequestNew(CRON_UNSCHEDULE, pipeline->name, pipeline->owner);
	CronRequestSetArg(request, 0, CronJobName(pipeline->name, request->in_session));
	CronRequestSetArg(request, 1, get_database_name(MyDatabaseId));
	if (!CronRequestRun(request, missing_ok))
		return false;
	CatalogSetCronJob(pipeline->id, false, 0);
	return !request->value_isnull && request->value != 0;
}

/*
 * mb_schedule(name, schedule) creates or replaces the pipeline's pg_cron job
 * and returns its id.
 */
Datum
microbatch_schedule(PG_FUNCTION_ARGS)
{
	Pipeline   *pipeline;
	CronRequest *request;
	char	   *command;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("schedule must not be null")));
	/* a job for a pipeline that cannot run would only fail every time */
	pipeline = PipelineOpen(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
							PIPELINE_RUN);
	if (CronIsLocal() && !CronInstalled())
		CronNotInstalled();

	/* microbatch.run_job records a run that could not start, then fails */
	command = psprintf("CALL microbatch.run_job(%s)", quote_literal_cstr(pipeline->name));
	request = CronRequestNew(CRON_SCHEDULE, pipeline->name, pipeline->owner);
	CronRequestSetArg(request, 0, CronJobName(pipeline->name, request->in_session));
	CronRequestSetArg(request, 1, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	CronRequestSetArg(request, 2, command);
	CronRequestSetArg(request, 3, get_database_name(MyDatabaseId));
	(void) CronRequestRun(request, false);
	if (request->value_isnull)
		elog(ERROR, "pg_cron returned no job id");
	/* microbatch.status shows this job, never another of the same name */
	CatalogSetCronJob(pipeline->id, true, request->value);
	PG_RETURN_INT64(request->value);
}

/* mb_unschedule(name) removes the pipeline's job; false if it had none. */
Datum
microbatch_unschedule(PG_FUNCTION_ARGS)
{
	Pipeline   *pipeline = PipelineOpen(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
										PIPELINE_MANAGE);

	PG_RETURN_BOOL(CronUnschedule(pipeline, false));
}

/*
 * microbatch.schedule_of(name) returns the cron schedule of a pipeline's
 * job in this database's pg_cron, or NULL (kept for 0.2's status view):
 * the job of that name that runs in this database as the pipeline's owner,
 * not another role's of the same name.
 */
Datum
microbatch_schedule_of(PG_FUNCTION_ARGS)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		isnull;
	Datum		schedule = (Datum) 0;
	Sandbox		sandbox;
	int			rc;

	if (!CronInstalled())
		PG_RETURN_NULL();
	values[0] = CStringGetTextDatum(psprintf("microbatch:%s", text_to_cstring(PG_GETARG_TEXT_PP(0))));
	values[1] = PG_GETARG_DATUM(0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SandboxEnterTrusted(&sandbox, GetUserId());
	rc = SPI_execute_with_args("SELECT j.schedule FROM cron.job j, microbatch.pipelines p"
							   " WHERE j.jobname OPERATOR(pg_catalog.=) $1 AND p.name OPERATOR(pg_catalog.=) $2"
							   "   AND j.database OPERATOR(pg_catalog.=) pg_catalog.current_database()"
							   "   AND j.username OPERATOR(pg_catalog.=) pg_catalog.pg_get_userbyid(p.owner)",
							   2, types, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read cron.job: %s", SPI_result_code_string(rc));
	isnull = true;
	if (SPI_processed > 0)
	{
		schedule = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			schedule = SPI_datumTransfer(schedule, false, -1);
	}
	SandboxLeave(&sandbox);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(schedule);
}

/*
 * microbatch.cron_jobs() returns (pipeline, schedule, last_job_status,
 * last_job_message, jobid) for the pg_cron jobs named like those of this
 * database's pipelines, run by roles the caller is a member of, read as a
 * superuser (pg_cron shows each role only its own jobs).  Any role may
 * name a job so: microbatch.status keeps the one whose id mb_schedule
 * stored.  Without pg_cron it returns nothing; when pg_cron cannot be
 * reached it warns and returns nothing.
 */
Datum
microbatch_cron_jobs(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CronRequest *request;
	Size		pos = 0;
	int			row;

	InitMaterializedSRF(fcinfo, 0);
	if (CronIsLocal() && !CronInstalled())
		return (Datum) 0;
	request = CronRequestNew(CRON_JOBS, NULL, InvalidOid);
	CronRequestSetArg(request, 0, get_database_name(MyDatabaseId));
	CronRequestSetArg(request, 1, CronJobName("", request->in_session));
	if (!CronRequestRun(request, true))
		return (Datum) 0;
	for (row = 0; row < request->nrows; row++)
	{
		Datum		values[CRON_JOB_COLUMNS];
		bool		nulls[CRON_JOB_COLUMNS];
		int			col;

		for (col = 0; col < CRON_JOB_COLUMNS; col++)
		{
			nulls[col] = request->result[pos++] == 0;
			/* the last column is the job id, the others text */
			values[col] = nulls[col] ? (Datum) 0 : col == CRON_JOB_COLUMNS - 1 ?
				Int64GetDatum(strtoi64(request->result + pos, NULL, 10)) :
				CStringGetTextDatum(request->result + pos);
			pos += strlen(request->result + pos) + 1;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * CALL microbatch.run_job(name) is what a pipeline's pg_cron job runs: it
 * runs mb_run(name) and, when that fails, records why in the run's row, or
 * in a new failed run row when the run could not even start (no free worker
 * slot, a disabled pipeline, a dropped target), commits that, and fails
 * with the same error, so that pg_cron's history shows it too.  Called
 * inside a transaction block it cannot commit, and is just mb_run.
 */
Datum
microbatch_run_job(PG_FUNCTION_ARGS)
{
	char	   *name;
	Pipeline   *pipeline;
	bool		nonatomic;
	TimestampTz since = GetCurrentTimestamp();
	MemoryContext context = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile error = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	/* only who may manage the pipeline may add to its history */
	pipeline = PipelineOpen(name, PIPELINE_MANAGE);
	nonatomic = fcinfo->context && IsA(fcinfo->context, CallContext) &&
		!castNode(CallContext, fcinfo->context)->atomic;

	values[0] = CStringGetTextDatum(pipeline->name);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(context);
	PG_TRY();
	{
		int			rc;
		char	   *sql;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* mb_run is in the extension's schema */
		rc = SPI_execute("SELECT e.extnamespace::pg_catalog.regnamespace::pg_catalog.text"
						 " FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'microbatch'",
						 true, 1);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not find the schema of extension microbatch");
		sql = psprintf("SELECT * FROM %s.mb_run($1)",
					   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		rc = SPI_execute_with_args(sql, 1, types, values, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "mb_run failed: %s", SPI_result_code_string(rc));
		if (SPI_finish() != SPI_OK_FINISH)
			elog(ERROR, "SPI_finish failed");
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(context);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(context);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(context);
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();

	if (error == NULL)
		PG_RETURN_VOID();
	if (nonatomic)
	{
		(void) CatalogRecordRunError(pipeline->id, since,
									 error->detail ? psprintf("%s; %s", error->message, error->detail)
									 : error->message);
		if (SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		MicrobatchCommit();
		if (SPI_finish() != SPI_OK_FINISH)
			elog(ERROR, "SPI_finish failed");
	}
	ReThrowError(error);
	PG_RETURN_VOID();
}

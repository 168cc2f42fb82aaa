/*-------------------------------------------------------------------------
 *
 * cron.c
 *	  Scheduling pipelines with pg_cron, when it is installed.
 *
 * pg_cron is a soft dependency: only mb_schedule and mb_unschedule need it,
 * and they say how to install it when it is missing.  A pipeline's job is
 * named 'microbatch:<name>' and runs "SELECT * FROM mb_run('<name>')".  It
 * is created while this session acts as the pipeline's owner, so pg_cron
 * records the owner as the job's user and runs it with the owner's rights,
 * whoever scheduled it.  pg_cron itself must live in this database (the one
 * named by cron.database_name).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "cron.h"
#include "sandbox.h"
#include "pipeline.h"

static bool CronInstalled(void);
static char *CronJobName(Pipeline *pipeline);
static Datum CronCallAsOwner(Pipeline *pipeline, const char *sql, int nargs, Oid *types,
							 Datum *values, bool *isnull);

PG_FUNCTION_INFO_V1(microbatch_schedule);
PG_FUNCTION_INFO_V1(microbatch_unschedule);
PG_FUNCTION_INFO_V1(microbatch_schedule_of);

/* CronInstalled tells whether pg_cron is installed in this database. */
static bool
CronInstalled(void)
{
	return OidIsValid(get_extension_oid("pg_cron", true));
}

/* CronJobName is the name of a pipeline's pg_cron job. */
static char *
CronJobName(Pipeline *pipeline)
{
	return psprintf("microbatch:%s", pipeline->name);
}

/*
 * CronCallAsOwner runs one pg_cron statement as the pipeline's owner and
 * returns the first column of its first row (*isnull when there is none).
 */
static Datum
CronCallAsOwner(Pipeline *pipeline, const char *sql, int nargs, Oid *types, Datum *values,
				bool *isnull)
{
	Sandbox		sandbox;
	Datum		result = (Datum) 0;
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SandboxEnterTrusted(&sandbox, pipeline->owner);
	rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "pg_cron call \"%s\" failed: %s", sql, SPI_result_code_string(rc));
	*isnull = true;
	if (SPI_processed > 0)
	{
		/* bigint and bool: passed by value, nothing to copy out */
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
	}
	SandboxLeave(&sandbox);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return result;
}

/*
 * CronUnschedule removes the pipeline's job, and says whether there was
 * one.  With missing_ok, a missing pg_cron is no error: there is no job.
 */
bool
CronUnschedule(Pipeline *pipeline, bool missing_ok)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	Datum		found;

	if (!CronInstalled())
	{
		if (missing_ok)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_cron is not installed in database \"%s\"",
						get_database_name(MyDatabaseId)),
				 errhint("Add pg_cron to shared_preload_libraries, set cron.database_name to this database, restart, and CREATE EXTENSION pg_cron.")));
	}
	values[0] = CStringGetTextDatum(CronJobName(pipeline));
	found = CronCallAsOwner(pipeline,
							"SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = $1",
							1, types, values, &isnull);
	return !isnull && DatumGetBool(found);
}

/*
 * mb_schedule(name, schedule) creates or replaces the pipeline's pg_cron job
 * and returns its id.
 */
Datum
microbatch_schedule(PG_FUNCTION_ARGS)
{
	Pipeline   *pipeline;
	char	   *command;
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		isnull;
	Datum		jobid;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("schedule must not be null")));
	/* a job for a pipeline that cannot run would only fail every time */
	pipeline = PipelineOpen(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
							PIPELINE_RUN);
	if (!CronInstalled())
		(void) CronUnschedule(pipeline, false); /* reports the missing pg_cron */

	command = psprintf("SELECT * FROM %s.mb_run(%s)",
					   quote_identifier(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid))),
					   quote_literal_cstr(pipeline->name));
	values[0] = CStringGetTextDatum(CronJobName(pipeline));
	values[1] = PG_GETARG_DATUM(1);
	values[2] = CStringGetTextDatum(command);
	jobid = CronCallAsOwner(pipeline, "SELECT cron.schedule($1, $2, $3)", 3, types, values,
							&isnull);
	PG_RETURN_INT64(DatumGetInt64(jobid));
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
 * job, or NULL: the microbatch.status view shows it.
 */
Datum
microbatch_schedule_of(PG_FUNCTION_ARGS)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	Datum		schedule = (Datum) 0;
	Sandbox		sandbox;
	int			rc;

	if (!CronInstalled())
		PG_RETURN_NULL();
	values[0] = CStringGetTextDatum(psprintf("microbatch:%s", text_to_cstring(PG_GETARG_TEXT_PP(0))));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SandboxEnterTrusted(&sandbox, GetUserId());
	rc = SPI_execute_with_args("SELECT schedule FROM cron.job WHERE jobname = $1",
							   1, types, values, NULL, true, 1);
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

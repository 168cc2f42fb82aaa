/*-------------------------------------------------------------------------
 *
 * cron_call.c
 *	  Calls to pg_cron, from whichever database of the cluster.
 *
 * pg_cron keeps its jobs in one database of the cluster, the one named by
 * cron.database_name.  When the pipeline lives there, every call is made in
 * this session, inside the caller's transaction.  From any other database
 * no session can reach pg_cron's tables, so the call is made by a
 * short-lived background worker connected to the cron database: the
 * session puts the request (a CronRequest) in a DSM segment, starts the
 * worker, waits for it to exit and re-raises any error it reports.  The
 * worker's changes commit on their own (a rolled-back mb_schedule keeps the
 * job).
 *
 * The worker connects as the bootstrap superuser, with search_path fixed to
 * pg_catalog, pg_temp, runs only the fixed, schema-qualified statements
 * below with values as parameters, and creates jobs only after switching to
 * the pipeline's owner, whose right to manage the pipeline the session has
 * already checked.  Missing grants are found before anything is tried, and
 * the error shows the GRANT that is missing.
 *
 * Every call first removes the jobs of databases dropped since (see
 * CronSweepDroppedDatabases), unless the caller's transaction is read-only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
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
#include "cron_call.h"
#include "pipeline.h"
#include "sandbox.h"

static const char *CronDatabase(void);
static void CronExecute(CronRequest *request);
static void CronCheckGrants(CronRequest *request);
static void CronPackField(CronRequest *request, const char *value);
static void CronCopyText(char *dest, const char *value);

/* CronInstalled tells whether pg_cron is installed in this database. */
bool
CronInstalled(void)
{
	return OidIsValid(get_extension_oid("pg_cron", true));
}

/*
 * CronDatabase is the database pg_cron keeps its jobs in, or NULL when
 * pg_cron is not loaded (its setting does not exist).
 */
static const char *
CronDatabase(void)
{
	return GetConfigOption("cron.database_name", true, false);
}

/*
 * CronIsLocal tells whether pg_cron's tables are in this database, so that
 * this session can call it directly.
 */
bool
CronIsLocal(void)
{
	const char *database;

	if (CronInstalled())
		return true;
	database = CronDatabase();
	return database == NULL || strcmp(database, get_database_name(MyDatabaseId)) == 0;
}

/* CronRequestNew starts a request about a pipeline (or none). */
CronRequest *
CronRequestNew(CronOp op, const char *pipeline, Oid owner)
{
	CronRequest *request = palloc0(sizeof(CronRequest));
	const char *database = CronDatabase();

	request->op = op;
	request->owner = owner;
	request->caller = GetUserId();
	request->in_session = CronIsLocal();
	/* a read-only caller (a standby, or just reading the status) writes nothing */
	request->sweep = !XactReadOnly && !RecoveryInProgress();
	strlcpy(request->database,
			request->in_session ? get_database_name(MyDatabaseId) : database, NAMEDATALEN);
	strlcpy(request->pipeline, pipeline ? pipeline : "", NAMEDATALEN);
	return request;
}

/* CronRequestSetArg sets one text argument, refusing one too long. */
void
CronRequestSetArg(CronRequest *request, int i, const char *value)
{
	if (strlen(value) >= CRON_ARG_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("pg_cron argument \"%.40s...\" is too long", value)));
	strlcpy(request->args[i], value, CRON_ARG_SIZE);
}

/*
 * CronRequestRun makes the call: in this session when pg_cron is here, else
 * through a worker in the cron database, whose error it re-raises.  With
 * soft, a call that cannot be made is a WARNING and false, not an ERROR
 * (removing jobs while dropping things must not block the drop).
 */
bool
CronRequestRun(CronRequest *request, bool soft)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	dsm_segment *segment;
	CronRequest *shared;

	if (request->in_session)
	{
		/* as in the worker: nothing the caller's search_path holds is used */
		int			nestlevel = NewGUCNestLevel();

		(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		CronExecute(request);
		AtEOXact_GUC(false, nestlevel);
		return true;
	}

	segment = dsm_create(sizeof(CronRequest), 0);
	shared = dsm_segment_address(segment);
	memcpy(shared, request, sizeof(CronRequest));

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "microbatch");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "MicrobatchCronWorkerMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "microbatch pg_cron call from %s",
			 get_database_name(MyDatabaseId));
	snprintf(worker.bgw_type, BGW_MAXLEN, "microbatch pg_cron call");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(segment));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		dsm_detach(segment);
		ereport(soft ? WARNING : ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a background worker to reach pg_cron in database \"%s\"",
						request->database),
				 errdetail("Every background worker slot is taken."),
				 errhint("Raise max_worker_processes.")));
		return false;
	}
	status = WaitForBackgroundWorkerShutdown(handle);
	if (status != BGWH_STOPPED)
		ereport(ERROR,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("the postmaster exited during a pg_cron call")));
	pg_read_barrier();
	memcpy(request, shared, sizeof(CronRequest));
	dsm_detach(segment);

	if (request->failed)
	{
		ereport(soft ? WARNING : ERROR,
				(errcode(request->sqlerrcode),
				 errmsg_internal("%s", request->message),
				 request->detail[0] ? errdetail_internal("%s", request->detail) : 0,
				 request->hint[0] ? errhint("%s", request->hint) : 0,
				 errcontext("pg_cron call in database \"%s\"", request->database)));
		return false;
	}
	if (!request->done)
	{
		ereport(soft ? WARNING : ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not reach pg_cron in database \"%s\"", request->database),
				 errdetail("The background worker connecting to it exited early; the server log says why."),
				 errhint("cron.database_name must name an existing database.")));
		return false;
	}
	return true;
}

/*
 * CronCheckGrants fails, showing the exact GRANT, when the pipeline's owner
 * may not create its job: pg_cron needs USAGE on schema cron, and to
 * schedule into another database EXECUTE on cron.schedule_in_database,
 * which pg_cron revokes from PUBLIC; pg_cron runs the job by logging in as
 * the owner, which needs LOGIN.
 */
static void
CronCheckGrants(CronRequest *request)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1];
	bool		isnull;
	bool		usage;
	bool		exists;
	bool		execute;
	bool		login;
	bool		other_database = strcmp(request->args[3], request->database) != 0;
	char	   *role = GetUserNameFromId(request->owner, false);
	const char *quoted = quote_identifier(role);
	int			rc;

	values[0] = ObjectIdGetDatum(request->owner);
	rc = SPI_execute_with_args("SELECT pg_catalog.has_schema_privilege($1, 'cron', 'USAGE'),"
							   " f.p IS NOT NULL,"
							   " f.p IS NOT NULL AND pg_catalog.has_function_privilege($1, f.p, 'EXECUTE'),"
							   " (SELECT r.rolcanlogin FROM pg_catalog.pg_roles r WHERE r.oid = $1)"
							   " FROM (SELECT pg_catalog.to_regprocedure('cron.schedule_in_database(text,text,text,text,text,boolean)') AS p) f",
							   1, types, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not check the grants of pg_cron: %s", SPI_result_code_string(rc));
	usage = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	exists = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	execute = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	login = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));

	if (!login)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" cannot run pg_cron jobs", role),
				 errdetail("pg_cron runs the job of pipeline \"%s\" as its owner, and role \"%s\" may not log in.",
						   request->pipeline, role),
				 errhint("ALTER ROLE %s LOGIN;", quoted)));
	if (other_database && !exists)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pg_cron in database \"%s\" cannot schedule jobs in other databases",
						request->database),
				 errdetail("cron.schedule_in_database appeared in pg_cron 1.4."),
				 errhint("Update pg_cron (ALTER EXTENSION pg_cron UPDATE in database \"%s\"), or use pipelines in that database.",
						 request->database)));
	if (!usage || (other_database && !execute))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" may not create pg_cron jobs", role),
				 errdetail("mb_schedule creates the job of pipeline \"%s\" as its owner, role \"%s\", in pg_cron's database \"%s\".",
						   request->pipeline, role, request->database),
				 other_database ?
				 errhint("As a superuser, in database \"%s\": GRANT USAGE ON SCHEMA cron TO %s; GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text,text,text,text,text,boolean) TO %s;",
						 request->database, quoted, quoted) :
				 errhint("As a superuser, in database \"%s\": GRANT USAGE ON SCHEMA cron TO %s;",
						 request->database, quoted)));
}

/* CronCopyText copies a message, clipped to whole characters. */
static void
CronCopyText(char *dest, const char *value)
{
	int			len = value ? pg_mbcliplen(value, strlen(value), CRON_TEXT_SIZE - 1) : 0;

	memcpy(dest, value ? value : "", len);
	dest[len] = '\0';
}

/* CronPackField appends one nullable text field to a request's rows. */
static void
CronPackField(CronRequest *request, const char *value)
{
	Size		len = value ? pg_mbcliplen(value, strlen(value), CRON_TEXT_SIZE - 1) : 0;

	if (request->result_used + len + 2 > CRON_RESULT_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many pg_cron jobs to report at once")));
	request->result[request->result_used++] = value ? 1 : 0;
	memcpy(request->result + request->result_used, value ? value : "", len);
	request->result_used += len;
	request->result[request->result_used++] = '\0';
}

/*
 * CronSweepDroppedDatabases removes the jobs microbatch made for databases
 * that no longer exist, which pg_cron would start, and fail, every time
 * forever: DROP DATABASE fires no trigger that could remove them, so every
 * call microbatch makes to pg_cron sweeps them first.  They may be any
 * role's jobs: deleted as a superuser, only those named 'microbatch:...'.
 * A database renamed away is gone too.
 */
static void
CronSweepDroppedDatabases(void)
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			rc;

	GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	rc = SPI_execute("DELETE FROM cron.job j"
					 " WHERE pg_catalog.starts_with(j.jobname, 'microbatch:')"
					 "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_database d"
					 "                    WHERE d.datname OPERATOR(pg_catalog.=) j.database)",
					 false, 0);
	SetUserIdAndSecContext(saved_userid, saved_sec_context);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "could not remove the pg_cron jobs of dropped databases: %s",
			 SPI_result_code_string(rc));
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg("removed %llu pg_cron jobs of pipelines in databases that no longer exist",
						(unsigned long long) SPI_processed)));
}

/*
 * CronExecute makes the call a request asks for, in the current
 * transaction, through SPI, and stores the answer in the request.
 */
static void
CronExecute(CronRequest *request)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	Oid			saved_userid;
	int			saved_sec_context;
	int			rc;
	uint64		i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!CronInstalled())
	{
		if (request->op == CRON_SCHEDULE)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("pg_cron is not installed in database \"%s\"", request->database),
					 errhint("CREATE EXTENSION pg_cron in database \"%s\" (cron.database_name).",
							 request->database)));
		/* nothing scheduled, nothing to remove or show */
		request->value_isnull = true;
		request->done = true;
		if (SPI_finish() != SPI_OK_FINISH)
			elog(ERROR, "SPI_finish failed");
		return;
	}

	if (request->sweep && !RecoveryInProgress())
		CronSweepDroppedDatabases();
	switch (request->op)
	{
		case CRON_SCHEDULE:
			CronCheckGrants(request);
			values[0] = CStringGetTextDatum(request->args[0]);
			values[1] = CStringGetTextDatum(request->args[1]);
			values[2] = CStringGetTextDatum(request->args[2]);
			values[3] = CStringGetTextDatum(request->args[3]);
			/* pg_cron makes the job the current user's: the owner's */
			GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
			SetUserIdAndSecContext(request->owner,
								   saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
			if (strcmp(request->args[3], request->database) == 0)
				rc = SPI_execute_with_args("SELECT cron.schedule($1, $2, $3)",
										   3, types, values, NULL, false, 1);
			else
				rc = SPI_execute_with_args("SELECT cron.schedule_in_database($1, $2, $3, $4)",
										   4, types, values, NULL, false, 1);
			SetUserIdAndSecContext(saved_userid, saved_sec_context);
			break;
		case CRON_UNSCHEDULE:
			values[0] = CStringGetTextDatum(request->args[0]);
			values[1] = CStringGetTextDatum(request->args[1]);
			values[2] = CStringGetTextDatum(GetUserNameFromId(request->owner, false));
			/* the caller's right to manage the pipeline has been checked */
			GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
			SetUserIdAndSecContext(request->in_session ? request->owner : saved_userid,
								   saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
			rc = SPI_execute_with_args("SELECT pg_catalog.bool_or(cron.unschedule(j.jobid)) FROM cron.job j"
									   " WHERE j.jobname = $1 AND j.database = $2 AND j.username = $3",
									   3, types, values, NULL, false, 0);
			SetUserIdAndSecContext(saved_userid, saved_sec_context);
			break;
		case CRON_JOBS:
			values[0] = CStringGetTextDatum(request->args[0]);
			values[1] = CStringGetTextDatum(request->args[1]);
			types[2] = OIDOID;
			values[2] = ObjectIdGetDatum(request->caller);
			/*
			 * pg_cron shows each role its own jobs only: read them as a
			 * superuser, and keep those of roles the caller is a member of,
			 * as microbatch.status does
			 */
			GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
			SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
								   saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
			rc = SPI_execute_with_args("SELECT pg_catalog.substr(j.jobname, pg_catalog.length($2) + 1), j.schedule,"
									   "       d.status, d.return_message, j.jobid"
									   "  FROM cron.job j"
									   "  LEFT JOIN LATERAL (SELECT r.status, r.return_message FROM cron.job_run_details r"
									   "                      WHERE r.jobid OPERATOR(pg_catalog.=) j.jobid"
									   "                      ORDER BY r.runid DESC LIMIT 1) d ON true"
									   " WHERE j.database OPERATOR(pg_catalog.=) $1"
									   "   AND pg_catalog.starts_with(j.jobname, $2)"
									   "   AND pg_catalog.pg_has_role($3, (SELECT r.oid FROM pg_catalog.pg_roles r"
									   "                                    WHERE r.rolname OPERATOR(pg_catalog.=) j.username), 'MEMBER')",
									   3, types, values, NULL, true, 0);
			SetUserIdAndSecContext(saved_userid, saved_sec_context);
			break;
		default:
			elog(ERROR, "unknown pg_cron request %d", (int) request->op);
	}
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "pg_cron call failed: %s", SPI_result_code_string(rc));

	request->value_isnull = true;
	if (request->op == CRON_JOBS)
	{
		for (i = 0; i < SPI_processed; i++)
		{
			int			col;

			for (col = 1; col <= CRON_JOB_COLUMNS; col++)
				CronPackField(request, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, col));
			request->nrows++;
		}
	}
	else if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		request->value_isnull = isnull;
		if (!isnull)
			request->value = request->op == CRON_SCHEDULE ? DatumGetInt64(value)
				: (int64) DatumGetBool(value);
	}
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	request->done = true;
}

/*
 * MicrobatchCronWorkerMain makes one request in the cron database and
 * reports its answer, or its error, in the request's DSM segment.
 */
void
MicrobatchCronWorkerMain(Datum main_arg)
{
	dsm_segment *segment;
	CronRequest *request;
	MemoryContext context;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	segment = dsm_attach(DatumGetUInt32(main_arg));
	if (segment == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not map the dynamic shared memory segment of a pg_cron call")));
	request = dsm_segment_address(segment);

	BackgroundWorkerInitializeConnection(request->database, NULL, 0);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	pgstat_report_appname("microbatch pg_cron call");

	StartTransactionCommand();
	context = CurrentMemoryContext;
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		CronExecute(request);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *error;

		MemoryContextSwitchTo(context);
		error = CopyErrorData();
		FlushErrorState();
		request->failed = true;
		request->done = false;
		request->sqlerrcode = error->sqlerrcode;
		CronCopyText(request->message, error->message);
		CronCopyText(request->detail, error->detail);
		CronCopyText(request->hint, error->hint);
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	pg_write_barrier();
	dsm_detach(segment);
	proc_exit(0);
}

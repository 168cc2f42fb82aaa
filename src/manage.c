/*-------------------------------------------------------------------------
 *
 * manage.c
 *	  The SQL entry points that register, validate, alter, reset and drop
 *	  pipelines and track their sources (track.c does that work).
 *
 * Validation happens entirely before anything is written, so every bad
 * input leaves the catalog as it was.  The query is checked by
 * PipelineCheckQuery with the caller's search_path, which is stored with
 * the pipeline and re-applied at run time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parse_coerce.h"
#include "parser/parser.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "catalog.h"
#include "coalesce_rules.h"
#include "cron.h"
#include "deps.h"
#include "pipeline.h"
#include "refresh.h"
#include "runlock.h"
#include "sandbox.h"
#include "targets.h"
#include "track.h"

#define MAX_PIPELINE_NAME 63

static void CheckName(const char *name);
static void CheckTarget(Oid target, Oid owner);
static void CheckOptions(Pipeline *pipeline);
static void CheckOnError(const char *on_error);
static Query *AnalyseQuery(Pipeline *pipeline);
static void CheckStoredCoalesce(Pipeline *pipeline);
static Pipeline *OpenTracked(FunctionCallInfo fcinfo);

PG_FUNCTION_INFO_V1(microbatch_register);
PG_FUNCTION_INFO_V1(microbatch_alter);
PG_FUNCTION_INFO_V1(microbatch_reset);
PG_FUNCTION_INFO_V1(microbatch_drop);
PG_FUNCTION_INFO_V1(microbatch_track);
PG_FUNCTION_INFO_V1(microbatch_untrack);

/* CheckName enforces 1..63 characters of [a-z0-9_], a letter first. */
static void
CheckName(const char *name)
{
	const char *p;
	bool		ok = name[0] >= 'a' && name[0] <= 'z' && strlen(name) <= MAX_PIPELINE_NAME;

	for (p = name; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid pipeline name \"%s\"", name),
				 errdetail("A pipeline name has 1 to 63 characters: lower-case letters, digits and underscores, starting with a letter.")));
}

/* CheckTarget requires a table the owner may delete from and insert into. */
static void
CheckTarget(Oid target, Oid owner)
{
	char		relkind = get_rel_relkind(target);
	AclResult	acl;

	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("target table with OID %u does not exist", target)));
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("target \"%s\" is not a table", get_rel_name(target)),
				 errdetail("A pipeline writes into a plain or partitioned table.")));
	if (get_rel_persistence(target) == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("target \"%s\" is a temporary table", get_rel_name(target)),
				 errdetail("Background workers, pg_cron jobs and later sessions cannot see it.")));
	acl = pg_class_aclcheck(target, owner, ACL_INSERT | ACL_DELETE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, get_rel_name(target));
}

/*
 * AnalyseQuery analyses a pipeline's checked query again, for what the
 * dependency graph and tracking read from it.
 */
static Query *
AnalyseQuery(Pipeline *pipeline)
{
	Oid			param_types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	char	   *text;

	return AnalyseSelect(pipeline->query, "query", param_types, NULL, &text);
}

/*
 * CheckStoredCoalesce checks that the pipeline's stored query may coalesce
 * windows (coalesce_rules.c), analysed as its owner runs it.
 */
static void
CheckStoredCoalesce(Pipeline *pipeline)
{
	Sandbox		sandbox;
	Query	   *analysed;

	(void) PipelineQueryColumns(pipeline);
	SandboxEnterPipeline(&sandbox, pipeline->owner, pipeline->search_path, NULL);
	analysed = AnalyseQuery(pipeline);
	SandboxLeave(&sandbox);
	CoalesceRulesCheck(pipeline, analysed, DepsQueryRelations(analysed));
}

/* CheckOnError accepts 'stop' and 'continue'. */
static void
CheckOnError(const char *on_error)
{
	if (strcmp(on_error, "stop") != 0 && strcmp(on_error, "continue") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown on_error \"%s\"", on_error),
				 errhint("Use 'stop' or 'continue'.")));
}

/* CheckOptions validates the options that mb_register and mb_alter share. */
static void
CheckOptions(Pipeline *p)
{
	if (p->has_end_at)
		GridCheckFinite(p->end_at, "end_at");
	if (p->has_end_at && p->begin_at >= p->end_at)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("begin_at %s is not before end_at %s",
						pstrdup(timestamptz_to_str(p->begin_at)),
						pstrdup(timestamptz_to_str(p->end_at)))));
	if (p->lookback < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lookback must not be negative, got %d", p->lookback)));
	if (p->max_parallel < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_parallel must be at least 1, got %d", p->max_parallel)));
}

/*
 * mb_register(name, target, event_time, query, batch_size, begin_at,
 * lookback, end_at, time_zone, max_parallel, on_error, track,
 * coalesce_windows) validates and stores a pipeline, owned by the calling
 * role, with the relations its query reads (deps.c), with track the sources
 * it filters by $1/$2 (track.c), and with coalesce_windows, which its query
 * must allow (coalesce_rules.c), its windows run in chunks (coalesce.c).
 * Before 0.3 the function had eleven arguments.
 */
Datum
microbatch_register(PG_FUNCTION_ARGS)
{
	Pipeline   *p = palloc0(sizeof(Pipeline));
	List	   *columns;
	int			arg;
	char	   *on_error;
	Query	   *analysed;
	List	   *reads;

	PipelineCheckWritable();
	for (arg = 1; arg <= 10; arg++)
		if (arg != 7 && PG_ARGISNULL(arg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %s of mb_register must not be null",
							(const char *[]) {"name", "target", "event_time", "query",
							 "batch_size", "begin_at", "lookback", "end_at",
							 "time_zone", "max_parallel", "on_error"}[arg])));

	p->name = RequiredTextArg(fcinfo, 0, "pipeline name");
	p->owner = GetUserId();
	p->target = PG_GETARG_OID(1);
	p->event_time = RequiredTextArg(fcinfo, 2, "event_time");
	p->query = RequiredTextArg(fcinfo, 3, "query");
	p->begin_at = PG_GETARG_TIMESTAMPTZ(5);
	p->lookback = PG_GETARG_INT32(6);
	p->has_end_at = !PG_ARGISNULL(7);
	p->end_at = p->has_end_at ? PG_GETARG_TIMESTAMPTZ(7) : DT_NOEND;
	p->max_parallel = PG_GETARG_INT32(9);
	on_error = RequiredTextArg(fcinfo, 10, "on_error");
	p->continue_on_error = strcmp(on_error, "continue") == 0;
	p->enabled = true;
	p->allow_reset = true;
	p->search_path = GetConfigOptionByName("search_path", NULL, false);
	/* the last argument since 0.3; other options may come before it */
	p->coalesce_windows = PG_NARGS() > 12 && !PG_ARGISNULL(12) && PG_GETARG_BOOL(12);

	CheckName(p->name);
	if (CatalogReadPipeline(p->name) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("pipeline \"%s\" already exists", p->name),
				 errhint("Choose another name, or change the pipeline with mb_alter.")));
	CheckTarget(p->target, p->owner);
	p->time_zone = GridCanonicalZone(RequiredTextArg(fcinfo, 8, "time_zone"));
	GridInit(&p->grid, RequiredTextArg(fcinfo, 4, "batch_size"), p->time_zone);
	p->batch_size = pstrdup(p->grid.batch_size);
	(void) PipelineEventTimeType(p);
	GridCheckFinite(p->begin_at, "begin_at");
	CheckOptions(p);
	CheckOnError(on_error);
	p->query = PipelineCheckQuery(p->query, p, &columns);
	analysed = AnalyseQuery(p);
	reads = DepsQueryRelations(analysed);
	if (p->coalesce_windows)
		CoalesceRulesCheck(p, analysed, reads);
	DepsCheck(p, reads);

	p->begin_at = GridFloor(&p->grid, p->begin_at);
	TargetsCheckOverlap(p);
	p->id = CatalogInsertPipeline(p);
	DepsStore(p, reads);
	if (PG_NARGS() > 11 && !PG_ARGISNULL(11) && PG_GETARG_BOOL(11))
		TrackFromQuery(p, analysed);
	if (p->coalesce_windows)
		CatalogSetCoalesce(p->id, true);
	PG_RETURN_INT64(p->id);
}

/*
 * mb_alter(name, query, lookback, end_at, max_parallel, on_error, enabled,
 * begin_at, allow_reset, coalesce_windows) changes the given options; NULL keeps an option as
 * it is and an end_at of 'infinity' removes the end.  The grid cannot
 * change, but begin_at can move along it (RefreshMoveBeginAt).  Before 0.3
 * the function had seven arguments.
 */
Datum
microbatch_alter(PG_FUNCTION_ARGS)
{
	Pipeline   *p = PipelineOpen(RequiredTextArg(fcinfo, 0, "pipeline name"), PIPELINE_MANAGE);
	List	   *columns;
	List	   *reads = NIL;
	TimestampTz old_begin_at = p->begin_at;
	TimestampTz old_end_at = p->end_at;
	bool		old_has_end_at = p->has_end_at;

	if (!PG_ARGISNULL(2))
		p->lookback = PG_GETARG_INT32(2);
	if (!PG_ARGISNULL(3))
	{
		TimestampTz end_at = PG_GETARG_TIMESTAMPTZ(3);

		p->has_end_at = !TIMESTAMP_IS_NOEND(end_at);
		p->end_at = end_at;
	}
	if (!PG_ARGISNULL(4))
		p->max_parallel = PG_GETARG_INT32(4);
	if (!PG_ARGISNULL(5))
	{
		char	   *on_error = text_to_cstring(PG_GETARG_TEXT_PP(5));

		CheckOnError(on_error);
		p->continue_on_error = strcmp(on_error, "continue") == 0;
	}
	if (!PG_ARGISNULL(6))
		p->enabled = PG_GETARG_BOOL(6);
	if (PG_NARGS() > 7 && !PG_ARGISNULL(7))
	{
		GridCheckFinite(PG_GETARG_TIMESTAMPTZ(7), "begin_at");
		p->begin_at = GridFloor(&p->grid, PG_GETARG_TIMESTAMPTZ(7));
	}
	if (PG_NARGS() > 8 && !PG_ARGISNULL(8))
		p->allow_reset = PG_GETARG_BOOL(8);
	if (PG_NARGS() > 9 && !PG_ARGISNULL(9))
	{
		bool		was = p->coalesce_windows;

		p->coalesce_windows = PG_GETARG_BOOL(9);
		/* the query, as it stands, must allow it (a new one is checked below) */
		if (p->coalesce_windows && !was && PG_ARGISNULL(1))
			CheckStoredCoalesce(p);
		if (p->coalesce_windows != was)
			CatalogSetCoalesce(p->id, p->coalesce_windows);
	}
	CheckOptions(p);
	if (!PG_ARGISNULL(1))
	{
		Query	   *analysed;

		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(p->target)))
			PipelineCheckRunnable(p);	/* reports the missing target */
		p->search_path = GetConfigOptionByName("search_path", NULL, false);
		p->query = PipelineCheckQuery(text_to_cstring(PG_GETARG_TEXT_PP(1)), p, &columns);
		analysed = AnalyseQuery(p);
		reads = DepsQueryRelations(analysed);
		if (p->coalesce_windows)
			CoalesceRulesCheck(p, analysed, reads);
		DepsCheck(p, reads);
	}
	if (p->begin_at != old_begin_at || p->has_end_at != old_has_end_at ||
		(p->has_end_at && p->end_at != old_end_at))
		TargetsCheckOverlap(p);
	if (p->begin_at != old_begin_at)
		RefreshMoveBeginAt(p);
	CatalogUpdatePipeline(p);
	if (!PG_ARGISNULL(1))
		DepsStore(p, reads);
	PG_RETURN_VOID();
}

/*
 * mb_reset(name, purge) forgets every window of a pipeline, so that the next
 * run starts again at begin_at; purge also deletes the target's rows outside
 * the grid's range (RefreshPurge).  It refuses while a run holds the
 * pipeline, and for a pipeline that does not allow resets.
 */
Datum
microbatch_reset(PG_FUNCTION_ARGS)
{
	Pipeline   *p = PipelineOpen(RequiredTextArg(fcinfo, 0, "pipeline name"), PIPELINE_MANAGE);

	PipelineCheckAllowReset(p, "mb_reset");
	RunLockAcquire(p, false);
	if (PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1))
		RefreshPurge(p);
	CatalogResetPipeline(p);
	PG_RETURN_VOID();
}

/*
 * mb_drop(name) removes a pipeline, its state, its history, its pg_cron
 * job and its tracking triggers.  The target table and its rows stay.
 */
Datum
microbatch_drop(PG_FUNCTION_ARGS)
{
	Pipeline   *p = PipelineOpen(RequiredTextArg(fcinfo, 0, "pipeline name"), PIPELINE_MANAGE);

	RunLockAcquire(p, false);
	(void) CronUnschedule(p, true);
	TrackForgetAll(p);
	CatalogDeletePipeline(p->id);
	PG_RETURN_VOID();
}

/*
 * OpenTracked opens the pipeline named by the first argument for a change
 * of its tracking, and refuses a NULL source (the second).
 */
static Pipeline *
OpenTracked(FunctionCallInfo fcinfo)
{
	Pipeline   *pipeline = PipelineOpen(RequiredTextArg(fcinfo, 0, "pipeline name"),
										PIPELINE_MANAGE);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source must not be null")));
	return pipeline;
}

/* mb_track(name, source, event_time) tracks a source of a pipeline. */
Datum
microbatch_track(PG_FUNCTION_ARGS)
{
	Pipeline   *pipeline = OpenTracked(fcinfo);

	TrackSource(pipeline, PG_GETARG_OID(1), RequiredTextArg(fcinfo, 2, "event_time"));
	PG_RETURN_VOID();
}

/* mb_untrack(name, source) stops tracking; false if it was not tracked. */
Datum
microbatch_untrack(PG_FUNCTION_ARGS)
{
	Pipeline   *pipeline = OpenTracked(fcinfo);

	PG_RETURN_BOOL(TrackForget(pipeline, PG_GETARG_OID(1)));
}

/*-------------------------------------------------------------------------
 *
 * pipeline.c
 *	  Registering, validating, altering, resetting and dropping pipelines,
 *	  tracking their sources (track.c does the work), and the checks every
 *	  other entry point makes before it uses one.
 *
 * Validation happens entirely before anything is written, so every bad
 * input leaves the catalog as it was.  The query is parsed and analysed the
 * way it will later run: $1 and $2 typed timestamptz, with the caller's
 * search_path, which is stored with the pipeline and re-applied at run time.
 * Parse errors point into the query (QueryErrorPosition), as they do in the
 * body of an SQL function.
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
#include "cron.h"
#include "deps.h"
#include "pipeline.h"
#include "refresh.h"
#include "runlock.h"
#include "sandbox.h"
#include "track.h"

#define MAX_PIPELINE_NAME 63

/* which of $1 and $2 a query refers to */
typedef struct ParamUse
{
	bool		start;
	bool		end;
} ParamUse;

static bool OwnerExists(Pipeline *pipeline);
static void CheckName(const char *name);
static void CheckTarget(Oid target, Oid owner);
static Oid	CheckEventTime(Oid target, const char *event_time, const Grid *grid);
static char *CheckQuery(const char *query, Pipeline *pipeline, List **columns);
static bool FindParams(Node *node, ParamUse *use);
static bool ParamsOutsideConditions(Node *node, void *context);
static bool ReadsPartitioned(Node *node, void *context);
static void CheckOptions(Pipeline *pipeline);
static void CheckOnError(const char *on_error);
static Query *AnalyseQuery(Pipeline *pipeline);
static Pipeline *OpenTracked(FunctionCallInfo fcinfo);

PG_FUNCTION_INFO_V1(microbatch_register);
PG_FUNCTION_INFO_V1(microbatch_alter);
PG_FUNCTION_INFO_V1(microbatch_reset);
PG_FUNCTION_INFO_V1(microbatch_drop);
PG_FUNCTION_INFO_V1(microbatch_track);
PG_FUNCTION_INFO_V1(microbatch_untrack);

/*
 * PipelineOpen finds a pipeline by name and checks that the caller may do
 * what it is about to do with it.
 */
Pipeline *
PipelineOpen(const char *name, PipelineUse use)
{
	Pipeline   *pipeline;

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline name must not be null")));

	pipeline = CatalogReadPipeline(name);
	if (pipeline == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pipeline \"%s\" does not exist", name),
				 errhint("The pipelines you may use are listed in microbatch.pipelines.")));

	if (!has_privs_of_role(GetUserId(), pipeline->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of pipeline \"%s\"", name),
				 OwnerExists(pipeline) ?
				 errdetail("Only members of role \"%s\" and superusers may use it.",
						   GetUserNameFromId(pipeline->owner, false)) :
				 errdetail("Its owner was dropped; only a superuser may drop it.")));

	if (use == PIPELINE_RUN)
		PipelineCheckRunnable(pipeline);
	return pipeline;
}

/*
 * PipelineCheckRunnable refuses a pipeline that is disabled, whose target is
 * gone, or that this very transaction registered or altered: background
 * workers could not see those changes yet.
 */
void
PipelineCheckRunnable(Pipeline *pipeline)
{
	if (!OwnerExists(pipeline))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("owner of pipeline \"%s\" no longer exists", pipeline->name),
				 errdetail("Its owner role was dropped; a pipeline runs as its owner, so it cannot run."),
				 errhint("A superuser can drop it with mb_drop('%s') and register it again as another role.",
						 pipeline->name)));
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(pipeline->target)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("target table of pipeline \"%s\" no longer exists", pipeline->name),
				 errhint("Drop the pipeline with mb_drop('%s') and register it again.",
						 pipeline->name)));
	if (!pipeline->enabled)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pipeline \"%s\" is disabled", pipeline->name),
				 errhint("Enable it with mb_alter('%s', enabled => true).", pipeline->name)));
}

/*
 * OwnerExists tells whether the pipeline's owner is still a role.  DROP ROLE
 * cannot see pipelines (they are rows, not catalog objects), so an owner
 * can disappear under its pipelines; they then refuse to run.
 */
static bool
OwnerExists(Pipeline *pipeline)
{
	return SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(pipeline->owner));
}

/* PipelineEventTimeType returns the type of the target's event-time column. */
Oid
PipelineEventTimeType(Pipeline *pipeline)
{
	AttrNumber	attnum = get_attnum(pipeline->target, pipeline->event_time);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("event-time column \"%s\" of pipeline \"%s\" no longer exists in table \"%s\"",
						pipeline->event_time, pipeline->name,
						get_rel_name(pipeline->target))));
	return get_atttype(pipeline->target, attnum);
}

/*
 * PipelineQueryColumns analyses the pipeline's query again, as its owner
 * would run it, and returns the target columns it fills, in query order.
 */
List *
PipelineQueryColumns(Pipeline *pipeline)
{
	List	   *columns;
	Sandbox		sandbox;

	SandboxEnterPipeline(&sandbox, pipeline->owner, pipeline->search_path, NULL);
	(void) CheckQuery(pipeline->query, pipeline, &columns);
	SandboxLeave(&sandbox);
	return columns;
}

/*
 * QueryErrorPosition is an error context callback for parsing a query given
 * as an argument (a pipeline's query, a check).  As for the body of an SQL
 * function, it turns the error's position in that text into an internal
 * position with the text as the internal query, so that psql shows the
 * query and points into it, rather than into the outer call.
 */
void
QueryErrorPosition(void *arg)
{
	int			position = geterrposition();

	if (position > 0)
	{
		errposition(0);
		internalerrposition(position);
		internalerrquery((const char *) arg);
	}
}

/*
 * PipelineCheckAllowReset refuses to reset or backfill a pipeline protected
 * with mb_alter(name, allow_reset => false), as dbt's full_refresh: false.
 */
void
PipelineCheckAllowReset(Pipeline *pipeline, const char *function)
{
	if (!pipeline->allow_reset)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pipeline \"%s\" does not allow %s", pipeline->name, function),
				 errdetail("Its allow_reset option is false, which protects its windows from mb_reset and mb_backfill."),
				 errhint("Allow them with mb_alter('%s', allow_reset => true).", pipeline->name)));
}

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
 * CheckEventTime requires the event-time column to exist in the target with
 * a type windows can be compared with, and returns that type.
 */
static Oid
CheckEventTime(Oid target, const char *event_time, const Grid *grid)
{
	Oid			type = GridCheckEventColumn(target, event_time);

	if (type == DATEOID && GridIsSubDay(grid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("event-time column \"%s\" of type date needs windows of a day or longer",
						event_time),
				 errdetail("Batch size \"%s\" is shorter than a day.", grid->batch_size)));
	return type;
}

/* FindParams notes every reference to $1 and $2 anywhere in a query. */
static bool
FindParams(Node *node, ParamUse *use)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
	{
		Param	   *param = (Param *) node;

		if (param->paramkind == PARAM_EXTERN && param->paramid == 1)
			use->start = true;
		if (param->paramkind == PARAM_EXTERN && param->paramid == 2)
			use->end = true;
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, FindParams, (void *) use, 0);
	return expression_tree_walker(node, FindParams, (void *) use);
}

/*
 * ParamsOutsideConditions tells whether $1 or $2 appear anywhere but in a
 * WHERE or JOIN ... ON condition (of the query or of a subquery in FROM or
 * WITH): in the select list (also inside a scalar subquery there), HAVING,
 * LIMIT, a function in FROM.  Only a query that uses
 * the bounds purely to filter gives over several windows the union of what
 * it gives per window, which coalesce_windows relies on.
 */
static bool
ParamsOutsideConditions(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
	{
		Param	   *param = (Param *) node;

		return param->paramkind == PARAM_EXTERN && (param->paramid == 1 || param->paramid == 2);
	}
	/* a subquery outside a condition (a scalar one in the select list) */
	if (IsA(node, SubLink))
	{
		ParamUse	use = {false, false};

		(void) FindParams(node, &use);
		return use.start || use.end;
	}
	if (IsA(node, FromExpr))
		return ParamsOutsideConditions((Node *) ((FromExpr *) node)->fromlist, context);
	if (IsA(node, JoinExpr))
		return ParamsOutsideConditions(((JoinExpr *) node)->larg, context) ||
			ParamsOutsideConditions(((JoinExpr *) node)->rarg, context);
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, ParamsOutsideConditions, context, 0);
	return expression_tree_walker(node, ParamsOutsideConditions, context);
}

/*
 * ReadsPartitioned tells whether a query reads a partitioned table
 * anywhere: its windows then need custom plans, pruned at planning time.
 */
static bool
ReadsPartitioned(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		return rte->rtekind == RTE_RELATION && rte->relkind == RELKIND_PARTITIONED_TABLE;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, ReadsPartitioned, context,
								 QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, ReadsPartitioned, context);
}

/*
 * AnalyseSelect parses and analyses sql, which must be one SELECT that
 * writes nothing, with $1 and $2 of param_types; errors in it point into
 * it.  "what" names the statement in errors, with a hint if given.  It
 * returns the analysed statement and, in *text, the statement's own text
 * without a trailing semicolon.
 */
Query *
AnalyseSelect(const char *sql, const char *what, Oid *param_types, const char *hint,
			  char **text)
{
	ErrorContextCallback position_callback;
	List	   *statements;
	RawStmt    *raw;
	Query	   *analysed;

	/* errors in the statement point into it, not into the outer call */
	position_callback.callback = QueryErrorPosition;
	position_callback.arg = (void *) sql;
	position_callback.previous = error_context_stack;
	error_context_stack = &position_callback;
	statements = raw_parser(sql, RAW_PARSE_DEFAULT);
	error_context_stack = position_callback.previous;

	if (list_length(statements) != 1 ||
		!IsA(((RawStmt *) linitial(statements))->stmt, SelectStmt) ||
		((SelectStmt *) ((RawStmt *) linitial(statements))->stmt)->intoClause != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a single SELECT statement", what),
				 errdetail("Found %d statement%s.", list_length(statements),
						   list_length(statements) == 1 ? " that is not a SELECT" : "s"),
				 hint ? errhint("%s", hint) : 0));

	raw = linitial(statements);
	*text = raw->stmt_len > 0 ? pnstrdup(sql + raw->stmt_location, raw->stmt_len)
		: pstrdup(sql + raw->stmt_location);

	error_context_stack = &position_callback;
	analysed = parse_analyze_fixedparams(raw, *text, param_types, 2, NULL);
	error_context_stack = position_callback.previous;
	if (analysed->commandType != CMD_SELECT || analysed->hasModifyingCTE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a single SELECT statement", what),
				 errdetail("Data-modifying statements in WITH are not allowed.")));
	return analysed;
}

/*
 * CheckQuery requires one SELECT that uses $1 and $2 and whose columns the
 * target has and can take, including the event-time column.  It returns the
 * statement's own text (without a trailing semicolon) and, in *columns, the
 * target columns in query order.
 */
static char *
CheckQuery(const char *query, Pipeline *pipeline, List **columns)
{
	Query	   *analysed;
	Oid			param_types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	ParamUse	use = {false, false};
	ListCell   *lc;
	char	   *text;
	bool		has_event_time = false;

	analysed = AnalyseSelect(query, psprintf("query of pipeline \"%s\"", pipeline->name),
							 param_types, NULL, &text);

	(void) query_tree_walker(analysed, FindParams, (void *) &use, 0);
	if (!use.start || !use.end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query of pipeline \"%s\" does not reference %s",
						pipeline->name, !use.start && !use.end ? "$1 and $2" : !use.start ? "$1" : "$2"),
				 errhint("Select one window: filter the source with \"<event time> >= $1 AND <event time> < $2\".")));
	pipeline->reads_partitioned = ReadsPartitioned((Node *) analysed, NULL);
	if (pipeline->coalesce_windows &&
		query_tree_walker(analysed, ParamsOutsideConditions, NULL, 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query of pipeline \"%s\" cannot coalesce windows: it uses $1 or $2 outside a WHERE or JOIN condition",
						pipeline->name),
				 errdetail("With coalesce_windows, one statement covers several windows, with $1 the first one's start and $2 the last one's end; only a query that uses them to filter rows gives the same rows as one statement per window."),
				 errhint("Use $1 and $2 only in conditions such as \"<event time> >= $1 AND <event time> < $2\", or register without coalesce_windows.")));

	*columns = NIL;
	foreach(lc, analysed->targetList)
	{
		TargetEntry *entry = lfirst_node(TargetEntry, lc);
		AttrNumber	attnum;
		Oid			source_type;
		Oid			target_type;
		ListCell   *seen;

		if (entry->resjunk)
			continue;
		if (entry->resname == NULL || strcmp(entry->resname, "?column?") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column %d of the query of pipeline \"%s\" has no name",
							entry->resno, pipeline->name),
					 errhint("Give it an alias naming a column of table \"%s\".",
							 get_rel_name(pipeline->target))));
		attnum = get_attnum(pipeline->target, entry->resname);
		if (attnum == InvalidAttrNumber || attnum < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("query column \"%s\" does not exist in table \"%s\"",
							entry->resname, get_rel_name(pipeline->target))));
		if (get_attgenerated(pipeline->target, attnum) != '\0')
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 errmsg("query column \"%s\" is a generated column of table \"%s\"",
							entry->resname, get_rel_name(pipeline->target))));
		foreach(seen, *columns)
			if (strcmp(strVal(lfirst(seen)), entry->resname) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("query returns column \"%s\" more than once", entry->resname)));

		source_type = exprType((Node *) entry->expr);
		target_type = get_atttype(pipeline->target, attnum);
		if (!can_coerce_type(1, &source_type, &target_type, COERCION_ASSIGNMENT))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("query column \"%s\" is of type %s but column \"%s\" of table \"%s\" is of type %s",
							entry->resname, format_type_be(source_type), entry->resname,
							get_rel_name(pipeline->target), format_type_be(target_type))));
		if (strcmp(entry->resname, pipeline->event_time) == 0)
			has_event_time = true;
		*columns = lappend(*columns, makeString(pstrdup(entry->resname)));
	}
	if (!has_event_time)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query of pipeline \"%s\" does not return the event-time column \"%s\"",
						pipeline->name, pipeline->event_time),
				 errdetail("Every row a window inserts must carry its event time, or no window could replace it.")));
	return text;
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

/* RequiredTextArg returns a required text argument, refusing NULL. */
char *
RequiredTextArg(FunctionCallInfo fcinfo, int arg, const char *what)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

/*
 * mb_register(name, target, event_time, query, batch_size, begin_at,
 * lookback, end_at, time_zone, max_parallel, on_error, track,
 * coalesce_windows) validates and stores a pipeline, owned by the calling
 * role, with the relations its query reads (deps.c), with track the sources
 * it filters by $1/$2 (track.c), and with coalesce_windows its windows run
 * in chunks (coalesce.c).  Before 0.3 the function had eleven arguments.
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
	GridInit(&p->grid, RequiredTextArg(fcinfo, 4, "batch_size"), RequiredTextArg(fcinfo, 8, "time_zone"));
	p->batch_size = pstrdup(p->grid.batch_size);
	p->time_zone = pstrdup(GridCanonicalZone(text_to_cstring(PG_GETARG_TEXT_PP(8))));
	(void) CheckEventTime(p->target, p->event_time, &p->grid);
	GridCheckFinite(p->begin_at, "begin_at");
	CheckOptions(p);
	CheckOnError(on_error);
	p->query = CheckQuery(p->query, p, &columns);
	analysed = AnalyseQuery(p);
	reads = DepsQueryRelations(analysed);
	DepsCheck(p, reads);

	p->begin_at = GridFloor(&p->grid, p->begin_at);
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
			(void) PipelineQueryColumns(p);
		if (p->coalesce_windows != was)
			CatalogSetCoalesce(p->id, p->coalesce_windows);
	}
	CheckOptions(p);
	if (!PG_ARGISNULL(1))
	{
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(p->target)))
			PipelineCheckRunnable(p);	/* reports the missing target */
		p->search_path = GetConfigOptionByName("search_path", NULL, false);
		p->query = CheckQuery(text_to_cstring(PG_GETARG_TEXT_PP(1)), p, &columns);
		reads = DepsQueryRelations(AnalyseQuery(p));
		DepsCheck(p, reads);
	}
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
	(void) TrackForget(p, InvalidOid);
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

/*-------------------------------------------------------------------------
 *
 * pipeline.c
 *	  Opening a pipeline for what a caller is about to do with it, the
 *	  checks every entry point makes before it uses one, and analysing a
 *	  pipeline's query the way it runs.
 *
 * The entry points that register, alter, reset, drop and track pipelines
 * are in manage.c; this file is below them and below everything that runs
 * or schedules pipelines.  The query is parsed and analysed the way it will
 * later run: $1 and $2 typed timestamptz, with the search_path stored with
 * the pipeline.  Parse errors point into the query (QueryErrorPosition), as
 * they do in the body of an SQL function.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
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
#include "pipeline.h"
#include "sandbox.h"

/* which of $1 and $2 a query refers to */
typedef struct ParamUse
{
	bool		start;
	bool		end;
} ParamUse;

static bool OwnerExists(Pipeline *pipeline);
static bool FindParams(Node *node, ParamUse *use);
static bool ReadsPartitioned(Node *node, void *context);

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

	if (use != PIPELINE_READ)
		PipelineCheckWritable();
	if (use == PIPELINE_RUN)
		PipelineCheckRunnable(pipeline);
	return pipeline;
}

/*
 * PipelineCheckWritable refuses, up front, what would write on a server in
 * recovery (a hot standby): every run and change of a pipeline writes the
 * target or the catalog, and would otherwise fail halfway with an obscure
 * error from whichever write came first.
 */
void
PipelineCheckWritable(void)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot run or change microbatch pipelines on a server in recovery"),
				 errdetail("This server is a standby: its tables and microbatch's catalog are read-only."),
				 errhint("Run and change pipelines on the primary; on a standby, read microbatch.status, microbatch.windows and mb_plan.")));
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

/*
 * PipelineEventTimeType returns the type of the target's event-time column,
 * requiring one that windows can be compared with.  It is read afresh from
 * the catalog by whoever uses it, since the column may have been altered
 * since registration.
 */
Oid
PipelineEventTimeType(Pipeline *pipeline)
{
	Oid			type = GridCheckEventColumn(pipeline->target, pipeline->event_time);

	if (type == DATEOID && GridIsSubDay(&pipeline->grid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("event-time column \"%s\" of type date needs windows of a day or longer",
						pipeline->event_time),
				 errdetail("Batch size \"%s\" is shorter than a day.", pipeline->grid.batch_size)));
	return type;
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
	(void) PipelineCheckQuery(pipeline->query, pipeline, &columns);
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
 * PipelineCheckQuery requires one SELECT that uses $1 and $2 and whose columns the
 * target has and can take, including the event-time column.  It returns the
 * statement's own text (without a trailing semicolon) and, in *columns, the
 * target columns in query order.
 */
char *
PipelineCheckQuery(const char *query, Pipeline *pipeline, List **columns)
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

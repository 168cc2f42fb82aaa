/*-------------------------------------------------------------------------
 *
 * checks.c
 *	  Data checks that every window of a pipeline must pass.
 *
 * A check is a named condition on the rows a window wrote, added with
 * mb_add_check(name, check_name, check_sql) and stored in microbatch.checks.
 * check_sql is one of
 *
 *	  min_rows N, max_rows N		the window inserted at least / at most N rows
 *	  not_null col[, col ...]		no row of the window has a null in a column
 *	  unique col[, col ...]			no two rows of the window share the columns'
 *									values (rows with a null there are ignored,
 *									as by a UNIQUE constraint)
 *	  SELECT ...					one SELECT returning one boolean; $1 and $2
 *									are the window's start and end (timestamptz)
 *
 * The row counts come from the INSERT itself, so they cost nothing.  The
 * column checks become a count over the target's rows in [$1, $2), written
 * here with quoted identifiers and bound to the event-time column's type, as
 * the window's DELETE is, so they use its index:
 *
 *	  SELECT count(*) FROM target WHERE et >= $1 AND et < $2 AND (a IS NULL OR ...)
 *	  SELECT count(*) FROM (SELECT 1 FROM target WHERE et >= $1 AND et < $2
 *							  AND a IS NOT NULL ... GROUP BY a, ... HAVING count(*) > 1) d
 *
 * Checks run in the window's transaction right after the INSERT, inside the
 * sandbox the executor set up for the window (as the owner, with the
 * owner's search_path, the pipeline's TimeZone and
 * SECURITY_RESTRICTED_OPERATION), exactly like the pipeline's query; their
 * statements are prepared on the first window of a run and kept.  A check
 * that returns false or NULL, or that raises an error, fails the window
 * with SQLSTATE 23514 and 'check "<name>" failed for window ...: <why>'.
 * The window's subtransaction then rolls back, so its old rows stay, and
 * its failure is recorded and handled by on_error like any other.  Only a
 * cancel or shutdown passes through unchanged, so a run still stops on it.
 *
 * A check is validated when it is added, as its owner would run it: the
 * columns of a built-in must exist in the target, and a SELECT is parsed
 * and analysed with $1 and $2 typed timestamptz, with errors pointing into
 * it.  Nothing is written unless all of it passes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "catalog.h"
#include "checks.h"
#include "compat.h"
#include "progress.h"
#include "sandbox.h"

#define MAX_CHECK_NAME 63

typedef enum CheckKind
{
	CHECK_MIN_ROWS,
	CHECK_MAX_ROWS,
	CHECK_NOT_NULL,
	CHECK_UNIQUE,
	CHECK_SQL
} CheckKind;

/* one check of a pipeline, ready to run */
typedef struct PipelineCheck
{
	char	   *name;
	char	   *definition;		/* as stored in microbatch.checks */
	CheckKind	kind;
	int64		limit;			/* min_rows, max_rows */
	List	   *columns;		/* not_null, unique: column names */
	char	   *sql;			/* what runs; NULL for the row counts */
	SPIPlanPtr	plan;			/* prepared on the first window, then kept */
} PipelineCheck;

static PipelineCheck *CheckParse(Pipeline *pipeline, const char *name, const char *definition,
								 bool validate);
static bool BuiltinWord(const char *definition, const char *word, const char **rest);
static char *BuiltinSql(Pipeline *pipeline, PipelineCheck *check);
static Query *AnalyseAsOwner(Pipeline *pipeline, const char *name, const char *sql,
							 Oid *param_types, char **text);
static char *CheckSelect(Pipeline *pipeline, const char *name, const char *definition);
static char *ColumnList(List *columns, const char *separator);
static void CheckName(const char *name);
static bool RunCheck(WindowExecutor *executor, PipelineCheck *check, Datum *bounds,
					 Datum *event_bounds, int64 rows_inserted, char **why);

PG_FUNCTION_INFO_V1(microbatch_add_check);
PG_FUNCTION_INFO_V1(microbatch_drop_check);

/* CheckName enforces 1..63 characters of [a-z0-9_], a letter first. */
static void
CheckName(const char *name)
{
	const char *p;
	bool		ok = name[0] >= 'a' && name[0] <= 'z' && strlen(name) <= MAX_CHECK_NAME;

	for (p = name; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid check name \"%s\"", name),
				 errdetail("A check name has 1 to 63 characters: lower-case letters, digits and underscores, starting with a letter.")));
}

/*
 * BuiltinWord tells whether a definition is the built-in check "word"
 * (case-insensitive, followed by white space or the end), and points *rest
 * at what follows it.
 */
static bool
BuiltinWord(const char *definition, const char *word, const char **rest)
{
	const char *p = definition;
	size_t		len = strlen(word);

	while (isspace((unsigned char) *p))
		p++;
	if (pg_strncasecmp(p, word, len) != 0 ||
		(p[len] != '\0' && !isspace((unsigned char) p[len])))
		return false;
	*rest = p + len;
	return true;
}

/* ColumnList writes column names quoted, separated by separator. */
static char *
ColumnList(List *columns, const char *separator)
{
	StringInfoData out;
	ListCell   *lc;

	initStringInfo(&out);
	foreach(lc, columns)
		appendStringInfo(&out, "%s%s", out.len > 0 ? separator : "",
						 quote_identifier(strVal(lfirst(lc))));
	return out.data;
}

/*
 * BuiltinSql writes the statement of a not_null or unique check: a count of
 * the offending rows (or values) among the target's rows in [$1, $2).
 */
static char *
BuiltinSql(Pipeline *pipeline, PipelineCheck *check)
{
	const char *event_time = quote_identifier(pipeline->event_time);
	char	   *target = quote_qualified_identifier(get_namespace_name(get_rel_namespace(pipeline->target)),
													get_rel_name(pipeline->target));
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	if (check->kind == CHECK_NOT_NULL)
	{
		appendStringInfo(&sql, "SELECT pg_catalog.count(*) FROM %s "
						 "WHERE %s OPERATOR(pg_catalog.>=) $1 AND %s OPERATOR(pg_catalog.<) $2 AND (",
						 target, event_time, event_time);
		foreach(lc, check->columns)
			appendStringInfo(&sql, "%s%s IS NULL", lc == list_head(check->columns) ? "" : " OR ",
							 quote_identifier(strVal(lfirst(lc))));
		appendStringInfoChar(&sql, ')');
	}
	else
	{
		appendStringInfo(&sql, "SELECT pg_catalog.count(*) FROM (SELECT 1 FROM %s "
						 "WHERE %s OPERATOR(pg_catalog.>=) $1 AND %s OPERATOR(pg_catalog.<) $2",
						 target, event_time, event_time);
		foreach(lc, check->columns)
			appendStringInfo(&sql, " AND %s IS NOT NULL", quote_identifier(strVal(lfirst(lc))));
		appendStringInfo(&sql, " GROUP BY %s HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1) "
						 "AS mb_duplicates", ColumnList(check->columns, ", "));
	}
	return sql.data;
}

/*
 * AnalyseAsOwner parses and analyses a check's statement as the pipeline's
 * owner with its search_path, the way it will run, with errors pointing
 * into the statement.  It returns the analysed statement and, in *text, the
 * statement without a trailing semicolon.
 */
static Query *
AnalyseAsOwner(Pipeline *pipeline, const char *name, const char *sql, Oid *param_types,
			   char **text)
{
	Sandbox		sandbox;
	Query	   *analysed;

	SandboxEnterPipeline(&sandbox, pipeline->owner, pipeline->search_path, NULL);
	analysed = AnalyseSelect(sql, psprintf("check \"%s\"", name), param_types,
							 "A check is a single SELECT returning one boolean, or one of the built-ins min_rows N, max_rows N, not_null column[, ...] and unique column[, ...].",
							 text);
	SandboxLeave(&sandbox);
	return analysed;
}

/*
 * CheckSelect validates a check written as a SELECT: one statement that
 * returns one boolean column, $1 and $2 typed timestamptz.  It returns the
 * statement without a trailing semicolon.
 */
static char *
CheckSelect(Pipeline *pipeline, const char *name, const char *definition)
{
	Oid			param_types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Query	   *analysed;
	char	   *text;
	ListCell   *lc;
	int			ncolumns = 0;
	Oid			type = InvalidOid;

	analysed = AnalyseAsOwner(pipeline, name, definition, param_types, &text);
	foreach(lc, analysed->targetList)
	{
		TargetEntry *entry = lfirst_node(TargetEntry, lc);

		if (entry->resjunk)
			continue;
		ncolumns++;
		type = exprType((Node *) entry->expr);
	}
	if (ncolumns != 1 || type != BOOLOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("check \"%s\" must return one boolean column", name),
				 ncolumns != 1 ? errdetail("It returns %d columns.", ncolumns)
				 : errdetail("It returns a column of type %s.", format_type_be(type))));
	return text;
}

/*
 * CheckParse reads a check's definition.  With validate, every error of the
 * definition is reported (mb_add_check); without, a stored check is taken
 * as it was validated, and what changed since fails when it runs.
 */
static PipelineCheck *
CheckParse(Pipeline *pipeline, const char *name, const char *definition, bool validate)
{
	PipelineCheck *check = palloc0(sizeof(PipelineCheck));
	const char *rest;

	check->name = pstrdup(name);
	check->definition = pstrdup(definition);

	if (BuiltinWord(definition, "min_rows", &rest) || BuiltinWord(definition, "max_rows", &rest))
	{
		char	   *number = pstrdup(rest);
		char	   *end;
		int64		limit;

		check->kind = BuiltinWord(definition, "min_rows", &rest) ? CHECK_MIN_ROWS : CHECK_MAX_ROWS;
		while (isspace((unsigned char) *number))
			number++;
		errno = 0;
		limit = strtoi64(number, &end, 10);
		while (isspace((unsigned char) *end))
			end++;
		if (errno != 0 || end == number || *end != '\0' || limit < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("check \"%s\": %s needs a whole number of rows, not \"%s\"", name,
							check->kind == CHECK_MIN_ROWS ? "min_rows" : "max_rows", number),
					 errhint("Write it as in '%s 1000'.",
							 check->kind == CHECK_MIN_ROWS ? "min_rows" : "max_rows")));
		check->limit = limit;
		return check;
	}

	if (BuiltinWord(definition, "not_null", &rest) || BuiltinWord(definition, "unique", &rest))
	{
		char	   *names = pstrdup(rest);
		List	   *columns;
		ListCell   *lc;

		check->kind = BuiltinWord(definition, "not_null", &rest) ? CHECK_NOT_NULL : CHECK_UNIQUE;
		while (isspace((unsigned char) *names))
			names++;
		if (!SplitIdentifierString(names, ',', &columns) || columns == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("check \"%s\": %s needs a comma-separated list of columns, not \"%s\"",
							name, check->kind == CHECK_NOT_NULL ? "not_null" : "unique", rest),
					 errhint("Write it as in '%s client, day'.",
							 check->kind == CHECK_NOT_NULL ? "not_null" : "unique")));
		foreach(lc, columns)
		{
			char	   *column = lfirst(lc);
			AttrNumber	attnum = get_attnum(pipeline->target, column);

			if (validate && (attnum == InvalidAttrNumber || attnum < 0))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" of check \"%s\" does not exist in table \"%s\"",
								column, name, get_rel_name(pipeline->target))));
			check->columns = lappend(check->columns, makeString(pstrdup(column)));
		}
		check->sql = BuiltinSql(pipeline, check);
		if (validate)
		{
			/* catches columns that cannot be compared, as unique needs */
			Oid			event_type = PipelineEventTimeType(pipeline);
			Oid			types[2] = {event_type, event_type};
			char	   *text;

			(void) AnalyseAsOwner(pipeline, name, check->sql, types, &text);
		}
		return check;
	}

	check->kind = CHECK_SQL;
	check->sql = validate ? CheckSelect(pipeline, name, definition) : check->definition;
	return check;
}

/*
 * ChecksLoad reads a pipeline's checks, to run on every window of a run.
 * Their statements are prepared when the first window runs.
 */
List *
ChecksLoad(Pipeline *pipeline)
{
	List	   *checks = NIL;
	ListCell   *lc;

	foreach(lc, CatalogReadChecks(pipeline->id))
	{
		CatalogCheck *stored = lfirst(lc);

		checks = lappend(checks, CheckParse(pipeline, stored->name, stored->sql, false));
	}
	return checks;
}

/* ChecksFree frees the statements the checks kept. */
void
ChecksFree(List *checks)
{
	ListCell   *lc;

	foreach(lc, checks)
	{
		PipelineCheck *check = lfirst(lc);

		if (check->plan)
			SPI_freeplan(check->plan);
		check->plan = NULL;
	}
}

/*
 * RunCheck runs one check on the window just written.  It returns whether
 * the check passed and, if not, says why in *why.  An error raised by the
 * check's statement propagates.
 */
static bool
RunCheck(WindowExecutor *executor, PipelineCheck *check, Datum *bounds, Datum *event_bounds,
		 int64 rows_inserted, char **why)
{
	bool		isnull;
	Datum		result;
	int			rc;

	if (check->kind == CHECK_MIN_ROWS || check->kind == CHECK_MAX_ROWS)
	{
		bool		passed = check->kind == CHECK_MIN_ROWS ? rows_inserted >= check->limit
			: rows_inserted <= check->limit;

		if (!passed)
			*why = psprintf(INT64_FORMAT " rows inserted, %s is " INT64_FORMAT, rows_inserted,
							check->kind == CHECK_MIN_ROWS ? "min_rows" : "max_rows", check->limit);
		return passed;
	}

	if (check->plan == NULL)
	{
		Oid			event_type = executor->shape.event_type;
		Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
		SPIPlanPtr	plan;

		if (check->kind != CHECK_SQL)
			types[0] = types[1] = event_type;
		plan = SPI_prepare(check->sql, 2, types);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare check \"%s\": %s", check->name,
				 SPI_result_code_string(SPI_result));
		check->plan = plan;
	}

	/* read-write: the check must see the rows the INSERT just wrote */
	rc = SPI_execute_plan(check->plan, check->kind == CHECK_SQL ? bounds : event_bounds,
						  NULL, false, 2);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "check \"%s\" failed to run: %s", check->name, SPI_result_code_string(rc));
	if (SPI_processed != 1)
	{
		*why = psprintf("it returned %s", SPI_processed == 0 ? "no row" : "more than one row");
		return false;
	}
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

	if (check->kind == CHECK_SQL)
	{
		if (isnull || !DatumGetBool(result))
			*why = psprintf("it returned %s", isnull ? "null" : "false");
		return !isnull && DatumGetBool(result);
	}
	if (DatumGetInt64(result) == 0)
		return true;
	if (check->kind == CHECK_NOT_NULL)
		*why = psprintf(INT64_FORMAT " %s a null in %s", DatumGetInt64(result),
						DatumGetInt64(result) == 1 ? "row has" : "rows have",
						ColumnList(check->columns, " or "));
	else
		*why = psprintf(INT64_FORMAT " %s of %s%s%s %s more than once", DatumGetInt64(result),
						DatumGetInt64(result) == 1 ? "value" : "values",
						list_length(check->columns) > 1 ? "(" : "",
						ColumnList(check->columns, ", "),
						list_length(check->columns) > 1 ? ")" : "",
						DatumGetInt64(result) == 1 ? "occurs" : "occur");
	return false;
}

/*
 * ChecksRun runs every check of the pipeline on the window just written, in
 * the window's transaction and sandbox.  The first check that fails, or
 * raises an error, fails the window with SQLSTATE 23514; a cancel or a
 * shutdown passes through as it is.
 */
void
ChecksRun(WindowExecutor *executor, TimestampTz start, TimestampTz end, Datum *bounds,
		  Datum *event_bounds, int64 rows_inserted)
{
	MemoryContext context = CurrentMemoryContext;
	ListCell   *lc;

	foreach(lc, executor->checks)
	{
		PipelineCheck *check = lfirst(lc);
		char	   *volatile why = NULL;
		volatile bool passed = false;

		PG_TRY();
		{
			char	   *reason = NULL;

			passed = RunCheck(executor, check, bounds, event_bounds, rows_inserted, &reason);
			why = reason;
		}
		PG_CATCH();
		{
			ErrorData  *error;

			MemoryContextSwitchTo(context);
			if (ERRCODE_TO_CATEGORY(geterrcode()) == ERRCODE_OPERATOR_INTERVENTION)
				PG_RE_THROW();
			error = CopyErrorData();
			FlushErrorState();
			why = error->message ? error->message : "unknown error";
		}
		PG_END_TRY();

		if (!passed)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("check \"%s\" failed for window %s: %s", check->name,
							FormatWindow(executor->pipeline, start, end), why),
					 errdetail("The check is: %s", check->definition)));
	}
}

/*
 * mb_add_check(name, check_name, check_sql) validates a check and adds it
 * to the pipeline; from the next run on every window must pass it.
 */
Datum
microbatch_add_check(PG_FUNCTION_ARGS)
{
	Pipeline   *pipeline = PipelineOpen(RequiredTextArg(fcinfo, 0, "pipeline name"), PIPELINE_MANAGE);
	char	   *name = RequiredTextArg(fcinfo, 1, "check_name");
	char	   *definition = RequiredTextArg(fcinfo, 2, "check_sql");
	PipelineCheck *check;

	CheckName(name);
	if (CatalogCheckExists(pipeline->id, name))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("pipeline \"%s\" already has a check named \"%s\"", pipeline->name, name),
				 errhint("Drop it first with mb_drop_check('%s', '%s').", pipeline->name, name)));
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(pipeline->target)))
		PipelineCheckRunnable(pipeline);	/* reports the missing target */
	check = CheckParse(pipeline, name, definition, true);
	CatalogInsertCheck(pipeline->id, name,
					   check->kind == CHECK_SQL ? check->sql : check->definition);
	PG_RETURN_VOID();
}

/*
 * mb_drop_check(name, check_name) removes a check; it returns false if the
 * pipeline had no check of that name.
 */
Datum
microbatch_drop_check(PG_FUNCTION_ARGS)
{
	Pipeline   *pipeline = PipelineOpen(RequiredTextArg(fcinfo, 0, "pipeline name"), PIPELINE_MANAGE);
	char	   *name = RequiredTextArg(fcinfo, 1, "check_name");

	PG_RETURN_BOOL(CatalogDeleteCheck(pipeline->id, name));
}

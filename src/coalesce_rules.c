/*-------------------------------------------------------------------------
 *
 * coalesce_rules.c
 *	  Which queries may coalesce windows: those whose rows over a chunk of
 *	  consecutive windows are, by their shape, the rows they give one window
 *	  at a time.
 *
 * A coalesced chunk runs the query once, with $1 the start of its first
 * window and $2 the end of its last, where one window at a time runs it
 * once per window (coalesce.c).  The two agree when every row the query
 * returns is made from source rows of one window: a filter, a join, a 1:1
 * transform, a rollup into buckets of the event time.  They disagree as
 * soon as a row depends on rows of several windows or on the whole result:
 * DISTINCT ON keeps one row of a chunk where one window at a time keeps one
 * per window, a LIMIT counts the chunk's rows, a total over the whole
 * result sums the chunk.  mb_register and mb_alter refuse coalesce_windows
 * (22023, naming the construct) unless the query passes these rules:
 *
 * 1. $1 and $2 appear only in WHERE and JOIN ... ON conditions, so that
 *	  they only select rows.
 * 2. The query does not read its own target: its windows depend on the
 *	  windows before them (they run one at a time, deps.c), and a chunk
 *	  would read its own windows as they were before it.
 * 3. No level of the query that depends on the window (one that refers to
 *	  $1 or $2, or reads a subquery or WITH query that does) uses DISTINCT
 *	  ON, LIMIT, OFFSET or FETCH, a window function, GROUPING SETS, ROLLUP
 *	  or CUBE, UNION, INTERSECT or EXCEPT other than UNION ALL, or WITH
 *	  RECURSIVE.  Levels that do not depend on the window give the same
 *	  rows for every window and chunk, and may use anything.
 * 4. A level that depends on the window and groups its rows (GROUP BY,
 *	  aggregates, HAVING, DISTINCT) must group by the event time:
 *	  a. the column that becomes the target's event-time column is one of
 *		 its grouping keys (or a cast of one), so a level without GROUP BY,
 *		 or one whose rows do not carry the event time (a subquery in an
 *		 expression, a subquery in FROM the event time does not come
 *		 from), may not aggregate;
 *	  b. that key is a time column, or a bucket of one, whose buckets fit
 *		 in a window: date_trunc(unit, t) (in the pipeline's time zone),
 *		 a cast to date, or casts between timestamp types, nested in any
 *		 way whose buckets stay calendar buckets (see BucketFits);
 *	  c. each group becomes a row of the target as it is: the level has no
 *		 HAVING and no set-returning function in its select list, and every
 *		 level above it takes its rows from it alone (one item in FROM, no
 *		 WHERE, no HAVING, no set-returning function), grouping them again
 *		 or not.
 *
 * Why rule 4 is exact.  Say a group of such a level holds rows of two
 * windows.  One window at a time, each of the two windows then gives the
 * group its own row, and (4c) its own row of the target, both with the
 * same event time (4a): a time lies in one window only, so one of the two
 * rows is outside its window and the out-of-window guard fails that
 * window (guard.c).  So whenever every window succeeds one at a time,
 * every group is made of one window's rows, and a chunk, which sees the
 * union of the windows' rows, forms the same groups with the same values.
 * (4b) makes sure a bucket can be whole in one window at all: a query
 * grouped by days in hourly windows would fail one window at a time and
 * be hidden by a chunk.  HAVING, or a filter above the grouping, could
 * drop the part of a group the guard would have caught: 4c.
 *
 * Rule 3 needs no such argument: those constructs read the whole result.
 * A set-returning function in the select list of a level that does not
 * group works row by row, and is exact; above a grouping it could return
 * no row for a group, so 4c refuses it there.
 *
 * What is not checked: that the conditions on $1 and $2 select, over a
 * chunk, the union of what they select per window.  That is true of
 * "t >= $1 AND t < $2" on one source, and of sources joined to it on that
 * time; it is not true of a join or EXISTS that pairs rows of two sources
 * each filtered to the window independently (clicks in the window by users
 * with a view in the window): such a query must not coalesce, and
 * doc/reference.md says so.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "parser/scansup.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"

#include "coalesce_rules.h"

/* how coarse the buckets of a time expression are */
typedef enum Granularity
{
	GRAIN_UNKNOWN,				/* not a time bucket microbatch recognises */
	GRAIN_MINUTE,				/* the time itself, or a minute or less */
	GRAIN_HOUR,
	GRAIN_DAY,
	GRAIN_WEEK,
	GRAIN_MONTH,
	GRAIN_QUARTER,
	GRAIN_YEAR,
	GRAIN_LONGER				/* decades, centuries, millennia */
} Granularity;

static const char *const grain_names[] = {
	"unknown", "minute", "hour", "day", "week", "month", "quarter", "year", "decade"
};

/* a level of the query being checked, and the one it is a subquery of */
typedef struct RuleLevel
{
	Query	   *query;
	struct RuleLevel *up;
} RuleLevel;

/* what the checks need to know throughout */
typedef struct RuleContext
{
	Pipeline   *pipeline;
	List	   *open_ctes;		/* WITH queries being searched, against loops */
} RuleContext;

/* a search for $1/$2 in a query tree, following WITH queries it reads */
typedef struct DependsSearch
{
	RuleContext *cx;
	RuleLevel  *level;
} DependsSearch;

/* a search for subqueries in the expressions of one level */
typedef struct SublinkSearch
{
	RuleContext *cx;
	RuleLevel  *level;
} SublinkSearch;

static bool ParamsOutsideConditions(Node *node, void *context);
static bool UsesParams(Node *node, void *context);
static bool DependsWalker(Node *node, DependsSearch *search);
static bool DependsOnWindow(RuleContext *cx, Query *query, RuleLevel *up);
static CommonTableExpr *FindCte(RuleLevel *level, RangeTblEntry *rte, RuleLevel **defining);
static void Refuse(RuleContext *cx, const char *reason, const char *detail, const char *hint);
static bool IsTimeCast(Node *node);
static Node *StripTimeCasts(Node *node);
static Granularity Combine(Granularity a, Granularity b);
static Granularity TruncUnit(RuleContext *cx, FuncExpr *func);
static Granularity BinShape(RuleContext *cx, FuncExpr *func);
static Granularity TimeShape(RuleContext *cx, RuleLevel *level, Node *expr, Var **var, int depth);
static Granularity ColumnShape(RuleContext *cx, RuleLevel *level, AttrNumber column, int depth);
static bool BucketFits(Granularity grain, Grid *grid);
static bool IsGroupingKey(Query *query, TargetEntry *time);
static void CheckGrouping(RuleContext *cx, RuleLevel *level, TargetEntry *time,
						  const char *above);
static void CheckSetOperations(RuleContext *cx, Node *node);
static bool SublinkWalker(Node *node, SublinkSearch *search);
static void CheckLevel(RuleContext *cx, Query *query, RuleLevel *up, int time_column,
					   const char *above);

/*
 * ParamsOutsideConditions tells whether $1 or $2 appear anywhere but in a
 * WHERE or JOIN ... ON condition (of the query or of a subquery in FROM or
 * WITH): in the select list (also inside a scalar subquery there), HAVING,
 * LIMIT, a function in FROM.  Rule 1.
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
		return UsesParams(node, NULL);
	if (IsA(node, FromExpr))
		return ParamsOutsideConditions((Node *) ((FromExpr *) node)->fromlist, context);
	if (IsA(node, JoinExpr))
		return ParamsOutsideConditions(((JoinExpr *) node)->larg, context) ||
			ParamsOutsideConditions(((JoinExpr *) node)->rarg, context);
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, ParamsOutsideConditions, context, 0);
	return expression_tree_walker(node, ParamsOutsideConditions, context);
}

/* UsesParams tells whether $1 or $2 appear anywhere in a tree. */
static bool
UsesParams(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
	{
		Param	   *param = (Param *) node;

		return param->paramkind == PARAM_EXTERN && (param->paramid == 1 || param->paramid == 2);
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, UsesParams, context, 0);
	return expression_tree_walker(node, UsesParams, context);
}

/*
 * FindCte finds the WITH query a CTE reference of the given level reads,
 * and the level that defines it.
 */
static CommonTableExpr *
FindCte(RuleLevel *level, RangeTblEntry *rte, RuleLevel **defining)
{
	Index		up = rte->ctelevelsup;
	ListCell   *lc;

	while (up-- > 0 && level != NULL)
		level = level->up;
	if (level == NULL)
		return NULL;
	foreach(lc, level->query->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

		if (strcmp(cte->ctename, rte->ctename) == 0)
		{
			*defining = level;
			return cte;
		}
	}
	return NULL;
}

/*
 * DependsWalker looks for $1 or $2 in a query tree, level by level, and in
 * the WITH queries its levels read (once each: a recursive one reads
 * itself).
 */
static bool
DependsWalker(Node *node, DependsSearch *search)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param))
		return UsesParams(node, NULL);
	if (IsA(node, Query))
	{
		RuleLevel	level = {(Query *) node, search->level};
		bool		found;

		search->level = &level;
		found = query_tree_walker((Query *) node, DependsWalker, (void *) search,
								  QTW_EXAMINE_RTES_BEFORE | QTW_IGNORE_CTE_SUBQUERIES);
		search->level = level.up;
		return found;
	}
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;
		RuleLevel  *defining;
		CommonTableExpr *cte;
		RuleLevel  *saved = search->level;
		bool		found;

		if (rte->rtekind != RTE_CTE)
			return false;
		cte = FindCte(search->level, rte, &defining);
		if (cte == NULL || list_member_ptr(search->cx->open_ctes, cte))
			return false;
		search->cx->open_ctes = lappend(search->cx->open_ctes, cte);
		search->level = defining;
		found = DependsWalker(cte->ctequery, search);
		search->level = saved;
		search->cx->open_ctes = list_delete_last(search->cx->open_ctes);
		return found;
	}
	return expression_tree_walker(node, DependsWalker, (void *) search);
}

/*
 * DependsOnWindow tells whether a level's rows depend on the window: it,
 * or a subquery or WITH query it reads, refers to $1 or $2.
 */
static bool
DependsOnWindow(RuleContext *cx, Query *query, RuleLevel *up)
{
	DependsSearch search = {cx, up};

	return DependsWalker((Node *) query, &search);
}

/* Refuse raises the error that refuses coalesce_windows for the query. */
static void
Refuse(RuleContext *cx, const char *reason, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("query of pipeline \"%s\" cannot coalesce windows: %s",
					cx->pipeline->name, reason),
			 errdetail("%s", detail),
			 errhint("%s", hint)));
}

/*
 * IsTimeCast tells whether a node converts between date, timestamp and
 * timestamptz with one of pg_catalog's casts (written as a cast or called
 * as date(t)): a conversion that keeps the instant, or (to date) truncates
 * it to its day.  A cast with a precision (t::timestamp(0)) rounds, and is
 * not one.
 */
static bool
IsTimeCast(Node *node)
{
	FuncExpr   *func;
	char	   *name;
	Oid			from;

	if (node == NULL || !IsA(node, FuncExpr))
		return false;
	func = (FuncExpr *) node;
	if (list_length(func->args) != 1 ||
		get_func_namespace(func->funcid) != PG_CATALOG_NAMESPACE)
		return false;
	from = exprType(linitial(func->args));
	if (from != DATEOID && from != TIMESTAMPOID && from != TIMESTAMPTZOID)
		return false;
	name = get_func_name(func->funcid);
	return name != NULL && (strcmp(name, "date") == 0 || strcmp(name, "timestamp") == 0 ||
							strcmp(name, "timestamptz") == 0);
}

/* StripTimeCasts looks through relabelling and time casts. */
static Node *
StripTimeCasts(Node *node)
{
	for (;;)
	{
		if (node != NULL && IsA(node, RelabelType))
			node = (Node *) ((RelabelType *) node)->arg;
		else if (IsTimeCast(node))
			node = linitial(((FuncExpr *) node)->args);
		else
			return node;
	}
}

/*
 * Combine gives the buckets of one truncation applied over another: the
 * coarser of the two, when the finer nests in it.  Weeks do not nest in
 * months (nor months in weeks): a month of week starts is no calendar
 * bucket.
 */
static Granularity
Combine(Granularity a, Granularity b)
{
	if (a == GRAIN_UNKNOWN || b == GRAIN_UNKNOWN)
		return GRAIN_UNKNOWN;
	if ((a == GRAIN_WEEK && b > GRAIN_WEEK) || (b == GRAIN_WEEK && a > GRAIN_WEEK))
		return GRAIN_UNKNOWN;
	return Max(a, b);
}

/*
 * TruncUnit reads the unit of pg_catalog's date_trunc(unit, t [, zone]),
 * the way date_trunc reads it.  A zone other than the pipeline's places
 * buckets off the grid: unknown.
 */
static Granularity
TruncUnit(RuleContext *cx, FuncExpr *func)
{
	Const	   *unit = linitial(func->args);
	char	   *lowunit;
	int			type;
	int			val;

	if (!IsA(unit, Const) || unit->constisnull || unit->consttype != TEXTOID)
		return GRAIN_UNKNOWN;
	if (list_length(func->args) == 3)
	{
		Const	   *zone = lthird(func->args);

		if (!IsA(zone, Const) || zone->constisnull || zone->consttype != TEXTOID ||
			pg_strcasecmp(TextDatumGetCString(zone->constvalue), cx->pipeline->time_zone) != 0)
			return GRAIN_UNKNOWN;
	}
	lowunit = TextDatumGetCString(unit->constvalue);
	lowunit = downcase_truncate_identifier(lowunit, strlen(lowunit), false);
	type = DecodeUnits(0, lowunit, &val);
	if (type != UNITS)
		return GRAIN_UNKNOWN;
	switch (val)
	{
		case DTK_MICROSEC:
		case DTK_MILLISEC:
		case DTK_SECOND:
		case DTK_MINUTE:
			return GRAIN_MINUTE;
		case DTK_HOUR:
			return GRAIN_HOUR;
		case DTK_DAY:
			return GRAIN_DAY;
		case DTK_WEEK:
			return GRAIN_WEEK;
		case DTK_MONTH:
			return GRAIN_MONTH;
		case DTK_QUARTER:
			return GRAIN_QUARTER;
		case DTK_YEAR:
			return GRAIN_YEAR;
		case DTK_DECADE:
		case DTK_CENTURY:
		case DTK_MILLENNIUM:
			return GRAIN_LONGER;
		default:
			return GRAIN_UNKNOWN;
	}
}

/*
 * TimeShape tells how coarse the buckets of a time expression of a level
 * are: a time column (date columns are days), date_trunc of one, casts,
 * and columns of subqueries and WITH queries made of those; anything else
 * is unknown.  *var, when given, gets the column of this level the
 * expression is built on, if any.
 */
static Granularity
TimeShape(RuleContext *cx, RuleLevel *level, Node *expr, Var **var, int depth)
{
	check_stack_depth();
	if (expr == NULL || depth > 100)
		return GRAIN_UNKNOWN;
	if (IsA(expr, RelabelType))
		return TimeShape(cx, level, (Node *) ((RelabelType *) expr)->arg, var, depth + 1);
	if (IsTimeCast(expr))
		return Combine(TimeShape(cx, level, linitial(((FuncExpr *) expr)->args), var, depth + 1),
					   exprType(expr) == DATEOID ? GRAIN_DAY : GRAIN_MINUTE);
	if (IsA(expr, FuncExpr))
	{
		FuncExpr   *func = (FuncExpr *) expr;
		char	   *name = get_func_name(func->funcid);

		if (name != NULL && strcmp(name, "date_bin") == 0 &&
			get_func_namespace(func->funcid) == PG_CATALOG_NAMESPACE &&
			list_length(func->args) == 3)
			return Combine(BinShape(cx, func),
						   TimeShape(cx, level, lsecond(func->args), var, depth + 1));
		if (name == NULL || strcmp(name, "date_trunc") != 0 ||
			get_func_namespace(func->funcid) != PG_CATALOG_NAMESPACE ||
			list_length(func->args) < 2 || list_length(func->args) > 3 ||
			(exprType(lsecond(func->args)) != TIMESTAMPOID &&
			 exprType(lsecond(func->args)) != TIMESTAMPTZOID))
			return GRAIN_UNKNOWN;
		return Combine(TruncUnit(cx, func),
					   TimeShape(cx, level, lsecond(func->args), var, depth + 1));
	}
	if (IsA(expr, Var) && ((Var *) expr)->varlevelsup == 0)
	{
		Var		   *column = (Var *) expr;
		RangeTblEntry *rte = rt_fetch(column->varno, level->query->rtable);
		Oid			type = exprType(expr);

		if (var != NULL)
			*var = column;
		if (type != DATEOID && type != TIMESTAMPOID && type != TIMESTAMPTZOID)
			return GRAIN_UNKNOWN;
		if (rte->rtekind == RTE_RELATION)
			return type == DATEOID ? GRAIN_DAY : GRAIN_MINUTE;
		if (rte->rtekind == RTE_SUBQUERY)
		{
			RuleLevel	child = {rte->subquery, level};

			return ColumnShape(cx, &child, column->varattno, depth + 1);
		}
		if (rte->rtekind == RTE_CTE)
		{
			RuleLevel  *defining;
			CommonTableExpr *cte = FindCte(level, rte, &defining);
			RuleLevel	child;

			if (cte == NULL || !IsA(cte->ctequery, Query))
				return GRAIN_UNKNOWN;
			child.query = (Query *) cte->ctequery;
			child.up = defining;
			return ColumnShape(cx, &child, column->varattno, depth + 1);
		}
		if (rte->rtekind == RTE_JOIN && column->varattno > 0 &&
			column->varattno <= list_length(rte->joinaliasvars))
			return TimeShape(cx, level, list_nth(rte->joinaliasvars, column->varattno - 1),
							 NULL, depth + 1);
#if PG_VERSION_NUM >= 180000
		/* since 18, a grouped level's select list reads its keys through RTE_GROUP */
		if (rte->rtekind == RTE_GROUP && column->varattno > 0 &&
			column->varattno <= list_length(rte->groupexprs))
			return TimeShape(cx, level, list_nth(rte->groupexprs, column->varattno - 1),
							 var, depth + 1);
#endif
	}
	return GRAIN_UNKNOWN;
}

/*
 * ColumnShape is TimeShape of a column of a subquery level: of the
 * expression that fills it, or, for UNION ALL, the coarser of what every
 * branch fills it with.
 */
static Granularity
ColumnShape(RuleContext *cx, RuleLevel *level, AttrNumber column, int depth)
{
	TargetEntry *entry;
	Granularity grain = GRAIN_MINUTE;
	ListCell   *lc;

	if (level->query->setOperations == NULL)
	{
		entry = get_tle_by_resno(level->query->targetList, column);
		return entry == NULL ? GRAIN_UNKNOWN :
			TimeShape(cx, level, (Node *) entry->expr, NULL, depth);
	}
	/* the branches of a set operation are the subqueries of its level */
	foreach(lc, level->query->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		RuleLevel	branch = {rte->subquery, level};

		if (rte->rtekind == RTE_SUBQUERY)
			grain = Combine(grain, ColumnShape(cx, &branch, column, depth + 1));
	}
	return grain;
}

/*
 * BinShape tells whether the buckets of date_bin(stride, t, origin) lie
 * whole in the pipeline's windows: a constant stride of whole seconds
 * that divides a day and the window (for windows of a day or more, a day),
 * a constant origin on a bucket boundary of the zone's midnight, and a
 * zone of fixed offset (DST would move midnight against the buckets).
 * Then they are as fine as minutes; otherwise unknown.
 */
static Granularity
BinShape(RuleContext *cx, FuncExpr *func)
{
	Grid	   *grid = &cx->pipeline->grid;
	Node	   *stride_arg = linitial(func->args);
	Node	   *origin_arg = lthird(func->args);
	Interval   *stride;
	int64		usecs;
	int64		span;
	long		offset;
	TimestampTz origin;

	if (!IsA(stride_arg, Const) || ((Const *) stride_arg)->constisnull ||
		!IsA(origin_arg, Const) || ((Const *) origin_arg)->constisnull ||
		exprType(origin_arg) != TIMESTAMPTZOID || grid->tz == NULL ||
		!pg_get_timezone_offset(grid->tz, &offset))
		return GRAIN_UNKNOWN;
	stride = DatumGetIntervalP(((Const *) stride_arg)->constvalue);
	usecs = stride->time;
	if (stride->month != 0 || stride->day != 0 || usecs <= 0 || usecs % USECS_PER_SEC != 0 ||
		USECS_PER_DAY % usecs != 0)
		return GRAIN_UNKNOWN;
	span = grid->unit == GRID_MINUTES ? grid->minutes * USECS_PER_MINUTE : USECS_PER_DAY;
	if (span % usecs != 0)
		return GRAIN_UNKNOWN;
	/* the zone's midnight on a bucket boundary: origin + offset = k * stride */
	origin = DatumGetTimestampTz(((Const *) origin_arg)->constvalue);
	if (((origin + offset * USECS_PER_SEC) % usecs + usecs) % usecs != 0)
		return GRAIN_UNKNOWN;
	return GRAIN_MINUTE;
}

/*
 * BucketFits tells whether buckets of a granularity lie whole in one
 * window of the grid: minutes in any window (sub-day windows are whole
 * minutes from local midnight), hours in windows of whole hours or of a
 * day or more, days in day to year windows, weeks in week windows only,
 * months in month, quarter and year windows, and so on.
 */
static bool
BucketFits(Granularity grain, Grid *grid)
{
	switch (grain)
	{
		case GRAIN_MINUTE:
			return true;
		case GRAIN_HOUR:
			return grid->unit != GRID_MINUTES || grid->minutes % 60 == 0;
		case GRAIN_DAY:
			return grid->unit >= GRID_DAY;
		case GRAIN_WEEK:
			return grid->unit == GRID_WEEK;
		case GRAIN_MONTH:
			return grid->unit >= GRID_MONTH;
		case GRAIN_QUARTER:
			return grid->unit >= GRID_QUARTER;
		case GRAIN_YEAR:
			return grid->unit == GRID_YEAR;
		default:
			return false;
	}
}

/*
 * IsGroupingKey tells whether the column carrying the event time is one of
 * a grouped level's keys (GROUP BY, or DISTINCT without it), or a cast of
 * one.
 */
static bool
IsGroupingKey(Query *query, TargetEntry *time)
{
	List	   *keys = query->groupClause != NIL ? query->groupClause : query->distinctClause;
	Node	   *stripped = StripTimeCasts((Node *) time->expr);
	ListCell   *lc;

	if (time->ressortgroupref != 0 &&
		get_sortgroupref_clause_noerr(time->ressortgroupref, keys) != NULL)
		return true;
	foreach(lc, query->targetList)
	{
		TargetEntry *entry = lfirst_node(TargetEntry, lc);

		if (entry->ressortgroupref != 0 &&
			get_sortgroupref_clause_noerr(entry->ressortgroupref, keys) != NULL &&
			equal(StripTimeCasts((Node *) entry->expr), stripped))
			return true;
	}
	return false;
}

/*
 * CheckGrouping applies rule 4 to a level that groups its rows; time is
 * the column of it that becomes the event time (NULL if none does), and
 * above, when not NULL, says what above the level keeps its groups from
 * reaching the target as they are.
 */
static void
CheckGrouping(RuleContext *cx, RuleLevel *level, TargetEntry *time, const char *above)
{
	Query	   *query = level->query;
	const char *event_time = cx->pipeline->event_time;
	Grid	   *grid = &cx->pipeline->grid;
	const char *unit = grid->unit != GRID_MINUTES ? grid->batch_size :
		grid->minutes % 60 == 0 ? "hour" : "minute";
	const char *hint = psprintf("Group by a bucket of the source's time returned as column \"%s\" "
								"(date_trunc('%s', t) AS %s ... GROUP BY 1), or register without coalesce_windows.",
								event_time, unit, quote_identifier(event_time));
	Granularity grain;

	if (query->groupClause == NIL && (query->hasAggs || query->havingQual != NULL))
		Refuse(cx, "it aggregates the whole result",
			   "An aggregate or HAVING without GROUP BY gives one row for all the rows the statement reads: one row per chunk instead of one per window.",
			   hint);
	if (time == NULL)
		Refuse(cx, "it groups rows in a subquery that does not return the event time",
			   "A group of such a subquery can hold rows of several windows: over a chunk it is one group, one window at a time it is one per window.",
			   hint);
	if (!IsGroupingKey(query, time))
		Refuse(cx, psprintf("it groups by something other than the event time \"%s\"", event_time),
			   psprintf("Grouping is exact only when the column that becomes \"%s\" is one of the grouping keys; otherwise a group can hold rows of several windows, one row over a chunk and one per window one window at a time.",
						event_time),
			   hint);
	grain = TimeShape(cx, level, (Node *) time->expr, NULL, 0);
	if (grain == GRAIN_UNKNOWN)
		Refuse(cx, psprintf("it groups by an event time \"%s\" that is not a time bucket", event_time),
			   "Only a time column, date_trunc(unit, time) in the pipeline's time zone and casts to date are known to make buckets that a window holds whole.",
			   hint);
	if (!BucketFits(grain, grid))
		Refuse(cx, psprintf("it groups by %s buckets, which do not fit in one window of batch size %s",
							grain_names[grain], grid->batch_size),
			   "Each bucket spans several windows: one window at a time, every window would give the bucket its own row, all but one outside their window.",
			   "Group by a bucket that fits in one window, or register with a larger batch_size.");
	if (above != NULL)
		Refuse(cx, psprintf("it groups rows in a subquery whose groups %s", above),
			   "Grouping is exact because a group with rows of several windows gives, one window at a time, a row outside its window, which fails; what drops rows between the grouping and the target could hide that.",
			   "Group at the outermost level of the query, or register without coalesce_windows.");
	if (query->havingQual != NULL)
		Refuse(cx, "it filters groups with HAVING",
			   "Grouping is exact because a group with rows of several windows gives, one window at a time, a row outside its window, which fails; HAVING could drop that row and hide it.",
			   "Remove HAVING (filter in a query that reads the target), or register without coalesce_windows.");
	if (query->hasTargetSRFs)
		Refuse(cx, "it calls a set-returning function in the select list of a grouped query",
			   "Grouping is exact because a group with rows of several windows gives, one window at a time, a row outside its window, which fails; a set-returning function could return no row for it and hide it.",
			   "Move the set-returning function to a query that reads the target, or register without coalesce_windows.");
}

/* CheckSetOperations refuses every set operation but UNION ALL (rule 3). */
static void
CheckSetOperations(RuleContext *cx, Node *node)
{
	SetOperationStmt *op;

	if (node == NULL || !IsA(node, SetOperationStmt))
		return;
	op = (SetOperationStmt *) node;
	if (op->op != SETOP_UNION || !op->all)
		Refuse(cx, psprintf("it uses %s", op->op == SETOP_UNION ? "UNION without ALL" :
							op->op == SETOP_INTERSECT ? "INTERSECT" : "EXCEPT"),
			   "It compares rows across the whole result: over a chunk, rows of different windows.",
			   "Use UNION ALL, or register without coalesce_windows.");
	CheckSetOperations(cx, op->larg);
	CheckSetOperations(cx, op->rarg);
}

/*
 * SublinkWalker checks the subqueries in the expressions of one level
 * (scalar, EXISTS, IN, ANY): they return no event time.  The walk does not
 * enter the level's subqueries in FROM or WITH, so any query it meets is
 * a sublink's.
 */
static bool
SublinkWalker(Node *node, SublinkSearch *search)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		CheckLevel(search->cx, (Query *) node, search->level, 0, "are read by an expression");
		return false;
	}
	return expression_tree_walker(node, SublinkWalker, (void *) search);
}

/*
 * CheckLevel applies rules 3 and 4 to a level of the query and the levels
 * below it.  time_column is the column of the level that becomes the event
 * time (0: none); above, when not NULL, says what keeps the level's rows
 * from reaching the target as they are.
 */
static void
CheckLevel(RuleContext *cx, Query *query, RuleLevel *up, int time_column, const char *above)
{
	RuleLevel	level = {query, up};
	TargetEntry *time = time_column > 0 ? get_tle_by_resno(query->targetList, time_column) : NULL;
	bool		grouped;
	const char *below;
	Var		   *time_var = NULL;
	SublinkSearch sublinks = {cx, &level};
	ListCell   *lc;
	Index		rtindex = 0;

	check_stack_depth();
	if (!DependsOnWindow(cx, query, up))
		return;
	if (query->hasRecursive)
		Refuse(cx, "it uses WITH RECURSIVE",
			   "What a recursive query gives over a chunk cannot be told from what it gives per window.",
			   "Remove WITH RECURSIVE, or register without coalesce_windows.");
	if (query->hasDistinctOn)
		Refuse(cx, "it uses DISTINCT ON",
			   "DISTINCT ON keeps one row per key of all the rows the statement reads: over a chunk one row for all its windows, where one window at a time keeps one per window.",
			   "Remove DISTINCT ON, or register without coalesce_windows.");
	if (query->limitCount != NULL || query->limitOffset != NULL)
		Refuse(cx, "it uses LIMIT or OFFSET",
			   "LIMIT, OFFSET and FETCH count the rows of the whole statement: over a chunk, the rows of all its windows together.",
			   "Remove LIMIT, OFFSET or FETCH, or register without coalesce_windows.");
	if (query->hasWindowFuncs)
		Refuse(cx, "it uses a window function",
			   "A window function (OVER) reads the other rows of its partition: over a chunk, those of the other windows too.",
			   "Remove the window function (OVER ...), or register without coalesce_windows.");
	if (query->groupingSets != NIL)
		Refuse(cx, "it uses GROUPING SETS, ROLLUP or CUBE",
			   "Their subtotals group rows across the event time.",
			   "Group by the event time's bucket only, or register without coalesce_windows.");
	CheckSetOperations(cx, query->setOperations);

	grouped = query->hasAggs || query->groupClause != NIL || query->havingQual != NULL ||
		query->distinctClause != NIL;
	if (grouped)
		CheckGrouping(cx, &level, time, above);

	/* what stands between the level's subqueries in FROM and the target */
	if (above != NULL || query->setOperations != NULL)
		below = above;
	else if (list_length(query->jointree->fromlist) != 1 ||
			 !IsA(linitial(query->jointree->fromlist), RangeTblRef))
		below = "are joined to other rows";
	else if (query->jointree->quals != NULL)
		below = "are filtered by a WHERE condition";
	else if (query->havingQual != NULL)
		below = "are filtered by HAVING";
	else if (query->hasTargetSRFs)
		below = "are expanded by a set-returning function";
	else
		below = NULL;
	if (time != NULL && query->setOperations == NULL)
		(void) TimeShape(cx, &level, (Node *) time->expr, &time_var, 0);

	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		int			child_time;

		rtindex++;
		if (query->setOperations != NULL)
			child_time = time_column;
		else
			child_time = time_var != NULL && time_var->varno == rtindex ? time_var->varattno : 0;
		if (rte->rtekind == RTE_SUBQUERY)
			CheckLevel(cx, rte->subquery, &level, child_time, below);
		else if (rte->rtekind == RTE_CTE)
		{
			RuleLevel  *defining;
			CommonTableExpr *cte = FindCte(&level, rte, &defining);

			if (cte != NULL && IsA(cte->ctequery, Query) &&
				!list_member_ptr(cx->open_ctes, cte))
			{
				cx->open_ctes = lappend(cx->open_ctes, cte);
				CheckLevel(cx, (Query *) cte->ctequery, defining, child_time, below);
				cx->open_ctes = list_delete_last(cx->open_ctes);
			}
		}
	}
	(void) query_tree_walker(query, SublinkWalker, (void *) &sublinks,
							 QTW_IGNORE_RT_SUBQUERIES | QTW_IGNORE_CTE_SUBQUERIES);
}

/*
 * CoalesceRulesCheck refuses coalesce_windows for a pipeline whose query
 * (analysed, with reads the relations it reads, deps.c) would give over a
 * chunk of windows other rows than one window at a time.  Nothing is
 * written.
 */
void
CoalesceRulesCheck(Pipeline *pipeline, Query *query, List *reads)
{
	RuleContext cx = {pipeline, NIL};
	TargetEntry *time = NULL;
	ListCell   *lc;

	if (query_tree_walker(query, ParamsOutsideConditions, NULL, 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query of pipeline \"%s\" cannot coalesce windows: it uses $1 or $2 outside a WHERE or JOIN condition",
						pipeline->name),
				 errdetail("With coalesce_windows, one statement covers several windows, with $1 the first one's start and $2 the last one's end; only a query that uses them to filter rows gives the same rows as one statement per window."),
				 errhint("Use $1 and $2 only in conditions such as \"<event time> >= $1 AND <event time> < $2\", or register without coalesce_windows.")));
	if (list_member_oid(reads, pipeline->target))
		Refuse(&cx, "it reads its own target",
			   "Its windows depend on the windows before them and run one at a time, oldest first; a chunk would read its own windows as they were before it.",
			   "Register it without coalesce_windows.");

	foreach(lc, query->targetList)
	{
		TargetEntry *entry = lfirst_node(TargetEntry, lc);

		if (!entry->resjunk && entry->resname != NULL &&
			strcmp(entry->resname, pipeline->event_time) == 0)
			time = entry;
	}
	CheckLevel(&cx, query, NULL, time != NULL ? time->resno : 0, NULL);
}

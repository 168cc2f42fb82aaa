/*-------------------------------------------------------------------------
 *
 * track_query.c
 *	  What mb_register(..., track => true) tracks: the tables a pipeline's
 *	  query filters by a range on $1 and $2, found in its analysed tree.
 *
 * A table is tracked by a column when one level of the query compares that
 * column of it with $1 from below and with $2 from above (">=" or ">" and
 * "<" or "<=", either way round, through casts).  A table the query reads
 * without such a filter cannot be tracked by any column the query implies,
 * and a notice names it.  The pipeline's own target is never tracked by its
 * own pipeline: its replacement of a window would mark that window again.
 *
 * A filter on a column of a view tracks the table column the view shows
 * unchanged (ViewColumnSource), through views over views: a change to a
 * row of that table at event time t changes only what the view shows at t.
 * Views that make a row's presence depend on other rows (LIMIT, DISTINCT
 * ON, window functions, set operations) and computed columns are not
 * looked through: the notice names them, and mb_track tracks by hand.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_class.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteHandler.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "track.h"

/* a relation of a query and the column its $1/$2 range filter is on */
typedef struct RangeFilter
{
	Index		rtindex;
	AttrNumber	attnum;
	bool		lower;			/* col >= $1 (or > $1) */
	bool		upper;			/* col < $2 (or <= $2) */
} RangeFilter;

/* what the search for range filters found in one query level */
typedef struct FilterSearch
{
	List	   *filters;		/* of RangeFilter * */
} FilterSearch;

/* StripCasts looks through casts to the expression they convert. */
static Node *
StripCasts(Node *node)
{
	for (;;)
	{
		if (node && IsA(node, RelabelType))
			node = (Node *) ((RelabelType *) node)->arg;
		else if (node && IsA(node, FuncExpr) &&
				 ((FuncExpr *) node)->funcformat != COERCE_EXPLICIT_CALL &&
				 list_length(((FuncExpr *) node)->args) >= 1)
			node = linitial(((FuncExpr *) node)->args);
		else
			return node;
	}
}

/* ParamNumber returns 1 or 2 for $1 or $2 (through casts), else 0. */
static int
ParamNumber(Node *node)
{
	node = StripCasts(node);
	if (node && IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXTERN &&
		(((Param *) node)->paramid == 1 || ((Param *) node)->paramid == 2))
		return ((Param *) node)->paramid;
	return 0;
}

/*
 * NoteComparison records a comparison of a column of this query level with
 * $1 or $2 that bounds it from below by $1 or from above by $2.
 */
static void
NoteComparison(OpExpr *op, FilterSearch *search)
{
	Node	   *left = StripCasts(linitial(op->args));
	Node	   *right = StripCasts(lsecond(op->args));
	char	   *name = get_opname(op->opno);
	bool		var_left = IsA(left, Var);
	Var		   *var = (Var *) (var_left ? left : right);
	int			param = ParamNumber(var_left ? right : left);
	bool		greater;
	RangeFilter *filter = NULL;
	ListCell   *lc;

	if (name == NULL || param == 0 || !IsA(var, Var) || var->varlevelsup != 0)
		return;
	if (strcmp(name, ">=") == 0 || strcmp(name, ">") == 0)
		greater = var_left;
	else if (strcmp(name, "<=") == 0 || strcmp(name, "<") == 0)
		greater = !var_left;
	else
		return;
	/* greater: the column is bounded from below */
	if ((greater && param != 1) || (!greater && param != 2))
		return;
	foreach(lc, search->filters)
	{
		RangeFilter *f = lfirst(lc);

		if (f->rtindex == var->varno && f->attnum == var->varattno)
			filter = f;
	}
	if (filter == NULL)
	{
		filter = palloc0(sizeof(RangeFilter));
		filter->rtindex = var->varno;
		filter->attnum = var->varattno;
		search->filters = lappend(search->filters, filter);
	}
	if (greater)
		filter->lower = true;
	else
		filter->upper = true;
}

/* FindComparisons walks one query level's quals, not into subqueries. */
static bool
FindComparisons(Node *node, FilterSearch *search)
{
	if (node == NULL || IsA(node, Query))
		return false;
	if (IsA(node, OpExpr) && list_length(((OpExpr *) node)->args) == 2)
		NoteComparison((OpExpr *) node, search);
	return expression_tree_walker(node, FindComparisons, (void *) search);
}

/*
 * ViewColumnSource follows column *attnum of view *relid down to the table
 * column it shows unchanged, through views over views and their joins, and
 * leaves that table and column in *relid and *attnum.  It returns false
 * when the column is computed, or when the view's rows depend on other rows
 * (see the file header).  A table is left as it is.
 */
static bool
ViewColumnSource(Oid *relid, AttrNumber *attnum)
{
	int			depth;

	for (depth = 0; get_rel_relkind(*relid) == RELKIND_VIEW; depth++)
	{
		Relation	view;
		Query	   *query;
		TargetEntry *entry;
		Node	   *expr;

		if (depth > 32)
			return false;
		view = relation_open(*relid, AccessShareLock);
		query = copyObject(get_view_query(view));
		relation_close(view, AccessShareLock);
		if (query->limitCount != NULL || query->limitOffset != NULL || query->hasDistinctOn ||
			query->hasWindowFuncs || query->hasTargetSRFs || query->setOperations != NULL)
			return false;
		entry = get_tle_by_resno(query->targetList, *attnum);
		expr = entry ? StripCasts((Node *) entry->expr) : NULL;
		for (;;)
		{
			Var		   *var = (Var *) expr;
			RangeTblEntry *rte;

			if (expr == NULL || !IsA(expr, Var) || var->varlevelsup != 0 || var->varattno <= 0)
				return false;
			rte = rt_fetch(var->varno, query->rtable);
			if (rte->rtekind == RTE_JOIN)
			{
				expr = StripCasts(list_nth(rte->joinaliasvars, var->varattno - 1));
				continue;
			}
			if (rte->rtekind != RTE_RELATION)
				return false;
			*relid = rte->relid;
			*attnum = var->varattno;
			break;
		}
	}
	return true;
}

/* the relations a query filters by $1/$2, and those it does not */
typedef struct TrackSearch
{
	List	   *tracked;		/* of Oid */
	List	   *columns;		/* of char *, parallel to tracked */
	List	   *unfiltered;		/* of Oid */
} TrackSearch;

/*
 * FindTrackable walks a query tree level by level and sorts every table it
 * reads into those filtered by a $1/$2 range on a column, and the others.
 */
static bool
FindTrackable(Node *node, TrackSearch *found)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		Query	   *query = (Query *) node;
		FilterSearch search = {NIL};
		ListCell   *lc;
		Index		rtindex = 0;

		(void) FindComparisons((Node *) query->jointree, &search);
		foreach(lc, query->rtable)
		{
			RangeTblEntry *rte = lfirst(lc);
			ListCell   *f;
			char	   *column = NULL;
			Oid			relid;

			rtindex++;
			if (rte->rtekind != RTE_RELATION)
				continue;
			relid = rte->relid;
			foreach(f, search.filters)
			{
				RangeFilter *filter = lfirst(f);
				Oid			table = rte->relid;
				AttrNumber	attnum = filter->attnum;

				/* a view's column: the table column under it, if any */
				if (filter->rtindex == rtindex && filter->lower && filter->upper &&
					attnum > 0 && column == NULL && ViewColumnSource(&table, &attnum))
				{
					relid = table;
					column = get_attname(relid, attnum, false);
				}
			}
			if (column != NULL && !list_member_oid(found->tracked, relid))
			{
				found->tracked = lappend_oid(found->tracked, relid);
				found->columns = lappend(found->columns, column);
			}
			else if (column == NULL)
				found->unfiltered = list_append_unique_oid(found->unfiltered, rte->relid);
		}
		return query_tree_walker(query, FindTrackable, (void *) found, 0);
	}
	return expression_tree_walker(node, FindTrackable, (void *) found);
}

/*
 * TrackFromQuery tracks every table the pipeline's query filters by
 * "col >= $1 AND col < $2" (or an equivalent range on $1/$2), on that
 * column, and names in a notice the tables it reads without such a filter.
 * The pipeline's own target is never tracked by its own pipeline.
 */
void
TrackFromQuery(Pipeline *pipeline, Query *query)
{
	TrackSearch found = {NIL, NIL, NIL};
	ListCell   *a;
	ListCell   *b;

	(void) FindTrackable((Node *) query, &found);
	forboth(a, found.tracked, b, found.columns)
	{
		char		relkind = get_rel_relkind(lfirst_oid(a));

		if (lfirst_oid(a) == pipeline->target)
			continue;
		if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		{
			ereport(NOTICE,
					(errmsg("pipeline \"%s\" does not track \"%s\": it is not a table",
							pipeline->name, get_rel_name(lfirst_oid(a))),
					 errhint("Track the tables it reads with mb_track.")));
			continue;
		}
		if (get_rel_persistence(lfirst_oid(a)) == RELPERSISTENCE_TEMP)
		{
			ereport(NOTICE,
					(errmsg("pipeline \"%s\" does not track \"%s\": it is a temporary table",
							pipeline->name, get_rel_name(lfirst_oid(a))),
					 errdetail("It goes with the session that created it, and no other session sees its changes.")));
			continue;
		}
		TrackSource(pipeline, lfirst_oid(a), lfirst(b));
		ereport(NOTICE,
				(errmsg("pipeline \"%s\" tracks table \"%s\" by column \"%s\"",
						pipeline->name, get_rel_name(lfirst_oid(a)), (char *) lfirst(b))));
	}
	foreach(a, found.unfiltered)
	{
		if (list_member_oid(found.tracked, lfirst_oid(a)) || lfirst_oid(a) == pipeline->target)
			continue;
		ereport(NOTICE,
				(errmsg("pipeline \"%s\" does not track table \"%s\": its query reads it without a range filter on $1 and $2",
						pipeline->name, get_rel_name(lfirst_oid(a))),
				 errhint("Changes to it do not mark windows stale; track it with mb_track if it has an event-time column.")));
	}
}


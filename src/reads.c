/*-------------------------------------------------------------------------
 *
 * reads.c
 *	  The tables whose rows a pipeline's query reads: the relations it
 *	  names, and the tables hidden behind them.
 *
 * The dependency graph and self-reference (deps.c) ask one question of a
 * pipeline: does its query read the rows of table T?  A query can read T
 * without naming it:
 *
 * - through a view, or a view of a view: a view is looked through,
 *	 recursively, to the relations its stored rule reads (its "_RETURN"
 *	 rule in pg_rewrite, the tree the rewriter expands in its place);
 * - through a partitioned or inheritance parent of T, whose rows include
 *	 T's;
 * - through a partition of T: the rows T's pipeline inserts into T are
 *	 routed to T's partitions.
 *
 * This happens in two steps, at two times.  When a query is stored (at
 * registration, at mb_alter(query => ...), and by the update from a
 * version before 0.3, which analyses every stored query as its owner with
 * its search_path), the relations the analysed query names are kept in
 * pipelines.reads: every range table entry, with subqueries, CTEs and
 * sublinks.  Whenever the graph is read (every run, backfill, plan and
 * status row), each of them is expanded as above from the catalogs as
 * they are then.  So CREATE OR REPLACE VIEW that points a view at another
 * table, or a partition attached or detached, changes the graph at the
 * next run, with nothing to recompute; a view is read from the system
 * cache, without taking a lock on it.
 *
 * Not looked through: functions (an SQL function's body is not expanded),
 * materialized views (their rows change only with REFRESH) and foreign
 * tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "rewrite/rewriteSupport.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "reads.h"
#include "sandbox.h"

static bool CollectRelations(Node *node, List **relids);
static List *ViewRelations(Oid view);

/* CollectRelations adds every relation a query tree names to *relids. */
static bool
CollectRelations(Node *node, List **relids)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION)
			*relids = list_append_unique_oid(*relids, rte->relid);
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, CollectRelations, (void *) relids,
								 QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, CollectRelations, (void *) relids);
}

/* ReadsOfQuery lists the relations an analysed query names. */
List *
ReadsOfQuery(Query *query)
{
	List	   *relids = NIL;

	(void) CollectRelations((Node *) query, &relids);
	return relids;
}

/*
 * ViewRelations lists the relations a view's stored definition names, or
 * none when the view is gone.  Before PostgreSQL 16 the definition also
 * names the view itself (its OLD and NEW entries); the caller skips what
 * it has seen.
 */
static List *
ViewRelations(Oid view)
{
	HeapTuple	tuple = SearchSysCache2(RULERELNAME, ObjectIdGetDatum(view),
										CStringGetDatum(ViewSelectRuleName));
	List	   *relids = NIL;
	List	   *actions;
	ListCell   *lc;
	Datum		action;
	bool		isnull;

	if (!HeapTupleIsValid(tuple))
		return NIL;
	action = SysCacheGetAttr(RULERELNAME, tuple, Anum_pg_rewrite_ev_action, &isnull);
	actions = isnull ? NIL : (List *) stringToNode(TextDatumGetCString(action));
	ReleaseSysCache(tuple);
	foreach(lc, actions)
		(void) CollectRelations(lfirst(lc), &relids);
	return relids;
}

/*
 * ReadsExpand returns the relations whose rows a query that names the
 * given relations reads: those, what the views among them read
 * (recursively), every inheritance descendant of a parent, and every
 * partition ancestor of a partition.
 */
List *
ReadsExpand(List *reads)
{
	List	   *seen = NIL;
	List	   *work = list_copy(reads);

	while (work != NIL)
	{
		Oid			relid = linitial_oid(work);
		char		relkind = get_rel_relkind(relid);

		CHECK_FOR_INTERRUPTS();
		work = list_delete_first(work);
		if (list_member_oid(seen, relid))
			continue;
		seen = lappend_oid(seen, relid);
		if (relkind == RELKIND_VIEW)
		{
			work = list_concat(work, ViewRelations(relid));
			continue;
		}
		if (relkind == '\0')
			continue;			/* dropped meanwhile */

		/* its descendants' rows are its own; they are tables, not views */
		if (has_subclass(relid))
		{
			ListCell   *lc;

			foreach(lc, find_all_inheritors(relid, NoLock, NULL))
				seen = list_append_unique_oid(seen, lfirst_oid(lc));
		}
		/* rows inserted into an ancestor may be routed here */
		if (get_rel_relispartition(relid))
		{
			ListCell   *lc;

			foreach(lc, get_partition_ancestors(relid))
				seen = list_append_unique_oid(seen, lfirst_oid(lc));
		}
	}
	return seen;
}

/*
 * ReadsOfPipeline analyses a pipeline's stored query the way its windows
 * run it, as its owner with its search_path, and lists the relations it
 * names.  An error (a query that no longer analyses) goes to the caller.
 */
List *
ReadsOfPipeline(Pipeline *pipeline)
{
	Oid			param_types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Sandbox		sandbox;
	Query	   *analysed;
	char	   *text;

	SandboxEnterPipeline(&sandbox, pipeline->owner, pipeline->search_path, NULL);
	analysed = AnalyseSelect(pipeline->query, psprintf("query of pipeline \"%s\"", pipeline->name),
							 param_types, NULL, &text);
	SandboxLeave(&sandbox);
	return ReadsOfQuery(analysed);
}

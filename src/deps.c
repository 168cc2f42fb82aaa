/*-------------------------------------------------------------------------
 *
 * deps.c
 *	  Pipelines that read other pipelines' targets: the dependency graph,
 *	  upstream-first order, waiting windows and self-reference.
 *
 * A pipeline depends on every pipeline whose target its query reads.  The
 * relations a query reads (its range table, with every subquery, CTE and
 * sublink) are stored in pipelines.reads at registration and whenever
 * mb_alter changes the query; the graph is built from those rows, so a
 * pipeline registered before its upstream depends on it as soon as the
 * upstream exists.  A new edge that closes a cycle is refused, naming it.
 * A pipeline that reads its own target (a running total) is not a cycle:
 * its windows depend on the windows before them, so they run one at a
 * time, oldest first.
 *
 * mb_run() of every pipeline runs them upstream first (a topological
 * order, ties by name) and skips, with a notice, the pipelines downstream
 * of one that failed or was skipped in the same call.
 *
 * Waiting.  An upstream U has succeeded through its frontier: the start of
 * its earliest window that has not succeeded in full, is stale, or was
 * never processed (or, with nothing left to do before its end_at, the end
 * of time).  A downstream window [s, e) is processed only once e <= the
 * frontier of every upstream; until then it is "waiting" in mb_plan and
 * left out of runs, which is neither a failure nor a skip.  The frontier
 * is read from indexed state: the high-water mark, the first window not
 * succeeded, the first stale window, and the first gap after
 * contiguous_until.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "deps.h"

/* how many state rows the gap search reads at a time */
#define GAP_CHUNK 10000

static bool CollectRelations(Node *node, List **relids);
static List *ReadGraph(void);
static CatalogGraphNode *FindNode(List *graph, const char *name);
static List *Upstreams(List *graph, CatalogGraphNode *node);
static List **UpstreamIndex(CatalogGraphNode **nodes, int n);
static bool FindPath(CatalogGraphNode **nodes, List **upstreams, bool *visited, int from,
					 int to, List **path);
static TimestampTz Frontier(Pipeline *upstream);
static TimestampTz FirstGap(Pipeline *pipeline, TimestampTz until);

/* CollectRelations adds every relation a query tree reads to *relids. */
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

/* DepsQueryRelations lists the relations an analysed query reads. */
List *
DepsQueryRelations(Query *query)
{
	List	   *relids = NIL;

	(void) CollectRelations((Node *) query, &relids);
	return relids;
}

/* ReadGraph reads every pipeline's target and reads, or none before 0.3. */
static List *
ReadGraph(void)
{
	if (!CatalogHasTracking())
		return NIL;
	return CatalogReadGraph(CurrentMemoryContext);
}

/* FindNode finds a pipeline of the graph by name. */
static CatalogGraphNode *
FindNode(List *graph, const char *name)
{
	ListCell   *lc;

	foreach(lc, graph)
		if (strcmp(((CatalogGraphNode *) lfirst(lc))->name, name) == 0)
			return lfirst(lc);
	return NULL;
}

/* Upstreams lists the other pipelines whose target a pipeline reads. */
static List *
Upstreams(List *graph, CatalogGraphNode *node)
{
	List	   *upstreams = NIL;
	ListCell   *lc;

	foreach(lc, graph)
	{
		CatalogGraphNode *other = lfirst(lc);

		if (other != node && strcmp(other->name, node->name) != 0 &&
			list_member_oid(node->reads, other->target))
			upstreams = lappend(upstreams, other);
	}
	return upstreams;
}

/* the pipelines of the graph that write one target */
typedef struct TargetWriters
{
	Oid			target;			/* the key */
	List	   *nodes;			/* of int: positions in the graph */
} TargetWriters;

/*
 * UpstreamIndex lists, for the pipeline at each position of the graph, the
 * positions of its upstreams in graph order (as Upstreams would): one pass
 * puts the targets into a hash table, one looks up the reads, so building
 * it costs the size of the graph, not its square.
 */
static List **
UpstreamIndex(CatalogGraphNode **nodes, int n)
{
	List	  **upstreams = palloc0(sizeof(List *) * Max(n, 1));
	HASHCTL		ctl;
	HTAB	   *targets;
	int			i;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(TargetWriters);
	ctl.hcxt = CurrentMemoryContext;
	targets = hash_create("microbatch targets", Max(n, 16), &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (i = 0; i < n; i++)
	{
		bool		found;
		TargetWriters *entry = hash_search(targets, &nodes[i]->target, HASH_ENTER, &found);

		if (!found)
			entry->nodes = NIL;
		entry->nodes = lappend_int(entry->nodes, i);
	}
	for (i = 0; i < n; i++)
	{
		ListCell   *read;

		foreach(read, nodes[i]->reads)
		{
			Oid			relid = lfirst_oid(read);
			TargetWriters *entry = hash_search(targets, &relid, HASH_FIND, NULL);
			ListCell   *lc;

			if (entry == NULL)
				continue;
			foreach(lc, entry->nodes)
				if (lfirst_int(lc) != i && strcmp(nodes[lfirst_int(lc)]->name, nodes[i]->name) != 0)
					upstreams[i] = list_append_unique_int(upstreams[i], lfirst_int(lc));
		}
		list_sort(upstreams[i], list_int_cmp);
	}
	hash_destroy(targets);
	return upstreams;
}

/*
 * FindPath looks, depth first, for a chain of upstreams from the pipeline
 * at position "from" to the one at "to" and, when there is one, leaves it
 * in *path (from first).  A pipeline already visited leads nowhere new, so
 * each is expanded once: the search costs the size of the graph, however
 * many paths a deep graph has.
 */
static bool
FindPath(CatalogGraphNode **nodes, List **upstreams, bool *visited, int from, int to,
		 List **path)
{
	ListCell   *lc;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	*path = lappend(*path, nodes[from]);
	foreach(lc, upstreams[from])
	{
		int			up = lfirst_int(lc);

		if (up == to)
		{
			*path = lappend(*path, nodes[to]);
			return true;
		}
		if (visited[up])
			continue;
		visited[up] = true;
		if (FindPath(nodes, upstreams, visited, up, to, path))
			return true;
	}
	*path = list_delete_last(*path);
	return false;
}

/*
 * DepsCheck refuses a query whose reads would close a cycle of pipelines,
 * naming it, and says so when the query reads its own target.  Nothing is
 * written.
 */
void
DepsCheck(Pipeline *pipeline, List *reads)
{
	List	   *graph = ReadGraph();
	CatalogGraphNode *node = FindNode(graph, pipeline->name);
	CatalogGraphNode **nodes;
	List	   *path = NIL;
	ListCell   *lc;
	int			n = 0;
	int			self = -1;

	if (!CatalogHasTracking())
		return;
	if (node == NULL)
	{
		node = palloc0(sizeof(CatalogGraphNode));
		node->name = pipeline->name;
		graph = lappend(graph, node);
	}
	node->target = pipeline->target;
	node->reads = reads;

	nodes = palloc(sizeof(CatalogGraphNode *) * list_length(graph));
	foreach(lc, graph)
	{
		if (lfirst(lc) == node)
			self = n;
		nodes[n++] = lfirst(lc);
	}
	if (FindPath(nodes, UpstreamIndex(nodes, n), palloc0(sizeof(bool) * n), self, self, &path))
	{
		StringInfoData cycle;

		initStringInfo(&cycle);
		foreach(lc, path)
			appendStringInfo(&cycle, "%s%s", cycle.len > 0 ? " -> " : "",
							 ((CatalogGraphNode *) lfirst(lc))->name);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_RECURSION),
				 errmsg("pipeline \"%s\" would depend on itself: %s", pipeline->name, cycle.data),
				 errdetail("Each pipeline reads the target of the next one."),
				 errhint("Pipelines must form a chain or a tree; only a pipeline's own target may be read by its own query.")));
	}
	if (list_member_oid(reads, pipeline->target))
		ereport(NOTICE,
				(errmsg("pipeline \"%s\" reads its own target: its windows will run one at a time, oldest first",
						pipeline->name),
				 errdetail("Each window may depend on the windows before it, whatever max_parallel says.")));
}

/* DepsStore records the relations a pipeline's query reads. */
void
DepsStore(Pipeline *pipeline, List *reads)
{
	if (CatalogHasTracking())
		CatalogSetReads(pipeline->id, reads);
}

/*
 * DepsOrder returns the named pipelines upstream first; pipelines that do
 * not depend on each other keep their order (by name).
 */
List *
DepsOrder(List *names)
{
	List	   *graph = ReadGraph();
	List	   *ordered = NIL;
	List	   *left = list_copy(names);
	bool		progress = true;

	while (left != NIL && progress)
	{
		ListCell   *lc;

		progress = false;
		foreach(lc, left)
		{
			CatalogGraphNode *node = FindNode(graph, lfirst(lc));
			ListCell   *up;
			bool		ready = true;

			if (node != NULL)
				foreach(up, Upstreams(graph, node))
				{
					char	   *upstream = ((CatalogGraphNode *) lfirst(up))->name;
					ListCell   *n;

					foreach(n, left)
						if (strcmp(lfirst(n), upstream) == 0)
							ready = false;
				}
			if (ready)
			{
				ordered = lappend(ordered, lfirst(lc));
				left = foreach_delete_current(left, lc);
				progress = true;
				break;
			}
		}
	}
	/* a cycle cannot be registered; should one exist, run the rest as listed */
	return list_concat(ordered, left);
}

/*
 * DepsFailedUpstream returns the name of an upstream of the pipeline among
 * failed_names (the pipelines that failed or were skipped in this call),
 * or NULL.
 */
const char *
DepsFailedUpstream(Pipeline *pipeline, List *failed_names)
{
	List	   *graph;
	CatalogGraphNode *node;
	ListCell   *lc;

	if (failed_names == NIL)
		return NULL;
	graph = ReadGraph();
	node = FindNode(graph, pipeline->name);
	if (node == NULL)
		return NULL;
	foreach(lc, Upstreams(graph, node))
	{
		char	   *upstream = ((CatalogGraphNode *) lfirst(lc))->name;
		ListCell   *f;

		foreach(f, failed_names)
			if (strcmp(lfirst(f), upstream) == 0)
				return upstream;
	}
	return NULL;
}

/* DepsReadsOwnTarget tells whether the pipeline's query reads its own target. */
bool
DepsReadsOwnTarget(Pipeline *pipeline)
{
	CatalogGraphNode *node = FindNode(ReadGraph(), pipeline->name);

	return node != NULL && list_member_oid(node->reads, pipeline->target);
}

/*
 * FirstGap returns the start of the pipeline's first window before until
 * that has no state row, or until when there is none.  Only windows after
 * contiguous_until can be missing; their rows are read in chunks.
 */
static TimestampTz
FirstGap(Pipeline *pipeline, TimestampTz until)
{
	TimestampTz w = Max(pipeline->contiguous_until, pipeline->begin_at);

	while (w < until)
	{
		List	   *rows = CatalogRecordedStarts(pipeline->id, w, until, GAP_CHUNK);
		ListCell   *lc;

		foreach(lc, rows)
		{
			CHECK_FOR_INTERRUPTS();
			if (((WindowState *) lfirst(lc))->start != w)
				return w;
			w = GridNext(&pipeline->grid, w);
		}
		if (list_length(rows) < GAP_CHUNK)
			break;
	}
	return Min(w, until);
}

/*
 * Frontier returns the instant an upstream has succeeded through: every
 * one of its windows before it succeeded in full and is not stale.
 */
static TimestampTz
Frontier(Pipeline *upstream)
{
	TimestampTz frontier;
	List	   *first;

	if (!CatalogHighWater(upstream->id, &frontier))
		frontier = upstream->begin_at;

	first = CatalogPendingWindows(upstream->id, upstream->begin_at, DT_NOEND, 1);
	if (first != NIL)
	{
		WindowState *state = linitial(first);

		if (upstream->has_end_at && strcmp(state->status, WINDOW_PARTIAL) == 0 &&
			state->end >= upstream->end_at && state->start >= frontier)
			frontier = DT_NOEND;	/* done through its end_at */
		else
			frontier = Min(frontier, state->start);
	}
	else if (upstream->has_end_at && frontier >= upstream->end_at)
		frontier = DT_NOEND;

	first = CatalogStaleWindows(upstream->id, upstream->begin_at, DT_NOEND, 1);
	if (first != NIL)
		frontier = Min(frontier, ((WindowState *) linitial(first))->start);
	if (frontier != DT_NOEND)
		frontier = FirstGap(upstream, frontier);
	return frontier;
}

/*
 * UpstreamFrontiers returns the upstream pipelines of a pipeline, each with
 * its frontier in *frontiers (palloc'd, same order).
 */
static List *
UpstreamFrontiers(Pipeline *pipeline, TimestampTz **frontiers)
{
	List	   *graph = ReadGraph();
	CatalogGraphNode *node = FindNode(graph, pipeline->name);
	List	   *upstreams = NIL;
	ListCell   *lc;
	int			i = 0;

	if (node != NULL)
		foreach(lc, Upstreams(graph, node))
		{
			Pipeline   *upstream = CatalogReadPipeline(((CatalogGraphNode *) lfirst(lc))->name);

			if (upstream != NULL)
				upstreams = lappend(upstreams, upstream);
		}
	*frontiers = palloc(sizeof(TimestampTz) * Max(list_length(upstreams), 1));
	foreach(lc, upstreams)
		(*frontiers)[i++] = Frontier(lfirst(lc));
	return upstreams;
}

/*
 * DepsHoldWaiting gives the reason "waiting" to every window of a run plan
 * that ends after some upstream's frontier, and with remove takes them out
 * of the plan: the run does not process them.
 */
void
DepsHoldWaiting(Pipeline *pipeline, RunPlan *plan, bool remove)
{
	TimestampTz *frontiers;
	List	   *upstreams;
	TimestampTz frontier = DT_NOEND;
	int			i;
	int			kept = 0;

	if (plan->kind != RUN_KIND_RUN || plan->nwindows == 0)
		return;
	upstreams = UpstreamFrontiers(pipeline, &frontiers);
	for (i = 0; i < list_length(upstreams); i++)
		frontier = Min(frontier, frontiers[i]);
	if (frontier == DT_NOEND)
		return;

	for (i = 0; i < plan->nwindows; i++)
	{
		PlannedWindow *window = &plan->windows[i];

		if (window->end > frontier)
		{
			plan->reason_counts[window->reason]--;
			window->reason = REASON_WAITING;
			plan->reason_counts[REASON_WAITING]++;
			if (remove)
				continue;
		}
		plan->windows[kept++] = *window;
	}
	if (remove)
	{
		plan->nwindows = kept;
		plan->reason_counts[REASON_WAITING] = 0;
	}
}

/*
 * DepsWaitingOn lists the names of the upstream pipelines that hold back a
 * window of a run plan: whose frontier is before the end of one of its
 * windows.
 */
List *
DepsWaitingOn(Pipeline *pipeline, RunPlan *plan)
{
	TimestampTz *frontiers;
	List	   *upstreams = UpstreamFrontiers(pipeline, &frontiers);
	List	   *names = NIL;
	TimestampTz last_end = DT_NOBEGIN;
	ListCell   *lc;
	int			i = 0;

	for (i = 0; i < plan->nwindows; i++)
		last_end = Max(last_end, plan->windows[i].end);
	i = 0;
	foreach(lc, upstreams)
	{
		if (frontiers[i++] < last_end)
			names = lappend(names, ((Pipeline *) lfirst(lc))->name);
	}
	return names;
}

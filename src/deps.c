/*-------------------------------------------------------------------------
 *
 * deps.c
 *	  Pipelines that read other pipelines' targets: the dependency graph,
 *	  upstream-first order, waiting windows and self-reference.
 *
 * A pipeline depends on a pipeline whose target its query reads: names,
 * or reads through a view, a parent or a partition (reads.c).  The
 * relations a query names are stored in pipelines.reads when the query
 * is stored (registration, mb_alter); they are looked
 * through each time the graph is read, so a pipeline registered before
 * its upstream depends on it as soon as the upstream exists, and a view
 * replaced to read another table moves the edge at once.  A new edge
 * that closes a cycle is refused, naming it.  A pipeline that reads its
 * own target (a running total) is not a cycle: its windows depend on the
 * windows before them, so they run one at a time, oldest first.
 *
 * Whose pipelines.  An edge is taken only to an upstream that is enabled
 * and owned by a role the downstream's owner is a member of (what that
 * owner could see and run).  Anyone may register a pipeline into a table
 * they can write, and nobody else can run or enable it: another role's
 * pipeline, or a disabled one, is no upstream, so it can never hold
 * windows back; the downstream reads the table as it is (and tracking,
 * if any, re-processes what a later replacement changes).  Cycles are
 * checked over the disabled pipelines too, which mb_alter can enable.
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
#include "utils/acl.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "deps.h"
#include "reads.h"

/* how many state rows the gap search reads at a time */
#define GAP_CHUNK 10000

/* which edges of the graph a question is about */
typedef enum EdgeKind
{
	EDGES_TAKEN,				/* to enabled upstreams the owner may see */
	EDGES_POSSIBLE				/* also to disabled ones, for the cycle check */
} EdgeKind;

static List *ReadGraph(void);
static CatalogGraphNode *FindNode(List *graph, const char *name);
static List *Upstreams(List *graph, CatalogGraphNode *node, EdgeKind kind);
static bool FindPath(List *graph, CatalogGraphNode *from, CatalogGraphNode *to,
					 List **path, int depth);
static TimestampTz Frontier(Pipeline *upstream);
static TimestampTz FirstGap(Pipeline *pipeline, TimestampTz until);

/* DepsQueryRelations lists the relations an analysed query names. */
List *
DepsQueryRelations(Query *query)
{
	return ReadsOfQuery(query);
}

/*
 * ReadGraph reads every pipeline's target, owner and reads, each read
 * looked through (reads.c); none before 0.3.
 */
static List *
ReadGraph(void)
{
	List	   *graph;
	ListCell   *lc;

	if (!CatalogHasTracking())
		return NIL;
	graph = CatalogReadGraph(CurrentMemoryContext);
	foreach(lc, graph)
	{
		CatalogGraphNode *node = lfirst(lc);

		node->reads = ReadsExpand(node->reads);
	}
	return graph;
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

/*
 * Upstreams lists the other pipelines whose target a pipeline reads and
 * whose owner its owner is a member of: with EDGES_TAKEN the enabled ones
 * only, with EDGES_POSSIBLE the disabled ones too.
 */
static List *
Upstreams(List *graph, CatalogGraphNode *node, EdgeKind kind)
{
	List	   *upstreams = NIL;
	ListCell   *lc;

	foreach(lc, graph)
	{
		CatalogGraphNode *other = lfirst(lc);

		if (other != node && strcmp(other->name, node->name) != 0 &&
			list_member_oid(node->reads, other->target) &&
			(kind == EDGES_POSSIBLE || other->enabled) &&
			is_member_of_role(node->owner, other->owner))
			upstreams = lappend(upstreams, other);
	}
	return upstreams;
}

/*
 * FindPath looks for a chain of dependencies from "from" to "to" and, when
 * there is one, leaves it in *path (from first).
 */
static bool
FindPath(List *graph, CatalogGraphNode *from, CatalogGraphNode *to, List **path, int depth)
{
	ListCell   *lc;

	CHECK_FOR_INTERRUPTS();
	if (depth > list_length(graph) + 1)
		return false;
	*path = lappend(*path, from);
	if (from == to && depth > 0)
		return true;
	foreach(lc, Upstreams(graph, from, EDGES_POSSIBLE))
		if (FindPath(graph, lfirst(lc), to, path, depth + 1))
			return true;
	*path = list_delete_last(*path);
	return false;
}

/*
 * DepsCheck refuses a query whose reads would close a cycle of pipelines,
 * naming it, and says so when the query reads its own target (also
 * through a view).  Nothing is written.
 */
void
DepsCheck(Pipeline *pipeline, List *reads)
{
	List	   *graph = ReadGraph();
	CatalogGraphNode *node = FindNode(graph, pipeline->name);
	List	   *path = NIL;

	if (!CatalogHasTracking())
		return;
	if (node == NULL)
	{
		node = palloc0(sizeof(CatalogGraphNode));
		node->name = pipeline->name;
		graph = lappend(graph, node);
	}
	node->target = pipeline->target;
	node->owner = pipeline->owner;
	node->reads = ReadsExpand(reads);

	if (FindPath(graph, node, node, &path, 0))
	{
		StringInfoData cycle;
		ListCell   *lc;

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
	if (list_member_oid(node->reads, pipeline->target))
		ereport(NOTICE,
				(errmsg("pipeline \"%s\" reads its own target: its windows will run one at a time, oldest first",
						pipeline->name),
				 errdetail("Each window may depend on the windows before it, whatever max_parallel says.")));
}

/* DepsStore records the relations a pipeline's query names. */
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
				foreach(up, Upstreams(graph, node, EDGES_TAKEN))
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
	foreach(lc, Upstreams(graph, node, EDGES_TAKEN))
	{
		char	   *upstream = ((CatalogGraphNode *) lfirst(lc))->name;
		ListCell   *f;

		foreach(f, failed_names)
			if (strcmp(lfirst(f), upstream) == 0)
				return upstream;
	}
	return NULL;
}

/*
 * DepsReadsOwnTarget tells whether the pipeline's query reads its own
 * target, also through a view, a parent or a partition.
 */
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
		foreach(lc, Upstreams(graph, node, EDGES_TAKEN))
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

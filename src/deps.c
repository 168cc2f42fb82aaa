/*-------------------------------------------------------------------------
 *
 * deps.c
 *	  Pipelines that read other pipelines' targets: the dependency graph,
 *	  upstream-first order, waiting windows and self-reference.
 *
 * A pipeline depends on a pipeline whose target its query reads: names,
 * or reads through a view, a parent or a partition (reads.c).  The
 * relations a query names are stored in pipelines.reads when the query
 * is stored (registration, mb_alter, the update to 0.3); they are looked
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
 * mb_run() of every pipeline, and mb_backfill() of every pipeline, run
 * them upstream first (a topological order, ties by name); mb_run() skips,
 * with a notice, the pipelines downstream of one that failed or was
 * skipped in the same call.
 *
 * Waiting.  An upstream U has succeeded through its frontier: the start of
 * its earliest window that has not succeeded in full, is stale, or was
 * never processed (or, with nothing left to do before its end_at, the end
 * of time).  A downstream window [s, e) of a run is processed only once
 * e <= the frontier of every upstream.  A backfill or retry processes
 * given windows, wherever they are: a window of it is processed only once
 * every window of every upstream that overlaps [s, e) has succeeded in
 * full and is not stale.  Other windows are "waiting" in mb_plan and left
 * out of the run, with a notice naming the upstreams; this is neither a
 * failure nor a skip, and nothing is recorded for them.  All of it is read
 * from indexed state: the high-water mark, the windows not succeeded, the
 * stale ones, and the gaps after contiguous_until.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "deps.h"
#include "reads.h"

/* how many state rows the gap searches read at a time */
#define GAP_CHUNK 10000

/* which edges of the graph a question is about */
typedef enum EdgeKind
{
	EDGES_TAKEN,				/* to enabled upstreams the owner may see */
	EDGES_POSSIBLE				/* also to disabled ones, for the cycle check */
} EdgeKind;

/* a range of upstream windows that have not succeeded */
typedef struct Span
{
	TimestampTz start;
	TimestampTz end;
} Span;

static List *ReadGraph(void);
static bool NameIn(List *names, const char *name);
static CatalogGraphNode *FindNode(List *graph, const char *name);
static List *Upstreams(List *graph, CatalogGraphNode *node, EdgeKind kind);
static List **UpstreamIndex(List *graph, CatalogGraphNode **nodes, int n);
static bool FindPath(CatalogGraphNode **nodes, List **upstreams, bool *visited, int from,
					 int to, List **path);
static TimestampTz FirstGap(Pipeline *pipeline, TimestampTz until);
static List *TakenUpstreams(Pipeline *pipeline);
static List *UnfinishedSpans(Pipeline *upstream, TimestampTz from, TimestampTz to);
static int	CompareSpans(const ListCell *a, const ListCell *b);
static int	HoldBehindFrontier(Pipeline *upstream, RunPlan *plan, bool *waiting);
static int	HoldOverlapping(Pipeline *upstream, RunPlan *plan, bool *waiting);

PG_FUNCTION_INFO_V1(microbatch_recompute_reads);

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
 * UpstreamIndex lists, for the pipeline at each position of nodes, the
 * positions of the pipelines it could depend on (disabled ones too: they
 * may be enabled later), computed once for the whole graph.
 */
static List **
UpstreamIndex(List *graph, CatalogGraphNode **nodes, int n)
{
	List	  **upstreams = palloc0(sizeof(List *) * Max(n, 1));
	int			i;
	int			j;

	for (i = 0; i < n; i++)
	{
		List	   *found = Upstreams(graph, nodes[i], EDGES_POSSIBLE);

		for (j = 0; j < n; j++)
			if (list_member_ptr(found, nodes[j]))
				upstreams[i] = lappend_int(upstreams[i], j);
	}
	return upstreams;
}

/*
 * FindPath looks for a path of upstreams from the pipeline at position
 * from to the one at position to, depth first, expanding every pipeline
 * once (visited), so that it takes time linear in the graph; on success
 * *path holds the pipelines along it.
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
 * naming it, and says so when the query reads its own target (also
 * through a view).  Nothing is written.
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
	node->owner = pipeline->owner;
	node->reads = ReadsExpand(reads);

	nodes = palloc(sizeof(CatalogGraphNode *) * list_length(graph));
	foreach(lc, graph)
	{
		if (lfirst(lc) == node)
			self = n;
		nodes[n++] = lfirst(lc);
	}
	if (FindPath(nodes, UpstreamIndex(graph, nodes, n), palloc0(sizeof(bool) * n), self, self,
				 &path))
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
					if (NameIn(left, ((CatalogGraphNode *) lfirst(up))->name))
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

/* NameIn tells whether a list of names holds a name. */
static bool
NameIn(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
}

/*
 * DepsDownstreams returns the enabled pipelines downstream of the named
 * one, directly or through others, upstream first; the named one is not
 * among them.
 */
List *
DepsDownstreams(const char *name)
{
	List	   *graph = ReadGraph();
	List	   *reached = list_make1(pstrdup(name));	/* of char * */
	List	   *downstreams = NIL;
	bool		grew = true;

	while (grew)
	{
		ListCell   *lc;

		grew = false;
		CHECK_FOR_INTERRUPTS();
		foreach(lc, graph)
		{
			CatalogGraphNode *node = lfirst(lc);
			ListCell   *up;
			bool		below = false;

			if (!node->enabled || NameIn(reached, node->name))
				continue;
			foreach(up, Upstreams(graph, node, EDGES_TAKEN))
				if (NameIn(reached, ((CatalogGraphNode *) lfirst(up))->name))
					below = true;
			if (below)
			{
				reached = lappend(reached, node->name);
				downstreams = lappend(downstreams, node->name);
				grew = true;
			}
		}
	}
	return DepsOrder(downstreams);
}

/* DepsUpstreamNames lists the names of a pipeline's upstreams. */
List *
DepsUpstreamNames(const char *name)
{
	List	   *graph = ReadGraph();
	CatalogGraphNode *node = FindNode(graph, name);
	List	   *names = NIL;
	ListCell   *lc;

	if (node != NULL)
		foreach(lc, Upstreams(graph, node, EDGES_TAKEN))
			names = lappend(names, ((CatalogGraphNode *) lfirst(lc))->name);
	return names;
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
 * DepsFrontier returns the instant a pipeline has processed through: every
 * one of its windows before it has a state row and succeeded in full
 * (with stale_counts, is not stale either).  A pipeline with nothing left
 * to do before its end_at is done through the end of time (DT_NOEND).
 */
TimestampTz
DepsFrontier(Pipeline *pipeline, bool stale_counts)
{
	TimestampTz through;
	List	   *first;
	bool		complete = false;

	if (!CatalogHighWater(pipeline->id, &through))
		through = pipeline->begin_at;

	first = CatalogPendingWindows(pipeline->id, pipeline->begin_at, DT_NOEND, 1);
	if (first != NIL)
	{
		WindowState *state = linitial(first);

		/* only the last window, cut at end_at, is left: done through end_at */
		if (pipeline->has_end_at && strcmp(state->status, WINDOW_PARTIAL) == 0 &&
			state->end >= pipeline->end_at && state->start >= through)
			complete = true;
		else
			through = Min(through, state->start);
	}
	else if (pipeline->has_end_at && through >= pipeline->end_at)
		complete = true;
	if (complete)
		through = pipeline->end_at;

	if (stale_counts)
	{
		first = CatalogStaleWindows(pipeline->id, pipeline->begin_at, DT_NOEND, 1);
		if (first != NIL)
			through = Min(through, ((WindowState *) linitial(first))->start);
	}
	/* a window never processed before it: also when the rest is complete */
	through = FirstGap(pipeline, through);
	if (pipeline->has_end_at && through >= pipeline->end_at)
		return DT_NOEND;
	return through;
}

/* TakenUpstreams opens the upstream pipelines of a pipeline. */
static List *
TakenUpstreams(Pipeline *pipeline)
{
	List	   *upstreams = NIL;
	ListCell   *lc;

	foreach(lc, DepsUpstreamNames(pipeline->name))
	{
		Pipeline   *upstream = CatalogReadPipeline(lfirst(lc));

		if (upstream != NULL)
			upstreams = lappend(upstreams, upstream);
	}
	return upstreams;
}

/* CompareSpans orders spans by their start. */
static int
CompareSpans(const ListCell *a, const ListCell *b)
{
	Span	   *sa = lfirst(a);
	Span	   *sb = lfirst(b);

	if (sa->start != sb->start)
		return sa->start < sb->start ? -1 : 1;
	return 0;
}

/*
 * UnfinishedSpans lists, by start, the windows of an upstream overlapping
 * [from, to) that have not succeeded in full: failed, partial (unless cut
 * at its end_at, for good), stale, or never processed (runs of those as
 * one span).  The upstream has no windows before its begin_at or after
 * its end_at: nothing to wait for there.
 */
static List *
UnfinishedSpans(Pipeline *upstream, TimestampTz from, TimestampTz to)
{
	TimestampTz lo = GridFloor(&upstream->grid, Max(from, upstream->begin_at));
	TimestampTz hi = upstream->has_end_at ? Min(to, upstream->end_at) : to;
	List	   *spans = NIL;
	List	   *recorded = NIL;
	ListCell   *next_row = NULL;
	bool		all_read = false;
	Span	   *gap = NULL;
	ListCell   *lc;
	TimestampTz w;

	if (lo >= hi)
		return NIL;
	foreach(lc, CatalogPendingWindows(upstream->id, lo, hi, PG_INT32_MAX))
	{
		WindowState *state = lfirst(lc);
		Span	   *span;

		if (upstream->has_end_at && strcmp(state->status, WINDOW_PARTIAL) == 0 &&
			state->end >= upstream->end_at)
			continue;
		span = palloc(sizeof(Span));
		span->start = state->start;
		span->end = GridNext(&upstream->grid, state->start);
		spans = lappend(spans, span);
	}
	foreach(lc, CatalogStaleWindows(upstream->id, lo, hi, PG_INT32_MAX))
	{
		Span	   *span = palloc(sizeof(Span));

		span->start = ((WindowState *) lfirst(lc))->start;
		span->end = GridNext(&upstream->grid, span->start);
		spans = lappend(spans, span);
	}

	/* windows without a state row: only after contiguous_until */
	for (w = Max(lo, upstream->contiguous_until); w < hi; w = GridNext(&upstream->grid, w))
	{
		CHECK_FOR_INTERRUPTS();
		while (next_row && ((WindowState *) lfirst(next_row))->start < w)
			next_row = lnext(recorded, next_row);
		if (next_row == NULL && !all_read)
		{
			list_free_deep(recorded);
			recorded = CatalogRecordedStarts(upstream->id, w, hi, GAP_CHUNK);
			all_read = list_length(recorded) < GAP_CHUNK;
			next_row = list_head(recorded);
		}
		if (next_row && ((WindowState *) lfirst(next_row))->start == w)
		{
			gap = NULL;
			continue;
		}
		if (gap == NULL)
		{
			gap = palloc(sizeof(Span));
			gap->start = w;
			spans = lappend(spans, gap);
		}
		gap->end = GridNext(&upstream->grid, w);
	}
	list_free_deep(recorded);
	list_sort(spans, CompareSpans);
	return spans;
}

/*
 * HoldBehindFrontier marks the windows of a run plan that end after an
 * upstream's frontier, and returns how many it holds.
 */
static int
HoldBehindFrontier(Pipeline *upstream, RunPlan *plan, bool *waiting)
{
	TimestampTz frontier = DepsFrontier(upstream, true);
	int			held = 0;
	int			i;

	for (i = 0; i < plan->nwindows; i++)
		if (plan->windows[i].end > frontier)
		{
			waiting[i] = true;
			held++;
		}
	return held;
}

/*
 * HoldOverlapping marks the windows of a plan that overlap an upstream
 * window that has not succeeded, and returns how many it holds.  Both
 * lists are ordered by start and the plan's windows do not overlap, so one
 * pass over each does.
 */
static int
HoldOverlapping(Pipeline *upstream, RunPlan *plan, bool *waiting)
{
	TimestampTz last_end = plan->windows[0].end;
	List	   *spans;
	ListCell   *next;
	int			held = 0;
	int			i;

	for (i = 0; i < plan->nwindows; i++)
		last_end = Max(last_end, plan->windows[i].end);
	spans = UnfinishedSpans(upstream, plan->windows[0].start, last_end);
	next = list_head(spans);
	for (i = 0; i < plan->nwindows && next != NULL; i++)
	{
		PlannedWindow *window = &plan->windows[i];

		/* spans that end before this window end before every later one */
		while (next != NULL && ((Span *) lfirst(next))->end <= window->start)
			next = lnext(spans, next);
		if (next != NULL && ((Span *) lfirst(next))->start < window->end)
		{
			waiting[i] = true;
			held++;
		}
	}
	return held;
}

/*
 * DepsHoldWaiting gives the reason "waiting" to every window of a plan
 * that an upstream holds back: for a run, a window that ends after some
 * upstream's frontier; for a backfill or a retry, a window that overlaps
 * an upstream window that has not succeeded.  With remove it takes them
 * out of the plan, which the run then does not process, and says in
 * plan->nwaiting and plan->waiting_on how many wait and on which
 * upstreams.
 */
void
DepsHoldWaiting(Pipeline *pipeline, RunPlan *plan, bool remove)
{
	List	   *upstreams;
	bool	   *waiting;
	int		   *held;
	StringInfoData names;
	ListCell   *lc;
	int			i;
	int			kept = 0;
	int			nheld = 0;

	if (plan->nwindows == 0)
		return;
	upstreams = TakenUpstreams(pipeline);
	if (upstreams == NIL)
		return;

	waiting = palloc0(sizeof(bool) * plan->nwindows);
	held = palloc0(sizeof(int) * list_length(upstreams));
	i = 0;
	foreach(lc, upstreams)
	{
		if (plan->kind == RUN_KIND_RUN)
			held[i] = HoldBehindFrontier(lfirst(lc), plan, waiting);
		else
			held[i] = HoldOverlapping(lfirst(lc), plan, waiting);
		if (held[i] > 0)
			nheld++;
		i++;
	}

	/* the upstreams that hold windows, with how many each when several do */
	initStringInfo(&names);
	i = 0;
	foreach(lc, upstreams)
	{
		if (held[i] > 0 && nheld == 1)
			appendStringInfo(&names, "\"%s\"", ((Pipeline *) lfirst(lc))->name);
		else if (held[i] > 0)
			appendStringInfo(&names, "%s\"%s\" (%d window%s)", names.len > 0 ? ", " : "",
							 ((Pipeline *) lfirst(lc))->name, held[i], held[i] == 1 ? "" : "s");
		i++;
	}
	plan->waiting_on = names.data;
	plan->nwaiting_upstreams = nheld;

	for (i = 0; i < plan->nwindows; i++)
	{
		PlannedWindow *window = &plan->windows[i];

		if (waiting[i])
		{
			plan->reason_counts[window->reason]--;
			window->reason = REASON_WAITING;
			plan->reason_counts[REASON_WAITING]++;
			plan->nwaiting++;
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
	List	   *names = NIL;
	TimestampTz last_end = DT_NOBEGIN;
	ListCell   *lc;
	int			i;

	for (i = 0; i < plan->nwindows; i++)
		last_end = Max(last_end, plan->windows[i].end);
	if (plan->nwindows == 0)
		return NIL;
	foreach(lc, TakenUpstreams(pipeline))
	{
		if (DepsFrontier(lfirst(lc), true) < last_end)
			names = lappend(names, ((Pipeline *) lfirst(lc))->name);
	}
	return names;
}

/*
 * microbatch.recompute_reads() stores again what every pipeline's query
 * reads, each analysed as its owner with its search_path: the update to
 * 0.3 calls it for the pipelines registered before there was a graph.  A
 * pipeline whose query no longer analyses (a table or its owner dropped)
 * keeps what it had, with a warning.  Returns how many were stored.
 */
Datum
microbatch_recompute_reads(PG_FUNCTION_ARGS)
{
	MemoryContext caller_context = CurrentMemoryContext;
	ResourceOwner caller_owner = CurrentResourceOwner;
	ListCell   *lc;
	int			stored = 0;

	foreach(lc, CatalogAllPipelineNames())
	{
		Pipeline   *pipeline = CatalogReadPipeline(lfirst(lc));

		if (pipeline == NULL)
			continue;
		if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(pipeline->owner)))
		{
			ereport(WARNING,
					(errmsg("pipeline \"%s\" has no dependencies: its owner was dropped",
							pipeline->name)));
			continue;
		}
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(caller_context);
		PG_TRY();
		{
			DepsStore(pipeline, ReadsOfPipeline(pipeline));
			ReleaseCurrentSubTransaction();
			stored++;
		}
		PG_CATCH();
		{
			ErrorData  *error;

			MemoryContextSwitchTo(caller_context);
			error = CopyErrorData();
			if (error->sqlerrcode == ERRCODE_QUERY_CANCELED)
				PG_RE_THROW();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			ereport(WARNING,
					(errmsg("pipeline \"%s\" has no dependencies: its query does not analyse: %s",
							pipeline->name, error->message),
					 errhint("Store a working query with mb_alter('%s', query => ...).",
							 pipeline->name)));
			FreeErrorData(error);
		}
		PG_END_TRY();
		MemoryContextSwitchTo(caller_context);
		CurrentResourceOwner = caller_owner;
	}
	PG_RETURN_INT32(stored);
}

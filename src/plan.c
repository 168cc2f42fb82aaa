/*-------------------------------------------------------------------------
 *
 * plan.c
 *	  Deciding which windows a run processes, and why.
 *
 * A run processes, oldest first, the windows between begin_at and
 * min(end_at, now()) that need it:
 *
 * - failed: the latest attempt failed (or its process died while running);
 * - stale: marked as changed by its sources;
 * - partial: processed with less than its full extent, and more of it can
 *	 be processed now;
 * - missing / new: never processed, before / after the high-water mark;
 * - lookback: the `lookback` windows just before the high-water mark.
 *
 * Windows of a pipeline whose upstreams have not succeeded through their
 * end wait (deps.c): mb_plan shows them as "waiting", runs leave them out.
 *
 * The plan is built from three index scans whose size follows the work to
 * do, not the history: the high-water mark (partial index on succeeded
 * windows), the windows not succeeded (partial index), and the state rows
 * after contiguous_until, the point before which every window is known to
 * have a row.  Runs move contiguous_until forward, so a pipeline with a
 * million recorded windows plans as fast as a new one.
 *
 * A pipeline that reads its own target (a running total, deps.c) reads in
 * each window what the windows before it wrote: once a window is planned
 * again because it failed, is stale or was missing, every later window
 * with a state row is planned again too (stale), in the same run and in
 * order, so that a late row in an early window reaches every later total.
 *
 * A backfill plan is every window overlapping the range; a retry plan is
 * the failed windows only.
 *
 * Planning is bounded whatever the range: a plan holds at most
 * microbatch.max_windows_per_run windows.  A run (or retry) that has more to
 * do takes the oldest ones and says that the next run goes on from there; a
 * backfill of a larger range is refused, naming its size, since it was asked
 * for exactly that range.  Every walk over the grid checks for interrupts,
 * and state rows are read in chunks, so neither time nor memory can run
 * away on a pipeline that begins in the year 1.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "catalog.h"
#include "deps.h"
#include "plan.h"

static const char *const reason_names[REASON_COUNT] = {
	"failed", "stale", "partial", "missing", "new", "lookback", "backfill", "waiting"
};

/* how many state rows the gap walk reads at a time */
#define RECORDED_CHUNK 10000

int			microbatch_max_windows_per_run = 100000;

typedef struct PlanBuilder
{
	Pipeline   *pipeline;
	TimestampTz limit;			/* min(end_at, now()) */
	int			max_windows;	/* microbatch.max_windows_per_run */
	List	   *windows;		/* of PlannedWindow *, unordered */
} PlanBuilder;

static void AddWindow(PlanBuilder *builder, TimestampTz start, WindowReason reason);
static int	ComparePlannedWindows(const ListCell *a, const ListCell *b);
static void PlanGaps(PlanBuilder *builder, bool has_high_water, TimestampTz high_water,
					 RunPlan *plan);
static void PlanPending(PlanBuilder *builder, bool failed_only);
static void PlanLookback(PlanBuilder *builder, TimestampTz high_water);
static void PlanStale(PlanBuilder *builder);
static void PlanBackfill(PlanBuilder *builder, TimestampTz from, TimestampTz to);
static void PlanLaterWindows(PlanBuilder *builder);

PG_FUNCTION_INFO_V1(microbatch_plan);
PG_FUNCTION_INFO_V1(microbatch_missing_windows);
PG_FUNCTION_INFO_V1(microbatch_waiting_on);
PG_FUNCTION_INFO_V1(microbatch_processed_through);

/* WindowReasonName returns the reason as mb_plan shows it. */
const char *
WindowReasonName(WindowReason reason)
{
	return reason_names[reason];
}

/*
 * PlanReportTruncated says, even with progress off, that a plan holds only
 * the oldest of the windows waiting.
 */
void
PlanReportTruncated(Pipeline *pipeline, RunPlan *plan)
{
	if (plan->truncated)
		ereport(NOTICE,
				(errmsg("%s: more windows wait than microbatch.max_windows_per_run (%d): this run takes the oldest %d",
						pipeline->name, microbatch_max_windows_per_run, plan->nwindows),
				 errhint("The next run goes on from there.")));
}

/* RunKindName returns the kind as microbatch.runs stores it. */
const char *
RunKindName(RunKind kind)
{
	return kind == RUN_KIND_RUN ? "run" : kind == RUN_KIND_BACKFILL ? "backfill" : "retry";
}

/* AddWindow puts the grid window starting at start into the plan. */
static void
AddWindow(PlanBuilder *builder, TimestampTz start, WindowReason reason)
{
	PlannedWindow *window = palloc(sizeof(PlannedWindow));
	TimestampTz full_end = GridNext(&builder->pipeline->grid, start);

	window->start = start;
	window->end = Min(full_end, builder->limit);
	window->partial = window->end < full_end;
	window->reason = reason;
	builder->windows = lappend(builder->windows, window);
}

/* ComparePlannedWindows orders by start, then by precedence of reason. */
static int
ComparePlannedWindows(const ListCell *a, const ListCell *b)
{
	PlannedWindow *wa = lfirst(a);
	PlannedWindow *wb = lfirst(b);

	if (wa->start != wb->start)
		return wa->start < wb->start ? -1 : 1;
	return (int) wa->reason - (int) wb->reason;
}

/*
 * PlanPending adds the windows whose latest attempt did not succeed in full:
 * failed ones (a window still marked running belongs to a process that died,
 * since the caller holds the run lock or only plans), stale ones, and partial
 * ones that can now be processed further.
 */
static void
PlanPending(PlanBuilder *builder, bool failed_only)
{
	Pipeline   *pipeline = builder->pipeline;
	List	   *pending = CatalogPendingWindows(pipeline->id, pipeline->begin_at, builder->limit,
											builder->max_windows);
	ListCell   *lc;

	foreach(lc, pending)
	{
		WindowState *state = lfirst(lc);

		if (strcmp(state->status, WINDOW_FAILED) == 0 ||
			strcmp(state->status, WINDOW_RUNNING) == 0)
			AddWindow(builder, state->start, REASON_FAILED);
		else if (failed_only)
			continue;
		else if (strcmp(state->status, WINDOW_STALE) == 0)
			AddWindow(builder, state->start, REASON_STALE);
		else if (strcmp(state->status, WINDOW_PARTIAL) == 0 &&
				 Min(GridNext(&pipeline->grid, state->start), builder->limit) > state->end)
			AddWindow(builder, state->start, REASON_PARTIAL);
	}
}

/*
 * PlanGaps walks the grid from contiguous_until to the limit beside the
 * state rows found there, and adds every window without a row: missing
 * before the high-water mark, new after it.  It stops once it has added
 * one more than max_windows of them: later ones could not be in the plan,
 * and the one more tells that the plan was cut.
 */
static void
PlanGaps(PlanBuilder *builder, bool has_high_water, TimestampTz high_water, RunPlan *plan)
{
	Pipeline   *pipeline = builder->pipeline;
	TimestampTz from = Max(pipeline->contiguous_until, pipeline->begin_at);
	List	   *recorded = NIL;
	ListCell   *next_row = NULL;
	bool		all_read = false;
	TimestampTz w;
	bool		gap_seen = false;
	int			gaps = 0;

	plan->contiguous_until = from;
	for (w = from; w < builder->limit && gaps <= builder->max_windows;
		 w = GridNext(&pipeline->grid, w))
	{
		CHECK_FOR_INTERRUPTS();
		while (next_row && ((WindowState *) lfirst(next_row))->start < w)
			next_row = lnext(recorded, next_row);
		if (next_row == NULL && !all_read)
		{
			/* the next chunk of state rows, from this window on */
			list_free_deep(recorded);
			recorded = CatalogRecordedStarts(pipeline->id, w, builder->limit, RECORDED_CHUNK);
			all_read = list_length(recorded) < RECORDED_CHUNK;
			next_row = list_head(recorded);
		}
		if (next_row && ((WindowState *) lfirst(next_row))->start == w)
		{
			if (!gap_seen)
				plan->contiguous_until = GridNext(&pipeline->grid, w);
			continue;
		}
		gap_seen = true;
		gaps++;
		AddWindow(builder, w,
				  has_high_water && w < high_water ? REASON_MISSING : REASON_NEW);
	}
	list_free_deep(recorded);
}

/*
 * PlanStale adds the processed windows that writers to tracked sources
 * marked stale (track.c).
 */
static void
PlanStale(PlanBuilder *builder)
{
	Pipeline   *pipeline = builder->pipeline;
	ListCell   *lc;

	foreach(lc, CatalogStaleWindows(pipeline->id, pipeline->begin_at, builder->limit,
									builder->max_windows))
		AddWindow(builder, ((WindowState *) lfirst(lc))->start, REASON_STALE);
}

/*
 * PlanLaterWindows adds, when the pipeline reads its own target, every
 * window with a state row after the earliest window planned again because
 * it failed, is stale or was missing: those read what it wrote (see the top
 * of the file).  Lookback, partial and new windows are the latest ones
 * anyway.  The rows are read in chunks, and no more than a plan can hold.
 */
static void
PlanLaterWindows(PlanBuilder *builder)
{
	Pipeline   *pipeline = builder->pipeline;
	TimestampTz earliest = DT_NOEND;
	TimestampTz from;
	int			added = 0;
	ListCell   *lc;

	foreach(lc, builder->windows)
	{
		PlannedWindow *window = lfirst(lc);

		if (window->reason == REASON_FAILED || window->reason == REASON_STALE ||
			window->reason == REASON_MISSING)
			earliest = Min(earliest, window->start);
	}
	if (earliest == DT_NOEND || !DepsReadsOwnTarget(pipeline))
		return;
	from = GridNext(&pipeline->grid, earliest);
	while (from < builder->limit && added <= builder->max_windows)
	{
		List	   *rows = CatalogRecordedStarts(pipeline->id, from, builder->limit,
												 RECORDED_CHUNK);

		foreach(lc, rows)
		{
			CHECK_FOR_INTERRUPTS();
			AddWindow(builder, ((WindowState *) lfirst(lc))->start, REASON_STALE);
			added++;
		}
		if (list_length(rows) < RECORDED_CHUNK)
			break;
		from = GridNext(&pipeline->grid, ((WindowState *) llast(rows))->start);
		list_free_deep(rows);
	}
}

/* PlanLookback adds the lookback windows just before the high-water mark. */
static void
PlanLookback(PlanBuilder *builder, TimestampTz high_water)
{
	Pipeline   *pipeline = builder->pipeline;
	TimestampTz w = high_water;
	int			i;

	for (i = 0; i < Min(pipeline->lookback, builder->max_windows); i++)
	{
		CHECK_FOR_INTERRUPTS();
		w = GridPrev(&pipeline->grid, w);
		if (w < pipeline->begin_at)
			break;
		AddWindow(builder, w, REASON_LOOKBACK);
	}
}

/*
 * PlanBackfill adds every window overlapping [from, to), or refuses a range
 * of more than max_windows windows.
 */
static void
PlanBackfill(PlanBuilder *builder, TimestampTz from, TimestampTz to)
{
	Pipeline   *pipeline = builder->pipeline;
	TimestampTz begin = GridFloor(&pipeline->grid, Max(from, pipeline->begin_at));
	TimestampTz end = Min(to, builder->limit);
	TimestampTz w;
	int			count = 0;

	for (w = begin; w < end; w = GridNext(&pipeline->grid, w))
	{
		CHECK_FOR_INTERRUPTS();
		if (++count > builder->max_windows)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("backfill of pipeline \"%s\" covers about %.0f windows, more than microbatch.max_windows_per_run (%d)",
							pipeline->name, GridCountEstimate(&pipeline->grid, begin, end),
							builder->max_windows),
					 errhint("Backfill the range in smaller pieces, or have a superuser raise microbatch.max_windows_per_run.")));
		AddWindow(builder, w, REASON_BACKFILL);
	}
}

/*
 * PlanRun returns the windows a run of the given kind would process, oldest
 * first, each once with its most telling reason.
 */
RunPlan *
PlanRun(Pipeline *pipeline, RunKind kind, TimestampTz from, TimestampTz to)
{
	RunPlan    *plan = palloc0(sizeof(RunPlan));
	PlanBuilder builder;
	TimestampTz high_water = 0;
	bool		has_high_water;
	ListCell   *lc;
	PlannedWindow *last = NULL;

	builder.pipeline = pipeline;
	builder.windows = NIL;
	builder.max_windows = microbatch_max_windows_per_run;
	builder.limit = GetCurrentTransactionStartTimestamp();
	if (pipeline->has_end_at)
		builder.limit = Min(builder.limit, pipeline->end_at);
	plan->kind = kind;
	plan->contiguous_until = pipeline->contiguous_until;

	if (kind == RUN_KIND_BACKFILL)
		PlanBackfill(&builder, from, to);
	else if (kind == RUN_KIND_RETRY)
		PlanPending(&builder, true);
	else if (builder.limit > pipeline->begin_at)
	{
		has_high_water = CatalogHighWater(pipeline->id, &high_water);
		PlanPending(&builder, false);
		PlanStale(&builder);
		PlanGaps(&builder, has_high_water, high_water, plan);
		if (has_high_water)
			PlanLookback(&builder, high_water);
		PlanLaterWindows(&builder);
	}

	list_sort(builder.windows, ComparePlannedWindows);
	plan->windows = palloc(sizeof(PlannedWindow) * Max(list_length(builder.windows), 1));
	foreach(lc, builder.windows)
	{
		PlannedWindow *window = lfirst(lc);

		if (last && last->start == window->start)
			continue;			/* already planned for a weightier reason */
		if (plan->nwindows == builder.max_windows)
		{
			plan->truncated = true; /* the next run goes on from here */
			break;
		}
		last = &plan->windows[plan->nwindows++];
		*last = *window;
		plan->reason_counts[window->reason]++;
	}
	return plan;
}

/*
 * mb_plan(name, start_time, end_time) lists what mb_run would process, or
 * with a range what a backfill of it would, without processing anything.
 */
Datum
microbatch_plan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Pipeline   *pipeline;
	RunPlan    *plan;
	int			i;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("pipeline name must not be null")));
	if (PG_ARGISNULL(1) != PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("start_time and end_time must be given together"),
				 errhint("Give both to plan a backfill of that range, or neither to plan mb_run.")));

	pipeline = PipelineOpen(text_to_cstring(PG_GETARG_TEXT_PP(0)), PIPELINE_READ);
	if (PG_ARGISNULL(1))
		plan = PlanRun(pipeline, RUN_KIND_RUN, 0, 0);
	else
	{
		GridCheckRange(PG_GETARG_TIMESTAMPTZ(1), PG_GETARG_TIMESTAMPTZ(2),
					   "start_time", "end_time");
		plan = PlanRun(pipeline, RUN_KIND_BACKFILL, PG_GETARG_TIMESTAMPTZ(1),
					   PG_GETARG_TIMESTAMPTZ(2));
	}

	DepsHoldWaiting(pipeline, plan, false);
	PlanReportTruncated(pipeline, plan);
	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < plan->nwindows; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = TimestampTzGetDatum(plan->windows[i].start);
		values[1] = TimestampTzGetDatum(plan->windows[i].end);
		values[2] = CStringGetTextDatum(WindowReasonName(plan->windows[i].reason));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * microbatch.missing_windows(name) counts the gaps before the high-water
 * mark that the next run will fill, for the microbatch.status view.
 */
Datum
microbatch_missing_windows(PG_FUNCTION_ARGS)
{
	Pipeline   *pipeline = PipelineOpen(text_to_cstring(PG_GETARG_TEXT_PP(0)), PIPELINE_READ);

	PG_RETURN_INT32(PlanRun(pipeline, RUN_KIND_RUN, 0, 0)->reason_counts[REASON_MISSING]);
}

/*
 * microbatch.waiting_on(name) names the upstream pipelines that hold back
 * windows the next run would otherwise process, for the microbatch.status
 * view.
 */
Datum
microbatch_waiting_on(PG_FUNCTION_ARGS)
{
	Pipeline   *pipeline = PipelineOpen(text_to_cstring(PG_GETARG_TEXT_PP(0)), PIPELINE_READ);
	List	   *names = DepsWaitingOn(pipeline, PlanRun(pipeline, RUN_KIND_RUN, 0, 0));
	Datum	   *elements = palloc(sizeof(Datum) * Max(list_length(names), 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, names)
		elements[n++] = CStringGetTextDatum(lfirst(lc));
	PG_RETURN_ARRAYTYPE_P(construct_array(elements, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * microbatch.processed_through(name) returns the end of the pipeline's
 * contiguous processed prefix, for the lag of the microbatch.status view:
 * every window before it has succeeded in full (stale ones count as
 * processed; the view counts them apart).  A window missing or failed
 * anywhere holds it back, wherever later windows are.  A pipeline with
 * nothing left before its end_at has processed through its end_at.
 */
Datum
microbatch_processed_through(PG_FUNCTION_ARGS)
{
	Pipeline   *pipeline = PipelineOpen(text_to_cstring(PG_GETARG_TEXT_PP(0)), PIPELINE_READ);
	TimestampTz through = DepsFrontier(pipeline, false);

	if (through == DT_NOEND && pipeline->has_end_at)
		through = pipeline->end_at;
	PG_RETURN_TIMESTAMPTZ(through);
}

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
 * The plan is built from three index scans whose size follows the work to
 * do, not the history: the high-water mark (partial index on succeeded
 * windows), the windows not succeeded (partial index), and the state rows
 * after contiguous_until, the point before which every window is known to
 * have a row.  Runs move contiguous_until forward, so a pipeline with a
 * million recorded windows plans as fast as a new one.
 *
 * A backfill plan is every window overlapping the range; a retry plan is
 * the failed windows only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "catalog.h"
#include "plan.h"

static const char *const reason_names[REASON_COUNT] = {
	"failed", "stale", "partial", "missing", "new", "lookback", "backfill"
};

typedef struct PlanBuilder
{
	Pipeline   *pipeline;
	TimestampTz limit;			/* min(end_at, now()) */
	List	   *windows;		/* of PlannedWindow *, unordered */
} PlanBuilder;

static void AddWindow(PlanBuilder *builder, TimestampTz start, WindowReason reason);
static int	ComparePlannedWindows(const ListCell *a, const ListCell *b);
static void PlanGaps(PlanBuilder *builder, bool has_high_water, TimestampTz high_water,
					 RunPlan *plan);
static void PlanPending(PlanBuilder *builder, bool failed_only);
static void PlanLookback(PlanBuilder *builder, TimestampTz high_water);
static void PlanBackfill(PlanBuilder *builder, TimestampTz from, TimestampTz to);

PG_FUNCTION_INFO_V1(microbatch_plan);
PG_FUNCTION_INFO_V1(microbatch_missing_windows);

/* WindowReasonName returns the reason as mb_plan shows it. */
const char *
WindowReasonName(WindowReason reason)
{
	return reason_names[reason];
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
	List	   *pending = CatalogPendingWindows(pipeline->id, pipeline->begin_at, builder->limit);
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
 * before the high-water mark, new after it.
 */
static void
PlanGaps(PlanBuilder *builder, bool has_high_water, TimestampTz high_water, RunPlan *plan)
{
	Pipeline   *pipeline = builder->pipeline;
	TimestampTz from = Max(pipeline->contiguous_until, pipeline->begin_at);
	List	   *recorded = CatalogRecordedStarts(pipeline->id, from, builder->limit);
	ListCell   *next_row = list_head(recorded);
	TimestampTz w;
	bool		gap_seen = false;

	plan->contiguous_until = from;
	for (w = from; w < builder->limit; w = GridNext(&pipeline->grid, w))
	{
		while (next_row && ((WindowState *) lfirst(next_row))->start < w)
			next_row = lnext(recorded, next_row);
		if (next_row && ((WindowState *) lfirst(next_row))->start == w)
		{
			if (!gap_seen)
				plan->contiguous_until = GridNext(&pipeline->grid, w);
			continue;
		}
		gap_seen = true;
		AddWindow(builder, w,
				  has_high_water && w < high_water ? REASON_MISSING : REASON_NEW);
	}
}

/* PlanLookback adds the lookback windows just before the high-water mark. */
static void
PlanLookback(PlanBuilder *builder, TimestampTz high_water)
{
	Pipeline   *pipeline = builder->pipeline;
	TimestampTz w = high_water;
	int			i;

	for (i = 0; i < pipeline->lookback; i++)
	{
		w = GridPrev(&pipeline->grid, w);
		if (w < pipeline->begin_at)
			break;
		AddWindow(builder, w, REASON_LOOKBACK);
	}
}

/* PlanBackfill adds every window overlapping [from, to). */
static void
PlanBackfill(PlanBuilder *builder, TimestampTz from, TimestampTz to)
{
	Pipeline   *pipeline = builder->pipeline;
	TimestampTz end = Min(to, builder->limit);
	TimestampTz w;

	for (w = GridFloor(&pipeline->grid, Max(from, pipeline->begin_at)); w < end;
		 w = GridNext(&pipeline->grid, w))
		AddWindow(builder, w, REASON_BACKFILL);
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
		PlanGaps(&builder, has_high_water, high_water, plan);
		if (has_high_water)
			PlanLookback(&builder, high_water);
	}

	list_sort(builder.windows, ComparePlannedWindows);
	plan->windows = palloc(sizeof(PlannedWindow) * Max(list_length(builder.windows), 1));
	foreach(lc, builder.windows)
	{
		PlannedWindow *window = lfirst(lc);

		if (last && last->start == window->start)
			continue;			/* already planned for a weightier reason */
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
		GridCheckFinite(PG_GETARG_TIMESTAMPTZ(1), "start_time");
		GridCheckFinite(PG_GETARG_TIMESTAMPTZ(2), "end_time");
		plan = PlanRun(pipeline, RUN_KIND_BACKFILL, PG_GETARG_TIMESTAMPTZ(1),
					   PG_GETARG_TIMESTAMPTZ(2));
	}

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

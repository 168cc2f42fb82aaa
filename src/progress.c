/*-------------------------------------------------------------------------
 *
 * progress.c
 *	  The NOTICE lines a run reports as it goes, and its running totals.
 *
 * One line when the run starts, one per window as it finishes, one at the
 * end; microbatch.progress = off silences them:
 *
 *	 daily_stats: 5 windows to process (3 new, 1 lookback, 1 partial), 2 workers
 *	 daily_stats: 1 of 5 OK day [2024-01-01 00:00:00+00, 2024-01-02 00:00:00+00) deleted 0, inserted 1,234 rows in 12 ms
 *	 daily_stats: 2 of 5 FAILED day [2024-01-02 00:00:00+00, 2024-01-03 00:00:00+00): division by zero
 *	 daily_stats: finished: 4 of 5 windows succeeded, 1 failed, 0 skipped in 1.2 s
 *
 * Windows that wait for their upstreams are left out of the run: a line
 * before the first names the upstreams (even with progress off), and the
 * last counts them ("…, 0 skipped, 3 waiting on upstreams in 1.2 s").
 *
 * Window bounds are shown in the pipeline's time zone, where they are the
 * round numbers the grid was built from.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "progress.h"

bool		microbatch_progress = true;

static void ReportWaiting(Pipeline *pipeline, RunPlan *plan);
static char *FormatCount(int64 n);
static char *FormatDuration(double ms);
static char *FormatInZone(TimestampTz t, pg_tz *tz);

/* FormatCount writes a count with thousands separators: 1,234,567. */
static char *
FormatCount(int64 n)
{
	char		digits[32];
	StringInfoData out;
	int			len;
	int			i;

	snprintf(digits, sizeof(digits), INT64_FORMAT, n);
	len = strlen(digits);
	initStringInfo(&out);
	for (i = 0; i < len; i++)
	{
		if (i > 0 && digits[i - 1] != '-' && (len - i) % 3 == 0)
			appendStringInfoChar(&out, ',');
		appendStringInfoChar(&out, digits[i]);
	}
	return out.data;
}

/* FormatDuration writes "12 ms" below a second and "1.2 s" above. */
static char *
FormatDuration(double ms)
{
	if (ms < 1000.0)
		return psprintf("%.0f ms", ms);
	return psprintf("%.1f s", ms / 1000.0);
}

/* FormatInZone writes an instant as local ISO time of a zone, with offset. */
static char *
FormatInZone(TimestampTz t, pg_tz *tz)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	const char *tzn;
	char		buf[MAXDATELEN + 1];

	if (timestamp2tm(t, &offset, &tm, &fsec, &tzn, tz) != 0)
		return pstrdup(timestamptz_to_str(t));
	EncodeDateTime(&tm, fsec, true, offset, tzn, USE_ISO_DATES, buf);
	return pstrdup(buf);
}

/* FormatWindow writes "day [start, end)" for messages about a window. */
char *
FormatWindow(Pipeline *pipeline, TimestampTz start, TimestampTz end)
{
	return psprintf("%s [%s, %s)", pipeline->batch_size,
					FormatInZone(start, pipeline->grid.tz),
					FormatInZone(end, pipeline->grid.tz));
}

/*
 * ReportWaiting says, even with progress off, how many windows of a run
 * its upstreams hold back, and which upstreams: they are left out of the
 * run, not failed, and no state is recorded for them (deps.c).
 */
static void
ReportWaiting(Pipeline *pipeline, RunPlan *plan)
{
	if (plan->nwaiting == 0)
		return;
	if (plan->kind == RUN_KIND_RUN)
		ereport(NOTICE,
				(errmsg("%s: %d window%s wait%s on upstream pipeline%s %s", pipeline->name,
						plan->nwaiting, plan->nwaiting == 1 ? "" : "s",
						plan->nwaiting == 1 ? "s" : "",
						plan->nwaiting_upstreams == 1 ? "" : "s", plan->waiting_on),
				 errdetail("A window is processed once every upstream has succeeded through its end; until then it is left out of runs, which is not a failure."),
				 errhint("mb_run() with no name runs every pipeline upstream first.")));
	else
		ereport(NOTICE,
				(errmsg("%s: %d window%s wait%s on upstream pipeline%s %s", pipeline->name,
						plan->nwaiting, plan->nwaiting == 1 ? "" : "s",
						plan->nwaiting == 1 ? "s" : "",
						plan->nwaiting_upstreams == 1 ? "" : "s", plan->waiting_on),
				 errdetail("A window is processed once every upstream window it overlaps has succeeded; this %s leaves the others out and records nothing for them.",
						   RunKindName(plan->kind)),
				 errhint("Process the upstream first, or backfill it with cascade => true.")));
}

/*
 * ProgressPlanned announces how many windows a run has and why, and (also
 * with progress off) what its plan leaves out.
 */
void
ProgressPlanned(Pipeline *pipeline, RunPlan *plan, const char *executor)
{
	StringInfoData reasons;
	int			r;

	PlanReportTruncated(pipeline, plan);
	ReportWaiting(pipeline, plan);
	if (!microbatch_progress)
		return;
	initStringInfo(&reasons);
	for (r = 0; r < REASON_COUNT; r++)
		if (plan->reason_counts[r] > 0)
			appendStringInfo(&reasons, "%s%d %s", reasons.len > 0 ? ", " : "",
							 plan->reason_counts[r], WindowReasonName(r));
	if (plan->nwindows == 0)
		ereport(NOTICE,
				(errmsg("%s: nothing to process", pipeline->name)));
	else
		ereport(NOTICE,
				(errmsg("%s: %d window%s to process (%s), %s", pipeline->name,
						plan->nwindows, plan->nwindows == 1 ? "" : "s",
						reasons.data, executor)));
}

/* SummaryCount adds a finished window to the run's totals. */
void
SummaryCount(RunSummary *summary, PlannedWindow *window, WindowOutcome *outcome)
{
	summary->done++;
	if (outcome->succeeded)
	{
		summary->succeeded++;
		summary->rows_deleted += outcome->rows_deleted;
		summary->rows_inserted += outcome->rows_inserted;
		return;
	}
	if (summary->failed++ == 0)
	{
		summary->failed_start = window->start;
		summary->failed_end = window->end;
		strlcpy(summary->failed_sqlstate, outcome->sqlstate, sizeof(summary->failed_sqlstate));
		strlcpy(summary->failed_message, outcome->message, sizeof(summary->failed_message));
	}
}

/* ProgressWindow reports one finished window. */
void
ProgressWindow(Pipeline *pipeline, RunSummary *summary, PlannedWindow *window,
			   WindowOutcome *outcome)
{
	if (!microbatch_progress)
		return;
	if (outcome->succeeded)
		ereport(NOTICE,
				(errmsg("%s: %d of %d OK %s deleted %s, inserted %s rows in %s",
						pipeline->name, summary->done, summary->windows,
						FormatWindow(pipeline, window->start, window->end),
						FormatCount(outcome->rows_deleted),
						FormatCount(outcome->rows_inserted),
						FormatDuration(outcome->elapsed_ms))));
	else
		ereport(NOTICE,
				(errmsg("%s: %d of %d FAILED %s: %s",
						pipeline->name, summary->done, summary->windows,
						FormatWindow(pipeline, window->start, window->end),
						outcome->message)));
}

/* ProgressFinished reports the totals of a run. */
void
ProgressFinished(Pipeline *pipeline, RunSummary *summary)
{
	long		secs;
	int			usecs;

	if (!microbatch_progress || summary->windows == 0)
		return;
	TimestampDifference(summary->started_at, GetCurrentTimestamp(), &secs, &usecs);
	ereport(NOTICE,
			(errmsg("%s: %s: %d of %d windows succeeded, %d failed, %d skipped%s in %s",
					pipeline->name, summary->cancelled ? "cancelled" : "finished",
					summary->succeeded, summary->windows, summary->failed,
					summary->skipped,
					summary->waiting > 0 ? psprintf(", %d waiting on upstreams", summary->waiting) : "",
					FormatDuration(secs * 1000.0 + usecs / 1000.0))));
}

/*-------------------------------------------------------------------------
 *
 * coalesce.c
 *	  Coalesced windows: consecutive windows replaced by one statement pair.
 *
 * A pipeline registered with coalesce_windows declares that its query over
 * several consecutive windows returns the union of what it returns per
 * window (registration refuses a query that uses $1 or $2 outside a WHERE
 * or JOIN condition).  A run then cuts its plan into chunks of consecutive
 * windows and replaces each chunk in one transaction:
 *
 *	  DELETE FROM target WHERE t >= <chunk start> AND t < <chunk end>
 *		 AND microbatch.window_deleted(t);
 *	  INSERT INTO target ... WHERE microbatch.window_guard(t, <chunk start>, <chunk end>);
 *	  the data checks, once per window of the chunk;
 *	  one state row per window, and the run's counters.
 *
 * Windows stay the unit of state: every window gets its own state row, with
 * its own exact row counts (the guard and window_deleted count rows into
 * windows as they stream by, guard.c), and its own progress line.  What is
 * shared is the statements' cost, the commit and the elapsed time, which
 * each window's row records as its share of the chunk's.
 *
 * A chunk is at most microbatch.coalesce_target long: either an interval
 * ('1 month', the default: the chunk ends before the first window that
 * would end later than its start plus that) or a number of windows
 * ('500'); always at least one window, and never across a gap between
 * planned windows.
 *
 * A chunk that fails is split in halves, each tried in its own
 * subtransaction of the chunk's transaction, and so on until the failing
 * window is alone: it is recorded failed with its own error, the windows
 * before it succeed.  After it, on_error decides as for single windows:
 * 'continue' goes on with the rest of the chunk, 'stop' skips it.  The
 * result is exactly that of running the windows one by one.  A cancel is
 * never split: it fails the chunk's first window and skips the rest.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "coalesce.h"
#include "compat.h"
#include "guard.h"

char	   *microbatch_coalesce_target = NULL;

/* microbatch.coalesce_target, as parsed: a span of time, or windows */
typedef struct CoalesceTarget
{
	int			windows;		/* a number of windows, or 0 */
	Interval	span;			/* else a span of time */
} CoalesceTarget;

static CoalesceTarget coalesce_target = {0, {0, 0, 1}};	/* 1 month */

static int	RunChunk(WindowExecutor *executor, PlannedWindow *windows, TimestampTz *bounds,
					 int n, WindowOutcome *outcomes, bool *stop);

/*
 * CoalesceCheckTarget accepts a number of windows (1 or more) or an
 * interval longer than zero, and hands the parsed value to the assign
 * hook.  It may run as the library loads or as postgresql.conf is read
 * again, where an error would abort the whole load: it never raises.
 */
bool
CoalesceCheckTarget(char **newval, void **extra, GucSource source)
{
	const char *s = *newval;
	CoalesceTarget parsed = {0, {0, 0, 0}};
	CoalesceTarget *copy;

	if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s))
	{
		if (strlen(s) > 9 || atoi(s) < 1)
		{
			GUC_check_errmsg("microbatch.coalesce_target must be at least one window, got \"%s\"", s);
			return false;
		}
		parsed.windows = atoi(s);
	}
	else if (!MicrobatchParseInterval(s, &parsed.span) ||
			 parsed.span.month < 0 || parsed.span.day < 0 || parsed.span.time < 0 ||
			 (parsed.span.month == 0 && parsed.span.day == 0 && parsed.span.time == 0))
	{
		GUC_check_errmsg("microbatch.coalesce_target must be a positive interval or a number of windows, got \"%s\"", s);
		return false;
	}
	copy = MicrobatchGucMalloc(sizeof(CoalesceTarget));
	if (copy == NULL)
		return false;
	*copy = parsed;
	*extra = copy;
	return true;
}

/* CoalesceAssignTarget takes the value its check hook parsed. */
void
CoalesceAssignTarget(const char *newval, void *extra)
{
	coalesce_target = *(CoalesceTarget *) extra;
}

/*
 * CoalesceChunkLength returns how many of the n planned windows, from the
 * first, one chunk takes: 1 unless the pipeline coalesces windows.
 */
int
CoalesceChunkLength(Pipeline *pipeline, PlannedWindow *windows, int n)
{
	TimestampTz limit = DT_NOEND;
	int			length = 1;

	if (!pipeline->coalesce_windows || n <= 1)
		return Min(n, 1);
	if (coalesce_target.windows > 0)
		n = Min(n, coalesce_target.windows);
	else
		limit = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														TimestampTzGetDatum(windows[0].start),
														IntervalPGetDatum(&coalesce_target.span)));
	while (length < n && windows[length].start == windows[length - 1].end &&
		   windows[length].end <= limit)
		length++;
	return length;
}

/*
 * RunChunk replaces the windows of one chunk (or part of one) in a
 * subtransaction, splitting it on failure as the header says.  It fills
 * outcomes for the windows it ran and returns how many that is: all n,
 * unless a failure stopped it (*stop), after which the rest are skipped.
 */
static int
RunChunk(WindowExecutor *executor, PlannedWindow *windows, TimestampTz *bounds, int n,
		 WindowOutcome *outcomes, bool *stop)
{
	WindowOutcome total;
	int			half;
	int			ran;
	int			i;

	if (ExecuteRangeGuarded(executor, bounds, n, &total))
	{
		for (i = 0; i < n; i++)
		{
			memset(&outcomes[i], 0, sizeof(WindowOutcome));
			outcomes[i].succeeded = true;
			outcomes[i].partial = windows[i].partial;
			outcomes[i].rows_deleted = n > 1 ? GuardRowsDeleted(i) : total.rows_deleted;
			outcomes[i].rows_inserted = n > 1 ? GuardRowsInserted(i) : total.rows_inserted;
			outcomes[i].elapsed_ms = total.elapsed_ms / n;
		}
		return n;
	}
	/* a lone window, or a cancel or shutdown: the failure is the first window's */
	if (n == 1 || strncmp(total.sqlstate, "57", 2) == 0)
	{
		outcomes[0] = total;
		*stop = !executor->pipeline->continue_on_error || strncmp(total.sqlstate, "57", 2) == 0;
		return 1;
	}
	half = n / 2;
	ran = RunChunk(executor, windows, bounds, half, outcomes, stop);
	if (*stop)
		return ran;
	return ran + RunChunk(executor, windows + half, bounds + half, n - half, outcomes + half, stop);
}

/*
 * CoalesceExecute replaces the n consecutive planned windows of a chunk in
 * the current transaction and records every window it ran (state rows and
 * the run's counters) in it; the caller commits.  It returns how many
 * windows ran, with their outcomes; the others were skipped after a failure
 * under on_error = 'stop'.  One window is one window, as without coalescing.
 */
int
CoalesceExecute(WindowExecutor *executor, int64 run_id, PlannedWindow *windows, int n,
				WindowOutcome *outcomes)
{
	TimestampTz *bounds = palloc(sizeof(TimestampTz) * (n + 1));
	bool		stop = false;
	int			ran;
	int			i;

	for (i = 0; i < n; i++)
		bounds[i] = windows[i].start;
	bounds[n] = windows[n - 1].end;
	ran = RunChunk(executor, windows, bounds, n, outcomes, &stop);
	/*
	 * A cancel from here on would fail the transaction that records the
	 * windows that ran, and leave the run unaccounted for: it waits until
	 * the next window (the caller commits with interrupts held, too).
	 */
	HOLD_INTERRUPTS();
	CatalogRecordWindows(executor->pipeline->id, run_id, bounds, ran, outcomes);
	CountRunWindows(executor, run_id, outcomes, ran);
	RESUME_INTERRUPTS();
	pfree(bounds);
	return ran;
}

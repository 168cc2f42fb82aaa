/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  The out-of-window guard, and the per-window row counts of a chunk.
 *
 * Every row a window's INSERT writes must fall inside the window, or
 * another window would delete it or write it twice.  The INSERT checks it
 * as the rows stream by, without keeping them:
 *
 *	  INSERT INTO target (columns)
 *	  SELECT ..., CASE WHEN microbatch.window_guard(mb_q.event_time, $1, $2)
 *					THEN mb_q.event_time END, ... FROM (<query>) mb_q;
 *
 * window_guard is true for a row inside [$1, $2) and raises on the first row
 * outside it, so the statement stops there and the window rolls back.  It
 * is in the select list, computed once per row written: as a WHERE clause,
 * even VOLATILE, the planner pushed it into the query (into the HAVING of
 * a grouped query), which changed the query's plan (Sort and GroupAggregate
 * where the query alone gets a HashAggregate).  On Citus the immutable
 * window_check stays a WHERE clause, which Citus pushes down to the nodes.
 *
 * A coalesced chunk (coalesce.c) replaces several windows with one DELETE
 * and one INSERT; to record each window's own row counts, the executor
 * hands the chunk's window bounds to GuardBegin, window_guard counts every
 * row it passes into its window, and the chunk's DELETE counts the rows it
 * removes through window_deleted.  Finding a row's window is a binary
 * search over the bounds: no row is kept, nothing is written.
 *
 * The state is the backend's own (the functions are PARALLEL UNSAFE and an
 * INSERT never runs in parallel workers), holds no pointer into memory that
 * a failed window frees, and is reset by every GuardBegin.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "guard.h"
#include "progress.h"

/* the window (or chunk) being written, and its windows' row counts */
typedef struct GuardState
{
	bool		active;
	bool		raised;			/* the guard raised its error */
	char		pipeline_name[NAMEDATALEN];
	char		event_time[NAMEDATALEN];
	char		batch_size[64];
	Grid		grid;
	int			nwindows;		/* 0: no counting */
	int			capacity;
	TimestampTz *bounds;		/* nwindows + 1 window bounds */
	int64	   *inserted;
	int64	   *deleted;
} GuardState;

static GuardState guard;

static int	GuardWindowOf(TimestampTz t);

PG_FUNCTION_INFO_V1(microbatch_window_guard);
PG_FUNCTION_INFO_V1(microbatch_window_check);
PG_FUNCTION_INFO_V1(microbatch_window_deleted);

/*
 * GuardBegin names the pipeline whose window is about to be written, for
 * the guard's error; with nwindows > 0, the guard and window_deleted also
 * count rows into the windows bounded by bounds[0..nwindows].
 */
void
GuardBegin(Pipeline *pipeline, TimestampTz *bounds, int nwindows)
{
	guard.active = true;
	guard.raised = false;
	strlcpy(guard.pipeline_name, pipeline->name, sizeof(guard.pipeline_name));
	strlcpy(guard.event_time, pipeline->event_time, sizeof(guard.event_time));
	strlcpy(guard.batch_size, pipeline->batch_size, sizeof(guard.batch_size));
	guard.grid = pipeline->grid;
	guard.nwindows = nwindows;
	if (nwindows > guard.capacity)
	{
		int			capacity = Max(nwindows, 64);

		if (guard.bounds)
		{
			pfree(guard.bounds);
			pfree(guard.inserted);
			pfree(guard.deleted);
		}
		guard.bounds = MemoryContextAlloc(TopMemoryContext, sizeof(TimestampTz) * (capacity + 1));
		guard.inserted = MemoryContextAlloc(TopMemoryContext, sizeof(int64) * capacity);
		guard.deleted = MemoryContextAlloc(TopMemoryContext, sizeof(int64) * capacity);
		guard.capacity = capacity;
	}
	if (nwindows > 0)
	{
		memcpy(guard.bounds, bounds, sizeof(TimestampTz) * (nwindows + 1));
		memset(guard.inserted, 0, sizeof(int64) * nwindows);
		memset(guard.deleted, 0, sizeof(int64) * nwindows);
	}
}

/* GuardEnd stops counting; the counts stay readable until the next GuardBegin. */
void
GuardEnd(void)
{
	guard.active = false;
}

/* GuardRaised tells whether the guard raised the error being handled. */
bool
GuardRaised(void)
{
	return guard.raised;
}

/* GuardRowsInserted is how many rows the guard passed into window i. */
int64
GuardRowsInserted(int i)
{
	return i < guard.nwindows ? guard.inserted[i] : 0;
}

/* GuardRowsDeleted is how many rows window_deleted counted into window i. */
int64
GuardRowsDeleted(int i)
{
	return i < guard.nwindows ? guard.deleted[i] : 0;
}

/* GuardWindowOf finds the window of the chunk that holds t, or -1. */
static int
GuardWindowOf(TimestampTz t)
{
	int			lo = 0;
	int			hi = guard.nwindows;

	if (!guard.active || guard.nwindows == 0 || t < guard.bounds[0] ||
		t >= guard.bounds[guard.nwindows])
		return -1;
	while (hi - lo > 1)
	{
		int			mid = (lo + hi) / 2;

		if (t < guard.bounds[mid])
			hi = mid;
		else
			lo = mid;
	}
	return lo;
}

/*
 * microbatch.window_guard(event_time, lo, hi) is true when event_time is in
 * [lo, hi) and raises otherwise, naming the window being written.
 */
Datum
microbatch_window_guard(PG_FUNCTION_ARGS)
{
	TimestampTz lo = PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz hi = PG_GETARG_TIMESTAMPTZ(2);
	TimestampTz t;
	int			window;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("window bounds must not be null")));
	if (PG_ARGISNULL(0) || (t = PG_GETARG_TIMESTAMPTZ(0)) < lo || t >= hi)
	{
		Pipeline	named;
		const char *value = PG_ARGISNULL(0) ? "NULL" :
			timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(0));

		if (!guard.active)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("event time %s is outside [%s, %s)", value,
							pstrdup(timestamptz_to_str(lo)), pstrdup(timestamptz_to_str(hi)))));
		guard.raised = true;
		memset(&named, 0, sizeof(named));
		named.batch_size = guard.batch_size;
		named.grid = guard.grid;
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("query of pipeline \"%s\" returned a row outside window %s",
						guard.pipeline_name, FormatWindow(&named, lo, hi)),
				 errdetail("The row's \"%s\" is %s. Column \"%s\" of every row must fall inside the window, or another window would delete or duplicate the row.",
						   guard.event_time, value, guard.event_time),
				 errhint("Filter the query's source on $1 and $2, and derive \"%s\" from the source's event time.",
						 guard.event_time)));
	}
	window = GuardWindowOf(t);
	if (window >= 0)
		guard.inserted[window]++;
	PG_RETURN_BOOL(true);
}

/*
 * microbatch.window_check(event_time, lo, hi) is the guard for a Citus
 * cluster: the same test, declared IMMUTABLE so that Citus pushes the
 * window's INSERT ... SELECT down to the worker nodes and the guard runs
 * there, next to the rows, instead of pulling every row to the coordinator
 * (citus.c).  Windows are not coalesced on Citus, so it never counts.
 */
Datum
microbatch_window_check(PG_FUNCTION_ARGS)
{
	return microbatch_window_guard(fcinfo);
}

/*
 * microbatch.window_deleted(event_time) counts a row a chunk's DELETE
 * removes into its window; always true.
 */
Datum
microbatch_window_deleted(PG_FUNCTION_ARGS)
{
	int			window = PG_ARGISNULL(0) ? -1 : GuardWindowOf(PG_GETARG_TIMESTAMPTZ(0));

	if (window >= 0)
		guard.deleted[window]++;
	PG_RETURN_BOOL(true);
}

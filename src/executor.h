/*-------------------------------------------------------------------------
 *
 * executor.h
 *	  Replacing one window of a pipeline's target.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_EXECUTOR_H
#define MICROBATCH_EXECUTOR_H

#include "executor/spi.h"
#include "utils/elog.h"

#include "catalog.h"
#include "pipeline.h"
#include "revalidate.h"

/* what replacing windows of one pipeline needs, kept for a whole run */
typedef struct WindowExecutor
{
	Pipeline   *pipeline;
	TargetShape shape;			/* the target the statements are written for */
	char	   *delete_sql;
	char	   *delete_count_sql;	/* the DELETE of a chunk, counting per window */
	char	   *insert_sql;
	bool		guarded;		/* the INSERT calls microbatch.window_guard */
	bool		delete_generic; /* a window's DELETE gets a generic plan at once */
	bool		insert_generic; /* and its INSERT */
	SPIPlanPtr	delete_plan;	/* prepared on the first window, then kept */
	SPIPlanPtr	delete_count_plan;	/* prepared on the first chunk */
	SPIPlanPtr	insert_plan;
	SPIPlanPtr	chunk_insert_plan;	/* the same, planned for a chunk's range */
	List	   *checks;			/* the pipeline's data checks (checks.c) */
	MemoryContext window_context;	/* reset after every window */
	TimestampTz counted_at;		/* when the run's counters were last written */
	struct
	{
		int			succeeded;
		int			failed;
		int64		rows_deleted;
		int64		rows_inserted;
	}			uncounted;		/* windows recorded since then */
	bool		on_citus;		/* the database runs Citus (citus.c) */
} WindowExecutor;

extern WindowExecutor *WindowExecutorCreate(Pipeline *pipeline);
extern void WindowExecutorDestroy(WindowExecutor *executor);
extern void ExecuteWindow(WindowExecutor *executor, TimestampTz start, TimestampTz end,
						  WindowOutcome *outcome);
extern void ExecuteRange(WindowExecutor *executor, TimestampTz *windows, int nwindows,
						 WindowOutcome *outcome);
extern bool ExecuteRangeGuarded(WindowExecutor *executor, TimestampTz *bounds,
								int nwindows, WindowOutcome *outcome);
extern void CountRunWindows(WindowExecutor *executor, int64 run_id, WindowOutcome *outcomes,
							int n);

#endif							/* MICROBATCH_EXECUTOR_H */

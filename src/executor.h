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

/* what replacing windows of one pipeline needs, kept for a whole run */
typedef struct WindowExecutor
{
	Pipeline   *pipeline;
	Oid			event_time_type;
	char	   *delete_sql;
	char	   *insert_sql;
	SPIPlanPtr	delete_plan;	/* prepared on the first window, then kept */
	SPIPlanPtr	insert_plan;
	List	   *checks;			/* the pipeline's data checks (checks.c) */
	MemoryContext window_context;	/* reset after every window */
	bool		on_citus;		/* the database runs Citus (citus.c) */
} WindowExecutor;

extern WindowExecutor *WindowExecutorCreate(Pipeline *pipeline);
extern void WindowExecutorDestroy(WindowExecutor *executor);
extern void ExecuteWindow(WindowExecutor *executor, TimestampTz start, TimestampTz end,
						  WindowOutcome *outcome);
extern bool ExecuteWindowGuarded(WindowExecutor *executor, int64 run_id,
								 TimestampTz start, TimestampTz end, bool partial,
								 WindowOutcome *outcome);
extern void MarkWindowRunning(WindowExecutor *executor, int64 run_id,
							  TimestampTz start, TimestampTz end);

#endif							/* MICROBATCH_EXECUTOR_H */

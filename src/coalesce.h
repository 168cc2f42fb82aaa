/*-------------------------------------------------------------------------
 *
 * coalesce.h
 *	  Coalesced windows: consecutive windows replaced by one statement pair.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_COALESCE_H
#define MICROBATCH_COALESCE_H

#include "utils/guc.h"

#include "executor.h"
#include "plan.h"

extern char *microbatch_coalesce_target;

extern bool CoalesceCheckTarget(char **newval, void **extra, GucSource source);
extern void CoalesceAssignTarget(const char *newval, void *extra);
extern int	CoalesceChunkLength(Pipeline *pipeline, PlannedWindow *windows, int n);
extern int	CoalesceExecute(WindowExecutor *executor, int64 run_id, PlannedWindow *windows,
							int n, WindowOutcome *outcomes);

#endif							/* MICROBATCH_COALESCE_H */

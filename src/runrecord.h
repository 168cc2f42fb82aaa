/*-------------------------------------------------------------------------
 *
 * runrecord.h
 *	  A run's records in the catalog: its start and its end.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_RUNRECORD_H
#define MICROBATCH_RUNRECORD_H

#include "plan.h"
#include "progress.h"

extern List *RunSetup(Pipeline *pipeline, RunPlan *plan, int64 run_id, int leader_pid,
					  MemoryContext context);
extern ErrorData *RunWaitForWriters(Pipeline *pipeline, List *raised, int64 run_id,
									 int nwindows);
extern void RunFinish(RunSummary *summary, int64 run_id);
extern void RunSessionBegin(Pipeline *pipeline, int64 run_id);
extern void RunSessionEnd(void);

#endif							/* MICROBATCH_RUNRECORD_H */

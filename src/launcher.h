/*-------------------------------------------------------------------------
 *
 * launcher.h
 *	  Running a plan in background workers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_LAUNCHER_H
#define MICROBATCH_LAUNCHER_H

#include "plan.h"
#include "progress.h"

extern void RunInWorkers(Pipeline *pipeline, RunPlan *plan, int max_parallel,
						 RunSummary *summary);

#endif							/* MICROBATCH_LAUNCHER_H */

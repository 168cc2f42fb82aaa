/*-------------------------------------------------------------------------
 *
 * horizon.h
 *	  The tracking horizon: runs raise it before they process windows in
 *	  full, and wait for the writers that may not have seen it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_HORIZON_H
#define MICROBATCH_HORIZON_H

#include "pipeline.h"
#include "plan.h"

extern List *HorizonAdvance(Pipeline *pipeline, PlannedWindow *windows, int nwindows,
							MemoryContext context);
extern void HorizonWaitForWriters(List *sources);
extern void HorizonWithdraw(Pipeline *pipeline);
extern bool HorizonLockForWindow(Pipeline *pipeline, PlannedWindow *window);

#endif							/* MICROBATCH_HORIZON_H */

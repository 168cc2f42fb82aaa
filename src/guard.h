/*-------------------------------------------------------------------------
 *
 * guard.h
 *	  The out-of-window guard, and the per-window row counts of a chunk.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_GUARD_H
#define MICROBATCH_GUARD_H

#include "pipeline.h"

extern void GuardBegin(Pipeline *pipeline, TimestampTz *bounds, int nwindows);
extern void GuardEnd(void);
extern bool GuardRaised(void);
extern int64 GuardRowsInserted(int i);
extern int64 GuardRowsDeleted(int i);

#endif							/* MICROBATCH_GUARD_H */

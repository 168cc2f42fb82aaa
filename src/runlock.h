/*-------------------------------------------------------------------------
 *
 * runlock.h
 *	  One run per pipeline at a time.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_RUNLOCK_H
#define MICROBATCH_RUNLOCK_H

#include "pipeline.h"

extern void RunLockAcquire(Pipeline *pipeline, bool session_level);
extern void RunLockRelease(Pipeline *pipeline);

#endif							/* MICROBATCH_RUNLOCK_H */

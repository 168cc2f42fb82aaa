/*-------------------------------------------------------------------------
 *
 * refresh.h
 *	  Full refresh of a pipeline's target and moving its beginning.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_REFRESH_H
#define MICROBATCH_REFRESH_H

#include "pipeline.h"

extern int64 RefreshPurge(Pipeline *pipeline);
extern void RefreshMoveBeginAt(Pipeline *pipeline);

#endif							/* MICROBATCH_REFRESH_H */

/*-------------------------------------------------------------------------
 *
 * checks.h
 *	  Data checks that every window of a pipeline must pass.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_CHECKS_H
#define MICROBATCH_CHECKS_H

#include "executor.h"

extern List *ChecksLoad(Pipeline *pipeline);
extern void ChecksFree(List *checks);
extern void ChecksRun(WindowExecutor *executor, TimestampTz start, TimestampTz end,
					  Datum *bounds, Datum *event_bounds, int64 rows_inserted);

#endif							/* MICROBATCH_CHECKS_H */

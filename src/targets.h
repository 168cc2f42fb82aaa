/*-------------------------------------------------------------------------
 *
 * targets.h
 *	  Pipelines that share a target table: each one owns its own range of
 *	  the target's event time, and a purge keeps all of them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_TARGETS_H
#define MICROBATCH_TARGETS_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "pipeline.h"

/* a span [start, end) of a target's event time */
typedef struct TargetSpan
{
	TimestampTz start;
	TimestampTz end;
} TargetSpan;

extern void TargetsCheckOverlap(Pipeline *pipeline);
extern List *TargetsKeptRanges(Pipeline *pipeline);

#endif							/* MICROBATCH_TARGETS_H */

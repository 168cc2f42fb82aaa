/*-------------------------------------------------------------------------
 *
 * track.h
 *	  Change tracking: stale marks written by the writers of tracked
 *	  sources, consumed by the windows that are replaced.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_TRACK_H
#define MICROBATCH_TRACK_H

#include "nodes/parsenodes.h"
#include "utils/relcache.h"
#include "pipeline.h"

extern void TrackSource(Pipeline *pipeline, Oid source, const char *event_time);
extern bool TrackForget(Pipeline *pipeline, Oid source);
extern void TrackForgetAll(Pipeline *pipeline);
extern void TrackFromQuery(Pipeline *pipeline, Query *query);
extern void TrackDropAll(void);
extern void TrackSourcesDropped(void);
extern void TrackReplaceBegin(Pipeline *pipeline);
extern void TrackReplaceEnd(Pipeline *pipeline, TimestampTz start, TimestampTz end);
extern void TrackConsume(Pipeline *pipeline, TimestampTz start, TimestampTz end);
extern bool TrackMarksLeft(Pipeline *pipeline);
extern void TrackPrune(Pipeline *pipeline);
extern void TrackSignalChanged(void);
extern void TrackSyncPartitionTriggers(Oid relid);
extern void TrackDropDetached(Oid relid);
extern bool TrackEventInstant(Datum value, Oid type, Grid *grid, TimestampTz *instant);
extern void TrackInsertedRow(Relation heap, Relation index, Datum *values, bool *isnull,
							 void **cache, MemoryContext context);

#endif							/* MICROBATCH_TRACK_H */

/*-------------------------------------------------------------------------
 *
 * deps.h
 *	  Pipelines that read other pipelines' targets: the dependency graph,
 *	  upstream-first order, waiting windows and self-reference.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_DEPS_H
#define MICROBATCH_DEPS_H

#include "nodes/parsenodes.h"
#include "pipeline.h"
#include "plan.h"

extern List *DepsQueryRelations(Query *query);
extern void DepsCheck(Pipeline *pipeline, List *reads);
extern void DepsStore(Pipeline *pipeline, List *reads);
extern List *DepsOrder(List *names);
extern List *DepsDownstreams(const char *name);
extern List *DepsUpstreamNames(const char *name);
extern TimestampTz DepsFrontier(Pipeline *pipeline, bool stale_counts);
extern const char *DepsFailedUpstream(Pipeline *pipeline, List *failed_names);
extern bool DepsReadsOwnTarget(Pipeline *pipeline);
extern void DepsHoldWaiting(Pipeline *pipeline, RunPlan *plan, bool remove);
extern List *DepsWaitingOn(Pipeline *pipeline, RunPlan *plan);

#endif							/* MICROBATCH_DEPS_H */

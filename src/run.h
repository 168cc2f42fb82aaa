/*-------------------------------------------------------------------------
 *
 * run.h
 *	  Running a plan: the SQL entry points and the in-session driver.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_RUN_H
#define MICROBATCH_RUN_H

#include "executor.h"
#include "plan.h"
#include "progress.h"

extern int	microbatch_max_workers;

extern void RunReportFailure(Pipeline *pipeline, RunSummary *summary);

#endif							/* MICROBATCH_RUN_H */

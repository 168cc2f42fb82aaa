/*-------------------------------------------------------------------------
 *
 * cron.h
 *	  Scheduling pipelines with pg_cron, when it is installed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_CRON_H
#define MICROBATCH_CRON_H

#include "pipeline.h"

extern bool CronUnschedule(Pipeline *pipeline, bool missing_ok);

#endif							/* MICROBATCH_CRON_H */

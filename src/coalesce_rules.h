/*-------------------------------------------------------------------------
 *
 * coalesce_rules.h
 *	  Which queries may coalesce windows.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_COALESCE_RULES_H
#define MICROBATCH_COALESCE_RULES_H

#include "nodes/parsenodes.h"

#include "pipeline.h"

extern void CoalesceRulesCheck(Pipeline *pipeline, Query *query, List *reads);

#endif							/* MICROBATCH_COALESCE_RULES_H */

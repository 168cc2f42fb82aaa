/*-------------------------------------------------------------------------
 *
 * reads.h
 *	  The tables whose rows a pipeline's query reads: the relations it
 *	  names, and the tables hidden behind them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_READS_H
#define MICROBATCH_READS_H

#include "nodes/parsenodes.h"
#include "pipeline.h"

extern List *ReadsOfQuery(Query *query);
extern List *ReadsExpand(List *reads);
extern List *ReadsOfPipeline(Pipeline *pipeline);

#endif							/* MICROBATCH_READS_H */

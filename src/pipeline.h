/*-------------------------------------------------------------------------
 *
 * pipeline.h
 *	  A registered pipeline as the rest of microbatch sees it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_PIPELINE_H
#define MICROBATCH_PIPELINE_H

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "grid.h"

typedef struct Pipeline
{
	int64		id;
	char	   *name;
	Oid			owner;
	Oid			target;
	char	   *event_time;
	char	   *query;
	char	   *batch_size;
	char	   *time_zone;
	TimestampTz begin_at;
	bool		has_end_at;
	TimestampTz end_at;
	int			lookback;
	int			max_parallel;
	bool		continue_on_error;
	bool		enabled;
	char	   *search_path;
	TimestampTz contiguous_until;
	TransactionId xmin;			/* of the catalog row: was it written by us? */
	bool		allow_reset;	/* false: mb_reset and mb_backfill refuse it */
	bool		marks_left;		/* stale marks from sources it no longer tracks */
	bool		coalesce_windows;	/* run consecutive windows as one chunk */
	bool		reads_partitioned;	/* the query reads a partitioned table
									 * (known once it was analysed) */

	Grid		grid;			/* built from batch_size and time_zone */
} Pipeline;

/* what a caller is about to do with a pipeline, for the checks it needs */
typedef enum PipelineUse
{
	PIPELINE_READ,				/* plan: any member of the owner role */
	PIPELINE_MANAGE,			/* alter, reset, drop, schedule */
	PIPELINE_RUN				/* run: must also be enabled and intact */
} PipelineUse;

extern Pipeline *PipelineOpen(const char *name, PipelineUse use);
extern Query *AnalyseSelect(const char *sql, const char *what, Oid *param_types,
							 const char *hint, char **text);
extern char *RequiredTextArg(FunctionCallInfo fcinfo, int arg, const char *what);
extern void PipelineCheckRunnable(Pipeline *pipeline);
extern void PipelineCheckWritable(void);
extern Oid	PipelineEventTimeType(Pipeline *pipeline);
extern List *PipelineQueryColumns(Pipeline *pipeline);
extern char *PipelineCheckQuery(const char *query, Pipeline *pipeline, List **columns);
extern void PipelineCheckAllowReset(Pipeline *pipeline, const char *function);
extern void QueryErrorPosition(void *arg);

#endif							/* MICROBATCH_PIPELINE_H */

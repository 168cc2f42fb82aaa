/*-------------------------------------------------------------------------
 *
 * progress.h
 *	  The NOTICE lines a run reports as it goes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_PROGRESS_H
#define MICROBATCH_PROGRESS_H

#include "catalog.h"
#include "plan.h"

/* what a run did, for its progress lines, its result row and its error */
typedef struct RunSummary
{
	int64		run_id;
	int			windows;
	int			done;
	int			succeeded;
	int			failed;
	int			skipped;
	int			waiting;		/* left out: held back by upstreams (deps.c) */
	int64		rows_deleted;
	int64		rows_inserted;
	TimestampTz started_at;
	bool		cancelled;
	/* the first window that failed */
	TimestampTz failed_start;
	TimestampTz failed_end;
	char		failed_sqlstate[6];
	char		failed_message[WINDOW_MESSAGE_SIZE];
} RunSummary;

extern bool microbatch_progress;

extern void ProgressPlanned(Pipeline *pipeline, RunPlan *plan, const char *executor);
extern void ProgressWindow(Pipeline *pipeline, RunSummary *summary, PlannedWindow *window,
						   WindowOutcome *outcome);
extern void ProgressFinished(Pipeline *pipeline, RunSummary *summary);
extern void SummaryCount(RunSummary *summary, PlannedWindow *window, WindowOutcome *outcome);
extern char *FormatWindow(Pipeline *pipeline, TimestampTz start, TimestampTz end);

#endif							/* MICROBATCH_PROGRESS_H */

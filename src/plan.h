/*-------------------------------------------------------------------------
 *
 * plan.h
 *	  Deciding which windows a run processes, and why.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_PLAN_H
#define MICROBATCH_PLAN_H

#include "pipeline.h"

typedef enum RunKind
{
	RUN_KIND_RUN,
	RUN_KIND_BACKFILL,
	RUN_KIND_RETRY
} RunKind;

/* why a window is in a plan, in order of precedence */
typedef enum WindowReason
{
	REASON_FAILED,
	REASON_STALE,
	REASON_PARTIAL,
	REASON_MISSING,
	REASON_NEW,
	REASON_LOOKBACK,
	REASON_BACKFILL,
	REASON_WAITING,				/* held back until its upstreams catch up (deps.c) */
	REASON_COUNT
} WindowReason;

typedef struct PlannedWindow
{
	TimestampTz start;
	TimestampTz end;			/* cut at end_at or now() */
	bool		partial;		/* end was cut: less than the full window */
	WindowReason reason;
} PlannedWindow;

typedef struct RunPlan
{
	RunKind		kind;
	int			nwindows;
	PlannedWindow *windows;		/* oldest first */
	int			reason_counts[REASON_COUNT];
	TimestampTz contiguous_until;	/* first window start without a state row */
	bool		truncated;		/* more windows wait than one run may take */
	int			nwaiting;		/* windows upstreams hold back (deps.c) */
	int			nwaiting_upstreams; /* how many upstreams hold them */
	char	   *waiting_on;		/* those upstreams, quoted, for messages */
} RunPlan;

extern int	microbatch_max_windows_per_run;

extern RunPlan *PlanRun(Pipeline *pipeline, RunKind kind, TimestampTz from, TimestampTz to);
extern const char *WindowReasonName(WindowReason reason);
extern const char *RunKindName(RunKind kind);
extern void PlanReportTruncated(Pipeline *pipeline, RunPlan *plan);

#endif							/* MICROBATCH_PLAN_H */

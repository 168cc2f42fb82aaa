/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The shared state of a run in background workers, and the worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_WORKER_H
#define MICROBATCH_WORKER_H

#include "storage/dsm.h"
#include "storage/spin.h"

#include "catalog.h"
#include "plan.h"

/*
 * A window's outcome as the segment keeps it: compact, since a backfill may
 * have a million windows.  Error messages live in a small ring (below).
 */
typedef struct SharedOutcome
{
	bool		done;			/* finished, or skipped inside its chunk */
	bool		succeeded;
	bool		partial;
	char		sqlstate[6];
	int			message_seq;	/* failures only: its slot in the ring */
	int64		rows_deleted;
	int64		rows_inserted;
	double		elapsed_ms;
} SharedOutcome;

/* failure messages kept for the leader to relay; older ones are overwritten */
#define MESSAGE_SLOTS 32

/* where the run's set-up (its catalog row) is */
typedef enum SharedSetupState
{
	SETUP_PENDING,
	SETUP_IN_PROGRESS,
	SETUP_DONE,
	SETUP_FAILED
} SharedSetupState;

/*
 * RunShared heads the DSM segment of a run; the arrays of windows, their
 * outcomes and the order in which they finished follow it.
 * Everything after the constant part is protected by mutex.  Windows before
 * next_window have been handed out; the queue is what remains.
 */
typedef struct RunShared
{
	/* set by the leader before any worker starts, then constant */
	Oid			database_id;
	Oid			user_id;
	pid_t		leader_pid;
	int64		run_id;
	char		pipeline_name[NAMEDATALEN];
	char		coalesce_target[64];	/* the leader's microbatch.coalesce_target */
	int			run_kind;		/* RunKind */
	TimestampTz contiguous_until;	/* what the plan found, for RunSetup */
	int			nwindows;

	slock_t		mutex;
	SharedSetupState setup;
	int			next_window;	/* queue head */
	int			accounted;		/* windows done or skipped */
	int			finished;		/* entries in finish_order */
	int			failed;
	int			skipped;
	int			succeeded;
	int64		rows_deleted;	/* totals of the windows that finished */
	int64		rows_inserted;
	bool		stop;			/* start no more windows */
	bool		cancelled;		/* the leader was cancelled or went away */
	bool		settle;			/* the one worker left records abandoned windows */
	int			abandoned;		/* windows claimed by workers that died */
	/* a worker's own error (not a window's), as it was raised */
	int			error_code;
	char		error[512];
	char		error_detail[512];
	char		error_hint[256];
	int			messages_written;	/* failures published so far */
	int			message_owner[MESSAGE_SLOTS];	/* which failure a slot holds */
	char		messages[MESSAGE_SLOTS][WINDOW_MESSAGE_SIZE];
} RunShared;

extern Size RunSharedSize(int nwindows);
extern PlannedWindow *RunSharedWindows(RunShared *shared);
extern void RunSharedReadOutcome(RunShared *shared, int index, WindowOutcome *outcome);
extern int *RunSharedFinishOrder(RunShared *shared);
extern void RunSharedStop(RunShared *shared, bool cancelled);
extern void RunSharedRaiseError(RunShared *shared, const char *pipeline_name);

PGDLLEXPORT void MicrobatchWorkerMain(Datum main_arg);

#endif							/* MICROBATCH_WORKER_H */

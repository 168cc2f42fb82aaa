/*-------------------------------------------------------------------------
 *
 * catalog.h
 *	  Every read and write of the microbatch.* tables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_CATALOG_H
#define MICROBATCH_CATALOG_H

#include "nodes/pg_list.h"
#include "pipeline.h"

/* window status values stored in microbatch.windows.status */
#define WINDOW_RUNNING		"running"
#define WINDOW_SUCCEEDED	"succeeded"
#define WINDOW_PARTIAL		"partial"
#define WINDOW_FAILED		"failed"
#define WINDOW_STALE		"stale"

/* a window's recorded state, as planning needs it */
typedef struct WindowState
{
	TimestampTz start;
	TimestampTz end;
	char		status[16];
} WindowState;

/* the outcome of one window, as it is recorded */
/* room for a failed window's error: its message and its detail */
#define WINDOW_MESSAGE_SIZE 1024

typedef struct WindowOutcome
{
	bool		succeeded;
	bool		partial;		/* processed with less than its full extent */
	int64		rows_deleted;
	int64		rows_inserted;
	double		elapsed_ms;
	char		sqlstate[6];
	char		message[WINDOW_MESSAGE_SIZE];	/* "message: detail" */
} WindowOutcome;

/* a check as microbatch.checks stores it */
typedef struct CatalogCheck
{
	char	   *name;
	char	   *sql;
} CatalogCheck;

/* a tracked source, with what its trigger needs (track.c) */
typedef struct CatalogTracker
{
	int64		pipeline_id;
	Oid			source;
	char	   *event_time;		/* column of the source */
	char	   *batch_size;
	char	   *time_zone;
	Oid			target;
	char	   *target_event_time;
	TimestampTz horizon;		/* changes before it are captured (horizon.c) */
	TimestampTz begin_at;		/* of the pipeline */
} CatalogTracker;

/* a pipeline in the dependency graph (deps.c) */
typedef struct CatalogGraphNode
{
	int64		id;
	char	   *name;
	Oid			target;
	List	   *reads;			/* of Oid: relations its query reads */
	bool		enabled;
	Oid			owner;
} CatalogGraphNode;

/* the range of a target a pipeline writes (targets.c) */
typedef struct CatalogTargetRange
{
	int64		pipeline_id;
	char	   *name;
	Oid			owner;
	TimestampTz begin_at;
	bool		has_end_at;
	TimestampTz end_at;			/* DT_NOEND without one */
} CatalogTargetRange;

extern Oid	CatalogOwner(void);
extern bool CatalogHasGuard(void);

/* pipelines */
extern Pipeline *CatalogReadPipeline(const char *name);
extern List *CatalogEnabledPipelineNames(void);
extern List *CatalogAllPipelineNames(void);
extern List *CatalogPipelinesOfDroppedTables(void);
extern int64 CatalogInsertPipeline(Pipeline *pipeline);
extern void CatalogUpdatePipeline(Pipeline *pipeline);
extern void CatalogSetCoalesce(int64 pipeline_id, bool coalesce_windows);
extern void CatalogSetCronJob(int64 pipeline_id, bool has_job, int64 jobid);
extern List *CatalogTargetPipelines(Oid target);
extern void CatalogDeletePipeline(int64 pipeline_id);
extern void CatalogResetPipeline(Pipeline *pipeline);
extern void CatalogAdvanceContiguous(int64 pipeline_id, TimestampTz until);
extern void CatalogMoveBeginAt(int64 pipeline_id, TimestampTz begin_at);

/* checks */
extern List *CatalogReadChecks(int64 pipeline_id);
extern bool CatalogCheckExists(int64 pipeline_id, const char *check_name);
extern void CatalogInsertCheck(int64 pipeline_id, const char *check_name,
							   const char *check_sql);
extern bool CatalogDeleteCheck(int64 pipeline_id, const char *check_name);

/* window state */
extern bool CatalogHighWater(int64 pipeline_id, TimestampTz *high_water);
extern List *CatalogPendingWindows(int64 pipeline_id, TimestampTz from, TimestampTz to,
								   int limit);
extern List *CatalogRecordedStarts(int64 pipeline_id, TimestampTz from, TimestampTz to,
								   int limit);
extern void CatalogRecordWindow(int64 pipeline_id, int64 run_id, TimestampTz start,
								TimestampTz end, WindowOutcome *outcome);
extern void CatalogRecordWindows(int64 pipeline_id, int64 run_id, TimestampTz *bounds, int n,
								 WindowOutcome *outcomes);

/* runs */
extern int64 CatalogNextRunId(void);
extern void CatalogSettleDeadRuns(int64 pipeline_id);
extern void CatalogInsertRun(int64 run_id, int64 pipeline_id, const char *kind,
							 int windows_total, int leader_pid);
extern void CatalogCountRunWindows(int64 run_id, int succeeded, int failed,
								   int64 rows_deleted, int64 rows_inserted);
extern void CatalogCancelAbandonedRun(int64 run_id);
extern bool CatalogHasStaleMarks(int64 pipeline_id);
extern void CatalogFinishRun(int64 run_id, const char *status, int succeeded, int failed,
							 int skipped, int64 rows_deleted, int64 rows_inserted);
extern int64 CatalogPruneRuns(int64 pipeline_id, TimestampTz before);
extern int64 CatalogRecordRunError(int64 pipeline_id, TimestampTz since, const char *error);
extern void CatalogSetRunError(int64 run_id, const char *error);

/* change tracking and dependencies */
extern bool CatalogHasTracking(void);
extern void CatalogInsertStaleMarks(int count, int64 *pipeline_ids, TimestampTz *starts);
extern void CatalogMarkAllProcessedStale(int64 pipeline_id);
extern void CatalogMarkProcessedStale(int64 pipeline_id, TimestampTz from, TimestampTz to);
extern void CatalogConsumeStaleMarks(int64 pipeline_id, TimestampTz from, TimestampTz to);
extern void CatalogPruneStaleMarks(int64 pipeline_id, TimestampTz from, TimestampTz to);
extern List *CatalogStaleWindows(int64 pipeline_id, TimestampTz from, TimestampTz to,
								 int limit);
extern char *CatalogSourceEventTime(int64 pipeline_id, Oid source);
extern void CatalogInsertSource(int64 pipeline_id, Oid source, const char *event_time);
extern bool CatalogDeleteSource(int64 pipeline_id, Oid source);
extern void CatalogDeleteSourcesOfDroppedTables(void);
extern List *CatalogReadTrackers(MemoryContext context);
extern List *CatalogSourceHorizons(int64 pipeline_id, MemoryContext context);
extern bool CatalogSetHorizon(int64 pipeline_id, TimestampTz horizon);
extern bool CatalogProcessedInFull(int64 pipeline_id, TimestampTz *end);
extern void CatalogSetReads(int64 pipeline_id, List *relids);
extern List *CatalogReadGraph(MemoryContext context);

#endif							/* MICROBATCH_CATALOG_H */

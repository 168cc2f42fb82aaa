/*-------------------------------------------------------------------------
 *
 * cron_call.h
 *	  Calls to pg_cron, from whichever database of the cluster.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_CRON_CALL_H
#define MICROBATCH_CRON_CALL_H

#include "fmgr.h"

/* what a request asks the cron database to do */
typedef enum CronOp
{
	CRON_SCHEDULE,				/* args: job name, schedule, command, database */
	CRON_UNSCHEDULE,			/* args: job name, database */
	CRON_JOBS					/* args: database, prefix; rows: name, schedule,
								 * status, message, job id */
} CronOp;

#define CRON_MAX_ARGS 4
#define CRON_ARG_SIZE 1024
#define CRON_TEXT_SIZE 1024
#define CRON_RESULT_SIZE 65536
#define CRON_JOB_COLUMNS 5

/*
 * CronRequest is one call, with its answer: in a DSM segment when a worker
 * makes it, in local memory when this session does.
 */
typedef struct CronRequest
{
	char		database[NAMEDATALEN];	/* where pg_cron lives */
	char		pipeline[NAMEDATALEN];	/* for messages */
	Oid			owner;			/* act as this role to create a job */
	Oid			caller;			/* CRON_JOBS: show jobs this role may see */
	CronOp		op;
	bool		in_session;		/* made by this session, not a worker */
	bool		sweep;			/* remove jobs of dropped databases first */
	char		args[CRON_MAX_ARGS][CRON_ARG_SIZE];
	/* the answer */
	bool		done;			/* the call completed */
	bool		failed;			/* it raised an error, described below */
	int			sqlerrcode;
	char		message[CRON_TEXT_SIZE];
	char		detail[CRON_TEXT_SIZE];
	char		hint[CRON_TEXT_SIZE];
	int64		value;			/* job id, or whether a job was removed */
	bool		value_isnull;
	int			nrows;			/* CRON_JOBS: rows packed in result */
	Size		result_used;
	char		result[CRON_RESULT_SIZE];
} CronRequest;

extern bool CronInstalled(void);
extern bool CronIsLocal(void);
extern CronRequest *CronRequestNew(CronOp op, const char *pipeline, Oid owner);
extern void CronRequestSetArg(CronRequest *request, int i, const char *value);
extern bool CronRequestRun(CronRequest *request, bool soft);

PGDLLEXPORT void MicrobatchCronWorkerMain(Datum main_arg);

#endif							/* MICROBATCH_CRON_CALL_H */

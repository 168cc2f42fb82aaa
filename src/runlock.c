/*-------------------------------------------------------------------------
 *
 * runlock.c
 *	  One run per pipeline at a time.
 *
 * A run holds an advisory lock on its pipeline's id for as long as it
 * lasts: session-level for runs that commit as they go (their transactions
 * come and go under it), transaction-level for mb_run_window, mb_reset and
 * mb_drop.  The lock is only ever tried, never waited for, so a second run
 * fails at once and names the process that holds the pipeline.  The fourth
 * field of the lock tag keeps these locks apart from the application's own
 * pg_advisory_lock() calls; they show in pg_locks with objsubid 19778.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"

#include "runlock.h"
#include "sandbox.h"

#define RUN_LOCK_FIELD4 19778	/* 'M' 'B' */

static void SetRunLockTag(LOCKTAG *tag, Pipeline *pipeline);
static int	RunLockHolder(Pipeline *pipeline);

/* SetRunLockTag fills in the advisory lock tag of a pipeline. */
static void
SetRunLockTag(LOCKTAG *tag, Pipeline *pipeline)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (pipeline->id >> 32),
						 (uint32) pipeline->id, RUN_LOCK_FIELD4);
}

/*
 * RunLockAcquire takes the pipeline's run lock, or fails at once with
 * SQLSTATE 55P03 naming the process that holds it.
 */
void
RunLockAcquire(Pipeline *pipeline, bool session_level)
{
	LOCKTAG		tag;

	SetRunLockTag(&tag, pipeline);
	if (LockAcquire(&tag, ExclusiveLock, session_level, true) == LOCKACQUIRE_NOT_AVAIL)
	{
		int			holder = RunLockHolder(pipeline);

		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("pipeline \"%s\" is busy", pipeline->name),
				 errdetail("Process %d is running it.", holder),
				 errhint("Wait for that run to finish, or cancel it with pg_cancel_backend(%d).",
						 holder)));
	}
}

/* RunLockRelease gives up a session-level run lock. */
void
RunLockRelease(Pipeline *pipeline)
{
	LOCKTAG		tag;

	SetRunLockTag(&tag, pipeline);
	LockRelease(&tag, ExclusiveLock, true);
}

/* RunLockHolder looks up in pg_locks which process holds a pipeline. */
static int
RunLockHolder(Pipeline *pipeline)
{
	Oid			types[3] = {OIDOID, OIDOID, OIDOID};
	Datum		values[3] = {ObjectIdGetDatum(MyDatabaseId),
		ObjectIdGetDatum((uint32) (pipeline->id >> 32)),
	ObjectIdGetDatum((uint32) pipeline->id)};
	int			holder = 0;
	bool		isnull;
	Sandbox		sandbox;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SandboxEnterTrusted(&sandbox, GetUserId());
	if (SPI_execute_with_args("SELECT pid FROM pg_catalog.pg_locks "
							  "WHERE locktype = 'advisory' AND granted AND database = $1 "
							  "  AND classid = $2 AND objid = $3 AND objsubid = 19778",
							  3, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_locks");
	if (SPI_processed > 0)
		holder = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
	SandboxLeave(&sandbox);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return holder;
}

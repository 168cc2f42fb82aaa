/*-------------------------------------------------------------------------
 *
 * refresh.c
 *	  Full refresh of a pipeline's target and moving its beginning.
 *
 * A full refresh (dbt's --full-refresh) is mb_reset(name, purge => true):
 * the window state is forgotten, so the next run processes every window
 * from begin_at again, and the purge deletes the target's rows that no
 * window would replace, those outside [begin_at, end_at) (and those without
 * an event time).  The range ends at now() at the latest, without end_at
 * or with one in the future: no run writes rows dated later.  Rows in the ranges of the other pipelines that write
 * the same target are theirs and stay (targets.c).  After the next run the
 * target holds exactly what a pipeline registered afresh would have
 * written.  Rows inside the range are left for their windows to replace,
 * so readers never see the target empty.
 *
 * The purge is the pipeline's own DELETE, widened: it runs as the owner in
 * the same sandbox as a window (SECURITY_RESTRICTED_OPERATION, the owner's
 * search_path, the pipeline's TimeZone so that timestamp and date columns
 * compare as local times), with the bounds as parameters and operators
 * qualified with pg_catalog.
 *
 * begin_at moves along the grid (mb_alter): earlier, the windows it adds
 * have no state and the next run fills them as missing; later, the state of
 * the windows before it is forgotten.  Both take the run lock first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "refresh.h"
#include "runlock.h"
#include "sandbox.h"
#include "targets.h"

/*
 * RefreshPurge deletes, as the pipeline's owner, the target's rows outside
 * the ranges of the pipelines that write it (targets.c: its own
 * [begin_at, end_at), ending at now() at the latest, and those of the
 * others) and those without an event time, and returns how many.  The
 * caller holds the run lock.
 */
int64
RefreshPurge(Pipeline *pipeline)
{
	const char *event_time = quote_identifier(pipeline->event_time);
	List	   *spans;
	Oid		   *types;
	Datum	   *values;
	int			nargs = 0;
	StringInfoData sql;
	Sandbox		sandbox;
	int64		purged;
	ListCell   *lc;
	int			rc;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(pipeline->target)))
		PipelineCheckRunnable(pipeline);	/* reports the missing target */
	(void) PipelineEventTimeType(pipeline); /* reports a missing column */

	spans = TargetsKeptRanges(pipeline);
	types = palloc(sizeof(Oid) * Max(2 * list_length(spans), 1));
	values = palloc(sizeof(Datum) * Max(2 * list_length(spans), 1));
	initStringInfo(&sql);
	appendStringInfo(&sql, "DELETE FROM %s WHERE NOT COALESCE(",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(pipeline->target)),
												get_rel_name(pipeline->target)));
	foreach(lc, spans)
	{
		TargetSpan *span = lfirst(lc);

		types[nargs] = types[nargs + 1] = TIMESTAMPTZOID;
		values[nargs] = TimestampTzGetDatum(span->start);
		values[nargs + 1] = TimestampTzGetDatum(span->end);
		appendStringInfo(&sql, "%s(%s OPERATOR(pg_catalog.>=) $%d AND %s OPERATOR(pg_catalog.<) $%d)",
						 nargs > 0 ? " OR " : "", event_time, nargs + 1, event_time, nargs + 2);
		nargs += 2;
	}
	appendStringInfoString(&sql, nargs > 0 ? ", false)" : "false, false)");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SandboxEnterPipeline(&sandbox, pipeline->owner, pipeline->search_path, pipeline->time_zone);

	rc = SPI_execute_with_args(sql.data, nargs, types, values, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "purge of pipeline \"%s\" failed: %s", pipeline->name,
			 SPI_result_code_string(rc));
	purged = SPI_processed;

	SandboxLeave(&sandbox);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return purged;
}

/*
 * RefreshMoveBeginAt stores the pipeline's new begin_at (already floored to
 * the grid and checked) and forgets the state of the windows before it.
 */
void
RefreshMoveBeginAt(Pipeline *pipeline)
{
	RunLockAcquire(pipeline, false);
	CatalogMoveBeginAt(pipeline->id, pipeline->begin_at);
}

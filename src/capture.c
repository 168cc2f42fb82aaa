/*-------------------------------------------------------------------------
 *
 * capture.c
 *	  The capture index: an index access method that stores nothing, so
 *	  that every row inserted into a tracked source passes through
 *	  microbatch on the cheapest path PostgreSQL has.
 *
 * Every row that INSERT, COPY or MERGE writes into a table goes through
 * each of the table's indexes (COPY's multi-row inserts too), one call and
 * its key columns.  An AFTER row trigger costs several times that per row,
 * even when its WHEN condition is false, and a statement trigger with a
 * transition table copies every row.  So mb_track puts an index of this
 * access method on the tracked event-time columns of a source (track.c),
 * and its insert callback hands the row's event times to
 * TrackInsertedRow, which captures those before the horizon and ignores
 * the rest.
 *
 * The index is empty: nothing is written to it, so it costs no I/O and no
 * WAL, vacuum has nothing to remove, and building it reads nothing.  It
 * offers no scan (no amgettuple, no amgetbitmap), so the planner never
 * builds a path on it.  Updates and deletes are seen by row triggers
 * instead, since an index sees neither the old row nor a HOT update.
 *
 * The operator classes (one per event-time type, microbatch--0.2--0.3.sql)
 * have no operators: the index compares nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/amapi.h"
#include "access/reloptions.h"
#include "catalog/index.h"
#include "commands/vacuum.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "utils/rel.h"

#include "compat.h"
#include "track.h"

PG_FUNCTION_INFO_V1(microbatch_capture_handler);

/* CaptureBuild builds an empty index: there is nothing to read. */
static IndexBuildResult *
CaptureBuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result = palloc0(sizeof(IndexBuildResult));

	/* the heap's row count is what the last VACUUM or ANALYZE left */
	result->heap_tuples = heap->rd_rel->reltuples;
	result->index_tuples = 0;
	return result;
}

/* CaptureBuildEmpty has no init fork content to write either. */
static void
CaptureBuildEmpty(Relation index)
{
}

/* CaptureInsert hands a new row's event times over; nothing is stored. */
static bool
CaptureInsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
			  Relation heap, IndexUniqueCheck checkUnique,
#if PG_VERSION_NUM >= 140000
			  bool indexUnchanged,
#endif
			  IndexInfo *indexInfo)
{
	TrackInsertedRow(heap, index, values, isnull, &indexInfo->ii_AmCache,
					 indexInfo->ii_Context);
	return false;
}

/* CaptureBulkDelete has no entries to delete. */
static IndexBulkDeleteResult *
CaptureBulkDelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
				  IndexBulkDeleteCallback callback, void *callback_state)
{
	return stats;
}

/* CaptureVacuumCleanup has nothing to clean. */
static IndexBulkDeleteResult *
CaptureVacuumCleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	return stats;
}

/*
 * CaptureCostEstimate is never called (the index offers no scan); should it
 * be, the index is worthless to any plan.
 */
static void
CaptureCostEstimate(PlannerInfo *root, IndexPath *path, double loop_count,
					Cost *startup_cost, Cost *total_cost, Selectivity *selectivity,
					double *correlation, double *pages)
{
	*startup_cost = 1.0e10;
	*total_cost = 1.0e10;
	*selectivity = 1.0;
	*correlation = 0.0;
	*pages = 0.0;
}

/* CaptureOptions refuses storage parameters: there is no storage. */
static bytea *
CaptureOptions(Datum reloptions, bool validate)
{
	if (validate && DatumGetPointer(reloptions) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("access method \"microbatch_capture\" takes no storage parameters")));
	return NULL;
}

/* CaptureValidate accepts the operator classes: they have no members. */
static bool
CaptureValidate(Oid opclassoid)
{
	return true;
}

/* CaptureBeginScan refuses a scan, which no plan asks for. */
static IndexScanDesc
CaptureBeginScan(Relation index, int nkeys, int norderbys)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("index \"%s\" cannot be scanned", RelationGetRelationName(index)),
			 errdetail("It is microbatch's change capture, which stores nothing.")));
	return NULL;				/* keep the compiler quiet */
}

static void
CaptureRescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
}

static void
CaptureEndScan(IndexScanDesc scan)
{
}

/* microbatch.capture_handler(internal) describes the access method. */
Datum
microbatch_capture_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = makeNode(IndexAmRoutine);

	am->amstrategies = 0;
	am->amsupport = 0;
	am->amoptsprocnum = 0;
	am->amcanorder = false;
	am->amcanorderbyop = false;
	am->amcanbackward = false;
	am->amcanunique = false;
	am->amcanmulticol = true;	/* a source tracked by several columns */
	am->amoptionalkey = true;
	am->amsearcharray = false;
	am->amsearchnulls = false;
	am->amstorage = false;
	am->amclusterable = false;
	am->ampredlocks = false;
	am->amcanparallel = false;
	am->amcaninclude = false;
	am->amusemaintenanceworkmem = false;
	am->amparallelvacuumoptions = VACUUM_OPTION_NO_PARALLEL;
	am->amkeytype = InvalidOid;

	am->ambuild = CaptureBuild;
	am->ambuildempty = CaptureBuildEmpty;
	am->aminsert = CaptureInsert;
	am->ambulkdelete = CaptureBulkDelete;
	am->amvacuumcleanup = CaptureVacuumCleanup;
	am->amcanreturn = NULL;
	am->amcostestimate = CaptureCostEstimate;
	am->amoptions = CaptureOptions;
	am->amproperty = NULL;
	am->ambuildphasename = NULL;
	am->amvalidate = CaptureValidate;
	am->ambeginscan = CaptureBeginScan;
	am->amrescan = CaptureRescan;
	am->amgettuple = NULL;
	am->amgetbitmap = NULL;
	am->amendscan = CaptureEndScan;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;

	PG_RETURN_POINTER(am);
}

/*-------------------------------------------------------------------------
 *
 * microbatch.c
 *	  Module entry point and settings of microbatch.
 *
 * microbatch maintains derived tables window by window: each window of a
 * pipeline's time grid is replaced by a DELETE and an INSERT in one
 * transaction together with its state row.  The library needs no
 * shared_preload_libraries entry: it is loaded by its first SQL call, and
 * by each background worker it starts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/tuplestore.h"

#include "coalesce.h"
#include "compat.h"
#include "plan.h"
#include "progress.h"
#include "run.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* _PG_init defines the microbatch.* settings. */
void
_PG_init(void)
{
	DefineCustomBoolVariable("microbatch.progress",
							 "Reports every window of a run as a NOTICE.",
							 NULL,
							 &microbatch_progress,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("microbatch.max_workers",
							"Most background workers one run may use.",
							"A run uses at most max_parallel workers, and never more than this.",
							&microbatch_max_workers,
							8, 1, 1024,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("microbatch.max_windows_per_run",
							"Most windows one run, retry or backfill processes.",
							"A run with more to do processes the oldest ones; a larger backfill is refused.",
							&microbatch_max_windows_per_run,
							100000, 1, 1000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("microbatch.coalesce_target",
							   "Size of a chunk of coalesced windows: an interval, or a number of windows.",
							   "Pipelines with coalesce_windows replace up to this much time ('1 month') or this many windows ('500') with one DELETE and one INSERT.",
							   &microbatch_coalesce_target,
							   "1 month",
							   PGC_USERSET,
							   0,
							   CoalesceCheckTarget, CoalesceAssignTarget, NULL);

	MarkGUCPrefixReserved("microbatch");
}

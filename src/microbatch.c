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
#include "utils/guc.h"

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

	MarkGUCPrefixReserved("microbatch");
}

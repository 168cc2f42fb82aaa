/*-------------------------------------------------------------------------
 *
 * lifecycle.c
 *	  What happens to pipelines as the things around them change: their
 *	  target is dropped, the extension is dropped, their history grows.
 *
 * Two event triggers keep pg_cron from running jobs that can only fail:
 *
 * - on sql_drop, a pipeline whose target table was dropped is disabled and
 *	 its job removed (its state is kept: re-create the table and enable it,
 *	 or mb_drop it), and the tracking of dropped sources is forgotten;
 * - on ddl_command_start of DROP EXTENSION microbatch, every job the
 *	 extension created is removed before its functions disappear, and so is
 *	 every tracking trigger (track.c), which would otherwise block the drop.
 *	 Both are transactional: if the DROP fails, the jobs come back with it.
 *
 * mb_prune deletes old runs; a window's latest state is never deleted, and
 * neither is a run that some window's latest state points to.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "cron.h"
#include "pipeline.h"
#include "track.h"

static bool CatalogExists(void);

PG_FUNCTION_INFO_V1(microbatch_on_sql_drop);
PG_FUNCTION_INFO_V1(microbatch_on_drop_extension);
PG_FUNCTION_INFO_V1(microbatch_prune);

/* CatalogExists tells whether microbatch's tables are (still) there. */
static bool
CatalogExists(void)
{
	Oid			namespace = get_namespace_oid("microbatch", true);

	return OidIsValid(namespace) && OidIsValid(get_relname_relid("pipelines", namespace));
}

/*
 * microbatch.on_sql_drop() disables the pipelines whose target table was
 * just dropped, and removes their pg_cron jobs.
 */
Datum
microbatch_on_sql_drop(PG_FUNCTION_ARGS)
{
	List	   *names;
	ListCell   *lc;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("microbatch.on_sql_drop() must be called as an event trigger")));
	if (!CatalogExists())
		PG_RETURN_VOID();

	TrackSourcesDropped();
	names = CatalogPipelinesOfDroppedTables();
	foreach(lc, names)
	{
		Pipeline   *pipeline = CatalogReadPipeline(lfirst(lc));

		if (pipeline == NULL || !pipeline->enabled)
			continue;
		pipeline->enabled = false;
		CatalogUpdatePipeline(pipeline);
		(void) CronUnschedule(pipeline, true);
		ereport(NOTICE,
				(errmsg("pipeline \"%s\" is disabled: its target table was dropped",
						pipeline->name),
				 errhint("Drop it with mb_drop('%s'), or re-create a target and register the pipeline again.",
						 pipeline->name)));
	}
	PG_RETURN_VOID();
}

/*
 * microbatch.on_drop_extension() removes every pg_cron job of a pipeline
 * when the command about to run drops this extension.
 */
Datum
microbatch_on_drop_extension(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigger;
	DropStmt   *drop;
	ListCell   *lc;
	bool		dropping_us = false;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("microbatch.on_drop_extension() must be called as an event trigger")));
	trigger = (EventTriggerData *) fcinfo->context;
	if (!IsA(trigger->parsetree, DropStmt) ||
		((DropStmt *) trigger->parsetree)->removeType != OBJECT_EXTENSION)
		PG_RETURN_VOID();

	drop = (DropStmt *) trigger->parsetree;
	foreach(lc, drop->objects)
		if (strcmp(strVal(lfirst(lc)), "microbatch") == 0)
			dropping_us = true;
	if (!dropping_us || !CatalogExists())
		PG_RETURN_VOID();

	TrackDropAll();

	foreach(lc, CatalogAllPipelineNames())
	{
		Pipeline   *pipeline = CatalogReadPipeline(lfirst(lc));

		if (pipeline != NULL)
			(void) CronUnschedule(pipeline, true);
	}
	PG_RETURN_VOID();
}

/*
 * mb_prune(older_than, name) deletes the runs that finished longer ago than
 * older_than, of one pipeline or of all the caller may manage, and returns
 * how many.  Window state is kept: every window keeps its latest state and
 * the run that produced it.
 */
Datum
microbatch_prune(PG_FUNCTION_ARGS)
{
	Interval   *older_than;
	TimestampTz before;
	List	   *names;
	ListCell   *lc;
	int64		pruned = 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("older_than must not be null")));
	older_than = PG_GETARG_INTERVAL_P(0);
	before = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
													 TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
													 IntervalPGetDatum(older_than)));
	if (before > GetCurrentTransactionStartTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not be negative, got \"%s\"",
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(older_than))))));

	names = PG_ARGISNULL(1) ? CatalogAllPipelineNames()
		: list_make1(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	foreach(lc, names)
	{
		Pipeline   *pipeline;

		if (PG_ARGISNULL(1))
		{
			/* all pipelines: those of the caller only */
			pipeline = CatalogReadPipeline(lfirst(lc));
			if (pipeline == NULL || !has_privs_of_role(GetUserId(), pipeline->owner))
				continue;
		}
		else
			pipeline = PipelineOpen(lfirst(lc), PIPELINE_MANAGE);
		pruned += CatalogPruneRuns(pipeline->id, before);
	}
	PG_RETURN_INT64(pruned);
}

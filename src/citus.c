/*-------------------------------------------------------------------------
 *
 * citus.c
 *	  Windows that behave on a Citus cluster exactly as on one node.
 *
 * microbatch has no build-time dependency on Citus.  It looks at run time
 * whether the citus extension exists in the database (its library is then
 * loaded: Citus must be in shared_preload_libraries) and, if so, adapts
 * every window of the run, inside the window's sandbox (sandbox.c):
 *
 * - TimeZone.  Citus evaluates much of a query on worker nodes, over
 *	 connections of its own, where a setting made from C never arrives; an
 *	 SQL SET LOCAL does, under citus.propagate_set_commands = 'local'.  So
 *	 the zone is set once more through SQL.  The sandbox's nest level still
 *	 undoes it here when the window ends; the caller's own zone is then sent
 *	 the same way, so that later statements of the caller's transaction (the
 *	 mb_run_window case) find it on the nodes too.
 * - plan_cache_mode = force_custom_plan.  Citus cannot build a distributed
 *	 plan for a generic INSERT ... SELECT, and custom plans prune shards by
 *	 the window's bounds.
 * - citus.enable_deadlock_prevention = off.  It serialises concurrent
 *	 multi-shard modifications of the same shards; windows of a pipeline
 *	 never touch the same rows, so they cannot deadlock on each other and may
 *	 run in parallel.
 *
 * The leader of a run in background workers also asks Citus's global wait
 * graph, not only the local lock table, whether a worker waits for a lock
 * that the leader's own transaction holds on some node (CitusWaitsForUs).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "catalog.h"
#include "citus.h"
#include "sandbox.h"

static void SendTimeZone(const char *time_zone);

/* CitusActive tells whether this database runs Citus. */
bool
CitusActive(void)
{
	return OidIsValid(get_extension_oid("citus", true));
}

/*
 * SendTimeZone sets TimeZone with an SQL SET LOCAL, which Citus passes on
 * to the worker nodes of the transaction.  The caller is connected to SPI.
 */
static void
SendTimeZone(const char *time_zone)
{
	char	   *sql = psprintf("SET LOCAL TimeZone = %s", quote_literal_cstr(time_zone));
	int			rc;

	(void) set_config_option("citus.propagate_set_commands", "local", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	rc = SPI_execute(sql, false, 0);
	if (rc != SPI_OK_UTILITY)
		elog(ERROR, "could not set the window's time zone on the Citus nodes: %s",
			 SPI_result_code_string(rc));
}

/*
 * CitusEnterWindow adapts a window's settings to Citus; it runs inside the
 * window's sandbox, whose nest level undoes them all, and under SPI.
 */
void
CitusEnterWindow(const char *time_zone)
{
	(void) set_config_option("plan_cache_mode", "force_custom_plan", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("citus.enable_deadlock_prevention", "off", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	SendTimeZone(time_zone);
}

/*
 * CitusLeaveWindow sends the caller's TimeZone, restored here by leaving
 * the sandbox, to the nodes as well; it runs under SPI, in a nest level of
 * its own so that the propagation setting does not stay behind.
 */
void
CitusLeaveWindow(void)
{
	int			nest_level = NewGUCNestLevel();

	SendTimeZone(GetConfigOption("TimeZone", false, false));
	AtEOXact_GUC(false, nest_level);
}

/*
 * CitusWaitsForUs tells whether the background worker with this pid waits,
 * on any node of the cluster, for a lock held by this session's
 * transaction.  Citus's global wait graph knows both by their global pids.
 */
bool
CitusWaitsForUs(int worker_pid)
{
	Sandbox		sandbox;
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(worker_pid)};
	bool		waits = false;
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the global wait graph is for superusers: read it as the catalog owner */
	SandboxEnterTrusted(&sandbox, CatalogOwner());
	if (SPI_execute_with_args("SELECT EXISTS (SELECT 1 "
							  "  FROM pg_catalog.citus_internal_global_blocked_processes() g "
							  " WHERE g.blocking_global_pid = pg_catalog.citus_backend_gpid() "
							  "   AND g.waiting_global_pid = pg_catalog.citus_calculate_gpid("
							  "         pg_catalog.citus_nodeid_for_gpid(pg_catalog.citus_backend_gpid()), $1))",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read Citus's wait graph");
	waits = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SandboxLeave(&sandbox);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	return waits;
}

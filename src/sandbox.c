/*-------------------------------------------------------------------------
 *
 * sandbox.c
 *	  Running statements as another role, with settings the caller cannot
 *	  reach and that do not outlive the statements.
 *
 * microbatch runs SQL under two identities that are not the caller's:
 *
 * - its own catalog statements run as the catalog owner (a superuser, as a
 *	 rule), so that roles which may only read their own rows can still have
 *	 their windows recorded;
 * - a pipeline's window (its DELETE, INSERT and checks) runs as the
 *	 pipeline's owner, whoever calls it: a superuser's mb_run(), a pg_cron
 *	 job, a background worker.
 *
 * Both are entered the way PostgreSQL's maintenance commands (VACUUM,
 * REFRESH MATERIALIZED VIEW, CLUSTER) run a table owner's code: the user
 * id is switched with SECURITY_RESTRICTED_OPERATION, so the code cannot
 * SET ROLE, create temporary objects or leave a cursor behind, and a new
 * GUC nest level is opened and later rolled back, never kept, so nothing
 * the code sets (even with set_config(..., false)) survives it.
 *
 * Names are resolved through search_path, so it is pinned too: catalog
 * statements use "pg_catalog, pg_temp", where no role can put an operator
 * or function of its own (pg_temp is never searched for either), and a
 * window uses the search_path recorded when its owner registered it.
 * Nothing from the caller's session, role or database settings reaches
 * them.  An error inside either unwinds through (sub)transaction abort,
 * which restores the user id and the settings just the same.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "sandbox.h"

#define SAFE_SEARCH_PATH "pg_catalog, pg_temp"

static void SandboxEnter(Sandbox *sandbox, Oid role);
static void SandboxSet(const char *name, const char *value);

/* SandboxSet changes a setting inside the sandbox's nest level. */
static void
SandboxSet(const char *name, const char *value)
{
	(void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/* SandboxEnter becomes role, restricted, in a new setting nest level. */
static void
SandboxEnter(Sandbox *sandbox, Oid role)
{
	GetUserIdAndSecContext(&sandbox->saved_userid, &sandbox->saved_sec_context);
	SetUserIdAndSecContext(role, sandbox->saved_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	sandbox->nest_level = NewGUCNestLevel();
}

/*
 * SandboxEnterTrusted prepares for the extension's own statements as role:
 * only pg_catalog (and pg_temp, for relations) is searched for names.
 */
void
SandboxEnterTrusted(Sandbox *sandbox, Oid role)
{
	SandboxEnter(sandbox, role);
	SandboxSet("search_path", SAFE_SEARCH_PATH);
}

/*
 * SandboxEnterPipeline prepares for a pipeline's own SQL: as its owner,
 * with the search_path recorded at registration and, when time_zone is
 * given, TimeZone set to the pipeline's zone.
 */
void
SandboxEnterPipeline(Sandbox *sandbox, Oid owner, const char *search_path,
					 const char *time_zone)
{
	SandboxEnter(sandbox, owner);
	SandboxSet("search_path", search_path);
	if (time_zone != NULL)
		SandboxSet("TimeZone", time_zone);
}

/*
 * SandboxLeave undoes every setting made since the sandbox was entered and
 * returns to the caller's identity.
 */
void
SandboxLeave(Sandbox *sandbox)
{
	AtEOXact_GUC(false, sandbox->nest_level);
	SetUserIdAndSecContext(sandbox->saved_userid, sandbox->saved_sec_context);
}

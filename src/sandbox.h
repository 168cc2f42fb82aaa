/*-------------------------------------------------------------------------
 *
 * sandbox.h
 *	  Running statements as another role, with settings the caller cannot
 *	  reach and that do not outlive the statements.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_SANDBOX_H
#define MICROBATCH_SANDBOX_H

/* what leaving a sandbox restores */
typedef struct Sandbox
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			nest_level;
} Sandbox;

extern void SandboxEnterTrusted(Sandbox *sandbox, Oid role);
extern void SandboxEnterPipeline(Sandbox *sandbox, Oid owner, const char *search_path,
								 const char *time_zone);
extern void SandboxLeave(Sandbox *sandbox);

#endif							/* MICROBATCH_SANDBOX_H */

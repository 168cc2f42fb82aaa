/*-------------------------------------------------------------------------
 *
 * citus.h
 *	  Windows that behave on a Citus cluster exactly as on one node.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_CITUS_H
#define MICROBATCH_CITUS_H

extern bool CitusActive(void);
extern void CitusEnterWindow(const char *time_zone);
extern void CitusLeaveWindow(void);
extern bool CitusWaitsForUs(int worker_pid);

#endif							/* MICROBATCH_CITUS_H */

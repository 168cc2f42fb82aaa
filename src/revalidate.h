/*-------------------------------------------------------------------------
 *
 * revalidate.h
 *	  Checking again, under the lock a window takes, what a run prepared
 *	  from the catalog.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_REVALIDATE_H
#define MICROBATCH_REVALIDATE_H

#include "pipeline.h"

/* the target as a run's statements were written for it */
typedef struct TargetShape
{
	Oid			relid;
	char	   *schema;			/* the names the statements' text uses */
	char	   *table;
	AttrNumber	event_attnum;
	Oid			event_type;		/* timestamptz, timestamp or date */
} TargetShape;

extern void TargetShapeRead(TargetShape *shape, Pipeline *pipeline);
extern void TargetShapeRecheck(const TargetShape *shape, Pipeline *pipeline);

#endif							/* MICROBATCH_REVALIDATE_H */

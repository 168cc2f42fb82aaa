/*-------------------------------------------------------------------------
 *
 * grid.h
 *	  The window grid of a pipeline: batch sizes, time zones and the
 *	  calendar arithmetic that places window boundaries.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_GRID_H
#define MICROBATCH_GRID_H

#include "datatype/timestamp.h"
#include "pgtime.h"

typedef enum GridUnit
{
	GRID_MINUTES,				/* N minutes that divide a day */
	GRID_DAY,
	GRID_WEEK,					/* ISO weeks: Monday to Monday */
	GRID_MONTH,
	GRID_QUARTER,
	GRID_YEAR
} GridUnit;

typedef struct Grid
{
	GridUnit	unit;
	int			minutes;		/* window length for GRID_MINUTES */
	pg_tz	   *tz;				/* the zone that places midnights */
	const char *batch_size;		/* canonical spelling of the size */

	/* the local day last looked at, cached for sub-day stepping */
	TimestampTz day_start;
	TimestampTz day_end;
} Grid;

extern void GridInit(Grid *grid, const char *batch_size, const char *time_zone);
extern char *GridCanonicalZone(const char *time_zone);
extern bool GridIsSubDay(const Grid *grid);
extern void GridCheckRange(TimestampTz start, TimestampTz end, const char *start_name,
						   const char *end_name);
extern double GridCountEstimate(const Grid *grid, TimestampTz from, TimestampTz to);
extern TimestampTz GridFloor(Grid *grid, TimestampTz t);
extern TimestampTz GridNext(Grid *grid, TimestampTz window_start);
extern TimestampTz GridPrev(Grid *grid, TimestampTz window_start);
extern bool GridWindowOf(Grid *grid, TimestampTz t, TimestampTz *start, TimestampTz *end);
extern void GridCheckFinite(TimestampTz t, const char *what);
extern Oid	GridCheckEventColumn(Oid relid, const char *column);

#endif							/* MICROBATCH_GRID_H */

/*-------------------------------------------------------------------------
 *
 * grid.c
 *	  The window grid: where windows start and end.
 *
 * A grid is a batch size plus a time zone.  Every boundary is computed on
 * the local calendar of that zone with PostgreSQL's own time-zone rules:
 *
 * - day, week, month, quarter and year windows start at local midnight (of
 *	 a Monday, the 1st of a month, of a quarter, of January), so across a DST
 *	 change a day window lasts 23 or 25 hours and February has 28 or 29 days;
 * - sub-day windows of N minutes are counted in elapsed time from local
 *	 midnight and cut at the next local midnight, so every one of them lasts
 *	 exactly N minutes except the last of a DST day (hour windows stay one
 *	 hour long through both DST changes).
 *
 * Converting between UTC and local time is the expensive step, so stepping
 * through sub-day windows keeps the current local day cached in the Grid and
 * only converts once per day: a million ten-minute windows cost about 7,000
 * conversions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "grid.h"

#define MINUTES_PER_DAY (24 * 60)

/* The named batch sizes and the unit each one means. */
typedef struct NamedSize
{
	const char *name;
	GridUnit	unit;
	int			minutes;
} NamedSize;

static const NamedSize named_sizes[] = {
	{"10min", GRID_MINUTES, 10},
	{"hour", GRID_MINUTES, 60},
	{"day", GRID_DAY, 0},
	{"week", GRID_WEEK, 0},
	{"month", GRID_MONTH, 0},
	{"quarter", GRID_QUARTER, 0},
	{"year", GRID_YEAR, 0},
};

static bool ParseSpelledSize(const char *text, GridUnit *unit, int *minutes);
static bool LocalToUtc(struct pg_tm *tm, pg_tz *tz, TimestampTz *result);
static bool UtcToLocal(TimestampTz t, pg_tz *tz, struct pg_tm *tm);
static bool CacheLocalDay(Grid *grid, TimestampTz t);
static void AddMonths(struct pg_tm *tm, int months);
static pg_tz *ResolveZone(const char *time_zone);

PG_FUNCTION_INFO_V1(microbatch_windows);

/*
 * GridInit parses a batch size and a time zone into a grid, or reports
 * exactly what is wrong with them.
 */
void
GridInit(Grid *grid, const char *batch_size, const char *time_zone)
{
	int			i;
	bool		found = false;

	memset(grid, 0, sizeof(Grid));
	grid->day_start = DT_NOBEGIN;
	grid->day_end = DT_NOBEGIN;

	for (i = 0; i < lengthof(named_sizes); i++)
	{
		if (pg_strcasecmp(batch_size, named_sizes[i].name) == 0)
		{
			grid->unit = named_sizes[i].unit;
			grid->minutes = named_sizes[i].minutes;
			found = true;
			break;
		}
	}
	if (!found && !ParseSpelledSize(batch_size, &grid->unit, &grid->minutes))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported batch size \"%s\"", batch_size),
				 errhint("Use '10min', 'hour', 'day', 'week', 'month', 'quarter', 'year', or a number of minutes or hours that divides one day, such as '15 minutes' or '6 hours'.")));

	if (grid->unit == GRID_MINUTES &&
		(grid->minutes <= 0 || MINUTES_PER_DAY % grid->minutes != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch size \"%s\" does not divide one day", batch_size),
				 errhint("Sub-day windows must be a whole number of minutes that divides 1440, such as '5 minutes', '15 minutes' or '6 hours'.")));

	/* the canonical spelling: the name when there is one, else N minutes */
	grid->batch_size = NULL;
	for (i = 0; i < lengthof(named_sizes); i++)
		if (named_sizes[i].unit == grid->unit && named_sizes[i].minutes == grid->minutes)
			grid->batch_size = named_sizes[i].name;
	if (grid->batch_size == NULL)
		grid->batch_size = psprintf("%d minutes", grid->minutes);

	grid->tz = ResolveZone(time_zone);
	if (grid->tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", time_zone),
				 errhint("Use a name from pg_timezone_names, such as 'UTC' or 'Europe/Berlin'.")));
}

/*
 * ParseSpelledSize reads sizes written as "<n> <unit>": minutes and hours of
 * any count, and one of the calendar units ("1 day", "3 months").
 */
static bool
ParseSpelledSize(const char *text, GridUnit *unit, int *minutes)
{
	const char *p = text;
	long		n = 0;
	char		word[16];
	int			len = 0;

	while (isspace((unsigned char) *p))
		p++;
	if (!isdigit((unsigned char) *p))
		return false;
	while (isdigit((unsigned char) *p))
	{
		n = n * 10 + (*p++ - '0');
		if (n > MINUTES_PER_DAY * 366)
			return false;
	}
	while (isspace((unsigned char) *p))
		p++;
	while (isalpha((unsigned char) *p) && len < (int) sizeof(word) - 1)
		word[len++] = tolower((unsigned char) *p++);
	word[len] = '\0';
	while (isspace((unsigned char) *p))
		p++;
	if (*p != '\0' || len == 0)
		return false;

	if (strcmp(word, "min") == 0 || strcmp(word, "mins") == 0 ||
		strcmp(word, "minute") == 0 || strcmp(word, "minutes") == 0)
	{
		*unit = GRID_MINUTES;
		*minutes = (int) n;
		return true;
	}
	if (strcmp(word, "h") == 0 || strcmp(word, "hour") == 0 || strcmp(word, "hours") == 0)
	{
		*unit = GRID_MINUTES;
		*minutes = (int) (n * 60);
		return true;
	}
	if (n == 1 && (strcmp(word, "day") == 0 || strcmp(word, "days") == 0))
		*unit = GRID_DAY;
	else if ((n == 1 && (strcmp(word, "week") == 0 || strcmp(word, "weeks") == 0)) ||
			 (n == 7 && strcmp(word, "days") == 0))
		*unit = GRID_WEEK;
	else if (n == 1 && (strcmp(word, "month") == 0 || strcmp(word, "months") == 0))
		*unit = GRID_MONTH;
	else if (n == 3 && strcmp(word, "months") == 0)
		*unit = GRID_QUARTER;
	else if (n == 1 && (strcmp(word, "year") == 0 || strcmp(word, "years") == 0))
		*unit = GRID_YEAR;
	else
		return false;
	*minutes = 0;
	return true;
}

/*
 * ResolveZone reads a stored zone name the way the TimeZone setting reads
 * it, or returns NULL.  A bare number is an offset in hours east of UTC
 * ('5' is UTC+5, as in SET TIME ZONE 5), while pg_tzset alone would read
 * it as a POSIX zone, west of UTC.  Names are stored as GridCanonicalZone
 * returns them, which checked that TimeZone reads them alike.
 */
static pg_tz *
ResolveZone(const char *time_zone)
{
	char	   *end;
	double		hours = strtod(time_zone, &end);

	if (end != time_zone && *end == '\0')
	{
		if (hours < -15 || hours > 15)
			return NULL;
		return pg_tzset_offset((long) rint(-hours * SECS_PER_HOUR));
	}
	return pg_tzset(time_zone);
}

/*
 * TimeZoneReads returns the zone the TimeZone setting makes of a value,
 * through its own checks (set in a setting nest level undone at once), or
 * NULL when it refuses the value.
 */
static pg_tz *
TimeZoneReads(const char *time_zone)
{
	int			nest_level = NewGUCNestLevel();
	pg_tz	   *tz = NULL;

	if (set_config_option("TimeZone", time_zone, PGC_USERSET, PGC_S_SESSION,
						  GUC_ACTION_SAVE, true, DEBUG1, false) > 0)
		tz = session_timezone;
	AtEOXact_GUC(false, nest_level);
	return tz;
}

/*
 * GridCanonicalZone returns the name to store for a zone a user gave: the
 * zone the TimeZone setting makes of it ('interval ''1 hour''' is UTC+1,
 * 'europe/berlin' is Europe/Berlin), under the name PostgreSQL gives that
 * zone.  Windows set TimeZone to that name and the grid reads it too
 * (ResolveZone), so a zone is refused unless both make the same zone of
 * it; and so is what TimeZone refuses.
 */
char *
GridCanonicalZone(const char *time_zone)
{
	pg_tz	   *tz = TimeZoneReads(time_zone);
	const char *name;
	long		offset;

	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", time_zone),
				 errhint("Use a name from pg_timezone_names, such as 'UTC' or 'Europe/Berlin'.")));
	/* timestamptz input reads offsets of up to 15 hours: none beyond */
	if (pg_get_timezone_offset(tz, &offset) && labs(offset) > 15 * SECS_PER_HOUR)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" is more than 15 hours away from UTC", time_zone),
				 errdetail("Times written in it could not be read back.")));
	name = pg_get_timezone_name(tz);
	if (ResolveZone(name) != tz || TimeZoneReads(name) != tz)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" cannot place windows", time_zone),
				 errdetail("The window grid and the TimeZone setting would not read its name \"%s\" alike.",
						   name),
				 errhint("Use a name from pg_timezone_names, such as 'UTC' or 'Europe/Berlin'.")));
	return pstrdup(name);
}

/* GridIsSubDay tells whether windows are shorter than a day. */
bool
GridIsSubDay(const Grid *grid)
{
	return grid->unit == GRID_MINUTES && grid->minutes < MINUTES_PER_DAY;
}

/* GridCheckFinite rejects infinite timestamps, which have no window. */
void
GridCheckFinite(TimestampTz t, const char *what)
{
	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite timestamp", what)));
}

/*
 * GridCheckRange requires a finite range whose start is not after its end
 * (an empty range is allowed: it has no windows).
 */
void
GridCheckRange(TimestampTz start, TimestampTz end, const char *start_name,
			   const char *end_name)
{
	GridCheckFinite(start, start_name);
	GridCheckFinite(end, end_name);
	if (start > end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s %s is after %s %s", start_name,
						pstrdup(timestamptz_to_str(start)), end_name,
						pstrdup(timestamptz_to_str(end))),
				 errhint("Give the earlier time first.")));
}

/*
 * GridCountEstimate tells about how many windows [from, to) holds, from
 * the nominal length of a window, without walking the grid.
 */
double
GridCountEstimate(const Grid *grid, TimestampTz from, TimestampTz to)
{
	double		days;

	switch (grid->unit)
	{
		case GRID_MINUTES:
			days = grid->minutes / (double) MINUTES_PER_DAY;
			break;
		case GRID_DAY:
			days = 1;
			break;
		case GRID_WEEK:
			days = 7;
			break;
		case GRID_MONTH:
			days = 365.2425 / 12;
			break;
		case GRID_QUARTER:
			days = 365.2425 / 4;
			break;
		default:
			days = 365.2425;
			break;
	}
	return ceil((to - from) / (days * USECS_PER_DAY));
}

/*
 * UtcToLocal breaks an instant into local calendar fields of a zone, or
 * returns false when the local date is before the first day PostgreSQL
 * can hold.
 */
static bool
UtcToLocal(TimestampTz t, pg_tz *tz, struct pg_tm *tm)
{
	int			offset;
	fsec_t		fsec;

	return timestamp2tm(t, &offset, tm, &fsec, NULL, tz) == 0;
}

/*
 * LocalToUtc turns local calendar fields into an instant, or returns false
 * when the instant is out of the range of timestamptz.  A local time that
 * does not exist or exists twice is resolved the way PostgreSQL resolves it
 * for input ('2024-03-10 02:30' in New York is 03:30 EDT).
 */
static bool
LocalToUtc(struct pg_tm *tm, pg_tz *tz, TimestampTz *result)
{
	int			offset = DetermineTimeZoneOffset(tm, tz);

	return tm2timestamp(tm, 0, &offset, result) == 0;
}

/*
 * AddMonths moves local calendar fields by whole months, day 1 kept.  Years
 * before 1 AD are zero or negative: the division rounds down, not to zero.
 */
static void
AddMonths(struct pg_tm *tm, int months)
{
	int			m = tm->tm_year * 12 + (tm->tm_mon - 1) + months;
	int			month = m % 12;

	if (month < 0)
		month += 12;
	tm->tm_year = (m - month) / 12;
	tm->tm_mon = month + 1;
}

/*
 * CacheLocalDay remembers the local day [midnight, next midnight) of t, or
 * returns false, the cache left as it was, when either midnight is out of
 * the range of timestamptz (the first and last local day of the range).
 */
static bool
CacheLocalDay(Grid *grid, TimestampTz t)
{
	struct pg_tm tm;
	int			jd;
	TimestampTz day_start;
	TimestampTz day_end;

	if (t >= grid->day_start && t < grid->day_end)
		return true;
	if (!UtcToLocal(t, grid->tz, &tm))
		return false;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	jd = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday);
	if (!LocalToUtc(&tm, grid->tz, &day_start))
		return false;

	/*
	 * Where clocks fall back across midnight, local midnight exists twice and
	 * resolves to the later instant: t then still belongs to the day before.
	 */
	if (t < day_start)
	{
		day_end = day_start;
		j2date(jd - 1, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
		if (!LocalToUtc(&tm, grid->tz, &day_start))
			return false;
	}
	else
	{
		j2date(jd + 1, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
		if (!LocalToUtc(&tm, grid->tz, &day_end))
			return false;
	}
	grid->day_start = day_start;
	grid->day_end = day_end;
	return true;
}

/*
 * WindowStart finds the start of the window that contains t, or returns
 * false when it is out of the range of timestamptz.
 */
static bool
WindowStart(Grid *grid, TimestampTz t, TimestampTz *start)
{
	struct pg_tm tm;
	int			jd;

	if (!CacheLocalDay(grid, t))
		return false;
	if (grid->unit == GRID_MINUTES)
	{
		int64		step = (int64) grid->minutes * USECS_PER_MINUTE;

		*start = grid->day_start + ((t - grid->day_start) / step) * step;
		return true;
	}

	/* calendar units start at a local midnight: floor t's local day first */
	if (!UtcToLocal(grid->day_start, grid->tz, &tm))
		return false;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	switch (grid->unit)
	{
		case GRID_DAY:
			*start = grid->day_start;
			return true;
		case GRID_WEEK:
			/* j2day: 0 = Sunday; ISO weeks start on Monday */
			jd = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday);
			jd -= (j2day(jd) + 6) % 7;
			j2date(jd, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
			break;
		case GRID_MONTH:
			tm.tm_mday = 1;
			break;
		case GRID_QUARTER:
			tm.tm_mday = 1;
			tm.tm_mon = ((tm.tm_mon - 1) / 3) * 3 + 1;
			break;
		case GRID_YEAR:
			tm.tm_mday = 1;
			tm.tm_mon = 1;
			break;
		case GRID_MINUTES:
			pg_unreachable();
	}
	return LocalToUtc(&tm, grid->tz, start);
}

/*
 * UnitEnd finds the start of the grid's next calendar unit after the local
 * date of t: the next local midnight for windows of a day or less, the
 * next Monday, or the next 1st of a month, of a quarter or of January.
 * Returns false when it is out of the range of timestamptz.
 */
static bool
UnitEnd(Grid *grid, TimestampTz t, TimestampTz *end)
{
	struct pg_tm tm;
	int			jd;

	if (!UtcToLocal(t, grid->tz, &tm))
		return false;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	jd = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday);
	switch (grid->unit)
	{
		case GRID_MINUTES:
		case GRID_DAY:
			j2date(jd + 1, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
			break;
		case GRID_WEEK:
			/* j2day: 0 = Sunday; ISO weeks start on Monday */
			j2date(jd + 7 - (j2day(jd) + 6) % 7, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
			break;
		case GRID_MONTH:
			tm.tm_mday = 1;
			AddMonths(&tm, 1);
			break;
		case GRID_QUARTER:
			tm.tm_mday = 1;
			tm.tm_mon = ((tm.tm_mon - 1) / 3) * 3 + 1;
			AddMonths(&tm, 3);
			break;
		case GRID_YEAR:
			tm.tm_mday = 1;
			tm.tm_mon = 1;
			AddMonths(&tm, 12);
			break;
	}
	return LocalToUtc(&tm, grid->tz, end);
}

/*
 * WindowEnd finds the end of the window that starts at window_start, or
 * returns false when it is out of the range of timestamptz.
 */
static bool
WindowEnd(Grid *grid, TimestampTz window_start, TimestampTz *end)
{
	if (grid->unit != GRID_MINUTES)
		return UnitEnd(grid, window_start, end);
	if (!CacheLocalDay(grid, window_start))
		return false;
	*end = Min(window_start + (int64) grid->minutes * USECS_PER_MINUTE, grid->day_end);
	return true;
}

/* OutOfRange reports a window bound that timestamptz cannot hold. */
static void
OutOfRange(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("timestamp out of range")));
}

/* GridFloor returns the start of the window that contains t. */
TimestampTz
GridFloor(Grid *grid, TimestampTz t)
{
	TimestampTz start;

	if (!WindowStart(grid, t, &start))
		OutOfRange();
	return start;
}

/* GridNext returns the end of the window that starts at window_start. */
TimestampTz
GridNext(Grid *grid, TimestampTz window_start)
{
	TimestampTz end;

	if (!WindowEnd(grid, window_start, &end))
		OutOfRange();
	return end;
}

/*
 * GridWindowOf finds the window [start, end) that contains t.  It returns
 * false when a bound of that window is out of the range of timestamptz (a
 * window of the first or last days of the range, which no run can
 * process: GridFloor and GridNext refuse it), with end set to where the
 * next window starts, or to infinity when no window follows.
 */
bool
GridWindowOf(Grid *grid, TimestampTz t, TimestampTz *start, TimestampTz *end)
{
	if (!TIMESTAMP_NOT_FINITE(t) && WindowStart(grid, t, start) && WindowEnd(grid, *start, end))
		return true;
	if (TIMESTAMP_NOT_FINITE(t) || !UnitEnd(grid, t, end) || *end <= t)
		*end = DT_NOEND;
	return false;
}

/* GridPrev returns the start of the window just before window_start. */
TimestampTz
GridPrev(Grid *grid, TimestampTz window_start)
{
	return GridFloor(grid, window_start - 1);
}

/*
 * mb_windows(batch_size, start_time, end_time, time_zone) returns every
 * whole window of the grid that overlaps [start_time, end_time).
 */
Datum
microbatch_windows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Grid		grid;
	TimestampTz start_time;
	TimestampTz end_time;
	TimestampTz w;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("batch_size, start_time, end_time and time_zone must not be null")));

	GridInit(&grid, text_to_cstring(PG_GETARG_TEXT_PP(0)),
			 GridCanonicalZone(text_to_cstring(PG_GETARG_TEXT_PP(3))));
	start_time = PG_GETARG_TIMESTAMPTZ(1);
	end_time = PG_GETARG_TIMESTAMPTZ(2);
	GridCheckRange(start_time, end_time, "start_time", "end_time");

	InitMaterializedSRF(fcinfo, 0);

	for (w = GridFloor(&grid, start_time); w < end_time;)
	{
		TimestampTz next = GridNext(&grid, w);
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = TimestampTzGetDatum(w);
		values[1] = TimestampTzGetDatum(next);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		w = next;
		CHECK_FOR_INTERRUPTS();
	}
	return (Datum) 0;
}

/*
 * GridCheckEventColumn requires a column of relid that holds event times
 * of a type the grid can place (a target's, or a tracked source's), and
 * returns that type.
 */
Oid
GridCheckEventColumn(Oid relid, const char *column)
{
	AttrNumber	attnum = get_attnum(relid, column);
	Oid			type;

	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("event-time column \"%s\" does not exist in table \"%s\"",
						column, get_rel_name(relid))));
	type = get_atttype(relid, attnum);
	if (type != TIMESTAMPTZOID && type != TIMESTAMPOID && type != DATEOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("event-time column \"%s\" of table \"%s\" has unsupported type %s",
						column, get_rel_name(relid), format_type_be(type)),
				 errhint("Use a column of type timestamptz, timestamp or date.")));
	return type;
}

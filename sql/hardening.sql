-- Hardening: the attacks of a role without privileges, and faults of input (DESIGN §4.8, §4.9)
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
CREATE ROLE mb_mallory;
CREATE ROLE mb_victim;
CREATE SCHEMA mallory AUTHORIZATION mb_mallory;
GRANT CREATE ON SCHEMA public TO mb_mallory, mb_victim;

-- the victim's pipeline, which mallory must neither see nor touch
SET ROLE mb_victim;
CREATE TABLE victim_events (at timestamptz);
INSERT INTO victim_events SELECT '2024-03-01'::timestamptz + i * interval '6 hours' FROM generate_series(0, 7) i;
CREATE TABLE victim_daily (day timestamptz, n bigint);
SELECT mb_register('victim_daily', 'victim_daily', 'day',
       $$SELECT date_trunc('day', at) AS day, count(*) AS n
         FROM victim_events WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-03-01', end_at => '2024-03-03') > 0 AS registered;
RESET ROLE;

-- 1. mallory shadows "=" for text: her function records every role it ran as
SET ROLE mb_mallory;
CREATE TABLE mallory.ran_as (who name, superuser bool);
GRANT INSERT ON mallory.ran_as TO PUBLIC;
CREATE FUNCTION mallory.trap(text, text) RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO mallory.ran_as
		SELECT current_user, r.rolsuper FROM pg_catalog.pg_roles r
		 WHERE r.rolname OPERATOR(pg_catalog.=) current_user;
	RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR mallory.= (LEFTARG = text, RIGHTARG = text, FUNCTION = mallory.trap);
CREATE TABLE mallory.events (at timestamptz);
INSERT INTO mallory.events SELECT '2024-03-01'::timestamptz + i * interval '6 hours' FROM generate_series(0, 7) i;
CREATE TABLE mallory.daily (day timestamptz, n bigint);
SET search_path = mallory, pg_catalog, public;
SELECT mb_register('mallory_daily', 'mallory.daily', 'day',
       $$SELECT date_trunc('day', at) AS day, count(*) AS n
         FROM mallory.events WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-03-01', end_at => '2024-03-03') > 0 AS registered;
SELECT * FROM mb_plan('mallory_daily');
CALL mb_backfill('mallory_daily', '2024-03-01', '2024-03-02');
SELECT * FROM mb_run_window('mallory_daily', '2024-03-02');
SELECT pipeline, failed_windows, missing_windows FROM microbatch.status;
SELECT mb_alter('mallory_daily', lookback => 0);
SELECT mb_prune('1 day', 'mallory_daily');
-- her operator never ran inside microbatch's own statements
SELECT count(*) AS trap_calls FROM mallory.ran_as;
RESET search_path;

-- 2. a query that changes the session of whoever runs it: the change is undone
CREATE TABLE mallory.sneaky (day timestamptz, n bigint);
SELECT mb_register('mallory_sneaky', 'mallory.sneaky', 'day',
       $$SELECT date_trunc('day', at) AS day, count(*) AS n
         FROM mallory.events WHERE at >= $1 AND at < $2
          AND set_config('search_path', 'mallory, pg_catalog', false) IS NOT NULL
          AND set_config('mallory.mark', 'planted', false) IS NOT NULL
          AND set_config('work_mem', '64kB', false) IS NOT NULL
         GROUP BY 1$$,
       'day', '2024-03-01', end_at => '2024-03-03') > 0 AS registered;
RESET ROLE;
SHOW search_path;
-- a superuser runs her pipeline, in this session three ways and in workers
SELECT * FROM mb_run_window('mallory_sneaky', '2024-03-01');
SHOW search_path;
SELECT current_setting('mallory.mark', true) AS mark, current_setting('work_mem') AS work_mem;
CALL mb_backfill('mallory_sneaky', '2024-03-01', '2024-03-03');
SHOW search_path;
SELECT windows, succeeded FROM mb_run('mallory_sneaky');
SELECT current_setting('mallory.mark', true) AS mark, current_setting('work_mem') AS work_mem;
SELECT day, n FROM mallory.sneaky ORDER BY day;
-- and the pipeline's own SQL runs restricted, as maintenance commands do
SET ROLE mb_mallory;
CREATE TABLE mallory.escape (day timestamptz, n bigint);
SELECT mb_register('mallory_escape', 'mallory.escape', 'day',
       $$SELECT date_trunc('day', at) AS day, count(*) AS n
         FROM mallory.events WHERE at >= $1 AND at < $2
          AND set_config('role', 'mb_victim', true) IS NOT NULL
         GROUP BY 1$$,
       'day', '2024-03-01', end_at => '2024-03-02') > 0 AS registered;
RESET ROLE;
SELECT * FROM mb_run_window('mallory_escape', '2024-03-01');

-- 3. a leaky function in mallory's WHERE clause sees only her own pipelines
SET ROLE mb_mallory;
CREATE FUNCTION mallory.leak(text) RETURNS bool LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
	PERFORM set_config('mallory.seen', current_setting('mallory.seen') || ' ' || $1, false);
	RETURN true;
END $$;
SET mallory.seen = '';
SELECT pipeline FROM microbatch.status WHERE mallory.leak(pipeline) ORDER BY 1;
SELECT string_agg(DISTINCT seen, ' ' ORDER BY seen) AS leak_saw
  FROM regexp_split_to_table(btrim(current_setting('mallory.seen')), ' ') seen;
SET mallory.seen = '';
SELECT name FROM microbatch.pipelines WHERE mallory.leak(name) ORDER BY 1;
SELECT string_agg(DISTINCT seen, ' ' ORDER BY seen) AS leak_saw
  FROM regexp_split_to_table(btrim(current_setting('mallory.seen')), ' ') seen;

-- 4. planning a range of a hundred million windows is bounded and can be cancelled
CREATE TABLE mallory.tiny (at timestamptz, n bigint);
SELECT mb_register('mallory_huge', 'mallory.tiny', 'at',
       $$SELECT at, 1::bigint AS n FROM mallory.events WHERE at >= $1 AND at < $2$$,
       '10min', '0001-01-01') > 0 AS registered;
SET statement_timeout = '60s';
SELECT count(*), min(window_start), max(reason) FROM mb_plan('mallory_huge');
SELECT pipeline, missing_windows FROM microbatch.status WHERE pipeline = 'mallory_huge';
CALL mb_backfill('mallory_huge', '0001-01-01', '2024-01-01');
SET statement_timeout = '200ms';
SELECT count(*) FROM mb_windows('10min', '0001-01-01', '2024-01-01');
RESET statement_timeout;
-- only a superuser may raise the limit; a run takes the oldest windows and the next goes on
SET microbatch.max_windows_per_run = 1000000;
RESET ROLE;
SET microbatch.max_windows_per_run = 3;
SELECT windows, succeeded FROM mb_run('mallory_huge');
SELECT window_start, reason FROM mb_plan('mallory_huge');
RESET microbatch.max_windows_per_run;
SELECT mb_drop('mallory_huge');

-- 5. a time zone written as an offset means the same to the grid and to the window
SELECT * FROM mb_windows('day', '2024-03-01 12:00', '2024-03-02 12:00', '5');
CREATE TABLE offset_daily (day timestamptz, n bigint);
SELECT mb_register('offset_daily', 'offset_daily', 'day',
       $$SELECT date_trunc('day', at) AS day, count(*) AS n
         FROM victim_events WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-03-01', end_at => '2024-03-03', time_zone => '5') > 0 AS registered;
SELECT time_zone FROM microbatch.pipelines WHERE name = 'offset_daily';
CALL mb_backfill('offset_daily', '2024-03-01', '2024-03-03');
SELECT day, n FROM offset_daily ORDER BY day;
SELECT status, count(*) FROM microbatch.windows
 WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'offset_daily') GROUP BY 1;
SELECT mb_register('bad_offset', 'offset_daily', 'day',
       $$SELECT date_trunc('day', at) AS day FROM victim_events WHERE at >= $1 AND at < $2$$,
       'day', '2024-03-01', time_zone => '16');
-- an interval zone is what SET TIME ZONE makes of it (UTC+1), to the grid and
-- to the windows alike (the grid read it as a POSIX zone, UTC-1); what TimeZone
-- refuses is refused
SELECT * FROM mb_windows('day', '2024-03-01 12:00', '2024-03-02 12:00', 'interval ''1 hour''');
CREATE TABLE interval_daily (day timestamptz, local_midnight bool);
SELECT mb_register('interval_daily', 'interval_daily', 'day',
       $$SELECT $1 AS day, date_trunc('day', $1) = $1 AS local_midnight WHERE $2 > $1$$,
       'day', '2024-03-01 00:00+01', end_at => '2024-03-03 00:00+01',
       time_zone => 'interval ''1 hour''') > 0 AS registered;
SELECT time_zone FROM microbatch.pipelines WHERE name = 'interval_daily';
CALL mb_backfill('interval_daily', '2024-03-01 00:00+01', '2024-03-03 00:00+01');
SELECT day, local_midnight FROM interval_daily ORDER BY day;
SELECT mb_drop('interval_daily');
DROP TABLE interval_daily;
SELECT * FROM mb_windows('day', '2024-03-01', '2024-03-02', 'interval ''1 day''');
SELECT * FROM mb_windows('day', '2024-03-01', '2024-03-02', 'right/UTC');

-- 8. a pipeline whose owner was dropped refuses to run and says why
CREATE ROLE mb_leaver;
CREATE TABLE leaver_daily (day timestamptz, n bigint);
GRANT SELECT ON victim_events TO mb_leaver;
GRANT INSERT, DELETE ON leaver_daily TO mb_leaver;
SET ROLE mb_leaver;
SELECT mb_register('leaver_daily', 'leaver_daily', 'day',
       $$SELECT date_trunc('day', at) AS day, count(*) AS n
         FROM victim_events WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-03-01', end_at => '2024-03-03') > 0 AS registered;
RESET ROLE;
REVOKE ALL ON victim_events, leaver_daily FROM mb_leaver;
DROP ROLE mb_leaver;
SELECT * FROM mb_run('leaver_daily');
CALL mb_backfill('leaver_daily', '2024-03-01', '2024-03-03');
SELECT count(*) AS leaver_rows FROM leaver_daily;

-- 9. a temporary target is refused; mb_run() runs every healthy pipeline past broken ones
CREATE TEMP TABLE temp_daily (day timestamptz, n bigint);
SELECT mb_register('temp_daily', 'temp_daily', 'day',
       $$SELECT date_trunc('day', at) AS day, count(*) AS n
         FROM victim_events WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-03-01');
SELECT count(*) AS temp_pipelines FROM microbatch.pipelines WHERE name = 'temp_daily';
ALTER TABLE mallory.sneaky RENAME COLUMN n TO renamed;
SELECT mb_reset('mallory_daily');
SET ROLE mb_mallory;
SELECT * FROM mb_run();
RESET ROLE;
SELECT p.name, r.status, r.succeeded, r.failed FROM microbatch.runs r
  JOIN microbatch.pipelines p ON p.id = r.pipeline_id
 WHERE p.name LIKE 'mallory%' ORDER BY r.run_id DESC LIMIT 2;

-- 7. an error a worker meets outside any window keeps its SQLSTATE
DO $$
BEGIN
	PERFORM * FROM mb_run('mallory_sneaky');
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'mb_run failed with %: %', SQLSTATE, SQLERRM;
END $$;
SELECT mb_drop('leaver_daily');

-- 10. reversed ranges and negative intervals are refused, and write nothing
SELECT count(*) AS runs_before FROM microbatch.runs \gset
CALL mb_backfill('victim_daily', '2024-03-02', '2024-03-01');
CALL mb_backfill('2024-03-02', '2024-03-01');
SELECT * FROM mb_plan('victim_daily', '2024-03-02', '2024-03-01');
SELECT * FROM mb_windows('day', '2024-03-02', '2024-03-01');
SELECT mb_prune('-100 years');
SELECT count(*) = :runs_before AS nothing_written FROM microbatch.runs;

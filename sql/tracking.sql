-- Change tracking (DESIGN §7, §4.6): writers mark exactly the processed windows they change
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
CREATE ROLE mb_tracker;
CREATE ROLE mb_writer;
GRANT CREATE ON SCHEMA public TO mb_tracker;
SET ROLE mb_tracker;
CREATE TABLE clicks (at timestamptz, n int);
GRANT INSERT, UPDATE, DELETE, SELECT, TRUNCATE ON clicks TO mb_writer;
-- one click an hour for ten days
INSERT INTO clicks SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 1 FROM generate_series(0, 239) i;
CREATE TABLE weights (w int);
CREATE TABLE clicks_daily (day timestamptz, n bigint);
-- track => true tracks what the query filters by $1/$2, and names what it reads without
SELECT mb_register('clicks_daily', 'clicks_daily', 'day',
       $$SELECT date_trunc('day', c.at) AS day, sum(c.n)::bigint AS n
         FROM clicks c LEFT JOIN weights ON false
         WHERE c.at >= $1 AND c.at < $2 GROUP BY 1$$,
       'day', '2024-01-01', lookback => 0, end_at => '2024-01-11', track => true) > 0 AS registered;
SELECT p.name, s.source, s.event_time FROM microbatch.sources s JOIN microbatch.pipelines p ON p.id = s.pipeline_id;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'clicks'::regclass ORDER BY 1;
-- inserted rows pass through a capture index that stores nothing and that no plan uses
SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'clicks'::regclass;
EXPLAIN (COSTS OFF) SELECT * FROM clicks WHERE at >= '2024-01-02' AND at < '2024-01-03';
SELECT windows, succeeded FROM mb_run('clicks_daily');
-- then nothing is left to do
SELECT * FROM mb_plan('clicks_daily');

-- late rows of any age with lookback 0: one transaction touching two distant
-- days stales exactly those two windows, not the days between
RESET ROLE;
SET ROLE mb_writer;
BEGIN;
INSERT INTO clicks VALUES ('2024-01-02 05:00', 100);
INSERT INTO clicks VALUES ('2024-01-02 06:00', 100);
INSERT INTO clicks VALUES ('2024-01-09 05:00', 100);
COMMIT;
-- the writer has no right on microbatch and cannot read the marks it wrote
SELECT count(*) AS marks_seen_by_writer FROM microbatch.stale;
RESET ROLE;
SET ROLE mb_tracker;
SELECT * FROM mb_plan('clicks_daily');
SELECT stale_windows FROM microbatch.status WHERE pipeline = 'clicks_daily';
SELECT windows, succeeded FROM mb_run('clicks_daily');
SELECT day, n FROM clicks_daily WHERE n <> 24 ORDER BY 1;
-- the run consumed the marks
SELECT count(*) AS marks FROM microbatch.stale;
SELECT * FROM mb_plan('clicks_daily');

-- a transaction that rolls back marks nothing
BEGIN;
INSERT INTO clicks VALUES ('2024-01-03 05:00', 1);
ROLLBACK;
SELECT count(*) AS marks FROM microbatch.stale;

-- an UPDATE that moves a row from one day to another stales both days
UPDATE clicks SET at = '2024-01-05 01:00' WHERE at = '2024-01-02 05:00' AND n = 100;
SELECT * FROM mb_plan('clicks_daily');
SELECT windows FROM mb_run('clicks_daily');
-- DELETE, COPY and MERGE mark their days too
DELETE FROM clicks WHERE at = '2024-01-09 05:00' AND n = 100;
COPY clicks FROM stdin;
2024-01-07 10:00:00+00	5
\.
-- (MERGE came with PostgreSQL 15: tracking_1.out is this file's output before it)
MERGE INTO clicks c USING (VALUES ('2024-01-04 03:00'::timestamptz, 7)) v(at, n) ON c.at = v.at
  WHEN MATCHED THEN UPDATE SET n = c.n + v.n;
SELECT * FROM mb_plan('clicks_daily');
SELECT windows FROM mb_run('clicks_daily');
SELECT count(*) AS wrong_days FROM clicks_daily d
  FULL JOIN (SELECT date_trunc('day', at) AS day, sum(n) AS n FROM clicks
              WHERE at < '2024-01-11' GROUP BY 1) e ON e.day = d.day
 WHERE d.n IS DISTINCT FROM e.n;

-- a window's own replacement never stales its own pipeline, even when it
-- tracks its own target
SELECT mb_track('clicks_daily', 'clicks_daily', 'day');
CALL mb_backfill('clicks_daily', '2024-01-01', '2024-01-03');
SELECT count(*) AS marks FROM microbatch.stale;
SELECT mb_untrack('clicks_daily', 'clicks_daily');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'clicks_daily'::regclass;

-- TRUNCATE stales every processed window
RESET ROLE;
SET ROLE mb_writer;
TRUNCATE clicks;
RESET ROLE;
SET ROLE mb_tracker;
SELECT count(*) AS stale_windows FROM mb_plan('clicks_daily') WHERE reason = 'stale';
SELECT windows, rows_deleted, rows_inserted FROM mb_run('clicks_daily');
SELECT count(*) AS rows_left FROM clicks_daily;

-- track => true tracks the table under a view it reads, by the column the view shows
CREATE VIEW clicks_view AS SELECT * FROM clicks;
CREATE TABLE clicks_by_view (day timestamptz, n bigint);
SELECT mb_register('clicks_by_view', 'clicks_by_view', 'day',
       $$SELECT date_trunc('day', at) AS day, sum(n)::bigint AS n FROM clicks_view
         WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-01-01', track => true) > 0 AS registered;
SELECT count(*) AS sources FROM microbatch.sources s JOIN microbatch.pipelines p ON p.id = s.pipeline_id
 WHERE p.name = 'clicks_by_view';
SELECT mb_drop('clicks_by_view');
DROP TABLE clicks_by_view;

-- new events come after the horizon (the end of the last window processed
-- in full): unlike the late rows above, they write no mark
SELECT horizon FROM microbatch.sources WHERE source = 'clicks'::regclass;
RESET ROLE;
SET ROLE mb_writer;
BEGIN;
INSERT INTO clicks VALUES ('2024-01-11 00:00', 1), ('2024-02-01', 1);
-- in the middle of a write, the condition of the triggers tells late from new
SELECT microbatch.needs_mark('clicks', '2024-01-10 23:59'::timestamptz) AS late,
       microbatch.needs_mark('clicks', '2024-01-11'::timestamptz) AS new;
COMMIT;
-- anywhere else it says yes to everything: a role that may read the source
-- (or write it, or nothing) learns neither that it is tracked nor its horizon
SELECT microbatch.needs_mark('clicks', '2024-01-11'::timestamptz) AS new_outside_a_write;
RESET ROLE;
CREATE ROLE mb_reader;
GRANT SELECT ON clicks TO mb_reader;
SET ROLE mb_reader;
SELECT microbatch.needs_mark('clicks', '2024-01-11'::timestamptz) AS new_as_seen_by_reader;
RESET ROLE;
CREATE ROLE mb_nobody;
SET ROLE mb_nobody;
SELECT microbatch.needs_mark('clicks', '2024-01-11'::timestamptz) AS new_as_seen_by_nobody;
RESET ROLE;
REVOKE SELECT ON clicks FROM mb_reader;
DROP ROLE mb_nobody, mb_reader;
SET ROLE mb_tracker;
SELECT count(*) AS marks FROM microbatch.stale;
-- while the writers' own updates and deletes still capture late rows only
RESET ROLE;
SET ROLE mb_writer;
INSERT INTO clicks VALUES ('2024-01-05 10:00', 1), ('2024-01-07 10:00', 1);
RESET ROLE;
SET ROLE mb_tracker;
SELECT windows FROM mb_run('clicks_daily');
RESET ROLE;
SET ROLE mb_writer;
UPDATE clicks SET n = 2 WHERE at IN ('2024-01-05 10:00', '2024-01-11 00:00');
DELETE FROM clicks WHERE at IN ('2024-01-07 10:00', '2024-02-01');
RESET ROLE;
SET ROLE mb_tracker;
SELECT DISTINCT window_start FROM microbatch.stale ORDER BY 1;
SELECT windows FROM mb_run('clicks_daily');
DELETE FROM clicks WHERE at >= '2024-01-11';

-- two pipelines track one source by different columns (one of type date,
-- compared in its pipeline's zone): the triggers test both
CREATE TABLE visits (at timestamptz, day date, n int);
INSERT INTO visits SELECT '2024-01-01'::timestamptz + i * interval '1 hour', '2024-01-01'::date + i / 24, 1
  FROM generate_series(0, 95) i;
CREATE TABLE visits_by_at (day timestamptz, n bigint);
CREATE TABLE visits_by_day (day date, n bigint);
SELECT mb_register('visits_by_at', 'visits_by_at', 'day',
       $$SELECT date_trunc('day', at) AS day, sum(n)::bigint AS n FROM visits
         WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-01-01', lookback => 0, end_at => '2024-01-03', track => true) > 0 AS registered;
SELECT mb_register('visits_by_day', 'visits_by_day', 'day',
       $$SELECT day, sum(n)::bigint AS n FROM visits WHERE day >= $1 AND day < $2 GROUP BY 1$$,
       'day', '2024-01-01 00:00+01', lookback => 0, end_at => '2024-01-03 00:00+01',
       time_zone => 'Europe/Paris', track => true) > 0 AS registered;
SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'visits'::regclass AND tgname = 'microbatch_track_update';
SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'visits'::regclass;
SELECT windows FROM mb_run('visits_by_at');
SELECT windows FROM mb_run('visits_by_day');
SELECT p.name, s.horizon FROM microbatch.sources s JOIN microbatch.pipelines p ON p.id = s.pipeline_id
 WHERE s.source = 'visits'::regclass ORDER BY 1;
BEGIN;
LOCK TABLE visits IN ROW EXCLUSIVE MODE;
SELECT microbatch.needs_mark('visits', '2024-01-02'::date) AS late_day,
       microbatch.needs_mark('visits', '2024-01-03'::date) AS new_day;
COMMIT;
-- mb_untrack of one leaves the other's column
SELECT mb_untrack('visits_by_day', 'visits');
SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'visits'::regclass AND tgname = 'microbatch_track_update';
SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'visits'::regclass;

-- mb_run_window past the horizon raises it under a SHARE lock on the
-- source (its writers cannot have missed the raise); under REPEATABLE READ
-- its snapshot may predate writers the lock waited for, so the window is
-- left stale as well
SELECT mb_alter('visits_by_at', end_at => '2024-01-05');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM mb_run_window('visits_by_at', '2024-01-03');
SELECT mode FROM pg_locks WHERE relation = 'visits'::regclass AND pid = pg_backend_pid() AND mode = 'ShareLock';
COMMIT;
SELECT horizon FROM microbatch.sources WHERE source = 'visits'::regclass;
SELECT * FROM mb_plan('visits_by_at');
-- a run that must move the horizon waits for the writers of the source: in
-- the transaction that wrote to it, that would be a wait for itself
BEGIN;
INSERT INTO visits VALUES ('2024-01-04 05:00', '2024-01-04', 1);
\set VERBOSITY terse
SELECT windows FROM mb_run('visits_by_at');
\set VERBOSITY default
ROLLBACK;
SELECT windows FROM mb_run('visits_by_at');
SELECT day, n FROM visits_by_at ORDER BY 1;
SELECT mb_drop('visits_by_at');
SELECT mb_drop('visits_by_day');
DROP TABLE visits, visits_by_at, visits_by_day;

-- bad input: each refused, nothing written
SELECT mb_track('no_such', 'clicks', 'at');
SELECT mb_track('clicks_daily', NULL, 'at');
SELECT mb_track('clicks_daily', 'clicks_view', 'at');
SELECT mb_track('clicks_daily', 'weights', 'at');
SELECT mb_track('clicks_daily', 'weights', 'w');
SELECT mb_track('clicks_daily', 'clicks', 'at');
-- a temporary table goes with its session: refused, and track => true passes it by
CREATE TEMP TABLE clicks_temp (at timestamptz, n int);
SELECT mb_track('clicks_daily', 'clicks_temp', 'at');
CREATE TABLE clicks_from_temp (at timestamptz, n int);
SELECT mb_register('clicks_from_temp', 'clicks_from_temp', 'at',
       $$SELECT at, n FROM clicks_temp WHERE at >= $1 AND at < $2$$,
       'day', '2024-01-01', track => true) > 0 AS registered;
SELECT count(*) AS temp_sources FROM microbatch.sources WHERE source = 'clicks_temp'::regclass;
SELECT count(*) AS temp_triggers FROM pg_trigger WHERE tgrelid = 'clicks_temp'::regclass;
SELECT mb_drop('clicks_from_temp');
DROP TABLE clicks_temp, clicks_from_temp;
-- mb_untrack of a source the pipeline does not track changes nothing and says
-- false: a table it does not track, an OID of no table, 0 (which untracked all)
SELECT mb_untrack('clicks_daily', 'weights');
SELECT mb_untrack('clicks_daily', 0) AS untracked_0, mb_untrack('clicks_daily', 4294967295) AS untracked_no_table;
SELECT s.source FROM microbatch.sources s JOIN microbatch.pipelines p ON p.id = s.pipeline_id
 WHERE p.name = 'clicks_daily';
-- the capture's own parts refuse what they cannot do, with an errcode
DO $$ BEGIN PERFORM microbatch.needs_mark('clicks', 42);
EXCEPTION WHEN OTHERS THEN RAISE NOTICE '% %', SQLSTATE, SQLERRM; END $$;
DO $$ BEGIN CREATE INDEX clicks_capture_opts ON clicks USING microbatch_capture (at) WITH (fillfactor = 50);
EXCEPTION WHEN OTHERS THEN RAISE NOTICE '% %', SQLSTATE, SQLERRM; END $$;
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'clicks'::regclass;
RESET ROLE;
CREATE TABLE not_mine (at timestamptz);
SET ROLE mb_tracker;
SELECT mb_track('clicks_daily', 'not_mine', 'at');
RESET ROLE;
SET ROLE mb_writer;
SELECT mb_track('clicks_daily', 'clicks', 'at');
SELECT mb_untrack('clicks_daily', 'clicks');
RESET ROLE;
SELECT s.source FROM microbatch.sources s ORDER BY 1;
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgname LIKE 'microbatch%' ORDER BY 1, 2;
-- with TRIGGER granted, the owner of a pipeline tracks a table it does not
-- own; its capture index belongs to the table's owner, and goes with mb_untrack
GRANT TRIGGER ON not_mine TO mb_tracker;
SET ROLE mb_tracker;
SELECT mb_track('clicks_daily', 'not_mine', 'at');
RESET ROLE;
SELECT c.relname, c.relowner = t.relowner AS owned_by_table_owner
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
 WHERE i.indrelid = 'not_mine'::regclass;
SET ROLE mb_tracker;
SELECT mb_untrack('clicks_daily', 'not_mine');
RESET ROLE;
SELECT count(*) AS indexes FROM pg_index WHERE indrelid = 'not_mine'::regclass;

-- a partitioned source gets the capture index and row triggers on every
-- partition: a write straight into a partition is seen too
SET ROLE mb_tracker;
CREATE TABLE pclicks (at timestamptz, n int) PARTITION BY RANGE (at);
CREATE TABLE pclicks_1 PARTITION OF pclicks FOR VALUES FROM ('2024-01-01') TO ('2024-01-06');
CREATE TABLE pclicks_2 PARTITION OF pclicks FOR VALUES FROM ('2024-01-06') TO ('2024-01-11');
INSERT INTO pclicks SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 1 FROM generate_series(0, 239) i;
CREATE TABLE pclicks_daily (day timestamptz, n bigint);
SELECT mb_register('pclicks_daily', 'pclicks_daily', 'day',
       $$SELECT date_trunc('day', at) AS day, sum(n)::bigint AS n FROM pclicks
         WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-01-01', lookback => 0, end_at => '2024-01-11', track => true) > 0 AS registered;
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgname LIKE 'microbatch%' AND tgrelid::regclass::text LIKE 'pclicks%' ORDER BY 1, 2;
SELECT indrelid::regclass, indexrelid::regclass FROM pg_index WHERE indrelid::regclass::text LIKE 'pclicks%' ORDER BY 1;
SELECT windows FROM mb_run('pclicks_daily');
INSERT INTO pclicks_2 VALUES ('2024-01-08 01:00', 5);
UPDATE pclicks SET n = 2 WHERE at = '2024-01-02 01:00';
-- an update straight into a partition: its lock, not the parent's, says it
-- writes, and the condition of the triggers answers
BEGIN;
UPDATE pclicks_1 SET n = 3 WHERE at = '2024-01-03 01:00';
SELECT microbatch.needs_mark('pclicks', '2024-01-10 23:59'::timestamptz) AS late,
       microbatch.needs_mark('pclicks', '2024-01-11'::timestamptz) AS new;
COMMIT;
SELECT * FROM mb_plan('pclicks_daily');
SELECT mb_drop('pclicks_daily');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgname LIKE 'microbatch%' AND tgrelid::regclass::text LIKE 'pclicks%';
SELECT count(*) AS capture_indexes FROM pg_index WHERE indrelid::regclass::text LIKE 'pclicks%';
DROP TABLE pclicks, pclicks_daily;
RESET ROLE;

-- untracking removes the trigger; dropping a source forgets it
SET ROLE mb_tracker;
SELECT mb_untrack('clicks_daily', 'clicks'), mb_untrack('clicks_daily', 'clicks');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'clicks'::regclass;
SELECT count(*) AS capture_indexes FROM pg_index WHERE indrelid = 'clicks'::regclass;
SELECT mb_track('clicks_daily', 'clicks', 'at');
DROP VIEW clicks_view;
DROP TABLE clicks;
SELECT count(*) AS sources FROM microbatch.sources;
-- mb_drop removes the triggers of its sources
CREATE TABLE clicks2 (at timestamptz, n int);
SELECT mb_track('clicks_daily', 'clicks2', 'at');
SELECT mb_drop('clicks_daily');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'clicks2'::regclass;
DROP TABLE clicks2, clicks_daily, weights;
RESET ROLE;
DROP TABLE not_mine;
REVOKE CREATE ON SCHEMA public FROM mb_tracker;
DROP ROLE mb_tracker, mb_writer;

-- the ends of the range of timestamptz: a change there marks its window
-- when a run can process it, and nothing (never an error) when no run can
CREATE TABLE ancient (at timestamptz, n int);
INSERT INTO ancient SELECT '4714-11-25 00:00:00+09 BC'::timestamptz + i * interval '1 hour', 1
  FROM generate_series(0, 8 * 24 - 1) i;
CREATE TABLE ancient_daily (day timestamptz, n bigint);
SELECT mb_register('ancient_daily', 'ancient_daily', 'day',
       $$SELECT $1 AS day, count(*) AS n FROM ancient WHERE at >= $1 AND at < $2 HAVING count(*) > 0$$,
       'day', '4714-11-25 00:00:00+09 BC', lookback => 0, end_at => '4714-12-03 00:00:00+09 BC',
       time_zone => 'Etc/GMT-9', track => true) > 0 AS registered;
CREATE TABLE ancient_monthly (month timestamptz, n bigint);
SELECT mb_register('ancient_monthly', 'ancient_monthly', 'month',
       $$SELECT $1 AS month, sum(n)::bigint AS n FROM ancient_daily WHERE day >= $1 AND day < $2 HAVING count(*) > 0$$,
       'month', '4714-12-01 00:00:00+00 BC', lookback => 0, end_at => '4713-03-01 00:00:00+00 BC',
       track => true) > 0 AS registered;
SELECT windows FROM mb_run('ancient_daily');
SELECT windows FROM mb_run('ancient_monthly');
SELECT * FROM ancient_monthly ORDER BY 1;
-- the first legal instant falls into a day (UTC+9) that starts before it: no mark
INSERT INTO ancient VALUES ('4714-11-24 00:00:00+00 BC', 100);
-- late rows mark their days; replacing the day that straddles November and
-- December marks December of the monthly pipeline, whose November starts
-- before the first legal instant
INSERT INTO ancient VALUES ('4714-11-30 16:00:00+00 BC', 1), ('4714-12-02 10:00:00+00 BC', 1);
SELECT DISTINCT p.name, s.window_start FROM microbatch.stale s JOIN microbatch.pipelines p ON p.id = s.pipeline_id ORDER BY 1, 2;
SELECT windows FROM mb_run('ancient_daily');
SELECT DISTINCT p.name, s.window_start FROM microbatch.stale s JOIN microbatch.pipelines p ON p.id = s.pipeline_id ORDER BY 1, 2;
SELECT windows FROM mb_run('ancient_monthly');
SELECT * FROM ancient_monthly ORDER BY 1;
-- the last legal instant: its day ends after the range, no mark
UPDATE ancient SET at = '294276-12-31 23:59:59.999999+00' WHERE n = 100;
DELETE FROM ancient WHERE n = 100;
SELECT count(*) AS marks FROM microbatch.stale;
-- sources tracked by pipelines that never ran (their horizon is infinity)
-- capture every change: timestamp and date columns, in several zones
CREATE TABLE extremes (local_at timestamp, day date);
CREATE TABLE extremes_local (month timestamp, n bigint);
SELECT mb_register('extremes_local', 'extremes_local', 'month',
       $$SELECT $1::timestamp AS month, count(*) AS n FROM extremes WHERE local_at >= $1 AND local_at < $2$$,
       'month', '2024-01-01 00:00-05', time_zone => 'America/New_York') > 0 AS registered;
SELECT mb_track('extremes_local', 'extremes', 'local_at');
CREATE TABLE extremes_weekly (week date, n bigint);
SELECT mb_register('extremes_weekly', 'extremes_weekly', 'week',
       $$SELECT $1::date AS week, count(*) AS n FROM extremes WHERE day >= $1 AND day < $2$$,
       'week', '2024-01-01') > 0 AS registered;
SELECT mb_track('extremes_weekly', 'extremes', 'day');
INSERT INTO extremes VALUES ('4714-11-24 00:00:00 BC', '4714-11-24 BC'),
  ('294276-12-31 23:59:59.999999', '294276-12-31'), ('294276-11-15 12:00', '5874897-12-31'),
  ('infinity', 'infinity'), ('-infinity', '-infinity');
COPY extremes FROM stdin;
4714-11-24 00:00:00 BC	4714-11-24 BC
294276-12-31 23:59:59.999999	294276-12-31
\.
UPDATE extremes SET local_at = local_at, day = day;
DELETE FROM extremes;
SELECT p.name, s.window_start FROM microbatch.stale s JOIN microbatch.pipelines p ON p.id = s.pipeline_id
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT mb_drop(name) FROM microbatch.pipelines WHERE name IN ('ancient_daily', 'ancient_monthly', 'extremes_local', 'extremes_weekly');
DROP TABLE ancient, ancient_daily, ancient_monthly, extremes, extremes_local, extremes_weekly;

-- the windows a source changed stay stale when the pipeline stops tracking
-- it (mb_untrack, or the source dropped): the late row below was lost, its
-- mark deleted with the tracking
CREATE TABLE kept_src (t timestamptz, v int);
CREATE TABLE kept_daily (t timestamptz, v bigint);
INSERT INTO kept_src SELECT g, 1 FROM generate_series('2024-01-01'::timestamptz, '2024-01-03 23:00', '1 hour') g;
SELECT mb_register('kept_daily', 'kept_daily', 't',
       $$SELECT date_trunc('day', t) AS t, sum(v) AS v FROM kept_src WHERE t >= $1 AND t < $2 GROUP BY 1$$,
       'day', '2024-01-01', end_at => '2024-01-04', lookback => 0, track => true) > 0 AS registered;
SELECT windows FROM mb_run('kept_daily');
INSERT INTO kept_src VALUES ('2024-01-02 12:00', 100);
SELECT mb_untrack('kept_daily', 'kept_src');
SELECT * FROM mb_plan('kept_daily');
SELECT windows FROM mb_run('kept_daily');
SELECT * FROM mb_plan('kept_daily');
SELECT t, v FROM kept_daily ORDER BY t;
SELECT mb_drop('kept_daily');
DROP TABLE kept_src, kept_daily;

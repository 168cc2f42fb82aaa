-- Full refresh and moving begin_at: purge gives what a fresh registration gives, begin_at
-- moves along the grid, allow_reset => false protects a pipeline (DESIGN §8)
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
CREATE TABLE rf_events (at timestamptz, client int);
INSERT INTO rf_events SELECT '2024-03-01'::timestamptz + i * interval '3 hours', i % 2
  FROM generate_series(0, 10 * 8 - 1) i;
CREATE TABLE rf_daily (day timestamptz, client int, n bigint);
\set q '$$SELECT date_trunc(''day'', at) AS day, client, count(*) AS n FROM rf_events WHERE at >= $1 AND at < $2 GROUP BY 1, 2$$'
SELECT mb_register('rf', 'rf_daily', 'day', :q, 'day', '2024-03-03', end_at => '2024-03-07') > 0 AS registered;
-- rows no window of the grid would write: before begin_at, at or after end_at, without an event time
INSERT INTO rf_daily VALUES ('2024-03-01', 0, 99), ('2024-03-02 23:59', 1, 99), ('2024-03-07', 0, 99),
  ('2030-01-01', 1, 99), (NULL, 0, 99), ('2024-03-04', 7, 99);
SELECT windows, succeeded FROM mb_run('rf');
-- a plain reset forgets the state and leaves every row; the next run replaces only the grid's windows
SELECT mb_reset('rf');
SELECT count(*) AS windows FROM microbatch.windows WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'rf');
SELECT windows, succeeded FROM mb_run('rf');
SELECT count(*) AS rows_outside FROM rf_daily WHERE NOT coalesce(day >= '2024-03-03' AND day < '2024-03-07', false);

-- purge: after the next run, exactly what a fresh registration into an empty table gives
SELECT mb_reset('rf', purge => true);
SELECT count(*) AS rows_outside FROM rf_daily WHERE NOT coalesce(day >= '2024-03-03' AND day < '2024-03-07', false);
SELECT windows, succeeded FROM mb_run('rf');
CREATE TABLE rf_fresh (LIKE rf_daily);
SELECT mb_register('rf_fresh', 'rf_fresh', 'day', :q, 'day', '2024-03-03', end_at => '2024-03-07') > 0 AS registered;
SELECT windows, succeeded FROM mb_run('rf_fresh');
\set same 'SELECT (SELECT count(*) FROM rf_daily) AS n_rows, count(*) = 0 AS same_as_fresh FROM ((TABLE rf_daily EXCEPT ALL TABLE rf_fresh) UNION ALL (TABLE rf_fresh EXCEPT ALL TABLE rf_daily)) d'
:same;
-- the state is that of a fresh registration too
SELECT w.window_start, w.window_end, w.status, w.attempts FROM microbatch.windows w
  JOIN microbatch.pipelines p ON p.id = w.pipeline_id WHERE p.name = 'rf'
EXCEPT SELECT w.window_start, w.window_end, w.status, w.attempts FROM microbatch.windows w
  JOIN microbatch.pipelines p ON p.id = w.pipeline_id WHERE p.name = 'rf_fresh';

-- without end_at, the range ends at now(): purge keeps what is between begin_at and now()
-- and deletes rows dated in the future, which no run would write
SELECT mb_alter('rf', end_at => 'infinity');
INSERT INTO rf_daily VALUES ('2024-03-02', 0, 99), ('2024-03-09', 0, 99), ('2030-01-01', 0, 99);
SELECT mb_reset('rf', true);
SELECT day, client, n FROM rf_daily WHERE day < '2024-03-03' OR day >= '2024-03-07' ORDER BY 1;
-- and so does an end_at in the future
SELECT mb_alter('rf', end_at => '2100-01-01');
INSERT INTO rf_daily VALUES ('2030-01-01', 0, 99);
SELECT mb_reset('rf', true);
SELECT count(*) AS future_rows FROM rf_daily WHERE day >= '2030-01-01';
SELECT mb_alter('rf', end_at => '2024-03-07');
DELETE FROM rf_daily WHERE day >= '2024-03-07';
SELECT windows, succeeded FROM mb_run('rf');

-- a timestamp target in another zone: purge compares local times
CREATE TABLE rf_local (day timestamp, n bigint);
SELECT mb_register('rf_local', 'rf_local', 'day',
       $$SELECT date_trunc('day', at)::timestamp AS day, count(*) AS n FROM rf_events WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-03-03 00:00+09', end_at => '2024-03-05 00:00+09', time_zone => 'Asia/Tokyo') > 0 AS registered;
INSERT INTO rf_local VALUES ('2024-03-02 23:59', 1), ('2024-03-03 00:00', 1), ('2024-03-04 23:59', 1),
  ('2024-03-05 00:00', 1);
SELECT mb_reset('rf_local', purge => true);
SELECT day, n FROM rf_local ORDER BY 1;
SELECT mb_drop('rf_local');

-- moving begin_at earlier: the new windows are missing, and the next run fills them
SELECT mb_alter('rf', begin_at => '2024-03-01 12:00');
SELECT begin_at FROM microbatch.pipelines WHERE name = 'rf';
SELECT * FROM mb_plan('rf');
SELECT pipeline, missing_windows FROM microbatch.status WHERE pipeline = 'rf';
SELECT windows, succeeded FROM mb_run('rf');
SELECT mb_alter('rf_fresh', begin_at => '2024-03-01');
SELECT windows, succeeded FROM mb_run('rf_fresh');
:same;
-- moving it later: the state before it is forgotten (its rows stay until a purge)
SELECT mb_alter('rf', begin_at => '2024-03-05');
SELECT window_start, status FROM microbatch.windows
 WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'rf') ORDER BY 1;
SELECT * FROM mb_plan('rf');
SELECT windows FROM mb_run('rf');
SELECT min(day) FROM rf_daily;
-- moving it back fills the forgotten windows again
SELECT mb_alter('rf', begin_at => '2024-03-03');
SELECT window_start, window_end, reason FROM mb_plan('rf');
-- bad begin_at: after end_at, infinite; nothing changes
SELECT mb_alter('rf', begin_at => '2024-03-07');
SELECT mb_alter('rf', begin_at => '-infinity');
SELECT begin_at FROM microbatch.pipelines WHERE name = 'rf';

-- allow_reset => false: mb_reset and mb_backfill refuse, with a hint; mb_run still runs
SELECT mb_alter('rf', allow_reset => false);
SELECT allow_reset FROM microbatch.pipelines WHERE name = 'rf';
SELECT mb_reset('rf');
SELECT mb_reset('rf', purge => true);
CALL mb_backfill('rf', '2024-03-03', '2024-03-04');
CALL mb_backfill('rf', '2024-03-03', '2024-03-04', 2);
SELECT count(*) AS windows_kept FROM microbatch.windows WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'rf');
SELECT windows, succeeded FROM mb_run('rf');
-- the backfill of every pipeline skips it with a notice
CALL mb_backfill('2024-03-03', '2024-03-04');
SELECT p.name, count(*) FROM microbatch.runs r JOIN microbatch.pipelines p ON p.id = r.pipeline_id
 WHERE r.kind = 'backfill' AND p.name LIKE 'rf%' GROUP BY 1 ORDER BY 1;
SELECT mb_alter('rf', allow_reset => true);
SELECT mb_reset('rf');
SELECT count(*) AS windows FROM microbatch.windows WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'rf');

-- only the owner may reset or alter
CREATE ROLE mb_refresher;
SET ROLE mb_refresher;
SELECT mb_reset('rf', purge => true);
SELECT mb_alter('rf', begin_at => '2024-03-01');
SELECT mb_alter('rf', allow_reset => false);
RESET ROLE;
SELECT begin_at, allow_reset FROM microbatch.pipelines WHERE name = 'rf';
DROP ROLE mb_refresher;
SELECT mb_drop('rf'), mb_drop('rf_fresh');

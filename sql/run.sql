-- Planning and running: reasons, backfill, workers, idempotence, partial windows (DESIGN §4.2–4.5)
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
TRUNCATE events;
-- one event every 7 minutes for 10 days
INSERT INTO events (created_at, client, amount)
SELECT '2024-01-01'::timestamptz + i * interval '7 minutes', i % 3, i % 100
  FROM generate_series(0, 10 * 24 * 60 / 7) i;
CREATE TABLE per_client (day timestamptz, client int, n bigint, total numeric);
SELECT mb_register('per_client', 'per_client', 'day',
       $$SELECT date_trunc('day', created_at) AS day, client, count(*) AS n, sum(amount) AS total
         FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
       'day', '2024-01-01', end_at => '2024-01-08 12:00', max_parallel => 2) IS NOT NULL AS ok;
-- what the pipeline should hold: the same rollup computed directly, up to end_at
CREATE VIEW expected_per_client AS
SELECT date_trunc('day', created_at) AS day, client, count(*) AS n, sum(amount) AS total
  FROM events WHERE created_at >= '2024-01-01' AND created_at < '2024-01-08 12:00' GROUP BY 1, 2;

-- a new pipeline plans every window as new; the last one is cut at end_at
SELECT * FROM mb_plan('per_client');

-- backfill in this session, then the plan shows the gap, the lookback and the rest
CALL mb_backfill('per_client', '2024-01-03', '2024-01-05', max_parallel => 1);
SELECT window_start, window_end, status, attempts, rows_deleted, rows_inserted FROM microbatch.windows ORDER BY 1;
SELECT * FROM mb_plan('per_client');
-- a backfill plan covers every window overlapping the range, whatever its state
SELECT * FROM mb_plan('per_client', '2024-01-02 12:00', '2024-01-04 00:00:01');

-- mb_run processes exactly what mb_plan listed, in background workers
CREATE TEMP TABLE planned AS SELECT * FROM mb_plan('per_client');
SELECT pipeline, windows, succeeded, failed, skipped, rows_deleted, rows_inserted FROM mb_run('per_client');
SELECT p.window_start, w.status, w.run_id = (SELECT max(run_id) FROM microbatch.runs) AS this_run
  FROM planned p JOIN microbatch.windows w USING (window_start) ORDER BY 1;
SELECT count(*) AS processed_by_last_run FROM microbatch.windows
 WHERE run_id = (SELECT max(run_id) FROM microbatch.runs);
SELECT kind, status, windows_total, windows_done, succeeded, failed, skipped FROM microbatch.runs ORDER BY run_id;

-- the target equals the direct computation
SELECT count(*) AS rows, (SELECT count(*) FROM (TABLE per_client EXCEPT TABLE expected_per_client) d) AS extra,
       (SELECT count(*) FROM (TABLE expected_per_client EXCEPT TABLE per_client) d) AS lacking
  FROM per_client;

-- the partial window is recorded as partial; the next plan has only the lookback
SELECT window_start, window_end, status FROM microbatch.windows WHERE status <> 'succeeded';
SELECT * FROM mb_plan('per_client');

-- moving end_at later makes the partial window processable again, with its new extent
SELECT mb_alter('per_client', end_at => '2024-01-09');
SELECT * FROM mb_plan('per_client');
SELECT windows, succeeded FROM mb_run('per_client');
SELECT window_start, window_end, status FROM microbatch.windows WHERE window_start >= '2024-01-07' ORDER BY 1;

-- every window is idempotent: a full backfill with the same source changes nothing
CREATE TEMP TABLE before_backfill AS TABLE per_client;
CALL mb_backfill('per_client', '2024-01-01', '2024-01-09');
SELECT (SELECT count(*) FROM (TABLE per_client EXCEPT ALL TABLE before_backfill) a) AS added,
       (SELECT count(*) FROM (TABLE before_backfill EXCEPT ALL TABLE per_client) r) AS removed;
SELECT windows_total, succeeded, rows_deleted = rows_inserted AS same_rows
  FROM microbatch.runs ORDER BY run_id DESC LIMIT 1;

-- late data: an event inserted into an old window is picked up by a backfill of it
INSERT INTO events (created_at, client, amount) VALUES ('2024-01-02 10:00', 7, 1000);
SELECT count(*) FROM per_client WHERE client = 7;
CALL mb_backfill('per_client', '2024-01-02', '2024-01-03', 2);
SELECT day, client, n, total FROM per_client WHERE client = 7;

-- mb_run_window works inside the caller's transaction: a rollback undoes data and state
BEGIN;
SELECT * FROM mb_run_window('per_client', '2024-01-02');
DELETE FROM events WHERE client = 7;
SELECT * FROM mb_run_window('per_client', '2024-01-02');
SELECT count(*) FROM per_client WHERE client = 7;
ROLLBACK;
SELECT count(*) FROM per_client WHERE client = 7;
SELECT mb_run_window('per_client', '2024-01-02 06:00');
SELECT mb_run_window('per_client', '2023-12-31');
SELECT mb_run_window('per_client', '2024-01-10');

-- mb_backfill commits per window, so it refuses to run inside a transaction block
BEGIN;
CALL mb_backfill('per_client', '2024-01-01', '2024-01-02', 1);
ROLLBACK;
-- with workers it may: they commit, the caller's transaction does not matter to them
BEGIN;
CALL mb_backfill('per_client', '2024-01-01', '2024-01-03', 2);
SELECT kind, windows_total, succeeded FROM microbatch.runs ORDER BY run_id DESC LIMIT 1;
ROLLBACK;
CALL mb_backfill('per_client', NULL, '2024-01-02');
CALL mb_backfill('nope', '2024-01-01', '2024-01-02');

-- gaps are filled as missing, never skipped
SELECT mb_reset('per_client');
SELECT count(*) FROM microbatch.windows;
CALL mb_backfill('per_client', '2024-01-05', '2024-01-06');
SELECT reason, count(*) FROM mb_plan('per_client') GROUP BY 1 ORDER BY 1;
SELECT high_water, missing_windows, failed_windows, running, last_run_status
  FROM microbatch.status WHERE pipeline = 'per_client';
SELECT windows, succeeded FROM mb_run('per_client', 1);
SELECT count(*) AS windows, bool_and(status = 'succeeded') AS all_ok FROM microbatch.windows;
SELECT count(*) AS extra FROM (TABLE per_client EXCEPT TABLE expected_per_client) d
 WHERE day < '2024-01-08';

-- timestamp and date event columns
TRUNCATE daily_local, daily_date;
CALL mb_backfill('local_days', '2024-01-01', '2024-01-04');
SELECT day, n FROM daily_local ORDER BY 1;
-- Berlin days run from 23:00 UTC to 23:00 UTC in winter
SELECT sum(n) = (SELECT count(*) FROM events WHERE created_at >= '2023-12-31 23:00' AND created_at < '2024-01-04 23:00')
       AS berlin_days FROM daily_local;
SELECT mb_register('date_days', 'daily_date', 'day',
       $$SELECT created_at::date AS day, count(*) AS n
         FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$,
       'week', '2024-01-01', end_at => '2024-01-10') > 0 AS registered;
SELECT windows, succeeded FROM mb_run('date_days');
SELECT windows, succeeded FROM mb_run('date_days');
SELECT day, n FROM daily_date ORDER BY 1;

-- without end_at the window containing now() is cut there, and reprocessed by every run
CREATE TABLE live (day timestamptz, client int, n bigint, total numeric);
SELECT mb_register('live', 'live', 'day',
       $$SELECT date_trunc('day', created_at) AS day, client, count(*) AS n, sum(amount) AS total
         FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
       'day', date_trunc('day', now()) - interval '2 days') > 0 AS registered;
SELECT reason, window_end = now() AS cut_at_now FROM mb_plan('live');
CALL mb_backfill('live', now() - interval '3 days', now() + interval '1 day');
SELECT status, window_end < now() AS cut_before_now FROM microbatch.windows
 WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'live') ORDER BY window_start;
SELECT reason, window_end = now() AS cut_at_now FROM mb_plan('live');
SELECT mb_drop('live');

-- run-time refusals: unknown, disabled, dropped target, NULL name for mb_retry; none writes anything
CREATE TEMP TABLE catalog_before AS
SELECT (SELECT count(*) FROM microbatch.runs) AS runs,
       (SELECT sum(attempts) FROM microbatch.windows) AS attempts;
SELECT * FROM mb_run('nope');
SELECT mb_alter('date_days', enabled => false);
SELECT * FROM mb_run('date_days');
SELECT * FROM mb_plan('date_days') LIMIT 0;
SELECT mb_alter('date_days', enabled => true);
SELECT * FROM mb_retry(NULL);
CREATE TABLE doomed (day date, n bigint);
SELECT mb_register('doomed', 'doomed', 'day',
       $$SELECT created_at::date AS day, count(*) AS n
         FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$,
       'day', '2024-01-01', end_at => '2024-01-02') > 0 AS registered;
DROP TABLE doomed;
SELECT enabled FROM microbatch.pipelines WHERE name = 'doomed';
SELECT * FROM mb_run('doomed');
CALL mb_backfill('doomed', '2024-01-01', '2024-01-02');
SELECT * FROM mb_run_window('doomed', '2024-01-01');
SELECT mb_drop('doomed');
SELECT (SELECT count(*) FROM microbatch.runs) = runs AS no_runs_written,
       (SELECT sum(attempts) FROM microbatch.windows) = attempts AS no_windows_written
  FROM catalog_before;
-- a pipeline registered in this very transaction cannot be seen by workers yet
BEGIN;
SELECT mb_register('fresh', 'daily_date', 'day',
       $$SELECT created_at::date AS day, count(*) AS n
         FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$,
       'day', '2024-02-01', end_at => '2024-02-02') > 0 AS registered;
SELECT * FROM mb_run('fresh');
ROLLBACK;

-- a partitioned target: windows are replaced across its partitions
CREATE TABLE parted (day timestamptz, client int, n bigint, total numeric) PARTITION BY RANGE (day);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM ('2024-01-01') TO ('2024-01-05');
CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM ('2024-01-05') TO ('2024-02-01');
SELECT mb_register('parted', 'parted', 'day',
       $$SELECT date_trunc('day', created_at) AS day, client, count(*) AS n, sum(amount) AS total
         FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
       'day', '2024-01-01', end_at => '2024-01-08', max_parallel => 2) > 0 AS registered;
SELECT windows, succeeded FROM mb_run('parted');
CALL mb_backfill('parted', '2024-01-03', '2024-01-07');
SELECT tableoid::regclass AS partition, count(*) FROM parted GROUP BY 1 ORDER BY 1;
SELECT count(*) AS differences FROM (
  (SELECT * FROM parted EXCEPT ALL SELECT * FROM expected_per_client WHERE day < '2024-01-08')
  UNION ALL
  (SELECT * FROM expected_per_client WHERE day < '2024-01-08' EXCEPT ALL SELECT * FROM parted)) d;
SELECT mb_drop('parted');

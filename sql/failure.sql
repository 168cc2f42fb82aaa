-- Failure: a failed window keeps its old rows, its failure is recorded, stop/continue (DESIGN §4.3–4.4)
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
CREATE TABLE readings (at timestamptz, divisor int);
INSERT INTO readings SELECT '2024-02-01'::timestamptz + i * interval '1 hour', 1
  FROM generate_series(0, 5 * 24 - 1) i;
CREATE TABLE ratios (day timestamptz, ratio bigint);
SELECT mb_register('ratios', 'ratios', 'day',
       $$SELECT date_trunc('day', at) AS day, sum(100 / divisor) AS ratio
         FROM readings WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-02-01', end_at => '2024-02-06', lookback => 0) > 0 AS registered;
SELECT windows, succeeded FROM mb_run('ratios');
SELECT * FROM ratios ORDER BY 1;

-- day 3 now divides by zero: with on_error = 'stop' the run stops there
UPDATE readings SET divisor = 2 WHERE at >= '2024-02-02';
UPDATE readings SET divisor = 0 WHERE at >= '2024-02-03' AND at < '2024-02-03 01:00';
CALL mb_backfill('ratios', '2024-02-01', '2024-02-06');
-- the window before it committed, the failed one kept its old rows, the later ones were skipped
SELECT * FROM ratios ORDER BY 1;
SELECT window_start, status, attempts, sqlstate, error FROM microbatch.windows
 WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'ratios') ORDER BY 1;
SELECT kind, status, windows_total, windows_done, succeeded, failed, skipped
  FROM microbatch.runs WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'ratios')
 ORDER BY run_id DESC LIMIT 1;

-- the next run processes the failed window again, whatever happened before
SELECT * FROM mb_plan('ratios');
SELECT pipeline, high_water, failed_windows, missing_windows, running, last_run_status
  FROM microbatch.status WHERE pipeline = 'ratios';

-- the same failure through background workers, with progress on
-- (progress lines carry timings: their shape is checked by the TAP tests)
SELECT * FROM mb_retry('ratios');
SELECT window_start, status, attempts FROM microbatch.windows
 WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'ratios') AND status = 'failed';

-- with on_error = 'continue' every other window still runs
SELECT mb_alter('ratios', on_error => 'continue');
CALL mb_backfill('ratios', '2024-02-01', '2024-02-06', 2);
SELECT * FROM ratios ORDER BY 1;
SELECT kind, status, windows_total, succeeded, failed, skipped
  FROM microbatch.runs WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'ratios')
 ORDER BY run_id DESC LIMIT 1;

-- once the data is fixed, mb_retry processes exactly the failed window
UPDATE readings SET divisor = 2 WHERE divisor = 0;
SELECT * FROM mb_plan('ratios');
SELECT windows, succeeded, failed FROM mb_retry('ratios');
SELECT * FROM ratios ORDER BY 1;
SELECT count(*) AS failed_windows FROM microbatch.windows WHERE status = 'failed';
SELECT windows FROM mb_retry('ratios');

-- a query that returns rows outside its window fails the window and writes nothing
CREATE TABLE shifted (day timestamptz, ratio bigint);
SELECT mb_register('shifted', 'shifted', 'day',
       $$SELECT date_trunc('day', at) + interval '1 day' AS day, count(*) AS ratio
         FROM readings WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-02-01', end_at => '2024-02-03') > 0 AS registered;
CALL mb_backfill('shifted', '2024-02-01', '2024-02-03');
SELECT count(*) FROM shifted;
SELECT window_start, status, sqlstate, error FROM microbatch.windows
 WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'shifted') ORDER BY 1;
-- the error's detail (which row, why) is kept with it, in the window's row above and in
-- the run's row of a pg_cron job
CALL microbatch.run_job('shifted');
SELECT kind, status, failed, error FROM microbatch.runs
 WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'shifted') ORDER BY run_id DESC LIMIT 1;
-- mb_run_window lets the error abort the caller's transaction
SELECT * FROM mb_run_window('shifted', '2024-02-01');
SELECT count(*) FROM shifted;

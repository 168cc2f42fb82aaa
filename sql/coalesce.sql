-- Coalesced windows: one statement pair per chunk, state and progress per window (DESIGN §9)
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
CREATE TABLE clicks (at timestamptz, n int);
INSERT INTO clicks SELECT '2024-03-01'::timestamptz + i * interval '7 minutes', 1 + i % 5
  FROM generate_series(0, 10 * 24 * 60 / 7 - 1) i;
CREATE TABLE hourly_a (hour timestamptz, clicks bigint);
CREATE TABLE hourly_b (hour timestamptz, clicks bigint);
SELECT mb_register('per_window', 'hourly_a', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, sum(n) AS clicks
         FROM clicks WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'hour', '2024-03-01', end_at => '2024-03-11', lookback => 0) > 0 AS registered;
SELECT mb_register('coalesced', 'hourly_b', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, sum(n) AS clicks
         FROM clicks WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'hour', '2024-03-01', end_at => '2024-03-11', lookback => 0,
       coalesce_windows => true) > 0 AS registered;
SELECT name, coalesce_windows FROM microbatch.pipelines WHERE name IN ('per_window', 'coalesced') ORDER BY name;

-- the coalesced result equals the per-window result; every window has its own state row
SET microbatch.coalesce_target = '1 day';
CALL mb_backfill('per_window', '2024-03-01', '2024-03-11');
CALL mb_backfill('coalesced', '2024-03-01', '2024-03-11');
SELECT count(*) AS rows, (SELECT count(*) FROM hourly_a) AS per_window_rows FROM hourly_b;
SELECT count(*) = 0 AS equal FROM ((TABLE hourly_a EXCEPT ALL TABLE hourly_b)
       UNION ALL (TABLE hourly_b EXCEPT ALL TABLE hourly_a)) d;
SELECT p.name, count(*) AS windows, count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       sum(rows_inserted) AS rows_inserted, min(rows_inserted), max(rows_inserted)
  FROM microbatch.windows w JOIN microbatch.pipelines p ON p.id = w.pipeline_id
 WHERE p.name IN ('per_window', 'coalesced') GROUP BY 1 ORDER BY 1;
-- exact counts per window, also for the rows deleted, the second time
CALL mb_backfill('coalesced', '2024-03-01', '2024-03-11');
SELECT count(*) FILTER (WHERE rows_deleted = 1 AND rows_inserted = 1) AS exact, count(*)
  FROM microbatch.windows w JOIN microbatch.pipelines p ON p.id = w.pipeline_id
 WHERE p.name = 'coalesced';
SELECT kind, status, windows_total, windows_done, succeeded, failed, skipped, rows_deleted, rows_inserted
  FROM microbatch.runs r JOIN microbatch.pipelines p ON p.id = r.pipeline_id
 WHERE p.name = 'coalesced' ORDER BY run_id DESC LIMIT 1;

-- a chunk of at most 3 windows: 5 windows are 2 chunks, each window its own row in the run
SET microbatch.coalesce_target = '3';
CALL mb_backfill('coalesced', '2024-03-01', '2024-03-01 05:00');
SELECT count(*) AS windows, count(DISTINCT w.xmin::text) AS transactions
  FROM microbatch.windows w JOIN microbatch.pipelines p ON p.id = w.pipeline_id
 WHERE p.name = 'coalesced' AND w.run_id = (SELECT max(run_id) FROM microbatch.runs);

-- a failing window inside a chunk is isolated: the others commit
SET microbatch.coalesce_target = '1 day';
UPDATE clicks SET n = 200 WHERE at >= '2024-03-02';
ALTER TABLE hourly_b ADD CONSTRAINT small CHECK (clicks < 1000 OR hour <> '2024-03-02 13:00');
SELECT mb_alter('coalesced', on_error => 'continue');
CALL mb_backfill('coalesced', '2024-03-02', '2024-03-03');
SELECT window_start, status, sqlstate, attempts FROM microbatch.windows w
  JOIN microbatch.pipelines p ON p.id = w.pipeline_id
 WHERE p.name = 'coalesced' AND status <> 'succeeded';
SELECT count(*) FILTER (WHERE clicks >= 1000) AS new_hours, count(*) FILTER (WHERE clicks < 1000) AS old_hours
  FROM hourly_b WHERE hour >= '2024-03-02' AND hour < '2024-03-03';
-- with on_error = 'stop' the windows after it are skipped, the ones before commit
SELECT mb_alter('coalesced', on_error => 'stop');
UPDATE clicks SET n = 300 WHERE at >= '2024-03-02';
CALL mb_backfill('coalesced', '2024-03-02', '2024-03-03');
SELECT count(*) FILTER (WHERE clicks >= 2000) AS new_hours, count(*) FILTER (WHERE clicks < 2000) AS old_hours
  FROM hourly_b WHERE hour >= '2024-03-02' AND hour < '2024-03-03';
SELECT status, windows_done, succeeded, failed, skipped
  FROM microbatch.runs r JOIN microbatch.pipelines p ON p.id = r.pipeline_id
 WHERE p.name = 'coalesced' ORDER BY run_id DESC LIMIT 1;
ALTER TABLE hourly_b DROP CONSTRAINT small;

-- a row outside the chunk fails its window, named by the guard
SELECT mb_alter('coalesced', query => $$SELECT date_trunc('hour', at) + CASE WHEN at >= '2024-03-05 10:00' AND at < '2024-03-05 11:00' THEN interval '1 day' ELSE interval '0' END AS hour,
       sum(n) AS clicks FROM clicks WHERE at >= $1 AND at < $2 GROUP BY 1$$);
CALL mb_backfill('coalesced', '2024-03-05', '2024-03-06');
SELECT window_start, status, error FROM microbatch.windows w
  JOIN microbatch.pipelines p ON p.id = w.pipeline_id
 WHERE p.name = 'coalesced' AND status = 'failed' ORDER BY 1;

-- the workers coalesce too
SELECT mb_alter('coalesced', on_error => 'continue', query => $$SELECT date_trunc('hour', at) AS hour, sum(n) AS clicks
         FROM clicks WHERE at >= $1 AND at < $2 GROUP BY 1$$);
SELECT mb_reset('coalesced');
SELECT windows, succeeded, failed, skipped, rows_inserted FROM mb_run('coalesced', 2);
SELECT count(*) = 0 AS equal FROM ((SELECT date_trunc('hour', at), sum(n) FROM clicks GROUP BY 1 EXCEPT ALL TABLE hourly_b)
       UNION ALL (TABLE hourly_b EXCEPT ALL SELECT date_trunc('hour', at), sum(n) FROM clicks GROUP BY 1)) d;

-- only queries that use $1 and $2 as conditions may coalesce
SELECT mb_register('bad', 'hourly_b', 'hour',
       $$SELECT $1 AS hour, count(*) AS clicks FROM clicks WHERE at >= $1 AND at < $2$$,
       'hour', '2024-03-01', coalesce_windows => true);
SELECT mb_register('bad', 'hourly_b', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, count(*) AS clicks FROM clicks
          WHERE at >= $1 AND at < $2 GROUP BY 1 HAVING max(at) < $2$$,
       'hour', '2024-03-01', coalesce_windows => true);
SELECT mb_register('bad', 'hourly_b', 'hour',
       $$SELECT g AS hour, 0::bigint AS clicks FROM generate_series($1, $2 - interval '1 hour', interval '1 hour') g$$,
       'hour', '2024-03-01', coalesce_windows => true);
SELECT mb_register('bad', 'hourly_b', 'hour',
       $$SELECT date_trunc('hour', at) AS hour,
                (SELECT count(*) FROM clicks c WHERE c.at >= $1 AND c.at < $2) AS clicks
           FROM clicks WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'hour', '2024-03-01', coalesce_windows => true);
-- conditions in joins and subqueries are fine
SELECT mb_register('joined', 'hourly_b', 'hour',
       $$SELECT date_trunc('hour', c.at) AS hour, count(*) AS clicks
           FROM clicks c JOIN clicks d ON d.at = c.at AND d.at >= $1
          WHERE c.at IN (SELECT at FROM clicks WHERE at < $2) GROUP BY 1$$,
       'hour', '2024-03-01', coalesce_windows => true) > 0 AS registered;
SELECT mb_register('plain', 'hourly_b', 'hour',
       $$SELECT $1 AS hour, count(*) AS clicks FROM clicks WHERE at >= $1 AND at < $2$$,
       'hour', '2024-03-01') > 0 AS registered;
SELECT mb_alter('plain', coalesce_windows => true);
SELECT coalesce_windows FROM microbatch.pipelines WHERE name = 'plain';

-- the chunk size setting
SET microbatch.coalesce_target = '0';
SET microbatch.coalesce_target = '-1 day';
SET microbatch.coalesce_target = 'soon';
SET microbatch.coalesce_target = '500';
RESET microbatch.coalesce_target;
SHOW microbatch.coalesce_target;
SELECT mb_drop(name) FROM microbatch.pipelines WHERE name IN ('per_window', 'coalesced', 'joined', 'plain') ORDER BY name;

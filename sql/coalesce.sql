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

-- a row outside the chunk fails its window, named by the guard (a 1:1 query that moves
-- the rows of one hour a day later; grouped by such a time, it could not coalesce)
SELECT mb_alter('coalesced', query => $$SELECT at + CASE WHEN at >= '2024-03-05 10:00' AND at < '2024-03-05 11:00' THEN interval '1 day' ELSE interval '0' END AS hour,
       n::bigint AS clicks FROM clicks WHERE at >= $1 AND at < $2$$);
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
CREATE TABLE hourly_c (LIKE hourly_b);
CREATE TABLE hourly_d (LIKE hourly_b);
SELECT mb_register('joined', 'hourly_c', 'hour',
       $$SELECT date_trunc('hour', c.at) AS hour, count(*) AS clicks
           FROM clicks c JOIN clicks d ON d.at = c.at AND d.at >= $1
          WHERE c.at IN (SELECT at FROM clicks WHERE at < $2) GROUP BY 1$$,
       'hour', '2024-03-01', coalesce_windows => true) > 0 AS registered;
SELECT mb_register('plain', 'hourly_d', 'hour',
       $$SELECT $1 AS hour, count(*) AS clicks FROM clicks WHERE at >= $1 AND at < $2$$,
       'hour', '2024-03-01') > 0 AS registered;
SELECT mb_alter('plain', coalesce_windows => true);
SELECT coalesce_windows FROM microbatch.pipelines WHERE name = 'plain';

-- only a query whose rows over a chunk are the rows it gives one window at a time may
-- coalesce (doc/reference.md, "Coalesced windows").  DISTINCT ON, for one: the latest
-- click of each of 16 users per day is 16 rows per window, 48 over three days ...
CREATE TABLE uclicks (at timestamptz, usr int, n int, tags int[]);
INSERT INTO uclicks SELECT '2024-03-01'::timestamptz + i * interval '15 minutes', i % 16, i, ARRAY[i, i + 1]
  FROM generate_series(0, 3 * 96 - 1) i;
CREATE TABLE latest (at timestamptz, usr int, n int);
\set latest '$$SELECT DISTINCT ON (usr) at, usr, n FROM uclicks WHERE at >= $1 AND at < $2 ORDER BY usr, at DESC$$'
SELECT mb_register('latest', 'latest', 'at', :latest, 'day', '2024-03-01', end_at => '2024-03-04',
       coalesce_windows => true);
SELECT mb_register('latest', 'latest', 'at', :latest, 'day', '2024-03-01', end_at => '2024-03-04') > 0 AS registered;
CALL mb_backfill('latest', '2024-03-01', '2024-03-04');
SELECT count(*) AS rows, count(DISTINCT date_trunc('day', at)) AS days FROM latest;
-- ... where one statement over the three days, what a chunk runs, keeps 16
PREPARE latest_over(timestamptz, timestamptz) AS
  SELECT DISTINCT ON (usr) at, usr, n FROM uclicks WHERE at >= $1 AND at < $2 ORDER BY usr, at DESC;
CREATE TEMP TABLE latest_chunk AS EXECUTE latest_over('2024-03-01', '2024-03-04');
SELECT count(*) AS rows, count(DISTINCT date_trunc('day', at)) AS days FROM latest_chunk;
SELECT mb_drop('latest');

-- every construct that reads across windows is refused, at any level of the query
-- that depends on the window, with a hint naming it
CREATE TABLE shapes (hour timestamptz, usr int, clicks bigint);
CREATE TABLE shapes_daily (day date, clicks bigint);
CREATE TABLE users (usr int, name text);
INSERT INTO users SELECT i, 'user ' || i FROM generate_series(0, 15) i;
CREATE FUNCTION try_coalesce(query text, batch_size text DEFAULT 'hour',
                             target regclass DEFAULT 'shapes', event_time text DEFAULT 'hour')
RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  hint text;
BEGIN
  PERFORM mb_register('try', target, event_time, query, batch_size, '2024-03-01',
                      coalesce_windows => true);
  PERFORM mb_drop('try');
  RETURN 'accepted';
EXCEPTION WHEN invalid_parameter_value THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RETURN replace(sqlerrm, 'query of pipeline "try" cannot coalesce windows: ', 'refused: ')
         || E'\n    ' || hint;
END
$f$;
\pset format unaligned
\pset tuples_only on
-- LIMIT, OFFSET, FETCH
SELECT try_coalesce($$SELECT at AS hour, usr, n::bigint AS clicks FROM uclicks WHERE at >= $1 AND at < $2 ORDER BY n DESC LIMIT 5$$);
SELECT try_coalesce($$SELECT at AS hour, usr FROM uclicks WHERE at >= $1 AND at < $2 ORDER BY at OFFSET 1$$);
SELECT try_coalesce($$SELECT at AS hour, usr FROM uclicks WHERE at >= $1 AND at < $2 ORDER BY at FETCH FIRST 3 ROWS ONLY$$);
-- window functions
SELECT try_coalesce($$SELECT at AS hour, usr, count(*) OVER (PARTITION BY usr) AS clicks FROM uclicks WHERE at >= $1 AND at < $2$$);
-- aggregates over the whole result, or grouped by something else than the event time
SELECT try_coalesce($$SELECT min(at) AS hour, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2$$);
SELECT try_coalesce($$SELECT min(at) AS hour, usr, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY usr$$);
SELECT try_coalesce($$SELECT date_trunc('hour', at) + interval '1 hour' AS hour, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1$$);
-- buckets larger than a window, or off its grid
SELECT try_coalesce($$SELECT date_trunc('day', at) AS hour, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1$$);
SELECT try_coalesce($$SELECT DISTINCT date_trunc('day', at) AS hour, usr FROM uclicks WHERE at >= $1 AND at < $2$$);
SELECT try_coalesce($$SELECT date_trunc('hour', at) AS hour, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1$$, '90 minutes');
SELECT try_coalesce($$SELECT date_trunc('week', at)::date AS day, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1$$, 'month', 'shapes_daily', 'day');
SELECT try_coalesce($$SELECT date_trunc('hour', at, 'Asia/Kolkata') AS hour, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1$$);
-- what could hide a group that spans windows: HAVING, a set-returning function, a filter or join above
SELECT try_coalesce($$SELECT date_trunc('hour', at) AS hour, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1 HAVING count(*) > 2$$);
SELECT try_coalesce($$SELECT date_trunc('hour', at) AS hour, generate_series(1, count(*)) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1$$);
SELECT try_coalesce($$SELECT hour, clicks FROM (SELECT date_trunc('hour', at) AS hour, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1) s WHERE clicks > 3$$);
SELECT try_coalesce($$WITH s AS (SELECT date_trunc('hour', at) AS hour, usr, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1, 2)
                      SELECT s.hour, s.usr, s.clicks FROM s JOIN users u USING (usr)$$);
-- grouping sets, set operations, recursion
SELECT try_coalesce($$SELECT date_trunc('hour', at) AS hour, usr, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY ROLLUP (1, 2)$$);
SELECT try_coalesce($$SELECT at AS hour, usr FROM uclicks WHERE at >= $1 AND at < $2 UNION SELECT at, usr FROM clicks, users WHERE at >= $1 AND at < $2$$);
SELECT try_coalesce($$SELECT at AS hour, usr FROM uclicks WHERE at >= $1 AND at < $2 EXCEPT ALL SELECT at, usr FROM clicks, users WHERE at >= $1 AND at < $2$$);
SELECT try_coalesce($$WITH RECURSIVE r AS (SELECT 1 AS i UNION ALL SELECT i + 1 FROM r WHERE i < 3)
                      SELECT at AS hour, usr FROM uclicks, r WHERE at >= $1 AND at < $2$$);
-- in subqueries that read the window: in FROM, in WITH, in expressions
SELECT try_coalesce($$SELECT hour, usr FROM (SELECT DISTINCT ON (usr) at AS hour, usr FROM uclicks WHERE at >= $1 AND at < $2 ORDER BY usr, at) s$$);
SELECT try_coalesce($$SELECT c.at AS hour, c.usr, v.clicks FROM uclicks c
                        JOIN (SELECT usr, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY usr) v USING (usr)
                      WHERE c.at >= $1 AND c.at < $2$$);
SELECT try_coalesce($$SELECT at AS hour, usr FROM uclicks WHERE at >= $1 AND at < $2
                        AND n > (SELECT avg(n) FROM uclicks WHERE at >= $1 AND at < $2)$$);
SELECT try_coalesce($$SELECT at AS hour, usr FROM uclicks WHERE at >= $1 AND at < $2
                        AND usr IN (SELECT usr FROM uclicks WHERE at >= $1 AND at < $2 ORDER BY n DESC LIMIT 3)$$);
SELECT try_coalesce($$WITH w AS (SELECT * FROM uclicks WHERE at >= $1 AND at < $2)
                      SELECT at AS hour, usr FROM w WHERE n > (SELECT avg(n) FROM w)$$);
-- accepted: rollups into buckets that fit in a window, at the top or passed through
SELECT try_coalesce($$SELECT date_trunc('hour', at) AS hour, usr, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1, 2$$);
SELECT try_coalesce($$SELECT date_trunc('minute', at) AS hour, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1$$);
SELECT try_coalesce($$SELECT date_trunc('hour', at) AS hour, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1$$, '2 hours');
SELECT try_coalesce($$SELECT date_trunc('hour', at, 'UTC')::timestamp AS hour, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY date_trunc('hour', at, 'UTC')$$);
SELECT try_coalesce($$SELECT at::date AS day, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1$$, 'month', 'shapes_daily', 'day');
SELECT try_coalesce($$SELECT date_trunc('week', at)::date AS day, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1$$, 'week', 'shapes_daily', 'day');
SELECT try_coalesce($$SELECT DISTINCT at AS hour, usr FROM uclicks WHERE at >= $1 AND at < $2$$);
SELECT try_coalesce($$SELECT hour, clicks * 2 AS clicks FROM (SELECT date_trunc('hour', at) AS hour, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1) s$$);
SELECT try_coalesce($$SELECT day::date AS day, sum(clicks) AS clicks
                        FROM (SELECT date_trunc('hour', at) AS hour, date_trunc('day', at) AS day, count(*) AS clicks
                                FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1, 2) h GROUP BY day$$, 'day', 'shapes_daily', 'day');
SELECT try_coalesce($$WITH w AS (SELECT * FROM uclicks WHERE at >= $1 AND at < $2)
                      SELECT date_trunc('hour', at) AS hour, count(*) AS clicks FROM w GROUP BY 1$$);
SELECT try_coalesce($$SELECT date_trunc('hour', e.at) AS hour, count(*) AS clicks
                        FROM (SELECT at FROM uclicks WHERE at >= $1 AND at < $2 UNION ALL SELECT at FROM clicks WHERE at >= $1 AND at < $2) e GROUP BY 1$$);
-- accepted: filters, joins and 1:1 transforms, set-returning functions row by row, and
-- anything in a part of the query that does not depend on the window
SELECT try_coalesce($$SELECT at AS hour, usr, unnest(tags)::bigint AS clicks FROM uclicks WHERE at >= $1 AND at < $2$$);
SELECT try_coalesce($$SELECT at AS hour, usr FROM uclicks WHERE at >= $1 AND at < $2 UNION ALL SELECT at, 0 FROM clicks WHERE at >= $1 AND at < $2$$);
SELECT try_coalesce($$SELECT date_trunc('hour', c.at) AS hour, count(*) AS clicks FROM uclicks c
                        JOIN (SELECT usr FROM users ORDER BY usr LIMIT 3) u USING (usr)
                       WHERE c.at >= $1 AND c.at < $2 AND c.n > (SELECT avg(n) FROM uclicks) GROUP BY 1$$);
\pset format aligned
\pset tuples_only off

-- accepted shapes give, coalesced, what they give one window at a time
CREATE TABLE shape_w (LIKE shapes);
CREATE TABLE shape_c (LIKE shapes);
\set shape_same 'SELECT (SELECT count(*) FROM shape_w) AS rows, count(*) = 0 AS same FROM ((TABLE shape_w EXCEPT ALL TABLE shape_c) UNION ALL (TABLE shape_c EXCEPT ALL TABLE shape_w)) d'
\set shape '$$SELECT hour, usr, clicks * 2 AS clicks FROM (SELECT date_trunc(''hour'', at) AS hour, usr, count(*) AS clicks FROM uclicks WHERE at >= $1 AND at < $2 GROUP BY 1, 2) s$$'
SELECT mb_register('shape_w', 'shape_w', 'hour', :shape, 'hour', '2024-03-01', end_at => '2024-03-04', lookback => 0) > 0 AS registered,
       mb_register('shape_c', 'shape_c', 'hour', :shape, 'hour', '2024-03-01', end_at => '2024-03-04', lookback => 0,
                   coalesce_windows => true) > 0 AS coalesced;
CALL mb_backfill('shape_w', '2024-03-01', '2024-03-04');
CALL mb_backfill('shape_c', '2024-03-01', '2024-03-04');
:shape_same;
\set shape '$$SELECT DISTINCT date_trunc(''minute'', at) AS hour, usr % 4 AS usr FROM uclicks WHERE at >= $1 AND at < $2$$'
SELECT mb_alter('shape_w', query => :shape), mb_alter('shape_c', query => :shape);
CALL mb_backfill('shape_w', '2024-03-01', '2024-03-04');
CALL mb_backfill('shape_c', '2024-03-01', '2024-03-04');
:shape_same;
\set shape '$$SELECT at AS hour, usr, unnest(tags)::bigint AS clicks FROM uclicks WHERE at >= $1 AND at < $2 UNION ALL SELECT at, -1, n FROM clicks WHERE at >= $1 AND at < $2$$'
SELECT mb_alter('shape_w', query => :shape), mb_alter('shape_c', query => :shape);
CALL mb_backfill('shape_w', '2024-03-01', '2024-03-04');
CALL mb_backfill('shape_c', '2024-03-01', '2024-03-04');
:shape_same;
-- a new query of a coalescing pipeline is checked too
SELECT mb_alter('shape_c', query => $$SELECT DISTINCT ON (usr) at AS hour, usr, n::bigint AS clicks FROM uclicks
                                        WHERE at >= $1 AND at < $2 ORDER BY usr, at DESC$$);
SELECT mb_drop('shape_w'), mb_drop('shape_c');

-- a pipeline that reads its own target runs its windows one at a time: it cannot coalesce
CREATE TABLE totals (day timestamptz, total bigint);
\set running '$$SELECT d.day, d.n + coalesce(p.total, 0) AS total FROM (SELECT date_trunc(''day'', at) AS day, sum(n) AS n FROM clicks WHERE at >= $1 AND at < $2 GROUP BY 1) d LEFT JOIN totals p ON p.day = d.day - interval ''1 day''$$'
SELECT mb_register('running', 'totals', 'day', :running, 'day', '2024-03-01', coalesce_windows => true);
SELECT mb_register('running', 'totals', 'day', :running, 'day', '2024-03-01') > 0 AS registered;
SELECT mb_alter('running', coalesce_windows => true);
SELECT coalesce_windows FROM microbatch.pipelines WHERE name = 'running';
SELECT mb_drop('running');

-- the chunk size setting
SET microbatch.coalesce_target = '0';
SET microbatch.coalesce_target = '-1 day';
SET microbatch.coalesce_target = 'soon';
SET microbatch.coalesce_target = '500';
RESET microbatch.coalesce_target;
SHOW microbatch.coalesce_target;
SELECT mb_drop(name) FROM microbatch.pipelines WHERE name IN ('per_window', 'coalesced', 'joined', 'plain') ORDER BY name;


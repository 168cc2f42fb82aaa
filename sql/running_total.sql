-- A running total (a pipeline that reads its own target, DESIGN §7) stays
-- exact after late data: a stale window stales every later processed window
-- of the same pipeline, which read it, and one run brings every total up to
-- date (issue 18, item 7).
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
CREATE TABLE rt_events (at timestamptz, v int);
INSERT INTO rt_events SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 1 FROM generate_series(0, 24 * 7 - 1) i;
CREATE TABLE rt_totals (day timestamptz, total bigint);
SELECT mb_register('rt_running', 'rt_totals', 'day',
       $$SELECT $1 AS day,
                coalesce((SELECT t.total FROM rt_totals t WHERE t.day = $1 - interval '1 day'), 0)
                + (SELECT coalesce(sum(v), 0) FROM rt_events e WHERE e.at >= $1 AND e.at < $2) AS total$$,
       'day', '2024-01-01', lookback => 0, end_at => '2024-01-08', track => true) > 0 AS registered;
SELECT windows FROM mb_run('rt_running');
CREATE VIEW rt_check AS
SELECT t.day, t.total, e.total AS recomputed
  FROM rt_totals t
  FULL JOIN (SELECT day, sum(n) OVER (ORDER BY day) AS total
               FROM (SELECT date_trunc('day', at) AS day, sum(v) AS n FROM rt_events GROUP BY 1) d) e
    ON e.day = t.day
 ORDER BY 1;

-- a late row on the second day: that day is stale, and so is every day
-- after it, whose total includes it
INSERT INTO rt_events VALUES ('2024-01-02 05:00', 100);
SELECT * FROM mb_plan('rt_running');
SELECT windows, succeeded FROM mb_run('rt_running');
SELECT * FROM rt_check;

-- a late delete in the sixth day touches only the last two
DELETE FROM rt_events WHERE at = '2024-01-06 03:00';
SELECT * FROM mb_plan('rt_running');
SELECT windows FROM mb_run('rt_running');
SELECT count(*) AS wrong FROM rt_check WHERE total IS DISTINCT FROM recomputed;

-- a pipeline that does not read its own target reprocesses the stale day only
CREATE TABLE rt_daily (day timestamptz, n bigint);
SELECT mb_register('rt_daily', 'rt_daily', 'day',
       $$SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n FROM rt_events
         WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-01-01', lookback => 0, end_at => '2024-01-08', track => true) > 0 AS registered;
SELECT windows FROM mb_run('rt_daily');
INSERT INTO rt_events VALUES ('2024-01-03 05:00', 1);
SELECT pipeline, count(*) AS planned FROM
  (SELECT 'rt_daily' AS pipeline, * FROM mb_plan('rt_daily')
   UNION ALL SELECT 'rt_running', * FROM mb_plan('rt_running')) p
 GROUP BY 1 ORDER BY 1;

SELECT mb_drop('rt_running'), mb_drop('rt_daily');
DROP VIEW rt_check;
DROP TABLE rt_events, rt_totals, rt_daily;

-- The pipeline graph, exactly (issue 18): dependencies and self-reference
-- through views and partitions, whose pipelines are upstreams, backfills
-- upstream first and cascading, waiting reported, lag counting gaps
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
CREATE ROLE mb_graph;
CREATE ROLE mb_graph_other;
GRANT CREATE ON SCHEMA public TO mb_graph, mb_graph_other;
SET ROLE mb_graph;
CREATE TABLE g_events (at timestamptz, v int);
INSERT INTO g_events SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 1 FROM generate_series(0, 71) i;
-- the days a recomputation from scratch gives, to compare with
CREATE VIEW g_truth AS SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n FROM g_events GROUP BY 1;

-- 1. A downstream that reads its upstream's target through a view (of a
-- view) depends on it: it waits, and mb_run() runs the upstream first
-- although the downstream's name comes first.
CREATE TABLE g_hourly_t (hour timestamptz, n bigint);
CREATE TABLE g_daily_t (day timestamptz, n bigint);
CREATE VIEW g_hours AS SELECT hour, n FROM g_hourly_t;
CREATE VIEW g_hours_v AS SELECT * FROM g_hours WHERE n IS NOT NULL;
SELECT mb_register('g_a_daily', 'g_daily_t', 'day',
       $$SELECT date_trunc('day', hour) AS day, sum(n)::bigint AS n FROM g_hours_v
         WHERE hour >= $1 AND hour < $2 GROUP BY 1$$,
       'day', '2024-01-01', lookback => 0, end_at => '2024-01-04') > 0 AS registered;
SELECT mb_register('g_hourly', 'g_hourly_t', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, sum(v)::bigint AS n FROM g_events
         WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'hour', '2024-01-01', lookback => 0, end_at => '2024-01-04') > 0 AS registered;
-- reads keeps what the query names; the view is looked through at every run
SELECT name, reads FROM microbatch.pipelines WHERE name LIKE 'g\_%' ORDER BY 1;
SELECT reason, count(*) FROM mb_plan('g_a_daily') GROUP BY 1;
SELECT pipeline, waiting_on FROM microbatch.status WHERE pipeline LIKE 'g\_%' ORDER BY 1;
SELECT pipeline, windows, succeeded FROM mb_run();
SELECT count(*) AS wrong_days FROM g_daily_t d FULL JOIN g_truth t ON t.day = d.day
 WHERE d.n IS DISTINCT FROM t.n;

-- Replacing the view to read another pipeline's target moves the edge at
-- once: the downstream now waits for that one and runs after it.
CREATE TABLE g_tenfold_t (hour timestamptz, n bigint);
SELECT mb_register('g_hourly_tenfold', 'g_tenfold_t', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, 10 * sum(v)::bigint AS n FROM g_events
         WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'hour', '2024-01-01', lookback => 0, end_at => '2024-01-04') > 0 AS registered;
CREATE OR REPLACE VIEW g_hours AS SELECT hour, n FROM g_tenfold_t;
SELECT mb_reset('g_a_daily');
SELECT reason, count(*) FROM mb_plan('g_a_daily') GROUP BY 1;
SELECT pipeline, waiting_on FROM microbatch.status WHERE pipeline = 'g_a_daily';
SELECT pipeline, windows FROM mb_run();
SELECT count(*) AS wrong_days FROM g_daily_t d FULL JOIN g_truth t ON t.day = d.day
 WHERE d.n IS DISTINCT FROM 10 * t.n;

-- A cycle through a view is refused, naming it.
SELECT mb_alter('g_hourly_tenfold', query => $$SELECT day AS hour, n FROM g_daily_t
         WHERE day >= $1 AND day < $2$$);

-- A running total that reads its own target through a view is told at
-- registration, and its windows run one at a time, oldest first.
CREATE TABLE g_totals (day timestamptz, total bigint);
CREATE VIEW g_totals_v AS SELECT day, total FROM g_totals;
SELECT mb_register('g_running', 'g_totals', 'day',
       $$SELECT $1 AS day,
                coalesce((SELECT t.total FROM g_totals_v t WHERE t.day = $1 - interval '1 day'), 0)
                + (SELECT count(*) FROM g_events e WHERE e.at >= $1 AND e.at < $2) AS total$$,
       'day', '2024-01-01', end_at => '2024-01-04', max_parallel => 4) > 0 AS registered;
SELECT windows, succeeded FROM mb_run('g_running', max_parallel => 4);
SELECT day, total FROM g_totals ORDER BY 1;

-- A downstream that reads a partition of its upstream's target depends on
-- it: the upstream's rows are routed there.
CREATE TABLE g_parted_t (hour timestamptz, n bigint) PARTITION BY RANGE (hour);
CREATE TABLE g_parted_jan1 PARTITION OF g_parted_t FOR VALUES FROM ('2024-01-01') TO ('2024-01-02');
CREATE TABLE g_parted_rest PARTITION OF g_parted_t FOR VALUES FROM ('2024-01-02') TO (MAXVALUE);
CREATE TABLE g_first_day_t (day timestamptz, n bigint);
SELECT mb_register('g_first_day', 'g_first_day_t', 'day',
       $$SELECT date_trunc('day', hour) AS day, sum(n)::bigint AS n FROM g_parted_jan1
         WHERE hour >= $1 AND hour < $2 GROUP BY 1$$,
       'day', '2024-01-01', lookback => 0, end_at => '2024-01-02') > 0 AS registered;
SELECT mb_register('g_parted', 'g_parted_t', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, sum(v)::bigint AS n FROM g_events
         WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'hour', '2024-01-01', lookback => 0, end_at => '2024-01-04') > 0 AS registered;
SELECT * FROM mb_plan('g_first_day');
SELECT pipeline, windows FROM mb_run() WHERE pipeline IN ('g_parted', 'g_first_day');
SELECT * FROM g_first_day_t;
SELECT count(*) AS dropped FROM (SELECT mb_drop(name) FROM microbatch.pipelines WHERE name LIKE 'g\_%') d;

-- 2. Whose pipelines are upstreams. Another role that may write a table
-- mb_graph's pipeline reads registers a pipeline into it and never runs
-- it: that pipeline is no upstream, and holds nothing back.
CREATE TABLE g_shared (at timestamptz, v int);
GRANT SELECT, INSERT, DELETE ON g_shared TO mb_graph_other;
CREATE TABLE g_shared_daily_t (day timestamptz, n bigint);
SELECT mb_register('g_shared_daily', 'g_shared_daily_t', 'day',
       $$SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n FROM g_shared
         WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-01-01', lookback => 0, end_at => '2024-01-04') > 0 AS registered;
SET ROLE mb_graph_other;
SELECT mb_register('g_squatter', 'g_shared', 'at',
       $$SELECT at, 1 AS v FROM generate_series($1, $2 - interval '1 hour', interval '1 hour') at$$,
       'day', '2024-01-01', end_at => '2024-01-04') > 0 AS registered;
SET ROLE mb_graph;
SELECT reason, count(*) FROM mb_plan('g_shared_daily') GROUP BY 1;
SELECT pipeline, waiting_on FROM microbatch.status WHERE pipeline = 'g_shared_daily';
-- once mb_graph is a member of its owner role, it is an upstream
RESET ROLE;
GRANT mb_graph_other TO mb_graph;
SET ROLE mb_graph;
SELECT reason, count(*) FROM mb_plan('g_shared_daily') GROUP BY 1;
SELECT pipeline, waiting_on FROM microbatch.status WHERE pipeline = 'g_shared_daily';
-- a disabled upstream is none either: mb_run() does not run it
SELECT mb_alter('g_squatter', enabled => false);
SELECT reason, count(*) FROM mb_plan('g_shared_daily') GROUP BY 1;
SELECT pipeline, windows FROM mb_run('g_shared_daily');
RESET ROLE;
REVOKE mb_graph_other FROM mb_graph;
SELECT mb_drop('g_squatter');
SET ROLE mb_graph;
SELECT mb_drop('g_shared_daily');

-- 3. Backfills. CALL mb_backfill(start, end) runs upstream first: the
-- downstream (named first) sees its upstream's new windows.
CREATE TABLE g_weekly_t (week timestamptz, n bigint);
SELECT mb_register('g_a_daily', 'g_daily_t', 'day',
       $$SELECT date_trunc('day', hour) AS day, sum(n)::bigint AS n FROM g_hourly_t
         WHERE hour >= $1 AND hour < $2 GROUP BY 1$$,
       'day', '2024-01-01', lookback => 0, end_at => '2024-01-04') > 0 AS registered;
SELECT mb_register('g_hourly', 'g_hourly_t', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, sum(v)::bigint AS n FROM g_events
         WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'hour', '2024-01-01', lookback => 0, end_at => '2024-01-04') > 0 AS registered;
SELECT mb_register('g_a_weekly', 'g_weekly_t', 'week',
       $$SELECT date_trunc('week', day) AS week, sum(n)::bigint AS n FROM g_daily_t
         WHERE day >= $1 AND day < $2 GROUP BY 1$$,
       'week', '2024-01-01', lookback => 0, end_at => '2024-01-08') > 0 AS registered;
TRUNCATE g_hourly_t, g_daily_t;
-- a downstream backfill processes only the windows whose upstream windows
-- succeeded; the others wait, are reported, and get no state row
CALL mb_backfill('g_hourly', '2024-01-01', '2024-01-02');
SELECT * FROM mb_plan('g_a_daily', '2024-01-01', '2024-01-04');
CALL mb_backfill('g_a_daily', '2024-01-01', '2024-01-04');
SELECT window_start, status FROM microbatch.windows w JOIN microbatch.pipelines p ON p.id = w.pipeline_id
 WHERE p.name = 'g_a_daily' ORDER BY 1;
SELECT kind, windows_total, succeeded FROM microbatch.runs r JOIN microbatch.pipelines p ON p.id = r.pipeline_id
 WHERE p.name = 'g_a_daily' ORDER BY run_id;
-- a failed upstream window holds back the downstream window over it
SELECT mb_alter('g_hourly', query => $$SELECT date_trunc('hour', at) AS hour,
         (sum(v) / (extract(hour FROM $1)::int - 5))::bigint AS n
         FROM g_events WHERE at >= $1 AND at < $2 GROUP BY 1$$, on_error => 'continue');
CALL mb_backfill('g_hourly', '2024-01-02', '2024-01-03');
SELECT * FROM mb_plan('g_a_daily', '2024-01-02', '2024-01-03');
-- and the failed window is where the upstream's lag runs from
SELECT high_water, processed_through FROM microbatch.status WHERE pipeline = 'g_hourly';
SELECT mb_alter('g_hourly', query => $$SELECT date_trunc('hour', at) AS hour, sum(v)::bigint AS n
         FROM g_events WHERE at >= $1 AND at < $2 GROUP BY 1$$);
-- every pipeline, upstream first: all three levels equal a recomputation
CALL mb_backfill('2024-01-01', '2024-01-08');
SELECT count(*) AS wrong_days FROM g_daily_t d FULL JOIN g_truth t ON t.day = d.day
 WHERE d.n IS DISTINCT FROM t.n;
SELECT * FROM g_weekly_t;

-- cascade: changed source rows of two hours (not tracked) reach the day
-- and the week through one call, and nothing else is replaced
UPDATE g_events SET v = 5 WHERE at >= '2024-01-02 05:00' AND at < '2024-01-02 07:00';
CALL mb_backfill('g_hourly', '2024-01-02 05:00', '2024-01-02 07:00', cascade => true);
SELECT p.name, count(*) AS runs, sum(r.windows_total) AS windows
  FROM microbatch.runs r JOIN microbatch.pipelines p ON p.id = r.pipeline_id
 WHERE r.run_id > (SELECT max(run_id) - 3 FROM microbatch.runs) GROUP BY 1 ORDER BY 1;
SELECT count(*) AS wrong_days FROM g_daily_t d FULL JOIN g_truth t ON t.day = d.day
 WHERE d.n IS DISTINCT FROM t.n;
SELECT * FROM g_weekly_t;
-- without cascade only the named pipeline is backfilled, as before
UPDATE g_events SET v = 1;
CALL mb_backfill('g_hourly', '2024-01-02', '2024-01-03', 2);
SELECT (SELECT n FROM g_daily_t WHERE day = '2024-01-02') AS daily_unchanged;
-- a downstream that does not allow backfills stops the cascade, with a notice
SELECT mb_alter('g_a_daily', allow_reset => false);
CALL mb_backfill('g_hourly', '2024-01-02', '2024-01-03', cascade => true);
SELECT mb_alter('g_a_daily', allow_reset => true);
CALL mb_backfill('g_hourly', '2024-01-02', '2024-01-03', cascade => true);
SELECT count(*) AS wrong_days FROM g_daily_t d FULL JOIN g_truth t ON t.day = d.day
 WHERE d.n IS DISTINCT FROM t.n;
SELECT * FROM g_weekly_t;

-- 4. Lag counts missing and failed windows: a pipeline whose last window
-- is done but whose earlier ones are missing is not caught up.
CREATE TABLE g_lagging_t (day timestamptz, n bigint);
SELECT mb_register('g_lagging', 'g_lagging_t', 'day',
       $$SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n FROM g_events
         WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-01-01', lookback => 0, end_at => '2024-01-04') > 0 AS registered;
SELECT lag IS NULL AS no_lag_yet FROM microbatch.status WHERE pipeline = 'g_lagging';
CALL mb_backfill('g_lagging', '2024-01-03', '2024-01-04');
SELECT high_water, missing_windows, lag > interval '1 day' AS behind
  FROM microbatch.status WHERE pipeline = 'g_lagging';
CALL mb_backfill('g_lagging', '2024-01-01', '2024-01-02');
SELECT lag > interval '1 day' AS behind FROM microbatch.status WHERE pipeline = 'g_lagging';
-- lag runs from processed_through, the end of the contiguous processed prefix
SELECT processed_through, now() - processed_through = lag AS lag_from_it
  FROM microbatch.status WHERE pipeline = 'g_lagging';
SELECT windows FROM mb_run('g_lagging');
SELECT processed_through, lag = interval '0' AS caught_up FROM microbatch.status WHERE pipeline = 'g_lagging';

SELECT count(*) AS dropped FROM (SELECT mb_drop(name) FROM microbatch.pipelines WHERE name LIKE 'g\_%') d;
RESET ROLE;
DROP TABLE g_events, g_hourly_t, g_daily_t, g_tenfold_t, g_totals, g_parted_t, g_first_day_t,
  g_weekly_t, g_shared, g_shared_daily_t, g_lagging_t CASCADE;
REVOKE CREATE ON SCHEMA public FROM mb_graph, mb_graph_other;
DROP ROLE mb_graph, mb_graph_other;

-- Pipelines that feed pipelines (DESIGN §7): upstream first, waiting, skipping, cycles, running totals
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
-- mb_run() runs the caller's own pipelines: a role of its own keeps earlier tests' out
CREATE ROLE mb_chain;
GRANT CREATE ON SCHEMA public TO mb_chain;
SET ROLE mb_chain;
CREATE TABLE dep_events (at timestamptz, v int);
INSERT INTO dep_events SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 1 FROM generate_series(0, 143) i;
CREATE TABLE dep_hourly_t (hour timestamptz, n bigint);
CREATE TABLE dep_daily_t (day timestamptz, n bigint);
-- registered downstream first: the graph does not care
SELECT mb_register('dep_daily', 'dep_daily_t', 'day',
       $$SELECT date_trunc('day', hour) AS day, sum(n)::bigint AS n FROM dep_hourly_t
         WHERE hour >= $1 AND hour < $2 GROUP BY 1$$,
       'day', '2024-01-01', lookback => 0, end_at => '2024-01-07', track => true) > 0 AS registered;
SELECT mb_register('dep_hourly', 'dep_hourly_t', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, sum(v)::bigint AS n FROM dep_events
         WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'hour', '2024-01-01', lookback => 0, end_at => '2024-01-07', track => true) > 0 AS registered;
SELECT name, reads FROM microbatch.pipelines WHERE name LIKE 'dep%' ORDER BY 1;

-- until its upstream has run, every downstream window waits; nothing fails
SELECT reason, count(*) FROM mb_plan('dep_daily') GROUP BY 1;
SELECT pipeline, waiting_on FROM microbatch.status WHERE pipeline LIKE 'dep%' ORDER BY 1;
SELECT windows FROM mb_run('dep_daily');
-- mb_run() runs the upstream first, then the downstream, in one call
SELECT pipeline, windows, succeeded, failed FROM mb_run();
SELECT count(*) AS wrong_days FROM dep_daily_t d
  FULL JOIN (SELECT date_trunc('day', at) AS day, sum(v) AS n FROM dep_events GROUP BY 1) e
    ON e.day = d.day WHERE d.n IS DISTINCT FROM e.n;
SELECT pipeline, waiting_on FROM microbatch.status WHERE pipeline LIKE 'dep%' ORDER BY 1;

-- a late event: its hour is stale, and replacing that hour stales its day
INSERT INTO dep_events VALUES ('2024-01-02 07:30', 1000);
SELECT * FROM mb_plan('dep_hourly');
SELECT * FROM mb_plan('dep_daily');
SELECT pipeline, windows, succeeded FROM mb_run();
-- the chain gives what a recomputation from scratch gives
SELECT count(*) AS wrong_days FROM dep_daily_t d
  FULL JOIN (SELECT date_trunc('day', at) AS day, sum(v) AS n FROM dep_events GROUP BY 1) e
    ON e.day = d.day WHERE d.n IS DISTINCT FROM e.n;

-- a changed day stales the 24 hours it feeds
CREATE TABLE dep_share_t (hour timestamptz, share numeric);
SELECT mb_register('dep_share', 'dep_share_t', 'hour',
       $$SELECT h.hour, round(h.n::numeric / d.n, 4) AS share FROM dep_hourly_t h
         JOIN dep_daily_t d ON d.day = date_trunc('day', h.hour)
         WHERE h.hour >= $1 AND h.hour < $2$$,
       'hour', '2024-01-01', lookback => 0, end_at => '2024-01-07', track => true) > 0 AS registered;
SELECT mb_track('dep_share', 'dep_daily_t', 'day');
SELECT pipeline, windows, succeeded FROM mb_run();
CALL mb_backfill('dep_daily', '2024-01-03', '2024-01-04');
SELECT reason, min(window_start), max(window_start), count(*) FROM mb_plan('dep_share') GROUP BY 1;
SELECT pipeline, windows FROM mb_run();

-- when an upstream fails, its downstreams are skipped in that run
SELECT mb_alter('dep_hourly', query => $$SELECT date_trunc('hour', at) AS hour, (sum(v) / 0)::bigint AS n
         FROM dep_events WHERE at >= $1 AND at < $2 GROUP BY 1$$);
INSERT INTO dep_events VALUES ('2024-01-05 07:30', 1);
SELECT pipeline, windows, failed FROM mb_run();
SELECT * FROM mb_plan('dep_daily');
SELECT pipeline, waiting_on FROM microbatch.status WHERE pipeline LIKE 'dep%' ORDER BY 1;
SELECT mb_alter('dep_hourly', query => $$SELECT date_trunc('hour', at) AS hour, sum(v)::bigint AS n
         FROM dep_events WHERE at >= $1 AND at < $2 GROUP BY 1$$);
SELECT pipeline, windows, failed FROM mb_run();
SELECT count(*) AS wrong_days FROM dep_daily_t d
  FULL JOIN (SELECT date_trunc('day', at) AS day, sum(v) AS n FROM dep_events GROUP BY 1) e
    ON e.day = d.day WHERE d.n IS DISTINCT FROM e.n;

-- a cycle is refused, naming it, and nothing changes
SELECT mb_alter('dep_hourly', query => $$SELECT day AS hour, n FROM dep_daily_t
         WHERE day >= $1 AND day < $2$$);
SELECT query LIKE '%dep_events%' AS query_unchanged FROM microbatch.pipelines WHERE name = 'dep_hourly';
SELECT mb_register('dep_loop', 'dep_events', 'at',
       $$SELECT day AS at, n::int AS v FROM dep_daily_t WHERE day >= $1 AND day < $2$$,
       'day', '2024-01-01');
SELECT count(*) AS loops FROM microbatch.pipelines WHERE name = 'dep_loop';

-- a running total reads its own target: its windows run one at a time,
-- oldest first, whatever max_parallel says
CREATE TABLE dep_totals (day timestamptz, total bigint);
SELECT mb_register('dep_running', 'dep_totals', 'day',
       $$SELECT $1 AS day,
                coalesce((SELECT t.total FROM dep_totals t WHERE t.day = $1 - interval '1 day'), 0)
                + (SELECT count(*) FROM dep_events e WHERE e.at >= $1 AND e.at < $2) AS total$$,
       'day', '2024-01-01', end_at => '2024-01-07', max_parallel => 4) > 0 AS registered;
SELECT windows, succeeded FROM mb_run('dep_running', max_parallel => 4);
SELECT day, total FROM dep_totals ORDER BY 1;

-- the cycle check visits each pipeline once: 60 pipelines, each reading the
-- targets of the two before it (a graph with more paths than can be walked),
-- register at once; a timeout far beyond what that takes turns a hang into a
-- failure
CREATE TABLE dep_chain_0 (at timestamptz, v int);
SET statement_timeout = '1min';
DO $do$
BEGIN
  FOR i IN 1..60 LOOP
    EXECUTE format('CREATE TABLE dep_chain_%s (at timestamptz, v int)', i);
    PERFORM mb_register(format('dep_chain_%s', i), format('dep_chain_%s', i), 'at',
       format($q$SELECT at, v FROM dep_chain_%s WHERE at >= $1 AND at < $2
                 UNION ALL SELECT at, v FROM dep_chain_%s WHERE at >= $1 AND at < $2$q$,
              i - 1, greatest(i - 2, 0)),
       'day', '2024-01-01');
  END LOOP;
END
$do$;
RESET statement_timeout;
SELECT count(*) AS chained FROM microbatch.pipelines WHERE name LIKE 'dep_chain%';
-- closing a cycle in it is still refused, naming the cycle
SELECT mb_alter('dep_chain_1', query => $$SELECT at, v FROM dep_chain_3 WHERE at >= $1 AND at < $2$$);
SELECT query LIKE '%dep_chain_0 %' AS query_unchanged FROM microbatch.pipelines WHERE name = 'dep_chain_1';
SELECT count(*) AS dropped FROM (SELECT mb_drop(name) FROM microbatch.pipelines WHERE name LIKE 'dep_chain%') d;
DO $do$ BEGIN FOR i IN 0..60 LOOP EXECUTE format('DROP TABLE dep_chain_%s', i); END LOOP; END $do$;

SELECT mb_drop(name) FROM microbatch.pipelines WHERE name LIKE 'dep%' ORDER BY name;
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname LIKE 'microbatch%';
DROP TABLE dep_events, dep_hourly_t, dep_daily_t, dep_share_t, dep_totals;
RESET ROLE;
REVOKE CREATE ON SCHEMA public FROM mb_chain;
DROP ROLE mb_chain;

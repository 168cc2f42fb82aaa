-- One target, several pipelines: each owns a range of it, a purge keeps every one's rows
-- (DESIGN §8)
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
CREATE TABLE tg_events (at timestamptz, n int);
INSERT INTO tg_events SELECT '2024-03-01'::timestamptz + i * interval '1 hour', 1
  FROM generate_series(0, 10 * 24 - 1) i;
CREATE TABLE tg_out (at timestamptz, n bigint);
\set daily '$$SELECT date_trunc(''day'', at) AS at, sum(n) AS n FROM tg_events WHERE at >= $1 AND at < $2 GROUP BY 1$$'
\set hourly '$$SELECT date_trunc(''hour'', at) AS at, sum(n) AS n FROM tg_events WHERE at >= $1 AND at < $2 GROUP BY 1$$'

-- history by day until the 5th, by hour from then on: disjoint ranges share a target
SELECT mb_register('tg_days', 'tg_out', 'at', :daily, 'day', '2024-03-01', end_at => '2024-03-05',
       lookback => 0) > 0 AS registered;
SELECT mb_register('tg_hours', 'tg_out', 'at', :hourly, 'hour', '2024-03-05', end_at => '2024-03-08',
       lookback => 0) > 0 AS registered;
SELECT windows, succeeded FROM mb_run('tg_days');
SELECT windows, succeeded FROM mb_run('tg_hours');
SELECT count(*) FILTER (WHERE at < '2024-03-05') AS day_rows, count(*) FILTER (WHERE at >= '2024-03-05') AS hour_rows
  FROM tg_out;

-- overlapping ranges are refused, naming the other pipeline; an open end runs forever;
-- ranges that only touch are disjoint
SELECT mb_register('tg_more', 'tg_out', 'at', :hourly, 'hour', '2024-03-04 12:00', end_at => '2024-03-06');
\echo :LAST_ERROR_SQLSTATE
SELECT mb_register('tg_more', 'tg_out', 'at', :daily, 'day', '2024-02-01');
SELECT mb_register('tg_more', 'tg_out', 'at', :daily, 'day', '2024-02-01', end_at => '2024-03-01') > 0 AS registered;
SELECT mb_register('tg_later', 'tg_out', 'at', :hourly, 'hour', '2024-03-09', end_at => '2024-03-10') > 0 AS registered;
-- and so are alterations that would make ranges overlap
SELECT mb_alter('tg_days', end_at => '2024-03-06');
SELECT mb_alter('tg_hours', begin_at => '2024-03-04');
SELECT mb_alter('tg_hours', end_at => 'infinity');
SELECT mb_alter('tg_more', begin_at => '2024-01-01');
SELECT name, begin_at, end_at FROM microbatch.pipelines WHERE name LIKE 'tg_%' ORDER BY begin_at;
SELECT mb_drop('tg_more'), mb_drop('tg_later');

-- a full refresh of one pipeline deletes only what is outside every range of the target
INSERT INTO tg_out VALUES ('2024-01-15', 99), ('2030-01-01', 99), (NULL, 99);
SELECT mb_reset('tg_days', purge => true);
SELECT count(*) FILTER (WHERE at < '2024-03-05') AS day_rows, count(*) FILTER (WHERE at >= '2024-03-05') AS hour_rows,
       count(*) FILTER (WHERE n = 99 OR at IS NULL) AS strays
  FROM tg_out;
-- the other pipeline's state is untouched and still right: nothing for it to redo
SELECT windows FROM mb_run('tg_hours');
SELECT windows, succeeded FROM mb_run('tg_days');
\set recomputed '(SELECT date_trunc(''day'', at), sum(n) FROM tg_events WHERE at < ''2024-03-05'' GROUP BY 1 UNION ALL SELECT date_trunc(''hour'', at), sum(n) FROM tg_events WHERE at >= ''2024-03-05'' AND at < ''2024-03-08'' GROUP BY 1)'
SELECT count(*) = 0 AS same_as_recomputed
  FROM ((TABLE tg_out EXCEPT ALL :recomputed) UNION ALL (:recomputed EXCEPT ALL TABLE tg_out)) d;

-- a pipeline of another role on the target is named, and nothing else of it is told
CREATE ROLE mb_sharer;
GRANT CREATE ON SCHEMA public TO mb_sharer;
GRANT SELECT, INSERT, DELETE ON tg_out, tg_events TO mb_sharer;
SET ROLE mb_sharer;
SELECT mb_register('tg_theirs', 'tg_out', 'at', :hourly, 'hour', '2024-03-06', end_at => '2024-03-07');
SELECT count(*) AS pipelines_seen FROM microbatch.pipelines;
RESET ROLE;
SELECT mb_drop('tg_days'), mb_drop('tg_hours');
REVOKE ALL ON tg_out, tg_events FROM mb_sharer;
REVOKE CREATE ON SCHEMA public FROM mb_sharer;
DROP ROLE mb_sharer;

-- Registration and every bad input of DESIGN §4.9: a clear error, nothing written
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
CREATE TABLE events (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, client int, amount numeric);
CREATE TABLE daily (day timestamptz, client int, n bigint, total numeric);
CREATE TABLE daily_local (day timestamp, n bigint);
CREATE TABLE daily_date (day date, n bigint);
CREATE TABLE bad_types (day text, n bigint);
CREATE VIEW daily_view AS SELECT * FROM daily;
CREATE TABLE with_generated (day timestamptz, n bigint, twice bigint GENERATED ALWAYS AS (n * 2) STORED);

SELECT mb_register('daily', 'daily', 'day',
       $$SELECT date_trunc('day', created_at) AS day, client, count(*) AS n, sum(amount) AS total
         FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2;$$,
       batch_size => 'day', begin_at => '2024-01-01 13:00') AS id \gset
-- begin_at is floored to the grid; defaults are as documented; the trailing semicolon is dropped
SELECT name, owner, target, event_time, query, batch_size, time_zone, begin_at, end_at, lookback,
       max_parallel, on_error, enabled, search_path
  FROM microbatch.pipelines WHERE id = :id;

-- timestamp and date event columns; options spelled out; canonical zone and size
SELECT mb_register('local_days', 'daily_local', 'day',
       $$SELECT date_trunc('day', created_at)::timestamp AS day, count(*) AS n
         FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$,
       '1 day', '2024-01-01', lookback => 0, end_at => '2024-02-01', time_zone => 'europe/berlin',
       max_parallel => 2, on_error => 'continue') > 0 AS registered;
SELECT mb_register('date_days', 'daily_date', 'day',
       $$SELECT created_at::date AS day, count(*) AS n
         FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$,
       'month', '2024-01-01') > 0 AS registered;
SELECT name, batch_size, time_zone, lookback, end_at, max_parallel, on_error
  FROM microbatch.pipelines ORDER BY id;

-- Bad input: each must fail with its own message and write nothing.
SELECT count(*) AS pipelines_before FROM microbatch.pipelines;
\set q '$$SELECT date_trunc(''day'', created_at) AS day, count(*) AS n FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$'
-- duplicate and malformed names
SELECT mb_register('daily', 'daily', 'day', :q, 'day', '2024-01-01');
SELECT mb_register('Daily', 'daily', 'day', :q, 'day', '2024-01-01');
SELECT mb_register('1daily', 'daily', 'day', :q, 'day', '2024-01-01');
SELECT mb_register('', 'daily', 'day', :q, 'day', '2024-01-01');
SELECT mb_register('daily-stats', 'daily', 'day', :q, 'day', '2024-01-01');
SELECT mb_register(repeat('a', 64), 'daily', 'day', :q, 'day', '2024-01-01');
SELECT mb_register(NULL, 'daily', 'day', :q, 'day', '2024-01-01');
-- missing target, a target that is not a table
SELECT mb_register('p', 'no_such_table', 'day', :q, 'day', '2024-01-01');
SELECT mb_register('p', 'daily_view', 'day', :q, 'day', '2024-01-01');
-- event-time column missing or of an unsupported type; date with sub-day windows
SELECT mb_register('p', 'daily', 'no_such_column', :q, 'day', '2024-01-01');
SELECT mb_register('p', 'bad_types', 'day', :q, 'day', '2024-01-01');
SELECT mb_register('p', 'daily_date', 'day', :q, 'hour', '2024-01-01');
-- batch size, time zone
SELECT mb_register('p', 'daily', 'day', :q, 'fortnight', '2024-01-01');
SELECT mb_register('p', 'daily', 'day', :q, '7 minutes', '2024-01-01');
SELECT mb_register('p', 'daily', 'day', :q, 'day', '2024-01-01', time_zone => 'Nowhere/Special');
-- begin_at after end_at, infinite begin_at
SELECT mb_register('p', 'daily', 'day', :q, 'day', '2024-02-01', end_at => '2024-01-01');
SELECT mb_register('p', 'daily', 'day', :q, 'day', '2024-02-01', end_at => '2024-02-01');
SELECT mb_register('p', 'daily', 'day', :q, 'day', '-infinity');
-- lookback, max_parallel, on_error
SELECT mb_register('p', 'daily', 'day', :q, 'day', '2024-01-01', lookback => -1);
SELECT mb_register('p', 'daily', 'day', :q, 'day', '2024-01-01', max_parallel => 0);
SELECT mb_register('p', 'daily', 'day', :q, 'day', '2024-01-01', on_error => 'ignore');
-- queries: unparsable, empty, several statements, not a SELECT, SELECT INTO, data-modifying WITH
SELECT mb_register('p', 'daily', 'day', 'SELEKT 1', 'day', '2024-01-01');
SELECT mb_register('p', 'daily', 'day', '', 'day', '2024-01-01');
SELECT mb_register('p', 'daily', 'day', 'SELECT $1::timestamptz AS day; SELECT $2::timestamptz AS day', 'day', '2024-01-01');
SELECT mb_register('p', 'daily', 'day', $$DELETE FROM events WHERE created_at >= $1 AND created_at < $2$$, 'day', '2024-01-01');
SELECT mb_register('p', 'daily', 'day', $$SELECT created_at AS day INTO junk FROM events WHERE created_at >= $1 AND created_at < $2$$, 'day', '2024-01-01');
SELECT mb_register('p', 'daily', 'day', $$WITH d AS (DELETE FROM events RETURNING created_at) SELECT created_at AS day FROM d WHERE created_at >= $1 AND created_at < $2$$, 'day', '2024-01-01');
-- queries that do not use $1 and $2, or use $3
SELECT mb_register('p', 'daily', 'day', $$SELECT created_at AS day FROM events$$, 'day', '2024-01-01');
SELECT mb_register('p', 'daily', 'day', $$SELECT created_at AS day FROM events WHERE created_at >= $1$$, 'day', '2024-01-01');
SELECT mb_register('p', 'daily', 'day', $$SELECT created_at AS day FROM events WHERE created_at >= $1 AND created_at < $3$$, 'day', '2024-01-01');
-- errors inside the query point into it (LINE and caret under QUERY), as in a function body
SELECT mb_register('p', 'daily', 'day', $$SELECT created_at AS day
  FROM events WHERE craeted_at >= $1 AND created_at < $2$$, 'day', '2024-01-01');
SELECT mb_alter('daily', query => $$SELECT date_trunc('day', created_at) AS day, count(*) AS n
  FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1 ORDER BY$$);
-- columns the target lacks or cannot take, unnamed, doubled, generated; no event-time column
SELECT mb_register('p', 'daily', 'day', $$SELECT created_at AS day, 1 AS nope FROM events WHERE created_at >= $1 AND created_at < $2$$, 'day', '2024-01-01');
SELECT mb_register('p', 'daily', 'day', $$SELECT created_at AS day, 'x'::text AS n FROM events WHERE created_at >= $1 AND created_at < $2$$, 'day', '2024-01-01');
SELECT mb_register('p', 'daily', 'day', $$SELECT created_at AS day, count(*) FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$, 'day', '2024-01-01');
SELECT mb_register('p', 'daily', 'day', $$SELECT created_at AS day, 1 AS n, 2 AS n FROM events WHERE created_at >= $1 AND created_at < $2$$, 'day', '2024-01-01');
SELECT mb_register('p', 'with_generated', 'day', $$SELECT created_at AS day, 1 AS twice FROM events WHERE created_at >= $1 AND created_at < $2$$, 'day', '2024-01-01');
SELECT mb_register('p', 'daily', 'day', $$SELECT client, count(*) AS n FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$, 'day', '2024-01-01');
-- nothing was written by any of them
SELECT count(*) AS pipelines_after FROM microbatch.pipelines;
SELECT count(*) AS windows FROM microbatch.windows;
SELECT count(*) AS runs FROM microbatch.runs;

-- mb_alter changes what it may, validates like mb_register, and cannot touch the grid
SELECT mb_alter('daily', lookback => 3, max_parallel => 4, on_error => 'continue', end_at => '2025-01-01');
SELECT lookback, max_parallel, on_error, end_at, enabled FROM microbatch.pipelines WHERE name = 'daily';
SELECT mb_alter('daily', end_at => 'infinity', enabled => false);
SELECT end_at, enabled FROM microbatch.pipelines WHERE name = 'daily';
SELECT mb_alter('daily', lookback => -2);
SELECT mb_alter('daily', on_error => 'maybe');
SELECT mb_alter('daily', max_parallel => 0);
SELECT mb_alter('daily', end_at => '2023-01-01');
SELECT mb_alter('daily', query => 'SELECT 1 AS day');
SELECT mb_alter('nope', lookback => 1);
-- no batch_size parameter (terse: the hint under the error differs by major)
\set VERBOSITY terse
SELECT mb_alter('daily', batch_size => 'hour');
\set VERBOSITY default
SELECT lookback, max_parallel, on_error, end_at, enabled FROM microbatch.pipelines WHERE name = 'daily';
SELECT mb_alter('daily', enabled => true,
       query => $$SELECT date_trunc('day', created_at) AS day, count(*) AS n FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$);
SELECT query FROM microbatch.pipelines WHERE name = 'daily';

-- mb_drop removes the pipeline (not the target); unknown names are an error
SELECT mb_drop('date_days');
SELECT mb_drop('date_days');
SELECT name FROM microbatch.pipelines ORDER BY id;
SELECT count(*) FROM daily_date;

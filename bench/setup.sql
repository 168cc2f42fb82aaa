-- Data and pipelines for bench/run.sh.
CREATE EXTENSION microbatch;

-- 1,000,000 events over 30 days, 50 clients
CREATE TABLE events (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL,
                     client int NOT NULL, amount numeric NOT NULL);
INSERT INTO events (created_at, client, amount)
SELECT '2024-01-01'::timestamptz + (i / 1000000.0) * interval '30 days', i % 50, (i % 1000) / 10.0
  FROM generate_series(0, 999999) i;
CREATE INDEX ON events (created_at);
VACUUM ANALYZE events;

-- 1. the daily rollup by day and client
CREATE TABLE rollup (day timestamptz, client int, n bigint, total numeric);
CREATE INDEX ON rollup (day);
SELECT mb_register('rollup', 'rollup', 'day',
       $$SELECT date_trunc('day', created_at) AS day, client, count(*) AS n, sum(amount) AS total
           FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
       'day', '2024-01-01', end_at => '2024-01-31');

-- 2. ten-minute windows over an empty source: only the fixed cost remains
CREATE TABLE events_empty (created_at timestamptz NOT NULL, v int);
CREATE INDEX ON events_empty (created_at);
CREATE TABLE tiny (bucket timestamptz, n bigint);
CREATE INDEX ON tiny (bucket);
SELECT mb_register('tiny', 'tiny', 'bucket',
       $$SELECT date_bin('10 minutes', created_at, '2024-01-01') AS bucket, count(*) AS n
           FROM events_empty WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$,
       '10min', '2024-01-01', end_at => '2024-01-01'::timestamptz + 500 * interval '10 minutes');

-- 3. CPU-bound windows: hashing every event a few times
CREATE TABLE cpu (day timestamptz, client int, h bigint);
SELECT mb_register('cpu', 'cpu', 'day',
       $$SELECT date_trunc('day', created_at) AS day, client,
                sum(length(md5(md5(md5(md5(amount::text || id::text)))))) AS h
           FROM events, generate_series(1, 4) AS rounds
          WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
       'day', '2024-01-01', end_at => '2024-01-09');

-- the hand-written equivalent of a pipeline's backfill: per window, the same
-- DELETE and INSERT ... SELECT with the bounds written in, one transaction each
CREATE FUNCTION bench_script(pipeline text, start_time timestamptz, end_time timestamptz, step interval)
RETURNS SETOF text LANGUAGE sql AS $$
SELECT format(E'BEGIN;\nDELETE FROM %I WHERE %I >= %L AND %I < %L;\nINSERT INTO %I (%s) %s;\nCOMMIT;',
              p.target, p.event_time, w, p.event_time, w + step, p.target,
              CASE p.name WHEN 'rollup' THEN 'day, client, n, total' ELSE 'bucket, n' END,
              replace(replace(p.query, '$1', quote_literal(w) || '::timestamptz'),
                      '$2', quote_literal(w + step) || '::timestamptz'))
  FROM microbatch.pipelines p, generate_series(start_time, end_time - step, step) w
 WHERE p.name = pipeline
 ORDER BY w
$$;

-- median time in ms of n executions of a statement, measured in the server
CREATE FUNCTION bench_time_ms(sql text, n int) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
	started timestamptz;
	times float8[] := '{}';
BEGIN
	FOR i IN 1..n LOOP
		started := clock_timestamp();
		EXECUTE sql;
		times := times || extract(epoch FROM clock_timestamp() - started)::float8 * 1000;
	END LOOP;
	RETURN round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(times) t)::numeric, 2);
END
$$;

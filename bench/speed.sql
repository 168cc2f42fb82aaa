-- Data, pipelines and hand-written peers for bench/speed.sh (issue 11).
CREATE EXTENSION IF NOT EXISTS microbatch;

-- 1,000,000 events over 30 days, 50 clients
CREATE TABLE ev (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL,
                 client int NOT NULL, amount numeric NOT NULL);
INSERT INTO ev (created_at, client, amount)
SELECT '2024-01-01'::timestamptz + (i / 1000000.0) * interval '30 days', i % 50, (i % 1000) / 10.0
  FROM generate_series(0, 999999) i;
CREATE INDEX ON ev (created_at);

-- a sparse source: one event per ten minutes (the fixed cost of a window)
CREATE TABLE ev_sparse (created_at timestamptz NOT NULL, v int NOT NULL);
INSERT INTO ev_sparse SELECT '2024-01-01'::timestamptz + i * interval '10 minutes' + interval '1 minute', i
  FROM generate_series(0, 4319) i;
CREATE INDEX ON ev_sparse (created_at);
VACUUM ANALYZE ev, ev_sparse;

-- every workload has a microbatch target (mb_*) and a hand-written one (hand_*)
CREATE TABLE mb_small (bucket timestamptz, n bigint);
CREATE TABLE hand_small (LIKE mb_small);
CREATE TABLE mb_tenmin (bucket timestamptz, client int, n bigint, total numeric);
CREATE TABLE hand_tenmin (LIKE mb_tenmin);
CREATE TABLE mb_tenmin1 (LIKE mb_tenmin);
CREATE TABLE hand_tenmin1 (LIKE mb_tenmin);
CREATE INDEX ON mb_tenmin1 (bucket);
CREATE INDEX ON hand_tenmin1 (bucket);
CREATE TABLE mb_daily (day timestamptz, client int, n bigint, total numeric);
CREATE TABLE hand_daily (LIKE mb_daily);
CREATE TABLE mb_copy (created_at timestamptz, client int, amount numeric);
CREATE TABLE hand_copy (LIKE mb_copy);
CREATE INDEX ON mb_small (bucket);
CREATE INDEX ON hand_small (bucket);
CREATE INDEX ON mb_tenmin (bucket);
CREATE INDEX ON hand_tenmin (bucket);
CREATE INDEX ON mb_daily (day);
CREATE INDEX ON hand_daily (day);
CREATE INDEX ON mb_copy (created_at);
CREATE INDEX ON hand_copy (created_at);

-- small windows, one at a time: the fixed cost per window
SELECT mb_register('small', 'mb_small', 'bucket',
       $$SELECT date_bin('10 minutes', created_at, '2024-01-01') AS bucket, count(*) AS n
           FROM ev_sparse WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$,
       '10min', '2024-01-01', end_at => '2024-01-31');
-- 4,320 ten-minute windows of 1M events (50 rows each), coalesced
SELECT mb_register('tenmin', 'mb_tenmin', 'bucket',
       $$SELECT date_bin('10 minutes', created_at, '2024-01-01') AS bucket, client,
                count(*) AS n, sum(amount) AS total
           FROM ev WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
       '10min', '2024-01-01', end_at => '2024-01-31', coalesce_windows => true);
-- the same, one window at a time: the cost per window
SELECT mb_register('tenmin1', 'mb_tenmin1', 'bucket',
       $$SELECT date_bin('10 minutes', created_at, '2024-01-01') AS bucket, client,
                count(*) AS n, sum(amount) AS total
           FROM ev WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
       '10min', '2024-01-01', end_at => '2024-01-31');
-- 30 daily windows of 1M events, coalesced
SELECT mb_register('daily', 'mb_daily', 'day',
       $$SELECT date_trunc('day', created_at) AS day, client, count(*) AS n, sum(amount) AS total
           FROM ev WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
       'day', '2024-01-01', end_at => '2024-01-31', coalesce_windows => true);
-- a 1:1 copy: every source row is written, weekly windows of about 233,000 rows
SELECT mb_register('copy', 'mb_copy', 'created_at',
       $$SELECT created_at, client, amount FROM ev WHERE created_at >= $1 AND created_at < $2$$,
       'week', '2024-01-01', end_at => '2024-01-29');
-- nothing to do: what a pg_cron job of an up-to-date pipeline costs
CREATE TABLE mb_idle (bucket timestamptz, n bigint);
SELECT mb_register('idle', 'mb_idle', 'bucket',
       $$SELECT date_bin('10 minutes', created_at, '2024-01-01') AS bucket, count(*) AS n
           FROM ev_sparse WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$,
       '10min', '2024-01-01', end_at => '2024-01-01 01:00', lookback => 0);
SELECT count(*) FROM mb_run('idle');

-- The hand-written peers: the same statements with static SQL (cached
-- plans, as microbatch's), one transaction per window, COMMIT in the loop.
-- bench_loop creates procedure NAME(s, e): per window of length STEP, the
-- DELETE from TARGET and the INSERT of SELECT_SQL (with $1 and $2 standing
-- for the window's bounds), then COMMIT.  The statements are static SQL in
-- the procedure's body, so PL/pgSQL caches their plans.
CREATE FUNCTION bench_loop(name text, target text, event_time text, step interval, select_sql text)
RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
	EXECUTE format($p$
CREATE PROCEDURE %I(s timestamptz, e timestamptz) LANGUAGE plpgsql AS $b$
DECLARE w timestamptz := s;
BEGIN
	WHILE w < e LOOP
		DELETE FROM %I WHERE %I >= w AND %I < w + %L::interval;
		INSERT INTO %I %s;
		COMMIT;
		w := w + %L::interval;
	END LOOP;
END $b$$p$, name, target, event_time, event_time, step, target,
		replace(replace(select_sql, '$1', 'w'), '$2', format('(w + %L::interval)', step)), step);
END $f$;

SELECT bench_loop('loop_small', 'hand_small', 'bucket', '10 minutes',
       $$SELECT date_bin('10 minutes', created_at, '2024-01-01'), count(*)
           FROM ev_sparse WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$);
SELECT bench_loop('loop_tenmin', 'hand_tenmin1', 'bucket', '10 minutes',
       $$SELECT date_bin('10 minutes', created_at, '2024-01-01'), client, count(*), sum(amount)
           FROM ev WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$);
SELECT bench_loop('loop_copy', 'hand_copy', 'created_at', '7 days',
       $$SELECT created_at, client, amount FROM ev WHERE created_at >= $1 AND created_at < $2$$);
SELECT bench_loop('loop_daily', 'hand_daily', 'day', '1 day',
       $$SELECT date_trunc('day', created_at), client, count(*), sum(amount)
           FROM ev WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$);

-- the physical limit: one DELETE and one INSERT ... SELECT over the whole range
CREATE PROCEDURE whole_tenmin() LANGUAGE sql AS $$
	DELETE FROM hand_tenmin WHERE bucket >= '2024-01-01' AND bucket < '2024-01-31';
	INSERT INTO hand_tenmin SELECT date_bin('10 minutes', created_at, '2024-01-01'), client, count(*), sum(amount)
	  FROM ev WHERE created_at >= '2024-01-01' AND created_at < '2024-01-31' GROUP BY 1, 2;
$$;
CREATE PROCEDURE whole_daily() LANGUAGE sql AS $$
	DELETE FROM hand_daily WHERE day >= '2024-01-01' AND day < '2024-01-31';
	INSERT INTO hand_daily SELECT date_trunc('day', created_at), client, count(*), sum(amount)
	  FROM ev WHERE created_at >= '2024-01-01' AND created_at < '2024-01-31' GROUP BY 1, 2;
$$;

-- Data checks: built-ins and SQL checks keep a failing window's old rows and record the
-- failure under the check's name; bad checks are refused and write nothing (DESIGN §8)
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
CREATE ROLE mb_checker;
CREATE ROLE mb_stranger;
GRANT CREATE ON SCHEMA public TO mb_checker;

SET ROLE mb_checker;
CREATE TABLE chk_readings (at timestamptz, client int, v int);
INSERT INTO chk_readings SELECT '2024-02-01'::timestamptz + i * interval '1 hour', i % 3, 1
  FROM generate_series(0, 3 * 24 - 1) i;
CREATE TABLE chk_daily (day timestamptz, client int, n bigint, total bigint);
SELECT mb_register('checked', 'chk_daily', 'day',
       $$SELECT date_trunc('day', at) AS day, client, count(*) AS n, sum(v) AS total
         FROM chk_readings WHERE at >= $1 AND at < $2 GROUP BY 1, 2$$,
       'day', '2024-02-01', end_at => '2024-02-04', lookback => 0) > 0 AS registered;

-- one of each kind; they are stored as written (a SELECT without its semicolon)
SELECT mb_add_check('checked', 'enough_clients', 'min_rows 3');
SELECT mb_add_check('checked', 'few_clients', '  MAX_ROWS 3 ');
SELECT mb_add_check('checked', 'has_totals', 'not_null total, "n"');
SELECT mb_add_check('checked', 'one_per_client', 'unique day, client');
SELECT mb_add_check('checked', 'totals_add_up',
       $$SELECT sum(total) = (SELECT count(*) FROM chk_readings WHERE at >= $1 AND at < $2)
           FROM chk_daily WHERE day >= $1 AND day < $2;$$);
SELECT check_name, check_sql FROM microbatch.checks ORDER BY check_name;
SELECT windows, succeeded, failed FROM mb_run('checked');
SELECT day, client, n, total FROM chk_daily ORDER BY 1, 2;

-- every failing check keeps the window's old rows and records the check's name, 23514
\set windows 'SELECT window_start, status, sqlstate, error FROM microbatch.windows WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = ''checked'') AND status <> ''succeeded'' ORDER BY 1'
CREATE TABLE chk_before AS TABLE chk_daily;
\set unchanged 'SELECT count(*) = 0 AS old_rows_kept FROM ((TABLE chk_daily EXCEPT ALL TABLE chk_before) UNION ALL (TABLE chk_before EXCEPT ALL TABLE chk_daily)) d'
-- min_rows: client 2 has no chk_readings on 2024-02-02
UPDATE chk_readings SET client = 0 WHERE client = 2 AND at >= '2024-02-02' AND at < '2024-02-03';
CALL mb_backfill('checked', '2024-02-02', '2024-02-03');
:windows;
:unchanged;
UPDATE chk_readings SET client = 2 WHERE client = 0 AND extract(hour FROM at)::int % 3 = 2;
-- max_rows: a fourth client
UPDATE chk_readings SET client = 3 WHERE at = '2024-02-02 05:00';
CALL mb_backfill('checked', '2024-02-02', '2024-02-03');
:windows;
:unchanged;
UPDATE chk_readings SET client = 2 WHERE client = 3;
-- not_null: a reading without a value makes a null total
UPDATE chk_readings SET v = NULL WHERE at >= '2024-02-02' AND at < '2024-02-03' AND client = 1;
CALL mb_backfill('checked', '2024-02-02', '2024-02-03');
:windows;
:unchanged;
UPDATE chk_readings SET v = 1 WHERE v IS NULL;
-- unique: a query that returns a client twice (without the max_rows check, which would fail first)
SELECT mb_alter('checked', query => $$SELECT date_trunc('day', at) AS day, client, count(*) AS n, sum(v) AS total
         FROM chk_readings WHERE at >= $1 AND at < $2 GROUP BY 1, 2, v$$);
UPDATE chk_readings SET v = 2 WHERE at = '2024-02-02 01:00';
SELECT mb_drop_check('checked', 'totals_add_up');
SELECT mb_drop_check('checked', 'few_clients');
CALL mb_backfill('checked', '2024-02-02', '2024-02-03');
:windows;
:unchanged;
UPDATE chk_readings SET v = 1 WHERE v = 2;
SELECT mb_alter('checked', query => $$SELECT date_trunc('day', at) AS day, client, count(*) AS n, sum(v) AS total
         FROM chk_readings WHERE at >= $1 AND at < $2 GROUP BY 1, 2$$);
SELECT mb_add_check('checked', 'few_clients', 'max_rows 3');
-- a SQL check that returns false, null, and one that raises an error
SELECT mb_add_check('checked', 'totals_add_up',
       $$SELECT sum(total) = (SELECT count(*) FROM chk_readings WHERE at >= $1 AND at < $2)
           FROM chk_daily WHERE day >= $1 AND day < $2$$);
UPDATE chk_readings SET v = 5 WHERE at = '2024-02-02 01:00';
CALL mb_backfill('checked', '2024-02-02', '2024-02-03');
:windows;
:unchanged;
UPDATE chk_readings SET v = 1 WHERE v = 5;
SELECT mb_add_check('checked', 'null_check', $$SELECT NULL::boolean$$);
CALL mb_backfill('checked', '2024-02-02', '2024-02-03');
:windows;
:unchanged;
SELECT mb_drop_check('checked', 'null_check');
SELECT mb_add_check('checked', 'error_check',
       $$SELECT count(*) / (count(*) - count(*)) > 0 FROM chk_daily WHERE day >= $1 AND day < $2$$);
CALL mb_backfill('checked', '2024-02-02', '2024-02-03');
:windows;
:unchanged;
-- the run's error carries 23514 and the first failure
DO $$BEGIN PERFORM * FROM mb_retry('checked');
EXCEPTION WHEN check_violation THEN RAISE NOTICE 'SQLSTATE %: %', SQLSTATE, SQLERRM; END$$;
SELECT mb_drop_check('checked', 'error_check');

-- on_error: 'stop' skips the windows after a failed check, 'continue' runs them
SELECT mb_add_check('checked', 'not_the_2nd', $$SELECT $1 <> '2024-02-02'$$);
CALL mb_backfill('checked', '2024-02-01', '2024-02-04');
SELECT kind, status, windows_total, succeeded, failed, skipped FROM microbatch.runs
 WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'checked') ORDER BY run_id DESC LIMIT 1;
SELECT mb_alter('checked', on_error => 'continue');
CALL mb_backfill('checked', '2024-02-01', '2024-02-04', 2);
SELECT kind, status, windows_total, succeeded, failed, skipped FROM microbatch.runs
 WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'checked') ORDER BY run_id DESC LIMIT 1;
:windows;
-- mb_run_window lets the failed check abort the caller's transaction
SELECT * FROM mb_run_window('checked', '2024-02-02');
-- dropping the check lets the window through; dropping it again says there was none
SELECT mb_drop_check('checked', 'not_the_2nd');
SELECT mb_drop_check('checked', 'not_the_2nd');
SELECT windows, succeeded, failed FROM mb_retry('checked');
:windows;

-- Bad checks: each fails with its own message and writes nothing
SELECT count(*) AS checks_before FROM microbatch.checks;
SELECT mb_add_check('nope', 'c', 'min_rows 1');
SELECT mb_add_check(NULL, 'c', 'min_rows 1');
SELECT mb_add_check('checked', NULL, 'min_rows 1');
SELECT mb_add_check('checked', 'c', NULL);
SELECT mb_add_check('checked', 'Bad Name', 'min_rows 1');
SELECT mb_add_check('checked', 'enough_clients', 'min_rows 1');
SELECT mb_add_check('checked', 'c', 'min_rows');
SELECT mb_add_check('checked', 'c', 'min_rows -1');
SELECT mb_add_check('checked', 'c', 'max_rows lots');
SELECT mb_add_check('checked', 'c', 'not_null');
SELECT mb_add_check('checked', 'c', 'unique day,');
SELECT mb_add_check('checked', 'c', 'not_null total, no_such_column');
SELECT mb_add_check('checked', 'c', 'unique "Day"');
SELECT mb_add_check('checked', 'c', 'unique ctid');
ALTER TABLE chk_daily ADD COLUMN notes json;
SELECT mb_add_check('checked', 'c', 'unique day, notes');
ALTER TABLE chk_daily DROP COLUMN notes;
-- SQL checks: syntax errors and unknown columns point into the check
SELECT mb_add_check('checked', 'c', 'SELECT count(*) >= 1 FORM chk_daily');
SELECT mb_add_check('checked', 'c', $$SELECT count(*) >= 1
  FROM chk_daily WHERE dya >= $1$$);
SELECT mb_add_check('checked', 'c', 'SELECT count(*) FROM chk_daily');
SELECT mb_add_check('checked', 'c', 'SELECT true, false');
SELECT mb_add_check('checked', 'c', 'SELECT true; SELECT true');
SELECT mb_add_check('checked', 'c', 'DELETE FROM chk_daily');
SELECT mb_add_check('checked', 'c', 'SELECT true INTO junk');
SELECT mb_add_check('checked', 'c', $$WITH d AS (DELETE FROM chk_daily RETURNING day) SELECT count(*) = 0 FROM d$$);
SELECT mb_add_check('checked', 'c', '');
SELECT count(*) AS checks_after FROM microbatch.checks;

-- other roles: cannot see the checks, add or drop them, nor write the catalog
RESET ROLE;
GRANT SELECT ON chk_readings TO mb_stranger;
SET ROLE mb_stranger;
SELECT count(*) FROM microbatch.checks;
SELECT mb_add_check('checked', 'c', 'min_rows 1');
SELECT mb_drop_check('checked', 'enough_clients');
INSERT INTO microbatch.checks VALUES (1, 'c', 'min_rows 1');
DELETE FROM microbatch.checks;
RESET ROLE;
-- a superuser may add a check; it runs as the owner (here: it fails for any other role)
SELECT mb_add_check('checked', 'as_owner', $$SELECT current_user = 'mb_checker'$$);
CALL mb_backfill('checked', '2024-02-01', '2024-02-02');
:windows;
SELECT count(*) AS checks FROM microbatch.checks;

-- checks go with their pipeline
SELECT mb_drop('checked');
SELECT count(*) AS checks_left FROM microbatch.checks;
DROP TABLE chk_daily, chk_before, chk_readings;
DROP OWNED BY mb_checker, mb_stranger;
DROP ROLE mb_checker, mb_stranger;

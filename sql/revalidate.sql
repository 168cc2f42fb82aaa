-- A target altered after registration, as a role without privileges: every
-- entry point that runs windows checks the catalog again and refuses with
-- a clear error, writing nothing (DESIGN §4.3, §4.9; it used to crash the
-- server when the event-time column became text)
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
\set SHOW_CONTEXT never
CREATE ROLE mb_tenant;
CREATE SCHEMA tenant AUTHORIZATION mb_tenant;
SET ROLE mb_tenant;
SET search_path = tenant, public;
CREATE TABLE s (t timestamptz, v int);
CREATE TABLE t (t timestamptz, v int);
INSERT INTO s SELECT g, 1 FROM generate_series('2024-01-01'::timestamptz, '2024-01-03 23:00', '1 hour') g;
SELECT mb_register('p', 't', 't', 'SELECT t, v FROM s WHERE t >= $1 AND t < $2', 'day', '2024-01-01',
       end_at => '2024-01-04') > 0 AS registered;
SELECT windows, succeeded, rows_inserted FROM mb_run('p');
-- what must not change when a call is refused
CREATE VIEW written AS
SELECT (SELECT count(*) FROM t) AS target_rows,
       (SELECT count(*) FROM microbatch.runs) AS runs,
       (SELECT string_agg(status || ':' || attempts, ',' ORDER BY window_start) FROM microbatch.windows) AS windows;
SELECT * FROM written;

-- the event-time column retyped to types windows cannot be compared with
ALTER TABLE t ALTER COLUMN t TYPE text;
SELECT * FROM mb_run('p');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mb_run_window('p', '2024-01-02');
\echo :LAST_ERROR_SQLSTATE
CALL mb_backfill('p', '2024-01-01', '2024-01-04');
\echo :LAST_ERROR_SQLSTATE
CALL mb_backfill('p', '2024-01-01', '2024-01-04', max_parallel => 2);
\echo :LAST_ERROR_SQLSTATE
SELECT mb_reset('p', purge => true);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mb_run();
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM written;
ALTER TABLE t ALTER COLUMN t TYPE varchar(40);
SELECT * FROM mb_run('p');
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE t ALTER COLUMN t TYPE timetz USING t::timestamptz::timetz;
SELECT * FROM mb_run_window('p', '2024-01-02');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM written;

-- a date column needs windows of a day or more
ALTER TABLE t ALTER COLUMN t TYPE timestamptz USING '2024-01-01'::timestamptz;
SELECT mb_register('p_hourly', 't', 't', 'SELECT t, v FROM s WHERE t >= $1 AND t < $2', 'hour', '2024-01-05',
       end_at => '2024-01-05 02:00') > 0 AS registered;
ALTER TABLE t ALTER COLUMN t TYPE date;
SELECT * FROM mb_run('p_hourly');
\echo :LAST_ERROR_SQLSTATE
SELECT mb_drop('p_hourly');

-- the event-time column dropped
ALTER TABLE t DROP COLUMN t;
SELECT * FROM mb_run('p');
\echo :LAST_ERROR_SQLSTATE
CALL mb_backfill('p', '2024-01-01', '2024-01-04');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM written;

-- back to a supported type: runs again, and the target is exact
ALTER TABLE t ADD COLUMN t timestamp;
SELECT windows, succeeded, failed FROM mb_run('p');
CALL mb_backfill('p', '2024-01-01', '2024-01-04');
SELECT count(*) AS target_rows, min(t), max(t) FROM t;
SELECT (SELECT count(*) FROM (SELECT t, v FROM t EXCEPT ALL SELECT t, v FROM s) a)
     + (SELECT count(*) FROM (SELECT t, v FROM s EXCEPT ALL SELECT t, v FROM t) b) AS differences;

-- a renamed target: a new run uses its new name
ALTER TABLE t RENAME TO t_renamed;
SELECT windows, succeeded FROM mb_run('p');
-- dropped and created again under its old name: the pipeline's table is gone
ALTER TABLE t_renamed RENAME TO t;
DROP VIEW written;
DROP TABLE t;
CREATE TABLE t (t timestamptz, v int);
SELECT * FROM mb_run('p');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS new_table_rows FROM t;
SELECT mb_drop('p');
RESET ROLE;
DROP SCHEMA tenant CASCADE;
DROP ROLE mb_tenant;

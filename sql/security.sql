-- Security: pipelines run as their owner, only owners may use them, the catalog is read-only (DESIGN §4.8)
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
CREATE ROLE mb_alice;
CREATE ROLE mb_bob;
CREATE ROLE mb_carol IN ROLE mb_alice;
GRANT CREATE ON SCHEMA public TO mb_alice, mb_bob;
CREATE TABLE secret (at timestamptz, code text);
INSERT INTO secret VALUES ('2024-03-01 10:00', 'top secret');

SET ROLE mb_alice;
CREATE TABLE alice_events (at timestamptz);
INSERT INTO alice_events SELECT '2024-03-01'::timestamptz + i * interval '6 hours' FROM generate_series(0, 7) i;
CREATE TABLE alice_daily (day timestamptz, n bigint, who text);
SELECT mb_register('alice_daily', 'alice_daily', 'day',
       $$SELECT date_trunc('day', at) AS day, count(*) AS n, current_user::text AS who
         FROM alice_events WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-03-01', end_at => '2024-03-03') > 0 AS registered;
-- alice may read her own pipelines' catalog rows, and write none of them
SELECT name, owner FROM microbatch.pipelines;
UPDATE microbatch.pipelines SET lookback = 5;
INSERT INTO microbatch.windows (pipeline_id, window_start, window_end, status) VALUES (1, now(), now(), 'succeeded');
DELETE FROM microbatch.runs;
-- a query over a table alice cannot read registers (names resolve), but never runs with more rights
CREATE TABLE alice_leak (day timestamptz, code text);
SELECT mb_register('alice_leak', 'alice_leak', 'day',
       $$SELECT at AS day, code FROM secret WHERE at >= $1 AND at < $2$$,
       'day', '2024-03-01', end_at => '2024-03-02') > 0 AS registered;
RESET ROLE;

-- a superuser running alice's pipelines runs them as alice, in this session and in workers
CALL mb_backfill('alice_daily', '2024-03-01', '2024-03-02');
SELECT windows, succeeded FROM mb_run('alice_daily');
SELECT day, n, who FROM alice_daily ORDER BY 1;
CALL mb_backfill('alice_leak', '2024-03-01', '2024-03-02');
SELECT * FROM mb_run('alice_leak');
SELECT count(*) FROM alice_leak;
SELECT status, sqlstate, error FROM microbatch.windows
 WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'alice_leak');

-- bob sees none of alice's pipelines and may not use them
SET ROLE mb_bob;
SELECT count(*) AS visible_pipelines FROM microbatch.pipelines;
SELECT count(*) AS visible_windows FROM microbatch.windows;
SELECT count(*) AS visible_runs FROM microbatch.runs;
SELECT count(*) AS visible_status FROM microbatch.status;
SELECT * FROM mb_run('alice_daily');
SELECT * FROM mb_plan('alice_daily');
SELECT mb_alter('alice_daily', lookback => 0);
SELECT mb_reset('alice_daily');
SELECT mb_drop('alice_daily');
SELECT * FROM mb_run_window('alice_daily', '2024-03-01');
CALL mb_backfill('alice_daily', '2024-03-01', '2024-03-02');
-- mb_run() for all pipelines runs only the caller's own
SELECT * FROM mb_run();
-- bob cannot make a pipeline write into alice's table
SELECT mb_register('bob_into_alice', 'alice_daily', 'day',
       $$SELECT date_trunc('day', at) AS day FROM alice_events WHERE at >= $1 AND at < $2$$,
       'day', '2024-03-01');
RESET ROLE;
SELECT lookback FROM microbatch.pipelines WHERE name = 'alice_daily';

-- carol is a member of alice's role: she may run and manage alice's pipelines
SET ROLE mb_carol;
SELECT count(*) AS visible_pipelines FROM microbatch.pipelines;
SELECT windows, succeeded FROM mb_run('alice_daily');
SELECT mb_alter('alice_daily', lookback => 2);
RESET ROLE;
SELECT lookback FROM microbatch.pipelines WHERE name = 'alice_daily';

-- identifiers are quoted: odd table and column names work
CREATE TABLE "Odd Target" ("Event Day" timestamptz, "n;" bigint);
SELECT mb_register('odd', '"Odd Target"', 'Event Day',
       $$SELECT date_trunc('day', at) AS "Event Day", count(*) AS "n;"
         FROM alice_events WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-03-01', end_at => '2024-03-03') > 0 AS registered;
CALL mb_backfill('odd', '2024-03-01', '2024-03-03');
SELECT * FROM "Odd Target" ORDER BY 1;

SELECT mb_drop('alice_daily'), mb_drop('alice_leak'), mb_drop('odd');
DROP TABLE alice_events, alice_daily, alice_leak, secret, "Odd Target";
REVOKE CREATE ON SCHEMA public FROM mb_alice, mb_bob;
DROP ROLE mb_alice, mb_bob, mb_carol;

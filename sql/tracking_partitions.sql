-- Partition maintenance on a tracked source (DESIGN §7, issue 18): TRUNCATE,
-- DROP, DETACH and ATTACH of a partition, at any depth, mark exactly the
-- processed windows whose rows they removed or added, and the next run makes
-- the target equal to a recomputation.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET microbatch.progress = off;
CREATE ROLE mb_parts;
GRANT CREATE ON SCHEMA public TO mb_parts;
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO mb_parts', current_database()); END $$;
SET ROLE mb_parts;

-- daily partitions: the one of days 3 and 4 is split by kind, the seventh
-- day lives in another schema, the sixth in the default partition
CREATE SCHEMA ev_archive;
CREATE TABLE ev (at timestamptz, kind text, v int) PARTITION BY RANGE (at);
CREATE TABLE ev_d1 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2024-01-02');
CREATE TABLE ev_d2 PARTITION OF ev FOR VALUES FROM ('2024-01-02') TO ('2024-01-03');
CREATE TABLE ev_d34 PARTITION OF ev FOR VALUES FROM ('2024-01-03') TO ('2024-01-05') PARTITION BY LIST (kind);
CREATE TABLE ev_d34_a PARTITION OF ev_d34 FOR VALUES IN ('a');
CREATE TABLE ev_d34_b PARTITION OF ev_d34 FOR VALUES IN ('b');
CREATE TABLE ev_d5 PARTITION OF ev FOR VALUES FROM ('2024-01-05') TO ('2024-01-06');
CREATE TABLE ev_archive.ev_d7 PARTITION OF ev FOR VALUES FROM ('2024-01-07') TO ('2024-01-08');
CREATE TABLE ev_rest PARTITION OF ev DEFAULT;
INSERT INTO ev SELECT '2024-01-01'::timestamptz + i * interval '1 hour', CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, 1
  FROM generate_series(0, 24 * 7 - 1) i;
CREATE TABLE ev_daily (day timestamptz, n bigint);
SELECT mb_register('ev_daily', 'ev_daily', 'day',
       $$SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n FROM ev
         WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       'day', '2024-01-01', lookback => 0, end_at => '2024-01-08', track => true) > 0 AS registered;
SELECT windows FROM mb_run('ev_daily');
-- every leaf carries the TRUNCATE trigger; the source its own
SELECT tgrelid::regclass, tgname FROM pg_trigger
 WHERE tgname LIKE 'microbatch_track_%t%' AND tgname NOT LIKE '%update' AND tgname NOT LIKE '%delete'
 ORDER BY tgrelid::regclass::text COLLATE "C", 2;
-- rows wrong in the target, against a recomputation from what ev holds now
CREATE VIEW ev_wrong AS
SELECT count(*) AS wrong FROM ev_daily d
  FULL JOIN (SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n FROM ev
              WHERE at >= '2024-01-01' AND at < '2024-01-08' GROUP BY 1) e ON e.day = d.day
 WHERE d.n IS DISTINCT FROM e.n;

-- TRUNCATE of a partition: its day
TRUNCATE ev_d1;
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;

-- TRUNCATE of a sub-partition: the days of the partition above it, whose
-- bounds are by time (its own are by kind)
TRUNCATE ev_d34_a;
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;

-- TRUNCATE of the default partition, whose bounds say nothing: by its
-- rows, which are on one day
TRUNCATE ev_rest;
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;
-- an empty partition marks nothing
TRUNCATE ev_rest;
SELECT count(*) AS planned FROM mb_plan('ev_daily');

-- DROP of a partition
DROP TABLE ev_d2;
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;

-- DETACH of a partition that has partitions: its days; the detached table
-- keeps no trigger or capture index of the source's
ALTER TABLE ev DETACH PARTITION ev_d34;
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;
SELECT count(*) AS left_on_detached FROM pg_trigger WHERE tgrelid IN ('ev_d34'::regclass, 'ev_d34_a'::regclass, 'ev_d34_b'::regclass)
   AND tgname LIKE 'microbatch%';
SELECT count(*) AS capture_left FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid IN ('ev_d34'::regclass, 'ev_d34_a'::regclass, 'ev_d34_b'::regclass)
   AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'microbatch_capture');

-- ATTACH of a table of late rows, the usual bulk load: the day it holds
CREATE TABLE ev_late (at timestamptz, kind text, v int);
INSERT INTO ev_late SELECT '2024-01-02'::timestamptz + i * interval '1 hour', 'a', 10 FROM generate_series(0, 23) i;
ALTER TABLE ev ATTACH PARTITION ev_late FOR VALUES FROM ('2024-01-02') TO ('2024-01-03');
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;

-- ATTACH of a partitioned table again: its days; its leaves carry the
-- trigger again, and a TRUNCATE of one of them is seen.  Where its rows are
-- on one day of the two its bounds (those of the partition above it) allow,
-- both are marked: reading the rows would cost as much as they are.
ALTER TABLE ev ATTACH PARTITION ev_d34 FOR VALUES FROM ('2024-01-03') TO ('2024-01-05');
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgrelid IN ('ev_d34'::regclass, 'ev_d34_a'::regclass, 'ev_d34_b'::regclass, 'ev_late'::regclass)
   AND tgname = 'microbatch_track_partition' ORDER BY tgrelid::regclass::text COLLATE "C";
DELETE FROM ev_d34_b WHERE at < '2024-01-04';
TRUNCATE ev_d34_b;
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;

-- DROP of a sub-partition: the days of the partition above it
DROP TABLE ev_d34_a;
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;

-- the default partition again, with a late row on the sixth day: its
-- DETACH, its ATTACH and its DROP each mark that day, by its rows
INSERT INTO ev VALUES ('2024-01-06 12:00', 'a', 7);
SELECT windows FROM mb_run('ev_daily');
ALTER TABLE ev DETACH PARTITION ev_rest;
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;
ALTER TABLE ev ATTACH PARTITION ev_rest DEFAULT;
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;
DROP TABLE ev_rest;
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;

-- DROP SCHEMA takes a partition in another schema with it
DROP SCHEMA ev_archive CASCADE;
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;

-- a partition created later carries the trigger; late rows into it are
-- captured like any other, and its TRUNCATE is seen
CREATE TABLE ev_d7 PARTITION OF ev FOR VALUES FROM ('2024-01-07') TO ('2024-01-08');
SELECT count(*) AS trigger_on_new FROM pg_trigger WHERE tgrelid = 'ev_d7'::regclass
   AND tgname = 'microbatch_track_partition';
INSERT INTO ev_d7 VALUES ('2024-01-07 10:00', 'a', 5);
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
TRUNCATE ev_d7;
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;

-- so does one created with its schema
CREATE SCHEMA ev_more CREATE TABLE ev_d8 PARTITION OF ev FOR VALUES FROM ('2024-01-08') TO ('2024-01-09');
SELECT count(*) AS trigger_on_new FROM pg_trigger WHERE tgrelid = 'ev_more.ev_d8'::regclass
   AND tgname = 'microbatch_track_partition';
DROP SCHEMA ev_more CASCADE;

-- a TRUNCATE of the whole source marks every processed window
TRUNCATE ev;
SELECT count(*) AS planned FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;

-- a partition of another owner gets its trigger as that owner; DROP
-- OWNED takes the partition with it
RESET ROLE;
CREATE ROLE mb_parts_guest;
CREATE TABLE ev_d6 (at timestamptz, kind text, v int);
ALTER TABLE ev_d6 OWNER TO mb_parts_guest;
INSERT INTO ev_d6 VALUES ('2024-01-06 08:00', 'a', 3);
ALTER TABLE ev ATTACH PARTITION ev_d6 FOR VALUES FROM ('2024-01-06') TO ('2024-01-07');
SELECT tgname, pg_get_userbyid(c.relowner) AS owner FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE tgrelid = 'ev_d6'::regclass AND tgname = 'microbatch_track_partition';
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
-- a drop its caller may not do marks nothing
SET ROLE mb_parts_guest;
DROP TABLE ev_d1;
RESET ROLE;
SELECT count(*) AS planned FROM mb_plan('ev_daily');
DROP OWNED BY mb_parts_guest;
SELECT * FROM mb_plan('ev_daily');
SELECT windows FROM mb_run('ev_daily');
SELECT * FROM ev_wrong;
DROP ROLE mb_parts_guest;
SET ROLE mb_parts;

-- a date column, a pipeline in another zone: bounds are local dates there
CREATE TABLE lv (day date, v int) PARTITION BY RANGE (day);
CREATE TABLE lv_jan PARTITION OF lv FOR VALUES FROM ('2024-01-01') TO ('2024-01-04');
CREATE TABLE lv_rest PARTITION OF lv FOR VALUES FROM ('2024-01-04') TO (MAXVALUE);
INSERT INTO lv SELECT '2024-01-01'::date + i, 1 FROM generate_series(0, 6) i;
CREATE TABLE lv_daily (day timestamptz, n bigint);
SELECT mb_register('lv_daily', 'lv_daily', 'day',
       $$SELECT (day::timestamp AT TIME ZONE 'Europe/Paris') AS day, sum(v)::bigint AS n FROM lv
         WHERE day >= ($1 AT TIME ZONE 'Europe/Paris')::date AND day < ($2 AT TIME ZONE 'Europe/Paris')::date GROUP BY 1$$,
       'day', '2024-01-01', lookback => 0, end_at => '2024-01-08', time_zone => 'Europe/Paris') > 0 AS registered;
SELECT mb_track('lv_daily', 'lv', 'day');
SELECT windows FROM mb_run('lv_daily');
TRUNCATE lv_jan;
SELECT * FROM mb_plan('lv_daily');
-- MAXVALUE: closed by the rows
TRUNCATE lv_rest;
SELECT count(*) AS planned FROM mb_plan('lv_daily');
SELECT windows FROM mb_run('lv_daily');
SELECT count(*) AS rows_left FROM lv_daily;

-- untracking takes the partition triggers away; so does DROP EXTENSION (007)
SELECT mb_untrack('ev_daily', 'ev');
SELECT count(*) AS partition_triggers FROM pg_trigger WHERE tgname = 'microbatch_track_partition'
   AND tgrelid::regclass::text LIKE 'ev%';
-- a partition of a source no one tracks is left alone
CREATE TABLE ev_d6 PARTITION OF ev FOR VALUES FROM ('2024-01-06') TO ('2024-01-07');
SELECT count(*) AS trigger_on_untracked FROM pg_trigger WHERE tgrelid = 'ev_d6'::regclass;
DROP TABLE ev_d6;

SELECT mb_drop('ev_daily'), mb_drop('lv_daily');
DROP VIEW ev_wrong;
DROP TABLE ev, ev_daily, lv, lv_daily;
RESET ROLE;
DO $$ BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM mb_parts', current_database()); END $$;
REVOKE CREATE ON SCHEMA public FROM mb_parts;
DROP ROLE mb_parts;

-- Coalescing with date_bin buckets (DESIGN §9; date_bin came with
-- PostgreSQL 14: on 13 every registration below fails, coalesce_bins_1.out)
SET timezone = 'UTC';
SET microbatch.progress = off;
\set SHOW_CONTEXT never
-- date_bin buckets coalesce when they lie whole in the windows: a stride
-- dividing the window, an origin on the zone's midnight, a fixed zone
CREATE TABLE binned (bucket timestamptz, n bigint);
CREATE TABLE binned_src (at timestamptz);
SELECT mb_register('binned', 'binned', 'bucket',
       $$SELECT date_bin('10 minutes', at, '2024-01-01') AS bucket, count(*) AS n
           FROM binned_src WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       '30 minutes', '2024-01-01', coalesce_windows => true) > 0 AS accepted;
SELECT mb_drop('binned');
-- refused: a stride that does not divide the window, an origin off the grid,
-- a zone with DST
SELECT mb_register('binned', 'binned', 'bucket',
       $$SELECT date_bin('20 minutes', at, '2024-01-01') AS bucket, count(*) AS n
           FROM binned_src WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       '30 minutes', '2024-01-01', coalesce_windows => true) > 0 AS accepted;
SELECT mb_register('binned', 'binned', 'bucket',
       $$SELECT date_bin('10 minutes', at, '2024-01-01 00:05') AS bucket, count(*) AS n
           FROM binned_src WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       '30 minutes', '2024-01-01', coalesce_windows => true) > 0 AS accepted;
SELECT mb_register('binned', 'binned', 'bucket',
       $$SELECT date_bin('10 minutes', at, '2024-01-01') AS bucket, count(*) AS n
           FROM binned_src WHERE at >= $1 AND at < $2 GROUP BY 1$$,
       '30 minutes', '2024-01-01', time_zone => 'Europe/Berlin', coalesce_windows => true) > 0 AS accepted;
DROP TABLE binned, binned_src;

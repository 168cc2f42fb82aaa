-- A pipeline with 1,000,000 recorded ten-minute windows (19 years), for the
-- planning measurement of bench/run.sh.
CREATE TABLE history_t (bucket timestamptz, n bigint);
SELECT mb_register('history', 'history_t', 'bucket',
       $$SELECT date_bin('10 minutes', created_at, '2000-01-01') AS bucket, count(*) AS n
           FROM events_empty WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$,
       '10min', '2000-01-01', end_at => '2000-01-01'::timestamptz + 1000000 * interval '10 minutes');
INSERT INTO microbatch.windows (pipeline_id, window_start, window_end, status, attempts,
                                rows_deleted, rows_inserted, started_at, finished_at)
SELECT p.id, '2000-01-01'::timestamptz + i * interval '10 minutes',
       '2000-01-01'::timestamptz + (i + 1) * interval '10 minutes', 'succeeded', 1, 0, 0, now(), now()
  FROM microbatch.pipelines p, generate_series(0, 999999) i
 WHERE p.name = 'history';
VACUUM ANALYZE microbatch.windows;

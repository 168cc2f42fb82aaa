/* microbatch--0.2--0.3.sql: see CHANGELOG.md, "0.3" */

\echo Use "ALTER EXTENSION microbatch UPDATE TO '0.3'" to load this file. \quit

-- Scheduling and status (issue 12) ---------------------------------------------

-- why a run failed or could not start (no free worker slot, pipeline broken)
ALTER TABLE microbatch.runs ADD COLUMN error text;
COMMENT ON COLUMN microbatch.runs.error IS 'why the run failed or could not start';

-- what a pipeline's pg_cron job runs: mb_run, and when it fails, the reason
-- recorded in the run's row (a new failed row when it could not start),
-- committed before the error is raised again.  No SET clause: a procedure
-- with one cannot commit; it names everything with its schema.
CREATE PROCEDURE microbatch.run_job(name text)
AS 'MODULE_PATHNAME', 'microbatch_run_job'
LANGUAGE C;
COMMENT ON PROCEDURE microbatch.run_job(text)
	IS 'runs a pipeline as its pg_cron job does, recording why a run failed or could not start';

-- the pg_cron jobs of this database's pipelines, wherever pg_cron lives
CREATE FUNCTION microbatch.cron_jobs()
RETURNS TABLE (pipeline text, schedule text, last_job_status text, last_job_message text)
AS 'MODULE_PATHNAME', 'microbatch_cron_jobs'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION microbatch.cron_jobs()
	IS 'schedule and last pg_cron outcome of the jobs of pipelines whose owner the caller is a member of';

-- status: the schedule and the scheduler's last outcome (also of jobs that
-- never reached microbatch), the error of the last run, and lag 0 for a
-- pipeline complete up to its end_at
CREATE OR REPLACE VIEW microbatch.status WITH (security_barrier) AS
SELECT p.name AS pipeline,
	   p.enabled,
	   j.schedule,
	   hw.high_water,
	   CASE WHEN p.end_at IS NOT NULL AND done.complete THEN interval '0'
			ELSE pg_catalog.now() - hw.high_water END AS lag,
	   (SELECT pg_catalog.count(*) FROM microbatch.windows w
		 WHERE w.pipeline_id = p.id AND w.status <> 'succeeded'
		   AND w.status IN ('failed', 'running')
		   AND NOT (w.status = 'running' AND EXISTS (
				SELECT 1 FROM microbatch.runs r
				 WHERE r.run_id = w.run_id AND r.status = 'running'))) AS failed_windows,
	   microbatch.missing_windows(p.name) AS missing_windows,
	   -- a run holds its pipeline's advisory lock (see runlock.c) while it lasts
	   EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
			    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 19778
				  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
									 WHERE d.datname = pg_catalog.current_database())
				  AND l.classid = (p.id >> 32)::oid
				  AND l.objid = (p.id & 4294967295)::oid) AS running,
	   lr.started_at AS last_run_at,
	   lr.status AS last_run_status,
	   j.last_job_status,
	   j.last_job_message,
	   lr.error AS last_run_error
  FROM microbatch.pipelines p
  LEFT JOIN LATERAL (SELECT pg_catalog.max(w.window_end) AS high_water FROM microbatch.windows w
					  WHERE w.pipeline_id = p.id AND w.status = 'succeeded') hw ON true
  -- complete: a window reaching end_at succeeded (or was cut there, partial)
  LEFT JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM microbatch.windows w
									 WHERE w.pipeline_id = p.id AND w.window_end >= p.end_at
									   AND w.status IN ('succeeded', 'partial')) AS complete) done ON true
  LEFT JOIN LATERAL (SELECT r.started_at, r.status, r.error FROM microbatch.runs r
					  WHERE r.pipeline_id = p.id ORDER BY r.run_id DESC LIMIT 1) lr ON true
  LEFT JOIN microbatch.cron_jobs() j ON j.pipeline = p.name
 -- the view runs as its owner: show each role only its own pipelines, as the policies do
 WHERE pg_catalog.pg_has_role(CURRENT_USER, p.owner, 'MEMBER');
COMMENT ON VIEW microbatch.status IS 'one row per pipeline the caller may see: lag, failures, last run, last pg_cron job';

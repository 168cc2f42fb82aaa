/* microbatch--0.2--0.3.sql: hardening, data checks, scheduling anywhere */

\echo Use "ALTER EXTENSION microbatch UPDATE TO '0.3'" to load this file. \quit

-- Security and fault hardening (issue 8) -------------------------------------

-- why a run failed or could not start
ALTER TABLE microbatch.runs ADD COLUMN error text;

-- The pipelines some session is running now: each run holds an advisory
-- lock on its pipeline (runlock.c).  A window or run marked running under
-- any other pipeline belongs to a process that died.
CREATE FUNCTION microbatch.running_pipelines()
RETURNS SETOF bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT (l.classid::pg_catalog.int8 OPERATOR(pg_catalog.<<) 32)
		   OPERATOR(pg_catalog.|) l.objid::pg_catalog.int8
	  FROM pg_catalog.pg_locks l
	 WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted
	   AND l.objsubid OPERATOR(pg_catalog.=) 19778
	   AND l.database OPERATOR(pg_catalog.=)
		   (SELECT d.oid FROM pg_catalog.pg_database d
			 WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
$$;
COMMENT ON FUNCTION microbatch.running_pipelines()
	IS 'ids of the pipelines a session is running now';

-- The status view leaks nothing to a caller's functions (security_barrier:
-- the caller's conditions run after the view's own), names every function
-- and operator by its schema, and tells the truth after a crash: a window or
-- run left running by a process that died counts as failed.
CREATE OR REPLACE VIEW microbatch.status WITH (security_barrier) AS
SELECT p.name AS pipeline,
	   p.enabled,
	   microbatch.schedule_of(p.name) AS schedule,
	   hw.high_water,
	   pg_catalog.now() OPERATOR(pg_catalog.-) hw.high_water AS lag,
	   (SELECT pg_catalog.count(*) FROM microbatch.windows w
		 WHERE w.pipeline_id OPERATOR(pg_catalog.=) p.id
		   AND w.status OPERATOR(pg_catalog.<>) 'succeeded'
		   AND (w.status OPERATOR(pg_catalog.=) 'failed'
				OR (w.status OPERATOR(pg_catalog.=) 'running' AND NOT busy.running)))
		   AS failed_windows,
	   microbatch.missing_windows(p.name) AS missing_windows,
	   busy.running,
	   lr.started_at AS last_run_at,
	   CASE WHEN lr.status OPERATOR(pg_catalog.=) 'running' AND NOT busy.running
			THEN 'failed' ELSE lr.status END AS last_run_status
  FROM microbatch.pipelines p
 CROSS JOIN LATERAL (SELECT p.id OPERATOR(pg_catalog.=) ANY
							(ARRAY(SELECT microbatch.running_pipelines())) AS running) busy
  LEFT JOIN LATERAL (SELECT pg_catalog.max(w.window_end) AS high_water FROM microbatch.windows w
					  WHERE w.pipeline_id OPERATOR(pg_catalog.=) p.id
						AND w.status OPERATOR(pg_catalog.=) 'succeeded') hw ON true
  LEFT JOIN LATERAL (SELECT r.started_at, r.status FROM microbatch.runs r
					  WHERE r.pipeline_id OPERATOR(pg_catalog.=) p.id
					  ORDER BY r.run_id DESC LIMIT 1) lr ON true
 WHERE pg_catalog.pg_has_role(CURRENT_USER, p.owner, 'MEMBER');

/* microbatch--0.2--0.3.sql: see CHANGELOG.md, "0.3" */

\echo Use "ALTER EXTENSION microbatch UPDATE TO '0.3'" to load this file. \quit

-- Security and fault hardening (issue 8) -------------------------------------

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
RETURNS TABLE (pipeline text, schedule text, last_job_status text, last_job_message text,
			   jobid bigint)
AS 'MODULE_PATHNAME', 'microbatch_cron_jobs'
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION microbatch.cron_jobs()
	IS 'schedule and last pg_cron outcome of the jobs of pipelines whose owner the caller is a member of';

-- the pg_cron job mb_schedule made for a pipeline, by id (in pg_cron's
-- database): microbatch.status shows that job and no other, whoever else
-- has a job of the same name.  Cleared by mb_unschedule.
ALTER TABLE microbatch.pipelines ADD COLUMN cron_job bigint;
COMMENT ON COLUMN microbatch.pipelines.cron_job
	IS 'id of the pg_cron job mb_schedule created for the pipeline, NULL when it has none';
-- jobs made by 0.2: pg_cron in this database, the job named after the
-- pipeline and owned by its owner
DO $$
BEGIN
	IF pg_catalog.to_regclass('cron.job') IS NOT NULL THEN
		UPDATE microbatch.pipelines p SET cron_job = j.jobid
		  FROM cron.job j
		 WHERE j.jobname OPERATOR(pg_catalog.=) ('microbatch:' OPERATOR(pg_catalog.||) p.name)
		   AND j.database OPERATOR(pg_catalog.=) pg_catalog.current_database()
		   AND j.username OPERATOR(pg_catalog.=) pg_catalog.pg_get_userbyid(p.owner);
	END IF;
END
$$;

-- Data checks and refresh (issue 10) ---------------------------------------

-- mb_reset and mb_backfill refuse a pipeline whose allow_reset is false
ALTER TABLE microbatch.pipelines ADD COLUMN allow_reset bool NOT NULL DEFAULT true;

-- named checks that every window must pass before it commits
CREATE TABLE microbatch.checks (
	pipeline_id		bigint NOT NULL REFERENCES microbatch.pipelines (id) ON DELETE CASCADE,
	check_name		text NOT NULL,
	check_sql		text NOT NULL,
	PRIMARY KEY (pipeline_id, check_name)
);
COMMENT ON TABLE microbatch.checks IS 'data checks every window of a pipeline must pass: one row per mb_add_check';

SELECT pg_catalog.pg_extension_config_dump('microbatch.checks', '');
REVOKE ALL ON microbatch.checks FROM PUBLIC;
GRANT SELECT ON microbatch.checks TO PUBLIC;
ALTER TABLE microbatch.checks ENABLE ROW LEVEL SECURITY;
CREATE POLICY checks_of_member ON microbatch.checks FOR SELECT
	USING (EXISTS (SELECT 1 FROM microbatch.pipelines p WHERE p.id = pipeline_id));

CREATE FUNCTION mb_add_check(name text, check_name text, check_sql text)
RETURNS void
AS 'MODULE_PATHNAME', 'microbatch_add_check'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_add_check(text, text, text)
	IS 'add a check (min_rows N, max_rows N, not_null cols, unique cols, or a boolean SELECT) that every window must pass';

CREATE FUNCTION mb_drop_check(name text, check_name text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'microbatch_drop_check'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_drop_check(text, text)
	IS 'remove a check from a pipeline; false if it had none of that name';

DROP FUNCTION mb_reset(text);
CREATE FUNCTION mb_reset(name text, purge bool DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'microbatch_reset'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_reset(text, bool)
	IS 'forget all window state of a pipeline; purge also deletes target rows outside [begin_at, end_at)';

DROP FUNCTION mb_alter(text, text, int, timestamptz, int, text, bool);
CREATE FUNCTION mb_alter(name text, query text DEFAULT NULL, lookback int DEFAULT NULL,
						 end_at timestamptz DEFAULT NULL, max_parallel int DEFAULT NULL,
						 on_error text DEFAULT NULL, enabled bool DEFAULT NULL,
						 begin_at timestamptz DEFAULT NULL, allow_reset bool DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'microbatch_alter'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_alter(text, text, int, timestamptz, int, text, bool, timestamptz, bool)
	IS 'change the options of a pipeline that do not define its grid, move its begin_at, protect it from resets';

-- Change tracking and dependencies (issue 9) ---------------------------------

-- every relation a pipeline's query reads (its range table), for the
-- dependency graph: a pipeline depends on the pipelines whose target it reads
ALTER TABLE microbatch.pipelines ADD COLUMN reads regclass[] NOT NULL DEFAULT '{}';

-- the sources whose changes mark a pipeline's windows stale (mb_track)
CREATE TABLE microbatch.sources (
	pipeline_id		bigint NOT NULL REFERENCES microbatch.pipelines (id) ON DELETE CASCADE,
	source			regclass NOT NULL,
	event_time		text NOT NULL,
	-- changes at event times before it are captured: the end of the last
	-- window processed in full, raised by runs before they go past it
	-- (horizon.c); infinity until the pipeline's next run sets it
	horizon			timestamptz NOT NULL DEFAULT 'infinity',
	PRIMARY KEY (pipeline_id, source)
);
CREATE INDEX sources_source_idx ON microbatch.sources (source);
COMMENT ON TABLE microbatch.sources IS 'tracked sources: one row per mb_track';

-- Stale marks: one row per writing transaction and window it changed, written
-- in the writer's transaction (track.c), deleted by the window's own
-- replacement before its query reads the sources (executor.c).  No foreign
-- key: a writer must not wait for, or fail on, a pipeline being dropped;
-- runs delete the marks of pipelines that are gone.
CREATE TABLE microbatch.stale (
	pipeline_id		bigint NOT NULL,
	window_start	timestamptz NOT NULL,
	marked_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX stale_window_idx ON microbatch.stale (pipeline_id, window_start);
COMMENT ON TABLE microbatch.stale IS 'windows changed by writers to tracked sources since they were last processed';

SELECT pg_catalog.pg_extension_config_dump('microbatch.sources', '');
SELECT pg_catalog.pg_extension_config_dump('microbatch.stale', '');
REVOKE ALL ON microbatch.sources, microbatch.stale FROM PUBLIC;
GRANT SELECT ON microbatch.sources, microbatch.stale TO PUBLIC;
ALTER TABLE microbatch.sources ENABLE ROW LEVEL SECURITY;
ALTER TABLE microbatch.stale ENABLE ROW LEVEL SECURITY;
CREATE POLICY sources_of_member ON microbatch.sources FOR SELECT
	USING (EXISTS (SELECT 1 FROM microbatch.pipelines p WHERE p.id = pipeline_id));
CREATE POLICY stale_of_member ON microbatch.stale FOR SELECT
	USING (EXISTS (SELECT 1 FROM microbatch.pipelines p WHERE p.id = pipeline_id));

-- the trigger function mb_track puts on a source; it runs as the writer and
-- writes stale marks as the catalog owner
CREATE FUNCTION microbatch.track_changes()
RETURNS trigger
AS 'MODULE_PATHNAME', 'microbatch_track_changes'
LANGUAGE C;
COMMENT ON FUNCTION microbatch.track_changes()
	IS 'trigger of tracked sources: marks the processed windows their changes fall into stale';

-- The capture index: an index access method that stores nothing, put on the
-- tracked columns of a source, through which every inserted row passes
-- (capture.c).  Its operator classes have no members: it compares nothing.
CREATE FUNCTION microbatch.capture_handler(internal)
RETURNS index_am_handler
AS 'MODULE_PATHNAME', 'microbatch_capture_handler'
LANGUAGE C;
CREATE ACCESS METHOD microbatch_capture TYPE INDEX HANDLER microbatch.capture_handler;
COMMENT ON ACCESS METHOD microbatch_capture
	IS 'microbatch change capture: sees every row inserted into a tracked source, stores nothing';
CREATE OPERATOR CLASS microbatch.capture_timestamptz_ops DEFAULT FOR TYPE timestamptz
	USING microbatch_capture AS STORAGE timestamptz;
CREATE OPERATOR CLASS microbatch.capture_timestamp_ops DEFAULT FOR TYPE timestamp
	USING microbatch_capture AS STORAGE timestamp;
CREATE OPERATOR CLASS microbatch.capture_date_ops DEFAULT FOR TYPE date
	USING microbatch_capture AS STORAGE date;

-- the WHEN condition of the tracking triggers (updates and deletes): whether
-- a change at this event time may fall into a window processed in full.  It
-- runs as the writer, once per changed row, and only says yes or no.
CREATE FUNCTION microbatch.needs_mark(source regclass, event_time anyelement)
RETURNS boolean
AS 'MODULE_PATHNAME', 'microbatch_needs_mark'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION microbatch.needs_mark(regclass, anyelement)
	IS 'whether a change to a tracked source at this event time needs a stale mark';
GRANT EXECUTE ON FUNCTION microbatch.needs_mark(regclass, anyelement) TO PUBLIC;

-- Partition maintenance on tracked sources (issue 18, track_partition.c): a
-- TRUNCATE, DROP, DETACH or ATTACH of a partition marks the processed windows
-- of the rows it removed or added.  PostgreSQL clones no statement trigger
-- to partitions: every leaf partition under a tracked source gets this
-- BEFORE TRUNCATE trigger, and the event triggers below see the rest.
CREATE FUNCTION microbatch.track_partition_truncate()
RETURNS trigger
AS 'MODULE_PATHNAME', 'microbatch_track_partition_truncate'
LANGUAGE C;
COMMENT ON FUNCTION microbatch.track_partition_truncate()
	IS 'trigger of the partitions of tracked sources: marks the processed windows of a truncated partition stale';

-- before DROP TABLE, DROP SCHEMA or DROP OWNED takes a partition of a tracked
-- source, and before DETACH PARTITION removes its bounds
CREATE FUNCTION microbatch.on_partition_ddl_start()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'microbatch_on_partition_ddl_start'
LANGUAGE C;
COMMENT ON FUNCTION microbatch.on_partition_ddl_start()
	IS 'marks the processed windows of partitions of tracked sources about to be dropped; notes those about to be detached';
CREATE EVENT TRIGGER microbatch_partitions_before ON ddl_command_start
	WHEN TAG IN ('ALTER TABLE', 'DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
	EXECUTE FUNCTION microbatch.on_partition_ddl_start();

-- after CREATE TABLE ... PARTITION OF, ATTACH PARTITION and DETACH PARTITION
CREATE FUNCTION microbatch.on_partition_ddl_end()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'microbatch_on_partition_ddl_end'
LANGUAGE C;
COMMENT ON FUNCTION microbatch.on_partition_ddl_end()
	IS 'marks the processed windows of partitions attached to or detached from tracked sources; keeps the TRUNCATE trigger on their leaves';
CREATE EVENT TRIGGER microbatch_partitions_after ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'CREATE SCHEMA')
	EXECUTE FUNCTION microbatch.on_partition_ddl_end();

CREATE FUNCTION mb_track(name text, source regclass, event_time text)
RETURNS void
AS 'MODULE_PATHNAME', 'microbatch_track'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_track(text, regclass, text)
	IS 'mark the windows of a pipeline stale whenever rows of source with those event times change';

CREATE FUNCTION mb_untrack(name text, source regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'microbatch_untrack'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_untrack(text, regclass)
	IS 'stop tracking a source of a pipeline; false if it was not tracked';

-- the upstream pipelines that hold back windows of a pipeline, for the status view
CREATE FUNCTION microbatch.waiting_on(name text)
RETURNS text[]
AS 'MODULE_PATHNAME', 'microbatch_waiting_on'
LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION microbatch.waiting_on(text)
	IS 'the upstream pipelines that hold back windows the next run of a pipeline would process';

-- Speed: coalesced windows and bookkeeping (issue 11) ---

-- coalesce_windows: consecutive windows run as one DELETE and one INSERT
-- (coalesce.c); false keeps one statement pair per window
ALTER TABLE microbatch.pipelines ADD COLUMN coalesce_windows bool NOT NULL DEFAULT false;

-- State rows are rewritten in place: room on every page for the new
-- version, so that a window processed again (its status, window_end and
-- keys unchanged) is a HOT update that writes no index.  90, not lower: a
-- page is pruned whenever its free space falls below 100 - fillfactor
-- percent, and every prune is a WAL record.
ALTER TABLE microbatch.windows SET (fillfactor = 90);
ALTER TABLE microbatch.runs SET (fillfactor = 90);

-- Only catalog.c writes these columns, with constants; their CHECK
-- constraints were parsed again by every statement that wrote a row.
ALTER TABLE microbatch.windows DROP CONSTRAINT windows_status_check;
ALTER TABLE microbatch.runs DROP CONSTRAINT runs_status_check;
ALTER TABLE microbatch.runs DROP CONSTRAINT runs_kind_check;

-- The out-of-window guard: called on every row a window's INSERT writes,
-- raises on the first whose event time falls outside [lo, hi), and counts
-- rows per window of a coalesced chunk (guard.c).
CREATE FUNCTION microbatch.window_guard(event_time timestamptz, lo timestamptz, hi timestamptz)
RETURNS bool
AS 'MODULE_PATHNAME', 'microbatch_window_guard'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION microbatch.window_guard(timestamptz, timestamptz, timestamptz)
	IS 'true if event_time is in [lo, hi); raises otherwise (used in the INSERT of every window)';
GRANT EXECUTE ON FUNCTION microbatch.window_guard(timestamptz, timestamptz, timestamptz) TO PUBLIC;

-- the guard on a Citus cluster: the same test, immutable, so that Citus runs
-- it on the worker nodes, next to the rows (guard.c, citus.c)
CREATE FUNCTION microbatch.window_check(event_time timestamptz, lo timestamptz, hi timestamptz)
RETURNS bool
AS 'MODULE_PATHNAME', 'microbatch_window_check'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION microbatch.window_check(timestamptz, timestamptz, timestamptz)
	IS 'true if event_time is in [lo, hi); raises otherwise (the guard of windows on Citus)';
GRANT EXECUTE ON FUNCTION microbatch.window_check(timestamptz, timestamptz, timestamptz) TO PUBLIC;

-- counts a row a coalesced chunk's DELETE removes into its window (guard.c)
CREATE FUNCTION microbatch.window_deleted(event_time timestamptz)
RETURNS bool
AS 'MODULE_PATHNAME', 'microbatch_window_deleted'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION microbatch.window_deleted(timestamptz)
	IS 'counts a deleted row into its window of a coalesced chunk; always true';
GRANT EXECUTE ON FUNCTION microbatch.window_deleted(timestamptz) TO PUBLIC;

-- with track (issue 9) and coalesce_windows
DROP FUNCTION mb_register(text, regclass, text, text, text, timestamptz, int, timestamptz,
						  text, int, text);
CREATE FUNCTION mb_register(name text, target regclass, event_time text, query text,
							batch_size text, begin_at timestamptz, lookback int DEFAULT 1,
							end_at timestamptz DEFAULT NULL, time_zone text DEFAULT 'UTC',
							max_parallel int DEFAULT 1, on_error text DEFAULT 'stop',
							track bool DEFAULT false, coalesce_windows bool DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'microbatch_register'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_register(text, regclass, text, text, text, timestamptz, int, timestamptz,
								text, int, text, bool, bool)
	IS 'register a pipeline; track => true tracks the tables its query filters by $1/$2; coalesce_windows runs consecutive windows as one statement pair; returns its id';

DROP FUNCTION mb_alter(text, text, int, timestamptz, int, text, bool, timestamptz, bool);
CREATE FUNCTION mb_alter(name text, query text DEFAULT NULL, lookback int DEFAULT NULL,
						 end_at timestamptz DEFAULT NULL, max_parallel int DEFAULT NULL,
						 on_error text DEFAULT NULL, enabled bool DEFAULT NULL,
						 begin_at timestamptz DEFAULT NULL, allow_reset bool DEFAULT NULL,
						 coalesce_windows bool DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'microbatch_alter'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_alter(text, text, int, timestamptz, int, text, bool, timestamptz, bool, bool)
	IS 'change the options of a pipeline that do not define its grid, move its begin_at, protect it from resets, coalesce its windows';

-- Pipelines that feed pipelines (issue 18) ------------------------------------

-- a backfill that cascades to the downstreams of the pipeline it backfills
DROP PROCEDURE mb_backfill(text, timestamptz, timestamptz, int);
CREATE PROCEDURE mb_backfill(name text, start_time timestamptz, end_time timestamptz,
							 max_parallel int DEFAULT NULL, cascade bool DEFAULT false)
AS 'MODULE_PATHNAME', 'microbatch_backfill'
LANGUAGE C;
COMMENT ON PROCEDURE mb_backfill(text, timestamptz, timestamptz, int, bool)
	IS 'reprocess every window of a pipeline that overlaps [start_time, end_time); cascade then brings its downstreams up to date';

-- the end of a pipeline's contiguous processed prefix, for the status view's lag
CREATE FUNCTION microbatch.processed_through(name text)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'microbatch_processed_through'
LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION microbatch.processed_through(text)
	IS 'the instant every window of a pipeline before it has succeeded in full: a missing or failed window holds it back';

-- what every pipeline's query reads, analysed again as its owner with its
-- search_path (deps.c); called once at the end of this script
CREATE FUNCTION microbatch.recompute_reads()
RETURNS int
AS 'MODULE_PATHNAME', 'microbatch_recompute_reads'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION microbatch.recompute_reads()
	IS 'stores again the relations every pipeline''s query reads, for the dependency graph; returns how many were stored';
REVOKE ALL ON FUNCTION microbatch.recompute_reads() FROM PUBLIC;

-- Status ---------------------------------------------------------------------

-- The status view, once for all of 0.3.  It leaks nothing to a caller's
-- functions (security_barrier: the caller's conditions run after the view's
-- own) and names every function and operator by its schema (issue 8); it
-- tells the truth after a crash: a window or run left running by a process
-- that died counts as failed (issue 8); it shows the schedule and the
-- scheduler's last outcome, also of jobs that never reached microbatch, the
-- error of the last run, and lag 0 for a pipeline complete up to its end_at
-- (issue 12); and the stale windows and the upstreams a pipeline waits on
-- (issue 9).  Its lag runs from the end of the contiguous processed prefix,
-- so that a missing or failed window counts wherever later windows are
-- (issue 18): processed_through, 0 once it reaches end_at, none before a
-- window has succeeded.
CREATE OR REPLACE VIEW microbatch.status WITH (security_barrier) AS
SELECT p.name AS pipeline,
	   p.enabled,
	   j.schedule,
	   hw.high_water,
	   CASE WHEN hw.high_water IS NULL THEN NULL
			WHEN p.end_at IS NOT NULL AND pt.processed_through OPERATOR(pg_catalog.>=) p.end_at
			THEN interval '0'
			ELSE pg_catalog.now() OPERATOR(pg_catalog.-) pt.processed_through END AS lag,
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
			THEN 'failed' ELSE lr.status END AS last_run_status,
	   j.last_job_status,
	   j.last_job_message,
	   lr.error AS last_run_error,
	   (SELECT pg_catalog.count(DISTINCT s.window_start) FROM microbatch.stale s
		 WHERE s.pipeline_id OPERATOR(pg_catalog.=) p.id
		   AND EXISTS (SELECT 1 FROM microbatch.windows w
						WHERE w.pipeline_id OPERATOR(pg_catalog.=) p.id
						  AND w.window_start OPERATOR(pg_catalog.=) s.window_start
						  AND w.status OPERATOR(pg_catalog.=) ANY (ARRAY['succeeded', 'partial'])))
		   AS stale_windows,
	   microbatch.waiting_on(p.name) AS waiting_on,
	   CASE WHEN hw.high_water IS NOT NULL THEN pt.processed_through END AS processed_through
  FROM microbatch.pipelines p
 CROSS JOIN LATERAL (SELECT p.id OPERATOR(pg_catalog.=) ANY
							(ARRAY(SELECT microbatch.running_pipelines())) AS running) busy
  LEFT JOIN LATERAL (SELECT pg_catalog.max(w.window_end) AS high_water FROM microbatch.windows w
					  WHERE w.pipeline_id OPERATOR(pg_catalog.=) p.id
						AND w.status OPERATOR(pg_catalog.=) 'succeeded') hw ON true
  CROSS JOIN LATERAL (SELECT microbatch.processed_through(p.name) AS processed_through) pt
  LEFT JOIN LATERAL (SELECT r.started_at, r.status, r.error FROM microbatch.runs r
					  WHERE r.pipeline_id OPERATOR(pg_catalog.=) p.id
					  ORDER BY r.run_id DESC LIMIT 1) lr ON true
  LEFT JOIN microbatch.cron_jobs() j ON j.jobid OPERATOR(pg_catalog.=) p.cron_job
									  AND j.pipeline OPERATOR(pg_catalog.=) p.name
 WHERE pg_catalog.pg_has_role(CURRENT_USER, p.owner, 'MEMBER');
COMMENT ON VIEW microbatch.status IS 'one row per pipeline the caller may see: lag, failures, last run, last pg_cron job';

-- Pipelines registered before 0.3 have no graph: read their queries again
-- (issue 18), now that pipelines.reads and the functions above exist.
-- Keep this last: it reads every pipeline through the whole 0.3 catalog.
SELECT microbatch.recompute_reads();

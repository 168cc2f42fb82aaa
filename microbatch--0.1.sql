/* microbatch--0.1.sql: catalog, views and SQL interface of microbatch 0.1 */

\echo Use "CREATE EXTENSION microbatch" to load this file. \quit

CREATE SCHEMA microbatch;
COMMENT ON SCHEMA microbatch IS 'catalog of the microbatch extension';

-- Pipelines ----------------------------------------------------------------

CREATE SEQUENCE microbatch.pipelines_id_seq;

CREATE TABLE microbatch.pipelines (
	id				bigint PRIMARY KEY DEFAULT nextval('microbatch.pipelines_id_seq'),
	name			text NOT NULL UNIQUE,
	owner			regrole NOT NULL,
	target			regclass NOT NULL,
	event_time		text NOT NULL,
	query			text NOT NULL,
	batch_size		text NOT NULL,
	time_zone		text NOT NULL,
	begin_at		timestamptz NOT NULL,
	end_at			timestamptz,
	lookback		int NOT NULL CHECK (lookback >= 0),
	max_parallel	int NOT NULL CHECK (max_parallel >= 1),
	on_error		text NOT NULL CHECK (on_error IN ('stop', 'continue')),
	enabled			bool NOT NULL DEFAULT true,
	search_path		text NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now(),
	-- every window that starts before this instant has a state row: planning
	-- looks for gaps only after it
	contiguous_until timestamptz NOT NULL,
	CHECK (end_at IS NULL OR end_at > begin_at)
);
ALTER SEQUENCE microbatch.pipelines_id_seq OWNED BY microbatch.pipelines.id;

COMMENT ON TABLE microbatch.pipelines IS 'registered pipelines: one row per mb_register';

-- Window state ---------------------------------------------------------------

CREATE TABLE microbatch.windows (
	pipeline_id		bigint NOT NULL REFERENCES microbatch.pipelines (id) ON DELETE CASCADE,
	window_start	timestamptz NOT NULL,
	window_end		timestamptz NOT NULL,
	status			text NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'stale')),
	attempts		int NOT NULL DEFAULT 0,
	rows_deleted	bigint,
	rows_inserted	bigint,
	run_id			bigint,
	started_at		timestamptz,
	finished_at		timestamptz,
	sqlstate		text,
	error			text,
	PRIMARY KEY (pipeline_id, window_start)
);

-- the windows a run must look at (failed, partial, stale, running) are few:
-- planning reads them through this index, never the whole history
CREATE INDEX windows_pending_idx ON microbatch.windows (pipeline_id, window_start)
	WHERE status <> 'succeeded';
-- the high-water mark: latest end of a window that succeeded in full
CREATE INDEX windows_succeeded_end_idx ON microbatch.windows (pipeline_id, window_end)
	WHERE status = 'succeeded';

COMMENT ON TABLE microbatch.windows IS 'latest state of every window ever attempted';

-- Runs -----------------------------------------------------------------------

CREATE SEQUENCE microbatch.runs_run_id_seq;

CREATE TABLE microbatch.runs (
	run_id			bigint PRIMARY KEY DEFAULT nextval('microbatch.runs_run_id_seq'),
	pipeline_id		bigint NOT NULL REFERENCES microbatch.pipelines (id) ON DELETE CASCADE,
	kind			text NOT NULL CHECK (kind IN ('run', 'backfill', 'retry')),
	started_at		timestamptz NOT NULL,
	finished_at		timestamptz,
	status			text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
	windows_total	int NOT NULL,
	windows_done	int NOT NULL DEFAULT 0,
	succeeded		int NOT NULL DEFAULT 0,
	failed			int NOT NULL DEFAULT 0,
	skipped			int NOT NULL DEFAULT 0,
	rows_deleted	bigint NOT NULL DEFAULT 0,
	rows_inserted	bigint NOT NULL DEFAULT 0,
	pid				int
);
ALTER SEQUENCE microbatch.runs_run_id_seq OWNED BY microbatch.runs.run_id;
CREATE INDEX runs_pipeline_idx ON microbatch.runs (pipeline_id, run_id);

COMMENT ON TABLE microbatch.runs IS 'one row per mb_run, mb_retry or mb_backfill, updated as windows commit';

-- Catalog rows survive pg_dump; ordinary roles read only their own pipelines.
SELECT pg_catalog.pg_extension_config_dump('microbatch.pipelines', '');
SELECT pg_catalog.pg_extension_config_dump('microbatch.pipelines_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('microbatch.windows', '');
SELECT pg_catalog.pg_extension_config_dump('microbatch.runs', '');
SELECT pg_catalog.pg_extension_config_dump('microbatch.runs_run_id_seq', '');

REVOKE ALL ON ALL TABLES IN SCHEMA microbatch FROM PUBLIC;
GRANT USAGE ON SCHEMA microbatch TO PUBLIC;
GRANT SELECT ON microbatch.pipelines, microbatch.windows, microbatch.runs TO PUBLIC;

ALTER TABLE microbatch.pipelines ENABLE ROW LEVEL SECURITY;
ALTER TABLE microbatch.windows ENABLE ROW LEVEL SECURITY;
ALTER TABLE microbatch.runs ENABLE ROW LEVEL SECURITY;

CREATE POLICY pipelines_of_member ON microbatch.pipelines FOR SELECT
	USING (pg_catalog.pg_has_role(current_user, owner, 'MEMBER'));
CREATE POLICY windows_of_member ON microbatch.windows FOR SELECT
	USING (EXISTS (SELECT 1 FROM microbatch.pipelines p WHERE p.id = pipeline_id));
CREATE POLICY runs_of_member ON microbatch.runs FOR SELECT
	USING (EXISTS (SELECT 1 FROM microbatch.pipelines p WHERE p.id = pipeline_id));

-- Functions ------------------------------------------------------------------

CREATE FUNCTION mb_windows(batch_size text, start_time timestamptz, end_time timestamptz,
						   time_zone text DEFAULT 'UTC')
RETURNS TABLE (window_start timestamptz, window_end timestamptz)
AS 'MODULE_PATHNAME', 'microbatch_windows'
LANGUAGE C STABLE;
COMMENT ON FUNCTION mb_windows(text, timestamptz, timestamptz, text)
	IS 'every window of the grid that overlaps [start_time, end_time)';

CREATE FUNCTION mb_register(name text, target regclass, event_time text, query text,
							batch_size text, begin_at timestamptz,
							lookback int DEFAULT 1, end_at timestamptz DEFAULT NULL,
							time_zone text DEFAULT 'UTC', max_parallel int DEFAULT 1,
							on_error text DEFAULT 'stop')
RETURNS bigint
AS 'MODULE_PATHNAME', 'microbatch_register'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_register(text, regclass, text, text, text, timestamptz, int, timestamptz, text, int, text)
	IS 'register a pipeline; returns its id';

CREATE FUNCTION mb_alter(name text, query text DEFAULT NULL, lookback int DEFAULT NULL,
						 end_at timestamptz DEFAULT NULL, max_parallel int DEFAULT NULL,
						 on_error text DEFAULT NULL, enabled bool DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'microbatch_alter'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_alter(text, text, int, timestamptz, int, text, bool)
	IS 'change the options of a pipeline that do not define its grid';

CREATE FUNCTION mb_reset(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'microbatch_reset'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_reset(text) IS 'forget all window state of a pipeline';

CREATE FUNCTION mb_drop(name text)
RETURNS void
AS 'MODULE_PATHNAME', 'microbatch_drop'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_drop(text) IS 'remove a pipeline, its state and its schedule (not its target)';

CREATE FUNCTION mb_plan(name text, start_time timestamptz DEFAULT NULL,
						end_time timestamptz DEFAULT NULL)
RETURNS TABLE (window_start timestamptz, window_end timestamptz, reason text)
AS 'MODULE_PATHNAME', 'microbatch_plan'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_plan(text, timestamptz, timestamptz)
	IS 'the windows mb_run (or a backfill of the range) would process, and why';

CREATE FUNCTION mb_run_window(name text, window_start timestamptz)
RETURNS TABLE (rows_deleted bigint, rows_inserted bigint)
AS 'MODULE_PATHNAME', 'microbatch_run_window'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_run_window(text, timestamptz)
	IS 'replace one window inside the caller''s transaction';

CREATE FUNCTION mb_run(name text DEFAULT NULL, max_parallel int DEFAULT NULL)
RETURNS TABLE (pipeline text, run_id bigint, windows int, succeeded int, failed int,
			   skipped int, rows_deleted bigint, rows_inserted bigint, elapsed interval)
AS 'MODULE_PATHNAME', 'microbatch_run'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_run(text, int)
	IS 'process new, failed, missing, lookback and partial windows in background workers';

CREATE FUNCTION mb_retry(name text, max_parallel int DEFAULT NULL)
RETURNS TABLE (pipeline text, run_id bigint, windows int, succeeded int, failed int,
			   skipped int, rows_deleted bigint, rows_inserted bigint, elapsed interval)
AS 'MODULE_PATHNAME', 'microbatch_retry'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_retry(text, int) IS 'process the failed windows of a pipeline';

CREATE PROCEDURE mb_backfill(name text, start_time timestamptz, end_time timestamptz,
							 max_parallel int DEFAULT NULL)
AS 'MODULE_PATHNAME', 'microbatch_backfill'
LANGUAGE C;
COMMENT ON PROCEDURE mb_backfill(text, timestamptz, timestamptz, int)
	IS 'reprocess every window of a pipeline that overlaps [start_time, end_time)';

CREATE PROCEDURE mb_backfill(start_time timestamptz, end_time timestamptz)
AS 'MODULE_PATHNAME', 'microbatch_backfill_all'
LANGUAGE C;
COMMENT ON PROCEDURE mb_backfill(timestamptz, timestamptz)
	IS 'reprocess the windows overlapping [start_time, end_time) of every enabled pipeline';

CREATE FUNCTION mb_schedule(name text, schedule text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'microbatch_schedule'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_schedule(text, text)
	IS 'run the pipeline on a pg_cron schedule, as its owner; returns the job id';

CREATE FUNCTION mb_unschedule(name text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'microbatch_unschedule'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_unschedule(text) IS 'remove the pipeline''s pg_cron job';

CREATE FUNCTION microbatch.schedule_of(name text)
RETURNS text
AS 'MODULE_PATHNAME', 'microbatch_schedule_of'
LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION microbatch.schedule_of(text)
	IS 'the pg_cron schedule of a pipeline, or NULL';

-- Status ---------------------------------------------------------------------

CREATE FUNCTION microbatch.missing_windows(name text)
RETURNS int
AS 'MODULE_PATHNAME', 'microbatch_missing_windows'
LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION microbatch.missing_windows(text)
	IS 'how many windows before the high-water mark of a pipeline were never processed';

CREATE VIEW microbatch.status AS
SELECT p.name AS pipeline,
	   p.enabled,
	   microbatch.schedule_of(p.name) AS schedule,
	   hw.high_water,
	   now() - hw.high_water AS lag,
	   (SELECT count(*) FROM microbatch.windows w
		 WHERE w.pipeline_id = p.id AND w.status <> 'succeeded'
		   AND w.status IN ('failed', 'running')
		   AND NOT (w.status = 'running' AND EXISTS (
				SELECT 1 FROM microbatch.runs r
				 WHERE r.run_id = w.run_id AND r.status = 'running'))) AS failed_windows,
	   microbatch.missing_windows(p.name) AS missing_windows,
	   -- a run holds its pipeline's advisory lock (see runlock.c) while it lasts
	   EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
			    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 19778
				  AND l.database = (SELECT oid FROM pg_catalog.pg_database
									 WHERE datname = pg_catalog.current_database())
				  AND l.classid = (p.id >> 32)::oid
				  AND l.objid = (p.id & 4294967295)::oid) AS running,
	   lr.started_at AS last_run_at,
	   lr.status AS last_run_status
  FROM microbatch.pipelines p
  LEFT JOIN LATERAL (SELECT max(w.window_end) AS high_water FROM microbatch.windows w
					  WHERE w.pipeline_id = p.id AND w.status = 'succeeded') hw ON true
  LEFT JOIN LATERAL (SELECT r.started_at, r.status FROM microbatch.runs r
					  WHERE r.pipeline_id = p.id ORDER BY r.run_id DESC LIMIT 1) lr ON true
 -- the view runs as its owner: show each role only its own pipelines, as the policies do
 WHERE pg_catalog.pg_has_role(current_user, p.owner, 'MEMBER');
GRANT SELECT ON microbatch.status TO PUBLIC;
COMMENT ON VIEW microbatch.status IS 'one row per pipeline the caller may see: lag, failures, last run';

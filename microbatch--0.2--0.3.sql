/* microbatch--0.2--0.3.sql: microbatch 0.3 */

\echo Use "ALTER EXTENSION microbatch UPDATE TO '0.3'" to load this file. \quit

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

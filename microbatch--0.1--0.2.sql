/* microbatch--0.1--0.2.sql: lifecycle of pipelines and pruning of run history */

\echo Use "ALTER EXTENSION microbatch UPDATE TO '0.2'" to load this file. \quit

-- A dropped target disables its pipelines and removes their pg_cron jobs.
CREATE FUNCTION microbatch.on_sql_drop()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'microbatch_on_sql_drop'
LANGUAGE C;
COMMENT ON FUNCTION microbatch.on_sql_drop()
	IS 'disables the pipelines whose target table was dropped';
CREATE EVENT TRIGGER microbatch_target_dropped ON sql_drop
	EXECUTE FUNCTION microbatch.on_sql_drop();

-- DROP EXTENSION microbatch removes the pg_cron jobs it created.
CREATE FUNCTION microbatch.on_drop_extension()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'microbatch_on_drop_extension'
LANGUAGE C;
COMMENT ON FUNCTION microbatch.on_drop_extension()
	IS 'removes the pg_cron jobs of every pipeline when the extension is dropped';
CREATE EVENT TRIGGER microbatch_extension_dropped ON ddl_command_start
	WHEN TAG IN ('DROP EXTENSION')
	EXECUTE FUNCTION microbatch.on_drop_extension();

-- Run history can be pruned; window state is always kept.
CREATE FUNCTION mb_prune(older_than interval DEFAULT '30 days', name text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'microbatch_prune'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION mb_prune(interval, text)
	IS 'delete runs finished longer ago than older_than; window state is kept';


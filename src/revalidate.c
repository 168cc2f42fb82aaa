/*-------------------------------------------------------------------------
 *
 * revalidate.c
 *	  Checking again, under the lock a window takes, what a run prepared
 *	  from the catalog.
 *
 * A run writes and prepares its statements once (executor.c), in one
 * transaction, and runs its windows in later ones: in background workers,
 * in a backfill that commits after every window.  Between two windows the
 * owner of the target, or anyone who may alter it, can drop, rename or
 * recreate the table, or retype its event-time column.  The plan cache
 * analyses a kept statement again when a table it reads changes, which
 * keeps the query's own columns honest, but not what the run derived from
 * the catalog by itself: the target's OID, the names in the statements'
 * text, and above all the event-time column's type, which decides how a
 * window's bounds are passed (a timestamptz is passed by value; a text
 * column would take that value for a pointer).
 *
 * So before a window touches the target it locks the target as its DELETE
 * would (RowExclusiveLock, which waits for a running ALTER TABLE and then
 * sees its result), and compares the catalog with what the run prepared.
 * Any difference fails the window with a clear error and writes nothing;
 * the next run prepares its statements afresh from the catalog as it is
 * then.  This costs one lock the DELETE would take anyway and a few
 * syscache lookups per window.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "revalidate.h"

/*
 * TargetShapeRead notes what the statements of a run are written for: the
 * target, its names, and its event-time column, whose type must be one
 * windows can be compared with.
 */
void
TargetShapeRead(TargetShape *shape, Pipeline *pipeline)
{
	shape->relid = pipeline->target;
	shape->event_type = PipelineEventTimeType(pipeline);
	shape->event_attnum = get_attnum(pipeline->target, pipeline->event_time);
	shape->schema = get_namespace_name(get_rel_namespace(pipeline->target));
	shape->table = get_rel_name(pipeline->target);
	if (shape->schema == NULL || shape->table == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("target table of pipeline \"%s\" no longer exists", pipeline->name)));
}

/*
 * TargetShapeRecheck locks the target for a window and fails, writing
 * nothing, when the table is no longer the one the run's statements were
 * written for.
 */
void
TargetShapeRecheck(const TargetShape *shape, Pipeline *pipeline)
{
	HeapTuple	tuple;
	Form_pg_attribute attribute;
	char	   *schema;
	char	   *table;

	LockRelationOid(shape->relid, RowExclusiveLock);

	schema = get_namespace_name(get_rel_namespace(shape->relid));
	table = get_rel_name(shape->relid);
	if (schema == NULL || table == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("target table \"%s.%s\" of pipeline \"%s\" was dropped during the run",
						shape->schema, shape->table, pipeline->name),
				 errhint("Drop the pipeline with mb_drop('%s') and register it again.",
						 pipeline->name)));
	if (strcmp(schema, shape->schema) != 0 || strcmp(table, shape->table) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("target table \"%s.%s\" of pipeline \"%s\" was renamed to \"%s.%s\" during the run",
						shape->schema, shape->table, pipeline->name, schema, table),
				 errhint("Run the pipeline again: a new run uses the new name.")));

	tuple = SearchSysCacheAttName(shape->relid, pipeline->event_time);
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("event-time column \"%s\" of pipeline \"%s\" no longer exists in table \"%s\"",
						pipeline->event_time, pipeline->name, table)));
	attribute = (Form_pg_attribute) GETSTRUCT(tuple);
	if (attribute->attnum != shape->event_attnum || attribute->atttypid != shape->event_type)
	{
		Oid			now_type = attribute->atttypid;

		ReleaseSysCache(tuple);
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("event-time column \"%s\" of table \"%s\" changed during the run of pipeline \"%s\"",
						pipeline->event_time, table, pipeline->name),
				 errdetail("The run was prepared for type %s; the column is now of type %s.",
						   format_type_be(shape->event_type), format_type_be(now_type)),
				 errhint("Run the pipeline again: a new run checks the column as it is now.")));
	}
	ReleaseSysCache(tuple);
}

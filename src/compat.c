/*-------------------------------------------------------------------------
 *
 * compat.c
 *	  What older PostgreSQL versions lack, written once (see compat.h).
 *	  Everything may call it; it calls nothing of microbatch's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"
#endif

#include "compat.h"

#if PG_VERSION_NUM < 150000
/*
 * MicrobatchInitMaterializedSRF sets a set-returning function up to return
 * a tuplestore, as InitMaterializedSRF does from PostgreSQL 15 on.
 */
void
MicrobatchInitMaterializedSRF(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old_context;
	TupleDesc	desc;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	old_context = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->setDesc = CreateTupleDescCopy(desc);
	MemoryContextSwitchTo(old_context);
}
#endif

/*
 * MicrobatchParseInterval parses text as an interval into *result, and
 * returns false instead of raising when it is not one.
 */
bool
MicrobatchParseInterval(const char *text, Interval *result)
{
#if PG_VERSION_NUM >= 160000
	ErrorSaveContext escontext = {T_ErrorSaveContext};
	Datum		value;

	if (!DirectInputFunctionCallSafe(interval_in, (char *) text, InvalidOid, -1,
									 (Node *) &escontext, &value))
		return false;
	*result = *DatumGetIntervalP(value);
	return true;
#else
	MemoryContext context = CurrentMemoryContext;
	bool		parsed = true;

	/* interval_in holds no resource when it raises: nothing to roll back */
	PG_TRY();
	{
		*result = *DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(text),
														 ObjectIdGetDatum(InvalidOid),
														 Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(context);
		FlushErrorState();
		parsed = false;
	}
	PG_END_TRY();
	return parsed;
#endif
}

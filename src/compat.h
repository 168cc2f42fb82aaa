/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The differences between PostgreSQL versions that microbatch meets,
 *	  in one place.  Built and tested on 15; 13 and 14 are kept within reach.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_COMPAT_H
#define MICROBATCH_COMPAT_H

#include "executor/spi.h"
#include "fmgr.h"

#if PG_VERSION_NUM < 150000
#include "utils/guc.h"

#define parse_analyze_fixedparams(raw, text, types, ntypes, env) \
	parse_analyze(raw, text, types, ntypes, env)
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#define InitMaterializedSRF(fcinfo, flags) MicrobatchInitMaterializedSRF(fcinfo)
extern void MicrobatchInitMaterializedSRF(FunctionCallInfo fcinfo);

/* before 15, SPI_commit left no transaction open */
#define MicrobatchCommit() \
	do { SPI_commit(); SPI_start_transaction(); } while (0)
#else
#define MicrobatchCommit() SPI_commit()
#endif

#endif							/* MICROBATCH_COMPAT_H */

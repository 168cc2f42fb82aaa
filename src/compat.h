/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  The differences between PostgreSQL versions that microbatch meets,
 *	  in one place.
 *
 *	  Supported: PostgreSQL 13, 15, 17, 18 and 19, the majors CI builds
 *	  with -Werror and runs the whole suite on: 13 to 18 as Debian packages
 *	  them with pg_cron (test/chroot.sh), 19 built from source with
 *	  assertions (test/pg-cassert.sh).  14 and 16 lie between tested majors
 *	  and are not claimed, but nothing here assumes they are absent: a shim
 *	  is keyed to the major that brought what it replaces.  The Makefile
 *	  refuses other majors, and so does this header.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MICROBATCH_COMPAT_H
#define MICROBATCH_COMPAT_H

#include "executor/spi.h"
#include "fmgr.h"

#if PG_VERSION_NUM < 130000 || PG_VERSION_NUM >= 200000
#ifndef MICROBATCH_UNSUPPORTED_OK
#error "microbatch supports PostgreSQL 13 to 19"
#endif
#endif

/* 14 gave raw_parser a mode; microbatch parses whole statements only */
#if PG_VERSION_NUM < 140000
#include "parser/parser.h"

#define RAW_PARSE_DEFAULT 0
#define raw_parser(str, mode) raw_parser(str)
#endif

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

/* 19 renamed date2timestamptz_opt_overflow; microbatch passes no overflow */
#if PG_VERSION_NUM >= 190000
#define date2timestamptz_opt_overflow(date, overflow) \
	date2timestamptz_safe((date), NULL)
#endif

#if PG_VERSION_NUM < 150000
/* strtoi64 came with PostgreSQL 15 */
#define strtoi64(str, endptr, base) ((int64) strtoll((str), (endptr), (base)))
#endif

/* PostgreSQL 14 gave index_insert an indexUnchanged hint */
#if PG_VERSION_NUM < 140000
#define MicrobatchIndexInsert(index, keys, nulls, tid, heap, check, info) \
	index_insert((index), (keys), (nulls), (tid), (heap), (check), (info))
#else
#define MicrobatchIndexInsert(index, keys, nulls, tid, heap, check, info) \
	index_insert((index), (keys), (nulls), (tid), (heap), (check), false, (info))
#endif

/*
 * Parsing an interval without raising: a GUC check hook must never throw
 * (16 brought soft errors to input functions; before, compat.c catches).
 */
#include "datatype/timestamp.h"
extern bool MicrobatchParseInterval(const char *text, Interval *result);

/* a GUC check hook's extra: malloc'd before 16, in GUC's own context since */
#if PG_VERSION_NUM >= 160000
#include "utils/guc.h"
#define MicrobatchGucMalloc(size) guc_malloc(LOG, (size))
#else
#define MicrobatchGucMalloc(size) malloc(size)
#endif

/* 17 gave pg_locks' entries a whole virtual transaction id */
#include "storage/lock.h"

/* 17 let LockHeldByMe accept stronger modes; microbatch asks for one mode */
#if PG_VERSION_NUM >= 170000
#define LockHeldByMeInMode(tag, mode) LockHeldByMe((tag), (mode), false)
#else
#define LockHeldByMeInMode(tag, mode) LockHeldByMe((tag), (mode))
#endif
#if PG_VERSION_NUM >= 170000
#define LockInstanceVxid(instance) ((instance)->vxid)
#else
static inline VirtualTransactionId
LockInstanceVxid(const LockInstanceData *instance)
{
	VirtualTransactionId vxid;

	vxid.backendId = instance->backend;
	vxid.localTransactionId = instance->lxid;
	return vxid;
}
#endif

#endif							/* MICROBATCH_COMPAT_H */

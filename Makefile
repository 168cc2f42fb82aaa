# microbatch: incremental, window-by-window maintenance of derived tables.
EXTENSION = microbatch
EXTVERSION = 0.1

MODULE_big = microbatch
OBJS = \
	src/microbatch.o \
	src/grid.o \
	src/catalog.o \
	src/pipeline.o \
	src/executor.o \
	src/checks.o \
	src/refresh.o \
	src/plan.o \
	src/progress.o \
	src/run.o \
	src/runlock.o \
	src/launcher.o \
	src/lifecycle.o \
	src/worker.o \
	src/cron.o \
	src/sandbox.o \
	src/guard.o \
	src/coalesce.o

DATA = $(wildcard $(EXTENSION)--*.sql)
PGFILEDESC = "microbatch - incremental time-window pipelines"

REGRESS = windows register run failure security checks refresh coalesce hardening
REGRESS_OPTS = --temp-config=test/test.conf --temp-instance=tmp_check_regress
ISOLATION = backfill_twice backfill_vs_insert
ISOLATION_OPTS = --inputdir=test --temp-config=test/test.conf --temp-instance=tmp_check_iso
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CFLAGS = -Wall -Werror
PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)


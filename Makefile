# microbatch: incremental, window-by-window maintenance of derived tables.
EXTENSION = microbatch
# the version is the control file's default_version, and only there
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = microbatch
OBJS = \
	src/microbatch.o \
	src/compat.o \
	src/grid.o \
	src/catalog.o \
	src/pipeline.o \
	src/manage.o \
	src/executor.o \
	src/revalidate.o \
	src/checks.o \
	src/refresh.o \
	src/targets.o \
	src/plan.o \
	src/progress.o \
	src/run.o \
	src/runlock.o \
	src/runrecord.o \
	src/launcher.o \
	src/lifecycle.o \
	src/worker.o \
	src/cron.o \
	src/cron_call.o \
	src/sandbox.o \
	src/citus.o \
	src/track.o \
	src/track_query.o \
	src/track_partition.o \
	src/deps.o \
	src/reads.o \
	src/guard.o \
	src/coalesce.o \
	src/coalesce_rules.o \
	src/horizon.o \
	src/capture.o

DATA = $(wildcard $(EXTENSION)--*.sql)
DOCS = README.md CHANGELOG.md LICENSE $(wildcard doc/*.md)
PGFILEDESC = "microbatch - incremental time-window pipelines"

REGRESS = windows register run failure security checks refresh targets tracking tracking_partitions running_total dependencies graph coalesce coalesce_bins hardening revalidate
REGRESS_OPTS = --temp-config=test/test.conf --temp-instance=tmp_check_regress
ISOLATION = backfill_twice backfill_vs_insert track_vs_window track_horizon track_long_writer track_attach_vs_window retype_mid_run
ISOLATION_OPTS = --inputdir=test --temp-config=test/test.conf --temp-instance=tmp_check_iso
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

# warnings are errors in development and CI builds (make WERROR=1), never
# for someone building a release against a compiler we have not met
PG_CFLAGS = -Wall
ifdef WERROR
PG_CFLAGS += -Werror
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track headers: rebuild everything when one changes, or a
# stale object would read a changed struct at its old offsets.  (After the
# include: a rule before it would become the default goal.)
$(OBJS): $(wildcard src/*.h)

# the majors src/compat.h knows: the ones CI tests (13 15 17 18 19) and
# the two between them (14 16), which build but are not tested, so not
# claimed; anything else is refused
SUPPORTED_MAJORS = 13 14 15 16 17 18 19
ifeq ($(filter $(MAJORVERSION),$(SUPPORTED_MAJORS)),)
$(error microbatch supports PostgreSQL 13, 15, 17, 18 and 19; $(PG_CONFIG) is PostgreSQL $(MAJORVERSION). Build against a supported server with make PG_CONFIG=/path/to/pg_config)
endif

# the docs go to their own directory: README.md and doc/*.md keep their names
docmoduledir := extension/$(EXTENSION)
uninstall: uninstall-docs
.PHONY: uninstall-docs
uninstall-docs:
	rm -rf '$(DESTDIR)$(docdir)/$(docmoduledir)'

# META.json and the control file agree on the version (PGXN wants three
# parts: control file 0.3 is release 0.3.0); make dist packs that release
PGXN_VERSION = $(EXTVERSION).0
.PHONY: check-version dist
check-version:
	@test "$$(grep -c '"version": "$(PGXN_VERSION)"' META.json)" -eq 2 || \
		{ echo "META.json does not carry version $(PGXN_VERSION) (default_version $(EXTVERSION) of $(EXTENSION).control)" >&2; exit 1; }
	@grep -q '^## $(EXTVERSION) ' CHANGELOG.md || \
		{ echo "CHANGELOG.md has no section for $(EXTVERSION)" >&2; exit 1; }
dist: check-version
	git archive --format zip --prefix=$(EXTENSION)-$(PGXN_VERSION)/ -o $(EXTENSION)-$(PGXN_VERSION).zip HEAD

#!/usr/bin/env bash
# Runs microbatch's test suite against PostgreSQL 19 built from source with
# assertions on (--enable-cassert: every Assert is checked and freed memory
# is clobbered, so a use after free fails every time instead of by chance).
#
#   bash test/pg-cassert.sh build   build it (or reuse the cached build)
#   bash test/pg-cassert.sh test    build it if needed, then run the whole
#                                   suite against a throwaway copy of it
#
# The build is ../shared/postgresql/build.sh (MICROBATCH_PG_SOURCE names
# another directory holding build.sh), with pg_cron, cached in
# $MICROBATCH_PG_CACHE/19-cassert (default /var/cache/microbatch-pg),
# outside the checkout: about 8 minutes on 2 cores, once.  It runs with a
# lower priority (nice), so that suites running meanwhile keep their cores.
# The suite runs on this machine (Debian 12: the build links against its
# libraries) as the postgres user, created if missing; microbatch is
# installed into a copy of the build made for the run, so the cache stays as
# built and parallel runs never meet.  Needs root for the first build.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${MICROBATCH_PG_CACHE:-/var/cache/microbatch-pg}
SOURCE=${MICROBATCH_PG_SOURCE:-../shared/postgresql}
PREFIX=$CACHE/19-cassert

# build makes PostgreSQL 19 in $PREFIX unless build.sh finds it there.
build() {
	if [ ! -f "$SOURCE/build.sh" ]; then
		echo "pg-cassert.sh: $SOURCE/build.sh is missing (set MICROBATCH_PG_SOURCE)" >&2
		return 1
	fi
	mkdir -p "$CACHE"
	# one build at a time, even from parallel runs
	exec {lock}>"$PREFIX.lock"
	flock "$lock"
	nice -n 10 bash "$SOURCE/build.sh" "$PREFIX"
	flock -u "$lock"
}

# run_suite runs the suite against a copy of the build, as the postgres
# user, as the README's test command would.
run_suite() {
	local copy rc=0
	build
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "== creating the postgres user (PostgreSQL refuses to run as root)"
		useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
	fi
	copy=$(mktemp -d /tmp/microbatch-pg19.XXXXXX)
	# the copy finds its files relative to its bin/ (a relocatable install)
	cp -a "$PREFIX/." "$copy/"
	if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$copy"; fi
	bash test/run-tests.sh --pg-config "$copy/bin/pg_config" || rc=$?
	rm -rf "$copy"
	return "$rc"
}

case "${1:-}" in
	build) build ;;
	test) run_suite ;;
	*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Runs the whole test suite: pg_regress (sql/), isolation (test/specs/) and
# TAP (test/t/), each against throwaway clusters of its own.
#
#   bash test/run-tests.sh             every supported major (13 15 17 18), each
#                                      in a cached Debian chroot (test/chroot.sh)
#   bash test/run-tests.sh --pg 17     one major (repeat --pg for several)
#   bash test/run-tests.sh --host      this machine's PostgreSQL 15, installed
#                                      from Debian if missing (test/setup-debian.sh)
#   bash test/run-tests.sh --local N   the PostgreSQL N already installed here
#                                      (what each chroot runs)
#   ... --citus DIR                    also build Citus from DIR (its tarball and
#                                      build.sh, ../shared/citus) if missing; the
#                                      Citus tests (test/citus/) run whenever
#                                      Citus is installed, and skip otherwise
#
# The matrix builds Citus into the PostgreSQL 15 chroot when ../shared/citus
# is there (about 7 minutes, once: the chroot is cached).
#
# Prints the runners' summaries, one "PG N: total: ..." line per major and,
# last, one "total: N passed, M failed" line.  Exits non-zero if anything
# failed.  PostgreSQL refuses to run as root, so when started as root the
# suite runs as the "postgres" user in a copy of the tree.
set -uo pipefail
cd "$(dirname "$0")/.."

MAJORS=(13 15 17 18)

# run_local runs the suite against PostgreSQL $1 installed on this machine
# and ends with its "total:" line.
run_local() {
	local major=$1 pg_bin work log status=0 runner
	pg_bin=/usr/lib/postgresql/$major/bin
	PG_MAJOR=$major bash test/setup-debian.sh || return 1

	work=$(pwd)
	if [ "$(id -u)" -eq 0 ]; then
		work=$(mktemp -d /tmp/microbatch-test.XXXXXX)
		cp -a . "$work/"
		chown -R postgres "$work"
		runner=(runuser -u postgres --)
	else
		runner=()
	fi

	log="$work/test-output.log"
	run_make() {
		(cd "$work" && "${runner[@]}" make -s PG_CONFIG="$pg_bin/pg_config" with_llvm=no \
			WERROR=1 "$@" 2>&1) | tee -a "$log"
		return "${PIPESTATUS[0]}"
	}
	echo "== call layers (src/*.o)"
	(bash test/check-calls.sh "$work" 2>&1 || echo "call cycle check failed") | tee -a "$log"
	if grep -q "^call cycle" "$log"; then status=1; fi
	echo "== pg_regress tests (sql/)"
	run_make installcheck ISOLATION= TAP_TESTS= || status=1
	echo "== isolation tests (test/specs/)"
	if [ -x "$("$pg_bin/pg_config" --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress" ]; then
		run_make installcheck REGRESS= TAP_TESTS= || status=1
	else
		# Debian packages the isolation tester from PostgreSQL 14 on
		echo "isolation tests skipped: pg_isolation_regress is not installed for PostgreSQL $major" | tee -a "$log"
	fi
	echo "== TAP tests (test/t/)"
	run_make installcheck REGRESS= ISOLATION= PROVE_FLAGS=--timer || status=1

	# Citus: built from the source beside the checkout when one is given
	# (15 only: the version it is tested with); the suite skips without it
	if [ -n "${CITUS_SRC:-}" ] && [ -f "$CITUS_SRC/build.sh" ]; then
		echo "== building Citus (once per machine or chroot)"
		PG_CONFIG="$pg_bin/pg_config" bash "$CITUS_SRC/build.sh" /tmp/citus-build || status=1
	fi
	echo "== Citus tests (test/citus/: a coordinator and two workers)"
	if [ -f "$("$pg_bin/pg_config" --pkglibdir)/citus.so" ]; then
		run_make installcheck REGRESS= ISOLATION= PROVE_FLAGS=--timer 'PROVE_TESTS=test/citus/*.pl' ||
			status=1
	else
		echo "Citus tests skipped: Citus is not installed for PostgreSQL $major" | tee -a "$log"
	fi

	# show what failed, so that a CI log explains itself
	for diffs in "$work"/regression.diffs "$work"/output_iso/regression.diffs; do
		if [ -s "$diffs" ]; then echo "== $diffs"; cat "$diffs"; fi
	done
	for tap_log in "$work"/tmp_check/log/regress_log_*; do
		if [ -f "$tap_log" ] && grep -q "^not ok" "$tap_log"; then
			echo "== $tap_log (last 80 lines)"; tail -n 80 "$tap_log"
		fi
	done

	# one closing line over all three runners
	local files_ok files_failed tap_tests tap_failed passed failed
	files_ok=$(grep -cE '^(test | +|ok +[0-9]+ +- +)[a-z_]+ +(\.\.\. ok|[0-9]+ ms$)' "$log")
	files_failed=$(grep -cE '^(test | +)[a-z_]+ +\.\.\. FAILED|^not ok +[0-9]+ +- +[a-z_]+ ' "$log")
	tap_tests=$(grep -oE 'Tests=[0-9]+' "$log" | cut -d= -f2 | awk '{ s += $1 } END { print s + 0 }')
	tap_failed=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$log" | awk '{ s += $2 } END { print s + 0 }')
	passed=$((files_ok + ${tap_tests:-0} - tap_failed))
	failed=$((files_failed + tap_failed))
	if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
	echo
	echo "pg_regress/isolation files: $files_ok ok, $files_failed failed; TAP: ${tap_tests:-0} tests, $tap_failed failed"
	echo "total: $passed passed, $failed failed"
	[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
}

# run_matrix runs the suite in a chroot per major, two at a time, and
# prints each one's output, then one line per major and the overall total.
run_matrix() {
	local majors=("$@") major logs pids passed=0 failed=0 line p f rc=0
	logs=$(mktemp -d /tmp/microbatch-matrix.XXXXXX)
	if ! command -v mmdebstrap >/dev/null; then
		echo "== installing mmdebstrap"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
	fi
	# build the chroots first (network bound, all at once), then the suites
	for major in "${majors[@]}"; do
		bash test/chroot.sh build "$major" >"$logs/build-$major.log" 2>&1 &
		pids[$major]=$!
	done
	for major in "${majors[@]}"; do
		wait "${pids[$major]}" || { echo "== PG $major: chroot build failed"; cat "$logs/build-$major.log"; }
	done
	# two suites at a time: one per core leaves the timing-sensitive tests room
	local running=()
	for major in "${majors[@]}"; do
		bash test/chroot.sh test "$major" >"$logs/test-$major.log" 2>&1 &
		running+=($!)
		if [ "${#running[@]}" -ge "${MICROBATCH_JOBS:-2}" ]; then
			wait "${running[0]}"
			running=("${running[@]:1}")
		fi
	done
	wait
	for major in "${majors[@]}"; do
		echo "==================== PostgreSQL $major"
		cat "$logs/build-$major.log" "$logs/test-$major.log"
	done
	# the runners' own summary lines again, together, so that the end of
	# the log says what ran
	echo
	echo "==================== what the runners said"
	for major in "${majors[@]}"; do
		grep -E '^#? *All [0-9]+ tests passed|^#? *[0-9]+ of [0-9]+ tests failed|^Files=[0-9]+, Tests=|^Result: |skipped: |^call (layers|cycle)' \
			"$logs/test-$major.log" | sed "s/^ */PG $major: /"
	done
	echo
	for major in "${majors[@]}"; do
		line=$(grep -E '^total: [0-9]+ passed, [0-9]+ failed$' "$logs/test-$major.log" | tail -n 1)
		if [ -z "$line" ]; then line="total: 0 passed, 1 failed"; fi
		p=$(echo "$line" | awk '{ print $2 }')
		f=$(echo "$line" | awk '{ print $4 }')
		passed=$((passed + p))
		failed=$((failed + f))
		echo "PG $major: $line"
	done
	rm -rf "$logs"
	echo "total: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

mode=matrix
selected=()
while [ $# -gt 0 ]; do
	case "$1" in
		--pg) selected+=("$2"); shift 2 ;;
		--host) mode=host; shift ;;
		--local) mode=local; local_major=$2; shift 2 ;;
		--citus) CITUS_SRC=$2; shift 2 ;;
		-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
		*) echo "run-tests.sh: unknown argument \"$1\" (see --help)" >&2; exit 2 ;;
	esac
done

case "$mode" in
	local) run_local "$local_major" ;;
	host) run_local 15 ;;
	matrix) run_matrix "${selected[@]:-${MAJORS[@]}}" ;;
esac

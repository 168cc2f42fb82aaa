#!/usr/bin/env bash
# Runs the whole test suite: pg_regress (sql/), isolation (test/specs/) and
# TAP (test/t/), each against throwaway clusters of its own, then reads
# every server log of those clusters (test/check-logs.sh): a backend or
# worker that crashed fails the suite even when every test passed.
#
#   bash test/run-tests.sh             every supported major: 13 15 17 18,
#                                      each in a cached Debian chroot
#                                      (test/chroot.sh), and 19 built from
#                                      source with assertions, cached, on this
#                                      machine (test/pg-cassert.sh)
#   bash test/run-tests.sh --pg 17     one major (repeat --pg for several)
#   bash test/run-tests.sh --host      this machine's PostgreSQL 15, installed
#                                      from Debian if missing (test/setup-debian.sh)
#   bash test/run-tests.sh --local N   the Debian PostgreSQL N installed here
#                                      (what each chroot runs)
#   ... --pg-config PATH               the PostgreSQL whose pg_config is PATH,
#                                      which the user running the tests may
#                                      install into (what test/pg-cassert.sh runs)
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

MAJORS=(13 15 17 18 19)

# run_local runs the suite against the Debian PostgreSQL $1 installed on
# this machine, or, given $2, against the PostgreSQL whose pg_config that is
# (microbatch is then built and installed into it as the test user), and
# ends with its "total:" line.
run_local() {
	local major=$1 pg_config=${2:-} work log status=0 runner
	if [ -z "$pg_config" ]; then
		PG_MAJOR=$major bash test/setup-debian.sh || return 1
		pg_config=/usr/lib/postgresql/$major/bin/pg_config
	fi

	work=$(pwd)
	if [ "$(id -u)" -eq 0 ]; then
		work=$(mktemp -d /tmp/microbatch-test.XXXXXX)
		cp -a . "$work/"
		chown -R postgres "$work"
		runner=(runuser -u postgres --)
	else
		runner=()
	fi
	# no server log of an earlier run may speak for this one
	rm -rf "$work/log" "$work/output_iso" "$work/tmp_check"

	log="$work/test-output.log"
	run_make() {
		(cd "$work" && "${runner[@]}" make -s PG_CONFIG="$pg_config" with_llvm=no \
			WERROR=1 "$@" 2>&1) | tee -a "$log"
		return "${PIPESTATUS[0]}"
	}
	# check_logs reads the server logs the runner just left (the next run
	# of the same runner replaces them)
	check_logs() {
		bash test/check-logs.sh "$@" 2>&1 | tee -a "$log"
		return "${PIPESTATUS[0]}"
	}
	# show_tap_failures shows the end of each failed TAP file's log, now:
	# the next TAP run replaces tmp_check
	show_tap_failures() {
		local tap_log
		for tap_log in "$work"/tmp_check/log/regress_log_*; do
			if [ -f "$tap_log" ] && grep -q "^not ok" "$tap_log"; then
				echo "== $tap_log (last 80 lines)"; tail -n 80 "$tap_log"
			fi
		done
	}
	if [ -n "${2:-}" ]; then
		echo "== building microbatch for $("$pg_config" --version) ($pg_config)"
		# from clean: objects built for another major would link (PGXS
		# does not track the server's headers) and fail to load
		{ run_make clean && run_make && run_make install; } || status=1
	fi
	echo "== call layers (src/*.o)"
	(bash test/check-calls.sh "$work" 2>&1 || echo "call cycle check failed") | tee -a "$log"
	if grep -q "^call cycle" "$log"; then status=1; fi
	# pg_regress keeps its temporary instance's log in OUTPUTDIR/log, even
	# when it removes the instance after a success
	echo "== pg_regress tests (sql/)"
	run_make installcheck ISOLATION= TAP_TESTS= || status=1
	check_logs "$work/log" || status=1
	echo "== isolation tests (test/specs/)"
	if [ -x "$("$pg_config" --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress" ]; then
		run_make installcheck REGRESS= TAP_TESTS= || status=1
		check_logs "$work/output_iso/log" || status=1
	else
		# Debian packages the isolation tester from PostgreSQL 14 on
		echo "isolation tests skipped: pg_isolation_regress is not installed for PostgreSQL $major" | tee -a "$log"
	fi
	echo "== TAP tests (test/t/)"
	run_make installcheck REGRESS= ISOLATION= PROVE_FLAGS=--timer || status=1
	check_logs "$work/tmp_check/log" || status=1
	show_tap_failures

	# Citus: built from the source beside the checkout when one is given
	# (15 only: the version it is tested with); the suite skips without it
	if [ -n "${CITUS_SRC:-}" ] && [ -f "$CITUS_SRC/build.sh" ]; then
		echo "== building Citus (once per machine or chroot)"
		PG_CONFIG="$pg_config" bash "$CITUS_SRC/build.sh" /tmp/citus-build || status=1
	fi
	echo "== Citus tests (test/citus/: a coordinator and two workers)"
	if [ -f "$("$pg_config" --pkglibdir)/citus.so" ]; then
		run_make installcheck REGRESS= ISOLATION= PROVE_FLAGS=--timer 'PROVE_TESTS=test/citus/*.pl' ||
			status=1
		check_logs "$work/tmp_check/log" || status=1
		show_tap_failures
	else
		echo "Citus tests skipped: Citus is not installed for PostgreSQL $major" | tee -a "$log"
	fi

	# show what failed, so that a CI log explains itself
	for diffs in "$work"/regression.diffs "$work"/output_iso/regression.diffs; do
		if [ -s "$diffs" ]; then echo "== $diffs"; cat "$diffs"; fi
	done

	# one closing line over all three runners
	local files_ok files_failed tap_tests tap_failed logs_ok logs_crashed passed failed
	files_ok=$(grep -cE '^(test | +|ok +[0-9]+ +- +)[a-z_]+ +(\.\.\. ok|[0-9]+ ms$)' "$log")
	files_failed=$(grep -cE '^(test | +)[a-z_]+ +\.\.\. FAILED|^not ok +[0-9]+ +- +[a-z_]+ ' "$log")
	tap_tests=$(grep -oE 'Tests=[0-9]+' "$log" | cut -d= -f2 | awk '{ s += $1 } END { print s + 0 }')
	tap_failed=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$log" | awk '{ s += $2 } END { print s + 0 }')
	# each runner's server logs count as one check
	logs_ok=$(grep -c '^server logs: no crash' "$log")
	logs_crashed=$(grep -c '^server logs: crashed' "$log")
	passed=$((files_ok + ${tap_tests:-0} - tap_failed + logs_ok))
	failed=$((files_failed + tap_failed + logs_crashed))
	if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
	echo
	echo "pg_regress/isolation files: $files_ok ok, $files_failed failed; TAP: ${tap_tests:-0} tests, $tap_failed failed;" \
		"server logs: $logs_ok runs clean, $logs_crashed with a crash"
	echo "total: $passed passed, $failed failed"
	# a copy made for the run goes once everything passed; kept otherwise
	if [ "$status" -eq 0 ] && [ "$failed" -eq 0 ]; then
		if [ "$work" != "$(pwd)" ]; then rm -rf "$work"; fi
		return 0
	fi
	if [ "$work" != "$(pwd)" ]; then echo "the run's files are kept in $work"; fi
	return 1
}

# run_matrix runs the suite for each major, two at a time: 13 to 18 each in
# its Debian chroot, 19 built from source on this machine.  It prints each
# one's output, then one line per major and the overall total.
run_matrix() {
	local majors=("$@") major logs passed=0 failed=0 line p f
	logs=$(mktemp -d /tmp/microbatch-matrix.XXXXXX)
	# script runs the chroot's or the source build's script for $1, the
	# major, with $2 (build or test)
	script() {
		if [ "$1" = 19 ]; then bash test/pg-cassert.sh "$2"; else bash test/chroot.sh "$2" "$1"; fi
	}
	if [[ " ${majors[*]} " =~ \ (13|15|17|18)\  ]] && ! command -v mmdebstrap >/dev/null; then
		echo "== installing mmdebstrap"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
	fi
	# build everything at once: the chroots are network bound, and
	# PostgreSQL 19's build (the only long one) runs niced, beside the suites
	for major in "${majors[@]}"; do
		{ script "$major" build >"$logs/build-$major.log" 2>&1; echo $? >"$logs/build-$major.rc"; } &
	done
	# then the suites, each once its build is done, two at a time: one per
	# core leaves the timing-sensitive tests room.  19's goes first: it is
	# the longest (assertions on)
	local pending=() running=() left still
	for major in "${majors[@]}"; do
		if [ "$major" = 19 ]; then pending=(19 "${pending[@]}"); else pending+=("$major"); fi
	done
	while [ "${#pending[@]}" -gt 0 ] || [ "${#running[@]}" -gt 0 ]; do
		still=()
		for major in "${running[@]}"; do
			[ -f "$logs/test-$major.rc" ] || still+=("$major")
		done
		running=("${still[@]}")
		left=()
		for major in "${pending[@]}"; do
			if [ "${#running[@]}" -ge "${MICROBATCH_JOBS:-2}" ] || [ ! -f "$logs/build-$major.rc" ]; then
				left+=("$major")
			elif [ "$(cat "$logs/build-$major.rc")" -ne 0 ]; then
				echo "== PG $major: build failed" >"$logs/test-$major.log"
			else
				{ script "$major" test >"$logs/test-$major.log" 2>&1; echo $? >"$logs/test-$major.rc"; } &
				running+=("$major")
			fi
		done
		pending=("${left[@]}")
		sleep 1
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
		grep -E '^#? *All [0-9]+ tests passed|^#? *[0-9]+ of [0-9]+ tests failed|^Files=[0-9]+, Tests=|^Result: |skipped: |^call (layers|cycle)|^server logs: ' \
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
		--pg-config) mode=pg_config; pg_config=$2; shift 2 ;;
		--citus) CITUS_SRC=$2; shift 2 ;;
		-h|--help) sed -n '2,31p' "$0"; exit 0 ;;
		*) echo "run-tests.sh: unknown argument \"$1\" (see --help)" >&2; exit 2 ;;
	esac
done

case "$mode" in
	local) run_local "$local_major" ;;
	host) run_local 15 ;;
	pg_config) run_local "$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')" "$pg_config" ;;
	matrix) run_matrix "${selected[@]:-${MAJORS[@]}}" ;;
esac

#!/usr/bin/env bash
# Runs the whole test suite: pg_regress (sql/), isolation (test/specs/) and
# TAP (test/t/), each against throwaway clusters of its own, then prints the
# runners' summaries and one total line.  Exits non-zero if anything failed.
#
# PostgreSQL refuses to run as root, so when started as root the suite runs
# as the "postgres" user in a copy of the tree.
set -uo pipefail
cd "$(dirname "$0")/.."
bash test/setup-debian.sh || exit 1

PG_BIN=/usr/lib/postgresql/15/bin
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
status=0
run_make() {
	(cd "$work" && "${runner[@]}" make -s PG_CONFIG="$PG_BIN/pg_config" with_llvm=no "$@" 2>&1) |
		tee -a "$log"
	return "${PIPESTATUS[0]}"
}
echo "== pg_regress tests (sql/)"
run_make installcheck ISOLATION= TAP_TESTS= || status=1
echo "== isolation tests (test/specs/)"
run_make installcheck REGRESS= TAP_TESTS= || status=1
echo "== TAP tests (test/t/)"
run_make installcheck REGRESS= ISOLATION= PROVE_FLAGS=--timer || status=1

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
files_ok=$(grep -cE '^(test | +)[a-z_]+ +\.\.\. ok' "$log")
files_failed=$(grep -cE '^(test | +)[a-z_]+ +\.\.\. FAILED' "$log")
tap_tests=$(grep -oE 'Tests=[0-9]+' "$log" | tail -n 1 | cut -d= -f2)
tap_failed=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$log" | awk '{ s += $2 } END { print s + 0 }')
passed=$((files_ok + ${tap_tests:-0} - tap_failed))
failed=$((files_failed + tap_failed))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo
echo "pg_regress/isolation files: $files_ok ok, $files_failed failed; TAP: ${tap_tests:-0} tests, $tap_failed failed"
echo "total: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]

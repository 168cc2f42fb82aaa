#!/usr/bin/env bash
# microbatch benchmark: microbatch against the same SQL written by hand.
#
#   bash bench/run.sh            # REPEAT=5 by default; REPEAT=3 for a quicker look
#
# Starts a throwaway cluster, creates its own data, and measures, each
# REPEAT times (medians reported):
#   1. backfill of 30 daily windows over 1,000,000 events (rollup by day and
#      client): CALL mb_backfill in one session vs a psql script running the
#      same DELETE and INSERT ... SELECT, one transaction per window;
#      the two results are checked equal;
#   2. fixed cost per window: 500 ten-minute windows over an empty source,
#      both ways;
#   3. parallel speedup: CPU-bound windows with mb_run on 1 and 2 workers;
#   4. planning: mb_plan of a pipeline with 1,000,000 recorded windows;
#   5. the grid calculator: 1,000,000 ten-minute windows.
# It is not part of the test suite: timings never decide pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-5}
DIR=/tmp/microbatch-bench
PORT=${PORT:-5487}
source bench/common.sh
start_cluster

# repeat N COMMAND... prints the median of N timings of COMMAND
repeat() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do ms "$@"; done | median
}

echo "== generating data"
psql_bench -f bench/setup.sql

# hand-written script: the same two statements per window, one transaction each
psql_bench -At -c "SELECT * FROM bench_script('rollup', '2024-01-01', '2024-01-31', '1 day')" \
	>"$DIR/rollup.sql"
psql_bench -At -c "SELECT * FROM bench_script('tiny', '2024-01-01', '2024-01-01'::timestamptz + 500 * interval '10 minutes', '10 minutes')" \
	>"$DIR/tiny.sql"
chmod 644 "$DIR"/*.sql

echo "== 1. 30-day backfill over 1,000,000 events ($REPEAT runs each)"
psql_bench -c "CALL mb_backfill('rollup', '2024-01-01', '2024-01-31', 1)" # warm-up
mb_backfill=$(repeat "$REPEAT" psql_bench -c "CALL mb_backfill('rollup', '2024-01-01', '2024-01-31', 1)")
psql_bench -c "CREATE TABLE rollup_by_microbatch AS TABLE rollup"
hand_backfill=$(repeat "$REPEAT" psql_bench -f "$DIR/rollup.sql")
same=$(psql_bench -At -c "SELECT count(*) = 0 FROM ((TABLE rollup EXCEPT ALL TABLE rollup_by_microbatch)
	UNION ALL (TABLE rollup_by_microbatch EXCEPT ALL TABLE rollup)) d")
rows=$(psql_bench -At -c "SELECT count(*) FROM rollup")

echo "== 2. fixed cost: 500 ten-minute windows over an empty source"
psql_bench -c "CALL mb_backfill('tiny', '2024-01-01', '2024-01-01'::timestamptz + 500 * interval '10 minutes', 1)"
mb_tiny=$(repeat "$REPEAT" psql_bench -c "CALL mb_backfill('tiny', '2024-01-01', '2024-01-01'::timestamptz + 500 * interval '10 minutes', 1)")
hand_tiny=$(repeat "$REPEAT" psql_bench -f "$DIR/tiny.sql")

echo "== 3. parallel: CPU-bound windows, mb_run on 1 and 2 workers"
# alternate the two, so that drift in the machine's speed hits both alike
for ((i = 0; i < REPEAT; i++)); do
	ms psql_bench -c "SELECT mb_reset('cpu')" -c "SELECT * FROM mb_run('cpu', 1)" >>"$DIR/par1"
	ms psql_bench -c "SELECT mb_reset('cpu')" -c "SELECT * FROM mb_run('cpu', 2)" >>"$DIR/par2"
done
par1=$(median <"$DIR/par1")
par2=$(median <"$DIR/par2")

echo "== 4. planning with 1,000,000 recorded windows"
psql_bench -f bench/history.sql
plan_cold=$(ms psql_bench -c "SELECT count(*) FROM mb_plan('history')")
psql_bench -c "SELECT * FROM mb_run('history')"
psql_bench -c "UPDATE microbatch.windows SET status = 'failed'
	WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'history')
	  AND window_start IN (SELECT '2000-01-01'::timestamptz + (i * 9973 % 1000000) * interval '10 minutes'
	                         FROM generate_series(1, 100) i)"
planned=$(psql_bench -At -c "SELECT count(*) FROM mb_plan('history')")
plan_ms=$(psql_bench -At -c "SELECT * FROM bench_time_ms(\$\$SELECT count(*) FROM mb_plan('history')\$\$, $REPEAT)")
empty_ms=$(psql_bench -At -c "SELECT * FROM bench_time_ms(\$\$SELECT 1\$\$, $REPEAT)")

echo "== 5. grid calculator: 1,000,000 ten-minute windows"
grid_ms=$(psql_bench -At -c "SELECT * FROM bench_time_ms(\$\$SELECT count(*) FROM mb_windows('10min', '2000-01-01', '2000-01-01'::timestamptz + 1000000 * interval '10 minutes')\$\$, $REPEAT)")
grid_count=$(psql_bench -At -c "SELECT count(*) FROM mb_windows('10min', '2000-01-01', '2000-01-01'::timestamptz + 1000000 * interval '10 minutes')")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
per() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(psql_bench -At -c 'SHOW server_version')"
echo "command: bash bench/run.sh (REPEAT=$REPEAT, medians in ms)"
echo
printf '%-58s %12s %12s %8s\n' "measurement" "microbatch" "hand SQL" "ratio"
printf '%-58s %12s %12s %8s\n' "1. backfill 30 daily windows, 1M events ($rows rows, equal: $same)" "$mb_backfill" "$hand_backfill" "$(ratio "$mb_backfill" "$hand_backfill")"
printf '%-58s %12s %12s %8s\n' "2. 500 ten-minute windows, empty source" "$mb_tiny" "$hand_tiny" "$(ratio "$mb_tiny" "$hand_tiny")"
printf '%-58s %12s %12s\n' "   per window (ms)" "$(per "$mb_tiny" 500)" "$(per "$hand_tiny" 500)"
printf '%-58s %12s\n' "   fixed cost per window beyond hand SQL (ms)" "$(awk -v a="$mb_tiny" -v b="$hand_tiny" 'BEGIN { printf "%.3f", (a - b) / 500 }')"
printf '%-58s %12s %12s %8s\n' "3. CPU-bound run, 1 worker vs 2 workers (speedup)" "$par1" "$par2" "$(ratio "$par1" "$par2")"
printf '%-58s %12s\n' "4. mb_plan, 1M recorded windows, first plan after load" "$plan_cold"
printf '%-58s %12s\n' "   mb_plan, 1M recorded windows ($planned planned)" "$plan_ms"
printf '%-58s %12s\n' "   (SELECT 1 through the same timer)" "$empty_ms"
printf '%-58s %12s\n' "5. mb_windows, $grid_count ten-minute windows" "$grid_ms"

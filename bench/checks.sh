#!/usr/bin/env bash
# microbatch benchmark: what data checks add to a daily window.
#
#   bash bench/checks.sh          # REPEAT=7 by default
#
# Starts a throwaway cluster with the data of bench/run.sh (1,000,000 events
# over 30 days, so ~33,000 events per daily window, rolled up by day and
# client into 50 rows a window) and measures, alternating the variants so
# that drift in the machine's speed hits them alike (medians reported):
#   1. CALL mb_backfill of the 30 daily windows, in one session: no check,
#      then with a min_rows check (its cost is per run plus per window);
#   2. one window, mb_run_window timed inside the server, 20 calls a sample:
#      no check, min_rows, not_null, unique, and a SQL check.
# It is not part of the test suite: timings never decide pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-7}
DIR=/tmp/microbatch-bench-checks
PORT=${PORT:-5488}
source bench/common.sh
start_cluster

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f%%", (a - b) * 100 / b }'; }

echo "== generating data"
psql_bench -f bench/setup.sql
events=$(psql_bench -At -c "SELECT count(*) FROM events WHERE created_at >= '2024-01-15' AND created_at < '2024-01-16'")

backfill() { psql_bench -c "CALL mb_backfill('rollup', '2024-01-01', '2024-01-31', 1)"; }
with_check() { psql_bench -c "SELECT mb_add_check('rollup', 'c', \$q\$$1\$q\$)"; }
no_check() { psql_bench -c "SELECT mb_drop_check('rollup', 'c')"; }

echo "== 1. 30-day backfill, without and with min_rows ($REPEAT runs each)"
backfill >/dev/null # warm-up
for ((i = 0; i < REPEAT; i++)); do
	ms backfill >>"$DIR/none"
	with_check 'min_rows 10' >/dev/null
	ms backfill >>"$DIR/min_rows"
	no_check >/dev/null
done
bf_none=$(median <"$DIR/none")
bf_min=$(median <"$DIR/min_rows")

echo "== 2. one daily window ($events events), mb_run_window timed in the server"
window_ms() {
	psql_bench -At -c "SELECT * FROM bench_time_ms(\$\$SELECT * FROM mb_run_window('rollup', '2024-01-15')\$\$, 20)"
}
declare -A checks=(
	[min_rows]='min_rows 10'
	[not_null]='not_null day, client, n, total'
	[unique]='unique day, client'
	[sql]='SELECT count(*) = 50 FROM rollup WHERE day >= $1 AND day < $2'
)
kinds=(none min_rows not_null unique sql)
window_ms >/dev/null # warm-up
for ((i = 0; i < REPEAT; i++)); do
	for kind in "${kinds[@]}"; do
		if [ "$kind" = none ]; then
			window_ms >>"$DIR/w_none"
		else
			with_check "${checks[$kind]}" >/dev/null
			window_ms >>"$DIR/w_$kind"
			no_check >/dev/null
		fi
	done
done

echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(psql_bench -At -c 'SHOW server_version')"
echo "command: bash bench/checks.sh (REPEAT=$REPEAT, medians in ms)"
echo
printf '%-62s %10s %10s\n' "measurement" "ms" "vs none"
printf '%-62s %10s\n' "1. backfill 30 daily windows, no check" "$bf_none"
printf '%-62s %10s %10s\n' "   with min_rows 10" "$bf_min" "$(pct "$bf_min" "$bf_none")"
w_none=$(median <"$DIR/w_none")
printf '%-62s %10s\n' "2. one daily window ($events events, 50 rows), no check" "$w_none"
for kind in min_rows not_null unique sql; do
	w=$(median <"$DIR/w_$kind")
	printf '%-62s %10s %10s\n' "   with $kind" "$w" "$(pct "$w" "$w_none")"
done

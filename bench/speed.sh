#!/usr/bin/env bash
# microbatch speed benchmark (issue 11): microbatch against the peers that run
# here, on one throwaway cluster, each measurement REPEAT times (default 3),
# the two systems alternating (the order swapped every round), medians
# reported, with the machine's load.
#
#   bash bench/speed.sh                 # REPEAT=3 BIG=3000000
#   REPEAT=5 BIG=10000000 bash bench/speed.sh
#
# Peers: a PL/pgSQL procedure with static SQL that commits after every
# window (the strongest hand-written form), the same statements as a psql
# script (one transaction per window), one DELETE and one INSERT ... SELECT
# over the whole range (the physical limit), and pg_incremental's batched
# time interval pipeline when the extension is installed (skipped otherwise;
# built by hand from its source, which this repository does not carry).
# Timings never decide a test; this is not part of the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
BIG=${BIG:-3000000}
EXTRA_SETTINGS="-c max_wal_size=8GB -c checkpoint_timeout=1h"
DIR=/tmp/microbatch-speed
PORT=${PORT:-5488}
source bench/common.sh
start_cluster

# timed PSQL_ARGS... prints the milliseconds psql's \timing reports for the
# statements (summed): the server's time, without starting psql or connecting
timed() {
	psql_bench -c '\timing on' "$@" | awk '/^Time:/ { s += $2 } END { printf "%.1f\n", s }'
}
lsn() { psql_bench -At -c "SELECT pg_current_wal_lsn()"; }
wal_since() { psql_bench -At -c "SELECT pg_current_wal_lsn() - '$1'::pg_lsn"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
per() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a * 1000 / b }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# versus NAME A_ARGS B_ARGS: REPEAT rounds alternating A and B (order
# swapped every round), after one warm-up each, each a psql run with those
# arguments timed by \timing; sets A_MS B_MS (medians) and A_WAL B_WAL
# (median WAL bytes per execution)
versus() {
	local name=$1 a=$2 b=$3 i start
	: >"$DIR/$name.a"; : >"$DIR/$name.b"; : >"$DIR/$name.aw"; : >"$DIR/$name.bw"
	eval "psql_bench $a" >/dev/null; eval "psql_bench $b" >/dev/null
	for ((i = 0; i < REPEAT; i++)); do
		for side in $([ $((i % 2)) -eq 0 ] && echo a b || echo b a); do
			local cmd=$a
			[ "$side" = b ] && cmd=$b
			start=$(lsn)
			eval "timed $cmd" >>"$DIR/$name.$side"
			wal_since "$start" >>"$DIR/$name.${side}w"
		done
	done
	A_MS=$(median <"$DIR/$name.a"); B_MS=$(median <"$DIR/$name.b")
	A_WAL=$(median <"$DIR/$name.aw"); B_WAL=$(median <"$DIR/$name.bw")
	echo "   $name: $A_MS ms vs $B_MS ms (load $(load))" >&2
}

echo "== generating data (load $(load))"
psql_bench -f bench/speed.sql >/dev/null
have_incremental=$(psql_bench -At -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_incremental'")
START_LOAD=$(load)

# 1. cost per window, one window at a time: 1,000 ten-minute windows of the
#    1M events (231 events, 50 rows each: the issue's small windows), and
#    2,000 windows of one row each (nothing but the fixed cost)
N=1000
END="'2024-01-01'::timestamptz + $N * interval '10 minutes'"
N1=2000
END1="'2024-01-01'::timestamptz + $N1 * interval '10 minutes'"
psql_bench -At -c "SELECT format(E'BEGIN;\\nDELETE FROM hand_tenmin1 WHERE bucket >= %L AND bucket < %L;\\nINSERT INTO hand_tenmin1 SELECT date_bin(''10 minutes'', created_at, ''2024-01-01''), client, count(*), sum(amount) FROM ev WHERE created_at >= %L AND created_at < %L GROUP BY 1, 2;\\nCOMMIT;', w, w + interval '10 minutes', w, w + interval '10 minutes')
	FROM generate_series('2024-01-01'::timestamptz, $END - interval '10 minutes', interval '10 minutes') w" >"$DIR/tenmin1.sql"
chmod 644 "$DIR/tenmin1.sql"
echo "== 1. $N ten-minute windows one at a time, and $N1 one-row windows; synchronous_commit on and off"
for sc in on off; do
	PGOPTS="-c synchronous_commit=$sc"
	versus "tenmin1_$sc" "-c \"CALL mb_backfill('tenmin1', '2024-01-01', $END, 1)\"" \
		"-c \"CALL loop_tenmin('2024-01-01', $END)\""
	eval "TEN_${sc}=(\$A_MS \$B_MS \$A_WAL \$B_WAL)"
	versus "small_$sc" "-c \"CALL mb_backfill('small', '2024-01-01', $END1, 1)\"" \
		"-c \"CALL loop_small('2024-01-01', $END1)\""
	eval "SMALL_${sc}=(\$A_MS \$B_MS \$A_WAL \$B_WAL)"
done
PGOPTS=""
versus "script" "-c \"CALL mb_backfill('tenmin1', '2024-01-01', $END, 1)\"" \
	"-f $DIR/tenmin1.sql"
SCRIPT=($A_MS $B_MS)

# 2. coalesced backfill of 4,320 ten-minute windows vs one INSERT ... SELECT
echo "== 2. 4,320 ten-minute windows (1M events), coalesced"
versus tenmin "-c \"CALL mb_backfill('tenmin', '2024-01-01', '2024-01-31', 1)\"" \
	"-c 'CALL whole_tenmin()'"
TENMIN=($A_MS $B_MS)

# 3. coalesced backfill of 30 daily windows vs one INSERT ... SELECT
echo "== 3. 30 daily windows (1M events), coalesced"
versus daily "-c \"CALL mb_backfill('daily', '2024-01-01', '2024-01-31', 1)\"" \
	"-c 'CALL whole_daily()'"
DAILY=($A_MS $B_MS)

# 3b. the same against pg_incremental's time interval pipeline in batched
#     mode (one command over every interval that has passed), when it is
#     installed: a new pipeline per sample, since a pipeline runs an interval
#     only once; the DELETE makes it replace what it wrote before, as the
#     others do.  (Unbatched, it would run its command for each of the ~1,000
#     days from 2024-01-01 to today: not the same work.)
if [ "$have_incremental" = 1 ]; then
	echo "== 3b. 30 daily windows against pg_incremental, batched"
	psql_bench >/dev/null <<'SQL'
CREATE EXTENSION pg_incremental;
CREATE TABLE inc_daily (LIKE mb_daily INCLUDING INDEXES);
CREATE SEQUENCE inc_daily_seq;
CREATE PROCEDURE incremental_daily() LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM inc_daily WHERE day >= '2024-01-01' AND day < '2024-01-31';
	PERFORM incremental.create_time_interval_pipeline('inc_daily_' || nextval('inc_daily_seq'), '1 day',
		$c$INSERT INTO inc_daily SELECT date_trunc('day', created_at), client, count(*), sum(amount)
		     FROM ev WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$c$,
		batched := true, start_time := '2024-01-01', schedule := NULL, min_delay := '0');
END $$;
SQL
	versus incremental "-c \"CALL mb_backfill('daily', '2024-01-01', '2024-01-31', 1)\"" \
		"-c 'CALL incremental_daily()'"
	INC=($A_MS $B_MS)
fi

# 4. the 1:1 copy, weekly windows of ~233,000 rows, vs the bare per-window loop
echo "== 4. 1:1 copy, 4 weekly windows of 233,000 rows"
versus copy "-c \"CALL mb_backfill('copy', '2024-01-01', '2024-01-29', 1)\"" \
	"-c \"CALL loop_copy('2024-01-01', '2024-01-29')\""
COPY=($A_MS $B_MS)

# 5. the first call in a new backend: pgbench -C connects for every call
echo "== 5. first call in a new backend"
echo "SELECT 1;" >"$DIR/one.sql"
echo "SELECT count(*) FROM mb_run('idle');" >"$DIR/idle.sql"
chmod 644 "$DIR"/*.sql
first_call() {
	as_pg "$PG_BIN/pgbench" -n -C -t 200 -h /tmp -p "$PORT" -U postgres -f "$1" postgres 2>/dev/null |
		awk '/latency average/ { print $4 }'
}
: >"$DIR/fc.a"; : >"$DIR/fc.b"
for ((i = 0; i < REPEAT; i++)); do
	first_call "$DIR/idle.sql" >>"$DIR/fc.a"
	first_call "$DIR/one.sql" >>"$DIR/fc.b"
done
FC=($(median <"$DIR/fc.a") $(median <"$DIR/fc.b"))

# 6. big windows: BIG events in 30 daily windows, one at a time, vs the loop
echo "== 6. $BIG events in 30 daily windows (load $(load))"
psql_bench >/dev/null <<SQL
CREATE TABLE ev_big (created_at timestamptz NOT NULL, client int NOT NULL, amount numeric NOT NULL);
INSERT INTO ev_big SELECT '2024-01-01'::timestamptz + (i / $BIG.0) * interval '30 days', i % 50, (i % 1000) / 10.0
  FROM generate_series(0, $BIG - 1) i;
CREATE INDEX ON ev_big (created_at);
VACUUM ANALYZE ev_big;
CREATE TABLE mb_big (day timestamptz, client int, n bigint, total numeric);
CREATE TABLE hand_big (LIKE mb_big);
CREATE INDEX ON mb_big (day);
CREATE INDEX ON hand_big (day);
SELECT mb_register('big', 'mb_big', 'day',
       \$\$SELECT date_trunc('day', created_at) AS day, client, count(*) AS n, sum(amount) AS total
           FROM ev_big WHERE created_at >= \$1 AND created_at < \$2 GROUP BY 1, 2\$\$,
       'day', '2024-01-01', end_at => '2024-01-31');
SELECT bench_loop('loop_big', 'hand_big', 'day', '1 day',
       \$\$SELECT date_trunc('day', created_at), client, count(*), sum(amount)
           FROM ev_big WHERE created_at >= \$1 AND created_at < \$2 GROUP BY 1, 2\$\$);
SQL
versus big "-c \"CALL mb_backfill('big', '2024-01-01', '2024-01-31', 1)\"" \
	"-c \"CALL loop_big('2024-01-01', '2024-01-31')\""
BIGR=($A_MS $B_MS)

same=$(psql_bench -At -c "SELECT (SELECT count(*) FROM ((TABLE mb_tenmin EXCEPT ALL TABLE hand_tenmin) UNION ALL (TABLE hand_tenmin EXCEPT ALL TABLE mb_tenmin)) d)
	+ (SELECT count(*) FROM ((TABLE mb_daily EXCEPT ALL TABLE hand_daily) UNION ALL (TABLE hand_daily EXCEPT ALL TABLE mb_daily)) d)
	+ (SELECT count(*) FROM ((TABLE mb_big EXCEPT ALL TABLE hand_big) UNION ALL (TABLE hand_big EXCEPT ALL TABLE mb_big)) d) = 0")
if [ "$have_incremental" = 1 ]; then
	same="$same; equal to pg_incremental's: $(psql_bench -At -c "SELECT count(*) = 0 FROM ((TABLE mb_daily EXCEPT ALL TABLE inc_daily) UNION ALL (TABLE inc_daily EXCEPT ALL TABLE mb_daily)) d")"
fi
hot=$(psql_bench -At -c "SELECT n_tup_upd || ' updates, ' || n_tup_hot_upd || ' HOT' FROM pg_stat_user_tables WHERE relid = 'microbatch.windows'::regclass")

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(psql_bench -At -c 'SHOW server_version')"
echo "command: bash bench/speed.sh (REPEAT=$REPEAT, BIG=$BIG; medians; load at start $START_LOAD, at end $(load))"
echo "pg_incremental: $([ "$have_incremental" = 1 ] && psql_bench -At -c "SELECT 'version ' || extversion FROM pg_extension WHERE extname = 'pg_incremental'" || echo 'not installed: skipped')"
echo "results equal to the hand-written peers: $same; state rows: $hot"
echo
printf '%-52s %10s %10s %7s %8s\n' "workload" "microbatch" "peer" "ratio" "target"
row() { printf '%-52s %10s %10s %7s %8s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")" "$4"; }
row "1. $N 10-min windows, 50 rows each (ms; peer: loop)" "${TEN_on[0]}" "${TEN_on[1]}" "<= 1.00"
row "   per window (us)" "$(per "${TEN_on[0]}" $N)" "$(per "${TEN_on[1]}" $N)" "<= 1.00"
row "   WAL per window (bytes)" "$((TEN_on[2] / N))" "$((TEN_on[3] / N))" "<= 1.20"
row "   synchronous_commit off (ms)" "${TEN_off[0]}" "${TEN_off[1]}" "<= 1.00"
row "   synchronous_commit off, WAL per window (bytes)" "$((TEN_off[2] / N))" "$((TEN_off[3] / N))" "<= 1.20"
row "   peer: the same statements as a psql script (ms)" "${SCRIPT[0]}" "${SCRIPT[1]}" "<= 1.00"
row "1b. $N1 windows of one row (ms; peer: loop)" "${SMALL_on[0]}" "${SMALL_on[1]}" ""
row "   WAL per window (bytes)" "$((SMALL_on[2] / N1))" "$((SMALL_on[3] / N1))" ""
row "   synchronous_commit off (ms)" "${SMALL_off[0]}" "${SMALL_off[1]}" ""
row "2. 4,320 ten-minute windows coalesced (peer: 1 INSERT)" "${TENMIN[0]}" "${TENMIN[1]}" "<= 1.50"
row "3. 30 daily windows coalesced (peer: 1 INSERT)" "${DAILY[0]}" "${DAILY[1]}" "<= 1.10"
if [ "$have_incremental" = 1 ]; then
	row "3b. the same (peer: pg_incremental, batched)" "${INC[0]}" "${INC[1]}" ""
fi
row "4. 1:1 copy, 4 x 233k rows (peer: plpgsql loop)" "${COPY[0]}" "${COPY[1]}" "<= 1.10"
printf '%-52s %10s %10s %7s %8s\n' "5. first call, new backend (ms; peer: SELECT 1)" "${FC[0]}" "${FC[1]}" \
	"$(awk -v a="${FC[0]}" -v b="${FC[1]}" 'BEGIN { printf "+%.2f", a - b }')" "< +5 ms"
row "6. $BIG events, 30 daily windows (peer: loop)" "${BIGR[0]}" "${BIGR[1]}" "<= 1.00"

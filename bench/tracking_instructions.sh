#!/usr/bin/env bash
# microbatch benchmark: what tracking a source costs its writers, counted in
# CPU instructions rather than timed, so that the result is the same on a
# busy machine (valgrind's callgrind; a few minutes).
#
#   bash bench/tracking_instructions.sh
#
# Sets up, in a throwaway cluster, an untracked table and a table tracked by
# an hourly pipeline that has processed the last two days (its horizon is
# the start of the current hour), and the same pair again with a btree index
# on the event-time column (what a table that pipelines read by time ranges
# usually has); stops the cluster, and runs each workload in a single-user
# backend under callgrind, for each table:
#   - COPY of 200,000 new rows (after the horizon) and of 200,000 late rows
#     (all before it, in processed windows);
#   - 200 INSERT ... SELECT statements of 1,000 new rows;
#   - 2,000 single-row INSERT statements (each its own transaction).
# It prints the instructions of each run less those of an empty session, and
# the tracked table's overhead.  The row shape is the narrowest one, a
# timestamptz, an int and a numeric: the worst case for a relative cost.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=/tmp/microbatch-bench-instructions
PORT=${PORT:-5487}
source bench/common.sh
command -v valgrind >/dev/null || { apt-get install -y -qq valgrind >/dev/null; }
start_cluster

psql_bench <<'SQL'
CREATE DATABASE b;
\c b
CREATE EXTENSION microbatch;
CREATE TABLE src_plain (at timestamptz, client int, amount numeric);
CREATE TABLE src_tracked (LIKE src_plain);
CREATE TABLE idx_plain (LIKE src_plain);
CREATE TABLE idx_tracked (LIKE src_plain);
CREATE INDEX ON idx_plain (at);
CREATE INDEX ON idx_tracked (at);
CREATE TABLE out_tracked (hour timestamptz, n bigint);
CREATE TABLE out_idx (hour timestamptz, n bigint);
SELECT mb_register('p_tracked', 'out_tracked', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, count(*) AS n FROM src_tracked
         WHERE at >= $1 AND at < $2 GROUP BY 1$$, 'hour', now() - interval '2 days',
       lookback => 0, track => true) > 0 AS registered;
SELECT mb_register('p_idx', 'out_idx', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, count(*) AS n FROM idx_tracked
         WHERE at >= $1 AND at < $2 GROUP BY 1$$, 'hour', now() - interval '2 days',
       lookback => 0, track => true) > 0 AS registered;
SET microbatch.progress = off;
SELECT pipeline, windows AS processed_windows FROM mb_run();
COPY (SELECT now() + i * interval '1 millisecond', i % 100, i % 1000
        FROM generate_series(1, 200000) i) TO '/tmp/microbatch-bench-instructions-new.copy';
COPY (SELECT now() - interval '40 hours' + random() * interval '39 hours', i % 100, i % 1000
        FROM generate_series(1, 200000) i) TO '/tmp/microbatch-bench-instructions-late.copy';
SQL
as_pg "$PG_BIN/pg_ctl" -D "$DIR" stop -m fast >/dev/null
trap 'rm -rf "$DIR"' EXIT

work=$(mktemp -d /tmp/microbatch-instructions.XXXXXX)
chown postgres "$work"
echo "SELECT 1;" >"$work/empty.sql"
for t in src_plain src_tracked idx_plain idx_tracked; do
	echo "COPY $t FROM '/tmp/microbatch-bench-instructions-new.copy';" >"$work/copy_new_$t.sql"
	echo "COPY $t FROM '/tmp/microbatch-bench-instructions-late.copy';" >"$work/copy_late_$t.sql"
	for i in $(seq 200); do
		echo "INSERT INTO $t SELECT clock_timestamp(), i % 100, i % 1000 FROM generate_series(1, 1000) i;"
	done >"$work/batch_$t.sql"
	for i in $(seq 2000); do echo "INSERT INTO $t VALUES (clock_timestamp(), 1, 1);"; done >"$work/single_$t.sql"
done
chmod a+r "$work"/*.sql

# instructions SCRIPT: what a single-user backend running it executes
instructions() {
	as_pg valgrind --tool=callgrind --callgrind-out-file="$work/$1.out" \
		"$PG_BIN/postgres" --single -D "$DIR" -c synchronous_commit=off b <"$work/$1.sql" \
		>/dev/null 2>"$work/$1.log"
	grep -o 'Collected : [0-9]*' "$work/$1.log" | awk '{ print $3 }'
}
base=$(instructions empty)
report() {
	local what=$1 script=$2 units=$3 prefix=$4 plain tracked
	plain=$(($(instructions "${script}_${prefix}_plain") - base))
	tracked=$(($(instructions "${script}_${prefix}_tracked") - base))
	awk -v w="$what" -v p="$plain" -v t="$tracked" -v u="$units" 'BEGIN {
		printf "%-36s untracked %6.0f  tracked %6.0f instructions per %s   overhead %+.1f%%\n",
			w, p / u, t / u, (u == 2000 ? "statement" : "row"), (t - p) * 100 / p }'
}
echo "== instructions ($(valgrind --version), PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }'))"
for prefix in src idx; do
	if [ "$prefix" = src ]; then echo "-- no index"; else echo "-- a btree index on the event time"; fi
	report "COPY 200,000 new rows" copy_new 200000 "$prefix"
	report "COPY 200,000 late rows" copy_late 200000 "$prefix"
	report "INSERT 200 x 1,000 new rows" batch 200000 "$prefix"
	report "2,000 single-row INSERT statements" single 2000 "$prefix"
done
rm -rf "$work"

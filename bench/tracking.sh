#!/usr/bin/env bash
# microbatch benchmark: what tracking a source (mb_track) costs its writers.
#
#   bash bench/tracking.sh              # REPEAT=5 by default
#   INDEXED=1 bash bench/tracking.sh    # both tables with a btree index on the
#                                       # event time, as tables that pipelines
#                                       # read by time ranges usually have
#
# Starts a throwaway cluster with two copies of one source table, one
# untracked and one tracked by an hourly pipeline that has processed the
# last 31 days, so that its horizon (src/horizon.c) is the start of the
# current hour.  It measures, alternating the two tables so that drift in
# the machine's speed hits both alike (medians of REPEAT samples):
#   1. COPY of 1,000,000 rows from a file: new events (after the horizon,
#      what ingestion writes) and late events (spread over the 30 processed
#      days: every row lands in a processed window, the worst case);
#   2. INSERT in batches of 1,000 rows (pgbench): new events, and late ones
#      scattered over the 720 processed hours;
#   3. single-row INSERT transactions (pgbench, 8 s), new and late, with
#      synchronous_commit on and off;
# then checks that a run after late rows in 3 scattered old windows
# processes exactly those 3 windows.  Timings never decide pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-5}
DIR=/tmp/microbatch-bench-tracking
PORT=${PORT:-5489}
source bench/common.sh
start_cluster

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (a - b) * 100 / b }'; }

echo "== setting up"
psql_bench -v indexed="${INDEXED:-0}" <<'SQL'
CREATE EXTENSION microbatch;
CREATE TABLE src_plain (at timestamptz, client int, amount numeric);
CREATE TABLE src_tracked (LIKE src_plain);
\if :indexed
CREATE INDEX ON src_plain (at);
CREATE INDEX ON src_tracked (at);
\endif
CREATE TABLE out_tracked (hour timestamptz, n bigint);
SELECT mb_register('p_tracked', 'out_tracked', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, count(*) AS n FROM src_tracked
         WHERE at >= $1 AND at < $2 GROUP BY 1$$, 'hour', now() - interval '31 days',
       lookback => 0, track => true) > 0 AS registered;
SELECT windows AS processed_windows FROM mb_run('p_tracked');
SELECT horizon FROM microbatch.sources;
COPY (SELECT now() + i * interval '1 millisecond', i % 100, i % 1000
        FROM generate_series(1, 1000000) i) TO '/tmp/microbatch-bench-tracking-new.copy';
COPY (SELECT now() - interval '30 days' + random() * interval '29 days', i % 100, i % 1000
        FROM generate_series(1, 1000000) i) TO '/tmp/microbatch-bench-tracking-late.copy';
SQL

cat > "$DIR/batch_new.sql" <<'EOF2'
INSERT INTO :tbl SELECT clock_timestamp(), i % 100, i % 1000 FROM generate_series(1, 1000) i;
EOF2
cat > "$DIR/batch_late.sql" <<'EOF2'
INSERT INTO :tbl SELECT now() - interval '30 days' + random() * interval '29 days', i % 100, i % 1000 FROM generate_series(1, 1000) i;
EOF2
cat > "$DIR/single_new.sql" <<'EOF2'
INSERT INTO :tbl VALUES (clock_timestamp(), 1, 1);
EOF2
cat > "$DIR/single_late.sql" <<'EOF2'
INSERT INTO :tbl VALUES (now() - interval '30 days' + random() * interval '29 days', 1, 1);
EOF2
chown postgres "$DIR"/*.sql 2>/dev/null || true

copy_new() { copy_file "$1" new; }
copy_late() { copy_file "$1" late; }
copy_file() {
	psql_bench -c "TRUNCATE $1" -c "CHECKPOINT"
	ms psql_bench -c "COPY $1 FROM '/tmp/microbatch-bench-tracking-$2.copy'"
}
pgbench_tps() {
	local tbl=$1 script=$2
	shift 2
	as_pg "$PG_BIN/pgbench" -n -h /tmp -p "$PORT" -U postgres -D tbl="$tbl" -f "$DIR/$script" "$@" postgres |
		awk '/^tps/ { printf "%.0f\n", $3 }'
}
batch_new() { pgbench_tps "$1" batch_new.sql -t 300; }
batch_late() { pgbench_tps "$1" batch_late.sql -t 100; }
single_new() { pgbench_tps "$1" single_new.sql -T 8; }
single_late() { pgbench_tps "$1" single_late.sql -T 8; }

m() { echo "$1" | tr ' ' '\n' | grep . | median; }
# measure what unit command: REPEAT samples of "command <table>" for both
# tables, in an order that alternates with the round, and the line with
# their medians; the overhead is a slowdown (time up, or throughput down)
measure() {
	local what=$1 unit=$2 cmd=$3 i plain="" tracked="" p t overhead
	for i in $(seq "$REPEAT"); do
		if [ $((i % 2)) -eq 1 ]; then
			plain+="$($cmd src_plain) "
			tracked+="$($cmd src_tracked) "
		else
			tracked+="$($cmd src_tracked) "
			plain+="$($cmd src_plain) "
		fi
	done
	p=$(m "$plain")
	t=$(m "$tracked")
	if [ "$unit" = ms ]; then overhead=$(pct "$t" "$p"); else overhead=$(pct "$p" "$t"); fi
	printf "%-46s untracked %7s %s   tracked %7s %s   overhead %s\n" "$what" "$p" "$unit" "$t" "$unit" "$overhead"
}

echo "== 10,000 new rows and 9 late ones, in 10 transactions, write $(psql_bench -At <<'SQL'
SELECT count(*) FROM microbatch.stale \gset before_
INSERT INTO src_tracked SELECT clock_timestamp(), i % 100, i % 1000 FROM generate_series(1, 10000) i;
INSERT INTO src_tracked VALUES (now() - interval '2 days', 1, 1);
INSERT INTO src_tracked VALUES (now() - interval '3 days', 1, 1);
INSERT INTO src_tracked VALUES (now() - interval '4 days', 1, 1);
INSERT INTO src_tracked VALUES (now() - interval '5 days', 1, 1);
INSERT INTO src_tracked VALUES (now() - interval '6 days', 1, 1);
INSERT INTO src_tracked VALUES (now() - interval '7 days', 1, 1);
INSERT INTO src_tracked VALUES (now() - interval '8 days', 1, 1);
INSERT INTO src_tracked VALUES (now() - interval '9 days', 1, 1);
INSERT INTO src_tracked VALUES (now() - interval '10 days', 1, 1);
SELECT count(*) - :before_count FROM microbatch.stale;
SQL
) stale marks (one per late row's window)"
echo "== medians of $REPEAT; overhead = how much slower the tracked table is"
measure "COPY 1M new rows" ms copy_new
measure "COPY 1M late rows (every row marks)" ms copy_late
measure "INSERT 1,000-row batches, new" tps batch_new
measure "INSERT 1,000-row batches, late over 720 hours" tps batch_late
for sc in on off; do
	psql_bench -c "ALTER SYSTEM SET synchronous_commit = $sc" -c "SELECT pg_reload_conf()" >/dev/null
	measure "single-row INSERT transactions, new (sync $sc)" tps single_new
	measure "single-row INSERT transactions, late (sync $sc)" tps single_late
done

echo "== late rows in 3 scattered old windows (a pipeline over a source of its own, 10 rows an hour)"
psql_bench -At <<'SQL'
CREATE TABLE src_late (LIKE src_plain);
INSERT INTO src_late SELECT date_trunc('hour', now()) - interval '30 days' + i * interval '6 minutes', 1, 1
  FROM generate_series(0, 7199) i;
CREATE TABLE out_late (hour timestamptz, n bigint);
SELECT mb_register('p_late', 'out_late', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, count(*) AS n FROM src_late
         WHERE at >= $1 AND at < $2 GROUP BY 1$$, 'hour', date_trunc('hour', now()) - interval '30 days',
       lookback => 0, end_at => date_trunc('hour', now()), track => true) > 0;
SELECT 'the first run processed ' || windows || ' windows' FROM mb_run('p_late');
BEGIN;
INSERT INTO src_late VALUES (now() - interval '20 days', 1, 1), (now() - interval '11 days', 1, 1),
                            (now() - interval '3 days', 1, 1);
COMMIT;
SELECT 'plan: ' || count(*) || ' windows, reason ' || string_agg(DISTINCT reason, ', ') FROM mb_plan('p_late');
SELECT 'the next run processed ' || windows || ' windows' FROM mb_run('p_late');
SQL
echo "load: $(cat /proc/loadavg)"

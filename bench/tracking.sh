#!/usr/bin/env bash
# microbatch benchmark: what tracking a source (mb_track) costs its writers.
#
#   bash bench/tracking.sh          # REPEAT=3 by default
#
# Starts a throwaway cluster with three copies of one source table:
# untracked, tracked as mb_track tracks a plain table (statement-level AFTER
# triggers with transition tables that collect the changed windows of the
# transaction, written before it commits), and tracked by a BEFORE ... FOR
# EACH ROW trigger calling the same function (what a partitioned table gets;
# the alternative that was measured and not kept for plain tables).  A
# pipeline with hourly windows tracks each tracked copy.  It measures,
# alternating the three so that drift in the machine's speed hits them
# alike (medians of REPEAT samples):
#   1. COPY of 1,000,000 rows spread over 30 days, from a file;
#   2. INSERT in batches of 1,000 rows of the last hour (pgbench, 300
#      transactions), and as a worst case batches scattered over 30 days;
#   3. single-row INSERT transactions (pgbench, 8 s), with synchronous_commit
#      on and off;
# then checks that a run after late rows in 3 scattered old windows
# processes exactly those 3 windows.  Timings never decide pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
DIR=/tmp/microbatch-bench-tracking
PORT=${PORT:-5489}
source bench/common.sh
start_cluster

# rotated i: the three tables, in an order that rotates with the round, so
# that nothing periodic in the machine always hits the same one
rotated() {
	local tables=(src_plain src_row src_stmt)
	echo "${tables[$(($1 % 3))]} ${tables[$((($1 + 1) % 3))]} ${tables[$((($1 + 2) % 3))]}"
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (a - b) * 100 / b }'; }

echo "== setting up"
psql_bench <<'SQL'
CREATE EXTENSION microbatch;
CREATE TABLE src_plain (at timestamptz, client int, amount numeric);
CREATE TABLE src_row (LIKE src_plain);
CREATE TABLE src_stmt (LIKE src_plain);
CREATE TABLE out_row (hour timestamptz, n bigint);
CREATE TABLE out_stmt (LIKE out_row);
SELECT mb_register('p_row', 'out_row', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, count(*) AS n FROM src_row
         WHERE at >= $1 AND at < $2 GROUP BY 1$$, 'hour', now() - interval '31 days',
       lookback => 0, end_at => date_trunc('hour', now()), track => true);
SELECT mb_register('p_stmt', 'out_stmt', 'hour',
       $$SELECT date_trunc('hour', at) AS hour, count(*) AS n FROM src_stmt
         WHERE at >= $1 AND at < $2 GROUP BY 1$$, 'hour', now() - interval '31 days',
       lookback => 0, end_at => date_trunc('hour', now()), track => true);
-- the row-level alternative (what a partitioned source gets): the same
-- function, called BEFORE each row
DROP TRIGGER microbatch_track_insert ON src_row;
DROP TRIGGER microbatch_track_update ON src_row;
DROP TRIGGER microbatch_track_delete ON src_row;
CREATE TRIGGER microbatch_track BEFORE INSERT OR UPDATE OR DELETE ON src_row
	FOR EACH ROW EXECUTE FUNCTION microbatch.track_changes();
COPY (SELECT now() - random() * interval '30 days', i % 100, i % 1000
        FROM generate_series(1, 1000000) i) TO '/tmp/microbatch-bench-tracking.copy';
SQL

cat > "$DIR/batch.sql" <<'EOF2'
INSERT INTO :tbl SELECT now() - random() * interval '1 hour', i % 100, i % 1000 FROM generate_series(1, 1000) i;
EOF2
cat > "$DIR/scattered.sql" <<'EOF2'
INSERT INTO :tbl SELECT now() - random() * interval '30 days', i % 100, i % 1000 FROM generate_series(1, 1000) i;
EOF2
cat > "$DIR/single.sql" <<'EOF2'
INSERT INTO :tbl VALUES (now() - random() * interval '1 hour', 1, 1);
EOF2
chown postgres "$DIR"/*.sql 2>/dev/null || true

copy_into() {
	psql_bench -c "TRUNCATE $1" -c "CHECKPOINT"
	ms psql_bench -c "COPY $1 FROM '/tmp/microbatch-bench-tracking.copy'"
}
pgbench_tps() {
	local tbl=$1 script=$2
	shift 2
	as_pg "$PG_BIN/pgbench" -n -h /tmp -p "$PORT" -U postgres -D tbl="$tbl" -f "$DIR/$script" "$@" postgres |
		awk '/^tps/ { printf "%.0f\n", $3 }'
}
report() {
	local what=$1 unit=$2 plain=$3 row=$4 stmt=$5
	printf "%-44s plain %6s %s   row trigger %6s (%s)   statement trigger %6s (%s)\n" \
		"$what" "$plain" "$unit" "$row" "$(pct "$row" "$plain")" "$stmt" "$(pct "$stmt" "$plain")"
}

m() { echo "$1" | tr ' ' '\n' | grep . | median; }
# measure what unit command...: REPEAT samples of "command... <table>" for
# the three tables, in rotating order, and the line with their medians
measure() {
	local what=$1 unit=$2 i t
	shift 2
	declare -A samples=()
	for i in $(seq "$REPEAT"); do
		for t in $(rotated "$i"); do samples[$t]+="$("$@" "$t") "; done
	done
	report "$what" "$unit" "$(m "${samples[src_plain]}")" "$(m "${samples[src_row]}")" \
		"$(m "${samples[src_stmt]}")"
}
batch() { pgbench_tps "$1" batch.sql -t 300; }
scattered() { pgbench_tps "$1" scattered.sql -t 100; }
single() { pgbench_tps "$1" single.sql -T 8; }

echo "== COPY of 1,000,000 rows (ms, median of $REPEAT)"
measure "COPY 1M rows" ms copy_into
echo "== INSERT in batches of 1,000 rows (tps, median of $REPEAT)"
measure "INSERT 1,000-row batches" tps batch
echo "== the worst case: each 1,000-row batch scattered over all 720 hours of 30 days (tps, median of $REPEAT)"
measure "INSERT 1,000-row batches over 720 windows" tps scattered
for sc in on off; do
	psql_bench -c "ALTER SYSTEM SET synchronous_commit = $sc" -c "SELECT pg_reload_conf()" >/dev/null
	measure "single-row INSERT transactions (sync $sc)" tps single
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

#!/usr/bin/env bash
# What a window costs on Citus, against the same pipeline on plain
# PostgreSQL tables of the coordinator, on one throwaway cluster
# (test/citus-cluster.sh: a coordinator and two workers on this machine).
#
#   bash bench/citus.sh           # REPEAT=3 by default, medians in ms
#
# 1. 30 daily windows over 1,000,000 events (rollup by client and day),
#    CALL mb_backfill in one session: distributed source and co-located
#    target, versus local tables;
# 2. fixed cost: 200 ten-minute windows over an empty source, both ways;
# 3. parallel: the distributed backfill of 1. with mb_run on 1 and 2 workers.
# Needs Citus installed (bash ../shared/citus/build.sh).  Timings never decide
# a test; they are written up in doc/scaling.md.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
DIR=/tmp/microbatch-citus-bench
PORT=${PORT:-5491}

source bench/common.sh
sql() {
	as_pg "$PG_BIN/psql" -X -q -At -h "$DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
}
# server_ms prints how many milliseconds its SQL took in the server
server_ms() {
	sql -c "DO \$\$ DECLARE t timestamptz := clock_timestamp(); BEGIN $1; RAISE NOTICE 'ms %', extract(epoch FROM clock_timestamp() - t) * 1000; END \$\$" 2>&1 |
		sed -n 's/.*ms \([0-9.]*\).*/\1/p'
}
# ms_call times a CALL (procedures that commit cannot run inside DO)
ms_call() { ms sql -c "SET microbatch.progress = off" -c "$1"; }

bash test/citus-cluster.sh stop "$DIR" >/dev/null 2>&1 || true
bash test/citus-cluster.sh start "$DIR" "$PORT" >/dev/null
trap 'bash test/citus-cluster.sh stop "$DIR" >/dev/null' EXIT

sql <<'SQL'
CREATE TABLE events (client int NOT NULL, created_at timestamptz NOT NULL, amount numeric);
SELECT create_distributed_table('events', 'client', shard_count => 8);
INSERT INTO events SELECT i % 50, '2024-01-01'::timestamptz + (i::float8 / 1000000) * interval '30 days', i % 1000
  FROM generate_series(0, 999999) i;
CREATE TABLE events_local AS SELECT * FROM events;
CREATE INDEX ON events_local (created_at);
CREATE TABLE empty_dist (client int NOT NULL, created_at timestamptz NOT NULL);
SELECT create_distributed_table('empty_dist', 'client', shard_count => 8);
CREATE TABLE empty_local (client int NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE daily_dist (client int NOT NULL, day timestamptz, n bigint, total numeric);
SELECT create_distributed_table('daily_dist', 'client', colocate_with => 'events');
CREATE TABLE daily_local (client int NOT NULL, day timestamptz, n bigint, total numeric);
CREATE TABLE tenmin_dist (client int NOT NULL, at timestamptz, n bigint);
SELECT create_distributed_table('tenmin_dist', 'client', colocate_with => 'empty_dist');
CREATE TABLE tenmin_local (client int NOT NULL, at timestamptz, n bigint);
ANALYZE;
SET microbatch.progress = off;
SELECT mb_register('daily_dist', 'daily_dist', 'day', $$SELECT client, date_trunc('day', created_at) AS day,
  count(*) AS n, sum(amount) AS total FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
  'day', '2024-01-01', end_at => '2024-01-31');
SELECT mb_register('daily_local', 'daily_local', 'day', $$SELECT client, date_trunc('day', created_at) AS day,
  count(*) AS n, sum(amount) AS total FROM events_local WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
  'day', '2024-01-01', end_at => '2024-01-31');
SELECT mb_register('tenmin_dist', 'tenmin_dist', 'at', $$SELECT client, date_trunc('minute', created_at) AS at,
  count(*) AS n FROM empty_dist WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
  '10min', '2024-01-01', end_at => '2024-01-02 09:20');
SELECT mb_register('tenmin_local', 'tenmin_local', 'at', $$SELECT client, date_trunc('minute', created_at) AS at,
  count(*) AS n FROM empty_local WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
  '10min', '2024-01-01', end_at => '2024-01-02 09:20');
SQL

declare -A t
for kind in dist local; do t[daily_$kind]=""; t[tenmin_$kind]=""; done
t[par1]=""; t[par2]=""
for ((i = 0; i < REPEAT; i++)); do
	for kind in dist local; do
		t[daily_$kind]+="$(ms_call "CALL mb_backfill('daily_$kind', '2024-01-01', '2024-01-31', 1)") "
		t[tenmin_$kind]+="$(ms_call "CALL mb_backfill('tenmin_$kind', '2024-01-01', '2024-01-02 09:20', 1)") "
	done
	sql -c "SELECT mb_reset('daily_dist')" >/dev/null
	t[par1]+="$(server_ms "PERFORM * FROM mb_run('daily_dist', 1)") "
	sql -c "SELECT mb_reset('daily_dist')" >/dev/null
	t[par2]+="$(server_ms "PERFORM * FROM mb_run('daily_dist', 2)") "
done
med() { echo "${t[$1]}" | tr ' ' '\n' | grep . | median; }
equal=$(sql -c "SELECT (SELECT count(*) FROM (TABLE daily_dist EXCEPT ALL TABLE daily_local) a) = 0
                   AND (SELECT count(*) FROM (TABLE daily_local EXCEPT ALL TABLE daily_dist) b) = 0")

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GiB, $($PG_BIN/postgres --version), Citus $(sql -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'"), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: bash bench/citus.sh (REPEAT=$REPEAT, medians in ms; coordinator and 2 workers on this machine)"
echo
printf '%-56s %10s %10s %8s\n' measurement citus local ratio
d=$(med daily_dist); l=$(med daily_local)
printf '%-56s %10s %10s %8.2f\n' "1. 30 daily windows, 1M events (results equal: $equal)" "$d" "$l" "$(echo "$d / $l" | bc -l)"
printf '%-56s %10.1f %10.1f\n' "   per window" "$(echo "$d / 30" | bc -l)" "$(echo "$l / 30" | bc -l)"
d=$(med tenmin_dist); l=$(med tenmin_local)
printf '%-56s %10s %10s %8.2f\n' "2. 200 ten-minute windows, empty source" "$d" "$l" "$(echo "$d / $l" | bc -l)"
printf '%-56s %10.2f %10.2f\n' "   per window" "$(echo "$d / 200" | bc -l)" "$(echo "$l / 200" | bc -l)"
p1=$(med par1); p2=$(med par2)
printf '%-56s %10.0f %10.0f %8.2f\n' "3. distributed daily run, 1 worker vs 2 (speedup)" "$p1" "$p2" "$(echo "$p1 / $p2" | bc -l)"

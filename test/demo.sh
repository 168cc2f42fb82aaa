#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs a real pipeline
# end to end: installs PostgreSQL 15 and pg_cron if missing, builds and
# installs microbatch, starts a throwaway cluster, generates a million
# events, and maintains a daily rollup of them with background workers.
# The cluster is removed at the end (KEEP=1 keeps it running).
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/setup-debian.sh

PG_BIN=/usr/lib/postgresql/15/bin
DIR=/tmp/microbatch-demo
PORT=${PORT:-5488}
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

echo "== starting a throwaway cluster in $DIR (port $PORT)"
as_pg "$PG_BIN/pg_ctl" -D "$DIR" stop -m fast >/dev/null 2>&1 || true
rm -rf "$DIR"
as_pg mkdir -p "$DIR"
as_pg "$PG_BIN/initdb" -D "$DIR" -A trust -U postgres >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w \
	-o "-p $PORT -k /tmp -c max_worker_processes=16 -c timezone=UTC" start >/dev/null
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then
		echo "== the cluster keeps running: psql -h /tmp -p $PORT -U postgres"
	else
		as_pg "$PG_BIN/pg_ctl" -D "$DIR" stop -m fast >/dev/null
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT

psql_demo() {
	as_pg "$PG_BIN/psql" -X -q -h /tmp -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
}

echo "== a million events over 30 days, and a daily rollup pipeline"
psql_demo <<'SQL'
CREATE EXTENSION microbatch;
CREATE TABLE events (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL,
                     client int NOT NULL, amount numeric NOT NULL);
INSERT INTO events (created_at, client, amount)
SELECT '2024-01-01'::timestamptz + random() * interval '30 days', (random() * 20)::int, round((random() * 100)::numeric, 2)
  FROM generate_series(1, 1000000);
CREATE INDEX ON events (created_at);
ANALYZE events;

CREATE TABLE daily_stats (day timestamptz, client int, events bigint, revenue numeric);
SELECT mb_register('daily_stats', 'daily_stats', 'day',
       $$SELECT date_trunc('day', created_at) AS day, client, count(*) AS events, sum(amount) AS revenue
           FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
       batch_size => 'day', begin_at => '2024-01-01', end_at => '2024-01-31',
       max_parallel => 2) AS pipeline_id;
\echo
\echo -- what the first run will do
SELECT reason, count(*) AS windows FROM mb_plan('daily_stats') GROUP BY 1;
SQL

echo
echo "== SELECT * FROM mb_run('daily_stats')"
psql_demo -c "SELECT * FROM mb_run('daily_stats');"

echo "== late data arrives for January 30th; the next run reprocesses the lookback window"
psql_demo <<'SQL'
INSERT INTO events (created_at, client, amount) VALUES ('2024-01-30 12:00', 99, 1000);
SELECT * FROM mb_run('daily_stats');
SQL

echo "== the result"
psql_demo <<'SQL'
SELECT day::date, sum(events) AS events, sum(revenue) AS revenue
  FROM daily_stats GROUP BY 1 ORDER BY 1 LIMIT 5;
SELECT sum(events) AS events_in_rollup, (SELECT count(*) FROM events) AS events_in_source
  FROM daily_stats;
SELECT pipeline, high_water, failed_windows, missing_windows, last_run_status FROM microbatch.status;
SQL

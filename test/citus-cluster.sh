#!/usr/bin/env bash
# A throwaway Citus cluster for trying microbatch out and for bench/citus.sh:
# a coordinator and two workers on unix sockets in DIR, run as an
# unprivileged user (postgres when started as root).
#
#   bash test/citus-cluster.sh start DIR [PORT]   coordinator on PORT (default
#                                                 5491), workers on PORT+1, PORT+2
#   bash test/citus-cluster.sh stop DIR
#
# Needs Citus installed into the PostgreSQL that PG_CONFIG names (default:
# Debian's 15): bash ../shared/citus/build.sh.  The coordinator's database
# "postgres" has citus and microbatch; connect with
#   psql -h DIR -p PORT postgres
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PG_BIN=$("$PG_CONFIG" --bindir)

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
	local dir=$1 port=${2:-5491} i node_port
	if [ ! -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
		echo "citus-cluster.sh: Citus is not installed for $("$PG_CONFIG" --version); run ../shared/citus/build.sh" >&2
		exit 1
	fi
	mkdir -p "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
	for i in 0 1 2; do
		node_port=$((port + i))
		as_pg "$PG_BIN/initdb" -D "$dir/node$i" -A trust -U postgres >/dev/null
		as_pg "$PG_BIN/pg_ctl" -D "$dir/node$i" -l "$dir/node$i.log" -w -o "-p $node_port -k $dir \
			-c listen_addresses= -c shared_preload_libraries=citus -c citus.node_conninfo=sslmode=disable \
			-c max_worker_processes=24 -c timezone=UTC -c shared_buffers=512MB -c max_wal_size=4GB" \
			start >/dev/null
		as_pg "$PG_BIN/psql" -X -q -h "$dir" -p "$node_port" -U postgres -d postgres \
			-c 'CREATE EXTENSION citus'
	done
	as_pg "$PG_BIN/psql" -X -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 <<-SQL
		SELECT citus_set_coordinator_host('$dir', $port);
		SELECT citus_add_node('$dir', $((port + 1)));
		SELECT citus_add_node('$dir', $((port + 2)));
		CREATE EXTENSION microbatch;
	SQL
	echo "citus cluster in $dir: coordinator on port $port, workers on $((port + 1)) and $((port + 2))"
}

stop() {
	local dir=$1 i
	for i in 0 1 2; do
		[ -d "$dir/node$i" ] && as_pg "$PG_BIN/pg_ctl" -D "$dir/node$i" stop -m fast >/dev/null || true
	done
	rm -rf "$dir"
}

case "${1:-}" in
	start) start "$2" "${3:-}" ;;
	stop) stop "$2" ;;
	*) echo "usage: $0 start DIR [PORT] | stop DIR" >&2; exit 2 ;;
esac

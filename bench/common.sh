# What the benchmarks in bench/ share: the helpers that run as the postgres
# user, time and summarise, and start_cluster, a throwaway cluster of
# Debian's PostgreSQL 15 in $DIR on $PORT (more server settings in
# EXTRA_SETTINGS), stopped and removed on exit.  Sourced from the top of the
# checkout.
PG_BIN=/usr/lib/postgresql/15/bin

# as_pg runs a command as the postgres user when this script runs as root
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
# psql_bench runs psql against the benchmark's cluster
psql_bench() {
	as_pg env PGOPTIONS="${PGOPTS:-}" "$PG_BIN/psql" -X -q -h /tmp -p "$PORT" -U postgres \
		-d postgres -v ON_ERROR_STOP=1 "$@"
}

# start_cluster installs what is missing, builds microbatch, and starts the
# benchmark's own cluster
start_cluster() {
	bash test/setup-debian.sh >/dev/null
	as_pg "$PG_BIN/pg_ctl" -D "$DIR" stop -m fast >/dev/null 2>&1 || true
	rm -rf "$DIR"
	as_pg mkdir -p "$DIR"
	as_pg "$PG_BIN/initdb" -D "$DIR" -A trust -U postgres >/dev/null
	as_pg "$PG_BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -o "-p $PORT -k /tmp \
		-c max_worker_processes=16 -c timezone=UTC -c shared_buffers=1GB -c max_wal_size=4GB \
		-c microbatch.progress=off ${EXTRA_SETTINGS:-}" start >/dev/null
	trap 'as_pg "$PG_BIN/pg_ctl" -D "$DIR" stop -m fast >/dev/null; rm -rf "$DIR"' EXIT
}

# ms runs a command and prints how many milliseconds it took
ms() {
	local start end
	start=$(date +%s%N)
	"$@" >/dev/null
	end=$(date +%s%N)
	echo $(((end - start) / 1000000))
}
# median prints the median of the numbers on stdin
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

#!/usr/bin/env bash
# Installs what microbatch needs on Debian (PostgreSQL $PG_MAJOR, default 15
# as on Debian 12, with its server headers, pg_cron, the TAP test modules),
# then builds and installs the extension.  Safe to run again: it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PACKAGES=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-$PG_MAJOR-cron libipc-run-perl make gcc)

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for package in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "== installing ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "== building microbatch for PostgreSQL $PG_MAJOR"
# with_llvm=no: no JIT bitcode, so no clang is needed; WERROR=1: a warning
# fails the build (development and CI)
make -s PG_CONFIG="$PG_BIN/pg_config" with_llvm=no WERROR=1
as_root make -s PG_CONFIG="$PG_BIN/pg_config" with_llvm=no install

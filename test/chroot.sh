#!/usr/bin/env bash
# Runs microbatch's test suite against one PostgreSQL major inside a
# throwaway Debian chroot, so that no PostgreSQL of this machine is touched.
#
#   bash test/chroot.sh build MAJOR   make (or reuse) the chroot for MAJOR
#   bash test/chroot.sh test MAJOR    build it if needed, copy the tree in,
#                                     build microbatch there, run the suite
#
# Each major comes from the Debian release that packages it together with
# pg_cron.  The chroots are made with mmdebstrap (minbase plus what the suite
# needs) and cached in $MICROBATCH_CHROOTS (default
# /var/cache/microbatch-chroots), outside the checkout; a chroot is rebuilt
# only when its package list changes or it is deleted.  Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${MICROBATCH_CHROOTS:-/var/cache/microbatch-chroots}
MIRROR=${MICROBATCH_MIRROR:-http://deb.debian.org/debian}

# release_of prints the Debian release that packages PostgreSQL $1.
release_of() {
	case "$1" in
		13) echo bullseye ;;
		15) echo bookworm ;;
		17) echo trixie ;;
		18) echo sid ;;
		*) echo "chroot.sh: no Debian release is known to package PostgreSQL $1 (chroots: 13 15 17 18; 19 is built from source: test/pg-cassert.sh)" >&2
		   return 1 ;;
	esac
}

# packages_of prints the packages a chroot for PostgreSQL $1 needs.
packages_of() {
	echo "postgresql-$1,postgresql-server-dev-$1,postgresql-$1-cron,make,gcc,libc6-dev,perl,libipc-run-perl"
}

# build makes the chroot for PostgreSQL $1 unless a current one is cached.
build() {
	local major=$1 release root packages stamp
	release=$(release_of "$major")
	root="$CACHE/$release"
	packages=$(packages_of "$major")
	stamp="$packages $MIRROR"
	mkdir -p "$CACHE"
	# one build per release at a time, even from parallel runs
	exec {lock}>"$CACHE/$release.lock"
	flock "$lock"
	if [ -f "$root/.microbatch-stamp" ] && [ "$(cat "$root/.microbatch-stamp")" = "$stamp" ]; then
		flock -u "$lock"
		return 0
	fi
	if ! command -v mmdebstrap >/dev/null; then
		echo "== installing mmdebstrap"
		# two builds may start at once: apt waits for the other's lock
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 mmdebstrap >/dev/null
	fi
	echo "== PG $major: building the $release chroot in $root"
	rm -rf "$root.new"
	# no cluster is created at install: the suite makes its own
	# the mirror may serve a frozen snapshot whose Release files have expired
	mmdebstrap --quiet --variant=minbase --include="$packages" \
		--aptopt='Acquire::Check-Valid-Until "false"' \
		--customize-hook='echo "create_main_cluster = false" >> "$1/etc/postgresql-common/createcluster.conf"' \
		--essential-hook='mkdir -p "$1/etc/postgresql-common" && echo "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.conf"' \
		"$release" "$root.new" "$MIRROR"
	echo "$stamp" > "$root.new/.microbatch-stamp"
	rm -rf "$root"
	mv "$root.new" "$root"
	flock -u "$lock"
}

# run_suite copies the tree into the chroot for PostgreSQL $1 and runs the
# suite there against that major, as the README's test command would.
run_suite() {
	local major=$1 release root src rc=0
	release=$(release_of "$major")
	root="$CACHE/$release"
	build "$major"
	src=$(mktemp -d "$root/tmp/microbatch.XXXXXX")
	# the tree without build products or git metadata
	tar --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=tmp_check --exclude=results --exclude=output_iso -cf - . | tar -xf - -C "$src"
	# Citus is tested on 15, built from the source beside the checkout
	local citus=()
	if [ "$major" = 15 ] && [ -f "${CITUS_SRC:-../shared/citus}/build.sh" ]; then
		cp -r "${CITUS_SRC:-../shared/citus}" "$src/.citus"
		citus=(--citus "/tmp/${src##*/}/.citus")
	fi
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	mount --make-rslave "$root/dev"
	# a private /dev/shm: parallel suites' shared memory never meets
	mount -t tmpfs -o size=1g,mode=1777 shm "$root/dev/shm"
	trap 'umount "$root/dev/shm"; umount -R "$root/dev"; umount "$root/proc"; trap - RETURN' RETURN
	chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/tmp \
		bash "/tmp/${src##*/}/test/run-tests.sh" --local "$major" "${citus[@]}" || rc=$?
	rm -rf "$src"
	return "$rc"
}

case "${1:-}" in
	build) build "$2" ;;
	test) run_suite "$2" ;;
	*) echo "usage: $0 build|test MAJOR" >&2; exit 2 ;;
esac

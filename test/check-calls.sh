#!/usr/bin/env bash
# check-calls.sh DIR: fails when a C file of microbatch calls, directly or
# through others, back into a file that calls it (the objects in DIR/src,
# read with nm).  The sources are layered: an entry point calls down, never
# up, so that each file can be read knowing only those below it.
set -euo pipefail
dir=${1:-.}
for obj in "$dir"/src/*.o; do
	name=$(basename "$obj" .o)
	nm "$obj" | awk -v f="$name" '$2 == "T" { print "def", f, $3 } $1 == "U" { print "use", f, $2 }'
done | awk '
	$1 == "def" { owner[$3] = $2; files[$2] = 1 }
	$1 == "use" { n++; user[n] = $2; sym[n] = $3; files[$2] = 1 }
	END {
		for (i = 1; i <= n; i++)
			if ((sym[i] in owner) && owner[sym[i]] != user[i]) {
				reach[user[i], owner[sym[i]]] = 1
				via[user[i], owner[sym[i]]] = sym[i]
			}
		for (k in files) for (i in files) if ((i, k) in reach) for (j in files)
			if ((k, j) in reach) reach[i, j] = 1
		for (i in files) for (j in files)
			if (i < j && ((i, j) in reach) && ((j, i) in reach)) {
				printf "call cycle: %s.c and %s.c reach each other", i, j
				if ((i, j) in via) printf " (%s.c calls %s)", i, via[i, j]
				if ((j, i) in via) printf " (%s.c calls %s)", j, via[j, i]
				printf "\n"
				bad = 1
			}
		if (bad) exit 1
		print "call layers: no file calls back into one that calls it"
	}'

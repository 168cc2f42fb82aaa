#!/usr/bin/env bash
# check-logs.sh FILE|DIR...: fails when a PostgreSQL server log shows a
# process that crashed, and prints the lines that say so.  A crash in a
# test is a bug even when every test passed: the postmaster restarted every
# session (restart_after_crash) and the tests went on.  Directories are
# searched for *.log files; the TAP runner's own logs (regress_log_*) are
# not server logs and are skipped.
#
# A crash is any of these lines:
#   ... (PID 123) was terminated by signal 11: Segmentation fault
#                 (any signal: a backend or background worker died of it)
#   ... (PID 123) was terminated by exception 0xC0000005   (Windows)
#   TRAP: failed Assert("..."), File: ...    (an assertion failed; before
#   TRAP: FailedAssertion("...", ...)         PostgreSQL 16 the second form)
#
# A test that kills a process with kill -9 on purpose says so first, in the
# log of the server it kills in (MicrobatchTest::kill9 does):
#   microbatch-test: expect signal 9 for PID 123
# and that one process's "terminated by signal 9" is not a crash.  Nothing
# else can be excused: a segfault (11), an abort (6, a PANIC or a failed
# assertion), a bus error (7), any TRAP is always a failure.
set -uo pipefail

files=()
for arg in "$@"; do
	if [ -d "$arg" ]; then
		while IFS= read -r -d '' file; do files+=("$file"); done < <(
			find "$arg" -type f -name '*.log' ! -name 'regress_log_*' -print0 | sort -z)
	elif [ -f "$arg" ]; then
		files+=("$arg")
	fi
done

bad=0
for file in "${files[@]}"; do
	# the declared PIDs first (the marker may follow the crash line when
	# the postmaster wrote first), then every crash line not declared
	lines=$(awk '
		FNR == NR {
			if (match($0, /microbatch-test: expect signal 9 for PID [0-9]+/))
				expected[substr($0, RSTART + 41, RLENGTH - 41)] = 1
			next
		}
		/TRAP: / || /was terminated by exception/ { print FNR ": " $0; next }
		match($0, /\(PID [0-9]+\) was terminated by signal [0-9]+/) {
			split(substr($0, RSTART, RLENGTH), word, /[ )]+/)
			if (word[7] == "9" && (word[2] in expected)) next
			print FNR ": " $0
		}' "$file" "$file")
	if [ -n "$lines" ]; then
		echo "server log $file: a process crashed"
		echo "$lines" | sed 's/^/  /'
		bad=1
	fi
done
if [ "$bad" -ne 0 ]; then
	echo "server logs: crashed (see above), ${#files[@]} logs read"
	exit 1
fi
echo "server logs: no crash in ${#files[@]} logs"

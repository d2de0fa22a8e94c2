#!/bin/bash
# summary.sh MODE BASE...: the closing summary of 'make' (demo) or
# 'make check' over the kernels just run.  For check, the last line is
# "N passed, N failed, N skipped" and the exit status is 1 on any failure.
set -eu
. "$(dirname "$0")/lib.sh"

mode=${1:?usage: summary.sh MODE BASE...}
shift
passed=0 failed=0 skipped=0
echo
msg "summary ($mode, $KERNEL $FLAVOUR kernels)"
for base in "$@"; do
	res=$(result_dir "$base" "$KERNEL" "$FLAVOUR")/$mode
	if [ ! -f "$res/summary.json" ]; then
		echo "$base: no results (the run did not complete)"
		failed=$((failed + 1))
		continue
	fi
	cat "$res/summary.txt"
	if [ "$mode" = demo ]; then
		# What collapsed, as the demo program reported it.
		grep -E '^# (anon|shmem|text)(: [0-9]+ of| of )' "$res/results.tap" | sed 's/^# /    /'
	fi
	cat "$res/failures"
	p=$(sed -n 's/^  "passed": \([0-9]*\),/\1/p' "$res/summary.json")
	f=$(sed -n 's/^  "failed": \([0-9]*\),/\1/p' "$res/summary.json")
	s=$(sed -n 's/^  "skipped": \([0-9]*\),/\1/p' "$res/summary.json")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]

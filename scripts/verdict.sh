#!/bin/bash
# verdict.sh BASE RESULT-DIR: judge one guest run and write summary.json.
# A plan entry fails on "not ok", and when it has no result at all (the
# guest stopped: timeout, panic).  The guest log is one more verdict,
# "guest-log-clean": any BUG, WARNING, lockdep, KASAN report, Oops, panic
# or Call Trace fails it, and the summary quotes the excerpt.
set -eu
. "$(dirname "$0")/lib.sh"

base=${1:?usage: verdict.sh BASE RESULT-DIR}
res=${2:?usage: verdict.sh BASE RESULT-DIR}
read -r qrc secs <"$res/qemu.status"
read -r base_sha base_desc <"$CACHE/src/$(tree_id "$base").base"
src=$(src_dir "$base" "$KERNEL")
head=$(git -C "$src" rev-parse HEAD)$(tree_dirty "$src")
tests_head=$(git -C "$(tests_src "$base")" rev-parse HEAD)$(tree_dirty "$(tests_src "$base")")
series=$(git -C "$src" log --reverse --format=%s "$base_sha..HEAD" | paste -sd'\t')

# Kernel reports in the console log, each with a few lines of context.
pattern='BUG:|WARNING:|Oops|Kernel panic|general protection fault|KASAN|UBSAN|Call Trace:|possible circular locking|possible recursive locking|inconsistent lock state|DEBUG_LOCKS_WARN_ON|INFO: task .* blocked|soft lockup|hard LOCKUP|rcu: INFO: .*detected stall'
# Not counted: the stack dump of an allocation that failed because
# make stress injected the failure ("page allocation failure" or "vmalloc
# error" up to the end of its stack, "</TASK>"); everything else still is.
awk -v pat="$pattern" '/page allocation failure: order:|vmalloc error: size/ { skip = 1 }
	!skip && $0 ~ pat { print NR ":" $0 }
	skip && /<\/TASK>/ { skip = 0 }' "$res/guest.log" >"$res/reports" 2>/dev/null || true
excerpt=$(if [ -s "$res/reports" ]; then
	first=$(head -n 1 "$res/reports" | cut -d: -f1)
	sed -n "$((first > 3 ? first - 3 : 1)),$((first + 25))p" "$res/guest.log"
fi)
finished=false
grep -q '^# guest: done' "$res/results.tap" && finished=true

# The excerpt through the environment: awk -v would interpret its
# backslashes (ACPI's "\_SB_" made summary.json invalid JSON).
EXCERPT=$excerpt awk -F'\t' -v tap="$res/results.tap" -v qrc="$qrc" -v secs="$secs" \
	-v finished="$finished" -v reports="$(wc -l <"$res/reports")" \
	-v kernel="$(basename "$(dirname "$res")")" -v mode="$(basename "$res")" \
	-v base="$base_desc" -v base_sha="$base_sha" -v head="$head" -v series="$series" \
	-v tests_head="$tests_head" '
function js(s) {
	gsub(/\\/, "\\\\\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, "\\t", s)
	gsub(/\r/, "", s); gsub(/\n/, "\\n", s); gsub(/[\001-\037]/, "", s)
	return "\"" s "\""
}
BEGIN {
	excerpt = ENVIRON["EXCERPT"]
	while ((getline line < tap) > 0) {
		if (match(line, /^(not )?ok [0-9]+ /)) {
			n = line; sub(/^(not )?ok /, "", n); num = n + 0
			sub(/^[0-9]+ /, "", n); detail = ""
			if (index(n, " # ")) { detail = substr(n, index(n, " # ") + 3); n = substr(n, 1, index(n, " # ") - 1) }
			r = line ~ /^not ok/ ? "fail" : (detail ~ /^SKIP/ ? "skip" : "pass")
			if (r == "skip") sub(/^SKIP ?/, "", detail)
			result[num] = r; det[num] = detail
		}
	}
}
{ name[NR] = $1 }
END {
	total = NR
	for (i = 1; i <= total; i++) {
		if (!(i in result)) {
			result[i] = "fail"
			det[i] = finished == "true" ? "no result" : (qrc == 124 || qrc == 137 ? "no result: the guest hit its time limit" : "no result: the guest stopped (exit " qrc ")")
		}
	}
	total++; name[total] = "guest-log-clean"
	result[total] = reports > 0 ? "fail" : "pass"
	det[total] = reports > 0 ? reports " kernel report line(s) in guest.log" : ""
	for (i = 1; i <= total; i++) count[result[i]]++
	printf "{\n  \"kernel\": %s,\n  \"mode\": %s,\n  \"base\": %s,\n  \"base_commit\": %s,\n", js(kernel), js(mode), js(base), js(base_sha)
	printf "  \"head\": %s,\n  \"series\": [", js(head)
	ns = series == "" ? 0 : split(series, s, "\t")
	for (i = 1; i <= ns; i++) printf "%s%s", (i > 1 ? ", " : ""), js(s[i])
	printf "],\n  \"tests_built_from\": %s,\n  \"seconds\": %d,\n  \"qemu_exit\": %d,\n  \"guest_finished\": %s,\n", js(tests_head), secs, qrc, finished
	printf "  \"passed\": %d,\n  \"failed\": %d,\n  \"skipped\": %d,\n  \"tests\": [\n", count["pass"], count["fail"], count["skip"]
	for (i = 1; i <= total; i++)
		printf "    {\"name\": %s, \"result\": %s, \"detail\": %s}%s\n", js(name[i]), js(result[i]), js(det[i]), (i < total ? "," : "")
	printf "  ],\n  \"log_excerpt\": %s\n}\n", js(excerpt)
}' "$res/plan" >"$res/summary.json"

# The human summary: one line per failure, what the failed program said
# of its failed cases (the harness's "Expected" lines and its reports of
# a case ended by a signal or its time limit, the message just before
# each, its "not ok" lines; collapse-stress's violations, leaks, hangs,
# OOM kills and failed scenarios; CI keeps only this output), and the
# excerpt.  summary.sh repeats the failures at the end of the output.
awk -F'"' '/"name": / { n = $4; r = $8; d = $12
	if (r == "fail") printf "    FAIL %s%s\n", n, (d != "" ? ": " d : "") }' "$res/summary.json" |
while IFS= read -r line; do
	printf '%s\n' "$line"
	n=${line#    FAIL }; n=${n%%:*}
	awk -v n="$n" -v why='Expected|Test terminated|Test ended' \
	    -v stress='^# # (VIOLATION|LEAK|HANG|OOM) |^# #   violation: |^# # signal [0-9]+ code|^# STRESS .*("(violations|hangs|leaks|oom_kills)":[1-9]|"exit":(-|[1-9]))' '
		$0 == "# " n ": " || index($0, "# " n ": ") == 1 { on = 1; next }
		on && /^(not )?ok [0-9]+ / { on = 0 }
		on && ($0 ~ why || /^# (# )?not ok|^# # .*FAIL/ || $0 ~ stress) {
			if ($0 ~ why && prev != "") print "    | " prev
			if ($0 ~ /^# STRESS /)
				sub(/,"seconds".*"violations"/, ",...,\"violations\"")
			print "    | " substr($0, 1, 300); if (++shown >= 30) exit
			prev = ""; next }
		on { prev = $0 }' "$res/results.tap"
done | tee "$res/failures"
# A "retry" entry that passed on its second run is a pass, shown here so
# that its first failure is not lost (summary.sh repeats it).
awk -F'"' '/"name": / && /passed when run again/ { printf "    RETRIED %s: %s\n", $4, $12 }' \
	"$res/summary.json" | tee -a "$res/failures"
if [ -n "$excerpt" ]; then
	echo "    first kernel report in guest.log:"
	printf '%s\n' "$excerpt" | head -n 20 | sed 's/^/    | /'
fi
counts=$(sed -n 's/^  "\(passed\|failed\|skipped\)": \([0-9]*\),/\2 \1/p' "$res/summary.json" | paste -sd, | sed 's/,/, /g')
echo "$(basename "$(dirname "$res")") $(basename "$res"): $counts (${secs}s; $res)" | tee "$res/summary.txt"

#!/bin/bash
# stress.sh BASE...: run guest/collapse-stress.c on the patched kernel of each
# BASE (FLAVOUR, kasan unless given: KASAN + lockdep + DEBUG_VM + failure
# injection), then on the stock kernel (debug flavour, no failure injection:
# it shows what the series fix), and print the side-by-side report.
# STRESS_SECONDS per scenario (default 30; make stress SOAK=<minutes> sets
# it from the total).  The exit status judges the patched kernels only.
set -eu
. "$(dirname "$0")/lib.sh"

[ $# -gt 0 ] || die "usage: stress.sh BASE..."
if [ -n "${SOAK:-}" ]; then
	export STRESS_SECONDS=$((SOAK * 60 / 5))
fi
export STRESS_SECONDS=${STRESS_SECONDS:-30}
rc=0 runs=() failed=()
# KERNEL=work: the work tree as it is instead of the exported series.
mine=patched
[ "$KERNEL" = work ] && mine=work
for base in "$@"; do
	for kernel in "$mine" stock; do
		flavour=$FLAVOUR
		[ "$kernel" = stock ] && flavour=debug
		msg "collapse-stress on $base $kernel ($flavour), $STRESS_SECONDS s per scenario"
		KERNEL=$kernel FLAVOUR=$flavour "$TOP/scripts/apply-series.sh" "$base"
		KERNEL=$kernel FLAVOUR=$flavour "$TOP/scripts/build-kernel.sh" "$base"
		KERNEL=$kernel FLAVOUR=$flavour "$TOP/scripts/build-tests.sh" "$base"
		res=$(result_dir "$base" "$kernel" "$flavour")/stress
		KERNEL=$kernel FLAVOUR=$flavour "$TOP/scripts/run-guest.sh" "$base" stress
		if [ "$kernel" != stock ] && ! grep -q '^  "failed": 0,' "$res/summary.json" 2>/dev/null; then
			rc=1
			failed+=("$base $kernel $flavour: $res" "$(cat "$res/failures" 2>/dev/null)" \
				"$(head -n 8 "$res/reports" 2>/dev/null | sed 's/^/    guest.log:/')")
		fi
		runs+=("$base $kernel $flavour $res $(src_dir "$base" "$kernel")/include/trace/events/huge_memory.h")
	done
done
printf '%s\n' "${runs[@]}" | "$TOP/scripts/stress-report" "$RESULTS/stress"
# The failures of the judged kernels once more, last (CI keeps the end).
if [ ${#failed[@]} -gt 0 ]; then
	msg "stress failed on a patched kernel"
	printf '%s\n' "${failed[@]}"
fi
exit $rc

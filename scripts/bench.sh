#!/bin/bash
# bench.sh [quick|full]: boot stock 6.1, patched 6.1 and stock 6.12 (the
# upstream reference) with the same guest configuration, run
# guest/collapse-bench.c on each, and turn its figures into
# results/bench/report.md, results/bench/bench.json and PNG plots.
# Benchmarks report; nothing here judges a figure.
set -eu
. "$(dirname "$0")/lib.sh"

mode=${1:-full}
case $mode in
quick) arg=--quick ;;
full) arg= ;;
*) die "usage: bench.sh quick|full" ;;
esac
out=$RESULTS/bench
rm -rf "$out"
mkdir -p "$out"

# base kernel label: the kernels compared, in the report's column order
kernels=("6.1 stock stock-6.1" "6.1 patched patched-6.1" "6.12 stock stock-6.12")
for k in "${kernels[@]}"; do
	read -r base kernel label <<<"$k"
	msg "bench ($mode) on $label"
	export KERNEL=$kernel
	"$TOP/scripts/apply-series.sh" "$base"
	"$TOP/scripts/build-kernel.sh" "$base"
	"$TOP/scripts/build-tests.sh" "$base"
	RUN_TIMEOUT=5400 "$TOP/scripts/run-guest.sh" "$base" run "./collapse-bench $arg" ||
		die "the benchmark did not finish on $label (see $(result_dir "$base" "$kernel" "$FLAVOUR")/run)"
	res=$(result_dir "$base" "$kernel" "$FLAVOUR")/run
	# The guest prints "# BENCH {json}" lines into its TAP.
	sed -n 's/^# BENCH //p' "$res/results.tap" >"$out/$label.jsonl"
	[ -s "$out/$label.jsonl" ] || die "no figures from $label (see $res)"
	cp "$res/guest.log" "$out/$label.guest.log"
done

msg "writing the report"
"$TOP/scripts/bench-report" "$out" "$mode" stock-6.1 patched-6.1 stock-6.12
cat "$out/summary.txt"
note "report: $out/report.md (JSON: $out/bench.json, plots: $out/*.png)"

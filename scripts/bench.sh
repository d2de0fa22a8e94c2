#!/bin/bash
# bench.sh [quick|full]: boot stock 6.1, patched 6.1 and stock 6.12 (the
# upstream reference) with the same guest configuration, run
# guest/collapse-bench.c on each, then guest/mthp-bench.c on stock and
# patched 6.12, and turn the figures into results/bench/report.md,
# results/bench/bench.json, results/bench/mthp.json and PNG plots.
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

# 6.12: khugepaged collapse of anonymous memory into the enabled sizes,
# stock (PMD size only) against the 6.12 series.
for k in "stock stock-6.12" "patched patched-6.12"; do
	read -r kernel label <<<"$k"
	msg "mTHP bench ($mode) on $label"
	export KERNEL=$kernel
	"$TOP/scripts/apply-series.sh" 6.12
	"$TOP/scripts/build-kernel.sh" 6.12
	"$TOP/scripts/build-tests.sh" 6.12
	RUN_TIMEOUT=5400 "$TOP/scripts/run-guest.sh" 6.12 run "./mthp-bench $arg" ||
		die "the mTHP benchmark did not finish on $label (see $(result_dir 6.12 "$kernel" "$FLAVOUR")/run)"
	res=$(result_dir 6.12 "$kernel" "$FLAVOUR")/run
	sed -n 's/^# BENCH //p' "$res/results.tap" >"$out/mthp-$label.jsonl"
	[ -s "$out/mthp-$label.jsonl" ] || die "no mTHP figures from $label (see $res)"
	cp "$res/guest.log" "$out/mthp-$label.guest.log"
done

msg "writing the report"
"$TOP/scripts/bench-report" "$out" "$mode" stock-6.1 patched-6.1 stock-6.12
"$TOP/scripts/bench-mthp-report" "$out" stock-6.12 patched-6.12
cat "$out/summary.txt"
note "report: $out/report.md (JSON: $out/bench.json, plots: $out/*.png)"

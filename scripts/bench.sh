#!/bin/bash
# bench.sh [quick|full]: boot stock 6.1, patched 6.1, stock 6.12 (the
# upstream reference) and patched 6.12 with the same guest configuration, run
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
# KERNEL=work: the work trees as they are stand for the patched kernels.
mine=patched
[ "$KERNEL" = work ] && mine=work
rm -rf "$out"
mkdir -p "$out"

# bench_on BASE KERNEL LABEL PROGRAM: boot the kernel, run the program,
# keep its figures ("# BENCH {json}" lines of the TAP) in LABEL.jsonl.
bench_on() {
	local base=$1 kernel=$2 label=$3 prog=$4 res
	msg "$prog ($mode) on ${label#mthp-}"
	export KERNEL=$kernel
	"$TOP/scripts/apply-series.sh" "$base"
	"$TOP/scripts/build-kernel.sh" "$base"
	"$TOP/scripts/build-tests.sh" "$base"
	res=$(result_dir "$base" "$kernel" "$FLAVOUR")/run
	RUN_TIMEOUT=5400 "$TOP/scripts/run-guest.sh" "$base" run "./$prog $arg" ||
		die "$prog did not finish on $label (see $res)"
	sed -n 's/^# BENCH //p' "$res/results.tap" >"$out/$label.jsonl"
	[ -s "$out/$label.jsonl" ] || die "no figures from $prog on $label (see $res)"
	# A program that died part-way leaves some figures: say which run.
	if grep -q '^not ok' "$res/results.tap"; then
		echo "$prog did not finish on $label: $(grep -m1 '^not ok' "$res/results.tap"); its later figures are missing (see $res)" >>"$out/incomplete.txt"
	fi
	cp "$res/guest.log" "$out/$label.guest.log"
}

# The kernels compared, in the report's column order: collapse-bench on
# 6.1, the upstream reference (stock 6.12) and patched 6.12, then
# mthp-bench (khugepaged collapse of anonymous memory into the enabled
# sizes) on stock and patched 6.12.
bench_on 6.1 stock stock-6.1 collapse-bench
bench_on 6.1 "$mine" patched-6.1 collapse-bench
bench_on 6.12 stock stock-6.12 collapse-bench
bench_on 6.12 "$mine" patched-6.12 collapse-bench
bench_on 6.12 stock mthp-stock-6.12 mthp-bench
bench_on 6.12 "$mine" mthp-patched-6.12 mthp-bench

msg "writing the report"
"$TOP/scripts/bench-report" "$out" "$mode" stock-6.1 patched-6.1 stock-6.12 \
	patched-6.12
cat "$out/summary.txt"
if [ -s "$out/incomplete.txt" ]; then
	msg "INCOMPLETE figures:"
	sed 's/^/    /' "$out/incomplete.txt"
fi
note "report: $out/report.md (JSON: $out/bench.json, plots: $out/*.png)"

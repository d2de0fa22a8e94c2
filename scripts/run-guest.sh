#!/bin/bash
# run-guest.sh BASE MODE [COMMAND]: boot the KERNEL/FLAVOUR kernel of BASE
# under QEMU (TCG) and run the plan of MODE (check: tests/BASE.plan plus the
# series' new selftests; demo: tests/demo.plan; run: COMMAND, in /tests;
# stress: guest/collapse-stress.c, STRESS_SECONDS per scenario).
# Results go to
# results/<base>-<kernel>-<flavour>/MODE/: plan, results.tap (the guest's
# TAP), guest.log (the serial console: every kernel message), summary.json.
set -eu
. "$(dirname "$0")/lib.sh"

base=${1:?usage: run-guest.sh BASE check|demo|run [COMMAND]}
mode=${2:?usage: run-guest.sh BASE check|demo|run [COMMAND]}
check_base "$base"
kernel=$(build_dir "$base" "$KERNEL" "$FLAVOUR")/arch/x86/boot/bzImage
bin=$(tests_dir "$base")/bin
res=$(result_dir "$base" "$KERNEL" "$FLAVOUR")/$mode
run="$CACHE/run/$(tree_id "$base")-$KERNEL-$FLAVOUR-$mode"
[ -f "$kernel" ] || die "no kernel at $kernel (build-kernel.sh $base first)"
[ -d "$bin" ] || die "no test programs in $bin (build-tests.sh $base first)"
case $mode in
check) plans=("$TOP/tests/$base.plan") ;;
demo) plans=("$TOP/tests/demo.plan") ;;
run)
	[ -n "${3:-}" ] || die "run needs a command, e.g. make run BASE=$base CMD='./khugepaged all:anon'"
	plans=("$res.plan")
	mkdir -p "$(dirname "$res")"
	printf 'run\t%s\ttest\t%s\n' "${RUN_TIMEOUT:-3600}" "$3" >"$res.plan"
	;;
stress)
	# Five scenarios, each its time, its teardown and, at worst, a hang
	# found by the watchdog; -S on stock: it reports, it does not judge.
	secs=${STRESS_SECONDS:-30}
	plans=("$res.plan")
	mkdir -p "$(dirname "$res")"
	printf 'collapse-stress\t%s\ttest\t./collapse-stress -t %s%s\n' \
		$((5 * (secs + 150))) "$secs" "$([ "$KERNEL" = stock ] && echo ' -S')" >"$res.plan"
	;;
*) die "unknown mode '$mode'" ;;
esac
rm -rf "$res" "$run"
mkdir -p "$res" "$run/root/bin" "$run/root/tests"

# The plan: comments dropped, the series' new selftests appended, and what
# cannot run marked as skipped with the reason.
{
	grep -hv '^#' "${plans[@]}" | grep .
	if [ "$mode" = check ]; then
		for t in $(new_selftests "$base"); do
			printf '%s\t%s\ttest\t./%s\n' "$t" "${NEW_TEST_TIMEOUT:-1200}" "$t"
		done
	fi
} | while IFS=$'\t' read -r name limit kind cmd; do
	prog=${cmd%% *}
	why=$(awk -F'\t' -v p="${prog#./}" '$1 == p { print $2 }' "$bin/../not-built" 2>/dev/null)
	if [ -n "$why" ]; then
		printf '%s\t0\tskip\t%s\n' "$name" "${prog#./} $why"
	elif [ "${prog#./}" != "$prog" ] && [ ! -x "$bin/${prog#./}" ]; then
		printf '%s\t0\tskip\t%s\n' "$name" "${prog#./} was not built"
	else
		printf '%s\t%s\t%s\t%s\n' "$name" "$limit" "$kind" "$cmd"
	fi
done >"$res/plan"

cp "$res/plan" "$run/root/plan"
cp "$TOP/guest/init" "$run/root/init"
cp "$CACHE/busybox/bin/busybox" "$run/root/bin/busybox"
find "$bin" -maxdepth 1 -type f -perm -u+x -exec cp {} "$run/root/tests/" \;
(cd "$run/root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$run/initramfs.gz"

# Scratch disks: ext4 for file-backed tests, swap, and a small ext4 the
# guest mounts data=journal (collapse-stress: buffers the journal holds).
truncate -s 2G "$run/ext4.img"
mkfs.ext4 -q -F -L scratch "$run/ext4.img"
truncate -s 256M "$run/ext4j.img"
mkfs.ext4 -q -F -L jdata "$run/ext4j.img"
truncate -s 1G "$run/swap.img"
mkswap -q "$run/swap.img" >/dev/null

# A hard time limit: the sum of the plan's limits plus boot and shutdown.
limit=$(awk -F'\t' '{ s += $2 } END { print s + 300 }' "$res/plan")
limit=${GUEST_TIMEOUT:-$limit}
ntests=$(grep -c . "$res/plan")
cpus=${GUEST_CPUS:-2}
# KASAN under TCG runs some boot-time loops (ACPI) ten times slower than a
# debug kernel: report soft lockups after 120 s instead of 20 s there, and
# RCU stalls after 100 s instead of 21 s (a KASAN boot once starved the
# rcu_sched kthread for 26 s in ACPI's IRQ link setup, 2026-12-04).
# Debug kernels: soft lockups after 60 s instead of 20 s.  The host can
# stall the whole guest for half a minute (2026-12-04: "soft lockup -
# CPU#1 stuck for 26s! [swapper/1:0]" in the idle loop, next to a 27 s
# one in split_huge_page_test, with a clocksource "Long readout
# interval"); a real lockup still shows, 40 s later.
watchdog="watchdog_thresh=30"
[ "$FLAVOUR" = kasan ] &&
	watchdog="watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=100"
mem=${GUEST_MEM:-3G}
msg "booting $base $KERNEL $FLAVOUR kernel under QEMU (TCG, $cpus CPUs, $mem): $ntests ${mode} entries, limit ${limit}s"
note "console: $res/guest.log"
: >"$res/results.tap"
start=$(date +%s)
set +e
timeout -k 10 "$limit" qemu-system-x86_64 \
	-accel tcg,thread=multi -cpu max -smp "$cpus" -m "$mem" \
	-display none -monitor none -no-reboot \
	-serial "file:$res/guest.log" -serial "file:$res/results.tap" \
	-kernel "$kernel" -initrd "$run/initramfs.gz" \
	-append "console=ttyS0 loglevel=7 panic=-1 rdinit=/init $watchdog ${GUEST_CMDLINE:-}" \
	-drive "file=$run/ext4.img,if=virtio,format=raw" \
	-drive "file=$run/swap.img,if=virtio,format=raw" \
	-drive "file=$run/ext4j.img,if=virtio,format=raw" \
	>"$res/qemu.log" 2>&1 &
qemu=$!
# Progress: each verdict as it comes, and a line a minute during long tests.
seen=0 quiet=0
while kill -0 "$qemu" 2>/dev/null; do
	sleep 5
	n=$(wc -l <"$res/results.tap")
	if [ "$n" -gt "$seen" ]; then
		sed -n "$((seen + 1)),${n}p" "$res/results.tap" | grep -E '^(not )?ok ' | sed 's/^/    /' || true
		seen=$n quiet=0
	elif [ $((quiet += 5)) -ge 60 ] && [ $((quiet % 60)) -lt 5 ]; then
		done_=$(grep -cE '^(not )?ok ' "$res/results.tap")
		test=$(sed -n "$((done_ + 1))p" "$res/plan" | cut -f1)
		note "${test:-shutdown}: running, $(( $(date +%s) - start )) s into the run"
	fi
done
wait "$qemu"
rc=$?
set -e
sed -n "$((seen + 1)),\$p" "$res/results.tap" | grep -E '^(not )?ok ' | sed 's/^/    /' || true
echo "$rc $(( $(date +%s) - start ))" >"$res/qemu.status"
rm -f "$run/ext4.img" "$run/swap.img" "$run/ext4j.img"
"$TOP/scripts/verdict.sh" "$base" "$res"

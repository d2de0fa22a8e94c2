#!/bin/bash
# Install the Debian packages the tooling needs, if any is missing.
# Idempotent: 'apt-get update' runs once, only when something is missing.
set -eu
. "$(dirname "$0")/lib.sh"

pkgs=(
	build-essential bc bison flex libelf-dev libssl-dev dwarves cpio rsync
	kmod xz-utils ccache git python3 python3-ply	# kernel build, checkpatch
	qemu-system-x86 busybox-static e2fsprogs	# guest
	gnuplot-nox			# bench plots
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

[ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]} (run as root, or install them)"
msg "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || die "apt-get update failed"
apt-get install -y -q --no-install-recommends "${missing[@]}" >"/tmp/khugepaged-series-apt.log" 2>&1 ||
	{ tail -n 20 "/tmp/khugepaged-series-apt.log" >&2; die "apt-get install failed"; }

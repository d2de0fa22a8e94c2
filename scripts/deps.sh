#!/bin/bash
# Install the Debian packages the tooling needs, if any is missing.
# Idempotent: 'apt-get update' runs once, only when something is missing.
set -eu
. "$(dirname "$0")/lib.sh"

pkgs=(
	build-essential bc bison flex libelf-dev libssl-dev dwarves cpio rsync
	kmod xz-utils ccache git python3 python3-ply	# kernel build, checkpatch
	qemu-system-x86 e2fsprogs	# guest
	gnuplot-nox			# bench plots
	shellcheck			# make check-patches
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
# The guest's busybox: the static build, unpacked into the cache rather than
# installed (busybox-static conflicts with the busybox many systems have).
busybox_static() {
	[ -x "$CACHE/busybox/bin/busybox" ] && return 0
	msg "fetching busybox-static for the guest"
	mkdir -p "$CACHE/busybox"
	(cd "$CACHE/busybox" && rm -f ./*.deb &&
		{ apt-get download -q -o APT::Sandbox::User=root busybox-static >/dev/null 2>&1 ||
		  { apt-get update -q >/dev/null && apt-get download -q -o APT::Sandbox::User=root busybox-static >/dev/null; }; } &&
		dpkg-deb -x busybox-static_*.deb . && rm -f ./*.deb) ||
		die "cannot fetch busybox-static"
	[ -x "$CACHE/busybox/bin/busybox" ] || die "busybox-static has no bin/busybox"
}

if [ ${#missing[@]} -eq 0 ]; then
	busybox_static
	exit 0
fi

[ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]} (run as root, or install them)"
msg "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || die "apt-get update failed"
apt-get install -y -q --no-install-recommends "${missing[@]}" >"/tmp/khugepaged-series-apt.log" 2>&1 ||
	{ tail -n 20 "/tmp/khugepaged-series-apt.log" >&2; die "apt-get install failed"; }
busybox_static

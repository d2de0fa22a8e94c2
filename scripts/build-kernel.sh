#!/bin/bash
# build-kernel.sh BASE: build the bzImage of the KERNEL (patched|stock|work) tree
# of BASE in the FLAVOUR (debug|kasan) configuration, out of tree, with ccache.
# Config: tinyconfig + config/common.config + config/BASE.config (+ kasan)
# (+ EXTRA_CONFIG).
set -eu
. "$(dirname "$0")/lib.sh"

base=${1:?usage: build-kernel.sh BASE}
check_base "$base"
src=$(src_dir "$base" "$KERNEL")
out=$(build_dir "$base" "$KERNEL" "$FLAVOUR")
[ -f "$src/Makefile" ] || die "no $KERNEL tree at $src (apply-series.sh $base first)"
mkdir -p "$out"

frags=("$TOP/config/common.config")
[ -f "$TOP/config/$base.config" ] && frags+=("$TOP/config/$base.config")
[ "$FLAVOUR" = kasan ] && frags+=("$TOP/config/kasan.config")
# One-off experiments: EXTRA_CONFIG names one more fragment (not used by CI).
[ -n "${EXTRA_CONFIG:-}" ] && frags+=("$(realpath "$EXTRA_CONFIG")")

export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
export KBUILD_BUILD_USER=khugepaged-series KBUILD_BUILD_HOST=qemu
kmake() { make -C "$src" O="$out" ARCH=x86_64 CC="ccache gcc" -j"$(nproc)" "$@"; }
ccache -M 20G >/dev/null

# (Re)generate .config when a fragment or the tree's Kconfig changed.
key=$(cat "${frags[@]}" | sha256sum | cut -c1-16)-$(tree_key "$src")
if [ ! -f "$out/.config" ] || [ "$(cat "$out/.config.key" 2>/dev/null)" != "$key" ]; then
	msg "configuring $base $KERNEL $FLAVOUR: tinyconfig + ${frags[*]##*/}"
	kmake -s tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}" >"$out/merge_config.log" 2>&1 ||
		{ cat "$out/merge_config.log" >&2; die "merge_config.sh failed"; }
	kmake -s olddefconfig >/dev/null
	# Kconfig silently drops options whose dependencies are not met.
	dropped=$(cat "${frags[@]}" | sed -n 's/^\(CONFIG_[A-Za-z0-9_]*\)=\(.*\)$/\1=\2/p; s/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/\1=n/p' |
		while IFS='=' read -r opt val; do
			have=$(sed -n "s/^$opt=\(.*\)/\1/p" "$out/.config")
			[ "${have:-n}" = "$val" ] || echo "$opt=$val (got ${have:-not set})"
		done)
	[ -z "$dropped" ] || die "Kconfig did not keep these options: $(echo "$dropped" | paste -sd' ')"
	echo "$key" >"$out/.config.key"
fi

msg "building $base $KERNEL $FLAVOUR kernel in $out"
run_logged "$out/build.log" "kernel build" kmake bzImage

#!/bin/bash
# build-tests.sh BASE: build the guest's test programs, statically linked, into
# $CACHE/tests/<id>/bin: the selftests named in tests/BASE.plan and every
# selftest program the series add, all from the patched tree (so the same
# binaries run on the stock and the patched kernel), and guest/*.c.
# Prints nothing but progress; tests/BASE.plan stays the list of record.
set -eu
. "$(dirname "$0")/lib.sh"

base=${1:?usage: build-tests.sh BASE}
check_base "$base"
src=$(tests_src "$base")
out=$(tests_dir "$base")
sub=$(selftest_subdir "$src")
ldflags="LDFLAGS=-static"

# make does not see a new uapi header or new flags: start afresh when the
# patched tree or the flags changed.
key="$(tree_key "$src") $ldflags"
if [ "$(cat "$out/key" 2>/dev/null)" != "$key" ]; then
	rm -rf "${out:?}/bin"
fi
mkdir -p "$out/bin"

msg "installing the uapi headers of the ${src##*/} tree"
run_logged "$out/headers.log" "headers_install" \
	make -C "$src" O="$out/hdr" ARCH=x86_64 headers_install INSTALL_HDR_PATH="$out/hdr/usr"

# The selftests the plan runs, and the programs the series add to $sub.
planned=$(awk -F'\t' '!/^#/ && NF >= 4 { split($4, w, " "); if (w[1] ~ /^\.\//) print substr(w[1], 3) }' \
	"$TOP/tests/$base.plan" | sort -u)
added=$(new_selftests "$base")
targets=()
for t in $planned $added; do
	targets+=("$out/bin/$t")
done
# Build one program at a time so that one that does not build (e.g. a
# library the tree wants is missing) is reported and skipped, not fatal.
# Static, non-PIE as the Makefile asks (-no-pie).  Such a program sits at
# 4 MB; guest/init keeps brk unrandomized so that its heap cannot take the
# fixed addresses the selftests map (see there).
: >"$out/not-built"
msg "building ${#targets[@]} selftests from $sub (static)"
for t in "${targets[@]}"; do
	if ! make -C "$src/$sub" OUTPUT="$out/bin" "$ldflags" \
		KHDR_INCLUDES="-isystem $out/hdr/usr/include" "$t" >"$t.log" 2>&1; then
		printf '%s\t%s\n' "${t##*/}" "does not build: $(grep -m1 -i 'error' "$t.log" | cut -c1-150)" >>"$out/not-built"
		warn "${t##*/} does not build (log: $t.log)"
	fi
done

msg "building the guest tools (guest/*.c)"
for c in "$TOP"/guest/*.c; do
	gcc -Wall -Werror -O2 -static -isystem "$out/hdr/usr/include" \
		-Wl,-z,max-page-size=0x200000 -Wl,-z,common-page-size=0x200000 \
		-o "$out/bin/$(basename "$c" .c)" "$c"
done
echo "$key" >"$out/key"

#!/bin/bash
# check-patches.sh BASE...: what a maintainer checks on each patch of series/BASE
# before booting anything, patch by patch in order:
#  - scripts/checkpatch.pl --strict on the patch file: an ERROR only where the
#    commit message quotes it, WARNING and CHECK lines only when the message
#    justifies them (names checkpatch); commit ids are not checked (no
#    upstream history);
#  - the tree at that patch builds the kernel objects the series changes with
#    W=1, and no W=1 warning appears in a changed file that the base does not
#    have (each patch builds on its own);
#  - the selftest programs the patch changes compile with -Wall -Werror;
# and, first, shellcheck (warnings and errors) on the tooling's own scripts.
# Uses a patched kernel's .config (debug, else kasan; built when none is): the objects
# are built in $CACHE/build/<base>-check from a worktree at $CACHE/src/<base>-check.
# Exit status 1 when any patch fails; the summary lists each patch's verdict.
set -eu
. "$(dirname "$0")/lib.sh"

[ $# -gt 0 ] || die "usage: check-patches.sh BASE..."
export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
failed=0

# What a commit message must mention to justify a checkpatch warning of
# a kind (an extended regex, matched without case): the kind's name, or
# the words a justification of it uses.
justification() { # type
	case $1 in
	FILE_PATH_CHANGES) echo 'MAINTAINERS|FILE_PATH_CHANGES' ;;
	AVOID_EXTERNS) echo 'extern' ;;
	EMBEDDED_FUNCTION_NAME) echo "__func__|function('s)? name|EMBEDDED_FUNCTION_NAME" ;;
	VOLATILE) echo 'volatile' ;;
	ARRAY_SIZE) echo 'ARRAY_SIZE' ;;
	OPEN_ENDED_LINE) echo "end(s)? with (a )?'?\\('?|OPEN_ENDED_LINE" ;;
	AVOID_BUG) echo 'BUG' ;;
	UNCOMMENTED_DEFINITION) echo 'comment|spinlock_t|UNCOMMENTED_DEFINITION' ;;
	COMMIT_LOG_LONG_LINE) echo 'long line|line.* 75|COMMIT_LOG_LONG_LINE' ;;
	SPACING) echo 'spac|SPACING' ;;
	PARENTHESIS_ALIGNMENT) echo 'align|parenthes|PARENTHESIS_ALIGNMENT' ;;
	*) echo "$1" ;;
	esac
}

check_one_base() { # base
	local base=$1 src repo base_sha chk bld cfg objs commits c n subj log out
	check_base "$base"
	"$TOP/scripts/apply-series.sh" "$base" >/dev/null
	src=$(src_dir "$base" patched)
	repo=$(repo_dir "$base")
	read -r base_sha _ <"$CACHE/src/$(tree_id "$base").base"
	chk=$(src_dir "$base" check)
	bld=$(build_dir "$base" check w1)
	cfg=$(build_dir "$base" patched debug)/.config
	[ -f "$cfg" ] || cfg=$(build_dir "$base" patched kasan)/.config
	if [ ! -f "$cfg" ]; then
		# A cold cache: build the patched debug kernel make check boots anyway.
		KERNEL=patched FLAVOUR=debug "$TOP/scripts/build-kernel.sh" "$base" >&2
		cfg=$(build_dir "$base" patched debug)/.config
	fi
	worktree "$repo" "$chk" "$base_sha"
	mkdir -p "$bld"
	kmake() { make -C "$chk" O="$bld" ARCH=x86_64 CC="ccache gcc" -j"$(nproc)" "$@"; }

	# The kernel objects any patch of the series changes.
	mapfile -t objs < <(git -C "$src" diff --name-only "$base_sha" HEAD -- '*.c' |
		grep -Ev '^(tools|Documentation|scripts|samples)/' | sed 's/\.c$/.o/')
	mapfile -t commits < <(git -C "$src" rev-list --reverse "$base_sha..HEAD")
	msg "check-patches $base: ${#commits[@]} patches; W=1 objects: ${objs[*]:-none}"

	# W=1 warnings of those objects in the base: the reference.
	w1() { # tag: build the objects, print their warnings without line numbers
		local out
		git -C "$chk" checkout -q -f --detach "$1"
		if [ "$(cat "$bld/.config.src" 2>/dev/null)" != "$(sha256sum <"$cfg")" ]; then
			cp "$cfg" "$bld/.config"
			kmake -s olddefconfig >/dev/null
			sha256sum <"$cfg" >"$bld/.config.src"
		fi
		[ ${#objs[@]} -gt 0 ] || return 0
		rm -f "${objs[@]/#/$bld/}"
		out=$(kmake W=1 "${objs[@]}" 2>&1) || { printf '%s\n' "$out" | tail -n 30 >&2; return 1; }
		printf '%s\n' "$out" | grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' |
			sed -E 's/:[0-9]+:[0-9]+:/:/' | sort -u
	}
	log=$bld/base-w1.txt
	w1 "$base_sha" >"$log" || die "the base does not build ${objs[*]}"

	n=0
	for c in "${commits[@]}"; do
		n=$((n + 1))
		subj=$(git -C "$src" log -1 --format=%s "$c")
		local verdict="ok" why=() cp_out types new hdr t f body e
		# checkpatch on the patch as it is sent.
		# UNKNOWN_COMMIT_ID: a Debian tree has no upstream history to look
		# the ids of Fixes: and "commit ... upstream" up in.  checkpatch runs
		# the system python3 (spdxcheck.py needs python3-ply).
		cp_out=$(git -C "$src" format-patch -1 --stdout "$c" |
			(cd "$chk" && PATH=/usr/bin:$PATH scripts/checkpatch.pl --strict --show-types \
				--ignore UNKNOWN_COMMIT_ID --no-summary -q -) 2>&1 || true)
		# An ERROR passes only if the message quotes it (e.g. a table entry
		# spaced like the entries around it).
		body=$(git -C "$src" log -1 --format=%B "$c" | tr -s ' \n' '  ')
		while IFS= read -r e; do
			[ -n "$e" ] || continue
			if printf '%s' "$body" | grep -qiF "$(printf '%s' "$e" | cut -c1-40)"; then
				why+=("checkpatch ERROR (quoted in the message): $e")
			else
				verdict="FAIL"; why+=("checkpatch ERROR: $e")
			fi
		done < <(printf '%s\n' "$cp_out" | sed -n 's/^ERROR:[A-Z_]*: //p' | sort -u)
		# Every WARNING and CHECK left must be justified in the message:
		# it says "checkpatch", and names each kind (justification()).
		types=$(printf '%s\n' "$cp_out" | sed -n 's/^\(WARNING\|CHECK\):\([A-Z_]*\):.*/\2/p' | sort -u | paste -sd, -)
		if [ -n "$types" ]; then
			local missing=()
			for t in ${types//,/ }; do
				printf '%s' "$body" | grep -qiE "$(justification "$t")" || missing+=("$t")
			done
			if ! printf '%s' "$body" | grep -qi 'checkpatch'; then
				verdict="FAIL"; why+=("checkpatch warnings not justified in the message: $types")
			elif [ ${#missing[@]} -gt 0 ]; then
				verdict="FAIL"; why+=("checkpatch warnings the message does not justify: ${missing[*]}")
			else
				why+=("checkpatch (justified in the message): $types")
			fi
		fi
		# W=1 build of the changed objects at this patch.
		if ! new=$(w1 "$c"); then
			verdict="FAIL"; why+=("does not build: ${objs[*]}")
		else
			new=$(comm -13 "$log" <(printf '%s\n' "$new" | sed '/^$/d'))
			if [ -n "$new" ]; then
				verdict="FAIL"; why+=("new W=1 warnings: $(printf '%s\n' "$new" | head -n 3 | paste -sd';')")
			fi
		fi
		# The selftests it changes compile cleanly.
		hdr=$(tests_dir "$base")/hdr/usr/include
		for f in $(git -C "$src" diff-tree --no-commit-id --name-only -r "$c" -- 'tools/testing/selftests/*.c'); do
			t=$(basename "$f" .c)
			grep -qE "^TEST_GEN_(PROGS|FILES)\b.*\b$t\b" "$chk/$(dirname "$f")/Makefile" || continue
			if ! out=$(gcc -Wall -Werror -fsyntax-only -isystem "$hdr" -I "$chk/tools/testing/selftests" \
				-I "$chk/$(dirname "$f")" "$chk/$f" 2>&1); then
				verdict="FAIL"; why+=("$t does not compile: $(printf '%s\n' "$out" | grep -m1 error)")
			fi
		done
		printf '%-4s %2d/%d %s\n' "$verdict" "$n" "${#commits[@]}" "$subj"
		for t in "${why[@]}"; do note "$t"; done
		[ "$verdict" = ok ] || failed=1
	done
	git -C "$chk" checkout -q -f --detach "$base_sha"
}

# The tooling itself: shellcheck on every shell script.
if out=$(cd "$TOP" && shellcheck -x -S warning scripts/*.sh guest/init .ci/run 2>&1); then
	printf '%-4s shellcheck: scripts/*.sh guest/init .ci/run\n' ok
else
	printf '%-4s shellcheck: scripts/*.sh guest/init .ci/run\n' FAIL
	printf '%s\n' "$out" | head -n 30
	failed=1
fi

for b in "$@"; do
	check_one_base "$b"
done
exit "$failed"

#!/bin/bash
# apply-series.sh BASE: check out the stock tree (the base commit) and the
# patched tree (the base commit + 'git am' of series/BASE) as worktrees of
# the base repository.  Both trees belong to the tooling: local edits in
# them are discarded.  Develop in the work tree ('make tree') instead.
set -eu
. "$(dirname "$0")/lib.sh"

base=${1:?usage: apply-series.sh BASE}
check_base "$base"
"$TOP/scripts/fetch-base.sh" "$base"
repo=$(repo_dir "$base")
read -r base_sha base_desc <"$CACHE/src/$(tree_id "$base").base"

# KERNEL=work: the developer's work tree is used as it is, edits included.
if [ "$KERNEL" = work ]; then
	work=$(src_dir "$base" work)
	[ -e "$work/.git" ] || die "no work tree of $base at $work: make tree BASE=$base"
	msg "using the work tree of $base as it is: $work$(tree_dirty "$work")"
	git -C "$work" log --oneline "$base_sha..HEAD" | sed 's/^/    /'
	exit 0
fi

# The branch the patched tree is on; namespaced so a user tree is not clobbered.
branch="khugepaged-series/$base-applied"


# The stock tree is only needed to build a stock kernel.
if [ "$KERNEL" = stock ]; then
	stock=$(src_dir "$base" stock)
	worktree "$repo" "$stock" "$base_sha"
	if [ "$(git -C "$stock" rev-parse HEAD)" != "$base_sha" ] ||
	   [ -n "$(git -C "$stock" status --porcelain -uno)" ]; then
		git -C "$stock" checkout -q -f --detach "$base_sha"
	fi
fi

patched=$(src_dir "$base" patched)
worktree "$repo" "$patched" "$base_sha"
mapfile -t patches < <(series_patches "$base")
key=$( { echo "$base_sha"; cat "${patches[@]}" /dev/null; } | sha256sum | cut -c1-16)
stamp="$(git -C "$patched" rev-parse --absolute-git-dir)/khugepaged-series-applied"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key $(git -C "$patched" rev-parse HEAD)" ] &&
   [ -z "$(git -C "$patched" status --porcelain -uno)" ]; then
	msg "series/$base (${#patches[@]} patches) already applied in $patched"
	exit 0
fi

rm -f "$stamp"
git -C "$patched" am --abort >/dev/null 2>&1 || true
git -C "$patched" checkout -q -f -B "$branch" "$base_sha"
if [ ${#patches[@]} -eq 0 ]; then
	msg "series/$base is empty: the patched tree is the base ($base_desc)"
else
	msg "applying series/$base (${#patches[@]} patches) onto $base_desc"
	ident=()
	git -C "$patched" config user.email >/dev/null || ident=(-c user.name="khugepaged-series" -c user.email="khugepaged-series@localhost")
	if ! out=$(git -C "$patched" "${ident[@]}" am --keep-cr --committer-date-is-author-date "${patches[@]}" 2>&1); then
		failed=$(printf '%s\n' "$out" | sed -n 's/^Patch failed at \([0-9]*\) .*/\1/p' | head -n 1)
		file=$(printf '%s\n' "$out" | sed -n 's/^error: \(patch failed: \|\)\([^:]*\):.*/\2/p' | head -n 1)
		printf '%s\n' "$out" | sed 's/^/    git am: /' >&2
		git -C "$patched" am --abort >/dev/null 2>&1 || true
		pfile=$(printf '%s\n' "${patches[@]}" | grep "/${failed:-none}-" | head -n 1)
		die "series/$base does not apply to $base_desc: ${pfile:+$(basename "$pfile")}${file:+ fails on $file}"
	fi
	git -C "$patched" log --oneline "$base_sha..HEAD" | sed 's/^/    /'
fi
echo "$key $(git -C "$patched" rev-parse HEAD)" >"$stamp"

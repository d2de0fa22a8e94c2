#!/bin/bash
# tree.sh BASE: create the developer's work tree of BASE: a worktree of the
# base repository on branch khugepaged-series/BASE-work, with the base commit
# and one commit per patch of series/BASE.  The cover letter's subject and
# text become the branch description ('git branch --edit-description'),
# which export-series.sh writes back.  An existing work tree is never
# touched: this only reports how it compares with series/BASE.
set -eu
. "$(dirname "$0")/lib.sh"

base=${1:?usage: tree.sh BASE}
check_base "$base"
"$TOP/scripts/fetch-base.sh" "$base" >/dev/null
repo=$(repo_dir "$base")
read -r base_sha base_desc <"$CACHE/src/$(tree_id "$base").base"
work=$(src_dir "$base" work)
branch="khugepaged-series/$base-work"
cover="$(series_dir "$base")/0000-cover-letter.patch"

if [ -e "$work/.git" ]; then
	n=$(git -C "$work" rev-list --count "$base_sha..HEAD" 2>/dev/null) ||
		die "the work tree $work is not based on $base_desc ($base_sha)"
	msg "work tree of $base: $work ($n commits on $base_desc)"
	if "$TOP/scripts/export-series.sh" --dry-run "$base" >/dev/null 2>&1; then
		note "its commits match series/$base"
	else
		note "its commits differ from series/$base: 'make export BASE=$base' writes them there"
	fi
	exit 0
fi

git --git-dir="$repo" worktree prune
if git --git-dir="$repo" rev-parse -q --verify "refs/heads/$branch" >/dev/null; then
	# The directory was removed but the branch (the work) is still there.
	msg "re-creating the work tree of $base from branch $branch"
	git --git-dir="$repo" worktree add -q "$work" "$branch"
	exit 0
fi

msg "creating the work tree of $base at $work"
git --git-dir="$repo" worktree add -q -b "$branch" "$work" "$base_sha"
mapfile -t patches < <(series_patches "$base")
if [ ${#patches[@]} -gt 0 ]; then
	git -C "$work" am -q --keep-cr --committer-date-is-author-date "${patches[@]}" ||
		die "series/$base does not apply to $base_desc; see 'git -C $work am --show-current-patch'"
fi
if [ -f "$cover" ]; then
	# Subject (unfolded, without the [PATCH] prefix), blank line, then the
	# text up to the shortlog ("Author (N):").
	desc=$(awk '
		!body && /^Subject: / { s = $0; sub(/^Subject: (\[[^]]*\] )?/, "", s); insub = 1; next }
		!body && insub && /^[ \t]/ { t = $0; sub(/^[ \t]+/, " ", t); s = s t; next }
		!body && /^$/ { body = 1; print s; print ""; next }
		!body { insub = 0; next }
		/^[^ ].* \([0-9]+\):$/ { exit }
		{ print }' "$cover" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}')
	git -C "$work" config "branch.$branch.description" "$desc"
fi
msg "work tree ready: $(git -C "$work" rev-list --count "$base_sha..HEAD") commits on $base_desc"
note "edit and commit in $work (new files need 'git add -f': Debian's .gitignore ignores /*),"
note "cover letter text: git -C $work branch --edit-description; then: make export BASE=$base"

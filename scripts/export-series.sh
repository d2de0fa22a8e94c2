#!/bin/bash
# export-series.sh [--dry-run] [--new-revision] BASE: write series/BASE/ from
# the commits of the work tree (base..HEAD) with 'git format-patch', cover
# letter from the branch description.  Re-exporting unchanged commits gives
# identical files (--zero-commit: rewording one patch changes one file).
#
# Revisions: series/BASE/history/vN/ keeps what was exported as revision N;
# the current revision is one more than the newest kept.  Its subjects say
# "[PATCH vN BASE n/N]" (none for v1), and from v2 on the cover letter ends
# with a range-diff against the previous revision, whose text must have a
# "Changes in vN" section (the branch description: write it there).
# --new-revision: keep the series/BASE/ files as they are now as the
# current revision's history, then export as the next revision.
# --dry-run: exit 0 when series/BASE already matches the commits, else 1.
set -eu
. "$(dirname "$0")/lib.sh"

dry=false new=false
while [ $# -gt 1 ]; do
	case $1 in
	--dry-run) dry=true ;;
	--new-revision) new=true ;;
	*) die "usage: export-series.sh [--dry-run] [--new-revision] BASE" ;;
	esac
	shift
done
base=${1:?usage: export-series.sh [--dry-run] [--new-revision] BASE}
check_base "$base"
read -r base_sha _ <"$CACHE/src/$(tree_id "$base").base"
work=$(src_dir "$base" work)
dir=$(series_dir "$base")
[ -e "$work/.git" ] || die "no work tree for $base: 'make tree BASE=$base' creates it"
# Only from the work branch: its description is the cover letter, and the
# commits of another branch (an experiment) are not the series.
work_branch=khugepaged-series/$base-work
branch=$(git -C "$work" symbolic-ref --short -q HEAD || true)
[ "$branch" = "$work_branch" ] ||
	die "$work is on ${branch:-a detached HEAD}, not $work_branch: check that out to export"

repo=$(repo_dir "$base")

# The revisions kept, and the current one.
last=$(find "$dir/history" -mindepth 1 -maxdepth 1 -type d -name 'v[0-9]*' 2>/dev/null |
	sed 's|.*/v||' | sort -n | tail -n 1)
last=${last:-0}
if $new; then
	$dry && die "--dry-run and --new-revision do not go together"
	[ -n "$(series_patches "$base")" ] || die "series/$base is empty: nothing to keep as v$((last + 1))"
	mkdir -p "$dir/history/v$((last + 1))"
	cp "$dir"/[0-9][0-9][0-9][0-9]-*.patch "$dir/history/v$((last + 1))/"
	msg "series/$base as it is kept as revision v$((last + 1)) in series/$base/history/v$((last + 1))"
	last=$((last + 1))
fi
rev=$((last + 1))
prefix="PATCH $base"
[ "$rev" -gt 1 ] && prefix="PATCH v$rev $base"

tmp=$(mktemp -d)
prev=$CACHE/src/$(tree_id "$base")-prev
cleanup() {
	rm -rf "$tmp"
	if [ -e "$prev/.git" ]; then
		git --git-dir="$repo" worktree remove --force "$prev" 2>/dev/null || rm -rf "$prev"
	fi
}
trap cleanup EXIT

# The previous revision as commits (git am onto the base, committer and
# dates fixed so that the range-diff's text is the same every time).
range_diff=()
if [ "$last" -gt 0 ]; then
	rm -rf "$prev"
	git --git-dir="$repo" worktree prune
	git --git-dir="$repo" worktree add -q --detach "$prev" "$base_sha" >/dev/null
	mapfile -t old < <(find "$dir/history/v$last" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' ! -name '0000-*' | sort)
	git -C "$prev" -c user.name=khugepaged-series -c user.email=khugepaged-series@localhost \
		am -q --keep-cr --committer-date-is-author-date "${old[@]}" ||
		die "revision v$last (series/$base/history/v$last) does not apply to the base any more"
	range_diff=("--range-diff=$base_sha..$(git -C "$prev" rev-parse HEAD)" --creation-factor=80)
	if ! git -C "$work" config "branch.$work_branch.description" | grep -q "^Changes in v$rev\b"; then
		$dry || die "revision v$rev needs a 'Changes in v$rev' section in the cover letter: git -C $work branch --edit-description"
	fi
fi

n=$(git -C "$work" rev-list --count "$base_sha..HEAD")
if [ "$n" -gt 0 ]; then
	# The cover letter's date is the newest commit's, so that it is stable.
	GIT_COMMITTER_DATE=$(git -C "$work" log -1 --format=%cD) \
		git -C "$work" -c core.abbrev=12 format-patch -q -o "$tmp" --cover-letter \
		--cover-from-description=subject --subject-prefix="$prefix" \
		--zero-commit --base="$base_sha" "${range_diff[@]}" "$base_sha..HEAD"
fi
mkdir -p "$dir"
# Both sets of patch files, names and contents, as one text.
patchset() { find "$1" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' | sort |
	while read -r f; do echo "== ${f##*/}"; cat "$f"; done; }
if [ "$(patchset "$tmp")" = "$(patchset "$dir")" ]; then
	$dry || msg "series/$base is up to date ($n patches)"
	exit 0
fi
$dry && exit 1
[ -n "$(git -C "$work" status --porcelain -uno)" ] &&
	warn "$work has uncommitted changes: they are not exported"
find "$dir" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' -delete
[ "$n" -gt 0 ] && cp "$tmp"/*.patch "$dir/"
msg "exported $n patches of $base to series/$base (revision v$rev)"
git -C "$TOP" status --short -- "series/$base" | sed 's/^/    /'
if grep -q '\*\*\* SUBJECT HERE \*\*\*' "$dir/0000-cover-letter.patch" 2>/dev/null; then
	warn "the cover letter has no text yet: git -C $work branch --edit-description"
fi

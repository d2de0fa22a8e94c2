#!/bin/bash
# export-series.sh [--dry-run] BASE: write series/BASE/ from the commits of the
# work tree (base..HEAD) with 'git format-patch', cover letter from the branch
# description.  Re-exporting unchanged commits gives identical files.
# --dry-run: exit 0 when series/BASE already matches the commits, else 1.
set -eu
. "$(dirname "$0")/lib.sh"

dry=false
[ "${1:-}" = --dry-run ] && { dry=true; shift; }
base=${1:?usage: export-series.sh [--dry-run] BASE}
check_base "$base"
read -r base_sha _ <"$CACHE/src/$(tree_id "$base").base"
work=$(src_dir "$base" work)
dir=$(series_dir "$base")
[ -e "$work/.git" ] || die "no work tree for $base: 'make tree BASE=$base' creates it"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=$(git -C "$work" rev-list --count "$base_sha..HEAD")
if [ "$n" -gt 0 ]; then
	# The cover letter's date is the newest commit's, so that it is stable.
	GIT_COMMITTER_DATE=$(git -C "$work" log -1 --format=%cD) \
		git -C "$work" -c core.abbrev=12 format-patch -q -o "$tmp" --cover-letter \
		--cover-from-description=subject --subject-prefix="PATCH $base" \
		--zero-commit --base="$base_sha" "$base_sha..HEAD"
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
msg "exported $n patches of $base to series/$base"
git -C "$TOP" status --short -- "series/$base" | sed 's/^/    /'
if grep -q '\*\*\* SUBJECT HERE \*\*\*' "$dir/0000-cover-letter.patch" 2>/dev/null; then
	warn "the cover letter has no text yet: git -C $work branch --edit-description"
fi

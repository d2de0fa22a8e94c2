#!/bin/bash
# fetch-base.sh BASE: make sure the base tree of BASE is a commit in a git
# repository, and record which commit it is in $CACHE/src/<id>.base.
#
# Debian (default): download linux-source-BASE with apt-get download, unpack
# it with dpkg-deb and tar, and import every file of the pristine tree as one
# commit tagged debian/<version> in $CACHE/git/linux-BASE.git.  The commit's
# author and date come from the package, so the same version always gives the
# same commit id.
# KERNEL_TREE=/path: the base is that repository's HEAD; nothing is fetched.
set -eu
. "$(dirname "$0")/lib.sh"

base=${1:?usage: fetch-base.sh BASE}
check_base "$base"
repo=$(repo_dir "$base")
state="$CACHE/src/$(tree_id "$base").base"
mkdir -p "$CACHE/src"

if [ -n "${KERNEL_TREE:-}" ]; then
	sha=$(git -C "$KERNEL_TREE" rev-parse --verify "HEAD^{commit}") ||
		die "KERNEL_TREE=$KERNEL_TREE has no HEAD commit"
	desc="$(git -C "$KERNEL_TREE" describe --always --tags HEAD 2>/dev/null || echo "$sha")"
	printf '%s %s\n' "$sha" "$KERNEL_TREE@$desc" >"$state"
	msg "base $base: your tree $KERNEL_TREE at $desc"
	exit 0
fi

pkg=$(base_field "$base" 2)
verified=$(base_field "$base" 3)
candidate() { apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2 }'; }

ver=${BASE_VERSION:-}
if [ -z "$ver" ]; then
	ver=$(candidate)
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		msg "apt does not know $pkg yet: apt-get update"
		apt-get update -q >/dev/null || die "apt-get update failed"
		ver=$(candidate)
	fi
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		# Offline: fall back to a version already imported.
		ver=$(git --git-dir="$repo" tag -l 'debian/*' 2>/dev/null | tail -n 1 |
			sed 's|^debian/||; y|_%|~:|')
		[ -n "$ver" ] || die "no package $pkg in the registry and none in $CACHE"
		warn "registry unreachable; using $pkg $ver from the cache"
	fi
fi
if [ "$ver" != "$verified" ]; then
	warn "the registry serves $pkg $ver, the series were last verified on $verified (bases.conf)."
	warn "using $ver; 'git am' decides whether the series still apply."
fi
tag=$(version_tag "$ver")

if ! sha=$(git --git-dir="$repo" rev-parse -q --verify "refs/tags/$tag^{commit}" 2>/dev/null); then
	deb="$CACHE/debs/${pkg}_${ver#*:}_all.deb"
	if [ ! -f "$deb" ]; then
		msg "downloading $pkg $ver"
		mkdir -p "$CACHE/debs"
		download() { (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver"); }
		# Stale package lists name files the mirror no longer has.
		download || { apt-get update -q >/dev/null && download; } ||
			die "apt-get download $pkg=$ver failed"
		[ -f "$deb" ] || die "apt-get download did not produce $deb"
	fi

	msg "unpacking $pkg $ver"
	tmp=$(mktemp -d "$CACHE/unpack.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	dpkg-deb -x "$deb" "$tmp/deb"
	tarball=$(find "$tmp/deb/usr/src" -maxdepth 1 -name 'linux-source-*.tar.xz' | head -n 1)
	[ -n "$tarball" ] || die "$deb contains no linux-source tarball"
	mkdir "$tmp/tree"
	tar -C "$tmp/tree" --strip-components=1 -xf "$tarball"

	msg "importing the tree as commit $tag (every file: Debian's .gitignore ignores /*)"
	[ -d "$repo" ] || git init -q --bare "$repo"
	date="@$(stat -c %Y "$tarball") +0000"
	# -f: the tree's own .gitignore must not hide any file of the base.
	GIT_DIR=$repo GIT_WORK_TREE=$tmp/tree GIT_INDEX_FILE=$tmp/index git add -f -A .
	tree=$(GIT_DIR=$repo GIT_INDEX_FILE=$tmp/index git write-tree)
	want=$(find "$tmp/tree" -type f -o -type l | wc -l)
	have=$(git --git-dir="$repo" ls-tree -r "$tree" | wc -l)
	[ "$want" = "$have" ] || die "imported $have files of $want"
	sha=$(printf '%s %s\n\nPristine tree of the Debian package %s %s,\nunpacked with dpkg-deb -x and tar; every file, nothing else.\n' \
		"$pkg" "$ver" "$pkg" "$ver" |
		GIT_AUTHOR_NAME="Debian $pkg" GIT_AUTHOR_EMAIL="debian-kernel@lists.debian.org" \
		GIT_COMMITTER_NAME="Debian $pkg" GIT_COMMITTER_EMAIL="debian-kernel@lists.debian.org" \
		GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
		git --git-dir="$repo" commit-tree "$tree")
	git --git-dir="$repo" tag "$tag" "$sha"
	note "$have files, commit $(git --git-dir="$repo" rev-parse --short "$sha")"
fi
printf '%s %s\n' "$sha" "$pkg $ver" >"$state"
msg "base $base: $pkg $ver ($tag, $(git --git-dir="$repo" rev-parse --short "$sha"))"

# shellcheck shell=bash
# Common settings and helpers, sourced by every script in this directory.
# The only state outside the repository is $CACHE.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${CACHE:-$HOME/.cache/khugepaged-series}
RESULTS=${RESULTS:-$TOP/results}
KERNEL=${KERNEL:-patched}	# patched | stock | work
FLAVOUR=${FLAVOUR:-debug}	# debug | kasan

msg() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Fields of bases.conf for one base: package name and verified version.
base_field() { # base column
	awk -v b="$1" -v c="$2" '!/^#/ && $1 == b { print $c; f = 1 } END { exit !f }' \
		"$TOP/bases.conf" || die "unknown base '$1' (see bases.conf)"
}

check_base() {
	base_field "$1" 2 >/dev/null
	case $KERNEL in patched|stock|work) ;; *) die "KERNEL must be 'patched', 'stock' or 'work', not '$KERNEL'" ;; esac
	case $FLAVOUR in debug|kasan) ;; *) die "FLAVOUR must be 'debug' or 'kasan', not '$FLAVOUR'" ;; esac
}

# Debian versions as git tag names (DEP-14: '~' -> '_', ':' -> '%').
version_tag() { printf 'debian/%s' "$1" | tr '~:' '_%'; }

# Where things live for one base. With KERNEL_TREE the user's repository
# replaces the Debian one and its HEAD is the base.
tree_id() { # base
	if [ -n "${KERNEL_TREE:-}" ]; then
		printf '%s-user-%s' "$1" "$(printf '%s' "$KERNEL_TREE" | md5sum | cut -c1-8)"
	else
		printf '%s' "$1"
	fi
}
repo_dir() { # base
	if [ -n "${KERNEL_TREE:-}" ]; then
		git -C "$KERNEL_TREE" rev-parse --git-common-dir >/dev/null 2>&1 ||
			die "KERNEL_TREE=$KERNEL_TREE is not a git repository"
		(cd "$KERNEL_TREE" && cd "$(git rev-parse --git-common-dir)" && pwd)
	else
		printf '%s/git/linux-%s.git' "$CACHE" "$1"
	fi
}
src_dir() { printf '%s/src/%s-%s' "$CACHE" "$(tree_id "$1")" "$2"; }	# base stock|patched|work
build_dir() { printf '%s/build/%s-%s-%s' "$CACHE" "$(tree_id "$1")" "$2" "$3"; }	# base kernel flavour
# The tree the test programs are built from: the patched one (the same
# binaries then run on stock and patched kernels), or with KERNEL=work the
# work tree as it is, into a directory of its own.
tests_src() { if [ "$KERNEL" = work ]; then src_dir "$1" work; else src_dir "$1" patched; fi; }
tests_dir() { printf '%s/tests/%s%s' "$CACHE" "$(tree_id "$1")" "$([ "$KERNEL" = work ] && echo -work)"; }
# What a tree's contents are: its HEAD and a hash of its uncommitted edits.
tree_key() { # src
	printf '%s-%s' "$(git -C "$1" rev-parse HEAD)" \
		"$( { git -C "$1" diff HEAD; git -C "$1" status --porcelain; } | sha256sum | cut -c1-12)"
}
# " (with uncommitted edits)" when the tree has some.
tree_dirty() { # src
	[ -z "$(git -C "$1" status --porcelain -uno)" ] || printf ' (with uncommitted edits)'
}
result_dir() { printf '%s/%s-%s-%s' "$RESULTS" "$(tree_id "$1")" "$2" "$3"; }	# base kernel flavour
series_dir() { printf '%s/series/%s' "$TOP" "$1"; }

# The selftest directory of a tree: vm/ up to 6.2, mm/ afterwards.
selftest_subdir() { # src
	if [ -d "$1/tools/testing/selftests/mm" ]; then
		echo tools/testing/selftests/mm
	else
		echo tools/testing/selftests/vm
	fi
}

# The series' patch files in order, cover letter excluded.
series_patches() { # base
	find "$(series_dir "$1")" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' \
		! -name '0000-*' 2>/dev/null | sort
}

# Run a long command with its output in a log file, printing a line every
# minute so that the terminal is never silent, and the log's tail on error.
run_logged() { # log description command...
	local log=$1 what=$2 pid start rc
	shift 2
	start=$(date +%s)
	"$@" >"$log" 2>&1 &
	pid=$!
	while ! wait_timeout "$pid" 60; do
		note "$what: $(( ($(date +%s) - start) / 60 )) min, $(wc -l <"$log") lines of log"
	done
	wait "$pid" && rc=0 || rc=$?
	if [ "$rc" != 0 ]; then
		tail -n 40 "$log" >&2
		die "$what failed (exit $rc); full log: $log"
	fi
	note "$what: done in $(( $(date +%s) - start )) s"
}
wait_timeout() { # pid seconds: 0 when the process ended in time
	local i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 1
	done
	return 1
}

# Create a detached worktree of the repository at dir (at commit), unless
# one is there already.
worktree() { # repo dir commit
	if [ ! -e "$2/.git" ]; then
		rm -rf "$2"
		git --git-dir="$1" worktree prune
		git --git-dir="$1" worktree add -q --detach "$2" "$3" >/dev/null
	fi
}

# Selftest programs the series add: new C files in the patched tree's
# selftest directory (names without .c), one per line.
new_selftests() { # base
	local src base_sha sub
	src=$(tests_src "$1")
	read -r base_sha _ <"$CACHE/src/$(tree_id "$1").base"
	sub=$(selftest_subdir "$src")
	git -C "$src" diff --name-only --diff-filter=A "$base_sha" HEAD -- "$sub/*.c" |
		sed 's|.*/||; s|\.c$||' | while read -r t; do
			# Only programs the selftest Makefile builds, not helper sources.
			grep -qE "^TEST_GEN_(PROGS|FILES)\b.*\b$t\b" "$src/$sub/Makefile" && echo "$t"
		done
}

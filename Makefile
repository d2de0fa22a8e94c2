# khugepaged/MADV_COLLAPSE patch series for Debian's 6.1 and 6.12 kernels:
# fetch the base trees, 'git am' the series, build, boot under QEMU, test.
#
#   make                  demo: MADV_COLLAPSE of anon, shmem and program text
#   make check            the full kselftest run; last line "N passed, N failed"
#   make check-patches    checkpatch --strict and a W=1 build at every patch
#   make run CMD='...'    boot the kernel(s) and run one command in /tests
#   make bench            stock 6.1, patched 6.1, stock 6.12 side by side
#                         (BENCH=quick: a few minutes); results/bench/
#   make stress           races, injected failures, watchdog, shadow model:
#                         patched (KASAN) and stock kernels; results/stress/
#                         (SOAK=<minutes> for a long run)
#   make tree BASE=6.1    a work tree: base commit + one commit per patch
#   make export BASE=6.1  write series/6.1/ from the work tree's commits
#                         (NEW_REVISION=1: keep the series as it is in
#                         series/6.1/history/vN and export it as vN+1)
#
# Variables: BASE (6.1 6.12), KERNEL (patched|stock|work: work boots the
# work tree of 'make tree' as it is, uncommitted edits included, with test
# programs built from it; results in results/<base>-work-*), FLAVOUR (debug|kasan;
# make stress: kasan), KERNEL_TREE (apply onto your own git tree), CACHE,
# RESULTS, SOAK, STRESS_SECONDS, EXTRA_CONFIG (one more Kconfig fragment,
# for one-off experiments); the guest: RUN_TIMEOUT (make run's
# command limit, s), GUEST_CPUS (2), GUEST_MEM (3G), GUEST_CMDLINE (more
# kernel parameters), GUEST_TIMEOUT (QEMU's limit, s).  make run exits 1
# if the command failed or the kernel log has a report (git bisect run).
# See README.md.

BASE ?= 6.1 6.12
KERNEL ?= patched
FLAVOUR ?= debug
export KERNEL FLAVOUR
ifdef CACHE
export CACHE
endif
ifdef RESULTS
export RESULTS
endif
ifdef KERNEL_TREE
export KERNEL_TREE
ifneq ($(words $(BASE)),1)
$(error KERNEL_TREE needs one BASE: which series to apply, e.g. BASE=6.1)
endif
endif
ifdef CMD
# Taken literally: a '$' in CMD is for the guest's shell, not for make.
override CMD := $(value CMD)
export CMD
endif
ifdef BASE_VERSION
export BASE_VERSION
endif

S := scripts
prepare = $(S)/apply-series.sh $(1) && $(S)/build-kernel.sh $(1) && $(S)/build-tests.sh $(1)

BENCH ?= full

.PHONY: all demo check check-patches run bench stress tree export deps fetch kernel tests clean help

all: demo

demo: deps
	@for b in $(BASE); do $(call prepare,$$b) && $(S)/run-guest.sh $$b demo || exit 1; done
	@$(S)/summary.sh demo $(BASE)

check: deps
	@for b in $(BASE); do $(call prepare,$$b) && $(S)/run-guest.sh $$b check || exit 1; done
	@$(S)/summary.sh check $(BASE)

check-patches: deps
	@$(S)/check-patches.sh $(BASE)

run: deps
	@test -n "$$CMD" || { echo "usage: make run BASE=6.1 CMD='./khugepaged all:anon'"; exit 1; }
	@rc=0; for b in $(BASE); do $(call prepare,$$b) && $(S)/run-guest.sh $$b run "$$CMD" || exit 1; \
	  r="$$($(S)/result-dir.sh $$b)/run"; cat "$$r/results.tap"; \
	  grep -q '^  "failed": 0,' "$$r/summary.json" || rc=1; done; exit $$rc

bench: deps
	@$(S)/bench.sh $(BENCH)

# The stress run is a KASAN one unless FLAVOUR is given.
ifeq ($(origin FLAVOUR),file)
stress: export FLAVOUR := kasan
endif
ifdef SOAK
export SOAK
endif
ifdef STRESS_SECONDS
export STRESS_SECONDS
endif
stress: deps
	@$(S)/stress.sh $(BASE)

tree: deps
	@for b in $(BASE); do $(S)/tree.sh $$b || exit 1; done

export:
	@for b in $(BASE); do $(S)/export-series.sh $(if $(NEW_REVISION),--new-revision) $$b || exit 1; done

deps:
	@$(S)/deps.sh

fetch: deps
	@for b in $(BASE); do $(S)/apply-series.sh $$b || exit 1; done

kernel: deps
	@for b in $(BASE); do $(S)/apply-series.sh $$b && $(S)/build-kernel.sh $$b || exit 1; done

tests: deps
	@for b in $(BASE); do $(S)/apply-series.sh $$b && $(S)/build-tests.sh $$b || exit 1; done

clean:
	rm -rf results

help:
	@sed -n '1,/^$$/s/^# \{0,1\}//p' Makefile

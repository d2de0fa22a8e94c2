// SPDX-License-Identifier: GPL-2.0
/*
 * mthp-bench [--quick]: khugepaged's collapse of anonymous memory into
 * the enabled sizes (6.12 section of 'make bench').
 *
 * Runs in the guest.  For each occupancy (10%, 50%, 90% of the pages of a
 * region faulted, at random) and each mix of enabled sizes, the region is
 * faulted in small pages under MADV_NOHUGEPAGE, the sizes are enabled,
 * MADV_HUGEPAGE hands it to khugepaged, and khugepaged runs until nothing
 * changes for two full scans (the steady state).  One line per run:
 *
 *   BENCH {"bench":"mthp","kind":"<occupancy>/<mix>", ...}
 *
 * coverage: share of resident pages in large folios (any size); bloat:
 * resident pages added by collapse, relative to the pages faulted;
 * cpu_ms: khugepaged's CPU time; steady_ms: time to the steady state;
 * mmap_write_locks: khugepaged's mmap_lock write sections (one per PMD
 * range collapsed: the detach of its page table), from the mmap_lock
 * tracepoint;
 * access_before/after_ns: a random-access loop over the faulted pages
 * (TLB-bound), ns per access, before and after.  Figures, not verdicts.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "bench-util.h"

#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#define MADV_NOHUGEPAGE 15
#endif

#define THP "/sys/kernel/mm/transparent_hugepage/"
#define PMD_SIZE (2UL << 20)
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16

static long pagesize;
static int pagemap_fd, kpageflags_fd;

/* The sizes and tunables under test must be set, or the figures mean nothing. */
static void must_write(const char *path, const char *val)
{
	if (write_str(path, val))
		exit(1);
}

/* TLB shootdown IPIs received, all CPUs (x86 /proc/interrupts "TLB:") */
static long tlb_shootdowns(void)
{
	return irq_row("/proc/interrupts", "TLB:");
}

/* khugepaged's CPU time in ms, -1 if it is not running */
static long khugepaged_cpu_ms(void)
{
	long ticks = khugepaged_cpu_ticks();

	return ticks < 0 ? -1 : ticks * 1000 / sysconf(_SC_CLK_TCK);
}

#define TRACING "/sys/kernel/tracing/"
#define WLOCK TRACING "events/mmap_lock/mmap_lock_acquire_returned/"

/*
 * Count the mmap_lock write sections khugepaged enters (one per collapse
 * of a PMD range: the detach of its page table), from the mmap_lock
 * tracepoint filtered on khugepaged's pid.  -1 without the tracepoint.
 */
static int write_locks_start(void)
{
	char filter[80];
	int pid = khugepaged_pid();
	FILE *f;

	snprintf(filter, sizeof(filter), "common_pid == %d && write == 1 && success == 1",
		 pid);
	if (pid < 0 || write_str(WLOCK "filter", filter) ||
	    write_str(TRACING "buffer_size_kb", "1024"))
		return -1;
	/* an open with O_TRUNC empties the ring buffer */
	f = fopen(TRACING "trace", "w");
	if (!f)
		return -1;
	fclose(f);
	if (write_str(WLOCK "enable", "1") ||
	    write_str(TRACING "tracing_on", "1"))
		return -1;
	return 0;
}

static long write_locks_count(void)
{
	char line[512];
	long n = 0;
	FILE *f;

	write_str(WLOCK "enable", "0");
	f = fopen(TRACING "trace", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#' && strstr(line, "mmap_lock_acquire_returned"))
			n++;
	fclose(f);
	return n;
}

static long read_long(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0)
		return -1;
	close(fd);
	return atol(buf);
}

/* Sizes in @orders "always", all others and the top level "never". */
static void set_sizes(unsigned long orders)
{
	char path[256];
	int order;

	must_write(THP "enabled", "never");
	for (order = 2; order <= 9; order++) {
		snprintf(path, sizeof(path), THP "hugepages-%ldkB/enabled",
			 (pagesize << order) >> 10);
		if (access(path, W_OK))
			continue;
		must_write(path, (orders & (1UL << order)) ? "always" : "never");
	}
}

/* Resident pages and pages in large folios of [base, base + n pages). */
static void census(char *base, long n, long *present, long *large)
{
	uint64_t *pm = malloc(n * sizeof(*pm));
	long i;

	*present = *large = 0;
	if (pread(pagemap_fd, pm, n * sizeof(*pm),
		  (uintptr_t)base / pagesize * sizeof(*pm)) != (ssize_t)(n * sizeof(*pm))) {
		free(pm);
		return;
	}
	for (i = 0; i < n; i++) {
		uint64_t flags = 0, pfn = pm[i] & ((1ULL << 55) - 1);

		if (!(pm[i] >> 63))
			continue;
		(*present)++;
		if (pread(kpageflags_fd, &flags, 8, pfn * 8) == 8 &&
		    (flags & ((1ULL << KPF_COMPOUND_HEAD) | (1ULL << KPF_COMPOUND_TAIL))))
			(*large)++;
	}
	free(pm);
}

static unsigned long rng = 88172645463325252UL;

static unsigned long xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ns per access of a random walk over the populated pages */
static double access_ns(char *base, const long *pages, long npages, long accesses)
{
	volatile unsigned long sum = 0;
	long long t0 = now_ns();
	unsigned long x = 12345;
	long i;

	for (i = 0; i < accesses; i++) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		sum += *(unsigned long *)(base + pages[(x >> 20) % npages] * pagesize +
					  ((x >> 8) & (pagesize - 64)));
	}
	return (double)(now_ns() - t0) / accesses;
}

struct mix {
	const char *name;
	unsigned long orders;
	int max_ptes_none;
};

int main(int argc, char **argv)
{
	static const struct mix mixes[] = {
		{ "2M", 1UL << 9, 511 },
		{ "16K", 1UL << 2, 511 },
		{ "64K", 1UL << 4, 511 },
		{ "64K,none=255", 1UL << 4, 255 },
		{ "16K+64K+2M", (1UL << 2) | (1UL << 4) | (1UL << 9), 511 },
		{ "16K+64K,none=255", (1UL << 2) | (1UL << 4), 255 },
		{ "all", 0x3fc, 511 },
		{ "all,none=255", 0x3fc, 255 },
		{ "all,none=0", 0x3fc, 0 },
	};
	static const int occupancy[] = { 10, 50, 90 };
	int quick = argc > 1 && !strcmp(argv[1], "--quick");
	long mb = quick ? 32 : 256, n = mb * (1 << 20) / getpagesize();
	long accesses = quick ? 2000000 : 8000000;
	unsigned int m, o;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pagesize = getpagesize();
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY);
	if (pagemap_fd < 0 || kpageflags_fd < 0) {
		perror("pagemap/kpageflags");
		return 1;
	}
	must_write(THP "khugepaged/scan_sleep_millisecs", "100");
	must_write(THP "khugepaged/alloc_sleep_millisecs", "100");
	must_write(THP "khugepaged/pages_to_scan", "4096");
	must_write(THP "khugepaged/defrag", "1");
	must_write(THP "defrag", "madvise");
	printf("BENCH {\"bench\":\"mthp_config\",\"mb\":%ld,\"accesses\":%ld}\n", mb, accesses);

	for (o = 0; o < sizeof(occupancy) / sizeof(occupancy[0]); o++) {
		for (m = 0; m < sizeof(mixes) / sizeof(mixes[0]); m++) {
			/*
			 * quick (CI): 10% and 50%; 2M, 16K, 16K+64K at 255
			 * (blocks of both sizes in one PMD range), all, all at
			 * 255
			 */
			if (quick && (o == 2 ||
				      (strcmp(mixes[m].name, "2M") &&
				       strcmp(mixes[m].name, "16K") &&
				       strcmp(mixes[m].name, "16K+64K,none=255") &&
				       strcmp(mixes[m].name, "all") &&
				       strcmp(mixes[m].name, "all,none=255"))))
				continue;
			long present0, large0, present, large, last_p = -1, last_l = -1;
			long cpu0, cpu, tlb0, tlb, scans, stable_since = -1, wlocks;
			int wl;
			long npages = 0, i;
			double mb_collapsed;
			long long t0, steady = -1;
			char *raw, *base, val[16];
			double before, after;
			long *pages;

			set_sizes(0);
			snprintf(val, sizeof(val), "%d", mixes[m].max_ptes_none);
			must_write(THP "khugepaged/max_ptes_none", val);
			raw = mmap(NULL, n * pagesize + PMD_SIZE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (raw == MAP_FAILED) {
				perror("mmap");
				return 1;
			}
			base = (char *)(((uintptr_t)raw + PMD_SIZE - 1) & ~(PMD_SIZE - 1));
			madvise(base, n * pagesize, MADV_NOHUGEPAGE);
			pages = malloc(n * sizeof(*pages));
			rng = 88172645463325252UL + o;
			for (i = 0; i < n; i++) {
				if (xorshift() % 100 >= (unsigned long)occupancy[o])
					continue;
				memset(base + i * pagesize, (int)i | 1, 64);
				pages[npages++] = i;
			}
			census(base, n, &present0, &large0);
			before = access_ns(base, pages, npages, accesses);

			set_sizes(mixes[m].orders);
			usleep(100000);
			cpu0 = khugepaged_cpu_ms();
			tlb0 = tlb_shootdowns();
			wl = write_locks_start();
			t0 = now_ns();
			madvise(base, n * pagesize, MADV_HUGEPAGE);
			/* steady: no change over two full scans (60 s at most) */
			scans = read_long(THP "khugepaged/full_scans");
			/* stock 6.12 does not run khugepaged for sizes below 2M */
			while (cpu0 >= 0 &&
			       now_ns() - t0 < (quick ? 20 : 60) * 1000000000LL) {
				usleep(200000);
				census(base, n, &present, &large);
				if (present != last_p || large != last_l) {
					last_p = present;
					last_l = large;
					steady = now_ns() - t0;
					stable_since = read_long(THP "khugepaged/full_scans");
					continue;
				}
				if (read_long(THP "khugepaged/full_scans") >= stable_since + 2 &&
				    read_long(THP "khugepaged/full_scans") >= scans + 2)
					break;
			}
			census(base, n, &present, &large);
			tlb = tlb_shootdowns() - tlb0;
			wlocks = wl ? -1 : write_locks_count();
			cpu = cpu0 < 0 ? 0 : khugepaged_cpu_ms() - cpu0;
			/* memory that went into large folios, in MB */
			mb_collapsed = (double)(large - large0) * pagesize / (1 << 20);
			after = access_ns(base, pages, npages, accesses);
			printf("BENCH {\"bench\":\"mthp\",\"kind\":\"%d%%/%s\",\"occupancy\":%d,"
			       "\"mix\":\"%s\",\"max_ptes_none\":%d,\"faulted\":%ld,"
			       "\"present_before\":%ld,\"present_after\":%ld,\"large\":%ld,"
			       "\"coverage\":%.4f,\"bloat\":%.4f,\"cpu_ms\":%ld,\"steady_ms\":%lld,"
			       "\"mb_collapsed\":%.2f,\"tlb_shootdowns\":%ld,\"mmap_write_locks\":%ld,"
			       "\"access_before_ns\":%.2f,\"access_after_ns\":%.2f}\n",
			       occupancy[o], mixes[m].name, occupancy[o], mixes[m].name,
			       mixes[m].max_ptes_none, npages, present0, present, large,
			       present ? (double)large / present : 0.0,
			       present0 ? (double)(present - present0) / present0 : 0.0,
			       cpu, steady < 0 ? 0 : steady / 1000000, mb_collapsed,
			       tlb0 < 0 ? -1 : tlb, wlocks, before, after);
			munmap(raw, n * pagesize + PMD_SIZE);
			free(pages);
		}
	}
	set_sizes(0);
	return 0;
}

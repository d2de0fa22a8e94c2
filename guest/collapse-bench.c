// SPDX-License-Identifier: GPL-2.0
/*
 * collapse-bench: what collapsing costs and what readers see meanwhile.
 * Runs in the guest; prints one line per figure, "BENCH <json>", which
 * scripts/bench.sh collects and scripts/bench-report turns into tables.
 *
 *   collapse-bench [--quick] [--readers | --scans N]
 *
 * --readers: only the collapse under concurrent readers.
 * --scans N: only khugepaged's full scans until a range is collapsed
 * with a pread() reader (scan_sleep_millisecs=100), N times per kind.
 *
 * Benchmarks report; they do not judge.  Times are wall-clock nanoseconds
 * inside a TCG guest: compare kernels by ratio, not by absolute value.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "bench-util.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define NR_PAGES	(HPAGE / PAGE)
#define THP		"/sys/kernel/mm/transparent_hugepage/"
#define EXT4_DIR	"/mnt/ext4"
#define FAULT_AROUND	"/sys/kernel/debug/fault_around_bytes"

enum kind { ANON, SHMEM, FILE_EXT4 };
static const char * const kind_name[] = { "anon", "shmem", "file" };

static int rounds = 200;	/* collapses per measurement */
static long khugepaged_mb = 256;
/* how long khugepaged gets to collapse the region (quick mode: 60 s) */
static long long khugepaged_limit_s = 600;

static void die(const char *what)
{
	fprintf(stderr, "collapse-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* the 99th percentile of @n sorted samples, as print_dist() gives it */
static long long p99(const long long *v, int n)
{
	return n ? v[n * 99 / 100] : 0;
}

/* "name":{"n":..,"p50":..,"p90":..,"p99":..,"max":..,"quantiles":[..]} */
static void print_dist(const char *name, long long *v, int n, bool samples)
{
	int i;

	qsort(v, n, sizeof(*v), cmp_ll);
	printf("\"%s\":{\"n\":%d", name, n);
	if (n) {
		printf(",\"p50\":%lld,\"p90\":%lld,\"p99\":%lld,\"max\":%lld",
		       v[n / 2], v[n * 9 / 10], p99(v, n), v[n - 1]);
	}
	if (samples && n) {
		/* the distribution, as 101 quantiles (all samples if fewer) */
		int m = n < 101 ? n : 101;

		printf(",\"quantiles\":[");
		for (i = 0; i < m; i++)
			printf("%s%lld", i ? "," : "",
			       v[m == n ? i : (long)i * (n - 1) / 100]);
		printf("]");
	}
	printf("}");
}

/*
 * The samples of @v (sorted) over twice the idle p99 @idle99, the target:
 * how many and their mean (print_dist() gives the max).  A reader that
 * meets a collapse's folio-lock window waits once per collapse; the p99
 * counts those waits only when they are over 1 % of the samples, this
 * counts them all.
 */
static void print_slow(const char *name, long long *v, int n,
		       long long idle99)
{
	long long sum = 0;
	int i, slow = 0;

	for (i = 0; i < n; i++)
		if (v[i] > 2 * idle99) {
			sum += v[i];
			slow++;
		}
	printf("\"%s\":{\"over_ns\":%lld,\"n\":%d,\"mean\":%lld}",
	       name, 2 * idle99, slow, slow ? sum / slow : 0);
}

static long meminfo_kb(const char *field)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			sscanf(line + strlen(field), " %ld", &kb);
	fclose(f);
	return kb;
}

static long read_long(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0)
		die(path);
	close(fd);
	return atol(buf);
}

/*
 * @len bytes of address space, 2 MB aligned, PROT_NONE until mapped over.
 * The slack around them is unmapped at once: drop_range() unmaps exactly
 * @len bytes, never a neighbour's (malloc()'s large chunks get mapped
 * next to these).
 */
static char *aligned_area(unsigned long len)
{
	char *p = mmap(NULL, len + HPAGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *a;

	if (p == MAP_FAILED)
		die("mmap");
	a = (char *)(((unsigned long)p + HPAGE - 1) & ~(HPAGE - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + len, p + HPAGE - a);
	return a;
}

/*
 * A range of @len bytes of @kind, populated with small pages and mapped
 * 2 MB aligned; *fdp is the file (-1 for anon).  Regular files are
 * written, synced and reopened read-only (READ_ONLY_THP_FOR_FS).
 */
static char *make_range(enum kind k, unsigned long len, int *fdp, int seed)
{
	static char buf[HPAGE];
	char path[64], *map = aligned_area(len);
	unsigned long off;
	int fd = -1, prot = PROT_READ | PROT_WRITE, flags = MAP_SHARED;

	memset(buf, seed | 1, sizeof(buf));
	if (k == ANON) {
		if (mmap(map, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			 -1, 0) == MAP_FAILED)
			die("mmap anon");
		madvise(map, len, MADV_NOHUGEPAGE);
		for (off = 0; off < len; off += PAGE)
			map[off] = seed | 1;
		madvise(map, len, MADV_HUGEPAGE);
		*fdp = -1;
		return map;
	}
	if (k == SHMEM) {
		fd = memfd_create("collapse-bench", 0);
	} else {
		snprintf(path, sizeof(path), EXT4_DIR "/collapse-bench.%d", seed);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	}
	if (fd < 0)
		die("open");
	for (off = 0; off < len; off += HPAGE)
		if (pwrite(fd, buf, HPAGE, off) != (ssize_t)HPAGE)
			die("pwrite");
	if (k == FILE_EXT4) {
		fsync(fd);
		close(fd);
		fd = open(path, O_RDONLY);
		unlink(path);	/* the open fd keeps it */
		if (fd < 0)
			die("reopen");
		prot = PROT_READ | PROT_EXEC;
	}
	if (mmap(map, len, prot, flags | MAP_FIXED, fd, 0) == MAP_FAILED)
		die("mmap file");
	*fdp = fd;
	return map;
}

static void drop_range(char *map, unsigned long len, int fd)
{
	munmap(map, len);
	if (fd >= 0)
		close(fd);
}

/* How the MADV_COLLAPSE calls of one measurement ended. */
struct outcomes {
	int ok, eagain, other;
};

static void count_outcome(struct outcomes *o, int ret, int err)
{
	if (!ret)
		o->ok++;
	else if (err == EAGAIN)
		o->eagain++;
	else
		o->other++;
}

/* ---- the floor: memcpy of 2 MB -------------------------------------- */

static void bench_memcpy(void)
{
	char *src = aligned_area(HPAGE), *dst = aligned_area(HPAGE);
	long long *t = calloc(rounds, sizeof(*t));
	int i;

	mmap(src, HPAGE, PROT_READ | PROT_WRITE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	mmap(dst, HPAGE, PROT_READ | PROT_WRITE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	memset(src, 1, HPAGE);
	memset(dst, 2, HPAGE);
	for (i = 0; i < rounds; i++) {
		long long t0 = now_ns();

		memcpy(dst, src, HPAGE);
		t[i] = now_ns() - t0;
	}
	printf("BENCH {\"bench\":\"memcpy_2m\",");
	print_dist("ns", t, rounds, false);
	printf("}\n");
	free(t);
}

/* ---- MADV_COLLAPSE latency per 2 MB range --------------------------- */

static void bench_collapse(enum kind k)
{
	long long *t = calloc(rounds, sizeof(*t));
	struct outcomes o = { 0 };
	int i, n = 0, fd;

	for (i = 0; i < rounds; i++) {
		char *map = make_range(k, HPAGE, &fd, i);
		long long t0;
		int ret;

		/* a page table to retract: stock 6.1 fails without one */
		(void)*(volatile char *)map;
		t0 = now_ns();
		ret = madvise(map, HPAGE, MADV_COLLAPSE);
		t[n++] = now_ns() - t0;
		count_outcome(&o, ret, errno);
		drop_range(map, HPAGE, fd);
	}
	printf("BENCH {\"bench\":\"collapse\",\"kind\":\"%s\",\"ok\":%d,\"eagain\":%d,\"other\":%d,",
	       kind_name[k], o.ok, o.eagain, o.other);
	print_dist("ns", t, n, true);
	printf("}\n");
	free(t);
}

/* ---- collapse under concurrent readers ------------------------------ */

/*
 * What the reader thread does: read(2) the range; check it with
 * SEEK_HOLE/SEEK_DATA, mincore() and read(2); load and fault it mapped.
 */
enum reader_mode { READ_SYSCALL, CHECKS, MAPPED, NR_MODES };

/* the latencies of the rounds with a collapse, or of the idle rounds */
struct samples {
	long long *rd, *flt, *tch;
	int nrd, nflt, ntch;
	/* where each round's samples start (start_round()) */
	int *round_rd, *round_flt, *round_tch;
};

struct reader {
	enum kind k;
	enum reader_mode mode;
	int fd;
	char expect;		/* every byte of the range */
	char *map;		/* the range being collapsed */
	char *own;		/* the reader's own mapping, for faults */
	atomic_int state;	/* 1: read, 0: idle, -1: exit */
	atomic_int idle;
	/*
	 * Where the samples of an access that starts now go: the round's,
	 * then, once MADV_COLLAPSE has returned (or the idle time is over),
	 * those of the accesses after it (none after an idle round).
	 */
	struct samples *_Atomic s;
	int cap;
	long seek_bad, mincore_bad, byte_bad, checks;
};

static void add_sample(long long *v, int *n, int cap, long long t0)
{
	if (*n < cap)
		v[(*n)++] = now_ns() - t0;
}

/*
 * Interrupts and softirqs, all CPUs, counted while the reader runs: what
 * a collapse sends to the reader's CPU, against the idle rounds.
 */
static const struct {
	const char *file, *label, *name;
} irq_kinds[] = {
	{ "/proc/interrupts", "TLB:", "tlb" },
	{ "/proc/interrupts", "CAL:", "call" },
	{ "/proc/interrupts", "RES:", "resched" },
	{ "/proc/interrupts", "LOC:", "timer" },
	{ "/proc/softirqs", "RCU:", "rcu_softirq" },
	{ "/proc/softirqs", "SCHED:", "sched_softirq" },
	{ "/proc/softirqs", "TIMER:", "timer_softirq" },
};
#define NR_IRQ_KINDS (sizeof(irq_kinds) / sizeof(irq_kinds[0]))

/* add to @acc the counts of irq_kinds, times @sign (-1 at the start) */
static void irq_sample(long *acc, int sign)
{
	for (unsigned int i = 0; i < NR_IRQ_KINDS; i++)
		acc[i] += sign * irq_row(irq_kinds[i].file, irq_kinds[i].label);
}

/* accesses per pass of the reader's loop (the checker's checks after them) */
#define BURST	16

/*
 * One access of @r's kind to page @p; its latency goes to @sm (none:
 * not sampled).
 */
static void reader_access(struct reader *r, unsigned long p,
			  struct samples *sm)
{
	char buf[64];
	long long t0;

	if (r->mode != MAPPED) {
		t0 = now_ns();
		if (pread(r->fd, buf, sizeof(buf), p * PAGE) != sizeof(buf))
			r->byte_bad++;
		if (sm && r->mode == READ_SYSCALL)
			add_sample(sm->rd, &sm->nrd, r->cap, t0);
		if (buf[0] != r->expect || buf[63] != r->expect)
			r->byte_bad++;
		return;
	}

	/* a load through the range's own mapping, populated */
	t0 = now_ns();
	if (*(volatile char *)(r->map + p * PAGE + 63) != r->expect)
		r->byte_bad++;
	if (sm)
		add_sample(sm->tch, &sm->ntch, r->cap, t0);

	t0 = now_ns();
	if (*(volatile char *)(r->own + p * PAGE) != r->expect)
		r->byte_bad++;
	if (sm)
		add_sample(sm->flt, &sm->nflt, r->cap, t0);
	madvise(r->own + p * PAGE, PAGE, MADV_DONTNEED);
}

static void *reader_fn(void *arg)
{
	struct reader *r = arg;
	unsigned char vec[NR_PAGES];
	unsigned int seed = 3;

	for (;;) {
		int s = atomic_load(&r->state);
		unsigned long p;
		off_t off;
		int b;

		if (s < 0)
			break;
		if (!s) {
			atomic_store(&r->idle, 1);
			continue;
		}
		/*
		 * The first access after the idle spin is slow in every
		 * round, with a collapse or without (over twice the idle
		 * p99 in 66 of 66 rounds of each kind, patched 6.12, and
		 * in 1-9 of 66 once one access went before it; see
		 * design/collapse-latency.md): it is the reader's return
		 * from its spin, not the collapse's.  It is made before
		 * the round starts and not sampled.
		 */
		if (atomic_load(&r->idle)) {
			reader_access(r, rand_r(&seed) % NR_PAGES, NULL);
			atomic_store(&r->idle, 0);
		}

		for (b = 0; b < BURST; b++) {
			p = rand_r(&seed) % NR_PAGES;
			reader_access(r, p, atomic_load(&r->s));
		}

		if (r->mode != CHECKS)
			continue;
		r->checks++;
		if (r->k == SHMEM) {
			off = lseek(r->fd, 0, SEEK_HOLE);
			if (off != (off_t)HPAGE)
				r->seek_bad++;
			off = lseek(r->fd, p * PAGE, SEEK_DATA);
			if (off != (off_t)(p * PAGE))
				r->seek_bad++;
		}
		if (!mincore(r->map, HPAGE, vec))
			for (p = 0; p < NR_PAGES; p++)
				if (!(vec[p] & 1)) {
					r->mincore_bad++;
					break;
				}
	}
	return NULL;
}

/*
 * One round: a new range, the reader on it while @collapse (MADV_COLLAPSE
 * of the range, its time in *@ns) or, idle, for *@ns; its samples go to
 * @during, and those of the accesses the reader starts after that (it
 * ends its pass first) to @after.
 */
static int reader_round(struct reader *r, int i, bool collapse,
			long long *ns, long *irqs, struct samples *during,
			struct samples *after)
{
	long long t0;
	int ret = 0;

	r->map = make_range(r->k, HPAGE, &r->fd, i);
	r->expect = i | 1;
	r->own = mmap(NULL, HPAGE, PROT_READ, MAP_SHARED, r->fd, 0);
	if (r->own == MAP_FAILED)
		die("mmap reader");
	/* the reader's loads then fault only after an unmap */
	if (madvise(r->map, HPAGE, MADV_POPULATE_READ))
		die("MADV_POPULATE_READ");
	/*
	 * What the previous round left behind (RCU callbacks, the eviction
	 * of its file, the journal's commit of this one) runs before the
	 * reader starts, not in the next round, idle or not.
	 */
	usleep(20000);
	irq_sample(irqs, -1);
	atomic_store(&r->s, during);
	atomic_store(&r->state, 1);
	while (atomic_load(&r->idle))
		;
	t0 = now_ns();
	if (collapse) {
		ret = madvise(r->map, HPAGE, MADV_COLLAPSE) ? errno : 0;
		*ns = now_ns() - t0;
	} else {
		while (now_ns() - t0 < *ns)
			;
	}
	atomic_store(&r->s, after);
	atomic_store(&r->state, 0);
	while (!atomic_load(&r->idle))
		;
	irq_sample(irqs, 1);
	munmap(r->own, HPAGE);
	drop_range(r->map, HPAGE, r->fd);
	return ret;
}

/*
 * Per collapse, the waits of one kind of access (samples over twice the
 * idle p99): in how many collapses the reader waited, the most waits in
 * one collapse, and the longest wait against the time of the collapse it
 * waited for (at most 1 if a reader waits for no more than the collapse).
 */
struct waits {
	int with, most;
	double longest;
};

static struct waits round_waits(const long long *v, int n, const int *first,
				const long long *ns, int rounds,
				long long idle99)
{
	struct waits w = { 0 };
	int i, j;

	for (i = 0; i < rounds; i++) {
		int end = i + 1 < rounds ? first[i + 1] : n, k = 0;

		for (j = first[i]; j < end; j++) {
			if (v[j] <= 2 * idle99)
				continue;
			k++;
			if ((double)v[j] / ns[i] > w.longest)
				w.longest = (double)v[j] / ns[i];
		}
		w.with += !!k;
		if (k > w.most)
			w.most = k;
	}
	return w;
}

/* the p99 of @v, from a sorted copy: @v keeps its order */
static long long sorted_p99(const long long *v, int n)
{
	long long *c = malloc((n ? n : 1) * sizeof(*c)), r;

	if (!c)
		die("malloc");
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_ll);
	r = p99(c, n);
	free(c);
	return r;
}

static void print_waits(const char *name, struct waits w)
{
	printf("\"%s\":{\"rounds_with\":%d,\"most_in_a_round\":%d,\"longest_over_collapse\":%.3f}",
	       name, w.with, w.most, w.longest);
}

static void alloc_samples(struct samples *s, int cap)
{
	s->rd = calloc(cap, sizeof(long long));
	s->flt = calloc(cap, sizeof(long long));
	s->tch = calloc(cap, sizeof(long long));
	s->round_rd = calloc(rounds, sizeof(int));
	s->round_flt = calloc(rounds, sizeof(int));
	s->round_tch = calloc(rounds, sizeof(int));
	if (!s->rd || !s->flt || !s->tch || !s->round_rd || !s->round_flt ||
	    !s->round_tch)
		die("calloc");
}

/* round @i's samples go to @s from here on */
static void start_round(struct samples *s, int i)
{
	s->round_rd[i] = s->nrd;
	s->round_flt[i] = s->nflt;
	s->round_tch[i] = s->ntch;
}

/*
 * Three readers, one per round in turns, each a thread on the range
 * without a pause: one reads random pages with read(2); one checks it,
 * BURST read(2)s then SEEK_HOLE/SEEK_DATA (shmem) and mincore(); one
 * loads random pages through the range's mapping (populated: no fault
 * unless the collapse unmapped the page) and faults them in through its
 * own mapping (each page zapped again after the load).  Every byte read
 * is checked.  Each round with a collapse is followed by an idle round of
 * the same reader for as long as that collapse took, with none running:
 * the baseline, under the same conditions.  One kind of access per
 * reader: a reader that also faulted or checked would take fewer read(2)
 * samples per millisecond while its faults wait (or in its checks), and
 * the interruptions a vCPU gets at a steady rate (the host's: most of a
 * TCG guest's slow samples, collapse or not) would make up more of its
 * samples.  A reader that waits for one collapse waits once per
 * collapse: its p99 counts such a wait only if it takes fewer than 100
 * samples per collapse.
 *
 * Only an access that starts before MADV_COLLAPSE returns (or before the
 * idle time is over) is a sample of the round.  The reader ends its pass
 * after that, up to BURST accesses: after a collapse they are accesses
 * to the huge page, not waits for the collapse (an ext4 file's faults
 * through the reader's own mapping, aligned by thp_get_unmapped_area(),
 * map it by PMD and its MADV_DONTNEED unmaps all of it: about three
 * times a small page's fault), reported on their own; after an idle
 * round they are dropped.
 */
static void bench_readers(enum kind k)
{
	struct reader r = { .k = k };
	/* collapsing, idle, after the collapses */
	struct samples sm[3] = { { 0 } };
	long long spent = 0, idle_fault99;
	long fault_around, irqs[2][NR_IRQ_KINDS] = { { 0 } };
	int nmode[NR_MODES] = { 0 };	/* collapses with each reader */
	/* each collapse's time, and that of the idle round after it */
	long long *round_ns = calloc(rounds, sizeof(long long));
	struct waits w_rd, w_flt, w_tch, w_brd, w_bflt;
	long long idle_read99;
	struct outcomes o = { 0 };
	char v[24];
	int i, ret;
	pthread_t t;

	/*
	 * One page per fault, in both kinds of rounds: with fault-around,
	 * most loads through the reader's own mapping found the page mapped
	 * by an earlier fault when the range was idle, and none while the
	 * collapse held the folio locks (fault-around only trylocks).
	 */
	fault_around = access(FAULT_AROUND, R_OK) ? -1 : read_long(FAULT_AROUND);
	write_str(FAULT_AROUND, "4096");
	r.cap = rounds * 400 * BURST;
	if (!round_ns)
		die("calloc");
	alloc_samples(&sm[0], r.cap);
	alloc_samples(&sm[1], r.cap);
	alloc_samples(&sm[2], r.cap);
	if (pthread_create(&t, NULL, reader_fn, &r))
		die("pthread_create");

	for (i = 0; i < rounds; i++) {
		long long ns = 0;

		r.mode = i % NR_MODES;
		nmode[r.mode]++;
		start_round(&sm[0], i);
		ret = reader_round(&r, i, true, &ns, irqs[0], &sm[0], &sm[2]);
		round_ns[i] = ns;
		spent += ns;
		count_outcome(&o, ret ? -1 : 0, ret);
		start_round(&sm[1], i);
		reader_round(&r, i, false, &ns, irqs[1], &sm[1], NULL);
	}
	atomic_store(&r.state, -1);
	pthread_join(t, NULL);
	if (fault_around > 0) {
		snprintf(v, sizeof(v), "%ld", fault_around);
		write_str(FAULT_AROUND, v);
	}

	/*
	 * Before print_dist() sorts the samples: the idle p99s come from
	 * sorted copies, the waits per round from the samples in order.
	 */
	idle_read99 = sorted_p99(sm[1].rd, sm[1].nrd);
	idle_fault99 = sorted_p99(sm[1].flt, sm[1].nflt);
	w_rd = round_waits(sm[0].rd, sm[0].nrd, sm[0].round_rd, round_ns,
			   rounds, idle_read99);
	w_flt = round_waits(sm[0].flt, sm[0].nflt, sm[0].round_flt, round_ns,
			    rounds, idle_fault99);
	w_tch = round_waits(sm[0].tch, sm[0].ntch, sm[0].round_tch, round_ns,
			    rounds, idle_fault99);
	w_brd = round_waits(sm[1].rd, sm[1].nrd, sm[1].round_rd, round_ns,
			    rounds, idle_read99);
	w_bflt = round_waits(sm[1].flt, sm[1].nflt, sm[1].round_flt, round_ns,
			     rounds, idle_fault99);

	printf("BENCH {\"bench\":\"readers\",\"kind\":\"%s\",\"collapses\":%d,\"ok\":%d,\"eagain\":%d,\"other\":%d,\"collapse_ns\":%lld,",
	       kind_name[k], rounds, o.ok, o.eagain, o.other, spent);
	printf("\"read_rounds\":%d,\"check_rounds\":%d,\"mapped_rounds\":%d,",
	       nmode[READ_SYSCALL], nmode[CHECKS], nmode[MAPPED]);
	printf("\"checks\":%ld,\"seek_bad\":%ld,\"mincore_bad\":%ld,\"byte_bad\":%ld,",
	       r.checks, r.seek_bad, r.mincore_bad, r.byte_bad);
	print_dist("read_ns", sm[0].rd, sm[0].nrd, true);
	printf(",");
	print_dist("fault_ns", sm[0].flt, sm[0].nflt, true);
	printf(",");
	print_dist("base_read_ns", sm[1].rd, sm[1].nrd, true);
	printf(",");
	print_dist("base_fault_ns", sm[1].flt, sm[1].nflt, true);
	printf(",");
	print_dist("touch_ns", sm[0].tch, sm[0].ntch, true);
	printf(",");
	print_dist("base_touch_ns", sm[1].tch, sm[1].ntch, true);
	printf(",");
	print_dist("after_read_ns", sm[2].rd, sm[2].nrd, true);
	printf(",");
	print_dist("after_fault_ns", sm[2].flt, sm[2].nflt, true);
	printf(",");
	print_slow("read_slow", sm[0].rd, sm[0].nrd, idle_read99);
	printf(",");
	print_slow("fault_slow", sm[0].flt, sm[0].nflt, idle_fault99);
	/*
	 * A load through the populated mapping faults only after the
	 * collapse unmapped its page: measured against an idle fault.
	 */
	printf(",");
	print_slow("touch_slow", sm[0].tch, sm[0].ntch, idle_fault99);
	/* the same count in the idle rounds: what comes without a collapse */
	printf(",");
	print_slow("base_read_slow", sm[1].rd, sm[1].nrd, idle_read99);
	printf(",");
	print_slow("base_fault_slow", sm[1].flt, sm[1].nflt, idle_fault99);
	printf(",");
	print_waits("read_waits", w_rd);
	printf(",");
	print_waits("fault_waits", w_flt);
	printf(",");
	print_waits("touch_waits", w_tch);
	printf(",");
	print_waits("base_read_waits", w_brd);
	printf(",");
	print_waits("base_fault_waits", w_bflt);
	free(round_ns);
	/* per 100 collapses: [during the collapses, idle rounds] */
	printf(",\"irqs_per_100\":{");
	for (i = 0; i < (int)NR_IRQ_KINDS; i++)
		printf("%s\"%s\":[%ld,%ld]", i ? "," : "", irq_kinds[i].name,
		       irqs[0][i] * 100 / rounds, irqs[1][i] * 100 / rounds);
	printf("}}\n");
}

/* ---- khugepaged throughput ------------------------------------------ */

/* pread() of random pages of the range, without a pause */
struct kh_reader {
	int fd;
	unsigned long len;
	atomic_int stop;
	long reads;
};

static void *kh_reader_fn(void *arg)
{
	struct kh_reader *r = arg;
	unsigned int seed = 5;
	char buf[64];

	while (!atomic_load(&r->stop)) {
		unsigned long p = rand_r(&seed) % (r->len / PAGE);

		if (pread(r->fd, buf, sizeof(buf), p * PAGE) == sizeof(buf))
			r->reads++;
	}
	return NULL;
}

/*
 * khugepaged collapsing a range of khugepaged_mb, alone or (@busy) while
 * a thread pread()s it without a pause.  With @sleep_ms 0: time and
 * khugepaged CPU time to collapse it all.  With @sleep_ms > 0 (pauses
 * between khugepaged's passes long enough that the 5 ms polling here
 * sees each one): the number of full scans (khugepaged/full_scans)
 * it took, the bound stated for khugepaged on a range in use.
 */
static void bench_khugepaged(enum kind k, bool busy, int sleep_ms)
{
	unsigned long len = khugepaged_mb << 20;
	const char *counter = k == SHMEM ? "ShmemHugePages:" : "FileHugePages:";
	long before, now, want = len >> 10, cpu0, cpu1, scans0, scans1;
	struct kh_reader r = { 0 };
	char sleep_str[16];
	long long t0, elapsed;
	char *map, *anon;
	pthread_t t;
	int fd;

	/*
	 * Every write here wakes khugepaged for a pass, with the sleep it
	 * had (10 s, the previous run's): before the range exists.  The
	 * counter is read before it exists too: khugepaged, once the range
	 * is there, may collapse some of it before the clock starts, and a
	 * baseline read after that would never be reached.
	 */
	write_str(THP "khugepaged/alloc_sleep_millisecs", "0");
	write_str(THP "khugepaged/pages_to_scan", "4096");
	write_str(THP "khugepaged/max_ptes_none", "511");
	write_str(THP "shmem_enabled", "advise");
	before = meminfo_kb(counter);

	map = make_range(k, len, &fd, 7);
	madvise(map, len, MADV_HUGEPAGE);
	r.fd = fd;
	r.len = len;
	if (busy && pthread_create(&t, NULL, kh_reader_fn, &r))
		die("pthread_create");
	/* 6.1 hands the mm to khugepaged only on an anonymous THP fault */
	anon = aligned_area(HPAGE);
	mmap(anon, HPAGE, PROT_READ | PROT_WRITE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	madvise(anon, HPAGE, MADV_HUGEPAGE);
	cpu0 = khugepaged_cpu_ticks();
	scans0 = read_long(THP "khugepaged/full_scans");
	snprintf(sleep_str, sizeof(sleep_str), "%d", sleep_ms);
	t0 = now_ns();
	write_str(THP "khugepaged/scan_sleep_millisecs", sleep_str);
	anon[0] = 1;
	do {
		usleep(sleep_ms ? 5000 : 20000);
		now = meminfo_kb(counter);
		elapsed = now_ns() - t0;
	} while (now - before < want &&
		 elapsed < khugepaged_limit_s * 1000000000LL);
	cpu1 = khugepaged_cpu_ticks();
	scans1 = read_long(THP "khugepaged/full_scans");
	if (busy) {
		atomic_store(&r.stop, 1);
		pthread_join(t, NULL);
	}
	if (sleep_ms)
		printf("BENCH {\"bench\":\"khugepaged_scans%s\",\"kind\":\"%s\",\"mb\":%ld,\"collapsed_mb\":%ld,\"sleep_ms\":%d,\"scans\":%ld,\"reads\":%ld}\n",
		       busy ? "_busy" : "", kind_name[k], khugepaged_mb,
		       (now - before) >> 10, sleep_ms, scans1 - scans0,
		       r.reads);
	else
		printf("BENCH {\"bench\":\"khugepaged%s\",\"kind\":\"%s\",\"mb\":%ld,\"collapsed_mb\":%ld,\"ns\":%lld,\"cpu_ms\":%ld,\"reads\":%ld}\n",
		       busy ? "_busy" : "", kind_name[k], khugepaged_mb,
		       (now - before) >> 10, elapsed,
		       (cpu1 - cpu0) * 1000 / sysconf(_SC_CLK_TCK),
		       r.reads);
	drop_range(map, len, fd);
	munmap(anon, HPAGE);
	write_str(THP "khugepaged/scan_sleep_millisecs", "10000");
	write_str(THP "khugepaged/alloc_sleep_millisecs", "60000");
	write_str(THP "shmem_enabled", "never");
}

int main(int argc, char **argv)
{
	struct statfs sfs;
	bool have_ext4, only_readers = false;
	int i, sleep_ms, scans = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			rounds = 20;
			khugepaged_mb = 16;
			khugepaged_limit_s = 60;
		} else if (!strcmp(argv[i], "--readers")) {
			only_readers = true;
		} else if (!strcmp(argv[i], "--scans") && i + 1 < argc) {
			scans = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: collapse-bench [--quick] [--readers | --scans N]\n");
			return 2;
		}
	}
	have_ext4 = !statfs(EXT4_DIR, &sfs) && sfs.f_type == 0xEF53;
	printf("BENCH {\"bench\":\"config\",\"rounds\":%d,\"khugepaged_mb\":%ld,\"ext4\":%s}\n",
	       rounds, khugepaged_mb, have_ext4 ? "true" : "false");

	for (i = 0; i < scans; i++) {
		bench_khugepaged(SHMEM, true, 100);
		if (have_ext4)
			bench_khugepaged(FILE_EXT4, true, 100);
	}
	if (scans)
		return 0;
	if (only_readers) {
		bench_readers(SHMEM);
		if (have_ext4)
			bench_readers(FILE_EXT4);
		return 0;
	}
	bench_memcpy();
	bench_collapse(ANON);
	bench_collapse(SHMEM);
	if (have_ext4)
		bench_collapse(FILE_EXT4);
	bench_readers(SHMEM);
	if (have_ext4)
		bench_readers(FILE_EXT4);
	for (sleep_ms = 0; sleep_ms <= 100; sleep_ms += 100) {
		bench_khugepaged(SHMEM, false, sleep_ms);
		bench_khugepaged(SHMEM, true, sleep_ms);
		if (have_ext4) {
			bench_khugepaged(FILE_EXT4, false, sleep_ms);
			bench_khugepaged(FILE_EXT4, true, sleep_ms);
		}
	}
	return 0;
}

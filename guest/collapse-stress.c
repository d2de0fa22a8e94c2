// SPDX-License-Identifier: GPL-2.0
/*
 * collapse-stress: MADV_COLLAPSE, process_madvise(MADV_COLLAPSE) and
 * khugepaged against every concurrent mutation of the same memory, with
 * failure injection, a watchdog and a shadow model of every page.
 *
 *   collapse-stress [-t seconds] [-s scenario,...] [-F] [-S] [-C] [-D] [-H] [-M]
 *
 *   -t  seconds per scenario (default 30)
 *   -s  scenarios to run (default all): memfd tmpfs shmanon file anon
 *   -F  no failure injection (default: on where the kernel has it)
 *   -S  stock mode: report the same way, exit 0 (a stock kernel is
 *       expected to show the defects the series fix)
 *   -C  control run: no collapse at all (MADV_COLLAPSE, process_madvise,
 *       khugepaged off): what remains is the harness or another part of mm
 *   -D  trace how a page whose data was lost left the page cache
 *   -H  no MADV_HWPOISON (default: pages of memfd and tmpfs ranges are
 *       poisoned where the kernel has MEMORY_FAILURE; on 6.12 a page inside
 *       a huge page that cannot be split sends the poisoning thread a
 *       SIGBUS, which is expected)
 *   -M  no memcg squeeze (default: every 3 s a process of the scenario in
 *       a memory cgroup of its own gets memory.max 1 MB above its usage and
 *       collapses the shared ranges and an anonymous range of its own, whose
 *       huge page charges must fail; an OOM kill fails the run)
 *
 * Each scenario is a process with five 2 MB ranges of one kind of memory:
 *   0 stable    written once; readers check bytes, SEEK_DATA/SEEK_HOLE and
 *               mincore (no transient hole, no non-resident page)
 *   1 cold      written once; paged out, made cold, fadvised away; readers
 *               check bytes
 *   2 mutated   one mutator thread owns it and its shadow model
 *   3 uffd      half holes under a MODE_MISSING userfaultfd: a touch of a
 *               hole must deliver the event (shmem and anon); mutated on
 *               the ext4 file
 *   4 mutated   a second mutator, with ftruncate down and up where the
 *               memory has a size (not the memfd where it is sealed against
 *               shrinking for udmabuf: its mutators write pages through
 *               dma-bufs instead)
 * while collapser threads (some with failure injection armed), a
 * process_madvise() process and khugepaged (scan_sleep_millisecs=0) try to
 * collapse every range.  The parent watches every thread's heartbeat: a
 * thread stuck for 30 s is a hang, reported with every D-state stack.
 *
 * Output: "# " lines, and one "STRESS <json>" line per scenario with the
 * operations done, the collapse results (errno and tracepoint result
 * codes), the violations (must be 0), the hangs and the leak check.  The
 * kernel log is judged by the caller (scripts/verdict.sh).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/io_uring.h>
#include <linux/udmabuf.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif

#define PAGE		4096UL
#define HPAGE		(2UL << 20)
#define PPR		(HPAGE / PAGE)		/* pages per range */
#define NR_RANGES	5
#define SIZE		(NR_RANGES * HPAGE)
#define NR_PAGES	(NR_RANGES * PPR)
#define THP		"/sys/kernel/mm/transparent_hugepage/"
#define DBG		"/sys/kernel/debug/"
#define TRACING		"/sys/kernel/tracing/"
#define EXT4_DIR	"/mnt/ext4"
#define EXT4J_DIR	"/mnt/ext4j"	/* mounted data=journal */
#define STALL_SECS	60	/* KASAN under TCG: a compaction pass takes seconds */
#define MAX_SLOTS	16
#define MAX_VIOL	8

enum kind { MEMFD, TMPFS, SHMANON, FILE_EXT4, ANON, NR_KINDS };
static const char * const kind_name[] = {
	"memfd", "tmpfs", "shmanon", "file", "anon"
};

enum range { R_STABLE, R_COLD, R_MUT_A, R_UFFD, R_MUT_B };

#define OPS(x) x(pwrite) x(mapwrite) x(punch) x(falloc) x(remove) \
	x(truncate) x(dontneed) x(mprotect) x(remap) x(fork) x(pageout) \
	x(cold) x(pin) x(odirect) x(odirect_read) x(uring_read) x(udmabuf) x(verify) x(read) x(seek) x(mincore) \
	x(procread) x(reopen) x(fadvise) x(drop_caches) x(compact) \
	x(uffd_touch) x(uffd_wp) x(uffd_wp_protect) x(mthp_toggle) x(readahead) x(kh_fail) \
	x(hwpoison) x(hwpoison_sigbus) x(hwpoison_unrecovered) \
	x(hwpoison_eio) x(longterm_pin) x(empty_collapse) x(nohugepage) \
	x(collapse) x(collapse_injected) x(process_madvise) \
	x(memcg_squeeze) x(squeeze_collapse) x(probe_pmd_null) \
	x(probe_cold) x(probe_swapped) x(probe_swapin_fail) x(probe_jdata) \
	x(probe_holes) x(probe_thp_off) x(probe_creep)
#define OP_ENUM(n) OP_##n,
#define OP_NAME(n) #n,
enum op { OPS(OP_ENUM) NR_OPS };
static const char * const op_name[] = { OPS(OP_NAME) };

#define NR_ERRNO 8
static const int errnos[NR_ERRNO] = {
	0, EAGAIN, EINVAL, ENOMEM, EBUSY, EFAULT, ESRCH, -1
};

struct slot {
	char name[16];
	int tid;
	atomic_ulong beat;
	atomic_int exited;	/* the thread is done: not watched any more */
};

/* Shared between a scenario process and the parent. */
struct stats {
	atomic_ulong ops[NR_OPS];
	/* madvise, process_madvise, madvise during a memcg squeeze */
	atomic_ulong result[3][NR_ERRNO];
	atomic_int nviol;
	char viol[MAX_VIOL][240];
	atomic_int nslots;
	struct slot slot[MAX_SLOTS];
	atomic_int finished;		/* the final check is done */
};

static struct stats *st;
static enum kind kind;
static int seconds = 30;
static bool inject = true, stock, no_collapse, debug_trace, squeeze = true;
/*
 * Each scenario runs in a memory cgroup of its own, whose memory.current
 * must come back to (nearly) zero once the scenario is gone.
 */
static char cg_root[128], cg_dir[192];
static long bad_page = -1;
static atomic_bool stop;
static bool any_hang;		/* a scenario left tasks stuck */
static atomic_int forks;	/* 2 per fork(): it ends vmsplice's hold on anon */

/* ---- small helpers -------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ret = -1;

	if (fd < 0)
		return -1;
	if (write(fd, s, strlen(s)) == (ssize_t)strlen(s))
		ret = 0;
	close(fd);
	return ret;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/*
 * A setting's value: of "always [madvise] never" the word in brackets,
 * else the whole line.
 */
static int read_selected(const char *path, char *buf, size_t len)
{
	char *b;

	if (read_file(path, buf, len))
		return -1;
	b = strchr(buf, '[');
	if (b) {
		memmove(buf, b + 1, strlen(b));
		buf[strcspn(buf, "]")] = 0;
	}
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* xorshift, one state per thread */
static unsigned long rnd(unsigned long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * -D: the first violation stops the trace and prints how the page left the
 * page cache (mm_filemap_delete_from_page_cache with its stack).
 */
static long meminfo(const char *field);

static void debug_dump(long p)
{
	static atomic_int done;
	char line[512], want[48], want2[48];
	int left = 0, shown = 0;
	FILE *t;

	if (!debug_trace || p < 0 || atomic_exchange(&done, 1))
		return;
	write_file(TRACING "tracing_on", "0");
	snprintf(want, sizeof(want), " ofs=%lu", p * PAGE);
	snprintf(want2, sizeof(want2), "index=%lu\n", p);
	t = fopen(TRACING "trace", "r");
	while (t && fgets(line, sizeof(line), t)) {
		char mk[48];

		snprintf(mk, sizeof(mk), " %ld\n", p);
		if (strstr(line, "tracing_mark_write") &&
		    !strstr(line, mk))
			continue;
		if (strstr(line, "tracing_mark_write") ||
		    strstr(line, "ext4_writepages:") ||
		    strstr(line, "ext4_da_write_pages_extent") ||
		    (strstr(line, "writeback_dirty_folio") &&
		     strstr(line, want2)) ||
		    (strstr(line, "mm_filemap_add_to_page_cache") &&
		     strstr(line, want)) ||
		    (strstr(line, "mm_khugepaged_collapse_file") &&
		     strstr(line, "result=succeeded"))) {
			printf("# DEBUG %s", line);
			continue;
		}
		if (strstr(line, want) && (line[strcspn(line, "\n")] = 0, 1)) {
			printf("# DEBUG %s\n", line);
			left = 24;
			shown++;
		} else if (left && (strstr(line, "=> ") ||
				    strstr(line, "<stack trace>"))) {
			printf("# DEBUG %s", line);
			left--;
		} else {
			left = 0;
		}
	}
	if (t)
		fclose(t);
	printf("# DEBUG FileHugePages %ld kB, MADV_COLLAPSE ok so far %lu\n",
	       meminfo("FileHugePages"), (unsigned long)st->result[0][0]);
	printf("# DEBUG %d deletions of page %ld traced; threads:", shown, p);
	for (left = 0; left < atomic_load(&st->nslots); left++)
		printf(" %s=%d", st->slot[left].name, st->slot[left].tid);
	printf("\n");
}

static void violation(const char *fmt, ...)
{
	int i = atomic_fetch_add(&st->nviol, 1);
	char msg[240];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("# VIOLATION %s: %s\n", kind_name[kind], msg);
	if (i < MAX_VIOL)
		memcpy(st->viol[i], msg, sizeof(msg));
	debug_dump(bad_page);
}

static struct slot *slot_new(const char *name)
{
	struct slot *s = &st->slot[atomic_fetch_add(&st->nslots, 1)];

	snprintf(s->name, sizeof(s->name), "%s", name);
	s->tid = gettid();
	return s;
}

static void *slot_done(struct slot *s)
{
	atomic_store(&s->exited, 1);
	return NULL;
}

static void beat(struct slot *s)
{
	atomic_fetch_add(&s->beat, 1);
}

static void count(enum op op)
{
	atomic_fetch_add(&st->ops[op], 1);
}

/* The field @name of a /proc file of "name<sep> value" lines, -1 if none */
static long proc_field(const char *path, const char *name, char sep)
{
	char line[128];
	long v = -1;
	size_t n = strlen(name);
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == sep)
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

/* A /proc/vmstat counter, -1 if there is none */
static long vmstat(const char *name)
{
	return proc_field("/proc/vmstat", name, ' ');
}

/* ---- the shadow model ----------------------------------------------- */

/*
 * Page @p at generation @gen: gen 0 is a hole (zeros).  Every 8 bytes
 * differ, so a page of another index or generation never matches.
 */
static void fill(void *buf, unsigned long p, unsigned int gen)
{
	uint64_t *w = buf, v = ((uint64_t)p << 24 | gen) * 0x9e3779b97f4a7c15ULL;
	unsigned long i;

	if (!gen) {
		memset(buf, 0, PAGE);
		return;
	}
	for (i = 0; i < PAGE / 8; i++)
		w[i] = v + i;
}

static bool page_is(const void *buf, unsigned long p, unsigned int gen)
{
	static __thread uint64_t want[PAGE / 8];

	fill(want, p, gen);
	return !memcmp(buf, want, PAGE);
}

#define POISON	0xffffffffU		/* gen of a page hit by MADV_HWPOISON */

static unsigned int gen[NR_PAGES];	/* each range written by one thread */
/*
 * A page MADV_HWPOISON marked but memory_failure() did not isolate (6.12:
 * inside a huge page it could not split): reads may fail with EIO or give
 * the data it had; writes to its huge page may fail with EIO.
 */
static bool unsure[NR_PAGES];
/* the last operation on each page, for the report of a violation */
static unsigned char last_op[NR_PAGES];
static long long last_ms[NR_PAGES];

static void touched(unsigned long p, unsigned long n, enum op op)
{
	long long t = now_ms();

	for (; n--; p++) {
		last_op[p] = op;
		last_ms[p] = t;
	}
}
static bool hwpoison_ok = true;		/* -H turns it off */
static char *_Atomic poisoned_last;	/* the last page given MADV_HWPOISON */
static __thread volatile sig_atomic_t poisoning;	/* in MADV_HWPOISON */
static char *map;			/* the whole object, 2 MB aligned */
static int fd = -1;			/* shmem and file kinds */
static int udmabuf_dev = -1;		/* /dev/udmabuf, memfd only */
static char path[256];

static bool has_fd(void)
{
	return kind == MEMFD || kind == TMPFS || kind == FILE_EXT4;
}

/* Read page @p as the kind allows: pread, or through the mapping. */
static bool read_page(unsigned long p, void *buf)
{
	if (has_fd())
		return pread(fd, buf, PAGE, p * PAGE) == (ssize_t)PAGE;
	memcpy(buf, map + p * PAGE, PAGE);
	return true;
}

static bool check_page(unsigned long p, const char *what)
{
	static __thread char buf[PAGE];

	if (gen[p] == POISON) {
		/* hwpoisoned: reads fail until the page is punched out */
		if (pread(fd, buf, PAGE, p * PAGE) >= 0) {
			violation("%s: hwpoisoned page %lu reads data%s: the poison was lost",
				  what, p, page_is(buf, p, 0) ? " (zeros)" : "");
			return false;
		}
		return true;
	}
	if (unsure[p] && pread(fd, buf, PAGE, p * PAGE) < 0 && errno == EIO)
		return true;
	if (!read_page(p, buf)) {
		violation("%s: read of page %lu failed: %s", what, p,
			  strerror(errno));
		return false;
	}
	if (!page_is(buf, p, gen[p])) {
		unsigned int g;

		for (g = 0; g < gen[p] + 2 && !page_is(buf, p, g); g++)
			;
		bad_page = p;
		violation("%s: page %lu is not generation %u but %s%u (last op %s %lld ms ago)",
			  what, p, gen[p], g < gen[p] + 2 ? "" : "none of 0..",
			  g, op_name[last_op[p]], now_ms() - last_ms[p]);
		return false;
	}
	return true;
}

static int marker_fd = -1;

static void marker(const char *what, unsigned long p)
{
	char m[64];
	int n;

	if (marker_fd < 0)
		return;
	n = snprintf(m, sizeof(m), "%s %lu", what, p);
	if (write(marker_fd, m, n) < 0)
		return;
}

/* Write page @p at generation @g; the caller owns the range. */
static int write_page(unsigned long p, unsigned int g, bool through_map)
{
	static __thread char buf[PAGE];
	int wfd = fd, ret = 0;

	fill(buf, p, g);
	if (through_map) {
		memcpy(map + p * PAGE, buf, PAGE);
	} else {
		if (kind == FILE_EXT4) {
			/* a second descriptor, opened and closed for the write */
			marker("open for", p);
			wfd = open(path, O_RDWR);
			if (wfd < 0)
				return -1;
			marker("opened for", p);
		}
		if (pwrite(wfd, buf, PAGE, p * PAGE) != (ssize_t)PAGE)
			ret = -1;
		if (kind == FILE_EXT4) {
			marker("written", p);
			if (!(p % 5))
				fdatasync(wfd);
			close(wfd);
			marker("closed after", p);
		}
	}
	if (!ret)
		gen[p] = g;
	return ret;
}

/* ---- setup ---------------------------------------------------------- */

static char *map_aligned(size_t len, int prot, int flags, int mfd)
{
	char *area, *a;

	area = mmap(NULL, len + HPAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (area == MAP_FAILED)
		return NULL;
	a = (char *)(((unsigned long)area + HPAGE - 1) & ~(HPAGE - 1));
	if (mmap(a, len, prot, flags | MAP_FIXED, mfd, 0) == MAP_FAILED)
		return NULL;
	if (a != area)
		munmap(area, a - area);
	munmap(a + len, area + HPAGE - a);
	return a;
}

static int map_prot(void)
{
	return kind == FILE_EXT4 ? PROT_READ | PROT_EXEC : PROT_READ | PROT_WRITE;
}

static int setup(void)
{
	unsigned long p;
	int flags = MAP_SHARED;

	switch (kind) {
	case MEMFD:
		fd = memfd_create("collapse-stress", MFD_ALLOW_SEALING);
		break;
	case TMPFS:
	case FILE_EXT4:
		snprintf(path, sizeof(path), "%s/collapse-stress.%d",
			 kind == TMPFS ? "/dev/shm" : EXT4_DIR, getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0755);
		break;
	case SHMANON:
		flags = MAP_SHARED | MAP_ANONYMOUS;
		break;
	case ANON:
		flags = MAP_PRIVATE | MAP_ANONYMOUS;
		break;
	default:
		return -1;
	}
	if (has_fd() && (fd < 0 || ftruncate(fd, SIZE)))
		return -1;
	/* udmabuf takes only a memfd that cannot shrink */
	if (kind == MEMFD) {
		udmabuf_dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
		if (udmabuf_dev >= 0 &&
		    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK)) {
			close(udmabuf_dev);
			udmabuf_dev = -1;
		}
	}
	if (kind == FILE_EXT4) {
		/* written and synced, then opened read-only, mapped r-x */
		for (p = 0; p < NR_PAGES; p++)
			if ((p / PPR != R_UFFD || !(p & 1)) &&
			    write_page(p, 1, false))
				return -1;
		if (fsync(fd))
			return -1;
		close(fd);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return -1;
	}
	map = map_aligned(SIZE, kind == FILE_EXT4 ? map_prot() :
			  PROT_READ | PROT_WRITE, flags, fd);
	if (!map)
		return -1;
	if (kind != FILE_EXT4) {
		/* every page but the odd ones of the uffd range */
		for (p = 0; p < NR_PAGES; p++)
			if ((p / PPR != R_UFFD || !(p & 1)) &&
			    write_page(p, 1, !has_fd()))
				return -1;
	}
	/*
	 * Not the userfaultfd range yet: khugepaged would collapse it, holes
	 * and all, before it is registered (scenario() advises it after).
	 */
	madvise(map, R_UFFD * HPAGE, MADV_HUGEPAGE);
	madvise(map + (R_UFFD + 1) * HPAGE, SIZE - (R_UFFD + 1) * HPAGE,
		MADV_HUGEPAGE);
	return 0;
}

/* ---- collapsers ----------------------------------------------------- */

static int errno_slot(int e)
{
	int i;

	for (i = 0; i < NR_ERRNO - 1; i++)
		if (errnos[i] == e)
			return i;
	return NR_ERRNO - 1;
}

/*
 * /proc/self/task/<tid>/make-it-fail, kept open: with it set, opening a
 * file would itself fail.
 */
static int fail_fd(void)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/self/task/%d/make-it-fail", gettid());
	return inject ? open(p, O_WRONLY) : -1;
}

static void *collapser(void *arg)
{
	struct slot *s = slot_new(arg);
	unsigned long seed = gettid() * 2654435761UL + 1;
	int ffd = fail_fd();

	while (!atomic_load(&stop)) {
		unsigned long r = rnd(&seed) % NR_RANGES;
		bool armed = ffd >= 0 && !(rnd(&seed) % 3);
		int ret;

		if (armed && pwrite(ffd, "1", 1, 0) != 1)
			armed = false;
		ret = madvise(map + r * HPAGE, HPAGE, MADV_COLLAPSE);
		ret = ret ? errno : 0;
		if (armed)
			while (pwrite(ffd, "0", 1, 0) != 1)
				;
		count(armed ? OP_collapse_injected : OP_collapse);
		atomic_fetch_add(&st->result[0][errno_slot(ret)], 1);
		beat(s);
	}
	if (ffd >= 0)
		close(ffd);
	return slot_done(s);
}

/* Another process collapses this one's ranges with process_madvise(). */
static void remote_collapser(pid_t target)
{
	unsigned long seed = getpid();
	int pidfd = syscall(SYS_pidfd_open, target, 0);
	struct slot *s = slot_new("pmadvise");

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (pidfd < 0)
		_exit(0);
	while (!atomic_load(&st->finished) && getppid() == target) {
		struct iovec iov = {
			.iov_base = map + (rnd(&seed) % NR_RANGES) * HPAGE,
			.iov_len = HPAGE,
		};
		long ret = syscall(SYS_process_madvise, pidfd, &iov, 1,
				   MADV_COLLAPSE, 0);

		count(OP_process_madvise);
		atomic_fetch_add(&st->result[1][errno_slot(ret < 0 ? errno : 0)],
				 1);
		beat(s);
		usleep(1000);
	}
	_exit(0);
}

/* ---- readers -------------------------------------------------------- */

static void *reader(void *arg)
{
	unsigned long seed = gettid() * 40503UL + 7, n = 0;
	struct slot *s = slot_new(arg);
	static __thread char buf[PAGE];
	unsigned char vec[PPR];

	while (!atomic_load(&stop)) {
		unsigned long r = rnd(&seed) % 2;	/* stable or cold */
		unsigned long p = r * PPR + rnd(&seed) % PPR;
		off_t start = R_STABLE * HPAGE, o;
		unsigned long i;

		count(OP_read);
		if (!read_page(p, buf))
			violation("reader: read of page %lu: %s", p,
				  strerror(errno));
		else if (!page_is(buf, p, 1))
			violation("reader: page %lu of the %s range is wrong%s",
				  p, r ? "cold" : "stable",
				  page_is(buf, p, 0) ? " (zeros)" : "");
		if (has_fd() && !(n % 4)) {
			count(OP_seek);
			o = lseek(fd, start, SEEK_DATA);
			if (o != start)
				violation("reader: SEEK_DATA from the stable range's start gave %lld",
					  (long long)o);
			o = lseek(fd, start, SEEK_HOLE);
			if (o >= 0 && o < start + (off_t)HPAGE)
				violation("reader: SEEK_HOLE found a hole at %lld in the stable range",
					  (long long)o);
		}
		/* Only shmem and anon stay resident: drop_caches may evict file */
		if (kind != FILE_EXT4 && !(n % 4)) {
			count(OP_mincore);
			if (mincore(map + R_STABLE * HPAGE, HPAGE, vec))
				violation("reader: mincore: %s", strerror(errno));
			for (i = 0; i < PPR; i++)
				if (!(vec[i] & 1)) {
					violation("reader: mincore: stable page %lu not resident (pswpout %ld, thp_swpout %ld)",
						  i, vmstat("pswpout"),
						  vmstat("thp_swpout"));
					break;
				}
		}
		if (!(n % 64)) {
			char line[256];
			FILE *f = fopen("/proc/self/smaps", "r");
			int pm = open("/proc/self/pagemap", O_RDONLY);
			uint64_t ent[PPR];

			count(OP_procread);
			while (f && fgets(line, sizeof(line), f))
				;
			if (f)
				fclose(f);
			if (pm >= 0) {
				if (pread(pm, ent, sizeof(ent),
					  (unsigned long)map / PAGE * 8) !=
				    sizeof(ent))
					violation("reader: pagemap: %s",
						  strerror(errno));
				close(pm);
			}
		}
		n++;
		beat(s);
	}
	return slot_done(s);
}

/* ---- mutators ------------------------------------------------------- */

struct mutator {
	enum range r;
	int pipe[2];
	long pinned;		/* page held by the pipe, -1 if none */
	long poisoned;		/* page hit by MADV_HWPOISON, -1 if none */
	long lpinned;		/* page pinned FOLL_LONGTERM, -1 if none */
	unsigned int lpin_gen;
	unsigned int pin_gen;
	int pin_forks;		/* forks when it was taken */
	unsigned long seed;
	char *park;		/* a reserved area to mremap pages into */
	struct uring *u;	/* an io_uring of its own, NULL without */
};

static bool in(long page, unsigned long p, unsigned long n)
{
	return page >= 0 && (unsigned long)page >= p &&
	       (unsigned long)page < p + n;
}

/* Pages whose removal would end a pin: the model keeps them mapped. */
static bool pinned_in(struct mutator *m, unsigned long p, unsigned long n)
{
	return in(m->pinned, p, n) || in(m->lpinned, p, n);
}

/* Pages the op must leave alone: the pinned ones, the poisoned one. */
static bool overlaps_pin(struct mutator *m, unsigned long p, unsigned long n)
{
	return pinned_in(m, p, n) || in(m->poisoned, p, n);
}

static void verify_range(enum range r, const char *what)
{
	unsigned long p;

	count(OP_verify);
	for (p = r * PPR; p < (r + 1) * PPR; p++)
		if (!check_page(p, what))
			break;
}

/*
 * The vmsplice()d page must still be the page the range maps: a write
 * through the mapping shows through the pipe.  A collapse that took the
 * page away would leave the pipe holding the old one.
 */
static void pin_check(struct mutator *m)
{
	static __thread char buf[PAGE];
	unsigned long p = m->pinned;
	ssize_t n = 0, got;

	write_page(p, gen[p] + 1, true);
	/*
	 * vmsplice() takes a reference, not a pin: after a fork() the next
	 * write to an anonymous page copies it, whatever the collapses did.
	 */
	if (kind == ANON && (atomic_load(&forks) != m->pin_forks ||
			     (m->pin_forks & 1)))
		p = -1;
	while (n < (ssize_t)PAGE) {
		got = read(m->pipe[0], buf + n, PAGE - n);
		if (got <= 0)
			break;
		n += got;
	}
	if (n != (ssize_t)PAGE)
		violation("pin: read from the pipe: %s", strerror(errno));
	else if (p != -1UL && !page_is(buf, p, gen[p]))
		violation("pin: page %lu held by a pipe is no longer the mapped page (pipe has %s)",
			  p, page_is(buf, p, m->pin_gen) ? "the old data" :
			  "other data");
	m->pinned = -1;
}

static void fork_check(struct mutator *m)
{
	unsigned long p, first = m->r * PPR;
	int status;
	pid_t pid;

	count(OP_fork);
	/* odd while a fork() may be in progress */
	atomic_fetch_add(&forks, 1);
	pid = fork();
	if (pid)
		atomic_fetch_add(&forks, 1);
	if (pid < 0)
		return;
	if (!pid) {
		/* the parent's data at fork time; then a private write */
		for (p = first; p < first + PPR; p++)
			if (gen[p] != POISON && !unsure[p] &&
			    !page_is(map + p * PAGE, p, gen[p]))
				_exit(10);
		if (kind == ANON)
			fill(map + first * PAGE, first, gen[first] + 7);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		violation("fork: the child saw other data than the parent had (status %#x)",
			  status);
	if (kind == ANON && !check_page(first, "fork: the child's write leaked"))
		return;
}

/*
 * A long-term pin (pin_user_pages(FOLL_LONGTERM | FOLL_WRITE), what
 * io_uring's fixed buffers and RDMA take) held across collapses through
 * gup_test's PIN_LONGTERM_TEST (6.12; 6.1 has no such ioctl, and the
 * guest kernels are built without io_uring).  A collapse must leave the
 * pinned page mapped: a write through the mapping shows through the pin.
 * gup_test holds one pinned range at a time: the mutators take turns.
 */
struct pin_longterm_test {
	uint64_t addr;
	uint64_t size;
	uint32_t flags;
};
#define PIN_LONGTERM_TEST_START	_IOW('g', 7, struct pin_longterm_test)
#define PIN_LONGTERM_TEST_STOP	_IO('g', 8)
#define PIN_LONGTERM_TEST_READ	_IOW('g', 9, uint64_t)
#define PIN_LONGTERM_TEST_FLAG_USE_WRITE	1

static int gup_fd = -1;
static atomic_bool gup_off;
static pthread_mutex_t gup_lock = PTHREAD_MUTEX_INITIALIZER;

static void longterm_pin(struct mutator *m, unsigned long p)
{
	struct pin_longterm_test t = {
		.addr = (uintptr_t)(map + p * PAGE), .size = PAGE,
		.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE,
	};

	/* the ext4 file is mapped r-x, and FOLL_LONGTERM refuses it */
	if (kind == FILE_EXT4 || gup_fd < 0 || atomic_load(&gup_off) ||
	    pthread_mutex_trylock(&gup_lock))
		return;
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &t)) {
		if (errno == ENOTTY || errno == EINVAL) {
			printf("# gup_test PIN_LONGTERM_TEST_START: %s: no long-term pins\n",
			       strerror(errno));
			atomic_store(&gup_off, true);
		}
		pthread_mutex_unlock(&gup_lock);
		return;
	}
	count(OP_longterm_pin);
	m->lpinned = p;
	m->lpin_gen = gen[p];
}

static void longterm_pin_check(struct mutator *m)
{
	static __thread char buf[PAGE];
	unsigned long p = m->lpinned;
	uint64_t to = (uintptr_t)buf;

	write_page(p, gen[p] + 1, true);
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &to))
		violation("long-term pin: PIN_LONGTERM_TEST_READ: %s",
			  strerror(errno));
	else if (!page_is(buf, p, gen[p]))
		violation("long-term pin: page %lu pinned FOLL_LONGTERM is no longer the mapped page (the pin has %s)",
			  p, page_is(buf, p, m->lpin_gen) ? "the old data" :
			  "other data");
	ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
	m->lpinned = -1;
	pthread_mutex_unlock(&gup_lock);
}

/*
 * Hit a page of a memfd or tmpfs range with MADV_HWPOISON: shmem keeps it
 * in the page cache, and read(2) of it fails with EIO until it is punched
 * out.  A collapse must not copy it into a huge page, which would make it
 * readable again (with real hardware, the copy itself would fault).
 */
static void poison(struct mutator *m, unsigned long p)
{
	char *a = map + p * PAGE;

	if ((kind != MEMFD && kind != TMPFS) || !hwpoison_ok ||
	    m->poisoned >= 0 || pinned_in(m, p, 1) || rnd(&m->seed) % 4)
		return;
	static __thread char buf[PAGE];
	int ret;

	if (write_page(p, gen[p] + 1, false))
		return;
	(void)*(volatile char *)a;	/* mapped: MADV_HWPOISON looks it up */
	atomic_store(&poisoned_last, a);
	poisoning = 1;
	ret = madvise(a, PAGE, MADV_HWPOISON) ? errno : 0;
	poisoning = 0;
	if (ret == EINVAL || ret == EPERM || ret == ENOSYS) {
		printf("# MADV_HWPOISON: %s: not used\n", strerror(ret));
		hwpoison_ok = false;
		return;
	}
	/*
	 * Other errors (EBUSY: other references; 6.12: a huge page that could
	 * not be split, with a SIGBUS) leave the page marked but not
	 * isolated: memory_failure() promises nothing about it, and with
	 * real poison a collapse's machine-check-safe copy would stop at it.
	 * Only a page it isolated must never read again.
	 */
	count(OP_hwpoison);
	if (ret) {
		/* not isolated: its state is what the kernel left */
		count(OP_hwpoison_unrecovered);
		unsure[p] = true;
		m->poisoned = p;
		check_page(p, "read after a failed MADV_HWPOISON");
	} else if (pread(fd, buf, PAGE, p * PAGE) < 0 && errno == EIO) {
		gen[p] = POISON;
		m->poisoned = p;
	} else {
		check_page(p, "read after MADV_HWPOISON");
	}
}

/*
 * Moving pages back leaves a hole where the park was: reserve it again at
 * once, before another thread's mmap(NULL) gets it (two mutators sharing a
 * park clobber each other's parked pages).  If one did, take a new park.
 */
static void park_refill(struct mutator *m, unsigned long n)
{
	void *p = mmap(m->park, n * PAGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == m->park)
		return;
	if (p != MAP_FAILED)
		munmap(p, n * PAGE);
	m->park = mmap(NULL, 8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (m->park == MAP_FAILED)
		violation("new park: %s", strerror(errno));
}

/* Print the mappings around @park and @a: why a move back failed. */
static void show_maps(const char *why, char *park, unsigned long n, char *a)
{
	unsigned long lo, hi;
	char line[256];
	FILE *f = fopen("/proc/self/maps", "r");

	printf("# %s: park %p, %lu pages back to %p; mappings there:\n",
	       why, park, n, a);
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		if ((hi > (unsigned long)park - 8 * PAGE &&
		     lo < (unsigned long)park + 16 * PAGE) ||
		    (hi > (unsigned long)a - 8 * PAGE &&
		     lo < (unsigned long)a + 16 * PAGE))
			printf("#   %s", line);
	}
	if (f)
		fclose(f);
}

/*
 * The next generation of page @p written to the O_DIRECT file @dfd at
 * offset PAGE, for a read into the page (O_DIRECT or io_uring) to bring
 * in; false (a violation) if the write failed.
 */
static bool stage_next_gen(unsigned long p, int dfd)
{
	static __thread char raw[2 * PAGE];
	char *buf = (char *)(((unsigned long)raw + PAGE - 1) & ~(PAGE - 1));

	fill(buf, p, gen[p] + 1);
	if (pwrite(dfd, buf, PAGE, PAGE) == (ssize_t)PAGE)
		return true;
	violation("O_DIRECT write of page %lu's next generation: %s", p,
		  strerror(errno));
	return false;
}

/*
 * O_DIRECT read into page @p of the range from @dfd: the device writes
 * the page through the reference or pin GUP took for the I/O, maybe
 * while a collapse copies the page.  The page's next generation goes to
 * the file first; after the read the page must hold it.
 */
static void odirect_read_into(unsigned long p, int dfd)
{
	count(OP_odirect_read);
	if (!stage_next_gen(p, dfd))
		return;
	touched(p, 1, OP_odirect_read);
	if (pread(dfd, map + p * PAGE, PAGE, PAGE) != (ssize_t)PAGE) {
		violation("O_DIRECT read into page %lu: %s", p,
			  strerror(errno));
		return;
	}
	gen[p]++;
	check_page(p, "read back after an O_DIRECT read into it");
}

/*
 * io_uring: page @p registered as fixed buffer 0 (a long-term FOLL_WRITE
 * pin), the page's next generation read into it from @dfd with
 * IORING_OP_READ_FIXED (the kernel writes through the pin and never marks
 * the page dirty), unregistered: the page must hold that generation.
 */
struct uring {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static struct uring *uring_new(void)
{
	struct io_uring_params prm = { 0 };
	struct uring *u = calloc(1, sizeof(*u));
	char *sq, *cq;

	if (!u)
		return NULL;
	u->fd = syscall(__NR_io_uring_setup, 4, &prm);
	if (u->fd < 0) {
		free(u);
		return NULL;
	}
	sq = mmap(NULL, prm.sq_off.array + prm.sq_entries * sizeof(unsigned int),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
		  IORING_OFF_SQ_RING);
	cq = mmap(NULL, prm.cq_off.cqes +
		  prm.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
		  IORING_OFF_CQ_RING);
	u->sqes = mmap(NULL, prm.sq_entries * sizeof(struct io_uring_sqe),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
		       IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || u->sqes == MAP_FAILED) {
		close(u->fd);
		free(u);
		return NULL;
	}
	u->sq_tail = (unsigned int *)(sq + prm.sq_off.tail);
	u->sq_mask = (unsigned int *)(sq + prm.sq_off.ring_mask);
	u->sq_array = (unsigned int *)(sq + prm.sq_off.array);
	u->cq_head = (unsigned int *)(cq + prm.cq_off.head);
	u->cq_tail = (unsigned int *)(cq + prm.cq_off.tail);
	u->cq_mask = (unsigned int *)(cq + prm.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)(cq + prm.cq_off.cqes);
	return u;
}

/* READ_FIXED of PAGE bytes at @off of @fd into buffer 0 at @buf: the result */
static int uring_read_fixed(struct uring *u, int fd, void *buf, off_t off)
{
	unsigned int tail = *u->sq_tail, idx = tail & *u->sq_mask, head;
	struct io_uring_sqe *sqe = &u->sqes[idx];
	int res;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_READ_FIXED;
	sqe->fd = fd;
	sqe->addr = (unsigned long)buf;
	sqe->len = PAGE;
	sqe->off = off;
	u->sq_array[idx] = idx;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, u->fd, 1, 1, IORING_ENTER_GETEVENTS,
		    NULL, 0) < 0)
		return -errno;
	head = *u->cq_head;
	if (head == __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE))
		return -EIO;
	res = u->cqes[head & *u->cq_mask].res;
	__atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

static void uring_read_into(struct mutator *m, unsigned long p, int dfd)
{
	struct iovec iov = { map + p * PAGE, PAGE };
	int res;

	if (!m->u || !stage_next_gen(p, dfd))
		return;
	/* no pin (memcg squeeze: ENOMEM): the page is as it was */
	if (syscall(__NR_io_uring_register, m->u->fd, IORING_REGISTER_BUFFERS,
		    &iov, 1))
		return;
	count(OP_uring_read);
	touched(p, 1, OP_uring_read);
	res = uring_read_fixed(m->u, dfd, map + p * PAGE, PAGE);
	syscall(__NR_io_uring_register, m->u->fd, IORING_UNREGISTER_BUFFERS,
		NULL, 0);
	if (res != (int)PAGE) {
		violation("io_uring fixed-buffer read into page %lu: %s", p,
			  res < 0 ? strerror(-res) : "short read");
		return;
	}
	gen[p]++;
	check_page(p, "read back after an io_uring fixed-buffer read into it");
}

/*
 * udmabuf: a dma-buf of pages @p..@p+@n-1 of the memfd, mapped and written
 * through the dma-buf's own mapping, unmapped and released, as a device
 * or a guest's virtio-gpu would.  No mapping of the memfd maps the pages
 * for that write, and on 6.12 nothing marks them dirty (a PFN mapping; 6.1
 * maps the pages themselves, and its write fault dirties them, as a
 * device's DMA would not).  udmabuf holds them (6.1: a reference, 6.12: a
 * long-term pin) only while the dma-buf exists, so a collapse that copied
 * a page before may find it unreferenced, its flags as they were, and its
 * contents changed: the write must stay.
 * Only pages that hold data are written (a generation above 0, so dirty
 * since their first write): udmabuf allocates a hole's page clean, and
 * reclaim drops a clean shmem page, so a write into a hole's page through
 * udmabuf is lost on 6.12 without any collapse (stock too; -C shows it).
 * The caller leaves out the mutator's poisoned page (overlaps_pin()).
 */
static void udmabuf_write(unsigned long p, unsigned long n)
{
	struct udmabuf_create c = {
		.memfd = fd, .flags = UDMABUF_FLAGS_CLOEXEC,
		.offset = p * PAGE, .size = n * PAGE,
	};
	int dfd = ioctl(udmabuf_dev, UDMABUF_CREATE, &c);
	unsigned long i;
	char *a;

	/* no dma-buf (memcg squeeze: ENOMEM): the pages are as they were */
	if (dfd < 0)
		return;
	count(OP_udmabuf);
	a = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
	if (a == MAP_FAILED) {
		violation("mmap of a udmabuf of pages %lu-%lu: %s", p,
			  p + n - 1, strerror(errno));
		close(dfd);
		return;
	}
	for (i = 0; i < n; i++) {
		if (!gen[p + i])
			continue;
		touched(p + i, 1, OP_udmabuf);
		fill(a + i * PAGE, p + i, gen[p + i] + 1);
	}
	munmap(a, n * PAGE);
	close(dfd);
	for (i = 0; i < n; i++) {
		if (!gen[p + i])
			continue;
		gen[p + i]++;
		check_page(p + i, "read back after a write through a udmabuf");
	}
}

static void mutate(struct mutator *m)
{
	unsigned long first = m->r * PPR, n = 1 + rnd(&m->seed) % 8;
	unsigned long p = first + rnd(&m->seed) % (PPR - n), i;
	char *a = map + p * PAGE;
	int op = rnd(&m->seed) % 20;
	long stale;
	bool keep;

	switch (op) {
	case 0: case 1: case 2:
		if (overlaps_pin(m, p, 1))
			break;
		if (kind == ANON || kind == SHMANON ||
		    (kind != FILE_EXT4 && (op & 1))) {
			count(OP_mapwrite);
			write_page(p, gen[p] + 1, true);
		} else {
			count(OP_pwrite);
			touched(p, 1, OP_pwrite);
			if (write_page(p, gen[p] + 1, false)) {
				/* EIO: the huge page of an unsure poisoned page */
				if (errno == EIO && m->poisoned >= 0 &&
				    unsure[m->poisoned])
					count(OP_hwpoison_eio);
				else
					violation("pwrite of page %lu: %s", p,
						  strerror(errno));
			}
		}
		check_page(p, "read back after a write");
		break;
	case 3:
		if (pinned_in(m, p, n))
			break;
		keep = in(m->poisoned, p, n) && unsure[m->poisoned];
		stale = in(m->poisoned, p, n) && !keep ? m->poisoned : -1;
		if (stale >= 0)
			m->poisoned = -1;
		if (has_fd()) {
			int wfd = kind == FILE_EXT4 ? open(path, O_RDWR) : fd;

			count(OP_punch);
			touched(p, n, OP_punch);
			if (wfd < 0 || fallocate(wfd, FALLOC_FL_PUNCH_HOLE |
						 FALLOC_FL_KEEP_SIZE,
						 p * PAGE, n * PAGE))
				violation("punch hole: %s", strerror(errno));
			if (kind == FILE_EXT4 && wfd >= 0)
				close(wfd);
		} else {
			count(kind == ANON ? OP_dontneed : OP_remove);
			if (madvise(a, n * PAGE, kind == ANON ? MADV_DONTNEED :
				    MADV_REMOVE))
				violation("MADV_REMOVE: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			gen[p + i] = 0;
			unsure[p + i] = false;
		}
		/*
		 * A huge page that cannot be split (another of its pages is
		 * held) keeps the poisoned page, zeroed: it may still fail.
		 */
		if (keep)
			unsure[m->poisoned] = true;
		/*
		 * memory_failure() left a hwpoison entry in this mapping's
		 * PTE of the poisoned page, and the punch keeps it (a zap of
		 * a shared mapping without even_cows skips hwpoison entries,
		 * on the stock kernels too): a store there would get SIGBUS
		 * (BUS_MCEERR_AR) until the PTE is zapped.  Zap it, as a
		 * program that punched out a bad page does.
		 */
		if (stale >= 0 &&
		    madvise(map + stale * PAGE, PAGE, MADV_DONTNEED))
			violation("MADV_DONTNEED of the punched-out poisoned page: %s",
				  strerror(errno));
		for (i = 0; i < n; i++)
			check_page(p + i, "read back after a punch");
		break;
	case 4:
		if (!has_fd())
			break;
		count(OP_falloc);
		touched(p, n, OP_falloc);
		{
			int wfd = kind == FILE_EXT4 ? open(path, O_RDWR) : fd;

			if (wfd < 0 || fallocate(wfd, 0, p * PAGE, n * PAGE))
				violation("fallocate: %s", strerror(errno));
			if (kind == FILE_EXT4 && wfd >= 0)
				close(wfd);
		}
		check_page(p, "read back after fallocate");
		break;
	case 5:
		/* the last range: cut the file inside it, and grow it back */
		if (m->r != R_MUT_B || !has_fd() || pinned_in(m, p, PPR) ||
		    (kind == MEMFD && udmabuf_dev >= 0))
			break;
		count(OP_truncate);
		touched(p, NR_PAGES - p, OP_truncate);
		{
			int wfd = kind == FILE_EXT4 ? open(path, O_RDWR) : fd;

			if (wfd < 0 || ftruncate(wfd, p * PAGE) ||
			    ftruncate(wfd, SIZE))
				violation("ftruncate: %s", strerror(errno));
			if (kind == FILE_EXT4 && wfd >= 0)
				close(wfd);
		}
		keep = m->poisoned >= (long)p && unsure[m->poisoned];
		for (i = p; i < NR_PAGES; i++) {
			gen[i] = 0;
			unsure[i] = false;
		}
		if (keep)
			unsure[m->poisoned] = true;
		else if (m->poisoned >= (long)p)
			m->poisoned = -1;
		check_page(p, "read back after ftruncate");
		break;
	case 6:
		if (kind == ANON)
			break;	/* would zero the pages */
		count(OP_dontneed);
		madvise(a, n * PAGE, MADV_DONTNEED);
		break;
	case 7:
		count(OP_mprotect);
		mprotect(a, n * PAGE, PROT_READ);
		mprotect(a, n * PAGE, map_prot());
		break;
	case 8:
		/* fails if the pages span two VMAs (mprotect leaves splits) */
		count(OP_remap);
		if (mremap(a, n * PAGE, n * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
			   m->park) == MAP_FAILED)
			break;
		/* newer kernels move several VMAs at once: back page by page */
		if (mremap(m->park, n * PAGE, n * PAGE,
			   MREMAP_MAYMOVE | MREMAP_FIXED, a) != MAP_FAILED) {
			park_refill(m, n);
		} else {
			int err = errno;

			show_maps("mremap back", m->park, n, a);
			for (i = 0; i < n; i++)
				if (mremap(m->park + i * PAGE, PAGE, PAGE,
					   MREMAP_MAYMOVE | MREMAP_FIXED,
					   a + i * PAGE) == MAP_FAILED)
					violation("mremap back of %lu pages (%s), page %lu: %s",
						  n, strerror(err), i,
						  strerror(errno));
			park_refill(m, n);
		}
		break;
	case 9:
		if (overlaps_pin(m, p, n))
			break;
		count(OP_pageout);
		madvise(a, n * PAGE, MADV_PAGEOUT);
		break;
	case 10:
		count(OP_cold);
		madvise(a, n * PAGE, MADV_COLD);
		/*
		 * Now and then the range is not eligible for a moment: a
		 * collapse that revalidates its VMA then stops
		 * (SCAN_VMA_CHECK).
		 */
		if (!(rnd(&m->seed) % 4)) {
			count(OP_nohugepage);
			madvise(map + first * PAGE, HPAGE, MADV_NOHUGEPAGE);
			usleep(1000);
			madvise(map + first * PAGE, HPAGE, MADV_HUGEPAGE);
		}
		break;
	case 11:
		if (!(rnd(&m->seed) % 8))
			fork_check(m);
		break;
	case 12:
		/* hold a page in a pipe across collapses */
		if (kind == FILE_EXT4)
			break;
		if (m->pinned >= 0) {
			pin_check(m);
		} else if (!overlaps_pin(m, p, 1)) {
			struct iovec iov = { .iov_base = a, .iov_len = PAGE };

			count(OP_pin);
			m->pin_forks = atomic_load(&forks);
			/*
			 * An anonymous page is the process's own only once
			 * written after the last fork (and a hole is the zero
			 * page): write it before taking the reference.
			 */
			if (kind == ANON)
				write_page(p, gen[p] + 1, true);
			if (vmsplice(m->pipe[1], &iov, 1, 0) == (ssize_t)PAGE) {
				m->pinned = p;
				m->pin_gen = gen[p];
			}
		}
		break;
	case 13:
		/* O_DIRECT write from the range, then reads into it (O_DIRECT, io_uring) */
		if (kind == FILE_EXT4 || access(EXT4_DIR, W_OK) ||
		    overlaps_pin(m, p, 1))
			break;
		count(OP_odirect);
		{
			char f[64];
			int dfd;

			snprintf(f, sizeof(f), EXT4_DIR "/collapse-stress.dio.%d",
				 gettid());
			dfd = open(f, O_RDWR | O_CREAT | O_DIRECT, 0600);
			if (dfd < 0)
				break;
			if (pwrite(dfd, a, PAGE, 0) == (ssize_t)PAGE) {
				/*
				 * and the other way: DMA into the page (not
				 * next to a poisoned page inside a huge page)
				 */
				if (m->poisoned < 0 || !unsure[m->poisoned]) {
					odirect_read_into(p, dfd);
					uring_read_into(m, p, dfd);
				}
			} else if (errno == EFAULT && m->poisoned >= 0 &&
				   unsure[m->poisoned]) {
				/*
				 * A page of the huge page of an unsure poisoned
				 * page: 6.12 faults no page of a large folio
				 * with a poisoned page in, and GUP cannot pin it
				 */
				count(OP_hwpoison_eio);
			} else {
				violation("O_DIRECT write from page %lu: %s", p,
					  strerror(errno));
			}
			close(dfd);
			unlink(f);
		}
		break;
	case 15:
		poison(m, p);
		break;
	case 17:
		/*
		 * Empty the whole range and collapse it: nothing to collapse
		 * (shmem: SCAN_TRUNCATED), and the holes stay holes.
		 */
		if (!has_fd() || kind == FILE_EXT4 || rnd(&m->seed) % 4 ||
		    overlaps_pin(m, first, PPR) || m->poisoned >= 0)
			break;
		count(OP_empty_collapse);
		touched(first, PPR, OP_punch);
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      first * PAGE, HPAGE))
			violation("punch of the range: %s", strerror(errno));
		for (i = first; i < first + PPR; i++)
			gen[i] = 0;
		madvise(map + first * PAGE, HPAGE, MADV_COLLAPSE);
		verify_range(m->r, "an empty range after MADV_COLLAPSE");
		break;
	case 16:
		if (m->lpinned >= 0)
			longterm_pin_check(m);
		else if (!overlaps_pin(m, p, 1))
			longterm_pin(m, p);
		break;
	case 14:
		if (kind == FILE_EXT4) {
			count(OP_fadvise);
			posix_fadvise(fd, p * PAGE, n * PAGE,
				      POSIX_FADV_DONTNEED);
		}
		break;
	case 18:
		if (kind == MEMFD && udmabuf_dev >= 0 &&
		    !overlaps_pin(m, p, n) &&
		    (m->poisoned < 0 || !unsure[m->poisoned])) {
			udmabuf_write(p, n);
			break;
		}
		/* fall through */
	default:
		verify_range(m->r, "verify");
		break;
	}
}

static void *mutator(void *arg)
{
	struct mutator *m = arg;
	struct slot *s = slot_new(m->r == R_MUT_A ? "mutator-a" :
				  m->r == R_UFFD ? "mutator-u" : "mutator-b");

	m->seed = gettid() * 69069UL + 3;
	m->pinned = -1;
	m->lpinned = -1;
	m->poisoned = -1;
	m->u = uring_new();	/* NULL: the kernel has no io_uring */
	m->park = mmap(NULL, 8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (pipe(m->pipe) || m->park == MAP_FAILED) {
		violation("mutator setup: %s", strerror(errno));
		return slot_done(s);
	}
	while (!atomic_load(&stop)) {
		mutate(m);
		beat(s);
		/* a regular file collapses only while nobody writes it */
		if (kind == FILE_EXT4)
			usleep(rnd(&m->seed) % 20000);
	}
	if (m->pinned >= 0)
		pin_check(m);
	if (m->lpinned >= 0)
		longterm_pin_check(m);
	verify_range(m->r, "final check");
	return slot_done(s);
}

/* ---- userfaultfd: no missing-page event may be suppressed ----------- */

static int uffd = -1;

struct touch {
	unsigned long p;
	atomic_int done;
	bool ok;
};

static void *toucher(void *arg)
{
	struct touch *t = arg;

	t->ok = page_is(map + t->p * PAGE, t->p, 2);
	atomic_store(&t->done, 1);
	return NULL;
}

static int uffd_setup(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)map + R_UFFD * HPAGE,
			   .len = HPAGE },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) ||
	    ioctl(uffd, UFFDIO_REGISTER, &reg))
		return -1;
	return 0;
}

/*
 * Write-protect mode on the cold range, which nobody writes: registered
 * with one page write-protected, then unprotected and unregistered, in
 * turns.  A collapse of the range must leave the protected page alone
 * (SCAN_PTE_UFFD_WP).
 */
static void uffd_wp_churn(unsigned long *seed)
{
	static bool on;
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)map + R_COLD * HPAGE,
			   .len = HPAGE },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect wp = {
		.range = { .start = reg.range.start + (rnd(seed) % PPR) * PAGE,
			   .len = PAGE },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};

	count(OP_uffd_wp);
	if (on) {
		wp.range = reg.range;
		wp.mode = 0;
		ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
		ioctl(uffd, UFFDIO_UNREGISTER, &reg.range);
		on = false;
		return;
	}
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return;
	on = true;
	if (!ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		count(OP_uffd_wp_protect);
}

static void *uffd_thread(void *arg)
{
	unsigned long seed = gettid() * 1103515245UL + 11, n = 0;
	struct slot *s = slot_new(arg);
	static char buf[PAGE];

	while (!atomic_load(&stop)) {
		unsigned long p = R_UFFD * PPR + (rnd(&seed) % (PPR / 2)) * 2 + 1;
		struct pollfd pfd = { .fd = uffd, .events = POLLIN };
		struct touch t = { .p = p };
		struct uffd_msg msg;
		bool event = false;
		long long until;
		pthread_t th;

		beat(s);
		if (!(n++ % 16))
			uffd_wp_churn(&seed);
		if (gen[p]) {
			/* filled by an earlier round: make it a hole again */
			if (has_fd())
				fallocate(fd, FALLOC_FL_PUNCH_HOLE |
					  FALLOC_FL_KEEP_SIZE, p * PAGE, PAGE);
			else
				madvise(map + p * PAGE, PAGE, kind == ANON ?
					MADV_DONTNEED : MADV_REMOVE);
			gen[p] = 0;
			continue;
		}
		count(OP_uffd_touch);
		if (pthread_create(&th, NULL, toucher, &t))
			continue;
		until = now_ms() + 5000;
		while (!atomic_load(&t.done) && now_ms() < until) {
			if (poll(&pfd, 1, 100) != 1)
				continue;
			if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
				continue;
			if (msg.event == UFFD_EVENT_PAGEFAULT) {
				struct uffdio_copy copy = {
					.dst = msg.arg.pagefault.address &
						~(PAGE - 1),
					.src = (unsigned long)buf,
					.len = PAGE,
				};
				unsigned long q = (copy.dst - (unsigned long)map) / PAGE;

				fill(buf, q, 2);
				if (ioctl(uffd, UFFDIO_COPY, &copy) &&
				    errno != EEXIST)
					violation("UFFDIO_COPY: %s",
						  strerror(errno));
				gen[q] = 2;
				event |= q == p;
			}
		}
		if (!atomic_load(&t.done)) {
			violation("userfaultfd: the touch of hole %lu did not end in 5 s",
				  p);
			atomic_store(&stop, true);
			pthread_detach(th);
			break;
		}
		pthread_join(th, NULL);
		if (!event)
			violation("userfaultfd: no missing-page event for hole %lu: it was filled behind userspace's back",
				  p);
		else if (!t.ok)
			violation("userfaultfd: hole %lu reads other data than UFFDIO_COPY put there",
				  p);
		gen[p] = 2;
	}
	return slot_done(s);
}

/* ---- whole-system mutations ----------------------------------------- */

static char ra_path[128], ra_saved[32];

static int khugepaged_pid(void)
{
	char p[300], comm[32];
	DIR *d = opendir("/proc");
	struct dirent *e;
	int pid = -1;

	while (d && (e = readdir(d))) {
		snprintf(p, sizeof(p), "/proc/%s/comm", e->d_name);
		if (!read_file(p, comm, sizeof(comm)) &&
		    !strcmp(comm, "khugepaged\n")) {
			pid = atoi(e->d_name);
			break;
		}
	}
	if (d)
		closedir(d);
	return pid;
}

/* the prober wants the sizes below PMD size off for a while */
static atomic_bool mthp_hold;

/*
 * Set each size below PMD size to one of @v at random (@seed), or to
 * "never" (@seed NULL).
 */
static void mthp_toggle(unsigned long *seed)
{
	static const char * const v[] = { "always", "inherit", "madvise", "never" };
	char p[300];
	DIR *d;
	struct dirent *e;

	if (seed && atomic_load(&mthp_hold))
		return;
	d = opendir(THP);
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "hugepages-", 10) ||
		    !strcmp(e->d_name, "hugepages-2048kB"))
			continue;
		snprintf(p, sizeof(p), THP "%s/enabled", e->d_name);
		write_file(p, seed ? v[rnd(seed) % 4] : "never");
		if (seed)
			count(OP_mthp_toggle);
	}
	if (d)
		closedir(d);
}

/* memory.current of the scenario's cgroup (@sub "") or its squeeze one */
static long memcg_current_kb(const char *sub)
{
	char p[256], v[32];

	snprintf(p, sizeof(p), "%s%s/memory.current", cg_dir, sub);
	if (!cg_dir[0] || read_file(p, v, sizeof(v)))
		return 0;
	return atol(v) / 1024;
}

/* memory.events' oom_kill of the scenario's cgroup or its squeeze one */
static long memcg_oom_kills(const char *sub)
{
	char p[256], line[128];
	long n = 0;
	FILE *f;

	snprintf(p, sizeof(p), "%s%s/memory.events", cg_dir, sub);
	f = cg_dir[0] ? fopen(p, "r") : NULL;
	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "oom_kill %ld", &n);
	if (f)
		fclose(f);
	return n;
}

#define SQUEEZE_CG "-squeeze"

/*
 * The squeezer: a process of the scenario in a memory cgroup of its own
 * (a sibling of the scenario's), so that a squeeze limits only what it
 * charges itself.  Every 3 s it sets memory.max 1 MB above its usage and
 * collapses every range of the memfd or tmpfs file and a range of anonymous
 * memory of its own
 * (one page written in it): each collapse's huge page is charged to the
 * squeezer's cgroup and must fail to (SCAN_CGROUP_CHARGE_FAIL; the charge
 * of an order above PAGE_ALLOC_COSTLY_ORDER never invokes the OOM killer),
 * with nothing lost.  Swap stays open to that cgroup: if a collapse by
 * khugepaged through the squeezer's mm charged it between the read of
 * memory.current and the write of memory.max, the write reclaims by
 * swapping and never has to OOM-kill (lowering memory.max below the usage
 * of the scenario's own cgroup, as this used to, did once).
 *
 * Not the ext4 file's ranges: a collapse there reads missing pages in,
 * charged as read(2) would charge them, into the squeezed cgroup.
 */
static void squeezer(void)
{
	pid_t parent = getppid();
	char p[256], v[32];
	char *own;
	int r;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(p, sizeof(p), "%s" SQUEEZE_CG "/cgroup.procs", cg_dir);
	snprintf(v, sizeof(v), "%d", getpid());
	if (write_file(p, v))
		_exit(0);
	/*
	 * Our own mapping of the file, without MADV_HUGEPAGE: khugepaged
	 * (shmem_enabled=advise) must not collapse the scenario's ranges
	 * through our mm, which would charge their huge pages to our cgroup
	 * and have the squeeze swap them out.  MADV_COLLAPSE ignores the
	 * setting.  The scenario's anonymous memory (private or shared) is
	 * not ours to collapse.
	 */
	if (kind == MEMFD || kind == TMPFS) {
		if (mmap(map, SIZE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) ==
		    MAP_FAILED)
			_exit(0);
	} else {
		munmap(map, SIZE);
	}
	own = map_aligned(HPAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1);
	snprintf(p, sizeof(p), "%s" SQUEEZE_CG "/memory.max", cg_dir);
	while (!atomic_load(&st->finished) && getppid() == parent) {
		long cur;

		sleep(3);
		if (own) {
			/* 4K pages again, whatever khugepaged made of them */
			madvise(own, HPAGE, MADV_DONTNEED);
			memset(own + PAGE, 0x5a, PAGE);
		}
		cur = memcg_current_kb(SQUEEZE_CG);
		if (!cur)
			continue;
		snprintf(v, sizeof(v), "%ld", (cur + 1024) * 1024);
		if (write_file(p, v))
			continue;
		count(OP_memcg_squeeze);
		for (r = 0; r <= NR_RANGES; r++) {
			char *a = r < NR_RANGES ? map + r * HPAGE : own;
			int ret;

			if ((r < NR_RANGES && kind != MEMFD && kind != TMPFS) ||
			    !a || no_collapse)
				continue;
			ret = madvise(a, HPAGE, MADV_COLLAPSE);
			count(OP_squeeze_collapse);
			atomic_fetch_add(&st->result[2][errno_slot(ret ? errno : 0)],
					 1);
		}
		write_file(p, "max");
		if (own && (own[0] || own[PAGE] != 0x5a ||
			    own[2 * PAGE - 1] != 0x5a || own[2 * PAGE]))
			violation("squeezer: its own anonymous range changed across a squeezed collapse");
	}
	_exit(0);
}

static void *system_thread(void *arg)
{
	unsigned long seed = gettid() * 12345UL + 5;
	struct slot *s = slot_new(arg);
	char kh_fail[64] = "";
	int kh = khugepaged_pid();
	long long next_compact = 0, next_drop = 0;

	if (inject && kh > 0)
		snprintf(kh_fail, sizeof(kh_fail), "/proc/%d/make-it-fail", kh);
	while (!atomic_load(&stop)) {
		switch (rnd(&seed) % 10) {
		case 0:
			/* whole-system passes: at most every 2 s and 5 s */
			if (now_ms() < next_drop)
				break;
			next_drop = now_ms() + 2000;
			count(OP_drop_caches);
			write_file("/proc/sys/vm/drop_caches", "3");
			break;
		case 1:
			if (now_ms() < next_compact)
				break;
			next_compact = now_ms() + 5000;
			count(OP_compact);
			write_file("/proc/sys/vm/compact_memory", "1");
			break;
		case 2:
			count(OP_pageout);
			madvise(map + R_COLD * HPAGE, HPAGE, MADV_PAGEOUT);
			break;
		case 3:
			count(OP_cold);
			madvise(map + R_COLD * HPAGE, HPAGE, MADV_COLD);
			break;
		case 4:
			if (has_fd()) {
				count(OP_fadvise);
				posix_fadvise(fd, R_COLD * HPAGE, HPAGE,
					      POSIX_FADV_DONTNEED);
			}
			break;
		case 5:
			if (kind == FILE_EXT4) {
				/* open for write, nothing written */
				int wfd = open(path, O_RDWR);

				count(OP_reopen);
				if (wfd >= 0)
					close(wfd);
			}
			break;
		case 6:
			if (kind == FILE_EXT4 && ra_path[0]) {
				count(OP_readahead);
				write_file(ra_path, rnd(&seed) & 1 ? "0" : "128");
			}
			break;
		case 7:
			if (kh_fail[0]) {
				count(OP_kh_fail);
				write_file(kh_fail, rnd(&seed) & 1 ? "1" : "0");
			}
			break;
		case 8:
			if (kind == ANON)
				mthp_toggle(&seed);
			break;
		default:
			break;
		}
		beat(s);
		usleep(20000 + rnd(&seed) % 80000);
	}
	if (kh_fail[0])
		write_file(kh_fail, "0");
	return slot_done(s);
}

/* ---- the prober: exits the random mix reaches seldom or never --------- */

/* Wait until khugepaged has finished two more full scans (at most 10 s). */
static long full_scans(void)
{
	char v[32];

	return read_file(THP "khugepaged/full_scans", v, sizeof(v)) ? -1 : atol(v);
}

/*
 * tracepoint result codes, counted by a thread of the parent in memory
 * shared with the scenarios (the prober looks up what was hit already)
 */
#define MAX_CODES 64
static struct code {
	char name[72];
	unsigned long n;
} *codes;
static int ncodes;

/*
 * How often the tracepoints reported @key ("event:result") in this
 * scenario so far; the count lags the kernel by the trace thread's poll
 * (100 ms).  A prober step that aims at a result repeats while it is 0.
 */
static unsigned long code_seen(const char *key)
{
	unsigned long n = 0;
	int i;

	usleep(300000);
	for (i = 0; i < MAX_CODES; i++)
		if (!strncmp(codes[i].name, key, sizeof(codes[i].name)))
			n += __atomic_load_n(&codes[i].n, __ATOMIC_RELAXED);
	return n;
}

/*
 * Whether a prober step aiming at @key ("event:result") runs its try @k
 * of @tries: the first always, the others while @key is not seen yet.
 */
static bool probe_try(int k, int tries, const char *key)
{
	return k < tries && !atomic_load(&stop) && !(k && code_seen(key));
}

static void khugepaged_full_scans(struct slot *s)
{
	long start = full_scans(), n;
	int i;

	for (i = 0; i < 100 && !atomic_load(&stop); i++) {
		usleep(100000);
		beat(s);
		n = full_scans();
		if (start < 0 || n < 0 || n >= start + 2)
			return;
	}
}

/*
 * Anonymous ranges of the prober's own (not inherited by fork()), each
 * cycle: MADV_COLLAPSE of a range no page table of which exists, not even
 * the one above the PMD (SCAN_PMD_NULL); MADV_COLLAPSE of a range written
 * whole while thp_off_thread() disables THP for the process (6.12:
 * SCAN_ANY_PROCESS); a range written whole, made cold
 * (MADV_COLD clears the young bits and PG_referenced; the collapse's
 * lru_add_drain_all() empties the batch holding the pages) and only then
 * made MADV_HUGEPAGE, left to khugepaged (SCAN_LACK_REFERENCED_PAGE); the
 * same range paged out whole (512 swap entries, over max_ptes_swap:
 * SCAN_EXCEED_SWAP_PTE); then MADV_COLLAPSE of it with this thread's
 * allocations failing, so that the swap-in fails (SCAN_FAIL).  The data
 * must survive all of it.
 */
/*
 * PR_SET_THP_DISABLE takes the mmap lock for write: set while the prober's
 * MADV_COLLAPSE scans (mmap lock held for read), it lands between the scan
 * and the revalidation after the allocation, which then finds THP disabled
 * for the process (6.12: SCAN_ANY_PROCESS; 6.1: SCAN_VMA_CHECK).
 */
static atomic_int thp_off;	/* enum thp_off_state */
enum thp_off_state { OFF_IDLE, OFF_PREPARE, OFF_SPINNING, OFF_GO, OFF_CLEAR };

static void *thp_off_thread(void *arg)
{
	struct slot *s = slot_new(arg);
	unsigned long seed = gettid();
	long long until;

	while (!atomic_load(&stop)) {
		int expect = OFF_PREPARE;

		if (!atomic_compare_exchange_strong(&thp_off, &expect,
						    OFF_SPINNING)) {
			usleep(1000);
			beat(s);
			continue;
		}
		/*
		 * Spin, not sleep: the window (the collapse's
		 * lru_add_drain_all() and scan, mmap lock held for read) is
		 * tens to hundreds of microseconds.
		 */
		while (atomic_load(&thp_off) == OFF_SPINNING &&
		       !atomic_load(&stop))
			;
		until = now_us() + rnd(&seed) % 300;
		while (now_us() < until)
			;
		prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
		while (atomic_load(&thp_off) != OFF_CLEAR && !atomic_load(&stop))
			usleep(100);
		prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);
		atomic_store(&thp_off, OFF_IDLE);
		beat(s);
	}
	prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);
	return slot_done(s);
}

/* Write the first @n pages of the prober's anonymous range @p. */
static void probe_fill(char *p, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		fill(p + i * PAGE, 1000000 + i, 1);
}

/* Its data must be as probe_fill() wrote it, after @what. */
static void probe_check(const char *p, const char *what)
{
	unsigned long i;

	for (i = 0; i < PPR; i++)
		if (!page_is(p + i * PAGE, 1000000 + i, 1)) {
			violation("prober: anonymous page %lu changed %s", i,
				  what);
			return;
		}
}

/*
 * 6.12: the no-creep rule (SCAN_WOULD_CREEP), which the random mix reaches
 * once or not at all in a run.  Sizes 32K and 64K only, PMD size off for
 * a moment; the range's last 64K block written whole, then two pages of
 * its first half and one of its second paged out (swap entries).  The
 * second half passes on its own (one swap entry, max_ptes_swap 64 >> 6
 * allowed), but collapsing it would make the whole 64K block pass (two
 * left, 64 >> 5 allowed) where it does not now (three): refused, and it is
 * the last block the scan judges, so its result is the range's.  The data
 * must survive; the range is written whole again at the end.
 */
static void probe_creep(struct slot *s, char *p)
{
	static const char * const pmd = THP "hugepages-2048kB/enabled";
	char was[64], *q = p + (PPR - 16) * PAGE;
	unsigned long i;
	int k;

	if (access(THP "hugepages-32kB/enabled", F_OK) ||
	    access(THP "hugepages-64kB/enabled", F_OK) ||
	    read_selected(pmd, was, sizeof(was)))
		return;
	atomic_store(&mthp_hold, true);
	mthp_toggle(NULL);
	write_file(THP "hugepages-32kB/enabled", "always");
	write_file(THP "hugepages-64kB/enabled", "always");
	write_file(pmd, "never");
	for (k = 0; probe_try(k, 4, "mm_khugepaged_scan_pmd:would_creep");
	     k++) {
		madvise(p, HPAGE, MADV_DONTNEED);
		for (i = PPR - 16; i < PPR; i++)
			fill(p + i * PAGE, 1000000 + i, 1);
		madvise(q + PAGE, 2 * PAGE, MADV_PAGEOUT);
		madvise(q + 9 * PAGE, PAGE, MADV_PAGEOUT);
		madvise(p, HPAGE, MADV_HUGEPAGE);
		count(OP_probe_creep);
		khugepaged_full_scans(s);
		for (i = PPR - 16; i < PPR; i++)
			if (!page_is(p + i * PAGE, 1000000 + i, 1)) {
				violation("prober: anonymous page %lu changed in the creep probe",
					  i);
				break;
			}
	}
	write_file(pmd, was);
	mthp_toggle(NULL);
	atomic_store(&mthp_hold, false);
	madvise(p, HPAGE, MADV_DONTNEED);
	probe_fill(p, PPR);
}

static void probe_anon(struct slot *s, char *hole, char *p, int ffd)
{
	bool armed;
	int k, r;

	count(OP_probe_pmd_null);
	madvise(hole, HPAGE, MADV_COLLAPSE);

	for (k = 0; k < 8 && !atomic_load(&stop); k++) {
		madvise(p, HPAGE, MADV_DONTNEED);
		probe_fill(p, PPR);
		atomic_store(&thp_off, OFF_PREPARE);
		while (atomic_load(&thp_off) != OFF_SPINNING &&
		       !atomic_load(&stop))
			usleep(100);
		atomic_store(&thp_off, OFF_GO);
		count(OP_probe_thp_off);
		madvise(p, HPAGE, MADV_COLLAPSE);
		atomic_store(&thp_off, OFF_CLEAR);
		while (atomic_load(&thp_off) != OFF_IDLE && !atomic_load(&stop))
			usleep(100);
		beat(s);
	}

	/*
	 * The steps below depend on timing (khugepaged's scan, reclaim):
	 * each is repeated, a few times, until the result it aims at has
	 * been seen in this scenario.
	 */
	for (k = 0; probe_try(k, 4, "mm_khugepaged_scan_pmd:lack_referenced_page");
	     k++) {
		madvise(p, HPAGE, MADV_NOHUGEPAGE);
		madvise(p, HPAGE, MADV_DONTNEED);
		probe_fill(p, PPR);
		/*
		 * MADV_COLD skips pages not on the LRU yet: drain every
		 * CPU's batch first (MADV_COLLAPSE's lru_add_drain_all()),
		 * and again after, for the deactivations it queued.
		 */
		madvise(hole, HPAGE, MADV_COLLAPSE);
		madvise(p, HPAGE, MADV_COLD);
		madvise(hole, HPAGE, MADV_COLLAPSE);
		madvise(p, HPAGE, MADV_HUGEPAGE);
		count(OP_probe_cold);
		khugepaged_full_scans(s);
	}

	/*
	 * With a size below PMD size enabled (6.12), the scan tracepoint
	 * reports the smaller blocks' result: keep them off meanwhile.
	 */
	atomic_store(&mthp_hold, true);
	mthp_toggle(NULL);
	for (k = 0; probe_try(k, 4, "mm_khugepaged_scan_pmd:exceed_swap_pte");
	     k++) {
		madvise(p, HPAGE, MADV_NOHUGEPAGE);
		/* back in (a read fault each), to be paged out again */
		if (k)
			probe_check(p, "by a pageout");
		madvise(p, HPAGE, MADV_PAGEOUT);
		madvise(p, HPAGE, MADV_HUGEPAGE);
		count(OP_probe_swapped);
		khugepaged_full_scans(s);
	}
	atomic_store(&mthp_hold, false);

	probe_creep(s, p);

	/*
	 * Paged out, the pages stay in the swap cache until written: a
	 * swap-in would find them there and allocate nothing.  Read them
	 * back (clean swap-cache pages, mapped) and page them out again:
	 * now reclaim frees them at once.  Then a few pages written back (a
	 * range of swap entries only is SCAN_PAGE_RO).  Not MADV_HUGEPAGE
	 * meanwhile, so that khugepaged leaves the range alone.
	 */
	for (r = 0; probe_try(r, 3, "mm_collapse_huge_page:failed"); r++) {
		madvise(p, HPAGE, MADV_NOHUGEPAGE);
		probe_check(p, "by a pageout");
		madvise(p, HPAGE, MADV_PAGEOUT);
		probe_fill(p, 8);
		madvise(p, HPAGE, MADV_HUGEPAGE);
		/*
		 * A swap-in that has to read stops the collapse at its first
		 * page (the read keeps the page locked: VM_FAULT_RETRY,
		 * SCAN_PAGE_LOCK) and goes one page further on the next
		 * call: the allocation of that page fails now and then
		 * (SCAN_FAIL).
		 */
		for (k = 0; k < 20 && !atomic_load(&stop); k++) {
			armed = ffd >= 0 && pwrite(ffd, "1", 1, 0) == 1;
			madvise(p, HPAGE, MADV_COLLAPSE);
			if (armed) {
				while (pwrite(ffd, "0", 1, 0) != 1)
					;
				count(OP_probe_swapin_fail);
			}
		}
		probe_check(p, "after a cold, swapped and injected collapse");
	}
}

/*
 * A file on the ext4 mounted data=journal, written, closed and mapped r-x
 * at once: its buffers are still the journal's (running transaction, then
 * dirty on the checkpoint list), so they cannot be released and the
 * collapse stops at SCAN_PAGE_HAS_PRIVATE.  The data must read back.
 * (Per-file journalling, chattr +j, is ignored with delalloc.)
 */
static void probe_jdata(struct slot *s, unsigned int round)
{
	char name[128], *m, buf[PAGE];
	int f, i;
	unsigned long j;

	snprintf(name, sizeof(name), "%s/probe-jdata.%d", EXT4J_DIR, getpid());
	f = open(name, O_RDWR | O_CREAT | O_TRUNC, 0755);
	if (f < 0)
		return;
	for (j = 0; j < PPR; j++) {
		fill(buf, 2000000 + j, round);
		if (pwrite(f, buf, PAGE, j * PAGE) != PAGE)
			break;
	}
	close(f);
	f = open(name, O_RDONLY);
	m = f < 0 ? NULL : map_aligned(HPAGE, PROT_READ | PROT_EXEC, MAP_SHARED, f);
	if (m) {
		count(OP_probe_jdata);
		madvise(m, HPAGE, MADV_HUGEPAGE);
		for (i = 0; i < 5 && !atomic_load(&stop); i++) {
			madvise(m, HPAGE, MADV_COLLAPSE);
			for (j = 0; j < PPR; j++)
				if (!page_is(m + j * PAGE, 2000000 + j, round)) {
					violation("prober: page %lu of a data-journalled file changed after a collapse",
						  j);
					break;
				}
			beat(s);
			usleep(100000);
		}
		munmap(m, HPAGE);
	}
	if (f >= 0)
		close(f);
	unlink(name);
}

/*
 * shmem: a file of the prober's own, its first half written, its second
 * half holes (whole xarray nodes of them), collapsed with this thread's
 * allocations failing while a second thread writes one page of the holes
 * and punches it out again.  A page added to a hole and removed during
 * the copy frees the xarray node the collapse created for the hole; the
 * node needed again to fill the hole is allocated under the xa_lock and
 * may fail: SCAN_STORE_FAILED (or SCAN_PAGE_FILLED when the page is still
 * there).  No data may change, nothing may stay behind.
 */
#define FILL_PAGE	(PPR / 2 + 144)

struct hole_probe {
	int fd;
	char *m;
	char name[128];
	pthread_t t;
};

static void *hole_filler(void *arg)
{
	struct hole_probe *h = arg;
	struct slot *s = slot_new("prober-fill");
	char buf[PAGE], got[PAGE];
	unsigned int g = 0;

	while (!atomic_load(&stop)) {
		fill(buf, 3000000 + FILL_PAGE, ++g);
		if (pwrite(h->fd, buf, PAGE, FILL_PAGE * PAGE) != PAGE ||
		    pread(h->fd, got, PAGE, FILL_PAGE * PAGE) != PAGE ||
		    memcmp(got, buf, PAGE))
			violation("prober: a write to a hole did not read back");
		fallocate(h->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  FILL_PAGE * PAGE, PAGE);
		if (pread(h->fd, got, PAGE, FILL_PAGE * PAGE) != PAGE ||
		    !page_is(got, 0, 0))
			violation("prober: a punched page did not read zero");
		beat(s);
	}
	return slot_done(s);
}

/* The file, its first half written, and the thread that fills a hole. */
static bool hole_probe_setup(struct hole_probe *h)
{
	char buf[PAGE];
	unsigned long j;

	snprintf(h->name, sizeof(h->name), "/dev/shm/probe-holes.%d", getpid());
	h->fd = kind == MEMFD ? memfd_create("probe-holes", 0) :
		open(h->name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (h->fd < 0 || ftruncate(h->fd, HPAGE))
		return false;
	for (j = 0; j < PPR / 2; j++) {
		fill(buf, 3000000 + j, 1);
		if (pwrite(h->fd, buf, PAGE, j * PAGE) != PAGE)
			return false;
	}
	h->m = map_aligned(HPAGE, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd);
	if (!h->m)
		return false;
	madvise(h->m, HPAGE, MADV_HUGEPAGE);
	madvise(h->m, HPAGE, MADV_DONTFORK);
	return !pthread_create(&h->t, NULL, hole_filler, h);
}

static void probe_holes(struct slot *s, struct hole_probe *h, int ffd)
{
	unsigned long j;
	int i;

	for (i = 0; i < 20 && !atomic_load(&stop); i++) {
		bool armed = ffd >= 0 && pwrite(ffd, "1", 1, 0) == 1;

		count(OP_probe_holes);
		madvise(h->m, HPAGE, MADV_COLLAPSE);
		if (armed)
			while (pwrite(ffd, "0", 1, 0) != 1)
				;
		for (j = 0; j < PPR / 2; j++)
			if (!page_is(h->m + j * PAGE, 3000000 + j, 1)) {
				violation("prober: page %lu changed by a collapse with holes filled and punched",
					  j);
				break;
			}
		/*
		 * Holes again (splits a huge page the collapse made), but for
		 * the page the filler owns.
		 */
		fallocate(h->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  PPR / 2 * PAGE, (FILL_PAGE - PPR / 2) * PAGE);
		fallocate(h->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  (FILL_PAGE + 1) * PAGE, (PPR - FILL_PAGE - 1) * PAGE);
		beat(s);
	}
}

static void *prober(void *arg)
{
	struct slot *s = slot_new(arg);
	struct hole_probe h = { .fd = -1 };
	char *hole = NULL, *p = NULL, *area;
	unsigned int round = 0;
	int ffd = fail_fd();
	bool holes = false;
	pthread_t off;

	if ((kind == MEMFD || kind == TMPFS) && hole_probe_setup(&h))
		holes = true;
	if (kind == ANON) {
		/*
		 * 2 GB of address space: the gigabyte at @hole has no page
		 * table at all (no PUD entry); the page just below it, in the
		 * same VMA, is touched so that the VMA has an anon_vma (else
		 * MADV_COLLAPSE refuses the VMA before any scan).
		 */
		area = mmap(NULL, 2UL << 30, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (area != MAP_FAILED) {
			hole = (char *)(((unsigned long)area + (1UL << 30) - 1) &
					~((1UL << 30) - 1));
			if (hole == area)
				hole += 1UL << 30;
			madvise(area, 2UL << 30, MADV_DONTFORK);
			mprotect(hole - HPAGE, 2 * HPAGE, PROT_READ | PROT_WRITE);
			hole[-1] = 1;
			madvise(hole, HPAGE, MADV_HUGEPAGE);
		}
		p = map_aligned(HPAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1);
		if (p)
			madvise(p, HPAGE, MADV_DONTFORK);
	}
	if (hole && p && pthread_create(&off, NULL, thp_off_thread, "prober-thp"))
		p = NULL;
	while (!atomic_load(&stop)) {
		round++;
		if (hole && p)
			probe_anon(s, hole, p, ffd);
		if (kind == FILE_EXT4)
			probe_jdata(s, round);
		if (holes)
			probe_holes(s, &h, ffd);
		beat(s);
		sleep(1);
	}
	if (ffd >= 0)
		close(ffd);
	if (holes)
		pthread_join(h.t, NULL);
	if (hole && p)
		pthread_join(off, NULL);
	if (h.m)
		munmap(h.m, HPAGE);
	if (h.fd >= 0)
		close(h.fd);
	if (kind == TMPFS)
		unlink(h.name);
	return slot_done(s);
}

/* ---- one scenario, in its own process ------------------------------- */

static void segv(int sig, siginfo_t *si, void *uc)
{
	char *addr = si->si_addr, *last = atomic_load(&poisoned_last);
	unsigned long pg = (addr - map) / PAGE;
	char msg[128];
	int n;

	(void)uc;
	/*
	 * MADV_HWPOISON of a page the kernel cannot isolate (6.12: inside a
	 * huge page it cannot split) sends SIGBUS: to the caller as its
	 * madvise() returns (action required: nothing to undo), or to any
	 * thread later (action optional).  Any other SIGBUS is a failure.
	 */
	if (sig == SIGBUS && addr >= map && addr < map + SIZE &&
	    ((si->si_code == BUS_MCEERR_AR && poisoning) ||
	     (si->si_code == BUS_MCEERR_AO &&
	      ((addr >= last && addr < last + PAGE) || gen[pg] == POISON ||
	       unsure[pg])))) {
		count(OP_hwpoison_sigbus);
		return;
	}
	n = snprintf(msg, sizeof(msg), "# signal %d code %d at %p (map %p..%p)\n",
		     sig, si->si_code, si->si_addr, map, map + SIZE);
	write(1, msg, n);
	_exit(99);
}

static int scenario(void)
{
	struct mutator ma = { .r = R_MUT_A }, mb = { .r = R_MUT_B };
	struct mutator mu = { .r = R_UFFD };
	struct slot *main_slot;
	pthread_t th[12];
	bool with_uffd;
	int n = 0, i;
	pid_t pid;

	{
		struct sigaction sa = { .sa_sigaction = segv, .sa_flags = SA_SIGINFO };

		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
	}
	if (setup()) {
		violation("setup: %s", strerror(errno));
		return 1;
	}
	/* the mm must be known to khugepaged: a huge anonymous fault */
	{
		char *a = map_aligned(HPAGE, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1);

		if (a) {
			madvise(a, HPAGE, MADV_HUGEPAGE);
			a[0] = 1;
		}
	}
	with_uffd = kind != FILE_EXT4 && !uffd_setup();
	madvise(map + R_UFFD * HPAGE, HPAGE, MADV_HUGEPAGE);
	gup_fd = open(DBG "gup_test", O_RDWR | O_CLOEXEC);
	if (debug_trace && kind == FILE_EXT4) {
		struct stat sb;
		char flt[64];

		fstat(fd, &sb);
		snprintf(flt, sizeof(flt), "i_ino == %lu", (unsigned long)sb.st_ino);
		write_file(TRACING "buffer_size_kb", "16384");
		write_file(TRACING "events/filemap/mm_filemap_delete_from_page_cache/filter", flt);
		if (getenv("STRESS_STACKS"))
			write_file(TRACING "events/filemap/mm_filemap_delete_from_page_cache/trigger",
				   "stacktrace");
		write_file(TRACING "events/filemap/mm_filemap_delete_from_page_cache/enable", "1");
		write_file(TRACING "events/huge_memory/mm_khugepaged_collapse_file/enable", "1");
		if (getenv("STRESS_WB")) {
			write_file(TRACING "events/writeback/writeback_dirty_folio/enable", "1");
			write_file(TRACING "events/ext4/ext4_da_write_pages_extent/enable", "1");
			write_file(TRACING "events/ext4/ext4_writepages/enable", "1");
			write_file(TRACING "events/filemap/mm_filemap_add_to_page_cache/filter", flt);
			write_file(TRACING "events/filemap/mm_filemap_add_to_page_cache/enable", "1");
		}
		marker_fd = open(TRACING "trace_marker", O_WRONLY);
		write_file(TRACING "tracing_on", "1");
	}
	pid = no_collapse ? -1 : fork();
	if (!pid)
		remote_collapser(getppid());
	if (squeeze && cg_dir[0] && !fork())
		squeezer();
	if (!no_collapse) {
		pthread_create(&th[n++], NULL, collapser, "collapser-1");
		pthread_create(&th[n++], NULL, collapser, "collapser-2");
	}
	pthread_create(&th[n++], NULL, reader, "reader-1");
	pthread_create(&th[n++], NULL, reader, "reader-2");
	pthread_create(&th[n++], NULL, mutator, &ma);
	pthread_create(&th[n++], NULL, mutator, &mb);
	if (with_uffd)
		pthread_create(&th[n++], NULL, uffd_thread, "uffd");
	else
		pthread_create(&th[n++], NULL, mutator, &mu);
	pthread_create(&th[n++], NULL, system_thread, "system");
	if (!no_collapse && kind != SHMANON)
		pthread_create(&th[n++], NULL, prober, "prober");

	main_slot = slot_new("main");
	for (i = 0; i < seconds; i++) {
		sleep(1);
		beat(main_slot);
	}
	atomic_store(&stop, true);
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		beat(main_slot);
	}

	/* Nothing lost: every range as the shadow says. */
	if (kind == FILE_EXT4) {
		/*
		 * An open for write drops the page cache of a file with huge
		 * pages: dirty pages must have been written back by then.
		 */
		int wfd = open(path, O_RDWR);

		if (wfd >= 0)
			close(wfd);
		write_file("/proc/sys/vm/drop_caches", "3");
	}
	for (i = 0; i < NR_RANGES; i++)
		if (i != R_UFFD || !with_uffd)
			verify_range(i, i < 2 ? "final check, unmutated" :
				     "final check after drop_caches");
	atomic_store(&st->finished, 1);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	munmap(map, SIZE);
	if (fd >= 0)
		close(fd);
	if (path[0])
		unlink(path);
	return 0;
}

/* ---- the parent: knobs, tracepoints, watchdog, leak check ----------- */

struct knob {
	const char *path;
	char saved[64];
	const char *value;
};

static struct knob knobs[] = {
	{ THP "enabled", "", "madvise" },
	{ THP "defrag", "", "madvise" },
	{ THP "shmem_enabled", "", "advise" },
	{ THP "khugepaged/scan_sleep_millisecs", "", "0" },
	{ THP "khugepaged/alloc_sleep_millisecs", "", "50" },
	{ THP "khugepaged/pages_to_scan", "", "4096" },
	{ "/proc/sys/kernel/hung_task_timeout_secs", "", "10" },
};

static char mthp_saved[16][96];

static void knobs_set(void)
{
	unsigned int i;
	struct stat sb;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		char *v = knobs[i].saved;

		if (read_selected(knobs[i].path, v, sizeof(knobs[i].saved)))
			continue;
		if (knobs[i].value)
			write_file(knobs[i].path, knobs[i].value);
	}
	if (!stat(EXT4_DIR, &sb)) {
		snprintf(ra_path, sizeof(ra_path),
			 "/sys/dev/block/%u:%u/queue/read_ahead_kb",
			 major(sb.st_dev), minor(sb.st_dev));
		if (read_file(ra_path, ra_saved, sizeof(ra_saved)))
			ra_path[0] = 0;
	}
	for (i = 0; i < 16; i++) {
		char p[96];

		snprintf(p, sizeof(p), THP "hugepages-%ukB/enabled", 4 << i);
		read_selected(p, mthp_saved[i], sizeof(mthp_saved[i]));
	}
}

/* The mTHP sizes, as they were before the anon scenario toggled them. */
static void mthp_restore(void)
{
	unsigned int i;

	for (i = 0; i < 16; i++) {
		char p[96];

		if (!mthp_saved[i][0])
			continue;
		snprintf(p, sizeof(p), THP "hugepages-%ukB/enabled", 4 << i);
		write_file(p, mthp_saved[i]);
	}
}

static void knobs_restore(void)
{
	unsigned int i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (knobs[i].saved[0])
			write_file(knobs[i].path, knobs[i].saved);
	if (ra_path[0])
		write_file(ra_path, ra_saved);
	mthp_restore();
}

static bool fault_injection_setup(void)
{
	static const char * const attrs[][2] = {
		{ "probability", "20" }, { "interval", "1" },
		{ "times", "-1" }, { "verbose", "0" }, { "space", "0" },
		{ "task-filter", "Y" }, { "ignore-gfp-wait", "N" },
	};
	static const char * const dirs[] = { DBG "failslab/", DBG "fail_page_alloc/" };
	char p[128];
	unsigned int i, j;

	for (i = 0; i < 2; i++) {
		if (access(dirs[i], F_OK))
			return false;
		for (j = 0; j < sizeof(attrs) / sizeof(attrs[0]); j++) {
			snprintf(p, sizeof(p), "%s%s", dirs[i], attrs[j][0]);
			write_file(p, attrs[j][1]);
		}
	}
	write_file(DBG "fail_page_alloc/ignore-gfp-highmem", "N");
	write_file(DBG "fail_page_alloc/min-order", "0");
	return true;
}

static pthread_mutex_t codes_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool trace_stop;
static const char * const events[] = {
	"mm_khugepaged_scan_pmd", "mm_collapse_huge_page",
	"mm_khugepaged_scan_file", "mm_khugepaged_collapse_file",
};

static void code_count(const char *ev, const char *res)
{
	char key[72];
	int i;

	snprintf(key, sizeof(key), "%s:%s", ev, res);
	pthread_mutex_lock(&codes_lock);
	for (i = 0; i < ncodes && strcmp(codes[i].name, key); i++)
		;
	if (i == ncodes && ncodes < MAX_CODES)
		snprintf(codes[ncodes++].name, sizeof(key), "%s", key);
	if (i < MAX_CODES)
		__atomic_add_fetch(&codes[i].n, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&codes_lock);
}

static void trace_line(char *line)
{
	unsigned int i;
	char *r;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		char tag[64];

		snprintf(tag, sizeof(tag), " %s: ", events[i]);
		if (!strstr(line, tag))
			continue;
		r = strstr(line, "result=");
		if (!r)
			r = strstr(line, "status=");
		if (!r)
			return;
		r = strchr(r, '=') + 1;
		r[strcspn(r, ", \n")] = 0;
		code_count(events[i], r);
		return;
	}
}

static void *trace_thread(void *arg)
{
	int tfd = open(TRACING "trace_pipe", O_RDONLY | O_NONBLOCK);
	static char buf[65536], line[1024];
	size_t ln = 0;

	(void)arg;
	/* poll() on trace_pipe does not wake reliably: read until EAGAIN */
	while (tfd >= 0 && !atomic_load(&trace_stop)) {
		ssize_t n, i;

		n = read(tfd, buf, sizeof(buf));
		if (n <= 0) {
			usleep(100000);
			continue;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (ln < sizeof(line) - 1)
					line[ln++] = buf[i];
				continue;
			}
			line[ln] = 0;
			trace_line(line);
			ln = 0;
		}
	}
	if (tfd >= 0)
		close(tfd);
	return NULL;
}

static void trace_enable(bool on)
{
	unsigned int i;
	char p[160];

	write_file(TRACING "buffer_size_kb", "4096");
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		snprintf(p, sizeof(p), TRACING "events/huge_memory/%s/enable",
			 events[i]);
		write_file(p, on ? "1" : "0");
	}
	/* whatever ran before may have left the ring buffer off */
	if (on)
		write_file(TRACING "tracing_on", "1");
}

static long meminfo(const char *field)
{
	return proc_field("/proc/meminfo", field, ':');
}

/* The per-size mTHP counters of anonymous memory in use (6.12), kB. */
static long mthp_anon_kb(void)
{
	long kb = 0;
	unsigned int i;

	for (i = 0; i < 16; i++) {
		char p[96], v[32];

		snprintf(p, sizeof(p), THP "hugepages-%ukB/stats/nr_anon", 4 << i);
		if (!read_file(p, v, sizeof(v)))
			kb += atol(v) * (4 << i);
	}
	return kb;
}

static void memcg_setup(void)
{
	char line[512], dev[128], dir[128], type[64];
	FILE *f = fopen("/proc/mounts", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %127s %63s", dev, dir, type) == 3 &&
		    !strcmp(type, "cgroup2"))
			snprintf(cg_root, sizeof(cg_root), "%s", dir);
	if (f)
		fclose(f);
	if (!cg_root[0]) {
		snprintf(cg_root, sizeof(cg_root), "/sys/fs/cgroup");
		mkdir(cg_root, 0755);
		if (mount("cgroup2", cg_root, "cgroup2", 0, NULL)) {
			cg_root[0] = 0;
			return;
		}
	}
	snprintf(line, sizeof(line), "%s/cgroup.subtree_control", cg_root);
	write_file(line, "+memory");
}

/* in the scenario process: move into a fresh cgroup */
static void memcg_enter(enum kind k)
{
	char p[256], pid[16];

	if (!cg_root[0])
		return;
	snprintf(cg_dir, sizeof(cg_dir), "%s/collapse-stress-%s", cg_root,
		 kind_name[k]);
	mkdir(cg_dir, 0755);
	snprintf(p, sizeof(p), "%s" SQUEEZE_CG, cg_dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/cgroup.procs", cg_dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_file(p, pid))
		cg_dir[0] = 0;
}

static const char * const leak_fields[] = {
	"ShmemHugePages", "FileHugePages", "AnonHugePages", "Shmem",
};

/* Print every task in D state, with its kernel stack. */
static void dump_task(const char *pid, const char *tid)
{
	char p[600], buf[4096], *l;

	snprintf(p, sizeof(p), "/proc/%s/task/%s/stat", pid, tid);
	if (read_file(p, buf, sizeof(buf)))
		return;
	buf[strcspn(buf, "\n")] = 0;
	printf("# task %.60s\n", buf);
	snprintf(p, sizeof(p), "/proc/%s/task/%s/stack", pid, tid);
	if (read_file(p, buf, sizeof(buf)))
		return;
	for (l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
		printf("#     %s\n", l);
}

/* Every thread of @pid and its children's, whatever their state. */
static void dump_process(int pid)
{
	char p[64], name[300];
	struct dirent *e;
	DIR *d;

	snprintf(p, sizeof(p), "/proc/%d/task", pid);
	d = opendir(p);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(name, sizeof(name), "%d", pid);
		dump_task(name, e->d_name);
	}
	if (d)
		closedir(d);
}

static void dump_blocked(void)
{
	DIR *d = opendir("/proc"), *td;
	struct dirent *e, *te;
	char p[600], buf[4096];

	while (d && (e = readdir(d))) {
		snprintf(p, sizeof(p), "/proc/%s/task", e->d_name);
		td = opendir(p);
		while (td && (te = readdir(td))) {
			char *state;

			snprintf(p, sizeof(p), "/proc/%s/task/%s/stat",
				 e->d_name, te->d_name);
			if (read_file(p, buf, sizeof(buf)))
				continue;
			state = strrchr(buf, ')');
			if (!state || state[2] != 'D')
				continue;
			printf("# D state: %s\n", buf);
			snprintf(p, sizeof(p), "/proc/%s/task/%s/stack",
				 e->d_name, te->d_name);
			if (!read_file(p, buf, sizeof(buf))) {
				char *l = strtok(buf, "\n");

				for (; l; l = strtok(NULL, "\n"))
					printf("#     %s\n", l);
			}
		}
		if (td)
			closedir(td);
	}
	if (d)
		closedir(d);
	write_file("/proc/sysrq-trigger", "w");
}

/* "errno":count pairs of one caller kind (0: madvise, 1: process_madvise) */
static void print_results(int who)
{
	int i, j;

	for (i = 0, j = 0; i < NR_ERRNO; i++)
		if (st->result[who][i])
			printf("%s\"%s\":%lu", j++ ? "," : "",
			       i == NR_ERRNO - 1 ? "other" : errnos[i] ?
			       strerror(errnos[i]) : "ok",
			       (unsigned long)st->result[who][i]);
}

/* Run one scenario under the watchdog; returns its violations + hangs. */
/* Copy a scenario's output to ours until it closes, or hangs. */
static atomic_bool copy_done;

static void *copy_output(void *arg)
{
	int fd = (long)arg;
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(1, buf, n) < 0)
			break;
	close(fd);
	atomic_store(&copy_done, true);
	return NULL;
}

static int run_scenario(enum kind k)
{
	unsigned long last[MAX_SLOTS] = { 0 };
	long long seen[MAX_SLOTS], start, end;
	long before[4], after[4], mthp_before, mthp_after;
	int i, j, status = 0, hung = 0, leaks = 0, nslots;
	long ooms = 0;
	bool exited = false;
	pthread_t copier;
	int out[2];
	pid_t pid;

	memset(st, 0, sizeof(*st));
	kind = k;
	write_file("/proc/sys/vm/drop_caches", "3");
	for (i = 0; i < 4; i++)
		before[i] = meminfo(leak_fields[i]);
	mthp_before = mthp_anon_kb();
	pthread_mutex_lock(&codes_lock);
	memset(codes, 0, MAX_CODES * sizeof(*codes));
	ncodes = 0;
	pthread_mutex_unlock(&codes_lock);

	fflush(stdout);
	snprintf(cg_dir, sizeof(cg_dir), "%s/collapse-stress-%s", cg_root,
		 kind_name[k]);
	if (!cg_root[0])
		cg_dir[0] = 0;
	/*
	 * The scenario writes to a pipe that a thread of ours copies to our
	 * stdout: a scenario that hangs keeps its end open, and it must not
	 * be the end of the guest's capture of our output, which would then
	 * wait for the hung tasks for good.
	 */
	if (pipe(out))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		close(out[0]);
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(out[1]);
		memcg_enter(k);
		_exit(scenario());
	}
	close(out[1]);
	atomic_store(&copy_done, false);
	pthread_create(&copier, NULL, copy_output, (void *)(long)out[0]);
	start = now_ms();
	for (i = 0; i < MAX_SLOTS; i++)
		seen[i] = start;
	/* the scenario's time, its teardown, and the final checks */
	while (!exited) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			exited = true;
			break;
		}
		sleep(1);
		nslots = atomic_load(&st->nslots);
		for (i = 0; i < nslots && i < MAX_SLOTS; i++) {
			unsigned long b = atomic_load(&st->slot[i].beat);

			if (b != last[i] || atomic_load(&st->finished) ||
			    atomic_load(&st->slot[i].exited)) {
				last[i] = b;
				seen[i] = now_ms();
			} else if (now_ms() - seen[i] > STALL_SECS * 1000) {
				printf("# HANG %s: thread %s (tid %d) made no progress for %d s\n",
				       kind_name[k], st->slot[i].name,
				       st->slot[i].tid, STALL_SECS);
				hung++;
			}
		}
		if (hung || now_ms() - start > (seconds + 600) * 1000LL) {
			if (!hung) {
				printf("# HANG %s: did not finish in %d s\n",
				       kind_name[k], seconds + 600);
				hung++;
			}
			dump_blocked();
			printf("# every thread of the scenario, and khugepaged:\n");
			dump_process(pid);
			dump_process(khugepaged_pid());
			write_file("/proc/sysrq-trigger", "l");
			kill(pid, SIGKILL);
			for (j = 0; j < 10 && !exited; j++) {
				sleep(1);
				exited = waitpid(pid, &status, WNOHANG) == pid;
			}
			break;
		}
	}
	end = now_ms();
	/* its output first (a hung scenario's copier is left behind) */
	for (j = 0; j < 50 && !atomic_load(&copy_done); j++)
		usleep(100000);
	if (atomic_load(&copy_done))
		pthread_join(copier, NULL);
	else
		pthread_detach(copier);
	mthp_restore();

	/* Nothing leaks: the counters come back once the memory is gone. */
	/*
	 * A scenario that hung keeps its file: unlink() would wait for the
	 * inode lock its stuck tasks hold.
	 */
	if (exited) {
		snprintf(path, sizeof(path), "/dev/shm/collapse-stress.%d", pid);
		unlink(path);
		snprintf(path, sizeof(path), EXT4_DIR "/collapse-stress.%d", pid);
		unlink(path);
		path[0] = 0;
		/*
		 * khugepaged, a deferred fput or io_uring's ring teardown
		 * (which unpins its fixed buffers from a workqueue) may still
		 * hold the memory for a while under KASAN and TCG: give the
		 * counters up to 30 s to come back.  A leak stays.
		 */
		for (j = 0; j < 60; j++) {
			bool back = mthp_anon_kb() <= mthp_before &&
				    memcg_current_kb("") <= 2048 &&
				    memcg_current_kb(SQUEEZE_CG) <= 2048;

			usleep(500000);
			write_file("/proc/sys/vm/drop_caches", "3");
			for (i = 0; i < 4; i++)
				back &= meminfo(leak_fields[i]) <=
					before[i] + (i == 3 ? 1024 : 0);
			if (back)
				break;
		}
		for (i = 0; i < 4; i++) {
			long slack = i == 3 ? 1024 : 0;

			after[i] = meminfo(leak_fields[i]);
			if (after[i] > before[i] + slack) {
				printf("# LEAK %s: %s %ld kB before, %ld kB after\n",
				       kind_name[k], leak_fields[i], before[i],
				       after[i]);
				leaks++;
			}
		}
		mthp_after = mthp_anon_kb();
		if (mthp_after > mthp_before) {
			printf("# LEAK %s: mTHP nr_anon %ld kB before, %ld kB after\n",
			       kind_name[k], mthp_before, mthp_after);
			leaks++;
		}
		for (i = 0; i < 2; i++) {
			const char *sub = i ? SQUEEZE_CG : "";
			long kb = memcg_current_kb(sub), n;

			if (kb > 2048) {
				printf("# LEAK %s: memory cgroup %s%s still has %ld kB charged\n",
				       kind_name[k], cg_dir, sub, kb);
				leaks++;
			}
			n = memcg_oom_kills(sub);
			if (n)
				printf("# OOM %s: %ld task(s) of memory cgroup %s%s OOM-killed\n",
				       kind_name[k], n, cg_dir, sub);
			ooms += n;
		}
		if (cg_dir[0]) {
			char p[256];

			snprintf(p, sizeof(p), "%s" SQUEEZE_CG, cg_dir);
			rmdir(p);
			rmdir(cg_dir);
		}
	}

	printf("STRESS {\"scenario\":\"%s\",\"seconds\":%lld,\"ops\":{",
	       kind_name[k], (end - start) / 1000);
	for (i = 0, j = 0; i < NR_OPS; i++)
		if (st->ops[i])
			printf("%s\"%s\":%lu", j++ ? "," : "", op_name[i],
			       (unsigned long)st->ops[i]);
	printf("},\"madvise\":{");
	print_results(0);
	printf("},\"process_madvise\":{");
	print_results(1);
	printf("},\"squeeze_madvise\":{");
	print_results(2);
	printf("},\"trace\":{");
	pthread_mutex_lock(&codes_lock);
	for (i = 0; i < ncodes; i++)
		printf("%s\"%s\":%lu", i ? "," : "", codes[i].name, codes[i].n);
	pthread_mutex_unlock(&codes_lock);
	printf("},\"violations\":%d,\"hangs\":%d,\"leaks\":%d,\"oom_kills\":%ld,\"exit\":%d}\n",
	       atomic_load(&st->nviol), hung, leaks, ooms,
	       exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	for (i = 0; i < atomic_load(&st->nviol) && i < MAX_VIOL; i++)
		printf("#   violation: %s\n", st->viol[i]);
	fflush(stdout);
	any_hang |= hung;
	return atomic_load(&st->nviol) + hung + leaks + (ooms > 0) +
	       !(exited && WIFEXITED(status) && !WEXITSTATUS(status));
}

/*
 * The end of the run (trace off, knobs back) must not wait for tasks a
 * hung scenario left stuck: after 60 s, show where it waits and exit.
 */
static atomic_bool end_done;
static int end_status;

static void *end_watchdog(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 600 && !atomic_load(&end_done); i++)
		usleep(100000);
	if (atomic_load(&end_done))
		return NULL;
	printf("# collapse-stress: the end of the run is stuck for 60 s:\n");
	dump_process(getpid());
	fflush(stdout);
	_exit(end_status);
}

int main(int argc, char **argv)
{
	bool want[NR_KINDS];
	int opt, bad = 0, k;
	char *w;
	pthread_t tt, tw;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (k = 0; k < NR_KINDS; k++)
		want[k] = true;
	while ((opt = getopt(argc, argv, "t:s:FSCDHM")) != -1) {
		switch (opt) {
		case 't':
			seconds = atoi(optarg);
			break;
		case 's':
			for (k = 0; k < NR_KINDS; k++)
				want[k] = false;
			for (w = strtok(optarg, ","); w; w = strtok(NULL, ","))
				for (k = 0; k < NR_KINDS; k++)
					want[k] |= !strcmp(w, kind_name[k]);
			break;
		case 'F':
			inject = false;
			break;
		case 'S':
			stock = true;
			break;
		case 'D':
			debug_trace = true;
			break;
		case 'H':
			hwpoison_ok = false;
			break;
		case 'M':
			squeeze = false;
			break;
		case 'C':
			/* the control run: every mutation, no collapse at all */
			no_collapse = true;
			knobs[0].value = "never";
			knobs[2].value = "never";
			break;
		default:
			fprintf(stderr, "usage: %s [-t seconds] [-s scenario,...] [-F] [-S] [-C] [-D] [-H] [-M]\n",
				argv[0]);
			return 2;
		}
	}
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED)
		return 1;
	if (inject && !fault_injection_setup()) {
		printf("# no failslab/fail_page_alloc in debugfs: no failure injection\n");
		inject = false;
	}
	codes = mmap(NULL, MAX_CODES * sizeof(*codes), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (codes == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	knobs_set();
	memcg_setup();
	if (!debug_trace)
		trace_enable(true);
	if (!debug_trace)
		pthread_create(&tt, NULL, trace_thread, NULL);
	printf("# collapse-stress: %d s per scenario, failure injection %s\n",
	       seconds, inject ? "on" : "off");
	for (k = 0; k < NR_KINDS; k++) {
		if (!want[k])
			continue;
		if (k == FILE_EXT4 && access(EXT4_DIR, W_OK)) {
			printf("# file: no writable %s, skipped\n", EXT4_DIR);
			continue;
		}
		bad += run_scenario(k);
	}
	printf("# collapse-stress: %d violation(s), hang(s) and leak(s)\n", bad);
	end_status = bad && !stock ? 1 : 0;
	pthread_create(&tw, NULL, end_watchdog, NULL);
	atomic_store(&trace_stop, true);
	if (!debug_trace)
		pthread_join(tt, NULL);
	trace_enable(false);
	/*
	 * Stuck tasks may hold what restoring the knobs waits for (stopping
	 * a khugepaged stuck in a collapse): leave them as they are.
	 */
	if (any_hang)
		printf("# collapse-stress: a scenario hung: sysfs knobs not restored\n");
	else
		knobs_restore();
	atomic_store(&end_done, true);
	return end_status;
}

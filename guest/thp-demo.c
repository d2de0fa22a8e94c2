// SPDX-License-Identifier: GPL-2.0
/*
 * thp-demo: MADV_COLLAPSE of anonymous memory, shmem (memfd) and of this
 * program's own text, with the smaps lines that show what is PMD-mapped.
 *
 *   thp-demo anon | shmem | text
 *
 * For "text" the program is linked so that its text segment is 2 MB aligned
 * in the file and in memory and spans several 2 MB ranges (a block of NOPs
 * pads it); run it from ext4 for READ_ONLY_THP_FOR_FS, or from tmpfs.
 * Exit status 0 only if every 2 MB range collapsed and the memory still
 * holds the same bytes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#define PMD_SIZE (2UL << 20)

/* 6 MB of executable padding: the text segment spans at least three PMDs. */
__asm__(".pushsection .text.pad, \"ax\"\n"
	".globl text_pad\n"
	"text_pad:\n"
	".fill 6 * 1024 * 1024, 1, 0x90\n"
	"ret\n"
	".popsection\n");
void text_pad(void);

/* Print the smaps lines of the mapping that contains addr; return its kB
 * mapped by PMDs: AnonHugePages, ShmemPmdMapped or FilePmdMapped, whichever
 * the mapping is (program text on tmpfs is shmem). */
static long smaps_show(void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	int in = 0;
	long kb = -1, v;

	if (!f) {
		perror("smaps");
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			if (in)
				printf("    %s", line);
			continue;
		}
		if (!in)
			continue;
		if (!strncmp(line, "Rss:", 4))
			printf("    %s", line);
		if (!strncmp(line, "AnonHugePages:", 14) ||
		    !strncmp(line, "ShmemPmdMapped:", 15) ||
		    !strncmp(line, "FilePmdMapped:", 14)) {
			printf("    %s", line);
			if (sscanf(strchr(line, ':') + 1, "%ld", &v) == 1)
				kb = (kb < 0 ? 0 : kb) + v;
		}
	}
	fclose(f);
	return kb;
}

/* The bounds of the mapping that contains addr, from /proc/self/maps. */
static int mapping_of(void *addr, char **start, char **end)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512];
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
			*start = (char *)lo;
			*end = (char *)hi;
			found = 1;
		}
	if (f)
		fclose(f);
	return found;
}

static uint64_t checksum(const unsigned char *p, size_t len)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < len; i += 64)
		sum = sum * 31 + p[i] + p[len - 1 - i];
	return sum;
}

/* Collapse every whole 2 MB range of [start, end); return how many failed. */
static int collapse(const char *what, char *start, char *end)
{
	char *lo = (char *)(((uintptr_t)start + PMD_SIZE - 1) & ~(PMD_SIZE - 1));
	char *hi = (char *)((uintptr_t)end & ~(PMD_SIZE - 1));
	uint64_t before = checksum((unsigned char *)lo, hi - lo);
	int ranges = 0, collapsed = 0, bad = 0;
	long kb;
	char *p;

	for (p = lo; p < hi; p += PMD_SIZE) {
		ranges++;
		if (madvise(p, PMD_SIZE, MADV_COLLAPSE))
			printf("%s: MADV_COLLAPSE %p: %s\n", what, p, strerror(errno));
		else
			collapsed++;
	}
	kb = smaps_show(lo);
	if (checksum((unsigned char *)lo, hi - lo) != before) {
		printf("%s: contents changed by the collapse\n", what);
		bad++;
	}
	if (kb < (long)(collapsed * (PMD_SIZE >> 10))) {
		printf("%s: %ld kB PMD-mapped, expected at least %lu kB\n", what, kb,
		       collapsed * (PMD_SIZE >> 10));
		bad++;
	}
	printf("%s: %d of %d 2 MB ranges collapsed, %ld kB PMD-mapped\n", what,
	       collapsed, ranges, kb);
	return bad + ranges - collapsed;
}

static char *map_aligned(size_t len, int fd)
{
	char *p = mmap(NULL, len + PMD_SIZE, PROT_READ | PROT_WRITE,
		       fd < 0 ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED, fd, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	/* For shmem the file offset must line up too: map from offset 0. */
	if (fd >= 0) {
		munmap(p, len + PMD_SIZE);
		p = (char *)(((uintptr_t)p + PMD_SIZE - 1) & ~(PMD_SIZE - 1));
		p = mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			exit(2);
		}
		return p;
	}
	return (char *)(((uintptr_t)p + PMD_SIZE - 1) & ~(PMD_SIZE - 1));
}

static void fill(char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (char)(i * 7 + i / 4096);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	size_t len = 2 * PMD_SIZE;
	char *p;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "anon")) {
		p = map_aligned(len, -1);
		fill(p, len);
		return !!collapse("anon", p, p + len);
	}
	if (!strcmp(mode, "shmem")) {
		int fd = memfd_create("thp-demo", 0);

		if (fd < 0 || ftruncate(fd, len)) {
			perror("memfd");
			return 2;
		}
		p = map_aligned(len, fd);
		fill(p, len);
		return !!collapse("shmem", p, p + len);
	}
	if (!strcmp(mode, "text")) {
		char exe[256] = "", *start, *end;
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		int failed;

		if (n > 0)
			exe[n] = 0;
		if (!mapping_of((void *)text_pad, &start, &end)) {
			printf("text: no mapping holds %p\n", (void *)text_pad);
			return 2;
		}
		printf("text of %s: %p-%p\n", exe, start, end);
		failed = collapse("text", start, end);
		/* Run all of the collapsed text: it must still be the program. */
		text_pad();
		printf("text: executed the collapsed text, still running\n");
		return !!failed;
	}
	fprintf(stderr, "usage: %s anon|shmem|text\n", argv[0]);
	return 2;
}

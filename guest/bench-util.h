/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the guest benchmarks (collapse-bench, mthp-bench). */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Write @s to the sysfs file @path; -1 (and a message) on failure. */
static inline int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0 || write(fd, s, strlen(s)) < 0) {
		fprintf(stderr, "cannot write %s to %s: %s\n", s, path,
			strerror(errno));
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * The row @label ("TLB:", "RCU:") of /proc/interrupts or /proc/softirqs
 * (@file), summed over all CPUs; -1 if the row is missing.
 */
static inline long irq_row(const char *file, const char *label)
{
	char line[1024], *p, *end;
	long sum = -1, v;
	FILE *f = fopen(file, "r");

	while (f && fgets(line, sizeof(line), f)) {
		p = line + strspn(line, " ");
		if (strncmp(p, label, strlen(label)))
			continue;
		sum = 0;
		for (p += strlen(label); (v = strtol(p, &end, 10)), end != p;
		     p = end)
			sum += v;
	}
	if (f)
		fclose(f);
	return sum;
}

/* khugepaged's utime + stime in clock ticks, -1 if it is not running. */
/* khugepaged's pid, -1 if there is none */
static inline int khugepaged_pid(void)
{
	char path[64], comm[32];
	int pid;

	for (pid = 1; pid < 1000; pid++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f) || strcmp(comm, "khugepaged\n")) {
			fclose(f);
			continue;
		}
		fclose(f);
		return pid;
	}
	return -1;
}

static inline long khugepaged_cpu_ticks(void)
{
	char path[64], buf[1024];
	unsigned long ut, st;
	int pid = khugepaged_pid();

	if (pid > 0) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "r");
		if (!f)
			return -1;
		if (!fgets(buf, sizeof(buf), f)) {
			fclose(f);
			return -1;
		}
		fclose(f);
		/* utime and stime are fields 14 and 15, after "(khugepaged)" */
		if (sscanf(strrchr(buf, ')') + 2,
			   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			   &ut, &st) != 2)
			return -1;
		return ut + st;
	}
	return -1;
}

#endif

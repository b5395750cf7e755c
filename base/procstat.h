/* procstat.h - what a process costs now, from one read of /proc/PID/stat:
 * its CPU time (every thread's, user + system), its resident memory, and its
 * start time, which tells this process from a later one given the same pid.
 */
#ifndef N3X_PROCSTAT_H
#define N3X_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

struct procstat {
	uint64_t cpu_ns;      /* utime + stime (fields 14, 15), in ns */
	uint64_t rss_bytes;   /* rss (field 24) x the page size */
	uint64_t start_time;  /* starttime (field 22), clock ticks after boot */
	char state;           /* field 3: R, S, D, Z, T... */
};

/* Fill *out from /proc/PID/stat.  0; -ESRCH when there is no such process;
 * -EINVAL when the file does not parse; -errno.  The fields come from one
 * read, so they belong to one process: compare start_time with the one
 * recorded when the process started before trusting the pid. */
int procstat_read(pid_t pid, struct procstat *out);

/* Parse the text of a /proc/PID/stat (NUL-terminated) into *out with
 * tick_hz clock ticks a second and page_size bytes a page; 0 or -EINVAL. */
int procstat_parse(const char *text, long tick_hz, long page_size, struct procstat *out);

#endif

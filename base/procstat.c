/* procstat.c - /proc/PID/stat, the fields top needs (procstat.h). */
#include "base/procstat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int procstat_parse(const char *text, long tick_hz, long page_size, struct procstat *out)
{
	unsigned long long v[25] = { 0 };
	const char *p = strrchr(text, ')');
	char state;
	int field = 3;

	/* The command name (field 2) may hold spaces and parentheses: the
	 * fields are counted from the last ')'. */
	if (!p || tick_hz <= 0 || page_size <= 0 || sscanf(p + 1, " %c", &state) != 1)
		return -EINVAL;
	p = strchr(p + 2, ' ');
	while (p && field < 24) {
		char *end;

		field++;
		v[field] = strtoull(p + 1, &end, 10);
		if (end == p + 1)
			return -EINVAL;
		p = *end == ' ' ? end : NULL;
	}
	if (field < 24)
		return -EINVAL;
	*out = (struct procstat){
		/* ticks to ns without overflow for any realistic count */
		.cpu_ns = (v[14] + v[15]) / (unsigned long long)tick_hz * 1000000000ULL +
			  (v[14] + v[15]) % (unsigned long long)tick_hz * 1000000000ULL / (unsigned long long)tick_hz,
		.rss_bytes = v[24] * (unsigned long long)page_size,
		.start_time = v[22],
		.state = state,
	};
	return 0;
}

int procstat_read(pid_t pid, struct procstat *out)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	/* One read: the kernel formats the whole line at once, so its fields
	 * are of one moment. */
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;

		close(fd);
		return e == ESRCH ? -ESRCH : -e;
	}
	close(fd);
	buf[n] = '\0';
	if (n == 0)
		return -ESRCH; /* gone between the open and the read */
	return procstat_parse(buf, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), out);
}

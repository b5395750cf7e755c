/* proc.c - /proc/PID readers. */
#include "base/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read a /proc/PID file whole, NUL-terminated; its length or -errno.  A
 * process gone between the open and the read is -ESRCH too. */
static ssize_t read_proc(pid_t pid, const char *what, char *buf, size_t size)
{
	char path[64];
	size_t len = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

int proc_start_time(pid_t pid, uint64_t *out)
{
	char buf[1024], *p;
	ssize_t n = read_proc(pid, "stat", buf, sizeof(buf));
	unsigned long long start;

	if (n < 0)
		return (int)n;
	/* The command name may hold spaces and parentheses: count fields
	 * from the last ')'.  starttime is field 22; state is field 3. */
	if (!(p = strrchr(buf, ')')))
		return -EINVAL;
	p++;
	for (int field = 2; field < 21; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EINVAL;
	}
	if (sscanf(p, " %llu", &start) != 1)
		return -EINVAL;
	*out = start;
	return 0;
}

int proc_cmdline(pid_t pid, struct strv *argv)
{
	enum { MAX = 256 * 1024 }; /* past ARG_MAX's usual 128 KiB */
	char *buf = malloc(MAX);
	ssize_t n;
	int count = 0, r = 0;

	if (!buf)
		return -ENOMEM;
	if ((n = read_proc(pid, "cmdline", buf, MAX)) < 0) {
		free(buf);
		return (int)n;
	}
	/* Each argument ends in a NUL; read_proc ended the last one if the
	 * process rewrote its arguments without. */
	for (ssize_t i = 0; i < n && r == 0; i += (ssize_t)strlen(buf + i) + 1, count++)
		r = strv_add(argv, buf + i);
	free(buf);
	return r < 0 ? r : count;
}

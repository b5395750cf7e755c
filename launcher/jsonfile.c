/* jsonfile.c - see jsonfile.h. */
#include "launcher/jsonfile.h"
#include "base/paths.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int jsonfile_write(const char *path, const json_t *j, size_t flags, bool sync)
{
	char tmp[PATHS_MAX + 8];
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return -errno;
	errno = 0;
	if (json_dumpfd(j, fd, flags) < 0 || write(fd, "\n", 1) != 1 || (sync && fsync(fd) < 0))
		r = errno ? -errno : -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

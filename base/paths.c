/* paths.c - runtime and state directories. */
#include "base/paths.h"
#include "base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *env_dir(const char *var)
{
	const char *v = getenv(var);

	return v && v[0] == '/' ? v : NULL;
}

int paths_join(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

void paths_run_base(char *buf, size_t size)
{
	const char *x = env_dir("XDG_RUNTIME_DIR");

	if (paths_join(buf, size, "%s/n3x", x ? x : "/run") < 0)
		paths_join(buf, size, "/run/n3x");
}

int paths_run_dir(const char *fabric, char *buf, size_t size)
{
	char base[PATHS_MAX];

	paths_run_base(base, sizeof(base));
	return paths_join(buf, size, "%s/%s", base, fabric);
}

int paths_state_dir(const char *fabric, char *buf, size_t size)
{
	const char *x = env_dir("XDG_STATE_HOME");

	if (x)
		return paths_join(buf, size, "%s/n3x/%s", x, fabric);
	return paths_join(buf, size, "/var/lib/n3x/%s", fabric);
}

int paths_mkdir_p(const char *path, unsigned mode)
{
	char tmp[PATHS_MAX];

	if (paths_join(tmp, sizeof(tmp), "%s", path) < 0)
		return -ENAMETOOLONG;
	for (char *p = tmp + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

/* One component's verdict: NULL when trusted, else why not.  last: the
 * directory we are to own (no sticky exception, no other owner). */
static const char *untrusted(const struct stat *st, bool last, char *why, size_t size)
{
	uid_t me = geteuid();

	if (S_ISLNK(st->st_mode))
		return "is a symbolic link";
	if (!S_ISDIR(st->st_mode))
		return "is not a directory";
	if (st->st_uid != 0 && st->st_uid != me) {
		snprintf(why, size, "is owned by uid %u, not %s", (unsigned)st->st_uid,
			 me ? "root or us" : "root");
		return why;
	}
	if (last && st->st_uid != me) {
		snprintf(why, size, "is owned by uid %u, not uid %u", (unsigned)st->st_uid, (unsigned)me);
		return why;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && (last || !(st->st_mode & S_ISVTX) || st->st_uid != 0)) {
		snprintf(why, size, "is writable by %s (mode %04o)",
			 st->st_mode & S_IWOTH ? "others" : "its group", (unsigned)(st->st_mode & 07777));
		return why;
	}
	return NULL;
}

/* Walk path from /, one O_PATH|O_NOFOLLOW component at a time, so what we
 * check is what we end up holding (no check-then-use race on the names).
 * create: mkdir what is missing (0700); else stop quietly at the first
 * missing component (fd -ENOENT, nothing wrong).  Returns the fd of the
 * last component, -ENOENT when missing and !create, or -errno with why
 * (the prefix of path that failed goes in bad). */
static int walk(const char *path, bool create, char *bad, size_t badsize, char *why, size_t whysize,
		const char **reason)
{
	char tmp[PATHS_MAX];
	int fd, r;

	*reason = NULL;
	snprintf(bad, badsize, "%s", path);
	if (path[0] != '/' || paths_join(tmp, sizeof(tmp), "%s", path) < 0)
		return path[0] != '/' ? -EINVAL : -ENAMETOOLONG;
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (char *p = tmp + 1, *end; *p; p = end) {
		struct stat st;
		bool last;
		int next;

		end = strchrnul(p, '/');
		if (*end)
			*end++ = '\0';
		while (*end == '/')
			end++;
		last = *end == '\0';
		if (!*p || strcmp(p, ".") == 0)
			continue;
		snprintf(bad, badsize, "%.*s", (int)(p - tmp + strlen(p)), path);
		if (strcmp(p, "..") == 0) {
			*reason = "contains \"..\"";
			r = -EPERM;
			goto fail;
		}
		next = openat(fd, p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, p, 0700) < 0 && errno != EEXIST) {
				r = -errno;
				goto fail;
			}
			next = openat(fd, p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			r = -errno;
			goto fail;
		}
		close(fd);
		fd = next;
		if (fstat(fd, &st) < 0) {
			r = -errno;
			goto fail;
		}
		if ((*reason = untrusted(&st, last && create, why, whysize))) {
			r = -EPERM;
			goto fail;
		}
	}
	return fd;
fail:
	close(fd);
	return r;
}

static int check_var(const char *var, struct err *e)
{
	const char *v = env_dir(var), *reason;
	char bad[PATHS_MAX], why[96];
	int fd;

	if (!v)
		return 0;
	fd = walk(v, false, bad, sizeof(bad), why, sizeof(why), &reason);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (!reason)
		return fd == -ENOENT ? 0 : err_sys(e, -fd, "%s=%s: cannot check %s", var, v, bad);
	return err_set(e, EPERM,
		       "%s=%s: %s %s; %s uses only directories no other user can change (unset %s%s)",
		       var, v, bad, reason, geteuid() ? "n3x" : "as root, n3x", var,
		       geteuid() ? "" : ", or use sudo without -E");
}

int paths_check_env(struct err *e)
{
	int r = check_var("XDG_RUNTIME_DIR", e);

	return r < 0 ? r : check_var("XDG_STATE_HOME", e);
}

int paths_open_dir(const char *path, struct err *e)
{
	char bad[PATHS_MAX], why[96];
	const char *reason;
	struct stat st;
	int fd = walk(path, true, bad, sizeof(bad), why, sizeof(why), &reason);

	if (fd < 0) {
		if (reason)
			return err_set(e, EPERM, "%s: %s %s; refusing to use it", path, bad, reason);
		return err_sys(e, -fd, "cannot create %s", bad);
	}
	/* Ours (checked above): whatever loosened it, nobody else gets in.
	 * Through the fd we checked, not the name (an O_PATH fd takes no
	 * fchmod; its /proc link does). */
	char self[40];

	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (fstat(fd, &st) < 0 || ((st.st_mode & 077) && chmod(self, 0700) < 0)) {
		int r = -errno;

		close(fd);
		return err_sys(e, -r, "%s: cannot make it mode 0700", path);
	}
	return fd;
}

int paths_openat(int dirfd, const char *name, int flags, unsigned mode)
{
	int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);

	return fd < 0 ? -errno : fd;
}

/* qemuuser.c - the system user QEMU runs as: looked up once, tested for
 * the files QEMU opens itself, applied to each QEMU child. */
#include "launcher/qemuuser.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct qemu_user current;

int qemu_user_lookup(struct qemu_user *u, struct err *e)
{
	struct passwd *pw;
	int n = QEMU_USER_MAX_GROUPS;

	memset(u, 0, sizeof(*u));
	if (geteuid() != 0)
		return 0;
	errno = 0;
	if (!(pw = getpwnam(QEMU_USER))) {
		/* glibc says "not found" with 0, ENOENT, ESRCH, EBADF or EPERM. */
		if (errno && errno != ENOENT && errno != ESRCH && errno != EBADF && errno != EPERM)
			return err_sys(e, errno, "cannot look up the user " QEMU_USER);
		return err_set(e, ENOENT, "QEMU runs as the system user " QEMU_USER ", which does not exist: "
			       "run `make deps` (scripts/deps.sh) as root to create it");
	}
	if (pw->pw_uid == 0)
		return err_set(e, EPERM, "the user " QEMU_USER " is root (uid 0): QEMU must not run as root");
	if (getgrouplist(pw->pw_name, pw->pw_gid, u->groups, &n) < 0)
		return err_set(e, E2BIG, "the user " QEMU_USER " is in more than %d groups", QEMU_USER_MAX_GROUPS);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	u->ngroups = n;
	return 0;
}

/* In the child: become u, then one errno per path into w.  Only
 * async-signal-safe calls between fork and _exit. */
static void access_child(const struct qemu_user *u, const char *const *paths, const int *modes, int n, int w)
{
	int e = 0;

	if (setgroups(u->ngroups, u->groups) < 0 || setresgid(u->gid, u->gid, u->gid) < 0 ||
	    setresuid(u->uid, u->uid, u->uid) < 0)
		_exit(125);
	for (int i = 0; i < n; i++) {
		e = access(paths[i], modes[i]) < 0 ? errno : 0;
		if (write(w, &e, sizeof(e)) != sizeof(e))
			_exit(126);
	}
	_exit(0);
}

int qemu_user_access(const struct qemu_user *u, const char *const *paths, const int *modes, int n, int *errs)
{
	int p[2], st, r = 0, got = 0;
	pid_t pid;

	if (!u->uid) {
		for (int i = 0; i < n; i++)
			errs[i] = access(paths[i], modes[i]) < 0 ? errno : 0;
		return 0;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if ((pid = fork()) < 0) {
		r = -errno;
		close(p[0]);
		close(p[1]);
		return r;
	}
	if (pid == 0) {
		close(p[0]);
		access_child(u, paths, modes, n, p[1]);
	}
	close(p[1]);
	/* Read while the child writes: n answers may not fit in the pipe. */
	while (got < n) {
		ssize_t k = read(p[0], (char *)errs + got * sizeof(int), (size_t)(n - got) * sizeof(int));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (int)(k / sizeof(int)); /* the pipe moves whole ints: each write is atomic */
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (got < n || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -EPERM; /* the child could not take the user's credentials */
	return 0;
}

void qemu_user_set(const struct qemu_user *u)
{
	current = *u;
}

void qemu_user_apply(struct child *c)
{
	c->uid = current.uid;
	c->gid = current.gid;
	c->groups = current.groups;
	c->ngroups = current.ngroups;
}

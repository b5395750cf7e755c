/* netns.c - named network namespaces under /run/netns, as iproute2 keeps them. */
#include "net/netns.h"
#include "net/link.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* thread-self, not self: unshare and setns move one thread, and /proc/self
 * is the thread-group leader, which may be somewhere else. */
#define THREAD_NETNS "/proc/thread-self/ns/net"

int netns_name(const char *fabric, char *buf, size_t size)
{
	int n = snprintf(buf, size, "n3x-%s", fabric);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* NAME becomes one file in /run/netns: no '/', no "." or "..". */
static int ns_path(const char *name, char *buf, size_t size)
{
	int n;

	if (!name || !name[0] || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, "..") || strlen(name) > NAME_MAX)
		return -EINVAL;
	n = snprintf(buf, size, "%s/%s", NETNS_RUN_DIR, name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Make /run/netns a shared mount point, as `ip netns add` does, so a bind
 * mount made or removed here propagates into mount namespaces that were
 * copied from ours (and theirs into ours): a namespace unmounted in one place
 * is then unmounted everywhere and can be freed.  If it is not a mount point
 * yet, bind it onto itself first.  The flock serialises us against a
 * concurrent `ip netns add`, which takes the same lock: two racing binds
 * stack mounts without end. */
static int run_dir_ready(void)
{
	bool made = false;
	int lock, err = 0;

	if (mkdir(NETNS_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	lock = open(NETNS_RUN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* Like iproute2, go on without the lock if it cannot be had. */
	if (lock >= 0 && flock(lock, LOCK_EX) < 0) {
		close(lock);
		lock = -1;
	}
	while (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0) {
		/* EINVAL: not a mount point. */
		if (errno != EINVAL || made) {
			err = -errno;
			break;
		}
		if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0) {
			err = -errno;
			break;
		}
		made = true;
	}
	if (lock >= 0)
		close(lock); /* drops the flock */
	return err;
}

/* In the fresh namespace: loopback up, so services bound to 127.0.0.1 and
 * `ip netns exec ... ping 127.0.0.1` work there (iproute2 leaves it down). */
static int ns_init(void)
{
	return link_set_up("lo");
}

int netns_create(const char *name)
{
	char path[PATH_MAX];
	int fd, saved, err;

	if ((err = ns_path(name, path, sizeof(path))))
		return err;
	if ((err = run_dir_ready()))
		return err;
	/* O_EXCL: the file is our claim on the name. */
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	saved = open(THREAD_NETNS, O_RDONLY | O_CLOEXEC);
	if (saved < 0) {
		err = -errno;
		unlink(path);
		return err;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		err = -errno;
		close(saved);
		unlink(path);
		return err;
	}
	/* The bind mount is what keeps the namespace alive after we leave it. */
	if (mount(THREAD_NETNS, path, "none", MS_BIND, NULL) < 0)
		err = -errno;
	else
		err = ns_init();
	if (setns(saved, CLONE_NEWNET) < 0) {
		/* Cannot happen short of a kernel bug: the fd is our own. */
		int e = -errno;

		close(saved);
		return e;
	}
	close(saved);
	if (err) {
		umount2(path, MNT_DETACH);
		unlink(path);
	}
	return err;
}

int netns_open(const char *name)
{
	char path[PATH_MAX];
	struct statfs sfs;
	int fd, err;

	if ((err = ns_path(name, path, sizeof(path))))
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Without the bind mount this is the empty placeholder file. */
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != NSFS_MAGIC) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

int netns_delete(const char *name)
{
	char path[PATH_MAX];
	int err;

	if ((err = ns_path(name, path, sizeof(path))))
		return err;
	/* MNT_DETACH: a process with its cwd or an fd under the mount must
	 * not make the delete fail.  EINVAL is a file nothing is mounted on:
	 * the leftover of a killed create, removed all the same. */
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return -errno;
	return unlink(path) < 0 ? -errno : 0;
}

int netns_enter(int nsfd, int *saved_fd)
{
	int saved;

	*saved_fd = -1;
	if (nsfd < 0)
		return 0;
	saved = open(THREAD_NETNS, O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return -errno;
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		int err = -errno;

		close(saved);
		return err;
	}
	*saved_fd = saved;
	return 0;
}

int netns_leave(int saved_fd)
{
	int err = 0;

	if (saved_fd < 0)
		return 0;
	if (setns(saved_fd, CLONE_NEWNET) < 0)
		err = -errno;
	close(saved_fd);
	return err;
}

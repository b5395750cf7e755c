/* sock.c - unix stream sockets. */
#include "base/sock.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int sockaddr_at(struct sockaddr_un *sa, const char *path)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int unix_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, r;

	if ((r = sockaddr_at(&sa, path)) < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	r = -errno;
	close(fd);
	return r;
}

/* 0 when something listens on sa, else -errno from connect().  Non-blocking,
 * so a listener that never accepts cannot hold us up. */
static int probe(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int r;

	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;
	close(fd);
	/* A full backlog (EAGAIN) is a live listener too. */
	return r == -EAGAIN || r == -EINPROGRESS ? 0 : r;
}

static int remove_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int r;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	r = probe(sa);
	if (r == 0)
		return -EADDRINUSE;
	if (r == -ENOENT)
		return 0;
	if (r != -ECONNREFUSED)
		return r;
	return unlink(sa->sun_path) < 0 && errno != ENOENT ? -errno : 0;
}

int unix_listen(const char *path, int backlog)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, r;

	if ((r = sockaddr_at(&sa, path)) < 0 || (r = remove_stale(&sa)) < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Born 0600 rather than chmod()ed after bind: fchmod() on a socket does
	 * not reach the file, and chmod() afterwards leaves a window. */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	/* bind() fails with EADDRINUSE when another process won the race
	 * since remove_stale(): that socket is theirs, leave it. */
	if (r == 0 && listen(fd, backlog) < 0) {
		r = -errno;
		unlink(path);
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

bool unix_peer_allowed(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		*uid = (uid_t)-1;
		return false;
	}
	*uid = cred.uid;
	return cred.uid == 0 || cred.uid == geteuid();
}

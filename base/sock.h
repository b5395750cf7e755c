/* sock.h - unix stream sockets: connect, listen with the stale check, peer
 * credentials. */
#ifndef N3X_SOCK_H
#define N3X_SOCK_H

#include <stdbool.h>
#include <sys/types.h>

/* Connect a SOCK_STREAM|SOCK_CLOEXEC unix socket to path: the fd, or -errno
 * (-ENAMETOOLONG when path does not fit sun_path). */
int unix_connect(const char *path);

/* Listen on path with a non-blocking, close-on-exec socket born 0600.  A
 * socket file already there is removed only after a connect() to it is
 * refused: a live listener (even one with a full backlog) is someone else's.
 * Returns the fd, or -EADDRINUSE when something answers on path, -EEXIST
 * when path is not a socket, -ENAMETOOLONG, or -errno.  Changes the process
 * umask for the bind: callers are single-threaded. */
int unix_listen(const char *path, int backlog);

/* Whether the peer of a connected unix socket is root or our own uid.  On
 * false, *uid is the peer's uid, or (uid_t)-1 when SO_PEERCRED failed (errno
 * set). */
bool unix_peer_allowed(int fd, uid_t *uid);

#endif

/* buf.h - a growable byte queue for non-blocking stream I/O (QMP, OVSDB).
 *
 * Bytes p[off, off + len) are live; cap is the allocation.  Consuming from
 * the front only moves off; the space is reclaimed when more is reserved.
 */
#ifndef N3X_BUF_H
#define N3X_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct buf {
	char *p;
	size_t off, len, cap;
};

/* Room for `more` bytes after the live ones; 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t more);
int buf_append(struct buf *b, const char *s, size_t n);   /* 0 or -ENOMEM */
void buf_consume(struct buf *b, size_t n);                 /* drop n live bytes from the front */
void buf_free(struct buf *b);

/* One read(2) from the non-blocking fd into b, after reserving room for at
 * least `chunk` bytes (the read takes all the free room).  EINTR is retried.
 * Returns the bytes read (> 0), 0 at EOF, -EAGAIN when nothing is there,
 * -ENOMEM or another -errno; b is unchanged unless bytes came. */
ssize_t buf_read_fd(struct buf *b, int fd, size_t chunk);

/* Write b's live bytes to the non-blocking fd, consuming what went out,
 * until b is empty or the fd would block.  Sockets are written with
 * send(MSG_NOSIGNAL), so a vanished peer is -EPIPE and not SIGPIPE; when
 * send() says ENOTSOCK (a pipe, in tests), *not_socket is set and this and
 * later calls use write().  EINTR is retried.  0 (check b->len to tell
 * done from would-block) or -errno. */
int buf_write_fd(struct buf *b, int fd, bool *not_socket);

#endif

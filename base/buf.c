/* buf.c - growable byte queue. */
#include "base/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int buf_reserve(struct buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->off + b->len + more <= b->cap)
		return 0;
	if (b->off) {
		memmove(b->p, b->p + b->off, b->len);
		b->off = 0;
		if (b->len + more <= b->cap)
			return 0;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const char *s, size_t n)
{
	int r = n ? buf_reserve(b, n) : 0;

	if (r < 0 || !n)
		return r;
	memcpy(b->p + b->off + b->len, s, n);
	b->len += n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	b->len -= n;
	b->off = b->len ? b->off + n : 0;
}

void buf_free(struct buf *b)
{
	free(b->p);
	*b = (struct buf){ 0 };
}

ssize_t buf_read_fd(struct buf *b, int fd, size_t chunk)
{
	ssize_t n;

	if (buf_reserve(b, chunk) < 0)
		return -ENOMEM;
	do
		n = read(fd, b->p + b->off + b->len, b->cap - b->off - b->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	b->len += (size_t)n;
	return n;
}

int buf_write_fd(struct buf *b, int fd, bool *not_socket)
{
	while (b->len) {
		const char *p = b->p + b->off;
		ssize_t n;

		if (*not_socket)
			n = write(fd, p, b->len);
		else
			n = send(fd, p, b->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOTSOCK && !*not_socket) {
				*not_socket = true;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		buf_consume(b, (size_t)n);
	}
	return 0;
}

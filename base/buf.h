/* buf.h - a growable byte queue for non-blocking stream I/O (QMP, OVSDB).
 *
 * Bytes p[off, off + len) are live; cap is the allocation.  Consuming from
 * the front only moves off; the space is reclaimed when more is reserved.
 */
#ifndef N3X_BUF_H
#define N3X_BUF_H

#include <stddef.h>

struct buf {
	char *p;
	size_t off, len, cap;
};

/* Room for `more` bytes after the live ones; 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t more);
int buf_append(struct buf *b, const char *s, size_t n);   /* 0 or -ENOMEM */
void buf_consume(struct buf *b, size_t n);                 /* drop n live bytes from the front */
void buf_free(struct buf *b);

#endif

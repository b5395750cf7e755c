/* jsonrpc.c - JSON messages over a non-blocking stream socket.
 *
 * Input is framed by a small scanner that counts brackets outside strings;
 * its state survives between reads, so a message split over many reads is
 * scanned once.  Each complete message is then parsed on its own.
 */
#include "net/jsonrpc.h"

#include "base/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 65536u

struct jsonrpc {
	int fd;
	struct buf in, out;
	/* The framing scanner's state over in[0, scanned). */
	size_t scanned;
	int depth;
	bool in_str, esc;
};

struct jsonrpc *jsonrpc_new(int fd)
{
	struct jsonrpc *j;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return NULL;
	j = calloc(1, sizeof(*j));
	if (j)
		j->fd = fd;
	return j;
}

int jsonrpc_fd(const struct jsonrpc *j)
{
	return j->fd;
}

bool jsonrpc_want_write(const struct jsonrpc *j)
{
	return j->out.len > 0;
}

int jsonrpc_flush(struct jsonrpc *j)
{
	while (j->out.len) {
		ssize_t n = send(j->fd, j->out.p + j->out.off, j->out.len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return errno == EPIPE || errno == ECONNRESET ? -EPIPE : -errno;
		}
		buf_consume(&j->out, (size_t)n);
	}
	return 0;
}

int jsonrpc_send(struct jsonrpc *j, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	size_t n = s ? strlen(s) : 0;
	int r = s ? buf_reserve(&j->out, n) : -EINVAL;

	json_decref(msg);
	if (!r) {
		memcpy(j->out.p + j->out.off + j->out.len, s, n);
		j->out.len += n;
		r = jsonrpc_flush(j);
	}
	free(s);
	return r;
}

/* The length of the message that starts the input, once its closing bracket
 * is in; 0 while it is incomplete; -EPROTO when something other than an
 * object or array stands at the top level.  Whitespace before a message is
 * part of it (the parser skips it). */
static ssize_t frame(struct jsonrpc *j)
{
	const char *p;

	if (!j->in.len)
		return 0; /* in.p may be NULL: no arithmetic on it */
	p = j->in.p + j->in.off;

	for (size_t i = j->scanned; i < j->in.len; i++) {
		char ch = p[i];

		if (j->in_str) {
			if (j->esc)
				j->esc = false;
			else if (ch == '\\')
				j->esc = true;
			else if (ch == '"')
				j->in_str = false;
			continue;
		}
		switch (ch) {
		case '{': case '[':
			j->depth++;
			break;
		case '}': case ']':
			if (j->depth == 0)
				return -EPROTO;
			if (--j->depth == 0) {
				j->scanned = 0;
				return (ssize_t)i + 1;
			}
			break;
		case ' ': case '\t': case '\r': case '\n':
			break;
		default:
			if (j->depth == 0)
				return -EPROTO;
			if (ch == '"')
				j->in_str = true;
		}
	}
	j->scanned = j->in.len;
	return 0;
}

int jsonrpc_recv(struct jsonrpc *j, json_t **msg)
{
	*msg = NULL;
	for (;;) {
		ssize_t n = frame(j);
		json_error_t jerr;
		int r;

		if (n < 0)
			return (int)n;
		if (n > 0) {
			*msg = json_loadb(j->in.p + j->in.off, (size_t)n, 0, &jerr);
			buf_consume(&j->in, (size_t)n);
			return *msg ? 1 : -EPROTO;
		}
		if (j->in.len > JSONRPC_MAX_MSG)
			return -EMSGSIZE;
		if ((r = buf_reserve(&j->in, READ_CHUNK)) < 0)
			return r;
		n = read(j->fd, j->in.p + j->in.off + j->in.len, j->in.cap - j->in.off - j->in.len);
		if (n > 0)
			j->in.len += (size_t)n;
		else if (n == 0)
			return -EPIPE;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		else if (errno != EINTR)
			return errno == ECONNRESET ? -EPIPE : -errno;
	}
}

void jsonrpc_free(struct jsonrpc *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	buf_free(&j->in);
	buf_free(&j->out);
	free(j);
}

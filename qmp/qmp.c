/* qmp.c - a non-blocking QMP client for one QEMU monitor.
 *
 * QEMU writes one JSON object per line (ended by "\r\n"), so input is split
 * on '\n' and each line parsed on its own; a line may arrive in pieces and
 * one read may hold several.  Output is queued in a buffer and written as far
 * as the socket takes it; the owner polls for writability while
 * qmp_want_write() is true.
 *
 * Callbacks run only from qmp_io() and qmp_free().  A callback may queue
 * commands or call qmp_free(); the latter is deferred until qmp_io() unwinds,
 * because qmp_io() still holds q on its stack.
 */
#include "qmp/qmp.h"

#include "base/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* query-qmp-schema, the largest reply QEMU sends, is a few hundred KiB; a
 * line longer than this means the peer is not speaking QMP. */
#define QMP_MAX_LINE (16u << 20)
#define QMP_READ_CHUNK 65536u

/* Bytes p[off, off + len) are live; cap is the allocation. */
enum cmd_kind {
	CMD_EXECUTE,    /* qmp_execute: the reply keeps our id */
	CMD_RAW,        /* qmp_send_raw: the reply gets the user's id back */
	CMD_CAPS,       /* our own qmp_capabilities */
};

struct qmp_cmd {
	struct qmp_cmd *next;
	json_int_t id;
	qmp_reply_fn cb;
	void *opaque;
	enum cmd_kind kind;
	json_t *user_id;        /* CMD_RAW: the user's "id", or NULL */
};

struct qmp {
	int fd;
	struct qmp_callbacks cb;
	struct buf in;
	size_t scanned;         /* bytes of in already searched for '\n' */
	struct buf out;         /* goes to the socket */
	struct buf held;        /* commands queued before capabilities were accepted */
	struct qmp_cmd *head, *tail;
	json_int_t next_id;
	int err;                /* set once the connection is finished */
	int depth;              /* > 0 while qmp_io() is on the stack */
	unsigned long unmatched; /* replies no command waited for, dropped */
	bool greeted;
	bool ready;
	bool closing;           /* qmp_free() was called */
	bool not_socket;        /* for buf_write_fd: the fd is a pipe (tests) */
};

static void cmd_free(struct qmp_cmd *c)
{
	json_decref(c->user_id);
	free(c);
}

/* Detach the pending list first: a callback may queue (and be refused) or
 * free the client while we walk it. */
static void cancel_pending(struct qmp *q, int err)
{
	struct qmp_cmd *c = q->head, *next;

	q->head = q->tail = NULL;
	for (; c; c = next) {
		next = c->next;
		if (c->cb)
			c->cb(c->opaque, NULL, err);
		cmd_free(c);
	}
}

static void fail(struct qmp *q, int err)
{
	if (q->err)
		return;
	q->err = err;
	buf_free(&q->out);
	buf_free(&q->held);
	cancel_pending(q, err);
}

static void destroy(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	buf_free(&q->in);
	buf_free(&q->out);
	buf_free(&q->held);
	free(q);
}

/* Write what the socket takes.  0 when done or it would block. */
static int flush(struct qmp *q)
{
	int r = buf_write_fd(&q->out, q->fd, &q->not_socket);

	return r == -ECONNRESET ? -EPIPE : r;
}

/* Serialise obj (owned) with a fresh id and put it on the pending list.
 * Before capabilities are accepted QEMU refuses every other command, so
 * those wait in held. */
static int queue_cmd(struct qmp *q, json_t *obj, enum cmd_kind kind, json_t *user_id,
		     qmp_reply_fn cb, void *opaque)
{
	struct qmp_cmd *c = NULL;
	struct buf *dst;
	char *s = NULL;
	int r = -ENOMEM;

	if (q->err) {
		r = q->err;
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out;
	c->id = ++q->next_id;
	if (json_object_set_new(obj, "id", json_integer(c->id)) < 0)
		goto out;
	s = json_dumps(obj, JSON_COMPACT);
	if (!s)
		goto out;
	dst = q->ready || kind == CMD_CAPS ? &q->out : &q->held;
	r = buf_reserve(dst, strlen(s) + 1);
	if (r < 0)
		goto out;
	buf_append(dst, s, strlen(s));
	buf_append(dst, "\n", 1);

	c->cb = cb;
	c->opaque = opaque;
	c->kind = kind;
	c->user_id = user_id;
	user_id = NULL;
	if (q->tail)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
	c = NULL;
	r = 0;
	/* Write now so the owner need not poll for writability after every
	 * command; a failure here shows again in qmp_io(), which reports it. */
	if (dst == &q->out)
		flush(q);
out:
	free(s);
	free(c);
	json_decref(user_id);
	json_decref(obj);
	return r;
}

static struct qmp_cmd *take_cmd(struct qmp *q, json_int_t id)
{
	struct qmp_cmd **pp, *prev = NULL;

	for (pp = &q->head; *pp; prev = *pp, pp = &(*pp)->next) {
		struct qmp_cmd *c = *pp;

		if (c->id != id)
			continue;
		*pp = c->next;
		if (q->tail == c)
			q->tail = prev;
		c->next = NULL;
		return c;
	}
	return NULL;
}

static int caps_accepted(struct qmp *q, json_t *msg)
{
	int r;

	if (json_object_get(msg, "error"))
		return -EPROTO;
	q->ready = true;
	/* held.p is NULL when nothing was held: no pointer arithmetic on it */
	r = q->held.len ? buf_append(&q->out, q->held.p + q->held.off, q->held.len) : 0;
	buf_free(&q->held);
	if (r < 0)
		return r;
	if (q->cb.ready)
		q->cb.ready(q->cb.opaque);
	return 0;
}

static int handle_reply(struct qmp *q, json_t *msg)
{
	json_t *id = json_object_get(msg, "id");
	struct qmp_cmd *c;

	/* QEMU answers without an id only what it could not parse (a command
	 * nested past its limit, say), and one bad input may draw several
	 * such errors, so they cannot be paired with a command; a reply with
	 * an id nobody waits for is as harmless.  Neither is worth the
	 * monitor: drop it, and the commands still pending get their own
	 * replies (qmp_send_raw refuses what QEMU could not parse). */
	if (!json_is_integer(id) || !(c = take_cmd(q, json_integer_value(id)))) {
		q->unmatched++;
		return 0;
	}
	if (c->kind == CMD_CAPS) {
		cmd_free(c);
		return caps_accepted(q, msg);
	}
	if (c->kind == CMD_RAW && c->user_id)
		json_object_set(msg, "id", c->user_id);
	else if (c->kind == CMD_RAW)
		json_object_del(msg, "id");
	if (c->cb)
		c->cb(c->opaque, msg, 0);
	cmd_free(c);
	return 0;
}

static int handle_msg(struct qmp *q, json_t *msg)
{
	json_t *ev;

	if (!json_is_object(msg))
		return -EPROTO;
	if (json_object_get(msg, "QMP")) {
		if (q->greeted)
			return -EPROTO;
		q->greeted = true;
		return queue_cmd(q, json_pack("{s:s}", "execute", "qmp_capabilities"),
				 CMD_CAPS, NULL, NULL, NULL);
	}
	if (!q->greeted)
		return -EPROTO;
	ev = json_object_get(msg, "event");
	if (ev) {
		if (!json_is_string(ev))
			return -EPROTO;
		if (q->cb.event)
			q->cb.event(q->cb.opaque, json_string_value(ev),
				    json_object_get(msg, "data"), msg);
		return 0;
	}
	if (json_object_get(msg, "return") || json_object_get(msg, "error"))
		return handle_reply(q, msg);
	return -EPROTO;
}

static int handle_line(struct qmp *q, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg;
	size_t i;
	int r;

	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'); i++)
		;
	if (i == len)
		return 0;
	msg = json_loadb(line, len, 0, &jerr);
	if (!msg)
		return -EPROTO;
	r = handle_msg(q, msg);
	json_decref(msg);
	return r;
}

/* Dispatch every complete line in the input buffer. */
static int dispatch(struct qmp *q)
{
	while (q->in.len > q->scanned && !q->closing) {
		char *start = q->in.p + q->in.off;
		char *nl = memchr(start + q->scanned, '\n', q->in.len - q->scanned);
		int r;

		if (!nl) {
			q->scanned = q->in.len;
			return q->in.len > QMP_MAX_LINE ? -EMSGSIZE : 0;
		}
		r = handle_line(q, start, (size_t)(nl - start));
		buf_consume(&q->in, (size_t)(nl - start) + 1);
		q->scanned = 0;
		if (r < 0)
			return r;
	}
	return 0;
}

/* Read until the socket is drained, dispatching as we go so the buffer holds
 * at most one partial line. */
static int fill(struct qmp *q)
{
	while (!q->closing) {
		ssize_t n = buf_read_fd(&q->in, q->fd, QMP_READ_CHUNK);
		int r;

		if (n > 0) {
			r = dispatch(q);
			if (r < 0)
				return r;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		if (n == -EAGAIN)
			return 0;
		return n == -ECONNRESET ? -EPIPE : (int)n;
	}
	return 0;
}

struct qmp *qmp_new(int fd, const struct qmp_callbacks *cb)
{
	struct qmp *q;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->fd = fd;
	if (cb)
		q->cb = *cb;
	return q;
}

int qmp_fd(const struct qmp *q)
{
	return q->fd;
}

bool qmp_is_ready(const struct qmp *q)
{
	return q->ready && !q->err;
}

bool qmp_want_write(const struct qmp *q)
{
	return !q->err && q->out.len > 0;
}

int qmp_io(struct qmp *q)
{
	int r;

	if (q->err)
		return q->err;
	q->depth++;
	r = fill(q);
	if (!r && !q->closing)
		r = flush(q);
	if (r < 0 && !q->closing)
		fail(q, r);
	q->depth--;
	if (q->closing) {
		destroy(q);
		return -ECANCELED;
	}
	return r;
}

int qmp_command(const char *cmd, json_t *args, json_t **out)
{
	json_t *obj;

	*out = NULL;
	if (!cmd || (args && !json_is_object(args))) {
		json_decref(args);
		return -EINVAL;
	}
	obj = json_pack("{s:s}", "execute", cmd);
	if (!obj) {             /* cmd is not UTF-8, or no memory */
		json_decref(args);
		return -EINVAL;
	}
	if (args && json_object_set_new(obj, "arguments", args) < 0) {
		json_decref(obj);
		return -ENOMEM;
	}
	*out = obj;
	return 0;
}

int qmp_execute(struct qmp *q, const char *cmd, json_t *args, qmp_reply_fn cb, void *opaque)
{
	json_t *obj;
	int r = qmp_command(cmd, args, &obj);

	return r < 0 ? r : queue_cmd(q, obj, CMD_EXECUTE, NULL, cb, opaque);
}

/* How deep v nests, stopping past limit: 1 for a scalar or an empty
 * container.  An object's members and an array's items are walked alike. */
static int nesting(json_t *v, int limit)
{
	size_t n = json_is_array(v) ? json_array_size(v) : 0;
	void *it = json_is_object(v) ? json_object_iter(v) : NULL;
	int d = 0;

	if (limit < 0)
		return 1;
	for (size_t i = 0; (it || i < n) && d <= limit; i++) {
		int e = nesting(it ? json_object_iter_value(it) : json_array_get(v, i), limit - 1);

		if (e > d)
			d = e;
		if (it)
			it = json_object_iter_next(v, it);
	}
	return d + 1;
}

unsigned long qmp_unmatched(const struct qmp *q)
{
	return q->unmatched;
}

int qmp_send_raw(struct qmp *q, json_t *cmd, qmp_reply_fn cb, void *opaque)
{
	json_t *obj, *user_id;

	if (!json_is_object(cmd)) {
		json_decref(cmd);
		return -EINVAL;
	}
	if (nesting(cmd, QMP_MAX_NESTING) > QMP_MAX_NESTING) {
		json_decref(cmd);
		return -E2BIG;
	}
	/* A shallow copy: the caller may still hold cmd, and only the
	 * top-level "id" changes. */
	obj = json_copy(cmd);
	json_decref(cmd);
	if (!obj)
		return -ENOMEM;
	user_id = json_incref(json_object_get(obj, "id"));
	return queue_cmd(q, obj, CMD_RAW, user_id, cb, opaque);
}

void qmp_free(struct qmp *q)
{
	if (!q || q->closing)
		return;
	q->closing = true;
	if (!q->err)
		q->err = -ECANCELED;
	cancel_pending(q, -ECANCELED);
	if (!q->depth)
		destroy(q);
}

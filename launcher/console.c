/* console.c - serial console: log, replay ring, socket clients.
 *
 * Data paths (all non-blocking, all from the one loop):
 *   serial fd --read--> log file, ring, every client's queue, out_fn
 *   client    --read--> input queue --write--> serial fd
 * Output to clients is only ever queued from other handlers and written from
 * the client's own handler, so a failing client is freed only while handling
 * its own event; no other entry of the current epoll batch can point at it.
 */
#include "launcher/console.h"
#include "base/buf.h"
#include "base/loop.h"
#include "base/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_CHUNK (16 * 1024)
#define SERIAL_READS_PER_EVENT 4  /* then let other sources run */
#define ACCEPTS_PER_EVENT 16

/* ---- ring ---- */

struct ring {
	size_t size, head, len;   /* head: the next write position */
	uint64_t total;
	unsigned char buf[];
};

struct ring *ring_new(size_t size)
{
	struct ring *r = size ? calloc(1, sizeof(*r) + size) : NULL;

	if (r)
		r->size = size;
	else if (!size)
		errno = EINVAL;
	return r;
}

void ring_free(struct ring *r)
{
	free(r);
}

void ring_write(struct ring *r, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (len == 0)
		return;
	r->total += len;
	if (len >= r->size) {
		memcpy(r->buf, p + len - r->size, r->size);
		r->head = 0;
		r->len = r->size;
		return;
	}
	size_t first = r->size - r->head < len ? r->size - r->head : len;

	memcpy(r->buf + r->head, p, first);
	memcpy(r->buf, p + first, len - first);
	r->head = (r->head + len) % r->size;
	r->len = r->len + len > r->size ? r->size : r->len + len;
}

size_t ring_len(const struct ring *r)
{
	return r->len;
}

/* The held bytes as at most two segments, oldest first. */
static void ring_segments(const struct ring *r, const unsigned char **a, size_t *alen,
			  const unsigned char **b, size_t *blen)
{
	size_t start = (r->head + r->size - r->len) % r->size;

	*a = r->buf + start;
	*alen = r->size - start < r->len ? r->size - start : r->len;
	*b = r->buf;
	*blen = r->len - *alen;
}

size_t ring_copy(const struct ring *r, void *out)
{
	const unsigned char *a, *b;
	size_t alen, blen;

	if (r->len == 0)
		return 0;
	ring_segments(r, &a, &alen, &b, &blen);
	memcpy(out, a, alen);
	memcpy((unsigned char *)out + alen, b, blen);
	return r->len;
}

uint64_t ring_total(const struct ring *r)
{
	return r->total;
}

/* ---- byte queues with a cap that drops their oldest bytes ---- */

/* Append, dropping the oldest bytes so that at most `limit` are held (the
 * allocation then stays within the power of two at or above limit).
 * Returns 0 or -ENOMEM (the queue then holds what it held, minus drops). */
static int queue_push(struct buf *q, const void *data, size_t n, size_t limit)
{
	const char *p = data;

	if (n >= limit) {
		p += n - limit;
		n = limit;
		buf_consume(q, q->len);
	} else if (q->len + n > limit) {
		buf_consume(q, q->len + n - limit);
	}
	return buf_append(q, p, n);
}

/* Write what the fd takes now: 0 (maybe with bytes left), or -errno.
 * MSG_NOSIGNAL: a vanished peer is EPIPE, not a SIGPIPE for the supervisor. */
static int queue_flush(struct buf *q, int fd)
{
	while (q->len) {
		ssize_t n = send(fd, q->p + q->off, q->len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		buf_consume(q, (size_t)n);
	}
	if (q->cap > 64 * 1024)
		buf_free(q); /* a burst grew it; idle clients keep no 256 KiB */
	return 0;
}

/* ---- console ---- */

struct client {
	struct loop_watch w;
	struct console *con;
	int fd;
	bool want_out;     /* EPOLLOUT registered */
	bool dead;         /* to be freed from its own handler */
	struct buf out;
	struct client *next;
};

struct console {
	struct loop_watch serial_w;
	struct loop_watch listen_w;
	int serial_fd;
	bool serial_want_out;
	struct buf input;           /* client bytes not yet taken by QEMU */
	int listen_fd;
	int log_fd;
	uint64_t log_size;
	size_t log_cap;
	bool qemu_logs;             /* QEMU writes the guest's output into the log */
	char *sock_path, *log_path, *log_old_path;
	struct ring *ring;
	struct client *clients;
	console_output_fn out_fn;
	void *opaque;
};

/* Re-register fd only when the wanted EPOLLOUT state changes. */
static void want_out(int fd, struct loop_watch *w, bool *cur, bool want)
{
	if (*cur != want && fd >= 0 && loop_mod(fd, EPOLLIN | (want ? EPOLLOUT : 0), w) == 0)
		*cur = want;
}

static int log_open(struct console *c)
{
	struct stat st;

	c->log_fd = open(c->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (c->log_fd < 0)
		return -errno;
	c->log_size = fstat(c->log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

/* QEMU holds the log open (its serial logfile=): renaming it would leave
 * QEMU writing to console.log.1.  So the log is copied to console.log.1
 * and truncated where it is; QEMU's O_APPEND writes go on at the new end.
 * What QEMU writes between the copy and the truncation is lost. */
static void log_copytruncate(struct console *c)
{
	char tmp[PATH_MAX];
	struct stat st;
	int in = -1, out = -1;
	bool ok = false;

	if (fstat(c->log_fd, &st) == 0)
		c->log_size = (uint64_t)st.st_size;
	if (c->log_size < c->log_cap)
		return; /* the estimate ran ahead of what QEMU wrote */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", c->log_old_path) < (int)sizeof(tmp) &&
	    (in = open(c->log_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0 &&
	    (out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)) >= 0) {
		char buf[READ_CHUNK];
		ssize_t n;

		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n)
				break;
		ok = n == 0 && close(out) == 0 && rename(tmp, c->log_old_path) == 0;
		out = -1;
		if (!ok)
			unlink(tmp);
	}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	(void)ok; /* a failed copy still truncates: the log stays capped */
	if (ftruncate(c->log_fd, 0) == 0)
		c->log_size = 0;
}

/* console.log -> console.log.1 (replacing it), then a fresh console.log.
 * If the rename fails, truncate instead so the log stays capped. */
static void log_rotate(struct console *c)
{
	if (c->qemu_logs) {
		log_copytruncate(c);
		return;
	}
	if (rename(c->log_path, c->log_old_path) < 0 && ftruncate(c->log_fd, 0) == 0) {
		c->log_size = 0;
		return;
	}
	close(c->log_fd);
	log_open(c);
}

/* Failures here never reach the caller: losing log lines must not stop the
 * console.  A log that could not be reopened is retried on the next write. */
static void log_write(struct console *c, const char *p, size_t n)
{
	if (c->log_fd < 0 && log_open(c) < 0)
		return;
	while (n) {
		if (c->log_size >= c->log_cap) {
			log_rotate(c);
			/* Neither rename nor truncate worked: stop, not spin. */
			if (c->log_fd < 0 || c->log_size >= c->log_cap)
				return;
		}
		uint64_t room = c->log_cap - c->log_size;
		size_t chunk = n < room ? n : (size_t)room;
		ssize_t w = write(c->log_fd, p, chunk);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		c->log_size += (uint64_t)w;
		p += w;
		n -= (size_t)w;
	}
}

/* Log, remember for replay and queue for every client.  guest: output
 * from the serial port, which QEMU may have logged itself already. */
static void publish(struct console *c, const char *p, size_t n, bool guest)
{
	if (!guest || !c->qemu_logs) {
		log_write(c, p, n);
	} else if (c->log_fd >= 0 || log_open(c) == 0) {
		/* QEMU wrote these bytes to the log: count them toward the cap. */
		c->log_size += n;
		if (c->log_size >= c->log_cap)
			log_rotate(c);
	}
	ring_write(c->ring, p, n);
	for (struct client *cl = c->clients; cl; cl = cl->next) {
		if (cl->dead)
			continue;
		/* Over CONSOLE_CLIENT_QUEUE a slow client loses its oldest bytes
		 * rather than being disconnected: someone watching a console wants
		 * the newest output, and reconnecting would only replay 64 KiB. */
		if (queue_push(&cl->out, p, n, CONSOLE_CLIENT_QUEUE) < 0)
			cl->dead = true;
		/* Even a dead client gets EPOLLOUT so its own handler frees it. */
		want_out(cl->fd, &cl->w, &cl->want_out, true);
	}
}

static void serial_cb(struct loop_watch *w, uint32_t events)
{
	struct console *c = container_of(w, struct console, serial_w);
	char buf[READ_CHUNK];

	if (c->serial_fd < 0)
		return; /* detached earlier in this batch */
	if (events & EPOLLOUT) {
		if (queue_flush(&c->input, c->serial_fd) < 0)
			buf_free(&c->input); /* QEMU is going; EOF follows */
		want_out(c->serial_fd, &c->serial_w, &c->serial_want_out, c->input.len > 0);
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (int i = 0; i < SERIAL_READS_PER_EVENT; i++) {
		ssize_t n = read(c->serial_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			console_detach(c);
			return;
		}
		publish(c, buf, (size_t)n, true);
		if (c->out_fn)
			c->out_fn(c->opaque, buf, (size_t)n);
		if (c->serial_fd < 0)
			return;
	}
}

/* Client bytes for the guest: straight through when nothing is queued. */
static void serial_input(struct console *c, const char *p, size_t n)
{
	if (c->serial_fd < 0)
		return; /* no QEMU: typing into the void */
	if (c->input.len == 0) {
		ssize_t w = send(c->serial_fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return; /* QEMU is going; EOF on the read side follows */
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		}
	}
	if (n == 0)
		return;
	/* A guest that does not read its UART loses the oldest typed bytes. */
	if (queue_push(&c->input, p, n, CONSOLE_INPUT_MAX) == 0)
		want_out(c->serial_fd, &c->serial_w, &c->serial_want_out, true);
}

int console_input(struct console *c, const void *buf, size_t len)
{
	if (len > CONSOLE_INPUT_MAX)
		return -EMSGSIZE;
	if (c->serial_fd < 0)
		return -ENOTCONN;
	/* Unlike a person's keystrokes, a script's text is not cut: what
	 * would push queued bytes out is refused whole instead. */
	if (c->input.len && c->input.len + len > CONSOLE_INPUT_MAX)
		return -ENOBUFS;
	serial_input(c, buf, len);
	return 0;
}

static void client_free(struct client *cl)
{
	struct client **pp = &cl->con->clients;

	while (*pp != cl)
		pp = &(*pp)->next;
	*pp = cl->next;
	loop_del(cl->fd);
	close(cl->fd);
	buf_free(&cl->out);
	free(cl);
}

static void client_cb(struct loop_watch *w, uint32_t events)
{
	struct client *cl = container_of(w, struct client, w);
	char buf[4096];

	if (cl->dead)
		goto drop;
	/* Output first: a client that sends EOF at once (a piped socat)
	 * still gets the replay that fits its socket buffer. */
	if (events & EPOLLOUT) {
		if (queue_flush(&cl->out, cl->fd) < 0)
			goto drop;
		want_out(cl->fd, &cl->w, &cl->want_out, cl->out.len > 0);
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n = read(cl->fd, buf, sizeof(buf));

		if (n > 0)
			serial_input(cl->con, buf, (size_t)n);
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			goto drop;
	}
	return;
drop:
	client_free(cl);
}

static void client_add(struct console *c, int fd)
{
	struct client *cl = calloc(1, sizeof(*cl));
	const unsigned char *a, *b;
	size_t alen, blen;

	if (!cl) {
		close(fd);
		return;
	}
	cl->w.cb = client_cb;
	cl->con = c;
	cl->fd = fd;
	ring_segments(c->ring, &a, &alen, &b, &blen);
	if (queue_push(&cl->out, a, alen, CONSOLE_CLIENT_QUEUE) < 0 ||
	    queue_push(&cl->out, b, blen, CONSOLE_CLIENT_QUEUE) < 0)
		goto fail;
	cl->want_out = cl->out.len > 0;
	if (loop_add(fd, EPOLLIN | (cl->want_out ? EPOLLOUT : 0), &cl->w) < 0)
		goto fail;
	cl->next = c->clients;
	c->clients = cl;
	return;
fail:
	buf_free(&cl->out);
	free(cl);
	close(fd);
}

static void listen_cb(struct loop_watch *w, uint32_t events)
{
	struct console *c = container_of(w, struct console, listen_w);

	(void)events;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, or EMFILE: retried on the next event */
		}
		/* Only our own uid (or root) may see and type into a
		 * console, whatever the socket's mode ended up as. */
		uid_t uid;

		if (!unix_peer_allowed(fd, &uid)) {
			close(fd);
			continue;
		}
		client_add(c, fd);
	}
}

int console_new(const char *sock_path, const char *log_path,
		console_output_fn out_fn, void *opaque, struct console **out)
{
	struct console *c = calloc(1, sizeof(*c));
	int r = -ENOMEM;

	if (!c)
		return -ENOMEM;
	c->serial_w.cb = serial_cb;
	c->listen_w.cb = listen_cb;
	c->serial_fd = c->listen_fd = c->log_fd = -1;
	c->log_cap = CONSOLE_LOG_CAP;
	c->out_fn = out_fn;
	c->opaque = opaque;
	c->ring = ring_new(CONSOLE_REPLAY_SIZE);
	c->sock_path = strdup(sock_path);
	c->log_path = strdup(log_path);
	if (asprintf(&c->log_old_path, "%s.1", log_path) < 0)
		c->log_old_path = NULL;
	if (!c->ring || !c->sock_path || !c->log_path || !c->log_old_path)
		goto fail;
	r = log_open(c);
	if (r < 0)
		goto fail;

	r = unix_listen(sock_path, 16);
	if (r < 0)
		goto fail;
	c->listen_fd = r; /* from here the path is ours to unlink */
	r = loop_add(c->listen_fd, EPOLLIN, &c->listen_w);
	if (r < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	console_free(c);
	return r;
}

int console_attach(struct console *c, int serial_fd)
{
	int fl, r;

	console_detach(c);
	/* O_NONBLOCK lives in our open file description only; QEMU's end of
	 * the socketpair is a different one and stays as QEMU wants it. */
	fl = fcntl(serial_fd, F_GETFL);
	if (fl < 0 || fcntl(serial_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		r = -errno;
	else
		r = loop_add(serial_fd, EPOLLIN, &c->serial_w);
	if (r < 0) {
		close(serial_fd);
		return r;
	}
	c->serial_fd = serial_fd;
	c->serial_want_out = false;
	return 0;
}

void console_detach(struct console *c)
{
	if (c->serial_fd < 0)
		return;
	loop_del(c->serial_fd);
	close(c->serial_fd);
	c->serial_fd = -1;
	c->serial_want_out = false;
	/* Typed for the old QEMU; the next boot should not receive it. */
	buf_free(&c->input);
}

void console_note(struct console *c, const char *fmt, ...)
{
	char msg[512];
	char line[sizeof(msg) + 16];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = snprintf(line, sizeof(line), "\r\n[n3x] %s\r\n", msg);
	if (n > 0)
		publish(c, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1, false);
}

void console_replay(struct console *c, const void *buf, size_t len)
{
	ring_write(c->ring, buf, len);
}

void console_set_qemu_logs(struct console *c, bool on)
{
	c->qemu_logs = on;
}

void console_set_log_cap(struct console *c, size_t cap)
{
	c->log_cap = cap ? cap : 1;
}

void console_free(struct console *c)
{
	if (!c)
		return;
	while (c->clients)
		client_free(c->clients);
	console_detach(c);
	if (c->listen_fd >= 0) {
		loop_del(c->listen_fd);
		close(c->listen_fd);
		unlink(c->sock_path);
	}
	if (c->log_fd >= 0)
		close(c->log_fd);
	buf_free(&c->input);
	ring_free(c->ring);
	free(c->sock_path);
	free(c->log_path);
	free(c->log_old_path);
	free(c);
}

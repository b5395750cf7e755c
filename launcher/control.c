/* control.c - the control socket: JSON lines in, one request at a time per
 * client, replies out in order.
 *
 * A client is freed only where no epoll event can still name it: its own
 * callback closes the fd, and the struct goes when the last reference goes
 * (the connection holds one, a pending request another).  control_reply()
 * therefore never closes or frees a live client, and never dispatches: it
 * queues the reply and asks for EPOLLOUT, and the client's next callback
 * picks up any request already buffered.  That keeps the dispatcher free of
 * re-entry (a reply sent while walking a list of waiters cannot add to it).
 *
 * A streaming client (control_stream) gets lines instead of replies.  Its
 * owner learns of it only from that client's callback (drained) or from
 * drop() (gone), never from control_stream_send(), so an owner may send
 * while walking its own list of streams.
 */
#include "launcher/control.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/loop.h"
#include "base/sock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define OUT_HIGH (256 * 1024)   /* queued reply bytes before we stop taking requests */
#define ACCEPT_BACKOFF_MS 100   /* after EMFILE & co, instead of spinning on EPOLLIN */
#define STREAM_OUT_HIGH (64 * 1024) /* queued stream bytes before control_stream_send refuses */

struct control_client {
	struct loop_watch w;
	int fd;                     /* -1 once disconnected */
	int refs;
	uint32_t events;            /* as registered with the loop */
	bool pending;               /* a request is with the dispatcher */
	bool eof;                   /* the peer shut down its write side */
	bool closing;               /* close once the output is flushed */
	bool kick;                  /* look at buffered input on the next callback */
	bool in_cb;                 /* our callback is on the stack */
	bool streaming;             /* control_stream(): lines out, input ignored */
	const struct control_stream_ops *sops;
	void *sopaque;
	struct buf in, out;         /* request bytes read; reply lines to send */
	struct control_client *next, **pprev;
};

static struct {
	struct loop_watch w;
	struct loop_timer backoff;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	control_dispatch_fn dispatch;
	struct control_client *clients;
	int nclients;
} ctl = { .fd = -1 };

int control_nclients(void)
{
	return ctl.nclients;
}

static void client_free(struct control_client *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
	ctl.nclients--;
}

void control_client_ref(struct control_client *c)
{
	c->refs++;
}

void control_client_unref(struct control_client *c)
{
	/* refs only reach 0 after drop() closed the fd, so no event is pending
	 * for c; inside c's own callback the callback frees it on the way out. */
	if (--c->refs == 0 && !c->in_cb)
		client_free(c);
}

/* Close the connection; the struct lives on while references remain.  A
 * stream's owner hears it first (gone), and never of c again. */
static void drop(struct control_client *c)
{
	if (c->fd < 0)
		return;
	if (c->streaming) {
		c->streaming = false;
		if (c->sops->gone)
			c->sops->gone(c->sopaque);
	}
	loop_del(c->fd);
	close(c->fd);
	c->fd = -1;
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	control_client_unref(c);
}

static void queue_text(struct control_client *c, const char *s)
{
	size_t len = strlen(s);

	/* Room for the whole line first, so it is queued whole or not at all. */
	if (buf_reserve(&c->out, len + 1) < 0) {
		c->closing = true; /* cannot answer: better a closed socket than a lost reply */
		return;
	}
	buf_append(&c->out, s, len);
	buf_append(&c->out, "\n", 1);
}

static void queue(struct control_client *c, json_t *reply)
{
	char *s = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);

	queue_text(c, s ? s : "{\"ok\":false,\"error\":\"the reply could not be encoded\",\"code\":1}");
	free(s);
}

static void queue_error(struct control_client *c, int code, const char *msg)
{
	json_t *r = json_pack("{s:b, s:s, s:i}", "ok", 0, "error", msg, "code", code);
	char safe[256];

	if (!r) {
		/* jansson's parse error quotes the text near it byte by byte, so
		 * half a character ("near '\"cm\xc3'"): not UTF-8, which JSON
		 * cannot carry.  The reply must still come, without those bytes. */
		snprintf(safe, sizeof(safe), "%s", msg);
		for (char *p = safe; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		r = json_pack("{s:b, s:s, s:i}", "ok", 0, "error", safe, "code", code);
	}
	if (r)
		queue(c, r);
	else
		queue_text(c, "{\"ok\":false,\"error\":\"bad request\",\"code\":2}");
	json_decref(r);
}

/* Write what the socket takes now: 0, or -errno when the peer is gone. */
static int flush(struct control_client *c)
{
	bool not_socket = false; /* accept()ed: always a socket */

	return buf_write_fd(&c->out, c->fd, &not_socket);
}

static bool has_line(const struct control_client *c)
{
	return c->in.len && memchr(c->in.p + c->in.off, '\n', c->in.len);
}

static void update_events(struct control_client *c)
{
	uint32_t want = 0;

	if (c->streaming) {
		/* Read only to notice the end: input is thrown away. */
		want = EPOLLIN | EPOLLRDHUP | (c->out.len ? EPOLLOUT : 0);
		if (want != c->events && loop_mod(c->fd, want, &c->w) == 0)
			c->events = want;
		return;
	}
	/* Not reading while a request is out is what orders the replies; the
	 * kernel still reports EPOLLHUP, so a vanished client is noticed. */
	if (!c->pending && !c->eof && !c->closing && !has_line(c))
		want |= EPOLLIN | EPOLLRDHUP;
	if (c->out.len || c->kick)
		want |= EPOLLOUT;
	if (want != c->events && loop_mod(c->fd, want, &c->w) == 0)
		c->events = want;
}

/* The request fields that mean the same in every verb, with their JSON
 * type: a wrong type is bad usage here, once, rather than a field each verb
 * would quietly read as missing (a "timeout":"soon" waiting forever) or as
 * an empty name.  Seconds are bounded so no verb converts 1e308 to ms. */
enum field_kind { F_STRING, F_BOOL, F_ARRAY, F_INTEGER, F_SECONDS };

static const struct {
	const char *key;
	enum field_kind kind;
} fields[] = {
	{ "vm", F_STRING }, { "vms", F_ARRAY }, { "all", F_BOOL }, { "name", F_STRING },
	{ "action", F_STRING }, { "profile", F_STRING }, { "state", F_STRING },
	{ "console", F_STRING }, { "exec", F_STRING }, { "data", F_STRING },
	{ "path", F_STRING }, { "input", F_STRING }, { "args", F_ARRAY },
	{ "lease", F_BOOL }, { "agent", F_BOOL }, { "up", F_BOOL }, { "clear", F_BOOL },
	{ "status", F_BOOL }, { "keep_vms", F_BOOL }, { "port", F_INTEGER }, { "nic", F_INTEGER },
	{ "timeout", F_SECONDS }, { "interval", F_SECONDS },
};

#define SECONDS_MAX 1e6

/* NULL when req's known fields have their types, else the message. */
static const char *bad_field(json_t *req, char *msg, size_t size)
{
	static const char *const what[] = {
		[F_STRING] = "a string", [F_BOOL] = "true or false", [F_ARRAY] = "an array",
		[F_INTEGER] = "an integer", [F_SECONDS] = "a number of seconds from 0 to 1000000",
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		json_t *v = json_object_get(req, fields[i].key);
		bool ok;

		if (!v)
			continue;
		switch (fields[i].kind) {
		case F_STRING: ok = json_is_string(v); break;
		case F_BOOL: ok = json_is_boolean(v); break;
		case F_ARRAY: ok = json_is_array(v); break;
		case F_INTEGER: ok = json_is_integer(v); break;
		default:
			ok = json_is_number(v) && json_number_value(v) >= 0 &&
			     json_number_value(v) <= SECONDS_MAX;
		}
		if (!ok) {
			snprintf(msg, size, "bad request: \"%s\" must be %s", fields[i].key, what[fields[i].kind]);
			return msg;
		}
	}
	return NULL;
}

/* Parse one line; dispatch it or answer the error ourselves. */
static void handle_line(struct control_client *c, const char *line, size_t len)
{
	json_error_t err;
	json_t *req, *cmd;
	char msg[256];

	if (strspn(line, " \t\r") == len)
		return; /* blank lines are harmless keep-alives from hand-typed sessions */
	req = json_loadb(line, len, 0, &err);
	if (!req) {
		snprintf(msg, sizeof(msg), "bad request: %s (column %d)", err.text, err.column);
		queue_error(c, 2, msg);
		return;
	}
	cmd = json_object_get(req, "cmd");
	if (!json_is_object(req) || !json_is_string(cmd)) {
		queue_error(c, 2, "bad request: not a JSON object with a string \"cmd\"");
	} else if (bad_field(req, msg, sizeof(msg))) {
		queue_error(c, 2, msg);
	} else {
		c->pending = true;
		c->refs++; /* the request's reference, dropped by control_reply() */
		ctl.dispatch(c, req);
	}
	json_decref(req);
}

static void process(struct control_client *c)
{
	while (!c->pending && !c->closing && !c->streaming && c->out.len < OUT_HIGH) {
		char *line = c->in.p + c->in.off;
		char *nl = c->in.len ? memchr(line, '\n', c->in.len) : NULL;
		size_t len;

		if (!nl) {
			if (c->in.len > CONTROL_LINE_MAX) {
				char msg[64];

				snprintf(msg, sizeof(msg), "bad request: longer than %d bytes",
					 CONTROL_LINE_MAX);
				queue_error(c, 2, msg);
				c->closing = true;
			}
			return;
		}
		len = nl - line;
		*nl = '\0';
		/* Consumed before it is handled: a request that turns the client
		 * into a stream (events) empties c->in itself, and consuming the
		 * line after that wrapped c->in.len round (undefined pointer
		 * arithmetic on the next read, which landed back inside the
		 * buffer only because off + len wrapped to 0 as well).  The bytes
		 * stay where they are until more is reserved, which only the
		 * next read does. */
		buf_consume(&c->in, len + 1);
		handle_line(c, line, len);
	}
}

static int read_some(struct control_client *c)
{
	ssize_t n = buf_read_fd(&c->in, c->fd, READ_CHUNK);

	if (n == 0)
		c->eof = true;
	return n == -EAGAIN ? 0 : n < 0 ? (int)n : 0;
}

/* A streaming client's callback: discard input, notice the end, write, and
 * let the owner refill once everything queued went out. */
static void stream_cb(struct control_client *c, uint32_t events)
{
	if (events & (EPOLLERR | EPOLLHUP)) {
		drop(c);
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP)) {
		/* One read a callback: a chatty client cannot hold the loop. */
		ssize_t n = buf_read_fd(&c->in, c->fd, READ_CHUNK);

		if (n > 0)
			buf_consume(&c->in, c->in.len);
		else if (n != -EAGAIN) {
			drop(c); /* EOF: the subscriber is done */
			return;
		}
	}
	if (flush(c) < 0) {
		drop(c);
		return;
	}
	/* Refill until the socket stops taking it all or the owner has no
	 * more: a refill the socket swallowed whole would otherwise leave
	 * nothing queued, so no EPOLLOUT, so no next drained. */
	while (c->out.len == 0 && c->sops->drained) {
		c->sops->drained(c->sopaque);
		if (c->out.len == 0)
			break;
		if (flush(c) < 0) {
			drop(c);
			return;
		}
	}
	update_events(c);
}

static void client_cb(struct loop_watch *w, uint32_t events)
{
	struct control_client *c = container_of(w, struct control_client, w);

	c->in_cb = true;
	c->kick = false;
	if (c->streaming) {
		stream_cb(c, events);
		goto out;
	}
	if (events & (EPOLLERR | EPOLLHUP)) {
		/* Fully closed, so no reply can be read.  What the peer sent
		 * before going still counts (a fire-and-forget "stop"), but
		 * only up to the first request that is answered later: there
		 * is no socket left to wake us for the rest. */
		for (int i = 0; i < 16 && !(events & EPOLLERR) && !c->pending && !c->eof; i++)
			if (read_some(c) < 0)
				break;
		process(c);
		drop(c);
		goto out;
	}
	if ((events & EPOLLIN) && !c->pending && !has_line(c) && read_some(c) < 0) {
		drop(c);
		goto out;
	}
	process(c);
	if (c->streaming) {
		stream_cb(c, 0); /* the request just turned it into a stream */
		goto out;
	}
	if (flush(c) < 0 ||
	    (c->out.len == 0 && (c->closing || (c->eof && !c->pending && !has_line(c))))) {
		drop(c);
		goto out;
	}
	update_events(c);
out:
	c->in_cb = false;
	if (c->refs == 0)
		client_free(c);
}

void control_reply(struct control_client *c, json_t *reply)
{
	if (!c->pending) {
		json_decref(reply); /* a second reply to one request: ignore it */
		return;
	}
	c->pending = false;
	if (c->fd >= 0) {
		queue(c, reply);
		if (!c->in_cb) {
			/* A write error shows up as EPOLLHUP/EPOLLERR in the callback,
			 * which is the one place that closes a client. */
			flush(c);
			c->kick = true;
			update_events(c);
		}
	}
	json_decref(reply);
	control_client_unref(c);
}

int control_stream(struct control_client *c, const struct control_stream_ops *ops, void *opaque)
{
	if (!c->pending)
		return -EINVAL;
	if (c->fd < 0) {
		/* Gone before the answer: there is nothing to stream to. */
		c->pending = false;
		control_client_unref(c);
		return -ENOTCONN;
	}
	queue_text(c, "{\"ok\":true}");
	if (c->closing) {
		/* No memory for the answer: the connection closes instead. */
		c->pending = false;
		if (!c->in_cb) {
			c->kick = true;
			update_events(c);
		}
		control_client_unref(c);
		return -ENOMEM;
	}
	c->pending = false;
	c->streaming = true;
	c->sops = ops;
	c->sopaque = opaque;
	/* Whatever the client sent after the request is ignored, as is all it
	 * sends from now on. */
	buf_consume(&c->in, c->in.len);
	if (!c->in_cb) {
		flush(c);
		update_events(c);
	}
	control_client_unref(c); /* the request's; the connection keeps c */
	return 0;
}

int control_stream_send(struct control_client *c, const char *line)
{
	if (!c->streaming || c->fd < 0)
		return -ENOTCONN;
	if (c->out.len >= STREAM_OUT_HIGH)
		return -ENOBUFS;
	queue_text(c, line);
	if (c->closing) {
		/* Out of memory for the line: this line is lost, not the stream. */
		c->closing = false;
		return -ENOMEM;
	}
	if (!c->in_cb) {
		/* A write error shows up as EPOLLHUP/EPOLLERR in the callback. */
		flush(c);
		update_events(c);
	}
	return 0;
}

/* A message cut at the buffer's end may end inside a UTF-8 sequence (a
 * client's long VM name), which JSON cannot carry: drop the partial one. */
static void trim_utf8(char *s)
{
	size_t len = strlen(s), start = len, need;
	unsigned char lead;

	while (start > 0 && len - start < 4 && ((unsigned char)s[start - 1] & 0xc0) == 0x80)
		start--;
	if (start == 0)
		return;
	lead = (unsigned char)s[start - 1];
	if (lead < 0x80)
		return;
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	if (len - (start - 1) < need)
		s[start - 1] = '\0';
}

void control_reply_error(struct control_client *c, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line, whatever the request put in it (a VM "name" with a newline
	 * is quoted back): n3x-ctl prints the error as its one line. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	trim_utf8(msg);
	control_reply(c, json_pack("{s:b, s:s, s:i}", "ok", 0, "error", msg, "code", code));
}

/* Only our own uid and root: the socket's 0600 mode says the same, but a
 * directory with looser modes must not turn into a way in. */
static bool peer_allowed(int fd, struct err *e)
{
	uid_t uid;

	if (unix_peer_allowed(fd, &uid))
		return true;
	if (uid == (uid_t)-1)
		err_sys(e, errno, "cannot check the peer's credentials");
	else
		err_set(e, EACCES, "permission denied: uid %u is neither root nor the supervisor's uid %u",
			(unsigned)uid, (unsigned)geteuid());
	return false;
}

static void accept_one(int fd)
{
	struct control_client *c;
	struct err e;

	if (!peer_allowed(fd, &e)) {
		char line[ERR_MSG_MAX + 64];
		int n = snprintf(line, sizeof(line), "{\"ok\":false,\"error\":\"%s\",\"code\":1}\n", e.msg);

		send(fd, line, n, MSG_NOSIGNAL | MSG_DONTWAIT); /* best effort */
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->w.cb = client_cb;
	c->fd = fd;
	c->refs = 1; /* the connection's */
	c->events = EPOLLIN | EPOLLRDHUP;
	if (loop_add(fd, c->events, &c->w) < 0) {
		close(fd);
		free(c);
		return;
	}
	ctl.nclients++;
	c->next = ctl.clients;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &ctl.clients;
	ctl.clients = c;
}

static void backoff_fire(struct loop_timer *t)
{
	(void)t;
	if (ctl.fd >= 0)
		loop_mod(ctl.fd, EPOLLIN, &ctl.w);
}

static void listen_cb(struct loop_watch *w, uint32_t events)
{
	(void)w;
	(void)events;
	while (ctl.fd >= 0) {
		int fd = accept4(ctl.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			accept_one(fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && loop_mod(ctl.fd, 0, &ctl.w) == 0 &&
		    loop_timer_arm(&ctl.backoff, ACCEPT_BACKOFF_MS) < 0)
			loop_mod(ctl.fd, EPOLLIN, &ctl.w); /* no timer: spinning beats deafness */
		return;
	}
}

int control_open(const char *path, control_dispatch_fn dispatch)
{
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(ctl.path))
		return -ENAMETOOLONG;
	fd = unix_listen(path, 64);
	if (fd < 0)
		return fd;
	r = stat(path, &st) < 0 ? -errno : 0;
	ctl.w.cb = listen_cb;
	if (r == 0)
		r = loop_add(fd, EPOLLIN, &ctl.w);
	if (r < 0) {
		unlink(path);
		close(fd);
		return r;
	}
	ctl.fd = fd;
	strcpy(ctl.path, path);
	ctl.dev = st.st_dev;
	ctl.ino = st.st_ino;
	ctl.dispatch = dispatch;
	loop_timer_init(&ctl.backoff, backoff_fire);
	return 0;
}

void control_close(void)
{
	struct stat st;

	if (ctl.fd >= 0) {
		loop_del(ctl.fd);
		close(ctl.fd);
		ctl.fd = -1;
		/* Unlink only our own socket, never a successor's. */
		if (stat(ctl.path, &st) == 0 && st.st_dev == ctl.dev && st.st_ino == ctl.ino)
			unlink(ctl.path);
		loop_timer_close(&ctl.backoff);
	}
	while (ctl.clients) {
		struct control_client *c = ctl.clients;

		/* A stream gets what its owner still holds, as far as the
		 * socket takes it now. */
		while (flush(c) == 0 && c->out.len == 0 && c->streaming && c->sops->drained) {
			c->sops->drained(c->sopaque);
			if (c->out.len == 0)
				break;
		}
		flush(c);
		drop(c);
	}
}

/* ga.c - a client for one QEMU guest agent channel (see ga.h).
 *
 * Input goes through one of four modes:
 *   DROP    the port is closed (or the fd is finished): bytes are discarded;
 *   HUNT    a sync is out: bytes are discarded up to the agent's 0xFF;
 *   SYNC    after that 0xFF: lines are read, only the reply carrying our
 *           sync id counts (a late reply of an earlier sync is skipped);
 *   NORMAL  lines are replies to the request in flight.
 * qemu-ga ends each reply with "\n".  0xFF never occurs in UTF-8 JSON, so it
 * ends a line too: text before it is a line of its own (a stale partial
 * reply before a sentinel must not be glued to the reply after it).
 *
 * I/O happens only in the loop handlers (the fd and the timer).  The verbs
 * queue and change state, then let the loop do the writing, so no callback
 * ever runs inside ga_execute().  The state is settled before any callback
 * runs, because a callback may queue the next request.
 */
#include "qmp/ga.h"
#include "qmp/qmp.h"

#include "base/buf.h"
#include "base/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define GA_SENTINEL '\xff'
#define GA_READ_CHUNK (256u << 10)
/* Reads per wakeup: a 22 MB reply must not keep the loop from the other
 * VMs; epoll is level-triggered and calls again for the rest. */
#define GA_READS_PER_WAKE 16
/* A buffer that grew past this for one big reply or request is released
 * once empty, not kept for the VM's lifetime. */
#define GA_BUF_KEEP (1u << 20)

enum rx { RX_DROP, RX_HUNT, RX_SYNC, RX_NORMAL };

struct ga_req {
	struct ga_req *next;
	char *text;             /* the request line, "\n" included, until it goes out */
	size_t len;
	uint64_t deadline;      /* loop_now_ms() */
	bool noreply;           /* the agent answers only on failure */
	ga_reply_fn cb;
	void *opaque;
};

struct ga {
	int fd;
	struct loop_watch w;
	struct loop_timer timer;
	struct ga_callbacks cb;
	uint32_t events;        /* what the loop watches now */
	uint64_t armed;         /* the timer's deadline, UINT64_MAX: disarmed */
	struct buf in, out;
	size_t scanned;         /* bytes of in already searched for a delimiter */
	enum rx rx;
	struct ga_req *head, *tail;     /* FIFO; head is in flight when inflight */
	json_int_t sync_id;
	uint64_t sync_deadline;
	bool inflight;
	bool syncing;
	bool open;              /* as the owner said (ga_set_open) */
	bool up;
	bool dead;              /* the fd hit EOF or an error: out of the loop */
	bool freeing;
	bool not_socket;        /* for buf_write_fd: the fd is a pipe (tests) */
};

static const char *const noreply_cmds[] = {
	"guest-shutdown", "guest-suspend-disk", "guest-suspend-ram", "guest-suspend-hybrid",
};

static void req_free(struct ga_req *r)
{
	free(r->text);
	free(r);
}

/* Unlink r (whose predecessor is prev, NULL for the head). */
static void unlink_req(struct ga *g, struct ga_req *prev, struct ga_req *r)
{
	if (prev)
		prev->next = r->next;
	else
		g->head = r->next;
	if (g->tail == r)
		g->tail = prev;
	if (!prev)
		g->inflight = false;
	r->next = NULL;
}

static void finish(struct ga_req *r, json_t *reply, int err)
{
	if (r->cb)
		r->cb(r->opaque, reply, err);
	req_free(r);
}

/* Callbacks of a detached list, in order. */
static void finish_list(struct ga_req *r, int err)
{
	while (r) {
		struct ga_req *next = r->next;

		finish(r, NULL, err);
		r = next;
	}
}

/* Detach every request; the caller finishes them once the state is settled. */
static struct ga_req *take_all(struct ga *g)
{
	struct ga_req *all = g->head;

	g->head = g->tail = NULL;
	g->inflight = false;
	return all;
}

static json_int_t new_sync_id(const struct ga *g)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint32_t)g->sync_id * 2654435761u + (uint32_t)loop_now_ms();
	v &= 0x7fffffff;
	if (!v || v == g->sync_id)
		v = (uint32_t)(g->sync_id + 1) & 0x7fffffff;
	return v ? v : 1;
}

/* Drop whatever is unwritten and send 0xFF + guest-sync-delimited.  The
 * 0xFF makes the agent forget a partial request of ours; input is ignored
 * up to the agent's own 0xFF.  The request in flight, if any, has been
 * taken off by the caller.  A failed allocation is retried at the deadline. */
static void start_sync(struct ga *g)
{
	char *s;

	g->syncing = true;
	g->rx = RX_HUNT;
	g->sync_id = new_sync_id(g);
	g->sync_deadline = loop_now_ms() + GA_SYNC_TIMEOUT_MS;
	g->out.off = g->out.len = 0;
	if (asprintf(&s, "%c{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":%lld}}\n",
		     GA_SENTINEL, (long long)g->sync_id) < 0)
		return;
	if (buf_append(&g->out, s, strlen(s)) < 0)
		g->out.off = g->out.len = 0;
	free(s);
}

/* Put the next request on the wire when the channel is free. */
static void start_next(struct ga *g)
{
	struct ga_req *r = g->head;

	if (!r || g->inflight || !g->up || g->syncing || g->dead)
		return;
	if (buf_append(&g->out, r->text, r->len) < 0)
		return;         /* retried on the next event; the deadline still runs */
	free(r->text);
	r->text = NULL;
	g->inflight = true;
}

static void watch(struct ga *g)
{
	uint32_t want = EPOLLIN | (g->open && g->out.len ? EPOLLOUT : 0);

	if (g->dead || want == g->events)
		return;
	if (loop_mod(g->fd, want, &g->w) == 0)
		g->events = want;
}

static void rearm(struct ga *g)
{
	uint64_t next = UINT64_MAX, now;

	for (struct ga_req *r = g->head; r; r = r->next)
		if (r->deadline < next)
			next = r->deadline;
	if (g->syncing && g->sync_deadline < next)
		next = g->sync_deadline;
	if (next == g->armed)
		return;
	if (next == UINT64_MAX) {
		loop_timer_disarm(&g->timer);
		g->armed = next;
		return;
	}
	now = loop_now_ms();
	if (loop_timer_arm(&g->timer, next > now ? next - now : 0) == 0)
		g->armed = next;
}

static void kick(struct ga *g)
{
	if (g->freeing)
		return;
	start_next(g);
	watch(g);
	rearm(g);
}

/* The port closed or the fd is finished: everything fails with -ENOTCONN. */
static void go_down(struct ga *g)
{
	bool was_up = g->up;
	struct ga_req *all;

	g->up = false;
	g->syncing = false;
	g->rx = RX_DROP;
	buf_free(&g->out);
	buf_free(&g->in);
	g->scanned = 0;
	all = take_all(g);
	if (was_up && g->cb.up)
		g->cb.up(g->cb.opaque, false);
	finish_list(all, -ENOTCONN);
}

/* EOF or an error on the fd: QEMU is gone.  Leave the loop for good. */
static void go_dead(struct ga *g)
{
	if (g->dead)
		return;
	g->dead = true;
	loop_del(g->fd);
	g->events = 0;
	go_down(g);
}

static void synced(struct ga *g)
{
	g->syncing = false;
	g->rx = RX_NORMAL;
	if (g->up)
		return;
	g->up = true;
	if (g->cb.up)
		g->cb.up(g->cb.opaque, true);
}

/* The request in flight, if any, fails with err, and the channel resyncs. */
static void resync_failing(struct ga *g, int err)
{
	struct ga_req *r = g->inflight ? g->head : NULL;

	if (r)
		unlink_req(g, NULL, r);
	start_sync(g);
	if (r)
		finish(r, NULL, err);
}

static bool is_reply(json_t *msg)
{
	return json_is_object(msg) &&
	       (json_object_get(msg, "return") || json_object_get(msg, "error"));
}

/* One line from the agent: msg is NULL when it was not JSON. */
static void on_line(struct ga *g, json_t *msg)
{
	struct ga_req *r;
	bool written;

	if (g->rx == RX_SYNC) {
		json_t *ret = json_object_get(msg, "return");

		if (json_is_object(msg) && json_is_integer(ret) &&
		    json_integer_value(ret) == g->sync_id)
			synced(g);
		return;
	}
	if (g->rx != RX_NORMAL)
		return;
	if (!is_reply(msg)) {
		resync_failing(g, -EPROTO);
		return;
	}
	if (!g->inflight) {     /* nobody's: the stream is not what we think */
		start_sync(g);
		return;
	}
	r = g->head;
	unlink_req(g, NULL, r);
	/* An answer before the request was all written (qemu-ga refusing a
	 * too-big one): the rest would reach it as garbage, so drop the rest
	 * and resync. */
	written = g->out.len == 0;
	if (!written)
		start_sync(g);
	finish(r, msg, 0);
}

static bool blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

/* The first '\n' or 0xFF in p[0, n), or NULL. */
static char *find_delim(char *p, size_t n)
{
	char *nl = memchr(p, '\n', n);
	char *ff = memchr(p, GA_SENTINEL, nl ? (size_t)(nl - p) : n);

	return ff ? ff : nl;
}

/* A line over GA_LINE_MAX: not the agent, or not in step with it. */
static void overlong(struct ga *g)
{
	if (g->rx == RX_NORMAL)
		resync_failing(g, -EPROTO);
	else
		g->rx = RX_HUNT;        /* SYNC: our reply comes after a 0xFF */
}

/* Handle everything complete in the input buffer.  Callbacks run from here
 * and may change the mode (a resync, the port closing), so the mode is read
 * again for each piece. */
static void dispatch(struct ga *g)
{
	while (g->in.len > g->scanned) {
		char *p = g->in.p + g->in.off, *d;
		size_t len;
		json_t *msg = NULL;

		if (g->rx == RX_DROP) {
			buf_consume(&g->in, g->in.len);
			break;
		}
		if (g->rx == RX_HUNT) {
			g->scanned = 0;
			d = memchr(p, GA_SENTINEL, g->in.len);
			buf_consume(&g->in, d ? (size_t)(d - p) + 1 : g->in.len);
			if (d)
				g->rx = RX_SYNC;
			continue;
		}
		d = find_delim(p + g->scanned, g->in.len - g->scanned);
		if (!d) {
			g->scanned = g->in.len;
			if (g->in.len > GA_LINE_MAX) {
				buf_consume(&g->in, g->in.len);
				g->scanned = 0;
				overlong(g);
			}
			break;
		}
		len = (size_t)(d - p);
		g->scanned = 0;
		if (len > GA_LINE_MAX) {
			buf_consume(&g->in, len + 1);
			overlong(g);
			continue;
		}
		if (blank(p, len)) {
			buf_consume(&g->in, len + 1);
			continue;
		}
		msg = json_loadb(p, len, 0, NULL);
		buf_consume(&g->in, len + 1);
		on_line(g, msg);
		json_decref(msg);
	}
	if (!g->in.len) {
		g->scanned = 0;
		if (g->in.cap > GA_BUF_KEEP)
			buf_free(&g->in);
	}
}

/* Read what the fd has (up to a bound), dispatching as it comes so at most
 * one partial line is buffered. */
static void fill(struct ga *g)
{
	for (int i = 0; i < GA_READS_PER_WAKE && !g->dead; i++) {
		ssize_t n = buf_read_fd(&g->in, g->fd, GA_READ_CHUNK);

		if (n > 0) {
			dispatch(g);
			continue;
		}
		if (n == -ENOMEM) {
			/* No memory for the line in progress: lose it. */
			buf_free(&g->in);
			g->scanned = 0;
			overlong(g);
			return;
		}
		if (n == -EAGAIN)
			return;
		go_dead(g);
	}
}

/* Write what the socket takes; false when the fd is finished. */
static bool flush(struct ga *g)
{
	if (buf_write_fd(&g->out, g->fd, &g->not_socket) < 0)
		return false;
	if (!g->out.len && g->out.cap > GA_BUF_KEEP)
		buf_free(&g->out);
	return true;
}

/* Start and write requests; a written command that gets no reply is
 * answered here, and the channel resyncs after it, because the agent does
 * answer such a command when it fails, and that answer must not be taken
 * for the reply to the next one. */
static void pump_out(struct ga *g)
{
	while (!g->dead && !g->freeing && g->open) {
		struct ga_req *r;
		json_t *ok;

		start_next(g);
		if (!g->out.len)
			return;
		if (!flush(g)) {
			go_dead(g);
			return;
		}
		if (g->out.len || !g->inflight || !g->head->noreply)
			return;
		r = g->head;
		unlink_req(g, NULL, r);
		start_sync(g);
		ok = json_pack("{s:{}}", "return");
		finish(r, ok, ok ? 0 : -ENOMEM);
		json_decref(ok);
	}
}

static void on_io(struct loop_watch *w, uint32_t events)
{
	struct ga *g = container_of(w, struct ga, w);

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		fill(g);
	pump_out(g);
	kick(g);
}

static void on_timer(struct loop_timer *t)
{
	struct ga *g = container_of(t, struct ga, timer);
	struct ga_req *expired = NULL, **etail = &expired, *prev = NULL, *r, *next;
	uint64_t now = loop_now_ms();
	bool resync = g->syncing && g->sync_deadline <= now;

	g->armed = UINT64_MAX;  /* one-shot: it fired */
	for (r = g->head; r; r = next) {
		next = r->next;
		if (r->deadline > now) {
			prev = r;
			continue;
		}
		if (!prev && g->inflight)
			resync = true;  /* in flight: its reply may still come */
		unlink_req(g, prev, r);
		*etail = r;
		etail = &r->next;
	}
	if (resync && g->open && !g->dead)
		start_sync(g);
	finish_list(expired, -ETIMEDOUT);
	pump_out(g);
	kick(g);
}

struct ga *ga_new(int fd, const struct ga_callbacks *cb)
{
	struct ga *g;
	int fl = fcntl(fd, F_GETFL), r;

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->fd = fd;
	g->w.cb = on_io;
	g->rx = RX_DROP;
	if (cb)
		g->cb = *cb;
	loop_timer_init(&g->timer, on_timer);
	/* Make the timerfd now, so a failure shows here and not as a
	 * timeout that never fires. */
	r = loop_timer_arm(&g->timer, 3600 * 1000);
	if (r == 0)
		r = loop_add(fd, EPOLLIN, &g->w);
	if (r < 0) {
		loop_timer_close(&g->timer);
		free(g);
		errno = -r;
		return NULL;
	}
	loop_timer_disarm(&g->timer);
	g->armed = UINT64_MAX;
	g->events = EPOLLIN;
	return g;
}

void ga_set_open(struct ga *g, bool open)
{
	if (g->freeing || open == g->open)
		return;
	g->open = open;
	if (!open)
		go_down(g);
	else if (!g->dead)
		start_sync(g);
	kick(g);
}

bool ga_is_up(const struct ga *g)
{
	return g->up;
}

static bool is_sync(const char *cmd)
{
	return !strcmp(cmd, "guest-sync") || !strcmp(cmd, "guest-sync-delimited");
}

/* Queue obj (stolen), a command object with a string "execute". */
static int queue(struct ga *g, json_t *obj, unsigned timeout_ms, ga_reply_fn cb, void *opaque)
{
	const char *cmd = json_string_value(json_object_get(obj, "execute"));
	struct ga_req *r;
	char *s;

	if (!g->up) {
		json_decref(obj);
		return -ENOTCONN;
	}
	r = calloc(1, sizeof(*r));
	s = json_dumps(obj, JSON_COMPACT);
	if (!r || !s) {
		json_decref(obj);
		free(r);
		free(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(noreply_cmds) / sizeof(noreply_cmds[0]); i++)
		if (!strcmp(cmd, noreply_cmds[i]))
			r->noreply = true;
	json_decref(obj);
	r->len = strlen(s);
	r->text = realloc(s, r->len + 2);
	if (!r->text) {
		free(s);
		free(r);
		return -ENOMEM;
	}
	r->text[r->len++] = '\n';
	r->text[r->len] = '\0';
	r->deadline = loop_now_ms() + (timeout_ms ? timeout_ms : GA_SYNC_TIMEOUT_MS);
	r->cb = cb;
	r->opaque = opaque;
	if (g->tail)
		g->tail->next = r;
	else
		g->head = r;
	g->tail = r;
	kick(g);
	return 0;
}

int ga_execute(struct ga *g, const char *cmd, json_t *args, unsigned timeout_ms, ga_reply_fn cb,
	       void *opaque)
{
	json_t *obj;
	int r;

	if (cmd && is_sync(cmd)) {
		json_decref(args);
		return -EINVAL;
	}
	r = qmp_command(cmd, args, &obj);
	return r < 0 ? r : queue(g, obj, timeout_ms, cb, opaque);
}

int ga_send_raw(struct ga *g, json_t *cmd, unsigned timeout_ms, ga_reply_fn cb, void *opaque)
{
	const char *name = json_string_value(json_object_get(cmd, "execute"));

	if (!json_is_object(cmd) || !name || is_sync(name)) {
		json_decref(cmd);
		return -EINVAL;
	}
	return queue(g, cmd, timeout_ms, cb, opaque);
}

void ga_free(struct ga *g)
{
	if (!g || g->freeing)
		return;
	g->freeing = true;
	g->up = false;
	if (!g->dead)
		loop_del(g->fd);
	close(g->fd);
	loop_timer_close(&g->timer);
	finish_list(take_all(g), -ECANCELED);
	buf_free(&g->in);
	buf_free(&g->out);
	free(g);
}

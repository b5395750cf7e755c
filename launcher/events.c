/* events.c - the supervisor's event stream (events.h): subscribers on the
 * control socket, each with a VM filter and a bounded queue.
 *
 * An event is encoded once, as the line every subscriber gets, and shared
 * by reference.  A subscriber's line goes straight to its control client
 * while the client's output has room (control_stream_send); the rest waits
 * in a ring of EVENTS_QUEUE_MAX lines, and when the ring is full the oldest
 * line goes and is counted.  The count goes out, as one "lost" event,
 * ahead of the next line delivered, then starts again from zero.  So a slow
 * subscriber costs at most its ring and the control client's bounded
 * output, and the supervisor never waits for it.
 *
 * Subscribers leave only through control's gone callback, which never runs
 * inside control_stream_send(): events_emit() can walk the list while
 * sending.
 */
#include "launcher/events.h"
#include "launcher/supervisor_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One encoded event, shared by the subscribers that queue it. */
struct ev_line {
	int refs;
	double time;
	char s[];                  /* the JSON object, no newline */
};

struct sub {
	struct sub *next, **pprev;
	struct control_client *c;
	char **vms;                /* the filter; nvms == 0: every VM */
	int nvms;
	struct ev_line *q[EVENTS_QUEUE_MAX]; /* ring: q[head], ... n lines */
	unsigned head, n;
	unsigned long lost;        /* dropped since the last "lost" went out */
	double lost_time;          /* the newest dropped line's time */
	bool blocked;              /* the client's output is full: wait for drained */
};

static struct sub *subs;
static int nsubs;
static events_listener_fn *listener;

void events_set_listener(events_listener_fn *fn)
{
	listener = fn;
}

int events_nsubscribers(void)
{
	return nsubs;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

json_t *events_encode(double time, const char *vm, const char *kind, json_t *data)
{
	/* "o" steals data even when the pack fails */
	return json_pack("{s:f, s:s?, s:s, s:o}", "time", time, "vm", vm, "kind", kind, "data",
			 data ? data : json_object());
}

/* The encoded line (one reference), or NULL when out of memory. */
static struct ev_line *line_new(double time, const char *vm, const char *kind, json_t *data)
{
	json_t *ev = events_encode(time, vm, kind, data);
	/* 13 digits: the time's seconds and milliseconds, not 1765094521.1229999 */
	char *s = ev ? json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(13)) : NULL;
	struct ev_line *l = s ? malloc(sizeof(*l) + strlen(s) + 1) : NULL;

	json_decref(ev);
	if (l) {
		l->refs = 1;
		l->time = time;
		strcpy(l->s, s);
	}
	free(s);
	return l;
}

static void line_unref(struct ev_line *l)
{
	if (l && --l->refs == 0)
		free(l);
}

static bool wants(const struct sub *s, const char *vm)
{
	if (!vm || s->nvms == 0)
		return true;
	for (int i = 0; i < s->nvms; i++)
		if (strcmp(s->vms[i], vm) == 0)
			return true;
	return false;
}

/* Send what s holds while the client takes it: first the lost count, then
 * the ring, oldest first. */
static void deliver(struct sub *s)
{
	while (!s->blocked && (s->lost || s->n)) {
		int r;

		if (s->lost) {
			struct ev_line *l = line_new(s->lost_time, NULL, "lost",
						     json_pack("{s:I}", "count", (json_int_t)s->lost));

			r = l ? control_stream_send(s->c, l->s) : -ENOMEM;
			line_unref(l);
			s->blocked = r == -ENOBUFS;
			if (r < 0)
				return; /* no room (drained comes), or no memory (the next push retries) */
			s->lost = 0;
			continue;
		}
		r = control_stream_send(s->c, s->q[s->head]->s);
		s->blocked = r == -ENOBUFS;
		if (r == -ENOBUFS || r == -ENOTCONN)
			return;
		/* Sent, or lost for want of memory: either way it leaves the ring. */
		line_unref(s->q[s->head]);
		s->head = (s->head + 1) % EVENTS_QUEUE_MAX;
		s->n--;
	}
}

static void push(struct sub *s, struct ev_line *l)
{
	if (s->n == EVENTS_QUEUE_MAX) {
		struct ev_line *old = s->q[s->head];

		s->lost++;
		s->lost_time = old->time;
		line_unref(old);
		s->head = (s->head + 1) % EVENTS_QUEUE_MAX;
		s->n--;
	}
	l->refs++;
	s->q[(s->head + s->n) % EVENTS_QUEUE_MAX] = l;
	s->n++;
	deliver(s);
}

void events_emit(const char *vm, const char *kind, json_t *data)
{
	events_emit_at(now_s(), vm, kind, data);
}

void events_emit_at(double time, const char *vm, const char *kind, json_t *data)
{
	struct ev_line *l;

	if (listener)
		listener(vm, kind, data);
	if (!subs) {
		json_decref(data); /* nobody listens: not even worth encoding */
		return;
	}
	l = line_new(time, vm, kind, data);
	if (!l)
		return;
	for (struct sub *s = subs; s; s = s->next)
		if (wants(s, vm))
			push(s, l);
	line_unref(l);
}

static void sub_free(struct sub *s)
{
	while (s->n) {
		line_unref(s->q[s->head]);
		s->head = (s->head + 1) % EVENTS_QUEUE_MAX;
		s->n--;
	}
	for (int i = 0; i < s->nvms; i++)
		free(s->vms[i]);
	free(s->vms);
	free(s);
}

static void sub_drained(void *opaque)
{
	struct sub *s = opaque;

	s->blocked = false;
	deliver(s);
}

static void sub_gone(void *opaque)
{
	struct sub *s = opaque;

	*s->pprev = s->next;
	if (s->next)
		s->next->pprev = s->pprev;
	nsubs--;
	sub_free(s);
}

static const struct control_stream_ops sub_ops = { .drained = sub_drained, .gone = sub_gone };

int events_subscribe(struct control_client *c, const char *const *vms, int nvms)
{
	struct sub *s = calloc(1, sizeof(*s));
	int r;

	if (s && nvms > 0 && !(s->vms = calloc(nvms, sizeof(*s->vms))))
		goto nomem;
	for (int i = 0; s && i < nvms; i++) {
		if (!(s->vms[i] = strdup(vms[i])))
			goto nomem;
		s->nvms++;
	}
	if (!s)
		goto nomem;
	s->c = c;
	if ((r = control_stream(c, &sub_ops, s)) < 0) {
		sub_free(s);
		return r;
	}
	s->next = subs;
	if (s->next)
		s->next->pprev = &s->next;
	s->pprev = &subs;
	subs = s;
	nsubs++;
	return 0;
nomem:
	if (s)
		sub_free(s);
	control_reply_error(c, 1, "out of memory");
	return -ENOMEM;
}

/* {"cmd":"events","vms":[...]}: check the filter, then stream. */
void sup_cmd_events(struct control_client *c, json_t *req)
{
	json_t *names = json_object_get(req, "vms"), *v;
	const char **vms = NULL;
	size_t i, n = 0;

	if (names && !json_is_array(names)) {
		control_reply_error(c, 2, "events: \"vms\" must be a list of VM names");
		return;
	}
	n = json_array_size(names);
	if (n && !(vms = calloc(n, sizeof(*vms)))) {
		control_reply_error(c, 1, "out of memory");
		return;
	}
	json_array_foreach(names, i, v) {
		vms[i] = json_string_value(v);
		if (!vms[i]) {
			control_reply_error(c, 2, "events: \"vms\" must be a list of VM names");
			goto out;
		}
		if (!sup_find_vm(vms[i])) {
			control_reply_error(c, 2, "no VM named \"%s\"", vms[i]);
			goto out;
		}
	}
	events_subscribe(c, vms, (int)n);
out:
	free(vms);
}

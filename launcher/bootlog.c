/* bootlog.c - console text since boot, and its lines. */
#include "launcher/bootlog.h"

#include <stdlib.h>
#include <string.h>

#include "base/loop.h"

/* A line being cut out of a byte stream: the live output and a scan of the
 * kept text both go through lines_feed, so they agree on what a line is. */
struct lines {
	char buf[BOOTLOG_LINE_MAX];
	size_t len;
};

struct bootlog {
	bootlog_line_fn line;
	void *opaque;
	char *text;
	size_t len;
	struct lines cur;               /* the live line so far */
	struct loop_timer partial;
};

/* Feed n bytes; fn gets each line they finish until it returns true, and
 * then the rest is not fed (true is returned). */
static bool lines_feed(struct lines *l, const char *p, size_t n,
		       bool (*fn)(const char *line, void *opaque), void *opaque)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			l->buf[l->len] = '\0';
			l->len = 0;
			if (fn(l->buf, opaque))
				return true;
		} else if (p[i] != '\r' && l->len < sizeof(l->buf) - 1) {
			l->buf[l->len++] = p[i];
		}
	}
	return false;
}

/* The unfinished line, or NULL when there is none; it stays unfinished. */
static const char *lines_partial(struct lines *l)
{
	l->buf[l->len] = '\0';
	return l->len ? l->buf : NULL;
}

static bool offer(const char *line, void *opaque)
{
	struct bootlog *b = opaque;

	b->line(b->opaque, line);
	return false;
}

static void partial_fire(struct loop_timer *t)
{
	struct bootlog *b = container_of(t, struct bootlog, partial);
	const char *line = lines_partial(&b->cur);

	if (line)
		b->line(b->opaque, line);
}

struct bootlog *bootlog_new(bootlog_line_fn line, void *opaque)
{
	struct bootlog *b = calloc(1, sizeof(*b));

	if (!b || !(b->text = malloc(BOOTLOG_TEXT_MAX))) {
		free(b);
		return NULL;
	}
	b->line = line;
	b->opaque = opaque;
	loop_timer_init(&b->partial, partial_fire);
	return b;
}

void bootlog_free(struct bootlog *b)
{
	if (!b)
		return;
	loop_timer_close(&b->partial);
	free(b->text);
	free(b);
}

void bootlog_reset(struct bootlog *b)
{
	b->len = 0;
	b->cur.len = 0;
}

void bootlog_add(struct bootlog *b, const char *buf, size_t len)
{
	if (len > BOOTLOG_TEXT_MAX) {
		buf += len - BOOTLOG_TEXT_MAX;
		len = BOOTLOG_TEXT_MAX;
	}
	if (b->len + len > BOOTLOG_TEXT_MAX) {
		/* Keep the newest half, from a line start, so scans see whole lines. */
		size_t drop = b->len + len - BOOTLOG_TEXT_MAX / 2;
		char *nl = drop < b->len ? memchr(b->text + drop, '\n', b->len - drop) : NULL;

		drop = nl ? (size_t)(nl + 1 - b->text) : b->len;
		memmove(b->text, b->text + drop, b->len - drop);
		b->len -= drop;
	}
	memcpy(b->text + b->len, buf, len);
	b->len += len;

	lines_feed(&b->cur, buf, len, offer, b);
	/* Prompts ("login: ") do not end their line: once the output has
	 * paused, the line so far is offered too.  Offered at once, a line
	 * the guest writes in several pieces would match half-printed; without
	 * a timer, at once is still better than never. */
	if (b->cur.len && loop_timer_arm(&b->partial, BOOTLOG_PARTIAL_MS) < 0)
		partial_fire(&b->partial);
}

bool bootlog_scan(const struct bootlog *b, bool (*fn)(const char *line, void *opaque), void *opaque)
{
	struct lines l = { .len = 0 };
	const char *last;

	if (lines_feed(&l, b->text, b->len, fn, opaque))
		return true;
	last = lines_partial(&l);
	return last && fn(last, opaque);
}

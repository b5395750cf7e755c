/* test_loop.c - the epoll loop's deferred release: a handler that releases
 * another source whose event is already in the same epoll_wait batch.
 * Run under ASan: freeing inside the handler would be a use-after-free when
 * the loop reaches the second event. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/loop.h"

/* A source that owns its memory, released the way the supervisor's waiters
 * are: out of epoll at once, freed from the deferred point. */
struct src {
	struct loop_watch w;
	struct loop_timer timer;      /* used by the timer test */
	struct loop_deferred free_d;
	int fd;
	struct src *other;            /* released by our handler */
	int *ran, *freed;
};

static struct src *live;            /* the last handler that ran on a live source */
static char trace[16];              /* 'h' handler ran live, 's' stale, 'f' freed */
static int ntrace;

static void note(char c)
{
	cr_assert_lt(ntrace, (int)sizeof(trace) - 1);
	trace[ntrace++] = c;
}

static void src_free(struct loop_deferred *d)
{
	struct src *s = container_of(d, struct src, free_d);

	note('f');
	free(s);
}

static void src_release(struct src *s)
{
	loop_del(s->fd);
	close(s->fd);
	s->fd = -1;
	loop_timer_close(&s->timer);
	loop_defer(&s->free_d, src_free);
}

/* Whichever handler runs first releases the other one. */
static void src_cb(struct loop_watch *w, uint32_t events)
{
	struct src *s = container_of(w, struct src, w);

	(void)events;
	if (s->fd < 0) {
		note('s'); /* released earlier in this batch: memory still ours */
		return;
	}
	note('h');
	live = s;
	if (s->other) {
		s->other->other = NULL;
		src_release(s->other);
		s->other = NULL;
	}
}

static struct src *src_new(void)
{
	struct src *s = calloc(1, sizeof(*s));

	cr_assert_not_null(s);
	s->w.cb = src_cb;
	s->fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK); /* readable at once */
	cr_assert_geq(s->fd, 0);
	cr_assert_eq(loop_add(s->fd, EPOLLIN, &s->w), 0);
	return s;
}

static void setup(void)
{
	cr_assert_eq(loop_open(), 0);
	ntrace = 0;
	trace[0] = '\0';
}

TestSuite(loop, .init = setup, .fini = loop_close);

Test(loop, releasing_a_source_with_an_event_in_the_same_batch)
{
	struct src *a = src_new(), *b = src_new();

	a->other = b;
	b->other = a;
	cr_assert_eq(loop_run_once(1000), 2, "both events in one batch");
	/* First handler live, the second finds its source released, and the
	 * free comes only after both. */
	cr_expect_str_eq(trace, "hsf");
	src_release(live);
	loop_close(); /* runs the deferred free queued outside a batch */
	cr_expect_str_eq(trace, "hsff");
}

/* The supervisor's case: a waiter's timeout and the console line that
 * settles it land in one batch; whichever runs first releases the waiter. */
static struct src *timed;

static void timer_fire(struct loop_timer *t)
{
	struct src *s = container_of(t, struct src, timer);

	note('t');
	src_release(s);
	timed = NULL;
}

static void match_cb(struct loop_watch *w, uint32_t events)
{
	struct src *s = container_of(w, struct src, w);
	uint64_t v;

	(void)events;
	cr_assert_eq(read(s->fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	note('m');
	if (timed) {
		src_release(timed);
		timed = NULL;
	}
}

Test(loop, timer_released_by_another_handler_in_the_same_batch)
{
	struct src *line = src_new();

	line->w.cb = match_cb;
	timed = calloc(1, sizeof(*timed));
	cr_assert_not_null(timed);
	timed->fd = eventfd(0, EFD_CLOEXEC); /* only to be closed by src_release */
	loop_timer_init(&timed->timer, timer_fire);
	cr_assert_eq(loop_timer_arm(&timed->timer, 1), 0);
	usleep(20 * 1000); /* the timer has expired: both are ready */
	cr_assert_eq(loop_run_once(1000), 2, "both events in one batch");
	/* Either order: the match settles it and the stale timer event reads
	 * nothing, or the timeout fires first and the match finds none. */
	cr_expect(strcmp(trace, "mf") == 0 || strcmp(trace, "tmf") == 0, "trace %s", trace);
	cr_expect_null(timed);
	loop_del(line->fd);
	close(line->fd);
	free(line);
}

static int chained;

static void second(struct loop_deferred *d)
{
	(void)d;
	chained++;
}

static struct loop_deferred d1, d2;

static void first(struct loop_deferred *d)
{
	(void)d;
	chained++;
	loop_defer(&d2, second);
}

Test(loop, a_deferred_call_may_defer_another)
{
	chained = 0;
	loop_defer(&d1, first);
	cr_expect_eq(chained, 0, "nothing runs before a batch");
	cr_assert_eq(loop_run_once(0), 0); /* an empty batch still runs them */
	cr_expect_eq(chained, 2);
}

/* loop.c - one epoll loop with timerfd timers. */
#include "base/loop.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int epfd = -1;
static bool quitting;
static struct loop_deferred *deferred, **deferred_tail = &deferred;

void loop_defer(struct loop_deferred *d, void (*fn)(struct loop_deferred *d))
{
	d->fn = fn;
	d->next = NULL;
	*deferred_tail = d;
	deferred_tail = &d->next;
}

/* Until the queue is empty: a deferred call may defer another. */
static void run_deferred(void)
{
	while (deferred) {
		struct loop_deferred *d = deferred;

		deferred = d->next;
		if (!deferred)
			deferred_tail = &deferred;
		d->fn(d);
	}
}

int loop_open(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd < 0 ? -errno : 0;
}

void loop_close(void)
{
	run_deferred();
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
}

static int ctl(int op, int fd, uint32_t events, struct loop_watch *w)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0;
}

int loop_add(int fd, uint32_t events, struct loop_watch *w)
{
	return ctl(EPOLL_CTL_ADD, fd, events, w);
}

int loop_mod(int fd, uint32_t events, struct loop_watch *w)
{
	return ctl(EPOLL_CTL_MOD, fd, events, w);
}

void loop_del(int fd)
{
	if (fd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

void loop_quit(void)
{
	quitting = true;
}

/* One epoll_wait batch: the number of events, 0 on EINTR, or -errno. */
static int run_batch(int timeout_ms)
{
	struct epoll_event evs[32];
	int n = epoll_wait(epfd, evs, 32, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	/* A handler may release another source whose event is already in
	 * evs: that source leaves epoll at once but its memory is freed only
	 * by run_deferred(), after the last handler of this batch. */
	for (int i = 0; i < n && !quitting; i++) {
		struct loop_watch *w = evs[i].data.ptr;

		w->cb(w, evs[i].events);
	}
	run_deferred();
	return n;
}

int loop_run(void)
{
	quitting = false;
	while (!quitting) {
		int r = run_batch(-1);

		if (r < 0)
			return r;
	}
	return 0;
}

int loop_run_once(int timeout_ms)
{
	quitting = false;
	return run_batch(timeout_ms);
}

static void timer_cb(struct loop_watch *w, uint32_t events)
{
	struct loop_timer *t = container_of(w, struct loop_timer, w);
	uint64_t n;

	(void)events;
	if (read(t->fd, &n, sizeof(n)) != sizeof(n))
		return; /* disarmed in the meantime */
	t->fire(t);
}

void loop_timer_init(struct loop_timer *t, void (*fire)(struct loop_timer *t))
{
	t->w.cb = timer_cb;
	t->fd = -1;
	t->fire = fire;
}

int loop_timer_arm(struct loop_timer *t, uint64_t ms)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 + (ms ? 0 : 1) },
	};

	if (t->fd < 0) {
		t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (t->fd < 0)
			return -errno;
		int r = loop_add(t->fd, EPOLLIN, &t->w);
		if (r < 0) {
			close(t->fd);
			t->fd = -1;
			return r;
		}
	}
	return timerfd_settime(t->fd, 0, &its, NULL) < 0 ? -errno : 0;
}

void loop_timer_disarm(struct loop_timer *t)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	if (t->fd >= 0)
		timerfd_settime(t->fd, 0, &its, NULL);
}

void loop_timer_close(struct loop_timer *t)
{
	if (t->fd >= 0) {
		loop_del(t->fd);
		close(t->fd);
	}
	t->fd = -1;
}

uint64_t loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

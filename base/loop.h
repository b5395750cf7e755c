/* loop.h - the supervisor's one epoll loop.
 *
 * Every source embeds a struct loop_watch and is registered with its fd; the
 * loop calls watch->cb with the epoll events.  Handlers must not block.  There
 * is one loop per process, so the verbs take no handle.
 */
#ifndef N3X_LOOP_H
#define N3X_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop_watch {
	void (*cb)(struct loop_watch *w, uint32_t events);
};

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - __builtin_offsetof(type, member)))

int loop_open(void);                 /* 0 or -errno */
/* Runs the deferred calls still queued (see loop_defer), then closes. */
void loop_close(void);
int loop_add(int fd, uint32_t events, struct loop_watch *w);
int loop_mod(int fd, uint32_t events, struct loop_watch *w);
void loop_del(int fd);               /* before closing fd */
int loop_run(void);                  /* until loop_quit(); 0 or -errno */
/* Wait up to timeout_ms (-1: forever) for one epoll_wait batch and run its
 * handlers.  Returns the number of events (0 on timeout or EINTR) or -errno.
 * For tests and shutdown drains; clears a pending loop_quit() first. */
int loop_run_once(int timeout_ms);
void loop_quit(void);

/* Deferred release.  One epoll_wait batch may hold events for several
 * sources; a handler that frees another source's object (a waiter whose
 * timer is in the same batch) would leave the loop calling freed memory.
 * Such objects unregister their fds at once and hand the free to
 * loop_defer(): fn runs after every handler of the current batch, in the
 * order deferred (queued outside a batch: after the next batch, or from
 * loop_close()).
 * The node lives in the object, so deferring cannot fail.  fn may defer
 * more; those run in the same pass.  A node must not be queued twice. */
struct loop_deferred {
	struct loop_deferred *next;
	void (*fn)(struct loop_deferred *d);
};

void loop_defer(struct loop_deferred *d, void (*fn)(struct loop_deferred *d));

/* A one-shot timer on a timerfd.  fire runs from the loop. */
struct loop_timer {
	struct loop_watch w;
	int fd;
	void (*fire)(struct loop_timer *t);
};

void loop_timer_init(struct loop_timer *t, void (*fire)(struct loop_timer *t));
int loop_timer_arm(struct loop_timer *t, uint64_t ms);  /* re-arming replaces */
void loop_timer_disarm(struct loop_timer *t);
void loop_timer_close(struct loop_timer *t);

uint64_t loop_now_ms(void);          /* CLOCK_MONOTONIC in ms */

#endif

/* schedule.h - running a [schedule NAME]: its steps at their times.
 *
 * One schedule runs at a time.  Each step runs from the loop at an
 * absolute time, the run's start plus the step's offset (plus the cycle's
 * start with repeat: cycle k begins at k x period), on a timerfd armed
 * with TFD_TIMER_ABSTIME on CLOCK_MONOTONIC: a step that ran late, or took
 * long, moves no later step.  Steps that are due together run in order.
 *
 * What a step does is the supervisor's, through struct schedule_ops; this
 * module only keeps time, reports each step as an event
 *
 *   schedule      {"name","step","cycle","at_ms","late_ms","action","ok","error"?}
 *                 time = when the step began; at_ms = its planned offset
 *                 from the run's start (cycles included), late_ms = how far
 *                 after that it began (0.1 ms resolution)
 *   schedule-end  {"name","reason"}   "done" (the last step of a schedule
 *                 without repeat finished), "stopped", "shutdown" or
 *                 "replaced"
 *
 * and remembers the last run for `schedule status`.  A failed step is
 * reported and the schedule goes on.  Steps change the fabric; stopping a
 * schedule leaves it as its last step left it.
 */
#ifndef N3X_SCHEDULE_H
#define N3X_SCHEDULE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "launcher/topology.h"

/* A step in progress, for an op that finishes later. */
struct schedule_call;

/* What steps do.  Each returns 0 (done), -errno with e set (failed), or,
 * link only, 1: it finishes later and calls schedule_call_done(call, ...)
 * exactly once, from the loop, after returning.  An op left NULL fails its
 * steps ("partitions are not built in" for partition and heal).
 * link: vm is a VM's name, nic its NIC or -1 for every NIC. */
struct schedule_ops {
	int (*profile)(void *opaque, const char *profile, struct err *e);
	int (*partition)(void *opaque, const char *spec, struct err *e);
	int (*heal)(void *opaque, struct err *e);
	int (*link)(void *opaque, const char *vm, int nic, bool up, struct schedule_call *call,
		    struct err *e);
	/* One line for the supervisor's log per step and per end (may be NULL). */
	void (*log)(void *opaque, const char *line);
	void *opaque;
};

/* The ops every later step uses (copied). */
void schedule_set_ops(const struct schedule_ops *ops);

/* Start sc (which must outlive the run: the topology's) now; its first
 * step is planned at its offset from this moment.  0; -EBUSY with e when a
 * schedule runs already (stop it first); -errno with e when the timer
 * cannot be made.  The reply's start time: schedule_status_json(true). */
int schedule_run(const struct topo_schedule *sc, struct err *e);

/* Stop the running schedule (a step in progress still finishes and is
 * reported); reason goes into schedule-end.  1 when one ran, else 0. */
int schedule_stop(const char *reason);

/* A step whose op returned 1 is done: r 0 or -errno, error its message
 * (NULL when r is 0). */
void schedule_call_done(struct schedule_call *call, int r, const char *error);

/* The running schedule's name, or NULL. */
const char *schedule_running(void);

/* full false: status --json's fabric.schedule, {"name","step","next_at_ms"}
 * (step: the last one begun, 1-based, 0 before the first), or json null
 * when none runs.  full true: `schedule status`'s, also for the last run
 * once it ended: {"name","running","reason"?,"repeat","period_ms"?,
 * "started","cycle","step","next_step"?,"next_at_ms"?,"steps":[{"step",
 * "at_ms","action","runs","last":{"ok","late_ms","error"?,"time"}?}]}, or
 * null when nothing ran.  A new reference; NULL when out of memory. */
json_t *schedule_status_json(bool full);

/* Stop ("shutdown") and free everything (teardown). */
void schedule_close(void);

#endif

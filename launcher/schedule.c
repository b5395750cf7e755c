/* schedule.c - the running schedule (schedule.h): absolute step times on a
 * timerfd, each step through the supervisor's ops, each one an event.
 *
 * Time is kept on CLOCK_MONOTONIC in nanoseconds from one start instant;
 * step i of cycle c is due at start + c x period + at_i, and the timer is
 * armed for that instant (TFD_TIMER_ABSTIME), never for "now + gap", so a
 * late or slow step moves no later one and nothing accumulates over cycles.
 * A supervisor that was held up for longer than a whole period (a stopped
 * process, a swapped-out host) does not replay every missed cycle back to
 * back: the missed cycles are skipped, logged, and the schedule goes on
 * from the current one.
 */
#include "launcher/schedule.h"
#include "launcher/events.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/loop.h"

#define NS_PER_MS 1000000ULL

struct schedule_call {
	unsigned gen;                 /* the run it belongs to */
	int step;                     /* index into the schedule's steps */
	uint64_t cycle;
	uint64_t at_ms;               /* planned, from the run's start */
	double late_ms;
	double time;                  /* unix seconds when it began */
	char *name;                   /* the schedule's: the event outlives a stop */
	char *action;
};

/* The last outcome of one step, for `schedule status`. */
struct step_rec {
	int runs;
	bool ok;
	double late_ms, time;
	char *error;
};

static struct {
	struct schedule_ops ops;
	const struct topo_schedule *sc; /* the last run, running or ended; NULL before any */
	bool running;
	const char *reason;           /* how the last run ended */
	unsigned gen;                 /* bumped by each run */
	uint64_t start_ns;            /* CLOCK_MONOTONIC */
	double start_real;            /* unix seconds, the same instant */
	uint64_t cycle;               /* of the next step */
	int next;                     /* the next step's index */
	int begun;                    /* the last step begun, 1-based; 0: none yet */
	uint64_t begun_cycle;         /* ... and its cycle */
	int pending;                  /* calls of this run not done */
	bool finishing;               /* no repeat, every step begun: end once none is pending */
	struct step_rec *recs;        /* one per step of sc */
	int fd;
	struct loop_watch w;
} S = { .fd = -1 };

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double real_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	char line[ERR_MSG_MAX + 256];
	va_list ap;

	if (!S.ops.log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	S.ops.log(S.ops.opaque, line);
}

/* "+30s", "+1.5s", "+0.25s" */
static const char *fmt_at(uint64_t ms, char *buf, size_t size)
{
	if (ms % 1000 == 0) {
		snprintf(buf, size, "+%llus", (unsigned long long)(ms / 1000));
	} else {
		int n = snprintf(buf, size, "+%llu.%03llu", (unsigned long long)(ms / 1000),
				 (unsigned long long)(ms % 1000));

		while (n > 0 && (size_t)n < size && buf[n - 1] == '0')
			buf[--n] = '\0';
		snprintf(buf + n, size - (size_t)n, "s");
	}
	return buf;
}

void schedule_set_ops(const struct schedule_ops *ops)
{
	S.ops = *ops;
}

const char *schedule_running(void)
{
	return S.running ? S.sc->name : NULL;
}

static uint64_t plan_ms(int step, uint64_t cycle)
{
	return cycle * S.sc->period_ms + S.sc->steps[step].at_ms;
}

static uint64_t due_ns(int step, uint64_t cycle)
{
	return S.start_ns + plan_ms(step, cycle) * NS_PER_MS;
}

static void close_timer(void)
{
	if (S.fd >= 0) {
		loop_del(S.fd);
		close(S.fd);
	}
	S.fd = -1;
}

static void end(const char *reason)
{
	S.running = false;
	S.reason = reason;
	close_timer();
	say("schedule %s: %s after step %d of %d", S.sc->name, !strcmp(reason, "done") ? "done" : reason,
	    S.begun, S.sc->nsteps);
	events_emit(NULL, "schedule-end", json_pack("{s:s, s:s}", "name", S.sc->name, "reason", reason));
}

static void free_recs(void)
{
	for (int i = 0; S.recs && S.sc && i < S.sc->nsteps; i++)
		free(S.recs[i].error);
	free(S.recs);
	S.recs = NULL;
}

void schedule_call_done(struct schedule_call *call, int r, const char *error)
{
	bool ours = call->gen == S.gen && S.sc && S.recs; /* of the run S holds */
	json_t *data;
	char at[32];

	if (r < 0 && !error)
		error = strerror(-r);
	data = json_pack("{s:s, s:i, s:I, s:I, s:f, s:s, s:b}", "name", call->name, "step", call->step + 1,
			 "cycle", (json_int_t)call->cycle + 1, "at_ms", (json_int_t)call->at_ms,
			 "late_ms", call->late_ms, "action", call->action, "ok", r >= 0);
	if (data && r < 0 && json_object_set_new(data, "error", json_string(error)) < 0) {
		json_decref(data);
		data = NULL;
	}
	if (data)
		events_emit_at(call->time, NULL, "schedule", data);
	say("schedule %s: step %d (%s) %s: %s%s (%.1f ms late)", call->name, call->step + 1,
	    fmt_at(call->at_ms, at, sizeof(at)), call->action, r < 0 ? "failed: " : "ok",
	    r < 0 ? error : "", call->late_ms);
	if (ours) {
		struct step_rec *rec = &S.recs[call->step];

		rec->runs++;
		rec->ok = r >= 0;
		rec->late_ms = call->late_ms;
		rec->time = call->time;
		free(rec->error);
		rec->error = r < 0 ? strdup(error) : NULL;
		if (--S.pending == 0 && S.running && S.finishing)
			end("done");
	}
	free(call->name);
	free(call->action);
	free(call);
}

static int dispatch(const struct topo_step *st, struct schedule_call *call, struct err *e)
{
	char vm[TOPO_VM_NAME_MAX + 1];
	int nic;

	switch (st->kind) {
	case TOPO_STEP_PROFILE:
		if (!S.ops.profile)
			return err_set(e, ENOTSUP, "profiles are not built in");
		return S.ops.profile(S.ops.opaque, st->arg, e);
	case TOPO_STEP_PARTITION:
		if (!S.ops.partition)
			return err_set(e, ENOTSUP, "partitions are not built in");
		return S.ops.partition(S.ops.opaque, st->arg, e);
	case TOPO_STEP_HEAL:
		if (!S.ops.heal)
			return err_set(e, ENOTSUP, "partitions are not built in");
		return S.ops.heal(S.ops.opaque, e);
	case TOPO_STEP_LINK:
		if (!S.ops.link)
			return err_set(e, ENOTSUP, "links are not built in");
		if (topo_parse_key(st->arg, vm, &nic) < 0) /* checked by the parser */
			return err_set(e, EINVAL, "bad link \"%s\"", st->arg);
		return S.ops.link(S.ops.opaque, vm, nic, st->up, call, e);
	}
	return err_set(e, EINVAL, "unknown step");
}

/* Begin step i of cycle c, due at due (monotonic ns). */
static void run_step(int i, uint64_t cycle, uint64_t due)
{
	const struct topo_step *st = &S.sc->steps[i];
	struct schedule_call *call = calloc(1, sizeof(*call));
	uint64_t now = mono_ns();
	struct err e;
	int r;

	S.begun = i + 1;
	S.begun_cycle = cycle;
	if (!call || !(call->name = strdup(S.sc->name)) || !(call->action = strdup(st->action))) {
		if (call)
			free(call->name);
		free(call);
		say("schedule %s: step %d (%s): out of memory", S.sc->name, i + 1, st->action);
		return;
	}
	call->gen = S.gen;
	call->step = i;
	call->cycle = cycle;
	call->at_ms = plan_ms(i, cycle);
	call->late_ms = now > due ? (double)((now - due) / 100000) / 10.0 : 0;
	call->time = real_s();
	S.pending++;
	err_clear(&e);
	r = dispatch(st, call, &e);
	if (r != 1)
		schedule_call_done(call, r < 0 ? r : 0, r < 0 ? e.msg : NULL);
}

static int arm(uint64_t due)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(due / 1000000000ULL), .tv_nsec = (long)(due % 1000000000ULL) },
	};

	return timerfd_settime(S.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

/* A repeating schedule more than a whole period behind: skip to the cycle
 * the clock is in, at the same step. */
static void skip_missed(uint64_t now)
{
	uint64_t late = now - due_ns(S.next, S.cycle), period = S.sc->period_ms * NS_PER_MS, n;

	if (!S.sc->repeat || late <= period)
		return;
	n = late / period;
	say("schedule %s: %llu ms behind; %llu cycle%s skipped", S.sc->name,
	    (unsigned long long)(late / NS_PER_MS), (unsigned long long)n, n == 1 ? "" : "s");
	S.cycle += n;
}

/* Begin every step that is due, then arm the timer for the next. */
static void advance(void)
{
	unsigned gen = S.gen;

	while (S.running && S.gen == gen && !S.finishing) {
		uint64_t now = mono_ns(), due = due_ns(S.next, S.cycle), cycle;
		int i, r;

		if (due > now) {
			if ((r = arm(due)) < 0) {
				say("schedule %s: cannot arm its timer: %s", S.sc->name, strerror(-r));
				end("stopped");
			}
			return;
		}
		skip_missed(now);
		due = due_ns(S.next, S.cycle);
		i = S.next;
		cycle = S.cycle;
		if (++S.next == S.sc->nsteps) {
			if (S.sc->repeat) {
				S.next = 0;
				S.cycle++;
			} else {
				S.finishing = true;
			}
		}
		run_step(i, cycle, due);
	}
	if (S.running && S.gen == gen && S.finishing && !S.pending)
		end("done");
}

static void on_timer(struct loop_watch *w, uint32_t events)
{
	uint64_t n;

	(void)w, (void)events;
	/* An expiry of a timer closed in this batch reads nothing here. */
	if (S.fd < 0 || read(S.fd, &n, sizeof(n)) != sizeof(n))
		return;
	advance();
}

int schedule_run(const struct topo_schedule *sc, struct err *e)
{
	int r;

	if (S.running)
		return err_set(e, EBUSY, "schedule %s is running (step %d of %d): stop it first", S.sc->name,
			       S.begun, S.sc->nsteps);
	free_recs();
	S.sc = NULL;
	if (!(S.recs = calloc(sc->nsteps ? sc->nsteps : 1, sizeof(*S.recs))))
		return err_set(e, ENOMEM, "out of memory");
	S.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (S.fd < 0 || (S.w.cb = on_timer, (r = loop_add(S.fd, EPOLLIN, &S.w))) < 0) {
		r = S.fd < 0 ? -errno : r;
		if (S.fd >= 0)
			close(S.fd);
		S.fd = -1;
		free(S.recs);
		S.recs = NULL;
		return err_sys(e, -r, "schedule %s: cannot make its timer", sc->name);
	}
	S.sc = sc;
	S.gen++;
	S.running = true;
	S.reason = NULL;
	S.cycle = 0;
	S.next = 0;
	S.begun = 0;
	S.begun_cycle = 0;
	S.pending = 0;
	S.finishing = false;
	S.start_ns = mono_ns();
	S.start_real = real_s();
	say("schedule %s: started, %d step%s%s", sc->name, sc->nsteps, sc->nsteps == 1 ? "" : "s",
	    sc->repeat ? ", repeating" : "");
	/* Steps at +0s begin now, before the reply. */
	advance();
	return 0;
}

int schedule_stop(const char *reason)
{
	if (!S.running)
		return 0;
	end(reason);
	return 1;
}

json_t *schedule_status_json(bool full)
{
	const struct topo_schedule *sc = S.sc;
	bool has_next = S.running && !S.finishing;
	json_t *o, *steps;

	if (!full)
		return S.running ? json_pack("{s:s, s:i, s:o}", "name", sc->name, "step", S.begun, "next_at_ms",
					     has_next ? json_integer((json_int_t)plan_ms(S.next, S.cycle)) : json_null())
				 : json_null();
	if (!sc)
		return json_null();
	o = json_pack("{s:s, s:b, s:s?, s:b, s:f, s:I, s:i}", "name", sc->name, "running", S.running,
		      "reason", S.running ? NULL : S.reason, "repeat", sc->repeat, "started", S.start_real,
		      "cycle", (json_int_t)S.begun_cycle + 1,
		      "step", S.begun);
	steps = json_array();
	if (!o || !steps)
		goto nomem;
	if (sc->repeat && json_object_set_new(o, "period_ms", json_integer((json_int_t)sc->period_ms)) < 0)
		goto nomem;
	if (has_next && (json_object_set_new(o, "next_step", json_integer(S.next + 1)) < 0 ||
			 json_object_set_new(o, "next_at_ms", json_integer((json_int_t)plan_ms(S.next, S.cycle))) < 0))
		goto nomem;
	for (int i = 0; i < sc->nsteps; i++) {
		const struct step_rec *rec = &S.recs[i];
		json_t *s = json_pack("{s:i, s:I, s:s, s:i}", "step", i + 1, "at_ms", (json_int_t)sc->steps[i].at_ms,
				      "action", sc->steps[i].action, "runs", rec->runs);

		if (s && rec->runs &&
		    json_object_set_new(s, "last", json_pack("{s:b, s:f, s:s?, s:f}", "ok", rec->ok, "late_ms",
							     rec->late_ms, "error", rec->error, "time", rec->time)) < 0) {
			json_decref(s);
			s = NULL;
		}
		if (json_array_append_new(steps, s) < 0)
			goto nomem;
	}
	if (json_object_set_new(o, "steps", steps) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
nomem:
	json_decref(steps);
	json_decref(o);
	return NULL;
}

void schedule_close(void)
{
	schedule_stop("shutdown");
	free_recs();
	S.sc = NULL;
	S.gen++; /* calls still out belong to no run now */
	close_timer();
}

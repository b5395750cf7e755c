/* test_schedule.c - [schedule NAME] sections as the parser reads them, and
 * the running schedule (launcher/schedule.c) on the real loop: each step
 * through recording ops at its absolute time, the events a subscriber on
 * the real control socket gets, no drift from a slow step or over repeated
 * cycles, missed cycles skipped, an op that finishes later, stop, status.
 *
 * Timing asserts are the issue's: a step lands within 10 ms of its plan.
 * The steps here are tens of milliseconds apart, so a test takes well
 * under a second.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/loop.h"
#include "launcher/control.h"
#include "launcher/events.h"
#include "launcher/schedule.h"
#include "launcher/topology.h"

#define DATA TEST_DATA "/topology"
#define TOL_NS (10 * 1000000LL) /* the 10 ms */

/* ---- the parser ---- */

static char bindir[] = "/tmp/test-schedule-XXXXXX";
static char qemu[64];

static void topo_setup(void)
{
	int fd;

	cr_assert_not_null(mkdtemp(bindir));
	snprintf(qemu, sizeof(qemu), "%s/qemu-system-x86_64", bindir);
	fd = open(qemu, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	setenv("PATH", bindir, 1);
	cr_assert_eq(chdir(DATA), 0);
}

static void topo_teardown(void)
{
	unlink(qemu);
	rmdir(bindir);
}

TestSuite(schedule_topo, .init = topo_setup, .fini = topo_teardown);

Test(schedule_topo, steps_sorted_normalised_and_periods)
{
	struct topology *t;
	struct topo_schedule *sc;
	static const struct {
		uint64_t at;
		enum topo_step_kind kind;
		const char *action, *arg;
		bool up;
	} want[] = {
		{ 250, TOPO_STEP_PROFILE, "profile default", "default", false },
		{ 10000, TOPO_STEP_PROFILE, "profile lossy", "lossy", false },
		{ 30000, TOPO_STEP_PARTITION, "partition n100-1 | n100-2,jetson-1", "n100-1 | n100-2,jetson-1", false },
		{ 31500, TOPO_STEP_PARTITION, "partition n100-1,n100-2 -> jetson-1", "n100-1,n100-2 -> jetson-1", false },
		{ 60000, TOPO_STEP_HEAL, "heal", NULL, false },
		{ 75000, TOPO_STEP_LINK, "link jetson-1 down", "jetson-1", false },  /* file order at one time */
		{ 75000, TOPO_STEP_LINK, "link n100-2/1 down", "n100-2/1", false },
		{ 80000, TOPO_STEP_LINK, "link jetson-1 up", "jetson-1", true },
	};

	cr_assert_eq(topo_load("valid-schedule.conf", NULL, &t), 0);
	cr_assert_str_eq(t->fabric.schedule, "flap");
	cr_assert_eq(t->nschedules, 3);
	sc = topo_find_schedule(t, "flap");
	cr_assert_not_null(sc);
	cr_assert_eq(sc->nsteps, 8);
	for (int i = 0; i < 8; i++) {
		const struct topo_step *st = &sc->steps[i];

		cr_expect_eq(st->at_ms, want[i].at, "step %d at %llu", i, (unsigned long long)st->at_ms);
		cr_expect_eq(st->kind, want[i].kind, "step %d", i);
		cr_expect_str_eq(st->action, want[i].action, "step %d", i);
		if (want[i].arg)
			cr_expect_str_eq(st->arg, want[i].arg, "step %d", i);
		else
			cr_expect_null(st->arg);
		cr_expect_eq(st->up, want[i].up, "step %d", i);
	}
	cr_expect(sc->repeat);
	cr_expect_eq(sc->period_ms, 80000, "repeat = yes: the last step's time");
	sc = topo_find_schedule(t, "once");
	cr_expect(!sc->repeat);
	cr_expect_eq(sc->steps[0].at_ms, 0);
	cr_expect_eq(sc->steps[1].at_ms, 1);
	sc = topo_find_schedule(t, "every");
	cr_expect(sc->repeat);
	cr_expect_eq(sc->period_ms, 90000);
	cr_expect_null(topo_find_schedule(t, "nosuch"));
	topo_free(t);
}

/* ---- the running schedule ---- */

static char dir[64], sock_path[128];

static void dispatch(struct control_client *c, json_t *req)
{
	(void)req;
	cr_assert_eq(events_subscribe(c, NULL, 0), 0);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* What the ops saw: one entry per call. */
static struct call {
	uint64_t ns;
	char what[128];
} calls[256];
static int ncalls;
static int busy_ms;                 /* the next profile op takes this long */
static struct schedule_call *later; /* a link op that finishes later */
static struct loop_timer later_timer;
static int later_r;

static void record(const char *fmt, const char *a, const char *b)
{
	cr_assert_lt(ncalls, 256);
	calls[ncalls].ns = mono_ns();
	snprintf(calls[ncalls].what, sizeof(calls[0].what), fmt, a, b);
	ncalls++;
}

static int op_profile(void *opaque, const char *profile, struct err *e)
{
	(void)opaque;
	record("profile %s%s", profile, "");
	if (busy_ms) { /* a slow step: holds the loop */
		uint64_t until = mono_ns() + (uint64_t)busy_ms * 1000000;

		busy_ms = 0;
		while (mono_ns() < until)
			;
	}
	if (!strcmp(profile, "bad"))
		return err_set(e, EINVAL, "no profile \"bad\"");
	return 0;
}

static int op_partition(void *opaque, const char *spec, struct err *e)
{
	(void)opaque, (void)e;
	record("partition %s%s", spec, "");
	return 0;
}

static void later_fire(struct loop_timer *t)
{
	struct schedule_call *c = later;

	(void)t;
	later = NULL;
	schedule_call_done(c, later_r, later_r ? "QEMU said no" : NULL);
}

static int op_link(void *opaque, const char *vm, int nic, bool up, struct schedule_call *call, struct err *e)
{
	char buf[64];

	(void)opaque, (void)e;
	snprintf(buf, sizeof(buf), "%s/%d", vm, nic);
	record("link %s %s", buf, up ? "up" : "down");
	later = call;
	cr_assert_eq(loop_timer_arm(&later_timer, 30), 0);
	return 1;
}

static char loglines[64][256];
static int nlog;

static void op_log(void *opaque, const char *line)
{
	(void)opaque;
	if (nlog < 64)
		snprintf(loglines[nlog++], sizeof(loglines[0]), "%s", line);
}

static void setup(void)
{
	static const struct schedule_ops ops = {
		.profile = op_profile, .partition = op_partition, .link = op_link, .log = op_log,
	};

	strcpy(dir, "/tmp/n3x-sched-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/control.sock", dir);
	cr_assert_eq(loop_open(), 0);
	cr_assert_eq(control_open(sock_path, dispatch), 0);
	loop_timer_init(&later_timer, later_fire);
	schedule_set_ops(&ops);
	ncalls = nlog = busy_ms = later_r = 0;
	later = NULL;
}

static void teardown(void)
{
	schedule_close();
	loop_timer_close(&later_timer);
	control_close();
	loop_close();
	unlink(sock_path);
	rmdir(dir);
}

TestSuite(schedule, .init = setup, .fini = teardown);

/* A schedule made here, as the parser would: steps sorted by time. */
struct sched {
	struct topo_schedule sc;
	struct topo_step steps[8];
};

static void add(struct sched *s, uint64_t at, enum topo_step_kind kind, const char *arg, bool up)
{
	struct topo_step *st = &s->steps[s->sc.nsteps++];
	char action[128];

	switch (kind) {
	case TOPO_STEP_PROFILE: snprintf(action, sizeof(action), "profile %s", arg); break;
	case TOPO_STEP_PARTITION: snprintf(action, sizeof(action), "partition %s", arg); break;
	case TOPO_STEP_HEAL: snprintf(action, sizeof(action), "heal"); break;
	case TOPO_STEP_LINK: snprintf(action, sizeof(action), "link %s %s", arg, up ? "up" : "down"); break;
	}
	*st = (struct topo_step){ .at_ms = at, .kind = kind, .action = strdup(action),
				  .arg = arg ? strdup(arg) : NULL, .up = up };
	s->sc.steps = s->steps;
}

/* The schedule module keeps a pointer to its last run: let go first. */
static void sched_free(struct sched *s)
{
	schedule_close();
	for (int i = 0; i < s->sc.nsteps; i++) {
		free(s->steps[i].action);
		free(s->steps[i].arg);
	}
}

/* Run the loop until the schedule is no longer running, or limit_ms. */
static void run_until_ended(int limit_ms)
{
	uint64_t end = mono_ns() + (uint64_t)limit_ms * 1000000;

	while (schedule_running() && mono_ns() < end)
		loop_run_once(5);
	cr_assert_null(schedule_running(), "still running after %d ms", limit_ms);
}

static void run_for(int ms)
{
	uint64_t end = mono_ns() + (uint64_t)ms * 1000000;

	while (mono_ns() < end)
		loop_run_once(2);
}

/* A subscriber on the control socket, answered. */
static int subscribe(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[64];
	ssize_t n;

	strcpy(sa.sun_path, sock_path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(write(fd, "{\"cmd\":\"events\"}\n", 17), 17);
	for (int i = 0; i < 100; i++) {
		loop_run_once(5);
		if ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
			buf[n] = '\0';
			cr_assert_str_eq(buf, "{\"ok\":true}\n");
			return fd;
		}
	}
	cr_assert_fail("no answer to the subscription");
	return -1;
}

/* Every event line the subscriber has now, parsed, into evs. */
static int read_events(int fd, json_t **evs, int max)
{
	static char buf[1 << 16];
	size_t len = 0;
	ssize_t n;
	int count = 0;

	while ((n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	for (char *line = buf, *nl; (nl = strchr(line, '\n')) && count < max; line = nl + 1) {
		*nl = '\0';
		evs[count] = json_loads(line, 0, NULL);
		cr_assert_not_null(evs[count], "not JSON: %s", line);
		count++;
	}
	return count;
}

static double real_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Five steps: each op called within 10 ms of its plan, each an event
 * whose time is the plan's within 10 ms, then schedule-end "done". */
Test(schedule, five_steps_on_time_with_events)
{
	struct sched s = { .sc = { .name = "five" } };
	int fd = subscribe();
	uint64_t before, after;
	double rbefore, rafter, started;
	json_t *evs[16], *st;
	int n;
	struct err e;

	add(&s, 0, TOPO_STEP_PROFILE, "lossy", false);
	add(&s, 40, TOPO_STEP_PARTITION, "a | b,c", false);
	add(&s, 80, TOPO_STEP_PROFILE, "bad", false);
	add(&s, 120, TOPO_STEP_HEAL, NULL, false);
	add(&s, 160, TOPO_STEP_LINK, "a/0", false);
	rbefore = real_s();
	before = mono_ns();
	cr_assert_eq(schedule_run(&s.sc, &e), 0, "%s", e.msg);
	after = mono_ns();
	rafter = real_s();
	cr_assert_eq(ncalls, 1, "a +0 step runs before schedule_run returns");
	st = schedule_status_json(true);
	started = json_real_value(json_object_get(st, "started"));
	cr_assert_geq(started, rbefore - 0.001);
	cr_assert_leq(started, rafter + 0.001);
	json_decref(st);
	run_until_ended(2000);
	/* heal has no op here: it failed and the schedule went on */
	cr_assert_eq(ncalls, 4);
	static const uint64_t at[] = { 0, 40, 80, 160 };
	static const char *const what[] = { "profile lossy", "partition a | b,c", "profile bad", "link a/0 down" };
	for (int i = 0; i < 4; i++) {
		cr_expect_str_eq(calls[i].what, what[i]);
		cr_expect_geq(calls[i].ns, before + at[i] * 1000000, "step %d early", i);
		cr_expect_leq(calls[i].ns, after + at[i] * 1000000 + TOL_NS, "step %d %.1f ms late", i,
			      (calls[i].ns - before - at[i] * 1000000) / 1e6);
	}

	n = read_events(fd, evs, 16);
	cr_assert_eq(n, 6, "5 steps and the end: %d events", n);
	static const char *const action[] = { "profile lossy", "partition a | b,c", "profile bad", "heal",
					      "link a/0 down" };
	for (int i = 0; i < 5; i++) {
		json_t *d = json_object_get(evs[i], "data");
		double t = json_real_value(json_object_get(evs[i], "time"));
		double plan = started + (double)s.steps[i].at_ms / 1000;

		cr_expect_str_eq(json_string_value(json_object_get(evs[i], "kind")), "schedule");
		cr_expect(json_is_null(json_object_get(evs[i], "vm")));
		cr_expect_str_eq(json_string_value(json_object_get(d, "name")), "five");
		cr_expect_eq(json_integer_value(json_object_get(d, "step")), i + 1);
		cr_expect_eq(json_integer_value(json_object_get(d, "cycle")), 1);
		cr_expect_eq(json_integer_value(json_object_get(d, "at_ms")), (json_int_t)s.steps[i].at_ms);
		cr_expect_str_eq(json_string_value(json_object_get(d, "action")), action[i]);
		cr_expect_leq(json_number_value(json_object_get(d, "late_ms")), 10.0);
		/* the event's time is the plan's: ms resolution on both sides */
		cr_expect_geq(t, plan - 0.002, "step %d: time %.3f, plan %.3f", i + 1, t, plan);
		cr_expect_leq(t, plan + 0.010 + 0.002, "step %d: time %.3f, plan %.3f", i + 1, t, plan);
		cr_expect_eq(json_is_true(json_object_get(d, "ok")), i != 2 && i != 3, "step %d ok", i + 1);
		cr_expect_eq(json_object_get(d, "error") != NULL, i == 2 || i == 3, "step %d: error only when failed",
			     i + 1);
	}
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(evs[2], "data"), "error")),
			 "no profile \"bad\"");
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(evs[3], "data"), "error")),
			 "partitions are not built in");
	/* The link step finished 30 ms after it began; its event still has
	 * its start as time, and came before the end. */
	cr_expect_str_eq(json_string_value(json_object_get(evs[5], "kind")), "schedule-end");
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(evs[5], "data"), "reason")), "done");
	for (int i = 0; i < n; i++)
		json_decref(evs[i]);

	/* The last run stays for `schedule status`. */
	st = schedule_status_json(true);
	cr_expect(json_is_false(json_object_get(st, "running")));
	cr_expect_str_eq(json_string_value(json_object_get(st, "reason")), "done");
	cr_expect_eq(json_integer_value(json_object_get(st, "step")), 5);
	cr_expect_eq(json_array_size(json_object_get(st, "steps")), 5);
	json_t *s4 = json_array_get(json_object_get(st, "steps"), 3);
	cr_expect_eq(json_integer_value(json_object_get(s4, "runs")), 1);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(s4, "last"), "error")),
			 "partitions are not built in");
	json_decref(st);
	st = schedule_status_json(false);
	cr_expect(json_is_null(st), "fabric.schedule is null once it ended");
	json_decref(st);
	cr_expect(strstr(loglines[nlog - 1], "schedule five: done after step 5 of 5"), "%s", loglines[nlog - 1]);
	close(fd);
	sched_free(&s);
}

/* A step that holds the loop for 70 ms makes the next one late, but the
 * one after lands on its own time: nothing accumulates. */
Test(schedule, a_slow_step_moves_no_later_step)
{
	struct sched s = { .sc = { .name = "slow" } };
	uint64_t before;
	struct err e;

	add(&s, 10, TOPO_STEP_PROFILE, "slow", false);
	add(&s, 30, TOPO_STEP_PARTITION, "a | b", false);
	add(&s, 120, TOPO_STEP_PARTITION, "a -> b", false);
	busy_ms = 70;
	before = mono_ns();
	cr_assert_eq(schedule_run(&s.sc, &e), 0);
	run_until_ended(2000);
	cr_assert_eq(ncalls, 3);
	/* step 2 was due at +30 but the loop was busy until about +80 */
	cr_expect_geq(calls[1].ns - before, 75 * 1000000ULL);
	cr_expect_geq(calls[2].ns, before + 120 * 1000000ULL);
	cr_expect_leq(calls[2].ns, before + 120 * 1000000ULL + TOL_NS, "step 3 %.1f ms after +120",
		      (calls[2].ns - before) / 1e6 - 120);
	sched_free(&s);
}

/* repeat: cycle k's steps at k x period + at; after ten cycles the last
 * step is as close to its plan as the first. */
Test(schedule, repeat_rebases_on_the_period)
{
	struct sched s = { .sc = { .name = "loop", .repeat = true, .period_ms = 50 } };
	uint64_t before;
	struct err e;
	json_t *st;

	add(&s, 10, TOPO_STEP_PARTITION, "a | b", false);
	add(&s, 35, TOPO_STEP_PROFILE, "p", false);
	before = mono_ns();
	cr_assert_eq(schedule_run(&s.sc, &e), 0);
	while (ncalls < 20)
		loop_run_once(5);
	st = schedule_status_json(false);
	cr_expect_str_eq(json_string_value(json_object_get(st, "name")), "loop");
	cr_expect_eq(json_integer_value(json_object_get(st, "step")), 2);
	cr_expect_eq(json_integer_value(json_object_get(st, "next_at_ms")), 10 * 50 + 10);
	json_decref(st);
	cr_assert_eq(schedule_stop("stopped"), 1);
	cr_assert_eq(schedule_stop("stopped"), 0, "stopping twice is nothing");
	for (int i = 0; i < 20; i++) {
		uint64_t plan = before + ((uint64_t)(i / 2) * 50 + s.steps[i % 2].at_ms) * 1000000;

		cr_expect_str_eq(calls[i].what, i % 2 ? "profile p" : "partition a | b");
		cr_expect_geq(calls[i].ns, plan, "call %d early", i);
		cr_expect_leq(calls[i].ns, plan + TOL_NS, "call %d %.1f ms late", i, (calls[i].ns - plan) / 1e6);
	}
	st = schedule_status_json(true);
	cr_expect_str_eq(json_string_value(json_object_get(st, "reason")), "stopped");
	cr_expect_eq(json_integer_value(json_object_get(st, "cycle")), 10);
	cr_expect_eq(json_integer_value(json_object_get(st, "period_ms")), 50);
	cr_expect_eq(json_integer_value(json_object_get(json_array_get(json_object_get(st, "steps"), 0), "runs")), 10);
	json_decref(st);
	/* stopped: no step runs any more */
	run_for(120);
	cr_expect_eq(ncalls, 20);
	sched_free(&s);
}

/* A loop held up for more than a whole period skips the missed cycles
 * instead of running them back to back. */
Test(schedule, missed_cycles_are_skipped)
{
	struct sched s = { .sc = { .name = "skip", .repeat = true, .period_ms = 20 } };
	struct err e;

	add(&s, 5, TOPO_STEP_PARTITION, "a | b", false);
	cr_assert_eq(schedule_run(&s.sc, &e), 0);
	usleep(110 * 1000); /* five and a half periods without the loop */
	run_for(15);
	schedule_stop("stopped");
	/* not the five missed calls at once: one for the current cycle,
	 * maybe the next */
	cr_expect_leq(ncalls, 2, "%d calls", ncalls);
	cr_expect_geq(ncalls, 1);
	bool said = false;
	for (int i = 0; i < nlog; i++)
		said |= strstr(loglines[i], "cycles skipped") != NULL;
	cr_expect(said, "the skip is logged");
	sched_free(&s);
}

Test(schedule, one_at_a_time_and_stop_while_a_step_is_out)
{
	struct sched a = { .sc = { .name = "a" } }, b = { .sc = { .name = "b" } };
	struct err e;
	json_t *st;

	add(&a, 0, TOPO_STEP_LINK, "v", true);
	add(&a, 500, TOPO_STEP_HEAL, NULL, false);
	add(&b, 0, TOPO_STEP_PROFILE, "p", false);
	cr_assert_eq(schedule_run(&a.sc, &e), 0);
	cr_assert_not_null(later, "the link step is out");
	cr_expect_eq(schedule_run(&b.sc, &e), -EBUSY);
	cr_expect_str_eq(e.msg, "schedule a is running (step 1 of 2): stop it first");
	cr_expect_str_eq(schedule_running(), "a");
	cr_assert_eq(schedule_stop("stopped"), 1);
	cr_expect_null(schedule_running());
	/* A new run while the old one's step is still out: that step's
	 * answer counts for neither. */
	cr_assert_eq(schedule_run(&b.sc, &e), 0);
	cr_expect_null(schedule_running(), "b's one step at +0 ran at once");
	run_for(60);
	cr_assert_null(later, "the link step finished");
	st = schedule_status_json(true);
	cr_expect_str_eq(json_string_value(json_object_get(st, "name")), "b");
	cr_expect_str_eq(json_string_value(json_object_get(st, "reason")), "done");
	json_decref(st);
	bool said = false;
	for (int i = 0; i < nlog; i++)
		said |= strstr(loglines[i], "schedule a: step 1 (+0s) link v up: ok") != NULL;
	cr_expect(said, "the late answer is still logged");
	sched_free(&a);
	sched_free(&b);
}

/* A schedule whose last step is out ends once it is answered. */
Test(schedule, ends_after_its_last_step_is_answered)
{
	struct sched s = { .sc = { .name = "end" } };
	struct err e;

	add(&s, 0, TOPO_STEP_LINK, "v/1", false);
	later_r = -EIO;
	cr_assert_eq(schedule_run(&s.sc, &e), 0);
	cr_expect_str_eq(schedule_running(), "end", "running while its step is out");
	run_until_ended(500);
	json_t *st = schedule_status_json(true);
	json_t *last = json_object_get(json_array_get(json_object_get(st, "steps"), 0), "last");
	cr_expect(json_is_false(json_object_get(last, "ok")));
	cr_expect_str_eq(json_string_value(json_object_get(last, "error")), "QEMU said no");
	json_decref(st);
	sched_free(&s);
}

/* test_guest_vm.c - exec in the guest (launcher/guest.h) and each VM's
 * readiness (ready.c, --wait-ready), end to end with a fake QEMU, as
 * tests/test_vm.c does: vm_set_spawn() hands QEMU's serial, monitor and
 * agent sockets to the test, which plays QEMU's monitor and a qemu-ga that
 * runs scripted processes, between rounds of the real loop.  The VM's
 * observer is the supervisor's own (waiters, readiness, exec).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/loop.h"
#include "launcher/guest.h"
#include "launcher/supervisor_impl.h"
#include "tests/fake_qemu.h"

#define TIMEOUT_MS 10000

/* ---- the fake QEMU and its guest agent ---- */

static struct {
	int ctl;                /* the stand-in's exit, -1 once decided */
	struct peer mon;        /* QEMU's end of the monitor */
	struct fake_socks l;    /* what QEMU listens on */
	int serial;             /* QEMU's end of the serial port */
	struct peer agent;      /* the guest's agent */
	int spawns;
	bool agent_silent;      /* answers only guest-sync* */
	/* the processes guest-exec runs */
	int execs;              /* guest-exec requests */
	int polls;              /* guest-exec-status requests */
	char last_exec[512];    /* the arguments of the last guest-exec, as JSON */
	const char *exec_error; /* guest-exec fails with this desc */
	int running_polls;      /* status says running this many times first */
	int fail_first;         /* the first N processes exit 1 with stderr "not yet" */
	const char *status;     /* the final status's fields ("\"exitcode\":0") */
} q;

static void qemu_exit(int status)
{
	char s[16];
	int n = snprintf(s, sizeof(s), "%d\n", status);

	peer_close(&q.mon);
	peer_close(&q.agent);
	if (q.serial >= 0)
		close(q.serial);
	q.serial = -1;
	fake_socks_close(&q.l);
	cr_assert_geq(q.ctl, 0);
	cr_assert_eq(write(q.ctl, s, n), n);
	close(q.ctl);
	q.ctl = -1;
}

static int fake_spawn(struct child *c, char *const argv[], const int *fds, int nfds)
{
	int r;

	cr_assert_str_eq(argv[0], "qemu-system-x86_64");
	if ((r = standin(c, &q.ctl)) < 0)
		return r;
	q.spawns++;
	fake_socks_take(&q.l, fds, nfds);
	return 0;
}

static void qemu_serve(void)
{
	char *line;

	fake_socks_accept(&q.l, &q.serial, &q.mon, &q.agent);
	while ((line = peer_line(&q.mon))) {
		json_t *msg = json_loads(line, 0, NULL);
		const char *cmd = json_string_value(json_object_get(msg, "execute"));
		char *ids = json_dumps(json_object_get(msg, "id"), JSON_ENCODE_ANY);

		cr_assert_not_null(cmd, "no command: %s", line);
		if (strcmp(cmd, "query-status") == 0)
			peer_send(&q.mon, "{\"return\": {\"status\": \"running\", \"running\": true}, "
				  "\"id\": %s}", ids);
		else
			peer_send(&q.mon, "{\"return\": {}, \"id\": %s}", ids);
		if (strcmp(cmd, "system_powerdown") == 0 || strcmp(cmd, "quit") == 0) {
			peer_send(&q.mon, "{\"event\": \"SHUTDOWN\", \"data\": {}}");
			qemu_exit(0);
		}
		free(ids);
		json_decref(msg);
		free(line);
	}
}

/* One command to the agent: answer it as qemu-ga would. */
static void agent_answer(struct peer *p, const char *cmd, json_t *args)
{
	json_t *id = json_object_get(args, "id");
	char *a;

	if (strcmp(cmd, "guest-sync-delimited") == 0) {
		cr_assert_eq(send(p->fd, "\xff", 1, MSG_NOSIGNAL), 1);
		peer_send(p, "{\"return\": %" JSON_INTEGER_FORMAT "}", json_integer_value(id));
	} else if (q.agent_silent) {
		return;
	} else if (strcmp(cmd, "guest-exec") == 0) {
		q.execs++;
		a = json_dumps(args, JSON_SORT_KEYS);
		snprintf(q.last_exec, sizeof(q.last_exec), "%s", a);
		free(a);
		if (q.exec_error)
			peer_send(p, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"%s\"}}",
				  q.exec_error);
		else
			peer_send(p, "{\"return\": {\"pid\": %d}}", 100 + q.execs);
	} else if (strcmp(cmd, "guest-exec-status") == 0) {
		q.polls++;
		if (q.running_polls > 0) {
			q.running_polls--;
			peer_send(p, "{\"return\": {\"exited\": false}}");
		} else if (q.fail_first > 0) {
			q.fail_first--;
			/* "not yet\n" */
			peer_send(p, "{\"return\": {\"exited\": true, \"exitcode\": 1, "
				  "\"err-data\": \"bm90IHlldAo=\"}}");
		} else {
			peer_send(p, "{\"return\": {\"exited\": true, %s}}",
				  q.status ? q.status : "\"exitcode\": 0");
		}
	} else {
		peer_send(p, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"no %s\"}}", cmd);
	}
}

static void agent_serve(void)
{
	struct peer *p = &q.agent;
	ssize_t n;

	if (p->fd < 0)
		return;
	while (p->len < sizeof(p->buf) &&
	       (n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, MSG_DONTWAIT)) > 0)
		p->len += n;
	for (;;) {
		size_t skip = 0;
		json_error_t jerr;
		json_t *msg;

		while (skip < p->len && strchr("\xff \t\r\n", p->buf[skip]))
			skip++;
		memmove(p->buf, p->buf + skip, p->len - skip);
		p->len -= skip;
		if (!p->len || !(msg = json_loadb(p->buf, p->len, JSON_DISABLE_EOF_CHECK, &jerr)))
			return;
		memmove(p->buf, p->buf + jerr.position, p->len - jerr.position);
		p->len -= jerr.position;
		cr_assert_not_null(json_string_value(json_object_get(msg, "execute")));
		agent_answer(p, json_string_value(json_object_get(msg, "execute")),
			     json_object_get(msg, "arguments"));
		json_decref(msg);
	}
}

static void agent_port(bool open)
{
	peer_send(&q.mon, "{\"event\": \"VSERPORT_CHANGE\", \"data\": {\"open\": %s, \"id\": "
		  "\"ga0port\"}}", open ? "true" : "false");
}

/* ---- the supervisor around one VM ---- */

static char dir[64], run_dir[96], state_dir[96];
static struct topology topo;
static struct topo_vm cfg;
static struct vm *vm;

static void on_state(struct vm *v, enum vm_state from, const char *why)
{
	sup_on_state(v, from, why);
	sup_ready_on_state(v);
}

static int on_nics_up(struct vm *v, int *fds, struct err *e)
{
	(void)v, (void)fds, (void)e;
	return 0;
}

static void on_nics_down(struct vm *v)
{
	(void)v;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	static const struct vm_observer obs = {
		.state = on_state, .console_line = sup_on_console_line, .agent = sup_on_agent,
		.nics_up = on_nics_up, .nics_down = on_nics_down,
	};

	signal(SIGPIPE, SIG_IGN);
	strcpy(dir, "/tmp/n3x-test-guest-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	cr_assert_eq(loop_open(), 0);
	vm_set_spawn(fake_spawn);
	vm_set_observer(&obs);
	q.ctl = q.serial = q.mon.fd = q.agent.fd = -1;
	q.l = (struct fake_socks){ -1, -1, -1 };
	cfg = (struct topo_vm){
		.name = "t1", .arch = TOPO_ARCH_X86_64, .memory_mib = 64, .vcpus = 1,
		.restart = TOPO_RESTART_NO, .autostart = true, .stop_timeout_s = 1,
	};
	topo = (struct topology){ .path = "t.conf", .fabric = { .name = "tf" }, .nvms = 1, .vms = &cfg };
	sup.topo = &topo;
}

static void teardown(void)
{
	sup_wait_ready_abort("the test ended");
	sup_waiters_fail_all("the test ended");
	sup_ready_free();
	guest_exec_fail_all("the test ended");
	if (vm && vm_state(vm) != VM_STOPPED && vm_state(vm) != VM_CRASHED)
		vm_kill(vm);
	vm_free(vm);
	free(sup.vms);
	if (q.ctl >= 0)
		close(q.ctl);
	peer_close(&q.mon);
	peer_close(&q.agent);
	if (q.serial >= 0)
		close(q.serial);
	fake_socks_close(&q.l);
	loop_close();
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(guest_vm, .init = setup, .fini = teardown, .timeout = 30);

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

#define PUMP_UNTIL(cond) do { \
	long long dl_ = now_ms() + TIMEOUT_MS; \
	while (!(cond)) { \
		cr_assert_lt(now_ms(), dl_, "timed out waiting for " #cond); \
		cr_assert_geq(loop_run_once(5), 0); \
		qemu_serve(); \
		agent_serve(); \
	} \
} while (0)

static void pump_ms(int ms)
{
	long long end = now_ms() + ms;

	while (now_ms() < end) {
		cr_assert_geq(loop_run_once(5), 0);
		qemu_serve();
		agent_serve();
	}
}

/* The VM, made and registered as the supervisor would, then started. */
static void start_running(void)
{
	static const struct accel_choice tcg = { .kvm = false, .reason = "accel=tcg" };
	struct err e = { 0 };
	char path[PATH_MAX];
	int fd;

	cr_assert_eq(vm_new(&cfg, &tcg, run_dir, state_dir, false, &vm, &e), 0, "%s", e.msg);
	/* The snapshots' state image exists, as after a first start. */
	snprintf(path, sizeof(path), "%s/vm/%s/state.qcow2", state_dir, cfg.name);
	cr_assert_geq(fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600), 0);
	close(fd);
	sup.vms = calloc(1, sizeof(*sup.vms));
	cr_assert_not_null(sup.vms);
	sup.vms[0] = vm;
	sup.nvms = 1;
	cr_assert_eq(sup_ready_init(), 0);
	cr_assert_eq(vm_start(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
}

static void agent_up(void)
{
	agent_port(true);
	PUMP_UNTIL(vm_agent_up(vm));
}

/* ---- exec ---- */

static struct {
	int calls;
	json_t *result;
	char msg[ERR_MSG_MAX];
} done;

static void exec_done(void *opaque, json_t *result, const struct err *e)
{
	(void)opaque;
	done.calls++;
	done.result = json_incref(result);
	snprintf(done.msg, sizeof(done.msg), "%s", result ? "" : e->msg);
}

static int run(const char *path, const char *args_json, double timeout, struct err *e)
{
	json_t *a = args_json ? json_loads(args_json, 0, NULL) : NULL, *args;
	int r;

	cr_assert_eq(guest_exec_args(path, a, NULL, NULL, &args, e), 0);
	json_decref(a);
	r = guest_exec_start(vm, args, path, timeout, exec_done, NULL, NULL, e);
	cr_assert_eq(done.calls, 0, "done is never called from inside the start");
	return r;
}

Test(guest_vm, exec_polls_until_the_process_exited)
{
	struct err e;
	long long t0;

	start_running();
	agent_up();
	q.running_polls = 3;
	q.status = "\"exitcode\": 3, \"out-data\": \"aGkK\", \"err-truncated\": true";
	t0 = now_ms();
	cr_assert_eq(run("sh", "[\"-c\", \"exit 3\"]", 0, &e), 0, "%s", e.msg);
	PUMP_UNTIL(done.calls);
	cr_assert_str_eq(q.last_exec, "{\"arg\": [\"-c\", \"exit 3\"], \"capture-output\": true, "
			 "\"path\": \"sh\"}");
	/* 5 ms between the polls (an eighth of a young process's run time is
	 * less): three that said running, then exited */
	cr_assert_eq(q.polls, 4);
	cr_assert_geq(now_ms() - t0, 15);
	cr_assert_eq(done.calls, 1);
	cr_assert_eq(json_integer_value(json_object_get(done.result, "exitcode")), 3);
	cr_assert_eq(json_integer_value(json_object_get(done.result, "pid")), 101);
	cr_assert_str_eq(json_string_value(json_object_get(done.result, "out")), "aGkK");
	cr_assert(json_is_true(json_object_get(done.result, "err_truncated")));
	json_decref(done.result);
}

Test(guest_vm, exec_without_an_agent_fails_at_once)
{
	struct err e;

	start_running();
	cr_assert_eq(run("hostname", NULL, 0, &e), -ENOTCONN);
	cr_assert_str_eq(e.msg, "t1: the guest agent is not connected (is qemu-guest-agent installed "
			 "and running in the guest?)");
	vm_kill(vm);
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_eq(run("hostname", NULL, 0, &e), -ENOTCONN);
	cr_assert_str_eq(e.msg, "t1: the guest agent is not connected (the VM is stopped)");
	pump_ms(50);
	cr_assert_eq(done.calls, 0);
}

Test(guest_vm, exec_passes_the_agents_error_on)
{
	struct err e;

	start_running();
	agent_up();
	q.exec_error = "Failed to execute child process “hostnamx” (No such file or directory)";
	cr_assert_eq(run("hostnamx", NULL, 0, &e), 0);
	PUMP_UNTIL(done.calls);
	cr_assert_null(done.result);
	cr_assert_str_eq(done.msg, "t1: cannot run hostnamx: Failed to execute child process “hostnamx” "
			 "(No such file or directory)");
	cr_assert_eq(q.polls, 0);
}

Test(guest_vm, exec_timeout_names_the_guest_pid_and_answers_once)
{
	struct err e;

	start_running();
	agent_up();
	q.running_polls = 1000000;
	cr_assert_eq(run("sleep", "[\"60\"]", 0.2, &e), 0);
	PUMP_UNTIL(done.calls);
	cr_assert_str_eq(done.msg, "t1: sleep still running after 0.2 s (guest pid 101)");
	/* no more polls, no second answer */
	int polls = q.polls;

	pump_ms(300);
	cr_assert_leq(q.polls, polls + 1, "an exec that timed out is polled no more");
	cr_assert_eq(done.calls, 1);
}

/* QEMU dies while a guest-exec-status is in flight: one clean failure, and
 * the agent's late callback finds nothing freed (ASan would say). */
Test(guest_vm, exec_fails_when_the_vm_goes_down)
{
	struct err e;

	cfg.restart = TOPO_RESTART_ON_FAILURE;
	start_running();
	agent_up();
	q.running_polls = 2;
	cr_assert_eq(run("sleep", "[\"60\"]", 0, &e), 0);
	PUMP_UNTIL(q.polls == 2);
	q.agent_silent = true;
	pump_ms(250);
	qemu_exit(1);
	PUMP_UNTIL(done.calls);
	cr_assert_str_eq(done.msg, "t1: the guest agent went away while sleep was running (guest pid 101)");
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	pump_ms(100);
	cr_assert_eq(done.calls, 1);
}

Test(guest_vm, cancelled_exec_is_never_answered)
{
	struct guest_exec *x;
	json_t *args;
	struct err e;

	start_running();
	agent_up();
	cr_assert_eq(guest_exec_args("true", NULL, NULL, NULL, &args, &e), 0);
	cr_assert_eq(guest_exec_start(vm, args, "true", 0, exec_done, NULL, &x, &e), 0);
	guest_exec_cancel(x); /* guest-exec in flight */
	pump_ms(200);
	cr_assert_eq(q.execs, 1);
	cr_assert_eq(q.polls, 0);
	cr_assert_eq(done.calls, 0);
}

/* ---- readiness ---- */

/* Readiness is latched for the current QEMU and starts over with the next. */
Test(guest_vm, ready_agent_is_latched_until_qemu_starts_again)
{
	cfg.ready = TOPO_READY_AGENT;
	cfg.restart = TOPO_RESTART_ON_FAILURE;
	start_running();
	pump_ms(50);
	cr_assert_not(sup_vm_ready(vm));
	agent_up();
	cr_assert(sup_vm_ready(vm));
	agent_port(false);
	PUMP_UNTIL(!vm_agent_up(vm));
	cr_assert(sup_vm_ready(vm), "latched");
	qemu_exit(1);
	PUMP_UNTIL(vm_state(vm) == VM_CRASHED);
	cr_assert_not(sup_vm_ready(vm));
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	cr_assert_eq(q.spawns, 2);
	pump_ms(50);
	cr_assert_not(sup_vm_ready(vm), "a new QEMU starts over");
	agent_up();
	cr_assert(sup_vm_ready(vm));
}

Test(guest_vm, ready_without_a_key_is_running)
{
	start_running();
	cr_assert(sup_vm_ready(vm));
	vm_kill(vm);
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_not(sup_vm_ready(vm), "no QEMU, not ready");
}

Test(guest_vm, ready_console_matches_a_line)
{
	cfg.ready = TOPO_READY_CONSOLE;
	cfg.ready_arg = "login: *$";
	start_running();
	cr_assert_eq(write(q.serial, "booting\r\n", 9), 9);
	pump_ms(50);
	cr_assert_not(sup_vm_ready(vm));
	cr_assert_eq(write(q.serial, "t1 login: ", 10), 10);
	PUMP_UNTIL(sup_vm_ready(vm)); /* an unfinished line counts once output pauses */
}

/* ready = exec CMD: /bin/sh -c CMD every second until it exits 0, then no more. */
Test(guest_vm, ready_exec_retries_until_it_succeeds)
{
	long long t0;
	int execs;

	cfg.ready = TOPO_READY_EXEC;
	cfg.ready_arg = "test -e /run/ready";
	start_running();
	pump_ms(100);
	cr_assert_eq(q.execs, 0, "nothing sent before the agent is up");
	q.fail_first = 1;
	t0 = now_ms();
	agent_up();
	PUMP_UNTIL(sup_vm_ready(vm));
	cr_assert_geq(now_ms() - t0, 900, "the second try comes a second after the first");
	cr_assert_eq(q.execs, 2);
	cr_assert_str_eq(q.last_exec, "{\"arg\": [\"-c\", \"test -e /run/ready\"], "
			 "\"capture-output\": true, \"path\": \"/bin/sh\"}");
	execs = q.execs;
	pump_ms(1300);
	cr_assert_eq(q.execs, execs, "no polling once ready");
}

/* ---- --wait-ready ---- */

/* What the parent would print, up to and with its exit code. */
static void parent_reads(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	PUMP_UNTIL((n = read(fd, buf + len, size - 1 - len)) == 0 || (n > 0 && (len += n, false)) ||
		   (n < 0 && errno != EAGAIN));
	buf[len] = '\0';
}

static int parent_pipe(int p[2])
{
	cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	return p[1];
}

Test(guest_vm, wait_ready_reports_each_vm_then_exits_0)
{
	char buf[1024];
	int p[2];

	cfg.ready = TOPO_READY_AGENT;
	start_running();
	sup_wait_ready_start(parent_pipe(p), 10);
	agent_up();
	parent_reads(p[0], buf, sizeof(buf));
	close(p[0]);
	static const char want[] = "n3x-launch: waiting up to 10 s for 1 VM to be ready\n"
				   "n3x-launch: t1 ready (agent) after ";
	double s;
	char rest[16];

	cr_assert(strncmp(buf, want, strlen(want)) == 0, "%s", buf);
	cr_assert_eq(sscanf(buf + strlen(want), "%lf s\n%15s", &s, rest), 2, "%s", buf);
	cr_assert(s >= 0 && s < 5, "%s", buf);
	cr_assert_str_eq(rest, "=0", "%s", buf);
}

Test(guest_vm, wait_ready_fails_when_the_vm_stops_for_good)
{
	char buf[1024];
	int p[2];

	cfg.ready = TOPO_READY_AGENT;
	start_running();
	sup_wait_ready_start(parent_pipe(p), 10);
	qemu_exit(3);
	parent_reads(p[0], buf, sizeof(buf));
	close(p[0]);
	cr_assert_str_eq(buf, "n3x-launch: waiting up to 10 s for 1 VM to be ready\n"
			 "n3x-launch: t1 crashed before it was ready (agent): QEMU exited with "
			 "status 3; the supervisor keeps running (`n3x-ctl -n tf shutdown` stops it)\n"
			 "=1\n");
}

Test(guest_vm, wait_ready_times_out)
{
	char buf[1024];
	int p[2];

	cfg.ready = TOPO_READY_CONSOLE;
	cfg.ready_arg = "^login:";
	start_running();
	sup_wait_ready_start(parent_pipe(p), 0.2);
	parent_reads(p[0], buf, sizeof(buf));
	close(p[0]);
	cr_assert_str_eq(buf, "n3x-launch: waiting up to 0.2 s for 1 VM to be ready\n"
			 "n3x-launch: t1 not ready (console ^login:) after 0.2 s (state running); "
			 "the supervisor keeps running (`n3x-ctl -n tf shutdown` stops it)\n=1\n");
}

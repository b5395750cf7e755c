/* test_vm.c - the VM lifecycle table, driven through the verbs with a fake
 * QEMU: vm_set_spawn() puts a stand-in in child_spawn's place, which keeps
 * QEMU's serial and monitor sockets for the test and starts a real process
 * (sh) whose exit status the test decides.  The test then plays QEMU's
 * monitor over the socketpair, between rounds of the real loop.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/sock.h"
#include "launcher/console.h"
#include "launcher/vm.h"
#include "tests/fake_qemu.h"

#define TIMEOUT_MS 10000

static void standin_exit(int *ctl, int status)
{
	char s[16];
	int n = snprintf(s, sizeof(s), "%d\n", status);

	cr_assert_geq(*ctl, 0, "no stand-in to end");
	cr_assert_eq(write(*ctl, s, n), n);
	close(*ctl);
	*ctl = -1;
}

/* The fake QEMU and the fake qemu-img. */
static struct {
	int ctl;                /* the stand-in's exit, -1 once decided */
	struct peer mon;        /* QEMU's end of the monitor */
	struct fake_socks l;    /* what QEMU listens on */
	int serial;             /* QEMU's end of the serial port */
	int log;                /* console.log, as QEMU's serial port logs into it */
	struct peer agent;      /* QEMU's end of the guest agent's port (the guest's agent) */
	bool running;           /* what query-status says */
	bool dash_s;            /* the last QEMU was started with -S */
	bool ignore_powerdown, ignore_quit;
	int nfds;               /* fds QEMU got */
	char cmds[1024];        /* commands it executed, "a,b," */
	int spawns;
	int prep_ctl;           /* a running qemu-img stand-in, or -1 */
	int preps;
	int fail_spawn;         /* -errno for the next QEMU spawn */
	size_t agent_read;      /* bytes the supervisor wrote to the agent's port */
	char agent_cmds[1024];  /* commands the agent got, "a,b," */
	bool agent_silent;      /* the agent answers only guest-sync* */
	char links[256];        /* set_link commands since the spawn, "net1=down," */
	bool refuse_link;       /* set_link answers an error */
	bool port_open;         /* the guest holds the agent's port open */
} q;

static void qemu_exit(int status)
{
	/* QEMU's sockets close when it exits. */
	peer_close(&q.mon);
	peer_close(&q.agent);
	if (q.serial >= 0)
		close(q.serial);
	q.serial = -1;
	fake_socks_close(&q.l);
	if (q.log >= 0)
		close(q.log);
	q.log = -1;
	standin_exit(&q.ctl, status);
}

static int fake_spawn(struct child *c, char *const argv[], const int *fds, int nfds)
{
	int r;

	if (strcmp(argv[0], "qemu-img") == 0) {
		cr_assert_eq(q.prep_ctl, -1, "two qemu-img at once");
		q.preps++;
		return standin(c, &q.prep_ctl);
	}
	cr_assert_str_eq(argv[0], "qemu-system-x86_64");
	cr_assert_eq(q.ctl, -1, "two QEMUs at once");
	if (q.fail_spawn) {
		r = q.fail_spawn;
		q.fail_spawn = 0;
		return r;
	}
	if ((r = standin(c, &q.ctl)) < 0)
		return r;
	q.spawns++;
	q.nfds = nfds;
	fake_socks_take(&q.l, fds, nfds);
	q.log = dup(fds[QEMU_FD_CONSOLE_LOG - 3]);
	q.dash_s = false;
	for (int i = 1; argv[i]; i++)
		q.dash_s |= strcmp(argv[i], "-S") == 0;
	q.running = !q.dash_s; /* -S: QEMU says "prelaunch" until cont */
	q.cmds[0] = '\0';
	q.links[0] = '\0';
	return 0;
}

/* Answer what the monitor asked, as QEMU would. */
static void qemu_serve(void)
{
	char *line;

	fake_socks_accept(&q.l, &q.serial, &q.mon, &q.agent);
	while ((line = peer_line(&q.mon))) {
		json_t *msg = json_loads(line, 0, NULL), *id;
		const char *cmd;
		char *ids;

		cr_assert_not_null(msg, "not JSON: %s", line);
		cmd = json_string_value(json_object_get(msg, "execute"));
		id = json_object_get(msg, "id");
		cr_assert_not_null(cmd, "no command: %s", line);
		ids = json_dumps(id, JSON_ENCODE_ANY);
		snprintf(q.cmds + strlen(q.cmds), sizeof(q.cmds) - strlen(q.cmds), "%s,", cmd);
		if (strcmp(cmd, "query-chardev") == 0) {
			peer_send(&q.mon, "{\"return\": [{\"frontend-open\": false, \"filename\": \"disconnected:unix:\","
				  " \"label\": \"serial0\"}, {\"frontend-open\": %s, \"filename\": \"unix:\","
				  " \"label\": \"ga0\"}], \"id\": %s}", q.port_open ? "true" : "false", ids);
		} else if (strcmp(cmd, "query-status") == 0) {
			peer_send(&q.mon, "{\"return\": {\"status\": \"%s\", \"running\": %s}, \"id\": %s}",
				  q.running ? "running" : "paused", q.running ? "true" : "false", ids);
		} else if (strcmp(cmd, "set_link") == 0) {
			json_t *args = json_object_get(msg, "arguments");
			const char *name = json_string_value(json_object_get(args, "name"));

			cr_assert(name && json_is_boolean(json_object_get(args, "up")), "set_link: %s", line);
			snprintf(q.links + strlen(q.links), sizeof(q.links) - strlen(q.links), "%s=%s,", name,
				 json_is_true(json_object_get(args, "up")) ? "up" : "down");
			if (q.refuse_link)
				peer_send(&q.mon, "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": "
					  "\"Device '%s' not found\"}, \"id\": %s}", name, ids);
			else
				peer_send(&q.mon, "{\"return\": {}, \"id\": %s}", ids);
		} else {
			peer_send(&q.mon, "{\"return\": {}, \"id\": %s}", ids);
		}
		if (strcmp(cmd, "stop") == 0) {
			q.running = false;
			peer_send(&q.mon, "{\"event\": \"STOP\", \"data\": {}}");
		} else if (strcmp(cmd, "cont") == 0) {
			q.running = true;
			peer_send(&q.mon, "{\"event\": \"RESUME\", \"data\": {}}");
		} else if ((strcmp(cmd, "system_powerdown") == 0 && !q.ignore_powerdown) ||
			   (strcmp(cmd, "quit") == 0 && !q.ignore_quit)) {
			peer_send(&q.mon, "{\"event\": \"SHUTDOWN\", \"data\": {\"reason\": \"%s\"}}",
				  cmd[0] == 'q' ? "host-qmp-quit" : "guest-shutdown");
			qemu_exit(0);
		}
		free(ids);
		json_decref(msg);
		free(line);
	}
}

/* The guest's agent: read what the supervisor wrote to the port (JSON
 * objects, after any 0xFF resync bytes) and answer like qemu-ga. */
static void agent_serve(void)
{
	struct peer *p = &q.agent;
	ssize_t n;

	if (p->fd < 0)
		return;
	while (p->len < sizeof(p->buf) && (n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len,
						    MSG_DONTWAIT)) > 0) {
		p->len += n;
		q.agent_read += n;
	}
	for (;;) {
		size_t skip = 0;
		json_error_t jerr;
		json_t *msg, *id;
		const char *cmd;

		while (skip < p->len && strchr("\xff \t\r\n", p->buf[skip]))
			skip++;
		memmove(p->buf, p->buf + skip, p->len - skip);
		p->len -= skip;
		if (!p->len || !(msg = json_loadb(p->buf, p->len, JSON_DISABLE_EOF_CHECK, &jerr)))
			return;
		memmove(p->buf, p->buf + jerr.position, p->len - jerr.position);
		p->len -= jerr.position;
		cmd = json_string_value(json_object_get(msg, "execute"));
		cr_assert_not_null(cmd, "agent: no command");
		snprintf(q.agent_cmds + strlen(q.agent_cmds), sizeof(q.agent_cmds) - strlen(q.agent_cmds), "%s,",
			 cmd);
		id = json_object_get(json_object_get(msg, "arguments"), "id");
		if (strcmp(cmd, "guest-sync-delimited") == 0) {
			cr_assert(json_is_integer(id));
			/* qemu-ga puts 0xFF before the reply to a delimited sync */
			cr_assert_eq(send(p->fd, "\xff", 1, MSG_NOSIGNAL), 1);
			peer_send(p, "{\"return\": %" JSON_INTEGER_FORMAT "}", json_integer_value(id));
		} else if (strcmp(cmd, "guest-sync") == 0) {
			peer_send(p, "{\"return\": %" JSON_INTEGER_FORMAT "}", json_integer_value(id));
		} else if (!q.agent_silent && strcmp(cmd, "guest-info") == 0) {
			peer_send(p, "{\"return\": {\"version\": \"7.2.0\", \"supported_commands\": []}}");
		} else if (!q.agent_silent) {
			peer_send(p, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command %s has not been found\"}}",
				  cmd);
		}
		json_decref(msg);
	}
}

/* QEMU's event for the agent's port: the guest opened or closed its end. */
static void agent_port(const char *id, bool open)
{
	if (strcmp(id, "ga0port") == 0)
		q.port_open = open;
	peer_send(&q.mon, "{\"event\": \"VSERPORT_CHANGE\", \"data\": {\"open\": %s, \"id\": \"%s\"},"
		  " \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}", open ? "true" : "false", id);
}

/* ---- the VM under test ---- */

static char dir[64], run_dir[96], state_dir[96];
static struct topo_vm cfg;
static struct topo_nic nic;
static struct vm *vm;
static char states[512];        /* "starting running ..." */
static char why[256];           /* of the last change */
static char lines[1024];        /* console lines offered, "a|b|" */
static int nics_up_calls, nics_down_calls;
static bool nics_fail;
static char agent_events[256];  /* what the observer heard, "up down ..." */
static char mon_events[512];    /* "lost(why) back ..." */
static int nics_adopt_calls;

static void on_state(struct vm *v, enum vm_state from, const char *w)
{
	cr_assert_eq(v, vm);
	cr_assert_neq(from, vm_state(v));
	snprintf(states + strlen(states), sizeof(states) - strlen(states), "%s%s", *states ? " " : "",
		 vm_state_name(vm_state(v)));
	snprintf(why, sizeof(why), "%s", w ? w : "");
}

static void on_line(struct vm *v, const char *line)
{
	(void)v;
	snprintf(lines + strlen(lines), sizeof(lines) - strlen(lines), "%s|", line);
}

static void on_agent(struct vm *v, bool up)
{
	cr_assert_eq(v, vm);
	cr_assert_eq(vm_agent_up(v), up, "the hook runs after the change");
	snprintf(agent_events + strlen(agent_events), sizeof(agent_events) - strlen(agent_events), "%s%s",
		 *agent_events ? " " : "", up ? "up" : "down");
}

static int on_nics_up(struct vm *v, int *fds, struct err *e)
{
	nics_up_calls++;
	if (nics_fail)
		return err_set(e, EPERM, "nic 0: cannot create tap t1-n0: Operation not permitted");
	for (int i = 0; i < vm_config(v)->nnics; i++)
		if ((fds[i] = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
			return -errno;
	return 0;
}

static void on_nics_down(struct vm *v)
{
	(void)v;
	nics_down_calls++;
}

static void on_monitor(struct vm *v, bool up, const char *w)
{
	cr_assert_eq(v, vm);
	cr_assert(up ? w == NULL : w != NULL);
	snprintf(mon_events + strlen(mon_events), sizeof(mon_events) - strlen(mon_events), "%s%s%s%s%s",
		 *mon_events ? " " : "", up ? "back" : "lost", up ? "" : "(", up ? "" : w, up ? "" : ")");
}

static int on_nics_adopt(struct vm *v, struct err *e)
{
	(void)v, (void)e;
	nics_adopt_calls++;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	static const struct vm_observer obs = {
		.state = on_state, .console_line = on_line,
		.nics_up = on_nics_up, .nics_down = on_nics_down, .agent = on_agent,
		.monitor = on_monitor, .nics_adopt = on_nics_adopt,
	};

	signal(SIGPIPE, SIG_IGN);
	strcpy(dir, "/tmp/n3x-test-vm-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	cr_assert_eq(loop_open(), 0);
	vm_set_spawn(fake_spawn);
	vm_set_observer(&obs);
	q.ctl = q.prep_ctl = q.serial = q.mon.fd = q.agent.fd = -1;
	q.l = (struct fake_socks){ -1, -1, -1 };
	q.log = -1;
	cfg = (struct topo_vm){
		.name = "t1", .arch = TOPO_ARCH_X86_64, .memory_mib = 64, .vcpus = 1,
		.restart = TOPO_RESTART_NO, .autostart = true, .stop_timeout_s = 1,
	};
	nic = (struct topo_nic){ .index = 0, .network = "lan" };
}

static void teardown(void)
{
	if (vm && vm_state(vm) != VM_STOPPED && vm_state(vm) != VM_CRASHED)
		vm_kill(vm);
	vm_free(vm);
	if (q.ctl >= 0)
		close(q.ctl);
	if (q.prep_ctl >= 0)
		close(q.prep_ctl);
	peer_close(&q.mon);
	peer_close(&q.agent);
	if (q.serial >= 0)
		close(q.serial);
	fake_socks_close(&q.l);
	if (q.log >= 0)
		close(q.log);
	loop_close();
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(vm, .init = setup, .fini = teardown, .timeout = 30);

static void make_vm(void)
{
	static const struct accel_choice tcg = { .kvm = false, .reason = "accel=tcg" };
	struct err e = { 0 };

	char path[PATH_MAX];
	int fd;

	cr_assert_eq(vm_new(&cfg, &tcg, run_dir, state_dir, false, &vm, &e), 0, "%s", e.msg);
	cr_assert_eq(vm_state(vm), VM_STOPPED);
	/* The snapshots' state image exists, as after a first start: the disk
	 * steps are then those of the VM's own disks. */
	snprintf(path, sizeof(path), "%s/vm/%s/state.qcow2", state_dir, cfg.name);
	cr_assert_geq(fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600), 0);
	close(fd);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Run the loop and the fake QEMU until cond holds. */
#define PUMP_UNTIL(cond) do { \
	long long dl_ = now_ms() + TIMEOUT_MS; \
	while (!(cond)) { \
		cr_assert_lt(now_ms(), dl_, "timed out waiting for " #cond " (states: %s)", states); \
		cr_assert_geq(loop_run_once(10), 0); \
		qemu_serve(); \
		agent_serve(); \
	} \
} while (0)

static void pump_ms(int ms)
{
	long long end = now_ms() + ms;

	while (now_ms() < end) {
		cr_assert_geq(loop_run_once(10), 0);
		qemu_serve();
		agent_serve();
	}
}

static void start_running(void)
{
	make_vm();
	cr_assert_eq(vm_start(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	cr_assert_str_eq(states, "starting running");
	states[0] = '\0';
}

static json_t *status_get(const char *key)
{
	static json_t *st;

	json_decref(st);
	st = vm_status_json(vm);
	return json_object_get(st, key);
}

/* ---- start and stop ---- */

Test(vm, start_runs)
{
	start_running();
	cr_assert_eq(q.spawns, 1);
	cr_assert_eq(q.nfds, 5, "serial, monitor, agent and QMP sockets and console.log only");
	cr_assert_str_eq(q.cmds, "qmp_capabilities,query-status,");
	cr_assert(json_is_integer(status_get("pid")));
	cr_assert_str_eq(json_string_value(status_get("state")), "running");
	cr_assert_str_eq(vm_last_error(vm), "");
}

Test(vm, start_paused_guest_is_paused)
{
	make_vm();
	cr_assert_eq(vm_start(vm), 0);
	q.running = false; /* QEMU started with -S, say */
	PUMP_UNTIL(vm_state(vm) == VM_PAUSED);
	cr_assert_str_eq(states, "starting paused");
}

/* vm_start_paused (a snapshot load into a stopped VM): -S for that QEMU
 * only, paused before the guest ran; the next plain start runs it. */
Test(vm, start_paused_passes_dash_s_once)
{
	make_vm();
	cr_assert_eq(vm_start_paused(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_PAUSED);
	cr_assert(q.dash_s);
	cr_assert_str_eq(states, "starting paused");
	cr_assert_eq(vm_start_paused(vm), -EALREADY);
	cr_assert_eq(vm_kill(vm), 0);
	qemu_exit(9);
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_eq(vm_start(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	cr_assert_not(q.dash_s);
}

Test(vm, stop_powers_down_and_stops)
{
	start_running();
	cr_assert_eq(vm_stop(vm), 0);
	cr_assert_eq(vm_state(vm), VM_STOPPING);
	cr_assert_str_eq(why, "ACPI powerdown");
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_str_eq(states, "stopping stopped");
	cr_assert_str_eq(why, "exited with status 0");
	cr_assert(strstr(q.cmds, "system_powerdown,"));
	cr_assert_null(strstr(q.cmds, "quit"));
	cr_assert(json_is_null(status_get("pid")));
}

Test(vm, stop_timeout_quits)
{
	start_running();
	q.ignore_powerdown = true;
	cr_assert_eq(vm_stop(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_str_eq(q.cmds, "qmp_capabilities,query-status,system_powerdown,quit,");
	cr_assert_str_eq(why, "exited with status 0");
}

Test(vm, stop_timeout_then_quit_timeout_kills)
{
	long long t0;

	start_running();
	q.ignore_powerdown = q.ignore_quit = true;
	t0 = now_ms();
	cr_assert_eq(vm_stop(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_str_eq(q.cmds, "qmp_capabilities,query-status,system_powerdown,quit,");
	cr_assert_str_eq(why, "killed by SIGKILL");
	/* stop-timeout 1 s, then 5 s for quit */
	cr_assert_geq(now_ms() - t0, 6000 - 50);
	cr_assert_str_eq(states, "stopping stopped");
}

Test(vm, paused_guest_is_resumed_to_see_the_power_button)
{
	start_running();
	cr_assert_eq(vm_pause(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_PAUSED);
	cr_assert_eq(vm_stop(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert(strstr(q.cmds, "stop,cont,system_powerdown,"), "%s", q.cmds);
}

Test(vm, kill_is_sigkill_without_restart)
{
	cfg.restart = TOPO_RESTART_ALWAYS;
	start_running();
	cr_assert_eq(vm_kill(vm), 0);
	cr_assert_str_eq(why, "SIGKILL");
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_str_eq(states, "stopping stopped");
	cr_assert_str_eq(why, "killed by SIGKILL");
	pump_ms(1200);
	cr_assert_eq(vm_state(vm), VM_STOPPED, "restarted after kill");
	cr_assert_eq(q.spawns, 1);
}

Test(vm, pause_and_resume)
{
	start_running();
	cr_assert_eq(vm_pause(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_PAUSED);
	cr_assert_eq(vm_resume(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	cr_assert_str_eq(states, "paused running");
}

/* ---- crashes and restarts ---- */

Test(vm, crash_with_restart_on_failure_backs_off_and_runs_again)
{
	long long t0;

	cfg.restart = TOPO_RESTART_ON_FAILURE;
	start_running();
	t0 = now_ms();
	qemu_exit(1);
	PUMP_UNTIL(vm_state(vm) == VM_CRASHED);
	cr_assert_str_eq(vm_last_error(vm), "QEMU exited with status 1");
	cr_assert_str_eq(why, "QEMU exited with status 1");
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	cr_assert_geq(now_ms() - t0, 1000 - 50, "restarted without backing off");
	cr_assert_str_eq(states, "crashed starting running");
	cr_assert_eq(q.spawns, 2);
	cr_assert_eq(json_integer_value(status_get("restarts")), 1);
	cr_assert_str_eq(vm_last_error(vm), "");
}

Test(vm, crash_with_restart_no_stays_crashed)
{
	start_running();
	qemu_exit(1);
	PUMP_UNTIL(vm_state(vm) == VM_CRASHED);
	pump_ms(1200);
	cr_assert_eq(vm_state(vm), VM_CRASHED);
	cr_assert_eq(q.spawns, 1);
	cr_assert_eq(vm_start(vm), 0, "a crashed VM starts again");
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
}

Test(vm, clean_exit_is_a_power_off)
{
	cfg.restart = TOPO_RESTART_ON_FAILURE;
	start_running();
	qemu_exit(0);
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_str_eq(why, "guest powered off");
}

Test(vm, stop_while_crashed_cancels_the_restart)
{
	cfg.restart = TOPO_RESTART_ON_FAILURE;
	start_running();
	qemu_exit(1);
	PUMP_UNTIL(vm_state(vm) == VM_CRASHED);
	cr_assert_eq(vm_stop(vm), 0);
	cr_assert_eq(vm_state(vm), VM_STOPPED);
	cr_assert_str_eq(why, "restart cancelled");
	pump_ms(1200);
	cr_assert_eq(q.spawns, 1);
}

Test(vm, restart_stops_then_starts)
{
	start_running();
	cr_assert_eq(vm_restart(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	cr_assert_str_eq(states, "stopping starting running");
	cr_assert_eq(q.spawns, 2);
}

Test(vm, restart_when_stopped_starts)
{
	make_vm();
	cr_assert_eq(vm_restart(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
}

/* ---- disk preparation ---- */

/* A VM with a data disk, started: its qemu-img runs until the test ends it. */
static void start_preparing(void)
{
	cfg.data_disk_bytes = 1 << 20;
	make_vm();
	cr_assert_eq(vm_start(vm), 0);
	cr_assert_eq(vm_state(vm), VM_STARTING);
	cr_assert_eq(q.preps, 1);
	cr_assert_geq(q.prep_ctl, 0);
}

Test(vm, disks_are_prepared_before_qemu)
{
	start_preparing();
	pump_ms(50);
	cr_assert_eq(q.spawns, 0, "QEMU started before qemu-img finished");
	standin_exit(&q.prep_ctl, 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	cr_assert_eq(q.spawns, 1);
}

Test(vm, restart_during_disk_preparation_ends_running)
{
	start_preparing();
	cr_assert_eq(vm_restart(vm), 0);
	cr_assert_eq(vm_state(vm), VM_STARTING);
	standin_exit(&q.prep_ctl, 0);
	PUMP_UNTIL(vm_state(vm) != VM_STARTING);
	cr_assert_str_eq(states, "starting running");
}

Test(vm, stop_then_restart_during_disk_preparation_ends_running)
{
	start_preparing();
	cr_assert_eq(vm_stop(vm), 0);
	cr_assert_eq(vm_restart(vm), 0);
	standin_exit(&q.prep_ctl, 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	cr_assert_str_eq(states, "starting running");
}

Test(vm, stop_during_disk_preparation_ends_stopped)
{
	start_preparing();
	cr_assert_eq(vm_stop(vm), 0);
	standin_exit(&q.prep_ctl, 0);
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_str_eq(why, "stopped before QEMU started");
	cr_assert_eq(q.spawns, 0);
}

Test(vm, kill_during_disk_preparation_kills_qemu_img)
{
	start_preparing();
	cr_assert_eq(vm_kill(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_str_eq(states, "starting stopping stopped");
	close(q.prep_ctl);
	q.prep_ctl = -1;
	cr_assert_eq(q.spawns, 0);
}

Test(vm, failed_qemu_img_crashes_the_start)
{
	start_preparing();
	standin_exit(&q.prep_ctl, 1);
	PUMP_UNTIL(vm_state(vm) == VM_CRASHED);
	cr_assert_str_eq(vm_last_error(vm), "qemu-img exited with status 1");
	cr_assert_eq(q.spawns, 0);
}

/* ---- starts that fail ---- */

Test(vm, qemu_that_cannot_run_crashes_the_start)
{
	make_vm();
	q.fail_spawn = -ENOENT;
	cr_assert_eq(vm_start(vm), -EIO);
	cr_assert_eq(vm_state(vm), VM_CRASHED);
	cr_assert_str_eq(vm_last_error(vm), "cannot run qemu-system-x86_64: No such file or directory");
	cr_assert_str_eq(why, vm_last_error(vm));
}

Test(vm, nics_up_failure_crashes_the_start)
{
	cfg.nnics = 1;
	cfg.nics = &nic;
	nics_fail = true;
	make_vm();
	cr_assert_eq(vm_start(vm), -EIO);
	cr_assert_eq(vm_state(vm), VM_CRASHED);
	cr_assert_str_eq(vm_last_error(vm), "nic 0: cannot create tap t1-n0: Operation not permitted");
	cr_assert_eq(nics_down_calls, 0);
	cr_assert_eq(q.spawns, 0);
}

Test(vm, nics_go_up_before_qemu_and_down_after_it)
{
	cfg.nnics = 1;
	cfg.nics = &nic;
	start_running();
	cr_assert_eq(nics_up_calls, 1);
	cr_assert_eq(q.nfds, QEMU_FD_NIC0 - 3 + 1, "the tap comes after the sockets and console.log");
	cr_assert_eq(nics_down_calls, 0);
	cr_assert_eq(vm_stop(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_eq(nics_down_calls, 1);
}

/* ---- verbs where they mean nothing ---- */

Test(vm, verbs_when_stopped)
{
	make_vm();
	cr_assert_eq(vm_stop(vm), -EALREADY);
	cr_assert_eq(vm_kill(vm), -EALREADY);
	cr_assert_eq(vm_pause(vm), -EBUSY);
	cr_assert_eq(vm_resume(vm), -EBUSY);
	cr_assert_str_eq(states, "");
}

Test(vm, verbs_when_starting)
{
	start_preparing();
	cr_assert_eq(vm_start(vm), -EALREADY);
	cr_assert_eq(vm_pause(vm), -EBUSY);
	cr_assert_eq(vm_resume(vm), -EBUSY);
	cr_assert_str_eq(states, "starting");
}

Test(vm, verbs_when_running)
{
	start_running();
	cr_assert_eq(vm_start(vm), -EALREADY);
	cr_assert_eq(vm_resume(vm), -EALREADY);
	cr_assert_str_eq(states, "");
}

Test(vm, verbs_when_paused)
{
	start_running();
	cr_assert_eq(vm_pause(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_PAUSED);
	cr_assert_eq(vm_pause(vm), -EALREADY);
	cr_assert_eq(vm_start(vm), -EALREADY);
}

Test(vm, verbs_when_stopping)
{
	start_running();
	q.ignore_powerdown = true;
	cr_assert_eq(vm_stop(vm), 0);
	cr_assert_eq(vm_stop(vm), -EBUSY);
	cr_assert_eq(vm_start(vm), -EBUSY);
	cr_assert_eq(vm_restart(vm), -EBUSY);
	cr_assert_eq(vm_pause(vm), -EBUSY);
	cr_assert_eq(vm_resume(vm), -EBUSY);
	cr_assert_eq(vm_kill(vm), 0, "kill cuts a stop short");
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_str_eq(why, "killed by SIGKILL");
}

Test(vm, verbs_when_crashed)
{
	start_running();
	qemu_exit(1);
	PUMP_UNTIL(vm_state(vm) == VM_CRASHED);
	cr_assert_eq(vm_pause(vm), -EBUSY);
	cr_assert_eq(vm_resume(vm), -EBUSY);
	cr_assert_eq(vm_kill(vm), 0);
	cr_assert_eq(vm_state(vm), VM_STOPPED);
}

Test(vm, qmp_passthrough_needs_a_monitor)
{
	make_vm();
	cr_assert_eq(vm_qmp(vm, json_pack("{s:s}", "execute", "query-version"), NULL, NULL), -ENOTCONN);
}

/* ---- console lines since boot ---- */

static bool find(const char *line, void *opaque)
{
	return strcmp(line, opaque) == 0;
}

Test(vm, console_lines_and_scan)
{
	start_running();
	cr_assert_eq(write(q.serial, "one\r\ntw", 7), 7);
	PUMP_UNTIL(strstr(lines, "one|"));
	cr_assert_str_eq(lines, "one|");
	cr_assert_eq(write(q.serial, "o\nlogin: ", 9), 9);
	/* the prompt is offered once the output pauses */
	PUMP_UNTIL(strstr(lines, "login: |"));
	cr_assert_str_eq(lines, "one|two|login: |");
	cr_assert(vm_console_scan(vm, find, "two"));
	cr_assert(vm_console_scan(vm, find, "login: "));
	cr_assert_not(vm_console_scan(vm, find, "three"));
	/* a guest reset starts the text over */
	peer_send(&q.mon, "{\"event\": \"RESET\", \"data\": {\"guest\": true}}");
	pump_ms(50);
	cr_assert_not(vm_console_scan(vm, find, "two"));
}

/* ---- the guest agent ---- */

struct reply {
	bool done;
	int err;
	json_t *reply;
};

static void got_reply(void *opaque, json_t *reply, int err)
{
	struct reply *r = opaque;

	r->done = true;
	r->err = err;
	r->reply = json_incref(reply);
}

/* A guest without an agent (the busybox demo) never opens the port: the
 * supervisor writes nothing to it and says the agent is not there. */
Test(vm, agent_is_down_and_silent_until_the_port_opens)
{
	start_running();
	pump_ms(300);
	cr_assert_eq(q.agent_read, 0, "wrote %zu bytes to a closed port", q.agent_read);
	cr_assert_not(vm_agent_up(vm));
	cr_assert(json_is_false(status_get("agent")));
	cr_assert_eq(vm_agent(vm, "guest-info", json_object(), 1000, got_reply, NULL), -ENOTCONN);
	cr_assert_eq(vm_agent_raw(vm, json_pack("{s:s}", "execute", "guest-info"), 1000, got_reply, NULL),
		     -ENOTCONN);
	/* another port's change is not the agent's */
	agent_port("vser1", true);
	pump_ms(200);
	cr_assert_eq(q.agent_read, 0);
	cr_assert_str_eq(agent_events, "");
}

Test(vm, agent_port_opens_syncs_answers_and_closes)
{
	struct reply r = { 0 };

	start_running();
	agent_port("ga0port", true);
	PUMP_UNTIL(vm_agent_up(vm));
	cr_assert_str_eq(agent_events, "up");
	cr_assert(strstr(q.agent_cmds, "guest-sync-delimited,"), "%s", q.agent_cmds);
	cr_assert(json_is_true(status_get("agent")));

	cr_assert_eq(vm_agent(vm, "guest-info", NULL, 2000, got_reply, &r), 0);
	PUMP_UNTIL(r.done);
	cr_assert_eq(r.err, 0);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.reply, "return"), "version")),
			 "7.2.0");
	json_decref(r.reply);

	/* a raw command's error is a reply, not a failure */
	r = (struct reply){ 0 };
	cr_assert_eq(vm_agent_raw(vm, json_pack("{s:s}", "execute", "guest-nope"), 2000, got_reply, &r), 0);
	PUMP_UNTIL(r.done);
	cr_assert_eq(r.err, 0);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.reply, "error"), "class")),
			 "CommandNotFound");
	json_decref(r.reply);

	agent_port("ga0port", false);
	PUMP_UNTIL(!vm_agent_up(vm));
	cr_assert_str_eq(agent_events, "up down");
	cr_assert(json_is_false(status_get("agent")));

	/* the guest's next agent (a reboot, a restarted qemu-ga) syncs again */
	agent_port("ga0port", true);
	PUMP_UNTIL(vm_agent_up(vm));
	cr_assert_str_eq(agent_events, "up down up");
}

/* QEMU dies with a request in flight: it fails, the agent is down, and the
 * next QEMU's agent starts closed. */
Test(vm, agent_goes_down_with_qemu)
{
	struct reply r = { 0 };

	cfg.restart = TOPO_RESTART_ON_FAILURE;
	start_running();
	agent_port("ga0port", true);
	PUMP_UNTIL(vm_agent_up(vm));
	q.agent_silent = true;
	cr_assert_eq(vm_agent(vm, "guest-exec-status", json_pack("{s:i}", "pid", 7), 5000, got_reply, &r), 0);
	PUMP_UNTIL(strstr(q.agent_cmds, "guest-exec-status,"));
	qemu_exit(1);
	PUMP_UNTIL(r.done);
	cr_assert_null(r.reply);
	cr_assert(r.err == -ENOTCONN || r.err == -ECANCELED, "err %d", r.err);
	cr_assert_str_eq(agent_events, "up down");
	cr_assert_not(vm_agent_up(vm));
	PUMP_UNTIL(vm_state(vm) == VM_CRASHED);
	cr_assert_str_eq(agent_events, "up down", "told once");
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	cr_assert_eq(q.spawns, 2);
	cr_assert_not(vm_agent_up(vm));
	cr_assert(json_is_false(status_get("agent")));
	/* the new QEMU's port */
	q.agent_silent = false;
	agent_port("ga0port", true);
	PUMP_UNTIL(vm_agent_up(vm));
	cr_assert_str_eq(agent_events, "up down up");
}

Test(vm, status_says_the_firmware)
{
	make_vm();
	cr_assert(json_is_null(status_get("firmware")), "direct kernel boot without firmware");
	vm_free(vm);
	cfg.firmware = TOPO_FIRMWARE_UEFI;
	make_vm();
	cr_assert_str_eq(json_string_value(status_get("firmware")), "uefi");
	vm_free(vm);
	cfg.firmware = TOPO_FIRMWARE_BIOS;
	make_vm();
	cr_assert_str_eq(json_string_value(status_get("firmware")), "bios");
}

/* ---- cables (vm_set_link) and typing (vm_console_input) ---- */

static struct topo_nic two_nics[2];

static void with_two_nics(void)
{
	two_nics[0] = (struct topo_nic){ .index = 0, .network = "lan" };
	two_nics[1] = (struct topo_nic){ .index = 1, .network = "lan" };
	cfg.nnics = 2;
	cfg.nics = two_nics;
}

static const char *status_link(int nic)
{
	return json_string_value(json_object_get(json_array_get(status_get("nics"), nic), "link"));
}

Test(vm, link_down_and_up_send_set_link_and_wait_for_qemu)
{
	struct reply r = { 0 };

	with_two_nics();
	start_running();
	cr_assert_str_eq(q.links, "", "no set_link for plugged cables");
	cr_assert_eq(vm_set_link(vm, 1, false, got_reply, &r), 1);
	cr_assert_not(r.done, "answered before QEMU did");
	cr_assert_not(vm_link_up(vm, 1));
	cr_assert_str_eq(status_link(1), "down");
	PUMP_UNTIL(r.done);
	cr_assert_str_eq(q.links, "net1=down,", "the tap's netdev is netN");
	cr_assert_eq(r.err, 0);
	cr_assert_not_null(json_object_get(r.reply, "return"));
	json_decref(r.reply);
	cr_assert(vm_link_up(vm, 0));
	cr_assert_str_eq(status_link(0), "up");
	cr_assert_eq(vm_set_link(vm, 1, false, got_reply, &r), -EALREADY);
	cr_assert_eq(vm_set_link(vm, 2, false, got_reply, &r), -EINVAL);
	cr_assert_eq(vm_set_link(vm, -1, true, got_reply, &r), -EINVAL);

	r = (struct reply){ 0 };
	cr_assert_eq(vm_set_link(vm, 1, true, got_reply, &r), 1);
	PUMP_UNTIL(r.done);
	json_decref(r.reply);
	cr_assert_str_eq(q.links, "net1=down,net1=up,");
	cr_assert(vm_link_up(vm, 1));
	cr_assert_str_eq(status_link(1), "up");
}

Test(vm, pulled_cable_is_sent_to_the_next_qemu_before_the_guest_runs)
{
	struct reply r = { 0 };

	with_two_nics();
	start_running();
	cr_assert_eq(vm_set_link(vm, 0, false, got_reply, &r), 1);
	PUMP_UNTIL(r.done);
	json_decref(r.reply);
	cr_assert_eq(vm_restart(vm), 0);
	PUMP_UNTIL(q.spawns == 2 && vm_state(vm) == VM_RUNNING);
	/* The new QEMU: only the pulled cable, before query-status lets the
	 * supervisor call the guest running. */
	cr_assert_str_eq(q.links, "net0=down,");
	cr_assert(strstr(q.cmds, "set_link,query-status,"), "commands: %s", q.cmds);
	cr_assert_not(vm_link_up(vm, 0));
	cr_assert_str_eq(status_link(0), "down");

	/* And again after a crash, with nothing asked in between. */
	qemu_exit(1);
	PUMP_UNTIL(vm_state(vm) == VM_CRASHED);
	cr_assert_str_eq(status_link(0), "down");
	cr_assert_eq(vm_start(vm), 0);
	PUMP_UNTIL(q.spawns == 3 && vm_state(vm) == VM_RUNNING);
	cr_assert_str_eq(q.links, "net0=down,");
}

Test(vm, link_of_a_stopped_vm_is_only_a_setting)
{
	struct reply r = { 0 };

	with_two_nics();
	make_vm();
	cr_assert_eq(vm_set_link(vm, 1, false, got_reply, &r), 0);
	cr_assert_str_eq(status_link(1), "down");
	cr_assert_eq(vm_set_link(vm, 1, false, got_reply, &r), -EALREADY);
	cr_assert_eq(vm_start(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	cr_assert_not(r.done, "the callback of a setting is never called");
	cr_assert_str_eq(q.links, "net1=down,");
}

Test(vm, refused_set_link_leaves_the_cable_as_it_was)
{
	struct reply r = { 0 };
	const char *desc;

	with_two_nics();
	start_running();
	q.refuse_link = true;
	cr_assert_eq(vm_set_link(vm, 0, false, got_reply, &r), 1);
	PUMP_UNTIL(r.done);
	desc = json_string_value(json_object_get(json_object_get(r.reply, "error"), "desc"));
	cr_assert_str_eq(desc, "Device 'net0' not found");
	json_decref(r.reply);
	cr_assert(vm_link_up(vm, 0));
	cr_assert_str_eq(status_link(0), "up");
}

Test(vm, cable_pulled_as_qemu_dies_stays_pulled)
{
	struct reply r = { 0 };

	with_two_nics();
	start_running();
	cr_assert_eq(vm_set_link(vm, 1, false, got_reply, &r), 1);
	qemu_exit(1); /* before it read the command */
	PUMP_UNTIL(r.done && vm_state(vm) == VM_CRASHED);
	cr_assert_null(r.reply);
	cr_assert_lt(r.err, 0);
	cr_assert_not(vm_link_up(vm, 1));
	cr_assert_eq(vm_start(vm), 0);
	PUMP_UNTIL(q.spawns == 2 && vm_state(vm) == VM_RUNNING);
	cr_assert_str_eq(q.links, "net1=down,");
}

Test(vm, console_input_reaches_the_guest_uart)
{
	static char big[CONSOLE_INPUT_MAX + 1];
	char buf[64] = "";
	ssize_t n = 0;

	make_vm();
	cr_assert_eq(vm_console_input(vm, "root\n", 5), -ENOTCONN, "no QEMU");
	cr_assert_eq(q.spawns, 0);
	cr_assert_eq(vm_start(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	cr_assert_eq(vm_console_input(vm, "root\n\0\x03", 7), 0);
	cr_assert_eq(vm_console_input(vm, big, sizeof(big)), -EMSGSIZE);
	pump_ms(20);
	n = recv(q.serial, buf, sizeof(buf), MSG_DONTWAIT);
	cr_assert_eq(n, 7, "the UART got %zd bytes", n);
	cr_assert_eq(memcmp(buf, "root\n\0\x03", 7), 0);
	qemu_exit(0);
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED || vm_state(vm) == VM_CRASHED);
	cr_assert_eq(vm_console_input(vm, "x", 1), -ENOTCONN, "QEMU gone");
}

/* ---- QEMU outlives the supervisor: state.json, detach, adopt ---- */

static char *slurp(const char *fmt, const char *name)
{
	char path[PATH_MAX], *buf = calloc(1, 65536);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), fmt, run_dir, name);
	cr_assert_not_null(buf);
	if ((fd = open(path, O_RDONLY)) < 0) {
		free(buf);
		return NULL;
	}
	n = read(fd, buf, 65535);
	close(fd);
	cr_assert_geq(n, 0);
	return buf;
}

static bool run_file(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/vm/t1/%s", run_dir, name);
	return access(path, F_OK) == 0;
}

/* The supervisor goes (vm_detach, vm_free) and QEMU stays; the fake QEMU
 * sees its connections close and listens on. */
static pid_t detach_and_free(void)
{
	pid_t pid = vm_pid(vm);

	cr_assert_gt(pid, 0);
	vm_detach(vm);
	cr_assert_eq(vm_state(vm), VM_STOPPED);
	cr_assert_eq(vm_pid(vm), 0);
	vm_free(vm);
	vm = NULL;
	cr_assert_eq(kill(pid, 0), 0, "QEMU went with the supervisor");
	peer_close(&q.mon);
	peer_close(&q.agent);
	close(q.serial);
	q.serial = -1;
	return pid;
}

/* A new supervisor's VM adopts the QEMU. */
static void adopt_running(void)
{
	struct err e = { 0 };

	states[0] = '\0';
	make_vm();
	cr_assert_eq(vm_adopt(vm, &e), 1, "%s", e.msg);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING || vm_state(vm) == VM_PAUSED);
	cr_assert_str_eq(why, "adopted");
}

Test(vm, state_json_while_qemu_runs)
{
	char *st;

	start_running();
	st = slurp("%s/vm/%s/state.json", "t1");
	cr_assert_not_null(st, "no state.json while QEMU runs");
	json_t *o = json_loads(st, 0, NULL);

	cr_assert_not_null(o, "%s", st);
	cr_assert_eq(json_integer_value(json_object_get(o, "pid")), vm_pid(vm));
	cr_assert_gt(json_integer_value(json_object_get(o, "start_time")), 0);
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "argv"), 0)), "qemu-system-x86_64");
	cr_assert_gt(json_integer_value(json_object_get(o, "up_since_ms")), 0, "%s", st);
	json_decref(o);
	free(st);
	for (const char *const *f = (const char *const[]){ "serial.sock", "monitor.sock", "agent.sock", "qmp.sock",
							 NULL }; *f; f++)
		cr_assert(run_file(*f), "no %s while QEMU runs", *f);
	cr_assert_str_eq(json_string_value(status_get("monitor")), "connected");
	cr_assert(json_is_false(status_get("adopted")));
	cr_assert_eq(vm_stop(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_not(run_file("state.json"), "state.json outlived QEMU");
	cr_assert_not(run_file("monitor.sock"), "monitor.sock outlived QEMU");
	cr_assert_null(status_get("monitor"), "a monitor without QEMU");
}

Test(vm, qemu_stderr_goes_to_qemu_log_and_its_last_line_to_the_error)
{
	char path[PATH_MAX];
	int fd;

	start_running();
	/* The stand-in's stderr is QEMU's: it writes to qemu.log. */
	snprintf(path, sizeof(path), "%s/vm/t1/qemu.log", state_dir);
	cr_assert_geq(fd = open(path, O_WRONLY | O_APPEND), 0, "no qemu.log");
	cr_assert_eq(write(fd, "qemu: early\nqemu: the last words\n", 33), 33);
	close(fd);
	qemu_exit(1);
	PUMP_UNTIL(vm_state(vm) == VM_CRASHED);
	cr_assert_str_eq(vm_last_error(vm), "QEMU exited with status 1: qemu: the last words");
}

Test(vm, detached_qemu_is_adopted_by_the_next_supervisor)
{
	pid_t pid;

	start_running();
	cr_assert_eq(vm_pause(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_PAUSED);
	pid = detach_and_free();
	cr_assert(run_file("state.json"), "detach removed state.json");
	cr_assert(run_file("monitor.sock"), "detach removed the monitor's socket");
	adopt_running();
	cr_assert_eq(vm_state(vm), VM_PAUSED, "QMP says paused: %s", states);
	cr_assert_str_eq(states, "starting paused");
	cr_assert_eq(vm_pid(vm), pid);
	cr_assert_eq(nics_adopt_calls, 0, "no NICs, no hook");
	cr_assert(json_is_true(status_get("adopted")));
	cr_assert_str_eq(json_string_value(status_get("monitor")), "connected");
	cr_assert_null(status_get("stale"));
	cr_assert_str_eq(vm_stale(vm), "");
	cr_assert_not_null(strstr(q.cmds, "query-chardev"), "the agent's port is asked: %s", q.cmds);
	cr_assert_eq(q.spawns, 1, "no second QEMU");
	/* It is driven as if this supervisor had started it. */
	cr_assert_eq(vm_resume(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	cr_assert_eq(vm_stop(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	cr_assert_str_eq(why, "exited (adopted, status unknown)");
	cr_assert_not(run_file("state.json"));
	waitpid(pid, NULL, 0); /* the test process is its parent still */
}

Test(vm, adopted_uptime_goes_on)
{
	double before, after;

	start_running();
	pump_ms(300);
	before = json_real_value(status_get("uptime_s"));
	detach_and_free();
	adopt_running();
	after = json_real_value(status_get("uptime_s"));
	cr_assert_geq(after, before, "uptime went back: %f -> %f", before, after);
	cr_assert_geq(after, 0.25);
}

Test(vm, adopted_vm_keeps_its_cables_and_nics)
{
	with_two_nics();
	start_running();
	cr_assert_eq(vm_set_link(vm, 1, false, NULL, NULL), 1);
	PUMP_UNTIL(strstr(q.links, "net1=down"));
	detach_and_free();
	q.links[0] = '\0';
	adopt_running();
	cr_assert_not(vm_link_up(vm, 1), "the pulled cable came back plugged");
	cr_assert(vm_link_up(vm, 0));
	cr_assert_eq(nics_adopt_calls, 1);
	cr_assert_eq(nics_up_calls, 1, "taps made again for an adopted QEMU");
	/* Every cable is told again: QEMU's own state is the truth only as
	 * far as state.json knew it. */
	cr_assert_str_eq(q.links, "net0=up,net1=down,");
}

Test(vm, adopted_qemu_whose_definition_changed_is_stale)
{
	pid_t pid;

	start_running();
	pid = detach_and_free();
	cfg.memory_mib = 128;
	adopt_running();
	cr_assert_eq(vm_pid(vm), pid, "a changed definition kills nothing");
	cr_assert_str_eq(vm_stale(vm), "QEMU runs with `-m 64`, the file now says `-m 128`; restart to apply");
	cr_assert_str_eq(json_string_value(status_get("stale")), vm_stale(vm));
	/* A restart applies it. */
	cr_assert_eq(vm_restart(vm), 0);
	PUMP_UNTIL(q.spawns == 2 && vm_state(vm) == VM_RUNNING);
	cr_assert_str_eq(vm_stale(vm), "");
	cr_assert(json_is_false(status_get("adopted")));
	waitpid(pid, NULL, 0);
}

Test(vm, adopted_qemu_that_dies_unasked_is_a_crash)
{
	pid_t pid;

	start_running();
	pid = detach_and_free();
	adopt_running();
	states[0] = '\0';
	qemu_exit(0); /* no SHUTDOWN on the monitor first */
	PUMP_UNTIL(vm_state(vm) == VM_CRASHED);
	cr_assert_str_eq(vm_last_error(vm), "QEMU exited (adopted, status unknown)");
	cr_assert(json_is_null(status_get("pid")));
	waitpid(pid, NULL, 0);
}

Test(vm, nothing_to_adopt)
{
	struct err e = { 0 };
	char path[PATH_MAX];
	pid_t pid;
	int fd;

	make_vm();
	cr_assert_eq(vm_adopt(vm, &e), 0, "no state.json");
	cr_assert_eq(vm_state(vm), VM_STOPPED);
	/* A QEMU that is gone: its files go too. */
	cr_assert_eq(vm_start(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	pid = detach_and_free();
	qemu_exit(0);
	waitpid(pid, NULL, 0);
	make_vm();
	cr_assert_eq(vm_adopt(vm, &e), 0, "%s", e.msg);
	cr_assert_eq(vm_state(vm), VM_STOPPED);
	cr_assert_not(run_file("state.json"));
	cr_assert_not(run_file("monitor.sock"));
	/* Garbage: started afresh. */
	snprintf(path, sizeof(path), "%s/vm/t1/state.json", run_dir);
	cr_assert_geq(fd = open(path, O_WRONLY | O_CREAT, 0600), 0);
	cr_assert_eq(write(fd, "{", 1), 1);
	close(fd);
	cr_assert_eq(vm_adopt(vm, &e), 0);
	cr_assert_not(run_file("state.json"));
	cr_assert_eq(vm_start(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
}

Test(vm, another_process_behind_the_pid_is_not_adopted)
{
	struct err e = { 0 };
	char path[PATH_MAX], *st, *p;
	pid_t pid, other;
	int fd;

	start_running();
	pid = detach_and_free();
	/* state.json names a live process that is not this QEMU. */
	other = fork();
	cr_assert_geq(other, 0);
	if (other == 0) {
		execlp("sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	usleep(50 * 1000);
	st = slurp("%s/vm/%s/state.json", "t1");
	cr_assert_not_null(st);
	json_t *o = json_loads(st, 0, NULL);

	json_object_set_new(o, "pid", json_integer(other));
	p = json_dumps(o, JSON_COMPACT);
	snprintf(path, sizeof(path), "%s/vm/t1/state.json", run_dir);
	cr_assert_geq(fd = open(path, O_WRONLY | O_TRUNC), 0);
	cr_assert_eq(write(fd, p, strlen(p)), (ssize_t)strlen(p));
	close(fd);
	make_vm();
	cr_assert_eq(vm_adopt(vm, &e), 0, "adopted sleep: %s", e.msg);
	cr_assert_eq(kill(other, 0), 0, "a stranger was killed");
	kill(other, SIGKILL);
	waitpid(other, NULL, 0);
	qemu_exit(0);
	waitpid(pid, NULL, 0);
	json_decref(o);
	free(p);
	free(st);
}

Test(vm, freeing_a_vm_that_was_not_detached_ends_its_qemu)
{
	pid_t pid;

	start_running();
	pid = vm_pid(vm);
	vm_free(vm);
	vm = NULL;
	cr_assert(kill(pid, 0) < 0 && errno == ESRCH, "QEMU %d runs on (or was not reaped)", (int)pid);
	cr_assert_not(run_file("state.json"));
	cr_assert_not(run_file("monitor.sock"));
}

/* ---- a lost monitor ---- */

Test(vm, lost_monitor_is_told_reconnected_and_told_back)
{
	start_running();
	q.cmds[0] = '\0';
	peer_close(&q.mon); /* QEMU runs on; its monitor connection went */
	PUMP_UNTIL(strstr(mon_events, "lost"));
	cr_assert_str_eq(mon_events, "lost(QEMU closed the connection)");
	cr_assert_eq(vm_state(vm), VM_RUNNING, "a lost monitor is not a state change: %s", states);
	PUMP_UNTIL(strstr(mon_events, "back"));
	cr_assert_str_eq(mon_events, "lost(QEMU closed the connection) back");
	cr_assert_str_eq(json_string_value(status_get("monitor")), "connected");
	cr_assert_not_null(strstr(q.cmds, "query-status"), "%s", q.cmds);
	cr_assert_eq(vm_pause(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_PAUSED);
}

Test(vm, commands_fail_while_the_monitor_is_lost)
{
	int lfd;

	start_running();
	/* QEMU stops accepting: the reconnects find nobody. */
	lfd = q.l.mon;
	q.l.mon = -1;
	peer_close(&q.mon);
	PUMP_UNTIL(strstr(mon_events, "lost"));
	cr_assert_str_eq(json_string_value(status_get("monitor")), "lost");
	cr_assert_eq(vm_pause(vm), -ENOTCONN);
	cr_assert_eq(vm_qmp(vm, json_pack("{s:s}", "execute", "query-status"), NULL, NULL), -ENOTCONN);
	cr_assert_eq(vm_state(vm), VM_RUNNING);
	/* QEMU takes the connections queued meanwhile: the monitor is back,
	 * and QMP says what happened to the guest while nobody listened. */
	q.running = false;
	q.l.mon = lfd;
	PUMP_UNTIL(strstr(mon_events, "back") && vm_state(vm) == VM_PAUSED);
	cr_assert_eq(vm_resume(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
}

Test(vm, stop_while_the_monitor_is_lost_signals_qemu)
{
	start_running();
	close(q.l.mon);
	q.l.mon = -1;
	peer_close(&q.mon);
	PUMP_UNTIL(strstr(mon_events, "lost"));
	cr_assert_eq(vm_stop(vm), 0);
	/* SIGTERM ends the stand-in (QEMU quits on it). */
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED);
	q.ctl = -1;
}

Test(vm, monitor_closed_by_an_exiting_qemu_is_not_reported_lost)
{
	start_running();
	qemu_exit(0); /* closes the monitor, then exits */
	PUMP_UNTIL(vm_state(vm) == VM_STOPPED || vm_state(vm) == VM_CRASHED);
	pump_ms(200);
	cr_assert_str_eq(mon_events, "");
}

/* The guest prints: QEMU logs it and sends it to whoever is connected. */
static void guest_print(const char *text)
{
	size_t n = strlen(text);

	cr_assert_eq(write(q.log, text, n), (ssize_t)n);
	if (q.serial >= 0)
		cr_assert_eq(write(q.serial, text, n), (ssize_t)n);
}

static bool has_line(const char *line, void *opaque)
{
	return strcmp(line, opaque) == 0;
}

Test(vm, adopted_console_has_the_boot_and_the_gap)
{
	char buf[4096] = "", path[PATH_MAX];
	ssize_t n, got = 0;
	int fd;

	start_running();
	guest_print("early boot\r\nlogin: ");
	PUMP_UNTIL(vm_console_scan(vm, has_line, "early boot"));
	detach_and_free();
	guest_print("root\r\ngap line\r\n# "); /* nobody connected: the log only */
	adopt_running();
	cr_assert(vm_console_scan(vm, has_line, "early boot"), "the boot before the adoption is not scanned");
	cr_assert(vm_console_scan(vm, has_line, "gap line"));
	cr_assert_not(vm_console_scan(vm, has_line, "[n3x] QEMU started"), "a note in the guest's text");
	guest_print("after\r\n");
	PUMP_UNTIL(vm_console_scan(vm, has_line, "# after"));
	/* A console client gets the replay: the boot, the gap, what came after. */
	snprintf(path, sizeof(path), "%s/vm/t1/console.sock", run_dir);
	cr_assert_geq(fd = unix_connect(path), 0);
	for (long long end = now_ms() + 2000; now_ms() < end && !strstr(buf, "after");) {
		loop_run_once(10);
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);
		if (n > 0)
			buf[got += n] = '\0';
	}
	close(fd);
	cr_assert_not_null(strstr(buf, "early boot"), "%s", buf);
	cr_assert_not_null(strstr(buf, "gap line"), "%s", buf);
	cr_assert_not_null(strstr(buf, "after"), "%s", buf);
	cr_assert_null(strstr(strstr(buf, "after"), "after\r\nafter"), "shown twice: %s", buf);
}

Test(vm, adopted_vm_finds_its_guest_agent_answering)
{
	start_running();
	agent_port("ga0port", true);
	PUMP_UNTIL(vm_agent_up(vm));
	detach_and_free();
	agent_events[0] = '\0';
	adopt_running();
	/* No VSERPORT_CHANGE comes for a port opened long ago: QMP's
	 * query-chardev says it is open, and the client syncs. */
	PUMP_UNTIL(vm_agent_up(vm));
	cr_assert_str_eq(agent_events, "up");
}

Test(vm, a_long_qemu_log_is_rotated_at_the_next_start)
{
	char path[PATH_MAX], old[PATH_MAX + 2];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/vm/t1/qemu.log", state_dir);
	snprintf(old, sizeof(old), "%s.1", path);
	make_vm();
	cr_assert_geq(fd = open(path, O_WRONLY | O_CREAT, 0600), 0);
	cr_assert_eq(ftruncate(fd, 1024 * 1024 + 1), 0);
	close(fd);
	cr_assert_eq(vm_start(vm), 0);
	PUMP_UNTIL(vm_state(vm) == VM_RUNNING);
	cr_assert_eq(stat(old, &st), 0, "no qemu.log.1");
	cr_assert_eq(st.st_size, 1024 * 1024 + 1);
	cr_assert_eq(stat(path, &st), 0, "no qemu.log for this QEMU");
	cr_assert_lt(st.st_size, 4096);
}

/* vm.c - one VM's lifecycle as a state x event table. */
#include "launcher/vm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher/argv.h"
#include "base/child.h"
#include "launcher/console.h"
#include "base/loop.h"
#include "base/paths.h"

#define BOOT_TEXT_MAX (64 * 1024)
#define LINE_MAX_LEN 1024
#define PARTIAL_LINE_MS 100 /* quiet time after which an unfinished line counts */
#define QUIT_GRACE_MS 5000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 30000 /* a run this long resets the backoff */

enum vm_event {
	EV_START, EV_STOP, EV_KILL, EV_PAUSE, EV_RESUME,
	EV_PREPARED,     /* the disk steps are done */
	EV_QMP_RUNNING,  /* QMP answered and the guest runs */
	EV_QMP_STOP,     /* QMP STOP event */
	EV_QMP_RESUME,   /* QMP RESUME event */
	EV_PREP_EXIT,    /* a preparation step (qemu-img) exited */
	EV_EXIT,         /* QEMU exited */
	EV_STOP_TIMEOUT,
	EV_BACKOFF,
	EV_N
};

enum stop_phase { STOP_NONE, STOP_POWERDOWN, STOP_QUIT, STOP_KILL };

struct vm {
	const struct topo_vm *cfg;
	struct accel_choice accel;
	struct plan_env dirs;
	char console_sock[PATHS_MAX], console_log[PATHS_MAX], qmp_sock[PATHS_MAX];
	enum vm_state state;
	struct console *console;

	struct vm_plan plan;
	int step;              /* next preparation step */
	struct child prep;     /* a running qemu-img */
	struct child qemu;
	char qemu_tag[64], prep_tag[64];
	int wstatus;           /* of the last exit, for EV_EXIT */

	struct qmp *qmp;
	int qmp_fd;
	uint32_t qmp_events;
	struct loop_watch qmp_w;

	bool want_up;          /* started by the user and not stopped since */
	bool restart_pending;  /* restart: start again once stopped */
	enum stop_phase stop_phase;
	struct loop_timer stop_timer, backoff_timer, partial_timer;
	unsigned backoff_ms;
	unsigned restarts;
	uint64_t up_since_ms;  /* when QMP first said running */
	char last_error[256];

	char *boot_text;       /* console since this QEMU started or the guest reset */
	size_t boot_len;
	char line[LINE_MAX_LEN];
	size_t line_len;
};

static struct vm_observer observer;

void vm_set_observer(const struct vm_observer *obs)
{
	observer = *obs;
}

static const char *const state_names[VM_NSTATES] = {
	[VM_STOPPED] = "stopped", [VM_STARTING] = "starting", [VM_RUNNING] = "running",
	[VM_PAUSED] = "paused", [VM_STOPPING] = "stopping", [VM_CRASHED] = "crashed",
};

const char *vm_state_name(enum vm_state s)
{
	return s < VM_NSTATES ? state_names[s] : "?";
}

const char *vm_name(const struct vm *vm) { return vm->cfg->name; }
const struct topo_vm *vm_config(const struct vm *vm) { return vm->cfg; }
enum vm_state vm_state(const struct vm *vm) { return vm->state; }
const char *vm_last_error(const struct vm *vm) { return vm->last_error; }

static void set_state(struct vm *vm, enum vm_state s, const char *why)
{
	enum vm_state from = vm->state;

	if (from == s)
		return;
	vm->state = s;
	fprintf(stderr, "n3x-launch: vm %s: %s%s%s\n", vm->cfg->name, state_names[s],
		why && *why ? ": " : "", why ? why : "");
	if (observer.state)
		observer.state(vm, from, why);
}

static void fail(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct vm *vm, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vm->last_error, sizeof(vm->last_error), fmt, ap);
	va_end(ap);
}

/* ---- console text since boot, for `wait --console` ---- */

static void boot_reset(struct vm *vm)
{
	vm->boot_len = 0;
	vm->line_len = 0;
}

static void console_output(void *opaque, const char *buf, size_t len)
{
	struct vm *vm = opaque;

	if (len > BOOT_TEXT_MAX) {
		buf += len - BOOT_TEXT_MAX;
		len = BOOT_TEXT_MAX;
	}
	if (vm->boot_len + len > BOOT_TEXT_MAX) {
		/* Keep the newest half, from a line start, so scans see whole lines. */
		size_t drop = vm->boot_len + len - BOOT_TEXT_MAX / 2;
		char *nl = drop < vm->boot_len ? memchr(vm->boot_text + drop, '\n', vm->boot_len - drop) : NULL;

		drop = nl ? (size_t)(nl + 1 - vm->boot_text) : vm->boot_len;
		memmove(vm->boot_text, vm->boot_text + drop, vm->boot_len - drop);
		vm->boot_len -= drop;
	}
	memcpy(vm->boot_text + vm->boot_len, buf, len);
	vm->boot_len += len;

	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];

		if (ch == '\n') {
			vm->line[vm->line_len] = '\0';
			if (observer.console_line)
				observer.console_line(vm, vm->line);
			vm->line_len = 0;
		} else if (ch != '\r' && vm->line_len < sizeof(vm->line) - 1) {
			vm->line[vm->line_len++] = ch;
		}
	}
	/* Prompts ("login: ") do not end their line: once the output has
	 * paused, the line so far is offered too.  Offered at once, a line
	 * the guest writes in several pieces would match half-printed. */
	if (vm->line_len)
		loop_timer_arm(&vm->partial_timer, PARTIAL_LINE_MS);
}

static void partial_fire(struct loop_timer *t)
{
	struct vm *vm = container_of(t, struct vm, partial_timer);

	if (vm->line_len && observer.console_line) {
		vm->line[vm->line_len] = '\0';
		observer.console_line(vm, vm->line);
	}
}

bool vm_console_scan(const struct vm *vm, bool (*fn)(const char *line, void *opaque), void *opaque)
{
	char line[LINE_MAX_LEN];
	size_t n = 0;

	for (size_t i = 0; i < vm->boot_len; i++) {
		char ch = vm->boot_text[i];

		if (ch == '\n') {
			line[n] = '\0';
			if (fn(line, opaque))
				return true;
			n = 0;
		} else if (ch != '\r' && n < sizeof(line) - 1) {
			line[n++] = ch;
		}
	}
	line[n] = '\0';
	return n && fn(line, opaque);
}

/* ---- QMP ---- */

static int dispatch(struct vm *vm, enum vm_event ev);

static void mon_update_events(struct vm *vm)
{
	uint32_t want;

	if (!vm->qmp)
		return;
	want = EPOLLIN | (qmp_want_write(vm->qmp) ? EPOLLOUT : 0);
	if (want != vm->qmp_events && loop_mod(vm->qmp_fd, want, &vm->qmp_w) == 0)
		vm->qmp_events = want;
}

static void mon_drop(struct vm *vm)
{
	if (!vm->qmp)
		return;
	loop_del(vm->qmp_fd);
	qmp_free(vm->qmp);
	vm->qmp = NULL;
	vm->qmp_fd = -1;
}

static void mon_cb(struct loop_watch *w, uint32_t events)
{
	struct vm *vm = container_of(w, struct vm, qmp_w);

	(void)events;
	if (qmp_io(vm->qmp) < 0)
		mon_drop(vm); /* QEMU is going away; its exit drives the state */
	else
		mon_update_events(vm);
}

static int execute(struct vm *vm, const char *cmd, json_t *args, qmp_reply_fn cb, void *opaque)
{
	int r;

	if (!vm->qmp) {
		json_decref(args);
		return -ENOTCONN;
	}
	r = qmp_execute(vm->qmp, cmd, args, cb, opaque);
	mon_update_events(vm);
	return r;
}

static void status_reply(void *opaque, json_t *reply, int err)
{
	struct vm *vm = opaque;
	const char *st = json_string_value(json_object_get(json_object_get(reply, "return"), "status"));

	if (err || !st)
		return;
	dispatch(vm, strcmp(st, "running") == 0 ? EV_QMP_RUNNING : EV_QMP_STOP);
}

static void mon_ready(void *opaque)
{
	struct vm *vm = opaque;

	execute(vm, "query-status", NULL, status_reply, vm);
}

static void mon_event(void *opaque, const char *event, json_t *data, json_t *msg)
{
	struct vm *vm = opaque;

	(void)msg;
	if (strcmp(event, "STOP") == 0) {
		dispatch(vm, EV_QMP_STOP);
	} else if (strcmp(event, "RESUME") == 0) {
		dispatch(vm, EV_QMP_RESUME);
	} else if (strcmp(event, "RESET") == 0) {
		boot_reset(vm);
	} else if (strcmp(event, "SHUTDOWN") == 0) {
		const char *reason = json_string_value(json_object_get(data, "reason"));

		console_note(vm->console, "QEMU shutdown (%s)", reason ? reason : "?");
	} else if (strcmp(event, "GUEST_PANICKED") == 0) {
		console_note(vm->console, "guest panicked");
		fail(vm, "guest panicked");
	}
}

/* ---- processes ---- */

static void exited(struct child *c, int wstatus)
{
	struct vm *vm = c->opaque;

	vm->wstatus = wstatus;
	dispatch(vm, c == &vm->prep ? EV_PREP_EXIT : EV_EXIT);
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in, out, r = 0;
	ssize_t n;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		r = -errno;
		close(in);
		return r;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			r = -EIO;
			break;
		}
	if (n < 0)
		r = -errno;
	if (close(out) < 0 && !r)
		r = -errno;
	close(in);
	if (r)
		unlink(to);
	return r;
}

/* Run the next preparation step; EV_PREPARED when none is left. */
static int prepare_next(struct vm *vm)
{
	while (vm->step < vm->plan.nsteps) {
		struct plan_step *s = &vm->plan.steps[vm->step++];
		int r;

		if (s->always)
			unlink(s->creates);
		else if (access(s->creates, F_OK) == 0)
			continue;
		if (s->copy_from) {
			/* 64 MiB once per VM, before its first boot: too short to be worth a child. */
			if ((r = copy_file(s->copy_from, s->creates)) < 0) {
				fail(vm, "cannot copy %s to %s: %s", s->copy_from, s->creates, strerror(-r));
				return r;
			}
			continue;
		}
		if ((r = child_spawn(&vm->prep, s->argv.v, NULL, 0)) < 0) {
			fail(vm, "cannot run %s: %s", s->argv.v[0], strerror(-r));
			return r;
		}
		return 0;
	}
	return dispatch(vm, EV_PREPARED);
}

static int spawn_qemu(struct vm *vm)
{
	int ser[2] = { -1, -1 }, mon[2] = { -1, -1 }, r, nfds = 2;
	struct qmp_callbacks cbs = { .event = mon_event, .ready = mon_ready, .opaque = vm };
	int fds[2 + TOPO_MAX_NICS];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ser) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, mon) < 0) {
		r = -errno;
		goto out;
	}
	fds[0] = ser[1];
	fds[1] = mon[1];
	if (vm->cfg->nnics) {
		if ((r = observer.nics_up(vm, fds + 2, vm->last_error)) < 0)
			goto out;
		nfds += vm->cfg->nnics;
	}
	r = child_spawn(&vm->qemu, vm->plan.qemu.v, fds, nfds);
	for (int i = 2; i < nfds; i++)
		close(fds[i]); /* QEMU holds the taps now: they go when it does */
	if (r < 0) {
		fail(vm, "cannot run %s: %s", vm->plan.qemu.v[0], strerror(-r));
		if (vm->cfg->nnics)
			observer.nics_down(vm);
		goto out;
	}
	boot_reset(vm);
	console_attach(vm->console, ser[0]);
	ser[0] = -1;
	vm->qmp = qmp_new(mon[0], &cbs);
	if (!vm->qmp) {
		r = -ENOMEM;
		child_signal(&vm->qemu, SIGKILL);
		goto out;
	}
	vm->qmp_fd = mon[0];
	mon[0] = -1;
	vm->qmp_events = EPOLLIN;
	loop_add(vm->qmp_fd, EPOLLIN, &vm->qmp_w);
	console_note(vm->console, "QEMU started (pid %d, %s)", (int)vm->qemu.pid,
		     vm->accel.kvm ? "kvm" : "tcg");
out:
	for (int i = 0; i < 2; i++) {
		if (ser[i] >= 0)
			close(ser[i]);
		if (mon[i] >= 0)
			close(mon[i]);
	}
	return r;
}

/* ---- the table's actions ---- */

static int do_start(struct vm *vm)
{
	vm->want_up = true;
	vm->restart_pending = false;
	vm->stop_phase = STOP_NONE;
	vm->last_error[0] = '\0';
	vm->step = 0;
	loop_timer_disarm(&vm->backoff_timer);
	set_state(vm, VM_STARTING, NULL);
	if (prepare_next(vm) < 0) {
		set_state(vm, VM_CRASHED, vm->last_error);
		return -EIO;
	}
	return 0;
}

static int on_start(struct vm *vm) { return do_start(vm); }

static int on_backoff(struct vm *vm)
{
	vm->restarts++;
	return do_start(vm);
}

static int on_prepared(struct vm *vm)
{
	if (spawn_qemu(vm) < 0) {
		set_state(vm, VM_CRASHED, vm->last_error);
		return -EIO;
	}
	return 0;
}

static int on_prep_exit(struct vm *vm)
{
	char how[64];

	if (!vm->want_up) {
		set_state(vm, VM_STOPPED, "stopped before QEMU started");
		return 0;
	}
	if (WIFEXITED(vm->wstatus) && WEXITSTATUS(vm->wstatus) == 0)
		return prepare_next(vm) < 0 ? (set_state(vm, VM_CRASHED, vm->last_error), -EIO) : 0;
	fail(vm, "qemu-img %s%s%s", child_status_str(vm->wstatus, how, sizeof(how)),
	     vm->prep.last_line[0] ? ": " : "", vm->prep.last_line);
	set_state(vm, VM_CRASHED, vm->last_error);
	return -EIO;
}

static int on_running(struct vm *vm)
{
	if (vm->state == VM_STARTING)
		vm->up_since_ms = loop_now_ms();
	set_state(vm, VM_RUNNING, NULL);
	return 0;
}

static int on_paused(struct vm *vm)
{
	if (vm->state == VM_STARTING)
		vm->up_since_ms = loop_now_ms();
	set_state(vm, VM_PAUSED, NULL);
	return 0;
}

static void stop_fire(struct loop_timer *t)
{
	dispatch(container_of(t, struct vm, stop_timer), EV_STOP_TIMEOUT);
}

static void backoff_fire(struct loop_timer *t)
{
	dispatch(container_of(t, struct vm, backoff_timer), EV_BACKOFF);
}

static void powerdown_sent(void *opaque, json_t *reply, int err)
{
	(void)opaque, (void)reply, (void)err;
}

static int on_stop(struct vm *vm)
{
	enum vm_state from = vm->state;

	vm->want_up = false;
	vm->stop_phase = STOP_POWERDOWN;
	set_state(vm, VM_STOPPING, "ACPI powerdown");
	console_note(vm->console, "stopping: ACPI powerdown, %d s before quit", vm->cfg->stop_timeout_s);
	/* A paused guest cannot see the power button. */
	if (from == VM_PAUSED)
		execute(vm, "cont", NULL, NULL, NULL);
	if (execute(vm, "system_powerdown", NULL, powerdown_sent, vm) < 0)
		child_signal(&vm->qemu, SIGTERM); /* QMP never came up: QEMU quits on SIGTERM */
	loop_timer_arm(&vm->stop_timer, (uint64_t)vm->cfg->stop_timeout_s * 1000);
	return 0;
}

static int on_stop_starting(struct vm *vm)
{
	if (child_running(&vm->qemu))
		return on_stop(vm);
	/* qemu-img finishes in milliseconds; QEMU is not started after it. */
	vm->want_up = false;
	return 0;
}

static int on_stop_timeout(struct vm *vm)
{
	if (vm->stop_phase == STOP_POWERDOWN) {
		vm->stop_phase = STOP_QUIT;
		console_note(vm->console, "guest did not power off in %d s: quit", vm->cfg->stop_timeout_s);
		if (execute(vm, "quit", NULL, NULL, NULL) < 0)
			child_signal(&vm->qemu, SIGTERM);
		loop_timer_arm(&vm->stop_timer, QUIT_GRACE_MS);
	} else {
		vm->stop_phase = STOP_KILL;
		console_note(vm->console, "QEMU did not quit: SIGKILL");
		child_signal(&vm->qemu, SIGKILL);
	}
	return 0;
}

static int on_kill(struct vm *vm)
{
	vm->want_up = false;
	vm->restart_pending = false;
	vm->stop_phase = STOP_KILL;
	if (vm->state != VM_STOPPING)
		set_state(vm, VM_STOPPING, "SIGKILL");
	if (child_running(&vm->prep))
		return child_signal(&vm->prep, SIGKILL);
	return child_signal(&vm->qemu, SIGKILL);
}

static int on_kill_crashed(struct vm *vm)
{
	/* Cancel a pending restart. */
	vm->want_up = false;
	loop_timer_disarm(&vm->backoff_timer);
	set_state(vm, VM_STOPPED, "restart cancelled");
	return 0;
}

static int on_pause(struct vm *vm)
{
	return execute(vm, "stop", NULL, NULL, NULL);
}

static int on_resume(struct vm *vm)
{
	return execute(vm, "cont", NULL, NULL, NULL);
}

static int on_exit_qemu(struct vm *vm)
{
	bool clean = WIFEXITED(vm->wstatus) && WEXITSTATUS(vm->wstatus) == 0;
	bool was_up = vm->up_since_ms != 0;
	uint64_t ran = was_up ? loop_now_ms() - vm->up_since_ms : 0;
	char how[64];

	child_status_str(vm->wstatus, how, sizeof(how));
	console_note(vm->console, "QEMU %s", how);
	console_detach(vm->console);
	mon_drop(vm);
	if (vm->cfg->nnics)
		observer.nics_down(vm);
	loop_timer_disarm(&vm->stop_timer);
	unlink(vm->qmp_sock);
	vm->up_since_ms = 0;

	if (vm->restart_pending) {
		vm->restart_pending = false;
		return do_start(vm);
	}
	if (!vm->want_up) {
		set_state(vm, VM_STOPPED, how);
		return 0;
	}
	if (clean && vm->cfg->restart != TOPO_RESTART_ALWAYS) {
		vm->want_up = false;
		set_state(vm, VM_STOPPED, "guest powered off");
		return 0;
	}
	if (!clean)
		fail(vm, "QEMU %s%s%s", how, vm->qemu.last_line[0] ? ": " : "", vm->qemu.last_line);
	set_state(vm, VM_CRASHED, clean ? "guest powered off" : vm->last_error);
	if (vm->cfg->restart == TOPO_RESTART_NO) {
		vm->want_up = false;
		return 0;
	}
	/* Back off on repeated failures; a VM that ran a while starts over. */
	if (ran >= STABLE_MS || vm->backoff_ms == 0)
		vm->backoff_ms = BACKOFF_MIN_MS;
	else if ((vm->backoff_ms *= 2) > BACKOFF_MAX_MS)
		vm->backoff_ms = BACKOFF_MAX_MS;
	console_note(vm->console, "restart=%s: starting again in %u ms",
		     vm->cfg->restart == TOPO_RESTART_ALWAYS ? "always" : "on-failure", vm->backoff_ms);
	return loop_timer_arm(&vm->backoff_timer, vm->backoff_ms);
}

/* The lifecycle: which event does what in which state.  A missing entry
 * means the event changes nothing there (verbs then answer -EBUSY). */
typedef int (*action_fn)(struct vm *vm);

static const action_fn table[VM_NSTATES][EV_N] = {
	[VM_STOPPED] = {
		[EV_START] = on_start,
	},
	[VM_STARTING] = {
		[EV_STOP] = on_stop_starting, [EV_KILL] = on_kill,
		[EV_PREPARED] = on_prepared, [EV_PREP_EXIT] = on_prep_exit,
		[EV_QMP_RUNNING] = on_running, [EV_QMP_STOP] = on_paused,
		[EV_EXIT] = on_exit_qemu,
	},
	[VM_RUNNING] = {
		[EV_STOP] = on_stop, [EV_KILL] = on_kill, [EV_PAUSE] = on_pause,
		[EV_QMP_STOP] = on_paused, [EV_EXIT] = on_exit_qemu,
	},
	[VM_PAUSED] = {
		[EV_STOP] = on_stop, [EV_KILL] = on_kill, [EV_RESUME] = on_resume,
		[EV_QMP_RESUME] = on_running, [EV_QMP_RUNNING] = on_running,
		[EV_EXIT] = on_exit_qemu,
	},
	[VM_STOPPING] = {
		[EV_KILL] = on_kill, [EV_STOP_TIMEOUT] = on_stop_timeout,
		[EV_PREP_EXIT] = on_prep_exit, [EV_EXIT] = on_exit_qemu,
	},
	[VM_CRASHED] = {
		[EV_START] = on_start, [EV_BACKOFF] = on_backoff, [EV_KILL] = on_kill_crashed,
		[EV_STOP] = on_kill_crashed,
	},
};

static int dispatch(struct vm *vm, enum vm_event ev)
{
	action_fn fn = table[vm->state][ev];

	return fn ? fn(vm) : -EBUSY;
}

/* ---- verbs ---- */

int vm_start(struct vm *vm)
{
	if (vm->state == VM_RUNNING || vm->state == VM_PAUSED || vm->state == VM_STARTING)
		return -EALREADY;
	return dispatch(vm, EV_START);
}

int vm_stop(struct vm *vm)
{
	if (vm->state == VM_STOPPED)
		return -EALREADY;
	return dispatch(vm, EV_STOP);
}

int vm_kill(struct vm *vm)
{
	if (vm->state == VM_STOPPED)
		return -EALREADY;
	return dispatch(vm, EV_KILL);
}

int vm_restart(struct vm *vm)
{
	int r;

	if (vm->state == VM_STOPPED || vm->state == VM_CRASHED)
		return vm_start(vm);
	if ((r = dispatch(vm, EV_STOP)) < 0)
		return r;
	vm->restart_pending = true;
	return 0;
}

int vm_pause(struct vm *vm)
{
	if (vm->state == VM_PAUSED)
		return -EALREADY;
	return dispatch(vm, EV_PAUSE);
}

int vm_resume(struct vm *vm)
{
	if (vm->state == VM_RUNNING)
		return -EALREADY;
	return dispatch(vm, EV_RESUME);
}

int vm_qmp(struct vm *vm, json_t *cmd, qmp_reply_fn cb, void *opaque)
{
	int r;

	if (!vm->qmp || !qmp_is_ready(vm->qmp)) {
		json_decref(cmd);
		return -ENOTCONN;
	}
	r = qmp_send_raw(vm->qmp, cmd, cb, opaque);
	mon_update_events(vm);
	return r;
}

/* ---- life and death of the object ---- */

int vm_new(const struct topo_vm *cfg, const struct accel_choice *ac,
	   const char *run_dir, const char *state_dir, bool ovs_userspace, struct vm **out)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	int r;

	if (!vm || !(vm->boot_text = malloc(BOOT_TEXT_MAX))) {
		free(vm);
		return -ENOMEM;
	}
	vm->cfg = cfg;
	vm->accel = *ac;
	vm->qmp_fd = -1;
	vm->dirs.ovs_userspace = ovs_userspace;
	vm->qmp_w.cb = mon_cb;
	snprintf(vm->qemu_tag, sizeof(vm->qemu_tag), "vm %s: qemu", cfg->name);
	snprintf(vm->prep_tag, sizeof(vm->prep_tag), "vm %s: qemu-img", cfg->name);
	child_init(&vm->qemu, vm->qemu_tag, exited, vm);
	child_init(&vm->prep, vm->prep_tag, exited, vm);
	loop_timer_init(&vm->stop_timer, stop_fire);
	loop_timer_init(&vm->backoff_timer, backoff_fire);
	loop_timer_init(&vm->partial_timer, partial_fire);
	if ((r = paths_join(vm->dirs.run, sizeof(vm->dirs.run), "%s/vm/%s", run_dir, cfg->name)) < 0 ||
	    (r = paths_join(vm->dirs.state, sizeof(vm->dirs.state), "%s/vm/%s", state_dir, cfg->name)) < 0 ||
	    (r = paths_join(vm->console_sock, sizeof(vm->console_sock), "%s/console.sock", vm->dirs.run)) < 0 ||
	    (r = paths_join(vm->qmp_sock, sizeof(vm->qmp_sock), "%s/qmp.sock", vm->dirs.run)) < 0 ||
	    (r = paths_join(vm->console_log, sizeof(vm->console_log), "%s/console.log", vm->dirs.state)) < 0 ||
	    (r = paths_mkdir_p(vm->dirs.run, 0700)) < 0 ||
	    (r = paths_mkdir_p(vm->dirs.state, 0700)) < 0 ||
	    (r = plan_build(cfg, ac, &vm->dirs, &vm->plan)) < 0 ||
	    (r = console_new(vm->console_sock, vm->console_log, console_output, vm, &vm->console)) < 0) {
		vm_free(vm);
		return r;
	}
	*out = vm;
	return 0;
}

void vm_free(struct vm *vm)
{
	if (!vm)
		return;
	mon_drop(vm);
	loop_timer_close(&vm->stop_timer);
	loop_timer_close(&vm->backoff_timer);
	loop_timer_close(&vm->partial_timer);
	if (vm->console)
		console_free(vm->console);
	if (vm->qmp_sock[0])
		unlink(vm->qmp_sock);
	if (vm->dirs.run[0])
		rmdir(vm->dirs.run);
	plan_free(&vm->plan);
	free(vm->boot_text);
	free(vm);
}

/* ---- status ---- */

json_t *vm_status_json(const struct vm *vm)
{
	const struct topo_vm *c = vm->cfg;
	json_t *nics = json_array();
	char mac[18], ip[INET_ADDRSTRLEN];
	bool up = vm->up_since_ms && (vm->state == VM_RUNNING || vm->state == VM_PAUSED ||
				      vm->state == VM_STOPPING);

	for (int i = 0; i < c->nnics; i++) {
		const struct topo_nic *n = &c->nics[i];

		char vlans[TOPO_MAX_VLANS * 5 + 1] = "";

		for (int v = 0; v < n->nvlans; v++)
			snprintf(vlans + strlen(vlans), sizeof(vlans) - strlen(vlans), "%s%u", v ? "," : "",
				 n->vlans[v]);
		json_array_append_new(nics, json_pack("{s:i, s:s, s:n, s:s, s:o, s:b, s:s?}",
			"index", n->index, "network", n->network, "tap",
			"mac", topo_format_mac(n->mac, mac),
			"ip", n->has_ip ? json_string(inet_ntop(AF_INET, &n->ip, ip, sizeof(ip))) : json_null(),
			"lease", 0, "vlan", n->nvlans ? vlans : NULL));
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:f, s:i, s:s, s:s, s:s, s:s, s:o}",
		"name", c->name,
		"state", state_names[vm->state],
		"arch", topo_arch_name(c->arch),
		"accel", vm->accel.kvm ? "kvm" : "tcg",
		"accel_reason", vm->accel.reason,
		"pid", vm->qemu.pid > 0 ? json_integer(vm->qemu.pid) : json_null(),
		"role", c->role ? c->role : "",
		"uptime_s", up ? (loop_now_ms() - vm->up_since_ms) / 1000.0 : 0.0,
		"restarts", (int)vm->restarts,
		"last_error", vm->last_error,
		"console_log", vm->console_log,
		"console_socket", vm->console_sock,
		"qmp_socket", vm->qmp_sock,
		"nics", nics);
}

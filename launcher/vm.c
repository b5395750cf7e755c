/* vm.c - one VM's lifecycle as a state x event table. */
#include "launcher/vm_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher/bootlog.h"
#include "launcher/console.h"
#include "launcher/disks.h"

#define QUIT_GRACE_MS 5000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 30000 /* a run this long resets the backoff */

struct vm_observer vm_observer;
static child_spawn_fn *spawn_fn = child_spawn;

void vm_set_observer(const struct vm_observer *obs)
{
	vm_observer = *obs;
}

void vm_set_spawn(child_spawn_fn *spawn)
{
	spawn_fn = spawn;
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
const char *vm_last_error(const struct vm *vm) { return vm->err.msg; }

void vm_set_state(struct vm *vm, enum vm_state s, const char *why)
{
	enum vm_state from = vm->state;

	if (from == s)
		return;
	vm->state = s;
	if (vm_observer.state)
		vm_observer.state(vm, from, why);
}

/* ---- console text since boot, for `wait --console` ---- */

static void boot_line(void *opaque, const char *line)
{
	if (vm_observer.console_line)
		vm_observer.console_line(opaque, line);
}

static void console_output(void *opaque, const char *buf, size_t len)
{
	struct vm *vm = opaque;

	bootlog_add(vm->boot, buf, len);
}

bool vm_console_scan(const struct vm *vm, bool (*fn)(const char *line, void *opaque), void *opaque)
{
	return bootlog_scan(vm->boot, fn, opaque);
}

static void prep_exited(void *opaque, int wstatus)
{
	struct vm *vm = opaque;

	vm->wstatus = wstatus;
	vm_dispatch(vm, EV_PREP_EXIT);
}

/* ---- the table's actions ---- */

static bool schedule_restart(struct vm *vm, uint64_t ran);

/* A start failed before QEMU ran (qemu-img, the spawn, a disk check):
 * crashed, with vm->err.  restart=always|on-failure retries it with the
 * same backoff as a crash; restart=no, or a stop meanwhile, leaves it. */
static int start_failed(struct vm *vm)
{
	bool again = false;

	if (vm->want_up && vm->cfg->restart != TOPO_RESTART_NO)
		again = schedule_restart(vm, 0);
	else
		vm->want_up = false;
	vm_set_state(vm, VM_CRASHED, vm->err.msg);
	if (again && vm->state == VM_CRASHED && vm->want_up && vm_observer.restart)
		vm_observer.restart(vm, vm->restarts + 1, vm->backoff_ms);
	return -EIO;
}

/* After a disk step: r is 1 while a qemu-img runs, 0 when the disks are
 * ready, -errno when a step failed. */
static int prepared(struct vm *vm, int r)
{
	if (r < 0)
		return start_failed(vm);
	return r ? 0 : vm_dispatch(vm, EV_PREPARED);
}

static int on_start(struct vm *vm)
{
	vm->want_up = true;
	vm->restart = false;
	vm->stop_phase = STOP_NONE;
	err_clear(&vm->err);
	loop_timer_disarm(&vm->backoff_timer);
	vm_set_state(vm, VM_STARTING, NULL);
	return prepared(vm, disks_start(vm->disks, &vm->err));
}

static int on_backoff(struct vm *vm)
{
	vm->restarts++;
	return on_start(vm);
}

static int on_prepared(struct vm *vm)
{
	return vm_qemu_spawn(vm) < 0 ? start_failed(vm) : 0;
}

static int on_prep_exit(struct vm *vm)
{
	if (!vm->want_up) {
		vm_set_state(vm, VM_STOPPED, "stopped before QEMU started");
		return 0;
	}
	return prepared(vm, disks_exited(vm->disks, vm->wstatus, &vm->err));
}

static int already(struct vm *vm)
{
	(void)vm;
	return -EALREADY;
}

/* start while starting: only a stop during the disk steps (on_stop_starting)
 * leaves something to do, and that is to go on to QEMU after all. */
static int on_start_starting(struct vm *vm)
{
	if (vm->want_up)
		return -EALREADY;
	vm->want_up = true;
	return 0;
}

/* QMP said the guest runs or is paused.  From starting, QEMU is up: since
 * now, or for an adopted one since state.json says (vm_adopt). */
static int qmp_up(struct vm *vm, enum vm_state s)
{
	const char *why = NULL;

	if (vm->state == VM_STARTING) {
		if (!vm->up_since_ms)
			vm->up_since_ms = loop_now_ms();
		why = vm->adopting ? "adopted" : NULL;
		vm->adopting = false;
		vm_state_save(vm);
	}
	vm_set_state(vm, s, why);
	return 0;
}

static int on_running(struct vm *vm)
{
	return qmp_up(vm, VM_RUNNING);
}

static int on_paused(struct vm *vm)
{
	return qmp_up(vm, VM_PAUSED);
}

static void stop_fire(struct loop_timer *t)
{
	vm_dispatch(container_of(t, struct vm, stop_timer), EV_STOP_TIMEOUT);
}

static void backoff_fire(struct loop_timer *t)
{
	vm_dispatch(container_of(t, struct vm, backoff_timer), EV_BACKOFF);
}

/* The next step of a stop in ms; without the timer nothing would ever
 * force QEMU out, so then it goes now. */
static void arm_stop_timer(struct vm *vm, uint64_t ms)
{
	int r = loop_timer_arm(&vm->stop_timer, ms);

	if (r == 0)
		return;
	err_sys(&vm->err, -r, "cannot arm the stop timer");
	vm->stop_phase = STOP_KILL;
	console_note(vm->console, "%s: SIGKILL", vm->err.msg);
	vm_qemu_signal(vm, SIGKILL);
}

static int on_stop(struct vm *vm)
{
	enum vm_state from = vm->state;

	vm->want_up = false;
	vm->stop_phase = STOP_POWERDOWN;
	vm_set_state(vm, VM_STOPPING, "ACPI powerdown");
	console_note(vm->console, "stopping: ACPI powerdown, %d s before quit", vm->cfg->stop_timeout_s);
	/* A paused guest cannot see the power button. */
	if (from == VM_PAUSED)
		vm_execute(vm, "cont", NULL, NULL, NULL);
	if (vm_execute(vm, "system_powerdown", NULL, NULL, NULL) < 0)
		vm_qemu_signal(vm, SIGTERM); /* QMP never came up: QEMU quits on SIGTERM */
	arm_stop_timer(vm, (uint64_t)vm->cfg->stop_timeout_s * 1000);
	return 0;
}

static int on_stop_starting(struct vm *vm)
{
	if (vm_qemu_running(vm))
		return on_stop(vm);
	/* qemu-img finishes in milliseconds; QEMU is not started after it. */
	vm->want_up = false;
	return 0;
}

/* A stop whose end (on_exit_qemu) starts the VM again. */
static int on_restart(struct vm *vm)
{
	on_stop(vm);
	vm->restart = true;
	return 0;
}

static int on_restart_starting(struct vm *vm)
{
	if (vm_qemu_running(vm))
		return on_restart(vm);
	/* The disk steps run and QEMU has not: starting it once they are done
	 * is the restart, even if a stop came first. */
	vm->want_up = true;
	return 0;
}

static int on_stop_timeout(struct vm *vm)
{
	if (vm->stop_phase == STOP_POWERDOWN) {
		vm->stop_phase = STOP_QUIT;
		console_note(vm->console, "guest did not power off in %d s: quit", vm->cfg->stop_timeout_s);
		if (vm_execute(vm, "quit", NULL, NULL, NULL) < 0)
			vm_qemu_signal(vm, SIGTERM);
		arm_stop_timer(vm, QUIT_GRACE_MS);
	} else {
		vm->stop_phase = STOP_KILL;
		console_note(vm->console, "QEMU did not quit: SIGKILL");
		vm_qemu_signal(vm, SIGKILL);
	}
	return 0;
}

static int on_kill(struct vm *vm)
{
	vm->want_up = false;
	vm->restart = false;
	vm->stop_phase = STOP_KILL;
	vm_set_state(vm, VM_STOPPING, "SIGKILL");
	if (disks_running(vm->disks))
		return disks_kill(vm->disks);
	return vm_qemu_signal(vm, SIGKILL);
}

/* stop or kill while crashed: cancel a pending restart. */
static int on_cancel(struct vm *vm)
{
	vm->want_up = false;
	loop_timer_disarm(&vm->backoff_timer);
	vm_set_state(vm, VM_STOPPED, "restart cancelled");
	return 0;
}

static int on_pause(struct vm *vm)
{
	return vm_execute(vm, "stop", NULL, NULL, NULL);
}

static int on_resume(struct vm *vm)
{
	return vm_execute(vm, "cont", NULL, NULL, NULL);
}

/* The restart policy after a crash or a failed start: arm the backoff
 * timer.  Repeated failures back off, doubling from 1 s to at most 30 s (a
 * crash loop costs a start every 30 s, not a busy loop); a VM that ran
 * STABLE_MS starts over at 1 s.  true when armed. */
static bool schedule_restart(struct vm *vm, uint64_t ran)
{
	int r;

	if (ran >= STABLE_MS || vm->backoff_ms == 0)
		vm->backoff_ms = BACKOFF_MIN_MS;
	else if ((vm->backoff_ms *= 2) > BACKOFF_MAX_MS)
		vm->backoff_ms = BACKOFF_MAX_MS;
	if ((r = loop_timer_arm(&vm->backoff_timer, vm->backoff_ms)) < 0) {
		vm->want_up = false;
		err_sys(&vm->err, -r, "cannot arm the restart timer");
		return false;
	}
	console_note(vm->console, "restart=%s: starting again in %u ms",
		     vm->cfg->restart == TOPO_RESTART_ALWAYS ? "always" : "on-failure", vm->backoff_ms);
	return true;
}

static int on_exit_qemu(struct vm *vm)
{
	/* An adopted QEMU's wait status is its parent's: a SHUTDOWN seen on
	 * the monitor is what says its exit was asked for. */
	bool clean = vm->wstatus == CHILD_STATUS_UNKNOWN ? vm->shutdown_seen :
		     WIFEXITED(vm->wstatus) && WEXITSTATUS(vm->wstatus) == 0;
	bool was_up = vm->up_since_ms != 0, again = false;
	uint64_t ran = was_up ? loop_now_ms() - vm->up_since_ms : 0;
	char how[64];

	child_status_str(vm->wstatus, how, sizeof(how));
	console_note(vm->console, "QEMU %s", how);
	console_detach(vm->console);
	vm_mon_drop(vm);
	vm_agent_drop(vm);
	if (vm->cfg->nnics)
		vm_observer.nics_down(vm);
	loop_timer_disarm(&vm->stop_timer);
	vm_qemu_gone(vm);
	vm->up_since_ms = 0;

	if (vm->restart)
		return on_start(vm);
	if (!vm->want_up) {
		vm_set_state(vm, VM_STOPPED, how);
		return 0;
	}
	if (clean && vm->cfg->restart != TOPO_RESTART_ALWAYS) {
		vm->want_up = false;
		vm_set_state(vm, VM_STOPPED, "guest powered off");
		return 0;
	}
	if (!clean)
		err_set(&vm->err, EIO, "QEMU %s%s%s", how, vm->qemu_last[0] ? ": " : "", vm->qemu_last);
	if (vm->cfg->restart == TOPO_RESTART_NO)
		vm->want_up = false;
	else
		again = schedule_restart(vm, ran);
	vm_set_state(vm, VM_CRASHED, clean ? "guest powered off" : vm->err.msg);
	/* Told after the crash itself; unless the observer acted on that. */
	if (again && vm->state == VM_CRASHED && vm->want_up && vm_observer.restart)
		vm_observer.restart(vm, vm->restarts + 1, vm->backoff_ms);
	return 0;
}

/* The lifecycle: which event does what in which state.  Every verb has an
 * entry wherever it means something (-EALREADY included); a missing entry
 * means the event changes nothing there, and a verb then gets -EBUSY. */
typedef int (*action_fn)(struct vm *vm);

static const action_fn table[VM_NSTATES][EV_N] = {
	[VM_STOPPED] = {
		[EV_START] = on_start, [EV_RESTART] = on_start,
		[EV_STOP] = already, [EV_KILL] = already,
	},
	[VM_STARTING] = {
		[EV_START] = on_start_starting, [EV_RESTART] = on_restart_starting,
		[EV_STOP] = on_stop_starting, [EV_KILL] = on_kill,
		[EV_PREPARED] = on_prepared, [EV_PREP_EXIT] = on_prep_exit,
		[EV_QMP_RUNNING] = on_running, [EV_QMP_STOP] = on_paused,
		[EV_EXIT] = on_exit_qemu,
	},
	[VM_RUNNING] = {
		[EV_START] = already, [EV_RESTART] = on_restart,
		[EV_STOP] = on_stop, [EV_KILL] = on_kill,
		[EV_PAUSE] = on_pause, [EV_RESUME] = already,
		[EV_QMP_STOP] = on_paused, [EV_EXIT] = on_exit_qemu,
	},
	[VM_PAUSED] = {
		[EV_START] = already, [EV_RESTART] = on_restart,
		[EV_STOP] = on_stop, [EV_KILL] = on_kill,
		[EV_PAUSE] = already, [EV_RESUME] = on_resume,
		[EV_QMP_RESUME] = on_running, [EV_QMP_RUNNING] = on_running,
		[EV_EXIT] = on_exit_qemu,
	},
	[VM_STOPPING] = {
		[EV_KILL] = on_kill, [EV_STOP_TIMEOUT] = on_stop_timeout,
		[EV_PREP_EXIT] = on_prep_exit, [EV_EXIT] = on_exit_qemu,
	},
	[VM_CRASHED] = {
		[EV_START] = on_start, [EV_RESTART] = on_start, [EV_BACKOFF] = on_backoff,
		[EV_STOP] = on_cancel, [EV_KILL] = on_cancel,
	},
};

int vm_dispatch(struct vm *vm, enum vm_event ev)
{
	action_fn fn = table[vm->state][ev];

	return fn ? fn(vm) : -EBUSY;
}

/* ---- verbs ---- */

int vm_start(struct vm *vm)
{
	vm->start_paused = false;
	return vm_dispatch(vm, EV_START);
}

int vm_start_paused(struct vm *vm)
{
	int r;

	if (vm->state != VM_STOPPED && vm->state != VM_CRASHED)
		return vm_start(vm);
	vm->start_paused = true;
	if ((r = vm_dispatch(vm, EV_START)) < 0)
		vm->start_paused = false;
	return r;
}

const struct vm_plan *vm_plan(const struct vm *vm) { return &vm->plan; }
int vm_stop(struct vm *vm) { return vm_dispatch(vm, EV_STOP); }
int vm_kill(struct vm *vm) { return vm_dispatch(vm, EV_KILL); }
int vm_restart(struct vm *vm) { return vm_dispatch(vm, EV_RESTART); }
int vm_pause(struct vm *vm) { return vm_dispatch(vm, EV_PAUSE); }
int vm_resume(struct vm *vm) { return vm_dispatch(vm, EV_RESUME); }

/* ---- life and death of the object ---- */

int vm_new(const struct topo_vm *cfg, const struct accel_choice *ac, const char *run_dir,
	   const char *state_dir, bool ovs_userspace, struct vm **out, struct err *e)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	char prep_tag[64];
	int r;

	if (!vm)
		return err_sys(e, ENOMEM, "vm %s", cfg->name);
	vm->cfg = cfg;
	vm->accel = *ac;
	vm->spawn = spawn_fn;
	vm->dirs.ovs_userspace = ovs_userspace;
	vm_qemu_init(vm);
	snprintf(prep_tag, sizeof(prep_tag), "vm %s: qemu-img", cfg->name);
	loop_timer_init(&vm->stop_timer, stop_fire);
	loop_timer_init(&vm->backoff_timer, backoff_fire);
	vm->boot = bootlog_new(boot_line, vm);
	if ((r = vm->boot ? 0 : -ENOMEM) < 0 ||
	    (r = paths_join(vm->dirs.run, sizeof(vm->dirs.run), "%s/vm/%s", run_dir, cfg->name)) < 0 ||
	    (r = paths_join(vm->dirs.state, sizeof(vm->dirs.state), "%s/vm/%s", state_dir, cfg->name)) < 0 ||
	    (r = paths_join(vm->console_sock, sizeof(vm->console_sock), "%s/console.sock", vm->dirs.run)) < 0 ||
	    (r = paths_join(vm->qmp_sock, sizeof(vm->qmp_sock), "%s/qmp.sock", vm->dirs.run)) < 0 ||
	    (r = paths_join(vm->console_log, sizeof(vm->console_log), "%s/console.log", vm->dirs.state)) < 0 ||
	    (r = paths_join(vm->qemu_log, sizeof(vm->qemu_log), "%s/qemu.log", vm->dirs.state)) < 0 ||
	    (r = paths_join(vm->serial_sock, sizeof(vm->serial_sock), "%s/serial.sock", vm->dirs.run)) < 0 ||
	    (r = paths_join(vm->monitor_sock, sizeof(vm->monitor_sock), "%s/monitor.sock", vm->dirs.run)) < 0 ||
	    (r = paths_join(vm->agent_sock, sizeof(vm->agent_sock), "%s/agent.sock", vm->dirs.run)) < 0 ||
	    (r = paths_join(vm->state_json, sizeof(vm->state_json), "%s/state.json", vm->dirs.run)) < 0 ||
	    (r = paths_mkdir_p(vm->dirs.run, 0700)) < 0 ||
	    (r = paths_mkdir_p(vm->dirs.state, 0700)) < 0 ||
	    (r = plan_build(cfg, ac, &vm->dirs, &vm->plan)) < 0 ||
	    (r = disks_new(&vm->plan, prep_tag, vm->spawn, prep_exited, vm, &vm->disks)) < 0 ||
	    (r = console_new(vm->console_sock, vm->console_log, console_output, vm, &vm->console)) < 0) {
		vm_free(vm);
		return err_sys(e, -r, "vm %s", cfg->name);
	}
	console_set_qemu_logs(vm->console, true);
	*out = vm;
	return 0;
}

void vm_free(struct vm *vm)
{
	if (!vm)
		return;
	vm_mon_drop(vm);
	vm_agent_drop(vm);
	vm_qemu_free(vm);
	loop_timer_close(&vm->stop_timer);
	loop_timer_close(&vm->backoff_timer);
	if (vm->console)
		console_free(vm->console);
	/* Left with a detached QEMU's sockets and state.json in it. */
	if (vm->dirs.run[0])
		rmdir(vm->dirs.run);
	plan_free(&vm->plan);
	disks_free(vm->disks);
	bootlog_free(vm->boot);
	free(vm);
}

/* ---- status ---- */

json_t *vm_status_json(const struct vm *vm)
{
	const struct topo_vm *c = vm->cfg;
	json_t *nics = json_array(), *st;
	char mac[18], ip[INET_ADDRSTRLEN];
	bool up = vm->up_since_ms && (vm->state == VM_RUNNING || vm->state == VM_PAUSED ||
				      vm->state == VM_STOPPING);

	for (int i = 0; i < c->nnics; i++) {
		const struct topo_nic *n = &c->nics[i];

		char vlans[TOPO_MAX_VLANS * 5 + 1] = "";

		for (int v = 0; v < n->nvlans; v++)
			snprintf(vlans + strlen(vlans), sizeof(vlans) - strlen(vlans), "%s%u", v ? "," : "",
				 n->vlans[v]);
		json_array_append_new(nics, json_pack("{s:i, s:s, s:n, s:s, s:o, s:b, s:s?, s:s}",
			"index", n->index, "network", n->network, "tap",
			"mac", topo_format_mac(n->mac, mac),
			"ip", n->has_ip ? json_string(inet_ntop(AF_INET, &n->ip, ip, sizeof(ip))) : json_null(),
			"lease", 0, "vlan", n->nvlans ? vlans : NULL,
			"link", vm->link_down[i] ? "down" : "up"));
	}
	st = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:f, s:i, s:s, s:s, s:s, s:s, s:o, s:b, s:o, s:b}",
		"name", c->name,
		"state", state_names[vm->state],
		"arch", topo_arch_name(c->arch),
		"accel", vm->accel.kvm ? "kvm" : "tcg",
		"accel_reason", vm->accel.reason,
		"pid", vm_pid(vm) ? json_integer(vm_pid(vm)) : json_null(),
		"role", c->role ? c->role : "",
		"uptime_s", up ? (loop_now_ms() - vm->up_since_ms) / 1000.0 : 0.0,
		"restarts", (int)vm->restarts,
		"last_error", vm->err.msg,
		"console_log", vm->console_log,
		"console_socket", vm->console_sock,
		"qmp_socket", vm->qmp_sock,
		"nics", nics,
		"agent", vm_agent_up(vm),
		"firmware", c->firmware == TOPO_FIRMWARE_NONE ? json_null() :
			    json_string(c->firmware == TOPO_FIRMWARE_UEFI ? "uefi" : "bios"),
		"adopted", vm->adopted);
	/* Only while QEMU's last block I/O error stands (disks.h). */
	if (st && disks_io_error(vm->disks) && json_object_set(st, "io_error", disks_io_error(vm->disks)) < 0) {
		json_decref(st);
		return NULL;
	}
	/* While a QEMU runs: whether the supervisor's monitor reaches it. */
	if (st && vm_qemu_running(vm))
		json_object_set_new(st, "monitor", json_string(vm->mon_lost ? "lost" : "connected"));
	if (st && vm->stale[0])
		json_object_set_new(st, "stale", json_string(vm->stale));
	return st;
}

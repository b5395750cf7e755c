/* vm_impl.h - what vm.c (the lifecycle table) and vm_qemu.c (the QEMU
 * process and its monitor) share.  Private to the VM module.
 */
#ifndef N3X_VM_IMPL_H
#define N3X_VM_IMPL_H

#include "launcher/vm.h"

#include <stdint.h>

#include "base/loop.h"
#include "base/paths.h"
#include "launcher/argv.h"
#include "launcher/vmstate.h"

struct bootlog;
struct console;
struct disks;
struct vm_agent_link;

enum vm_event {
	EV_START, EV_STOP, EV_KILL, EV_RESTART, EV_PAUSE, EV_RESUME, /* the verbs */
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
	/* QEMU's chardev sockets (argv.h), state.json and QEMU's stderr */
	char serial_sock[PATHS_MAX], monitor_sock[PATHS_MAX], agent_sock[PATHS_MAX];
	char state_json[PATHS_MAX], qemu_log[PATHS_MAX];
	enum vm_state state;
	struct console *console;
	struct bootlog *boot;  /* console since this QEMU started or the guest reset */

	struct vm_plan plan;
	struct disks *disks;
	child_spawn_fn *spawn;
	/* QEMU: started by us, or one an earlier supervisor started
	 * (vm_adopt: child_adopt, not our child, never reaped by us). */
	struct child qemu;
	char qemu_tag[64];
	/* Of the last exit, for EV_EXIT and EV_PREP_EXIT; CHILD_STATUS_UNKNOWN
	 * when an adopted QEMU exited. */
	int wstatus;
	char qemu_last[256];   /* QEMU's last line in qemu.log, after its exit */
	long long qemu_log_off;/* qemu.log's size when this QEMU started */
	/* The running QEMU as state.json describes it: pid, identity, the
	 * argv and networks it was started with, cables, when it came up. */
	struct vmstate run;

	bool adopted;          /* the running QEMU was adopted */
	bool adopting;         /* adopted; QMP has not said running or paused yet */
	bool shutdown_seen;    /* QMP said SHUTDOWN: an adopted QEMU's exit was asked for */
	bool detached;         /* vm_detach: QEMU runs on for the next supervisor */
	char stale[ERR_MSG_MAX];

	struct qmp *qmp;
	int qmp_fd;
	uint32_t qmp_events;
	struct loop_watch qmp_w;
	/* The monitor's connection closed while QEMU runs on: reconnect with
	 * backoff.  Commands fail with -ENOTCONN until it is back. */
	bool mon_lost, mon_lost_told;
	bool mon_resync;       /* the next ready: every cable, the agent's port */
	unsigned mon_backoff_ms;
	struct loop_timer mon_timer;
	char mon_why[128];

	struct vm_agent_link *agent; /* the guest agent of this QEMU, or NULL */
	bool link_down[TOPO_MAX_NICS]; /* cables pulled (vm_set_link) */

	bool want_up;          /* started by the user and not stopped since */
	bool start_paused;     /* the next QEMU gets -S (vm_start_paused) */
	bool restart;          /* a restart's stop: start again when QEMU exits */
	enum stop_phase stop_phase;
	struct loop_timer stop_timer, backoff_timer;
	unsigned backoff_ms;
	unsigned restarts;
	uint64_t up_since_ms;  /* when QMP first said running */
	struct err err;        /* why the last start failed or QEMU died */
};

extern struct vm_observer vm_observer; /* vm_set_observer's */

/* Feed ev to the table (vm.c); the action's result, -EBUSY when none. */
int vm_dispatch(struct vm *vm, enum vm_event ev);
/* Change state and tell the observer (vm.c); for adoption and detach,
 * which come from outside the table. */
void vm_set_state(struct vm *vm, enum vm_state s, const char *why);

/* vm_qemu.c */
void vm_qemu_init(struct vm *vm);      /* once, in vm_new */
/* Start QEMU with its listening sockets, console.log, qemu.log and the
 * NICs' taps, connect to it and write state.json.  Returns 0 once QEMU
 * runs, or -errno with vm->err when it did not start.  A connection that
 * fails after that is noted on the console (the monitor's: a lost one). */
int vm_qemu_spawn(struct vm *vm);
/* qmp_execute on the VM's monitor; -ENOTCONN without one. */
int vm_execute(struct vm *vm, const char *cmd, json_t *args, qmp_reply_fn cb, void *opaque);
void vm_mon_drop(struct vm *vm);       /* QEMU went away; no-op without a monitor */
/* Whether a QEMU (spawned or adopted) runs; signal it (0 or -errno). */
bool vm_qemu_running(const struct vm *vm);
int vm_qemu_signal(struct vm *vm, int sig);
/* QEMU exited: its sockets and state.json go, the reconnect timer stops,
 * qemu_last gets its last line of qemu.log. */
void vm_qemu_gone(struct vm *vm);
/* Connect to QEMU's serial port, agent port and monitor (a missing monitor
 * is a lost one, reconnected with backoff). */
void vm_qemu_connect(struct vm *vm);
/* Rewrite state.json for the running QEMU (a cable changed, it came up). */
void vm_state_save(struct vm *vm);
/* vm_free's part: a QEMU still running is killed unless detached; the
 * reconnect timer is closed. */
void vm_qemu_free(struct vm *vm);
/* QEMU exited (or the VM is freed): the agent's requests fail with
 * -ENOTCONN, the observer hears it is down, and the client is freed after
 * the loop's current batch.  No-op without an agent. */
void vm_agent_drop(struct vm *vm);

#endif

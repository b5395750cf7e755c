/* vm.h - one VM's lifecycle: disk preparation, the QEMU process, its QMP
 * monitor and console, the restart policy and graceful stop.
 *
 * State changes come only from QMP events, process exits and timers, through
 * one state x event table (vm.c).  The supervisor learns of every change
 * through the observer and answers waiting clients from there.
 */
#ifndef N3X_VM_H
#define N3X_VM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/child.h"
#include "base/err.h"
#include "launcher/accel.h"
#include "launcher/argv.h"
#include "launcher/topology.h"
#include "qmp/ga.h"
#include "qmp/qmp.h"

enum vm_state {
	VM_STOPPED,
	VM_STARTING, /* preparing disks, QEMU starting, QMP not answered yet */
	VM_RUNNING,
	VM_PAUSED,
	VM_STOPPING, /* powerdown sent; quit and SIGKILL follow on timeouts */
	VM_CRASHED,  /* QEMU died on its own; a restart may be pending */
	VM_NSTATES
};

struct vm;

struct vm_observer {
	/* Called after every state change; why is a short reason for the log
	 * (NULL or "" when there is none).  The VM does not print: the
	 * supervisor logs the change from here. */
	void (*state)(struct vm *vm, enum vm_state from, const char *why);
	/* Called with every console line (no line ending), and with the line
	 * so far whenever output stops in the middle of one (a prompt). */
	void (*console_line)(struct vm *vm, const char *line);
	/* Before QEMU starts: make and wire a tap per NIC, fds[i] for NIC i
	 * (the VM closes them once QEMU holds them).  0, or -errno with e
	 * saying why (it becomes the VM's last error). */
	int (*nics_up)(struct vm *vm, int *fds, struct err *e);
	/* After QEMU exited: unwire what nics_up made. */
	void (*nics_down)(struct vm *vm);
	/* The guest agent started or stopped answering (ga.h "up"). */
	void (*agent)(struct vm *vm, bool up);
	/* Every QMP event of the supervisor's monitor, after the VM acted on
	 * it (qmp.h qmp_event_fn; data may be NULL). */
	void (*qmp_event)(struct vm *vm, const char *event, json_t *data);
	/* A crashed VM will be started again in delay_ms, its attempt-th
	 * restart since the supervisor started (after the crashed state). */
	void (*restart)(struct vm *vm, unsigned attempt, unsigned delay_ms);
	/* vm_adopt found a running QEMU: its taps exist and QEMU holds them.
	 * Take them back into the fabric (ports, qdiscs: read back, compared
	 * and mended).  0, or -errno with e (the VM stays adopted; e is logged
	 * and kept as its last error). */
	int (*nics_adopt)(struct vm *vm, struct err *e);
	/* The supervisor's QMP monitor connection was lost while QEMU runs on
	 * (up false, why says how), or is back (up true, why NULL). */
	void (*monitor)(struct vm *vm, bool up, const char *why);
};

void vm_set_observer(const struct vm_observer *obs);
/* Start QEMU and qemu-img with spawn instead of child_spawn, for VMs made
 * after the call: a test hands QEMU's fds to a fake (tests/test_vm.c). */
void vm_set_spawn(child_spawn_fn *spawn);

/* Create the VM (stopped) and its console socket under run_dir/vm/NAME.
 * cfg and the topology stay owned by the caller and must outlive the VM.
 * Returns 0, or -errno with e saying "vm NAME: ...". */
int vm_new(const struct topo_vm *cfg, const struct accel_choice *ac, const char *run_dir,
	   const char *state_dir, bool ovs_userspace, struct vm **out, struct err *e);
/* Stop nothing: the caller stops the VM first (or detaches it).  A QEMU
 * still running that was not detached goes with the VM (SIGKILL), as
 * without adoption; a detached one's files stay.  Removes its sockets. */
void vm_free(struct vm *vm);

const char *vm_name(const struct vm *vm);
const struct topo_vm *vm_config(const struct vm *vm);
enum vm_state vm_state(const struct vm *vm);
const char *vm_state_name(enum vm_state s);
/* One line: why the last start failed or why QEMU died, or "". */
const char *vm_last_error(const struct vm *vm);

/* Verbs; each returns 0 when the request was taken (the state moves later),
 * or -errno: -EALREADY when nothing is to be done, -EBUSY when the current
 * state does not allow it, -ENOTCONN when QMP is not up, -EIO when a start
 * failed at once (the VM is then crashed, with its last error).  By state:
 *
 *            stopped   starting   running   paused    stopping  crashed
 *   start    start     EALREADY*  EALREADY  EALREADY  EBUSY     start
 *   stop     EALREADY  stop       stop      stop      EBUSY     cancel
 *   kill     EALREADY  kill       kill      kill      kill      cancel
 *   restart  start     restart*   restart   restart   EBUSY     start
 *   pause    EBUSY     EBUSY      pause     EALREADY  EBUSY     EBUSY
 *   resume   EBUSY     EBUSY      EALREADY  resume    EBUSY     EBUSY
 *
 * cancel: a crashed VM waiting to restart goes to stopped.  *: while the
 * disks are prepared QEMU has not run, so a restart (or a start after a
 * stop) lets the start go on. */
int vm_start(struct vm *vm);
int vm_stop(struct vm *vm);      /* ACPI powerdown, quit after stop-timeout, then SIGKILL */
int vm_kill(struct vm *vm);      /* SIGKILL now, no restart */
int vm_restart(struct vm *vm);   /* stop, then start again */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
/* start, with QEMU told to wait (-S) before running the guest: the VM
 * ends paused ("prelaunch"), e.g. for a snapshot-load before its first
 * instruction.  As vm_start for the states it applies to. */
int vm_start_paused(struct vm *vm);

/* NIC nic's cable (0-based index): plugged unless vm_set_link pulled it.
 * A pulled cable stays pulled across QEMU restarts until plugged again. */
bool vm_link_up(const struct vm *vm, int nic);
/* Pull (up false) or plug NIC nic's cable: QMP set_link on the running
 * QEMU, and on every QEMU started later, so the guest sees carrier go and
 * come.  Returns
 *   0          done: no QEMU answers QMP yet (the next one gets the setting
 *              as soon as its monitor is up); cb is not called;
 *   1          set_link went to the running QEMU: cb (may be NULL) is called
 *              once, later, with QEMU's reply ({"return":{}}, or
 *              {"error":{"class","desc"}}, and then the setting is put back
 *              as it was), or with reply NULL and err < 0 when QEMU went away
 *              first (the setting stays, for the next QEMU);
 *   -EINVAL    no such NIC;  -EALREADY  it already is so;
 *   -errno     the command could not be queued (-ENOMEM, or the monitor's
 *              connection failed); nothing changed.
 * cb is never called when the return is not 1. */
int vm_set_link(struct vm *vm, int nic, bool up, qmp_reply_fn cb, void *opaque);

/* Type into the serial console: len bytes go to the guest's UART as a
 * console client's would (console_input).  0; -ENOTCONN when no QEMU holds
 * the console; -EMSGSIZE when len exceeds what one input may queue
 * (CONSOLE_INPUT_MAX); -ENOBUFS when the guest has not taken enough of
 * what was typed before. */
int vm_console_input(struct vm *vm, const void *buf, size_t len);

/* ---- adoption: QEMU outlives the supervisor ----
 *
 * Every QEMU is started in its own session without a parent-death signal,
 * its monitor, console, agent and users' QMP on listening sockets under
 * run_dir/vm/NAME (serial.sock, monitor.sock, agent.sock, qmp.sock) that
 * QEMU holds, its serial port also logged by QEMU itself into console.log,
 * its stderr in state_dir/vm/NAME/qemu.log, and run_dir/vm/NAME/state.json
 * (launcher/vmstate.h, written atomically after the start and on every
 * cable change, removed at exit) says what a later supervisor needs: pid,
 * process start time, a hash of the command line, the argv and networks
 * QEMU was started with, the sockets, the taps, the cables, since when the
 * guest runs.
 *
 * vm_adopt: a stopped VM, just made, takes over the QEMU an earlier
 * supervisor left, if state.json names one that still runs and really is
 * that QEMU (pidfd_open, then /proc start time and command line).  Its
 * console (replaying what QEMU logged since it started), agent (whose
 * port's state QMP's query-chardev tells) and monitor are connected again
 * (a monitor that does not answer is a lost one: reconnected, as below),
 * its state comes from QMP (running or paused; the observer hears the
 * change from starting with why "adopted"), its cables and uptime from
 * state.json, and observer.nics_adopt takes its taps back.  Its exit is
 * seen through a pidfd; its wait status is its parent's, so it is told as
 * "exited (adopted, status unknown)", clean only after QMP said SHUTDOWN.
 * Returns 1 when adopted; 0 when there was nothing to adopt (no state
 * file, an unreadable one, or its QEMU is gone: the stale files are
 * removed); -errno with e when a QEMU of ours runs that cannot be watched
 * (it is killed; e says why, and the VM stays stopped).
 * A VM adopted although its definition in the topology changed since the
 * QEMU started runs on as it was: vm_stale() says what differs.
 *
 * A lost monitor: when the monitor's connection ends while QEMU runs on,
 * the VM keeps its state, status says monitor "lost", observer.monitor
 * hears (vm, false, why) at the first reconnect (100 ms later, so a QEMU
 * on its way out is not reported), the reconnects back off from 100 ms
 * doubling to 5 s, and observer.monitor hears (vm, true, NULL) once QMP
 * answers again (the guest's state is then asked afresh).  Meanwhile every
 * command fails with -ENOTCONN (a stop signals QEMU instead). */
int vm_adopt(struct vm *vm, struct err *e);
/* Whether the running QEMU was adopted (an earlier supervisor started it). */
bool vm_adopted(const struct vm *vm);
/* "" or one line saying how the running QEMU differs from the VM's
 * definition ("QEMU runs with `-m 512`, the file now says `-m 768`;
 * restart to apply"). */
const char *vm_stale(const struct vm *vm);
/* Let go of QEMU for the next supervisor (n3x-launch --detach-vms,
 * n3x-ctl shutdown --keep-vms): close the monitor, console and agent
 * connections, keep state.json and the sockets, the taps untouched
 * (nics_down is not called).  The VM is then stopped as far as this
 * supervisor knows (the observer hears it, why "detached: QEMU runs on"),
 * and vm_free leaves QEMU and its files alone.  No-op without a QEMU. */
void vm_detach(struct vm *vm);

/* The plan the VM runs (argv.h): its disks' paths and block node names. */
const struct vm_plan *vm_plan(const struct vm *vm);
/* The running QEMU's pid, or 0. */
int vm_pid(const struct vm *vm);
/* qmp_execute on the supervisor's monitor (args stolen); -ENOTCONN
 * without one, and then cb is never called. */
int vm_monitor(struct vm *vm, const char *cmd, json_t *args, qmp_reply_fn cb, void *opaque);
/* The guest's memory is about to be replaced (snapshot-load): requests to
 * the agent fail now, and the client syncs afresh when the loaded guest's
 * agent port is seen open (QEMU reports it again once the guest runs). */
void vm_agent_reset(struct vm *vm);

/* Forward a QMP command over the supervisor's monitor (see qmp_send_raw). */
int vm_qmp(struct vm *vm, json_t *cmd, qmp_reply_fn cb, void *opaque);

/* The guest agent of the running QEMU (qmp/ga.h): whether it answers, and
 * ga_execute / ga_send_raw on it; -ENOTCONN (args/cmd freed, cb not called)
 * when it does not answer. */
bool vm_agent_up(const struct vm *vm);
int vm_agent(struct vm *vm, const char *cmd, json_t *args, unsigned timeout_ms, ga_reply_fn cb,
	     void *opaque);
int vm_agent_raw(struct vm *vm, json_t *cmd, unsigned timeout_ms, ga_reply_fn cb, void *opaque);

/* Call fn on each console line since the current QEMU started (or the guest
 * last reset), oldest first, the unfinished last one included, until it
 * returns true; returns that. */
bool vm_console_scan(const struct vm *vm, bool (*fn)(const char *line, void *opaque), void *opaque);

/* The status object described in control.h; a new reference. */
json_t *vm_status_json(const struct vm *vm);

#endif

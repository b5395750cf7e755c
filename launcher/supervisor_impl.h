/* supervisor_impl.h - what the supervisor's files share.
 *
 *   supervisor.c  main, signals, the VMs' observer
 *   waiters.c     ops and waiters: requests that finish later
 *   probes.c      the polled waiters: wait --exec, wait --port
 *   ready.c       each VM's `ready =` condition, --wait-ready
 *   guest.c       exec in the guest (guest.h), the agent and exec verbs
 *   links.c       the link and send verbs: cables and console input
 *   requests.c    the control verbs, one table
 *   snapshot.c    whole-cluster snapshots (snapverb.c: the snapshot verb)
 *   checks.c      start-up checks and the --check plan
 *   daemon.c      pid file, detaching, teardown
 *   events.c      the event stream's subscribers (events.h), the events verb
 *
 * Private to the supervisor; nothing here is an interface for other modules.
 * The supervisor is the top of n3x-launch: it alone prints, through
 * log_line() with the prefix SUP_LOG_PREFIX.
 */
#ifndef N3X_SUPERVISOR_IMPL_H
#define N3X_SUPERVISOR_IMPL_H

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <sys/types.h>

#include "base/err.h"
#include "base/loop.h"
#include "base/paths.h"
#include "launcher/accel.h"
#include "launcher/control.h"
#include "launcher/fabric.h"
#include "launcher/guest.h"
#include "launcher/supervisor.h"
#include "launcher/topology.h"
#include "launcher/vm.h"

#define SUP_LOG_PREFIX "n3x-launch"
#define STATE_BIT(s) (1u << (s))

/* A control request that finishes later (start, stop, wait, shutdown...):
 * it holds the client and one waiter per VM, and replies when its last
 * waiter is done. */
struct op {
	struct control_client *client; /* NULL for a shutdown from a signal */
	int pending;
	json_t *reply;                 /* {"ok":true,"vms":[{"name","state"}]} so far */
	int code;                      /* n3x-ctl's exit code once failed, else 0 */
	struct err err;                /* the first failure, the one reported */
	bool quit_after;               /* shutdown: leave the loop once replied */
	/* Instead of (or after) a reply: called once the op is settled, just
	 * before it is freed (readiness, ready.c). */
	void (*settled)(struct op *op);
	void *opaque;
};

/* What a waiter waits for. */
enum wait_kind {
	WAIT_STATE,                    /* a state in ok (or fail) */
	WAIT_CONSOLE,                  /* a console line matching re */
	WAIT_LEASE,                    /* any NIC of the VM has a DHCP lease */
	WAIT_AGENT,                    /* the guest agent answers */
	WAIT_EXEC,                     /* `/bin/sh -c cmd` exits 0, run every interval */
	WAIT_PORT,                     /* a TCP connect to port succeeds, every interval */
};

struct waiter {
	struct waiter *next;
	struct op *op;
	struct vm *vm;
	unsigned ok, fail;             /* state bitmasks */
	enum wait_kind kind;
	bool says_state;               /* `wait`: the reply names the state reached */
	regex_t re;                    /* WAIT_CONSOLE (compiled when kind is set) */
	char *match;
	struct loop_timer timeout;
	char *what;                    /* for the timeout message */
	struct loop_deferred free_d;   /* the timer's event may be in this batch */

	/* WAIT_EXEC and WAIT_PORT (probes.c) */
	unsigned interval_ms;
	struct loop_timer poll;        /* the next try; WAIT_PORT: also a connect's deadline */
	char *cmd;                     /* WAIT_EXEC */
	struct guest_exec *x;          /* WAIT_EXEC: the run in progress */
	int port;                      /* WAIT_PORT */
	int sock;                      /* WAIT_PORT: the connect in progress, or -1 */
	struct loop_watch sock_w;
	char addr[64];                 /* WAIT_PORT: "IP:PORT" tried last */
	char last[256];                /* the last failure, for the timeout message */
};

struct sup_state {
	struct topology *topo;
	const char *profile;
	char run[PATHS_MAX], state[PATHS_MAX];
	char control_path[PATHS_MAX], pid_path[PATHS_MAX];
	int run_fd, state_fd;          /* run and state, checked (paths_open_dir); -1 before */
	int nvms;
	struct vm **vms;
	struct fabric *fabric;         /* NULL when no VM has a NIC */
	struct control_client *shutdown_client; /* answered at the end of teardown */
	struct waiter *waiters;
	struct sup_ready *ready;       /* one per VM, as vms (ready.c) */
	int wait_ready_fd;             /* --wait-ready: the parent's pipe while it waits, else -1 */
	int sigfd;
	struct loop_watch sig_w;
	bool shutting_down;
	bool detach_vms;               /* --detach-vms: a signal leaves the VMs running */
	bool keep_vms;                 /* leaving: VMs and fabric stay for the next supervisor */
};

extern struct sup_state sup;

/* ---- waiters.c ---- */

/* A new op for client c (a reference is taken; NULL for a signal), or NULL
 * when out of memory. */
struct op *sup_op_new(struct control_client *c);
/* Reply and free op if nothing is pending any more. */
void sup_op_maybe_done(struct op *op);
/* Where op's failure goes: its err with exit code `code` the first time,
 * NULL after (err_set(NULL, ...) drops it: the first error is reported). */
struct err *sup_op_err(struct op *op, int code);

/* A waiter for vm reaching a state in ok (done) or fail (op fails); NULL
 * when out of memory. */
struct waiter *sup_waiter_add(struct op *op, struct vm *vm, unsigned ok, unsigned fail);
/* Add w's result to its op, unlink it and free it after this loop batch. */
void sup_waiter_done(struct waiter *w);
/* Settle w if the VM's state decides it; true when w is done. */
bool sup_waiter_check_state(struct waiter *w);
/* Fail every waiter with msg and settle it (teardown). */
void sup_waiters_fail_all(const char *msg);
/* vm_console_scan()'s callback for a console waiter (opaque): true on a match. */
bool sup_waiter_line(const char *line, void *opaque);
bool sup_vm_has_lease(const struct vm *vm);
/* Settle w if its condition holds now (state, console line seen, lease,
 * agent up); true when w is done.  Polled kinds start polling instead.
 * Either way w may be gone on return. */
bool sup_waiter_begin(struct waiter *w);

/* What the VMs and the fabric tell the waiters. */
void sup_on_state(struct vm *vm, enum vm_state from, const char *why);
void sup_on_console_line(struct vm *vm, const char *line);
void sup_on_lease(void *opaque);
void sup_on_agent(struct vm *vm, bool up);

/* ---- probes.c ---- */

/* Start polling for a WAIT_EXEC or WAIT_PORT waiter: the first try now,
 * which may settle w already. */
void sup_probe_start(struct waiter *w);
/* Try again now, if w is between tries (the agent came up). */
void sup_probe_kick(struct waiter *w);
/* Stop w's polling: its run or connect and its timer (sup_waiter_done). */
void sup_probe_stop(struct waiter *w);
/* The VM's first NIC address, as wait --port connects to it: its lease,
 * else its ip=; into buf (INET_ADDRSTRLEN), or NULL when it has none. */
const char *sup_vm_address(const struct vm *vm, char *buf);

/* ---- ready.c ---- */

struct sup_ready;
/* Per VM readiness, made after the VMs (sup.ready); 0 or -ENOMEM. */
int sup_ready_init(void);
void sup_ready_free(void);
/* The VM changed state: a new QEMU resets its readiness and starts
 * watching for it again; one that went away stops watching. */
void sup_ready_on_state(struct vm *vm);
/* What cfg's `ready =` waits for, for messages and the plan: "agent",
 * "lease", "console REGEX", "exec CMD" or "running". */
void sup_ready_describe(const struct topo_vm *cfg, char *buf, size_t size);
bool sup_vm_ready(const struct vm *vm);
/* --wait-ready: report to the parent on fd (taken) until every autostarted
 * VM is ready, or one cannot be any more, or timeout_s passed. */
void sup_wait_ready_start(int fd, double timeout_s);
/* The supervisor is going away: a parent still waiting is told so. */
void sup_wait_ready_abort(const char *why);
/* Every autostarted VM ready: STATUS= for systemd (once each time it comes
 * true); each ready or down for good: the progress block settles. */
void sup_ready_check_all(void);

/* ---- supervisor.c: progress and systemd ---- */

/* The progress block becomes the final table (progress_settle). */
void sup_progress_settle(void);
/* Shutdown began: STOPPING=1 to systemd, the block settles. */
void sup_stopping(void);

/* ---- guest.c: the verbs (vm already looked up) ---- */

void sup_cmd_agent(struct control_client *c, json_t *req, struct vm *vm);
void sup_cmd_exec(struct control_client *c, json_t *req, struct vm *vm);

/* ---- links.c: the verbs (requests.c's table calls them) ---- */

struct sup_verb;
/* link: pull or plug a VM's cables, answered once QEMU acknowledged. */
void sup_cmd_link(struct control_client *c, json_t *req, const struct sup_verb *v);
/* send: type base64-decoded bytes into a VM's serial console. */
void sup_cmd_send(struct control_client *c, json_t *req, const struct sup_verb *v);
/* NIC nic's cable was pulled or plugged (by link, or a snapshot load):
 * the log line and the "link" event. */
void sup_link_changed(struct vm *vm, int nic, bool up);

/* ---- snapshot.c (snapshot.h): the snapshot verb (requests.c's table) ---- */

/* save, load, list, delete: control.h; one operation at a time. */
void sup_cmd_snapshot(struct control_client *c, json_t *req, const struct sup_verb *v);

/* ---- schedverb.c: the schedule verb (requests.c's table), schedule.h's ops ---- */

/* run NAME, stop, status: control.h. */
void sup_cmd_schedule(struct control_client *c, json_t *req, const struct sup_verb *v);
/* Give the schedule its ops and start the fabric's `schedule =`, if any
 * (once the VMs are started or adopted). */
void sup_schedule_start(void);

/* ---- resetverb.c: discard a stopped VM's overlays (requests.c's table) ---- */

void sup_cmd_reset(struct control_client *c, json_t *req, const struct sup_verb *v);

/* ---- requests.c ---- */

void sup_dispatch(struct control_client *c, json_t *req);
/* The VM called name, or NULL. */
struct vm *sup_find_vm(const char *name);
/* The VM a request's "vm" names, or NULL after replying (code 2). */
struct vm *sup_request_vm(struct control_client *c, json_t *req);
/* Stop every VM, then leave the loop; c (may be NULL) is answered once
 * the fabric is gone too. */
void sup_shutdown_all(struct control_client *c);
/* Let go of every VM (vm_detach) and leave the loop at once, the VMs, the
 * fabric and its qdiscs left running for the next n3x-launch to adopt;
 * c (may be NULL) is answered at the end of the teardown. */
void sup_leave_all(struct control_client *c);

/* ---- events.c ---- */

/* {"cmd":"events","vms":[...]}: the VMs checked (code 2), then a stream. */
void sup_cmd_events(struct control_client *c, json_t *req);

/* ---- checks.c ---- */

/* What the plan assumes of the host: probed, or for --check described by
 * N3X_PROBE_* (checks.c). */
struct sup_host {
	struct accel_host accel;
	bool ovs_userspace;            /* only filled for --check */
};

/* Everything that can fail before anything starts: --profile, the run
 * paths, --only, accel, socket paths, the fabric and the profiles.  Every
 * problem is printed, then 2; 0 with *host and *choices (one per topology
 * VM, freed by the caller) when all is well. */
int sup_check(const struct sup_options *opt, struct sup_host *host, struct accel_choice **choices);
/* Print the --check plan; 0, or 1 when out of memory. */
int sup_print_plan(const char *only, const struct sup_host *host, const struct accel_choice *choices);
bool sup_needs_fabric(const struct topology *t);

/* ---- daemon.c ---- */

/* The pid of a live supervisor of this fabric (-1 when its pid file is
 * unreadable), or 0 when none answers on control.sock. */
pid_t sup_running(void);
int sup_write_pid(void);                 /* 0 or -errno */
/* Detach; the parent prints the lines the child sends on *notify
 * (sup_notify_line) and exits with the code it sends (sup_notify_exit). */
int sup_daemonize(int *notify, struct err *e);
/* One line for the waiting parent's stderr; fd -1 is a no-op. */
void sup_notify_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The parent's exit code; closes fd (-1: no-op). */
void sup_notify_exit(int fd, int code);
/* Once detached: stdin/stdout to /dev/null, stderr to $STATE/launcher.log. */
void sup_daemon_log(void);
/* Fail the waiters, free the VMs and the fabric, close the control socket,
 * remove the pid file and the run directory, close the loop.  With
 * sup.keep_vms the fabric is released instead and the run directory, with
 * what the VMs left in it, stays. */
void sup_teardown(void);

#endif

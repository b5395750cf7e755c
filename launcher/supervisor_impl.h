/* supervisor_impl.h - what the supervisor's files share.
 *
 *   supervisor.c  main, signals, the VMs' observer
 *   waiters.c     ops and waiters: requests that finish later
 *   requests.c    the control verbs, one table
 *   checks.c      start-up checks and the --check plan
 *   daemon.c      pid file, detaching, teardown
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
};

struct waiter {
	struct waiter *next;
	struct op *op;
	struct vm *vm;
	unsigned ok, fail;             /* state bitmasks */
	bool console;
	bool lease;                    /* `wait --lease`: any NIC of the VM has one */
	bool says_state;               /* `wait`: the reply names the state reached */
	regex_t re;
	char *match;
	struct loop_timer timeout;
	char *what;                    /* for the timeout message */
	struct loop_deferred free_d;   /* the timer's event may be in this batch */
};

struct sup_state {
	struct topology *topo;
	const char *profile;
	char run[PATHS_MAX], state[PATHS_MAX];
	char control_path[PATHS_MAX], pid_path[PATHS_MAX];
	int nvms;
	struct vm **vms;
	struct fabric *fabric;         /* NULL when no VM has a NIC */
	struct control_client *shutdown_client; /* answered at the end of teardown */
	struct waiter *waiters;
	int sigfd;
	struct loop_watch sig_w;
	bool shutting_down;
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

/* What the VMs and the fabric tell the waiters. */
void sup_on_state(struct vm *vm, enum vm_state from, const char *why);
void sup_on_console_line(struct vm *vm, const char *line);
void sup_on_lease(void *opaque);

/* ---- requests.c ---- */

void sup_dispatch(struct control_client *c, json_t *req);
/* Stop every VM, then leave the loop; c (may be NULL) is answered once
 * the fabric is gone too. */
void sup_shutdown_all(struct control_client *c);

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
/* Detach; the parent exits with the code the child sends on *notify. */
int sup_daemonize(int *notify, struct err *e);
/* Once detached: stdin/stdout to /dev/null, stderr to $STATE/launcher.log. */
void sup_daemon_log(void);
/* Fail the waiters, free the VMs and the fabric, close the control socket,
 * remove the pid file and the run directory, close the loop. */
void sup_teardown(void);

#endif

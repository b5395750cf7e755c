/* ovsd.h - finding an Open vSwitch to use, or running a private one.
 *
 * A private instance is an ovsdb-server and an ovs-vswitchd under
 * $RUN/ovs, started inside the fabric's network namespace as supervised
 * children (base/child.h).  They outlive the supervisor (child.outlive):
 * a supervisor killed or upgraded leaves the switch forwarding, and its
 * successor either adopts them (ovsd_adopt: same pids, watched by pidfd)
 * or, starting the fabric afresh, ends them (ovsd_start kills what its
 * pid files name, after checking the process is that daemon).
 *
 * A daemon that exits on its own is restarted with a backoff (1 s doubling
 * to 30 s; back to 1 s once one ran 30 s), on the same conf.db: the rows
 * survive, ovs-vswitchd reconnects to a restarted ovsdb-server by itself.
 *
 * Privilege: ovs-vswitchd is the daemon that handles what guests send, so
 * as root it runs with --user n3x-ovs:n3x-ovs, which makes OVS drop to that
 * user keeping only CAP_NET_ADMIN, CAP_NET_RAW and CAP_NET_BROADCAST (the
 * datapath, its AF_PACKET sockets and internal ports).  $RUN is root 0700,
 * so it cannot walk to $RUN/ovs by name: it gets $RUN/ovs as fd 3 and names
 * everything through /proc/self/fd/3 (a magic link: only the permissions of
 * $RUN/ovs itself, root:n3x-ovs 0710, apply).  db.sock is given group
 * n3x-ovs each time ovsdb-server (root) makes it; ovs-vswitchd's control
 * and per-bridge sockets live in $RUN/ovs/vswitchd (n3x-ovs, 0700); its log
 * file, $RUN/ovs/ovs-vswitchd.log, OVS opens while still root and then
 * hands to n3x-ovs.  Nothing root opens by name lies in a directory n3x-ovs
 * can write (vswitchd/ is only emptied, with unlinkat).
 * ovs.h builds the fabric on top; this module only knows processes.
 */
#ifndef N3X_OVSD_H
#define N3X_OVSD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/child.h"
#include "base/err.h"
#include "base/loop.h"
#include "base/paths.h"

#define OVSD_USER "n3x-ovs"

struct ovsd;

/* One daemon: our child, or one adopted from an earlier supervisor. */
struct ovsd_proc {
	const char *name;               /* "ovsdb-server", "ovs-vswitchd" */
	struct ovsd *d;
	struct child c;                 /* ours, or adopted (child_adopt) */
	struct loop_timer restart;
	int failures;                   /* quick exits in a row, for the backoff */
	uint64_t started_ms;
	char died[64];                  /* how the one being restarted ended */
	char pidfile[PATHS_MAX];
};

struct ovsd {
	/* set by the owner before ovsd_start()/ovsd_adopt() */
	/* A daemon exited; wstatus CHILD_STATUS_UNKNOWN when it was adopted.
	 * restart_ms > 0: it runs again after that long (not after ovsd_stop). */
	void (*exited)(struct ovsd *d, const char *daemon, int wstatus, int restart_ms);
	/* A daemon that exited runs again; how says how it ended. */
	void (*restarted)(struct ovsd *d, const char *daemon, const char *how);
	void *opaque;
	/* private */
	struct ovsd_proc server, vswitchd;
	bool stopping, kernel;
	int netns;
	uid_t uid;                      /* 0: no user switch (we are not root) */
	gid_t gid;
	char dir[PATHS_MAX];            /* $RUN/ovs */
	char sock[PATHS_MAX];           /* $RUN/ovs/db.sock */
	char schema[PATHS_MAX];
	char warning[160];              /* why ovs-vswitchd runs as root, if it does */
};

/* Make d safe for ovsd_reap/ovsd_detach before ovsd_start/ovsd_adopt (no
 * daemons, no timers).  The owner's fields are left alone. */
void ovsd_init(struct ovsd *d);

/* 1 when the kernel's Open vSwitch datapath is there (the "ovs_datapath"
 * generic-netlink family resolves; the kernel loads openvswitch.ko for the
 * question if it can), 0 when not, -errno when netlink could not be asked. */
int ovsd_kernel_datapath(void);

/* A system OVS we can use: its db.sock ($OVS_RUNDIR, else /run/openvswitch)
 * answers and its ovs-vswitchd runs in the network namespace netns_fd (-1:
 * ours), where it can open the fabric's taps.  0 and the socket's path in
 * sock, or -ENOENT (none runs) / -EXDEV (it runs in another namespace). */
int ovsd_system_sock(int netns_fd, char *sock, size_t size);

/* Start a private OVS under run_dir/ovs in netns_fd (-1: ours): a fresh
 * conf.db from the installed schema, ovsdb-server, then ovs-vswitchd
 * (--disable-system unless kernel).  A private OVS an earlier supervisor
 * left there is stopped first.  Blocks until db.sock answers (at most 5 s).
 * Needs the loop (the daemons register with it).  0, or -errno with one
 * line in e (a missing n3x-ovs user names scripts/deps.sh). */
int ovsd_start(struct ovsd *d, const char *run_dir, int netns_fd, bool kernel,
	       struct err *e);

/* Take over the private OVS an earlier supervisor left under run_dir/ovs:
 * both daemons named by its pid files, checked to be those daemons of that
 * directory, and db.sock answering.  1 when adopted (watched by pidfd and
 * supervised from now on), 0 when there is none to adopt (nothing changed:
 * call ovsd_start), -errno with e on failure. */
int ovsd_adopt(struct ovsd *d, const char *run_dir, int netns_fd, bool kernel, struct err *e);

/* Let db.sock be opened by ovs-vswitchd's user; call after each connect
 * (ovsdb-server makes the socket anew when it restarts).  No-op unless root. */
void ovsd_grant(struct ovsd *d);

/* SIGTERM both daemons; their exits arrive through the loop and d->exited. */
void ovsd_stop(struct ovsd *d);
bool ovsd_running(const struct ovsd *d);
/* Make sure both are gone before d is freed, when the loop no longer runs:
 * SIGTERM, SIGKILL after timeout_ms, reaped without d->exited; the pid
 * files go.  Blocks. */
void ovsd_reap(struct ovsd *d, int timeout_ms);
/* Forget both daemons and leave them running, for the next supervisor to
 * adopt (their pid files stay).  Stops watching them. */
void ovsd_detach(struct ovsd *d);

#endif

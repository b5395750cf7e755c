/* ovsd.h - finding an Open vSwitch to use, or running a private one.
 *
 * A private instance is an ovsdb-server and an ovs-vswitchd under
 * $RUN/ovs, started inside the fabric's network namespace as supervised
 * children (base/child.h): they log to $RUN/ovs/NAME.log (warnings also to
 * the supervisor's log), keep their control sockets and the per-bridge
 * management sockets there (OVS_RUNDIR), and die with the supervisor
 * (child_spawn's PR_SET_PDEATHSIG): a killed supervisor leaves no switch
 * behind, and its successor starts a fresh database.
 * ovs.h builds the fabric on top; this module only knows processes.
 */
#ifndef N3X_OVSD_H
#define N3X_OVSD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/child.h"
#include "base/err.h"
#include "base/paths.h"

struct ovsd {
	/* set by the owner before ovsd_start() */
	void (*exited)(struct ovsd *d, const char *daemon, int wstatus);
	void *opaque;
	/* private */
	struct child server, vswitchd;
	bool stopping;
	char dir[PATHS_MAX];    /* $RUN/ovs */
	char sock[PATHS_MAX];   /* $RUN/ovs/db.sock */
};

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
 * (--disable-system unless kernel).  Blocks until db.sock answers (at most
 * 5 s).  Needs the loop (child_spawn registers the daemons with it).
 * 0, or -errno with one line in e. */
int ovsd_start(struct ovsd *d, const char *run_dir, int netns_fd, bool kernel,
	       struct err *e);

/* SIGTERM both daemons; their exits arrive through the loop and d->exited. */
void ovsd_stop(struct ovsd *d);
bool ovsd_running(const struct ovsd *d);
/* Make sure both are gone before d is freed, when the loop no longer runs:
 * SIGTERM, SIGKILL after timeout_ms, reaped without d->exited.  Blocks. */
void ovsd_reap(struct ovsd *d, int timeout_ms);

#endif

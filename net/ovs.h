/* ovs.h - the Open vSwitch part of a fabric, over OVSDB (ovsdb.h).
 *
 * One handle per fabric: the connection to the OVS the fabric uses (the
 * system one when it can open the fabric's taps, else a private one, see
 * ovsd.h), and a monitor on the Interface table that learns when ports go
 * live.  Every row we create (Bridge, Port, Interface, QoS) carries
 * external_ids:n3x-fabric=FABRIC, VM ports also n3x-vm=VM, so the rows can
 * be found again and removed by a later supervisor.  Each change is one
 * "transact" that guards itself with "wait" operations and mutates the
 * parent's set (never rewrites it), so concurrent clients are not clobbered.
 *
 * Fabric build and teardown (ovs_open, ovs_adopt, ovs_bridge_add,
 * ovs_clear_fabric, ovs_close) block on the OVSDB round trip (bounded).
 * The verbs of a running fabric (ovs_port_add, ovs_port_del, ovs_vm_del)
 * never wait: they record what is wanted and queue the transaction, sent
 * from the loop one at a time; what fails later comes through the
 * callbacks.  Liveness is asynchronous too: ovs_ports_wait() for it
 * synchronously, or the port callback from the loop.
 *
 * A lost OVSDB connection is retried from the loop (100 ms doubling to
 * 5 s); once back, every bridge and port wanted is asserted again.  A
 * private OVS's daemons are restarted when they die (see ovsd.h) and
 * outlive the supervisor, for ovs_adopt() or ovs_open() of the next one.
 * Every verb that can fail returns -errno with one line in its struct err
 * (base/err.h); nothing here prints.
 */
#ifndef N3X_OVS_H
#define N3X_OVS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define OVS_FABRIC_MAX 31   /* the longest fabric name, as in external_ids */

struct ovs;

struct ovs_callbacks {
	/* A port added by ovs_bridge_add()/ovs_port_add() went live (ofport
	 * > 0, error NULL) or failed (ofport -1, error from OVS, e.g. "could
	 * not open network device n100-1-n0 (No such device)").  From the
	 * loop, or from inside ovs_ports_wait(). */
	void (*port)(void *opaque, const char *port, int ofport, const char *error);
	/* A private daemon ("ovsdb-server", "ovs-vswitchd") exited; expected
	 * after ovs_stop().  wstatus CHILD_STATUS_UNKNOWN: it was
	 * adopted (base/child.h).
	 * Unless expected it is started again after restart_ms. */
	void (*exited)(void *opaque, const char *daemon, int wstatus, bool expected, int restart_ms);
	/* That daemon runs again; how says how the last one ended. */
	void (*restarted)(void *opaque, const char *daemon, const char *how);
	/* The OVSDB connection failed (from the loop): e says why.  Changes
	 * queue meanwhile; it is retried with a backoff. */
	void (*lost)(void *opaque, const struct err *e);
	/* The connection is back and what is wanted is being re-asserted. */
	void (*connected)(void *opaque);
	/* A queued transaction other than a port's add failed (e says which). */
	void (*failed)(void *opaque, const struct err *e);
	void *opaque;
};

/* Connect to the OVS for fabric: the system one (see ovsd_system_sock),
 * else a private one started under run_dir/ovs inside netns_fd (-1: our
 * namespace).  Initialises the Open_vSwitch row if the database is empty,
 * starts the Interface monitor and clears rows a killed supervisor of this
 * fabric left.  The loop must be open (the private daemons and the OVSDB
 * connection register with it).  Blocks (20-50 ms for a private OVS).
 * 0 and *out, or -errno with one line in e ("Open vSwitch: ..."). */
int ovs_open(const char *fabric, const char *run_dir, int netns_fd, const struct ovs_callbacks *cb,
	     struct ovs **out, struct err *e);

/* As ovs_open, for a supervisor taking over a running fabric: a private
 * OVS still running under run_dir/ovs is reused (its daemons watched by
 * pidfd and supervised as if started here), and the fabric's rows are kept
 * rather than cleared.  Where the private OVS is gone it starts afresh and
 * *kept is false (the caller rebuilds bridges and ports); *kept is true
 * when the fabric's bridges are there: then their bridges and VM ports are
 * what is wanted, as if added here (no ovs_bridge_add needed; ovs_port_add
 * of an adopted VM's tap keeps its live port; a VM that is not adopted
 * gets ovs_vm_del, one started again ovs_port_add as usual). */
int ovs_adopt(const char *fabric, const char *run_dir, int netns_fd, const struct ovs_callbacks *cb,
	      struct ovs **out, bool *kept, struct err *e);
const char *ovs_datapath(const struct ovs *o);   /* "system" (kernel) or "netdev" (userspace) */
bool ovs_is_private(const struct ovs *o);
const char *ovs_db_sock(const struct ovs *o);    /* the db.sock we talk to */
/* Why the private ovs-vswitchd could not drop root (one line), or NULL. */
const char *ovs_warning(const struct ovs *o);

/* 0 when no bridge of that name exists in OVS or it is ours; -EEXIST when
 * another owner's does (e names it).  Creates nothing. */
int ovs_bridge_check(struct ovs *o, const char *bridge, struct err *e);

/* Create bridge (datapath per ovs_datapath(), fail_mode=standalone,
 * stp_enable from stp, other_config:forward-bpdu=true) with its own
 * internal port and the internal port host_interface (one port when they
 * share the name).  -EEXIST when the bridge exists.  ovs-vswitchd creates
 * the internal ports' devices: ovs_ports_wait() before giving the host
 * interface its address. */
int ovs_bridge_add(struct ovs *o, const char *bridge, const char *host_interface, bool stp,
		   struct err *e);

/* Add the existing device port (a tap) to bridge for vm: nvlans 0 untagged,
 * 1 an access port (tag), more a trunk (trunks).  Its Port refers to a QoS
 * of type linux-noop, so OVS leaves the device's qdiscs to us.  Returns at
 * once with the transaction queued (ovs_flush waits for it); liveness or
 * failure comes later (ovs_ports_wait, the port callback).  -ENODEV when
 * the bridge is not one of ours, -EEXIST when another VM has the port.
 * Added again for the same VM (adopted, or restarted unseen): kept as it is
 * while OVS has it open, else its row is made afresh. */
int ovs_port_add(struct ovs *o, const char *bridge, const char *port, const char *vm,
		 const uint16_t *vlans, int nvlans, struct err *e);

/* Remove our port (with its Interface and QoS); 0 also when it is gone.
 * Queued, as ovs_port_add. */
int ovs_port_del(struct ovs *o, const char *port, struct err *e);
/* Remove every port of ours tagged n3x-vm=vm.  Queued, as ovs_port_add. */
int ovs_vm_del(struct ovs *o, const char *vm, struct err *e);
/* Wait until the queued transactions are done, at most timeout_ms (for
 * tests and teardown): 0, -ETIMEDOUT, or -ENOTCONN while disconnected. */
int ovs_flush(struct ovs *o, int timeout_ms, struct err *e);
/* Remove every row tagged n3x-fabric=FABRIC: bridges, ports, interfaces,
 * QoS.  Done by ovs_open() and ovs_stop(); safe to repeat. */
int ovs_clear_fabric(struct ovs *o, struct err *e);

/* 1 when port is live, 0 while OVS has not opened it yet, -EIO when it
 * failed (e says why), -ENOENT when it is no port we added. */
int ovs_port_state(struct ovs *o, const char *port, struct err *e);
/* Block until every port added and not yet reported is live or failed, at
 * most timeout_ms.  0; -EIO naming the first failed port; -ETIMEDOUT naming
 * the ports still waited for. */
int ovs_ports_wait(struct ovs *o, int timeout_ms, struct err *e);

/* Shutdown from the loop: remove the fabric's rows, disconnect and SIGTERM
 * the private daemons; their exits come through the loop (the exited
 * callback, expected=true).  Then ovs_close() once !ovs_running().  Returns
 * 0, or -errno when the rows could not be removed (the rest is done). */
int ovs_stop(struct ovs *o, struct err *e);
bool ovs_running(const struct ovs *o);   /* a private daemon still runs */

/* Shutdown when the loop no longer runs, or after ovs_stop(): remove the
 * fabric's rows (if still connected), disconnect, stop the private daemons
 * (SIGTERM, SIGKILL after 3 s, reaped here without callbacks) and free o.
 * Blocks.  NULL is a no-op.  Returns 0, or -errno when the rows could not be
 * removed (o is freed all the same). */
int ovs_close(struct ovs *o, struct err *e);

/* For a supervisor leaving the fabric to the next one (shutdown keep_vms,
 * --detach-vms): disconnect and free o, leaving the rows and a private
 * OVS's daemons running for ovs_adopt().  NULL is a no-op. */
void ovs_detach(struct ovs *o);

#endif

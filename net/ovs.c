/* ovs.c - the Open vSwitch part of a fabric, over OVSDB.
 *
 * The transactions themselves are built by ovsops.c; this file runs them
 * (synchronously, bounded), keeps the connection in the loop and follows
 * the Interface monitor.  ovs-vswitchd writes an interface's ofport once it
 * has opened the device, or ofport -1 and error when it could not; a port we
 * added stays "pending" until one of the two shows.
 */
#include "net/ovs.h"
#include "base/loop.h"
#include "net/ovsd.h"
#include "net/ovsdb.h"
#include "net/ovsops.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB "Open_vSwitch"
#define TXN_TIMEOUT_MS 5000

enum port_state { PORT_WAITING, PORT_LIVE, PORT_FAILED };

/* A port we added, until ovs_ports_wait() has seen how it ended. */
struct pending {
	char name[32];
	enum port_state state;
	char error[256];
};

/* One of our interfaces as the monitor last saw it. */
struct iface {
	char uuid[40];
	char name[32];
	int ofport;             /* 0: not assigned yet */
	char error[256];
};

struct ovs {
	char fabric[OVS_FABRIC_MAX + 1];
	char sock[PATHS_MAX];
	const char *datapath;
	bool is_private;
	struct ovsd d;
	struct ovsdb *db;
	struct loop_watch w;
	uint32_t events;        /* registered with the loop; 0: not */
	struct ovs_callbacks cb;
	struct iface *ifaces;
	int nifaces;
	struct pending *pend;
	int npend;
};

/* ---- transactions ---- */

static void rearm(struct ovs *o)
{
	uint32_t want;

	if (!o->db || !o->events)
		return;
	want = EPOLLIN | (ovsdb_want_write(o->db) ? EPOLLOUT : 0);
	if (want != o->events && loop_mod(ovsdb_fd(o->db), want, &o->w) == 0)
		o->events = want;
}

/* Run ops (stolen).  0 and *res (caller frees; may be NULL), or -errno
 * with the error in e after "what: "; *failed_op gets the index of the
 * operation that failed (-1 if none did). */
static int txn(struct ovs *o, json_t *ops, json_t **res, int *failed_op, const char *what,
	       struct err *e)
{
	json_t *result = NULL, *r;
	size_t i;
	int rc;

	if (failed_op)
		*failed_op = -1;
	if (res)
		*res = NULL;
	if (!o->db) {
		json_decref(ops);
		return err_set(e, ENOTCONN, "%s: not connected to Open vSwitch", what);
	}
	rc = ovsdb_transact_sync(o->db, DB, ops, TXN_TIMEOUT_MS, &result, e);
	rearm(o);
	if (rc < 0) {
		err_wrap(e, "%s", what);
		json_array_foreach(result, i, r)
			if (failed_op && *failed_op < 0 && json_object_get(r, "error"))
				*failed_op = (int)i;
		json_decref(result);
		return rc;
	}
	if (res)
		*res = result;
	else
		json_decref(result);
	return 0;
}

/* The rows of the select at index i of a transaction's result. */
static json_t *rows(json_t *res, size_t i)
{
	return json_object_get(json_array_get(res, i), "rows");
}

/* ---- the monitor's view of our interfaces ---- */

static struct pending *find_pending(struct ovs *o, const char *name)
{
	for (int i = 0; i < o->npend; i++)
		if (!strcmp(o->pend[i].name, name))
			return &o->pend[i];
	return NULL;
}

static void drop_pending(struct ovs *o, const char *name)
{
	struct pending *p = find_pending(o, name);

	if (p)
		*p = o->pend[--o->npend];
}

static void settle(struct ovs *o, const struct iface *f);

/* The monitor may have seen the interface go live while the transaction
 * that added it was still waiting for its reply. */
static int add_pending(struct ovs *o, const char *name)
{
	struct pending *p = find_pending(o, name);

	if (!p) {
		p = realloc(o->pend, (o->npend + 1) * sizeof(*p));
		if (!p)
			return -ENOMEM;
		o->pend = p;
		p = &o->pend[o->npend++];
	}
	*p = (struct pending){ .state = PORT_WAITING };
	snprintf(p->name, sizeof(p->name), "%s", name);
	for (int i = 0; i < o->nifaces; i++)
		if (!strcmp(o->ifaces[i].name, name))
			settle(o, &o->ifaces[i]);
	return 0;
}

/* A waited-for port's interface has an ofport or an error: settle it. */
static void settle(struct ovs *o, const struct iface *f)
{
	struct pending *p = find_pending(o, f->name);

	if (!p || p->state != PORT_WAITING || (f->ofport == 0 && !f->error[0]))
		return;
	if (f->ofport > 0 && !f->error[0]) {
		p->state = PORT_LIVE;
	} else {
		p->state = PORT_FAILED;
		snprintf(p->error, sizeof(p->error), "%s", f->error[0] ? f->error : "no ofport");
	}
	if (o->cb.port)
		o->cb.port(o->cb.opaque, f->name, p->state == PORT_LIVE ? f->ofport : -1,
			   p->state == PORT_LIVE ? NULL : p->error);
}

static void forget_iface(struct ovs *o, const char *uuid)
{
	for (int i = 0; i < o->nifaces; i++)
		if (!strcmp(o->ifaces[i].uuid, uuid)) {
			o->ifaces[i] = o->ifaces[--o->nifaces];
			return;
		}
}

static struct iface *get_iface(struct ovs *o, const char *uuid)
{
	struct iface *f;

	for (int i = 0; i < o->nifaces; i++)
		if (!strcmp(o->ifaces[i].uuid, uuid))
			return &o->ifaces[i];
	f = realloc(o->ifaces, (o->nifaces + 1) * sizeof(*f));
	if (!f)
		return NULL;
	o->ifaces = f;
	f = &o->ifaces[o->nifaces++];
	*f = (struct iface){ 0 };
	snprintf(f->uuid, sizeof(f->uuid), "%s", uuid);
	return f;
}

/* <table-updates> for Interface, from the monitor's first reply or an
 * "update".  Optional columns come as an atom or as ["set", []]. */
static void apply_updates(struct ovs *o, json_t *updates)
{
	json_t *ru, *row, *v;
	const char *uuid;

	json_object_foreach(json_object_get(updates, "Interface"), uuid, ru) {
		struct iface *f;

		row = json_object_get(ru, "new");
		if (!row || !ovsops_is_ours(row, o->fabric)) {
			forget_iface(o, uuid);
			continue;
		}
		if (!(f = get_iface(o, uuid)))
			continue;
		if ((v = json_object_get(row, "name")) && json_is_string(v))
			snprintf(f->name, sizeof(f->name), "%s", json_string_value(v));
		if ((v = json_object_get(row, "ofport")))
			f->ofport = json_is_integer(v) ? (int)json_integer_value(v) : 0;
		if ((v = json_object_get(row, "error")))
			snprintf(f->error, sizeof(f->error), "%s", json_string_value(v) ?: "");
		settle(o, f);
	}
}

static void on_update(void *opaque, json_t *monitor_id, json_t *updates)
{
	(void)monitor_id;
	apply_updates(opaque, updates);
}

static void disconnect(struct ovs *o)
{
	if (!o->db)
		return;
	if (o->events)
		loop_del(ovsdb_fd(o->db));
	o->events = 0;
	ovsdb_free(o->db);
	o->db = NULL;
}

static void on_io(struct loop_watch *w, uint32_t events)
{
	struct ovs *o = container_of(w, struct ovs, w);

	struct err e = { 0 };

	(void)events;
	if (ovsdb_io(o->db, &e) < 0) {
		disconnect(o);
		if (o->cb.lost)
			o->cb.lost(o->cb.opaque, &e);
		return;
	}
	rearm(o);
}

static void on_daemon_exit(struct ovsd *d, const char *daemon, int wstatus)
{
	struct ovs *o = d->opaque;

	if (o->cb.exited)
		o->cb.exited(o->cb.opaque, daemon, wstatus, d->stopping);
}

/* ---- opening ---- */

/* Make sure the one Open_vSwitch row exists (as `ovs-vsctl init`), and
 * learn which datapath types ovs-vswitchd offers. */
static int init_db(struct ovs *o, bool kernel, struct err *e)
{
	json_t *res, *root, *types, *t;
	size_t i;
	int r;

	if ((r = txn(o, ovsops_read_root(), &res, NULL, "read Open_vSwitch", e)) < 0)
		return r;
	root = json_array_get(rows(res, 0), 0);
	/* A private ovs-vswitchd just started may not have filled it in yet. */
	types = ovsops_set_elems(json_object_get(root, "datapath_types"));
	if (kernel && json_array_size(types)) {
		kernel = false;
		json_array_foreach(types, i, t)
			kernel |= !strcmp(json_string_value(t) ?: "", "system");
	}
	json_decref(types);
	o->datapath = kernel ? "system" : "netdev";
	json_decref(res);
	if (root)
		return 0;
	return txn(o, ovsops_init_root(), NULL, NULL, "initialise Open_vSwitch", e);
}

static int start_monitor(struct ovs *o, struct err *e)
{
	json_t *params = json_pack("[s, s, {s:{s:[s,s,s,s]}}]", DB, "n3x-interfaces", "Interface",
				   "columns", "name", "ofport", "error", "external_ids");
	json_t *res = NULL;
	int r = ovsdb_call_sync(o->db, "monitor", params, TXN_TIMEOUT_MS, &res, e);

	if (r < 0)
		err_wrap(e, "monitor Interface");
	else
		apply_updates(o, res);
	json_decref(res);
	rearm(o);
	return r;
}

int ovs_open(const char *fabric, const char *run_dir, int netns_fd, const struct ovs_callbacks *cb,
	     struct ovs **out, struct err *e)
{
	struct ovsdb_callbacks dbcb = { .update = on_update };
	struct ovs *o;
	int kernel, r;

	*out = NULL;
	if (strlen(fabric) > OVS_FABRIC_MAX)
		return err_set(e, ENAMETOOLONG, "Open vSwitch: fabric name %s is too long", fabric);
	if (!(o = calloc(1, sizeof(*o))))
		return err_set(e, ENOMEM, "Open vSwitch: out of memory");
	snprintf(o->fabric, sizeof(o->fabric), "%s", fabric);
	if (cb)
		o->cb = *cb;
	o->w.cb = on_io;
	o->d.exited = on_daemon_exit;
	o->d.opaque = o;
	dbcb.opaque = o;
	kernel = ovsd_kernel_datapath() == 1;
	r = ovsd_system_sock(netns_fd, o->sock, sizeof(o->sock));
	if (r < 0) {
		o->is_private = true;
		if ((r = ovsd_start(&o->d, run_dir, netns_fd, kernel, e)) < 0)
			goto fail;
		snprintf(o->sock, sizeof(o->sock), "%s", o->d.sock);
	}
	if ((r = ovsdb_connect(o->sock, &dbcb, &o->db)) < 0) {
		err_sys(e, r, "connect to %s", o->sock);
		goto fail;
	}
	if ((r = loop_add(ovsdb_fd(o->db), EPOLLIN, &o->w)) < 0) {
		err_set(e, r, "watch %s: %s (is the loop open?)", o->sock, strerror(-r));
		goto fail;
	}
	o->events = EPOLLIN;
	if ((r = init_db(o, kernel, e)) < 0 || (r = start_monitor(o, e)) < 0 ||
	    (r = ovs_clear_fabric(o, e)) < 0)
		goto fail;
	*out = o;
	return 0;
fail:
	err_wrap(e, "Open vSwitch");
	disconnect(o);  /* nothing of ours was built: nothing to clear */
	ovs_close(o, NULL);
	return r;
}

const char *ovs_datapath(const struct ovs *o) { return o->datapath; }
bool ovs_is_private(const struct ovs *o) { return o->is_private; }
const char *ovs_db_sock(const struct ovs *o) { return o->sock; }

/* ---- bridges and ports ---- */

int ovs_bridge_check(struct ovs *o, const char *bridge, struct err *e)
{
	char what[64];
	json_t *res, *row;
	int r;

	snprintf(what, sizeof(what), "look up bridge %s", bridge);
	r = txn(o, json_pack("[{s:s, s:s, s:o, s:[s]}]", "op", "select", "table", "Bridge", "where",
			     ovsops_by_name(bridge), "columns", "external_ids"), &res, NULL, what, e);
	if (r < 0)
		return r;
	row = json_array_get(rows(res, 0), 0);
	r = 0;
	if (row && !ovsops_is_ours(row, o->fabric))
		r = err_set(e, EEXIST, "bridge %s exists in Open vSwitch and is not fabric %s's", bridge,
			    o->fabric);
	json_decref(res);
	return r;
}

int ovs_bridge_add(struct ovs *o, const char *bridge, const char *host_interface, bool stp,
		   struct err *e)
{
	char what[64];
	int r, failed;

	snprintf(what, sizeof(what), "create bridge %s", bridge);
	r = txn(o, ovsops_bridge_add(o->fabric, o->datapath, bridge, host_interface, stp), NULL,
		&failed, what, e);
	if (r == -EIO && failed == OVSOPS_BRIDGE_EXISTS)
		return err_set(e, EEXIST, "%s: it exists already", what);
	if (r < 0)
		return r;
	if ((r = add_pending(o, bridge)) == 0 && strcmp(bridge, host_interface))
		r = add_pending(o, host_interface);
	return r < 0 ? err_set(e, -r, "%s: out of memory", what) : 0;
}

int ovs_port_add(struct ovs *o, const char *bridge, const char *port, const char *vm,
		 const uint16_t *vlans, int nvlans, struct err *e)
{
	char what[64];
	int r, failed;

	snprintf(what, sizeof(what), "add port %s to bridge %s", port, bridge);
	r = txn(o, ovsops_port_add(o->fabric, bridge, port, vm, vlans, nvlans), NULL, &failed, what, e);
	if (r == -EIO && failed == OVSOPS_PORT_NO_BRIDGE)
		return err_set(e, ENODEV, "%s: no such bridge", what);
	if (r == -EIO && failed == OVSOPS_PORT_EXISTS)
		return err_set(e, EEXIST, "%s: the port exists already", what);
	if (r < 0)
		return r;
	r = add_pending(o, port);
	return r < 0 ? err_set(e, -r, "%s: out of memory", what) : 0;
}

/* Delete the ports matching where (stolen), with bridges all of the fabric. */
static int del_rows(struct ovs *o, json_t *where, bool bridges, const char *what, struct err *e)
{
	json_t *res = NULL, *ops, *row;
	size_t i;
	int r;

	r = txn(o, ovsops_del_select(o->fabric, where, bridges), &res, NULL, what, e);
	if (r == 0 && (ops = ovsops_del(o->fabric, where, res, bridges)))
		r = txn(o, ops, NULL, NULL, what, e);
	/* Whatever was waited for among them is not coming. */
	for (size_t k = 0; r == 0 && k < json_array_size(res); k++)
		json_array_foreach(json_object_get(json_array_get(res, k), "rows"), i, row)
			drop_pending(o, json_string_value(json_object_get(row, "name")) ?: "");
	json_decref(res);
	json_decref(where);
	return r;
}

int ovs_port_del(struct ovs *o, const char *port, struct err *e)
{
	json_t *where = ovsops_ours(o->fabric, NULL), *name = ovsops_by_name(port);
	char what[64];

	snprintf(what, sizeof(what), "remove port %s", port);
	json_array_extend(where, name);
	json_decref(name);
	return del_rows(o, where, false, what, e);
}

int ovs_vm_del(struct ovs *o, const char *vm, struct err *e)
{
	char what[64];

	snprintf(what, sizeof(what), "remove the ports of VM %s", vm);
	return del_rows(o, ovsops_ours(o->fabric, vm), false, what, e);
}

int ovs_clear_fabric(struct ovs *o, struct err *e)
{
	char what[64];

	snprintf(what, sizeof(what), "clear fabric %s", o->fabric);
	return del_rows(o, ovsops_ours(o->fabric, NULL), true, what, e);
}

/* ---- liveness and the end ---- */

int ovs_port_state(struct ovs *o, const char *port, struct err *e)
{
	struct pending *p = find_pending(o, port);

	if (!p) {
		for (int i = 0; i < o->nifaces; i++) {
			const struct iface *f = &o->ifaces[i];

			if (strcmp(f->name, port))
				continue;
			if (f->ofport > 0 && !f->error[0])
				return 1;
			if (f->ofport == 0 && !f->error[0])
				return 0;
			return err_set(e, EIO, "port %s: %s", port, f->error[0] ? f->error : "no ofport");
		}
		return err_set(e, ENOENT, "port %s: not ours", port);
	}
	if (p->state == PORT_FAILED)
		return err_set(e, EIO, "port %s: %s", p->name, p->error);
	return p->state == PORT_LIVE ? 1 : 0;
}

static int waiting(const struct ovs *o, char *names, size_t size)
{
	int n = 0;
	size_t len = 0;

	names[0] = '\0';
	for (int i = 0; i < o->npend; i++) {
		if (o->pend[i].state != PORT_WAITING)
			continue;
		if (len < size)
			len += snprintf(names + len, size - len, "%s%s", n ? ", " : "", o->pend[i].name);
		n++;
	}
	return n;
}

int ovs_ports_wait(struct ovs *o, int timeout_ms, struct err *e)
{
	long long deadline = (long long)loop_now_ms() + timeout_ms;
	char names[256];
	int r = 0;

	/* The monitor's updates come when ovs-vswitchd writes ofport or
	 * error; read them here, the loop is not running for us. */
	while (o->db && waiting(o, names, sizeof(names))) {
		struct pollfd pfd = { .fd = ovsdb_fd(o->db), .events = POLLIN };
		long long left = deadline - (long long)loop_now_ms();

		if (left <= 0)
			return err_set(e, ETIMEDOUT, "ports not live after %d ms: %s", timeout_ms, names);
		if (ovsdb_want_write(o->db))
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, (int)left) > 0 && (r = ovsdb_io(o->db, e)) < 0) {
			err_wrap(e, "wait for ports");
			disconnect(o);
			return r;
		}
	}
	if (!o->db)
		return err_set(e, ENOTCONN, "wait for ports: not connected to Open vSwitch");
	rearm(o);
	for (int i = 0; i < o->npend && !r; i++)
		if (o->pend[i].state == PORT_FAILED)
			r = ovs_port_state(o, o->pend[i].name, e);
	/* Seen how they ended: forget them. */
	o->npend = 0;
	return r;
}

int ovs_stop(struct ovs *o, struct err *e)
{
	int r = o->db ? ovs_clear_fabric(o, e) : 0;

	disconnect(o);
	if (o->is_private)
		ovsd_stop(&o->d);
	return r;
}

bool ovs_running(const struct ovs *o)
{
	return o->is_private && ovsd_running(&o->d);
}

int ovs_close(struct ovs *o, struct err *e)
{
	int r;

	if (!o)
		return 0;
	r = o->db ? ovs_clear_fabric(o, e) : 0;
	disconnect(o);
	if (o->is_private)
		ovsd_reap(&o->d, 3000);
	free(o->ifaces);
	free(o->pend);
	free(o);
	return r;
}

/* ovs.c - the Open vSwitch part of a fabric, over OVSDB.
 *
 * The transactions themselves are built by ovsops.c; this file runs them
 * and keeps the connection in the loop.  Two kinds of verbs:
 *
 * - Fabric build and teardown (ovs_open, ovs_bridge_add, ovs_clear_fabric,
 *   ovs_ports_wait, ovs_close) run before or after the loop, and wait for
 *   their reply (bounded).
 * - Port changes while the loop runs (ovs_port_add, ovs_port_del,
 *   ovs_vm_del, from VM start and exit) only record what is wanted and
 *   queue a transaction; the queue sends one at a time from the loop and
 *   the verb returns at once, so a stopped or slow ovsdb-server never holds
 *   the loop.  An outcome that fails later comes through the callbacks.
 *
 * What is wanted (the bridges and the ports) is kept here, so that after
 * the connection is lost (ovsdb-server restarted, or gone a while) it is
 * asserted again once connected: reconnects back off from 100 ms doubling
 * to 5 s, and after each the Interface monitor is restarted and every
 * bridge and port re-added (an "exists" answer is success).
 *
 * Liveness: ovs-vswitchd writes an interface's ofport once it has opened
 * the device, or ofport -1 and error when it could not; a port we added
 * stays "pending" until one of the two shows in the monitor.
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
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000
#define VLANS_MAX 64
/* Times a removal is tried again when the rows it read changed before its
 * delete committed (another client, or OVS itself). */
#define DEL_RETRIES 3

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

/* What the fabric wants in OVS, re-asserted after a reconnect. */
struct want_bridge {
	char name[32], host_if[32];
	bool stp;
};

struct want_port {
	char name[32], bridge[32], vm[32];
	uint16_t vlans[VLANS_MAX];
	int nvlans;
};

/* A queued transaction of the loop-time verbs. */
enum op_kind { OP_BRIDGE, OP_PORT, OP_DEL };

struct op {
	struct op *next;
	enum op_kind kind;
	char name[32];          /* the bridge or port to assert */
	json_t *where;          /* OP_DEL: the Port rows to remove */
	int stage;              /* OP_DEL: 0 select, 1 delete */
	int tries;
	bool cancelled;      /* the fabric was cleared while it was in flight */
	char what[96];
};

struct ovs {
	char fabric[OVS_FABRIC_MAX + 1];
	char sock[PATHS_MAX];
	const char *datapath;
	bool is_private, kernel, closing;
	struct ovsd d;
	struct ovsdb *db;
	bool ready;             /* connected, monitor running: the queue may run */
	bool busy;              /* the queue's head is in flight */
	struct loop_watch w;
	uint32_t events;        /* registered with the loop; 0: not */
	struct loop_timer reconnect;
	int backoff_ms;
	struct ovs_callbacks cb;
	struct iface *ifaces;
	int nifaces;
	struct pending *pend;
	int npend;
	struct want_bridge *bridges;
	int nbridges;
	struct want_port *ports;
	int nports;
	struct op *q, **qtail;
};

static void kick(struct ovs *o);
static void lose(struct ovs *o, const struct err *why);

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

/* Whether err from a call means the connection is finished. */
static bool conn_err(int err)
{
	return err < 0 && err != -EIO && err != -ETIMEDOUT && err != -ENOMEM && err != -EINVAL;
}

/* Run ops (stolen) and wait for the reply.  0 and *res (caller frees; may
 * be NULL), or -errno with the error in e after "what: "; *failed_op gets
 * the index of the operation that failed (-1 if none did). */
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
	if (rc < 0) {
		err_wrap(e, "%s", what);
		json_array_foreach(result, i, r)
			if (failed_op && *failed_op < 0 && json_object_get(r, "error"))
				*failed_op = (int)i;
		json_decref(result);
		if (conn_err(rc))
			lose(o, e);
		else
			rearm(o);
		return rc;
	}
	rearm(o);
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

/* The index of the first failed operation in a transaction's result. */
static int failed_at(json_t *result)
{
	json_t *r;
	size_t i;

	json_array_foreach(result, i, r)
		if (json_object_get(r, "error"))
			return (int)i;
	return -1;
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

/* ---- what is wanted ---- */

static struct want_port *find_port(struct ovs *o, const char *name)
{
	for (int i = 0; i < o->nports; i++)
		if (!strcmp(o->ports[i].name, name))
			return &o->ports[i];
	return NULL;
}

static struct want_bridge *find_bridge(struct ovs *o, const char *name)
{
	for (int i = 0; i < o->nbridges; i++)
		if (!strcmp(o->bridges[i].name, name))
			return &o->bridges[i];
	return NULL;
}

static int want_bridge(struct ovs *o, const char *bridge, const char *host_if, bool stp)
{
	struct want_bridge *b = find_bridge(o, bridge);

	if (!b) {
		if (!(b = realloc(o->bridges, (o->nbridges + 1) * sizeof(*b))))
			return -ENOMEM;
		o->bridges = b;
		b = &o->bridges[o->nbridges++];
	}
	*b = (struct want_bridge){ .stp = stp };
	snprintf(b->name, sizeof(b->name), "%s", bridge);
	snprintf(b->host_if, sizeof(b->host_if), "%s", host_if);
	return 0;
}

static int want_port(struct ovs *o, const char *bridge, const char *port, const char *vm,
		     const uint16_t *vlans, int nvlans)
{
	struct want_port *p = find_port(o, port);

	if (nvlans < 0 || nvlans > VLANS_MAX)
		return -EINVAL;
	if (!p) {
		if (!(p = realloc(o->ports, (o->nports + 1) * sizeof(*p))))
			return -ENOMEM;
		o->ports = p;
		p = &o->ports[o->nports++];
	}
	*p = (struct want_port){ .nvlans = nvlans };
	snprintf(p->name, sizeof(p->name), "%s", port);
	snprintf(p->bridge, sizeof(p->bridge), "%s", bridge);
	snprintf(p->vm, sizeof(p->vm), "%s", vm);
	if (nvlans)
		memcpy(p->vlans, vlans, nvlans * sizeof(*vlans));
	return 0;
}

static void unwant_ports(struct ovs *o, const char *vm, const char *port)
{
	for (int i = 0; i < o->nports;) {
		if ((vm && !strcmp(o->ports[i].vm, vm)) || (port && !strcmp(o->ports[i].name, port))) {
			drop_pending(o, o->ports[i].name);
			o->ports[i] = o->ports[--o->nports];
		} else {
			i++;
		}
	}
}

/* ---- the queue of loop-time transactions ---- */

static void op_free(struct op *op)
{
	json_decref(op->where);
	free(op);
}

static struct op *op_new(enum op_kind kind, const char *name, json_t *where, const char *what)
{
	struct op *op = calloc(1, sizeof(*op));

	if (!op) {
		json_decref(where);
		return NULL;
	}
	op->kind = kind;
	op->where = where;
	snprintf(op->name, sizeof(op->name), "%s", name ?: "");
	snprintf(op->what, sizeof(op->what), "%s", what);
	return op;
}

static void enqueue(struct ovs *o, struct op *op)
{
	*o->qtail = op;
	o->qtail = &op->next;
}

static void pop(struct ovs *o)
{
	struct op *op = o->q;

	if (!op)
		return;
	o->q = op->next;
	if (!o->q)
		o->qtail = &o->q;
	op_free(op);
}

static void clear_queue(struct ovs *o)
{
	while (o->q)
		pop(o);
}

/* A loop-time transaction failed for good: say so and go on. */
static void op_failed(struct ovs *o, const struct op *op, const char *why)
{
	struct err e;

	err_set(&e, EIO, "Open vSwitch: %s: %s", op->what, why);
	if (op->kind == OP_PORT && o->cb.port) {
		struct pending *p = find_pending(o, op->name);

		if (p) {
			p->state = PORT_FAILED;
			snprintf(p->error, sizeof(p->error), "%s", why);
		}
		o->cb.port(o->cb.opaque, op->name, -1, e.msg);
	} else if (o->cb.failed) {
		o->cb.failed(o->cb.opaque, &e);
	}
}

static void op_reply(void *opaque, json_t *result, int err, const char *errmsg)
{
	struct ovs *o = opaque;
	struct op *op = o->q;
	json_t *ops;
	int at;

	o->busy = false;
	if (!op)
		return;
	if (op->cancelled) {
		pop(o);
		kick(o);
		return;
	}
	if (conn_err(err) || err == -ETIMEDOUT) {
		/* Lost with the connection: the head stays, and is sent
		 * again once connected, after what is wanted (reassert). */
		return;
	}
	at = err == -EIO ? failed_at(result) : -1;
	switch (op->kind) {
	case OP_BRIDGE:
		if (err && !(err == -EIO && at == OVSOPS_BRIDGE_EXISTS))
			op_failed(o, op, errmsg ?: "failed");
		break;
	case OP_PORT:
		/* Exists: asserted again after a reconnect, or adopted. */
		if (err == -EIO && at == OVSOPS_PORT_NO_BRIDGE)
			op_failed(o, op, "no such bridge");
		else if (err && !(err == -EIO && at == OVSOPS_PORT_EXISTS))
			op_failed(o, op, errmsg ?: "failed");
		break;
	case OP_DEL:
		if (err == -EIO && op->stage == 1 && ++op->tries < DEL_RETRIES) {
			op->stage = 0;   /* the rows changed meanwhile: read again */
			kick(o);
			return;
		}
		if (err) {
			op_failed(o, op, errmsg ?: "failed");
			break;
		}
		if (op->stage == 0 && (ops = ovsops_del(o->fabric, op->where, result, false))) {
			op->stage = 1;
			o->busy = true;
			if (ovsdb_transact(o->db, DB, ops, op_reply, o) < 0)
				o->busy = false;   /* the connection is finishing */
			rearm(o);
			return;
		}
		break;
	}
	pop(o);
	kick(o);
}

/* The transaction for the queue's head, or NULL when it has become moot. */
static json_t *op_ops(struct ovs *o, struct op *op)
{
	const struct want_bridge *b;
	const struct want_port *p;

	switch (op->kind) {
	case OP_BRIDGE:
		if (!(b = find_bridge(o, op->name)))
			return NULL;
		return ovsops_bridge_add(o->fabric, o->datapath, b->name, b->host_if, b->stp);
	case OP_PORT:
		/* Removed since: the removal is queued after it. */
		if (!(p = find_port(o, op->name)))
			return NULL;
		return ovsops_port_add(o->fabric, p->bridge, p->name, p->vm, p->vlans, p->nvlans);
	case OP_DEL:
		/* The deletions follow from this select's reply (op_reply). */
		op->stage = 0;
		return ovsops_del_select(o->fabric, op->where, false);
	}
	return NULL;
}

/* Send the queue's head unless one is in flight or we are not connected. */
static void kick(struct ovs *o)
{
	while (o->ready && o->db && !o->busy && o->q) {
		json_t *ops;

		if (!(ops = op_ops(o, o->q))) {
			pop(o);
			continue;
		}
		o->busy = true;
		if (ovsdb_transact(o->db, DB, ops, op_reply, o) < 0) {
			o->busy = false;   /* the connection is finishing; on_io says so */
			break;
		}
	}
	rearm(o);
}

/* Everything wanted, ahead of what was queued: after a reconnect. */
static void reassert(struct ovs *o)
{
	struct op *head = NULL, **tail = &head, *op;

	for (int i = 0; i < o->nbridges; i++) {
		char what[80];

		snprintf(what, sizeof(what), "create bridge %s", o->bridges[i].name);
		if ((op = op_new(OP_BRIDGE, o->bridges[i].name, NULL, what))) {
			*tail = op;
			tail = &op->next;
		}
	}
	for (int i = 0; i < o->nports; i++) {
		char what[96];

		snprintf(what, sizeof(what), "add port %s to bridge %s", o->ports[i].name,
			 o->ports[i].bridge);
		if ((op = op_new(OP_PORT, o->ports[i].name, NULL, what))) {
			*tail = op;
			tail = &op->next;
		}
	}
	if (!head)
		return;
	*tail = o->q;
	if (!o->q)
		o->qtail = tail;
	o->q = head;
}

/* ---- the connection ---- */

static void disconnect(struct ovs *o)
{
	struct ovsdb *db = o->db;

	if (!db)
		return;
	if (o->events)
		loop_del(ovsdb_fd(db));
	o->events = 0;
	o->db = NULL;
	o->ready = false;
	/* Pending callbacks run from here with -ECANCELED. */
	ovsdb_free(db);
	o->busy = false;
}

static void schedule_reconnect(struct ovs *o)
{
	if (o->closing)
		return;
	loop_timer_arm(&o->reconnect, o->backoff_ms);
	o->backoff_ms = o->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : o->backoff_ms * 2;
}

/* The connection failed: drop it, tell the owner, and try again later. */
static void lose(struct ovs *o, const struct err *why)
{
	bool was = o->db != NULL;

	disconnect(o);
	if (!was || o->closing)
		return;
	o->backoff_ms = RECONNECT_MIN_MS;
	if (o->cb.lost)
		o->cb.lost(o->cb.opaque, why);
	schedule_reconnect(o);
}

static void on_io(struct loop_watch *w, uint32_t events)
{
	struct ovs *o = container_of(w, struct ovs, w);
	struct err e = { 0 };

	(void)events;
	if (ovsdb_io(o->db, &e) < 0) {
		lose(o, &e);
		return;
	}
	rearm(o);
}

/* A step of the reconnect failed: start over after the backoff.  Nothing
 * to do when the connection is already gone (whoever dropped it retries);
 * the owner heard of the loss once, each retry would only repeat it. */
static void reconnect_failed(struct ovs *o)
{
	if (!o->db)
		return;
	disconnect(o);
	schedule_reconnect(o);
}

static void monitor_reply(void *opaque, json_t *result, int err, const char *errmsg)
{
	struct ovs *o = opaque;

	(void)errmsg;
	if (err) {
		reconnect_failed(o);
		return;
	}
	/* The monitor's first reply is the whole table: start over from it. */
	o->nifaces = 0;
	apply_updates(o, result);
	o->ready = true;
	o->backoff_ms = RECONNECT_MIN_MS;
	if (o->is_private)
		ovsd_grant(&o->d);
	reassert(o);
	if (o->cb.connected)
		o->cb.connected(o->cb.opaque);
	kick(o);
}

static int send_monitor(struct ovs *o)
{
	json_t *reqs = json_pack("{s:{s:[s,s,s,s]}}", "Interface", "columns", "name", "ofport",
				 "error", "external_ids");

	return ovsdb_monitor(o->db, DB, json_string("n3x-interfaces"), reqs, monitor_reply, o);
}

static void init_reply(void *opaque, json_t *result, int err, const char *errmsg)
{
	struct ovs *o = opaque;

	(void)result;
	(void)errmsg;
	if (err || send_monitor(o) < 0)
		reconnect_failed(o);
	rearm(o);
}

/* A fresh database (ovsdb-server lost its conf.db) has no root row. */
static void root_reply(void *opaque, json_t *result, int err, const char *errmsg)
{
	struct ovs *o = opaque;
	int r;

	(void)errmsg;
	if (err) {
		reconnect_failed(o);
		return;
	}
	if (json_array_size(rows(result, 0)))
		r = send_monitor(o);
	else
		r = ovsdb_transact(o->db, DB, ovsops_init_root(), init_reply, o);
	if (r < 0)
		reconnect_failed(o);
	rearm(o);
}

static void reconnect_fire(struct loop_timer *t)
{
	struct ovs *o = container_of(t, struct ovs, reconnect);
	struct ovsdb_callbacks dbcb = { .update = on_update, .opaque = o };
	int r;

	if (o->db || o->closing)
		return;
	if ((r = ovsdb_connect(o->sock, &dbcb, &o->db)) < 0) {
		schedule_reconnect(o);
		return;
	}
	if ((r = loop_add(ovsdb_fd(o->db), EPOLLIN, &o->w)) < 0) {
		reconnect_failed(o);
		return;
	}
	o->events = EPOLLIN;
	if ((r = ovsdb_transact(o->db, DB, ovsops_read_root(), root_reply, o)) < 0)
		reconnect_failed(o);
	rearm(o);
}

static void on_daemon_exit(struct ovsd *d, const char *daemon, int wstatus, int restart_ms)
{
	struct ovs *o = d->opaque;

	if (o->cb.exited)
		o->cb.exited(o->cb.opaque, daemon, wstatus, d->stopping, restart_ms);
}

static void on_daemon_restart(struct ovsd *d, const char *daemon, const char *how)
{
	struct ovs *o = d->opaque;

	if (o->cb.restarted)
		o->cb.restarted(o->cb.opaque, daemon, how);
	/* Connect now rather than at the end of a long backoff. */
	if (!o->db && !o->closing) {
		o->backoff_ms = RECONNECT_MIN_MS;
		schedule_reconnect(o);
	}
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

static struct ovs *ovs_new(const char *fabric, const struct ovs_callbacks *cb, struct err *e)
{
	struct ovs *o;

	if (strlen(fabric) > OVS_FABRIC_MAX) {
		err_set(e, ENAMETOOLONG, "Open vSwitch: fabric name %s is too long", fabric);
		return NULL;
	}
	if (!(o = calloc(1, sizeof(*o)))) {
		err_set(e, ENOMEM, "Open vSwitch: out of memory");
		return NULL;
	}
	snprintf(o->fabric, sizeof(o->fabric), "%s", fabric);
	if (cb)
		o->cb = *cb;
	o->w.cb = on_io;
	ovsd_init(&o->d);
	o->d.exited = on_daemon_exit;
	o->d.restarted = on_daemon_restart;
	o->d.opaque = o;
	o->qtail = &o->q;
	o->backoff_ms = RECONNECT_MIN_MS;
	loop_timer_init(&o->reconnect, reconnect_fire);
	o->kernel = ovsd_kernel_datapath() == 1;
	return o;
}

/* Connect to o->sock, initialise the database and start the monitor. */
static int connect_db(struct ovs *o, struct err *e)
{
	struct ovsdb_callbacks dbcb = { .update = on_update, .opaque = o };
	int r;

	if ((r = ovsdb_connect(o->sock, &dbcb, &o->db)) < 0)
		return err_sys(e, r, "connect to %s", o->sock);
	if ((r = loop_add(ovsdb_fd(o->db), EPOLLIN, &o->w)) < 0)
		return err_set(e, r, "watch %s: %s (is the loop open?)", o->sock, strerror(-r));
	o->events = EPOLLIN;
	if ((r = init_db(o, o->kernel, e)) < 0 || (r = start_monitor(o, e)) < 0)
		return r;
	if (o->is_private)
		ovsd_grant(&o->d);
	o->ready = true;
	return 0;
}

static void fail_open(struct ovs *o, struct err *e)
{
	err_wrap(e, "Open vSwitch");
	o->closing = true;
	disconnect(o);  /* nothing of ours was built: nothing to clear */
	ovs_close(o, NULL);
}

/* The value of key in a row's external_ids, or NULL. */
static const char *ext_id(json_t *row, const char *key)
{
	json_t *pairs = json_array_get(json_object_get(row, "external_ids"), 1), *kv;
	size_t i;

	json_array_foreach(pairs, i, kv)
		if (!strcmp(json_string_value(json_array_get(kv, 0)) ?: "", key))
			return json_string_value(json_array_get(kv, 1));
	return NULL;
}

/* An adopted fabric's bridges and ports become what is wanted, so that a
 * later reconnect asserts them as if this supervisor had made them. */
static int read_wanted(struct ovs *o, struct err *e)
{
	json_t *ops = json_pack("[{s:s, s:s, s:o, s:[s,s,s]}, {s:s, s:s, s:o, s:[s,s,s,s,s]}]",
				"op", "select", "table", "Bridge", "where", ovsops_ours(o->fabric, NULL),
				"columns", "name", "stp_enable", "ports",
				"op", "select", "table", "Port", "where", ovsops_ours(o->fabric, NULL),
				"columns", "_uuid", "name", "external_ids", "tag", "trunks");
	json_t *res, *br, *pt;
	size_t i, j, k;
	int r;

	if ((r = txn(o, ops, &res, NULL, "read the fabric's bridges and ports", e)) < 0)
		return r;
	json_array_foreach(rows(res, 0), i, br) {
		const char *bname = json_string_value(json_object_get(br, "name")) ?: "";
		json_t *ports = ovsops_set_elems(json_object_get(br, "ports")), *u;
		const char *host_if = bname;

		json_array_foreach(ports, j, u) {
			json_array_foreach(rows(res, 1), k, pt) {
				const char *pname = json_string_value(json_object_get(pt, "name")) ?: "";
				const char *vm = ext_id(pt, "n3x-vm");
				json_t *tag = json_object_get(pt, "tag"), *trunks, *t;
				uint16_t vlans[VLANS_MAX];
				size_t n = 0, m;

				if (!json_equal(json_object_get(pt, "_uuid"), u))
					continue;
				if (!vm) {
					if (strcmp(pname, bname))
						host_if = pname;
					continue;
				}
				if (json_is_integer(tag)) {
					vlans[n++] = (uint16_t)json_integer_value(tag);
				} else {
					trunks = ovsops_set_elems(json_object_get(pt, "trunks"));
					json_array_foreach(trunks, m, t)
						if (n < VLANS_MAX)
							vlans[n++] = (uint16_t)json_integer_value(t);
					json_decref(trunks);
				}
				if (want_port(o, bname, pname, vm, vlans, (int)n) < 0)
					r = -ENOMEM;
			}
		}
		json_decref(ports);
		if (want_bridge(o, bname, host_if, json_is_true(json_object_get(br, "stp_enable"))) < 0)
			r = -ENOMEM;
	}
	json_decref(res);
	return r < 0 ? err_set(e, -r, "read the fabric's bridges and ports: out of memory") : 0;
}

/* ovs_open (kept NULL) and ovs_adopt: a private OVS started, or taken over
 * where one runs; the fabric's rows cleared, or read back as wanted. */
static int open_ovs(const char *fabric, const char *run_dir, int netns_fd, const struct ovs_callbacks *cb,
		    struct ovs **out, bool *kept, struct err *e)
{
	struct ovs *o;
	int r;

	*out = NULL;
	if (kept)
		*kept = false;
	if (!(o = ovs_new(fabric, cb, e)))
		return -e->code;
	r = ovsd_system_sock(netns_fd, o->sock, sizeof(o->sock));
	if (r < 0) {
		o->is_private = true;
		if (kept && (r = ovsd_adopt(&o->d, run_dir, netns_fd, o->kernel, e)) < 0)
			goto fail;
		/* A fresh start, or none to adopt (0). */
		if ((!kept || r == 0) && (r = ovsd_start(&o->d, run_dir, netns_fd, o->kernel, e)) < 0)
			goto fail;
		snprintf(o->sock, sizeof(o->sock), "%s", o->d.sock);
	}
	if ((r = connect_db(o, e)) < 0 || (kept && (r = read_wanted(o, e)) < 0))
		goto fail;
	if (kept)
		*kept = o->nbridges > 0;
	/* A fresh fabric starts clean; half a fabric is no use to rebuild on. */
	if ((!kept || !*kept) && (r = ovs_clear_fabric(o, e)) < 0)
		goto fail;
	*out = o;
	return 0;
fail:
	fail_open(o, e);
	return r;
}

int ovs_open(const char *fabric, const char *run_dir, int netns_fd, const struct ovs_callbacks *cb,
	     struct ovs **out, struct err *e)
{
	return open_ovs(fabric, run_dir, netns_fd, cb, out, NULL, e);
}

int ovs_adopt(const char *fabric, const char *run_dir, int netns_fd, const struct ovs_callbacks *cb,
	      struct ovs **out, bool *kept, struct err *e)
{
	return open_ovs(fabric, run_dir, netns_fd, cb, out, kept, e);
}

const char *ovs_datapath(const struct ovs *o) { return o->datapath; }
bool ovs_is_private(const struct ovs *o) { return o->is_private; }
const char *ovs_db_sock(const struct ovs *o) { return o->sock; }

const char *ovs_warning(const struct ovs *o)
{
	return o->is_private && o->d.warning[0] ? o->d.warning : NULL;
}

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
	if ((r = want_bridge(o, bridge, host_interface, stp)) == 0 && (r = add_pending(o, bridge)) == 0 &&
	    strcmp(bridge, host_interface))
		r = add_pending(o, host_interface);
	return r < 0 ? err_set(e, -r, "%s: out of memory", what) : 0;
}

/* Whether the monitor shows port opened by ovs-vswitchd, without error. */
static bool iface_live(const struct ovs *o, const char *port)
{
	for (int i = 0; i < o->nifaces; i++)
		if (!strcmp(o->ifaces[i].name, port))
			return o->ifaces[i].ofport > 0 && !o->ifaces[i].error[0];
	return false;
}

/* Queue the removal of the ports matching where (stolen). */
static int queue_del(struct ovs *o, json_t *where, const char *what, struct err *e)
{
	struct op *op = op_new(OP_DEL, NULL, where, what);

	if (!op)
		return err_set(e, ENOMEM, "%s: out of memory", what);
	enqueue(o, op);
	kick(o);
	return 0;
}

int ovs_port_add(struct ovs *o, const char *bridge, const char *port, const char *vm,
		 const uint16_t *vlans, int nvlans, struct err *e)
{
	const struct want_port *had = find_port(o, port);
	char what[96];
	struct op *op;
	int r;

	snprintf(what, sizeof(what), "add port %s to bridge %s", port, bridge);
	if (!find_bridge(o, bridge))
		return err_set(e, ENODEV, "%s: no such bridge", what);
	if (had && strcmp(had->vm, vm))
		return err_set(e, EEXIST, "%s: the port exists already (VM %s's)", what, had->vm);
	/* Added again without a removal: a port adopted and live is only
	 * asserted (its traffic goes on); one OVS failed to open (a VM that
	 * restarted without its exit seen) gets a fresh row, so ovs-vswitchd
	 * opens the new tap. */
	if (had && !iface_live(o, port) &&
	    (r = queue_del(o, json_pack("[[s,s,s]]", "name", "==", port), what, e)) < 0)
		return r;
	if ((r = want_port(o, bridge, port, vm, vlans, nvlans)) < 0 || (r = add_pending(o, port)) < 0)
		return err_set(e, -r, "%s: %s", what, strerror(-r));
	if (!(op = op_new(OP_PORT, port, NULL, what)))
		return err_set(e, ENOMEM, "%s: out of memory", what);
	enqueue(o, op);
	kick(o);
	return 0;
}

int ovs_port_del(struct ovs *o, const char *port, struct err *e)
{
	json_t *where = ovsops_ours(o->fabric, NULL), *name = ovsops_by_name(port);
	char what[64];

	snprintf(what, sizeof(what), "remove port %s", port);
	json_array_extend(where, name);
	json_decref(name);
	unwant_ports(o, NULL, port);
	return queue_del(o, where, what, e);
}

int ovs_vm_del(struct ovs *o, const char *vm, struct err *e)
{
	char what[64];

	snprintf(what, sizeof(what), "remove the ports of VM %s", vm);
	unwant_ports(o, vm, NULL);
	return queue_del(o, ovsops_ours(o->fabric, vm), what, e);
}

/* Delete the ports matching where (stolen), with bridges all of the
 * fabric, and wait for it. */
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

int ovs_clear_fabric(struct ovs *o, struct err *e)
{
	char what[64];

	snprintf(what, sizeof(what), "clear fabric %s", o->fabric);
	/* Nothing is wanted any more; a transaction in flight stays at the
	 * head until its reply, which then does nothing more. */
	o->nports = o->nbridges = 0;
	if (o->q) {
		struct op *head = o->q;

		o->q = head->next;
		if (!o->busy) {
			op_free(head);
			head = NULL;
		}
		clear_queue(o);
		if (head) {
			head->cancelled = true;
			head->next = NULL;
			o->q = head;
			o->qtail = &head->next;
		}
	}
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
			lose(o, e);
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

int ovs_flush(struct ovs *o, int timeout_ms, struct err *e)
{
	long long deadline = (long long)loop_now_ms() + timeout_ms;
	int r;

	/* The replies come on the connection; read them here, the loop is not
	 * running for us. */
	while (o->q) {
		struct pollfd pfd;
		long long left = deadline - (long long)loop_now_ms();

		if (!o->db || !o->ready)
			return err_set(e, ENOTCONN, "Open vSwitch: %s: not connected", o->q->what);
		if (left <= 0)
			return err_set(e, ETIMEDOUT, "Open vSwitch: %s: no answer after %d ms", o->q->what,
				       timeout_ms);
		pfd = (struct pollfd){ .fd = ovsdb_fd(o->db), .events = POLLIN };
		if (ovsdb_want_write(o->db))
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, (int)left) > 0 && (r = ovsdb_io(o->db, e)) < 0) {
			err_wrap(e, "Open vSwitch");
			lose(o, e);
			return r;
		}
	}
	rearm(o);
	return 0;
}

int ovs_stop(struct ovs *o, struct err *e)
{
	int r = o->db ? ovs_clear_fabric(o, e) : 0;

	o->closing = true;
	loop_timer_disarm(&o->reconnect);
	disconnect(o);
	if (o->is_private)
		ovsd_stop(&o->d);
	return r;
}

bool ovs_running(const struct ovs *o)
{
	return o->is_private && ovsd_running(&o->d);
}

static void ovs_free(struct ovs *o)
{
	o->closing = true;
	loop_timer_close(&o->reconnect);
	disconnect(o);
	clear_queue(o);
	free(o->ifaces);
	free(o->pend);
	free(o->bridges);
	free(o->ports);
	free(o);
}

int ovs_close(struct ovs *o, struct err *e)
{
	int r;

	if (!o)
		return 0;
	r = o->db && !o->closing ? ovs_clear_fabric(o, e) : 0;
	o->closing = true;
	disconnect(o);
	if (o->is_private)
		ovsd_reap(&o->d, 3000);
	ovs_free(o);
	return r;
}

void ovs_detach(struct ovs *o)
{
	if (!o)
		return;
	o->closing = true;
	disconnect(o);
	if (o->is_private)
		ovsd_detach(&o->d);
	ovs_free(o);
}

/* ovsdb.c - a non-blocking OVSDB JSON-RPC client (RFC 7047).
 *
 * Requests, their replies, the server's requests and notifications over
 * jsonrpc.h, which frames the stream and queues output.
 *
 * Callbacks run only from ovsdb_io(), ovsdb_call_sync() and ovsdb_free(); a
 * callback may free the client, which is then deferred until the I/O on the
 * stack unwinds.
 */
#include "net/ovsdb.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/sock.h"
#include "net/jsonrpc.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct req {
	struct req *next;
	json_int_t id;
	ovsdb_reply_fn cb;      /* NULL: abandoned (a timed-out sync call) */
	void *opaque;
	json_t *ops;            /* transact: the operations, to name a failed one */
};

struct ovsdb {
	struct jsonrpc *rpc;
	struct ovsdb_callbacks cb;
	struct req *head;
	json_int_t next_id;
	int err;                /* set once the connection is finished */
	int depth_io;           /* > 0 while callbacks may be on the stack */
	bool closing;
	char errmsg[512];       /* what the reply callbacks get: the last failure */
};

static void set_error(struct ovsdb *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct ovsdb *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	/* One line, whatever the server put in "details". */
	for (char *p = c->errmsg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

static void req_free(struct req *r)
{
	json_decref(r->ops);
	free(r);
}

static void cancel_pending(struct ovsdb *c, int err)
{
	struct req *r = c->head, *next;

	c->head = NULL;
	for (; r; r = next) {
		next = r->next;
		if (r->cb)
			r->cb(r->opaque, NULL, err, c->errmsg);
		req_free(r);
	}
}

static void fail(struct ovsdb *c, int err)
{
	if (c->err)
		return;
	c->err = err;
	set_error(c, "OVSDB connection: %s", err == -EPIPE ? "closed by the server" :
		  err == -EPROTO ? "malformed message from the server" : strerror(-err));
	cancel_pending(c, err);
}

static void destroy(struct ovsdb *c)
{
	jsonrpc_free(c->rpc);
	free(c);
}

/* A transaction's operations: params without the database name, kept to
 * check the results against and to name a failed operation. */
static json_t *transact_ops(const char *method, json_t *params)
{
	json_t *ops;

	if (strcmp(method, "transact") || !(ops = json_array()))
		return NULL;
	for (size_t i = 1; i < json_array_size(params); i++)
		json_array_append(ops, json_array_get(params, i));
	return ops;
}

/* Queue a request (params stolen); *id_out gets its id. */
static int send_req(struct ovsdb *c, const char *method, json_t *params,
		    ovsdb_reply_fn cb, void *opaque, json_int_t *id_out)
{
	struct req *r, **pp;
	json_t *msg;
	int e;

	if (c->err) {
		json_decref(params);
		return c->err;
	}
	if (!method || !json_is_array(params)) {
		json_decref(params);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	msg = json_pack("{s:s, s:o, s:I}", "method", method, "params", params,
			"id", (json_int_t)(c->next_id + 1));
	if (!r || !msg) {
		free(r);
		json_decref(msg);
		return msg ? -ENOMEM : -EINVAL;
	}
	r->ops = transact_ops(method, params);
	/* Written at once so the owner need not poll for writability after
	 * every request; a broken link shows again in ovsdb_io(). */
	e = jsonrpc_send(c->rpc, msg);
	if (e < 0 && e != -EPIPE) {
		req_free(r);
		return e;
	}
	r->id = ++c->next_id;
	r->cb = cb;
	r->opaque = opaque;
	/* Append: replies mostly come in order, so the head matches first. */
	for (pp = &c->head; *pp; pp = &(*pp)->next)
		;
	*pp = r;
	if (id_out)
		*id_out = r->id;
	return 0;
}

static struct req *take_req(struct ovsdb *c, json_int_t id)
{
	for (struct req **pp = &c->head; *pp; pp = &(*pp)->next) {
		struct req *r = *pp;

		if (r->id == id) {
			*pp = r->next;
			return r;
		}
	}
	return NULL;
}

/* "error" (a string or {"error", "details"}) as one line into c->errmsg,
 * followed by suffix. */
static void describe(struct ovsdb *c, json_t *e, const char *suffix)
{
	const char *what = json_string_value(json_is_object(e) ? json_object_get(e, "error") : e);
	const char *details = json_string_value(json_object_get(e, "details"));
	char *dump = NULL;

	if (what && !*what)
		what = "an empty error"; /* a server's "", still one line that says something */
	if (!what)
		what = dump = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
	set_error(c, "%s%s%s%s", what ? what : "error", details ? ": " : "", details ? details : "",
		  suffix);
	free(dump);
}

/* The first failed operation of a transaction; 0 when there is none.  The
 * server stops at the first failure, and an extra result past the
 * operations is an error at commit (e.g. referential integrity). */
static int transact_error(struct ovsdb *c, json_t *ops, json_t *result)
{
	size_t i;
	json_t *res;

	if (!json_is_array(result)) {
		set_error(c, "transact: the reply's result is not an array");
		return -EIO;
	}
	json_array_foreach(result, i, res) {
		json_t *op = json_array_get(ops, i);
		char where[160];

		if (!json_is_object(res) || !json_object_get(res, "error"))
			continue;
		if (op)
			snprintf(where, sizeof(where), " (op %zu, %s %s)", i + 1,
				 json_string_value(json_object_get(op, "op")) ?: "?",
				 json_string_value(json_object_get(op, "table")) ?: "");
		else
			snprintf(where, sizeof(where), " (at commit)");
		describe(c, res, where);
		return -EIO;
	}
	return 0;
}

static int handle_reply(struct ovsdb *c, json_t *msg)
{
	json_t *id = json_object_get(msg, "id");
	json_t *error = json_object_get(msg, "error");
	json_t *result = json_object_get(msg, "result");
	struct req *r;
	int err = 0;

	if (!json_is_integer(id) || !(r = take_req(c, json_integer_value(id))))
		return -EPROTO;
	if (error && !json_is_null(error)) {
		describe(c, error, "");
		result = NULL;
		err = -EIO;
	} else if (r->ops) {
		err = transact_error(c, r->ops, result);
	}
	if (r->cb)
		r->cb(r->opaque, result, err, err ? c->errmsg : NULL);
	req_free(r);
	return 0;
}

/* A request from the server.  RFC 7047 4.1.11: "echo" is answered with its
 * params, and a server that gets no answer drops the connection. */
static int handle_request(struct ovsdb *c, const char *method, json_t *msg)
{
	json_t *id = json_object_get(msg, "id"), *reply;

	if (!strcmp(method, "echo"))
		reply = json_pack("{s:O?, s:n, s:O}", "result", json_object_get(msg, "params"),
				  "error", "id", id);
	else
		reply = json_pack("{s:n, s:{s:s}, s:O}", "result", "error", "error",
				  "unknown method", "id", id);
	return reply ? jsonrpc_send(c->rpc, reply) : -ENOMEM;
}

static int handle_msg(struct ovsdb *c, json_t *msg)
{
	json_t *method, *id, *params;

	if (!json_is_object(msg))
		return -EPROTO;
	method = json_object_get(msg, "method");
	if (!method)
		return handle_reply(c, msg);
	if (!json_is_string(method))
		return -EPROTO;
	id = json_object_get(msg, "id");
	if (id && !json_is_null(id))
		return handle_request(c, json_string_value(method), msg);
	/* A notification.  Only "update" is ours; "locked" and "stolen"
	 * answer lock requests we never make. */
	params = json_object_get(msg, "params");
	if (!strcmp(json_string_value(method), "update")) {
		if (!json_is_array(params) || json_array_size(params) != 2)
			return -EPROTO;
		if (c->cb.update)
			c->cb.update(c->cb.opaque, json_array_get(params, 0), json_array_get(params, 1));
	}
	return 0;
}

struct ovsdb *ovsdb_new(int fd, const struct ovsdb_callbacks *cb)
{
	struct ovsdb *c = calloc(1, sizeof(*c));

	if (!c || !(c->rpc = jsonrpc_new(fd))) {
		free(c);
		return NULL;
	}
	if (cb)
		c->cb = *cb;
	return c;
}

int ovsdb_connect(const char *path, const struct ovsdb_callbacks *cb, struct ovsdb **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* Non-blocking: a unix connect completes or fails at once, except that
	 * a server that accepts nothing (stopped, wedged) with a full backlog
	 * would hold a blocking one; then it fails with -EAGAIN. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!(*out = ovsdb_new(fd, cb))) {
		r = -errno;
		close(fd);
		return r;
	}
	return 0;
}

int ovsdb_fd(const struct ovsdb *c)
{
	return jsonrpc_fd(c->rpc);
}

bool ovsdb_want_write(const struct ovsdb *c)
{
	return !c->err && jsonrpc_want_write(c->rpc);
}

int ovsdb_io(struct ovsdb *c, struct err *e)
{
	json_t *msg;
	int r = 0;

	if (c->err)
		return err_set(e, c->err, "%s", c->errmsg);
	c->depth_io++;
	while (!c->closing && (r = jsonrpc_recv(c->rpc, &msg)) > 0) {
		r = handle_msg(c, msg);
		json_decref(msg);
		if (r < 0)
			break;
	}
	if (!r && !c->closing)
		r = jsonrpc_flush(c->rpc);
	if (r < 0 && !c->closing)
		fail(c, r);
	c->depth_io--;
	if (c->closing && !c->depth_io) {
		destroy(c);
		return err_set(e, ECANCELED, "OVSDB connection: freed by a callback");
	}
	return r < 0 ? err_set(e, r, "%s", c->errmsg) : 0;
}

/* ["db", op, ...] from ops (stolen); NULL when ops is not an array. */
static json_t *transact_params(const char *db, json_t *ops)
{
	json_t *params = json_is_array(ops) ? json_pack("[s]", db) : NULL;

	if (params && json_array_extend(params, ops) < 0) {
		json_decref(params);
		params = NULL;
	}
	json_decref(ops);
	return params;
}

int ovsdb_call(struct ovsdb *c, const char *method, json_t *params, ovsdb_reply_fn cb, void *opaque)
{
	return send_req(c, method, params, cb, opaque, NULL);
}

int ovsdb_transact(struct ovsdb *c, const char *db, json_t *ops, ovsdb_reply_fn cb, void *opaque)
{
	json_t *params = transact_params(db, ops);

	return params ? send_req(c, "transact", params, cb, opaque, NULL) : -EINVAL;
}

int ovsdb_monitor(struct ovsdb *c, const char *db, json_t *monitor_id, json_t *requests,
		  ovsdb_reply_fn cb, void *opaque)
{
	json_t *params;

	if (!monitor_id || !json_is_object(requests)) {
		json_decref(monitor_id);
		json_decref(requests);
		return -EINVAL;
	}
	params = json_pack("[s, o, o]", db, monitor_id, requests);
	if (!params)
		return -EINVAL;
	return send_req(c, "monitor", params, cb, opaque, NULL);
}

struct sync_wait {
	bool done;
	int err;
	json_t *result;
	struct err *e;
};

static void sync_reply(void *opaque, json_t *result, int err, const char *errmsg)
{
	struct sync_wait *w = opaque;

	w->done = true;
	w->err = err;
	w->result = json_incref(result ? result : err ? NULL : json_null());
	if (err)
		err_set(w->e, err, "%s", errmsg ?: "");
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int ovsdb_call_sync(struct ovsdb *c, const char *method, json_t *params, int timeout_ms,
		    json_t **result, struct err *e)
{
	struct sync_wait w = { .e = e };
	long long deadline = now_ms() + timeout_ms;
	json_int_t id;
	int r;

	*result = NULL;
	r = send_req(c, method, params, sync_reply, &w, &id);
	if (r < 0)
		return c->err ? err_set(e, r, "%s", c->errmsg) : err_sys(e, r, "%s", method);
	c->depth_io++;  /* a callback freeing c waits until we return */
	while (!w.done && !c->closing) {
		struct pollfd pfd = { .fd = ovsdb_fd(c), .events = POLLIN };
		long long left = deadline - now_ms();

		if (left <= 0) {
			/* The reply may still come: drop it then, not the link. */
			for (struct req *q = c->head; q; q = q->next)
				if (q->id == id)
					q->cb = NULL;
			w.err = err_set(e, ETIMEDOUT, "%s: no reply from the OVSDB server within %d ms",
					method, timeout_ms);
			break;
		}
		if (ovsdb_want_write(c))
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
			w.err = err_sys(e, errno, "%s: poll", method);
			break;
		}
		ovsdb_io(c, NULL);      /* a failure has called sync_reply with it */
	}
	c->depth_io--;
	if (c->closing) {
		if (!c->depth_io)
			destroy(c);
		json_decref(w.result);
		return err_set(e, ECANCELED, "%s: the OVSDB client was freed meanwhile", method);
	}
	*result = w.result;
	return w.err;
}

int ovsdb_transact_sync(struct ovsdb *c, const char *db, json_t *ops, int timeout_ms,
			json_t **result, struct err *e)
{
	json_t *params = transact_params(db, ops);

	if (params)
		return ovsdb_call_sync(c, "transact", params, timeout_ms, result, e);
	*result = NULL;
	return err_set(e, EINVAL, "transact: the operations are not an array");
}

void ovsdb_free(struct ovsdb *c)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	fail(c, -ECANCELED);
	if (!c->depth_io)
		destroy(c);
}

/* ovsdb.h - a non-blocking OVSDB JSON-RPC client (RFC 7047) for one connection.
 *
 * Loop-agnostic, like qmp.h: the owner registers ovsdb_fd() with its loop and
 * calls ovsdb_io() when it is readable (or writable, while ovsdb_want_write()
 * says output is queued).  Requests carry integer ids and are matched to
 * replies in any order; the server's "echo" requests are answered here;
 * "update" notifications (from ovsdb_monitor) go to the update callback.
 * ovsdb_call_sync() polls the fd itself until its reply comes, for fabric
 * build and teardown when nothing else should run.
 *
 * Errors: every failure is one line, handed to the reply callback or, from
 * ovsdb_io() and the sync calls, put in a struct err: the server's {"error",
 * "details"}, for a transaction the first failed operation ("constraint
 * violation: ... (op 3, insert Port)"), or what broke the connection.
 */
#ifndef N3X_OVSDB_H
#define N3X_OVSDB_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"

struct ovsdb;

/* err == 0: result is the reply's "result", borrowed for the call, errmsg NULL.
 * err == -EIO: the server refused (JSON-RPC "error", or an operation of a
 * transaction failed); result is the reply's "result" (NULL for a JSON-RPC
 * error) and errmsg says why in one line.
 * Other -errno: the connection failed or closed before the reply came
 * (-EPIPE, -EPROTO, -ECANCELED...); result NULL, errmsg says what happened. */
typedef void (*ovsdb_reply_fn)(void *opaque, json_t *result, int err, const char *errmsg);
/* An "update" notification: the monitor's id and its <table-updates>, both
 * borrowed. */
typedef void (*ovsdb_update_fn)(void *opaque, json_t *monitor_id, json_t *updates);

struct ovsdb_callbacks {
	ovsdb_update_fn update;
	void *opaque;
};

/* Take ownership of fd (made non-blocking) and close it in ovsdb_free().
 * Returns NULL with errno set, and fd still the caller's. */
struct ovsdb *ovsdb_new(int fd, const struct ovsdb_callbacks *cb);
/* Connect to the unix socket at path (close-on-exec).  0 and *out, or
 * -errno: -ENOENT / -ECONNREFUSED when nobody listens there. */
int ovsdb_connect(const char *path, const struct ovsdb_callbacks *cb, struct ovsdb **out);

int ovsdb_fd(const struct ovsdb *c);
/* Output is queued that the socket did not take: poll for writability too.
 * Check it after ovsdb_io() and after queueing requests. */
bool ovsdb_want_write(const struct ovsdb *c);
/* Do the reads and writes that do not block and dispatch what arrived.
 * Returns 0, or -errno once the connection is finished (-EPIPE: the peer
 * closed; -EPROTO: malformed JSON or a reply nobody asked for; -EMSGSIZE: a
 * message over 64 MiB; -ENOMEM); then every pending callback has been called
 * with err, later calls return the same err and the client must only be
 * freed.  Callbacks run from here, from ovsdb_call_sync() and ovsdb_free()
 * only; one may queue requests or free the client (then ovsdb_io returns
 * -ECANCELED and the client is gone).  e says what finished the connection. */
int ovsdb_io(struct ovsdb *c, struct err *e);

/* Queue {"method": method, "params": params, "id": N}.  params must be an
 * array and is stolen even on failure.  Returns 0, and cb (may be NULL) is
 * called exactly once later; or -errno (-EINVAL, -ENOMEM, or the error that
 * finished the connection) and cb is never called.  Tries to write at once. */
int ovsdb_call(struct ovsdb *c, const char *method, json_t *params, ovsdb_reply_fn cb, void *opaque);

/* "transact" on db with ops (an array of RFC 7047 operations, stolen).  The
 * reply is checked: any {"error": ...} among the results makes it -EIO. */
int ovsdb_transact(struct ovsdb *c, const char *db, json_t *ops, ovsdb_reply_fn cb, void *opaque);

/* "monitor" db: monitor_id (any JSON, stolen) names it in later updates;
 * requests is the <monitor-requests> object (stolen).  cb gets the initial
 * <table-updates>; later changes go to the update callback. */
int ovsdb_monitor(struct ovsdb *c, const char *db, json_t *monitor_id, json_t *requests,
		  ovsdb_reply_fn cb, void *opaque);

/* Send method(params) (params stolen) and poll the fd until its reply, at most
 * timeout_ms.  0 and *result (a new reference; may be JSON null), or -errno
 * with one line in e: -EIO as for ovsdb_reply_fn (a "transact" is checked
 * for failed operations; *result then holds its results, to find the failed
 * one), -ETIMEDOUT (a late reply is then dropped), or the connection's error,
 * with *result NULL.  The caller json_decref()s *result in every case.
 * Other pending callbacks and updates may run meanwhile. */
int ovsdb_call_sync(struct ovsdb *c, const char *method, json_t *params, int timeout_ms,
		    json_t **result, struct err *e);
/* ovsdb_call_sync of ["transact", db, ops...]; ops is stolen. */
int ovsdb_transact_sync(struct ovsdb *c, const char *db, json_t *ops, int timeout_ms,
			json_t **result, struct err *e);

/* Close the fd; pending callbacks get -ECANCELED.  NULL is a no-op. */
void ovsdb_free(struct ovsdb *c);

#endif

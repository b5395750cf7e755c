/* qmp.h - a non-blocking QMP client for one QEMU monitor.
 *
 * The client does no I/O on its own: the owner registers qmp_fd() with its
 * event loop and calls qmp_io() when it is readable (or writable, when
 * qmp_want_write() says output is queued).  After the greeting the client
 * negotiates capabilities by itself; commands sent before that are queued and
 * go out once it is done.  Replies are matched to commands by "id", in any
 * order; events between replies go to the event callback.
 */
#ifndef N3X_QMP_H
#define N3X_QMP_H

#include <jansson.h>
#include <stdbool.h>

struct qmp;

/* reply: the whole reply object ({"return":...} or {"error":{"class","desc"}}),
 * borrowed for the duration of the call; NULL when the connection failed or
 * closed before the reply came (then err is a -errno: -EPIPE, -EPROTO, ...). */
typedef void (*qmp_reply_fn)(void *opaque, json_t *reply, int err);
/* event: the name ("SHUTDOWN"), data (may be NULL), the whole message; borrowed. */
typedef void (*qmp_event_fn)(void *opaque, const char *event, json_t *data, json_t *msg);
/* The greeting was received and qmp_capabilities accepted. */
typedef void (*qmp_ready_fn)(void *opaque);

struct qmp_callbacks {
	qmp_event_fn event;
	qmp_ready_fn ready;
	void *opaque;
};

/* Takes ownership of fd (made non-blocking) and closes it in qmp_free().
 * Returns NULL with errno set (ENOMEM, or fcntl's) and fd still the caller's. */
struct qmp *qmp_new(int fd, const struct qmp_callbacks *cb);
int qmp_fd(const struct qmp *q);
bool qmp_is_ready(const struct qmp *q);
/* Output is queued that the socket did not take: poll for writability.
 * Check it after qmp_io(), qmp_execute() and qmp_send_raw(). */
bool qmp_want_write(const struct qmp *q);

/* Do the reads and writes that do not block and dispatch what arrived.
 * A reply no pending command waits for (no id, an unknown id) is dropped
 * and counted (qmp_unmatched): the connection goes on.
 * Returns 0, or -errno when the connection is finished (-EPIPE when the peer
 * closed, -EPROTO on malformed JSON, a message that is neither reply nor
 * event, or a refused qmp_capabilities, -EMSGSIZE on a line over 16 MiB,
 * -ENOMEM); then every
 * pending command's callback has been called with err, later calls return
 * the same err, and the client must only be freed.
 * Callbacks run from here (and from qmp_free) only.  A callback may queue
 * commands or call qmp_free(q); in the latter case q is gone when qmp_io
 * returns, and it returns -ECANCELED. */
int qmp_io(struct qmp *q);

/* {"execute": cmd, "arguments": args} into *out (a new reference): the
 * command object QMP and the guest agent both take.  args may be NULL, must
 * otherwise be an object, and is stolen even on failure.  0, or -EINVAL
 * (no cmd, cmd not UTF-8, args not an object) or -ENOMEM with *out NULL. */
int qmp_command(const char *cmd, json_t *args, json_t **out);

/* Queue {"execute": cmd, "arguments": args, "id": N}.  args may be NULL, must
 * otherwise be an object, and is stolen even on failure.  Returns 0, and then
 * cb (may be NULL) is called exactly once, with the reply still carrying our
 * id; or -errno (-EINVAL, -ENOMEM, or the error that finished the
 * connection), and then cb is never called.  Tries to write at once. */
int qmp_execute(struct qmp *q, const char *cmd, json_t *args, qmp_reply_fn cb, void *opaque);

/* Queue a command object as a user wrote it ({"execute":..., "arguments":...});
 * an "id" of theirs is replaced by ours and restored in the reply handed to cb
 * (no "id" in the reply if they gave none).  cmd must be an object (-EINVAL)
 * and is stolen even on failure; it is not modified.  Returns and calls cb as
 * qmp_execute does. */
int qmp_send_raw(struct qmp *q, json_t *cmd, qmp_reply_fn cb, void *opaque);
/* How deep a qmp_send_raw command may nest (the object itself is 1).  QEMU
 * stops parsing at 1024 and answers without an id, which no client can pair
 * with its command; real commands nest a handful of levels.  Deeper: -E2BIG,
 * nothing sent. */
#define QMP_MAX_NESTING 64
/* Replies dropped because no pending command waited for them. */
unsigned long qmp_unmatched(const struct qmp *q);

/* Close the fd; pending callbacks are called with -ECANCELED (callbacks
 * already called with an error are not called again).  NULL is a no-op. */
void qmp_free(struct qmp *q);

#endif

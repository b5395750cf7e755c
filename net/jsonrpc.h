/* jsonrpc.h - JSON messages over a non-blocking stream socket.
 *
 * The transport under ovsdb.h.  OVSDB's JSON-RPC 1.0 puts one JSON object
 * after another with no delimiter (ovsdb-server writes no newlines), so
 * messages are framed by counting brackets outside strings rather than by
 * lines.  No I/O blocks: jsonrpc_send() queues and writes what the socket
 * takes, jsonrpc_recv() returns the next complete message or says "later".
 */
#ifndef N3X_JSONRPC_H
#define N3X_JSONRPC_H

#include <jansson.h>
#include <stdbool.h>

/* A message larger than this is not a peer speaking OVSDB (a full dump of
 * a large Open_vSwitch database is a few MiB). */
#define JSONRPC_MAX_MSG (64u << 20)

struct jsonrpc;

/* Take ownership of fd (made non-blocking; closed by jsonrpc_free()).
 * NULL with errno set, and fd still the caller's. */
struct jsonrpc *jsonrpc_new(int fd);
int jsonrpc_fd(const struct jsonrpc *j);

/* Queue msg (stolen) compactly encoded and write what the socket takes now.
 * 0, or -errno: -ENOMEM, -EINVAL (not encodable), -EPIPE (peer gone). */
int jsonrpc_send(struct jsonrpc *j, json_t *msg);
/* Write queued output until the socket would block: 0 or -errno. */
int jsonrpc_flush(struct jsonrpc *j);
bool jsonrpc_want_write(const struct jsonrpc *j);

/* The next complete message, reading as needed: 1 and *msg (a new reference),
 * 0 when the socket has no more for now, or -errno: -EPIPE (the peer closed;
 * messages before the close are returned first), -EPROTO (malformed JSON, or
 * a top level that is not an object or array), -EMSGSIZE, -ENOMEM. */
int jsonrpc_recv(struct jsonrpc *j, json_t **msg);

/* Close the fd and free the buffers.  NULL is a no-op. */
void jsonrpc_free(struct jsonrpc *j);

#endif

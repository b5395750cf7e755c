/* control.h - $RUN/control.sock, the supervisor's command socket.
 *
 * Protocol: JSON lines.  The client writes one request object per line and
 * reads one reply object per line, in order.  A reply is {"ok":true, ...} or
 * {"ok":false, "error":"one line naming what failed and why", "code":N} where
 * N is n3x-ctl's exit code (1 operation failed, 2 bad usage).  Requests:
 *
 *   {"cmd":"status"}
 *       -> {"ok":true,"fabric":{"name","netns","profile","run_dir","state_dir",
 *           "pid"},"vms":[VM...]} where VM is
 *          {"name","state","arch","accel","accel_reason","pid" (null when not
 *           running),"role","uptime_s","restarts","console_log","qmp_socket",
 *           "console_socket","nics":[{"index","network","tap","mac","ip","lease"}]}
 *   {"cmd":"start"|"stop"|"restart"|"kill"|"pause"|"resume",
 *    "vms":["a","b"]} or {"cmd":..., "all":true}
 *       -> {"ok":true,"vms":[{"name","state"}]} once every VM named has
 *          reached the target state (stop: after the graceful timeout and the
 *          forced quit if needed).  Unknown VM names: code 2, nothing done.
 *   {"cmd":"qmp","vm":"a","command":{"execute":...,"arguments":...}}
 *       -> {"ok":true,"reply":{"return":...}} or {"ok":true,"reply":{"error":...}}
 *          (a QMP error is a reply, not a failure of the request)
 *   {"cmd":"hmp","vm":"a","command":"info status"} -> {"ok":true,"output":"..."}
 *   {"cmd":"wait","vm":"a","console":"REGEX"|"state":"running","timeout":S}
 *       -> {"ok":true,"match":"the console line"|"state":"running"} or, when
 *          the timeout (seconds, default 60, 0 = forever) passes,
 *          {"ok":false,"error":"...timed out...","code":1}.  The console regex
 *          (POSIX extended) is matched line by line against everything the
 *          guest printed since the VM's current QEMU started, so a line that
 *          came before the request counts.
 *   {"cmd":"shutdown"} -> {"ok":true} after every VM is stopped; then the
 *          supervisor exits.
 */
#ifndef N3X_CONTROL_H
#define N3X_CONTROL_H

#include <jansson.h>

struct control_client;

/* Listen on path (0600).  Requests are handed to control_dispatch(). */
int control_open(const char *path);
void control_close(void);

/* Implemented by the supervisor (supervisor.c): handle req, and answer now
 * or later with control_reply().  req is borrowed. */
void control_dispatch(struct control_client *c, json_t *req);

/* Send a reply (stolen) and resume reading the client's next request.  A
 * client that went away in the meantime makes this a no-op: callers holding a
 * client across loop iterations take a reference with control_client_ref(). */
void control_reply(struct control_client *c, json_t *reply);
void control_reply_error(struct control_client *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void control_client_ref(struct control_client *c);
void control_client_unref(struct control_client *c);

#endif

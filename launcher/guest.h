/* guest.h - commands run in a guest through its agent: guest-exec with
 * captured output, then guest-exec-status polled until the process exited.
 *
 * One engine serves `n3x-ctl exec`, `wait --exec` and `ready = exec CMD`.
 * The encoding of guest-exec's arguments and the decoding of the final
 * status are pure functions, so a unit test can check them without a VM.
 */
#ifndef N3X_GUEST_H
#define N3X_GUEST_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

struct vm;
struct guest_exec;

#define GUEST_AGENT_TIMEOUT_MS 60000 /* one agent request (the `agent` verb's default) */
#define GUEST_POLL_FRACTION 8        /* guest-exec-status: an 8th of the run time apart, */
#define GUEST_POLL_FIRST_MS 5        /* ... 5 ms at least ... */
#define GUEST_POLL_MAX_MS 200        /* ... and 200 ms at most */

/* guest-exec's arguments: {"path", "arg" (when args has any), "env" (when
 * env has any), "input-data" (when input is given), "capture-output":true}.
 * args and env are JSON arrays of strings or NULL (borrowed); env entries
 * are NAME=VALUE; input is base64 text or NULL.  0 and *out (a new
 * reference), or -EINVAL with e saying what is wrong in the request (a
 * usage error), or -ENOMEM. */
int guest_exec_args(const char *path, json_t *args, json_t *env, const char *input, json_t **out,
		    struct err *e);

/* The exec reply for the return of a guest-exec-status that says exited:
 * {"ok":true, "pid", "exitcode", "signal" (only when a signal ended it;
 * exitcode is then 128 + signal, as a shell reports it), "out", "err"
 * (base64, "" when empty), "out_truncated", "err_truncated"}.  exitcode is
 * -1 when the agent gave neither.  A new reference, NULL when out of memory. */
json_t *guest_exec_result(int pid, json_t *status);

/* One line saying how a finished exec failed, for `wait --exec`'s timeout:
 * "exit 1: <the last non-empty line of its stderr>", "signal 9", or "exit 1"
 * without stderr.  Non-printable bytes become '?'; the line is cut to fit
 * buf.  Returns buf. */
char *guest_exec_failure(json_t *result, char *buf, size_t size);

/* result: guest_exec_result()'s object (borrowed), or NULL with e saying
 * why ("a: cannot run hostnamx: ...", "a: hostname still running after 5 s
 * (guest pid 812)", the agent not connected or lost). */
typedef void (*guest_exec_fn)(void *opaque, json_t *result, const struct err *e);

/* Run guest-exec on vm with args (stolen; guest_exec_args' object), what
 * naming the command in messages ("hostname"), and poll until it exited,
 * timeout_s passed (0: no limit), or the agent went away.  Returns 0 and
 * done is called exactly once, later, never from inside this call (unless
 * guest_exec_cancel() comes first); *out (may be NULL) is the handle until
 * then.  Or -ENOTCONN (the agent is not up), -ENOMEM, -errno, with e
 * saying why; done is then never called. */
int guest_exec_start(struct vm *vm, json_t *args, const char *what, double timeout_s,
		     guest_exec_fn done, void *opaque, struct guest_exec **out, struct err *e);

/* Forget x: done is not called.  A request in flight completes into the
 * void; the memory goes once its callback came.  Not after done ran. */
void guest_exec_cancel(struct guest_exec *x);

/* vm's agent stopped answering: every exec on it fails now (its in-flight
 * request's callback, -ENOTCONN, then finds it finished). */
void guest_exec_agent_down(struct vm *vm);

/* Fail every exec with msg (teardown, before the VMs are freed). */
void guest_exec_fail_all(const char *msg);

/* "NAME: the guest agent is not connected (...)" into e, as the `agent`
 * and `exec` verbs report it; returns -ENOTCONN. */
int guest_not_connected(struct err *e, const struct vm *vm);

#endif

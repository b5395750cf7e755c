/* guest.c - commands in the guest through its agent (guest.h), and the
 * `agent` and `exec` control verbs.
 *
 * An exec is a guest-exec, then guest-exec-status until the process
 * exited, each poll an eighth of the command's run time after the last
 * (5 ms at least, 200 ms at most; see schedule_poll).  The agent client
 * (qmp/ga.h) calls every reply callback exactly once, even when the VM
 * goes down (-ENOTCONN) or its client is freed (-ECANCELED), so an exec
 * that finished or was cancelled while a request is in flight stays
 * allocated until that callback came;
 * one that has nothing in flight is freed after the loop batch (its timers
 * may be in it).
 */
#include "launcher/guest.h"
#include "launcher/supervisor_impl.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"

struct guest_exec {
	struct guest_exec *next;
	struct vm *vm;
	const char *vm_name;      /* the topology's: outlives the VM */
	char *what;
	double timeout_s;
	int pid;                  /* -1 until guest-exec answered */
	uint64_t started_ms;      /* loop_now_ms() when guest-exec answered */
	bool inflight;            /* an agent request's callback is due */
	bool over;                /* finished or cancelled: done is not called again */
	guest_exec_fn done;
	void *opaque;
	struct loop_timer poll, timeout;
	struct loop_deferred free_d;
};

static struct guest_exec *execs;

/* ---- encoding and decoding ---- */

/* A JSON array of strings, or NULL; false for anything else. */
static bool string_array(json_t *a)
{
	json_t *v;
	size_t i;

	if (!a)
		return true;
	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, v)
		if (!json_is_string(v))
			return false;
	return true;
}

int guest_exec_args(const char *path, json_t *args, json_t *env, const char *input, json_t **out,
		    struct err *e)
{
	json_t *o, *v;
	size_t i;

	*out = NULL;
	if (!path || !*path)
		return err_set(e, EINVAL, "exec needs a command to run");
	if (!string_array(args))
		return err_set(e, EINVAL, "exec: \"args\" is a list of strings");
	if (!string_array(env))
		return err_set(e, EINVAL, "exec: \"env\" is a list of NAME=VALUE strings");
	json_array_foreach(env, i, v) {
		const char *s = json_string_value(v), *eq = strchr(s, '=');

		if (!eq || eq == s)
			return err_set(e, EINVAL, "exec: environment entry \"%s\" is not NAME=VALUE", s);
	}
	if (input) {
		size_t n;
		void *bytes = b64_decode_alloc(input, strlen(input), &n);

		if (!bytes)
			return errno == ENOMEM ? err_set(e, ENOMEM, "out of memory")
					       : err_set(e, EINVAL, "exec: \"input\" is not base64");
		free(bytes);
	}
	if (!(o = json_pack("{s:s, s:b}", "path", path, "capture-output", 1)))
		goto nomem;
	if (json_array_size(args) && json_object_set(o, "arg", args) < 0)
		goto nomem;
	if (json_array_size(env) && json_object_set(o, "env", env) < 0)
		goto nomem;
	if (input && json_object_set_new(o, "input-data", json_string(input)) < 0)
		goto nomem;
	*out = o;
	return 0;
nomem:
	json_decref(o);
	return err_set(e, ENOMEM, "out of memory");
}

json_t *guest_exec_result(int pid, json_t *st)
{
	json_t *code = json_object_get(st, "exitcode"), *sig = json_object_get(st, "signal");
	const char *out = json_string_value(json_object_get(st, "out-data"));
	const char *err = json_string_value(json_object_get(st, "err-data"));
	json_t *r;
	json_int_t exitcode = -1;

	if (json_is_integer(sig))
		exitcode = 128 + json_integer_value(sig);
	else if (json_is_integer(code))
		exitcode = json_integer_value(code);
	r = json_pack("{s:b, s:i, s:I, s:s, s:s, s:b, s:b}", "ok", 1, "pid", pid, "exitcode", exitcode,
		      "out", out ? out : "", "err", err ? err : "",
		      "out_truncated", json_is_true(json_object_get(st, "out-truncated")),
		      "err_truncated", json_is_true(json_object_get(st, "err-truncated")));
	if (r && json_is_integer(sig) && json_object_set(r, "signal", sig) < 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

char *guest_exec_failure(json_t *result, char *buf, size_t size)
{
	json_t *sig = json_object_get(result, "signal");
	const char *b64 = json_string_value(json_object_get(result, "err"));
	size_t n = 0, len;
	char *text = b64 && *b64 ? b64_decode_alloc(b64, strlen(b64), &n) : NULL;
	char *start = text, *end = text ? text + n : NULL;
	int w;

	w = json_is_integer(sig) ? snprintf(buf, size, "signal %lld", (long long)json_integer_value(sig))
				 : snprintf(buf, size, "exit %lld",
					    (long long)json_integer_value(json_object_get(result, "exitcode")));
	/* The last non-empty line: trim line ends, then back up to the one before. */
	while (text && end > text && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	for (char *p = end; text && p > text; p--)
		if (p[-1] == '\n') {
			start = p;
			break;
		}
	if (text && end > start && w >= 0 && (size_t)w + 3 < size) {
		len = (size_t)(end - start);
		if (len > size - (size_t)w - 3)
			len = size - (size_t)w - 3;
		memcpy(buf + w, ": ", 2);
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)start[i];

			buf[w + 2 + i] = isprint(c) || c == '\t' ? (char)c : '?';
		}
		buf[w + 2 + len] = '\0';
	}
	free(text);
	return buf;
}

int guest_not_connected(struct err *e, const struct vm *vm)
{
	enum vm_state s = vm_state(vm);

	if (s == VM_RUNNING || s == VM_PAUSED)
		return err_set(e, ENOTCONN, "%s: the guest agent is not connected (is qemu-guest-agent "
			       "installed and running in the guest?)", vm_name(vm));
	return err_set(e, ENOTCONN, "%s: the guest agent is not connected (the VM is %s)", vm_name(vm),
		       vm_state_name(s));
}

/* The agent's error reply as one line: its desc with line ends as spaces. */
static void agent_desc(json_t *reply, char *buf, size_t size)
{
	const char *d = json_string_value(json_object_get(json_object_get(reply, "error"), "desc"));

	snprintf(buf, size, "%s", d ? d : "the guest agent sent an error without a description");
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* A failed agent request (no reply): why, in e, for command cmd. */
static void agent_failure(struct err *e, const char *vm, const char *cmd, int err, unsigned timeout_ms)
{
	switch (err) {
	case -ETIMEDOUT:
		err_set(e, ETIMEDOUT, "%s: the guest agent did not answer %s within %g s", vm, cmd,
			timeout_ms / 1000.0);
		break;
	case -EPROTO:
		err_set(e, EPROTO, "%s: the guest agent's reply to %s is not a JSON object", vm, cmd);
		break;
	default: /* -ENOTCONN, -ECANCELED */
		err_set(e, ENOTCONN, "%s: the guest agent went away before answering %s", vm, cmd);
		break;
	}
}

/* ---- the exec engine ---- */

static void exec_free(struct loop_deferred *d)
{
	struct guest_exec *x = container_of(d, struct guest_exec, free_d);

	free(x->what);
	free(x);
}

/* Leave the list and the loop; free now unless a callback is due. */
static void exec_over(struct guest_exec *x)
{
	struct guest_exec **pp;

	x->over = true;
	for (pp = &execs; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	loop_timer_close(&x->poll);
	loop_timer_close(&x->timeout);
	if (!x->inflight)
		loop_defer(&x->free_d, exec_free);
}

/* Finish x with result (stolen) or e. */
static void exec_finish(struct guest_exec *x, json_t *result, const struct err *e)
{
	guest_exec_fn done = x->done;

	exec_over(x);
	if (done)
		done(x->opaque, result, result ? NULL : e);
	json_decref(result);
}

static void exec_fail(struct guest_exec *x, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void exec_fail(struct guest_exec *x, int code, const char *fmt, ...)
{
	struct err e = { .code = code };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	exec_finish(x, NULL, &e);
}

/* The agent's answer came for x: false when x is over (and freed now). */
static bool exec_answered(struct guest_exec *x)
{
	x->inflight = false;
	if (!x->over)
		return true;
	loop_defer(&x->free_d, exec_free);
	return false;
}

static void status_reply(void *opaque, json_t *reply, int err);

static void poll_fire(struct loop_timer *t)
{
	struct guest_exec *x = container_of(t, struct guest_exec, poll);
	int r;

	if (x->over)
		return;
	r = vm_agent(x->vm, "guest-exec-status", json_pack("{s:i}", "pid", x->pid),
		     GUEST_AGENT_TIMEOUT_MS, status_reply, x);
	if (r == 0)
		x->inflight = true;
	else if (r == -ENOTCONN)
		exec_fail(x, ENOTCONN, "%s: the guest agent went away while %s was running (guest pid %d)",
			  x->vm_name, x->what, x->pid);
	else
		exec_fail(x, -r, "%s: guest-exec-status: %s", x->vm_name, strerror(-r));
}

/* The next guest-exec-status comes an eighth of the command's run time
 * after this one, 5 ms at least and 200 ms at most, so an exit is seen at
 * most ~12% late (plus 5 ms).  Doubling the interval instead made it up to
 * 100% late: /bin/true ending at 80 ms under TCG was seen at 155 ms.  Each
 * poll costs a TCG guest about a millisecond of its vCPU, and a long command
 * is still polled 5 times a second. */
static void schedule_poll(struct guest_exec *x)
{
	uint64_t d = (loop_now_ms() - x->started_ms) / GUEST_POLL_FRACTION;
	int r;

	d = d < GUEST_POLL_FIRST_MS ? GUEST_POLL_FIRST_MS : d > GUEST_POLL_MAX_MS ? GUEST_POLL_MAX_MS : d;
	r = loop_timer_arm(&x->poll, d);
	if (r < 0)
		exec_fail(x, -r, "%s: cannot arm a timer: %s", x->vm_name, strerror(-r));
}

static void status_reply(void *opaque, json_t *reply, int err)
{
	struct guest_exec *x = opaque;
	json_t *ret = json_object_get(reply, "return");
	char desc[ERR_MSG_MAX];
	struct err e;

	if (!exec_answered(x))
		return;
	if (!reply) {
		if (err == -ENOTCONN || err == -ECANCELED) {
			exec_fail(x, ENOTCONN, "%s: the guest agent went away while %s was running "
				  "(guest pid %d)", x->vm_name, x->what, x->pid);
			return;
		}
		agent_failure(&e, x->vm_name, "guest-exec-status", err, GUEST_AGENT_TIMEOUT_MS);
		exec_finish(x, NULL, &e);
		return;
	}
	if (!json_is_object(ret)) {
		agent_desc(reply, desc, sizeof(desc));
		exec_fail(x, EIO, "%s: guest-exec-status of guest pid %d: %s", x->vm_name, x->pid, desc);
		return;
	}
	if (!json_is_true(json_object_get(ret, "exited"))) {
		schedule_poll(x);
		return;
	}
	json_t *result = guest_exec_result(x->pid, ret);

	if (!result)
		exec_fail(x, ENOMEM, "out of memory");
	else
		exec_finish(x, result, NULL);
}

static void exec_reply(void *opaque, json_t *reply, int err)
{
	struct guest_exec *x = opaque;
	json_t *pid = json_object_get(json_object_get(reply, "return"), "pid");
	char desc[ERR_MSG_MAX];
	struct err e;

	if (!exec_answered(x))
		return;
	if (!reply) {
		agent_failure(&e, x->vm_name, "guest-exec", err, GUEST_AGENT_TIMEOUT_MS);
		exec_finish(x, NULL, &e);
		return;
	}
	if (!json_is_integer(pid)) {
		agent_desc(reply, desc, sizeof(desc));
		exec_fail(x, EIO, "%s: cannot run %s: %s", x->vm_name, x->what, desc);
		return;
	}
	x->pid = (int)json_integer_value(pid);
	x->started_ms = loop_now_ms();
	schedule_poll(x);
}

static void timeout_fire(struct loop_timer *t)
{
	struct guest_exec *x = container_of(t, struct guest_exec, timeout);

	if (x->over)
		return;
	if (x->pid < 0)
		exec_fail(x, ETIMEDOUT, "%s: the guest agent did not start %s within %g s", x->vm_name,
			  x->what, x->timeout_s);
	else
		exec_fail(x, ETIMEDOUT, "%s: %s still running after %g s (guest pid %d)", x->vm_name,
			  x->what, x->timeout_s, x->pid);
}

int guest_exec_start(struct vm *vm, json_t *args, const char *what, double timeout_s,
		     guest_exec_fn done, void *opaque, struct guest_exec **out, struct err *e)
{
	struct guest_exec *x;
	int r;

	if (out)
		*out = NULL;
	if (!vm_agent_up(vm)) {
		json_decref(args);
		return guest_not_connected(e, vm);
	}
	if (!(x = calloc(1, sizeof(*x))) || !(x->what = strdup(what))) {
		free(x);
		json_decref(args);
		return err_set(e, ENOMEM, "out of memory");
	}
	x->vm = vm;
	x->vm_name = vm_config(vm)->name;
	x->pid = -1;
	x->timeout_s = timeout_s;
	x->done = done;
	x->opaque = opaque;
	loop_timer_init(&x->poll, poll_fire);
	loop_timer_init(&x->timeout, timeout_fire);
	if (timeout_s > 0 && (r = loop_timer_arm(&x->timeout, (uint64_t)(timeout_s * 1000))) < 0) {
		json_decref(args);
		goto fail;
	}
	if ((r = vm_agent(vm, "guest-exec", args, GUEST_AGENT_TIMEOUT_MS, exec_reply, x)) < 0)
		goto fail;
	x->inflight = true;
	x->next = execs;
	execs = x;
	if (out)
		*out = x;
	return 0;
fail:
	loop_timer_close(&x->timeout);
	free(x->what);
	free(x);
	if (r == -ENOTCONN)
		return guest_not_connected(e, vm);
	return err_sys(e, -r, "%s: guest-exec", vm_name(vm));
}

void guest_exec_cancel(struct guest_exec *x)
{
	if (!x || x->over)
		return;
	x->done = NULL;
	exec_over(x);
}

void guest_exec_agent_down(struct vm *vm)
{
	for (struct guest_exec *x = execs, *next; x; x = next) {
		next = x->next;
		if (x->vm != vm)
			continue;
		if (x->pid < 0)
			exec_fail(x, ENOTCONN, "%s: the guest agent went away before %s started",
				  x->vm_name, x->what);
		else
			exec_fail(x, ENOTCONN, "%s: the guest agent went away while %s was running "
				  "(guest pid %d)", x->vm_name, x->what, x->pid);
	}
}

void guest_exec_fail_all(const char *msg)
{
	while (execs)
		exec_fail(execs, EIO, "%s", msg);
}

/* ---- the verbs ---- */

struct agent_req {
	struct control_client *c;
	const char *vm_name;          /* the topology's: outlives the VM */
	char cmd[64];
	unsigned timeout_ms;
};

static void agent_done(void *opaque, json_t *reply, int err)
{
	struct agent_req *a = opaque;
	struct err e;

	if (reply) {
		control_reply(a->c, json_pack("{s:b, s:O}", "ok", 1, "reply", reply));
	} else {
		agent_failure(&e, a->vm_name, a->cmd, err, a->timeout_ms);
		control_reply_error(a->c, 1, "%s", e.msg);
	}
	control_client_unref(a->c);
	free(a);
}

/* "timeout" in seconds (default def, 0 allowed when zero_ok); -1 after
 * replying to a bad one. */
static double request_timeout(struct control_client *c, json_t *req, double def, bool zero_ok)
{
	json_t *t = json_object_get(req, "timeout");
	double s;

	if (!t)
		return def;
	s = json_is_number(t) ? json_number_value(t) : -1;
	if (s < 0 || (s == 0 && !zero_ok) || s > 1e6) {
		control_reply_error(c, 2, "\"timeout\" is a number of seconds%s",
				    zero_ok ? " (0: no limit)" : " above 0");
		return -1;
	}
	return s;
}

void sup_cmd_agent(struct control_client *c, json_t *req, struct vm *vm)
{
	json_t *cmd = json_object_get(req, "command");
	const char *ex = json_string_value(json_object_get(cmd, "execute"));
	double timeout = request_timeout(c, req, GUEST_AGENT_TIMEOUT_MS / 1000.0, false);
	struct agent_req *a;
	struct err e;
	int r;

	if (timeout < 0)
		return;
	if (!json_is_object(cmd) || !ex) {
		control_reply_error(c, 2, "an agent command is an object with \"execute\"");
		return;
	}
	if (strcmp(ex, "guest-sync") == 0 || strcmp(ex, "guest-sync-delimited") == 0) {
		control_reply_error(c, 2, "%s belongs to the supervisor, the agent's only client", ex);
		return;
	}
	if (!(a = calloc(1, sizeof(*a)))) {
		control_reply_error(c, 1, "out of memory");
		return;
	}
	a->c = c;
	a->vm_name = vm_config(vm)->name;
	snprintf(a->cmd, sizeof(a->cmd), "%s", ex);
	a->timeout_ms = (unsigned)(timeout * 1000);
	control_client_ref(c);
	if ((r = vm_agent_raw(vm, json_incref(cmd), a->timeout_ms, agent_done, a)) < 0) {
		control_client_unref(c);
		free(a);
		if (r == -ENOTCONN)
			guest_not_connected(&e, vm);
		else
			err_sys(&e, -r, "%s: %s", vm_name(vm), ex);
		control_reply_error(c, r == -EINVAL ? 2 : 1, "%s", e.msg);
	}
}

static void exec_done(void *opaque, json_t *result, const struct err *e)
{
	struct control_client *c = opaque;

	if (result)
		control_reply(c, json_incref(result));
	else
		control_reply_error(c, 1, "%s", e->msg);
	control_client_unref(c);
}

void sup_cmd_exec(struct control_client *c, json_t *req, struct vm *vm)
{
	const char *path = json_string_value(json_object_get(req, "path"));
	json_t *input = json_object_get(req, "input"), *args;
	double timeout = request_timeout(c, req, 0, true);
	struct err e;
	int r;

	if (timeout < 0)
		return;
	if (input && !json_is_string(input)) {
		control_reply_error(c, 2, "exec: \"input\" is not base64");
		return;
	}
	if ((r = guest_exec_args(path, json_object_get(req, "args"), json_object_get(req, "env"),
				 json_string_value(input), &args, &e)) < 0) {
		control_reply_error(c, r == -EINVAL ? 2 : 1, "%s", e.msg);
		return;
	}
	control_client_ref(c);
	if (guest_exec_start(vm, args, path, timeout, exec_done, c, NULL, &e) < 0) {
		control_client_unref(c);
		control_reply_error(c, 1, "%s", e.msg);
	}
}

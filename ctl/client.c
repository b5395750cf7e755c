/* client.c - one request on the supervisor's control socket (control.h),
 * and n3x-ctl's one-line errors. */
#include "ctl/client.h"
#include "ctl/ctl.h"
#include "ctl/ctlio.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 2, 3)))
int fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("n3x-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int usage_error(const struct ctl_cmd *cmd)
{
	return fail(EXIT_USAGE, "usage: n3x-ctl %s%s%s", cmd->name, cmd->usage[0] ? " " : "", cmd->usage);
}

/* ---- the control socket ---- */

int ctl_connect(struct ctl *c)
{
	int fd = c->fd >= 0 ? c->fd : ctlio_connect(c->sock);

	if (fd < 0)
		return fd;
	c->fd = fd;
	return 0;
}

/* Client-side timeout for a request the supervisor bounds by timeout_s
 * (0: forever). */
int margin_ms(long timeout_s)
{
	long long ms = (timeout_s + WAIT_MARGIN_S) * 1000LL;

	return timeout_s <= 0 || ms > INT_MAX ? -1 : (int)ms;
}

/* Send req (stolen) and wait up to timeout_ms (-1: forever) for the reply.
 * Returns 0 with *reply for {"ok":true}, else the exit code with e set to
 * the line to print. */
int request_e(struct ctl *c, json_t *req, int timeout_ms, json_t **reply, struct err *e)
{
	char *s, *line = NULL;
	json_error_t jerr;
	json_t *r, *code;
	size_t n;
	int ret;

	/* json_pack refuses strings that are not UTF-8: the only way a
	 * request built from arguments goes missing, short of memory. */
	if (!req)
		return err_set(e, EINVAL, "the arguments are not valid UTF-8 text"), EXIT_USAGE;
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!s)
		return err_set(e, ENOMEM, "out of memory"), EXIT_FAIL;
	n = strlen(s);
	if (n > CTL_LINE_MAX) {
		free(s);
		return err_set(e, E2BIG, "the request is %zu bytes, more than the %d the supervisor takes",
			       n, CTL_LINE_MAX), EXIT_USAGE;
	}
	ret = ctl_connect(c);
	if (ret == 0) {
		s[n] = '\n'; /* over the NUL: s is sent as n + 1 bytes, not used as a string */
		ret = ctlio_exchange(c->fd, s, n + 1, timeout_ms, &line);
	}
	free(s);
	if (ret == -ETIMEDOUT)
		return err_set(e, ETIMEDOUT, "no reply from the supervisor at %s within %d s", c->sock,
			       timeout_ms / 1000), EXIT_UNREACHABLE;
	if (ret == -EPIPE)
		return err_set(e, EPIPE, "the supervisor at %s closed the connection without replying",
			       c->sock), EXIT_UNREACHABLE;
	if (ret < 0)
		return err_sys(e, -ret, "cannot reach the supervisor at %s", c->sock), EXIT_UNREACHABLE;
	r = json_loads(line, 0, &jerr);
	free(line);
	if (!json_is_object(r)) {
		json_decref(r);
		return err_set(e, EPROTO, "bad reply from the supervisor at %s: %s", c->sock,
			       r ? "not an object" : jerr.text), EXIT_FAIL;
	}
	if (json_is_true(json_object_get(r, "ok"))) {
		*reply = r;
		return 0;
	}
	code = json_object_get(r, "code");
	ret = json_integer_value(code) == EXIT_USAGE ? EXIT_USAGE : EXIT_FAIL;
	err_set(e, EIO, "%s", json_string_value(json_object_get(r, "error")) ?: "the supervisor gave no reason");
	json_decref(r);
	return ret;
}

/* request_e, printing the error. */
int request(struct ctl *c, json_t *req, int timeout_ms, json_t **reply)
{
	struct err e = { 0 };
	int r = request_e(c, req, timeout_ms, reply, &e);

	return r ? fail(r, "%s", e.msg) : 0;
}

/* The status entry of one VM, as a new reference. */
int status_all(struct ctl *c, json_t **st)
{
	return request(c, json_pack("{s:s}", "cmd", "status"), QUICK_TIMEOUT_MS, st);
}

json_t *status_find(const json_t *st, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(st, "vms"), i, v)
		if (strcmp(json_string_value(json_object_get(v, "name")) ?: "", name) == 0)
			return v;
	return NULL;
}

int status_vm(struct ctl *c, const char *name, json_t **vm)
{
	json_t *st, *v;
	int r = status_all(c, &st);

	if (r)
		return r;
	v = status_find(st, name);
	*vm = json_incref(v);
	json_decref(st);
	return v ? 0 : fail(EXIT_USAGE, "no VM named '%s' in %s", name, c->sock);
}

const char *vm_path(const json_t *vm, const char *key)
{
	const char *s = json_string_value(json_object_get(vm, key));

	return s && s[0] ? s : NULL;
}

/* ctlreq.c - exec and wait: arguments to requests, exec's reply to bytes. */
#include "ctl/ctlreq.h"
#include "base/b64.h"
#include "ctl/ctlio.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_DEFAULT_S 60
#define SECONDS_MAX 1000000000L  /* ~31 years: "forever" is 0, this keeps ms in range */
#define AGENT_OUTPUT_LIMIT "16 MiB" /* qemu-ga's GUEST_EXEC_MAX_OUTPUT */

/* A whole number of seconds in [min, SECONDS_MAX] for option opt. */
static int seconds(const char *cmd, const char *opt, const char *arg, long min, long *out, struct err *e)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || end == arg || v < min || v > SECONDS_MAX)
		return err_set(e, EINVAL, "%s: %s takes whole seconds%s, not '%s'", cmd, opt,
			       min ? ", at least 1" : " (0: forever)", arg), EXIT_USAGE;
	*out = v;
	return 0;
}

int ctlreq_exec(int argc, char **argv, json_t **req, const char **input, long *timeout, struct err *e)
{
	json_t *args = json_array(), *env = json_array();
	const char *vm = NULL;
	int i, code = 0;

	*req = NULL;
	*input = NULL;
	*timeout = 0;
	for (i = 1; i < argc && code == 0; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--timeout") == 0 && val) {
			code = seconds("exec", a, val, 0, timeout, e);
			i++;
		} else if (strcmp(a, "--env") == 0 && val) {
			const char *eq = strchr(val, '=');

			if (!eq || eq == val)
				code = (err_set(e, EINVAL, "exec: --env takes NAME=VALUE, not '%s'", val), EXIT_USAGE);
			else if (json_array_append_new(env, json_string(val)) < 0)
				code = (err_set(e, EINVAL, "exec: --env '%s' is not UTF-8 text", val), EXIT_USAGE);
			i++;
		} else if (strcmp(a, "--stdin") == 0 && val) {
			*input = val;
			i++;
		} else if (a[0] == '-' || vm) {
			break; /* a bad option (caught below), or CMD without "--" */
		} else {
			vm = a;
		}
	}
	if (code == 0 && (!vm || i >= argc || argv[i][0] == '\0' ||
			  (argv[i][0] == '-' && strcmp(argv[i - 1], "--") != 0)))
		code = EXIT_USAGE; /* no VM, no CMD, or an option we do not know */
	for (int k = i + 1; code == 0 && k < argc; k++)
		if (json_array_append_new(args, json_string(argv[k])) < 0)
			code = (err_set(e, EINVAL, "exec: argument '%s' is not UTF-8 text", argv[k]), EXIT_USAGE);
	if (code == 0) {
		*req = json_pack("{s:s, s:s, s:s, s:O, s:I}", "cmd", "exec", "vm", vm, "path", argv[i],
				 "args", args, "timeout", (json_int_t)*timeout);
		if (!*req)
			code = (err_set(e, EINVAL, "exec: the command or VM name is not UTF-8 text"), EXIT_USAGE);
		else if (json_array_size(env))
			json_object_set(*req, "env", env);
	}
	json_decref(args);
	json_decref(env);
	return code;
}

int ctlreq_read_input(const char *path, char **data, size_t *len, struct err *e)
{
	bool in = strcmp(path, "-") == 0;
	int fd = in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = (size_t)CTL_LINE_MAX + 1, n = 0;
	char *p;
	int r = 0;

	if (fd < 0)
		return err_sys(e, errno, "exec: --stdin %s", path), EXIT_FAIL;
	p = malloc(cap);
	if (!p)
		r = err_set(e, ENOMEM, "exec: out of memory");
	while (r == 0 && n < cap) {
		ssize_t k = read(fd, p + n, cap - n);

		if (k < 0 && errno != EINTR)
			r = err_sys(e, errno, "exec: --stdin %s", path);
		if (k == 0)
			break;
		if (k > 0)
			n += k;
	}
	if (!in)
		close(fd);
	if (r) {
		free(p);
		return EXIT_FAIL;
	}
	*data = p;
	*len = n;
	return 0;
}

int ctlreq_exec_input(json_t *req, const char *path, const void *data, size_t len, struct err *e)
{
	static const char key[] = ",\"input\":\"\"";     /* what the input adds around its base64 */
	json_t *old = json_incref(json_object_get(req, "input"));
	char *s, *b64;
	size_t line, fits = 0;

	/* The line without any earlier input, which this one replaces. */
	json_object_del(req, "input");
	s = json_dumps(req, JSON_COMPACT);
	line = s ? strlen(s) : 0;
	free(s);
	if (old)
		json_object_set_new(req, "input", old);
	if (!line)
		return err_set(e, ENOMEM, "exec: out of memory"), EXIT_FAIL;
	if (line + sizeof(key) - 1 < CTL_LINE_MAX)
		fits = (CTL_LINE_MAX - line - (sizeof(key) - 1)) / 4 * 3;
	if (len > fits) {
		char size[48];

		if (len > CTL_LINE_MAX)
			snprintf(size, sizeof(size), "more than %d bytes", CTL_LINE_MAX);
		else
			snprintf(size, sizeof(size), "%zu bytes", len);
		return err_set(e, EFBIG, "exec: --stdin %s holds %s; one request carries at most %zu with this "
			       "command (copy bigger input with n3x-ctl cp)", path, size, fits), EXIT_USAGE;
	}
	b64 = b64_encode_alloc(data, len);
	if (!b64 || json_object_set_new(req, "input", json_string_nocheck(b64)) < 0) {
		free(b64);
		return err_set(e, ENOMEM, "exec: out of memory"), EXIT_FAIL;
	}
	free(b64);
	return 0;
}

/* Decode reply[key] and write it to fd. */
static int copy_stream(const json_t *reply, const char *key, const char *vm, int fd, const char *name,
		       struct err *e)
{
	const json_t *v = json_object_get(reply, key);
	size_t n = 0;
	char *bytes;
	int r;

	if (!v || json_string_length(v) == 0)
		return 0; /* nothing printed */
	if (!json_is_string(v))
		return err_set(e, EPROTO, "%s: the exec reply's \"%s\" is not a string", vm, key);
	bytes = b64_decode_alloc(json_string_value(v), json_string_length(v), &n);
	if (!bytes)
		return errno == ENOMEM ? err_set(e, ENOMEM, "%s: out of memory for the guest's %s", vm, name) :
		       err_set(e, EPROTO, "%s: the exec reply's \"%s\" is not base64", vm, key);
	r = ctlio_write_all(fd, bytes, n);
	free(bytes);
	return r < 0 ? err_sys(e, -r, "writing the guest's %s", name) : 0;
}

int ctlreq_exec_output(const json_t *reply, const char *vm, int outfd, int errfd, int *status,
		       struct err *e)
{
	const json_t *sig = json_object_get(reply, "signal"), *code = json_object_get(reply, "exitcode");
	static const char *const streams[2][3] = {
		{ "out", "stdout", "out_truncated" },
		{ "err", "stderr", "err_truncated" },
	};
	int r;

	if (!json_is_integer(sig) && !json_is_integer(code))
		return err_set(e, EPROTO, "%s: the exec reply has neither \"exitcode\" nor \"signal\"", vm);
	for (int i = 0; i < 2; i++)
		if ((r = copy_stream(reply, streams[i][0], vm, i ? errfd : outfd, streams[i][1], e)) < 0)
			return r;
	for (int i = 0; i < 2; i++) {
		char line[128];
		int n;

		if (!json_is_true(json_object_get(reply, streams[i][2])))
			continue;
		n = snprintf(line, sizeof(line), "n3x-ctl: %s: %s truncated by the guest agent (%s limit)\n", vm,
			     streams[i][1], AGENT_OUTPUT_LIMIT);
		if ((r = ctlio_write_all(errfd, line, n)) < 0)
			return err_sys(e, -r, "writing to stderr");
	}
	/* A shell's convention, so `n3x-ctl exec` reads like the command. */
	*status = json_is_integer(sig) ? 128 + (int)json_integer_value(sig) : (int)json_integer_value(code);
	return 0;
}

int ctlreq_wait(int argc, char **argv, json_t **req, long *timeout, struct err *e)
{
	const char *vm = NULL, *console = NULL, *state = NULL, *exec = NULL;
	long interval = 0, port = 0;
	bool lease = false, agent = false;
	int code = 0;

	*req = NULL;
	*timeout = WAIT_DEFAULT_S;
	for (int i = 1; i < argc && code == 0; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		const char **dst = strcmp(a, "--console") == 0 ? &console : strcmp(a, "--state") == 0 ? &state :
				   strcmp(a, "--exec") == 0 ? &exec : NULL;

		if (dst && val) {
			*dst = val;
			i++;
		} else if (strcmp(a, "--lease") == 0) {
			lease = true;
		} else if (strcmp(a, "--agent") == 0) {
			agent = true;
		} else if (strcmp(a, "--timeout") == 0 && val) {
			code = seconds("wait", a, argv[++i], 0, timeout, e);
		} else if (strcmp(a, "--interval") == 0 && val) {
			code = seconds("wait", a, argv[++i], 1, &interval, e);
		} else if (strcmp(a, "--port") == 0 && val) {
			char *end;

			errno = 0;
			port = strtol(argv[++i], &end, 10);
			if (errno || *end || end == argv[i] || port < 1 || port > 65535)
				code = (err_set(e, EINVAL, "wait: --port takes a TCP port, 1 to 65535, not '%s'",
						argv[i]), EXIT_USAGE);
		} else if (a[0] != '-' && !vm) {
			vm = a;
		} else {
			code = EXIT_USAGE;
		}
	}
	if (code)
		return code;
	if (!vm || !!console + !!state + lease + agent + !!exec + !!port != 1)
		return EXIT_USAGE;
	if (interval && !exec && !port)
		return err_set(e, EINVAL, "wait: --interval goes with --exec or --port"), EXIT_USAGE;
	if (exec && !exec[0])
		return err_set(e, EINVAL, "wait: --exec needs a command"), EXIT_USAGE;
	if (console) {
		/* Check the regex here so a typo is exit 2 at once, not a timeout. */
		char msg[256];
		regex_t re;
		int r = regcomp(&re, console, REG_EXTENDED | REG_NOSUB);

		if (r) {
			regerror(r, &re, msg, sizeof(msg));
			return err_set(e, EINVAL, "wait: bad regular expression '%s': %s", console, msg), EXIT_USAGE;
		}
		regfree(&re);
	}
	*req = json_pack("{s:s, s:s, s:I}", "cmd", "wait", "vm", vm, "timeout", (json_int_t)*timeout);
	if (*req && (lease || agent))
		code = json_object_set_new(*req, lease ? "lease" : "agent", json_true());
	else if (*req && port)
		code = json_object_set_new(*req, "port", json_integer(port));
	else if (*req)
		code = json_object_set_new(*req, console ? "console" : state ? "state" : "exec",
					   json_string(console ? console : state ? state : exec));
	if (*req && code == 0 && interval)
		code = json_object_set_new(*req, "interval", json_integer(interval));
	if (!*req || code < 0) {
		/* json_string() and json_pack() refuse text that is not UTF-8 */
		json_decref(*req);
		*req = NULL;
		return err_set(e, EINVAL, "wait: the arguments are not valid UTF-8 text"), EXIT_USAGE;
	}
	return 0;
}

void ctlreq_wait_print(FILE *out, const json_t *req, const json_t *reply)
{
	const char *vm = json_string_value(json_object_get(req, "vm"));
	const json_t *l;
	size_t i;

	if (json_object_get(req, "lease")) {
		json_array_foreach(json_object_get(reply, "leases"), i, l)
			fprintf(out, "%s/%d %s\n", vm, (int)json_integer_value(json_object_get(l, "index")),
				json_string_value(json_object_get(l, "ip")) ?: "?");
	} else if (json_object_get(req, "agent")) {
		fputs("agent\n", out);
	} else if (json_object_get(req, "port")) {
		const char *addr = json_string_value(json_object_get(reply, "address"));

		if (addr)
			fprintf(out, "%s open\n", addr);
		else
			fprintf(out, "%s:%d open\n", vm, (int)json_integer_value(json_object_get(req, "port")));
	} else if (!json_object_get(req, "exec")) {
		const char *key = json_object_get(req, "console") ? "match" : "state";

		fprintf(out, "%s\n", json_string_value(json_object_get(reply, key)) ?: "");
	}
}

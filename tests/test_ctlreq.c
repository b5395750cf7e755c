/* test_ctlreq.c - exec and wait arguments as control requests, and an exec
 * reply as the bytes and exit status a user sees. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/b64.h"
#include "ctl/ctlio.h"
#include "ctl/ctlreq.h"

#define ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))

static void expect_json(json_t *got, const char *want)
{
	json_error_t jerr;
	json_t *w = json_loads(want, 0, &jerr);
	char *g;

	cr_assert_not_null(w, "fixture: %s", jerr.text);
	cr_assert_not_null(got);
	g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert(json_equal(got, w), "got %s\nwant %s", g, want);
	free(g);
	json_decref(w);
}

/* ---- exec arguments ---- */

struct exec_parse {
	json_t *req;
	const char *input;
	long timeout;
	struct err e;
	int r;
};

#define EXEC(p, ...) \
	((p)->e = (struct err){ 0 }, \
	 (p)->r = ctlreq_exec(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &(p)->req, &(p)->input, &(p)->timeout, &(p)->e))

Test(ctlreq, exec_request)
{
	struct exec_parse p;

	EXEC(&p, "exec", "a", "--", "hostname", "-f");
	cr_assert_eq(p.r, 0, "%s", p.e.msg);
	expect_json(p.req, "{\"cmd\":\"exec\",\"vm\":\"a\",\"path\":\"hostname\",\"args\":[\"-f\"],\"timeout\":0}");
	cr_assert_null(p.input);
	json_decref(p.req);

	EXEC(&p, "exec", "n100-1", "--timeout", "5", "--env", "A=1", "--env", "B=x=y", "--env", "EMPTY=",
	     "--stdin", "-", "--", "sh", "-c", "cat; exit 3", "--", "x");
	cr_assert_eq(p.r, 0, "%s", p.e.msg);
	expect_json(p.req, "{\"cmd\":\"exec\",\"vm\":\"n100-1\",\"path\":\"sh\","
			   "\"args\":[\"-c\",\"cat; exit 3\",\"--\",\"x\"],"
			   "\"env\":[\"A=1\",\"B=x=y\",\"EMPTY=\"],\"timeout\":5}");
	cr_assert_str_eq(p.input, "-");
	cr_assert_eq(p.timeout, 5);
	json_decref(p.req);

	/* Without "--", CMD starts at the first word after VM. */
	EXEC(&p, "exec", "a", "ls", "-l", "--timeout", "3");
	cr_assert_eq(p.r, 0, "%s", p.e.msg);
	expect_json(p.req, "{\"cmd\":\"exec\",\"vm\":\"a\",\"path\":\"ls\",\"args\":[\"-l\",\"--timeout\",\"3\"],"
			   "\"timeout\":0}");
	json_decref(p.req);

	/* Options may come before VM; after "--", "-x" is a command. */
	EXEC(&p, "exec", "--timeout", "0", "a", "--", "-x");
	cr_assert_eq(p.r, 0, "%s", p.e.msg);
	expect_json(p.req, "{\"cmd\":\"exec\",\"vm\":\"a\",\"path\":\"-x\",\"args\":[],\"timeout\":0}");
	json_decref(p.req);
}

Test(ctlreq, exec_usage_errors)
{
	struct exec_parse p;
	/* Not static: the compound literals of ARGV live in this block. */
	const struct {
		int argc;
		char **argv;
		const char *msg; /* "": the usage line */
	} cases[] = {
		{ ARGC("exec", "a"), ARGV("exec", "a"), "" },
		{ ARGC("exec", "a", "--"), ARGV("exec", "a", "--"), "" },
		{ ARGC("exec", "--", "ls"), ARGV("exec", "--", "ls"), "" },
		{ ARGC("exec", "a", "--bogus", "--", "ls"), ARGV("exec", "a", "--bogus", "--", "ls"), "" },
		{ ARGC("exec", "a", "--env"), ARGV("exec", "a", "--env"), "" },
		{ ARGC("exec", "a", "--", ""), ARGV("exec", "a", "--", ""), "" },
		{ ARGC("exec", "a", "--env", "FOO", "--", "ls"), ARGV("exec", "a", "--env", "FOO", "--", "ls"),
		  "exec: --env takes NAME=VALUE, not 'FOO'" },
		{ ARGC("exec", "a", "--env", "=x", "--", "ls"), ARGV("exec", "a", "--env", "=x", "--", "ls"),
		  "exec: --env takes NAME=VALUE, not '=x'" },
		{ ARGC("exec", "a", "--timeout", "-1", "--", "ls"), ARGV("exec", "a", "--timeout", "-1", "--", "ls"),
		  "exec: --timeout takes whole seconds (0: forever), not '-1'" },
		{ ARGC("exec", "a", "--timeout", "1.5", "ls"), ARGV("exec", "a", "--timeout", "1.5", "ls"),
		  "exec: --timeout takes whole seconds (0: forever), not '1.5'" },
		{ ARGC("exec", "a", "--", "ls", "\xff"), ARGV("exec", "a", "--", "ls", "\xff"),
		  "exec: argument '\xff' is not UTF-8 text" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p.e = (struct err){ 0 };
		p.r = ctlreq_exec(cases[i].argc, cases[i].argv, &p.req, &p.input, &p.timeout, &p.e);
		cr_assert_eq(p.r, EXIT_USAGE, "case %zu", i);
		cr_assert_null(p.req, "case %zu", i);
		cr_assert_str_eq(p.e.msg, cases[i].msg, "case %zu", i);
	}
}

/* "input" is base64; the most that fits makes a line of at most
 * CTL_LINE_MAX, one more base64 group would not fit, and more is exit 2
 * with the number. */
Test(ctlreq, exec_input_limit)
{
	struct exec_parse p;
	char *big = calloc(1, CTL_LINE_MAX + 1), *line, msg[ERR_MSG_MAX];
	unsigned long fits;
	size_t len;

	EXEC(&p, "exec", "a", "--stdin", "in.bin", "--", "cat");
	cr_assert_eq(p.r, 0);
	cr_assert_eq(ctlreq_exec_input(p.req, "in.bin", "a\0b", 3, &p.e), 0);
	cr_assert_str_eq(json_string_value(json_object_get(p.req, "input")), "YQBi");

	cr_assert_eq(ctlreq_exec_input(p.req, "in.bin", big, CTL_LINE_MAX + 1, &p.e), EXIT_USAGE);
	cr_assert(sscanf(p.e.msg, "exec: --stdin in.bin holds more than 1048576 bytes; one request carries at "
			 "most %lu with this command (copy bigger input with n3x-ctl cp)", &fits) == 1, "%s",
		  p.e.msg);
	cr_assert_str_eq(json_string_value(json_object_get(p.req, "input")), "YQBi", "a refused input changes nothing");
	/* A second input replaces the first; what fits does not count it. */
	cr_assert_eq(ctlreq_exec_input(p.req, "in.bin", big, fits + 1, &p.e), EXIT_USAGE);
	snprintf(msg, sizeof(msg), "exec: --stdin in.bin holds %lu bytes; one request carries at most %lu with "
		 "this command (copy bigger input with n3x-ctl cp)", fits + 1, fits);
	cr_assert_str_eq(p.e.msg, msg);
	cr_assert_eq(ctlreq_exec_input(p.req, "in.bin", big, fits, &p.e), 0, "%s", p.e.msg);
	line = json_dumps(p.req, JSON_COMPACT);
	len = strlen(line);
	cr_assert_leq(len, CTL_LINE_MAX);
	cr_assert_gt(len + 4, CTL_LINE_MAX, "%zu bytes: room for more input", len);
	free(line);
	json_decref(p.req);
	free(big);
}

Test(ctlreq, read_input)
{
	char path[] = "/tmp/test_ctlreq.XXXXXX", *data, *big = calloc(1, 2 * CTL_LINE_MAX);
	struct err e = { 0 };
	size_t len;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "hello\0\n", 7), 7);
	cr_assert_eq(ctlreq_read_input(path, &data, &len, &e), 0, "%s", e.msg);
	cr_assert(len == 7 && memcmp(data, "hello\0\n", 7) == 0);
	free(data);
	/* More than a request can carry: read no further than that. */
	cr_assert_eq(write(fd, big, 2 * CTL_LINE_MAX), 2 * CTL_LINE_MAX);
	cr_assert_eq(ctlreq_read_input(path, &data, &len, &e), 0, "%s", e.msg);
	cr_assert_eq(len, CTL_LINE_MAX + 1);
	free(data);
	close(fd);
	unlink(path);
	cr_assert_eq(ctlreq_read_input(path, &data, &len, &e), EXIT_FAIL);
	cr_assert(strstr(e.msg, ": No such file or directory") && strncmp(e.msg, "exec: --stdin /tmp/", 19) == 0,
		  "%s", e.msg);
	free(big);
}

/* ---- exec replies ---- */

struct output {
	int r, status;
	struct err e;
	char *out, *err;
	size_t out_len, err_len;
};

static char *drain(FILE *f, size_t *len)
{
	char *p;

	fflush(f);
	*len = (size_t)ftell(f);
	p = malloc(*len + 1);
	rewind(f);
	cr_assert_eq(fread(p, 1, *len, f), *len);
	p[*len] = '\0';
	fclose(f);
	return p;
}

static void run_output(const json_t *reply, struct output *o)
{
	FILE *out = tmpfile(), *err = tmpfile();

	cr_assert(out && err);
	o->e = (struct err){ 0 };
	o->status = -1;
	o->r = ctlreq_exec_output(reply, "a", fileno(out), fileno(err), &o->status, &o->e);
	fseek(out, 0, SEEK_END);
	fseek(err, 0, SEEK_END);
	o->out = drain(out, &o->out_len);
	o->err = drain(err, &o->err_len);
}

static void free_output(struct output *o)
{
	free(o->out);
	free(o->err);
}

Test(ctlreq, exec_output_bytes_and_status)
{
	static const char bin[] = "\0\xff\n\x01text\r\n";
	char *b64 = b64_encode_alloc(bin, sizeof(bin) - 1);
	json_t *reply = json_pack("{s:b, s:i, s:i, s:s, s:s, s:b, s:b}", "ok", 1, "pid", 42, "exitcode", 3,
				  "out", b64, "err", "b29wcwo=", "out_truncated", 0, "err_truncated", 0);
	struct output o;

	run_output(reply, &o);
	cr_assert_eq(o.r, 0, "%s", o.e.msg);
	cr_assert_eq(o.status, 3);
	cr_assert(o.out_len == sizeof(bin) - 1 && memcmp(o.out, bin, o.out_len) == 0, "stdout differs");
	cr_assert_str_eq(o.err, "oops\n");
	free_output(&o);

	/* Killed by SIGKILL: 128 + 9, as a shell says it. */
	json_object_del(reply, "exitcode");
	json_object_set_new(reply, "signal", json_integer(9));
	json_object_set_new(reply, "out", json_string(""));
	json_object_set_new(reply, "out_truncated", json_true());
	json_object_set_new(reply, "err_truncated", json_true());
	run_output(reply, &o);
	cr_assert_eq(o.r, 0, "%s", o.e.msg);
	cr_assert_eq(o.status, 137);
	cr_assert_eq(o.out_len, 0);
	cr_assert_str_eq(o.err, "oops\n"
				"n3x-ctl: a: stdout truncated by the guest agent (16 MiB limit)\n"
				"n3x-ctl: a: stderr truncated by the guest agent (16 MiB limit)\n");
	free_output(&o);
	json_decref(reply);
	free(b64);
}

Test(ctlreq, exec_output_bad_replies)
{
	struct output o;
	json_t *reply = json_pack("{s:b, s:s}", "ok", 1, "out", "aGk=");

	run_output(reply, &o);
	cr_assert_eq(o.r, -EPROTO);
	cr_assert_str_eq(o.e.msg, "a: the exec reply has neither \"exitcode\" nor \"signal\"");
	cr_assert_eq(o.out_len, 0, "nothing is printed from a reply without an exit code");
	free_output(&o);
	json_object_set_new(reply, "exitcode", json_integer(0));
	json_object_set_new(reply, "err", json_string("not base64!"));
	run_output(reply, &o);
	cr_assert_eq(o.r, -EPROTO);
	cr_assert_str_eq(o.e.msg, "a: the exec reply's \"err\" is not base64");
	free_output(&o);
	json_decref(reply);
}

/* A full 16 MiB of output is a reply line of about 22 MB: ctlio_exchange
 * reads it whole, and every byte reaches stdout. */
Test(ctlreq, exec_reply_of_22_MB_over_a_socket)
{
	size_t n = 16 * 1024 * 1024;
	char *bytes = malloc(n), *line = NULL;
	struct output o;
	json_t *reply;
	int sv[2], status;
	pid_t pid;

	for (size_t i = 0; i < n; i++)
		bytes[i] = (char)(i * 7 + i / 4096);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* The supervisor's side: read the request, answer in one line. */
		char req[64], *b64 = b64_encode_alloc(bytes, n), *s;
		json_t *r;

		close(sv[0]);
		if (read(sv[1], req, sizeof(req)) <= 0)
			_exit(1);
		r = json_pack("{s:b, s:i, s:i, s:s, s:s, s:b, s:b}", "ok", 1, "pid", 7, "exitcode", 0, "out", b64,
			      "err", "", "out_truncated", 1, "err_truncated", 0);
		s = json_dumps(r, JSON_COMPACT);
		for (size_t off = 0, len = strlen(s); off < len;) {
			ssize_t w = write(sv[1], s + off, len - off);

			if (w <= 0)
				_exit(1);
			off += w;
		}
		_exit(write(sv[1], "\n", 1) == 1 ? 0 : 1);
	}
	close(sv[1]);
	cr_assert_eq(ctlio_exchange(sv[0], "{\"cmd\":\"exec\"}\n", 15, 60000, &line), 0);
	close(sv[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_gt(strlen(line), 22000000);
	reply = json_loads(line, 0, NULL);
	free(line);
	cr_assert_not_null(reply);
	run_output(reply, &o);
	cr_assert_eq(o.r, 0, "%s", o.e.msg);
	cr_assert_eq(o.status, 0);
	cr_assert(o.out_len == n && memcmp(o.out, bytes, n) == 0, "stdout: %zu bytes, not the %zu sent", o.out_len, n);
	cr_assert_str_eq(o.err, "n3x-ctl: a: stdout truncated by the guest agent (16 MiB limit)\n");
	free_output(&o);
	json_decref(reply);
	free(bytes);
}

/* ---- wait ---- */

struct wait_parse {
	json_t *req;
	long timeout;
	struct err e;
	int r;
};

#define WAIT(p, ...) \
	((p)->e = (struct err){ 0 }, \
	 (p)->r = ctlreq_wait(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &(p)->req, &(p)->timeout, &(p)->e))

Test(ctlreq, wait_requests)
{
	const struct {
		int argc;
		char **argv;
		const char *want;
		long timeout;
	} cases[] = {
		{ ARGC("wait", "a", "--agent"), ARGV("wait", "a", "--agent"),
		  "{\"cmd\":\"wait\",\"vm\":\"a\",\"timeout\":60,\"agent\":true}", 60 },
		{ ARGC("wait", "a", "--exec", "systemctl is-active ssh", "--interval", "2", "--timeout", "300"),
		  ARGV("wait", "a", "--exec", "systemctl is-active ssh", "--interval", "2", "--timeout", "300"),
		  "{\"cmd\":\"wait\",\"vm\":\"a\",\"timeout\":300,\"exec\":\"systemctl is-active ssh\",\"interval\":2}",
		  300 },
		{ ARGC("wait", "a", "--exec", "true"), ARGV("wait", "a", "--exec", "true"),
		  "{\"cmd\":\"wait\",\"vm\":\"a\",\"timeout\":60,\"exec\":\"true\"}", 60 },
		{ ARGC("wait", "--port", "22", "a", "--timeout", "0"), ARGV("wait", "--port", "22", "a", "--timeout", "0"),
		  "{\"cmd\":\"wait\",\"vm\":\"a\",\"timeout\":0,\"port\":22}", 0 },
		{ ARGC("wait", "a", "--port", "22", "--interval", "5"), ARGV("wait", "a", "--port", "22", "--interval", "5"),
		  "{\"cmd\":\"wait\",\"vm\":\"a\",\"timeout\":60,\"port\":22,\"interval\":5}", 60 },
		{ ARGC("wait", "a", "--lease"), ARGV("wait", "a", "--lease"),
		  "{\"cmd\":\"wait\",\"vm\":\"a\",\"timeout\":60,\"lease\":true}", 60 },
		{ ARGC("wait", "a", "--console", "login: *$"), ARGV("wait", "a", "--console", "login: *$"),
		  "{\"cmd\":\"wait\",\"vm\":\"a\",\"timeout\":60,\"console\":\"login: *$\"}", 60 },
		{ ARGC("wait", "a", "--state", "running"), ARGV("wait", "a", "--state", "running"),
		  "{\"cmd\":\"wait\",\"vm\":\"a\",\"timeout\":60,\"state\":\"running\"}", 60 },
	};
	struct wait_parse p;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p.e = (struct err){ 0 };
		p.r = ctlreq_wait(cases[i].argc, cases[i].argv, &p.req, &p.timeout, &p.e);
		cr_assert_eq(p.r, 0, "case %zu: %s", i, p.e.msg);
		expect_json(p.req, cases[i].want);
		cr_assert_eq(p.timeout, cases[i].timeout, "case %zu", i);
		json_decref(p.req);
	}
}

Test(ctlreq, wait_usage_errors)
{
	struct wait_parse p;

	WAIT(&p, "wait", "a");
	cr_assert(p.r == EXIT_USAGE && !err_is_set(&p.e) && !p.req);
	WAIT(&p, "wait", "a", "--agent", "--lease");
	cr_assert(p.r == EXIT_USAGE && !err_is_set(&p.e));
	WAIT(&p, "wait", "a", "--port", "22", "--exec", "true");
	cr_assert(p.r == EXIT_USAGE && !err_is_set(&p.e));
	WAIT(&p, "wait", "--agent");
	cr_assert(p.r == EXIT_USAGE && !err_is_set(&p.e));
	WAIT(&p, "wait", "a", "--exec");
	cr_assert(p.r == EXIT_USAGE && !err_is_set(&p.e));
	WAIT(&p, "wait", "a", "--port", "0");
	cr_assert_eq(p.r, EXIT_USAGE);
	cr_assert_str_eq(p.e.msg, "wait: --port takes a TCP port, 1 to 65535, not '0'");
	WAIT(&p, "wait", "a", "--port", "ssh");
	cr_assert_str_eq(p.e.msg, "wait: --port takes a TCP port, 1 to 65535, not 'ssh'");
	WAIT(&p, "wait", "a", "--agent", "--interval", "2");
	cr_assert_str_eq(p.e.msg, "wait: --interval goes with --exec or --port");
	WAIT(&p, "wait", "a", "--exec", "true", "--interval", "0");
	cr_assert_str_eq(p.e.msg, "wait: --interval takes whole seconds, at least 1, not '0'");
	WAIT(&p, "wait", "a", "--exec", "");
	cr_assert_str_eq(p.e.msg, "wait: --exec needs a command");
	WAIT(&p, "wait", "a", "--console", "(");
	cr_assert_eq(p.r, EXIT_USAGE);
	cr_assert(strncmp(p.e.msg, "wait: bad regular expression '(': ", 34) == 0 && strlen(p.e.msg) > 34, "%s",
		  p.e.msg);
	WAIT(&p, "wait", "a", "--agent", "--timeout", "soon");
	cr_assert_str_eq(p.e.msg, "wait: --timeout takes whole seconds (0: forever), not 'soon'");
	WAIT(&p, "wait", "a", "--exec", "\xff");
	cr_assert_str_eq(p.e.msg, "wait: the arguments are not valid UTF-8 text");
	cr_assert_null(p.req);
}

static char *print_wait(const char *req, const char *reply)
{
	json_t *q = json_loads(req, 0, NULL), *r = json_loads(reply, 0, NULL);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cr_assert(q && r && out);
	ctlreq_wait_print(out, q, r);
	fclose(out);
	json_decref(q);
	json_decref(r);
	return text;
}

Test(ctlreq, wait_output)
{
	static const struct {
		const char *req, *reply, *want;
	} cases[] = {
		{ "{\"vm\":\"a\",\"agent\":true}", "{\"ok\":true,\"state\":\"running\"}", "agent\n" },
		{ "{\"vm\":\"a\",\"exec\":\"true\"}", "{\"ok\":true,\"state\":\"running\"}", "" },
		{ "{\"vm\":\"a\",\"port\":22}", "{\"ok\":true,\"address\":\"192.168.100.10:22\"}",
		  "192.168.100.10:22 open\n" },
		{ "{\"vm\":\"a\",\"port\":22}", "{\"ok\":true}", "a:22 open\n" },
		{ "{\"vm\":\"a\",\"state\":\"running\"}", "{\"ok\":true,\"state\":\"running\"}", "running\n" },
		{ "{\"vm\":\"a\",\"console\":\"x\"}", "{\"ok\":true,\"match\":\"login: \"}", "login: \n" },
		{ "{\"vm\":\"a\",\"lease\":true}",
		  "{\"ok\":true,\"leases\":[{\"index\":0,\"ip\":\"10.0.0.2\"},{\"index\":2,\"ip\":\"10.1.0.2\"}]}",
		  "a/0 10.0.0.2\na/2 10.1.0.2\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = print_wait(cases[i].req, cases[i].reply);

		cr_assert_str_eq(got, cases[i].want, "case %zu", i);
		free(got);
	}
}

/* test_guest.c - what the supervisor sends the guest agent for `exec` and
 * what it makes of the answer (launcher/guest.h): guest-exec's arguments
 * from a path, args, env and input; the exec reply from guest-exec-status;
 * the one-line failure `wait --exec` reports.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/guest.h"

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &err);

	cr_assert_not_null(j, "fixture %s: %s", text, err.text);
	return j;
}

/* Build guest-exec's arguments from JSON fixtures (NULL: absent) and
 * compare with want (NULL: the call must fail with -EINVAL and msg). */
static void check_args(const char *path, const char *args, const char *env, const char *input,
		       const char *want, const char *msg)
{
	json_t *a = args ? parse(args) : NULL, *e = env ? parse(env) : NULL, *out = NULL;
	struct err err = { 0 };
	int r = guest_exec_args(path, a, e, input, &out, &err);

	if (want) {
		json_t *w = parse(want);
		char *got = json_dumps(out, JSON_SORT_KEYS);

		cr_assert_eq(r, 0, "%s", err.msg);
		cr_assert(json_equal(out, w), "got %s, want %s", got, want);
		free(got);
		json_decref(w);
	} else {
		cr_assert_eq(r, -EINVAL);
		cr_assert_null(out);
		cr_assert_str_eq(err.msg, msg);
	}
	json_decref(out);
	json_decref(a);
	json_decref(e);
}

Test(guest_args, path_only)
{
	check_args("hostname", NULL, NULL, NULL, "{\"path\":\"hostname\",\"capture-output\":true}",
		   NULL);
	/* Empty lists are left out, as qemu-ga takes them to be. */
	check_args("true", "[]", "[]", NULL, "{\"path\":\"true\",\"capture-output\":true}", NULL);
}

Test(guest_args, args_env_input)
{
	check_args("/bin/sh", "[\"-c\", \"echo $K; cat\"]", "[\"K=V\", \"PATH=/usr/bin:/bin\", \"E=\"]",
		   "aGVsbG8K",
		   "{\"path\":\"/bin/sh\",\"arg\":[\"-c\",\"echo $K; cat\"],"
		   "\"env\":[\"K=V\",\"PATH=/usr/bin:/bin\",\"E=\"],\"input-data\":\"aGVsbG8K\","
		   "\"capture-output\":true}", NULL);
	/* Arguments are passed as they are: no shell, no splitting. */
	check_args("ls", "[\"-l\", \"a b\", \"\", \"$HOME\"]", NULL, NULL,
		   "{\"path\":\"ls\",\"arg\":[\"-l\",\"a b\",\"\",\"$HOME\"],\"capture-output\":true}",
		   NULL);
	/* An empty input is still input: the process gets EOF at once. */
	check_args("cat", NULL, NULL, "", "{\"path\":\"cat\",\"input-data\":\"\",\"capture-output\":true}",
		   NULL);
}

Test(guest_args, refused)
{
	check_args(NULL, NULL, NULL, NULL, NULL, "exec needs a command to run");
	check_args("", NULL, NULL, NULL, NULL, "exec needs a command to run");
	check_args("ls", "\"-l\"", NULL, NULL, NULL, "exec: \"args\" is a list of strings");
	check_args("ls", "[\"-l\", 3]", NULL, NULL, NULL, "exec: \"args\" is a list of strings");
	check_args("ls", NULL, "{\"K\":\"V\"}", NULL, NULL,
		   "exec: \"env\" is a list of NAME=VALUE strings");
	check_args("ls", NULL, "[\"K=V\", \"KV\"]", NULL, NULL,
		   "exec: environment entry \"KV\" is not NAME=VALUE");
	check_args("ls", NULL, "[\"=V\"]", NULL, NULL,
		   "exec: environment entry \"=V\" is not NAME=VALUE");
	check_args("cat", NULL, NULL, "not base64!", NULL, "exec: \"input\" is not base64");
	check_args("cat", NULL, NULL, "aGVsbG8K\n", NULL, "exec: \"input\" is not base64");
}

/* ---- the reply ---- */

static void check_result(int pid, const char *status, const char *want)
{
	json_t *st = parse(status), *w = parse(want), *got = guest_exec_result(pid, st);
	char *text = json_dumps(got, JSON_SORT_KEYS);

	cr_assert_not_null(got);
	cr_assert(json_equal(got, w), "got %s, want %s", text, want);
	free(text);
	json_decref(got);
	json_decref(w);
	json_decref(st);
}

Test(guest_result, exit_code)
{
	check_result(812, "{\"exited\":true,\"exitcode\":0,\"out-data\":\"bjEwMC0xCg==\"}",
		     "{\"ok\":true,\"pid\":812,\"exitcode\":0,\"out\":\"bjEwMC0xCg==\",\"err\":\"\","
		     "\"out_truncated\":false,\"err_truncated\":false}");
	check_result(9, "{\"exited\":true,\"exitcode\":3,\"err-data\":\"b29wcwo=\"}",
		     "{\"ok\":true,\"pid\":9,\"exitcode\":3,\"out\":\"\",\"err\":\"b29wcwo=\","
		     "\"out_truncated\":false,\"err_truncated\":false}");
}

Test(guest_result, signal)
{
	/* qemu-ga gives the signal instead of an exit code; we give both, the
	 * code as a shell would ($? = 128 + N). */
	check_result(77, "{\"exited\":true,\"signal\":9}",
		     "{\"ok\":true,\"pid\":77,\"exitcode\":137,\"signal\":9,\"out\":\"\",\"err\":\"\","
		     "\"out_truncated\":false,\"err_truncated\":false}");
	/* An agent that says neither. */
	check_result(5, "{\"exited\":true}",
		     "{\"ok\":true,\"pid\":5,\"exitcode\":-1,\"out\":\"\",\"err\":\"\","
		     "\"out_truncated\":false,\"err_truncated\":false}");
}

Test(guest_result, truncated)
{
	check_result(1, "{\"exited\":true,\"exitcode\":0,\"out-data\":\"eA==\",\"out-truncated\":true}",
		     "{\"ok\":true,\"pid\":1,\"exitcode\":0,\"out\":\"eA==\",\"err\":\"\","
		     "\"out_truncated\":true,\"err_truncated\":false}");
	check_result(1, "{\"exited\":true,\"exitcode\":1,\"err-data\":\"eQ==\",\"err-truncated\":true,"
		     "\"out-truncated\":false}",
		     "{\"ok\":true,\"pid\":1,\"exitcode\":1,\"out\":\"\",\"err\":\"eQ==\","
		     "\"out_truncated\":false,\"err_truncated\":true}");
}

/* ---- the failure line ---- */

static void check_failure(const char *result, size_t size, const char *want)
{
	json_t *r = parse(result);
	char buf[256];

	cr_assert_leq(size, sizeof(buf));
	cr_assert_str_eq(guest_exec_failure(r, buf, size), want);
	json_decref(r);
}

Test(guest_failure, lines)
{
	/* "exit 1" and the last non-empty stderr line, without its newlines */
	check_failure("{\"exitcode\":1,\"err\":\"Zmlyc3QKc2Vjb25kIGxpbmUKCg==\"}", 256,
		      "exit 1: second line");
	check_failure("{\"exitcode\":1,\"err\":\"b25seQ==\"}", 256, "exit 1: only");
	check_failure("{\"exitcode\":2,\"err\":\"\"}", 256, "exit 2");
	check_failure("{\"exitcode\":2}", 256, "exit 2");
	check_failure("{\"exitcode\":137,\"signal\":9,\"err\":\"a2lsbGVkDQo=\"}", 256,
		      "signal 9: killed");
	/* bytes that are not printable become '?' */
	check_failure("{\"exitcode\":1,\"err\":\"YQFi/2M=\"}", 256, "exit 1: a?b?c");
}

Test(guest_failure, cut_to_fit)
{
	/* "exit 1: abcdefghij" cut to a 12-byte buffer */
	check_failure("{\"exitcode\":1,\"err\":\"YWJjZGVmZ2hpago=\"}", 12, "exit 1: abc");
	check_failure("{\"exitcode\":1,\"err\":\"YWJjZGVmZ2hpago=\"}", 7, "exit 1");
}

/* guestcmds.c - n3x-ctl's verbs that reach into a guest or wait on it:
 * wait, exec and cp (through the guest agent; ctlreq.c and ctlcp.c hold
 * what the tests check without a supervisor). */
#include "ctl/client.h"
#include "ctl/ctl.h"
#include "ctl/ctlcp.h"
#include "ctl/ctlreq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A parser's EXIT_USAGE without a message is the usage line. */
static int parse_error(const struct ctl_cmd *cmd, int code, const struct err *e)
{
	return err_is_set(e) ? fail(code, "%s", e->msg) : usage_error(cmd);
}

int cmd_wait(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct err e = { 0 };
	json_t *req, *reply;
	long timeout;
	int r = ctlreq_wait(argc, argv, &req, &timeout, &e);

	if (r)
		return parse_error(cmd, r, &e);
	r = request(c, json_incref(req), margin_ms(timeout), &reply);
	if (r == 0) {
		ctlreq_wait_print(stdout, req, reply);
		json_decref(reply);
	}
	json_decref(req);
	return r;
}

int cmd_exec(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct err e = { 0 };
	const char *input;
	json_t *req, *reply;
	long timeout;
	int status, r = ctlreq_exec(argc, argv, &req, &input, &timeout, &e);

	if (r)
		return parse_error(cmd, r, &e);
	if (input) {
		char *data = NULL;
		size_t len = 0;

		r = ctlreq_read_input(input, &data, &len, &e);
		if (r == 0)
			r = ctlreq_exec_input(req, input, data, len, &e);
		free(data);
		if (r) {
			json_decref(req);
			return fail(r, "%s", e.msg);
		}
	}
	r = request(c, json_incref(req), margin_ms(timeout), &reply);
	if (r == 0) {
		/* Our stdout buffer is empty here; the guest's bytes go around it. */
		fflush(stdout);
		if (ctlreq_exec_output(reply, json_string_value(json_object_get(req, "vm")), STDOUT_FILENO,
				       STDERR_FILENO, &status, &e) < 0)
			status = fail(EXIT_FAIL, "%s", e.msg);
		r = status;
		json_decref(reply);
	}
	json_decref(req);
	return r;
}

/* cp's way to the agent: one agent request per command. */
static int agent_call(void *opaque, const char *vm, json_t *command, json_t **reply, struct err *e)
{
	json_t *r;
	int code = request_e(opaque, json_pack("{s:s, s:s, s:o}", "cmd", "agent", "vm", vm, "command", command),
			     margin_ms(AGENT_TIMEOUT_S), &r, e);

	if (code)
		return code;
	*reply = json_incref(json_object_get(r, "reply"));
	json_decref(r);
	if (!*reply)
		return err_set(e, EPROTO, "%s: the supervisor's agent reply has no \"reply\"", vm), EXIT_FAIL;
	return 0;
}

int cmd_cp(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct err e = { 0 };
	int r;

	if (argc != 3)
		return usage_error(cmd);
	fflush(stdout); /* cp VM:PATH - writes around stdio */
	r = ctlcp_run(argv[1], argv[2], agent_call, c, &e);
	return r ? fail(r, "%s", e.msg) : 0;
}

/* ctlreq.h - n3x-ctl's requests that take more than a name: the arguments
 * of exec and wait as control requests (control.h), and an exec reply as
 * our stdout, stderr and exit status.  Kept apart from main.c so the tests
 * call them without a supervisor.
 *
 * The parsers return 0, or EXIT_USAGE with e set to the line to print, or
 * with e unset when the arguments do not fit the command's usage line (the
 * caller prints that).
 */
#ifndef N3X_CTLREQ_H
#define N3X_CTLREQ_H

#include "ctl/ctl.h"

#include <stdio.h>

/* `exec VM [--timeout S] [--env K=V]... [--stdin FILE|-] [--] CMD ARG...`
 * (argv[0] is "exec") as *req, an exec request without its "input".
 * *input is the --stdin argument or NULL, *timeout the seconds the
 * supervisor lets CMD run (0: forever). */
int ctlreq_exec(int argc, char **argv, json_t **req, const char **input, long *timeout, struct err *e);

/* Read --stdin's path ("-": our stdin) into *data (malloc'd, caller frees),
 * stopping after CTL_LINE_MAX + 1 bytes: more than that can never fit one
 * request.  Returns 0 or EXIT_FAIL with e set. */
int ctlreq_read_input(const char *path, char **data, size_t *len, struct err *e);

/* Add the len bytes of data to the exec request req as its "input", when
 * the request line (compact JSON) then still fits CTL_LINE_MAX.  Otherwise
 * EXIT_USAGE with e saying how many bytes fit; path names the input. */
int ctlreq_exec_input(json_t *req, const char *path, const void *data, size_t len, struct err *e);

/* An exec reply: the guest's stdout to outfd and stderr to errfd, decoded,
 * then one line on errfd for each stream the agent cut short.  Returns 0
 * with *status the guest's exit code (128 + N when signal N killed it), or
 * -errno with e set (a reply without an exit code or with bad base64 is
 * -EPROTO; a failed write names "stdout"/"stderr"). */
int ctlreq_exec_output(const json_t *reply, const char *vm, int outfd, int errfd, int *status,
		       struct err *e);

/* `wait VM (--console REGEX | --state STATE | --lease | --agent |
 * --exec CMD | --port N) [--interval S] [--timeout S]` as *req (--interval:
 * how often --exec or --port tries); *timeout is the request's (seconds,
 * 0 = forever, default 60). */
int ctlreq_wait(int argc, char **argv, json_t **req, long *timeout, struct err *e);

/* What wait prints once the condition holds: the console line, the state,
 * "VM/N IP" per lease, "agent", nothing for --exec (CMD exited 0), "IP:PORT
 * open" for --port (the reply's "address"; VM:PORT when it has none). */
void ctlreq_wait_print(FILE *out, const json_t *req, const json_t *reply);

#endif

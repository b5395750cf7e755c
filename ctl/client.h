/* client.h - what n3x-ctl's command files share: the fabric it talks to,
 * the command table's entry, one request on the control socket, and the
 * one-line errors.  main.c holds the table, the supervisor's verbs and
 * picks the fabric; guestcmds.c has the verbs that reach into a guest.
 */
#ifndef N3X_CTL_CLIENT_H
#define N3X_CTL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"
#include "base/paths.h"

#define QUICK_TIMEOUT_MS 60000   /* status, qmp, hmp: the supervisor answers from memory or QMP */
#define WAIT_MARGIN_S 30         /* wait, exec, agent: the supervisor's own timeout must fire first */
#define AGENT_TIMEOUT_S 60       /* the supervisor's default for one agent command */

struct ctl {
	char sock[PATHS_MAX];   /* $RUN/control.sock */
	char fabric[PATHS_MAX]; /* name, or "" with --run-dir */
	int fd;                 /* -1 until the first request */
	const char *topo;       /* -f FILE, or NULL */
};

struct ctl_cmd {
	const char *name;
	int (*fn)(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);
	const char *usage;      /* what follows the name */
	int min_args;           /* after the name */
	const char *help;
};

/* Print "n3x-ctl: MESSAGE" on stderr; returns code. */
__attribute__((format(printf, 2, 3)))
int fail(int code, const char *fmt, ...);
/* The usage line of cmd; returns EXIT_USAGE. */
int usage_error(const struct ctl_cmd *cmd);
/* Connect to the control socket once; 0 or -errno. */
int ctl_connect(struct ctl *c);
/* The client's wait for a request the supervisor bounds by timeout_s
 * (0: none): its timeout plus a margin, or -1 (forever). */
int margin_ms(long timeout_s);
/* Send req (stolen) and wait up to timeout_ms (-1: forever) for the reply.
 * 0 with *reply for {"ok":true}; else the exit code with e saying why. */
int request_e(struct ctl *c, json_t *req, int timeout_ms, json_t **reply, struct err *e);
/* request_e, printing the error. */
int request(struct ctl *c, json_t *req, int timeout_ms, json_t **reply);
/* The whole status reply (*st, owned by the caller), or the printed error's code. */
int status_all(struct ctl *c, json_t **st);
/* VM name's entry in a status reply (borrowed), or NULL. */
json_t *status_find(const json_t *st, const char *name);
/* The status entry of VM name (a new reference), or the printed error's code. */
int status_vm(struct ctl *c, const char *name, json_t **vm);
/* A non-empty string field of a status entry, or NULL. */
const char *vm_path(const json_t *vm, const char *key);

/* guestcmds.c */
int cmd_wait(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);
int cmd_exec(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);
int cmd_cp(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);

/* snapcmd.c */
int cmd_snapshot(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);

/* eventcmd.c */
int cmd_events(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);

/* verifycmd.c: tc verify (argv[0] "tc", argv[1] "verify") */
int cmd_tc_verify(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);

/* schedcmd.c */
int cmd_schedule(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);

/* capture.c */
int cmd_capture(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);

#endif

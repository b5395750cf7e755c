/* ctl.h - what n3x-ctl's files share: the exit codes, the size of one
 * request, and how a module that is tested without a supervisor (cp) asks
 * the guest agent something.
 */
#ifndef N3X_CTL_H
#define N3X_CTL_H

#include "base/err.h"

#include <jansson.h>

/* Who failed (SPEC "Commands"): the operation, the user, the supervisor's
 * socket.  0 is success. */
enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

/* The supervisor refuses a request line longer than this (CONTROL_LINE_MAX
 * in launcher/control.h, which ctl/ may not include). */
#define CTL_LINE_MAX (1024 * 1024)

/* Send one guest-agent command (an {"execute":...,"arguments":...} object,
 * stolen) to the agent of vm.  Returns 0 with *reply, the agent's answer as
 * the supervisor relays it ({"return":...} or {"error":{"class","desc"}}; the
 * caller's reference), or an exit code (EXIT_*) with e holding the one line
 * to print (it names the VM). */
typedef int (*ctl_agent_fn)(void *opaque, const char *vm, json_t *command, json_t **reply,
			    struct err *e);

#endif

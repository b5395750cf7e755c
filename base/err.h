/* err.h - the one error type of the tree: a code and a message.
 *
 * A function that can fail returns 0 (or a value) and -errno, and, when it
 * takes a `struct err *`, fills it where the failure is understood: "vm
 * n100-1: nic 0: cannot create tap n100-1-n0: Operation not permitted".
 * Callers that add context wrap it ("network lan: " + the message) and pass
 * it up; only the top prints it: the control reply, n3x-ctl's one line, or
 * the supervisor's log.  Modules never print.
 *
 * e may be NULL everywhere: the code is still returned.
 */
#ifndef N3X_ERR_H
#define N3X_ERR_H

#include <stdbool.h>

#define ERR_MSG_MAX 512

struct err {
	int code;               /* a positive errno value; 0 while nothing failed */
	char msg[ERR_MSG_MAX];  /* one line, no trailing newline */
};

/* Set code and the message; returns -code (code is taken as positive). */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* As err_set, with ": strerror(code)" after the message. */
int err_sys(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Put "context: " in front of the message.  A message that would overflow
 * keeps its head and ends in "...".  Returns nothing: with e NULL there is
 * no code to return, so callers return the -errno they already hold. */
void err_wrap(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void err_clear(struct err *e);
static inline bool err_is_set(const struct err *e) { return e && e->code; }

#endif

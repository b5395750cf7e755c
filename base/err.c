/* err.c - the error type: a code and a one-line message. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fit(char *msg)
{
	size_t n = strlen(msg);

	if (n == ERR_MSG_MAX - 1)
		memcpy(msg + n - 3, "...", 3);
}

static int vset(struct err *e, int code, bool sys, const char *fmt, va_list ap)
{
	if (code < 0)
		code = -code;
	if (!e)
		return -code;
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	if (sys) {
		size_t n = strlen(e->msg);

		snprintf(e->msg + n, sizeof(e->msg) - n, "%s%s", n ? ": " : "", strerror(code));
	}
	fit(e->msg);
	return -code;
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vset(e, code, false, fmt, ap);
	va_end(ap);
	return r;
}

int err_sys(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vset(e, code, true, fmt, ap);
	va_end(ap);
	return r;
}

void err_wrap(struct err *e, const char *fmt, ...)
{
	char head[ERR_MSG_MAX];
	size_t hn, mn;
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head) - 2, fmt, ap);
	va_end(ap);
	strcat(head, ": ");
	hn = strlen(head);
	mn = strlen(e->msg);
	if (hn + mn > ERR_MSG_MAX - 1)
		mn = hn < ERR_MSG_MAX - 1 ? ERR_MSG_MAX - 1 - hn : 0;
	memmove(e->msg + hn, e->msg, mn);
	memcpy(e->msg, head, hn < ERR_MSG_MAX - 1 ? hn : ERR_MSG_MAX - 1);
	e->msg[hn + mn < ERR_MSG_MAX - 1 ? hn + mn : ERR_MSG_MAX - 1] = '\0';
	fit(e->msg);
}

void err_clear(struct err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}

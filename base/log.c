/* log.c - one line per event on stderr. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *log_prefix;

void log_set_prefix(const char *prefix)
{
	log_prefix = prefix;
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];

	/* Formatted first and written with one call: one line stays one line. */
	vsnprintf(line, sizeof(line), fmt, ap);
	if (prefix)
		fprintf(stderr, "%s: %s\n", prefix, line);
	else
		fprintf(stderr, "%s\n", line);
}

void log_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(log_prefix, fmt, ap);
	va_end(ap);
}

void log_plain(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(NULL, fmt, ap);
	va_end(ap);
}

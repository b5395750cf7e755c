/* log.c - one line per event on stderr. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *log_prefix;

void log_set_prefix(const char *prefix)
{
	log_prefix = prefix;
}

void log_line(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	/* Formatted first and written with one call, so lines from the
	 * supervisor and from its children's stderr forwarding never mix. */
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_prefix)
		fprintf(stderr, "%s: %s\n", log_prefix, line);
	else
		fprintf(stderr, "%s\n", line);
}

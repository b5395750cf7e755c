/* strv.c - NULL-terminated growable string vectors. */
#include "base/strv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int strv_add(struct strv *s, const char *arg)
{
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	if (!(s->v[s->n] = strdup(arg)))
		return -ENOMEM;
	s->v[++s->n] = NULL;
	return 0;
}

int strv_addf(struct strv *s, const char *fmt, ...)
{
	va_list ap;
	char *arg;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&arg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = strv_add(s, arg);
	free(arg);
	return r;
}

void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

char *strv_quote(const char *arg)
{
	size_t n = 3;
	char *q, *p;

	if (*arg && strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"0123456789-_=,./:@+%") == strlen(arg))
		return strdup(arg);
	for (const char *a = arg; *a; a++)
		n += *a == '\'' ? 4 : 1;
	if (!(q = p = malloc(n)))
		return NULL;
	*p++ = '\'';
	for (const char *a = arg; *a; a++) {
		if (*a == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = *a;
		}
	}
	*p++ = '\'';
	*p = '\0';
	return q;
}

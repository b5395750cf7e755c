/* strv.h - a NULL-terminated, growable vector of owned strings (an argv). */
#ifndef N3X_STRV_H
#define N3X_STRV_H

#include <stddef.h>

struct strv {
	char **v;
	size_t n, cap;
};

int strv_add(struct strv *s, const char *arg);
int strv_addf(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strv_free(struct strv *s);
/* Quote for a POSIX shell when needed, for printing plans: a new string. */
char *strv_quote(const char *arg);

#endif

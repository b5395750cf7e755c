/* paths.c - runtime and state directories. */
#include "base/paths.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *env_dir(const char *var)
{
	const char *v = getenv(var);

	return v && v[0] == '/' ? v : NULL;
}

int paths_join(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

void paths_run_base(char *buf, size_t size)
{
	const char *x = env_dir("XDG_RUNTIME_DIR");

	if (paths_join(buf, size, "%s/n3x", x ? x : "/run") < 0)
		paths_join(buf, size, "/run/n3x");
}

int paths_run_dir(const char *fabric, char *buf, size_t size)
{
	char base[PATHS_MAX];

	paths_run_base(base, sizeof(base));
	return paths_join(buf, size, "%s/%s", base, fabric);
}

int paths_state_dir(const char *fabric, char *buf, size_t size)
{
	const char *x = env_dir("XDG_STATE_HOME");

	if (x)
		return paths_join(buf, size, "%s/n3x/%s", x, fabric);
	return paths_join(buf, size, "/var/lib/n3x/%s", fabric);
}

int paths_mkdir_p(const char *path, unsigned mode)
{
	char tmp[PATHS_MAX];

	if (paths_join(tmp, sizeof(tmp), "%s", path) < 0)
		return -ENAMETOOLONG;
	for (char *p = tmp + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

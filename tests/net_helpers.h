/* net_helpers.h - shared by the net/ test suites: private namespaces and
 * iproute2 as the independent observer, files and goldens.  Everything
 * static inline, for the suites of net/ and above. */
#ifndef N3X_NET_HELPERS_H
#define N3X_NET_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define IP_BIN "/usr/sbin/ip"
#define BRIDGE_BIN "/usr/sbin/bridge"
#define PING_BIN "/usr/bin/ping"

/* These suites create links and namespaces: root only. */
static inline void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (network namespaces)");
}

/* Criterion runs each test in its own forked worker, so unsharing here puts
 * only this test in a fresh network namespace that dies with it: nothing the
 * test does can touch the host's links. */
static inline void enter_private_netns(void)
{
	need_root();
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
}

/* Run argv (NULL-terminated) with stdout into out; -1 or the wait status.
 * nsfd >= 0: the child setns()es there first. */
static inline int run_capture_ns(int nsfd, char *out, size_t size, char *const argv[])
{
	int pfd[2], status;
	size_t len = 0;
	pid_t pid;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0)
			_exit(126);
		dup2(pfd[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], out + len, size - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* Like run_capture_ns, in our namespace, from a literal list of words. */
#define RUN(out, ...) \
	run_capture_ns(-1, out, sizeof(out), (char *const[]){ __VA_ARGS__, NULL })

/* `ip -j ...` output as JSON; asserts it ran and parsed. */
static inline json_t *ip_json(char *const argv[])
{
	static char out[65536];
	json_error_t jerr;
	json_t *j;
	int st = run_capture_ns(-1, out, sizeof(out), argv);

	cr_assert_eq(st, 0, "%s %s %s: status %d", argv[0], argv[1], argv[2], st);
	j = json_loads(out, 0, &jerr);
	cr_assert_not_null(j, "%s output is not JSON: %s: %s", argv[0], jerr.text, out);
	return j;
}

/* The one link of `ip -j -d link show dev NAME`; caller json_decref()s. */
static inline json_t *ip_link(const char *name)
{
	json_t *arr = ip_json((char *const[]){ IP_BIN, "-j", "-d", "link", "show", "dev",
					       (char *)name, NULL });
	json_t *l = json_incref(json_array_get(arr, 0));

	json_decref(arr);
	cr_assert_not_null(l, "ip shows no link %s", name);
	return l;
}

/* The whole of a text file, malloc'd; *len its length. */
static inline char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	*len = n < 0 ? 0 : (size_t)n;
	return buf;
}

static inline bool json_has_str(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

#endif

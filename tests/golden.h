/* golden.h - golden files for the unit tests, compared byte for byte.
 *
 * N3X_REGEN_GOLDEN=1 in the environment rewrites every golden file from
 * what the code produces now (review `git diff tests/data` before
 * committing); the comparison still runs, against the new file.
 * Included by one test file each: the functions are static.
 */
#ifndef N3X_TESTS_GOLDEN_H
#define N3X_TESTS_GOLDEN_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static inline bool golden_regen(void)
{
	const char *v = getenv("N3X_REGEN_GOLDEN");

	return v && *v && strcmp(v, "0") != 0;
}

/* Expect the file at path to hold exactly got[0..len); with
 * N3X_REGEN_GOLDEN set, write got there first. */
static inline void golden_expect(const char *path, const char *got, size_t len)
{
	char *want = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	if (golden_regen()) {
		f = fopen(path, "we");
		cr_assert_not_null(f, "%s: %s", path, strerror(errno));
		cr_assert_eq(fwrite(got, 1, len, f), len, "%s: %s", path, strerror(errno));
		cr_assert_eq(fclose(f), 0, "%s: %s", path, strerror(errno));
	}
	f = fopen(path, "re");
	cr_assert_not_null(f, "golden file %s: %s (N3X_REGEN_GOLDEN=1 writes it)", path, strerror(errno));
	n = getdelim(&want, &cap, '\0', f);
	fclose(f);
	if (n < 0)
		n = 0;
	cr_expect((size_t)n == len && !memcmp(want ? want : "", got, len),
		  "%s differs (N3X_REGEN_GOLDEN=1 rewrites it):\n--- expected\n%.*s--- got\n%.*s", path,
		  (int)n, want ? want : "", (int)len, got);
	free(want);
}

/* Golden files recorded from another program (tc's own requests) are
 * rewritten by the script that records them: with N3X_REGEN_GOLDEN set,
 * run `sh script` once per test process and assert that it succeeded. */
static inline void golden_record(const char *script)
{
	static bool done;
	int status;
	pid_t pid;

	if (!golden_regen() || done)
		return;
	done = true;
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		execl("/bin/sh", "sh", script, (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sh %s failed (status %#x)", script, status);
}

#endif

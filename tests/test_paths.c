/* test_paths.c - which directories root trusts for $RUN and $STATE: made
 * 0700, no symbolic link on the way, nobody else's, nothing others can
 * write; and an XDG_* that fails this is refused with one line. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/paths.h"

static char dir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	strcpy(dir, "/tmp/n3x-test-paths-XXXXXX"); /* /tmp: sticky, root's */
	cr_assert_not_null(mkdtemp(dir));
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("XDG_STATE_HOME");
}

static void teardown(void)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(paths, .init = setup, .fini = teardown, .timeout = 10);

static char *at(const char *rel)
{
	static char buf[4][PATHS_MAX];
	static int which;
	char *b = buf[which++ & 3];

	snprintf(b, PATHS_MAX, "%s/%s", dir, rel);
	return b;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
	return st.st_mode & 07777;
}

Test(paths, open_dir_creates_every_missing_component_0700)
{
	struct err e = { 0 };
	struct stat st;
	int fd = paths_open_dir(at("run/n3x/fab"), &e);

	cr_assert_geq(fd, 0, "%s", e.msg);
	cr_assert_eq(mode_of(at("run")), 0700);
	cr_assert_eq(mode_of(at("run/n3x")), 0700);
	cr_assert_eq(mode_of(at("run/n3x/fab")), 0700);
	/* The fd is the directory: files open relative to it. */
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	int f = paths_openat(fd, "launcher.pid", O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(f, 0);
	close(f);
	cr_assert_eq(access(at("run/n3x/fab/launcher.pid"), F_OK), 0);
	close(fd);
	/* Again: existing directories are fine. */
	cr_assert_geq(fd = paths_open_dir(at("run/n3x/fab"), &e), 0, "%s", e.msg);
	close(fd);
}

Test(paths, a_looser_final_directory_is_tightened)
{
	struct err e = { 0 };
	int fd;

	cr_assert_eq(mkdir(at("state"), 0755), 0);
	cr_assert_eq(chmod(at("state"), 0755), 0);
	cr_assert_geq(fd = paths_open_dir(at("state"), &e), 0, "%s", e.msg);
	cr_assert_eq(mode_of(at("state")), 0700);
	close(fd);
}

Test(paths, a_symlink_on_the_way_is_refused)
{
	struct err e = { 0 };

	cr_assert_eq(mkdir(at("real"), 0700), 0);
	cr_assert_eq(symlink(at("real"), at("link")), 0);
	cr_assert_eq(paths_open_dir(at("link/n3x/fab"), &e), -EPERM);
	cr_assert_eq(e.code, EPERM);
	char want[PATHS_MAX * 3];

	snprintf(want, sizeof(want), "%s: %s is a symbolic link; refusing to use it", at("link/n3x/fab"),
		 at("link"));
	cr_assert_str_eq(e.msg, want);
	cr_assert_eq(access(at("real/n3x"), F_OK), -1, "created something through the link");
	/* The final component too. */
	cr_assert_eq(paths_open_dir(at("link"), &e), -EPERM);
}

Test(paths, a_directory_others_can_write_is_refused)
{
	struct err e = { 0 };

	cr_assert_eq(mkdir(at("open"), 0700), 0);
	cr_assert_eq(chmod(at("open"), 0777), 0);
	cr_assert_eq(paths_open_dir(at("open/n3x"), &e), -EPERM);
	cr_assert_not_null(strstr(e.msg, "is writable by others (mode 0777)"), "%s", e.msg);
	/* Group-writable as the final directory: also not ours alone. */
	cr_assert_eq(mkdir(at("grp"), 0700), 0);
	cr_assert_eq(chmod(at("grp"), 0770), 0);
	cr_assert_eq(paths_open_dir(at("grp"), &e), -EPERM);
	cr_assert_not_null(strstr(e.msg, "is writable by its group (mode 0770)"), "%s", e.msg);
	/* Sticky and root's (as /tmp) is fine on the way, not as ours. */
	cr_assert_eq(mkdir(at("sticky"), 0700), 0);
	cr_assert_eq(chmod(at("sticky"), 01777), 0);
	int fd = paths_open_dir(at("sticky/n3x"), &e);

	if (geteuid() == 0) {
		cr_assert_geq(fd, 0, "%s", e.msg);
		close(fd);
		cr_assert_eq(paths_open_dir(at("sticky"), &e), -EPERM);
	} else {
		cr_assert_eq(fd, -EPERM, "sticky but not root's");
	}
}

Test(paths, another_users_directory_is_refused)
{
	struct err e = { 0 };

	if (geteuid() != 0)
		cr_skip_test("chown needs root");
	cr_assert_eq(mkdir(at("user"), 0700), 0);
	cr_assert_eq(chown(at("user"), 1000, 1000), 0);
	cr_assert_eq(paths_open_dir(at("user/n3x/fab"), &e), -EPERM);
	cr_assert_not_null(strstr(e.msg, "user is owned by uid 1000, not root"), "%s", e.msg);
	cr_assert_eq(access(at("user/n3x"), F_OK), -1);
}

Test(paths, a_file_planted_as_a_symlink_is_not_followed)
{
	struct err e = { 0 };
	int fd;

	cr_assert_geq(fd = paths_open_dir(at("run"), &e), 0, "%s", e.msg);
	cr_assert_eq(symlink(at("victim"), at("run/launcher.pid")), 0);
	cr_assert_eq(paths_openat(fd, "launcher.pid", O_WRONLY | O_CREAT | O_TRUNC, 0600), -ELOOP);
	cr_assert_eq(access(at("victim"), F_OK), -1);
	close(fd);
}

Test(paths, check_env_refuses_an_untrusted_xdg_with_one_line)
{
	struct err e = { 0 };
	char want[PATHS_MAX * 3];

	cr_assert_eq(paths_check_env(&e), 0, "no XDG_* at all is fine");
	cr_assert_eq(mkdir(at("real"), 0700), 0);
	cr_assert_eq(symlink(at("real"), at("link")), 0);
	setenv("XDG_RUNTIME_DIR", at("link"), 1);
	cr_assert_eq(paths_check_env(&e), -EPERM);
	snprintf(want, sizeof(want),
		 "XDG_RUNTIME_DIR=%s: %s is a symbolic link; %s uses only directories no other user can "
		 "change (unset XDG_RUNTIME_DIR%s)",
		 at("link"), at("link"), geteuid() ? "n3x" : "as root, n3x",
		 geteuid() ? "" : ", or use sudo without -E");
	cr_assert_str_eq(e.msg, want);
	cr_assert_null(strchr(e.msg, '\n'));

	/* A link below it counts too; what does not exist yet is ours to make. */
	setenv("XDG_RUNTIME_DIR", at("real"), 1);
	cr_assert_eq(paths_check_env(&e), 0, "%s", e.msg);
	setenv("XDG_STATE_HOME", at("real/not/yet"), 1);
	cr_assert_eq(paths_check_env(&e), 0, "%s", e.msg);
	setenv("XDG_STATE_HOME", at("link/state"), 1);
	cr_assert_eq(paths_check_env(&e), -EPERM);
	cr_assert_eq(strncmp(e.msg, "XDG_STATE_HOME=", 15), 0, "%s", e.msg);
	/* A relative value is ignored (the defaults apply), as before. */
	setenv("XDG_STATE_HOME", "relative/dir", 1);
	cr_assert_eq(paths_check_env(&e), 0, "%s", e.msg);
}

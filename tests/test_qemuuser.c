/* test_qemuuser.c - the user QEMU runs as: found with its groups, asked
 * what it can open the way QEMU will be (a directory only root enters, a
 * file only root reads, a world-readable one), and put on a child.  Needs
 * root and the user scripts/deps.sh makes; skips without them. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/qemuuser.h"

static void need_user(struct qemu_user *u)
{
	struct err e = { 0 };

	if (geteuid() != 0)
		cr_skip_test("needs root");
	if (!getpwnam(QEMU_USER))
		cr_skip_test("no user " QEMU_USER " (make deps)");
	cr_assert_eq(qemu_user_lookup(u, &e), 0, "%s", e.msg);
}

Test(qemuuser, lookup_finds_the_user_and_its_groups)
{
	struct passwd *pw;
	struct group *kvm;
	struct qemu_user u;
	bool in_kvm = false;

	need_user(&u);
	pw = getpwnam(QEMU_USER);
	cr_expect_eq(u.uid, pw->pw_uid);
	cr_expect_neq(u.uid, 0);
	cr_expect_eq(u.gid, pw->pw_gid);
	cr_expect_geq(u.ngroups, 1);
	if ((kvm = getgrnam("kvm")))
		for (int i = 0; i < u.ngroups; i++)
			in_kvm |= u.groups[i] == kvm->gr_gid;
	cr_expect(!kvm || in_kvm, "scripts/deps.sh puts " QEMU_USER " in kvm");
}

Test(qemuuser, access_is_tested_as_the_user)
{
	char dir[] = "/tmp/n3x-qu-XXXXXX", hidden[64], open_file[64], root_only[64];
	const char *paths[4];
	int modes[4] = { R_OK, R_OK, R_OK, R_OK | W_OK }, errs[4] = { -1, -1, -1, -1 };
	struct qemu_user u;

	need_user(&u);
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0755), 0);
	snprintf(open_file, sizeof(open_file), "%s/open", dir);
	snprintf(root_only, sizeof(root_only), "%s/root-only", dir);
	close(open(open_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	close(open(root_only, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	snprintf(hidden, sizeof(hidden), "%s/private", dir);
	cr_assert_eq(mkdir(hidden, 0700), 0);
	strcat(hidden, "/file");
	close(open(hidden, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	paths[0] = open_file;
	paths[1] = root_only;
	paths[2] = hidden;
	paths[3] = open_file;
	cr_assert_eq(qemu_user_access(&u, paths, modes, 4, errs), 0);
	cr_expect_eq(errs[0], 0, "a 0644 file: %s", strerror(errs[0]));
	cr_expect_eq(errs[1], EACCES, "a 0600 root file: %s", strerror(errs[1]));
	cr_expect_eq(errs[2], EACCES, "a file in a 0700 root directory: %s", strerror(errs[2]));
	cr_expect_eq(errs[3], EACCES, "a 0644 root file, for writing: %s", strerror(errs[3]));
	/* Root itself reads them all: the test ran as the user. */
	cr_expect_eq(access(hidden, R_OK), 0);
	unlink(hidden);
	*strrchr(hidden, '/') = '\0';
	rmdir(hidden);
	unlink(open_file);
	unlink(root_only);
	rmdir(dir);
}

Test(qemuuser, apply_gives_a_child_the_set_user)
{
	struct qemu_user u, none = { 0 };
	struct child c;

	need_user(&u);
	child_init(&c, "qemu", NULL, NULL);
	qemu_user_apply(&c);
	cr_expect_eq(c.uid, 0, "no user set yet: the supervisor's credentials");
	qemu_user_set(&u);
	qemu_user_apply(&c);
	cr_expect_eq(c.uid, u.uid);
	cr_expect_eq(c.gid, u.gid);
	cr_expect_eq(c.ngroups, u.ngroups);
	cr_expect_eq(memcmp(c.groups, u.groups, (size_t)u.ngroups * sizeof(gid_t)), 0);
	qemu_user_set(&none);
}

/* qemuuser.h - the unprivileged system user every QEMU runs as.
 *
 * QEMU parses what guests send, so it runs as n3x-qemu (made by
 * scripts/deps.sh, supplementary group kvm for /dev/kvm) under -sandbox,
 * never as root.  It opens by path only what any VM may read: base images,
 * kernels, initrds, firmware code.  What it writes (overlays, data disks,
 * UEFI variables, console.log) stays in root's 0700 $STATE and reaches it as
 * file descriptors (argv.h, plan files).  A supervisor that is not root
 * cannot change users: its QEMUs run as itself.
 */
#ifndef N3X_QEMUUSER_H
#define N3X_QEMUUSER_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/child.h"
#include "base/err.h"

#define QEMU_USER "n3x-qemu"
#define QEMU_USER_MAX_GROUPS 16

struct qemu_user {
	uid_t uid;      /* 0: no switch (the supervisor is not root) */
	gid_t gid;
	gid_t groups[QEMU_USER_MAX_GROUPS];
	int ngroups;
};

/* Find QEMU_USER and its groups (as root; without root *u says "no switch").
 * Returns 0, or -ENOENT with e naming scripts/deps.sh when the user is
 * missing, or another -errno from the user database. */
int qemu_user_lookup(struct qemu_user *u, struct err *e);

/* Whether QEMU as u can open paths[i] with modes[i] (access(2)'s R_OK,
 * W_OK): errs[i] is 0, or the errno QEMU would get (EACCES, ENOENT...).
 * The test runs in one short-lived child that takes u's credentials, so
 * every directory on the way and ACLs count as they will for QEMU.
 * Returns 0, or -errno when the test itself could not run. */
int qemu_user_access(const struct qemu_user *u, const char *const *paths, const int *modes, int n,
		     int *errs);

/* The user every QEMU of this supervisor starts as (set once, after the
 * checks); until then QEMU keeps the supervisor's credentials. */
void qemu_user_set(const struct qemu_user *u);
/* Give c the credentials of the set user (nothing without one). */
void qemu_user_apply(struct child *c);

#endif

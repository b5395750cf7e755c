/* nlerr.h - libnl's -NLE_* codes as -errno, converted at the module edge so
 * nothing above net/ and tc/ sees libnl's numbering. */
#ifndef N3X_NLERR_H
#define N3X_NLERR_H

/* libnl folds errno into its own codes; this unfolds them.  The fold is
 * lossy (ENOENT and ESRCH are both OBJ_NOTFOUND), so the mapping picks the
 * errno a link or qdisc operation means.  nle may be negative; returns
 * -errno, 0 for 0, -EIO for codes without a match. */
int nlerr_errno(int nle);

#endif

/* disks.h - a VM's disk preparation: the plan's steps (argv.h) before each
 * start of QEMU.
 *
 * Steps run one at a time: a file copy (UEFI variables) is done at once, a
 * qemu-img runs as a child whose exit comes back through the exited
 * callback, from the loop.  A step whose file exists is skipped unless it is
 * redone at every start (an ephemeral overlay).
 */
#ifndef N3X_DISKS_H
#define N3X_DISKS_H

#include <stdbool.h>

#include "base/child.h"
#include "base/err.h"
#include "launcher/argv.h"

struct disks;

/* For plan's steps; plan must outlive the object.  tag names the qemu-img
 * child in the log; spawn starts it (child_spawn, or a test's stand-in).
 * exited(opaque, wstatus) is called when a qemu-img exits.  Returns 0, or
 * -ENOMEM. */
int disks_new(const struct vm_plan *plan, const char *tag, child_spawn_fn *spawn,
	      void (*exited)(void *opaque, int wstatus), void *opaque, struct disks **out);
void disks_free(struct disks *d);       /* NULL is a no-op; nothing may run */

/* Run the steps from the first.  Returns 1 when a qemu-img runs (its exit
 * comes through exited; call disks_exited then), 0 when every step is done,
 * or -errno with e saying which step failed. */
int disks_start(struct disks *d, struct err *e);
/* The running qemu-img exited with wstatus: go on with the next step.
 * Returns as disks_start; a failed qemu-img is -EIO with what it said. */
int disks_exited(struct disks *d, int wstatus, struct err *e);

bool disks_running(const struct disks *d);
int disks_kill(struct disks *d);        /* SIGKILL the qemu-img; 0 or -errno */

#endif

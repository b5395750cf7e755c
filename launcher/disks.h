/* disks.h - a VM's disks: the plan's steps (argv.h) before each start of
 * QEMU, the checks that keep a disk from being lost by accident, the one
 * verb that discards an overlay on purpose, and the last block I/O error.
 *
 * Steps run one at a time: a file copy (UEFI variables) is done at once, a
 * qemu-img runs as a child whose exit comes back through the exited
 * callback, from the loop.  Every file is made under its ".tmp" name and
 * renamed once whole, so a qemu-img killed or out of space leaves nothing
 * that a later start would take for a disk.
 *
 * An existing guest disk (persistent overlay, data disk) is checked before
 * each start: a persistent overlay must sit on the base it was made on
 * (overlay.base.json: the base's path, size, mtime and a hash of its first
 * 64 KiB, written when the overlay is made), and both must be whole qcow2
 * images: a header sanity check here, then `qemu-img check`, which walks
 * every table and so finds a file cut short anywhere (a header check alone
 * misses a file cut in its data clusters).  A failed check stops the start
 * with the way out in the message; nothing is ever repaired or recreated
 * behind the user's back.
 */
#ifndef N3X_DISKS_H
#define N3X_DISKS_H

#include <jansson.h>
#include <stdbool.h>

#include "base/child.h"
#include "base/err.h"
#include "launcher/argv.h"

#define DISKS_HEAD_BYTES 65536 /* of the base, hashed into its identity */

struct disks;

/* For plan's steps; plan must outlive the object.  tag names the qemu-img
 * child in the log; spawn starts it (child_spawn, or a test's stand-in).
 * exited(opaque, wstatus) is called when a qemu-img exits.  Returns 0, or
 * -ENOMEM. */
int disks_new(const struct vm_plan *plan, const char *tag, child_spawn_fn *spawn,
	      void (*exited)(void *opaque, int wstatus), void *opaque, struct disks **out);
void disks_free(struct disks *d);       /* NULL is a no-op; nothing may run */

/* Run the steps from the first (and forget the last I/O error: a new QEMU
 * starts).  Returns 1 when a qemu-img runs (its exit comes through exited;
 * call disks_exited then), 0 when every step is done, or -errno with e
 * saying which step failed and what the user can do. */
int disks_start(struct disks *d, struct err *e);
/* The running qemu-img exited with wstatus: go on with the next step.
 * Returns as disks_start; a failed qemu-img is -EIO with what it said. */
int disks_exited(struct disks *d, int wstatus, struct err *e);

bool disks_running(const struct disks *d);
int disks_kill(struct disks *d);        /* SIGKILL the qemu-img; 0 or -errno */

/* What a start would find wrong without running anything (--check): a
 * changed base under a persistent overlay, an overlay or data disk that is
 * no qcow2 or is cut short before its tables.  0, or -errno with e (no
 * "vm NAME:" prefix; the way out names the VM). */
int disks_verify(const struct vm_plan *plan, struct err *e);

/* Discard the VM's overlays on purpose (n3x-ctl reset): the persistent and
 * the ephemeral one, the base identity and any half-made ".tmp" of them.
 * The caller makes sure no QEMU or qemu-img uses them.  Appends each path
 * removed to removed (a JSON array).  0, or -errno with e naming the file
 * that could not be removed (those before it are gone). */
int disks_reset(const struct vm_plan *plan, json_t *removed, struct err *e);

/* A QMP event of the VM's QEMU: BLOCK_IO_ERROR is kept (as the io_error
 * of status), RESUME clears it (a resumed guest retries its I/O). */
void disks_qmp_event(struct disks *d, const char *event, json_t *data);
/* {"device","reason","operation","action"} of the last BLOCK_IO_ERROR not
 * cleared by a resume or a new start, or NULL; borrowed. */
json_t *disks_io_error(const struct disks *d);

#endif

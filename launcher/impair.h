/* impair.h - the supervisor's side of traffic control: the active profile,
 * its links, and the `tc` control requests.
 *
 * Translates the topology for tc/ (profile keys into targets, the VMs'
 * NICs and taps into plain lists).  The links are the taps of the VMs
 * whose QEMU runs; a VM that starts gets its NICs' shapes on its new taps,
 * one that stops releases its glue ends' qdiscs.  All netlink work happens inside the
 * fabric's namespace.  Prints nothing: failures come back in e.
 */
#ifndef N3X_IMPAIR_H
#define N3X_IMPAIR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "launcher/control.h"
#include "launcher/fabric.h"
#include "launcher/topology.h"

/* Parse every rule of every profile of t, touching no link; one "PATH:LINE:
 * profile NAME: KEY: message" line per bad rule goes to out, all of them,
 * in file order (the start-up checks' report).  0, or -EINVAL. */
int impair_check(const struct topology *t, FILE *out);

/* Resolve profile (or the fabric's) for every NIC; touches no link.
 * -errno with e set on failure (bad rule, no such profile, netem missing
 * for one of its rules).  t must outlive it. */
int impair_open(const struct topology *t, const char *profile, struct err *e);
void impair_set_fabric(struct fabric *f);
/* keep: the links stay shaped for the next supervisor, and so does the
 * file impair_keep writes. */
void impair_close(bool keep);

/* Keep path (a file in $RUN) saying what the links carry: the active
 * profile and every tc set / tc clear VM since, rewritten whole at each
 * change.  With restore (the fabric was kept from an earlier supervisor),
 * first take over what path says, instead of the profile impair_open
 * resolved: it is what the kept links carry.  1 when it did, 0 (also when
 * there was no file to restore), or -errno with e when the file could not
 * be replayed (the profile impair_open resolved stands). */
int impair_keep(const char *path, bool restore, struct err *e);

/* vm's taps exist: shape them.  0 or -errno with e naming the NIC and rule. */
int impair_vm_up(const struct topo_vm *vm, struct err *e);
/* vm's QEMU was adopted with its taps: read their qdiscs back and compare
 * them with what the profile wants, shaping any that differ.  0 when all
 * were as wanted, the number of links mended (note, size bytes, says what
 * they had), or -errno with e. */
int impair_vm_adopt(const struct topo_vm *vm, char *note, size_t size, struct err *e);
/* vm's QEMU exited: release what carried its traffic. */
void impair_vm_down(const struct topo_vm *vm);

const char *impair_profile(void);
/* Switch every link to profile, as `tc PROFILE` does (all or nothing).
 * 0, or -errno with e set (-ENOENT: no such profile; -ENOTSUP: no fabric). */
int impair_switch(const char *profile, struct err *e);

/* {"cmd":"tc", ...}: "profile":NAME | "status":true | "set":{"key","rule"} |
 * "clear":true with an optional "vm" | "verify":true with an optional
 * "links" list (the plan of launcher/verify.h, as "verify"). */
void impair_request(struct control_client *c, json_t *req);

#endif

/* impair.h - the supervisor's side of traffic control: the active profile,
 * its links, and the `tc` control requests.
 *
 * Translates the topology for tc/ (profile keys into targets, the VMs'
 * NICs and taps into plain lists).  The links are the taps of the VMs
 * whose QEMU runs; a VM that starts gets its NICs' shapes on its new taps,
 * one that stops releases its ifbs.  All netlink work happens inside the
 * fabric's namespace.  Prints nothing: failures come back in e.
 */
#ifndef N3X_IMPAIR_H
#define N3X_IMPAIR_H

#include <jansson.h>
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
void impair_close(void);

/* vm's taps exist: shape them.  0 or -errno with e naming the NIC and rule. */
int impair_vm_up(const struct topo_vm *vm, struct err *e);
/* vm's QEMU exited: release what carried its traffic. */
void impair_vm_down(const struct topo_vm *vm);

const char *impair_profile(void);
/* Switch every link to profile, as `tc PROFILE` does (all or nothing).
 * 0, or -errno with e set (-ENOENT: no such profile; -ENOTSUP: no fabric). */
int impair_switch(const char *profile, struct err *e);

/* {"cmd":"tc", ...}: "profile":NAME | "status":true | "set":{"key","rule"} |
 * "clear":true with an optional "vm". */
void impair_request(struct control_client *c, json_t *req);

#endif

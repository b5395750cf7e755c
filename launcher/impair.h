/* impair.h - the supervisor's side of traffic control: the active profile,
 * its links, and the `tc` control requests.
 *
 * The links are the taps of the VMs whose QEMU runs; a VM that starts gets
 * its NICs' shapes on its new taps, one that stops releases its ifbs.  All
 * netlink work happens inside the fabric's namespace.
 */
#ifndef N3X_IMPAIR_H
#define N3X_IMPAIR_H

#include <jansson.h>

#include "launcher/control.h"
#include "launcher/fabric.h"
#include "launcher/topology.h"

/* Resolve profile (or the fabric's) for every NIC; touches no link.  On
 * failure (bad rule, no such profile, netem missing for one of its rules)
 * prints one line to stderr and returns -errno.  t must outlive it. */
int impair_open(const struct topology *t, const char *profile);
void impair_set_fabric(struct fabric *f);
void impair_close(void);

/* vm's taps exist: shape them.  0 or -errno with one line in why (256). */
int impair_vm_up(const struct topo_vm *vm, char *why);
/* vm's QEMU exited: release what carried its traffic. */
void impair_vm_down(const struct topo_vm *vm);

const char *impair_profile(void);

/* {"cmd":"tc", ...}: "profile":NAME | "status":true | "set":{"key","rule"} |
 * "clear":true with an optional "vm". */
void impair_request(struct control_client *c, json_t *req);

#endif

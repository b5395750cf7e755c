/* tap.h - the tap behind each VM NIC, created by the supervisor in the
 * current network namespace (enter the fabric's first) and handed to QEMU as
 * an fd, so QEMU needs no network privileges.
 *
 * The tap is not persistent: it disappears when the last fd on it closes.
 * The supervisor closes its copy once QEMU holds one, so the tap lives
 * exactly as long as the QEMU process; a restarted VM gets a new tap.
 *
 * QEMU takes the fd as `-netdev tap,id=...,fd=N` with no vnet_hdr= option
 * (QEMU 7.2 rejects vnet_hdr= next to fd=): it reads IFF_VNET_HDR from the
 * fd itself (TUNGETIFF) and sets the header size and offloads it wants
 * (TUNSETVNETHDRSZ, TUNSETOFFLOAD) once virtio-net negotiates them.
 */
#ifndef N3X_TAP_H
#define N3X_TAP_H

#include <stddef.h>
#include <stdint.h>

#define TAP_DEFAULT_MTU 1500

/* A NIC's tap is "VM-nN" (N: the NIC's index), at most TAP_NAME_MAX
 * characters (IFNAMSIZ - 1).  Macros, so the topology parser, which does
 * not link net/, checks names against the same rule. */
#define TAP_NAME_FMT "%s-n%d"
#define TAP_NAME_MAX 15

/* The tap's name into buf; 0, or -ENAMETOOLONG if it does not fit
 * TAP_NAME_MAX or buf. */
int tap_name(const char *vm, int nic, char *buf, size_t size);

/* The veth pair that puts a tap on its switch (see launcher/fabric.c):
 *
 *   VM -> tap ingress --redirect--> GLUE egress (from-vm shape) -> PORT -> switch
 *   switch -> PORT egress (site/partition policy) -> GLUE ingress
 *          --redirect--> tap egress (to-vm shape) -> VM
 *
 * The switch reads PORT, never the tap, so no packet socket (OVS's
 * userspace datapath) and no rx_handler (bridge, OVS kernel datapath) sees a
 * frame from the VM before its from-vm qdiscs did.  The names are the tap's
 * with "_g" (glue end) or "_p" (switch port) appended; "_" never occurs in a
 * VM name, so they cannot collide with a tap.  A tap too long for that keeps
 * its first 9 characters and 4 hex digits of its hash before the suffix.
 * Each writes at most TAP_NAME_MAX characters into buf (size > TAP_NAME_MAX). */
void tap_glue_name(const char *tap, char *buf, size_t size);
void tap_port_name(const char *tap, char *buf, size_t size);

/* Create tap `name` (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR), give it guest_mac with
 * the first octet 0xfe (as libvirt does: the bridge takes the lowest port
 * MAC as its own and must never take a guest's), set mtu (0: 1500) and bring
 * it up.  On success *fd_out is the tap fd, O_CLOEXEC, owned by the caller.
 * -EBUSY if a tap of that name is still held open (a QEMU that outlived us),
 * -EINVAL if the name is a link of another kind, or -errno; on failure
 * nothing is left behind. */
int tap_create(const char *name, const uint8_t guest_mac[6], int mtu, int *fd_out);

#endif

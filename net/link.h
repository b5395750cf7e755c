/* link.h - the fabric's links over rtnetlink: up/down, MAC and MTU, bridge
 * ports, addresses, the alias we tag our bridges with, Linux bridges and their
 * VLANs.
 *
 * Every call works in the calling thread's network namespace at the time of
 * the call: each opens its own netlink socket and closes it before returning,
 * so a caller that netns_enter()s the fabric first gets the fabric's links.
 * Links are named, never cached by index, because an index means nothing in
 * another namespace.  libnl-route-3 does the ordinary link and address work;
 * the bridge attributes libnl has no setter for (STP, VLAN filtering,
 * IFLA_AF_SPEC VLAN entries) go through libmnl.  All calls return 0 or a
 * value, -errno on failure (-ENODEV: no such link).
 */
#ifndef N3X_LINK_H
#define N3X_LINK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINK_ALIAS_MAX 128 /* IFALIASZ is 256; ours are "n3x:" + a fabric name */

/* 1 if a link with that name exists, 0 if not, -errno if we could not ask. */
int link_exists(const char *name);

/* The link's ifindex (> 0), or -ENODEV. */
int link_ifindex(const char *name);

int link_set_up(const char *name);
int link_set_down(const char *name);

/* One RTM_NEWLINK/SETLINK for the lot: mac (6 bytes, NULL = keep), mtu
 * (0 = keep), and IFF_UP when up is true (false leaves the flags alone). */
int link_configure(const char *name, const uint8_t *mac, int mtu, bool up);

/* Delete the link; -ENODEV when there is none.  Deleting a bridge releases
 * its ports; deleting a tap QEMU holds only unregisters it. */
int link_delete(const char *name);

/* Enslave name to the bridge master; master NULL releases it (nomaster). */
int link_set_master(const char *name, const char *master);

/* The master's name into buf (size >= IFNAMSIZ); 0 and "" when there is none. */
int link_get_master(const char *name, char *buf, size_t size);

/* Add addr/prefix (broadcast derived from the prefix, as `ip addr add ...
 * brd +`).  Idempotent: an address that is already there is success. */
int link_addr_add(const char *name, struct in_addr addr, int prefix);

/* IFLA_IFALIAS: our ownership tag "n3x:FABRIC" on bridges we create in the
 * host namespace.  An empty alias clears it.  link_get_alias copies it into
 * buf and returns its length (0: none). */
int link_set_alias(const char *name, const char *alias);
int link_get_alias(const char *name, char *buf, size_t size);

/* Call fn(name, alias, arg) for every link whose alias starts with prefix,
 * from a snapshot taken first (fn may delete links).  A nonzero return from
 * fn stops the walk and is returned; otherwise the number of links visited. */
typedef int link_visit_fn(const char *name, const char *alias, void *arg);
int link_list_by_alias(const char *prefix, link_visit_fn *fn, void *arg);

/* Create the veth pair name <-> peer (NLM_F_EXCL: -EEXIST if either name
 * is taken), both ends with mac (NULL: the kernel's random ones) and mtu
 * (0: the default), and up.  On failure nothing is left. */
int link_veth_create(const char *name, const char *peer, const uint8_t *mac, int mtu);

/* Create a Linux bridge (NLM_F_EXCL: -EEXIST if the name is taken).  With
 * stp the forward delay is the kernel's minimum, 2 s, instead of 15 s: a
 * one-bridge fabric has no loops to find and a booting guest's DHCP should
 * not wait 30 s for its port.  vlan_filtering needs
 * CONFIG_BRIDGE_VLAN_FILTERING: -EOPNOTSUPP without it. */
int link_bridge_create(const char *name, bool stp, bool vlan_filtering);

/* VLANs of a port on a vlan-filtering bridge.  access: vids[0] becomes the
 * port's PVID, untagged both ways (n must be 1).  Otherwise a trunk: every
 * vid tagged, no PVID.  Either way the default VID 1 goes, unless it is one
 * of vids.  When port is the bridge device itself the entries are the
 * bridge's own (`bridge vlan add ... self`), which is what the host interface
 * needs to be on a VLAN.  Adds to what is there; a fresh port has only VID 1.
 * -EINVAL for a vid outside 1-4094, -EOPNOTSUPP without VLAN filtering. */
int link_bridge_vlan(const char *port, const uint16_t *vids, int n, bool access);

#endif

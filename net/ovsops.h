/* ovsops.h - the OVSDB transactions that build and clear a fabric.
 *
 * Pure builders: each returns the array of RFC 7047 operations for one
 * "transact" on the Open_vSwitch database (a new reference; NULL only when
 * out of memory), and does no I/O; ovs.c sends them.  Every row created
 * carries external_ids:n3x-fabric=FABRIC (and n3x-vm=VM on a VM's rows).
 *
 * Concurrency: parents take new rows with "mutate ... insert" (and lose old
 * ones with "mutate ... delete"), never by rewriting the set, and "wait"
 * operations make a transaction fail rather than act on rows that changed
 * since they were read.  Bridge, Port and Interface are not root tables:
 * a row nobody refers to is collected at commit, and a row deleted while
 * still referred to fails the commit; so removal drops the reference and
 * deletes the row in the same transaction.
 */
#ifndef N3X_OVSOPS_H
#define N3X_OVSOPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Which operation failing means what, for the callers' messages. */
enum {
	OVSOPS_BRIDGE_EXISTS = 0,       /* in ovsops_bridge_add */
	OVSOPS_PORT_NO_BRIDGE = 0,      /* in ovsops_port_add */
	OVSOPS_PORT_EXISTS = 1,
};

/* ["map", [["n3x-fabric", fabric], ["n3x-vm", vm]]] (no vm pair when NULL). */
json_t *ovsops_tags(const char *fabric, const char *vm);
/* A where clause matching rows tagged so. */
json_t *ovsops_ours(const char *fabric, const char *vm);
/* A where clause [["name", "==", name]]. */
json_t *ovsops_by_name(const char *name);
/* Whether a row's external_ids (as OVSDB sends them) say n3x-fabric=fabric. */
bool ovsops_is_ours(json_t *row, const char *fabric);
/* The elements of an OVSDB set value as an array (a one-element set comes as
 * the bare atom, an empty one as ["set", []]).  New reference. */
json_t *ovsops_set_elems(json_t *value);

/* select the Open_vSwitch row's datapath_types. */
json_t *ovsops_read_root(void);
/* Insert the Open_vSwitch row unless one appeared meanwhile (ovs-vsctl init). */
json_t *ovsops_init_root(void);

/* Bridge bridge with datapath_type, fail_mode=standalone, stp_enable,
 * other_config:forward-bpdu=true, its own internal port (as ovs-vsctl
 * add-br: the OpenFlow local port has the bridge's name) and the internal
 * port host_if when that is another name; added to Open_vSwitch.bridges.
 * Guarded: fails at OVSOPS_BRIDGE_EXISTS when the bridge exists. */
json_t *ovsops_bridge_add(const char *fabric, const char *datapath, const char *bridge,
			  const char *host_if, bool stp);

/* Port and Interface port (type "": an existing device) on bridge, tag for
 * one VLAN, trunks for more, and a QoS of type linux-noop (OVS then leaves
 * the device's qdiscs alone).  Guarded: fails at OVSOPS_PORT_NO_BRIDGE or
 * OVSOPS_PORT_EXISTS. */
json_t *ovsops_port_add(const char *fabric, const char *bridge, const char *port, const char *vm,
			const uint16_t *vlans, int nvlans);

/* Removal is two transactions: ovsops_del_select() reads the ports matching
 * where (borrowed) and, with bridges, the fabric's bridges; ovsops_del()
 * turns its result into the deletions, guarded by waits that the rows read
 * are still exactly those.  With bridges, everything else tagged for the
 * fabric goes too.  ovsops_del returns NULL when there is nothing to do. */
json_t *ovsops_del_select(const char *fabric, json_t *where, bool bridges);
json_t *ovsops_del(const char *fabric, json_t *where, json_t *selected, bool bridges);

#endif

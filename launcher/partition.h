/* partition.h - what lies between VMs: partitions and the sites' latency
 * matrix, as one per-pair policy on each switch port's egress (tc/pairs.h).
 *
 * Every NIC's switch port P (tap_port_name) sends the switch's frames to
 * the VM, so P's egress sees every frame any other VM sends to this one,
 * broadcasts included.  There, filters on the frame's source MAC drop what
 * comes from the other side of a partition and send what comes from a peer
 * site through that site pair's [latency] shape.  Both directions of a pair
 * are covered because each receiving port filters its own inbound.  The
 * host interface is no VM: leases and DNS keep working on every side.
 *
 * A partition is groups of VMs ("a | b,c": a VM in one group exchanges no
 * frame with a VM of another; a VM in no group keeps every link) or one
 * way ("a -> b": frames from a to b are dropped, b to a pass).  A new
 * partition replaces the one in force.  All netlink work happens inside the
 * fabric's namespace.  Prints nothing: failures come back in e.
 */
#ifndef N3X_PARTITION_H
#define N3X_PARTITION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"
#include "launcher/control.h"
#include "launcher/fabric.h"
#include "launcher/topology.h"

/* Check every [latency] rule of t (tc's rule words, no to-vm:/from-vm:),
 * touching no link; one "PATH:LINE: latency A:B: message" line per bad rule
 * to out.  0, or -EINVAL. */
int partition_check(const struct topology *t, FILE *out);

/* Start with t's sites and no partition; t must outlive it.  -errno with e
 * (a bad rule) on failure. */
int partition_open(const struct topology *t, struct err *e);
void partition_set_fabric(struct fabric *f);
/* keep: the partition stays in force for the next supervisor, and so does
 * the file partition_keep writes. */
void partition_close(bool keep);

/* Keep path (a file in $RUN) saying which partition is in force, rewritten
 * at each change.  With restore (the fabric was kept from an earlier
 * supervisor, whose ports still drop what it partitioned), first take over
 * the partition path names, touching no link: the adopted VMs' ports get
 * it again (partition_vm_up).  1 when it did, 0 (also when there was no
 * file or no partition), or -errno with e when the file names VMs this
 * topology lacks (no partition then). */
int partition_keep(const char *path, bool restore, struct err *e);

/* vm's switch ports exist: give them the policy in force (its site's
 * latency, the partition).  0 or -errno with e naming the port. */
int partition_vm_up(const struct topo_vm *vm, struct err *e);

/* A schedule step's partition: "a | b,c" (groups, '|' between them, ','
 * inside) or "a,b -> c" (one way: frames from a and b to c dropped).  VM
 * names of the topology only.  Replaces the partition in force on every
 * running VM's ports, then emits the "partition" event.  0, -EINVAL (bad
 * spec, e says which word) or -errno with e naming the port that failed;
 * on failure the partition in force before stays. */
int partition_apply_spec(const char *spec, struct err *e);

/* No partition any more (the sites' latency stays); the "heal" event. */
int partition_heal(struct err *e);

/* status's fabric.partition: {"groups":[[..],..]} or {"from":[..],"to":[..]}
 * or null; a new reference. */
json_t *partition_status_json(void);

/* {"cmd":"partition","groups":[["a","b"],["c"]]} or
 * {"cmd":"partition","from":[...],"to":[...]}. */
void partition_request(struct control_client *c, json_t *req);
/* {"cmd":"heal"} */
void partition_heal_request(struct control_client *c, json_t *req);

#endif

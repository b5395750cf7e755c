/* fabric.h - the switch fabric of one topology: its network namespace, the
 * bridges (Open vSwitch or Linux), host interfaces, taps and dnsmasq.
 *
 * Built before any VM starts and torn down after the last one stopped;
 * leftovers of a supervisor that was killed are found by name and tags and
 * cleared first.  Every change to links happens inside the fabric's
 * namespace; QEMU stays outside and gets its taps as fds.
 *
 * The fabric prints nothing: a verb that fails fills its struct err, and
 * what happens on its own (leftovers removed, dnsmasq restarted, a port that
 * failed later, "NAME ready") goes to the owner's log hook.
 */
#ifndef N3X_FABRIC_H
#define N3X_FABRIC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"
#include "launcher/topology.h"
#include "net/dnsmasq.h"

struct fabric;

struct fabric_hooks {
	/* dnsmasq's lease file changed (from the loop). */
	void (*lease)(void *opaque);
	/* One line for the log, no newline ("removed namespace n3x-x left by an
	 * earlier run"); from the fabric's verbs and from the loop. */
	void (*log)(void *opaque, const char *line);
	/* Routine news for the log ("ready"), which --quiet leaves out; NULL:
	 * through log. */
	void (*info)(void *opaque, const char *line);
	/* A daemon of the fabric ("dnsmasq") died and runs again; reason is
	 * how it ended ("killed by signal 9").  From the loop. */
	void (*restarted)(void *opaque, const char *daemon, const char *reason);
	void *opaque;
};

/* Checks that need the host, before anything is created: with netns=host,
 * a bridge or host interface that exists and is not ours.  Prints one
 * "FILE:LINE: ..." line per problem; returns how many. */
int fabric_check(const struct topology *t, FILE *err);

/* Print what fabric_open and the VMs' starts would create, for --check:
 * namespace, bridges, host interfaces, taps and ports (of the VMs in only,
 * a comma-separated list, or all when NULL), dnsmasq. */
void fabric_print_plan(const struct topology *t, const char *only, FILE *out);

/* Build the fabric (clearing leftovers first); hooks (copied, may be NULL)
 * get its lease changes and log lines.  0 and *out, or -errno with the
 * reason in e and nothing left behind. */
int fabric_open(const struct topology *t, const char *run_dir, const char *state_dir,
		const struct fabric_hooks *hooks, struct fabric **out, struct err *e);

/* As fabric_open, for a supervisor that follows one that was killed or
 * left its VMs (--detach-vms, shutdown --keep-vms): when a tap of t's VMs
 * still exists (a QEMU that outlived its supervisor holds it), the fabric
 * is kept as it is: namespace, bridges, host interfaces, Open vSwitch
 * (ovs_adopt), dnsmasq and its leases (restarted only when it is gone or
 * the topology changed what it serves); what is missing is made, and
 * *kept is true.  Otherwise as fabric_open, *kept false.  A failure while
 * keeping leaves the fabric for another try. */
int fabric_adopt(const struct topology *t, const char *run_dir, const char *state_dir,
		 const struct fabric_hooks *hooks, struct fabric **out, bool *kept, struct err *e);

/* Tear everything down; waits (bounded) for the fabric's own children. */
void fabric_close(struct fabric *f);
/* Leave everything as it is for the next supervisor (fabric_adopt): stop
 * watching dnsmasq and OVS, let them run, free f.  NULL is a no-op. */
void fabric_release(struct fabric *f);

/* Make and wire a tap per NIC of vm: fds[i] for NIC i, owned by the caller.
 * 0, or -errno with the reason in e and no fd left open. */
int fabric_attach(struct fabric *f, const struct topo_vm *vm, int *fds, struct err *e);
/* Put link ifname, which exists in the fabric's namespace, on the switch as
 * NIC nic of vm, the way fabric_attach puts each tap it makes: the veth
 * pair, the glue, the port on the bridge (net/tap.h names them after
 * ifname).  For a link that stands in for a tap (a veth whose peer plays
 * the guest, as in the netem VM's fabric tests); name it as the NIC's tap
 * (tap_name) and fabric_detach undoes it.  0, or -errno with e set and
 * nothing left but ifname. */
int fabric_wire_link(struct fabric *f, const struct topo_vm *vm, int nic, const char *ifname,
		     struct err *e);
/* vm's QEMU was adopted: its taps (which QEMU holds) are checked and
 * wired again where they are not (a port lost with OVS, a bridge made
 * anew).  0, or -errno with e naming the tap. */
int fabric_adopt_vm(struct fabric *f, const struct topo_vm *vm, struct err *e);
/* Unwire vm's ports (the taps themselves go with QEMU's fds). */
void fabric_detach(struct fabric *f, const struct topo_vm *vm);

/* Run the calling thread in the fabric's namespace until fabric_leave(saved);
 * both do nothing with netns = host.  0 or -errno. */
int fabric_enter(const struct fabric *f, int *saved);
void fabric_leave(int saved);

/* Whether the fabric's Open vSwitch runs the userspace datapath. */
bool fabric_ovs_userspace(const struct fabric *f);

/* The address dnsmasq leased to mac into ip (INET_ADDRSTRLEN bytes);
 * returns ip, or NULL when mac has no lease. */
const char *fabric_lease(const struct fabric *f, const uint8_t mac[6], char *ip);

/* {"netns":..., "datapath":..., "networks":[...]} for status; a new reference. */
json_t *fabric_status_json(const struct fabric *f);

/* What dnsmasq serves for t: the networks with an address and dhcp= or
 * domain=, and the NICs with ip= on them.  Strings point into t.  0, or
 * -ENOMEM.  c->nnets == 0: nothing needs dnsmasq.  fabric_dnsmasq_free()
 * frees the arrays. */
int fabric_dnsmasq_config(const struct topology *t, const char *state_dir,
			  struct dnsmasq_config *c);
void fabric_dnsmasq_free(struct dnsmasq_config *c);

#endif

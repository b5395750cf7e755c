/* profile.h - impairment profiles across the fabric (SPEC "Impairment rules").
 *
 * A tc_profile remembers, for every NIC of the topology, what it should
 * carry in each direction (the active profile resolved per NIC, plus the
 * one-off `tc set` / `tc clear VM` changes made since) and what its current
 * tap really got from us.  NICs of VMs that are not running keep their
 * shape for when the VM starts: tc_profile_reapply_vm puts it on the new tap.
 *
 * Resolution, per NIC and direction: a "VM/N" rule beats a "VM" rule beats
 * "*".  A rule covers the directions it says something about: words before
 * any prefix cover both, a "to-vm:" part covers traffic to the VM only; a
 * rule with no words at all covers both and leaves them unshaped.  So
 *
 *     *     = rate 100mbit
 *     n1    = to-vm: delay 50ms
 *
 * gives n1 a 50 ms delay towards it and 100 Mbit/s from it.
 *
 * Every change is all-or-nothing over the live links it touches: rules are
 * parsed and netem's presence checked before anything changes; then links
 * are shaped one by one, and if one fails every link already changed is put
 * back to what it had (both directions) and the one error names the VM, the
 * NIC, the direction and the rule.
 *
 * Links: callers pass the links that are live now, as an array the call
 * only borrows; passing every live link each time is fine, calls about one
 * VM pick that VM's out.  Namespaces: the taps are looked up in the calling
 * thread's network namespace, so the caller netns_enter()s the fabric's
 * around each call that takes links.  Not thread-safe; one handle per
 * supervisor.  All calls return 0 or -errno; on failure err holds one line,
 * ready for the control reply.
 */
#ifndef N3X_TC_PROFILE_H
#define N3X_TC_PROFILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tc/tc.h"
#include "launcher/topology.h"

#define TC_PROFILE_DEFAULT "default" /* built in: nothing anywhere */

/* One live link: NIC nic of VM vm, behind tap tap.  Borrowed. */
struct tc_profile_link {
	const char *vm;
	int nic;
	const char *tap;
};

struct tc_profile;

/* Parse every rule of every profile in t; print one "PATH:LINE: profile
 * NAME: KEY: message" line per bad rule to err (stderr when NULL), all of
 * them, in file order.  0, or -EINVAL when any is bad.  Touches no link:
 * for --check and start-up validation. */
int tc_profile_check(const struct topology *t, FILE *err);

/* A handle with profile name (TC_PROFILE_DEFAULT or a [profile NAME] of t)
 * resolved for every NIC, applied nowhere yet: each VM's links get it from
 * tc_profile_reapply_vm once its taps exist.  Fails like tc_profile_switch
 * (bad rule as PATH:LINE, netem missing) with *out NULL.  t is borrowed and
 * must outlive the handle. */
int tc_profile_new(const struct topology *t, const char *name, struct tc_profile **out,
		   char *err, size_t errsize);
void tc_profile_free(struct tc_profile *p);

/* Every netem shape without a seed of its own gets this one, from the next
 * change on (call it before the first reapply to cover everything).  The
 * kernel takes a seed from Linux 6.3; older ones refuse the shape. */
void tc_profile_set_seed(struct tc_profile *p, uint64_t seed);

/* The active profile's name; stays the same across tc set / tc clear VM. */
const char *tc_profile_active(const struct tc_profile *p);

/* Switch every NIC to profile name and shape the live links with it.
 * -ENOENT: no such profile; -EINVAL: a bad rule ("PATH:LINE: profile
 * NAME: KEY: ..."); -EOPNOTSUPP: a rule needs netem and the kernel has none
 * (the message names CONFIG_NET_SCH_NETEM); or the first link's failure,
 * with every link back as it was.  Drops earlier tc set / tc clear VM. */
int tc_profile_switch(struct tc_profile *p, const char *name, const struct tc_profile_link *links,
		      int nlinks, char *err, size_t errsize);

/* `tc set KEY RULE`: the NICs of key ("VM", "VM/N" or "*") carry exactly
 * rule from now on, both directions as the rule says (a direction it does
 * not name becomes unshaped), until the next switch.  -ENOENT for a VM or
 * NIC that is not in the topology. */
int tc_profile_set(struct tc_profile *p, const char *key, const char *rule,
		   const struct tc_profile_link *links, int nlinks, char *err, size_t errsize);

/* `tc clear [VM]`: vm's NICs carry nothing until the next switch; vm NULL
 * is a switch to TC_PROFILE_DEFAULT. */
int tc_profile_clear(struct tc_profile *p, const char *vm, const struct tc_profile_link *links,
		     int nlinks, char *err, size_t errsize);

/* vm has (re)started: put its NICs' shapes on its new taps (links of other
 * VMs are ignored).  The new taps had nothing, so on failure vm's taps and
 * ifbs are cleared again and the error says which NIC and rule failed. */
int tc_profile_reapply_vm(struct tc_profile *p, const char *vm, const struct tc_profile_link *links,
			  int nlinks, char *err, size_t errsize);

/* vm's QEMU has exited and taken its taps (and their qdiscs) along: delete
 * the ifbs that carried its links' traffic.  Its shapes stay remembered for
 * the next start.  Call it for every VM at shutdown too: an ifb outlives
 * its tap (in a fabric namespace it dies with the namespace, with
 * netns=host it would not). */
int tc_profile_release_vm(struct tc_profile *p, const char *vm, const struct tc_profile_link *links,
			  int nlinks, char *err, size_t errsize);

/* {"profile": NAME, "modified": bool (tc set/clear VM since the switch),
 *  "seed": N | [N, ...] | null (the netem seeds in force on live links),
 *  "links": {"VM/N": {"tap": TAP, "rule": {"to_vm": TEXT, "from_vm": TEXT},
 *                     "to_vm": [QDISC...], "from_vm": [QDISC...]}}}
 * with the QDISC lists read from the kernel (tc_link_dump), rule from
 * memory.  A new reference in *out. */
int tc_profile_status(const struct tc_profile *p, const struct tc_profile_link *links, int nlinks,
		      json_t **out);

#endif

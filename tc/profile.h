/* profile.h - impairment profiles across the fabric (SPEC "Impairment rules").
 *
 * Plain parameters: the caller (launcher/impair.c) hands over the profiles
 * as written (each rule with its target already resolved from its key) and
 * the NICs of the topology, in a tc_profile_conf.  A tc_profile remembers,
 * for every one of those NICs, what it should carry in each direction (the
 * active profile resolved per NIC, plus the one-off `tc set` / `tc clear
 * VM` changes made since) and what its current tap really got from us.  NICs of VMs that are not running keep their
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
 * supervisor.  All calls return 0 or -errno; on failure e holds one line,
 * ready for the control reply.
 */
#ifndef N3X_TC_PROFILE_H
#define N3X_TC_PROFILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "tc/tc.h"

#define TC_PROFILE_DEFAULT "default" /* built in: nothing anywhere */

/* Which NICs a rule is about: every NIC (vm NULL, the key "*"), every NIC
 * of vm (nic < 0, "VM") or NIC nic of vm ("VM/N").  The more specific
 * wins.  Keys are the caller's to parse and check against the topology. */
struct tc_target {
	const char *vm;
	int nic;
};

/* One "KEY = RULE" line of a profile: key as written (for messages), what
 * it resolved to, the rule's text (parsed here) and the line it is on. */
struct tc_profile_rule {
	const char *key;
	struct tc_target target;
	const char *rule;
	int line;
};

struct tc_profile_def {
	const char *name;
	const struct tc_profile_rule *rules;
	int nrules;
};

/* NIC nic of VM vm. */
struct tc_nic {
	const char *vm;
	int nic;
};

/* What a handle is made from; borrowed, and must outlive the handle. */
struct tc_profile_conf {
	const char *path; /* the file the profiles are in: messages say "PATH:LINE: ..." */
	const struct tc_profile_def *profiles;
	int nprofiles;
	const struct tc_nic *nics; /* every NIC of the topology */
	int nnics;
};

/* One live link: NIC nic of VM vm, behind tap tap glued to glue (the
 * veth end whose egress carries traffic from the VM).  Borrowed. */
struct tc_profile_link {
	const char *vm;
	int nic;
	const char *tap;
	const char *glue;
};

struct tc_profile;

/* Parse every rule of every profile in c; report gets one "PATH:LINE:
 * profile NAME: KEY: message" error per bad rule, all of them, in the
 * order of c.  0, or -EINVAL when any is bad.  Touches no link: for
 * --check and start-up validation. */
typedef void tc_profile_report_fn(const struct err *e, void *arg);
int tc_profile_check(const struct tc_profile_conf *c, tc_profile_report_fn *report, void *arg);

/* A handle with profile name (TC_PROFILE_DEFAULT or one of c's) resolved
 * for every NIC, applied nowhere yet: each VM's links get it from
 * tc_profile_reapply_vm once its taps exist.  Fails like tc_profile_switch
 * (bad rule as PATH:LINE, netem missing) with *out NULL. */
int tc_profile_new(const struct tc_profile_conf *c, const char *name, struct tc_profile **out,
		   struct err *e);
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
		      int nlinks, struct err *e);

/* `tc set KEY RULE`: the NICs of to carry exactly rule from now on, both
 * directions as the rule says (a direction it does not name becomes
 * unshaped), until the next switch.  key is how the user wrote to, for
 * messages ("set KEY: ..."). */
int tc_profile_set(struct tc_profile *p, const char *key, const struct tc_target *to, const char *rule,
		   const struct tc_profile_link *links, int nlinks, struct err *e);

/* `tc clear [VM]`: vm's NICs carry nothing until the next switch; vm NULL
 * is a switch to TC_PROFILE_DEFAULT. */
int tc_profile_clear(struct tc_profile *p, const char *vm, const struct tc_profile_link *links,
		     int nlinks, struct err *e);

/* vm has (re)started: put its NICs' shapes on its new taps (links of other
 * VMs are ignored).  The new taps had nothing, so on failure vm's taps and
 * glue ends are cleared again and the error says which NIC and rule failed. */
int tc_profile_reapply_vm(struct tc_profile *p, const char *vm, const struct tc_profile_link *links,
			  int nlinks, struct err *e);

/* vm's QEMU outlived the supervisor that shaped its taps (it was adopted):
 * read each of its links back and compare it with what the NIC should
 * carry; a link that differs is shaped as it should be.  Returns how many
 * links had to be changed, note (size bytes) saying what each had and
 * what it should have, or -errno with e when a link could not be read
 * back or shaped. */
int tc_profile_adopt_vm(struct tc_profile *p, const char *vm, const struct tc_profile_link *links,
			int nlinks, char *note, size_t size, struct err *e);

/* vm's QEMU has exited and taken its taps (and their qdiscs) along: clear
 * the glue ends that carried its links' traffic from the VM.  Its shapes
 * stay remembered for the next start.  Call it for every VM at shutdown
 * too: a glue end outlives its tap. */
int tc_profile_release_vm(struct tc_profile *p, const char *vm, const struct tc_profile_link *links,
			  int nlinks, struct err *e);

/* {"profile": NAME, "modified": bool (tc set/clear VM since the switch),
 *  "seed": N | [N, ...] | null (the netem seeds in force on live links),
 *  "links": {"VM/N": {"tap": TAP, "rule": {"to_vm": TEXT, "from_vm": TEXT},
 *                     "to_vm": [QDISC...], "from_vm": [QDISC...]}}}
 * with the QDISC lists read from the kernel (tc_link_dump), rule from
 * memory.  A new reference in *out. */
int tc_profile_status(const struct tc_profile *p, const struct tc_profile_link *links, int nlinks,
		      json_t **out);

#endif

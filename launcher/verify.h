/* verify.h - the supervisor's half of `n3x-ctl tc verify`: what each link
 * was asked to do, as numbers n3x-ctl can hold its measurements against.
 *
 * The measuring itself (probes, transfers to and from the guest) takes
 * seconds per link, so it is n3x-ctl's, inside the fabric's namespace, as
 * capture is (ctl/verifycmd.c): the supervisor's loop never waits for it.
 * The supervisor answers {"cmd":"tc","verify":true,"links":["a","b/1"]}
 * at once with the plan this module builds from tc status: for each live
 * link asked for, its devices and, per direction, the rule in force parsed
 * by tc/rule.c (n3x-ctl may not link tc/) and what the kernel holds.
 */
#ifndef N3X_VERIFY_H
#define N3X_VERIFY_H

#include <jansson.h>

#include "base/err.h"
#include "launcher/topology.h"

/* The plan for keys (a JSON array of "VM" or "VM/N" strings; NULL or empty:
 * every live link) from status, tc_profile_status's object (borrowed):
 *
 *   {"profile": NAME, "links": [{"link": "VM/N", "vm": VM, "nic": N,
 *     "tap": T, "glue": G, "port": P,
 *     "to_vm":   {"rule": TEXT, "rate_bps": R, "delay_us": D, "jitter_us": J,
 *                 "loss_pct": L, "loss_bursty": B, "delay_judged": B,
 *                 "kernel": [QDISC...]},
 *     "from_vm": {...}}]}
 *
 * in the order of the topology (VM, then NIC).  Numbers are 0 where the
 * rule says nothing; R is the rate full Ethernet frames should cross at
 * (netem's own rate less its overhead), L the mean loss (null for the
 * 4-state model); loss_bursty: the loss comes in bursts (no binomial
 * bounds); delay_judged false: a slot or a pareto distribution moves the
 * median off D.  G and P are the veth pair that joins the tap to its
 * switch (net/tap.h); n3x-ctl checks whether they exist.  A new reference
 * in *out, or -errno with e: -EINVAL a key that is not VM or VM/N, -ENOENT
 * a VM or NIC t does not have (the user's to fix), -ESRCH a VM with no
 * live link (it is not running), -EPROTO a rule that no longer parses. */
int verify_plan(const struct topology *t, const json_t *status, const json_t *keys, json_t **out,
		struct err *e);

#endif

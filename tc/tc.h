/* tc.h - impairment on one link, over rtnetlink (no tc processes).
 *
 * A link is a tap in the fabric namespace.  Its egress carries traffic to
 * the VM; its ingress (traffic from the VM) is redirected by an ingress
 * qdisc + u32 match-all filter + mirred action to an ifb, whose egress is
 * shaped the same way.  On each egress: tbf alone for a rate-only shape,
 * netem (root, handle 1:) with tbf as its child (10:) when delay or loss
 * come with a rate, netem alone otherwise (see tc_egress_apply).  Every
 * call works in the calling thread's namespace.  0 or -errno; on failure
 * e holds one line naming the link and the qdisc or word that failed.
 *
 * Who calls whom, one way: link.c (both directions of a link) uses ifb.c
 * (from the VM) and egress.c (one egress); ifb.c shapes its ifb through
 * egress.c.
 */
#ifndef N3X_TC_H
#define N3X_TC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "tc/rule.h"

/* 1 when the kernel can run netem (sch_netem is built in or loadable), 0 when
 * not, -errno when it could not be asked.  Rules that need netem fail before
 * anything changes on kernels without it, naming CONFIG_NET_SCH_NETEM. */
int tc_netem_available(void);

/* Make ifname's egress carry shape s exactly: an empty shape removes our
 * root qdisc.  Replaces what is there (NLM_F_REPLACE), so a switch between
 * two shapes never leaves the link unshaped in between. */
int tc_egress_apply(const char *ifname, const struct tc_shape *s, struct err *e);

/* What ifname's egress holds, read back as the shape tc_egress_apply
 * would have made of it (limit and burst as the kernel has them, the seed
 * when it dumps one; the distribution is not dumped).  0 and *out; 1 and
 * what could be read when it also holds qdiscs we never make; -ENODEV when
 * there is no such link, or -errno. */
int tc_egress_read(const char *ifname, struct tc_shape *out);

/* What ifname's egress holds, as the QDISC list of tc_link_dump; a new
 * reference in *out.  -ENODEV when there is no such link. */
int tc_egress_dump(const char *ifname, json_t **out);

/* The name of the ifb that carries ifname's ingress ("ifb" + ifname, cut
 * to IFNAMSIZ). */
void tc_ifb_name(const char *ifname, char *buf, size_t size);

/* Shape traffic from the VM: make the ifb (if missing), redirect ifname's
 * ingress to it and apply s on the ifb's egress.  An empty shape removes the
 * redirect, the ingress qdisc and the ifb. */
int tc_ingress_apply(const char *ifname, const struct tc_shape *s, struct err *e);

/* Both directions of link ifname: r->to_vm on its egress, r->from_vm
 * through its ifb.  Clearing the egress of a link that is gone (its QEMU
 * exited) is done, and its ifb, which outlives it, still goes.  *dir says
 * which direction failed: 0 to the VM, 1 from it. */
int tc_link_apply(const char *ifname, const struct tc_rule *r, int *dir, struct err *e);

/* Both directions of link ifname read back (tc_egress_read; no ifb: nothing
 * from the VM).  0, 1 (something we never make is there too) or -errno. */
int tc_link_read(const char *ifname, struct tc_rule *out);

/* Read back from the kernel what ifname holds, per direction:
 * {"to_vm": [QDISC...], "from_vm": [QDISC...]} where QDISC is
 * {"kind":"netem"|"tbf"|..., "handle":"1:", "parent":"root",
 *  "params":{...as tc prints them, e.g. "delay_us", "rate_bps", "loss_pct", "seed"},
 *  "stats":{"bytes","packets","drops","overlimits","backlog_bytes","backlog_packets"}}.
 * A new reference in *out. */
int tc_link_dump(const char *ifname, json_t **out);

#endif

/* tc.h - impairment on one link, over rtnetlink (no tc processes).
 *
 * A link is a tap in the fabric namespace glued to one end of a veth pair
 * whose other end is the switch port (tc_glue_set).  The tap's egress
 * carries traffic to the VM; the glue end's egress, traffic from it.  On
 * each egress: tbf alone for a rate-only shape,
 * netem (root, handle 1:) with tbf as its child (10:) when delay or loss
 * come with a rate, netem alone otherwise (see tc_egress_apply).  Every
 * call works in the calling thread's namespace.  0 or -errno; on failure
 * e holds one line naming the link and the qdisc or word that failed.
 *
 * Who calls whom, one way: link.c (both directions of a link) uses
 * egress.c (one egress); glue.c only redirects.
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

/* Glue tap to glue, one end of the veth pair whose other end is its switch
 * port: tap's ingress is redirected to glue's egress and glue's ingress to
 * tap's egress, each by an ingress qdisc + u32 match-all filter + mirred
 * action.  Idempotent: a glue already there is replaced in place, with no
 * moment without it.  The redirects go with their links. */
int tc_glue_set(const char *tap, const char *glue, struct err *e);

/* Both directions of a link: r->to_vm on tap's egress, r->from_vm on
 * glue's.  Clearing a link whose devices are gone (its QEMU exited, its
 * veth was deleted) is done.  *dir says which direction failed: 0 to the
 * VM, 1 from it. */
int tc_link_apply(const char *tap, const char *glue, const struct tc_rule *r, int *dir,
		  struct err *e);

/* Both directions of a link read back (tc_egress_read; no glue end:
 * nothing from the VM).  0, 1 (something we never make is there too) or
 * -errno. */
int tc_link_read(const char *tap, const char *glue, struct tc_rule *out);

/* Read back from the kernel what a link holds, per direction:
 * {"to_vm": [QDISC...], "from_vm": [QDISC...]} where QDISC is
 * {"kind":"netem"|"tbf"|..., "handle":"1:", "parent":"root",
 *  "params":{...as tc prints them, e.g. "delay_us", "rate_bps", "loss_pct", "seed"},
 *  "stats":{"bytes","packets","drops","overlimits","backlog_bytes","backlog_packets"}}.
 * A new reference in *out. */
int tc_link_dump(const char *tap, const char *glue, json_t **out);

#endif

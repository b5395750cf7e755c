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

/* ---- pairs.c: what lies between VMs, on a switch port's egress ----
 *
 * A switch port (the veth end the switch owns, see net/tap.h) sends the
 * switch's frames towards one VM; everything another VM sends to that VM,
 * broadcasts included, leaves through it.  Its egress gets a policy keyed
 * on the frame's source MAC: frames from `drop` MACs are dropped (a
 * partition), frames from a band's MACs go through that band's shape (a
 * site pair's latency), the rest pass untouched.  Unlike the profile's
 * to-vm/from-vm shapes, which belong to one link, this is per pair.
 *
 * The tree (handles fixed, so a later call finds it again):
 *
 *     htb 5: root, default 0 (unclassified frames: htb's direct queue, no shaping)
 *       class 5:1      leaf pfifo 6: limit 0     every frame sent here is dropped
 *       class 5:1XX    leaf the band's shape     XX: the band's id (hex)
 *     u32 filters at 5: pref 1:
 *       800::800  match all, link to table 1: or 2:
 *       1: (or 2:) one node per MAC: ether src MAC, classid 5:1 or 5:1XX
 *
 * The kernel here has no gact (drop action) and no prio, hence htb and a
 * class that drops.  A new policy is built in the table not in use, then
 * the match-all node is pointed at it in one change and the old table goes:
 * each port switches from one policy to the next in one step, and no frame
 * crosses a partition on the way.  An empty policy removes the tree. */

#define TC_PAIRS_MAX_BAND 0xff

struct tc_pairs_band {
	unsigned int id;             /* 0..TC_PAIRS_MAX_BAND, unique on the port; keep it
				      * stable across calls (a site's number) */
	struct tc_shape shape;       /* not empty */
	const uint8_t (*macs)[6];    /* frames from these source MACs */
	size_t nmacs;
};

struct tc_pairs_port {
	const char *ifname;          /* the switch port, in the caller's namespace */
	const uint8_t (*drop)[6];    /* frames from these source MACs are dropped */
	size_t ndrop;
	const struct tc_pairs_band *bands;
	size_t nbands;
};

/* Give each of ports[0..n) its policy, replacing whatever policy it had.
 * All ports are built before any switches: when building fails on one, no
 * port switches (a band's shape may already have changed in place).  0, or
 * -errno with e naming the port and what failed ("n1-n0_p: u32 node for
 * 52:54:00:..: ..."); -ENODEV when a port does not exist. */
int tc_pairs_apply(const struct tc_pairs_port *ports, size_t n, struct err *e);

/* Remove the policy from ifname (nothing when it has none); 0 or -errno. */
int tc_pairs_clear(const char *ifname, struct err *e);


#endif

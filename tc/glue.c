/* glue.c - a tap glued to the veth end that leads to its switch (see tc.h).
 *
 * A qdisc only shapes what a device sends, and traffic from the VM is what
 * the tap receives; and a switch that reads the tap itself (a packet socket:
 * OVS's userspace datapath) sees each frame before any tc ingress hook could
 * redirect it.  So the tap is no switch port: its ingress gets an ingress
 * qdisc (ffff:) with one u32 match-all filter whose mirred action redirects
 * every packet to the egress of the glue end of a veth pair, whose other end
 * is the switch port; and the glue end's ingress is redirected to the tap's
 * egress the same way.  The glue end's egress carries the from-vm shape, the
 * tap's egress the to-vm shape.  Each redirect is exactly
 *
 *     tc qdisc add dev FROM handle ffff: ingress
 *     tc filter add dev FROM parent ffff: protocol all pref 1 handle 800::800 \
 *         u32 match u32 0 0 action mirred egress redirect dev TO
 *
 * libnl-route-3 encodes all of it (rtnl_cls u32 + rtnl_act mirred): compared
 * with strace, the filter request carries the same attributes with the same
 * bytes as iproute2's, except that libnl puts TCA_U32_SEL before
 * TCA_U32_ACT and flags its nests NLA_F_NESTED, both of which the kernel
 * reads alike; the test compares the kernel's readback of the two.
 */
#include "tc/tc.h"
#include "base/nlerr.h"
#include "tc/nl.h"

#include <errno.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/action.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>

#define INGRESS_HANDLE TC_H_MAKE(TC_H_INGRESS, 0) /* ffff: */
/* A fixed priority and handle (800::800, the first node of u32's root
 * table): adding the filter again replaces it instead of stacking a second
 * match-all whose action would never run. */
#define REDIRECT_PRIO 1
#define U32_HTID 0x800
#define U32_NODE 0x800

/* A fresh socket per call: a netlink socket stays in the namespace it was
 * made in, and callers move between namespaces. */
static int sock_open(struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err;

	if (!sk)
		return -ENOMEM;
	if ((err = nl_connect(sk, NETLINK_ROUTE)) < 0) {
		nl_socket_free(sk);
		return nlerr_errno(err);
	}
	*out = sk;
	return 0;
}

/* RTM_GETLINK by name; -ENODEV when there is none. */
static int get_link(struct nl_sock *sk, const char *name, struct rtnl_link **out)
{
	int err;

	if (!name[0] || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	err = rtnl_link_get_kernel(sk, 0, name, out);
	if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
		return -ENODEV;
	return nlerr_errno(err);
}

/* The ingress qdisc (ffff:).  add: NLM_F_CREATE without NLM_F_EXCL, so one
 * already there is kept with its filters. */
static int ingress_qdisc(struct nl_sock *sk, int ifindex, bool add)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	int err;

	if (!q)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_INGRESS);
	if (add) {
		rtnl_tc_set_handle(TC_CAST(q), INGRESS_HANDLE);
		rtnl_tc_set_kind(TC_CAST(q), "ingress");
		err = nlerr_errno(rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_REPLACE));
	} else {
		/* No handle: with none the kernel says ENOENT for a missing
		 * ingress qdisc; with ffff: it says EINVAL ("Invalid handle")
		 * once one has been deleted, which we could not tell apart. */
		err = nlerr_errno(rtnl_qdisc_delete(sk, q));
		if (err == -ENOENT)
			err = 0;
	}
	rtnl_qdisc_put(q);
	return err;
}

/* The u32 match-all filter redirecting everything to to_index's egress.
 * NLM_F_CREATE alone, as `tc filter replace` sends it: the kernel changes
 * the filter in place when 800::800 exists. */
static int redirect_add(struct nl_sock *sk, int ifindex, int to_index)
{
	struct rtnl_cls *cls = rtnl_cls_alloc();
	struct rtnl_act *act = rtnl_act_alloc();
	int err = -ENOMEM;

	if (!cls || !act)
		goto out;
	rtnl_tc_set_ifindex(TC_CAST(cls), ifindex);
	rtnl_tc_set_parent(TC_CAST(cls), INGRESS_HANDLE);
	rtnl_tc_set_kind(TC_CAST(cls), "u32");
	rtnl_cls_set_prio(cls, REDIRECT_PRIO);
	rtnl_cls_set_protocol(cls, ETH_P_ALL);
	rtnl_u32_set_handle(cls, U32_HTID, 0, U32_NODE);

	rtnl_tc_set_kind(TC_CAST(act), "mirred");
	rtnl_mirred_set_action(act, TCA_EGRESS_REDIR);
	rtnl_mirred_set_policy(act, TC_ACT_STOLEN);
	rtnl_mirred_set_ifindex(act, to_index);

	if ((err = nlerr_errno(rtnl_u32_add_key_uint32(cls, 0, 0, 0, 0))) ||
	    (err = nlerr_errno(rtnl_u32_set_cls_terminal(cls))) ||
	    (err = nlerr_errno(rtnl_u32_add_action(cls, act))))
		goto out;
	err = nlerr_errno(rtnl_cls_add(sk, cls, NLM_F_CREATE));
out:
	if (act)
		rtnl_act_put(act); /* the classifier holds its own reference */
	if (cls)
		rtnl_cls_put(cls);
	return err;
}

/* from's ingress redirected to to's egress. */
static int redirect(struct nl_sock *sk, const char *from, int from_index, const char *to, int to_index,
		    struct err *e)
{
	int r;

	if ((r = ingress_qdisc(sk, from_index, true)))
		return err_sys(e, -r, "%s: ingress qdisc", from);
	if ((r = redirect_add(sk, from_index, to_index)))
		return err_sys(e, -r, "%s: u32 filter with mirred redirect to %s", from, to);
	return 0;
}

static int ifindex(struct nl_sock *sk, const char *name, struct err *e)
{
	struct rtnl_link *link;
	int r = get_link(sk, name, &link);

	if (r == -ENODEV)
		return err_set(e, ENODEV, "%s: no such link", name);
	if (r)
		return err_sys(e, -r, "%s", name);
	r = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	return r;
}

int tc_glue_set(const char *tap, const char *glue, struct err *e)
{
	struct nl_sock *sk = NULL;
	int r, ti, gi;

	if ((r = sock_open(&sk)))
		return err_sys(e, -r, "%s: netlink", tap);
	if ((ti = r = ifindex(sk, tap, e)) >= 0 && (gi = r = ifindex(sk, glue, e)) >= 0 &&
	    (r = redirect(sk, tap, ti, glue, gi, e)) == 0)
		r = redirect(sk, glue, gi, tap, ti, e);
	nl_socket_free(sk);
	return r < 0 ? r : 0;
}

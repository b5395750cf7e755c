/* ifb.c - shaping traffic from the VM (see tc.h).
 *
 * A qdisc only shapes what a device sends, and traffic from the VM is what
 * the tap receives.  So the tap's ingress gets an ingress qdisc (ffff:) with
 * one u32 match-all filter whose mirred action redirects every packet to the
 * egress of an ifb, and the ifb's egress carries the shape, exactly as
 *
 *     tc qdisc add dev TAP handle ffff: ingress
 *     tc filter add dev TAP parent ffff: protocol all pref 1 handle 800::800 \
 *         u32 match u32 0 0 action mirred egress redirect dev IFB
 *
 * libnl-route-3 encodes all of it (rtnl_cls u32 + rtnl_act mirred): compared
 * with strace, the filter request carries the same attributes with the same
 * bytes as iproute2's, except that libnl puts TCA_U32_SEL before
 * TCA_U32_ACT and flags its nests NLA_F_NESTED, both of which the kernel
 * reads alike; the test compares the kernel's readback of the two.
 *
 * Each ifb carries the alias "n3x-ifb:TAP", so one whose name was taken by
 * something else is refused instead of silently shared, and every ifb we
 * made can be found again (link_list_by_alias) after a crash.
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

#define IFB_ALIAS_PREFIX "n3x-ifb:"
#define INGRESS_HANDLE TC_H_MAKE(TC_H_INGRESS, 0) /* ffff: */
/* A fixed priority and handle (800::800, the first node of u32's root
 * table): adding the filter again replaces it instead of stacking a second
 * match-all whose action would never run. */
#define REDIRECT_PRIO 1
#define U32_HTID 0x800
#define U32_NODE 0x800

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* "ifb" + ifname when that fits IFNAMSIZ.  A longer ifname (a 12-character
 * VM's "VM-n10") cut short would collide with its neighbours ("VM-n1"), so
 * it becomes "ifb" + its first 8 characters + 4 hex digits of its hash. */
void tc_ifb_name(const char *ifname, char *buf, size_t size)
{
	char name[IFNAMSIZ];

	if (strlen(ifname) + 3 < IFNAMSIZ)
		snprintf(name, sizeof(name), "ifb%s", ifname);
	else
		snprintf(name, sizeof(name), "ifb%.8s%04x", ifname, fnv1a(ifname) & 0xffff);
	snprintf(buf, size, "%s", name);
}

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

/* Whether link is tap's ifb: an ifb with our alias, or with none (made by
 * a call that died before it could set the alias). */
static bool ifb_is_ours(struct rtnl_link *link, const char *tap)
{
	const char *kind = rtnl_link_get_type(link), *alias = rtnl_link_get_ifalias(link);
	size_t n = strlen(IFB_ALIAS_PREFIX);

	if (!kind || strcmp(kind, "ifb"))
		return false;
	return !alias || (!strncmp(alias, IFB_ALIAS_PREFIX, n) && !strcmp(alias + n, tap));
}

/* Find or make the ifb for tap, up; its ifindex, or -errno.  *created says
 * whether this call made it (so a failure later can take it away again). */
static int ifb_ensure(struct nl_sock *sk, const char *ifb, const char *tap, bool *created)
{
	char alias[IFNAMSIZ + sizeof(IFB_ALIAS_PREFIX)];
	struct rtnl_link *link = NULL, *ch = NULL;
	int err;

	*created = false;
	snprintf(alias, sizeof(alias), IFB_ALIAS_PREFIX "%s", tap);
	if ((err = get_link(sk, ifb, &link)) == -ENODEV) {
		if (!(ch = rtnl_link_alloc()))
			return -ENOMEM;
		rtnl_link_set_name(ch, ifb);
		rtnl_link_set_type(ch, "ifb");
		rtnl_link_set_flags(ch, IFF_UP);
		err = nlerr_errno(rtnl_link_add(sk, ch, NLM_F_CREATE | NLM_F_EXCL));
		rtnl_link_put(ch);
		ch = NULL;
		if (err)
			return err;
		*created = true;
		if ((err = get_link(sk, ifb, &link)))
			return err;
	} else if (err) {
		return err;
	} else if (!ifb_is_ours(link, tap)) {
		rtnl_link_put(link);
		return -EEXIST; /* someone else's link, or another tap's ifb */
	}
	/* The kernel ignores IFLA_IFALIAS in the request that creates a link,
	 * so the alias (and IFF_UP, for an ifb left down) is a second message. */
	if (!(ch = rtnl_link_alloc())) {
		err = -ENOMEM;
		goto out;
	}
	if (!rtnl_link_get_ifalias(link) || !(rtnl_link_get_flags(link) & IFF_UP)) {
		rtnl_link_set_ifalias(ch, alias);
		rtnl_link_set_flags(ch, IFF_UP);
		if ((err = nlerr_errno(rtnl_link_change(sk, link, ch, 0))))
			goto out;
	}
	err = rtnl_link_get_ifindex(link);
out:
	if (ch)
		rtnl_link_put(ch);
	rtnl_link_put(link);
	if (err < 0 && *created) {
		struct rtnl_link *del = rtnl_link_alloc();

		if (del) {
			rtnl_link_set_name(del, ifb);
			rtnl_link_delete(sk, del);
			rtnl_link_put(del);
		}
		*created = false;
	}
	return err;
}

/* Delete the ifb if it is ours; 0 when there is none. */
static int ifb_delete(struct nl_sock *sk, const char *ifb, const char *tap)
{
	struct rtnl_link *link;
	int err = get_link(sk, ifb, &link);

	if (err == -ENODEV)
		return 0;
	if (err)
		return err;
	if (!ifb_is_ours(link, tap))
		err = -EEXIST;
	else if ((err = nlerr_errno(rtnl_link_delete(sk, link))) == -ENODEV)
		err = 0;
	rtnl_link_put(link);
	return err;
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

/* The u32 match-all filter redirecting everything to the ifb's egress.
 * NLM_F_CREATE alone, as `tc filter replace` sends it: the kernel changes
 * the filter in place when 800::800 exists. */
static int redirect_add(struct nl_sock *sk, int ifindex, int ifb_index)
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
	rtnl_mirred_set_ifindex(act, ifb_index);

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

/* Undo everything: the redirect (with its qdisc), then the ifb.  A tap that
 * is gone (its QEMU exited) took its qdisc along; the ifb is still ours. */
static int ingress_clear(struct nl_sock *sk, const char *ifname, const char *ifb, struct err *e)
{
	struct rtnl_link *tap;
	int r = get_link(sk, ifname, &tap);

	if (!r) {
		r = ingress_qdisc(sk, rtnl_link_get_ifindex(tap), false);
		rtnl_link_put(tap);
		if (r)
			return err_sys(e, -r, "%s: deleting the ingress qdisc", ifname);
	} else if (r != -ENODEV) {
		return err_sys(e, -r, "%s", ifname);
	}
	if ((r = ifb_delete(sk, ifb, ifname)) == -EEXIST)
		return err_set(e, EEXIST, "%s: deleting %s: not an ifb of ours, left alone", ifname, ifb);
	return r ? err_sys(e, -r, "%s: deleting %s", ifname, ifb) : 0;
}

int tc_ingress_apply(const char *ifname, const struct tc_shape *s, struct err *e)
{
	char ifb[IFNAMSIZ];
	struct rtnl_link *tap = NULL;
	struct nl_sock *sk = NULL;
	int r, ifindex, ifb_index;
	bool created = false;

	if (!ifname || !ifname[0] || strlen(ifname) >= IFNAMSIZ)
		return err_set(e, EINVAL, "bad link name \"%s\"", ifname ? ifname : "");
	tc_ifb_name(ifname, ifb, sizeof(ifb));
	if ((r = sock_open(&sk)))
		return err_sys(e, -r, "%s: netlink", ifname);
	if (tc_shape_empty(s)) {
		r = ingress_clear(sk, ifname, ifb, e);
		goto out;
	}
	if ((r = get_link(sk, ifname, &tap))) {
		if (r == -ENODEV)
			err_set(e, ENODEV, "%s: no such link", ifname);
		else
			err_sys(e, -r, "%s", ifname);
		goto out;
	}
	ifindex = rtnl_link_get_ifindex(tap);
	if ((ifb_index = r = ifb_ensure(sk, ifb, ifname, &created)) < 0) {
		if (r == -EEXIST)
			err_set(e, EEXIST, "%s: ifb %s: the name is taken by another link", ifname, ifb);
		else
			err_sys(e, -r, "%s: ifb %s", ifname, ifb);
		goto out;
	}
	/* Shape the ifb before redirecting to it: a new redirect never sends
	 * the VM's traffic through an unshaped ifb, and on a re-apply the
	 * redirect stays put while tc_egress_apply replaces the shape. */
	if ((r = tc_egress_apply(ifb, s, e)))
		goto undo;
	if ((r = ingress_qdisc(sk, ifindex, true))) {
		err_sys(e, -r, "%s: ingress qdisc", ifname);
		goto undo;
	}
	if ((r = redirect_add(sk, ifindex, ifb_index))) {
		err_sys(e, -r, "%s: u32 filter with mirred redirect to %s", ifname, ifb);
		goto undo;
	}
	goto out;
undo:
	/* Only what this call made goes: an ifb that was there before keeps
	 * serving the redirect that was there before. */
	if (created)
		ingress_clear(sk, ifname, ifb, NULL);
out:
	if (tap)
		rtnl_link_put(tap);
	nl_socket_free(sk);
	return r < 0 ? r : 0;
}

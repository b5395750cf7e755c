/* egress.c - one shape on one link's egress, and what the kernel holds.
 *
 * The tree, when a rate comes with delay or loss:
 *
 *     netem 1: (root)  --  1:1  --  tbf 10:
 *
 * Packets are delayed (and dropped, duplicated...) first, then wait in
 * tbf's byte queue for the rate.  The other order, the rate limiter at the
 * root with netem as its child as Mininet's TCLink builds it with htb, has
 * the limiter pull packets from netem, which stamps each packet's send time
 * when it arrives: a packet that waits behind the rate limit spends that
 * wait inside its delay instead of after it, so under load the delay
 * vanishes into the queue (a 20 ms delay plus 30 ms of queue gives 30 ms,
 * not 50).  With netem at the root the two add up, as on a real link whose
 * propagation delay follows its bottleneck.  tbf's limit (bytes) then bounds
 * the bottleneck queue, netem's (packets) only what is in flight.
 *
 * A rate alone is tbf at the root (2:), nothing else alone is netem (1:).
 * Kernels without netem still get rate-only shapes.
 */
#include "tc/tc.h"

#include <errno.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>

#include "tc/nl.h"

#define REPLACE (NLM_F_CREATE | NLM_F_REPLACE)

/* Name the link and the qdisc in e (not NULL), whose message is the
 * kernel's, or "" when it said nothing: then strerror; returns -e->code. */
static int report(struct err *e, const char *ifname, const char *what)
{
	const char *config = !strcmp(what, "netem") ? "CONFIG_NET_SCH_NETEM" :
			     !strcmp(what, "tbf") ? "CONFIG_NET_SCH_TBF" : NULL;
	char why[ERR_MSG_MAX];
	int code = e->code;

	snprintf(why, sizeof(why), "%s", e->msg);
	if (code == ENOENT && config && strstr(why, "qdisc kind is unknown"))
		return err_set(e, code, "%s: %s: %s (the kernel lacks %s)", ifname, what, why, config);
	if (*why)
		return err_set(e, code, "%s: %s: %s", ifname, what, why);
	return err_sys(e, code, "%s: %s", ifname, what);
}

/* Refuse before touching anything what this kernel cannot do. */
static int check_kernel(const char *ifname, const struct tc_shape *s, struct err *e)
{
	bool seed = false;
	int r = tc_netem_caps(&seed);

	if (r < 0)
		return err_sys(e, -r, "%s: netem: cannot ask the kernel whether it has netem", ifname);
	if (!r)
		return err_set(e, EOPNOTSUPP, "%s: %s needs netem: Specified qdisc kind is unknown (the "
			       "kernel lacks CONFIG_NET_SCH_NETEM; rate alone works, with tbf)",
			       ifname, tc_shape_netem_word(s));
	if (s->has_seed && !seed)
		return err_set(e, EOPNOTSUPP, "%s: seed needs Linux 6.3 or later (TCA_NETEM_PRNG_SEED); "
			       "this kernel would ignore it", ifname);
	return 0;
}

static int send_msg(struct mnl_socket *nl, struct tc_msg *m, const char *ifname,
		    const char *what, struct err *e)
{
	int r = tc_nl_talk(nl, m->nlh, NULL, NULL, e);

	tc_msg_free(m);
	return r ? report(e, ifname, what) : 0;
}

static int apply(struct mnl_socket *nl, const char *ifname, int idx, const struct tc_shape *s,
		 struct err *e)
{
	char kind[16] = "";
	bool netem_root, ours;
	uint32_t handle = 0;
	struct tc_msg m;
	int r;

	r = tc_nl_get(nl, idx, TC_H_ROOT, kind, &handle);
	if (r && r != -ENOENT)
		return err_sys(e, -r, "%s: root qdisc", ifname);
	netem_root = !strcmp(kind, "netem") && handle == TC_NETEM_HANDLE;
	ours = netem_root || (!strcmp(kind, "tbf") && handle == TC_TBF_HANDLE);

	if (tc_shape_empty(s)) {
		/* Deleting the root brings back the kernel's default qdisc. */
		if (!ours)
			return 0;
		r = tc_nl_del(nl, idx, TC_H_ROOT, 0, e);
		return r && r != -ENOENT ? report(e, ifname, kind) : 0;
	}
	if (!tc_shape_needs_netem(s)) {
		if (tc_tbf_build(&m, idx, TC_H_ROOT, TC_TBF_HANDLE, s, false, REPLACE, e))
			return report(e, ifname, "tbf");
		return send_msg(nl, &m, ifname, "tbf", e);
	}
	/* netem changes in place when it is already there (keeping what it
	 * holds in flight), otherwise it replaces the root in one graft. */
	if (tc_netem_build(&m, idx, s, REPLACE, netem_root, e))
		return report(e, ifname, "netem");
	if ((r = send_msg(nl, &m, ifname, "netem", e)))
		return r;
	if (s->rate_bps) {
		if (tc_tbf_build(&m, idx, TC_NETEM_CLASS, TC_TBF_CHILD, s, true, REPLACE, e))
			return report(e, ifname, "tbf");
		return send_msg(nl, &m, ifname, "tbf", e);
	}
	if (netem_root) {
		/* A rate that was there before goes; netem queues by itself. */
		r = tc_nl_del(nl, idx, TC_NETEM_CLASS, 0, e);
		if (r && r != -ENOENT)
			return report(e, ifname, "tbf");
	}
	return 0;
}

int tc_egress_apply(const char *ifname, const struct tc_shape *s, struct err *e)
{
	struct mnl_socket *nl = NULL;
	int idx = (int)if_nametoindex(ifname), r;
	struct err mine;

	if (!e)
		e = &mine; /* report() reads the kernel's message back from it */

	if (!idx)
		return err_set(e, ENODEV, "%s: no such link", ifname);
	if (tc_shape_needs_netem(s) && (r = check_kernel(ifname, s, e)))
		return r;
	r = tc_nl_open(&nl);
	if (r)
		return err_sys(e, -r, "%s: rtnetlink", ifname);
	r = apply(nl, ifname, idx, s, e);
	tc_nl_close(nl);
	return r;
}

static json_t *params(const char *kind, const struct tc_shape *s)
{
	if (!strcmp(kind, "netem"))
		return tc_netem_params(s);
	if (!strcmp(kind, "tbf"))
		return tc_tbf_params(s);
	return json_object();
}

static void handle_str(uint32_t h, char *buf, size_t size)
{
	if (h == TC_H_ROOT)
		snprintf(buf, size, "root");
	else if (TC_H_MIN(h))
		snprintf(buf, size, "%x:%x", TC_H_MAJ(h) >> 16, TC_H_MIN(h));
	else
		snprintf(buf, size, "%x:", TC_H_MAJ(h) >> 16);
}

static void add_qdisc(struct rtnl_qdisc *q, const struct nlattr *opts, void *arg)
{
	struct rtnl_tc *tc = TC_CAST(q);
	const char *kind = rtnl_tc_get_kind(tc) ?: "";
	uint32_t handle = rtnl_tc_get_handle(tc);
	struct tc_shape s = { 0 };
	char h[16], parent[16], text[512];
	json_t *stats;

	/* Handle 0: the kernel's own default (noqueue, pfifo_fast, mq...);
	 * ingress and clsact carry the redirect, not a shape. */
	if (!handle || !strcmp(kind, "ingress") || !strcmp(kind, "clsact"))
		return;
	if (!strcmp(kind, "netem"))
		tc_netem_read(q, opts, &s);
	else if (!strcmp(kind, "tbf"))
		tc_tbf_read(q, opts, &s);
	handle_str(handle, h, sizeof(h));
	handle_str(rtnl_tc_get_parent(tc), parent, sizeof(parent));
	stats = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}",
			  "bytes", (json_int_t)rtnl_tc_get_stat(tc, RTNL_TC_BYTES),
			  "packets", (json_int_t)rtnl_tc_get_stat(tc, RTNL_TC_PACKETS),
			  "drops", (json_int_t)rtnl_tc_get_stat(tc, RTNL_TC_DROPS),
			  "overlimits", (json_int_t)rtnl_tc_get_stat(tc, RTNL_TC_OVERLIMITS),
			  "backlog_bytes", (json_int_t)rtnl_tc_get_stat(tc, RTNL_TC_BACKLOG),
			  "backlog_packets", (json_int_t)rtnl_tc_get_stat(tc, RTNL_TC_QLEN));
	json_array_append_new(arg, json_pack("{s:s,s:s,s:s,s:o,s:s,s:o}", "kind", kind,
					     "handle", h, "parent", parent,
					     "params", params(kind, &s),
					     "text", tc_shape_format(&s, text, sizeof(text)),
					     "stats", stats));
}

/* What tc_egress_read gathers: the tree egress.c builds, merged into one
 * shape, and whether anything else is there. */
struct readback {
	struct tc_shape s;
	bool netem, tbf, other;
	uint32_t tbf_limit;
};

static void read_qdisc(struct rtnl_qdisc *q, const struct nlattr *opts, void *arg)
{
	struct readback *rb = arg;
	struct rtnl_tc *tc = TC_CAST(q);
	const char *kind = rtnl_tc_get_kind(tc) ?: "";
	struct tc_shape s = { 0 };

	if (!rtnl_tc_get_handle(tc) || !strcmp(kind, "ingress") || !strcmp(kind, "clsact"))
		return;
	if (!strcmp(kind, "netem") && !rb->netem) {
		tc_netem_read(q, opts, &s);
		s.rate_bps = rb->s.rate_bps; /* a tbf child read first */
		s.burst_bytes = rb->s.burst_bytes;
		rb->s = s;
		rb->netem = true;
	} else if (!strcmp(kind, "tbf") && !rb->tbf) {
		tc_tbf_read(q, opts, &s);
		rb->s.rate_bps = s.rate_bps;
		rb->s.burst_bytes = s.burst_bytes;
		rb->tbf_limit = s.limit;
		rb->tbf = true;
	} else {
		rb->other = true;
	}
}

int tc_egress_read(const char *ifname, struct tc_shape *out)
{
	int idx = (int)if_nametoindex(ifname), r;
	struct readback rb = { 0 };

	if (!idx)
		return -ENODEV;
	if ((r = tc_nl_dump(idx, read_qdisc, &rb)) < 0)
		return r;
	/* tbf's limit is the shape's only when tbf is alone (see tc_shape). */
	if (rb.tbf && !rb.netem)
		rb.s.limit = rb.tbf_limit;
	*out = rb.s;
	return rb.other;
}

int tc_egress_dump(const char *ifname, json_t **out)
{
	int idx = (int)if_nametoindex(ifname), r;

	if (!idx)
		return -ENODEV;
	if (!(*out = json_array()))
		return -ENOMEM;
	if ((r = tc_nl_dump(idx, add_qdisc, *out)) < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return r;
}

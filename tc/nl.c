/* nl.c - the netlink plumbing shared by the qdisc kinds (see nl.h). */
#include "tc/nl.h"
#include "base/nlerr.h"

#include <errno.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>

void tc_msg_free(struct tc_msg *m)
{
	free(m->nlh);
	m->nlh = NULL;
	m->cap = 0;
}

/* libnl's netem encoder (lib/route/qdisc/netem.c, netem_msg_fill_raw, 3.7
 * and still in 2024) stretches TCA_OPTIONS over the attributes after it,
 * as netem needs, and then adds their size to nlmsg_len a second time: the
 * message claims bytes past its end (8 KB past, with a distribution
 * table).  TCA_OPTIONS is the last attribute libnl writes for a qdisc, so
 * the message really ends where it ends; anything after is not ours. */
static size_t real_len(const struct nlmsghdr *h)
{
	size_t off = NLMSG_LENGTH(sizeof(struct tcmsg));

	while (off + NLA_HDRLEN <= h->nlmsg_len) {
		const struct nlattr *a = (const void *)((const char *)h + off);

		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > h->nlmsg_len)
			break;
		off += NLA_ALIGN(a->nla_len);
		if ((a->nla_type & NLA_TYPE_MASK) == TCA_OPTIONS)
			return off < h->nlmsg_len ? off : h->nlmsg_len;
	}
	return h->nlmsg_len;
}

int tc_msg_qdisc(struct tc_msg *m, struct rtnl_qdisc *q, int type, int flags, size_t room)
{
	struct nl_msg *msg = NULL;
	struct nlmsghdr *h;
	size_t len;
	int err;

	m->nlh = NULL;
	m->cap = 0;
	if (type == RTM_DELQDISC)
		err = rtnl_qdisc_build_delete_request(q, &msg);
	else
		err = rtnl_qdisc_build_add_request(q, flags, &msg);
	if (err < 0)
		return nlerr_errno(err);
	h = nlmsg_hdr(msg);
	len = real_len(h);
	m->cap = NLMSG_ALIGN(len) + room;
	m->nlh = calloc(1, m->cap);
	if (!m->nlh) {
		nlmsg_free(msg);
		m->cap = 0;
		return -ENOMEM;
	}
	memcpy(m->nlh, h, len);
	m->nlh->nlmsg_len = (uint32_t)len;
	/* What nl_send_auto would add: we send it ourselves (nl.h). */
	m->nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlmsg_free(msg);
	return 0;
}

struct nlattr *tc_msg_attr(const struct nlmsghdr *nlh, uint16_t type)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct tcmsg))
		if (mnl_attr_get_type(a) == type)
			return (struct nlattr *)a;
	return NULL;
}

int tc_msg_put(struct tc_msg *m, uint16_t type, size_t len, const void *data)
{
	return mnl_attr_put_check(m->nlh, m->cap, type, len, data) ? 0 : -EMSGSIZE;
}

void tc_msg_extend(struct tc_msg *m, struct nlattr *opts)
{
	opts->nla_len = (uint16_t)((char *)mnl_nlmsg_get_payload_tail(m->nlh) - (char *)opts);
}

/* tc rounds with rint(); libm is not linked, and adding then removing 2^52
 * rounds a value below 2^52 the same way (to nearest, ties to even). */
uint32_t tc_percent_u32(double pct)
{
	double x = pct / 100. * UINT32_MAX;

	if (x <= 0)
		return 0;
	if (x >= UINT32_MAX)
		return UINT32_MAX;
	x = (x + 0x1p52) - 0x1p52;
	return (uint32_t)x;
}

/* Back to percent, to six significant digits as tc prints it (%g). */
double tc_u32_percent(uint32_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%g", v * 100. / UINT32_MAX);
	return strtod(buf, NULL);
}

int tc_nl_open(struct mnl_socket **out)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	int one = 1, err;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	/* The kernel's reason in words, and acks without our request echoed
	 * back (a netem request with its table is 8 KB). */
	if (mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one)) < 0 ||
	    mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one)) < 0)
		goto fail;
	*out = nl;
	return 0;
fail:
	err = -errno;
	mnl_socket_close(nl);
	return err;
}

void tc_nl_close(struct mnl_socket *nl)
{
	if (nl)
		mnl_socket_close(nl);
}

void tc_nl_extack(const struct nlmsghdr *h, char *why, size_t whysize)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
	size_t off = sizeof(*e);
	const struct nlattr *a;
	const char *end = (const char *)h + h->nlmsg_len;

	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	for (a = (const void *)((const char *)e + NLMSG_ALIGN(off));
	     (const char *)a + NLA_HDRLEN <= end && mnl_attr_ok(a, (int)(end - (const char *)a));
	     a = mnl_attr_next(a))
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG && whysize) {
			snprintf(why, whysize, "%.*s", (int)mnl_attr_get_payload_len(a),
				 (const char *)mnl_attr_get_payload(a));
			/* The kernel's messages end with a NUL; drop a trailing dot. */
			why[strcspn(why, "\n")] = '\0';
			if (*why && why[strlen(why) - 1] == '.')
				why[strlen(why) - 1] = '\0';
		}
}

/* The exchange; why gets the kernel's message when it sent one. */
static int talk(struct mnl_socket *nl, struct nlmsghdr *nlh, tc_nl_reply_fn *fn, void *arg,
		char *why, size_t whysize)
{
	static uint32_t seq;
	uint32_t portid = mnl_socket_get_portid(nl);
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));

	nlh->nlmsg_seq = ++seq;
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		int len = (int)n;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (const struct nlmsghdr *h = (const void *)buf; mnl_nlmsg_ok(h, len);
		     h = mnl_nlmsg_next(h, &len)) {
			if (h->nlmsg_seq != nlh->nlmsg_seq || (h->nlmsg_pid && h->nlmsg_pid != portid))
				continue; /* a late answer to an earlier request */
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);

				if (e->error)
					tc_nl_extack(h, why, whysize);
				return e->error;
			}
			if (fn)
				fn(h, arg);
		}
	}
}

int tc_nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, tc_nl_reply_fn *fn, void *arg,
	       struct err *e)
{
	char why[ERR_MSG_MAX] = "";
	int r = talk(nl, nlh, fn, arg, why, sizeof(why));

	return r ? err_set(e, -r, "%s", why) : 0;
}

struct got {
	char *kind;
	uint32_t handle;
	bool seen;
};

static void got_qdisc(const struct nlmsghdr *h, void *arg)
{
	const struct tcmsg *t = mnl_nlmsg_get_payload(h);
	struct nlattr *k = tc_msg_attr(h, TCA_KIND);
	struct got *g = arg;

	if (h->nlmsg_type != RTM_NEWQDISC)
		return;
	g->seen = true;
	g->handle = t->tcm_handle;
	snprintf(g->kind, 16, "%s", k ? mnl_attr_get_str(k) : "");
}

int tc_nl_get(struct mnl_socket *nl, int ifindex, uint32_t parent, char *kind, uint32_t *handle)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *t;
	struct got g = { .kind = kind };
	int err;

	nlh->nlmsg_type = RTM_GETQDISC;
	/* The kernel answers a get through rtnetlink_send: to the asker
	 * only with NLM_F_ECHO, to RTNLGRP_TC listeners otherwise. */
	nlh->nlmsg_flags = NLM_F_ECHO;
	t = mnl_nlmsg_put_extra_header(nlh, sizeof(*t));
	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_parent = parent;
	err = tc_nl_talk(nl, nlh, got_qdisc, &g, NULL);
	if (!err && !g.seen)
		err = -ENOENT;
	if (!err)
		*handle = g.handle;
	return err;
}

int tc_nl_del(struct mnl_socket *nl, int ifindex, uint32_t parent, uint32_t handle,
	      struct err *e)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	struct tc_msg m;
	int err;

	if (!q)
		return err_set(e, ENOMEM, "%s", "");
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), parent);
	if (handle)
		rtnl_tc_set_handle(TC_CAST(q), handle);
	err = tc_msg_qdisc(&m, q, RTM_DELQDISC, 0, 0);
	rtnl_qdisc_put(q);
	if (err)
		return err_set(e, -err, "%s", "");
	err = tc_nl_talk(nl, m.nlh, NULL, NULL, e);
	tc_msg_free(&m);
	return err;
}

struct dump {
	int ifindex;
	const struct nlattr *opts;
	tc_nl_qdisc_fn *fn;
	void *arg;
};

static void on_object(struct nl_object *obj, void *arg)
{
	struct dump *d = arg;

	d->fn((struct rtnl_qdisc *)obj, d->opts, d->arg);
}

static int on_message(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	const struct tcmsg *t = nlmsg_data(h);
	struct dump *d = arg;

	/* The kernel dumps every link's qdiscs whatever tcm_ifindex says;
	 * skip the others before libnl parses them. */
	if (h->nlmsg_type != RTM_NEWQDISC || t->tcm_ifindex != d->ifindex)
		return NL_OK;
	d->opts = nlmsg_find_attr(h, sizeof(struct tcmsg), TCA_OPTIONS);
	nl_msg_parse(msg, on_object, d);
	return NL_OK;
}

int tc_nl_dump(int ifindex, tc_nl_qdisc_fn *fn, void *arg)
{
	struct tcmsg t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex };
	struct dump d = { .ifindex = ifindex, .fn = fn, .arg = arg };
	struct nl_sock *sk = nl_socket_alloc();
	int err;

	if (!sk)
		return -ENOMEM;
	/* A fresh socket: it belongs to the caller's namespace of the moment. */
	err = nl_connect(sk, NETLINK_ROUTE);
	if (!err)
		err = nl_send_simple(sk, RTM_GETQDISC, NLM_F_DUMP, &t, sizeof(t));
	if (err >= 0)
		err = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_message, &d);
	if (err >= 0)
		err = nl_recvmsgs_default(sk);
	nl_socket_free(sk);
	return err < 0 ? nlerr_errno(err) : 0;
}

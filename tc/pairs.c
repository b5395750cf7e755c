/* pairs.c - the per-pair policy on a switch port's egress (see tc.h).
 *
 * Requests go out batched: many netlink messages in one sendmsg, then their
 * acks, as `tc -batch` would if it did not wait for each answer.  A call
 * makes three exchanges whatever the number of ports:
 *
 *   read    one qdisc dump (every link's, filtered here) says which ports
 *           have our htb and which band leaves they hold; per such port,
 *           an RTM_GETTFILTER says which table the match-all node links
 *           to, and the tables not linked are deleted
 *   build   htb, the drop class, the bands and the new table with its nodes
 *           on every port, the bands no longer wanted removed
 *   switch  the match-all node of every port to its new table
 *
 * Only when every port built does any port switch.  The table just
 * unlinked cannot go at once: the node that linked to it is freed after an
 * RCU grace period (cls_u32's u32_delete_key_freepf_work), and until then
 * the kernel refuses ("Can not delete in-use filter").  So it goes at the
 * next call's read, and the tables rotate among TABLES numbers: the linked
 * one, those whose old links are not freed yet (a grace period here is
 * 5-15 ms), and a free one; when calls come faster than that, the read
 * waits for one (2 ms at a time, WAIT_MS at most).  Offsets: at egress
 * skb->data is the Ethernet header and u32 counts from the network header,
 * 14 bytes in, so the source MAC is at -8 (four bytes) and -4 (two), as
 * `tc filter ... u32 match ether src` writes it; frames sent by a packet
 * socket (OVS's userspace datapath) have their network header at the same
 * place.
 */
#include "tc/tc.h"

#include <errno.h>
#include <stddef.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>

#include "tc/nl.h"

#define ROOT       0x00050000u          /* htb 5: */
#define DROP_CLASS 0x00050001u          /* 5:1 */
#define DROP_LEAF  0x00060000u          /* pfifo 6: limit 0 */
#define BAND_CLASS(id) (ROOT | (0x100u + (id)))
#define BAND_NETEM(id) ((0x100u + (id)) << 16)
#define BAND_TBF(id)   ((0x200u + (id)) << 16)
#define BAND_CHILD(id) ((0x300u + (id)) << 16) /* tbf under the band's netem */
#define PREF       1u
#define LINK_NODE  0x80000800u          /* 800::800, the root table's node */
#define TABLE(t)   ((uint32_t)(t) << 20)
#define TABLES     8
#define WAIT_MS    1000                 /* for a free table, at most */
/* htb's classes only sort frames; their rate must never be what limits:
 * 32 Gbit/s in bytes, the most a 32-bit tc_ratespec holds. */
#define CLASS_RATE 4000000000u
#define CLASS_BUFFER (1u << 20)         /* ticks of 64 ns: 67 ms at CLASS_RATE */
#define QUANTUM    60000u
#define DIRECT_QLEN 1000u
#define CHUNK      (96 * 1024)          /* bytes of requests per sendmsg, under the socket's sndbuf */
#define RBUF       65536                /* a dump's skb is at most 32 KB */
#define MSG_ROOM   16384                /* the largest message: netem with its table */

enum leaf { LEAF_NONE, LEAF_NETEM, LEAF_TBF, LEAF_OTHER };

/* What a port holds now. */
struct state {
	int ifindex;
	bool htb;                     /* our htb is its root */
	unsigned int table;           /* 1..TABLES: linked from 800::800; 0 none */
	bool gone[TABLES + 1];        /* table t is not there (deleted, or never was) */
	unsigned int next;            /* the table this call builds */
	bool built;                   /* next exists (made by this call) */
	uint8_t leaf[TC_PAIRS_MAX_BAND + 1];   /* enum leaf per band id */
	bool child[TC_PAIRS_MAX_BAND + 1];     /* the band's netem has its tbf */
};

/* One request of a batch: whose it is, what it does (for errors), and
 * whether its failure is expected (removing what may not be there). */
struct req {
	size_t port;
	uint32_t seq;
	bool may_fail;
	unsigned int table;           /* a table's deletion in the read: which */
	int error;                    /* the kernel's answer, 0 or -errno */
	char what[80];
};

struct batch {
	char *buf;
	size_t len, cap;
	struct req *reqs;
	size_t nreqs, capreqs;
};

struct call {
	struct mnl_socket *nl;
	uint32_t seq;
	const struct tc_pairs_port *ports;
	size_t n;
	struct state *st;
	struct batch b;
	char *rbuf;                   /* RBUF bytes: the kernel's answers */
};

static void batch_reset(struct batch *b)
{
	b->len = 0;
	b->nreqs = 0;
}

static void batch_free(struct batch *b)
{
	free(b->buf);
	free(b->reqs);
	memset(b, 0, sizeof(*b));
}

/* Room for one more message at the tail; its header, or NULL. */
static struct nlmsghdr *batch_msg(struct call *c, size_t port, bool may_fail, uint16_t type,
				  uint16_t flags, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static struct nlmsghdr *batch_msg(struct call *c, size_t port, bool may_fail, uint16_t type,
				  uint16_t flags, const char *fmt, ...)
{
	struct batch *b = &c->b;
	struct nlmsghdr *nlh;
	struct req *r;
	va_list ap;

	if (b->cap - b->len < MSG_ROOM) {
		size_t cap = b->cap ? 2 * b->cap : 4 * MSG_ROOM;
		char *nb = realloc(b->buf, cap);

		if (!nb)
			return NULL;
		b->buf = nb;
		b->cap = cap;
	}
	if (b->nreqs == b->capreqs) {
		size_t cap = b->capreqs ? 2 * b->capreqs : 64;
		struct req *nr = reallocarray(b->reqs, cap, sizeof(*nr));

		if (!nr)
			return NULL;
		b->reqs = nr;
		b->capreqs = cap;
	}
	r = &b->reqs[b->nreqs++];
	*r = (struct req){ .port = port, .seq = ++c->seq, .may_fail = may_fail };
	va_start(ap, fmt);
	vsnprintf(r->what, sizeof(r->what), fmt, ap);
	va_end(ap);
	memset(b->buf + b->len, 0, MSG_ROOM);
	nlh = mnl_nlmsg_put_header(b->buf + b->len);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = r->seq;
	return nlh;
}

/* The message at the tail is complete: count it in. */
static void batch_done(struct call *c, struct nlmsghdr *nlh)
{
	c->b.len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static struct tcmsg *tcmsg(struct nlmsghdr *nlh, int ifindex, uint32_t handle, uint32_t parent,
			   uint32_t info)
{
	struct tcmsg *t = mnl_nlmsg_put_extra_header(nlh, sizeof(*t));

	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_handle = handle;
	t->tcm_parent = parent;
	t->tcm_info = info;
	return t;
}

#define FILTER_INFO TC_H_MAKE(PREF << 16, htons(ETH_P_ALL))

typedef void reply_fn(struct call *c, size_t port, const struct nlmsghdr *h);

/* Send the batch in chunks and read every ack.  Replies before an ack go
 * to fn.  0, or the first failure not expected, in e as "IFNAME: WHAT:
 * kernel's reason". */
static int batch_send(struct call *c, reply_fn *fn, struct err *e)
{
	struct batch *b = &c->b;
	char *buf = c->rbuf;
	uint32_t portid = mnl_socket_get_portid(c->nl);
	size_t off = 0, first = 0;
	int rc = 0;

	while (off < b->len) {
		size_t end = off, last = first;

		/* A chunk: whole messages up to CHUNK bytes. */
		while (last < b->nreqs) {
			const struct nlmsghdr *h = (const void *)(b->buf + end);

			if (end > off && end - off + h->nlmsg_len > CHUNK)
				break;
			end += NLMSG_ALIGN(h->nlmsg_len);
			last++;
		}
		if (mnl_socket_sendto(c->nl, b->buf + off, end - off) < 0)
			return err_sys(e, errno, "rtnetlink: sending %zu requests", last - first);
		for (size_t acked = first; acked < last;) {
			ssize_t n = mnl_socket_recvfrom(c->nl, buf, RBUF);
			int len = (int)n;

			if (n < 0) {
				if (errno == EINTR)
					continue;
				return err_sys(e, errno, "rtnetlink: reading acks");
			}
			for (const struct nlmsghdr *h = (const void *)buf; mnl_nlmsg_ok(h, len);
			     h = mnl_nlmsg_next(h, &len)) {
				const struct req *r;
				size_t i;

				if ((h->nlmsg_pid && h->nlmsg_pid != portid) ||
				    h->nlmsg_seq < b->reqs[first].seq || h->nlmsg_seq > b->reqs[last - 1].seq)
					continue; /* not ours, or late */
				i = first + (h->nlmsg_seq - b->reqs[first].seq);
				r = &b->reqs[i];
				if (h->nlmsg_type != NLMSG_ERROR) {
					if (fn)
						fn(c, r->port, h);
					continue;
				}
				acked++;
				{
					const struct nlmsgerr *ne = mnl_nlmsg_get_payload(h);
					char why[ERR_MSG_MAX] = "";

					b->reqs[i].error = ne->error;
					if (!ne->error || r->may_fail || rc)
						continue;
					tc_nl_extack(h, why, sizeof(why));
					if (*why)
						rc = err_set(e, -ne->error, "%s: %s: %s", c->ports[r->port].ifname,
							     r->what, why);
					else
						rc = err_sys(e, -ne->error, "%s: %s", c->ports[r->port].ifname,
							     r->what);
				}
			}
		}
		off = end;
		first = last;
	}
	return rc;
}

/* ---- read ---- */

static void read_qdisc(struct call *c, const struct nlmsghdr *h)
{
	const struct tcmsg *t = mnl_nlmsg_get_payload(h);
	const struct nlattr *k = tc_msg_attr(h, TCA_KIND);
	const char *kind = k ? mnl_attr_get_str(k) : "";
	uint32_t id;
	struct state *st = NULL;

	for (size_t i = 0; i < c->n; i++)
		if (c->st[i].ifindex == t->tcm_ifindex)
			st = &c->st[i];
	if (!st)
		return;
	if (t->tcm_parent == TC_H_ROOT) {
		st->htb = t->tcm_handle == ROOT && !strcmp(kind, "htb");
		return;
	}
	if (TC_H_MAJ(t->tcm_parent) == ROOT && TC_H_MIN(t->tcm_parent) >= 0x100 &&
	    (id = TC_H_MIN(t->tcm_parent) - 0x100) <= TC_PAIRS_MAX_BAND)
		st->leaf[id] = t->tcm_handle == BAND_NETEM(id) && !strcmp(kind, "netem") ? LEAF_NETEM :
			       t->tcm_handle == BAND_TBF(id) && !strcmp(kind, "tbf") ? LEAF_TBF : LEAF_OTHER;
	else if (TC_H_MIN(t->tcm_parent) == 1 && (id = (TC_H_MAJ(t->tcm_parent) >> 16) - 0x100) <=
		 TC_PAIRS_MAX_BAND && t->tcm_handle == BAND_CHILD(id))
		st->child[id] = true;
}

/* Every link's qdiscs in one dump; the ports' are kept. */
static int read_qdiscs(struct call *c, struct err *e)
{
	char *buf = c->rbuf;
	uint32_t portid = mnl_socket_get_portid(c->nl);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	uint32_t seq = ++c->seq;

	nlh->nlmsg_type = RTM_GETQDISC;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	tcmsg(nlh, 0, 0, 0, 0);
	if (mnl_socket_sendto(c->nl, nlh, nlh->nlmsg_len) < 0)
		return err_sys(e, errno, "rtnetlink: qdisc dump");
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(c->nl, buf, RBUF);
		int len = (int)n;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_sys(e, errno, "rtnetlink: qdisc dump");
		}
		for (const struct nlmsghdr *h = (const void *)buf; mnl_nlmsg_ok(h, len);
		     h = mnl_nlmsg_next(h, &len)) {
			if (h->nlmsg_seq != seq || (h->nlmsg_pid && h->nlmsg_pid != portid))
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *ne = mnl_nlmsg_get_payload(h);

				return err_sys(e, -ne->error, "rtnetlink: qdisc dump");
			}
			if (h->nlmsg_type == RTM_NEWQDISC)
				read_qdisc(c, h);
		}
	}
}

static int u32_opt(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == TCA_U32_LINK && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
		*(uint32_t *)data = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static void read_link(struct call *c, size_t port, const struct nlmsghdr *h)
{
	const struct nlattr *opts = tc_msg_attr(h, TCA_OPTIONS);
	uint32_t link = 0;

	if (h->nlmsg_type != RTM_NEWTFILTER || !opts)
		return;
	mnl_attr_parse_nested(opts, u32_opt, &link);
	if (!TC_U32_KEY(link) && link >> 20 >= 1 && link >> 20 <= TABLES)
		c->st[port].table = link >> 20;
}

/* ---- build ---- */

static void put_ratespec(struct tc_ratespec *r)
{
	memset(r, 0, sizeof(*r));
	r->linklayer = TC_LINKLAYER_ETHERNET; /* no rate table wanted (sch_htb.c) */
	r->rate = CLASS_RATE;
}

static int add_htb_class(struct call *c, size_t port, uint32_t classid, const char *what)
{
	struct nlmsghdr *nlh = batch_msg(c, port, false, RTM_NEWTCLASS, NLM_F_CREATE, "%s", what);
	struct tc_htb_opt o = { .buffer = CLASS_BUFFER, .cbuffer = CLASS_BUFFER, .quantum = QUANTUM };
	struct nlattr *nest;

	if (!nlh)
		return -ENOMEM;
	tcmsg(nlh, c->st[port].ifindex, classid, ROOT, 0);
	mnl_attr_put_strz(nlh, TCA_KIND, "htb");
	nest = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	put_ratespec(&o.rate);
	put_ratespec(&o.ceil);
	mnl_attr_put(nlh, TCA_HTB_PARMS, sizeof(o), &o);
	mnl_attr_nest_end(nlh, nest);
	batch_done(c, nlh);
	return 0;
}

/* A request built by netem.c or tbf.c (a tc_msg of its own) into the batch. */
static int add_built(struct call *c, size_t port, struct tc_msg *m, uint32_t parent,
		     uint32_t handle, const char *what)
{
	struct nlmsghdr *nlh;
	struct tcmsg *t;
	int r = 0;

	if (m->nlh->nlmsg_len > MSG_ROOM)
		r = -EMSGSIZE;
	else if (!(nlh = batch_msg(c, port, false, m->nlh->nlmsg_type, 0, "%s", what)))
		r = -ENOMEM;
	if (r) {
		tc_msg_free(m);
		return r;
	}
	memcpy(nlh, m->nlh, m->nlh->nlmsg_len);
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = c->seq;
	t = mnl_nlmsg_get_payload(nlh);
	t->tcm_parent = parent;
	t->tcm_handle = handle;
	tc_msg_free(m);
	batch_done(c, nlh);
	return 0;
}

#define REPLACE (NLM_F_CREATE | NLM_F_REPLACE)

/* netem.c's and tbf.c's builders leave the port and the kind out of e. */
static int wrap(struct err *e, const char *ifname, const char *what)
{
	char why[ERR_MSG_MAX];
	int code = e->code ? e->code : EINVAL;

	snprintf(why, sizeof(why), "%s", e->msg + strspn(e->msg, ": "));
	if (*why)
		return err_set(e, code, "%s: %s: %s", ifname, what, why);
	return err_sys(e, code, "%s: %s", ifname, what);
}

/* The band's class and its shape, the tree egress.c makes at a root: tbf
 * alone for a rate, netem with tbf under it when more comes with a rate. */
static int add_band(struct call *c, size_t port, const struct tc_pairs_band *bd, struct err *e)
{
	const struct tc_shape *s = &bd->shape;
	struct state *st = &c->st[port];
	char what[64];
	struct tc_msg m;
	int r;

	snprintf(what, sizeof(what), "band %u: htb class", bd->id);
	if ((r = add_htb_class(c, port, BAND_CLASS(bd->id), what)))
		return err_sys(e, -r, "%s: %s", c->ports[port].ifname, what);
	if (!tc_shape_needs_netem(s)) {
		snprintf(what, sizeof(what), "band %u: tbf", bd->id);
		if (tc_tbf_build(&m, st->ifindex, BAND_CLASS(bd->id), BAND_TBF(bd->id), s, false, REPLACE, e))
			return wrap(e, c->ports[port].ifname, what);
		r = add_built(c, port, &m, BAND_CLASS(bd->id), BAND_TBF(bd->id), what);
		return r ? err_sys(e, -r, "%s: %s", c->ports[port].ifname, what) : 0;
	}
	snprintf(what, sizeof(what), "band %u: netem", bd->id);
	if (tc_netem_build(&m, st->ifindex, s, REPLACE, st->leaf[bd->id] == LEAF_NETEM, e))
		return wrap(e, c->ports[port].ifname, what);
	if ((r = add_built(c, port, &m, BAND_CLASS(bd->id), BAND_NETEM(bd->id), what)))
		return err_sys(e, -r, "%s: %s", c->ports[port].ifname, what);
	if (s->rate_bps) {
		snprintf(what, sizeof(what), "band %u: tbf under netem", bd->id);
		if (tc_tbf_build(&m, st->ifindex, BAND_NETEM(bd->id) | 1, BAND_CHILD(bd->id), s, true,
				 REPLACE, e))
			return wrap(e, c->ports[port].ifname, what);
		r = add_built(c, port, &m, BAND_NETEM(bd->id) | 1, BAND_CHILD(bd->id), what);
		return r ? err_sys(e, -r, "%s: %s", c->ports[port].ifname, what) : 0;
	}
	if (st->leaf[bd->id] == LEAF_NETEM && st->child[bd->id]) {
		struct nlmsghdr *nlh = batch_msg(c, port, true, RTM_DELQDISC, 0, "band %u: old tbf", bd->id);

		if (!nlh)
			return err_set(e, ENOMEM, "out of memory");
		tcmsg(nlh, st->ifindex, 0, BAND_NETEM(bd->id) | 1, 0);
		batch_done(c, nlh);
	}
	return 0;
}

static int add_table_op(struct call *c, size_t port, uint16_t type, uint16_t flags, bool may_fail,
			unsigned int table)
{
	struct nlmsghdr *nlh = batch_msg(c, port, may_fail, type, flags, "u32 table %u:", table);

	if (!nlh)
		return -ENOMEM;
	tcmsg(nlh, c->st[port].ifindex, TABLE(table), ROOT, FILTER_INFO);
	mnl_attr_put_strz(nlh, TCA_KIND, "u32");
	if (type == RTM_NEWTFILTER) {
		struct nlattr *nest = mnl_attr_nest_start(nlh, TCA_OPTIONS);

		mnl_attr_put_u32(nlh, TCA_U32_DIVISOR, 1);
		mnl_attr_nest_end(nlh, nest);
	}
	batch_done(c, nlh);
	return 0;
}

/* TCA_U32_SEL: the selector and its keys after it (a flexible array,
 * which C11 lets no struct hold). */
static void put_sel(struct nlmsghdr *nlh, uint8_t flags, const struct tc_u32_key *keys, uint8_t nkeys)
{
	char buf[offsetof(struct tc_u32_sel, keys) + 2 * sizeof(*keys)];
	struct tc_u32_sel sel = { .flags = flags, .nkeys = nkeys };

	memcpy(buf, &sel, offsetof(struct tc_u32_sel, keys));
	memcpy(buf + offsetof(struct tc_u32_sel, keys), keys, nkeys * sizeof(*keys));
	mnl_attr_put(nlh, TCA_U32_SEL, offsetof(struct tc_u32_sel, keys) + nkeys * sizeof(*keys), buf);
}

/* Node `node` of the new table: ether src mac -> classid. */
static int add_node(struct call *c, size_t port, unsigned int node, const uint8_t mac[6],
		    uint32_t classid)
{
	struct tc_u32_key keys[2];
	struct state *st = &c->st[port];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	nlh = batch_msg(c, port, false, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL,
			"u32 node for %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
			mac[4], mac[5]);
	if (!nlh)
		return -ENOMEM;
	keys[0] = (struct tc_u32_key){ .mask = 0xffffffffu, .off = -8 };
	memcpy(&keys[0].val, mac, 4);
	keys[1] = (struct tc_u32_key){ .mask = htonl(0xffff0000u), .off = -4 };
	memcpy(&keys[1].val, mac + 4, 2);
	tcmsg(nlh, st->ifindex, TABLE(st->next) | node, ROOT, FILTER_INFO);
	mnl_attr_put_strz(nlh, TCA_KIND, "u32");
	nest = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put_u32(nlh, TCA_U32_HASH, TABLE(st->next));
	mnl_attr_put_u32(nlh, TCA_U32_CLASSID, classid);
	put_sel(nlh, TC_U32_TERMINAL, keys, 2);
	mnl_attr_nest_end(nlh, nest);
	batch_done(c, nlh);
	return 0;
}

static bool band_wanted(const struct tc_pairs_port *p, unsigned int id)
{
	for (size_t i = 0; i < p->nbands; i++)
		if (p->bands[i].id == id)
			return true;
	return false;
}

static bool policy_empty(const struct tc_pairs_port *p)
{
	return !p->ndrop && !p->nbands;
}

static int build(struct call *c, size_t port, struct err *e)
{
	const struct tc_pairs_port *p = &c->ports[port];
	struct state *st = &c->st[port];
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	unsigned int node = 0;
	int r = 0;

	if (policy_empty(p))
		return 0;
	if (!st->htb) {
		struct tc_htb_glob g = { .version = 3, .rate2quantum = 10, .defcls = 0 };

		if (!(nlh = batch_msg(c, port, false, RTM_NEWQDISC, REPLACE, "htb")))
			goto nomem;
		tcmsg(nlh, st->ifindex, ROOT, TC_H_ROOT, 0);
		mnl_attr_put_strz(nlh, TCA_KIND, "htb");
		nest = mnl_attr_nest_start(nlh, TCA_OPTIONS);
		mnl_attr_put(nlh, TCA_HTB_INIT, sizeof(g), &g);
		mnl_attr_put_u32(nlh, TCA_HTB_DIRECT_QLEN, DIRECT_QLEN);
		mnl_attr_nest_end(nlh, nest);
		batch_done(c, nlh);
	}
	/* The tables the read deleted took their nodes' bindings along: a
	 * band no longer wanted is bound only if the linked table still sends
	 * to it, and then goes at the next call. */
	for (unsigned int id = 0; id <= TC_PAIRS_MAX_BAND; id++) {
		if (st->leaf[id] == LEAF_NONE || band_wanted(p, id))
			continue;
		if (!(nlh = batch_msg(c, port, true, RTM_DELTCLASS, 0, "band %u: removing", id)))
			goto nomem;
		tcmsg(nlh, st->ifindex, BAND_CLASS(id), ROOT, 0);
		batch_done(c, nlh);
	}
	if (add_htb_class(c, port, DROP_CLASS, "drop class"))
		goto nomem;
	if (!(nlh = batch_msg(c, port, false, RTM_NEWQDISC, REPLACE, "drop class: pfifo limit 0")))
		goto nomem;
	tcmsg(nlh, st->ifindex, DROP_LEAF, DROP_CLASS, 0);
	mnl_attr_put_strz(nlh, TCA_KIND, "pfifo");
	mnl_attr_put(nlh, TCA_OPTIONS, sizeof(struct tc_fifo_qopt), &(struct tc_fifo_qopt){ .limit = 0 });
	batch_done(c, nlh);
	for (size_t i = 0; i < p->nbands; i++)
		if ((r = add_band(c, port, &p->bands[i], e)))
			return r;
	/* A table of that number left by a call that died half-way goes first. */
	if (add_table_op(c, port, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, false, st->next))
		goto nomem;
	st->built = true;
	for (size_t i = 0; i < p->ndrop; i++)
		if (add_node(c, port, ++node, p->drop[i], DROP_CLASS))
			goto nomem;
	for (size_t i = 0; i < p->nbands; i++)
		for (size_t j = 0; j < p->bands[i].nmacs; j++)
			if (add_node(c, port, ++node, p->bands[i].macs[j], BAND_CLASS(p->bands[i].id)))
				goto nomem;
	return 0;
nomem:
	return err_set(e, ENOMEM, "%s: out of memory", p->ifname);
}

/* ---- switch ---- */

static int add_link(struct call *c, size_t port)
{
	const struct tc_u32_key all = { 0 }; /* match all; not terminal: it links */
	struct state *st = &c->st[port];
	struct nlmsghdr *nlh = batch_msg(c, port, false, RTM_NEWTFILTER, NLM_F_CREATE,
					 "u32 match-all node linking to table %u:", st->next);
	struct nlattr *nest;

	if (!nlh)
		return -ENOMEM;
	tcmsg(nlh, st->ifindex, LINK_NODE, ROOT, FILTER_INFO);
	mnl_attr_put_strz(nlh, TCA_KIND, "u32");
	nest = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put_u32(nlh, TCA_U32_LINK, TABLE(st->next));
	put_sel(nlh, 0, &all, 1);
	mnl_attr_nest_end(nlh, nest);
	batch_done(c, nlh);
	return 0;
}

static int flip(struct call *c, size_t port)
{
	const struct tc_pairs_port *p = &c->ports[port];
	struct state *st = &c->st[port];
	struct nlmsghdr *nlh;

	if (policy_empty(p)) {
		if (!st->htb)
			return 0;
		if (!(nlh = batch_msg(c, port, false, RTM_DELQDISC, 0, "removing htb")))
			return -ENOMEM;
		tcmsg(nlh, st->ifindex, ROOT, TC_H_ROOT, 0);
		batch_done(c, nlh);
		return 0;
	}
	return add_link(c, port);
}

/* ---- the calls ---- */

static int check(const struct tc_pairs_port *ports, size_t n, struct state *st, struct err *e)
{
	bool seed = false;

	for (size_t i = 0; i < n; i++) {
		const struct tc_pairs_port *p = &ports[i];

		if (!p->ifname || !(st[i].ifindex = (int)if_nametoindex(p->ifname)))
			return err_set(e, ENODEV, "%s: no such link", p->ifname ? p->ifname : "");
		for (size_t j = 0; j < p->nbands; j++) {
			const struct tc_pairs_band *b = &p->bands[j];

			if (b->id > TC_PAIRS_MAX_BAND || tc_shape_empty(&b->shape))
				return err_set(e, EINVAL, "%s: band %u: %s", p->ifname, b->id,
					       b->id > TC_PAIRS_MAX_BAND ? "id out of range" : "no shape");
			for (size_t k = 0; k < j; k++)
				if (p->bands[k].id == b->id)
					return err_set(e, EINVAL, "%s: band %u given twice", p->ifname, b->id);
			if (tc_shape_needs_netem(&b->shape) && tc_netem_caps(&seed) == 0)
				return err_set(e, EOPNOTSUPP, "%s: %s needs netem: Specified qdisc kind is "
					       "unknown (the kernel lacks CONFIG_NET_SCH_NETEM; rate alone works, "
					       "with tbf)", p->ifname, tc_shape_netem_word(&b->shape));
		}
		{
			size_t nodes = p->ndrop;

			for (size_t j = 0; j < p->nbands; j++)
				nodes += p->bands[j].nmacs;
			if (nodes > 0xfff) /* u32's node numbers are 12 bits */
				return err_set(e, E2BIG, "%s: %zu MACs, at most 4095", p->ifname, nodes);
		}
	}
	return 0;
}

/* 0 and each port's next table, 1 when some port has none free yet, or
 * -errno with e. */
static int read_ports(struct call *c, struct err *e)
{
	int r;

	for (size_t i = 0; i < c->n; i++) {
		int ifindex = c->st[i].ifindex;

		memset(&c->st[i], 0, sizeof(c->st[i]));
		c->st[i].ifindex = ifindex;
	}
	if ((r = read_qdiscs(c, e)))
		return r;
	batch_reset(&c->b);
	for (size_t i = 0; i < c->n; i++) {
		struct nlmsghdr *nlh;

		for (unsigned int t = 1; t <= TABLES; t++)
			c->st[i].gone[t] = !c->st[i].htb;
		if (!c->st[i].htb)
			continue;
		if (!(nlh = batch_msg(c, i, true, RTM_GETTFILTER, 0, "reading the match-all node")))
			return err_set(e, ENOMEM, "out of memory");
		tcmsg(nlh, c->st[i].ifindex, LINK_NODE, ROOT, FILTER_INFO);
		batch_done(c, nlh);
		/* The kernel refuses to delete the linked table (in use). */
		for (unsigned int t = 1; t <= TABLES; t++) {
			if (add_table_op(c, i, RTM_DELTFILTER, 0, true, t))
				return err_set(e, ENOMEM, "out of memory");
			c->b.reqs[c->b.nreqs - 1].table = t;
		}
	}
	if ((r = batch_send(c, read_link, e)))
		return r;
	for (size_t k = 0; k < c->b.nreqs; k++) {
		const struct req *q = &c->b.reqs[k];

		if (q->table)
			c->st[q->port].gone[q->table] = q->error != -EBUSY;
	}
	for (size_t i = 0; i < c->n; i++) {
		struct state *st = &c->st[i];

		for (unsigned int t = 1; t <= TABLES && !st->next; t++)
			if (st->gone[t] && t != st->table)
				st->next = t;
		if (!st->next && !policy_empty(&c->ports[i]))
			return 1;
	}
	return 0;
}

static int run(struct call *c, struct err *e)
{
	int r;

	for (int waited = 0; (r = read_ports(c, e)); waited += 2) {
		if (r < 0)
			return r;
		if (waited >= WAIT_MS)
			return err_set(e, EBUSY, "every u32 table is still in use after %d ms (the kernel "
				       "frees unlinked ones after an RCU grace period)", WAIT_MS);
		nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
	}

	batch_reset(&c->b);
	for (size_t i = 0; i < c->n; i++)
		if ((r = build(c, i, e)))
			return r;
	if ((r = batch_send(c, NULL, e))) {
		/* Nothing switched: the tables this call made go again. */
		struct err ignored;

		batch_reset(&c->b);
		for (size_t i = 0; i < c->n; i++)
			if (c->st[i].built && add_table_op(c, i, RTM_DELTFILTER, 0, true, c->st[i].next))
				break;
		batch_send(c, NULL, &ignored);
		return r;
	}

	batch_reset(&c->b);
	for (size_t i = 0; i < c->n; i++)
		if (flip(c, i))
			return err_set(e, ENOMEM, "out of memory");
	return batch_send(c, NULL, e);
}

int tc_pairs_apply(const struct tc_pairs_port *ports, size_t n, struct err *e)
{
	struct call c = { .ports = ports, .n = n };
	int r, size = 4 << 20;
	struct err mine;

	if (!e)
		e = &mine;
	if (!n)
		return 0;
	c.st = calloc(n, sizeof(*c.st));
	c.rbuf = malloc(RBUF);
	if (!c.st || !c.rbuf) {
		r = err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	if ((r = check(ports, n, c.st, e)))
		goto out;
	if ((r = tc_nl_open(&c.nl))) {
		err_sys(e, -r, "rtnetlink");
		goto out;
	}
	/* Room for the acks of a whole chunk, and the replies to the reads. */
	setsockopt(mnl_socket_get_fd(c.nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	r = run(&c, e);
out:
	tc_nl_close(c.nl);
	batch_free(&c.b);
	free(c.rbuf);
	free(c.st);
	return r;
}

int tc_pairs_clear(const char *ifname, struct err *e)
{
	const struct tc_pairs_port p = { .ifname = ifname };

	return tc_pairs_apply(&p, 1, e);
}

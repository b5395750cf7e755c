/* nl.h - inside tc/: the qdisc requests we build, the encoders and readers of
 * each qdisc kind (netem.c, tbf.c, one file per kind as iproute2's q_*.c),
 * and the netlink plumbing they share (nl.c).  Not for use outside tc/,
 * except by tests: building a request never sends it, so the encoders can
 * be compared byte for byte with what iproute2's tc sends.
 *
 * Who does what: libnl-route-3 builds the tcmsg frame and, for netem, the
 * options it knows (rtnl_netem_*), and parses what the kernel dumps
 * (rtnl_qdisc, rtnl_tc_get_stat); libmnl appends what libnl cannot encode
 * and does the request/ack exchange, because only it lets us read the
 * kernel's extended ack ("Specified qdisc kind is unknown").
 */
#ifndef N3X_TC_NL_H
#define N3X_TC_NL_H

#include <jansson.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "tc/rule.h"

struct mnl_socket;
struct nl_msg;
struct rtnl_qdisc;

/* Where our qdiscs sit on an egress (major:minor packed as the kernel does).
 * Each kind has its own root handle: a NEWQDISC with NLM_F_REPLACE for a
 * handle that already holds the same kind changes it in place, and one for
 * a new handle grafts a new root over the old in one step, so a switch
 * never passes through "no qdisc".  Reusing one handle for both kinds would
 * make the kernel refuse the switch ("Invalid qdisc name"). */
#define TC_NETEM_HANDLE 0x00010000u /* 1:   netem at the root */
#define TC_NETEM_CLASS  0x00010001u /* 1:1  netem's only class: its child */
#define TC_TBF_HANDLE   0x00020000u /* 2:   tbf alone at the root */
#define TC_TBF_CHILD    0x00100000u /* 10:  tbf under netem */

/* TCA_NETEM_PRNG_SEED is Linux 6.3; Debian 12's headers stop before it. */
#define TC_NETEM_PRNG_SEED 14

/* One request: an nlmsghdr at the start of a heap buffer of cap bytes. */
struct tc_msg {
	struct nlmsghdr *nlh;
	size_t cap;
};

void tc_msg_free(struct tc_msg *m);

/* Build q's RTM_NEWQDISC (or type) request with libnl and copy it into m
 * with room bytes to spare; see nl.c for the repair of libnl's netem
 * length.  0 or -errno. */
int tc_msg_qdisc(struct tc_msg *m, struct rtnl_qdisc *q, int type, int flags, size_t room);

/* The top-level attribute type of m's request, or NULL. */
struct nlattr *tc_msg_attr(const struct nlmsghdr *nlh, uint16_t type);

/* Append an attribute at the tail; -EMSGSIZE if it does not fit. */
int tc_msg_put(struct tc_msg *m, uint16_t type, size_t len, const void *data);

/* Make opts (an attribute of m) span everything after it: netem's options
 * are a struct followed by attributes, all inside TCA_OPTIONS. */
void tc_msg_extend(struct tc_msg *m, struct nlattr *opts);

/* A probability in percent as tc's set_percent scales it (0..UINT32_MAX). */
uint32_t tc_percent_u32(double pct);
double tc_u32_percent(uint32_t v);

/* netem.c.  The request for netem at the root (handle 1:) carrying s's
 * delay, jitter, distribution, loss (and its model), ecn, duplicate,
 * corrupt, reorder, slot, netem's own rate, seed and limit (sized from
 * rate x delay when s has none: tc_shape_netem_limit); flags
 * NLM_F_CREATE|NLM_F_REPLACE etc.  reset: the request
 * changes a netem that is already there, so it also states the options
 * left off (zero correlations, no reorder, corrupt, ECN, slots or rate,
 * a uniform table),
 * which netem would otherwise keep from before.  0 or -errno, e says why
 * (a distribution table that cannot be read), without the link or kind:
 * the caller adds those. */
int tc_netem_build(struct tc_msg *m, int ifindex, const struct tc_shape *s, int flags,
		   bool reset, struct err *e);

/* Fill the netem part of s from a dumped qdisc: libnl's view and the raw
 * TCA_OPTIONS (for the 64-bit delay and the seed, which libnl skips). */
void tc_netem_read(struct rtnl_qdisc *q, const struct nlattr *opts, struct tc_shape *s);

/* netem's part of s as tc_link_dump's "params" (keys in tc.h); new ref. */
json_t *tc_netem_params(const struct tc_shape *s);

/* Whether this kernel runs netem, and takes its seed; probed once. */
int tc_netem_caps(bool *seed);

/* tbf.c.  The request for tbf at parent/handle with s's rate, burst and
 * limit (derived when 0: see tc_tbf_defaults).  child: tbf hangs under
 * netem, whose limit s->limit is. */
int tc_tbf_build(struct tc_msg *m, int ifindex, uint32_t parent, uint32_t handle,
		 const struct tc_shape *s, bool child, int flags, struct err *e);
void tc_tbf_defaults(const struct tc_shape *s, bool child, uint32_t *burst, uint32_t *limit);
void tc_tbf_read(struct rtnl_qdisc *q, const struct nlattr *opts, struct tc_shape *s);
json_t *tc_tbf_params(const struct tc_shape *s);

/* nl.c: the exchange.  A socket in the calling thread's namespace. */
int tc_nl_open(struct mnl_socket **out);
void tc_nl_close(struct mnl_socket *nl);

/* Send nlh (its sequence number is set here) and wait for the kernel's
 * answer.  Each reply message before the ack goes to fn (may be NULL).
 * 0 or -errno; on an error e's message is the kernel's extended ack
 * message, or "" when it sent none. */
typedef void tc_nl_reply_fn(const struct nlmsghdr *reply, void *arg);
int tc_nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, tc_nl_reply_fn *fn, void *arg,
	       struct err *e);

/* The kernel's extended ack message (NLMSGERR_ATTR_MSG) from the error
 * message h into why, without its trailing dot; why is left alone when the
 * kernel sent none.  For callers that batch requests (pairs.c). */
void tc_nl_extack(const struct nlmsghdr *h, char *why, size_t whysize);

/* The qdisc at parent (TC_H_ROOT, TC_NETEM_CLASS...) of ifindex: its kind
 * into kind (16 bytes) and its handle; -ENOENT if there is none. */
int tc_nl_get(struct mnl_socket *nl, int ifindex, uint32_t parent, char *kind,
	      uint32_t *handle);

/* RTM_DELQDISC for the qdisc at parent (handle 0: whichever is there);
 * e as for tc_nl_talk. */
int tc_nl_del(struct mnl_socket *nl, int ifindex, uint32_t parent, uint32_t handle,
	      struct err *e);

/* Dump ifindex's qdiscs (not the invisible ones, as tc shows them) through
 * libnl's qdisc parser: fn gets each object and its raw TCA_OPTIONS (or
 * NULL), valid only during the call.  0 or -errno. */
typedef void tc_nl_qdisc_fn(struct rtnl_qdisc *q, const struct nlattr *opts, void *arg);
int tc_nl_dump(int ifindex, tc_nl_qdisc_fn *fn, void *arg);

#endif

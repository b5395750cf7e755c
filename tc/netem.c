/* netem.c - netem: encode (libnl's rtnl_netem_* plus what libnl lacks),
 * read back, and ask the kernel whether it has netem at all.
 *
 * The request is the one iproute2's tc/q_netem.c sends for the same words:
 * TCA_OPTIONS holds struct tc_netem_qopt followed by TCA_NETEM_CORR,
 * _REORDER, _CORRUPT and _DELAY_DIST, and its length covers them all.
 * tests/test_tcencode.c compares it with tc's, attribute by attribute.
 * The attributes libnl does not know are appended with libmnl:
 *  - TCA_NETEM_ECN, _SLOT, _LOSS (the state and gemodel loss models),
 *    _RATE and _RATE64 (netem's own rate, "rate R OVERHEAD ...": a bare
 *    "rate" goes to tbf, see egress.c), as tc sends them;
 *  - TCA_NETEM_PRNG_SEED (Linux 6.3) for "seed";
 *  - TCA_NETEM_LATENCY64 / _JITTER64 (ns, Linux 4.15) only when the delay
 *    does not fit the 32-bit tick field (about 274 s).  tc 6.1 never sends
 *    them; tc 6.9+ always does.  Below that limit the tick field is exact
 *    to 64 ns, and leaving them out keeps our bytes equal to tc 6.1's.
 * They come after libnl's, where tc interleaves them: the kernel reads the
 * attributes into a table by type (sch_netem.c parse_attr), so the order
 * is not part of the request's meaning, and the test compares by type.
 *
 * The limit (packets), when the rule gives none, is sized from the rule's
 * rate and delay (tc_shape_netem_limit in shape.c) instead of tc's 1000.
 */
#include "tc/nl.h"
#include "base/nlerr.h"
#include "tc/tc.h"

#include <errno.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <netlink/errno.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/tc.h>

#define MAX_DIST (16 * 1024)            /* iproute2's and the kernel's NETEM_DIST_MAX */
#define UNIFORM_SIZE 4096
#define TICKS_MAX_US 274877906ULL       /* UINT32_MAX ticks of 64 ns, in us */

/* Where iproute2 installs its tables.  libnl looks only in /usr/lib/tc,
 * /usr/lib64/tc and /usr/local/lib/tc, none of which Debian uses. */
static const char *const dist_dirs[] = {
#if defined(__x86_64__)
	"/usr/lib/x86_64-linux-gnu/tc",
#elif defined(__aarch64__)
	"/usr/lib/aarch64-linux-gnu/tc",
#endif
	"/usr/lib/tc", "/usr/lib64/tc", "/usr/share/tc", "/usr/local/lib/tc",
};

struct table {
	int16_t *data;
	size_t n;
};

/* tc's get_distribution: numbers (strtol base 0) on lines that do not
 * start with '#', kept as __s16. */
static int read_table(const char *path, struct table *t)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0;
	char *line = NULL;
	int err = 0;

	if (!f)
		return -errno;
	t->data = calloc(MAX_DIST, sizeof(*t->data));
	t->n = 0;
	if (!t->data)
		err = -ENOMEM;
	while (!err && getline(&line, &cap, f) != -1) {
		char *p = line, *end;

		if (*line == '\n' || *line == '#')
			continue;
		for (long x = strtol(p, &end, 0); end != p; x = strtol(p, &end, 0)) {
			if (t->n >= MAX_DIST) {
				err = -E2BIG;
				break;
			}
			t->data[t->n++] = (int16_t)x;
			p = end;
		}
	}
	free(line);
	fclose(f);
	if (!err && !t->n)
		err = -ENODATA;
	if (err) {
		free(t->data);
		t->data = NULL;
	}
	return err;
}

/* Tables are read once per process and kept: they are the same every time
 * and a profile switch should not reread 8 KB per link. */
static int table(enum tc_dist d, const int16_t **data, size_t *n, struct err *e)
{
	static struct table cache[TC_DIST_PARETONORMAL + 1];
	static const char *const names[] = {
		[TC_DIST_NORMAL] = "normal", [TC_DIST_PARETO] = "pareto",
		[TC_DIST_PARETONORMAL] = "paretonormal",
	};
	const char *env = getenv("TC_LIB_DIR");
	char path[512], tried[256] = "";
	int r = -ENOENT;

	if (cache[d].data)
		goto out;
	for (int i = -1; i < (int)(sizeof(dist_dirs) / sizeof(dist_dirs[0])); i++) {
		const char *dir = i < 0 ? env : dist_dirs[i];

		if (!dir || !*dir)
			continue;
		snprintf(path, sizeof(path), "%s/%s.dist", dir, names[d]);
		r = read_table(path, &cache[d]);
		if (r != -ENOENT)
			break;
		snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried), "%s%s",
			 *tried ? ", " : "", dir);
	}
	if (r == -ENOENT) {
		return err_set(e, -r, "distribution %s: no %s.dist in %s (iproute2 installs them)",
			       names[d], names[d], tried);
	}
	if (r) {
		return err_set(e, -r, "distribution %s: %s: %s", names[d], path,
			       r == -E2BIG ? "more than 16384 values" : r == -ENODATA ? "no values" :
			       strerror(-r));
	}
out:
	*data = cache[d].data;
	*n = cache[d].n;
	return 0;
}

/* Uniform in [-1, 1) of the jitter, in netem's table scale (8192 = one
 * jitter).  The kernel draws uniformly itself when it has no table, but a
 * change cannot take a table away, so this stands in for "none". */
static const int16_t *uniform_table(void)
{
	static int16_t t[UNIFORM_SIZE];

	if (!t[0])
		for (int i = 0; i < UNIFORM_SIZE; i++)
			t[i] = (int16_t)(-8190 + 4 * i);
	return t;
}

/* The nested attribute type inside netem's options, or NULL. */
static const struct nlattr *netem_attr(const struct nlattr *opts, uint16_t type)
{
	const char *p = (const char *)mnl_attr_get_payload(opts);
	size_t len = mnl_attr_get_payload_len(opts);
	size_t off = NLA_ALIGN(sizeof(struct tc_netem_qopt));

	while (off + NLA_HDRLEN <= len) {
		const struct nlattr *a = (const void *)(p + off);

		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > len)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		off += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

/* Options netem keeps across a change when the request leaves them out
 * (sch_netem.c netem_change: "if (tb[TCA_NETEM_CORR]) ...").  A zero rate
 * is none, a zero slot no slots (get_slot), ECN 0 off.  The loss model
 * needs nothing: without TCA_NETEM_LOSS netem goes back to random loss. */
static int put_resets(struct tc_msg *m, const struct nlattr *opts)
{
	static const struct {
		uint16_t type;
		size_t len;
	} keep[] = {
		{ TCA_NETEM_CORR, sizeof(struct tc_netem_corr) },
		{ TCA_NETEM_REORDER, sizeof(struct tc_netem_reorder) },
		{ TCA_NETEM_CORRUPT, sizeof(struct tc_netem_corrupt) },
		{ TCA_NETEM_ECN, sizeof(uint32_t) },
		{ TCA_NETEM_SLOT, sizeof(struct tc_netem_slot) },
		{ TCA_NETEM_RATE, sizeof(struct tc_netem_rate) },
	};
	static const char zero[sizeof(struct tc_netem_slot)];
	int err = 0;

	for (size_t i = 0; !err && i < sizeof(keep) / sizeof(keep[0]); i++)
		if (!netem_attr(opts, keep[i].type))
			err = tc_msg_put(m, keep[i].type, keep[i].len, zero);
	return err;
}

/* tc's 1 - x for "1-h": the kernel takes h, the chance of no loss in
 * the bad state, where tc takes the loss. */
static uint32_t one_minus(double pct)
{
	return UINT32_MAX - tc_percent_u32(pct);
}

/* TCA_NETEM_LOSS, nested (with NLA_F_NESTED, as tc): one NETEM_LOSS_GI
 * or _GE holding the model's transition and loss chances. */
static int put_loss_model(struct tc_msg *m, const struct tc_shape *s)
{
	const double *p = s->loss_p;
	struct {
		struct nlattr a;
		union {
			struct tc_netem_gimodel gi;
			struct tc_netem_gemodel ge;
		};
	} in = { 0 };
	size_t len;

	if (s->loss_model == TC_LOSS_STATE) {
		/* The struct's order is not the user's: p14 before p23. */
		in.gi = (struct tc_netem_gimodel){
			.p13 = tc_percent_u32(p[0]), .p31 = tc_percent_u32(p[1]),
			.p32 = tc_percent_u32(p[2]), .p23 = tc_percent_u32(p[3]),
			.p14 = tc_percent_u32(p[4]),
		};
		in.a.nla_type = NETEM_LOSS_GI;
		len = sizeof(in.gi);
	} else {
		in.ge = (struct tc_netem_gemodel){
			.p = tc_percent_u32(p[0]), .r = tc_percent_u32(p[1]),
			.h = one_minus(p[2]), .k1 = tc_percent_u32(p[3]),
		};
		in.a.nla_type = NETEM_LOSS_GE;
		len = sizeof(in.ge);
	}
	in.a.nla_len = (uint16_t)(NLA_HDRLEN + len);
	return tc_msg_put(m, TCA_NETEM_LOSS | NLA_F_NESTED, NLA_HDRLEN + len, &in);
}

/* What libnl cannot say, in tc's order after its own. */
static int put_more(struct tc_msg *m, const struct tc_shape *s)
{
	uint64_t bytes = s->netem_rate_bps / 8;
	uint32_t on = 1;
	int r = 0;

	if (s->ecn)
		r = tc_msg_put(m, TCA_NETEM_ECN, sizeof(on), &on);
	if (!r && s->slot_max_us) {
		struct tc_netem_slot sl = {
			.min_delay = (int64_t)s->slot_min_us * 1000,
			.max_delay = (int64_t)s->slot_max_us * 1000,
			.max_packets = (int32_t)s->slot_packets,
			.max_bytes = (int32_t)s->slot_bytes,
		};

		r = tc_msg_put(m, TCA_NETEM_SLOT, sizeof(sl), &sl);
	}
	if (!r && s->loss_model != TC_LOSS_RANDOM)
		r = put_loss_model(m, s);
	if (!r && s->netem_rate_bps) {
		struct tc_netem_rate rate = {
			.rate = bytes >= (1ULL << 32) ? ~0U : (uint32_t)bytes,
			.packet_overhead = s->packet_overhead,
			.cell_size = s->cell_size,
			.cell_overhead = s->cell_overhead,
		};

		if (bytes >= (1ULL << 32))
			r = tc_msg_put(m, TCA_NETEM_RATE64, sizeof(bytes), &bytes);
		if (!r)
			r = tc_msg_put(m, TCA_NETEM_RATE, sizeof(rate), &rate);
	}
	return r;
}

int tc_netem_build(struct tc_msg *m, int ifindex, const struct tc_shape *s, int flags,
		   bool reset, struct err *e)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	struct rtnl_tc *tc = TC_CAST(q);
	const int16_t *dist = NULL;
	size_t ndist = 0;
	struct nlattr *opts;
	int r;

	m->nlh = NULL;
	if (!q)
		return err_sys(e, ENOMEM, "%s", "");
	rtnl_tc_set_ifindex(tc, ifindex);
	rtnl_tc_set_parent(tc, TC_H_ROOT);
	rtnl_tc_set_handle(tc, TC_NETEM_HANDLE);
	r = nlerr_errno(rtnl_tc_set_kind(tc, "netem"));
	if (r)
		goto out;
	rtnl_netem_set_limit(q, (int)(s->limit ? s->limit : tc_shape_netem_limit(s)));
	/* libnl converts microseconds to ticks the way tc does (us * 15.625,
	 * truncated); past the tick field the 64-bit attribute takes over. */
	if (s->delay_us)
		rtnl_netem_set_delay(q, (int)(s->delay_us < TICKS_MAX_US ? s->delay_us : TICKS_MAX_US));
	if (s->jitter_us)
		rtnl_netem_set_jitter(q, (int)s->jitter_us);
	/* libnl's setters take the kernel's scaled u32 through an int. */
	if (s->loss > 0)
		rtnl_netem_set_loss(q, (int)tc_percent_u32(s->loss));
	if (s->loss_corr > 0)
		rtnl_netem_set_loss_correlation(q, (int)tc_percent_u32(s->loss_corr));
	if (s->duplicate > 0)
		rtnl_netem_set_duplicate(q, (int)tc_percent_u32(s->duplicate));
	if (s->duplicate_corr > 0)
		rtnl_netem_set_duplicate_correlation(q, (int)tc_percent_u32(s->duplicate_corr));
	if (s->reorder > 0)
		rtnl_netem_set_reorder_probability(q, (int)tc_percent_u32(s->reorder));
	if (s->reorder_corr > 0)
		rtnl_netem_set_reorder_correlation(q, (int)tc_percent_u32(s->reorder_corr));
	if (s->corrupt > 0)
		rtnl_netem_set_corruption_probability(q, (int)tc_percent_u32(s->corrupt));
	if (s->corrupt_corr > 0)
		rtnl_netem_set_corruption_correlation(q, (int)tc_percent_u32(s->corrupt_corr));
	if (s->jitter_us && s->dist >= TC_DIST_NORMAL) {
		r = table(s->dist, &dist, &ndist, e);
		if (r)
			goto done;
	} else if (s->jitter_us && reset) {
		dist = uniform_table();
		ndist = UNIFORM_SIZE;
	}
	if (dist && (r = nlerr_errno(rtnl_netem_set_delay_distribution_data(q, dist, ndist))))
		goto out;
	r = tc_msg_qdisc(m, q, RTM_NEWQDISC, flags, 512);
	if (r)
		goto out;
	opts = tc_msg_attr(m->nlh, TCA_OPTIONS);
	if (!opts) {
		r = -EPROTO;
		goto out;
	}
	if (s->delay_us >= TICKS_MAX_US) {
		int64_t ns = (int64_t)s->delay_us * 1000;

		r = tc_msg_put(m, TCA_NETEM_LATENCY64, sizeof(ns), &ns);
	}
	if (!r)
		r = put_more(m, s);
	/* put_resets looks for what is already there: opts must span it. */
	if (!r)
		tc_msg_extend(m, opts);
	if (!r && reset)
		r = put_resets(m, opts);
	if (!r && s->has_seed)
		r = tc_msg_put(m, TC_NETEM_PRNG_SEED, sizeof(s->seed), &s->seed);
	if (!r)
		tc_msg_extend(m, opts);
out:
	if (r)
		err_sys(e, -r, "%s", "");
done:
	if (r && m->nlh)
		tc_msg_free(m);
	rtnl_qdisc_put(q);
	return r;
}

/* libnl's getters return the kernel's u32 through an int, and a small
 * negative -NLE_* when the attribute was not dumped. */
static uint32_t got(int v)
{
	return v < 0 && v > -64 ? 0 : (uint32_t)v;
}

/* The loss model inside a dumped TCA_NETEM_LOSS (netem dumps one only
 * when the model is not random). */
static void read_loss_model(const struct nlattr *loss, struct tc_shape *s)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, loss) {
		size_t len = mnl_attr_get_payload_len(a);
		double *p = s->loss_p;

		if (mnl_attr_get_type(a) == NETEM_LOSS_GI && len >= sizeof(struct tc_netem_gimodel)) {
			struct tc_netem_gimodel gi;

			memcpy(&gi, mnl_attr_get_payload(a), sizeof(gi));
			s->loss_model = TC_LOSS_STATE;
			p[0] = tc_u32_percent(gi.p13), p[1] = tc_u32_percent(gi.p31);
			p[2] = tc_u32_percent(gi.p32), p[3] = tc_u32_percent(gi.p23);
			p[4] = tc_u32_percent(gi.p14);
		} else if (mnl_attr_get_type(a) == NETEM_LOSS_GE && len >= sizeof(struct tc_netem_gemodel)) {
			struct tc_netem_gemodel ge;

			memcpy(&ge, mnl_attr_get_payload(a), sizeof(ge));
			s->loss_model = TC_LOSS_GEMODEL;
			p[0] = tc_u32_percent(ge.p), p[1] = tc_u32_percent(ge.r);
			p[2] = tc_u32_percent(UINT32_MAX - ge.h), p[3] = tc_u32_percent(ge.k1);
		}
	}
}

void tc_netem_read(struct rtnl_qdisc *q, const struct nlattr *opts, struct tc_shape *s)
{
	const struct nlattr *a;

	s->limit = got(rtnl_netem_get_limit(q));
	s->delay_us = got(rtnl_netem_get_delay(q));
	s->jitter_us = got(rtnl_netem_get_jitter(q));
	s->loss = tc_u32_percent(got(rtnl_netem_get_loss(q)));
	s->loss_corr = tc_u32_percent(got(rtnl_netem_get_loss_correlation(q)));
	s->duplicate = tc_u32_percent(got(rtnl_netem_get_duplicate(q)));
	s->duplicate_corr = tc_u32_percent(got(rtnl_netem_get_duplicate_correlation(q)));
	s->reorder = tc_u32_percent(got(rtnl_netem_get_reorder_probability(q)));
	s->reorder_corr = tc_u32_percent(got(rtnl_netem_get_reorder_correlation(q)));
	s->corrupt = tc_u32_percent(got(rtnl_netem_get_corruption_probability(q)));
	s->corrupt_corr = tc_u32_percent(got(rtnl_netem_get_corruption_correlation(q)));
	if (!opts)
		return;
	/* Exact nanoseconds (and past 274 s) where the kernel dumps them. */
	if ((a = netem_attr(opts, TCA_NETEM_LATENCY64)) && mnl_attr_get_payload_len(a) == 8)
		s->delay_us = (mnl_attr_get_u64(a) + 500) / 1000;
	if ((a = netem_attr(opts, TCA_NETEM_JITTER64)) && mnl_attr_get_payload_len(a) == 8)
		s->jitter_us = (mnl_attr_get_u64(a) + 500) / 1000;
	if ((a = netem_attr(opts, TC_NETEM_PRNG_SEED)) && mnl_attr_get_payload_len(a) == 8) {
		s->has_seed = true;
		s->seed = mnl_attr_get_u64(a);
	}
	if ((a = netem_attr(opts, TCA_NETEM_ECN)) && mnl_attr_get_payload_len(a) >= 4)
		s->ecn = mnl_attr_get_u32(a) != 0;
	if ((a = netem_attr(opts, TCA_NETEM_SLOT)) &&
	    mnl_attr_get_payload_len(a) >= sizeof(struct tc_netem_slot)) {
		struct tc_netem_slot sl;

		memcpy(&sl, mnl_attr_get_payload(a), sizeof(sl));
		s->slot_min_us = sl.min_delay > 0 ? ((uint64_t)sl.min_delay + 500) / 1000 : 0;
		s->slot_max_us = sl.max_delay > 0 ? ((uint64_t)sl.max_delay + 500) / 1000 : 0;
		/* The kernel keeps "no cap" as INT_MAX (get_slot) and dumps it. */
		s->slot_packets = sl.max_packets > 0 && sl.max_packets < INT32_MAX ? (uint32_t)sl.max_packets : 0;
		s->slot_bytes = sl.max_bytes > 0 && sl.max_bytes < INT32_MAX ? (uint32_t)sl.max_bytes : 0;
	}
	if ((a = netem_attr(opts, TCA_NETEM_LOSS)))
		read_loss_model(a, s);
	if ((a = netem_attr(opts, TCA_NETEM_RATE)) &&
	    mnl_attr_get_payload_len(a) >= sizeof(struct tc_netem_rate)) {
		struct tc_netem_rate rate;
		uint64_t bytes;

		memcpy(&rate, mnl_attr_get_payload(a), sizeof(rate));
		bytes = rate.rate;
		/* As the kernel takes them: the larger of the two. */
		if ((a = netem_attr(opts, TCA_NETEM_RATE64)) && mnl_attr_get_payload_len(a) == 8 &&
		    mnl_attr_get_u64(a) > bytes)
			bytes = mnl_attr_get_u64(a);
		s->netem_rate_bps = bytes * 8;
		s->packet_overhead = rate.packet_overhead;
		s->cell_size = rate.cell_size;
		s->cell_overhead = rate.cell_overhead;
	}
}

static void put_pct(json_t *o, const char *key, double v)
{
	if (v > 0)
		json_object_set_new(o, key, json_real(v));
}

json_t *tc_netem_params(const struct tc_shape *s)
{
	json_t *p = json_object();
	char seed[24];

	json_object_set_new(p, "limit", json_integer(s->limit));
	if (s->delay_us)
		json_object_set_new(p, "delay_us", json_integer((json_int_t)s->delay_us));
	if (s->jitter_us)
		json_object_set_new(p, "jitter_us", json_integer((json_int_t)s->jitter_us));
	put_pct(p, "loss_pct", s->loss);
	put_pct(p, "loss_corr_pct", s->loss_corr);
	put_pct(p, "duplicate_pct", s->duplicate);
	put_pct(p, "duplicate_corr_pct", s->duplicate_corr);
	put_pct(p, "corrupt_pct", s->corrupt);
	put_pct(p, "corrupt_corr_pct", s->corrupt_corr);
	put_pct(p, "reorder_pct", s->reorder);
	put_pct(p, "reorder_corr_pct", s->reorder_corr);
	/* Flat, as the other words (n3x-ctl tc status prints scalars). */
	if (s->loss_model != TC_LOSS_RANDOM) {
		static const char *const gi[] = { "state_p13_pct", "state_p31_pct", "state_p32_pct",
						  "state_p23_pct", "state_p14_pct" };
		static const char *const ge[] = { "gemodel_p_pct", "gemodel_r_pct", "gemodel_1-h_pct",
						  "gemodel_1-k_pct" };
		bool state = s->loss_model == TC_LOSS_STATE;

		json_object_set_new(p, "loss_model", json_string(state ? "state" : "gemodel"));
		for (int i = 0; i < (state ? 5 : 4); i++)
			json_object_set_new(p, state ? gi[i] : ge[i], json_real(s->loss_p[i]));
	}
	if (s->ecn)
		json_object_set_new(p, "ecn", json_true());
	if (s->slot_max_us) {
		json_object_set_new(p, "slot_min_us", json_integer((json_int_t)s->slot_min_us));
		json_object_set_new(p, "slot_max_us", json_integer((json_int_t)s->slot_max_us));
		if (s->slot_packets)
			json_object_set_new(p, "slot_packets", json_integer(s->slot_packets));
		if (s->slot_bytes)
			json_object_set_new(p, "slot_bytes", json_integer(s->slot_bytes));
	}
	if (s->netem_rate_bps) {
		json_object_set_new(p, "rate_bps", json_integer((json_int_t)s->netem_rate_bps));
		json_object_set_new(p, "packet_overhead", json_integer(s->packet_overhead));
		json_object_set_new(p, "cell_size", json_integer(s->cell_size));
		json_object_set_new(p, "cell_overhead", json_integer(s->cell_overhead));
	}
	/* A string: the kernel's own seeds use all 64 bits, JSON numbers
	 * (and jansson) stop at 63. */
	if (s->has_seed) {
		snprintf(seed, sizeof(seed), "%llu", (unsigned long long)s->seed);
		json_object_set_new(p, "seed", json_string(seed));
	}
	return p;
}

struct probe {
	int netem;      /* 1, 0, -errno */
	bool seed;
};

static void probe_reply(const struct nlmsghdr *h, void *arg)
{
	const struct nlattr *opts = tc_msg_attr(h, TCA_OPTIONS);
	struct probe *p = arg;

	if (h->nlmsg_type == RTM_NEWQDISC && opts && netem_attr(opts, TC_NETEM_PRNG_SEED))
		p->seed = true;
}

/* Runs on its own thread: unshare() moves only this thread into a new,
 * empty network namespace, whose loopback takes the trial netem.  Nothing
 * the caller can see changes, the namespace dies with the thread, and no
 * child process appears for the supervisor's SIGCHLD handling to reap.
 * Asking the kernel is the only answer that covers netem built in, as a
 * module it will load on demand, or missing; /proc/modules and
 * /lib/modules say nothing of the first and are absent on hosts like the
 * one this was written on. */
static void *probe_main(void *arg)
{
	struct tc_shape s = { .has_seed = true, .seed = 1 };
	struct probe *p = arg;
	struct mnl_socket *nl = NULL;
	struct tc_msg m = { 0 };
	int lo, r;

	if (unshare(CLONE_NEWNET) < 0) {
		p->netem = -errno;
		return NULL;
	}
	lo = (int)if_nametoindex("lo");
	r = lo ? tc_nl_open(&nl) : -ENODEV;
	if (!r)
		r = tc_netem_build(&m, lo, &s, NLM_F_CREATE | NLM_F_EXCL, false, NULL);
	if (!r)
		r = tc_nl_talk(nl, m.nlh, NULL, NULL, NULL);
	p->netem = r == 0 ? 1 : r == -ENOENT ? 0 : r;
	if (r == 0) {
		/* The seed took if the kernel dumps it back. */
		char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct tcmsg *t;

		nlh->nlmsg_type = RTM_GETQDISC;
		nlh->nlmsg_flags = NLM_F_ECHO; /* see tc_nl_get */
		t = mnl_nlmsg_put_extra_header(nlh, sizeof(*t));
		t->tcm_ifindex = lo;
		t->tcm_parent = TC_H_ROOT;
		tc_nl_talk(nl, nlh, probe_reply, p, NULL);
	}
	tc_msg_free(&m);
	tc_nl_close(nl);
	return NULL;
}

int tc_netem_caps(bool *seed)
{
	/* Probed once: the answer does not change while we run (a module,
	 * once loaded for the probe, stays). */
	static struct probe known;
	static bool asked;
	struct probe p = { 0 };
	pthread_t th;
	int r;

	if (!asked) {
		r = pthread_create(&th, NULL, probe_main, &p);
		if (r)
			return -r;
		pthread_join(th, NULL);
		if (p.netem < 0)
			return p.netem;
		known = p;
		asked = true;
	}
	if (seed)
		*seed = known.seed;
	return known.netem;
}

int tc_netem_available(void)
{
	return tc_netem_caps(NULL);
}

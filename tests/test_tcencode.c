/* test_tcencode.c - the qdisc requests we build, against iproute2's.
 *
 * tests/data/tc/cases lists rules and the tc arguments that mean the same;
 * tests/data/tc/capture.sh recorded what tc sent for each (NAME.hex; with
 * N3X_REGEN_GOLDEN=1 the test runs it first).  Each
 * request we build for the rule must match tc's attribute by attribute,
 * with the sequence number and ifindex masked.  What tc 6.1 cannot say
 * (seed, delays past 274 s, the reset of a changed netem) is checked
 * against tc's bytes plus the attributes we add.  netem's options after
 * tc_netem_qopt are compared by type: libnl writes the ones it knows in its
 * order and we append the rest, where tc interleaves them; the kernel reads
 * them into a table by type, so both requests mean the same.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tc/nl.h"
#include "tc/rule.h"
#include "tests/golden.h"

#define GOLDEN TEST_DATA "/tc"
#define REPLACE (NLM_F_CREATE | NLM_F_REPLACE)
#define NETEM_QOPT 24 /* sizeof(struct tc_netem_qopt), already aligned */

struct bytes {
	uint8_t *p;
	size_t n;
};

static struct bytes golden(const char *name)
{
	char path[512], line[512];
	struct bytes b = { malloc(65536), 0 };
	FILE *f;

	golden_record(GOLDEN "/capture.sh");
	snprintf(path, sizeof(path), GOLDEN "/%s.hex", name);
	f = fopen(path, "re");
	cr_assert_not_null(f, "%s: %s (run tests/data/tc/capture.sh)", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned v;
		int used;

		if (line[0] == '#')
			continue;
		for (char *p = line; sscanf(p, "%2x%n", &v, &used) == 1; p += used)
			b.p[b.n++] = (uint8_t)v;
	}
	fclose(f);
	return b;
}

struct attr {
	uint16_t type;
	const uint8_t *data;
	size_t len;
};

static int split(const uint8_t *p, size_t len, struct attr *out, int max)
{
	size_t off = 0;
	int n = 0;

	while (off + 4 <= len && n < max) {
		uint16_t alen, type;

		memcpy(&alen, p + off, 2);
		memcpy(&type, p + off + 2, 2);
		if (alen < 4 || off + alen > len)
			return -1;
		out[n++] = (struct attr){ type & NLA_TYPE_MASK, p + off + 4, alen - 4u };
		off += NLA_ALIGN(alen);
	}
	return off == len || off == NLA_ALIGN(len) ? n : -1;
}

static bool all_zero(const struct attr *a)
{
	for (size_t i = 0; i < a->len; i++)
		if (a->data[i])
			return false;
	return true;
}

/* Stable sort by type (a handful of attributes: insertion sort). */
static void by_type(struct attr *a, int n)
{
	for (int i = 1; i < n; i++) {
		struct attr x = a[i];
		int k = i;

		for (; k > 0 && a[k - 1].type > x.type; k--)
			a[k] = a[k - 1];
		a[k] = x;
	}
}

static char diff[512];

/* The first difference between two lists of attributes, into diff. */
static bool same_attrs(const char *where, const struct attr *a, int na, const struct attr *b,
		       int nb)
{
	for (int i = 0; i < na || i < nb; i++) {
		if (i >= na || i >= nb) {
			snprintf(diff, sizeof(diff), "%s: %s has %d more attribute(s), from type %d",
				 where, i >= na ? "tc" : "ours", i >= na ? nb - na : na - nb,
				 i >= na ? b[i].type : a[i].type);
			return false;
		}
		if (a[i].type != b[i].type || a[i].len != b[i].len) {
			snprintf(diff, sizeof(diff), "%s attribute %d: ours type %d len %zu, tc type %d len %zu",
				 where, i, a[i].type, a[i].len, b[i].type, b[i].len);
			return false;
		}
		for (size_t k = 0; k < a[i].len; k++)
			if (a[i].data[k] != b[i].data[k]) {
				snprintf(diff, sizeof(diff), "%s attribute type %d byte %zu: ours %02x, tc %02x",
					 where, a[i].type, k, a[i].data[k], b[i].data[k]);
				return false;
			}
	}
	return true;
}

/* Compare ours with tc's; false with the reason in diff. */
static bool same_request(const uint8_t *o, size_t on, const uint8_t *t, size_t tn, bool netem)
{
	struct attr oa[16], ta[16], on_[16], tn_[16];
	int noa, nta, non, ntn, dropped = 0;
	size_t hdr = NLMSG_LENGTH(sizeof(struct tcmsg));
	struct nlmsghdr oh, th;
	struct tcmsg ot, tt;

	if (on < hdr || tn < hdr)
		return snprintf(diff, sizeof(diff), "short request: ours %zu, tc %zu", on, tn), false;
	memcpy(&oh, o, sizeof(oh));
	memcpy(&th, t, sizeof(th));
	if (oh.nlmsg_type != th.nlmsg_type || oh.nlmsg_flags != th.nlmsg_flags || oh.nlmsg_pid != th.nlmsg_pid)
		return snprintf(diff, sizeof(diff), "nlmsghdr: ours type %u flags %#x, tc type %u flags %#x",
				oh.nlmsg_type, oh.nlmsg_flags, th.nlmsg_type, th.nlmsg_flags), false;
	memcpy(&ot, o + NLMSG_HDRLEN, sizeof(ot));
	memcpy(&tt, t + NLMSG_HDRLEN, sizeof(tt));
	ot.tcm_ifindex = tt.tcm_ifindex = 0; /* masked: lo in tc's namespace, 1 in ours */
	if (memcmp(&ot, &tt, sizeof(ot)))
		return snprintf(diff, sizeof(diff), "tcmsg: ours handle %#x parent %#x, tc handle %#x parent %#x",
				ot.tcm_handle, ot.tcm_parent, tt.tcm_handle, tt.tcm_parent), false;
	noa = split(o + hdr, oh.nlmsg_len - hdr, oa, 16);
	nta = split(t + hdr, th.nlmsg_len - hdr, ta, 16);
	if (noa < 0 || nta < 0)
		return snprintf(diff, sizeof(diff), "malformed attributes (%s)", noa < 0 ? "ours" : "tc"), false;
	if (noa != 2 || nta != 2 || oa[1].type != TCA_OPTIONS || ta[1].type != TCA_OPTIONS)
		return same_attrs("top level", oa, noa, ta, nta);
	if (!same_attrs("top level", oa, 1, ta, 1))
		return false;
	if (netem) {
		if (oa[1].len < NETEM_QOPT || ta[1].len < NETEM_QOPT)
			return snprintf(diff, sizeof(diff), "netem options shorter than tc_netem_qopt"), false;
		for (size_t k = 0; k < NETEM_QOPT; k++)
			if (oa[1].data[k] != ta[1].data[k]) {
				static const char *const field[] = { "latency", "limit", "loss", "gap",
								     "duplicate", "jitter" };
				return snprintf(diff, sizeof(diff), "tc_netem_qopt.%s: ours %02x, tc %02x at byte %zu",
						field[k / 4], oa[1].data[k], ta[1].data[k], k), false;
			}
	}
	size_t skip = netem ? NETEM_QOPT : 0;

	non = split(oa[1].data + skip, oa[1].len - skip, on_, 16);
	ntn = split(ta[1].data + skip, ta[1].len - skip, tn_, 16);
	if (non < 0 || ntn < 0)
		return snprintf(diff, sizeof(diff), "malformed options (%s)", non < 0 ? "ours" : "tc"), false;
	/* tc sends an all-zero TCA_NETEM_CORR for a reorder or corrupt
	 * correlation; libnl leaves it out; a new netem's are zero anyway. */
	if (netem && ntn > 0 && tn_[0].type == TCA_NETEM_CORR && all_zero(&tn_[0]) &&
	    (non == 0 || on_[0].type != TCA_NETEM_CORR)) {
		memmove(tn_, tn_ + 1, --ntn * sizeof(tn_[0]));
		dropped = NLA_HDRLEN + sizeof(struct tc_netem_corr);
	}
	if (netem) {
		by_type(on_, non);
		by_type(tn_, ntn);
	}
	if (!same_attrs("options", on_, non, tn_, ntn))
		return false;
	if (oh.nlmsg_len + dropped != th.nlmsg_len || on != oh.nlmsg_len)
		return snprintf(diff, sizeof(diff), "length: ours %u (buffer %zu), tc %u", oh.nlmsg_len, on,
				th.nlmsg_len), false;
	return true;
}

static int build(const char *kind, const struct tc_shape *s, struct tc_msg *m, struct err *e)
{
	if (!strcmp(kind, "netem"))
		return tc_netem_build(m, 1, s, REPLACE, false, e);
	if (!strcmp(kind, "tbf"))
		return tc_tbf_build(m, 1, TC_H_ROOT, TC_TBF_HANDLE, s, false, REPLACE, e);
	return tc_tbf_build(m, 1, TC_NETEM_CLASS, TC_TBF_CHILD, s, true, REPLACE, e);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'); e--)
		;
	*e = '\0';
	return s;
}

Test(tcencode, every_case_matches_tc)
{
	FILE *f = fopen(GOLDEN "/cases", "re");
	char line[1024];
	int cases = 0;

	cr_assert_not_null(f, "%s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *name, *kind, *rule, *save = NULL;
		struct err err = { 0 };
		struct tc_rule r;
		struct tc_msg m;
		struct bytes g;

		if (line[0] == '#' || !strchr(line, '|'))
			continue;
		name = trim(strtok_r(line, "|", &save));
		kind = trim(strtok_r(NULL, "|", &save));
		rule = trim(strtok_r(NULL, "|", &save));
		cr_assert_eq(tc_rule_parse(rule, &r, &err), 0, "%s: %s", name, err.msg);
		cr_assert_eq(build(kind, &r.to_vm, &m, &err), 0, "%s: %s", name, err.msg);
		g = golden(name);
		cr_expect(same_request((uint8_t *)m.nlh, m.nlh->nlmsg_len, g.p, g.n, !strcmp(kind, "netem")),
			  "%s (%s): %s", name, rule, diff);
		free(g.p);
		tc_msg_free(&m);
		cases++;
	}
	fclose(f);
	cr_expect_geq(cases, 40, "only %d cases", cases);
}

/* Ours for rule; its TCA_OPTIONS nested attributes (after the qopt). */
static struct tc_msg netem(const char *rule, bool reset)
{
	struct err err = { 0 };
	struct tc_rule r;
	struct tc_msg m;

	cr_assert_eq(tc_rule_parse(rule, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(tc_netem_build(&m, 1, &r.to_vm, REPLACE, reset, &err), 0, "%s", err.msg);
	return m;
}

static int options(const struct tc_msg *m, struct attr *out, int max)
{
	struct nlattr *o = tc_msg_attr(m->nlh, TCA_OPTIONS);

	cr_assert_not_null(o);
	return split((uint8_t *)o + NLA_HDRLEN + NETEM_QOPT, o->nla_len - NLA_HDRLEN - NETEM_QOPT, out, max);
}

static const struct attr *find(const struct attr *a, int n, uint16_t type)
{
	for (int i = 0; i < n; i++)
		if (a[i].type == type)
			return &a[i];
	return NULL;
}

/* tc 6.1 has no "seed": our request is tc's without it plus the seed. */
Test(tcencode, seed_is_tcs_request_plus_prng_seed)
{
	struct tc_msg m = netem("delay 50ms seed 42", false);
	struct bytes g = golden("netem_delay");
	struct attr a[8];
	int n = options(&m, a, 8);
	uint64_t seed;

	cr_assert_eq(n, 1);
	cr_assert_eq(a[0].type, TC_NETEM_PRNG_SEED);
	cr_assert_eq(a[0].len, 8);
	memcpy(&seed, a[0].data, 8);
	cr_expect_eq(seed, 42);
	/* Everything before the seed is tc's, once the lengths are too. */
	cr_assert_eq(m.nlh->nlmsg_len, g.n + 12);
	tc_msg_attr(m.nlh, TCA_OPTIONS)->nla_len -= 12;
	m.nlh->nlmsg_len -= 12;
	cr_expect(same_request((uint8_t *)m.nlh, m.nlh->nlmsg_len, g.p, g.n, true), "%s", diff);
	free(g.p);
	tc_msg_free(&m);
}

Test(tcencode, delay_past_the_tick_field_adds_latency64)
{
	struct tc_msg m = netem("delay 300s", false);
	struct tc_netem_qopt q;
	struct attr a[8];
	int n = options(&m, a, 8);
	int64_t ns;

	memcpy(&q, (uint8_t *)tc_msg_attr(m.nlh, TCA_OPTIONS) + NLA_HDRLEN, sizeof(q));
	/* The tick field holds as much as it can, for kernels before 4.15. */
	cr_expect_gt(q.latency, 0xfffff000u);
	cr_assert_eq(n, 1);
	cr_assert_eq(a[0].type, TCA_NETEM_LATENCY64);
	memcpy(&ns, a[0].data, 8);
	cr_expect_eq(ns, 300000000000LL);
	tc_msg_free(&m);
}

/* A change must not inherit what the old netem had: every option that
 * netem keeps when left out is stated. */
Test(tcencode, reset_states_what_netem_would_keep)
{
	struct tc_msg m = netem("delay 50ms jitter 10ms", true);
	struct attr a[12];
	const struct attr *d;
	int n = options(&m, a, 12);

	cr_assert_geq(n, 4);
	for (uint16_t t = TCA_NETEM_CORR; t <= TCA_NETEM_CORRUPT; t++) {
		if (t == TCA_NETEM_DELAY_DIST)
			continue;
		cr_assert_not_null(find(a, n, t), "type %d missing", t);
		cr_expect(all_zero(find(a, n, t)), "type %d not zero", t);
	}
	/* netem keeps ECN, slots and its rate too when left out. */
	for (uint16_t t = TCA_NETEM_RATE; t <= TCA_NETEM_SLOT; t++) {
		if (t != TCA_NETEM_RATE && t != TCA_NETEM_ECN && t != TCA_NETEM_SLOT)
			continue;
		cr_assert_not_null(find(a, n, t), "type %d missing", t);
		cr_expect(all_zero(find(a, n, t)), "type %d not zero", t);
	}
	cr_expect_null(find(a, n, TCA_NETEM_LOSS), "no loss model: netem goes back to random by itself");
	d = find(a, n, TCA_NETEM_DELAY_DIST);
	cr_assert_not_null(d, "no uniform table replaces an old distribution");
	cr_expect_eq(d->len, 4096 * 2);
	tc_msg_free(&m);

	/* What the rule sets is not overwritten by a reset. */
	m = netem("loss 1% 25%", true);
	n = options(&m, a, 12);
	int corr = 0;

	for (int i = 0; i < n; i++)
		corr += a[i].type == TCA_NETEM_CORR;
	cr_expect_eq(corr, 1, "TCA_NETEM_CORR given %d times", corr);
	cr_expect_not(all_zero(find(a, n, TCA_NETEM_CORR)));
	/* Without jitter a table does nothing: none is sent. */
	cr_expect_null(find(a, n, TCA_NETEM_DELAY_DIST));
	tc_msg_free(&m);

	m = netem("loss 1% ecn slot 5ms rate 1mbit 0", true);
	n = options(&m, a, 12);
	for (uint16_t t = TCA_NETEM_RATE; t <= TCA_NETEM_SLOT; t++) {
		int count = 0;

		if (t != TCA_NETEM_RATE && t != TCA_NETEM_ECN && t != TCA_NETEM_SLOT)
			continue;
		for (int i = 0; i < n; i++)
			count += a[i].type == t;
		cr_expect_eq(count, 1, "type %d given %d times", t, count);
		cr_expect_not(all_zero(find(a, n, t)), "type %d zeroed by the reset", t);
	}
	tc_msg_free(&m);
}

/* The loss models' numbers as the kernel reads them (sch_netem.c
 * get_loss_clg): gemodel's third is h, the chance of no loss in the bad
 * state, where the rule (and tc) says 1-h; the 4-state struct has p14
 * before p23.  The goldens hold tc's bytes; this says what they mean. */
Test(tcencode, loss_models_in_the_kernels_terms)
{
	struct tc_msg m = netem("loss gemodel 10% 25% 90% 1%", false);
	struct tc_netem_gemodel ge;
	struct tc_netem_gimodel gi;
	const struct attr *l;
	struct attr a[8], in[2];
	int n = options(&m, a, 8);

	l = find(a, n, TCA_NETEM_LOSS);
	cr_assert_not_null(l);
	cr_assert_eq(split(l->data, l->len, in, 2), 1);
	cr_assert_eq(in[0].type, NETEM_LOSS_GE);
	cr_assert_eq(in[0].len, sizeof(ge));
	memcpy(&ge, in[0].data, sizeof(ge));
	cr_expect_eq(ge.p, tc_percent_u32(10));
	cr_expect_eq(ge.r, tc_percent_u32(25));
	cr_expect_eq(ge.h, UINT32_MAX - tc_percent_u32(90));
	cr_expect_eq(ge.k1, tc_percent_u32(1));
	tc_msg_free(&m);

	m = netem("loss state 2% 25% 10% 30% 1%", false);
	n = options(&m, a, 8);
	l = find(a, n, TCA_NETEM_LOSS);
	cr_assert_not_null(l);
	cr_assert_eq(split(l->data, l->len, in, 2), 1);
	cr_assert_eq(in[0].type, NETEM_LOSS_GI);
	memcpy(&gi, in[0].data, sizeof(gi));
	cr_expect_eq(gi.p13, tc_percent_u32(2));
	cr_expect_eq(gi.p31, tc_percent_u32(25));
	cr_expect_eq(gi.p32, tc_percent_u32(10));
	cr_expect_eq(gi.p23, tc_percent_u32(30));
	cr_expect_eq(gi.p14, tc_percent_u32(1));
	tc_msg_free(&m);
}

/* The limit in tc_netem_qopt: the rule's, or the one sized from rate x
 * delay (the goldens check more; these are the rule's corners). */
Test(tcencode, netem_limit_is_sized_from_rate_and_delay)
{
	static const struct {
		const char *rule;
		uint32_t limit;
	} t[] = {
		{ "delay 5ms", 1000 },                      /* 826 at 1 Gbit/s: tc's 1000 stays */
		{ "rate 100mbit delay 500ms", 8257 },       /* the case: 4128 frames in flight */
		{ "rate 100mbit delay 400ms jitter 100ms", 8257 },
		{ "rate 100mbit slot 250ms delay 250ms", 8257 },
		{ "rate 100mbit 0 delay 500ms", 8257 },     /* netem's own rate counts the same */
		{ "delay 500ms", 82563 },                   /* no rate: 1 Gbit/s */
		{ "rate 100mbit delay 500ms limit 100", 100 }, /* the rule's own wins */
		{ "rate 10mbit delay 20ms", 1000 },
		{ "delay 3600s", 594451784 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct tc_msg m = netem(t[i].rule, false);
		struct tc_netem_qopt q;

		memcpy(&q, (uint8_t *)tc_msg_attr(m.nlh, TCA_OPTIONS) + NLA_HDRLEN, sizeof(q));
		cr_expect_eq(q.limit, t[i].limit, "%s: limit %u, want %u", t[i].rule, q.limit, t[i].limit);
		tc_msg_free(&m);
	}
}

/* Tables come from iproute2's files: TC_LIB_DIR first, as tc reads it. */
Test(tcencode, distribution_table_from_tc_lib_dir)
{
	char dir[] = "/tmp/n3x-tcdist-XXXXXX", path[64];
	const struct attr *d;
	struct attr a[8];
	struct tc_msg m;
	int16_t v[4];
	FILE *f;
	int n;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/normal.dist", dir);
	f = fopen(path, "we");
	fputs("# a comment\n -5 0x10 7\n\n-32768\n", f);
	fclose(f);
	setenv("TC_LIB_DIR", dir, 1);
	m = netem("delay 10ms jitter 1ms distribution normal", false);
	unlink(path);
	rmdir(dir);
	n = options(&m, a, 8);
	d = find(a, n, TCA_NETEM_DELAY_DIST);
	cr_assert_not_null(d);
	cr_assert_eq(d->len, sizeof(v));
	memcpy(v, d->data, sizeof(v));
	cr_expect(v[0] == -5 && v[1] == 16 && v[2] == 7 && v[3] == -32768,
		  "%d %d %d %d", v[0], v[1], v[2], v[3]);
	tc_msg_free(&m);
}

Test(tcencode, tbf_refuses_a_bucket_the_kernel_cannot_hold)
{
	struct tc_shape s = { .rate_bps = 8, .burst_bytes = 1 << 20 };
	struct err err = { 0 };
	struct tc_msg m;

	cr_expect_eq(tc_tbf_build(&m, 1, TC_H_ROOT, TC_TBF_HANDLE, &s, false, REPLACE, &err), -EINVAL);
	cr_expect(strstr(err.msg, "too large for rate"), "%s", err.msg);
}

Test(tcencode, tbf_defaults)
{
	struct tc_shape s = { .rate_bps = 1000000000, .limit = 3000 };
	uint32_t burst, limit;

	tc_tbf_defaults(&s, false, &burst, &limit);
	cr_expect_eq(burst, 1250000);
	cr_expect_eq(limit, 3000, "rate-only: limit is tbf's, in bytes");
	tc_tbf_defaults(&s, true, &burst, &limit);
	cr_expect_eq(limit, 1250000 + 6250000, "under netem the limit is netem's");
}

Test(tcencode, percent_scaling_is_tcs)
{
	/* tc: rint(p / 100 * UINT32_MAX). */
	cr_expect_eq(tc_percent_u32(1), 42949673u);
	cr_expect_eq(tc_percent_u32(50), 2147483648u);
	cr_expect_eq(tc_percent_u32(100), UINT32_MAX);
	cr_expect_eq(tc_percent_u32(0), 0);
	cr_expect_float_eq(tc_u32_percent(42949673u), 1.0, 1e-9);
	cr_expect_float_eq(tc_u32_percent(tc_percent_u32(0.1)), 0.1, 1e-9);
}

/* tc_netem_read parses what the kernel dumps, which has the layout of the
 * request (tc_netem_qopt, then the attributes): our own requests read back
 * give the words they were built from.  What only the kernel does (no slot
 * cap dumped as INT_MAX) is patched in. */
Test(tcencode, netem_options_read_back)
{
	static const char *const rules[] = {
		"loss gemodel 10% 25% 90% 1% ecn", "loss state 2% 25% 10% 30% 1%",
		"slot 10ms 30ms packets 4 bytes 3000", "rate 1mbit 20 100 -30 delay 5ms",
		"rate 40gbit -14", "loss 5% 25% ecn slot 2ms",
	};
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();

	cr_assert_not_null(q);
	cr_assert_eq(rtnl_tc_set_kind(TC_CAST(q), "netem"), 0);
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		struct tc_msg m = netem(rules[i], false);
		struct tc_shape got = { 0 }, want;
		struct err err = { 0 };
		struct tc_rule r;

		cr_assert_eq(tc_rule_parse(rules[i], &r, &err), 0);
		want = r.to_vm;
		tc_netem_read(q, tc_msg_attr(m.nlh, TCA_OPTIONS), &got);
		/* libnl's part (delay, loss...) comes from q, not read here. */
		got.delay_us = want.delay_us;
		got.loss = want.loss;
		got.loss_corr = want.loss_corr;
		cr_expect(tc_shape_same(&want, &got), "%s", rules[i]);
		tc_msg_free(&m);
	}

	struct tc_msg m = netem("slot 5ms", false);
	struct nlattr *o = tc_msg_attr(m.nlh, TCA_OPTIONS);
	struct attr a[8];
	int n = options(&m, a, 8);
	const struct attr *sl = find(a, n, TCA_NETEM_SLOT);
	struct tc_netem_slot raw;
	struct tc_shape got = { 0 };

	cr_assert_not_null(sl);
	memcpy(&raw, sl->data, sizeof(raw));
	raw.max_packets = INT_MAX;
	raw.max_bytes = INT_MAX;
	memcpy((uint8_t *)sl->data, &raw, sizeof(raw));
	tc_netem_read(q, o, &got);
	cr_expect(got.slot_min_us == 5000 && got.slot_max_us == 5000);
	cr_expect(got.slot_packets == 0 && got.slot_bytes == 0, "INT_MAX is no cap");
	tc_msg_free(&m);
	rtnl_qdisc_put(q);
}

/* What status shows of them (tc_link_dump's params). */
Test(tcencode, netem_params_name_the_new_words)
{
	struct tc_rule r;
	struct err err = { 0 };
	json_t *p;

	cr_assert_eq(tc_rule_parse("loss gemodel 10% 25% ecn slot 10ms 30ms packets 4 rate 1mbit 20", &r,
				   &err), 0);
	p = tc_netem_params(&r.to_vm);
	cr_expect_str_eq(json_string_value(json_object_get(p, "loss_model")), "gemodel");
	cr_expect_float_eq(json_real_value(json_object_get(p, "gemodel_r_pct")), 25, 1e-9);
	cr_expect_float_eq(json_real_value(json_object_get(p, "gemodel_1-h_pct")), 100, 1e-9);
	cr_expect(json_is_true(json_object_get(p, "ecn")));
	cr_expect_eq(json_integer_value(json_object_get(p, "slot_max_us")), 30000);
	cr_expect_eq(json_integer_value(json_object_get(p, "slot_packets")), 4);
	cr_expect_null(json_object_get(p, "slot_bytes"));
	cr_expect_eq(json_integer_value(json_object_get(p, "rate_bps")), 1000000);
	cr_expect_eq(json_integer_value(json_object_get(p, "packet_overhead")), 20);
	json_decref(p);
}

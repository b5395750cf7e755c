/* shape.c - what a parsed shape means: whether it needs netem, the limit
 * netem gets, whether a shape read back is the one applied, and the text
 * status prints for it (which tc_rule_parse reads back as the same shape).
 * rule.c turns text into shapes.
 */
#include "tc/rule.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LIMIT_FRAME 1514 /* the frame netem's derived limit counts in */
#define LIMIT_RATE 1e9   /* bit/s assumed for it when the rule has no rate */
#define LIMIT_MIN 1000   /* tc's default */

static const char *const dist_names[] = {
	[TC_DIST_NONE] = "", [TC_DIST_UNIFORM] = "uniform", [TC_DIST_NORMAL] = "normal",
	[TC_DIST_PARETO] = "pareto", [TC_DIST_PARETONORMAL] = "paretonormal",
};

bool tc_shape_needs_netem(const struct tc_shape *s)
{
	/* seed is not here: it only steers netem's randomness, so a rate-only
	 * shape with a fabric-wide seed still runs on tbf alone. */
	return s->delay_us || s->jitter_us || s->dist != TC_DIST_NONE || s->loss > 0 ||
	       s->loss_model != TC_LOSS_RANDOM || s->duplicate > 0 || s->corrupt > 0 ||
	       s->reorder > 0 || s->slot_max_us || s->netem_rate_bps || s->ecn;
}

const char *tc_shape_netem_word(const struct tc_shape *s)
{
	return s->delay_us ? "delay" : s->jitter_us ? "jitter" :
	       s->loss > 0 || s->loss_model != TC_LOSS_RANDOM ? "loss" :
	       s->duplicate > 0 ? "duplicate" : s->corrupt > 0 ? "corrupt" :
	       s->reorder > 0 ? "reorder" : s->slot_max_us ? "slot" :
	       s->netem_rate_bps ? "rate with an overhead" : s->ecn ? "ecn" : "distribution";
}

/* netem holds each packet for its delay, so at a steady rate it holds
 * rate x delay bytes: 100 Mbit/s x 500 ms is 4128 full frames, four times
 * the 1000 packets tc (and the kernel) give netem by default, and a rule
 * that says "delay 500ms" would drop where the user asked for none.  The
 * limit is therefore sized from the rule:
 *  - rate: the rule's, tbf's or netem's own; without one 1 Gbit/s, the
 *    Ethernet of the boards the cluster emulates (a VM can send faster,
 *    but then the link is not what the rule describes anyway);
 *  - time: delay + jitter + the longest slot, the most a packet waits in
 *    netem (a distribution's tail can wait longer; the doubling covers it);
 *  - frames of 1514 bytes, the largest the link carries without GSO; small
 *    packets at the full rate need a limit of their own;
 *  - doubled: netem sits before tbf (egress.c), so during TCP's slow start
 *    packets arrive at up to twice the rate tbf lets out, and the place a
 *    packet should be dropped then is tbf's queue, the bottleneck's;
 *  - never below tc's 1000.
 * Only the packets in flight use memory, not the limit: a generous limit
 * costs nothing while the traffic stays within the rule. */
uint32_t tc_shape_netem_limit(const struct tc_shape *s)
{
	double bps = s->rate_bps ? (double)s->rate_bps : s->netem_rate_bps ? (double)s->netem_rate_bps :
		     LIMIT_RATE;
	double us = (double)s->delay_us + (double)s->jitter_us + (double)s->slot_max_us;
	double n = 2 * bps / 8 * us / 1e6 / LIMIT_FRAME;
	uint32_t whole;

	if (n <= LIMIT_MIN)
		return LIMIT_MIN;
	if (n >= UINT32_MAX)
		return UINT32_MAX;
	whole = (uint32_t)n;
	return whole < n ? whole + 1 : whole;
}

static bool close_to(double a, double b, double slack)
{
	return a - b <= slack && b - a <= slack;
}

bool tc_shape_same(const struct tc_shape *want, const struct tc_shape *got)
{
	const double pct = 1e-4; /* netem keeps percentages as u32 fractions */
	bool same = close_to((double)want->rate_bps, (double)got->rate_bps, 8) &&
		    close_to((double)want->delay_us, (double)got->delay_us, 1) &&
		    close_to((double)want->jitter_us, (double)got->jitter_us, 1) &&
		    close_to(want->loss, got->loss, pct) && close_to(want->loss_corr, got->loss_corr, pct) &&
		    close_to(want->duplicate, got->duplicate, pct) &&
		    close_to(want->duplicate_corr, got->duplicate_corr, pct) &&
		    close_to(want->corrupt, got->corrupt, pct) &&
		    close_to(want->corrupt_corr, got->corrupt_corr, pct) &&
		    close_to(want->reorder, got->reorder, pct) &&
		    close_to(want->reorder_corr, got->reorder_corr, pct) &&
		    (!want->limit || want->limit == got->limit) &&
		    (!want->burst_bytes ||
		     close_to(want->burst_bytes, got->burst_bytes, want->burst_bytes / 100. + 2)) &&
		    (!want->has_seed || (got->has_seed && want->seed == got->seed)) &&
		    want->loss_model == got->loss_model && want->ecn == got->ecn &&
		    close_to((double)want->slot_min_us, (double)got->slot_min_us, 1) &&
		    close_to((double)want->slot_max_us, (double)got->slot_max_us, 1) &&
		    want->slot_packets == got->slot_packets && want->slot_bytes == got->slot_bytes &&
		    close_to((double)want->netem_rate_bps, (double)got->netem_rate_bps, 8) &&
		    want->packet_overhead == got->packet_overhead && want->cell_size == got->cell_size &&
		    want->cell_overhead == got->cell_overhead;

	for (int i = 0; same && want->loss_model != TC_LOSS_RANDOM && i < TC_LOSS_PARAMS; i++)
		same = close_to(want->loss_p[i], got->loss_p[i], pct);
	return same;
}

bool tc_shape_empty(const struct tc_shape *s)
{
	return !s->rate_bps && !tc_shape_needs_netem(s);
}

/* tc's print_rate: the largest unit that keeps the number whole, or under
 * a thousand of the next one. */
static void put_rate(char *buf, size_t size, uint64_t bps)
{
	static const char *const units[] = { "", "K", "M", "G", "T" };
	int i;

	for (i = 0; i < 4; i++) {
		if (bps < 1000 || (bps % 1000 && bps < 1000 * 1000))
			break;
		bps /= 1000;
	}
	snprintf(buf, size, "%" PRIu64 "%sbit", bps, units[i]);
}

/* tc's sprint_size: MiB or KiB when within a KiB or 16 bytes of one. */
static void put_size(char *buf, size_t size, uint32_t sz)
{
	uint64_t mb = ((uint64_t)sz + 524288) >> 20, kb = ((uint64_t)sz + 512) >> 10;
	int64_t dmb = (int64_t)sz - (int64_t)(mb << 20), dkb = (int64_t)sz - (int64_t)(kb << 10);

	if (sz >= 1048576 && dmb < 1024 && dmb > -1024)
		snprintf(buf, size, "%" PRIu64 "Mb", mb);
	else if (sz >= 1024 && dkb < 16 && dkb > -16)
		snprintf(buf, size, "%" PRIu64 "Kb", kb);
	else
		snprintf(buf, size, "%" PRIu32 "b", sz);
}

/* tc's sprint_time. */
static void put_time(char *buf, size_t size, uint64_t us)
{
	if (us >= 1000000)
		snprintf(buf, size, "%.3gs", us / 1e6);
	else if (us >= 1000)
		snprintf(buf, size, "%.3gms", us / 1e3);
	else
		snprintf(buf, size, "%" PRIu64 "us", us);
}

struct out {
	char *buf;
	size_t size, len;
};

/* Append one word (or word and value), blank-separated. */
__attribute__((format(printf, 2, 3)))
static void add(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len && o->len + 1 < o->size)
		o->buf[o->len++] = ' ', o->buf[o->len] = '\0';
	if (o->len + 1 >= o->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void add_prob(struct out *o, const char *word, double pct, double corr)
{
	if (pct <= 0)
		return;
	add(o, "%s %g%%", word, pct);
	if (corr > 0)
		add(o, "%g%%", corr);
}

char *tc_shape_format(const struct tc_shape *s, char *buf, size_t size)
{
	struct out o = { buf, size, 0 };
	char v[32];

	if (!size)
		return buf;
	buf[0] = '\0';
	if (s->rate_bps) {
		put_rate(v, sizeof(v), s->rate_bps);
		add(&o, "rate %s", v);
	}
	/* netem's rate as tc prints it, but with the overhead always there:
	 * without it, it would read back as tbf's. */
	if (s->netem_rate_bps) {
		put_rate(v, sizeof(v), s->netem_rate_bps);
		add(&o, "rate %s packetoverhead %" PRId32, v, s->packet_overhead);
		if (s->cell_size)
			add(&o, "cellsize %" PRIu32, s->cell_size);
		if (s->cell_overhead)
			add(&o, "celloverhead %" PRId32, s->cell_overhead);
	}
	if (s->burst_bytes) {
		put_size(v, sizeof(v), s->burst_bytes);
		add(&o, "burst %s", v);
	}
	if (s->limit)
		add(&o, "limit %" PRIu32, s->limit);
	if (s->delay_us) {
		put_time(v, sizeof(v), s->delay_us);
		add(&o, "delay %s", v);
	}
	if (s->jitter_us) {
		put_time(v, sizeof(v), s->jitter_us);
		add(&o, "jitter %s", v);
	}
	if (s->dist != TC_DIST_NONE)
		add(&o, "distribution %s", dist_names[s->dist]);
	add_prob(&o, "loss", s->loss, s->loss_corr);
	if (s->loss_model != TC_LOSS_RANDOM) {
		const double *p = s->loss_p;

		/* Every parameter: the defaults of the later ones depend on
		 * the first, and a reader should not have to know them. */
		if (s->loss_model == TC_LOSS_STATE)
			add(&o, "loss state %g%% %g%% %g%% %g%% %g%%", p[0], p[1], p[2], p[3], p[4]);
		else
			add(&o, "loss gemodel %g%% %g%% %g%% %g%%", p[0], p[1], p[2], p[3]);
	}
	if (s->ecn)
		add(&o, "ecn");
	add_prob(&o, "duplicate", s->duplicate, s->duplicate_corr);
	add_prob(&o, "corrupt", s->corrupt, s->corrupt_corr);
	add_prob(&o, "reorder", s->reorder, s->reorder_corr);
	if (s->slot_max_us) {
		char w[32];

		put_time(v, sizeof(v), s->slot_min_us);
		put_time(w, sizeof(w), s->slot_max_us);
		add(&o, "slot %s %s", v, w);
		if (s->slot_packets)
			add(&o, "packets %" PRIu32, s->slot_packets);
		if (s->slot_bytes) {
			put_size(v, sizeof(v), s->slot_bytes);
			add(&o, "bytes %s", v);
		}
	}
	if (s->has_seed)
		add(&o, "seed %" PRIu64, s->seed);
	return buf;
}

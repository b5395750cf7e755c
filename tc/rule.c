/* rule.c - the impairment rule language (see rule.h).
 *
 * Words and units follow iproute2's tc (tc/q_netem.c, tc/q_tbf.c,
 * lib/utils_math.c) so a line copied from a tc command means the same here,
 * with three deliberate differences, each to turn a silent surprise into an
 * error: a time or a rate needs its unit (tc reads "delay 50" as 50 us and
 * "rate 10" as 10 bit/s), a word may be given once per direction, and a
 * burst below one Ethernet frame is refused (tbf would drop every full-size
 * packet, where tc only warns in the kernel log).
 *
 * One word reads as tc reads it only with its overhead: "rate".  A bare
 * "rate 10mbit" is tbf's (a token bucket, with "burst" and a byte queue,
 * see egress.c), as Mininet's; netem's own rate emulation, which charges
 * each packet its length plus an overhead (in cells, with a cell size)
 * and queues inside netem, is asked for as tc-netem(8) spells its extra
 * numbers, "rate 10mbit 20 [48 [4]]", or with the words tc prints for
 * them, "rate 10mbit packetoverhead 20 cellsize 48 celloverhead 4".
 * shape.c says what a parsed shape means and prints it.
 */
#include "tc/rule.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One bit per word, to catch repeats and to merge the parts. */
enum {
	W_RATE = 1 << 0, W_BURST = 1 << 1, W_LIMIT = 1 << 2, W_DELAY = 1 << 3,
	W_JITTER = 1 << 4, W_DIST = 1 << 5, W_LOSS = 1 << 6, W_DUP = 1 << 7,
	W_CORRUPT = 1 << 8, W_REORDER = 1 << 9, W_SEED = 1 << 10, W_SLOT = 1 << 11,
	W_ECN = 1 << 12,
};

#define MAX_DELAY_US (3600ULL * 1000000)   /* an hour: anything longer is a typo */
#define MAX_JITTER_US 2147483ULL           /* netem caps jitter at INT_MAX ns */
#define MIN_BURST 1514                     /* one Ethernet frame with its header */
#define MIN_OVERHEAD (-42)                 /* an ARP frame: the shortest a VM sends */
#define MAX_OVERHEAD 65535

struct part {
	struct tc_shape s;
	unsigned seen;
};

struct parser {
	char **w;       /* the words */
	int n, i;       /* count, next */
	struct err *e;
};

static const char *const dist_names[] = {
	[TC_DIST_NONE] = "", [TC_DIST_UNIFORM] = "uniform", [TC_DIST_NORMAL] = "normal",
	[TC_DIST_PARETO] = "pareto", [TC_DIST_PARETONORMAL] = "paretonormal",
};

__attribute__((format(printf, 2, 3)))
static int fail(struct parser *p, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(p->e, EINVAL, "%s", msg);
}

/* tc's NEXT_IS_NUMBER: an optional positional value follows. */
static bool next_is_number(const struct parser *p)
{
	return p->i < p->n && (isdigit((unsigned char)p->w[p->i][0]) || p->w[p->i][0] == '.');
}

/* A non-negative finite decimal and what follows it.  strtod alone would
 * also take "inf", "nan", hex and a sign. */
static int number(const char *s, double *v, const char **unit)
{
	char *end;

	if (!isdigit((unsigned char)s[0]) && s[0] != '.')
		return -1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return -1;
	*v = strtod(s, &end);
	if (end == s || !(*v <= DBL_MAX))
		return -1;
	*unit = end;
	return 0;
}

struct unit {
	const char *name;
	double scale;
};

static int scaled(const char *s, const struct unit *units, bool bare_ok, double *out)
{
	const char *u;
	double v;

	if (number(s, &v, &u))
		return -1;
	if (!*u) {
		*out = v;
		return bare_ok ? 0 : -1;
	}
	for (; units->name; units++)
		if (!strcasecmp(u, units->name)) {
			*out = v * units->scale;
			return 0;
		}
	return -1;
}

/* Rates as lib/utils_math.c get_rate64 reads them, in bit/s; "Bps" forms
 * are bytes, so kbps is 8000 bit/s, as in tc. */
static const struct unit rate_units[] = {
	{ "bit", 1. }, { "kbit", 1e3 }, { "mbit", 1e6 }, { "gbit", 1e9 }, { "tbit", 1e12 },
	{ "kibit", 1024. }, { "mibit", 1048576. }, { "gibit", 1073741824. },
	{ "tibit", 1099511627776. },
	{ "bps", 8. }, { "kbps", 8e3 }, { "mbps", 8e6 }, { "gbps", 8e9 }, { "tbps", 8e12 },
	{ "kibps", 8. * 1024 }, { "mibps", 8. * 1048576 }, { "gibps", 8. * 1073741824 },
	{ "tibps", 8. * 1099511627776. },
	{ NULL, 0 }
};

/* Times in microseconds, as get_time. */
static const struct unit time_units[] = {
	{ "us", 1. }, { "usec", 1. }, { "usecs", 1. }, { "ms", 1e3 }, { "msec", 1e3 },
	{ "msecs", 1e3 }, { "s", 1e6 }, { "sec", 1e6 }, { "secs", 1e6 }, { NULL, 0 }
};

/* Sizes in bytes, as get_size: k/kb are KiB and kbit is 128 bytes. */
static const struct unit size_units[] = {
	{ "b", 1. }, { "k", 1024. }, { "kb", 1024. }, { "m", 1048576. }, { "mb", 1048576. },
	{ "g", 1073741824. }, { "gb", 1073741824. }, { "kbit", 128. }, { "mbit", 131072. },
	{ "gbit", 134217728. }, { NULL, 0 }
};

static const char *value(struct parser *p, const char *word)
{
	if (p->i >= p->n) {
		fail(p, "%s needs a value", word);
		return NULL;
	}
	return p->w[p->i++];
}

static int get_rate(struct parser *p, uint64_t *bps)
{
	const char *v = value(p, "rate");
	double r;

	if (!v)
		return -EINVAL;
	if (scaled(v, rate_units, false, &r))
		return fail(p, "bad rate \"%s\" (use 10mbit, 1gbit, 500kbit)", v);
	/* tc sends bytes per second: less than 8 bit/s is no rate at all. */
	if (r < 8 || r > 1.8e19)
		return fail(p, "rate \"%s\" is out of range", v);
	*bps = (uint64_t)r;
	return 0;
}

static int get_time(struct parser *p, const char *word, uint64_t max, uint64_t *us)
{
	const char *v = value(p, word);
	double t;

	if (!v)
		return -EINVAL;
	if (scaled(v, time_units, false, &t))
		return fail(p, "bad %s \"%s\" (use 50ms, 500us, 1s)", word, v);
	/* Rounded, where tc truncates: "4.35ms" is 4350 us, not 4349.  The
	 * maximum itself is allowed ("delay 3600s", and the "3.6e+03s" that
	 * tc_shape_format prints for it). */
	if (t >= (double)max + 0.5)
		return fail(p, "%s \"%s\" is too long (at most %.4gs)", word, v, max / 1e6);
	*us = (uint64_t)(t + 0.5);
	return 0;
}

static int get_size(struct parser *p, const char *word, uint32_t *bytes)
{
	const char *v = value(p, word);
	double b;

	if (!v)
		return -EINVAL;
	if (scaled(v, size_units, true, &b) || b < 1 || b > UINT32_MAX)
		return fail(p, "bad %s \"%s\" (use 1000, 32kb, 1mb)", word, v);
	*bytes = (uint32_t)b;
	return 0;
}

static int percent(struct parser *p, const char *word, const char *v, double *pct)
{
	const char *u;

	if (number(v, pct, &u) || (*u && strcmp(u, "%")))
		return fail(p, "bad %s \"%s\" (use 1%%, 0.1%%, 25%%)", word, v);
	if (*pct > 100)
		return fail(p, "%s \"%s\" is over 100%%", word, v);
	return 0;
}

/* "loss 1% [25%]": a probability and, as in tc, an optional correlation. */
static int get_prob(struct parser *p, const char *word, double *pct, double *corr)
{
	const char *v = value(p, word);
	int err;

	if (!v)
		return -EINVAL;
	if ((err = percent(p, word, v, pct)))
		return err;
	if (next_is_number(p))
		return percent(p, word, p->w[p->i++], corr);
	return 0;
}

/* A decimal integer in [min, max], optionally signed (no hex: tc takes
 * "0x10" as 16 here but nowhere else a user would look). */
static int integer(struct parser *p, const char *word, const char *v, long min, long max, long *out)
{
	const char *d = v + (*v == '-' || *v == '+');
	char *end;

	errno = 0;
	*out = strtol(v, &end, 10);
	if (!isdigit((unsigned char)*d) || *end || errno)
		return fail(p, "bad %s \"%s\" (use a whole number)", word, v);
	if (*out < min || *out > max)
		return fail(p, "%s \"%s\" is out of range (%ld to %ld)", word, v, min, max);
	return 0;
}

/* A signed number comes next (tc's NEXT_IS_NUMBER in q_netem.c, which
 * takes a sign): netem rate's positional overhead may be negative. */
static bool next_is_signed(const struct parser *p)
{
	const char *v = p->i < p->n ? p->w[p->i] : "";

	return isdigit((unsigned char)v[*v == '-' || *v == '+']);
}

/* "loss state P13 [P31 [P32 [P23 [P14]]]]" and "loss gemodel P [R [1-H
 * [1-K]]]", read as tc reads them: each later number optional, the
 * defaults tc sets (rule.h).  The names are for messages. */
static int get_model(struct parser *p, struct tc_shape *s, enum tc_loss_model m)
{
	static const char *const state[] = { "p13", "p31", "p32", "p23", "p14" };
	static const char *const ge[] = { "p", "r", "1-h", "1-k" };
	const char *const *names = m == TC_LOSS_STATE ? state : ge;
	int n = m == TC_LOSS_STATE ? 5 : 4, err;
	char what[32];
	double *v = s->loss_p;
	const char *w;

	s->loss_model = m;
	snprintf(what, sizeof(what), "loss %s %s", m == TC_LOSS_STATE ? "state" : "gemodel", names[0]);
	if (!(w = value(p, what)) || (err = percent(p, what, w, &v[0])))
		return w ? err : -EINVAL;
	if (m == TC_LOSS_STATE) {
		v[1] = 100 - v[0], v[2] = 0, v[3] = 100, v[4] = 0;
	} else {
		v[1] = 100 - v[0], v[2] = 100, v[3] = 0;
	}
	for (int i = 1; i < n && next_is_number(p); i++) {
		snprintf(what, sizeof(what), "loss %s %s", m == TC_LOSS_STATE ? "state" : "gemodel",
			 names[i]);
		if ((err = percent(p, what, p->w[p->i++], &v[i])))
			return err;
	}
	/* netem draws one number against the chances of leaving a state
	 * together (sch_netem.c loss_4state): past 100 % they overlap. */
	if (m == TC_LOSS_STATE && v[0] + v[4] > 100)
		return fail(p, "loss state: p13 %g%% and p14 %g%% add up to over 100%% (the chances of "
			    "leaving state 1)", v[0], v[4]);
	if (m == TC_LOSS_STATE && v[1] + v[2] > 100)
		return fail(p, "loss state: p31 %g%% and p32 %g%% add up to over 100%% (the chances of "
			    "leaving state 3)", v[1], v[2]);
	return 0;
}

static int get_loss(struct parser *p, struct tc_shape *s)
{
	const char *v = p->i < p->n ? p->w[p->i] : "";

	if (!strcmp(v, "state") || !strcmp(v, "gemodel")) {
		p->i++;
		return get_model(p, s, *v == 's' ? TC_LOSS_STATE : TC_LOSS_GEMODEL);
	}
	/* tc's "loss random P" spells out the default model. */
	if (!strcmp(v, "random"))
		p->i++;
	return get_prob(p, "loss", &s->loss, &s->loss_corr);
}

/* "slot MIN [MAX] [packets N] [bytes B]", as tc: MAX defaults to MIN. */
static int get_slot(struct parser *p, struct tc_shape *s)
{
	bool packets = false, bytes = false;
	long n;
	int err;

	if ((err = get_time(p, "slot", MAX_DELAY_US, &s->slot_min_us)))
		return err;
	s->slot_max_us = s->slot_min_us;
	if (next_is_number(p) && (err = get_time(p, "slot", MAX_DELAY_US, &s->slot_max_us)))
		return err;
	if (s->slot_max_us < s->slot_min_us)
		return fail(p, "slot %s is shorter than %s (use slot MIN MAX)", p->w[p->i - 1],
			    p->w[p->i - 2]);
	if (!s->slot_max_us)
		return fail(p, "slot needs a time above 0 (netem takes slot 0 as no slots)");
	while (p->i < p->n && ((!packets && !strcmp(p->w[p->i], "packets")) ||
			       (!bytes && !strcmp(p->w[p->i], "bytes")))) {
		const char *v;
		uint32_t b;

		if (!strcmp(p->w[p->i++], "packets")) {
			packets = true;
			if (!(v = value(p, "slot packets")))
				return -EINVAL;
			if ((err = integer(p, "slot packets", v, 1, INT32_MAX, &n)))
				return err;
			s->slot_packets = (uint32_t)n;
			continue;
		}
		bytes = true;
		if ((err = get_size(p, "slot bytes", &b)))
			return err;
		/* The kernel's field is an int. */
		if (b > INT32_MAX)
			return fail(p, "slot bytes \"%s\" is out of range (at most 2gb)", p->w[p->i - 1]);
		s->slot_bytes = b;
	}
	return 0;
}

/* netem's own rate, after "rate RATE": tc-netem(8)'s positional
 * "PACKETOVERHEAD [CELLSIZE [CELLOVERHEAD]]", or the words tc prints for
 * them ("packetoverhead N cellsize N celloverhead N", each optional, in
 * that order).  Returns 1 when there was one, 0 when the rate is tbf's. */
static int get_netem_rate(struct parser *p, struct tc_shape *s)
{
	static const char *const names[] = { "packetoverhead", "cellsize", "celloverhead" };
	static const long lo[] = { MIN_OVERHEAD, 0, -MAX_OVERHEAD };
	long v[3] = { 0, 0, 0 };
	bool any = false, named = p->i < p->n && !next_is_signed(p);
	int err;

	for (int k = 0; k < 3 && p->i < p->n; k++) {
		const char *w;

		if (named) {
			if (strcmp(p->w[p->i], names[k]))
				continue;
			p->i++;
			if (!(w = value(p, names[k])))
				return -EINVAL;
		} else if (next_is_signed(p)) {
			w = p->w[p->i++];
		} else {
			break;
		}
		if ((err = integer(p, names[k], w, lo[k], MAX_OVERHEAD, &v[k])))
			return err;
		any = true;
	}
	if (!any)
		return 0;
	if (v[2] && !v[1])
		return fail(p, "celloverhead needs a cellsize");
	if (v[1] && v[1] + v[2] <= 0)
		return fail(p, "cellsize %ld with celloverhead %ld leaves no bytes to a cell", v[1], v[2]);
	s->netem_rate_bps = s->rate_bps;
	s->rate_bps = 0;
	s->packet_overhead = (int32_t)v[0];
	s->cell_size = (uint32_t)v[1];
	s->cell_overhead = (int32_t)v[2];
	return 1;
}

static int get_dist(struct parser *p, enum tc_dist *d)
{
	const char *v = value(p, "distribution");

	if (!v)
		return -EINVAL;
	for (int i = TC_DIST_UNIFORM; i <= TC_DIST_PARETONORMAL; i++)
		if (!strcmp(v, dist_names[i])) {
			*d = i;
			return 0;
		}
	return fail(p, "bad distribution \"%s\" (use normal, pareto, paretonormal, uniform)", v);
}

static int get_seed(struct parser *p, uint64_t *seed)
{
	const char *v = value(p, "seed");
	char *end;

	if (!v)
		return -EINVAL;
	errno = 0;
	*seed = strtoull(v, &end, 10);
	if (!isdigit((unsigned char)v[0]) || *end || errno)
		return fail(p, "bad seed \"%s\" (use a number, 0 to 18446744073709551615)", v);
	return 0;
}

static const struct {
	const char *name;
	unsigned bit;
} words[] = {
	{ "rate", W_RATE }, { "burst", W_BURST }, { "limit", W_LIMIT }, { "delay", W_DELAY },
	{ "jitter", W_JITTER }, { "distribution", W_DIST }, { "loss", W_LOSS },
	{ "duplicate", W_DUP }, { "corrupt", W_CORRUPT }, { "reorder", W_REORDER },
	{ "seed", W_SEED }, { "slot", W_SLOT }, { "ecn", W_ECN },
};

static const char *word_name(unsigned bit)
{
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (words[i].bit == bit)
			return words[i].name;
	return "?";
}

static int word(struct parser *p, struct part *pt, const char *prefix)
{
	const char *w = p->w[p->i++];
	struct tc_shape *s = &pt->s;
	unsigned bit = 0;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(w, words[i].name))
			bit = words[i].bit;
	if (!bit)
		return fail(p, "unknown word \"%s\" (rule words: rate burst limit delay jitter "
			    "distribution loss duplicate corrupt reorder slot ecn seed, to-vm: "
			    "from-vm:)", w);
	if (pt->seen & bit)
		return fail(p, "%s given twice%s%s", w, prefix ? " after " : "", prefix ?: "");
	pt->seen |= bit;
	switch (bit) {
	case W_RATE: {
		int err = get_rate(p, &s->rate_bps);

		return err ? err : get_netem_rate(p, s) < 0 ? -EINVAL : 0;
	}
	case W_BURST:   return get_size(p, "burst", &s->burst_bytes);
	case W_LIMIT:   return get_size(p, "limit", &s->limit);
	case W_JITTER:  return get_time(p, "jitter", MAX_JITTER_US, &s->jitter_us);
	case W_DIST:    return get_dist(p, &s->dist);
	case W_LOSS:    return get_loss(p, s);
	case W_SLOT:    return get_slot(p, s);
	case W_ECN:
		s->ecn = true;
		return 0;
	case W_DUP:     return get_prob(p, "duplicate", &s->duplicate, &s->duplicate_corr);
	case W_CORRUPT: return get_prob(p, "corrupt", &s->corrupt, &s->corrupt_corr);
	case W_REORDER: return get_prob(p, "reorder", &s->reorder, &s->reorder_corr);
	case W_SEED:
		s->has_seed = true;
		return get_seed(p, &s->seed);
	case W_DELAY: {
		int err = get_time(p, "delay", MAX_DELAY_US, &s->delay_us);

		/* tc's "delay 50ms 10ms": a second time is the jitter. */
		if (!err && next_is_number(p)) {
			if (pt->seen & W_JITTER)
				return fail(p, "jitter given twice");
			pt->seen |= W_JITTER;
			err = get_time(p, "jitter", MAX_JITTER_US, &s->jitter_us);
		}
		return err;
	}
	}
	return -EINVAL;
}

/* Words of the shared part first, then those after the prefix; a word in
 * both is an error rather than a silent override. */
static int merge(struct parser *p, const struct part *both, const struct part *dir,
		 const char *prefix, struct tc_shape *out)
{
	const struct tc_shape *d = &dir->s;
	unsigned common = both->seen & dir->seen;

	if (common) {
		unsigned bit = common & -common;

		return fail(p, "%s is given for both directions and again after %s",
			    word_name(bit), prefix);
	}
	*out = both->s;
	if (dir->seen & W_RATE) {
		out->rate_bps = d->rate_bps, out->netem_rate_bps = d->netem_rate_bps;
		out->packet_overhead = d->packet_overhead, out->cell_size = d->cell_size;
		out->cell_overhead = d->cell_overhead;
	}
	if (dir->seen & W_BURST)   out->burst_bytes = d->burst_bytes;
	if (dir->seen & W_LIMIT)   out->limit = d->limit;
	if (dir->seen & W_DELAY)   out->delay_us = d->delay_us;
	if (dir->seen & W_JITTER)  out->jitter_us = d->jitter_us;
	if (dir->seen & W_DIST)    out->dist = d->dist;
	if (dir->seen & W_LOSS) {
		out->loss = d->loss, out->loss_corr = d->loss_corr, out->loss_model = d->loss_model;
		memcpy(out->loss_p, d->loss_p, sizeof(out->loss_p));
	}
	if (dir->seen & W_DUP)     out->duplicate = d->duplicate, out->duplicate_corr = d->duplicate_corr;
	if (dir->seen & W_CORRUPT) out->corrupt = d->corrupt, out->corrupt_corr = d->corrupt_corr;
	if (dir->seen & W_REORDER) out->reorder = d->reorder, out->reorder_corr = d->reorder_corr;
	if (dir->seen & W_SEED)    out->has_seed = true, out->seed = d->seed;
	if (dir->seen & W_ECN)     out->ecn = true;
	if (dir->seen & W_SLOT) {
		out->slot_min_us = d->slot_min_us, out->slot_max_us = d->slot_max_us;
		out->slot_packets = d->slot_packets, out->slot_bytes = d->slot_bytes;
	}
	return 0;
}

/* The rules tc and the kernel would apply, checked on the merged shape so
 * "delay 5ms from-vm: reorder 1%" is fine and "reorder 1% to-vm: delay 5ms"
 * is not (from-vm has no delay). */
static int check(struct parser *p, const struct tc_shape *s, unsigned seen, const char *dir)
{
	const char *in = dir ? " (" : "", *out = dir ? ")" : "";

	if (!dir)
		dir = "";
	if (s->reorder > 0 && !s->delay_us)
		return fail(p, "reorder needs delay%s%s%s", in, dir, out);
	if (s->jitter_us && !s->delay_us)
		return fail(p, "jitter needs delay%s%s%s", in, dir, out);
	if (s->dist != TC_DIST_NONE && !s->jitter_us)
		return fail(p, "distribution needs jitter%s%s%s", in, dir, out);
	if ((seen & W_BURST) && s->netem_rate_bps)
		return fail(p, "burst needs tbf's rate: netem's (rate with an overhead) has no bucket%s%s%s",
			    in, dir, out);
	if ((seen & W_BURST) && !s->rate_bps)
		return fail(p, "burst needs rate%s%s%s", in, dir, out);
	/* tc: "ecn requested without loss model". */
	if (s->ecn && s->loss <= 0 && s->loss_model == TC_LOSS_RANDOM)
		return fail(p, "ecn needs loss (it marks the packets loss would drop)%s%s%s", in, dir, out);
	/* With rate alone, limit is tbf's queue in bytes: below a frame it
	 * would drop every full-size packet. */
	if ((seen & W_LIMIT) && s->rate_bps && !tc_shape_needs_netem(s) && s->limit < MIN_BURST)
		return fail(p, "limit %" PRIu32 " is below one Ethernet frame (%d bytes): with rate "
			    "alone, limit is tbf's queue in bytes", s->limit, MIN_BURST);
	if ((seen & W_BURST) && s->burst_bytes < MIN_BURST)
		return fail(p, "burst %" PRIu32 " is below one Ethernet frame (%d bytes): tbf would "
			    "drop every full-size packet", s->burst_bytes, MIN_BURST);
	return 0;
}

int tc_rule_parse(const char *text, struct tc_rule *out, struct err *e)
{
	struct part parts[3] = { 0 }; /* both, to-vm, from-vm */
	struct parser p = { .e = e };
	struct part *cur = &parts[0];
	char *copy = strdup(text ?: ""), *save = NULL, *tok;
	const char *prefix = NULL;
	int ret = 0, cap = 16;

	memset(out, 0, sizeof(*out));
	p.w = malloc(cap * sizeof(*p.w));
	if (!copy || !p.w) {
		ret = -ENOMEM;
		goto out;
	}
	for (tok = strtok_r(copy, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (p.n == cap) {
			char **w = realloc(p.w, (cap *= 2) * sizeof(*w));

			if (!w) {
				ret = -ENOMEM;
				goto out;
			}
			p.w = w;
		}
		p.w[p.n++] = tok;
	}
	if (!p.n) {
		ret = fail(&p, "empty rule (use e.g. \"rate 10mbit delay 5ms\")");
		goto out;
	}
	while (!ret && p.i < p.n) {
		const char *w = p.w[p.i];
		int idx = !strcmp(w, "to-vm:") ? 1 : !strcmp(w, "from-vm:") ? 2 : 0;

		if (!idx) {
			ret = word(&p, cur, prefix);
			continue;
		}
		p.i++;
		if (parts[idx].seen & (1u << 31)) {
			ret = fail(&p, "%s given twice", w);
			break;
		}
		parts[idx].seen |= 1u << 31;
		cur = &parts[idx];
		prefix = w;
		if (p.i == p.n || !strcmp(p.w[p.i], "to-vm:") || !strcmp(p.w[p.i], "from-vm:"))
			ret = fail(&p, "%s needs words after it", w);
	}
	for (int i = 0; i < 3; i++)
		parts[i].seen &= ~(1u << 31);
	if (!ret)
		ret = merge(&p, &parts[0], &parts[1], "to-vm:", &out->to_vm);
	if (!ret)
		ret = merge(&p, &parts[0], &parts[2], "from-vm:", &out->from_vm);
	if (!ret && !parts[1].seen && !parts[2].seen)
		ret = check(&p, &out->to_vm, parts[0].seen, NULL);
	else if (!ret) {
		ret = check(&p, &out->to_vm, parts[0].seen | parts[1].seen, "to-vm:");
		if (!ret)
			ret = check(&p, &out->from_vm, parts[0].seen | parts[2].seen, "from-vm:");
	}
	/* limit and seed refine a shape; a direction that has only them is
	 * left alone, but a rule made of nothing else is a mistake. */
	if (!ret && tc_shape_empty(&out->to_vm) && tc_shape_empty(&out->from_vm)) {
		unsigned all = parts[0].seen | parts[1].seen | parts[2].seen;

		ret = fail(&p, "%s shapes nothing (add rate, delay or loss)",
			   all & W_LIMIT ? "limit alone" : all & W_SEED ? "seed alone" : "this rule");
	}
out:
	if (ret == -ENOMEM)
		err_set(e, ENOMEM, "out of memory");
	if (ret)
		memset(out, 0, sizeof(*out));
	free(p.w);
	free(copy);
	return ret;
}

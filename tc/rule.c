/* rule.c - the impairment rule language (see rule.h).
 *
 * Words and units follow iproute2's tc (tc/q_netem.c, tc/q_tbf.c,
 * lib/utils_math.c) so a line copied from a tc command means the same here,
 * with three deliberate differences, each to turn a silent surprise into an
 * error: a time or a rate needs its unit (tc reads "delay 50" as 50 us and
 * "rate 10" as 10 bit/s), a word may be given once per direction, and a
 * burst below one Ethernet frame is refused (tbf would drop every full-size
 * packet, where tc only warns in the kernel log).
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
	W_CORRUPT = 1 << 8, W_REORDER = 1 << 9, W_SEED = 1 << 10,
};

#define MAX_DELAY_US (3600ULL * 1000000)   /* an hour: anything longer is a typo */
#define MAX_JITTER_US 2147483ULL           /* netem caps jitter at INT_MAX ns */
#define MIN_BURST 1514                     /* one Ethernet frame with its header */

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
	{ "seed", W_SEED },
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
			    "distribution loss duplicate corrupt reorder seed, to-vm: from-vm:)", w);
	if (pt->seen & bit)
		return fail(p, "%s given twice%s%s", w, prefix ? " after " : "", prefix ?: "");
	pt->seen |= bit;
	switch (bit) {
	case W_RATE:    return get_rate(p, &s->rate_bps);
	case W_BURST:   return get_size(p, "burst", &s->burst_bytes);
	case W_LIMIT:   return get_size(p, "limit", &s->limit);
	case W_JITTER:  return get_time(p, "jitter", MAX_JITTER_US, &s->jitter_us);
	case W_DIST:    return get_dist(p, &s->dist);
	case W_LOSS:
		/* tc's "loss random P" spells out the only loss model we take. */
		if (p->i < p->n && !strcmp(p->w[p->i], "random"))
			p->i++;
		return get_prob(p, "loss", &s->loss, &s->loss_corr);
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
	if (dir->seen & W_RATE)    out->rate_bps = d->rate_bps;
	if (dir->seen & W_BURST)   out->burst_bytes = d->burst_bytes;
	if (dir->seen & W_LIMIT)   out->limit = d->limit;
	if (dir->seen & W_DELAY)   out->delay_us = d->delay_us;
	if (dir->seen & W_JITTER)  out->jitter_us = d->jitter_us;
	if (dir->seen & W_DIST)    out->dist = d->dist;
	if (dir->seen & W_LOSS)    out->loss = d->loss, out->loss_corr = d->loss_corr;
	if (dir->seen & W_DUP)     out->duplicate = d->duplicate, out->duplicate_corr = d->duplicate_corr;
	if (dir->seen & W_CORRUPT) out->corrupt = d->corrupt, out->corrupt_corr = d->corrupt_corr;
	if (dir->seen & W_REORDER) out->reorder = d->reorder, out->reorder_corr = d->reorder_corr;
	if (dir->seen & W_SEED)    out->has_seed = true, out->seed = d->seed;
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
	if ((seen & W_BURST) && !s->rate_bps)
		return fail(p, "burst needs rate%s%s%s", in, dir, out);
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

bool tc_shape_needs_netem(const struct tc_shape *s)
{
	/* seed is not here: it only steers netem's randomness, so a rate-only
	 * shape with a fabric-wide seed still runs on tbf alone. */
	return s->delay_us || s->jitter_us || s->dist != TC_DIST_NONE || s->loss > 0 ||
	       s->duplicate > 0 || s->corrupt > 0 || s->reorder > 0;
}

const char *tc_shape_netem_word(const struct tc_shape *s)
{
	return s->delay_us ? "delay" : s->jitter_us ? "jitter" : s->loss > 0 ? "loss" :
	       s->duplicate > 0 ? "duplicate" : s->corrupt > 0 ? "corrupt" :
	       s->reorder > 0 ? "reorder" : "distribution";
}

bool tc_shape_empty(const struct tc_shape *s)
{
	return !s->rate_bps && !tc_shape_needs_netem(s);
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
	add_prob(&o, "duplicate", s->duplicate, s->duplicate_corr);
	add_prob(&o, "corrupt", s->corrupt, s->corrupt_corr);
	add_prob(&o, "reorder", s->reorder, s->reorder_corr);
	if (s->has_seed)
		add(&o, "seed %" PRIu64, s->seed);
	return buf;
}

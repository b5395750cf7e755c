/* verifyfmt.c - tc verify's verdicts and output (verify.h); no sockets. */
#include "ctl/verify.h"

#include <stdarg.h>
#include <string.h>

/* n3x-ctl does not link libm for these. */
static double root(double x)
{
	double r = x > 1 ? x : 1;

	if (x <= 0)
		return 0;
	for (int i = 0; i < 64; i++)
		r = (r + x / r) / 2;
	return r;
}

static json_int_t near(double x)
{
	return (json_int_t)(x < 0 ? x - 0.5 : x + 0.5);
}

static double absval(double x)
{
	return x < 0 ? -x : x;
}

const char *verify_verdict_name(enum verify_verdict v)
{
	switch (v) {
	case VERIFY_OK: return "ok";
	case VERIFY_OFF: return "off";
	case VERIFY_BROKEN: return "broken";
	default: return "unmeasured";
	}
}

void verify_loss_bounds(int n, double loss_pct, double *lo, double *hi)
{
	double p = loss_pct / 100, mean = n * p, sd = root(n * p * (1 - p));

	*lo = mean - VERIFY_LOSS_Z * sd - 1;
	*hi = mean + VERIFY_LOSS_Z * sd + 1;
	if (*lo < 0)
		*lo = 0;
	if (*hi > n)
		*hi = n;
}

/* Add one reason and raise the verdict to at least v. */
__attribute__((format(printf, 3, 4)))
static void reason(struct verify_dir *d, enum verify_verdict v, const char *fmt, ...)
{
	size_t len = strlen(d->why);
	va_list ap;

	if (v > d->verdict)
		d->verdict = v;
	if (len && len + 2 < sizeof(d->why)) {
		strcpy(d->why + len, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(d->why + len, sizeof(d->why) - len, fmt, ap);
	va_end(ap);
}

static void judge_rate(struct verify_dir *d)
{
	const struct verify_asked *a = &d->asked;
	double got = d->m.rate_bps, want = a->rate_bps;

	if (!d->m.rated) {
		if (want > 0)
			reason(d, VERIFY_UNMEASURED, "rate not measured: %s", d->m.rate_note);
		return;
	}
	if (want <= 0)
		return; /* nothing asked: the rate is shown, not judged */
	if (got > want * VERIFY_BROKEN_RATE)
		reason(d, VERIFY_BROKEN, "rate %.3g Mbit/s is %.1fx the %.3g asked: not shaped", got / 1e6,
		       got / want, want / 1e6);
	else if (got > want * (1 + VERIFY_RATE_TOL))
		reason(d, VERIFY_OFF, "rate %.3g Mbit/s is over the %.3g asked by more than 10%%", got / 1e6,
		       want / 1e6);
	else if (got < want * (1 - VERIFY_RATE_TOL) && a->loss_pct == 0)
		/* With loss asked too, TCP backs off below the rate: only its
		 * ceiling says anything about the shaper. */
		reason(d, VERIFY_OFF, "rate %.3g Mbit/s is under the %.3g asked by more than 10%%", got / 1e6,
		       want / 1e6);
}

static void judge_probes(struct verify_dir *d)
{
	const struct verify_asked *a = &d->asked;
	const struct verify_measured *m = &d->m;
	double lo, hi;

	if (!m->probed) {
		if (a->delay_us > 0 || a->loss_pct > 0)
			reason(d, VERIFY_UNMEASURED, "delay and loss not measured: %s", m->probe_note);
		return;
	}
	if (m->entered == 0) {
		reason(d, VERIFY_UNMEASURED, "no probe reached the link in this direction%s%s",
		       m->probe_note[0] ? ": " : "", m->probe_note);
		return;
	}
	if (m->lost == m->entered && (a->loss_bursty || a->loss_pct < 100)) {
		reason(d, VERIFY_BROKEN, "all %d probes lost", m->entered);
		return;
	}
	verify_loss_bounds(m->entered, a->loss_pct, &lo, &hi);
	if (!a->loss_bursty && (m->lost < lo || m->lost > hi))
		reason(d, VERIFY_OFF, "%d of %d probes lost (%.2g%%), outside %d..%d for loss %.3g%%", m->lost,
		       m->entered, 100.0 * m->lost / m->entered, (int)(lo + 0.999999), (int)hi, a->loss_pct);
	if (!a->delay_unjudged && m->lost < m->entered && absval(m->delay_us - a->delay_us) > VERIFY_DELAY_TOL_US) {
		bool none = a->delay_us >= 2 * VERIFY_DELAY_TOL_US && m->delay_us < a->delay_us / 2;

		reason(d, none ? VERIFY_BROKEN : VERIFY_OFF, "delay %.1f ms, not %.1f ms +-5%s", m->delay_us / 1e3,
		       a->delay_us / 1e3, none ? ": not delayed" : "");
	}
}

void verify_judge(struct verify_dir *d)
{
	d->verdict = VERIFY_OK;
	d->why[0] = '\0';
	if (!d->m.probed && !d->m.rated) {
		/* Nothing measured is never ok, even with nothing asked. */
		reason(d, VERIFY_UNMEASURED, "not measured: %s",
		       d->m.probe_note[0] ? d->m.probe_note : d->m.rate_note[0] ? d->m.rate_note : "no reason given");
		return;
	}
	judge_probes(d);
	judge_rate(d);
	if (d->asked.rule[0] && d->asked.kernel_empty)
		reason(d, VERIFY_BROKEN, "the kernel holds no qdisc for it");
}

void verify_judge_link(struct verify_link *l)
{
	verify_judge(&l->dir[0]);
	verify_judge(&l->dir[1]);
	l->verdict = l->dir[0].verdict > l->dir[1].verdict ? l->dir[0].verdict : l->dir[1].verdict;
}

void verify_asked_from(const json_t *p, struct verify_asked *a)
{
	const json_t *k = json_object_get(p, "kernel");

	memset(a, 0, sizeof(*a));
	snprintf(a->rule, sizeof(a->rule), "%s", json_string_value(json_object_get(p, "rule")) ?: "");
	a->rate_bps = json_number_value(json_object_get(p, "rate_bps"));
	a->delay_us = json_number_value(json_object_get(p, "delay_us"));
	a->jitter_us = json_number_value(json_object_get(p, "jitter_us"));
	a->loss_pct = json_number_value(json_object_get(p, "loss_pct"));
	/* A mean the supervisor could not work out: bursty all the same. */
	a->loss_bursty = json_is_true(json_object_get(p, "loss_bursty")) ||
			 json_is_null(json_object_get(p, "loss_pct"));
	a->delay_unjudged = json_is_false(json_object_get(p, "delay_judged"));
	/* null: the kernel could not be read; that is not "empty". */
	a->kernel_empty = json_is_array(k) && json_array_size(k) == 0;
}

/* "9.87 Mbit/s, delay 0.21 ms (jitter 0.05), lost 0/200" */
static void measured_text(const struct verify_measured *m, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	if (m->rated)
		len += snprintf(buf + len, size - len, "%.3g Mbit/s", m->rate_bps / 1e6);
	if (m->probed && len < size && m->entered) {
		len += snprintf(buf + len, size - len, "%s", len ? ", " : "");
		if (m->lost < m->entered && len < size)
			len += snprintf(buf + len, size - len, "delay %.2f ms (jitter %.2f), ", m->delay_us / 1e3,
					m->jitter_us / 1e3);
		if (len < size)
			snprintf(buf + len, size - len, "lost %d/%d", m->lost, m->entered);
	}
	if (!buf[0])
		snprintf(buf, size, "-");
}

void verify_print(FILE *out, const struct verify_link *l, int n)
{
	static const char *const dirs[] = { "to-vm", "from-vm" };
	char got[200];

	fprintf(out, "%-12s %-8s %-28s %-52s %s\n", "LINK", "DIR", "ASKED", "MEASURED", "VERDICT");
	for (int i = 0; i < n; i++)
		for (int d = 0; d < 2; d++) {
			const struct verify_dir *v = &l[i].dir[d];

			measured_text(&v->m, got, sizeof(got));
			fprintf(out, "%-12s %-8s %-28s %-52s %s%s%s\n", l[i].link, dirs[d],
				v->asked.rule[0] ? v->asked.rule : "-", got, verify_verdict_name(v->verdict),
				v->why[0] ? ": " : "", v->why);
		}
}

static json_t *dir_json(const struct verify_dir *v)
{
	const struct verify_asked *a = &v->asked;
	const struct verify_measured *m = &v->m;
	json_t *got = json_object();

	if (m->rated)
		json_object_set_new(got, "rate_bps", json_integer(near(m->rate_bps)));
	else
		json_object_set_new(got, "rate_bps", json_null());
	if (m->probed) {
		json_object_set_new(got, "probes", json_integer(m->entered));
		json_object_set_new(got, "lost", json_integer(m->lost));
		json_object_set_new(got, "loss_pct", m->entered ? json_real(100.0 * m->lost / m->entered) : json_null());
		json_object_set_new(got, "delay_us", m->lost < m->entered ? json_integer(near(m->delay_us)) : json_null());
		json_object_set_new(got, "jitter_us", m->lost < m->entered ? json_integer(near(m->jitter_us)) : json_null());
	}
	if (m->probe_note[0])
		json_object_set_new(got, "probe_note", json_string(m->probe_note));
	if (m->rate_note[0])
		json_object_set_new(got, "rate_note", json_string(m->rate_note));
	return json_pack("{s:{s:s, s:I, s:I, s:I, s:f, s:b, s:b}, s:o, s:s, s:s}",
			 "asked", "rule", a->rule, "rate_bps", (json_int_t)a->rate_bps,
			 "delay_us", (json_int_t)a->delay_us, "jitter_us", (json_int_t)a->jitter_us,
			 "loss_pct", a->loss_pct, "loss_judged", !a->loss_bursty, "delay_judged", !a->delay_unjudged,
			 "measured", got, "verdict", verify_verdict_name(v->verdict), "why", v->why);
}

json_t *verify_json(const struct verify_link *l, int n)
{
	json_t *links = json_array();
	bool ok = true;

	for (int i = 0; i < n; i++) {
		ok &= l[i].verdict == VERIFY_OK;
		json_array_append_new(links, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "link", l[i].link, "tap",
						       l[i].tap, "switch_end", l[i].switch_end,
						       "verdict", verify_verdict_name(l[i].verdict),
						       "to_vm", dir_json(&l[i].dir[0]), "from_vm",
						       dir_json(&l[i].dir[1])));
	}
	return json_pack("{s:b, s:o}", "ok", ok, "links", links);
}

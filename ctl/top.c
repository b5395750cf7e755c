/* top.c - n3x-ctl top's arithmetic: rates from two samples, sorting,
 * totals and the table (top.h). */
#include "ctl/top.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const key_names[TOP_NKEYS] = {
	[TOP_NAME] = "name", [TOP_CPU] = "cpu", [TOP_MEM] = "mem",
	[TOP_RX] = "rx", [TOP_TX] = "tx", [TOP_DROPS] = "drops",
};

int top_key_parse(const char *word, enum top_key *key)
{
	for (int k = 0; k < TOP_NKEYS; k++)
		if (strcmp(word, key_names[k]) == 0) {
			*key = (enum top_key)k;
			return 0;
		}
	return -1;
}

const char *top_key_name(enum top_key key)
{
	return key >= 0 && key < TOP_NKEYS ? key_names[key] : "?";
}

int top_key_of_char(int ch)
{
	switch (ch) {
	case 'n': return TOP_NAME;
	case 'c': return TOP_CPU;
	case 'm': return TOP_MEM;
	case 'r': return TOP_RX;
	case 't': return TOP_TX;
	case 'd': return TOP_DROPS;
	default: return -1;
	}
}

/* ---- two samples into a view ---- */

static json_int_t jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* x rounded to a multiple of unit (x >= 0), without libm. */
static double round_to(double x, double unit)
{
	return (double)(long long)(x / unit + 0.5) * unit;
}

static const json_t *find_named(const json_t *arr, const char *key, const json_t *want)
{
	const json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (json_equal(json_object_get(v, key), (json_t *)want))
			return v;
	return NULL;
}

/* How much counter key grew from a to b; a counter that went down was
 * made anew in between (a new tap, a new qdisc) and counts from zero. */
static double grew(const json_t *a, const json_t *b, const char *key)
{
	json_int_t x = jint(a, key), y = jint(b, key);

	return (double)(y >= x ? y - x : y);
}

/* NIC n of the current sample as the view has it; p is the same NIC in
 * the previous sample when rates can be had (else NULL), over dt seconds. */
static json_t *view_nic(const json_t *n, const json_t *p, double dt)
{
	bool present = json_is_true(json_object_get(n, "present"));
	json_t *o = json_pack("{s:O, s:O}", "index", json_object_get(n, "index"), "tap", json_object_get(n, "tap"));

	if (!o)
		return NULL;
	if (p && !json_is_true(json_object_get(p, "present")))
		p = NULL;
	if (present && p) {
		if (json_object_set_new(o, "rx_bps", json_integer((json_int_t)round_to(grew(p, n, "to_vm_bytes") * 8 / dt, 1))) ||
		    json_object_set_new(o, "tx_bps", json_integer((json_int_t)round_to(grew(p, n, "from_vm_bytes") * 8 / dt, 1))) ||
		    json_object_set_new(o, "rx_pps", json_real(round_to(grew(p, n, "to_vm_packets") / dt, 0.1))) ||
		    json_object_set_new(o, "tx_pps", json_real(round_to(grew(p, n, "from_vm_packets") / dt, 0.1))) ||
		    json_object_set_new(o, "rx_drops", json_integer((json_int_t)grew(p, n, "to_vm_drops"))) ||
		    json_object_set_new(o, "tx_drops", json_integer((json_int_t)grew(p, n, "from_vm_drops"))))
			goto nomem;
	} else {
		static const char *const rates[] = { "rx_bps", "tx_bps", "rx_pps", "tx_pps", "rx_drops", "tx_drops" };

		for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
			if (json_object_set_new(o, rates[i], json_null()))
				goto nomem;
	}
	if (json_object_set_new(o, "backlog_bytes", present ? json_integer(jint(n, "backlog_bytes")) : json_null()) ||
	    json_object_set_new(o, "backlog_pkts", present ? json_integer(jint(n, "backlog_pkts")) : json_null()))
		goto nomem;
	return o;
nomem:
	json_decref(o);
	return NULL;
}

static json_t *view_vm(const json_t *v, const json_t *prev, double dt)
{
	const json_t *pid = json_object_get(v, "pid"), *p = NULL, *n;
	json_t *o, *nics;
	size_t i;

	o = json_pack("{s:O, s:O, s:O?, s:n, s:O?, s:[]}", "name", json_object_get(v, "name"), "state",
		      json_object_get(v, "state"), "pid", pid, "cpu_pct", "rss_bytes",
		      json_object_get(v, "rss_bytes"), "nics");
	if (!o || !json_is_integer(pid))
		return o;
	/* Rates only against the same QEMU: another pid is a restart, whose
	 * counters began again. */
	if (prev && dt > 0)
		p = find_named(json_object_get(prev, "vms"), "name", json_object_get(v, "name"));
	if (p && !json_equal(json_object_get(p, "pid"), (json_t *)pid))
		p = NULL;
	if (p && json_object_set_new(o, "cpu_pct", json_real(round_to(grew(p, v, "cpu_ns") / 1e9 / dt * 100, 0.01)))) {
		json_decref(o);
		return NULL;
	}
	nics = json_object_get(o, "nics");
	json_array_foreach(json_object_get(v, "nics"), i, n) {
		const json_t *pn = p ? find_named(json_object_get(p, "nics"), "index", json_object_get(n, "index")) : NULL;

		if (json_array_append_new(nics, view_nic(n, pn, dt))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *top_view(const json_t *prev, const json_t *cur)
{
	double dt = prev ? (double)(jint(cur, "t_ns") - jint(prev, "t_ns")) / 1e9 : 0;
	json_t *view, *vms;
	const json_t *v;
	size_t i;

	view = json_pack("{s:O?, s:o, s:[]}", "fabric", json_object_get(cur, "fabric"), "interval_s",
			 dt > 0 ? json_real(round_to(dt, 0.001)) : json_null(), "vms");
	if (!view)
		return NULL;
	vms = json_object_get(view, "vms");
	json_array_foreach(json_object_get(cur, "vms"), i, v)
		if (json_array_append_new(vms, view_vm(v, dt > 0 ? prev : NULL, dt))) {
			json_decref(view);
			return NULL;
		}
	return view;
}

/* ---- sorting and totals ---- */

/* The sum of a NIC field over vm's NICs; -1 when no NIC has it. */
static double nic_sum(const json_t *vm, const char *key, const char *key2)
{
	const json_t *n;
	double sum = -1;
	size_t i;

	json_array_foreach(json_object_get(vm, "nics"), i, n) {
		const json_t *a = json_object_get(n, key), *b = key2 ? json_object_get(n, key2) : NULL;

		if (json_is_number(a))
			sum = (sum < 0 ? 0 : sum) + json_number_value(a) + (json_is_number(b) ? json_number_value(b) : 0);
	}
	return sum;
}

double top_vm_figure(const json_t *vm, enum top_key key)
{
	const json_t *x;

	switch (key) {
	case TOP_CPU:
		x = json_object_get(vm, "cpu_pct");
		return json_is_number(x) ? json_number_value(x) : -1;
	case TOP_MEM:
		x = json_object_get(vm, "rss_bytes");
		return json_is_number(x) ? json_number_value(x) : -1;
	case TOP_RX: return nic_sum(vm, "rx_bps", NULL);
	case TOP_TX: return nic_sum(vm, "tx_bps", NULL);
	case TOP_DROPS: return nic_sum(vm, "rx_drops", "tx_drops");
	default: return -1;
	}
}

static enum top_key sort_key; /* qsort has no opaque argument */

static int by_key(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *nx = json_string_value(json_object_get(x, "name")) ?: "";
	const char *ny = json_string_value(json_object_get(y, "name")) ?: "";

	if (sort_key != TOP_NAME) {
		double fx = top_vm_figure(x, sort_key), fy = top_vm_figure(y, sort_key);

		if (fx != fy)
			return fx > fy ? -1 : 1;
	}
	return strcmp(nx, ny);
}

int top_sort(json_t *view, enum top_key key)
{
	json_t *vms = json_object_get(view, "vms");
	size_t n = json_array_size(vms);
	json_t **list;

	if (n < 2)
		return 0;
	if (!(list = calloc(n, sizeof(*list))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		list[i] = json_incref(json_array_get(vms, i));
	sort_key = key;
	qsort(list, n, sizeof(*list), by_key);
	for (size_t i = 0; i < n; i++)
		json_array_set_new(vms, i, list[i]); /* cannot fail: i < size, list[i] not NULL */
	free(list);
	return 0;
}

static void add(double *sum, double x)
{
	if (x >= 0)
		*sum = (*sum < 0 ? 0 : *sum) + x;
}

void top_totals(const json_t *view, struct top_totals *t)
{
	const json_t *v;
	size_t i;

	*t = (struct top_totals){ .cpu_pct = -1, .rx_bps = -1, .tx_bps = -1, .drops = -1 };
	json_array_foreach(json_object_get(view, "vms"), i, v) {
		double backlog = nic_sum(v, "backlog_bytes", NULL);

		t->vms++;
		if (json_is_integer(json_object_get(v, "pid")))
			t->running++;
		add(&t->cpu_pct, top_vm_figure(v, TOP_CPU));
		if (top_vm_figure(v, TOP_MEM) > 0)
			t->rss_bytes += top_vm_figure(v, TOP_MEM);
		add(&t->rx_bps, top_vm_figure(v, TOP_RX));
		add(&t->tx_bps, top_vm_figure(v, TOP_TX));
		add(&t->drops, top_vm_figure(v, TOP_DROPS));
		if (backlog > 0)
			t->backlog_bytes += backlog;
	}
}

/* ---- printing ---- */

static const char *fmt_scaled(double x, double base, const char *units, char *buf, size_t size)
{
	int u = 0;

	if (x < 0) {
		snprintf(buf, size, "-");
		return buf;
	}
	while (x >= base && units[u + 1]) {
		x /= base;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%.0f", x);
	else
		snprintf(buf, size, x < 9.95 ? "%.1f%c" : "%.0f%c", x, units[u]);
	return buf;
}

const char *top_fmt_bytes(double bytes, char *buf, size_t size)
{
	return fmt_scaled(bytes, 1024, " KMGTP", buf, size);
}

const char *top_fmt_rate(double bps, char *buf, size_t size)
{
	return fmt_scaled(bps, 1000, " kMGTP", buf, size);
}

#define ROW_FMT "%-17s %-8s %6s %7s %7s %7s %6s %8s"

static void emit(int width, void (*line)(const char *, void *), void *opaque, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void emit(int width, void (*line)(const char *, void *), void *opaque, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (width > 0 && (size_t)width < sizeof(buf))
		buf[width] = '\0';
	line(buf, opaque);
}

/* A number or "-". */
static const char *num(const json_t *x, char *buf, size_t size)
{
	if (json_is_integer(x))
		snprintf(buf, size, "%lld", (long long)json_integer_value(x));
	else if (json_is_number(x))
		snprintf(buf, size, "%.1f", json_number_value(x));
	else
		snprintf(buf, size, "-");
	return buf;
}

void top_table(const json_t *view, enum top_key key, int width, void (*line)(const char *text, void *opaque),
	       void *opaque)
{
	const json_t *interval = json_object_get(view, "interval_s"), *v, *n;
	char a[16], b[16], c[16], d[16], e[16], f[16];
	struct top_totals t;
	size_t i, j;

	top_totals(view, &t);
	if (json_is_number(interval))
		snprintf(a, sizeof(a), "%.1f s", json_number_value(interval));
	emit(width, line, opaque, "fabric %s: %d VM%s, %d running; sorted by %s; %s%s",
	     json_string_value(json_object_get(view, "fabric")) ?: "?", t.vms, t.vms == 1 ? "" : "s", t.running,
	     top_key_name(key), json_is_number(interval) ? "rates in bit/s, drops over the last " : "rates after the next sample",
	     json_is_number(interval) ? a : "");
	snprintf(a, sizeof(a), t.cpu_pct < 0 ? "-" : "%.1f%%", t.cpu_pct);
	emit(width, line, opaque, "total: CPU %s  RSS %s  RX %s/s  TX %s/s  drops %s  backlog %s", a,
	     top_fmt_bytes(t.rss_bytes, b, sizeof(b)), top_fmt_rate(t.rx_bps, c, sizeof(c)),
	     top_fmt_rate(t.tx_bps, d, sizeof(d)), t.drops < 0 ? "-" : (snprintf(e, sizeof(e), "%.0f", t.drops), e),
	     top_fmt_bytes(t.backlog_bytes, f, sizeof(f)));
	emit(width, line, opaque, ROW_FMT, "NAME", "STATE", "CPU%", "RSS", "RX/s", "TX/s", "DROPS", "BACKLOG");
	json_array_foreach(json_object_get(view, "vms"), i, v) {
		const json_t *nics = json_object_get(v, "nics");
		double drops = top_vm_figure(v, TOP_DROPS), backlog = nic_sum(v, "backlog_bytes", NULL);

		snprintf(a, sizeof(a), "%.0f", drops);
		emit(width, line, opaque, ROW_FMT, json_string_value(json_object_get(v, "name")) ?: "?",
		     json_string_value(json_object_get(v, "state")) ?: "?", num(json_object_get(v, "cpu_pct"), b, sizeof(b)),
		     top_fmt_bytes(top_vm_figure(v, TOP_MEM), c, sizeof(c)),
		     top_fmt_rate(top_vm_figure(v, TOP_RX), d, sizeof(d)),
		     top_fmt_rate(top_vm_figure(v, TOP_TX), e, sizeof(e)), drops < 0 ? "-" : a,
		     top_fmt_bytes(backlog, f, sizeof(f)));
		if (json_array_size(nics) < 2)
			continue;
		json_array_foreach(nics, j, n) {
			char name[32];
			double nd = json_is_number(json_object_get(n, "rx_drops"))
				    ? json_number_value(json_object_get(n, "rx_drops")) +
				      json_number_value(json_object_get(n, "tx_drops")) : -1;
			const json_t *rx = json_object_get(n, "rx_bps"), *tx = json_object_get(n, "tx_bps"),
				     *bl = json_object_get(n, "backlog_bytes");

			snprintf(name, sizeof(name), "  %s", json_string_value(json_object_get(n, "tap")) ?: "?");
			snprintf(a, sizeof(a), "%.0f", nd);
			emit(width, line, opaque, ROW_FMT, name, "", "", "",
			     top_fmt_rate(json_is_number(rx) ? json_number_value(rx) : -1, d, sizeof(d)),
			     top_fmt_rate(json_is_number(tx) ? json_number_value(tx) : -1, e, sizeof(e)),
			     nd < 0 ? "-" : a, top_fmt_bytes(json_is_number(bl) ? json_number_value(bl) : -1, f, sizeof(f)));
		}
	}
}

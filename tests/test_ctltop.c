/* test_ctltop.c - n3x-ctl top's arithmetic (ctl/top.h): two samples of the
 * supervisor's top verb into rates from the guest's side, what cannot be
 * known left null, the sort orders, totals and the table. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/top.h"

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	cr_assert_not_null(j, "%s: %s", text, e.text);
	return j;
}

/* A top reply at t_ns with VM a (pid 100; cpu_ns; its one NIC's tap
 * counters: tx (to the VM) and rx (from it) bytes and packets, drops and
 * a backlog), VM b stopped. */
static json_t *reply(long long t_ns, long long cpu_ns, long long to_bytes, long long from_bytes,
		     long long to_pkts, long long from_pkts, long long to_drops, long long backlog)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{\"ok\":true,\"fabric\":\"f\",\"t_ns\":%lld,\"vms\":["
		 "{\"name\":\"a\",\"state\":\"running\",\"pid\":100,\"cpu_ns\":%lld,\"rss_bytes\":1048576,"
		 "\"nics\":[{\"index\":0,\"tap\":\"a-n0\",\"present\":true,\"to_vm_bytes\":%lld,"
		 "\"to_vm_packets\":%lld,\"to_vm_drops\":%lld,\"from_vm_bytes\":%lld,\"from_vm_packets\":%lld,"
		 "\"from_vm_drops\":0,\"backlog_bytes\":%lld,\"backlog_pkts\":3}]},"
		 "{\"name\":\"b\",\"state\":\"stopped\"}]}",
		 t_ns, cpu_ns, to_bytes, to_pkts, to_drops, from_bytes, from_pkts, backlog);
	return load(buf);
}

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	cr_assert(json_is_number(v), "%s is not a number", key);
	return json_number_value(v);
}

static void expect_null(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	cr_expect(v && json_is_null(v), "%s should be null", key);
}

Test(ctltop, rates_from_the_guests_side)
{
	/* 0.5 s apart: 0.25 s of CPU, 125000 bytes to the guest, 25000 from it */
	json_t *a = reply(1000000000LL, 2000000000LL, 1000, 500, 10, 5, 2, 0);
	json_t *b = reply(1500000000LL, 2250000000LL, 126000, 25500, 110, 55, 7, 4096);
	json_t *view = top_view(a, b), *vm, *nic;

	cr_assert_not_null(view);
	cr_expect_float_eq(num(view, "interval_s"), 0.5, 1e-9);
	cr_expect_str_eq(json_string_value(json_object_get(view, "fabric")), "f");
	vm = json_array_get(json_object_get(view, "vms"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(vm, "name")), "a");
	cr_expect_float_eq(num(vm, "cpu_pct"), 50.0, 1e-9);
	cr_expect_float_eq(num(vm, "rss_bytes"), 1048576, 0);
	cr_expect_float_eq(num(vm, "pid"), 100, 0);
	nic = json_array_get(json_object_get(vm, "nics"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(nic, "tap")), "a-n0");
	/* rx is what the guest receives: the tap's tx, in bits a second */
	cr_expect_float_eq(num(nic, "rx_bps"), 125000 * 8 / 0.5, 0);
	cr_expect_float_eq(num(nic, "tx_bps"), 25000 * 8 / 0.5, 0);
	cr_expect_float_eq(num(nic, "rx_pps"), 200, 1e-9);
	cr_expect_float_eq(num(nic, "tx_pps"), 100, 1e-9);
	cr_expect_float_eq(num(nic, "rx_drops"), 5, 0);
	cr_expect_float_eq(num(nic, "tx_drops"), 0, 0);
	cr_expect_float_eq(num(nic, "backlog_bytes"), 4096, 0);
	cr_expect_float_eq(num(nic, "backlog_pkts"), 3, 0);
	json_decref(view);
	json_decref(a);
	json_decref(b);
}

Test(ctltop, stopped_vm_and_first_sample)
{
	json_t *b = reply(1500000000LL, 2250000000LL, 126000, 25500, 110, 55, 7, 4096);
	json_t *view = top_view(NULL, b), *vm, *nic;

	cr_assert_not_null(view);
	expect_null(view, "interval_s");
	vm = json_array_get(json_object_get(view, "vms"), 0);
	expect_null(vm, "cpu_pct");
	cr_expect_float_eq(num(vm, "rss_bytes"), 1048576, 0); /* known at once */
	nic = json_array_get(json_object_get(vm, "nics"), 0);
	expect_null(nic, "rx_bps");
	expect_null(nic, "tx_pps");
	expect_null(nic, "rx_drops");
	cr_expect_float_eq(num(nic, "backlog_bytes"), 4096, 0);
	/* a VM without QEMU: its state, nulls, no NICs */
	vm = json_array_get(json_object_get(view, "vms"), 1);
	cr_expect_str_eq(json_string_value(json_object_get(vm, "state")), "stopped");
	expect_null(vm, "pid");
	expect_null(vm, "cpu_pct");
	expect_null(vm, "rss_bytes");
	cr_expect_eq(json_array_size(json_object_get(vm, "nics")), 0);
	json_decref(view);
	json_decref(b);
}

Test(ctltop, restart_and_counters_made_anew)
{
	json_t *a = reply(1000000000LL, 9000000000LL, 900000, 900000, 900, 900, 50, 0);
	json_t *b = reply(2000000000LL, 100000000LL, 1000, 2000, 10, 20, 1, 0);
	json_t *view, *vm, *nic;

	/* Same pid, counters lower: made anew (a new tap, a new qdisc), so
	 * what they hold now is what came in the interval. */
	view = top_view(a, b);
	vm = json_array_get(json_object_get(view, "vms"), 0);
	cr_expect_float_eq(num(vm, "cpu_pct"), 10.0, 1e-9);
	nic = json_array_get(json_object_get(vm, "nics"), 0);
	cr_expect_float_eq(num(nic, "rx_bps"), 8000, 0);
	cr_expect_float_eq(num(nic, "rx_drops"), 1, 0);
	json_decref(view);
	/* Another pid: another QEMU, no rates against the old one. */
	json_object_set_new(json_array_get(json_object_get(b, "vms"), 0), "pid", json_integer(101));
	view = top_view(a, b);
	vm = json_array_get(json_object_get(view, "vms"), 0);
	expect_null(vm, "cpu_pct");
	nic = json_array_get(json_object_get(vm, "nics"), 0);
	expect_null(nic, "rx_bps");
	json_decref(view);
	json_decref(a);
	json_decref(b);
}

Test(ctltop, tap_gone_between_samples)
{
	json_t *a = reply(1000000000LL, 0, 0, 0, 0, 0, 0, 0);
	json_t *b = load("{\"fabric\":\"f\",\"t_ns\":2000000000,\"vms\":[{\"name\":\"a\",\"state\":\"stopping\","
			 "\"pid\":100,\"cpu_ns\":0,\"rss_bytes\":0,\"nics\":[{\"index\":0,\"tap\":\"a-n0\",\"present\":false}]}]}");
	json_t *view = top_view(a, b);
	json_t *nic = json_array_get(json_object_get(json_array_get(json_object_get(view, "vms"), 0), "nics"), 0);

	expect_null(nic, "rx_bps");
	expect_null(nic, "backlog_bytes");
	json_decref(view);
	json_decref(a);
	json_decref(b);
}

/* A view of VMs given as (name, cpu_pct or -1, rss, rx_bps per NIC...). */
static json_t *view_of(const char *json)
{
	return load(json);
}

static void expect_order(json_t *view, enum top_key key, const char *want)
{
	char got[128] = "";
	const json_t *v;
	size_t i;

	cr_assert_eq(top_sort(view, key), 0);
	json_array_foreach(json_object_get(view, "vms"), i, v)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "",
			 json_string_value(json_object_get(v, "name")));
	cr_expect_str_eq(got, want, "by %s", top_key_name(key));
}

Test(ctltop, sort_orders)
{
	json_t *view = view_of(
		"{\"vms\":["
		"{\"name\":\"c\",\"cpu_pct\":5.0,\"rss_bytes\":300,\"nics\":["
		"  {\"rx_bps\":10,\"tx_bps\":900,\"rx_drops\":0,\"tx_drops\":1},"
		"  {\"rx_bps\":500,\"tx_bps\":0,\"rx_drops\":0,\"tx_drops\":0}]},"
		"{\"name\":\"a\",\"cpu_pct\":50.0,\"rss_bytes\":100,\"nics\":["
		"  {\"rx_bps\":100,\"tx_bps\":100,\"rx_drops\":3,\"tx_drops\":4}]},"
		"{\"name\":\"d\",\"cpu_pct\":null,\"rss_bytes\":null,\"nics\":[]},"
		"{\"name\":\"b\",\"cpu_pct\":5.0,\"rss_bytes\":200,\"nics\":["
		"  {\"rx_bps\":null,\"tx_bps\":null,\"rx_drops\":null,\"tx_drops\":null}]}]}");

	expect_order(view, TOP_NAME, "a b c d");
	expect_order(view, TOP_CPU, "a b c d");      /* b and c tie: by name */
	expect_order(view, TOP_MEM, "c b a d");
	expect_order(view, TOP_RX, "c a b d");       /* c: 10 + 500 over two NICs */
	expect_order(view, TOP_TX, "c a b d");
	expect_order(view, TOP_DROPS, "a c b d");    /* a: 3 + 4; c: 1 */
	json_decref(view);
}

Test(ctltop, keys)
{
	enum top_key k;
	const char *words[] = { "name", "cpu", "mem", "rx", "tx", "drops" };

	for (int i = 0; i < TOP_NKEYS; i++) {
		cr_expect_eq(top_key_parse(words[i], &k), 0);
		cr_expect_eq(k, (enum top_key)i);
		cr_expect_str_eq(top_key_name(k), words[i]);
		cr_expect_eq(top_key_of_char("ncmrtd"[i]), i);
	}
	cr_expect_eq(top_key_parse("memory", &k), -1);
	cr_expect_eq(top_key_of_char('q'), -1);
}

Test(ctltop, formats)
{
	char buf[16];

	cr_expect_str_eq(top_fmt_bytes(0, buf, sizeof(buf)), "0");
	cr_expect_str_eq(top_fmt_bytes(1000, buf, sizeof(buf)), "1000");
	cr_expect_str_eq(top_fmt_bytes(1536, buf, sizeof(buf)), "1.5K");
	cr_expect_str_eq(top_fmt_bytes(300.0 * 1024 * 1024, buf, sizeof(buf)), "300M");
	cr_expect_str_eq(top_fmt_bytes(-1, buf, sizeof(buf)), "-");
	cr_expect_str_eq(top_fmt_rate(999, buf, sizeof(buf)), "999");
	cr_expect_str_eq(top_fmt_rate(1500000, buf, sizeof(buf)), "1.5M");
	cr_expect_str_eq(top_fmt_rate(94e6, buf, sizeof(buf)), "94M");
	cr_expect_str_eq(top_fmt_rate(-1, buf, sizeof(buf)), "-");
}

static void collect(const char *text, void *opaque)
{
	FILE *f = opaque;

	fprintf(f, "%s\n", text);
}

Test(ctltop, table_and_totals)
{
	json_t *view = view_of(
		"{\"fabric\":\"lab\",\"interval_s\":1.0,\"vms\":["
		"{\"name\":\"r1\",\"state\":\"running\",\"pid\":7,\"cpu_pct\":12.5,\"rss_bytes\":2097152,\"nics\":["
		"  {\"index\":0,\"tap\":\"r1-n0\",\"rx_bps\":1500000,\"tx_bps\":8000,\"rx_drops\":2,\"tx_drops\":0,\"backlog_bytes\":0},"
		"  {\"index\":1,\"tap\":\"r1-n1\",\"rx_bps\":0,\"tx_bps\":0,\"rx_drops\":0,\"tx_drops\":1,\"backlog_bytes\":3072}]},"
		"{\"name\":\"s1\",\"state\":\"stopped\",\"pid\":null,\"cpu_pct\":null,\"rss_bytes\":null,\"nics\":[]}]}");
	struct top_totals t;
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);

	top_totals(view, &t);
	cr_expect_eq(t.vms, 2);
	cr_expect_eq(t.running, 1);
	cr_expect_float_eq(t.cpu_pct, 12.5, 1e-9);
	cr_expect_float_eq(t.rx_bps, 1500000, 0);
	cr_expect_float_eq(t.drops, 3, 0);
	cr_expect_float_eq(t.backlog_bytes, 3072, 0);
	top_table(view, TOP_CPU, 0, collect, f);
	fclose(f);
	cr_expect(strstr(out, "fabric lab: 2 VMs, 1 running; sorted by cpu"), "%s", out);
	cr_expect(strstr(out, "NAME "), "%s", out);
	cr_expect(strstr(out, "BACKLOG"), "%s", out);
	/* the VM's row sums its NICs; each NIC has its own indented row */
	cr_expect(strstr(out, "\nr1                running    12.5    2.0M    1.5M    8.0k      3     3.0K\n"), "%s", out);
	cr_expect(strstr(out, "\n  r1-n0                                      1.5M    8.0k      2        0\n"), "%s", out);
	cr_expect(strstr(out, "\n  r1-n1 "), "%s", out);
	cr_expect(strstr(out, "\ns1                stopped       -       -       -       -      -        -\n"), "%s", out);
	free(out);
	/* a narrow screen cuts every line */
	out = NULL;
	f = open_memstream(&out, &len);
	top_table(view, TOP_NAME, 20, collect, f);
	fclose(f);
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		cr_expect_leq(strlen(line), 20, "%s", line);
	free(out);
	json_decref(view);
}

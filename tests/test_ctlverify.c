/* test_ctlverify.c - tc verify's verdicts, output and guest script, without
 * sockets (the measuring is tests/integration/t_tc_verify.sh's). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/verify.h"
#include "ctl/verifyrun.h"

static struct verify_dir rated(double asked_bps, double got_bps)
{
	struct verify_dir d = { 0 };

	d.asked.rate_bps = asked_bps;
	snprintf(d.asked.rule, sizeof(d.asked.rule), "rate %gMbit", asked_bps / 1e6);
	d.m.rated = true;
	d.m.rate_bps = got_bps;
	verify_judge(&d);
	return d;
}

Test(ctlverify, rate_within_ten_percent_is_ok)
{
	cr_assert_eq(rated(10e6, 10e6).verdict, VERIFY_OK);
	cr_assert_eq(rated(10e6, 9.1e6).verdict, VERIFY_OK);
	cr_assert_eq(rated(10e6, 10.9e6).verdict, VERIFY_OK);
}

Test(ctlverify, rate_outside_is_off_and_far_over_is_broken)
{
	struct verify_dir d = rated(10e6, 22.5e6);

	cr_assert_eq(rated(10e6, 11.5e6).verdict, VERIFY_OFF);
	cr_assert_eq(rated(10e6, 8.5e6).verdict, VERIFY_OFF);
	/* The case: from-vm at 22.5 Mbit/s with rate 10mbit. */
	cr_assert_eq(d.verdict, VERIFY_BROKEN);
	cr_assert_str_eq(d.why, "rate 22.5 Mbit/s is 2.2x the 10 asked: not shaped");
}

Test(ctlverify, under_the_rate_with_loss_is_only_a_ceiling)
{
	struct verify_dir d = { 0 };

	d.asked.rate_bps = 10e6, d.asked.loss_pct = 1;
	d.m.rated = true, d.m.rate_bps = 6e6;
	d.m.probed = true, d.m.entered = 200, d.m.lost = 2;
	verify_judge(&d);
	cr_assert_eq(d.verdict, VERIFY_OK, "%s", d.why);
}

Test(ctlverify, nothing_asked_is_shown_not_judged)
{
	struct verify_dir d = rated(0, 480e6);

	cr_assert_eq(d.verdict, VERIFY_OK);
	cr_assert_str_eq(d.why, "");
}

static struct verify_dir probed(double delay_ms, double loss, int entered, int lost, double got_ms)
{
	struct verify_dir d = { 0 };

	d.asked.delay_us = delay_ms * 1e3;
	d.asked.loss_pct = loss;
	d.m.probed = true;
	d.m.entered = entered, d.m.lost = lost;
	d.m.delay_us = got_ms * 1e3;
	verify_judge(&d);
	return d;
}

Test(ctlverify, delay_within_five_ms)
{
	cr_assert_eq(probed(40, 0, 200, 0, 44.9).verdict, VERIFY_OK);
	cr_assert_eq(probed(40, 0, 200, 0, 34).verdict, VERIFY_OFF);
	cr_assert_eq(probed(0, 0, 200, 0, 0.2).verdict, VERIFY_OK);
	/* Asked for, and not there at all. */
	cr_assert_eq(probed(40, 0, 200, 0, 0.1).verdict, VERIFY_BROKEN);
	cr_assert_str_eq(probed(40, 0, 200, 0, 0.1).why, "delay 0.1 ms, not 40.0 ms +-5: not delayed");
}

Test(ctlverify, loss_inside_binomial_bounds)
{
	double lo, hi;

	/* 10 % of 1000: 100 +- 3.29 * sqrt(90) (31.2), and one of slack. */
	verify_loss_bounds(1000, 10, &lo, &hi);
	cr_assert(lo > 67 && lo < 69 && hi > 131 && hi < 133, "%f..%f", lo, hi);
	cr_assert_eq(probed(0, 10, 1000, 100, 0.1).verdict, VERIFY_OK);
	cr_assert_eq(probed(0, 10, 1000, 140, 0.1).verdict, VERIFY_OFF);
	cr_assert_eq(probed(0, 10, 1000, 50, 0.1).verdict, VERIFY_OFF);
	/* No loss asked: one stray probe is slack, three are not. */
	cr_assert_eq(probed(0, 0, 200, 1, 0.1).verdict, VERIFY_OK);
	cr_assert_eq(probed(0, 0, 200, 3, 0.1).verdict, VERIFY_OFF);
	/* Nothing passes: broken. */
	cr_assert_eq(probed(0, 0, 200, 200, 0).verdict, VERIFY_BROKEN);
}

Test(ctlverify, bursty_loss_and_slots_are_shown_not_judged)
{
	struct verify_dir d = { 0 };

	d.asked.loss_pct = 1, d.asked.loss_bursty = true;
	d.asked.delay_us = 10000, d.asked.delay_unjudged = true;
	d.m.probed = true, d.m.entered = 200, d.m.lost = 30, d.m.delay_us = 31000;
	verify_judge(&d);
	cr_assert_eq(d.verdict, VERIFY_OK, "%s", d.why);
	d.m.lost = 200;
	verify_judge(&d);
	cr_assert_eq(d.verdict, VERIFY_BROKEN, "%s", d.why);
}

Test(ctlverify, missing_qdisc_and_unmeasured)
{
	struct verify_dir d = rated(10e6, 10e6);

	d.asked.kernel_empty = true;
	verify_judge(&d);
	cr_assert_eq(d.verdict, VERIFY_BROKEN);
	cr_assert_str_eq(d.why, "the kernel holds no qdisc for it");

	memset(&d, 0, sizeof(d));
	d.asked.rate_bps = 10e6;
	d.m.probed = true, d.m.entered = 200;
	snprintf(d.m.rate_note, sizeof(d.m.rate_note), "the guest did not connect");
	verify_judge(&d);
	cr_assert_eq(d.verdict, VERIFY_UNMEASURED);
	cr_assert_str_eq(d.why, "rate not measured: the guest did not connect");

	/* Nothing measured at all is never ok, even with nothing asked. */
	memset(&d, 0, sizeof(d));
	snprintf(d.m.probe_note, sizeof(d.m.probe_note), "v1 has no IPv4 address (no lease yet, no ip=)");
	verify_judge(&d);
	cr_assert_eq(d.verdict, VERIFY_UNMEASURED);
	cr_assert_str_eq(d.why, "not measured: v1 has no IPv4 address (no lease yet, no ip=)");
}

Test(ctlverify, link_takes_the_worse_direction)
{
	struct verify_link l = { .link = "v1/0", .tap = "v1-n0" };

	l.dir[0] = rated(10e6, 10e6);
	l.dir[1] = rated(10e6, 22.5e6);
	verify_judge_link(&l);
	cr_assert_eq(l.verdict, VERIFY_BROKEN);
}

Test(ctlverify, asked_from_the_plan)
{
	json_t *p = json_loads("{\"rule\":\"rate 10Mbit delay 40ms\",\"rate_bps\":10000000,"
			       "\"delay_us\":40000,\"jitter_us\":5000,\"loss_pct\":0.5,\"kernel\":[]}", 0, NULL);
	struct verify_asked a;

	verify_asked_from(p, &a);
	cr_assert_str_eq(a.rule, "rate 10Mbit delay 40ms");
	cr_assert_eq(a.rate_bps, 10e6);
	cr_assert_eq(a.delay_us, 40000);
	cr_assert_eq(a.jitter_us, 5000);
	cr_assert_eq(a.loss_pct, 0.5);
	cr_assert(a.kernel_empty);
	cr_assert(!a.loss_bursty && !a.delay_unjudged);
	json_object_set_new(p, "loss_bursty", json_true());
	json_object_set_new(p, "delay_judged", json_false());
	verify_asked_from(p, &a);
	cr_assert(a.loss_bursty && a.delay_unjudged);
	json_object_set_new(p, "loss_bursty", json_false());
	json_object_set_new(p, "loss_pct", json_null()); /* the 4-state model's mean */
	verify_asked_from(p, &a);
	cr_assert(a.loss_bursty);
	json_object_set_new(p, "kernel", json_null()); /* could not be read: not empty */
	verify_asked_from(p, &a);
	cr_assert(!a.kernel_empty);
	json_decref(p);
}

Test(ctlverify, table_and_json)
{
	struct verify_link l = { .link = "v1/0", .tap = "v1-n0" };
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	json_t *j;

	l.dir[0] = rated(10e6, 10.02e6);
	l.dir[0].m.probed = true, l.dir[0].m.entered = 200, l.dir[0].m.delay_us = 80, l.dir[0].m.jitter_us = 20;
	l.dir[1] = rated(10e6, 22.5e6);
	verify_judge_link(&l);
	verify_print(out, &l, 1);
	fclose(out);
	cr_assert_str_eq(text,
		"LINK         DIR      ASKED                        MEASURED                                             VERDICT\n"
		"v1/0         to-vm    rate 10Mbit                  10 Mbit/s, delay 0.08 ms (jitter 0.02), lost 0/200   ok\n"
		"v1/0         from-vm  rate 10Mbit                  22.5 Mbit/s                                          "
		"broken: rate 22.5 Mbit/s is 2.2x the 10 asked: not shaped\n");
	free(text);

	j = verify_json(&l, 1);
	cr_assert(json_is_false(json_object_get(j, "ok")));
	{
		json_t *lk = json_array_get(json_object_get(j, "links"), 0);
		json_t *to = json_object_get(lk, "to_vm"), *from = json_object_get(lk, "from_vm");

		cr_assert_str_eq(json_string_value(json_object_get(lk, "verdict")), "broken");
		cr_assert_str_eq(json_string_value(json_object_get(to, "verdict")), "ok");
		cr_assert_eq(json_integer_value(json_object_get(json_object_get(to, "measured"), "rate_bps")), 10020000);
		cr_assert_eq(json_integer_value(json_object_get(json_object_get(to, "measured"), "delay_us")), 80);
		cr_assert_eq(json_integer_value(json_object_get(json_object_get(to, "asked"), "rate_bps")), 10000000);
		cr_assert(json_is_null(json_object_get(json_object_get(from, "measured"), "delay_us")) ||
			  !json_object_get(json_object_get(from, "measured"), "delay_us"));
	}
	json_decref(j);
}

Test(ctlverify, guest_script)
{
	struct in_addr host;
	char s[1024];

	inet_pton(AF_INET, "192.168.100.1", &host);
	verify_guest_script(host, 40123, s, sizeof(s));
	cr_assert_str_eq(s,
		"(if command -v bash >/dev/null; then "
		"timeout 60 bash -c 'cat </dev/tcp/192.168.100.1/40123'; "
		"timeout 60 bash -c 'cat /dev/zero >/dev/tcp/192.168.100.1/40123'; "
		"else timeout 60 nc 192.168.100.1 40123 </dev/null; timeout 60 nc 192.168.100.1 40123 </dev/zero; fi)"
		" >/dev/null 2>&1 &");
}

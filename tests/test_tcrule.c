/* test_tcrule.c - the impairment rule language: every word, every unit, the
 * errors (exact text: they are what a user reads), the direction prefixes,
 * and tc_shape_format. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "tc/rule.h"

static struct tc_rule ok(const char *text)
{
	struct tc_rule r;
	struct err err = { 0 };

	cr_assert_eq(tc_rule_parse(text, &r, &err), 0, "\"%s\": %s", text, err);
	cr_assert_eq(err.code, 0, "%s", err.msg);
	return r;
}

static struct tc_shape both(const char *text)
{
	struct tc_rule r = ok(text);

	cr_assert_eq(memcmp(&r.to_vm, &r.from_vm, sizeof(r.to_vm)), 0,
		     "\"%s\": a rule without prefix shapes both directions alike", text);
	return r.to_vm;
}

static void bad(const char *text, const char *want)
{
	struct tc_rule r;
	struct err err = { 0 };

	cr_expect_eq(tc_rule_parse(text, &r, &err), -EINVAL, "\"%s\" parsed", text);
	cr_expect_str_eq(err.msg, want, "\"%s\"", text);
	cr_expect(tc_shape_empty(&r.to_vm) && tc_shape_empty(&r.from_vm), "\"%s\": left a shape", text);
}

Test(tcrule, rate_units_as_tc_reads_them)
{
	static const struct {
		const char *text;
		uint64_t bps;
	} t[] = {
		{ "rate 800bit", 800 }, { "rate 500kbit", 500000 }, { "rate 10mbit", 10000000 },
		{ "rate 10Mbit", 10000000 }, { "rate 1gbit", 1000000000 },
		{ "rate 1.5gbit", 1500000000 }, { "rate 2tbit", 2000000000000ULL },
		{ "rate 1kibit", 1024 }, { "rate 1mibit", 1048576 }, { "rate 1gibit", 1073741824 },
		/* Bps forms are bytes, as in tc: kbps is 8000 bit/s. */
		{ "rate 100bps", 800 }, { "rate 500kbps", 4000000 }, { "rate 10mbps", 80000000 },
		{ "rate 1gbps", 8000000000ULL }, { "rate 1KiBps", 8192 }, { "rate 1MiBps", 8388608 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_expect_eq(both(t[i].text).rate_bps, t[i].bps, "%s", t[i].text);
}

Test(tcrule, time_units)
{
	cr_expect_eq(both("delay 50ms").delay_us, 50000);
	cr_expect_eq(both("delay 50msec").delay_us, 50000);
	cr_expect_eq(both("delay 50msecs").delay_us, 50000);
	cr_expect_eq(both("delay 250us").delay_us, 250);
	cr_expect_eq(both("delay 250usec").delay_us, 250);
	cr_expect_eq(both("delay 1s").delay_us, 1000000);
	cr_expect_eq(both("delay 2sec").delay_us, 2000000);
	cr_expect_eq(both("delay 1.5secs").delay_us, 1500000);
	cr_expect_eq(both("delay 0.5ms").delay_us, 500);
	/* Rounded: tc would truncate 4349.999... to 4349. */
	cr_expect_eq(both("delay 4.35ms").delay_us, 4350);
}

Test(tcrule, every_word)
{
	struct tc_shape s = both("rate 100mbit burst 32kb limit 2000 delay 5ms jitter 2ms "
				 "distribution normal loss 0.1% 25% duplicate 1% 5% corrupt 0.5% "
				 "10% reorder 20% 50% seed 1234");

	cr_expect_eq(s.rate_bps, 100000000);
	cr_expect_eq(s.burst_bytes, 32768);
	cr_expect_eq(s.limit, 2000);
	cr_expect_eq(s.delay_us, 5000);
	cr_expect_eq(s.jitter_us, 2000);
	cr_expect_eq(s.dist, TC_DIST_NORMAL);
	cr_expect_float_eq(s.loss, 0.1, 1e-12);
	cr_expect_float_eq(s.loss_corr, 25, 1e-12);
	cr_expect_float_eq(s.duplicate, 1, 1e-12);
	cr_expect_float_eq(s.duplicate_corr, 5, 1e-12);
	cr_expect_float_eq(s.corrupt, 0.5, 1e-12);
	cr_expect_float_eq(s.corrupt_corr, 10, 1e-12);
	cr_expect_float_eq(s.reorder, 20, 1e-12);
	cr_expect_float_eq(s.reorder_corr, 50, 1e-12);
	cr_expect(s.has_seed);
	cr_expect_eq(s.seed, 1234);
	cr_expect(tc_shape_needs_netem(&s));
	cr_expect_not(tc_shape_empty(&s));
}

Test(tcrule, word_forms_from_tc_and_mininet)
{
	struct tc_shape s;

	/* tc's positional jitter, and "loss random". */
	s = both("delay 100ms 20ms");
	cr_expect_eq(s.jitter_us, 20000);
	s = both("loss random 5%");
	cr_expect_float_eq(s.loss, 5, 1e-12);
	cr_expect_float_eq(both("loss 5").loss, 5, 1e-12, "a bare number is percent, as in tc");
	cr_expect_float_eq(both("loss 100%").loss, 100, 1e-12);
	cr_expect_eq(both("delay 1ms jitter 1ms distribution pareto").dist, TC_DIST_PARETO);
	cr_expect_eq(both("delay 1ms jitter 1ms distribution paretonormal").dist, TC_DIST_PARETONORMAL);
	cr_expect_eq(both("delay 1ms jitter 1ms distribution uniform").dist, TC_DIST_UNIFORM);
	cr_expect_eq(both("seed 18446744073709551615 loss 1%").seed, UINT64_MAX);
	cr_expect_eq(both("  rate\t1mbit \n").rate_bps, 1000000, "any blanks separate words");
}

Test(tcrule, size_units)
{
	cr_expect_eq(both("rate 1mbit burst 2000").burst_bytes, 2000);
	cr_expect_eq(both("rate 1mbit burst 2000b").burst_bytes, 2000);
	cr_expect_eq(both("rate 1mbit burst 2k").burst_bytes, 2048);
	cr_expect_eq(both("rate 1mbit burst 2KB").burst_bytes, 2048);
	cr_expect_eq(both("rate 1mbit burst 1m").burst_bytes, 1048576);
	cr_expect_eq(both("rate 1mbit burst 1mb").burst_bytes, 1048576);
	cr_expect_eq(both("rate 1mbit burst 16kbit").burst_bytes, 2048, "kbit is 128 bytes in tc");
	cr_expect_eq(both("rate 1mbit limit 100kb").limit, 102400);
}

Test(tcrule, needs_netem)
{
	struct tc_shape s = both("rate 10mbit burst 20kb limit 100kb");

	cr_expect_not(tc_shape_needs_netem(&s), "rate, burst, limit: tbf alone");
	cr_expect_not(tc_shape_empty(&s));
	s = both("rate 10mbit seed 3");
	cr_expect_not(tc_shape_needs_netem(&s), "a seed alone asks nothing of netem");
	cr_expect(tc_shape_needs_netem((struct tc_shape[]){ both("loss 1%") }));
	cr_expect(tc_shape_needs_netem((struct tc_shape[]){ both("corrupt 1%") }));
	cr_expect(tc_shape_needs_netem((struct tc_shape[]){ both("duplicate 1%") }));
	cr_expect(tc_shape_empty((struct tc_shape[]){ { 0 } }));
}

/* The limit a message names is allowed, also as tc_shape_format prints it
 * (found by tcrule_fuzz: "delay 3595s" printed "3.6e+03s", refused). */
Test(tcrule, the_maxima_themselves_are_allowed)
{
	cr_expect_eq(ok("delay 3600s").to_vm.delay_us, 3600000000ULL);
	cr_expect_eq(ok("delay 3.6e+03s").to_vm.delay_us, 3600000000ULL);
	cr_expect_eq(ok("delay 3600.0000004s").to_vm.delay_us, 3600000000ULL);
	cr_expect_eq(ok("delay 5ms jitter 2147483us").to_vm.jitter_us, 2147483ULL);
	bad("delay 3600.0000005s", "delay \"3600.0000005s\" is too long (at most 3600s)");
	bad("delay 5ms jitter 2147484us", "jitter \"2147484us\" is too long (at most 2.147s)");
}

Test(tcrule, bad_values_name_the_word)
{
	bad("rate 10mbs", "bad rate \"10mbs\" (use 10mbit, 1gbit, 500kbit)");
	bad("rate 10", "bad rate \"10\" (use 10mbit, 1gbit, 500kbit)");
	bad("rate -5mbit", "bad rate \"-5mbit\" (use 10mbit, 1gbit, 500kbit)");
	bad("rate 0x10mbit", "bad rate \"0x10mbit\" (use 10mbit, 1gbit, 500kbit)");
	bad("rate infmbit", "bad rate \"infmbit\" (use 10mbit, 1gbit, 500kbit)");
	bad("rate 4bit", "rate \"4bit\" is out of range");
	bad("delay 50", "bad delay \"50\" (use 50ms, 500us, 1s)");
	bad("delay 50min", "bad delay \"50min\" (use 50ms, 500us, 1s)");
	bad("delay 2h", "bad delay \"2h\" (use 50ms, 500us, 1s)");
	bad("delay 3601s", "delay \"3601s\" is too long (at most 3600s)");
	bad("delay 5ms jitter 3s", "jitter \"3s\" is too long (at most 2.147s)");
	bad("loss 150%", "loss \"150%\" is over 100%");
	bad("loss lots", "bad loss \"lots\" (use 1%, 0.1%, 25%)");
	bad("loss 1%%", "bad loss \"1%%\" (use 1%, 0.1%, 25%)");
	bad("loss 1% 200%", "loss \"200%\" is over 100%");
	bad("duplicate x", "bad duplicate \"x\" (use 1%, 0.1%, 25%)");
	bad("corrupt -1%", "bad corrupt \"-1%\" (use 1%, 0.1%, 25%)");
	bad("delay 5ms reorder 101", "reorder \"101\" is over 100%");
	bad("delay 1ms jitter 1ms distribution gauss",
	    "bad distribution \"gauss\" (use normal, pareto, paretonormal, uniform)");
	bad("rate 1mbit limit 0", "bad limit \"0\" (use 1000, 32kb, 1mb)");
	bad("rate 1mbit burst 10q", "bad burst \"10q\" (use 1000, 32kb, 1mb)");
	bad("rate 1mbit burst 1000",
	    "burst 1000 is below one Ethernet frame (1514 bytes): tbf would drop every full-size packet");
	bad("rate 1mbit limit 100",
	    "limit 100 is below one Ethernet frame (1514 bytes): with rate alone, limit is tbf's queue in bytes");
	cr_expect_eq(both("rate 1mbit delay 1ms limit 100").limit, 100, "with netem, limit is packets");
	bad("loss 1% seed -1", "bad seed \"-1\" (use a number, 0 to 18446744073709551615)");
	bad("loss 1% seed 18446744073709551616",
	    "bad seed \"18446744073709551616\" (use a number, 0 to 18446744073709551615)");
	bad("rate", "rate needs a value");
	bad("delay 5ms loss", "loss needs a value");
}

Test(tcrule, words_that_need_another)
{
	bad("reorder 25%", "reorder needs delay");
	bad("reorder 25% 50%", "reorder needs delay");
	bad("jitter 5ms", "jitter needs delay");
	bad("delay 5ms distribution normal", "distribution needs jitter");
	bad("burst 32kb delay 5ms", "burst needs rate");
	bad("limit 1000", "limit alone shapes nothing (add rate, delay or loss)");
	bad("seed 7", "seed alone shapes nothing (add rate, delay or loss)");
	bad("delay 0ms", "this rule shapes nothing (add rate, delay or loss)");
	bad("", "empty rule (use e.g. \"rate 10mbit delay 5ms\")");
	bad("   ", "empty rule (use e.g. \"rate 10mbit delay 5ms\")");
}

Test(tcrule, unknown_and_repeated_words)
{
	bad("rate 1mbit latency 5ms",
	    "unknown word \"latency\" (rule words: rate burst limit delay jitter distribution loss "
	    "duplicate corrupt reorder slot ecn seed, to-vm: from-vm:)");
	bad("delay 5ms delay 6ms", "delay given twice");
	bad("jitter 1ms delay 5ms 2ms", "jitter given twice");
	bad("to-vm: loss 1% loss 2%", "loss given twice after to-vm:");
}

Test(tcrule, prefixes_split_the_directions)
{
	struct tc_rule r = ok("to-vm: delay 50ms");

	cr_expect_eq(r.to_vm.delay_us, 50000);
	cr_expect(tc_shape_empty(&r.from_vm), "from-vm gets nothing");

	r = ok("from-vm: rate 10mbit burst 32kb");
	cr_expect(tc_shape_empty(&r.to_vm));
	cr_expect_eq(r.from_vm.rate_bps, 10000000);
	cr_expect_eq(r.from_vm.burst_bytes, 32768);

	/* Words before any prefix apply to both. */
	r = ok("rate 100mbit to-vm: delay 5ms from-vm: loss 1%");
	cr_expect_eq(r.to_vm.rate_bps, 100000000);
	cr_expect_eq(r.from_vm.rate_bps, 100000000);
	cr_expect_eq(r.to_vm.delay_us, 5000);
	cr_expect_eq(r.from_vm.delay_us, 0);
	cr_expect_float_eq(r.from_vm.loss, 1, 1e-12);
	cr_expect_float_eq(r.to_vm.loss, 0, 1e-12);

	/* Either order; checks run on each merged direction. */
	r = ok("from-vm: delay 10ms to-vm: delay 20ms reorder 5%");
	cr_expect_eq(r.to_vm.delay_us, 20000);
	cr_expect_eq(r.from_vm.delay_us, 10000);
	r = ok("delay 5ms from-vm: reorder 1%");
	cr_expect_float_eq(r.from_vm.reorder, 1, 1e-12);
	r = ok("seed 9 to-vm: loss 1%");
	cr_expect(r.from_vm.has_seed && tc_shape_empty(&r.from_vm), "a lone seed shapes nothing there");
}

Test(tcrule, prefix_errors)
{
	bad("to-vm: delay 5ms to-vm: loss 1%", "to-vm: given twice");
	bad("from-vm: loss 1% from-vm: delay 1ms", "from-vm: given twice");
	bad("delay 5ms to-vm: delay 10ms",
	    "delay is given for both directions and again after to-vm:");
	bad("to-vm:", "to-vm: needs words after it");
	bad("to-vm: from-vm: delay 5ms", "to-vm: needs words after it");
	bad("reorder 1% to-vm: delay 5ms", "reorder needs delay (from-vm:)");
	bad("from-vm: jitter 1ms to-vm: delay 1ms", "jitter needs delay (from-vm:)");
	bad("to-vm:delay 5ms", "unknown word \"to-vm:delay\" (rule words: rate burst limit delay "
	    "jitter distribution loss duplicate corrupt reorder slot ecn seed, to-vm: from-vm:)");
}

static void expect_p(const struct tc_shape *s, enum tc_loss_model m, const double *want, int n,
		     const char *text)
{
	cr_expect_eq(s->loss_model, m, "%s: model", text);
	cr_expect_float_eq(s->loss, 0, 1e-12, "%s: no random loss with a model", text);
	for (int i = 0; i < n; i++)
		cr_expect_float_eq(s->loss_p[i], want[i], 1e-9, "%s: parameter %d", text, i + 1);
}

/* tc-netem(8)'s loss models, with tc's defaults for what is left out. */
Test(tcrule, loss_models)
{
	struct tc_shape s;

	s = both("loss gemodel 10%");
	expect_p(&s, TC_LOSS_GEMODEL, (double[]){ 10, 90, 100, 0 }, 4, "gemodel P");
	s = both("loss gemodel 10% 25%");
	expect_p(&s, TC_LOSS_GEMODEL, (double[]){ 10, 25, 100, 0 }, 4, "gemodel P R");
	s = both("loss gemodel 1% 30% 90%");
	expect_p(&s, TC_LOSS_GEMODEL, (double[]){ 1, 30, 90, 0 }, 4, "gemodel P R 1-H");
	s = both("loss gemodel 1 30 90 0.5");
	expect_p(&s, TC_LOSS_GEMODEL, (double[]){ 1, 30, 90, 0.5 }, 4, "gemodel, bare numbers");
	cr_expect(tc_shape_needs_netem(&s));
	cr_expect_str_eq(tc_shape_netem_word(&s), "loss");

	s = both("loss state 2%");
	expect_p(&s, TC_LOSS_STATE, (double[]){ 2, 98, 0, 100, 0 }, 5, "state P13");
	s = both("loss state 2% 25%");
	expect_p(&s, TC_LOSS_STATE, (double[]){ 2, 25, 0, 100, 0 }, 5, "state P13 P31");
	s = both("loss state 2% 25% 10% 30% 1%");
	expect_p(&s, TC_LOSS_STATE, (double[]){ 2, 25, 10, 30, 1 }, 5, "state, all five");

	/* A model with nothing lost is still what the user asked for. */
	cr_expect(tc_shape_needs_netem((struct tc_shape[]){ both("loss gemodel 0%") }));
	/* The model ends where a word starts. */
	s = both("loss gemodel 10% 25% delay 5ms");
	cr_expect_eq(s.delay_us, 5000);
	s = both("loss random 3% 10%");
	cr_expect_eq(s.loss_model, TC_LOSS_RANDOM);
	cr_expect_float_eq(s.loss_corr, 10, 1e-12);

	bad("loss gemodel", "loss gemodel p needs a value");
	bad("loss gemodel x", "bad loss gemodel p \"x\" (use 1%, 0.1%, 25%)");
	bad("loss gemodel 10% 101%", "loss gemodel r \"101%\" is over 100%");
	bad("loss state 2% 25% 10% 30% 1% 5%", "unknown word \"5%\" (rule words: rate burst limit delay "
	    "jitter distribution loss duplicate corrupt reorder slot ecn seed, to-vm: from-vm:)");
	bad("loss state 60% 40% 0% 100% 50%",
	    "loss state: p13 60% and p14 50% add up to over 100% (the chances of leaving state 1)");
	bad("loss state 10% 70% 40%",
	    "loss state: p31 70% and p32 40% add up to over 100% (the chances of leaving state 3)");
	bad("loss 1% loss gemodel 5%", "loss given twice");
}

Test(tcrule, ecn_marks_what_loss_would_drop)
{
	struct tc_shape s = both("loss 5% ecn");

	cr_expect(s.ecn);
	cr_expect(both("loss gemodel 10% ecn").ecn);
	cr_expect(both("ecn loss state 1%").ecn, "any order, as in tc");
	bad("ecn", "ecn needs loss (it marks the packets loss would drop)");
	bad("delay 5ms ecn", "ecn needs loss (it marks the packets loss would drop)");
	bad("ecn to-vm: loss 1%", "ecn needs loss (it marks the packets loss would drop) (from-vm:)");
	bad("loss 1% ecn ecn", "ecn given twice");
	s = ok("loss 1% to-vm: ecn").to_vm;
	cr_expect(s.ecn);
	cr_expect_not(ok("loss 1% to-vm: ecn").from_vm.ecn);
}

Test(tcrule, slot)
{
	struct tc_shape s = both("slot 10ms 30ms");

	cr_expect_eq(s.slot_min_us, 10000);
	cr_expect_eq(s.slot_max_us, 30000);
	cr_expect_eq(s.slot_packets, 0);
	cr_expect_eq(s.slot_bytes, 0);
	cr_expect(tc_shape_needs_netem(&s));
	cr_expect_str_eq(tc_shape_netem_word(&s), "slot");
	s = both("slot 20ms");
	cr_expect(s.slot_min_us == 20000 && s.slot_max_us == 20000, "MAX defaults to MIN, as in tc");
	s = both("slot 1ms 2ms packets 8 bytes 64kb delay 5ms");
	cr_expect_eq(s.slot_packets, 8);
	cr_expect_eq(s.slot_bytes, 65536);
	cr_expect_eq(s.delay_us, 5000);
	s = both("slot 1ms bytes 3000 packets 2");
	cr_expect(s.slot_packets == 2 && s.slot_bytes == 3000, "either order");

	bad("slot", "slot needs a value");
	bad("slot 10", "bad slot \"10\" (use 50ms, 500us, 1s)");
	bad("slot 30ms 10ms", "slot 10ms is shorter than 30ms (use slot MIN MAX)");
	bad("slot 0ms", "slot needs a time above 0 (netem takes slot 0 as no slots)");
	bad("slot 1ms packets 0", "slot packets \"0\" is out of range (1 to 2147483647)");
	bad("slot 1ms packets x", "bad slot packets \"x\" (use a whole number)");
	bad("slot 1ms packets", "slot packets needs a value");
	bad("slot 1ms bytes 3gb", "slot bytes \"3gb\" is out of range (at most 2gb)");
	bad("slot 1ms packets 2 packets 3", "unknown word \"packets\" (rule words: rate burst limit delay "
	    "jitter distribution loss duplicate corrupt reorder slot ecn seed, to-vm: from-vm:)");
}

/* "rate R" is tbf's; "rate R OVERHEAD..." (tc-netem(8)) or the words tc
 * prints for them are netem's own. */
Test(tcrule, netem_rate_with_overhead)
{
	struct tc_shape s = both("rate 1mbit 100");

	cr_expect_eq(s.rate_bps, 0, "not tbf's");
	cr_expect_eq(s.netem_rate_bps, 1000000);
	cr_expect_eq(s.packet_overhead, 100);
	cr_expect(tc_shape_needs_netem(&s));
	cr_expect_str_eq(tc_shape_netem_word(&s), "rate with an overhead");
	s = both("rate 1mbit 20 100 30");
	cr_expect(s.packet_overhead == 20 && s.cell_size == 100 && s.cell_overhead == 30);
	s = both("rate 1mbit packetoverhead 20 cellsize 100 celloverhead 30");
	cr_expect(s.netem_rate_bps == 1000000 && s.packet_overhead == 20 && s.cell_size == 100 &&
		  s.cell_overhead == 30);
	s = both("rate 1mbit cellsize 48 delay 5ms");
	cr_expect(s.netem_rate_bps == 1000000 && s.packet_overhead == 0 && s.cell_size == 48,
		  "tc leaves packetoverhead 0 out of what it prints");
	s = both("rate 10mbit -14");
	cr_expect_eq(s.packet_overhead, -14);
	s = both("rate 10mbit 0 delay 5ms");
	cr_expect(s.netem_rate_bps == 10000000 && s.packet_overhead == 0 && s.delay_us == 5000);
	s = both("rate 10mbit delay 5ms");
	cr_expect(s.rate_bps == 10000000 && !s.netem_rate_bps, "no overhead: tbf's rate");

	bad("rate 1mbit 1.5", "bad packetoverhead \"1.5\" (use a whole number)");
	bad("rate 1mbit -43", "packetoverhead \"-43\" is out of range (-42 to 65535)");
	bad("rate 1mbit 0 0 5", "celloverhead needs a cellsize");
	bad("rate 1mbit 0 10 -10", "cellsize 10 with celloverhead -10 leaves no bytes to a cell");
	bad("rate 1mbit packetoverhead", "packetoverhead needs a value");
	bad("rate 1mbit 20 burst 32kb",
	    "burst needs tbf's rate: netem's (rate with an overhead) has no bucket");
	cr_expect_eq(both("rate 1mbit 20 limit 100").limit, 100, "limit is netem's, in packets");
}

Test(tcrule, new_words_take_prefixes)
{
	struct tc_rule r = ok("to-vm: loss gemodel 5% 40% ecn from-vm: slot 5ms rate 2mbit 14");

	cr_expect_eq(r.to_vm.loss_model, TC_LOSS_GEMODEL);
	cr_expect(r.to_vm.ecn && !r.from_vm.ecn);
	cr_expect_eq(r.from_vm.loss_model, TC_LOSS_RANDOM);
	cr_expect(r.from_vm.slot_max_us == 5000 && !r.to_vm.slot_max_us);
	cr_expect(r.from_vm.netem_rate_bps == 2000000 && !r.to_vm.netem_rate_bps);
	r = ok("loss state 1% 30% to-vm: delay 5ms");
	cr_expect(r.to_vm.loss_model == TC_LOSS_STATE && r.from_vm.loss_model == TC_LOSS_STATE);
	cr_expect_float_eq(r.from_vm.loss_p[1], 30, 1e-9);
	bad("loss gemodel 5% to-vm: loss 1%", "loss is given for both directions and again after to-vm:");
	bad("slot 1ms from-vm: slot 2ms", "slot is given for both directions and again after from-vm:");
	bad("rate 1mbit 0 to-vm: rate 2mbit", "rate is given for both directions and again after to-vm:");
}

Test(tcrule, netem_limit_rule)
{
	struct tc_shape s = both("rate 100mbit delay 500ms");

	/* 100 Mbit/s x 500 ms = 4128.1 frames of 1514 bytes, doubled. */
	cr_expect_eq(tc_shape_netem_limit(&s), 8257);
	cr_expect_eq(tc_shape_netem_limit((struct tc_shape[]){ both("delay 5ms") }), 1000);
	cr_expect_eq(tc_shape_netem_limit((struct tc_shape[]){ both("loss 1%") }), 1000);
	cr_expect_eq(tc_shape_netem_limit((struct tc_shape[]){ both("delay 50ms") }), 8257,
		     "1 Gbit/s without a rate");
	cr_expect_eq(tc_shape_netem_limit((struct tc_shape[]){ both("rate 20mbit delay 1s") }), 3303);
	cr_expect_eq(tc_shape_netem_limit((struct tc_shape[]){ both("rate 20mbit 0 slot 1s") }), 3303);
	cr_expect_eq(tc_shape_netem_limit((struct tc_shape[]){ both("rate 20mbit delay 600ms 400ms") }), 3303);
	cr_expect_eq(tc_shape_netem_limit((struct tc_shape[]){ both("rate 1tbit delay 3600s") }), UINT32_MAX);
}

Test(tcrule, same_compares_every_word)
{
	static const char *const rules[] = {
		"loss gemodel 10% 25%", "loss gemodel 10% 25% 90%", "loss state 10% 25%", "loss 10%",
		"loss 10% ecn", "slot 10ms 20ms", "slot 10ms 30ms", "slot 10ms 20ms packets 4",
		"slot 10ms 20ms bytes 3000", "rate 1mbit 0", "rate 1mbit 20", "rate 1mbit 20 48",
		"rate 1mbit 20 48 4", "rate 1mbit delay 1ms",
	};
	size_t n = sizeof(rules) / sizeof(rules[0]);

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < n; k++) {
			struct tc_shape a = both(rules[i]), b = both(rules[k]);

			cr_expect_eq(tc_shape_same(&a, &b), i == k, "\"%s\" vs \"%s\"", rules[i], rules[k]);
		}
}

static const char *fmt(const char *text)
{
	static char buf[256];

	return tc_shape_format((struct tc_shape[]){ both(text) }, buf, sizeof(buf));
}

Test(tcrule, format_like_tc)
{
	cr_expect_str_eq(fmt("rate 10mbit delay 50ms loss 1%"), "rate 10Mbit delay 50ms loss 1%");
	cr_expect_str_eq(fmt("rate 1500kbit"), "rate 1500Kbit");
	cr_expect_str_eq(fmt("rate 1gbit burst 64kb limit 2mb"), "rate 1Gbit burst 64Kb limit 2097152");
	cr_expect_str_eq(fmt("rate 500kbps burst 15000"), "rate 4Mbit burst 15000b");
	cr_expect_str_eq(fmt("rate 1234bit"), "rate 1234bit");
	cr_expect_str_eq(fmt("delay 1500us jitter 250us distribution normal"),
			 "delay 1.5ms jitter 250us distribution normal");
	cr_expect_str_eq(fmt("delay 2s"), "delay 2s");
	cr_expect_str_eq(fmt("loss 0.5% 25% duplicate 1% corrupt 0.1% 5%"),
			 "loss 0.5% 25% duplicate 1% corrupt 0.1% 5%");
	cr_expect_str_eq(fmt("delay 10ms reorder 25% 50% seed 42"),
			 "delay 10ms reorder 25% 50% seed 42");
	cr_expect_str_eq(fmt("loss gemodel 10% 25%"), "loss gemodel 10% 25% 100% 0%");
	cr_expect_str_eq(fmt("loss state 2%"), "loss state 2% 98% 0% 100% 0%");
	cr_expect_str_eq(fmt("ecn loss 5%"), "loss 5% ecn");
	cr_expect_str_eq(fmt("slot 10ms 30ms packets 4 bytes 2048"), "slot 10ms 30ms packets 4 bytes 2Kb");
	cr_expect_str_eq(fmt("slot 500us"), "slot 500us 500us");
	cr_expect_str_eq(fmt("rate 1mbit 0"), "rate 1Mbit packetoverhead 0");
	cr_expect_str_eq(fmt("rate 1mbit 20 100 -4"), "rate 1Mbit packetoverhead 20 cellsize 100 celloverhead -4");
	cr_expect_str_eq(tc_shape_format((struct tc_shape[]){ { 0 } }, (char[8]){ 0 }, 8), "");
}

/* What format prints parses back to the same shape. */
Test(tcrule, format_parses_back)
{
	static const char *const rules[] = {
		"rate 10mbit delay 50ms jitter 10ms distribution pareto loss 1% 25% limit 3000",
		"rate 40gbit burst 1mb", "duplicate 2% 30% corrupt 0.1%",
		"delay 100ms reorder 5% 10% seed 18446744073709551615", "rate 512kbit burst 2000",
		"loss gemodel 1% 30% 90% 0.5% ecn", "loss state 2% 25% 10% 30% 1%", "loss state 3%",
		"slot 1ms 2ms packets 8 bytes 3000 delay 5ms", "rate 10mbit 0 delay 20ms",
		"rate 40gbit -14 53 5", "rate 2mbit cellsize 48",
	};

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		struct tc_shape a = both(rules[i]), b;
		char buf[256];

		b = both(tc_shape_format(&a, buf, sizeof(buf)));
		cr_expect_eq(memcmp(&a, &b, sizeof(a)), 0, "%s -> %s", rules[i], buf);
	}
}

Test(tcrule, format_truncates_safely)
{
	char small[12];
	struct tc_shape s = both("rate 10mbit delay 50ms loss 1%");

	tc_shape_format(&s, small, sizeof(small));
	cr_expect_str_eq(small, "rate 10Mbit");
}

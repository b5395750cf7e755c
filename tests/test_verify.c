/* test_verify.c - the supervisor's plan for tc verify (launcher/verify.c):
 * tc status's links picked by the request's keys, rules as numbers, the
 * veth pair's names, and the errors of a bad key. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/verify.h"

static char dir[] = "/tmp/test-verify-XXXXXX";
static struct topology *topo;

/* topo_load wants QEMU on $PATH: fakes first. */
static void setup(void)
{
	char path[4096], conf[256];
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/qemu-system-%s", dir, i ? "aarch64" : "x86_64");
		cr_assert_eq(symlink("/bin/true", path), 0);
	}
	snprintf(path, sizeof(path), "%s:%s", dir, getenv("PATH") ?: "/usr/bin");
	setenv("PATH", path, 1);
	snprintf(conf, sizeof(conf), "%s/t.conf", dir);
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fputs("[fabric]\nname = vt\n[network lan]\nswitch = linux-bridge\naddress = 10.0.0.1/24\n"
	      "[vm a]\nkernel = /bin/true\nnic = lan\nnic = lan\n[vm b]\nkernel = /bin/true\nnic = lan\n"
	      "[vm c]\nkernel = /bin/true\nnic = lan\n", f);
	fclose(f);
	cr_assert_eq(topo_load(conf, stderr, &topo), 0);
}

static void teardown(void)
{
	char path[4096];

	topo_free(topo);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/qemu-system-%s", dir, i ? "aarch64" : "x86_64");
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	unlink(path);
	rmdir(dir);
}

TestSuite(verify, .init = setup, .fini = teardown);

/* tc status as tc_profile_status makes it: a and b run, c does not. */
static json_t *status(void)
{
	json_t *s = json_loads(
		"{\"profile\":\"slow\",\"modified\":false,\"seed\":null,\"links\":{"
		"\"a/0\":{\"tap\":\"a-n0\",\"rule\":{\"to_vm\":\"rate 10Mbit delay 40ms jitter 5ms loss 0.5%\","
		"\"from_vm\":\"rate 20Mbit\"},\"to_vm\":[{\"kind\":\"netem\"}],\"from_vm\":[{\"kind\":\"tbf\"}]},"
		"\"a/1\":{\"tap\":\"a-n1\",\"rule\":{\"to_vm\":\"\",\"from_vm\":\"\"},\"to_vm\":[],\"from_vm\":[]},"
		"\"b/0\":{\"tap\":\"b-n0\",\"rule\":{\"to_vm\":\"rate 1Gbit\",\"from_vm\":\"\"},\"to_vm\":[],"
		"\"from_vm\":[]}}}", 0, NULL);

	cr_assert_not_null(s);
	return s;
}

static json_t *plan(const char *keys_json, int *r, struct err *e)
{
	json_t *st = status(), *keys = keys_json ? json_loads(keys_json, 0, NULL) : NULL, *out = NULL;

	*r = verify_plan(topo, st, keys, &out, e);
	json_decref(st);
	json_decref(keys);
	return out;
}

Test(verify, every_live_link_with_its_numbers)
{
	struct err e;
	int r;
	json_t *p = plan(NULL, &r, &e), *links = json_object_get(p, "links"), *a0, *to;

	cr_assert_eq(r, 0, "%s", e.msg);
	cr_assert_eq(json_array_size(links), 3);
	a0 = json_array_get(links, 0);
	cr_assert_str_eq(json_string_value(json_object_get(a0, "link")), "a/0");
	cr_assert_str_eq(json_string_value(json_object_get(a0, "glue")), "a-n0_g");
	cr_assert_str_eq(json_string_value(json_object_get(a0, "port")), "a-n0_p");
	to = json_object_get(a0, "to_vm");
	cr_assert_eq(json_integer_value(json_object_get(to, "rate_bps")), 10000000);
	cr_assert_eq(json_integer_value(json_object_get(to, "delay_us")), 40000);
	cr_assert_eq(json_integer_value(json_object_get(to, "jitter_us")), 5000);
	cr_assert_float_eq(json_real_value(json_object_get(to, "loss_pct")), 0.5, 1e-9);
	cr_assert_eq(json_array_size(json_object_get(to, "kernel")), 1);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(a0, "from_vm"), "rate_bps")), 20000000);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(a0, "from_vm"), "delay_us")), 0);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(links, 1), "to_vm"),
							   "rule")), "");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_array_get(links, 2), "to_vm"),
							"rate_bps")), 1000000000);
	cr_assert_str_eq(json_string_value(json_object_get(p, "profile")), "slow");
	json_decref(p);
}

/* The plan direction of one rule (on b/0's to-vm). */
static json_t *plan_of(const char *rule)
{
	json_t *st = status(), *out = NULL, *d;
	struct err e;

	json_object_set_new(json_object_get(json_object_get(json_object_get(st, "links"), "b/0"), "rule"), "to_vm",
			    json_string(rule));
	cr_assert_eq(verify_plan(topo, st, NULL, &out, &e), 0, "%s: %s", rule, e.msg);
	d = json_incref(json_object_get(json_array_get(json_object_get(out, "links"), 2), "to_vm"));
	json_decref(out);
	json_decref(st);
	return d;
}

Test(verify, loss_models_netem_rate_and_slots)
{
	json_t *d = plan_of("loss gemodel 1% 10% 70% 0.1%");

	/* bad share 1 / (1 + 10); 70 % lost there, 0.1 % in good */
	cr_assert_float_eq(json_real_value(json_object_get(d, "loss_pct")), 70.0 / 11 + 0.1 * 10 / 11, 1e-9);
	cr_assert(json_is_true(json_object_get(d, "loss_bursty")));
	json_decref(d);
	d = plan_of("loss state 1% 30%");
	cr_assert(json_is_null(json_object_get(d, "loss_pct")));
	cr_assert(json_is_true(json_object_get(d, "loss_bursty")));
	json_decref(d);
	d = plan_of("loss 1% 25%");
	cr_assert_float_eq(json_real_value(json_object_get(d, "loss_pct")), 1.0, 1e-9);
	cr_assert(json_is_true(json_object_get(d, "loss_bursty")));
	cr_assert(json_is_true(json_object_get(d, "delay_judged")));
	json_decref(d);
	/* netem's own rate with 86 bytes of overhead: 1514-byte frames at 15/16 */
	d = plan_of("delay 1ms rate 16mbit 86");
	cr_assert_eq(json_integer_value(json_object_get(d, "rate_bps")), 15140000);
	json_decref(d);
	d = plan_of("delay 10ms slot 5ms 10ms");
	cr_assert(json_is_false(json_object_get(d, "delay_judged")));
	json_decref(d);
	d = plan_of("delay 10ms jitter 2ms distribution pareto");
	cr_assert(json_is_false(json_object_get(d, "delay_judged")));
	json_decref(d);
}

Test(verify, keys_pick_links)
{
	struct err e;
	int r;
	json_t *p = plan("[\"a/1\", \"b\"]", &r, &e), *links = json_object_get(p, "links");

	cr_assert_eq(r, 0, "%s", e.msg);
	cr_assert_eq(json_array_size(links), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(links, 0), "link")), "a/1");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(links, 1), "link")), "b/0");
	json_decref(p);
}

Test(verify, bad_keys)
{
	static const struct {
		const char *keys;
		int r;
		const char *msg;
	} cases[] = {
		{ "[\"nope\"]", -ENOENT, "tc verify: no vm \"nope\" in " },
		{ "[\"a/2\"]", -ENOENT, "tc verify: vm a has no NIC 2 (it has 2)" },
		{ "[\"*\"]", -EINVAL, "tc verify: bad link \"*\" (use VM or VM/N)" },
		{ "[\"a/x\"]", -EINVAL, "tc verify: bad link \"a/x\" (use VM or VM/N)" },
		{ "[3]", -EINVAL, "tc verify: bad link \"?\" (use VM or VM/N)" },
		{ "[\"c\"]", -ESRCH, "tc verify: c is not running: it has no link to measure" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e;
		int r;
		json_t *p = plan(cases[i].keys, &r, &e);

		cr_expect_null(p, "%s", cases[i].keys);
		cr_expect_eq(r, cases[i].r, "%s: %d", cases[i].keys, r);
		cr_expect(!strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)), "%s: %s", cases[i].keys, e.msg);
	}
}

Test(verify, a_rule_that_does_not_parse_is_named)
{
	json_t *st = status(), *out = NULL;
	struct err e;
	int r;

	json_object_set_new(json_object_get(json_object_get(json_object_get(st, "links"), "b/0"), "rule"), "to_vm",
			    json_string("rate fast"));
	r = verify_plan(topo, st, NULL, &out, &e);
	cr_assert_eq(r, -EPROTO);
	cr_assert_null(out);
	cr_assert(strstr(e.msg, "b/0: to-vm rule \"rate fast\" does not parse") == e.msg, "%s", e.msg);
	json_decref(st);
}

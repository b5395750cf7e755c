/* test_tcprofile.c - tc/profile.c and tc/glue.c: which rule each link and
 * direction gets, errors as FILE:LINE, all-or-nothing switching with real
 * veths in a private network namespace (a veth stands for each tap, and
 * one end of another for its glue end), and the glue's redirects.
 * The profiles are plain parameters, as launcher/impair.c builds them from
 * a topology.  iproute2 (`tc -j`, `ip -j`) is the observer.  Every applied
 * shape is rate-only (tbf), so the tests run with or without netem. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/net_helpers.h"
#include "tc/profile.h"
#include "tc/tc.h"

#define TC_BIN "/usr/sbin/tc"
#define PATH "topo.conf"

/* The topology the profiles are for: VM a with two NICs, b with one. */
static const struct tc_nic nics[] = { { "a", 0 }, { "a", 1 }, { "b", 0 } };

/* Rules as launcher/impair.c hands them over: key, target, rule, line. */
#define ALL(rule, line) { "*", { NULL, -1 }, rule, line }
#define VM(vm, rule, line) { vm, { vm, -1 }, rule, line }
#define NIC(key, vm, nic, rule, line) { key, { vm, nic }, rule, line }
#define PROFILE(name, ...) { name, (const struct tc_profile_rule[]){ __VA_ARGS__ }, \
	sizeof((const struct tc_profile_rule[]){ __VA_ARGS__ }) / sizeof(struct tc_profile_rule) }
#define CONF(...) { PATH, (const struct tc_profile_def[]){ __VA_ARGS__ }, \
	sizeof((const struct tc_profile_def[]){ __VA_ARGS__ }) / sizeof(struct tc_profile_def), nics, 3 }

static const char *fmt(const char *rule, bool to_vm)
{
	static char buf[2][256];
	struct err err;
	struct tc_rule r;

	cr_assert_eq(tc_rule_parse(rule, &r, &err), 0, "%s: %s", rule, err.msg);
	return tc_shape_format(to_vm ? &r.to_vm : &r.from_vm, buf[to_vm], sizeof(buf[0]));
}

static void print_err(const struct err *e, void *f)
{
	fprintf(f, "%s\n", e->msg);
}

/* The rule status shows for KEY and direction DIR. */
static const char *rule_of(json_t *st, const char *key, const char *dir)
{
	json_t *l = json_object_get(json_object_get(st, "links"), key);

	cr_assert_not_null(l, "status has no %s", key);
	return json_string_value(json_object_get(json_object_get(l, "rule"), dir));
}

static void veth(const char *name)
{
	char out[256], peer[IFNAMSIZ];

	snprintf(peer, sizeof(peer), "p%s", name);
	cr_assert_eq(RUN(out, IP_BIN, "link", "add", (char *)name, "up", "type", "veth", "peer", "name", peer), 0);
	cr_assert_eq(RUN(out, IP_BIN, "link", "set", peer, "up"), 0);
}

/* tbf rate on dev's root in bit/s (0: none), as tc reads it back. */
static long long tbf_rate(const char *dev)
{
	json_t *arr = ip_json((char *const[]){ TC_BIN, "-j", "qdisc", "show", "dev", (char *)dev, NULL }), *q;
	long long rate = 0;
	size_t i;

	json_array_foreach(arr, i, q)
		if (!strcmp(json_string_value(json_object_get(q, "kind")), "tbf"))
			rate = json_integer_value(json_object_get(json_object_get(q, "options"), "rate")) * 8;
	json_decref(arr);
	return rate;
}

static bool has_qdisc(const char *dev, const char *kind)
{
	json_t *arr = ip_json((char *const[]){ TC_BIN, "-j", "qdisc", "show", "dev", (char *)dev, NULL }), *q;
	bool found = false;
	size_t i;

	json_array_foreach(arr, i, q)
		found = found || !strcmp(json_string_value(json_object_get(q, "kind")), kind);
	json_decref(arr);
	return found;
}

/* The glue end of tap dev in these tests. */
static const char *glue(const char *dev)
{
	static char buf[IFNAMSIZ];

	snprintf(buf, sizeof(buf), "g%s", dev);
	return buf;
}

/* A link: tap dev and its glue end. */
static void link_pair(const char *dev)
{
	veth(dev);
	veth(glue(dev));
}

/* Both directions of dev carry rate bits/s (0: nothing at all). */
static void expect_rate(const char *dev, long long rate)
{
	cr_expect_eq(tbf_rate(dev), rate, "%s to-vm: tbf rate %lld, want %lld", dev, tbf_rate(dev), rate);
	cr_expect_eq(tbf_rate(glue(dev)), rate, "%s from-vm: tbf rate %lld, want %lld", dev,
		     tbf_rate(glue(dev)), rate);
}

/* A private namespace with the links of a/0, a/1 and b/0. */
static void three_links(void)
{
	enter_private_netns();
	link_pair("ta0");
	link_pair("ta1");
	link_pair("tb0");
}

TestSuite(tcprofile, .timeout = 60);

Test(tcprofile, precedence_per_nic_and_direction)
{
	struct tc_profile_conf c = CONF(PROFILE("p", ALL("rate 10mbit", 2), VM("a", "to-vm: rate 20mbit", 3),
						NIC("a/1", "a", 1, "rate 30mbit", 4)));
	struct tc_profile_link links[] = { { "a", 0, "nx-a0", "nx-a0-g" }, { "a", 1, "nx-a1", "nx-a1-g" }, { "b", 0, "nx-b0", "nx-b0-g" } };
	struct tc_profile *p;
	struct err err;
	json_t *st;

	enter_private_netns();
	cr_assert_eq(tc_profile_new(&c, "p", &p, &err), 0, "%s", err.msg);
	cr_assert_str_eq(tc_profile_active(p), "p");
	cr_assert_eq(tc_profile_status(p, links, 3, &st), 0);
	cr_expect_str_eq(rule_of(st, "a/0", "to_vm"), fmt("rate 20mbit", true), "VM beats *");
	cr_expect_str_eq(rule_of(st, "a/0", "from_vm"), fmt("rate 10mbit", false),
			 "a to-vm: rule says nothing about from-vm: * applies");
	cr_expect_str_eq(rule_of(st, "a/1", "to_vm"), fmt("rate 30mbit", true), "VM/N beats VM");
	cr_expect_str_eq(rule_of(st, "a/1", "from_vm"), fmt("rate 30mbit", false));
	cr_expect_str_eq(rule_of(st, "b/0", "to_vm"), fmt("rate 10mbit", true));
	cr_expect_str_eq(rule_of(st, "b/0", "from_vm"), fmt("rate 10mbit", false));
	cr_expect_str_eq(json_string_value(json_object_get(st, "profile")), "p");
	cr_expect(json_is_null(json_object_get(st, "seed")));
	json_decref(st);
	tc_profile_free(p);
}

Test(tcprofile, parse_errors_carry_file_and_line)
{
	struct tc_profile_conf c = CONF(PROFILE("good", ALL("rate 10mbit", 11)),
					PROFILE("bad", VM("a", "rate 10mbit", 13), VM("b", "rate 10mbs", 14),
						NIC("a/1", "a", 1, "frobnicate 3", 15)));
	struct err err;
	char want[256], *buf = NULL;
	struct tc_profile *p;
	size_t len;
	FILE *f;

	snprintf(want, sizeof(want), "%s:14: profile bad: b: ", PATH);
	cr_assert_eq(tc_profile_new(&c, "bad", &p, &err), -EINVAL);
	cr_assert_null(p);
	cr_expect_eq(strncmp(err.msg, want, strlen(want)), 0, "got \"%s\", want it to start \"%s\"", err.msg,
		     want);
	cr_expect_eq(tc_profile_new(&c, "missing", &p, &err), -ENOENT);
	cr_expect(strstr(err.msg, "no profile \"missing\""), "%s", err.msg);

	/* check reports every bad line, in order, and nothing else. */
	cr_assert_not_null(f = open_memstream(&buf, &len));
	cr_expect_eq(tc_profile_check(&c, print_err, f), -EINVAL);
	fclose(f);
	snprintf(want, sizeof(want), "%s:14: profile bad: b: ", PATH);
	cr_expect_eq(strncmp(buf, want, strlen(want)), 0, "%s", buf);
	snprintf(want, sizeof(want), "\n%s:15: profile bad: a/1: ", PATH);
	cr_expect(strstr(buf, want), "%s", buf);
	cr_expect_eq(strchr(strchr(buf, '\n') + 1, '\n')[1], '\0', "two lines: %s", buf);
	free(buf);

	cr_expect_eq(tc_profile_new(&c, "good", &p, &err), 0, "%s", err.msg);
	tc_profile_free(p);
}

Test(tcprofile, netem_missing_fails_before_anything_changes)
{
	struct tc_profile_conf c = CONF(PROFILE("slow", ALL("rate 10mbit", 11)),
					PROFILE("laggy", ALL("rate 20mbit", 13), VM("b", "delay 50ms", 14)));
	const struct tc_target a = { "a", -1 };
	struct tc_profile_link links[] = { { "a", 0, "ta0", "gta0" } };
	struct tc_profile *p;
	struct err err;
	char want[256];

	enter_private_netns();
	if (tc_netem_available() != 0)
		cr_skip_test("this kernel has netem");
	link_pair("ta0");
	cr_assert_eq(tc_profile_new(&c, "slow", &p, &err), 0, "%s", err.msg);
	cr_assert_eq(tc_profile_reapply_vm(p, "a", links, 1, &err), 0, "%s", err.msg);
	expect_rate("ta0", 10000000);
	/* b is not even running: its rule still fails the switch up front. */
	cr_expect_eq(tc_profile_switch(p, "laggy", links, 1, &err), -EOPNOTSUPP);
	snprintf(want, sizeof(want), "%s:14: profile laggy: b: \"delay\"", PATH);
	cr_expect(strstr(err.msg, want), "got \"%s\"", err.msg);
	cr_expect(strstr(err.msg, "CONFIG_NET_SCH_NETEM"), "%s", err.msg);
	expect_rate("ta0", 10000000);
	cr_expect_str_eq(tc_profile_active(p), "slow");
	cr_expect_eq(tc_profile_set(p, "a", &a, "loss 1%", links, 1, &err), -EOPNOTSUPP);
	cr_expect(strstr(err.msg, "set a: \"loss\""), "%s", err.msg);
	tc_profile_free(p);
}

Test(tcprofile, failing_link_restores_every_link)
{
	struct tc_profile_conf c = CONF(PROFILE("slow", ALL("rate 10mbit", 11)),
					PROFILE("fast", ALL("rate 20mbit", 13)));
	/* b's tap does not exist: shaping it fails after a/0 and a/1 changed. */
	struct tc_profile_link links[] = { { "a", 0, "ta0", "gta0" }, { "a", 1, "ta1", "gta1" }, { "b", 0, "tb0", "gtb0" } };
	struct tc_profile *p;
	struct err err;
	json_t *st;

	enter_private_netns();
	link_pair("ta0");
	link_pair("ta1");
	cr_assert_eq(tc_profile_new(&c, TC_PROFILE_DEFAULT, &p, &err), 0, "%s", err.msg);
	/* From nothing: a failure leaves nothing, glue ends included. */
	cr_assert_lt(tc_profile_switch(p, "slow", links, 3, &err), 0);
	cr_expect(strstr(err.msg, "b/0 to-vm"), "names VM, NIC and direction: %s", err.msg);
	cr_expect(strstr(err.msg, fmt("rate 10mbit", true)), "names the rule: %s", err.msg);
	cr_expect(strstr(err.msg, "every link is back as it was"), "%s", err.msg);
	expect_rate("ta0", 0);
	expect_rate("ta1", 0);
	cr_expect_str_eq(tc_profile_active(p), TC_PROFILE_DEFAULT);

	/* From a shape: a failure puts the old shape back, both ways. */
	cr_assert_eq(tc_profile_switch(p, "slow", links, 2, &err), 0, "%s", err.msg);
	expect_rate("ta0", 10000000);
	expect_rate("ta1", 10000000);
	cr_assert_lt(tc_profile_switch(p, "fast", links, 3, &err), 0);
	cr_expect(strstr(err.msg, ":13: profile fast: *: b/0 to-vm"), "%s", err.msg);
	expect_rate("ta0", 10000000);
	expect_rate("ta1", 10000000);
	cr_expect_str_eq(tc_profile_active(p), "slow");
	cr_assert_eq(tc_profile_status(p, links, 2, &st), 0);
	cr_expect_str_eq(rule_of(st, "a/0", "to_vm"), fmt("rate 10mbit", true), "memory kept the old profile");
	json_decref(st);

	/* A link that is not in the topology fails before anything changes. */
	links[2] = (struct tc_profile_link){ "c", 0, "ta0", "gta0" };
	cr_expect_eq(tc_profile_switch(p, "fast", links, 3, &err), -ENOENT);
	expect_rate("ta0", 10000000);

	cr_assert_eq(tc_profile_switch(p, "fast", links, 2, &err), 0, "%s", err.msg);
	expect_rate("ta0", 20000000);
	cr_assert_eq(tc_profile_clear(p, NULL, links, 2, &err), 0, "%s", err.msg);
	expect_rate("ta0", 0);
	expect_rate("ta1", 0);
	cr_expect_str_eq(tc_profile_active(p), TC_PROFILE_DEFAULT);
	tc_profile_free(p);
}

Test(tcprofile, set_clear_restart_release)
{
	struct tc_profile_conf c = CONF(PROFILE("slow", ALL("rate 10mbit", 11)));
	const struct tc_target a = { "a", -1 }, a1 = { "a", 1 };
	struct tc_profile_link links[] = { { "a", 0, "ta0", "gta0" }, { "a", 1, "ta1", "gta1" }, { "b", 0, "tb0", "gtb0" } };
	struct tc_profile *p;
	struct err err;
	char out[256];
	json_t *st;

	three_links();
	cr_assert_eq(tc_profile_new(&c, "slow", &p, &err), 0, "%s", err.msg);
	cr_assert_eq(tc_profile_reapply_vm(p, "a", links, 3, &err), 0, "%s", err.msg);
	expect_rate("ta0", 10000000);
	expect_rate("tb0", 0); /* only a's links */
	cr_assert_eq(tc_profile_reapply_vm(p, "b", links, 3, &err), 0, "%s", err.msg);
	expect_rate("tb0", 10000000);

	cr_assert_eq(tc_profile_set(p, "a/1", &a1, "to-vm: rate 5mbit", links, 3, &err), 0, "%s", err.msg);
	cr_expect_eq(tbf_rate("ta1"), 5000000);
	cr_expect_eq(tbf_rate(glue("ta1")), 0, "set replaces both directions: from-vm is now unshaped");
	expect_rate("ta0", 10000000);
	cr_expect_eq(tc_profile_set(p, "a", &a, "rate", links, 3, &err), -EINVAL);
	cr_expect_eq(strncmp(err.msg, "set a: ", 7), 0, "%s", err.msg);

	cr_assert_eq(tc_profile_clear(p, "b", links, 3, &err), 0, "%s", err.msg);
	expect_rate("tb0", 0);
	expect_rate("ta0", 10000000);
	cr_assert_eq(tc_profile_status(p, links, 3, &st), 0);
	cr_expect_str_eq(json_string_value(json_object_get(st, "profile")), "slow");
	cr_expect(json_is_true(json_object_get(st, "modified")));
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(st, "links"), "a/0"), "tap")), "ta0");
	json_decref(st);

	/* a restarts: its QEMU took the taps along, the glue ends stayed. */
	cr_assert_eq(RUN(out, IP_BIN, "link", "del", "ta0"), 0);
	cr_assert_eq(RUN(out, IP_BIN, "link", "del", "ta1"), 0);
	cr_assert_eq(tc_profile_release_vm(p, "a", links, 3, &err), 0, "%s", err.msg);
	cr_expect_eq(tbf_rate(glue("ta0")), 0, "release cleared the glue end");
	veth("ta0");
	veth("ta1");
	cr_assert_eq(tc_profile_reapply_vm(p, "a", links, 3, &err), 0, "%s", err.msg);
	expect_rate("ta0", 10000000);
	cr_expect_eq(tbf_rate("ta1"), 5000000, "tc set survives a restart");
	expect_rate("tb0", 0);

	/* A restart whose shaping fails leaves the new taps clean. */
	cr_assert_eq(RUN(out, IP_BIN, "link", "del", "ta1"), 0);
	cr_expect_lt(tc_profile_reapply_vm(p, "a", links, 3, &err), 0);
	cr_expect(strstr(err.msg, "every link is back as it was"), "%s", err.msg);
	cr_expect(strstr(err.msg, "a/1 to-vm"), "%s", err.msg);
	expect_rate("ta0", 0);
	tc_profile_free(p);
}

/* A supervisor that adopts running VMs reads their links back: what is as
 * the profile says stays untouched, what differs (changed by hand, or
 * something we never make) is mended and named. */
Test(tcprofile, adopt_keeps_what_matches_and_mends_the_rest)
{
	struct tc_profile_conf c = CONF(PROFILE("slow", ALL("rate 10mbit", 11), VM("b", "to-vm: rate 20mbit", 12)));
	struct tc_profile_link links[] = { { "a", 0, "ta0", "gta0" }, { "a", 1, "ta1", "gta1" }, { "b", 0, "tb0", "gtb0" } };
	struct tc_profile *p, *q;
	char note[512], out[256];
	struct err err;

	three_links();
	cr_assert_eq(tc_profile_new(&c, "slow", &p, &err), 0, "%s", err.msg);
	cr_assert_eq(tc_profile_reapply_vm(p, "a", links, 3, &err), 0, "%s", err.msg);
	cr_assert_eq(tc_profile_reapply_vm(p, "b", links, 3, &err), 0, "%s", err.msg);
	tc_profile_free(p); /* the supervisor is gone; the qdiscs stay */

	/* ta1 changed by hand, tb0 given a qdisc we never make. */
	cr_assert_eq(RUN(out, TC_BIN, "qdisc", "replace", "dev", "ta1", "root", "tbf", "rate", "3mbit",
			 "burst", "32kb", "latency", "50ms"), 0);
	cr_assert_eq(RUN(out, TC_BIN, "qdisc", "replace", "dev", "tb0", "root", "handle", "5:", "pfifo"), 0);
	cr_assert_eq(tc_profile_new(&c, "slow", &q, &err), 0, "%s", err.msg);
	cr_expect_eq(tc_profile_adopt_vm(q, "a", links, 3, note, sizeof(note), &err), 1, "%s", err.msg);
	cr_expect(strstr(note, "a/1 had to-vm \"rate 3Mbit"), "%s", note);
	cr_expect(!strstr(note, "a/0"), "a/0 was as wanted: %s", note);
	expect_rate("ta0", 10000000);
	expect_rate("ta1", 10000000);
	cr_expect_eq(tc_profile_adopt_vm(q, "b", links, 3, note, sizeof(note), &err), 1, "%s", err.msg);
	cr_expect(strstr(note, "another's"), "%s", note);
	cr_expect_eq(tbf_rate("tb0"), 20000000);
	cr_expect(!has_qdisc("tb0", "pfifo"), "the foreign qdisc is gone");
	cr_expect_eq(tbf_rate(glue("tb0")), 10000000, "b's from-vm is *'s");
	/* Now all is as wanted: nothing to mend. */
	cr_expect_eq(tc_profile_adopt_vm(q, "a", links, 3, note, sizeof(note), &err), 0, "%s", note);
	cr_expect_eq(tc_profile_adopt_vm(q, "b", links, 3, note, sizeof(note), &err), 0, "%s", note);
	cr_expect_str_eq(note, "");
	/* A tap that is gone cannot be read back. */
	cr_assert_eq(RUN(out, IP_BIN, "link", "del", "tb0"), 0);
	cr_expect_eq(tc_profile_adopt_vm(q, "b", links, 3, note, sizeof(note), &err), -ENODEV);
	cr_expect(strstr(err.msg, "b/0: cannot read the qdiscs of tb0 back"), "%s", err.msg);
	tc_profile_free(q);
}

/* The glue: each side's ingress redirected to the other's egress, one
 * filter each however often it is set. */
Test(tcprofile, glue_is_idempotent)
{
	struct err err;
	char out[8192];

	enter_private_netns();
	veth("v0");
	veth("w0");
	cr_assert_eq(tc_glue_set("v0", "w0", &err), 0, "%s", err.msg);
	cr_assert_eq(tc_glue_set("v0", "w0", &err), 0, "again: %s", err.msg);
	for (int i = 0; i < 2; i++) {
		const char *dev = i ? "w0" : "v0", *to = i ? "device v0" : "device w0";
		char *first;

		cr_expect(has_qdisc(dev, "ingress"), "%s: no ingress qdisc", dev);
		cr_assert_eq(RUN(out, TC_BIN, "filter", "show", "dev", (char *)dev, "ingress"), 0);
		first = strstr(out, "fh 800::800");
		cr_expect(first && strstr(out, to), "%s: %s", dev, out);
		cr_expect_null(first ? strstr(first + 1, "fh 800::") : NULL, "a second filter: %s", out);
	}
	cr_expect_eq(tc_glue_set("v0", "nosuch", &err), -ENODEV);
	cr_expect(strstr(err.msg, "nosuch: no such link"), "%s", err.msg);
}

/* Our redirect reads back from the kernel exactly as iproute2's does. */
Test(tcprofile, redirect_reads_back_like_iproute2)
{
	struct err err;
	char ours[4096], theirs[4096], *s;

	enter_private_netns();
	veth("v0");
	veth("w0");
	veth("x0");
	cr_assert_eq(tc_glue_set("v0", "x0", &err), 0, "%s", err.msg);
	cr_assert_eq(RUN(theirs, TC_BIN, "qdisc", "add", "dev", "w0", "handle", "ffff:", "ingress"), 0);
	cr_assert_eq(RUN(theirs, TC_BIN, "filter", "add", "dev", "w0", "parent", "ffff:", "protocol", "all",
			 "pref", "1", "handle", "800::800", "u32", "match", "u32", "0", "0", "action", "mirred",
			 "egress", "redirect", "dev", "x0"), 0);
	cr_assert_eq(RUN(ours, TC_BIN, "filter", "show", "dev", "v0", "ingress"), 0);
	cr_assert_eq(RUN(theirs, TC_BIN, "filter", "show", "dev", "w0", "ingress"), 0);
	/* The action index counts actions made: the only difference allowed
	 * (no -s: counters and ages differ with whatever traffic came by). */
	for (char *buf[] = { ours, theirs, NULL }, **b = buf; *b; b++)
		for (s = strstr(*b, "index "); s; s = strstr(s + 1, "index "))
			memmove(s + 6, s + 6 + strspn(s + 6, "0123456789"), strlen(s + 6) + 1);
	cr_expect(strstr(ours, "Egress Redirect to device x0"), "%s", ours);
	cr_expect_str_eq(ours, theirs);
}

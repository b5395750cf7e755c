/* test_tcpairs.c - tc_pairs_apply on veths, measured with real frames: a
 * packet socket sends frames from chosen source MACs into v0's egress (as
 * OVS's userspace datapath sends to a port) and another counts what comes
 * out of v1.  Each test in a network namespace of its own (net_helpers.h);
 * iproute2's `tc` as the observer of the tree.  Rate-only bands, which run
 * everywhere; netem bands are refused where the kernel has no netem. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tests/frames.h"
#include "tests/net_helpers.h"
#include "tc/rule.h"
#include "tc/tc.h"

#define TC_BIN "/usr/sbin/tc"

static const uint8_t A[6] = { 2, 0, 0, 0, 0, 0xa }, B[6] = { 2, 0, 0, 0, 0, 0xb },
		     C[6] = { 2, 0, 0, 0, 0, 0xc };

static void veth(void)
{
	char out[256];

	enter_private_netns();
	cr_assert_eq(RUN(out, IP_BIN, "link", "add", "v0", "type", "veth", "peer", "name", "v1"), 0);
	cr_assert_eq(RUN(out, IP_BIN, "link", "set", "v0", "up"), 0);
	cr_assert_eq(RUN(out, IP_BIN, "link", "set", "v1", "up"), 0);
}

static int through(const uint8_t src[6], bool bcast, int count)
{
	return frames_through("v0", "v1", src, bcast, count);
}

static struct tc_shape shape(const char *text)
{
	struct tc_rule r;
	struct err err = { 0 };

	cr_assert_eq(tc_rule_parse(text, &r, &err), 0, "%s", err.msg);
	return r.to_vm;
}

static void apply(const struct tc_pairs_port *p)
{
	struct err err = { 0 };

	cr_assert_eq(tc_pairs_apply(p, 1, &err), 0, "%s", err.msg);
}

/* How often word occurs in `tc WHAT show dev v0`. */
static int tc_count(const char *word, char *what)
{
	char out[65536];
	int n = 0;

	cr_assert_eq(RUN(out, TC_BIN, what, "show", "dev", "v0"), 0);
	for (char *p = out; (p = strstr(p, word)); p += strlen(word))
		n++;
	return n;
}

Test(tcpairs, drops_by_source_mac_broadcasts_too_and_lets_the_rest_pass)
{
	const uint8_t drop[][6] = { { 2, 0, 0, 0, 0, 0xa } };
	struct tc_pairs_port p = { .ifname = "v0", .drop = drop, .ndrop = 1 };

	veth();
	cr_assert_eq(through(A, false, 10), 10, "nothing dropped before");
	apply(&p);
	cr_expect_eq(through(A, false, 10), 0, "unicast from a dropped MAC");
	cr_expect_eq(through(A, true, 10), 0, "broadcast from a dropped MAC");
	cr_expect_eq(through(B, false, 10), 10, "from another MAC");
	cr_expect_eq(through(B, true, 10), 10, "broadcast from another MAC");
}

Test(tcpairs, a_new_policy_replaces_the_old_one_and_old_tables_go)
{
	const uint8_t da[][6] = { { 2, 0, 0, 0, 0, 0xa } }, db[][6] = { { 2, 0, 0, 0, 0, 0xb } };
	struct tc_pairs_port p = { .ifname = "v0", .drop = da, .ndrop = 1 };

	veth();
	apply(&p);
	/* Switch back and forth faster than the kernel frees unlinked
	 * tables: each call still finds a table to build in. */
	for (int i = 0; i < 12; i++) {
		p.drop = i % 2 ? da : db;
		apply(&p);
	}
	cr_expect_eq(through(A, false, 10), 0);
	cr_expect_eq(through(B, false, 10), 10, "B was dropped by the policy before");
	cr_expect_leq(tc_count("divisor", "filter"), 1 + 8, "800: and at most 8 tables");
	p.drop = NULL;
	p.ndrop = 0;
	apply(&p);
	cr_expect_eq(through(A, false, 10), 10, "an empty policy drops nothing");
	cr_expect_eq(tc_count("htb", "qdisc"), 0, "and leaves no tree");
}

Test(tcpairs, bands_take_their_macs_through_their_shape)
{
	const uint8_t macs[][6] = { { 2, 0, 0, 0, 0, 0xb } };
	struct tc_pairs_band b = { .id = 7, .shape = shape("rate 1mbit"), .macs = macs, .nmacs = 1 };
	struct tc_pairs_port p = { .ifname = "v0", .bands = &b, .nbands = 1 };
	char out[8192];

	veth();
	apply(&p);
	cr_expect_eq(through(B, false, 5), 5);
	cr_expect_eq(through(C, false, 7), 7);
	cr_assert_eq(RUN(out, TC_BIN, "-s", "qdisc", "show", "dev", "v0", "parent", "5:107"), 0);
	cr_expect(strstr(out, "tbf 207:") && strstr(out, "rate 1Mbit"), "%s", out);
	cr_expect(strstr(out, "Sent 320 bytes 5 pkt"), "only B's five frames in the band: %s", out);
	/* The band goes when no longer wanted: one call later, when the
	 * kernel has freed the table that sent to it (an RCU grace period). */
	p.nbands = 0;
	p.drop = macs;
	p.ndrop = 1;
	apply(&p);
	usleep(200000);
	apply(&p);
	cr_expect_eq(tc_count("5:107", "class"), 0);
	cr_expect_eq(through(B, false, 5), 0);
}

Test(tcpairs, a_missing_port_changes_no_port)
{
	const uint8_t drop[][6] = { { 2, 0, 0, 0, 0, 0xa } };
	struct tc_pairs_port p[2] = { { .ifname = "v0", .drop = drop, .ndrop = 1 },
				      { .ifname = "nosuch0", .drop = drop, .ndrop = 1 } };
	struct err err = { 0 };

	veth();
	cr_assert_eq(tc_pairs_apply(p, 2, &err), -ENODEV);
	cr_expect_str_eq(err.msg, "nosuch0: no such link");
	cr_expect_eq(through(A, false, 5), 5);
}

Test(tcpairs, netem_band_refused_without_netem)
{
	const uint8_t macs[][6] = { { 2, 0, 0, 0, 0, 0xb } };
	struct tc_pairs_band b = { .id = 1, .shape = shape("delay 40ms"), .macs = macs, .nmacs = 1 };
	struct tc_pairs_port p = { .ifname = "v0", .bands = &b, .nbands = 1 };
	struct err err = { 0 };

	if (tc_netem_available() != 0)
		cr_skip_test("this kernel has netem");
	veth();
	cr_assert_eq(tc_pairs_apply(&p, 1, &err), -EOPNOTSUPP);
	cr_expect(strstr(err.msg, "v0: delay needs netem") && strstr(err.msg, "CONFIG_NET_SCH_NETEM"),
		  "%s", err.msg);
	cr_expect_eq(tc_count("htb", "qdisc"), 0);
}

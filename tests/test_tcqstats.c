/* test_tcqstats.c - tc_qstats_read (tc/qstats.h) against this kernel, in a
 * network namespace of the test's own (net_helpers.h), with iproute2's
 * `tc -s -j` as the observer: a root tbf too slow for what is sent holds a
 * backlog and drops what does not fit, and we read what tc reads. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/net_helpers.h"
#include "tc/qstats.h"
#include "tc/rule.h"
#include "tc/tc.h"

#define TC_BIN "/usr/sbin/tc"

static void veth(void)
{
	char out[256];

	enter_private_netns();
	cr_assert_eq(RUN(out, IP_BIN, "link", "add", "v0", "type", "veth", "peer", "name", "v1"), 0);
	cr_assert_eq(RUN(out, IP_BIN, "link", "set", "v0", "up"), 0);
	cr_assert_eq(RUN(out, IP_BIN, "link", "set", "v1", "up"), 0);
}

/* 1000-byte frames out of dev through its qdisc; a frame the qdisc drops
 * is an ENOBUFS here. */
static void send_frames(const char *dev, int n)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(dev),
				  .sll_halen = ETH_ALEN };
	unsigned char frame[1000] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5 };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	memset(to.sll_addr, 0xff, ETH_ALEN);
	for (int i = 0; i < n; i++)
		cr_assert(sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)sizeof(frame) ||
			  errno == ENOBUFS, "sendto: %s", strerror(errno));
	close(fd);
}

/* `tc -s -j qdisc show dev DEV`'s root qdisc. */
static json_t *tc_root(const char *dev)
{
	json_t *all = ip_json((char *const[]){ TC_BIN, "-s", "-j", "qdisc", "show", "dev", (char *)dev, NULL });
	json_t *q, *root = NULL;
	size_t i;

	json_array_foreach(all, i, q)
		if (json_is_true(json_object_get(q, "root")))
			root = json_incref(q);
	json_decref(all);
	cr_assert_not_null(root, "no root qdisc on %s", dev);
	return root;
}

static json_int_t num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	cr_assert(json_is_integer(v), "tc shows no %s", key);
	return json_integer_value(v);
}

Test(tcqstats, backlog_and_drops_as_tc_reads_them)
{
	const char *names[] = { "v0", "v1", "nosuch", "", NULL };
	struct tc_qstats qs[5];
	struct tc_rule r;
	struct err err = { 0 };
	json_t *root;

	veth();
	/* 8 kbit/s: one 1000-byte frame a second leaves, the rest wait in a
	 * 10000-byte queue or are dropped. */
	cr_assert_eq(tc_rule_parse("rate 8kbit burst 2000 limit 10000", &r, &err), 0, "%s", err.msg);
	cr_assert_eq(tc_egress_apply("v0", &r.to_vm, &err), 0, "%s", err.msg);
	send_frames("v0", 30);
	cr_assert_eq(tc_qstats_read(names, 5, qs), 0);
	root = tc_root("v0");
	cr_expect(qs[0].found);
	cr_expect_gt(qs[0].backlog_pkts, 3, "a queue should be waiting: %llu", (unsigned long long)qs[0].backlog_pkts);
	cr_expect_gt(qs[0].drops, 10, "frames past the limit are dropped: %llu", (unsigned long long)qs[0].drops);
	/* tc reads a moment later: at most the one frame a second tbf lets
	 * out in between */
	cr_expect_leq(qs[0].backlog_pkts - (uint64_t)num(root, "qlen"), 1, "ours %llu, tc %lld",
		      (unsigned long long)qs[0].backlog_pkts, (long long)num(root, "qlen"));
	cr_expect_leq(qs[0].backlog_bytes - (uint64_t)num(root, "backlog"), 1000);
	cr_expect_eq(qs[0].drops, (uint64_t)num(root, "drops"));
	json_decref(root);
	/* the peer: the kernel's own root (noqueue), nothing queued */
	cr_expect(qs[1].found);
	cr_expect_eq(qs[1].backlog_pkts, 0);
	cr_expect_eq(qs[1].drops, 0);
	cr_expect(!qs[2].found);
	cr_expect(!qs[3].found);
	cr_expect(!qs[4].found);
}

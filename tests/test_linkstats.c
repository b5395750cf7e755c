/* test_linkstats.c - linkstats_read (net/linkstats.h) against this kernel,
 * in a network namespace of the test's own (net_helpers.h): frames sent
 * out of one end of a veth pair are counted as `ip -s -j link` counts
 * them, on both ends, and a missing link is reported as missing. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/net_helpers.h"
#include "net/linkstats.h"

static json_int_t ip_stat(const char *dev, const char *dir, const char *key)
{
	json_t *all = ip_json((char *const[]){ IP_BIN, "-s", "-j", "link", "show", "dev", (char *)dev, NULL });
	json_t *v = json_object_get(json_object_get(json_object_get(json_array_get(all, 0), "stats64"), dir), key);
	json_int_t n;

	cr_assert(json_is_integer(v), "ip shows no stats64.%s.%s for %s", dir, key, dev);
	n = json_integer_value(v);
	json_decref(all);
	return n;
}

Test(linkstats, counts_as_ip_does)
{
	const char *names[] = { "v0", "v1", "nosuch" };
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = ETH_ALEN };
	unsigned char frame[200] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5 };
	struct linkstats ls[3];
	char out[256];
	int fd;

	enter_private_netns();
	cr_assert_eq(RUN(out, IP_BIN, "link", "add", "v0", "type", "veth", "peer", "name", "v1"), 0);
	/* No IPv6 on either end: no router solicitations in the counters. */
	for (int i = 0; i < 2; i++) {
		char path[64];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/v%d/disable_ipv6", i);
		if ((f = fopen(path, "we"))) {
			fputs("1", f);
			fclose(f);
		}
	}
	cr_assert_eq(RUN(out, IP_BIN, "link", "set", "v0", "up"), 0);
	cr_assert_eq(RUN(out, IP_BIN, "link", "set", "v1", "up"), 0);
	to.sll_ifindex = (int)if_nametoindex("v0");
	memset(to.sll_addr, 0xff, ETH_ALEN);
	cr_assert_geq(fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), 0);
	for (int i = 0; i < 25; i++)
		cr_assert_eq(sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)sizeof(frame));
	close(fd);

	cr_assert_eq(linkstats_read(names, 3, ls), 0);
	cr_expect(ls[0].found && ls[1].found);
	cr_expect_eq(ls[0].tx_packets, 25);
	cr_expect_eq(ls[0].tx_bytes, 25 * 200);
	cr_expect_eq(ls[1].rx_packets, 25, "what one end sends the other receives");
	cr_expect_eq(ls[1].rx_bytes, 25 * 200);
	cr_expect_eq(ls[0].tx_packets, (uint64_t)ip_stat("v0", "tx", "packets"));
	cr_expect_eq(ls[0].tx_bytes, (uint64_t)ip_stat("v0", "tx", "bytes"));
	cr_expect_eq(ls[1].rx_packets, (uint64_t)ip_stat("v1", "rx", "packets"));
	cr_expect_eq(ls[1].rx_dropped, (uint64_t)ip_stat("v1", "rx", "dropped"));
	cr_expect(!ls[2].found);
	cr_expect_eq(ls[2].rx_packets, 0);
}

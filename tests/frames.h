/* frames.h - real Ethernet frames through a link's egress, for the suites
 * of tc/pairs.c and launcher/partition.c: a packet socket sends frames from
 * a chosen source MAC into one end of a veth (as OVS's userspace datapath
 * sends to a port, through its qdiscs) and another counts what comes out of
 * the other end.  Static inline, for Criterion suites in a private netns. */
#ifndef N3X_TESTS_FRAMES_H
#define N3X_TESTS_FRAMES_H

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAMES_PROTO 0x88b5 /* IEEE local experimental: nothing else sends it */

static inline int frames_socket(const char *dev)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(FRAMES_PROTO),
				   .sll_ifindex = (int)if_nametoindex(dev) };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(FRAMES_PROTO));

	cr_assert_geq(fd, 0, "packet socket: %s", strerror(errno));
	cr_assert_eq(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0, "bind %s: %s", dev, strerror(errno));
	return fd;
}

/* Send count frames from src into tx's egress (to the broadcast address
 * when bcast, else to a unicast MAC) and return how many came out of rx. */
static inline int frames_through(const char *tx_dev, const char *rx_dev, const uint8_t src[6], bool bcast,
				 int count)
{
	int tx = frames_socket(tx_dev), rx = frames_socket(rx_dev), got = 0;
	uint8_t f[64] = { 0 }, buf[128];

	memset(f, bcast ? 0xff : 0, 6);
	if (!bcast)
		memcpy(f, (uint8_t[6]){ 2, 0, 0, 0, 0, 0x99 }, 6);
	memcpy(f + 6, src, 6);
	f[12] = FRAMES_PROTO >> 8;
	f[13] = FRAMES_PROTO & 0xff;
	/* A frame the qdisc drops fails its send with ENOBUFS. */
	for (int i = 0; i < count; i++)
		cr_assert(send(tx, f, sizeof(f), 0) == (ssize_t)sizeof(f) || errno == ENOBUFS,
			  "send: %s", strerror(errno));
	for (;;) {
		struct pollfd p = { .fd = rx, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			break;
		while ((n = recv(rx, buf, sizeof(buf), 0)) > 0)
			if (n >= 12 && !memcmp(buf + 6, src, 6))
				got++;
	}
	close(tx);
	close(rx);
	return got;
}

#endif

/* owd_probe.c - one-way UDP probes, for measuring each direction of a link
 * on its own (images/netem/init runs both ends in one kernel, so sender
 * and receiver share CLOCK_MONOTONIC and the delay of each datagram is
 * exact, whatever the other direction does).
 *
 *   owd_probe recv PORT IDLE_MS [UNDER_MS]
 *       Counts the probes arriving on UDP PORT until none came for IDLE_MS
 *       after the sender's last one was due (60 s at most) and prints
 *
 *         sent=S recv=R dup=D reordered=O bad=B under=U
 *         delay_med=MS delay_p10=MS delay_p90=MS delay_min=MS delay_max=MS warm=W
 *
 *       on one line: S the probes sent (from the probes' own count),
 *       R the distinct ones received intact, D the extra copies, O those
 *       that came after a later one, B those whose payload failed its
 *       checksum (corrupted on the way, yet delivered), U those whose
 *       one-way delay was under UNDER_MS; delays are in ms over the
 *       intact first copies.  Warm-up probes are left out of every
 *       number but W, how many of them arrived intact.
 *   owd_probe send ADDR PORT COUNT INTERVAL_US [WARM [GAP_MS]]
 *       Sends WARM warm-up probes 20 ms apart (default 5: the first
 *       packets through a new path take longer under TCG), waits GAP_MS
 *       (default 0), then COUNT probes INTERVAL_US apart (0: as one burst),
 *       each 1000 bytes of UDP payload, checksummed in software (the
 *       UDP checksum is off: SO_NO_CHECK).
 *   owd_probe nocsum IFACE
 *       Turns IFACE's transmit checksum offload off (ETHTOOL_STXCSUM), so
 *       that what leaves it carries complete checksums, as a guest's NIC
 *       without offloads sends: Open vSwitch's userspace datapath reads
 *       its ports with packet sockets and forwards a partial checksum as
 *       it is, which the receiver then drops.
 *
 * Exit 0, 1 on a socket error, 2 on usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROBE_BYTES 1000
#define MAGIC 0x6e33786fu /* "n3xo" */
#define MAX_PROBES 100000

struct probe {
	uint32_t magic;
	uint32_t seq;      /* from 0; warm-up probes have seq >= MAX_PROBES */
	uint32_t count;    /* how many counted probes the sender sends */
	uint32_t interval_us;
	uint64_t sent_ns;  /* CLOCK_MONOTONIC */
	uint32_t sum;      /* FNV-1a of the whole payload with sum = 0 */
	uint8_t fill[PROBE_BYTES - 28];
} __attribute__((packed));

_Static_assert(sizeof(struct probe) == PROBE_BYTES, "probe size");

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static uint32_t fnv(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *b++) * 16777619u;
	return h;
}

static int usage(void)
{
	fprintf(stderr, "usage: owd_probe recv PORT IDLE_MS [UNDER_MS] |\n"
			"       owd_probe send ADDR PORT COUNT INTERVAL_US [WARM [GAP_MS]] |\n"
			"       owd_probe nocsum IFACE\n");
	return 2;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000u), (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int do_send(const char *addr, int port, int count, int interval_us, int warm, int gap_ms)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct probe p;
	uint64_t t;
	int fd;

	if (inet_pton(AF_INET, addr, &to.sin_addr) != 1 || count < 1 || count > MAX_PROBES)
		return usage();
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &(int){ 1 }, sizeof(int)) < 0) {
		perror("owd_probe: socket");
		return 1;
	}
	t = now_ns();
	for (int i = 0; i < warm + count; i++) {
		if (i < warm)
			t += 20000000u;
		else if (i == warm)
			t += (uint64_t)gap_ms * 1000000u;
		else
			t += (uint64_t)interval_us * 1000u;
		if (i <= warm || interval_us)
			sleep_until(t);
		memset(&p, 0, sizeof(p));
		p.magic = MAGIC;
		p.seq = i < warm ? (uint32_t)(MAX_PROBES + i) : (uint32_t)(i - warm);
		p.count = count;
		p.interval_us = interval_us;
		for (size_t k = 0; k < sizeof(p.fill); k++)
			p.fill[k] = (uint8_t)(p.seq * 31 + k);
		p.sent_ns = now_ns();
		p.sum = fnv(&p, sizeof(p));
		/* A drop at a full queue (netem's limit) is what is measured:
		 * not an error of the sender. */
		sendto(fd, &p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to));
	}
	close(fd);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(const double *v, int n, int p)
{
	return n ? v[(n - 1) * p / 100] : 0;
}

static int do_recv(int port, int idle_ms, double under_ms)
{
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(port) };
	uint8_t *seen = calloc(MAX_PROBES, 1);
	double *delay = calloc(MAX_PROBES, sizeof(*delay));
	int fd, rcvbuf = 4 << 20, warm = 0, nd = 0, dup = 0, reordered = 0, bad = 0, under = 0, recv_n = 0;
	long long max_seq = -1;
	uint32_t count = 0, interval_us = 0;
	uint64_t start = now_ns(), first = 0;
	struct probe p;

	if (!seen || !delay)
		return 1;
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		perror("owd_probe: recv socket");
		return 1;
	}
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		uint64_t now = now_ns(), due;
		long long wait_ms;
		ssize_t n;
		uint32_t sum;

		/* Idle until the last probe was due, then IDLE_MS more; before
		 * the first counted probe (warm-ups, a gap, a delay, a TCG
		 * stall) at least 5 s; 60 s in all. */
		due = first ? first + (uint64_t)count * interval_us * 1000u : start;
		wait_ms = (long long)((due > now ? due - now : 0) / 1000000u) + idle_ms;
		if (!first && wait_ms < 5000)
			wait_ms = 5000;
		if (now - start > 60000000000ull)
			break;
		if (poll(&pfd, 1, (int)wait_ms) <= 0)
			break;
		if ((n = recv(fd, &p, sizeof(p), 0)) < 0)
			continue;
		now = now_ns();
		if (n != sizeof(p) || p.magic != MAGIC) {
			bad++;
			continue;
		}
		sum = p.sum;
		p.sum = 0;
		if (fnv(&p, sizeof(p)) != sum) {
			bad++;
			continue;
		}
		if (p.seq >= MAX_PROBES) {
			warm++;
			continue;
		}
		if (!first) {
			first = p.sent_ns;
			count = p.count;
			interval_us = p.interval_us;
		}
		if (seen[p.seq]) {
			dup++;
			continue;
		}
		seen[p.seq] = 1;
		recv_n++;
		if ((long long)p.seq < max_seq)
			reordered++;
		else
			max_seq = p.seq;
		delay[nd] = (now - p.sent_ns) / 1e6;
		if (delay[nd] < under_ms)
			under++;
		nd++;
	}
	qsort(delay, nd, sizeof(*delay), cmp);
	printf("sent=%u recv=%d dup=%d reordered=%d bad=%d under=%d delay_med=%.2f delay_p10=%.2f "
	       "delay_p90=%.2f delay_min=%.2f delay_max=%.2f warm=%d\n",
	       count, recv_n, dup, reordered, bad, under, pct(delay, nd, 50), pct(delay, nd, 10),
	       pct(delay, nd, 90), nd ? delay[0] : 0, nd ? delay[nd - 1] : 0, warm);
	close(fd);
	free(seen);
	free(delay);
	return 0;
}

static int nocsum(const char *iface)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_STXCSUM, .data = 0 };
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (strlen(iface) >= sizeof(ifr.ifr_name))
		return usage();
	strcpy(ifr.ifr_name, iface);
	ifr.ifr_data = (void *)&ev;
	r = fd < 0 ? -1 : ioctl(fd, SIOCETHTOOL, &ifr);
	if (r < 0)
		perror("owd_probe: ETHTOOL_STXCSUM");
	if (fd >= 0)
		close(fd);
	return r < 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "nocsum"))
		return nocsum(argv[2]);
	if (argc >= 4 && argc <= 5 && !strcmp(argv[1], "recv"))
		return do_recv(atoi(argv[2]), atoi(argv[3]), argc == 5 ? atof(argv[4]) : 0);
	if (argc >= 6 && argc <= 8 && !strcmp(argv[1], "send"))
		return do_send(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argc > 6 ? atoi(argv[6]) : 5,
			       argc > 7 ? atoi(argv[7]) : 0);
	return usage();
}

/* verifyprobe.c - tc verify's delay and loss: ICMP echo requests from the
 * fabric's namespace to a VM, timestamped by libpcap at both ends of its
 * link (verify.h).  Runs in the fabric's namespace, as root.
 *
 * Where each end sees what: libpcap's packet socket sees a frame a device
 * sends once its qdiscs let it go (dev_hard_start_xmit), and a frame it
 * receives before its ingress hook.  So a request sent by the switch end
 * and then by the tap (to the VM) has passed every to-vm qdisc in between;
 * a reply received on the tap (from the VM) and then on the switch end has
 * passed every from-vm qdisc.  The ICMP type tells the direction; the
 * identifier is ours, the sequence number the probe.
 */
#include "ctl/verifyrun.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#define SNAPLEN 128

struct seen {
	double sw_req, vm_req, vm_rep, sw_rep; /* seconds; 0 unseen */
};

struct end {
	pcap_t *p;
	bool vm_side;
	struct seen *s;
	int count;
	uint16_t id;
	const char *dev;
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t); /* pcap's timestamps are on this clock */
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* One frame: Ethernet (possibly 802.1Q), IPv4, ICMP echo of ours. */
static void on_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *b)
{
	struct end *e = (struct end *)user;
	size_t off = 12, ihl;
	unsigned type, id, seq;
	double t = h->ts.tv_sec + h->ts.tv_usec / 1e6, *slot;

	if (h->caplen < 14)
		return;
	if (b[12] == 0x81 && b[13] == 0x00)
		off += 4;
	if (h->caplen < off + 2 + 20 || b[off] != 0x08 || b[off + 1] != 0x00)
		return;
	off += 2;
	ihl = (b[off] & 0x0f) * 4u;
	if (b[off + 9] != IPPROTO_ICMP || h->caplen < off + ihl + 8)
		return;
	off += ihl;
	type = b[off];
	id = (unsigned)b[off + 4] << 8 | b[off + 5];
	seq = (unsigned)b[off + 6] << 8 | b[off + 7];
	if (id != e->id || seq >= (unsigned)e->count || (type != ICMP_ECHO && type != ICMP_ECHOREPLY))
		return;
	if (type == ICMP_ECHO)
		slot = e->vm_side ? &e->s[seq].vm_req : &e->s[seq].sw_req;
	else
		slot = e->vm_side ? &e->s[seq].vm_rep : &e->s[seq].sw_rep;
	if (*slot == 0) /* a duplicate keeps the first */
		*slot = t;
}

static int open_end(struct end *e, const char *dev, struct in_addr dst, struct err *er)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "", filter[128], ip[INET_ADDRSTRLEN];
	struct bpf_program prog;

	e->dev = dev;
	if (!(e->p = pcap_create(dev, errbuf)))
		return err_set(er, EIO, "cannot capture on %s: %s", dev, errbuf);
	pcap_set_immediate_mode(e->p, 1);
	pcap_set_snaplen(e->p, SNAPLEN);
	pcap_set_timeout(e->p, 10);
	if (pcap_activate(e->p) < 0)
		return err_set(er, EIO, "cannot capture on %s: %s", dev, pcap_geterr(e->p));
	inet_ntop(AF_INET, &dst, ip, sizeof(ip));
	/* "vlan" shifts the offsets of what follows it, so it comes last;
	 * on_frame checks each frame again. */
	snprintf(filter, sizeof(filter), "(icmp and host %s) or (vlan and icmp and host %s)", ip, ip);
	if (pcap_compile(e->p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 || pcap_setfilter(e->p, &prog) < 0)
		return err_set(er, EIO, "cannot filter the capture on %s: %s", dev, pcap_geterr(e->p));
	pcap_freecode(&prog);
	if (pcap_setnonblock(e->p, 1, errbuf) < 0)
		return err_set(er, EIO, "capture on %s: %s", dev, errbuf);
	return 0;
}

static uint16_t csum(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void send_probe(int fd, struct in_addr dst, uint16_t id, uint16_t seq)
{
	uint8_t pkt[64] = { ICMP_ECHO, 0 };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst };
	uint16_t c;

	pkt[4] = id >> 8, pkt[5] = id & 0xff;
	pkt[6] = seq >> 8, pkt[7] = seq & 0xff;
	memcpy(pkt + 8, "n3x-ctl tc verify probe", 23);
	c = csum(pkt, sizeof(pkt));
	pkt[2] = c >> 8, pkt[3] = c & 0xff;
	/* A probe the socket refuses (no neighbour yet) is one lost before
	 * the link, which the switch end never sees: it does not count. */
	(void)sendto(fd, pkt, sizeof(pkt), MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to));
}

static void drain(struct end *ends, int fd)
{
	char buf[2048];

	for (int i = 0; i < 2; i++)
		while (pcap_dispatch(ends[i].p, -1, on_frame, (u_char *)&ends[i]) > 0)
			;
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Fold one direction: the probes that entered at `in` and left at `out`. */
static void fold(const struct seen *s, int n, bool to_vm, struct verify_measured *m)
{
	double *d = calloc(n + 1, sizeof(*d)), sum = 0, sq = 0;
	int k = 0;

	m->probed = true;
	m->entered = m->lost = 0;
	for (int i = 0; i < n; i++) {
		double in = to_vm ? s[i].sw_req : s[i].vm_rep, out = to_vm ? s[i].vm_req : s[i].sw_rep;

		if (!in)
			continue;
		m->entered++;
		if (!out) {
			m->lost++;
			continue;
		}
		if (d)
			d[k++] = (out - in) * 1e6;
	}
	if (k) {
		qsort(d, k, sizeof(*d), cmp_double);
		m->delay_us = k % 2 ? d[k / 2] : (d[k / 2 - 1] + d[k / 2]) / 2;
		for (int i = 0; i < k; i++)
			sum += d[i], sq += d[i] * d[i];
		m->jitter_us = k > 1 ? sq / k - (sum / k) * (sum / k) : 0;
		m->jitter_us = m->jitter_us > 0 ? m->jitter_us : 0;
		/* standard deviation: Newton's root, no libm */
		if (m->jitter_us > 0) {
			double v = m->jitter_us, r = v > 1 ? v : 1;

			for (int i = 0; i < 64; i++)
				r = (r + v / r) / 2;
			m->jitter_us = r;
		}
	}
	free(d);
}

int verify_probe(const struct verify_probe_args *a, struct verify_measured out[2], struct err *e)
{
	struct end ends[2] = { { .vm_side = true }, { .vm_side = false } };
	struct seen *s = calloc(a->count, sizeof(*s));
	uint16_t id = (uint16_t)(getpid() ^ (unsigned)time(NULL));
	double start, end_at, next;
	int fd = -1, r = 0, sent = 0;
	struct pcap_stat ps;

	if (!s)
		return err_set(e, ENOMEM, "out of memory");
	for (int i = 0; i < 2; i++) {
		ends[i].s = s, ends[i].count = a->count, ends[i].id = id;
		if ((r = open_end(&ends[i], i == 0 ? a->vm_dev : a->switch_dev, a->dst, e)) < 0)
			goto out;
	}
	if ((fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP)) < 0) {
		r = err_sys(e, errno, "cannot open an ICMP socket");
		goto out;
	}
	start = next = now_s();
	end_at = start + a->count * a->interval_s + a->grace_s;
	for (;;) {
		double t = now_s(), until = sent < a->count ? next : end_at;
		struct pollfd p[2] = { { pcap_get_selectable_fd(ends[0].p), POLLIN, 0 },
				       { pcap_get_selectable_fd(ends[1].p), POLLIN, 0 } };

		if (sent < a->count && t >= next) {
			send_probe(fd, a->dst, id, (uint16_t)sent++);
			next += a->interval_s;
			continue;
		}
		if (sent >= a->count && t >= end_at)
			break;
		poll(p, 2, (int)((until - t) * 1000) + 1);
		drain(ends, fd);
	}
	drain(ends, fd);
	fold(s, a->count, true, &out[0]);
	fold(s, a->count, false, &out[1]);
	for (int i = 0; i < 2; i++)
		if (pcap_stats(ends[i].p, &ps) == 0 && ps.ps_drop)
			for (int d = 0; d < 2; d++)
				snprintf(out[d].probe_note, sizeof(out[d].probe_note),
					 "the capture on %s dropped %u frames: losses may be ours", ends[i].dev,
					 ps.ps_drop);
out:
	if (fd >= 0)
		close(fd);
	for (int i = 0; i < 2; i++)
		if (ends[i].p)
			pcap_close(ends[i].p);
	free(s);
	return r;
}

/* verifyxfer.c - tc verify's rates: two TCP transfers through the link
 * against a listener of ours on the host interface, which the guest
 * connects to (verify.h).  To the VM, the rate is what the guest's TCP
 * acknowledged (TCP_INFO's bytes_acked, so data still in our buffers or
 * queued in a shaper does not count); from it, what we received.  Each
 * counts only after a warm-up, past TCP's slow start and the shaper's
 * bucket filling.  The connections end with a reset, so the guest's
 * programs exit at once however much is still queued.
 */
#include "ctl/verifyrun.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

static double mono_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

void verify_guest_script(struct in_addr host, int port, char *buf, size_t size)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &host, ip, sizeof(ip));
	/* First connection: the guest only reads (to the VM); second: it
	 * only writes (from the VM).  nc with stdin at EOF half-closes and
	 * keeps reading; both programs end on our reset. */
	snprintf(buf, size,
		 "(if command -v bash >/dev/null; then "
		 "timeout 60 bash -c 'cat </dev/tcp/%s/%d'; timeout 60 bash -c 'cat /dev/zero >/dev/tcp/%s/%d'; "
		 "else timeout 60 nc %s %d </dev/null; timeout 60 nc %s %d </dev/zero; fi) >/dev/null 2>&1 &",
		 ip, port, ip, port, ip, port, ip, port);
}

/* Accept the guest's next connection (from a->vm) within the time left. */
static int accept_vm(int lfd, const struct verify_xfer_args *a, double deadline)
{
	for (;;) {
		struct sockaddr_in from;
		socklen_t len = sizeof(from);
		struct pollfd p = { lfd, POLLIN, 0 };
		double left = deadline - mono_s();
		int fd;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		fd = accept4(lfd, (struct sockaddr *)&from, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			continue;
		if (from.sin_addr.s_addr == a->vm.s_addr)
			return fd;
		close(fd); /* someone else's */
	}
}

/* Close with a reset: nothing queued is sent, the peer's program ends. */
static void reset_close(int fd)
{
	struct linger l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static uint64_t acked(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return 0;
	return ti.tcpi_bytes_acked;
}

/* Payload bytes to the bytes of the Ethernet frames carrying them, as tbf
 * and netem's rate count them (headers in, preamble and FCS out): a full
 * segment of mss bytes goes out with 14 + 20 + 20 bytes of Ethernet, IPv4
 * and TCP headers, and 12 of timestamps when they were agreed.  So 10
 * Mbit/s of frames measures 10, not the 9.56 of payload. */
static double on_wire(int fd, bool sender, double payload)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	double mss;

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return payload;
	mss = sender ? ti.tcpi_snd_mss : ti.tcpi_rcv_mss;
	if (mss < 500)
		return payload; /* no full segments seen: leave it */
	return payload * (mss + 54 + (ti.tcpi_options & TCPI_OPT_TIMESTAMPS ? 12 : 0)) / mss;
}

/* The byte count sampled every SAMPLE_S through the measured time; the
 * rate is the least-squares slope of bytes over time, not the last sample
 * less the first: a guest that acknowledges or sends in 64 KiB bursts
 * (GRO) would otherwise put a burst's worth of error on each end. */
#define SAMPLE_S 0.02

struct series {
	double *t, *b;
	int n, max;
	double next; /* when the next sample is due */
};

static int series_init(struct series *s, double start, double secs)
{
	s->max = (int)(secs / SAMPLE_S) + 16;
	s->n = 0;
	s->next = start;
	s->t = calloc(s->max, sizeof(*s->t));
	s->b = calloc(s->max, sizeof(*s->b));
	return s->t && s->b ? 0 : -ENOMEM;
}

static void series_free(struct series *s)
{
	free(s->t);
	free(s->b);
}

/* Sample when due; returns the seconds until the next one is. */
static double series_tick(struct series *s, double t, double bytes)
{
	if (t >= s->next && s->n < s->max) {
		s->t[s->n] = t, s->b[s->n] = bytes, s->n++;
		s->next += SAMPLE_S;
		if (s->next < t)
			s->next = t + SAMPLE_S;
	}
	return s->next - t;
}

/* Bytes per second, or -1 with fewer than 10 samples. */
static double series_slope(const struct series *s)
{
	double mt = 0, mb = 0, num = 0, den = 0;

	if (s->n < 10)
		return -1;
	for (int i = 0; i < s->n; i++)
		mt += s->t[i], mb += s->b[i];
	mt /= s->n, mb /= s->n;
	for (int i = 0; i < s->n; i++)
		num += (s->t[i] - mt) * (s->b[i] - mb), den += (s->t[i] - mt) * (s->t[i] - mt);
	return den > 0 ? num / den : -1;
}

/* The rate from the series, or why there is none. */
static void rate_of(const struct series *s, int fd, bool sender, struct verify_measured *m)
{
	double bps = series_slope(s);

	if (bps < 0) {
		snprintf(m->rate_note, sizeof(m->rate_note), "too few samples (%d) to measure a rate", s->n);
		return;
	}
	m->rated = true;
	m->rate_bps = on_wire(fd, sender, bps * 8);
}

static void to_vm(int fd, const struct verify_xfer_args *a, struct verify_measured *m)
{
	static const char zeros[CHUNK];
	double t0 = mono_s(), t_warm = t0 + a->warm_s, t_end = t_warm + a->secs, t;
	struct series s;

	if (series_init(&s, t_warm, a->secs) < 0) {
		snprintf(m->rate_note, sizeof(m->rate_note), "out of memory");
		goto out;
	}
	while ((t = mono_s()) < t_end) {
		struct pollfd p = { fd, POLLOUT, 0 };
		double wait = t < t_warm ? t_warm - t : series_tick(&s, t, (double)acked(fd));

		if (poll(&p, 1, (int)(wait * 1000) + 1) <= 0)
			continue;
		if (p.revents & (POLLERR | POLLHUP)) {
			snprintf(m->rate_note, sizeof(m->rate_note), "the guest closed the connection after %.1f s",
				 t - t0);
			goto out;
		}
		if (send(fd, zeros, sizeof(zeros), MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != EINTR) {
			snprintf(m->rate_note, sizeof(m->rate_note), "sending to the guest: %s", strerror(errno));
			goto out;
		}
	}
	rate_of(&s, fd, true, m);
out:
	series_free(&s);
}

static void from_vm(int fd, const struct verify_xfer_args *a, struct verify_measured *m)
{
	static char buf[CHUNK];
	double t0 = mono_s(), t_warm = t0 + a->warm_s, t_end = t_warm + a->secs, t;
	uint64_t bytes = 0;
	struct series s;

	if (series_init(&s, t_warm, a->secs) < 0) {
		snprintf(m->rate_note, sizeof(m->rate_note), "out of memory");
		goto out;
	}
	while ((t = mono_s()) < t_end) {
		struct pollfd p = { fd, POLLIN, 0 };
		double wait = t < t_warm ? t_warm - t : series_tick(&s, t, (double)bytes);
		ssize_t n;

		if (poll(&p, 1, (int)(wait * 1000) + 1) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0) {
			bytes += n;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			snprintf(m->rate_note, sizeof(m->rate_note), "the guest stopped sending after %.1f s",
				 t - t0);
			goto out;
		}
	}
	rate_of(&s, fd, false, m);
out:
	series_free(&s);
}

int verify_xfer(const struct verify_xfer_args *a, struct verify_measured out[2], struct err *e)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = a->host };
	socklen_t len = sizeof(sa);
	char script[1024];
	int lfd, fd, r, one = 1;
	double deadline;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0)
		return err_sys(e, errno, "cannot open a TCP socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
		r = err_sys(e, errno, "cannot listen on %s", inet_ntoa(a->host));
		close(lfd);
		return r;
	}
	verify_guest_script(a->host, ntohs(sa.sin_port), script, sizeof(script));
	if ((r = a->start(a->opaque, script, e)) < 0) {
		close(lfd);
		return r;
	}
	deadline = mono_s() + a->accept_s;
	if ((fd = accept_vm(lfd, a, deadline)) < 0) {
		for (int d = 0; d < 2; d++)
			snprintf(out[d].rate_note, sizeof(out[d].rate_note),
				 "the guest did not connect to %s:%d within %.0f s", inet_ntoa(a->host),
				 ntohs(sa.sin_port), a->accept_s);
		close(lfd);
		return 0;
	}
	to_vm(fd, a, &out[0]);
	reset_close(fd);
	/* The guest's second connection follows its first one's end. */
	if ((fd = accept_vm(lfd, a, mono_s() + 15)) < 0) {
		snprintf(out[1].rate_note, sizeof(out[1].rate_note),
			 "the guest did not connect a second time within 15 s");
	} else {
		from_vm(fd, a, &out[1]);
		reset_close(fd);
	}
	close(lfd);
	return 0;
}

/* peer.h - a scripted peer over a socketpair, for the tests of the QMP and
 * OVSDB clients.
 *
 * The test plays the server on one end ("the peer", peer_fd) and drives the
 * client on the other with poll() + its io function, always with a
 * deadline, never sleeping.  The including test defines, before including
 * this file, the client as three functions:
 *     static int peer_client_fd(void);
 *     static bool peer_client_want_write(void);
 *     static int peer_client_io(void);
 * A peer forked with peer_fork() shares the client's socket, so it never
 * runs the client: only the test process does.
 */
#ifndef N3X_TESTS_PEER_H
#define N3X_TESTS_PEER_H

#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 5000

static int peer_fd = -1;
static char pbuf[8 << 20];      /* what the peer read and has not parsed yet */
static size_t plen;
static int io_rc;               /* the last peer_client_io() result */
static pid_t child = -1;        /* a forked peer or program; 0 inside it */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A connected pair: the peer keeps one end; returns the client's. */
static int peer_open(void)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	peer_fd = sv[1];
	plen = 0;
	io_rc = 0;
	return sv[0];
}

/* Close the peer's end and end a forked peer. */
static void peer_close(void)
{
	if (peer_fd >= 0)
		close(peer_fd);
	peer_fd = -1;
	if (child > 0) {
		kill(child, SIGKILL);   /* our own child */
		waitpid(child, NULL, 0);
	}
	child = -1;
}

/* fork(); the child (return 0) plays the peer and must _exit(). */
static pid_t peer_fork(void)
{
	child = fork();
	cr_assert_geq(child, 0);
	return child;
}

/* One poll round on the client; its io function when its fd is ready. */
static void client_round(int timeout)
{
	struct pollfd pf = { peer_client_fd(), POLLIN | (peer_client_want_write() ? POLLOUT : 0), 0 };

	if (poll(&pf, 1, timeout) > 0)
		io_rc = peer_client_io();
}

#define PUMP_UNTIL(cond) do { \
	long long dl_ = now_ms() + TIMEOUT_MS; \
	while (!(cond)) { \
		cr_assert_geq(io_rc, 0, "client failed (%d) before " #cond, io_rc); \
		cr_assert_lt(now_ms(), dl_, "timed out waiting for " #cond); \
		client_round((int)(dl_ - now_ms())); \
	} \
} while (0)

/* Write s; while the socket is full the client reads (in the test process).
 * Gives up once the client failed. */
static void peer_write(const char *s, size_t len)
{
	while (len && io_rc >= 0) {
		ssize_t n = send(peer_fd, s, len, (child ? MSG_DONTWAIT : 0) | MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			client_round(TIMEOUT_MS);
			continue;
		}
		cr_assert_gt(n, 0, "peer write: %s", strerror(errno));
		s += n;
		len -= (size_t)n;
	}
}

__attribute__((format(printf, 1, 2)))
static void peer_send(const char *fmt, ...)
{
	va_list ap;
	char *buf;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&buf, fmt, ap);
	va_end(ap);
	cr_assert_geq(len, 0);
	peer_write(buf, (size_t)len);
	free(buf);
}

/* The next JSON value the client wrote (a QMP line, or an OVSDB message,
 * which has no delimiter), parsed; the whitespace after it is dropped.  The
 * client runs meanwhile, so it can flush what the socket did not take. */
static json_t *peer_recv(void)
{
	long long dl = now_ms() + TIMEOUT_MS;

	for (;;) {
		json_error_t jerr;
		json_t *msg = plen ? json_loadb(pbuf, plen, JSON_DISABLE_EOF_CHECK, &jerr) : NULL;

		if (msg) {
			size_t used = jerr.position;

			while (used < plen && strchr(" \t\r\n", pbuf[used]))
				used++;
			plen -= used;
			memmove(pbuf, pbuf + used, plen);
			return msg;
		}
		cr_assert_lt(now_ms(), dl, "timed out waiting for the client to write");
		struct pollfd pf[2] = {
			{ peer_fd, POLLIN, 0 },
			{ child ? peer_client_fd() : -1,
			  POLLIN | (child && peer_client_want_write() ? POLLOUT : 0), 0 },
		};
		poll(pf, 2, (int)(dl - now_ms()));
		if (pf[1].revents) {
			io_rc = peer_client_io();
			cr_assert_geq(io_rc, 0);
		}
		if (pf[0].revents & POLLIN) {
			ssize_t n = read(peer_fd, pbuf + plen, sizeof(pbuf) - plen);

			cr_assert_gt(n, 0, "peer buffer full or client gone");
			plen += (size_t)n;
		}
	}
}

#endif

/* fake_qemu.h - what the tests that play QEMU share (test_vm.c,
 * test_guest_vm.c): a line-oriented peer on the test's end of a socketpair
 * (QEMU's monitor, the guest's agent), and a stand-in process whose exit
 * the test decides.
 */
#ifndef N3X_TESTS_FAKE_QEMU_H
#define N3X_TESTS_FAKE_QEMU_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/child.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 8}}, \"capabilities\": []}}"

/* ---- a line-oriented peer on one end of a socketpair ---- */

struct peer {
	int fd;                 /* -1: closed */
	char buf[65536];
	size_t len;
};

static void peer_close(struct peer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->len = 0;
}

/* Send one line.  A far end that hung up closes the peer, as a real one
 * would see it; anything else fails the test. */
__attribute__((format(printf, 2, 3)))
static void peer_send(struct peer *p, const char *fmt, ...)
{
	char *line;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	cr_assert_geq(n, 0);
	line = realloc(line, n + 3);
	cr_assert_not_null(line);
	strcpy(line + n, "\r\n");
	n += 2;
	if (p->fd >= 0 && send(p->fd, line, n, MSG_NOSIGNAL) != n) {
		cr_assert(errno == EPIPE || errno == ECONNRESET, "peer: send: %s", strerror(errno));
		peer_close(p);
	}
	free(line);
}

/* The next whole line that has arrived (malloc'd, no line ending), or NULL. */
static char *peer_line(struct peer *p)
{
	char *nl, *line;
	ssize_t n;

	if (p->fd < 0)
		return NULL;
	while (p->len < sizeof(p->buf) &&
	       (n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, MSG_DONTWAIT)) > 0)
		p->len += n;
	if (!(nl = memchr(p->buf, '\n', p->len)))
		return NULL;
	line = strndup(p->buf, nl - p->buf);
	p->len -= nl + 1 - p->buf;
	memmove(p->buf, nl + 1, p->len);
	return line;
}

/* ---- QEMU's listening sockets ----
 * The supervisor hands QEMU listening sockets (launcher/argv.h QEMU_FD_*:
 * serial, monitor, agent, users' QMP; then console.log) and connects to
 * them; the fake keeps copies of the first three and accepts from them as
 * QEMU's main loop would, greeting each monitor connection. */

struct fake_socks {
	int serial, mon, agent;  /* listening; -1 when closed */
};

static void fake_socks_take(struct fake_socks *s, const int *fds, int nfds)
{
	cr_assert_geq(nfds, 5, "serial, monitor, agent, QMP sockets and console.log");
	s->serial = dup(fds[0]);
	s->mon = dup(fds[1]);
	s->agent = dup(fds[2]);
	cr_assert(s->serial >= 0 && s->mon >= 0 && s->agent >= 0);
}

static void fake_socks_close(struct fake_socks *s)
{
	int *fds[] = { &s->serial, &s->mon, &s->agent };

	for (int i = 0; i < 3; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static int fake_accept(int lfd)
{
	return lfd < 0 ? -1 : accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* Take the connections the supervisor made where none is open. */
static void fake_socks_accept(struct fake_socks *s, int *serial, struct peer *mon, struct peer *agent)
{
	int fd;

	if (*serial < 0)
		*serial = fake_accept(s->serial);
	if (agent->fd < 0 && (fd = fake_accept(s->agent)) >= 0) {
		agent->fd = fd;
		agent->len = 0;
	}
	if (mon->fd < 0 && (fd = fake_accept(s->mon)) >= 0) {
		mon->fd = fd;
		mon->len = 0;
		peer_send(mon, GREETING);
	}
}

/* A real child whose exit the test decides: it exits with the number
 * written to *ctl, or 0 when *ctl is closed. */
static int standin(struct child *c, int *ctl)
{
	static char *const argv[] = { "sh", "-c", "read x <&3; exit ${x:-0}", NULL };
	int p[2], r;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	r = child_spawn(c, argv, &p[0], 1);
	close(p[0]);
	if (r < 0) {
		close(p[1]);
		return r;
	}
	*ctl = p[1];
	return 0;
}

#endif

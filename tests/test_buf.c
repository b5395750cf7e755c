/* test_buf.c - the byte queue's fd helpers: what a read or a write leaves in
 * the buffer, would-block, end of file, a vanished peer, and pipes (which
 * send() refuses) next to sockets. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"

static void nonblock(int fd)
{
	cr_assert_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

Test(buf, read_appends_after_live_bytes)
{
	struct buf b = { 0 };
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	nonblock(sv[0]);
	cr_assert_eq(buf_append(&b, "ab", 2), 0);
	buf_consume(&b, 1);
	cr_assert_eq(buf_read_fd(&b, sv[0], 16), -EAGAIN);
	cr_assert_eq(b.len, 1);
	cr_assert_eq(write(sv[1], "cde", 3), 3);
	cr_assert_eq(buf_read_fd(&b, sv[0], 16), 3);
	cr_assert_eq(b.len, 4);
	cr_assert_eq(memcmp(b.p + b.off, "bcde", 4), 0);
	cr_assert_geq(b.cap - b.off - b.len, 12, "room for the chunk was reserved");
	close(sv[1]);
	cr_assert_eq(buf_read_fd(&b, sv[0], 16), 0, "EOF");
	cr_assert_eq(b.len, 4);
	close(sv[0]);
	buf_free(&b);
}

Test(buf, read_error_is_errno)
{
	struct buf b = { 0 };

	cr_assert_eq(buf_read_fd(&b, -1, 16), -EBADF);
	cr_assert_eq(b.len, 0);
	buf_free(&b);
}

Test(buf, write_until_it_would_block)
{
	struct buf b = { 0 };
	bool not_socket = false;
	static char big[1 << 20];
	int sv[2];
	size_t left;
	char rd[4096];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	nonblock(sv[0]);
	memset(big, 'x', sizeof(big));
	cr_assert_eq(buf_append(&b, big, sizeof(big)), 0);
	cr_assert_eq(buf_write_fd(&b, sv[0], &not_socket), 0);
	cr_assert(b.len > 0 && b.len < sizeof(big), "a socket buffer takes part of 1 MiB");
	cr_assert_not(not_socket);
	left = b.len;
	nonblock(sv[1]);
	while (read(sv[1], rd, sizeof(rd)) > 0) /* the peer drains it */
		;
	cr_assert_eq(buf_write_fd(&b, sv[0], &not_socket), 0);
	cr_assert(b.len < left);
	close(sv[0]);
	close(sv[1]);
	buf_free(&b);
}

Test(buf, write_to_gone_peer_is_epipe_not_sigpipe)
{
	struct buf b = { 0 };
	bool not_socket = false;
	int sv[2];

	signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	cr_assert_eq(buf_append(&b, "hello", 5), 0);
	cr_assert_eq(buf_write_fd(&b, sv[0], &not_socket), -EPIPE);
	cr_assert_eq(b.len, 5, "nothing consumed");
	close(sv[0]);
	buf_free(&b);
}

Test(buf, pipe_falls_back_to_write)
{
	struct buf b = { 0 };
	bool not_socket = false;
	int p[2];
	char rd[8];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(buf_append(&b, "hello", 5), 0);
	cr_assert_eq(buf_write_fd(&b, p[1], &not_socket), 0);
	cr_assert(not_socket);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(read(p[0], rd, sizeof(rd)), 5);
	cr_assert_eq(memcmp(rd, "hello", 5), 0);
	cr_assert_eq(buf_append(&b, "again", 5), 0);
	cr_assert_eq(buf_write_fd(&b, p[1], &not_socket), 0, "and keeps using write()");
	cr_assert_eq(read(p[0], rd, sizeof(rd)), 5);
	close(p[0]);
	close(p[1]);
	buf_free(&b);
}

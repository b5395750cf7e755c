/* test_sock.c - unix sockets: listen with the stale check, connect, peer
 * credentials. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/sock.h"

static char dir[64], path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/n3x-sock.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

TestSuite(sock, .init = setup, .fini = teardown);

Test(sock, listen_is_0600_and_connectable)
{
	struct stat st;
	int l = unix_listen(path, 4), c, a;
	uid_t uid;

	cr_assert_geq(l, 0, "unix_listen: %s", strerror(-l));
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert(fcntl(l, F_GETFD) & FD_CLOEXEC);
	cr_assert(fcntl(l, F_GETFL) & O_NONBLOCK);
	c = unix_connect(path);
	cr_assert_geq(c, 0);
	a = accept(l, NULL, NULL);
	cr_assert_geq(a, 0);
	cr_assert(unix_peer_allowed(a, &uid));
	cr_assert_eq(uid, geteuid());
	close(a);
	close(c);
	close(l);
}

Test(sock, a_live_listener_is_left_alone)
{
	int l = unix_listen(path, 4);

	cr_assert_geq(l, 0);
	cr_assert_eq(unix_listen(path, 4), -EADDRINUSE);
	/* still the first listener's socket */
	int c = unix_connect(path);
	cr_assert_geq(c, 0);
	close(c);
	close(l);
}

Test(sock, a_full_backlog_is_still_live)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l = unix_listen(path, 0), c[8];

	cr_assert_geq(l, 0);
	strcpy(sa.sun_path, path);
	/* fill the backlog with connections nobody accepts */
	for (int i = 0; i < 8; i++) {
		c[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(c[i], (struct sockaddr *)&sa, sizeof(sa));
	}
	cr_assert_eq(unix_listen(path, 4), -EADDRINUSE);
	for (int i = 0; i < 8; i++)
		close(c[i]);
	close(l);
}

Test(sock, a_stale_socket_is_replaced)
{
	int l = unix_listen(path, 4);

	cr_assert_geq(l, 0);
	close(l); /* the file stays, nobody answers */
	cr_assert_eq(unix_connect(path), -ECONNREFUSED);
	l = unix_listen(path, 4);
	cr_assert_geq(l, 0, "unix_listen: %s", strerror(-l));
	close(l);
}

Test(sock, a_file_that_is_not_a_socket_is_kept)
{
	int fd = open(path, O_CREAT | O_WRONLY, 0600);

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(unix_listen(path, 4), -EEXIST);
	cr_assert_eq(access(path, F_OK), 0);
}

Test(sock, too_long_a_path)
{
	char longp[200];

	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	cr_assert_eq(unix_listen(longp, 4), -ENAMETOOLONG);
	cr_assert_eq(unix_connect(longp), -ENAMETOOLONG);
}

/* test_control.c - the control socket against a scripted dispatcher and a
 * plain client socket, driven with loop_run_once(). */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "launcher/control.h"
#include "base/loop.h"

static char dir[64];
static char sock_path[128];

/* The test dispatcher: answers at once when `immediate`, else keeps the
 * client for the test to answer. */
static bool immediate;
static int ndispatched;
static char last_cmd[64];
static struct control_client *held;

static void test_dispatch(struct control_client *c, json_t *req)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	ndispatched++;
	snprintf(last_cmd, sizeof(last_cmd), "%s", cmd);
	if (immediate)
		control_reply(c, json_pack("{s:b, s:s}", "ok", 1, "echo", cmd));
	else
		held = c;
}

static void setup(void)
{
	strcpy(dir, "/tmp/n3x-control-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/control.sock", dir);
	cr_assert_eq(loop_open(), 0);
	immediate = true;
	ndispatched = 0;
	held = NULL;
}

static void teardown(void)
{
	control_close();
	loop_close();
	unlink(sock_path);
	rmdir(dir);
}

TestSuite(control, .init = setup, .fini = teardown);

static int client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	strcpy(sa.sun_path, sock_path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s", strerror(errno));
	return fd;
}

static void send_str(int fd, const char *s)
{
	cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void pump(int rounds)
{
	for (int i = 0; i < rounds; i++)
		loop_run_once(10);
}

/* Run the loop until one reply line arrives; the line without '\n' in buf.
 * Reads byte by byte so a second reply stays in the socket for the next call. */
static void read_line(int fd, char *buf, size_t size)
{
	size_t len = 0;

	for (int round = 0; round < 300; round++) {
		char ch;

		loop_run_once(10);
		while (recv(fd, &ch, 1, MSG_DONTWAIT) == 1) {
			if (ch == '\n') {
				buf[len] = '\0';
				return;
			}
			cr_assert_lt(len + 1, size);
			buf[len++] = ch;
		}
	}
	cr_assert_fail("no reply line (got %zu bytes)", len);
}

/* Nothing more to read for a while. */
static void assert_no_reply(int fd)
{
	char ch;

	pump(5);
	cr_assert_eq(recv(fd, &ch, 1, MSG_DONTWAIT), -1);
	cr_assert_eq(errno, EAGAIN);
}

Test(control, round_trip)
{
	char line[256];
	int fd;

	cr_assert_eq(control_open(sock_path, test_dispatch), 0);
	fd = client();
	send_str(fd, "{\"cmd\":\"status\"}\n");
	read_line(fd, line, sizeof(line));
	cr_assert_str_eq(line, "{\"ok\":true,\"echo\":\"status\"}");
	cr_assert_eq(ndispatched, 1);

	/* The socket is 0600 and the connection stays up for the next request. */
	struct stat st;

	cr_assert_eq(stat(sock_path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	send_str(fd, "{\"cmd\":\"again\"}\n");
	read_line(fd, line, sizeof(line));
	cr_assert_str_eq(line, "{\"ok\":true,\"echo\":\"again\"}");
	close(fd);
	pump(3);
	cr_assert_eq(control_nclients(), 0);
}

Test(control, pipelined_requests_are_answered_in_order)
{
	char line[256];
	int fd;

	immediate = false;
	cr_assert_eq(control_open(sock_path, test_dispatch), 0);
	fd = client();
	send_str(fd, "{\"cmd\":\"first\"}\n{\"cmd\":\"second\"}\n");
	pump(5);
	cr_assert_eq(ndispatched, 1, "the second request waits for the first reply");
	cr_assert_str_eq(last_cmd, "first");

	control_reply(held, json_pack("{s:b, s:i}", "ok", 1, "n", 1));
	cr_assert_eq(ndispatched, 1, "control_reply never dispatches");
	read_line(fd, line, sizeof(line));
	cr_assert_str_eq(line, "{\"ok\":true,\"n\":1}");
	pump(2);
	cr_assert_eq(ndispatched, 2);
	cr_assert_str_eq(last_cmd, "second");
	assert_no_reply(fd);

	control_reply_error(held, 1, "vm %s is %s", "a", "gone");
	read_line(fd, line, sizeof(line));
	cr_assert_str_eq(line, "{\"ok\":false,\"error\":\"vm a is gone\",\"code\":1}");
	close(fd);
}

Test(control, pipelined_immediate_replies)
{
	char line[256];
	int fd;

	cr_assert_eq(control_open(sock_path, test_dispatch), 0);
	fd = client();
	send_str(fd, "{\"cmd\":\"a\"}\n\n{\"cmd\":\"b\"}\n{\"cmd\":\"c\"}\n");
	read_line(fd, line, sizeof(line));
	cr_assert_str_eq(line, "{\"ok\":true,\"echo\":\"a\"}");
	read_line(fd, line, sizeof(line));
	cr_assert_str_eq(line, "{\"ok\":true,\"echo\":\"b\"}");
	read_line(fd, line, sizeof(line));
	cr_assert_str_eq(line, "{\"ok\":true,\"echo\":\"c\"}");
	cr_assert_eq(ndispatched, 3);
	close(fd);
}

Test(control, deferred_reply_after_disconnect)
{
	int fd;

	immediate = false;
	cr_assert_eq(control_open(sock_path, test_dispatch), 0);
	fd = client();
	send_str(fd, "{\"cmd\":\"wait\"}\n");
	pump(3);
	cr_assert_not_null(held);
	close(fd);
	pump(3);
	/* Disconnected, but the pending request keeps the struct. */
	cr_assert_eq(control_nclients(), 1);

	control_client_ref(held);
	control_reply(held, json_pack("{s:b}", "ok", 1));
	cr_assert_eq(control_nclients(), 1, "an extra reference keeps it");
	control_client_unref(held);
	cr_assert_eq(control_nclients(), 0);
	pump(2);
}

Test(control, requests_sent_before_close_are_dispatched)
{
	int fd;

	immediate = false;
	cr_assert_eq(control_open(sock_path, test_dispatch), 0);
	fd = client();
	/* Written and closed before the server looks: EPOLLIN and EPOLLHUP
	 * arrive together. */
	send_str(fd, "{\"cmd\":\"stop\"}\n{\"cmd\":\"start\"}\n");
	close(fd);
	pump(3);
	cr_assert_eq(ndispatched, 1, "the first request runs, the rest is dropped");
	cr_assert_str_eq(last_cmd, "stop");
	cr_assert_eq(control_nclients(), 1);
	control_reply(held, json_pack("{s:b}", "ok", 1));
	cr_assert_eq(control_nclients(), 0);
	pump(2);
}

Test(control, malformed_requests_get_code_2)
{
	char line[256];
	int fd;

	cr_assert_eq(control_open(sock_path, test_dispatch), 0);
	fd = client();
	send_str(fd, "not json\n{\"nocmd\":1}\n[1,2]\n{\"cmd\":7}\n");
	for (int i = 0; i < 4; i++) {
		json_error_t err;
		json_t *r;

		read_line(fd, line, sizeof(line));
		r = json_loads(line, 0, &err);
		cr_assert_not_null(r, "reply %d is JSON: %s", i, line);
		cr_assert(json_is_false(json_object_get(r, "ok")), "%s", line);
		cr_assert_eq(json_integer_value(json_object_get(r, "code")), 2, "%s", line);
		cr_assert(json_is_string(json_object_get(r, "error")), "%s", line);
		json_decref(r);
	}
	cr_assert_eq(ndispatched, 0);

	/* The connection survives bad lines. */
	send_str(fd, "{\"cmd\":\"ok\"}\n");
	read_line(fd, line, sizeof(line));
	cr_assert_str_eq(line, "{\"ok\":true,\"echo\":\"ok\"}");
	close(fd);
}

Test(control, half_closed_client_still_gets_replies)
{
	char buf[256];
	ssize_t n;
	size_t len = 0;
	int fd;

	immediate = false;
	cr_assert_eq(control_open(sock_path, test_dispatch), 0);
	fd = client();
	send_str(fd, "{\"cmd\":\"one\"}\n{\"cmd\":\"two\"}\n");
	shutdown(fd, SHUT_WR);
	pump(3);
	control_reply(held, json_pack("{s:b}", "ok", 1));
	pump(3);
	cr_assert_eq(ndispatched, 2);
	control_reply(held, json_pack("{s:b}", "ok", 1));
	pump(3);
	/* Both replies, then EOF: the server closed after answering. */
	while ((n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT)) > 0)
		len += n;
	cr_assert_eq(n, 0, "EOF after the replies");
	buf[len] = '\0';
	cr_assert_str_eq(buf, "{\"ok\":true}\n{\"ok\":true}\n");
	cr_assert_eq(control_nclients(), 0);
	close(fd);
}

Test(control, close_keeps_pending_clients_until_reply)
{
	int fd;

	immediate = false;
	cr_assert_eq(control_open(sock_path, test_dispatch), 0);
	fd = client();
	send_str(fd, "{\"cmd\":\"shutdown\"}\n");
	pump(3);
	cr_assert_not_null(held);
	control_close();
	cr_assert_eq(access(sock_path, F_OK), -1, "the socket file is gone");
	cr_assert_eq(control_nclients(), 1);
	control_reply(held, json_pack("{s:b}", "ok", 1));
	cr_assert_eq(control_nclients(), 0);
	close(fd);
}

static int bound_socket(bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, sock_path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (listening)
		cr_assert_eq(listen(fd, 1), 0);
	return fd;
}

Test(control, stale_socket_is_replaced)
{
	char line[256];
	int fd;

	/* Bound but never listening: connect() is refused, as after a crash. */
	close(bound_socket(false));
	cr_assert_eq(access(sock_path, F_OK), 0);
	cr_assert_eq(control_open(sock_path, test_dispatch), 0);
	fd = client();
	send_str(fd, "{\"cmd\":\"status\"}\n");
	read_line(fd, line, sizeof(line));
	cr_assert_str_eq(line, "{\"ok\":true,\"echo\":\"status\"}");
	close(fd);
}

Test(control, live_socket_is_left_alone)
{
	int other = bound_socket(true);
	struct stat before, after;

	cr_assert_eq(stat(sock_path, &before), 0);
	cr_assert_eq(control_open(sock_path, test_dispatch), -EADDRINUSE);
	cr_assert_eq(stat(sock_path, &after), 0);
	cr_assert_eq(before.st_ino, after.st_ino, "the live socket was not replaced");
	close(other);
}

Test(control, refuses_to_replace_a_non_socket)
{
	FILE *f = fopen(sock_path, "w");

	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(control_open(sock_path, test_dispatch), -EEXIST);
	cr_assert_eq(access(sock_path, F_OK), 0);
}

Test(control, overlong_path)
{
	char path[200];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	cr_assert_eq(control_open(path, test_dispatch), -ENAMETOOLONG);
}

Test(control, shared_fields_of_the_wrong_type_are_refused_before_dispatch)
{
	static const char *const bad[][2] = {
		{ "{\"cmd\":\"pause\",\"vms\":\"a\"}", "bad request: \"vms\" must be an array" },
		{ "{\"cmd\":\"qmp\",\"vm\":7}", "bad request: \"vm\" must be a string" },
		{ "{\"cmd\":\"stop\",\"all\":1}", "bad request: \"all\" must be true or false" },
		{ "{\"cmd\":\"wait\",\"vm\":\"a\",\"timeout\":\"soon\"}",
		  "bad request: \"timeout\" must be a number of seconds from 0 to 1000000" },
		{ "{\"cmd\":\"wait\",\"vm\":\"a\",\"timeout\":1e308}",
		  "bad request: \"timeout\" must be a number of seconds from 0 to 1000000" },
		{ "{\"cmd\":\"wait\",\"vm\":\"a\",\"port\":1.5}", "bad request: \"port\" must be an integer" },
	};
	char line[256];
	int fd;

	cr_assert_eq(control_open(sock_path, test_dispatch), 0);
	fd = client();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		send_str(fd, bad[i][0]);
		send_str(fd, "\n");
		read_line(fd, line, sizeof(line));
		json_t *r = json_loads(line, 0, NULL);

		cr_assert_not_null(r, "%s", line);
		cr_assert_str_eq(json_string_value(json_object_get(r, "error")), bad[i][1], "%s", bad[i][0]);
		cr_assert_eq(json_integer_value(json_object_get(r, "code")), 2);
		json_decref(r);
	}
	cr_assert_eq(ndispatched, 0);
	/* The right types go through. */
	send_str(fd, "{\"cmd\":\"wait\",\"vm\":\"a\",\"timeout\":2.5,\"port\":22,\"all\":false,\"vms\":[]}\n");
	read_line(fd, line, sizeof(line));
	cr_assert_str_eq(line, "{\"ok\":true,\"echo\":\"wait\"}");
	close(fd);
}

static void reply_long_name(struct control_client *c, json_t *req)
{
	(void)req;
	ndispatched++;
	/* 700 two-byte characters: the 1024-byte message ends inside one. */
	char name[1401];

	for (int i = 0; i < 700; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	name[1400] = '\0';
	control_reply_error(c, 2, "no VM named \"x%s\"", name);
}

Test(control, an_error_cut_inside_utf8_is_still_sent)
{
	char line[2048];
	json_t *r;
	int fd;

	cr_assert_eq(control_open(sock_path, reply_long_name), 0);
	fd = client();
	send_str(fd, "{\"cmd\":\"x\"}\n");
	read_line(fd, line, sizeof(line));
	r = json_loads(line, 0, NULL);
	cr_assert_not_null(r, "%s", line);
	cr_assert_eq(strncmp(json_string_value(json_object_get(r, "error")), "no VM named \"x\xc3\xa9", 16), 0,
		     "%s", line);
	cr_assert_eq(json_integer_value(json_object_get(r, "code")), 2);
	json_decref(r);
	close(fd);
}

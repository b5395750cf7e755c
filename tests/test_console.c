/* test_console.c - the replay ring, and the console driven through real
 * sockets: a socketpair plays QEMU's serial end, unix clients play socat. */
#include "launcher/console.h"
#include "base/loop.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- ring ---- */

/* The ring holds exactly `want`, oldest first. */
static void expect(struct ring *r, const char *want)
{
	char out[64];

	cr_assert_eq(ring_copy(r, out), strlen(want));
	cr_assert_eq(ring_len(r), strlen(want));
	cr_assert_arr_eq(out, want, strlen(want));
}

Test(ring, empty)
{
	struct ring *r = ring_new(8);

	cr_assert_not_null(r);
	expect(r, "");
	cr_assert_eq(ring_total(r), 0);
	ring_write(r, "", 0);
	expect(r, "");
	ring_free(r);
	cr_assert_null(ring_new(0));
}

Test(ring, partial)
{
	struct ring *r = ring_new(8);

	ring_write(r, "abc", 3);
	expect(r, "abc");
	ring_write(r, "de", 2);
	expect(r, "abcde");
	ring_free(r);
}

Test(ring, wrap_around)
{
	struct ring *r = ring_new(8);

	ring_write(r, "abcdef", 6);
	ring_write(r, "ghij", 4);  /* wraps: ab dropped */
	expect(r, "cdefghij");
	ring_write(r, "k", 1);
	expect(r, "defghijk");
	ring_free(r);
}

Test(ring, write_larger_than_ring_keeps_tail)
{
	struct ring *r = ring_new(8);

	ring_write(r, "xy", 2);
	ring_write(r, "0123456789abc", 13);
	expect(r, "56789abc");
	ring_write(r, "Z", 1);
	expect(r, "6789abcZ");
	ring_free(r);
}

Test(ring, exactly_full)
{
	struct ring *r = ring_new(8);

	ring_write(r, "abcd", 4);
	ring_write(r, "efgh", 4);
	expect(r, "abcdefgh");
	ring_write(r, "12345678", 8);
	expect(r, "12345678");
	ring_free(r);
}

Test(ring, total_counts_everything)
{
	struct ring *r = ring_new(4);

	ring_write(r, "abc", 3);
	ring_write(r, "defghij", 7);
	ring_write(r, "k", 1);
	cr_assert_eq(ring_total(r), 11);
	expect(r, "hijk");
	ring_free(r);
}

/* ---- console fixtures ---- */

static char dir[64], sock_path[128], log_path[128], old_path[128];
static struct console *con;
static int qemu_fd = -1;   /* QEMU's end of the serial socketpair */
static int clients[8];     /* closed by teardown */
static int nclients;

struct bytes {
	char *p;
	size_t len, cap;
};
static struct bytes guest_out; /* what out_fn saw */
static struct bytes rx[3];     /* scratch, freed by teardown */
static char *data;             /* pattern(), freed by teardown */

static void bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		cr_assert_not_null(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void expect_bytes(const struct bytes *b, const void *want, size_t n)
{
	cr_assert_eq(b->len, n, "got %zu bytes, want %zu", b->len, n);
	cr_assert_arr_eq(b->p, want, n);
}

static void on_output(void *opaque, const char *buf, size_t len)
{
	cr_assert_eq(opaque, &guest_out);
	bytes_add(&guest_out, buf, len);
}

static void setup(void)
{
	cr_assert_eq(loop_open(), 0);
	strcpy(dir, "/tmp/n3x-console-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/console.sock", dir);
	snprintf(log_path, sizeof(log_path), "%s/console.log", dir);
	snprintf(old_path, sizeof(old_path), "%s/console.log.1", dir);
}

static void teardown(void)
{
	console_free(con);
	if (qemu_fd >= 0)
		close(qemu_fd);
	while (nclients)
		close(clients[--nclients]);
	unlink(sock_path);
	unlink(log_path);
	unlink(old_path);
	rmdir(dir);
	free(guest_out.p);
	for (int i = 0; i < 3; i++)
		free(rx[i].p);
	free(data);
	loop_close();
}

TestSuite(console, .init = setup, .fini = teardown);

/* A new QEMU: a fresh serial socketpair, our end non-blocking for tests. */
static void attach(void)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(console_attach(con, sv[0]), 0);
	qemu_fd = sv[1];
	cr_assert_eq(fcntl(qemu_fd, F_SETFL, O_NONBLOCK), 0);
}

static void start(void)
{
	cr_assert_eq(console_new(sock_path, log_path, on_output, &guest_out, &con), 0);
	attach();
}

/* A non-blocking client fd (closed by teardown), or -errno. */
static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	cr_assert_lt(nclients, 8);
	return clients[nclients++] = fd;
}

/* Everything fd has for us right now; false on EOF. */
static bool drain(int fd, struct bytes *b)
{
	char buf[8192];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		bytes_add(b, buf, (size_t)n);
	cr_assert(n == 0 || errno == EAGAIN, "read: %s", strerror(errno));
	return n != 0;
}

/* Run the loop, draining fd into b, until b holds `want` bytes. */
static bool pump_read(int fd, struct bytes *b, size_t want)
{
	uint64_t end = loop_now_ms() + 5000;

	while (b->len < want && loop_now_ms() < end) {
		cr_assert_geq(loop_run_once(10), 0);
		drain(fd, b);
	}
	return b->len >= want;
}

/* The guest writes n bytes; run the loop until out_fn has seen them all. */
static void guest_write(const void *buf, size_t n)
{
	const char *p = buf;
	size_t want = guest_out.len + n, off = 0;
	uint64_t end = loop_now_ms() + 5000;

	while ((off < n || guest_out.len < want) && loop_now_ms() < end) {
		ssize_t w = off < n ? write(qemu_fd, p + off, n - off) : 0;

		cr_assert(w >= 0 || errno == EAGAIN);
		off += w > 0 ? (size_t)w : 0;
		cr_assert_geq(loop_run_once(10), 0);
	}
	cr_assert_eq(guest_out.len, want, "guest output stuck at %zu of %zu",
		     guest_out.len, want);
}

static void pump_ms(int ms)
{
	uint64_t end = loop_now_ms() + (uint64_t)ms;

	while (loop_now_ms() < end)
		loop_run_once(5);
}

/* n pseudo-random bytes in `data`: not periodic at 64 KiB, so a misplaced
 * replay window shows. */
static char *pattern(size_t n)
{
	uint32_t x = 2463534242u;

	data = malloc(n);
	cr_assert_not_null(data);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = (char)x;
	}
	return data;
}

static void slurp(const char *path, struct bytes *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	drain(fd, b);
	close(fd);
}

static void listen_at(const char *path, bool live)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (live) {
		cr_assert_eq(listen(fd, 4), 0);
		clients[nclients++] = fd;
	} else {
		close(fd); /* never unlinked: what a crashed supervisor leaves */
	}
}

/* ---- console tests ---- */

Test(console, socket_is_0600_and_unlinked_by_free)
{
	struct stat st;

	start();
	cr_assert_eq(lstat(sock_path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(lstat(log_path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	console_free(con);
	con = NULL;
	cr_assert(access(sock_path, F_OK) < 0 && errno == ENOENT, "free unlinks it");
}

Test(console, replays_last_64k_to_new_client)
{
	size_t n = 100 * 1024;
	int cl;

	start();
	guest_write(pattern(n), n);
	expect_bytes(&guest_out, data, n);
	cl = connect_to(sock_path);
	cr_assert(pump_read(cl, &rx[0], CONSOLE_REPLAY_SIZE));
	pump_ms(50);
	drain(cl, &rx[0]);
	expect_bytes(&rx[0], data + n - CONSOLE_REPLAY_SIZE, CONSOLE_REPLAY_SIZE);
}

Test(console, two_clients_get_the_same_live_output)
{
	int ca, cb;

	start();
	ca = connect_to(sock_path);
	cb = connect_to(sock_path);
	/* "first" arrives live or by replay; once both have it, both are
	 * accepted and "second" can only arrive live. */
	guest_write("first ", 6);
	cr_assert(pump_read(ca, &rx[0], 6));
	cr_assert(pump_read(cb, &rx[1], 6));
	guest_write("second", 6);
	cr_assert(pump_read(ca, &rx[0], 12));
	cr_assert(pump_read(cb, &rx[1], 12));
	expect_bytes(&rx[0], "first second", 12);
	expect_bytes(&rx[1], "first second", 12);
}

Test(console, client_input_reaches_the_guest)
{
	int ca, cb;

	start();
	ca = connect_to(sock_path);
	cb = connect_to(sock_path);
	cr_assert_eq(write(ca, "ls\n", 3), 3);
	cr_assert(pump_read(qemu_fd, &rx[0], 3));
	cr_assert_eq(write(cb, "id\n", 3), 3);
	cr_assert(pump_read(qemu_fd, &rx[0], 6));
	expect_bytes(&rx[0], "ls\nid\n", 6);
}

Test(console, log_holds_everything_and_notes)
{
	size_t n = 200 * 1024;
	const char note[] = "\r\n[n3x] VM started\r\n";

	start();
	console_note(con, "VM %s", "started");
	guest_write(pattern(n), n);
	bytes_add(&rx[0], note, sizeof(note) - 1);
	bytes_add(&rx[0], data, n);
	slurp(log_path, &rx[1]);
	expect_bytes(&rx[1], rx[0].p, rx[0].len);
	cr_assert_eq(guest_out.len, n, "a note is not guest output");
}

Test(console, log_appends_to_existing_file)
{
	int fd = open(log_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	cr_assert_eq(write(fd, "old\n", 4), 4);
	close(fd);
	start();
	guest_write("new\n", 4);
	slurp(log_path, &rx[0]);
	expect_bytes(&rx[0], "old\nnew\n", 8);
}

Test(console, log_rotates_at_cap)
{
	start();
	console_set_log_cap(con, 1000);
	guest_write(pattern(2500), 2500);
	slurp(old_path, &rx[0]);
	slurp(log_path, &rx[1]);
	expect_bytes(&rx[0], data + 1000, 1000);
	expect_bytes(&rx[1], data + 2000, 500);
}

/* QEMU logs the guest's output itself (its own open file, O_APPEND): the
 * console adds only its notes, and rotation copies and truncates in place
 * so QEMU's file stays the log. */
static int qemu_log_fd = -1;

static void qemu_guest_write(const char *buf, size_t n)
{
	if (qemu_log_fd < 0)
		cr_assert_geq(qemu_log_fd = open(log_path, O_WRONLY | O_APPEND | O_CLOEXEC), 0);
	cr_assert_eq(write(qemu_log_fd, buf, n), (ssize_t)n);
	guest_write(buf, n);
}

Test(console, qemu_logs_the_guest_and_the_console_its_notes)
{
	start();
	console_set_qemu_logs(con, true);
	qemu_guest_write("boot\r\n", 6);
	console_note(con, "hello");
	qemu_guest_write("login: ", 7);
	slurp(log_path, &rx[0]);
	expect_bytes(&rx[0], "boot\r\n\r\n[n3x] hello\r\nlogin: ", 6 + 15 + 7);
	close(qemu_log_fd);
}

Test(console, qemu_logs_rotate_by_copy_and_truncate)
{
	struct stat a, b;

	start();
	console_set_qemu_logs(con, true);
	console_set_log_cap(con, 1000);
	qemu_guest_write(pattern(800), 800);
	cr_assert_eq(stat(log_path, &a), 0);
	qemu_guest_write(data + 800 - 300, 300); /* past the cap: rotated */
	slurp(old_path, &rx[0]);
	cr_assert_eq(rx[0].len, 1100, "console.log.1 holds %zu bytes", rx[0].len);
	cr_assert_eq(stat(log_path, &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino, "console.log was replaced, QEMU would write to a ghost");
	cr_assert_eq(b.st_size, 0);
	/* QEMU's next writes land at the start of the same file. */
	qemu_guest_write("next\n", 5);
	slurp(log_path, &rx[1]);
	expect_bytes(&rx[1], "next\n", 5);
	close(qemu_log_fd);
}

Test(console, note_reaches_clients)
{
	const char note[] = "\r\n[n3x] QEMU exited with status 1\r\n";
	int cl;

	start();
	cl = connect_to(sock_path);
	console_note(con, "QEMU exited with status %d", 1);
	cr_assert(pump_read(cl, &rx[0], sizeof(note) - 1));
	expect_bytes(&rx[0], note, sizeof(note) - 1);
}

Test(console, stale_socket_is_replaced)
{
	int cl;

	listen_at(sock_path, false);
	cr_assert_eq(connect_to(sock_path), -ECONNREFUSED);
	start();
	cl = connect_to(sock_path);
	cr_assert_geq(cl, 0);
	guest_write("alive", 5);
	cr_assert(pump_read(cl, &rx[0], 5));
	expect_bytes(&rx[0], "alive", 5);
}

Test(console, live_listener_is_eaddrinuse)
{
	struct console *c2 = NULL;

	listen_at(sock_path, true);
	cr_assert_eq(console_new(sock_path, log_path, NULL, NULL, &c2), -EADDRINUSE);
	cr_assert_eq(access(sock_path, F_OK), 0, "the live socket must stay");
	close(clients[--nclients]);
	unlink(sock_path);

	/* A second console on a path the first one serves. */
	start();
	cr_assert_eq(console_new(sock_path, log_path, NULL, NULL, &c2), -EADDRINUSE);
	cr_assert_eq(access(sock_path, F_OK), 0);
}

Test(console, non_socket_path_is_eexist)
{
	struct console *c2 = NULL;

	close(open(sock_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	cr_assert_eq(console_new(sock_path, log_path, NULL, NULL, &c2), -EEXIST);
	cr_assert_eq(access(sock_path, F_OK), 0, "and left alone");
}

Test(console, detach_then_attach_a_new_fd)
{
	int cl;

	start();
	cl = connect_to(sock_path);
	guest_write("one ", 4);
	cr_assert(pump_read(cl, &rx[0], 4));

	console_detach(con);
	console_detach(con); /* idempotent */
	/* The old QEMU end sees the supervisor gone. */
	cr_assert_eq(send(qemu_fd, "x", 1, MSG_NOSIGNAL), -1);
	cr_assert_eq(errno, EPIPE);
	close(qemu_fd);
	cr_assert_eq(write(cl, "lost", 4), 4); /* no QEMU: dropped */
	pump_ms(30);

	attach();
	guest_write("two", 3);
	cr_assert(pump_read(cl, &rx[0], 7));
	expect_bytes(&rx[0], "one two", 7);
	cr_assert_eq(write(cl, "kept", 4), 4);
	cr_assert(pump_read(qemu_fd, &rx[1], 4));
	pump_ms(20);
	drain(qemu_fd, &rx[1]);
	expect_bytes(&rx[1], "kept", 4);
}

Test(console, serial_eof_detaches_quietly)
{
	int cl;

	start();
	cl = connect_to(sock_path);
	guest_write("bye", 3);
	close(qemu_fd);
	cr_assert(pump_read(cl, &rx[0], 3));
	pump_ms(30);
	cr_assert_eq(write(cl, "nobody", 6), 6); /* dropped, no crash */
	pump_ms(30);
	drain(cl, &rx[0]);
	expect_bytes(&rx[0], "bye", 3); /* and no note from the console */

	attach();
	guest_write("hi", 2);
	cr_assert(pump_read(cl, &rx[0], 5));
	expect_bytes(&rx[0], "byehi", 5);
}

Test(console, client_leaving_is_removed)
{
	int c1, c2;

	start();
	c1 = connect_to(sock_path);
	c2 = connect_to(sock_path);
	guest_write("a", 1);
	cr_assert(pump_read(c1, &rx[0], 1));
	cr_assert_eq(shutdown(c1, SHUT_RDWR), 0);
	pump_ms(20);
	/* Output after the close goes to the remaining client only. */
	guest_write("b", 1);
	cr_assert(pump_read(c2, &rx[1], 2));
	expect_bytes(&rx[1], "ab", 2);
}

Test(console, slow_client_never_blocks_the_guest)
{
	size_t n = 1024 * 1024, chunk = 64 * 1024, tail = 4096;
	struct bytes *got = &rx[0], *fast = &rx[1];
	int slow, quick;

	start();
	slow = connect_to(sock_path);
	quick = connect_to(sock_path);
	console_note(con, "hello");
	cr_assert(pump_read(slow, got, 1)); /* accepted; now it stops reading */
	cr_assert(pump_read(quick, fast, 1));

	/* guest_write fails if the loop stalls on the slow client. */
	pattern(n);
	for (size_t off = 0; off < n; off += chunk) {
		guest_write(data + off, chunk);
		drain(quick, fast);
	}
	pump_ms(20);
	drain(quick, fast);
	cr_assert(fast->len > n, "a reading client gets everything");
	cr_assert_arr_eq(fast->p + fast->len - n, data, n);

	/* The slow one lost its oldest bytes but ends with the newest. */
	got->len = 0;
	for (uint64_t end = loop_now_ms() + 5000; loop_now_ms() < end;) {
		loop_run_once(10);
		drain(slow, got);
		if (got->len >= tail && !memcmp(got->p + got->len - tail, data + n - tail, tail))
			break;
	}
	cr_assert_lt(got->len, n, "bytes were dropped");
	cr_assert_geq(got->len, tail);
	cr_assert_arr_eq(got->p + got->len - tail, data + n - tail, tail);
}

Test(console, other_uid_is_turned_away)
{
	pid_t pid;
	int status = -1;

	if (geteuid() != 0)
		cr_skip_test("needs root to connect as another uid");
	start();
	/* Let the socket mode through so SO_PEERCRED is what stops it. */
	cr_assert_eq(chmod(dir, 0711), 0);
	cr_assert_eq(chmod(sock_path, 0666), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct pollfd pfd = { .events = POLLIN };
		char c;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		pfd.fd = connect_to(sock_path);
		if (pfd.fd < 0 || poll(&pfd, 1, 5000) != 1)
			_exit(3);
		_exit(read(pfd.fd, &c, 1) == 0 ? 0 : 4); /* closed on us */
	}
	for (uint64_t end = loop_now_ms() + 6000; loop_now_ms() < end;) {
		if (waitpid(pid, &status, WNOHANG) != 0)
			break;
		loop_run_once(10);
	}
	cr_assert(WIFEXITED(status), "child status %d", status);
	cr_assert_eq(WEXITSTATUS(status), 0);
}

/* ---- guest output and a timeout in one epoll batch ---- */

/* The supervisor's `wait --console` race: the console line that settles a
 * waiter and the waiter's timeout arrive in one epoll_wait batch.  Whichever
 * handler runs first releases the waiter; loop_defer keeps its memory until
 * the batch is over, so the other finds it released (ASan proves no
 * use-after-free). */
struct timed_waiter {
	struct loop_timer timeout;
	struct loop_deferred free_d;
};

static struct timed_waiter *tw;
static int tw_fired, tw_matched, tw_freed;

static void tw_free(struct loop_deferred *d)
{
	tw_freed++;
	free(container_of(d, struct timed_waiter, free_d));
}

static void tw_settle(void)
{
	loop_timer_close(&tw->timeout);
	loop_defer(&tw->free_d, tw_free);
	tw = NULL;
}

static void tw_timeout(struct loop_timer *t)
{
	(void)t;
	tw_fired++;
	tw_settle();
}

static void tw_output(void *opaque, const char *buf, size_t len)
{
	(void)opaque;
	if (tw && memmem(buf, len, "ready", 5)) {
		tw_matched++;
		tw_settle();
	}
}

Test(console, a_match_and_a_timeout_in_one_batch)
{
	cr_assert_eq(console_new(sock_path, log_path, tw_output, NULL, &con), 0);
	attach();
	tw = calloc(1, sizeof(*tw));
	cr_assert_not_null(tw);
	loop_timer_init(&tw->timeout, tw_timeout);
	cr_assert_eq(loop_timer_arm(&tw->timeout, 10), 0);
	/* The line first, then the timeout expires: both are ready, the
	 * console's event ahead of the timer's. */
	cr_assert_eq(write(qemu_fd, "ready\n", 6), 6);
	usleep(30 * 1000);
	cr_assert_eq(loop_run_once(1000), 2, "both events in one batch");
	cr_expect_eq(tw_matched + tw_fired, 1, "settled once");
	cr_expect_eq(tw_freed, 1, "freed after the batch");
	cr_expect_null(tw);
}

/* console_input (n3x-ctl send): the bytes reach the guest in order with a
 * client's; a guest that does not read gets no more than the queue holds,
 * and what was refused is refused whole, never cut. */
Test(console, typed_input_is_queued_in_order_and_never_cut)
{
	static char big[CONSOLE_INPUT_MAX + 1];
	size_t accepted = 0, chunk = 16 * 1024;
	int ca, r = 0;
	char *p;

	start();
	ca = connect_to(sock_path);
	cr_assert_eq(console_input(con, "root\n", 5), 0);
	cr_assert_eq(write(ca, "ls\n", 3), 3);
	cr_assert(pump_read(qemu_fd, &rx[0], 8));
	expect_bytes(&rx[0], "root\nls\n", 8);
	cr_assert_eq(console_input(con, big, sizeof(big)), -EMSGSIZE);

	/* The guest stops reading: the socket fills, then the queue. */
	p = pattern(8 * 1024 * 1024);
	while (accepted + chunk <= 8 * 1024 * 1024 && (r = console_input(con, p + accepted, chunk)) == 0)
		accepted += chunk;
	cr_assert_eq(r, -ENOBUFS, "still taking input after %zu bytes", accepted);
	cr_assert_gt(accepted, CONSOLE_INPUT_MAX - chunk);
	/* Now it reads: everything accepted arrives, in order, nothing else. */
	cr_assert(pump_read(qemu_fd, &rx[1], accepted));
	pump_ms(50);
	drain(qemu_fd, &rx[1]);
	expect_bytes(&rx[1], p, accepted);
	cr_assert_eq(console_input(con, "x", 1), 0, "room again once the guest read");

	console_detach(con);
	cr_assert_eq(console_input(con, "x", 1), -ENOTCONN);
}

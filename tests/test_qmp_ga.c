/* test_qmp_ga.c - the guest-agent client against a scripted fake qemu-ga
 * over a socketpair, both driven by the one loop (base/loop.h).
 *
 * The fake agent parses what the client writes as qemu-ga does (a 0xFF
 * resets its parser, one JSON request per line), answers guest-sync-delimited
 * by itself unless told not to, and keeps every other request for the test
 * to answer.  Tests run the loop with a deadline, never sleeping.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/b64.h"
#include "base/buf.h"
#include "base/loop.h"
#include "qmp/ga.h"

#define DEADLINE_MS 10000

struct rec {
	int calls;
	int err;
	json_t *reply;
	int seq;
};

/* The fake agent. */
static struct agent {
	struct loop_watch w;
	int fd;
	uint32_t events;
	struct buf in, out;
	json_t *reqs;           /* requests other than syncs, in order */
	int ff;                 /* 0xFF bytes received */
	int syncs;              /* guest-sync-delimited received */
	json_int_t sync_id;     /* the last one's id */
	bool manual_sync;       /* the test answers syncs itself */
	const char *stale;      /* sent before the 0xFF of the next sync reply */
	size_t max_line;        /* the longest request line */
	bool refuse_big;        /* send an error once 64 KiB of a line came */
} ag;

static struct ga *g;
static int cfd;                 /* the client's end */
static struct rec rec[8];
static int seq;
static char ups[16];            /* '+' / '-' for each up callback */
static int nups;

static void agent_watch(void)
{
	uint32_t want = EPOLLIN | (ag.out.len ? EPOLLOUT : 0);

	if (ag.fd >= 0 && want != ag.events) {
		cr_assert_eq(loop_mod(ag.fd, want, &ag.w), 0);
		ag.events = want;
	}
}

static void agent_write(const char *s, size_t n)
{
	cr_assert_eq(buf_append(&ag.out, s, n), 0);
	agent_watch();
}

__attribute__((format(printf, 1, 2)))
static void agent_send(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	cr_assert_geq(n, 0);
	agent_write(s, (size_t)n);
	free(s);
}

static void agent_answer_sync(void)
{
	if (ag.stale)
		agent_write(ag.stale, strlen(ag.stale));
	ag.stale = NULL;
	agent_send("\xff{\"return\": %lld}\n", (long long)ag.sync_id);
}

static void agent_line(const char *p, size_t n)
{
	json_t *msg = json_loadb(p, n, 0, NULL);
	const char *cmd = json_string_value(json_object_get(msg, "execute"));

	cr_assert_not_null(cmd, "the agent got a line that is not a command: %.*s", (int)n, p);
	if (n > ag.max_line)
		ag.max_line = n;
	if (!strcmp(cmd, "guest-sync-delimited")) {
		json_t *id = json_object_get(json_object_get(msg, "arguments"), "id");

		cr_assert(json_is_integer(id));
		ag.syncs++;
		ag.sync_id = json_integer_value(id);
		if (!ag.manual_sync)
			agent_answer_sync();
		json_decref(msg);
		return;
	}
	cr_assert_neq(strcmp(cmd, "guest-sync"), 0);
	json_array_append_new(ag.reqs, msg);
}

static void agent_io(struct loop_watch *w, uint32_t events)
{
	char tmp[65536];
	ssize_t n;

	(void)w;
	if (events & EPOLLOUT) {
		n = send(ag.fd, ag.out.p + ag.out.off, ag.out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			buf_consume(&ag.out, (size_t)n);
	}
	if (events & EPOLLIN) {
		n = read(ag.fd, tmp, sizeof(tmp));
		for (ssize_t i = 0; i < n; i++) {
			if (tmp[i] == '\xff') {         /* as qemu-ga: forget the partial line */
				ag.ff++;
				ag.in.off = ag.in.len = 0;
			} else if (tmp[i] == '\n') {
				agent_line(ag.in.p + ag.in.off, ag.in.len);
				ag.in.off = ag.in.len = 0;
			} else {
				cr_assert_eq(buf_append(&ag.in, tmp + i, 1), 0);
			}
		}
		if (ag.refuse_big && ag.in.len > 65536) {
			ag.refuse_big = false;
			agent_send("{\"error\": {\"class\": \"GenericError\", "
				   "\"desc\": \"JSON token too large\"}}\n");
		}
	}
	agent_watch();
}

/* The next request (other than a sync) the agent got; borrowed. */
static json_t *agent_req(size_t i)
{
	return json_array_get(ag.reqs, i);
}

static const char *req_name(size_t i)
{
	return json_string_value(json_object_get(agent_req(i), "execute"));
}

#define RUN_UNTIL(cond) do { \
	uint64_t dl_ = loop_now_ms() + DEADLINE_MS; \
	while (!(cond)) { \
		cr_assert_lt(loop_now_ms(), dl_, "timed out waiting for " #cond); \
		cr_assert_geq(loop_run_once(100), 0); \
	} \
} while (0)

/* Run the loop for ms, whatever happens. */
static void run_for(int ms)
{
	uint64_t end = loop_now_ms() + (uint64_t)ms;

	while (loop_now_ms() < end)
		cr_assert_geq(loop_run_once((int)(end - loop_now_ms())), 0);
}

static void on_up(void *opaque, bool up)
{
	(void)opaque;
	cr_assert_eq(up, ga_is_up(g), "up callback and ga_is_up disagree");
	cr_assert_lt(nups, (int)sizeof(ups) - 1);
	ups[nups++] = up ? '+' : '-';
}

static void on_reply(void *opaque, json_t *reply, int err)
{
	struct rec *r = opaque;

	r->calls++;
	r->err = err;
	json_decref(r->reply);
	r->reply = json_incref(reply);
	r->seq = ++seq;
}

static const struct ga_callbacks cbs = { .up = on_up };

/* A fresh agent and a client on a new socketpair. */
static void open_pair(const struct ga_callbacks *cb)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cfd = sv[0];
	ag.fd = sv[1];
	ag.w.cb = agent_io;
	ag.events = EPOLLIN;
	cr_assert_eq(loop_add(ag.fd, EPOLLIN, &ag.w), 0);
	g = ga_new(cfd, cb);
	cr_assert_not_null(g);
}

static void setup(void)
{
	cr_assert_eq(loop_open(), 0);
	ag.reqs = json_array();
	open_pair(&cbs);
}

static void agent_close(void)
{
	if (ag.fd < 0)
		return;
	loop_del(ag.fd);
	close(ag.fd);
	ag.fd = -1;
}

static pid_t qga = -1;           /* a real qemu-ga, our child */
static char qga_dir[] = "/tmp/n3x-test-ga-XXXXXX";

static void teardown(void)
{
	if (qga > 0) {
		DIR *d = opendir(qga_dir);
		struct dirent *e;

		kill(qga, SIGKILL);     /* our child */
		waitpid(qga, NULL, 0);
		while (d && (e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		if (d)
			closedir(d);
		cr_expect_eq(rmdir(qga_dir), 0, "%s: %s", qga_dir, strerror(errno));
	}
	ga_free(g);
	agent_close();
	loop_close();
	buf_free(&ag.in);
	buf_free(&ag.out);
	json_decref(ag.reqs);
	for (size_t i = 0; i < sizeof(rec) / sizeof(rec[0]); i++)
		json_decref(rec[i].reply);
}

TestSuite(ga, .init = setup, .fini = teardown, .timeout = 60);

/* Open the port and let the agent answer the sync. */
static void bring_up(void)
{
	ga_set_open(g, true);
	RUN_UNTIL(ga_is_up(g));
	cr_assert_str_eq(ups, "+");
}

static void called_once(int i, int err)
{
	cr_assert_eq(rec[i].calls, 1, "rec[%d] calls %d", i, rec[i].calls);
	cr_assert_eq(rec[i].err, err, "rec[%d] err %d, want %d", i, rec[i].err, err);
	cr_assert_eq(rec[i].reply == NULL, err != 0, "rec[%d] reply", i);
}

/* rec[i]'s reply, "return" member key, as an integer. */
static json_int_t ret_int(int i, const char *key)
{
	json_t *v = json_object_get(json_object_get(rec[i].reply, "return"), key);

	cr_assert(json_is_integer(v), "rec[%d] has no return.%s", i, key);
	return json_integer_value(v);
}

static size_t client_unread(void)
{
	int n = 0;

	cr_assert_eq(ioctl(cfd, FIONREAD, &n), 0);
	return (size_t)n;
}

/* Write s to the client one byte per read: each byte is consumed before
 * the next goes.  check(i) runs after byte i was read. */
static void trickle(const char *s, size_t len, void (*check)(size_t i, size_t len))
{
	for (size_t i = 0; i < len; i++) {
		cr_assert_eq(send(ag.fd, s + i, 1, MSG_NOSIGNAL), 1);
		RUN_UNTIL(client_unread() == 0);
		if (check)
			check(i, len);
	}
}

Test(ga, writes_nothing_until_the_port_opens)
{
	char c;

	run_for(50);
	cr_assert_eq(recv(ag.fd, &c, 1, MSG_DONTWAIT), -1, "the client wrote before the open");
	cr_assert_not(ga_is_up(g));
	/* Refused, args stolen (ASan checks), callback never called. */
	cr_assert_eq(ga_execute(g, "guest-ping", json_object(), 0, on_reply, &rec[0]), -ENOTCONN);
	cr_assert_eq(ga_send_raw(g, json_pack("{s:s}", "execute", "guest-ping"), 0, on_reply,
				 &rec[0]), -ENOTCONN);
	ga_set_open(g, false);          /* the current value: nothing */
	run_for(20);
	cr_assert_eq(rec[0].calls, 0);
	cr_assert_eq(nups, 0);
	cr_assert_eq(ag.ff + ag.syncs, 0);
}

Test(ga, open_syncs_past_stale_output_and_garbage)
{
	ag.manual_sync = true;
	ga_set_open(g, true);
	RUN_UNTIL(ag.syncs == 1);
	cr_assert_eq(ag.ff, 1, "the sync is preceded by 0xFF");
	cr_assert_not(ga_is_up(g));
	/* Still not up: what a previous agent left (a reply to somebody, a
	 * partial line, bytes that are not JSON), a sync reply with another id. */
	agent_send("{\"return\": %lld}\n{\"return\": {\"pid\": 1}}\n{\"retu\x01\x02garbage",
		   (long long)ag.sync_id);
	run_for(30);
	cr_assert_not(ga_is_up(g), "took a reply before the 0xFF for its sync");
	agent_send("\xff{\"return\": %lld}\n", (long long)ag.sync_id + 1);
	run_for(30);
	cr_assert_not(ga_is_up(g), "took a sync reply with another id");
	/* The reply without a newline before the next 0xFF, as a restarted
	 * agent's stale output may be. */
	agent_send("\xff{\"return\": {}}\xff{\"return\": %lld}\n", (long long)ag.sync_id);
	RUN_UNTIL(ga_is_up(g));
	cr_assert_str_eq(ups, "+");
	/* Opening again is the current value: no second sync. */
	ga_set_open(g, true);
	run_for(30);
	cr_assert_eq(ag.syncs, 1);
	cr_assert_eq(ag.ff, 1);
	cr_assert_str_eq(ups, "+");
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[0]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 1);
	agent_send("{\"return\": {}}\n");
	RUN_UNTIL(rec[0].calls);
	called_once(0, 0);
}

static void sync_check(size_t i, size_t len)
{
	cr_assert_eq(ga_is_up(g), i == len - 1, "up after byte %zu of %zu", i, len);
}

static void reply_check(size_t i, size_t len)
{
	cr_assert_eq(rec[0].calls, i == len - 1, "reply after byte %zu of %zu", i, len);
}

Test(ga, replies_split_byte_by_byte)
{
	char *s;
	int n;

	ag.manual_sync = true;
	ga_set_open(g, true);
	RUN_UNTIL(ag.syncs == 1);
	n = asprintf(&s, "junk{\"ret\xff{\"return\": %lld}\n", (long long)ag.sync_id);
	trickle(s, (size_t)n, sync_check);
	free(s);
	cr_assert_eq(ga_execute(g, "guest-info", NULL, 0, on_reply, &rec[0]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 1);
	cr_assert_str_eq(req_name(0), "guest-info");
	s = "{\"return\": {\"version\": \"7.2.0\", \"supported_commands\": "
	    "[{\"enabled\": true, \"name\": \"guest-ping\"}]}}\n";
	trickle(s, strlen(s), reply_check);
	called_once(0, 0);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(rec[0].reply, "return"),
							   "version")), "7.2.0");
}

Test(ga, one_request_at_a_time_in_order)
{
	static const char *const names[] = { "guest-ping", "guest-info", "guest-get-time",
					     "guest-get-host-name" };

	bring_up();
	for (int i = 0; i < 4; i++)
		cr_assert_eq(ga_execute(g, names[i], i == 2 ? json_pack("{s:i}", "n", i) : NULL,
					0, on_reply, &rec[i]), 0);
	/* Never from inside the call. */
	for (int i = 0; i < 4; i++)
		cr_assert_eq(rec[i].calls, 0);
	for (int i = 0; i < 4; i++) {
		RUN_UNTIL(json_array_size(ag.reqs) == (size_t)i + 1);
		run_for(20);
		cr_assert_eq(json_array_size(ag.reqs), (size_t)i + 1,
			     "request %d went out before the reply to the one before", i + 1);
		cr_assert_str_eq(req_name((size_t)i), names[i]);
		agent_send("{\"return\": {\"n\": %d}}\n", i);
		RUN_UNTIL(rec[i].calls);
	}
	for (int i = 0; i < 4; i++) {
		called_once(i, 0);
		cr_assert_eq(ret_int(i, "n"), i);
		cr_assert_eq(rec[i].seq, i + 1);
	}
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(agent_req(2), "arguments"),
							"n")), 2);
	cr_assert_eq(ag.syncs, 1);
}

Test(ga, timeout_resyncs_and_discards_the_late_reply)
{
	uint64_t t0;

	bring_up();
	ag.manual_sync = true;
	t0 = loop_now_ms();
	cr_assert_eq(ga_execute(g, "guest-fsfreeze-freeze", NULL, 200, on_reply, &rec[0]), 0);
	RUN_UNTIL(rec[0].calls);
	called_once(0, -ETIMEDOUT);
	cr_assert_geq(loop_now_ms() - t0, 200);
	cr_assert_lt(loop_now_ms() - t0, 2000);
	/* Still up: the agent is busy, not gone. */
	cr_assert(ga_is_up(g));
	cr_assert_str_eq(ups, "+");
	/* The next request is taken while the resync is out ... */
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[1]), 0);
	RUN_UNTIL(ag.syncs == 2);
	cr_assert_eq(ag.ff, 2);
	run_for(30);
	cr_assert_eq(json_array_size(ag.reqs), 1, "sent before the resync finished");
	/* ... and the agent, done at last, answers the old one, then the sync. */
	agent_send("{\"return\": 3}\n");
	run_for(30);
	cr_assert_eq(json_array_size(ag.reqs), 1);
	agent_answer_sync();
	RUN_UNTIL(json_array_size(ag.reqs) == 2);
	cr_assert_str_eq(req_name(1), "guest-ping");
	agent_send("{\"return\": {\"n\": 1}}\n");
	RUN_UNTIL(rec[1].calls);
	called_once(1, 0);
	cr_assert_eq(ret_int(1, "n"), 1);
	called_once(0, -ETIMEDOUT);
	cr_assert_str_eq(ups, "+");
}

/* A late reply of several MB, sent before the agent even read the resync:
 * dropped without being parsed as a reply. */
Test(ga, late_huge_reply_is_discarded)
{
	size_t n = 3u << 20;
	char *big = malloc(n + 64);

	bring_up();
	ag.manual_sync = true;
	cr_assert_eq(ga_execute(g, "guest-exec-status", NULL, 100, on_reply, &rec[0]), 0);
	RUN_UNTIL(rec[0].calls);
	called_once(0, -ETIMEDOUT);
	memcpy(big, "{\"return\": {\"out-data\": \"", 25);
	memset(big + 25, 'A', n);
	strcpy(big + 25 + n, "\"}}\n");
	agent_write(big, strlen(big));
	free(big);
	RUN_UNTIL(ag.syncs == 2);
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[1]), 0);
	RUN_UNTIL(ag.out.len == 0);
	agent_answer_sync();
	RUN_UNTIL(json_array_size(ag.reqs) == 2);
	agent_send("{\"return\": {\"n\": 1}}\n");
	RUN_UNTIL(rec[1].calls);
	called_once(1, 0);
	cr_assert_eq(ret_int(1, "n"), 1);
}

Test(ga, queued_request_times_out_in_the_queue)
{
	bring_up();
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 5000, on_reply, &rec[0]), 0);
	cr_assert_eq(ga_execute(g, "guest-info", NULL, 100, on_reply, &rec[1]), 0);
	RUN_UNTIL(rec[1].calls);
	called_once(1, -ETIMEDOUT);
	cr_assert_eq(rec[0].calls, 0);
	cr_assert_eq(json_array_size(ag.reqs), 1);
	cr_assert_eq(ag.syncs, 1, "a request that never went out needs no resync");
	agent_send("{\"return\": {\"n\": 0}}\n");
	RUN_UNTIL(rec[0].calls);
	called_once(0, 0);
	run_for(30);
	cr_assert_eq(json_array_size(ag.reqs), 1, "the timed-out request went out after all");
}

Test(ga, agent_restarts_mid_request)
{
	char c;

	bring_up();
	cr_assert_eq(ga_execute(g, "guest-exec", json_pack("{s:s}", "path", "/bin/true"), 0,
				on_reply, &rec[0]), 0);
	cr_assert_eq(ga_execute(g, "guest-info", NULL, 0, on_reply, &rec[1]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 1);
	/* VSERPORT_CHANGE open=false: everything fails at once. */
	ga_set_open(g, false);
	called_once(0, -ENOTCONN);
	called_once(1, -ENOTCONN);
	cr_assert_lt(rec[0].seq, rec[1].seq);
	cr_assert_not(ga_is_up(g));
	cr_assert_str_eq(ups, "+-");
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[2]), -ENOTCONN);
	ga_set_open(g, false);
	cr_assert_str_eq(ups, "+-");
	/* What the dying agent still says is dropped; nothing is written. */
	agent_send("{\"return\": {\"pid\": 42}}\n{\"ret");
	run_for(50);
	cr_assert_eq(recv(ag.fd, &c, 1, MSG_DONTWAIT), -1, "wrote while the port was closed");
	/* The new agent: a sync first, then up, then requests work. */
	ag.manual_sync = true;
	ga_set_open(g, true);
	RUN_UNTIL(ag.syncs == 2);
	cr_assert_eq(ag.ff, 2);
	cr_assert_not(ga_is_up(g));
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[2]), -ENOTCONN);
	agent_answer_sync();
	RUN_UNTIL(ga_is_up(g));
	cr_assert_str_eq(ups, "+-+");
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[3]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 2);
	agent_send("{\"return\": {\"n\": 3}}\n");
	RUN_UNTIL(rec[3].calls);
	called_once(3, 0);
	cr_assert_eq(ret_int(3, "n"), 3);
	cr_assert_eq(rec[2].calls, 0);
}

/* The largest reply an agent sends: guest-exec-status with both streams at
 * qemu-ga's 16 MiB cap, 45 MB of base64 on one line. */
Test(ga, huge_base64_output_in_one_reply)
{
	size_t n = 16u << 20;
	unsigned char *data = malloc(n);
	char *b64, *line;
	const char *stream[] = { "out-data", "err-data" };

	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	b64 = b64_encode_alloc(data, n);
	cr_assert_not_null(b64);
	bring_up();
	cr_assert_eq(ga_execute(g, "guest-exec-status", json_pack("{s:i}", "pid", 77), 30000,
				on_reply, &rec[0]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 1);
	cr_assert(asprintf(&line, "{\"return\": {\"exitcode\": 0, \"out-data\": \"%s\", "
			   "\"err-data\": \"%s\", \"out-truncated\": true, "
			   "\"err-truncated\": true, \"exited\": true}}\n", b64, b64) > 0);
	free(b64);
	cr_assert_gt(strlen(line), 44000000u);
	agent_write(line, strlen(line));
	free(line);
	RUN_UNTIL(rec[0].calls);
	called_once(0, 0);
	for (int i = 0; i < 2; i++) {
		const char *text = json_string_value(json_object_get(json_object_get(rec[0].reply,
										     "return"),
								     stream[i]));
		size_t len = 0;
		unsigned char *dec;

		cr_assert_not_null(text);
		dec = b64_decode_alloc(text, strlen(text), &len);
		cr_assert_eq(len, n);
		cr_assert_eq(memcmp(dec, data, n), 0, "%s changed", stream[i]);
		free(dec);
	}
	free(data);
	/* and the channel is still in step */
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[1]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 2);
	agent_send("{\"return\": {}}\n");
	RUN_UNTIL(rec[1].calls);
	called_once(1, 0);
	cr_assert_eq(ag.syncs, 1);
}

Test(ga, line_over_the_limit_fails_and_resyncs)
{
	size_t n = GA_LINE_MAX + 16;
	char *big = malloc(n + 1);

	bring_up();
	cr_assert_eq(ga_execute(g, "guest-file-read", NULL, 30000, on_reply, &rec[0]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 1);
	memset(big, ' ', n);
	big[0] = '{';
	big[n] = '\n';
	agent_write(big, n + 1);
	free(big);
	RUN_UNTIL(rec[0].calls);
	called_once(0, -EPROTO);
	RUN_UNTIL(ag.syncs == 2);
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[1]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 2);
	agent_send("{\"return\": {\"n\": 1}}\n");
	RUN_UNTIL(rec[1].calls);
	called_once(1, 0);
	cr_assert(ga_is_up(g));
}

/* A reply that is not a reply: -EPROTO, and the channel resyncs. */
static void bad_reply(const char *text)
{
	bring_up();
	cr_assert_eq(ga_execute(g, "guest-info", NULL, 0, on_reply, &rec[0]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 1);
	agent_send("%s", text);
	RUN_UNTIL(rec[0].calls);
	called_once(0, -EPROTO);
	RUN_UNTIL(ag.syncs == 2);
	cr_assert(ga_is_up(g));
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[1]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 2);
	agent_send("{\"return\": {\"n\": 1}}\n");
	RUN_UNTIL(rec[1].calls);
	called_once(1, 0);
	cr_assert_str_eq(ups, "+");
}

Test(ga, reply_not_json) { bad_reply("{\"return\": {,}}\n"); }
Test(ga, reply_not_an_object) { bad_reply("[1, 2]\n"); }
Test(ga, reply_neither_return_nor_error) { bad_reply("{\"QMP\": {}}\n"); }

Test(ga, error_reply_is_a_reply)
{
	json_t *err;

	bring_up();
	cr_assert_eq(ga_send_raw(g, json_pack("{s:s,s:{s:s,s:s}}", "execute", "guest-file-open",
					      "arguments", "path", "/nope", "mode", "r"),
				 0, on_reply, &rec[0]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 1);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(agent_req(0),
									   "arguments"), "path")),
			 "/nope");
	agent_send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"failed to open file "
		   "'/nope' (mode: 'r'): No such file or directory\"}}\n");
	RUN_UNTIL(rec[0].calls);
	called_once(0, 0);
	err = json_object_get(rec[0].reply, "error");
	cr_assert_str_eq(json_string_value(json_object_get(err, "class")), "GenericError");
	cr_assert_eq(ag.syncs, 1, "an error reply needs no resync");
}

Test(ga, commands_without_reply_are_answered_once_written)
{
	bring_up();
	ag.manual_sync = true;
	cr_assert_eq(ga_execute(g, "guest-shutdown", json_pack("{s:s}", "mode", "powerdown"), 0,
				on_reply, &rec[0]), 0);
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[1]), 0);
	cr_assert_eq(rec[0].calls, 0);
	RUN_UNTIL(rec[0].calls);
	called_once(0, 0);
	cr_assert_eq(json_object_size(json_object_get(rec[0].reply, "return")), 0);
	cr_assert(json_is_object(json_object_get(rec[0].reply, "return")));
	/* Then a resync, so an error the agent sends when the shutdown fails
	 * is not taken for the answer to the next request. */
	RUN_UNTIL(ag.syncs == 2);
	cr_assert_eq(json_array_size(ag.reqs), 1);
	cr_assert_str_eq(req_name(0), "guest-shutdown");
	agent_send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"shutdown failed\"}}\n");
	agent_answer_sync();
	RUN_UNTIL(json_array_size(ag.reqs) == 2);
	agent_send("{\"return\": {\"n\": 1}}\n");
	RUN_UNTIL(rec[1].calls);
	called_once(1, 0);
	cr_assert_eq(ret_int(1, "n"), 1);
	/* The same through ga_send_raw, for each suspend. */
	ag.manual_sync = false;
	cr_assert_eq(ga_send_raw(g, json_pack("{s:s}", "execute", "guest-suspend-ram"), 0,
				 on_reply, &rec[2]), 0);
	cr_assert_eq(ga_send_raw(g, json_pack("{s:s}", "execute", "guest-suspend-disk"), 0,
				 on_reply, &rec[3]), 0);
	cr_assert_eq(ga_execute(g, "guest-suspend-hybrid", NULL, 0, on_reply, &rec[4]), 0);
	RUN_UNTIL(rec[4].calls);
	called_once(2, 0);
	called_once(3, 0);
	called_once(4, 0);
	RUN_UNTIL(ag.syncs == 5);
	cr_assert_eq(json_array_size(ag.reqs), 5);
	cr_assert_str_eq(req_name(4), "guest-suspend-hybrid");
}

Test(ga, sync_commands_belong_to_the_client)
{
	bring_up();
	cr_assert_eq(ga_send_raw(g, json_pack("{s:s}", "execute", "guest-sync"), 0, on_reply,
				 &rec[0]), -EINVAL);
	cr_assert_eq(ga_send_raw(g, json_pack("{s:s,s:{s:i}}", "execute", "guest-sync-delimited",
					      "arguments", "id", 1), 0, on_reply, &rec[0]), -EINVAL);
	cr_assert_eq(ga_execute(g, "guest-sync-delimited", json_pack("{s:i}", "id", 1), 0,
				on_reply, &rec[0]), -EINVAL);
	cr_assert_eq(ga_send_raw(g, json_string("guest-ping"), 0, on_reply, &rec[0]), -EINVAL);
	cr_assert_eq(ga_send_raw(g, json_pack("{s:i}", "execute", 1), 0, on_reply, &rec[0]),
		     -EINVAL);
	cr_assert_eq(ga_send_raw(g, NULL, 0, on_reply, &rec[0]), -EINVAL);
	cr_assert_eq(ga_execute(g, "guest-ping", json_array(), 0, on_reply, &rec[0]), -EINVAL);
	cr_assert_eq(ga_execute(g, NULL, NULL, 0, on_reply, &rec[0]), -EINVAL);
	run_for(30);
	cr_assert_eq(rec[0].calls, 0);
	cr_assert_eq(json_array_size(ag.reqs), 0);
	cr_assert_eq(ag.syncs, 1);
}

Test(ga, raw_command_goes_as_written)
{
	json_t *cmd = json_pack("{s:s,s:{s:s,s:[s],s:b},s:s}", "execute", "guest-exec",
				"arguments", "path", "hostname", "arg", "-f", "capture-output", 1,
				"id", "mine");

	bring_up();
	cr_assert_eq(ga_send_raw(g, json_incref(cmd), 0, on_reply, &rec[0]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 1);
	cr_assert(json_equal(agent_req(0), cmd));
	json_decref(cmd);
	agent_send("{\"return\": {\"pid\": 9}, \"id\": \"mine\"}\n");
	RUN_UNTIL(rec[0].calls);
	called_once(0, 0);
	cr_assert_eq(ret_int(0, "pid"), 9);
}

Test(ga, big_request_is_written_as_the_socket_takes_it)
{
	size_t n = 4u << 20;
	char *blob = malloc(n + 1);
	const char *got;
	int small = 4096;

	cr_assert_eq(setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	memset(blob, 'Q', n);
	blob[n] = '\0';
	bring_up();
	cr_assert_eq(ga_execute(g, "guest-file-write",
				json_pack("{s:i,s:s}", "handle", 3, "buf-b64", blob), 0, on_reply,
				&rec[0]), 0);
	cr_assert_eq(ga_execute(g, "guest-file-close", json_pack("{s:i}", "handle", 3), 0,
				on_reply, &rec[1]), 0);
	free(blob);
	RUN_UNTIL(json_array_size(ag.reqs) == 1);
	got = json_string_value(json_object_get(json_object_get(agent_req(0), "arguments"),
						"buf-b64"));
	cr_assert_eq(strlen(got), n);
	agent_send("{\"return\": {\"count\": %zu, \"eof\": false}}\n", n / 4 * 3);
	RUN_UNTIL(json_array_size(ag.reqs) == 2);
	cr_assert_str_eq(req_name(1), "guest-file-close");
	agent_send("{\"return\": {}}\n");
	RUN_UNTIL(rec[1].calls);
	called_once(0, 0);
	called_once(1, 0);
}

/* The agent refuses a request before it has all of it: the answer is that
 * request's, and the rest of it must not reach the agent as garbage. */
Test(ga, answer_before_the_request_is_all_written)
{
	size_t n = 4u << 20;
	char *blob = malloc(n + 1);
	int small = 4096;

	cr_assert_eq(setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	memset(blob, 'Q', n);
	blob[n] = '\0';
	bring_up();
	ag.refuse_big = true;
	cr_assert_eq(ga_execute(g, "guest-file-write",
				json_pack("{s:i,s:s}", "handle", 3, "buf-b64", blob), 0, on_reply,
				&rec[0]), 0);
	free(blob);
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[1]), 0);
	RUN_UNTIL(rec[0].calls);
	called_once(0, 0);
	cr_assert_not_null(json_object_get(rec[0].reply, "error"));
	RUN_UNTIL(ag.syncs == 2);
	cr_assert_eq(ag.ff, 2);
	RUN_UNTIL(json_array_size(ag.reqs) == 1);
	cr_assert_str_eq(req_name(0), "guest-ping");
	cr_assert_lt(ag.max_line, 1000, "the rest of the big request went out");
	agent_send("{\"return\": {}}\n");
	RUN_UNTIL(rec[1].calls);
	called_once(1, 0);
}

/* A callback queues the next request, as exec's status polling does; the
 * up callback queues the first. */
static int chain_left = 3;

static void chain(void *opaque, json_t *reply, int err)
{
	on_reply(opaque, reply, err);
	if (--chain_left)
		cr_assert_eq(ga_execute(g, "guest-exec-status", json_pack("{s:i}", "pid", chain_left),
					0, chain, opaque), 0);
}

static void up_queues(void *opaque, bool up)
{
	on_up(opaque, up);
	if (up)
		cr_assert_eq(ga_execute(g, "guest-exec-status", json_pack("{s:i}", "pid", 3), 0,
					chain, &rec[0]), 0);
}

Test(ga, callbacks_may_queue_requests)
{
	static const struct ga_callbacks ucbs = { .up = up_queues };

	ga_free(g);
	agent_close();
	open_pair(&ucbs);
	ga_set_open(g, true);
	for (int i = 0; i < 3; i++) {
		RUN_UNTIL(json_array_size(ag.reqs) == (size_t)i + 1);
		agent_send("{\"return\": {\"exited\": %s}}\n", i == 2 ? "true" : "false");
	}
	RUN_UNTIL(rec[0].calls == 3);
	cr_assert_eq(chain_left, 0);
	run_for(20);
	cr_assert_eq(json_array_size(ag.reqs), 3);
}

Test(ga, agent_end_closed)
{
	bring_up();
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[0]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 1);
	agent_send("{\"return\"");
	RUN_UNTIL(ag.out.len == 0);
	agent_close();
	RUN_UNTIL(rec[0].calls);
	called_once(0, -ENOTCONN);
	cr_assert_str_eq(ups, "+-");
	cr_assert_not(ga_is_up(g));
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[1]), -ENOTCONN);
	ga_set_open(g, false);
	ga_set_open(g, true);
	run_for(30);
	cr_assert_not(ga_is_up(g));
	cr_assert_str_eq(ups, "+-");
}

static void requeue_on_cancel(void *opaque, json_t *reply, int err)
{
	on_reply(opaque, reply, err);
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[5]), -ENOTCONN);
}

Test(ga, free_cancels_pending)
{
	bring_up();
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, requeue_on_cancel, &rec[0]), 0);
	cr_assert_eq(ga_execute(g, "guest-info", NULL, 0, on_reply, &rec[1]), 0);
	RUN_UNTIL(json_array_size(ag.reqs) == 1);
	ga_free(g);
	g = NULL;
	called_once(0, -ECANCELED);
	called_once(1, -ECANCELED);
	cr_assert_eq(rec[5].calls, 0);
	cr_assert_str_eq(ups, "+");
	ga_free(NULL);
}

/* An agent that never answers the sync: it is sent again, with a new id. */
Test(ga, unanswered_sync_is_retried)
{
	json_int_t first;
	uint64_t t0 = loop_now_ms();

	ag.manual_sync = true;
	ga_set_open(g, true);
	RUN_UNTIL(ag.syncs == 1);
	first = ag.sync_id;
	RUN_UNTIL(ag.syncs == 2);
	cr_assert_geq(loop_now_ms() - t0, GA_SYNC_TIMEOUT_MS);
	cr_assert_eq(ag.ff, 2);
	cr_assert_neq(ag.sync_id, first);
	cr_assert_not(ga_is_up(g));
	/* The agent wakes up and answers both, in order. */
	agent_send("\xff{\"return\": %lld}\n", (long long)first);
	run_for(30);
	cr_assert_not(ga_is_up(g), "took the old sync's reply");
	agent_answer_sync();
	RUN_UNTIL(ga_is_up(g));
	cr_assert_str_eq(ups, "+");
}

/* The real agent, on a unix socket on the host (qemu-ga -m unix-listen):
 * what it makes of our 0xFF and syncs, a command's output, and the error it
 * sends when a guest-shutdown fails. */
static const char *const qga_paths[] = { "/usr/sbin/qemu-ga", "/usr/bin/qemu-ga" };

static void status_poll(void *opaque, json_t *reply, int err)
{
	json_t *ret = json_object_get(reply, "return");

	if (!err && json_is_false(json_object_get(ret, "exited"))) {
		cr_assert_eq(ga_execute(g, "guest-exec-status",
					json_pack("{s:I}", "pid", (json_int_t)(intptr_t)opaque), 0,
					status_poll, opaque), 0);
		return;
	}
	on_reply(&rec[2], reply, err);
}

Test(ga, real_qemu_ga)
{
	const char *bin = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t dl;
	int fd;
	json_t *ret;
	const char *stale = "{\"execute\": \"guest-exec\", \"arguments\": {\"pa";

	for (size_t i = 0; i < sizeof(qga_paths) / sizeof(qga_paths[0]); i++)
		if (access(qga_paths[i], X_OK) == 0)
			bin = qga_paths[i];
	if (!bin)
		cr_skip_test("qemu-ga is not installed (Debian: qemu-guest-agent)");
	cr_assert_not_null(mkdtemp(qga_dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ga.sock", qga_dir);
	qga = fork();
	cr_assert_geq(qga, 0);
	if (qga == 0) {
		char pidf[64], logf[64];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(pidf, sizeof(pidf), "%s/pid", qga_dir);
		snprintf(logf, sizeof(logf), "%s/log", qga_dir);
		execl(bin, "qemu-ga", "-m", "unix-listen", "-p", sa.sun_path, "-f", pidf, "-t",
		      qga_dir, "-l", logf, (char *)NULL);
		_exit(127);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	dl = loop_now_ms() + DEADLINE_MS;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		cr_assert_lt(loop_now_ms(), dl, "qemu-ga did not listen: %s", strerror(errno));
		usleep(10000);
	}
	/* A client before us died in the middle of a request. */
	cr_assert_eq(write(fd, stale, strlen(stale)), (ssize_t)strlen(stale));
	ga_free(g);
	agent_close();
	g = ga_new(fd, &cbs);
	cr_assert_not_null(g);
	bring_up();

	cr_assert_eq(ga_execute(g, "guest-info", NULL, 0, on_reply, &rec[0]), 0);
	RUN_UNTIL(rec[0].calls);
	called_once(0, 0);
	cr_assert(json_is_string(json_object_get(json_object_get(rec[0].reply, "return"),
						 "version")));

	cr_assert_eq(ga_execute(g, "guest-exec",
				json_pack("{s:s,s:[s,s],s:b}", "path", "/bin/sh", "arg", "-c",
					  "printf hi; printf err >&2; exit 3", "capture-output", 1),
				0, on_reply, &rec[1]), 0);
	RUN_UNTIL(rec[1].calls);
	called_once(1, 0);
	json_int_t pid = json_integer_value(json_object_get(json_object_get(rec[1].reply, "return"),
							    "pid"));
	cr_assert_gt(pid, 0);
	cr_assert_eq(ga_execute(g, "guest-exec-status", json_pack("{s:I}", "pid", pid), 0,
				status_poll, (void *)(intptr_t)pid), 0);
	RUN_UNTIL(rec[2].calls);
	called_once(2, 0);
	ret = json_object_get(rec[2].reply, "return");
	cr_assert_eq(json_integer_value(json_object_get(ret, "exitcode")), 3);
	cr_assert_str_eq(json_string_value(json_object_get(ret, "out-data")), "aGk=");
	cr_assert_str_eq(json_string_value(json_object_get(ret, "err-data")), "ZXJy");

	/* A guest-shutdown the agent refuses: answered {} by us, and the
	 * agent's error does not become the next request's reply. */
	cr_assert_eq(ga_execute(g, "guest-shutdown", json_pack("{s:s}", "mode", "bogus"), 0,
				on_reply, &rec[3]), 0);
	cr_assert_eq(ga_execute(g, "guest-ping", NULL, 0, on_reply, &rec[4]), 0);
	RUN_UNTIL(rec[4].calls);
	called_once(3, 0);
	called_once(4, 0);
	cr_assert_null(json_object_get(rec[4].reply, "error"));
	cr_assert_str_eq(ups, "+");
}

/* test_qmp.c - the QMP client against a scripted fake QEMU over a socketpair,
 * and once against a real QEMU when one is installed.
 *
 * The test plays QEMU on one end ("the peer", blocking) and drives the client
 * on the other with poll() + qmp_io(), always with a deadline, never sleeping.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "qmp/qmp.h"

static struct qmp *q;

static int peer_client_fd(void) { return qmp_fd(q); }
static bool peer_client_want_write(void) { return qmp_want_write(q); }
static int peer_client_io(void) { return qmp_io(q); }

#include "tests/peer.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, \"capabilities\": []}}\r\n"

struct rec {
	int calls;
	int err;
	json_t *reply;
	int seq;        /* when it was called, against events and other replies */
};

static int seq;
static int ready_calls;
static json_t *events;  /* [{"event", "data"}] */
static int ev_seq[16];  /* when each event came */
static struct rec rec[8];
static bool ready_queues;       /* on_ready queues query-version */

static void on_reply(void *opaque, json_t *reply, int err)
{
	struct rec *r = opaque;

	r->calls++;
	r->err = err;
	json_decref(r->reply);
	r->reply = json_incref(reply);
	r->seq = ++seq;
}

static void on_event(void *opaque, const char *event, json_t *data, json_t *msg)
{
	(void)opaque;
	cr_assert_str_eq(json_string_value(json_object_get(msg, "event")), event);
	cr_assert_lt(json_array_size(events), 16);
	ev_seq[json_array_size(events)] = ++seq;
	json_array_append_new(events, json_pack("{s:s,s:O?}", "event", event, "data", data));
}

static void on_ready(void *opaque)
{
	(void)opaque;
	ready_calls++;
	if (ready_queues)
		cr_assert_eq(qmp_execute(q, "query-version", NULL, on_reply, &rec[7]), 0);
}

static const struct qmp_callbacks cbs = { on_event, on_ready, NULL };

static void setup(void)
{
	q = qmp_new(peer_open(), &cbs);
	cr_assert_not_null(q);
	events = json_array();
}

static void teardown(void)
{
	qmp_free(q);
	peer_close();
	for (size_t i = 0; i < sizeof(rec) / sizeof(rec[0]); i++)
		json_decref(rec[i].reply);
	json_decref(events);
}

TestSuite(qmp, .init = setup, .fini = teardown, .timeout = 20);

/* The client wrote nothing (after running once). */
static void peer_silent(void)
{
	struct pollfd pf = { peer_fd, POLLIN, 0 };

	io_rc = qmp_io(q);
	cr_assert_eq(io_rc, 0);
	cr_assert_eq(plen, 0);
	cr_assert_eq(poll(&pf, 1, 0), 0, "the client wrote too early");
}

/* Read one command; check its name; return its id. */
static json_int_t expect_cmd(const char *name)
{
	json_t *msg = peer_recv();
	json_t *id = json_object_get(msg, "id");
	json_int_t v;

	cr_assert_str_eq(json_string_value(json_object_get(msg, "execute")), name);
	cr_assert(json_is_integer(id), "id is not a number");
	v = json_integer_value(id);
	json_decref(msg);
	return v;
}

static void handshake(void)
{
	json_int_t id;

	peer_send(GREETING);
	id = expect_cmd("qmp_capabilities");
	peer_silent();  /* nothing else until capabilities are accepted */
	cr_assert_eq(ready_calls, 0);
	cr_assert_not(qmp_is_ready(q));
	peer_send("{\"return\": {}, \"id\": %lld}\r\n", (long long)id);
	PUMP_UNTIL(ready_calls == 1);
	cr_assert(qmp_is_ready(q));
}

static const char *ret_str(const struct rec *r, const char *key)
{
	return json_string_value(json_object_get(json_object_get(r->reply, "return"), key));
}

/* Queue cmd with rec[slot] and return the id the peer saw. */
static json_int_t pending(const char *cmd, int slot)
{
	cr_assert_eq(qmp_execute(q, cmd, NULL, on_reply, &rec[slot]), 0);
	return expect_cmd(cmd);
}

/* rec[i] was called once: with err, or with a reply when err is 0. */
static void called_once(int i, int err)
{
	cr_assert_eq(rec[i].calls, 1, "rec[%d] calls", i);
	cr_assert_eq(rec[i].err, err, "rec[%d] err", i);
	cr_assert_eq(rec[i].reply == NULL, err != 0, "rec[%d] reply", i);
}

Test(qmp, greeting_and_capabilities)
{
	cr_assert_not(qmp_is_ready(q));
	peer_silent();
	handshake();
	peer_silent();
	cr_assert_eq(ready_calls, 1);
}

Test(qmp, commands_queued_before_ready_go_out_after)
{
	json_int_t caps, a, b;

	ready_queues = true;
	cr_assert_eq(qmp_execute(q, "query-status", NULL, on_reply, &rec[0]), 0);
	cr_assert_not(qmp_want_write(q));
	peer_silent();
	peer_send(GREETING);
	caps = expect_cmd("qmp_capabilities");
	/* Before capabilities are accepted, QEMU would refuse it. */
	cr_assert_eq(qmp_execute(q, "query-name", NULL, on_reply, &rec[1]), 0);
	peer_silent();
	peer_send("{\"return\": {}, \"id\": %lld}\r\n", (long long)caps);
	a = expect_cmd("query-status");
	b = expect_cmd("query-name");
	expect_cmd("query-version");    /* queued by the ready callback */
	cr_assert_eq(ready_calls, 1);
	peer_send("{\"return\": {\"status\": \"running\"}, \"id\": %lld}\r\n"
		  "{\"return\": {\"name\": \"n100-1\"}, \"id\": %lld}\r\n", (long long)a, (long long)b);
	PUMP_UNTIL(rec[1].calls == 1);
	called_once(0, 0);
	cr_assert_str_eq(ret_str(&rec[0], "status"), "running");
	cr_assert_str_eq(ret_str(&rec[1], "name"), "n100-1");
	cr_assert_eq(rec[7].calls, 0);
}

Test(qmp, replies_out_of_order)
{
	json_int_t a, b;

	handshake();
	a = pending("query-status", 0);
	b = pending("query-name", 1);
	cr_assert_neq(a, b);
	peer_send("{\"return\": {\"which\": \"b\"}, \"id\": %lld}\r\n", (long long)b);
	PUMP_UNTIL(rec[1].calls == 1);
	cr_assert_eq(rec[0].calls, 0);
	peer_send("{\"return\": {\"which\": \"a\"}, \"id\": %lld}\r\n", (long long)a);
	PUMP_UNTIL(rec[0].calls == 1);
	called_once(0, 0);
	cr_assert_str_eq(ret_str(&rec[0], "which"), "a");
	cr_assert_str_eq(ret_str(&rec[1], "which"), "b");
	cr_assert_lt(rec[1].seq, rec[0].seq);
}

Test(qmp, events_between_replies)
{
	json_int_t a, b;
	json_t *want;

	handshake();
	a = pending("stop", 0);
	b = pending("cont", 1);
	peer_send("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n");
	peer_send("{\"return\": {}, \"id\": %lld}\r\n", (long long)a);
	peer_send("{\"event\": \"NIC_RX_FILTER_CHANGED\", \"data\": {\"name\": \"net0\"}}\r\n");
	peer_send("{\"return\": {}, \"id\": %lld}\r\n", (long long)b);
	peer_send("{\"event\": \"RESUME\", \"data\": {}}\r\n");
	PUMP_UNTIL(json_array_size(events) == 3);
	want = json_pack("[{s:s,s:n},{s:s,s:{s:s}},{s:s,s:{}}]", "event", "STOP", "data",
			 "event", "NIC_RX_FILTER_CHANGED", "data", "name", "net0",
			 "event", "RESUME", "data");
	cr_assert(json_equal(events, want), "events seen out of order or changed");
	json_decref(want);
	called_once(0, 0);
	called_once(1, 0);
	cr_assert_lt(ev_seq[0], rec[0].seq);
	cr_assert_lt(rec[0].seq, ev_seq[1]);
	cr_assert_lt(ev_seq[1], rec[1].seq);
	cr_assert_lt(rec[1].seq, ev_seq[2]);
}

Test(qmp, reply_split_byte_by_byte)
{
	char *s;
	size_t len, ev_end;

	handshake();
	len = (size_t)asprintf(&s, "{\"event\": \"RESUME\"}\r\n{\"return\": {\"status\": "
			       "\"running\", \"running\": true}, \"id\": %lld}\r\n",
			       (long long)pending("query-status", 0));
	ev_end = (size_t)(strchr(s, '\n') - s);
	for (size_t i = 0; i < len; i++) {
		struct pollfd pf = { qmp_fd(q), POLLIN, 0 };

		cr_assert_eq(write(peer_fd, s + i, 1), 1);
		cr_assert_eq(poll(&pf, 1, TIMEOUT_MS), 1);
		cr_assert_eq(qmp_io(q), 0);
		cr_assert_eq(json_array_size(events), i >= ev_end, "byte %zu", i);
		cr_assert_eq(rec[0].calls, i == len - 1, "byte %zu", i);
	}
	free(s);
	cr_assert_str_eq(ret_str(&rec[0], "status"), "running");
}

Test(qmp, several_messages_in_one_write)
{
	struct pollfd pf;
	json_int_t a, b;

	handshake();
	a = pending("query-status", 0);
	b = pending("query-name", 1);
	peer_send("{\"event\": \"A\"}\r\n{\"return\": {}, \"id\": %lld}\r\n"
		  "{\"return\": {}, \"id\": %lld}\r\n{\"event\": \"B\"}\r\n", (long long)b, (long long)a);
	pf = (struct pollfd){ qmp_fd(q), POLLIN, 0 };
	cr_assert_eq(poll(&pf, 1, TIMEOUT_MS), 1);
	cr_assert_eq(qmp_io(q), 0);     /* one call dispatches all four */
	cr_assert_eq(json_array_size(events), 2);
	called_once(0, 0);
	called_once(1, 0);
	cr_assert_lt(ev_seq[0], rec[1].seq);
	cr_assert_lt(rec[1].seq, rec[0].seq);
	cr_assert_lt(rec[0].seq, ev_seq[1]);
}

Test(qmp, peer_closes_mid_reply)
{
	handshake();
	pending("query-status", 0);
	pending("query-name", 1);
	peer_send("{\"return\": {\"sta");
	close(peer_fd);
	peer_fd = -1;
	PUMP_UNTIL(io_rc < 0);
	cr_assert_eq(io_rc, -EPIPE);
	called_once(0, -EPIPE);
	called_once(1, -EPIPE);
	cr_assert_eq(qmp_io(q), -EPIPE);
	cr_assert_not(qmp_is_ready(q));
	cr_assert_not(qmp_want_write(q));
	cr_assert_eq(qmp_execute(q, "cont", json_object(), on_reply, &rec[2]), -EPIPE);
	qmp_free(q);
	q = NULL;
	cr_assert_eq(rec[0].calls + rec[1].calls + rec[2].calls, 2);
}

/* One command pending, the peer sends text: the client must fail with err
 * and hand the pending callback that error, once. */
static void pending_then(const char *fmt, int err)
{
	handshake();
	peer_send(fmt, (long long)pending("query-status", 0));
	PUMP_UNTIL(io_rc < 0);
	cr_assert_eq(io_rc, err);
	called_once(0, err);
	cr_assert_eq(qmp_io(q), err);
	called_once(0, err);
}

#define PENDING_THEN(name, text, err) Test(qmp, name) { pending_then(text, err); }
PENDING_THEN(malformed_json, "{\"return\": {,}, \"id\": %lld}\r\n", -EPROTO)
PENDING_THEN(not_an_object, "[%lld]\r\n", -EPROTO)
PENDING_THEN(neither_reply_nor_event, "{\"id\": %lld}\r\n", -EPROTO)

Test(qmp, line_too_long)
{
	char *s = malloc((17u << 20) + 1);

	memset(s, ' ', 17u << 20);
	s[17u << 20] = '\0';
	s[0] = '{';
	pending_then(s, -EMSGSIZE);
	free(s);
}

Test(qmp, capabilities_refused)
{
	cr_assert_eq(qmp_execute(q, "query-status", NULL, on_reply, &rec[0]), 0);
	peer_send(GREETING);
	peer_send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}, \"id\": %lld}\r\n",
		  (long long)expect_cmd("qmp_capabilities"));
	PUMP_UNTIL(io_rc < 0);
	cr_assert_eq(io_rc, -EPROTO);
	cr_assert_eq(ready_calls, 0);
	called_once(0, -EPROTO);
}

/* A reply no command waits for (QEMU's answer to what it could not parse
 * has no id) is dropped: the monitor stays, and the pending command still
 * gets its own reply. */
static void unmatched_then_reply(const char *fmt)
{
	json_int_t id;

	handshake();
	id = pending("query-status", 0);
	peer_send(fmt, (long long)id);
	peer_send("{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n");
	PUMP_UNTIL(json_array_size(events) == 1);
	cr_assert_eq(io_rc, 0);
	cr_assert(qmp_is_ready(q));
	cr_assert_eq(rec[0].calls, 0, "the unmatched reply went to the pending command");
	cr_assert_eq(qmp_unmatched(q), 1);
	peer_send("{\"return\": {\"status\": \"paused\"}, \"id\": %lld}\r\n", (long long)id);
	PUMP_UNTIL(rec[0].calls == 1);
	called_once(0, 0);
	cr_assert_str_eq(ret_str(&rec[0], "status"), "paused");
	/* and the next command works as ever */
	id = pending("cont", 1);
	peer_send("{\"return\": {}, \"id\": %lld}\r\n", (long long)id);
	PUMP_UNTIL(rec[1].calls == 1);
	called_once(1, 0);
}

Test(qmp, error_without_id_keeps_the_monitor)
{
	/* (the id only in the text: the reply itself has none) */
	unmatched_then_reply("{\"error\": {\"class\": \"GenericError\", \"desc\": "
			     "\"JSON parse error, nesting too deep near %lld\"}}\r\n");
}

Test(qmp, reply_with_unknown_id_is_dropped)
{
	unmatched_then_reply("{\"return\": {}, \"id\": 1%lld}\r\n");
}

/* Nested past QMP_MAX_NESTING: refused here, nothing reaches QEMU. */
Test(qmp, send_raw_refuses_deep_nesting)
{
	json_t *deep = json_integer(1), *ok = json_integer(1);

	handshake();
	for (int i = 0; i < 1100; i++)
		deep = json_pack("[o]", deep);
	for (int i = 0; i < 10; i++)
		ok = json_pack("{s:o}", "a", ok);
	cr_assert_eq(qmp_send_raw(q, json_pack("{s:s, s:{s:o}}", "execute", "qom-set", "arguments",
					       "value", deep), on_reply, &rec[0]), -E2BIG);
	peer_silent();
	cr_assert_eq(qmp_send_raw(q, json_pack("{s:s, s:o}", "execute", "qom-set", "arguments", ok),
				  on_reply, &rec[1]), 0);
	expect_cmd("qom-set");
	cr_assert_eq(rec[0].calls, 0);
	cr_assert(qmp_is_ready(q));
}

Test(qmp, error_reply_is_a_reply)
{
	json_t *msg, *err;
	json_int_t a;

	handshake();
	qmp_execute(q, "device_del", json_pack("{s:s}", "id", "nope"), on_reply, &rec[0]);
	msg = peer_recv();
	cr_assert_str_eq(json_string_value(json_object_get(msg, "execute")), "device_del");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(msg, "arguments"),
							   "id")), "nope");
	a = json_integer_value(json_object_get(msg, "id"));
	json_decref(msg);
	peer_send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Device 'nope' not found\"}, "
		  "\"id\": %lld}\r\n", (long long)a);
	PUMP_UNTIL(rec[0].calls == 1);
	called_once(0, 0);
	err = json_object_get(rec[0].reply, "error");
	cr_assert_str_eq(json_string_value(json_object_get(err, "class")), "GenericError");
	cr_assert_str_eq(json_string_value(json_object_get(err, "desc")), "Device 'nope' not found");
	cr_assert(qmp_is_ready(q));
	/* Arguments that are not an object are refused (and still stolen). */
	cr_assert_eq(qmp_execute(q, "cont", json_array(), on_reply, &rec[1]), -EINVAL);
	cr_assert_eq(qmp_execute(q, NULL, NULL, on_reply, &rec[1]), -EINVAL);
	cr_assert_eq(rec[1].calls, 0);
}

Test(qmp, send_raw_restores_user_id)
{
	json_t *cmd, *msg, *uid;
	json_int_t a, b, c;

	handshake();
	cmd = json_pack("{s:s,s:s}", "execute", "query-status", "id", "user-7");
	cr_assert_eq(qmp_send_raw(q, json_incref(cmd), on_reply, &rec[0]), 0);
	/* the caller's object is not touched */
	cr_assert_str_eq(json_string_value(json_object_get(cmd, "id")), "user-7");
	json_decref(cmd);
	cr_assert_eq(qmp_send_raw(q, json_pack("{s:s}", "execute", "query-name"),
				  on_reply, &rec[1]), 0);
	uid = json_pack("{s:[i,s]}", "k", 1, "x");
	cr_assert_eq(qmp_send_raw(q, json_pack("{s:s,s:O}", "execute", "query-kvm", "id", uid),
				  on_reply, &rec[2]), 0);
	cr_assert_eq(qmp_send_raw(q, json_string("query-status"), on_reply, &rec[3]), -EINVAL);

	msg = peer_recv();
	cr_assert(json_is_integer(json_object_get(msg, "id")), "user id went to QEMU");
	a = json_integer_value(json_object_get(msg, "id"));
	json_decref(msg);
	b = expect_cmd("query-name");
	c = expect_cmd("query-kvm");
	peer_send("{\"return\": {\"status\": \"paused\"}, \"id\": %lld}\r\n"
		  "{\"return\": {}, \"id\": %lld}\r\n{\"return\": {}, \"id\": %lld}\r\n",
		  (long long)a, (long long)b, (long long)c);
	PUMP_UNTIL(rec[2].calls == 1);
	cr_assert_str_eq(json_string_value(json_object_get(rec[0].reply, "id")), "user-7");
	cr_assert_str_eq(ret_str(&rec[0], "status"), "paused");
	cr_assert_null(json_object_get(rec[1].reply, "id"), "no user id, no id");
	cr_assert(json_equal(json_object_get(rec[2].reply, "id"), uid));
	cr_assert_eq(rec[3].calls, 0);
	json_decref(uid);
}

Test(qmp, free_with_pending_commands)
{
	char c;

	handshake();
	pending("query-status", 0);
	qmp_execute(q, "query-name", NULL, on_reply, &rec[1]);
	qmp_free(q);
	q = NULL;
	called_once(0, -ECANCELED);
	called_once(1, -ECANCELED);
	/* The fd was closed: the peer sees the end after the second command. */
	while (read(peer_fd, &c, 1) == 1)
		;
}

static void free_in_callback(void *opaque, json_t *reply, int err)
{
	on_reply(opaque, reply, err);
	qmp_free(q);
	/* Refused, not queued: the client is going away. */
	cr_assert_eq(qmp_execute(q, "cont", NULL, on_reply, &rec[5]), -ECANCELED);
}

Test(qmp, free_from_a_callback)
{
	struct pollfd pf;

	handshake();
	qmp_execute(q, "quit", NULL, free_in_callback, &rec[0]);
	qmp_execute(q, "query-status", NULL, on_reply, &rec[1]);
	peer_send("{\"return\": {}, \"id\": %lld}\r\n{\"event\": \"SHUTDOWN\"}\r\n",
		  (long long)expect_cmd("quit"));
	pf = (struct pollfd){ qmp_fd(q), POLLIN, 0 };
	cr_assert_eq(poll(&pf, 1, TIMEOUT_MS), 1);
	cr_assert_eq(qmp_io(q), -ECANCELED);
	q = NULL;
	called_once(0, 0);
	called_once(1, -ECANCELED);
	cr_assert_eq(rec[5].calls, 0);
	cr_assert_eq(json_array_size(events), 0, "nothing is dispatched after qmp_free");
}

Test(qmp, write_that_would_block_is_buffered)
{
	size_t big = 4u << 20;
	char *blob = malloc(big + 1);
	json_t *msg;
	json_int_t a;

	handshake();
	memset(blob, 'x', big);
	blob[big] = '\0';
	cr_assert_eq(qmp_execute(q, "human-monitor-command",
				 json_pack("{s:s}", "command-line", blob), on_reply, &rec[0]), 0);
	free(blob);
	cr_assert(qmp_want_write(q), "4 MiB should not fit a socket buffer");
	qmp_execute(q, "query-status", NULL, on_reply, &rec[1]);
	msg = peer_recv();
	cr_assert_eq(strlen(json_string_value(json_object_get(json_object_get(msg, "arguments"),
							      "command-line"))), big);
	a = json_integer_value(json_object_get(msg, "id"));
	json_decref(msg);
	expect_cmd("query-status");
	PUMP_UNTIL(!qmp_want_write(q));
	peer_send("{\"return\": \"\", \"id\": %lld}\r\n", (long long)a);
	PUMP_UNTIL(rec[0].calls == 1);
	cr_assert_eq(rec[1].calls, 0);
}

Test(qmp, real_qemu)
{
	char *argv[] = { "qemu-system-x86_64", "-nodefaults", "-no-user-config",
			 "-display", "none", "-machine", "none",
			 "-chardev", "socket,id=m,fd=3", "-mon", "chardev=m,mode=control", NULL };
	int status;

	if (peer_fork() == 0) {
		/* dup2 onto itself would leave close-on-exec set. */
		if (peer_fd == 3)
			fcntl(3, F_SETFD, 0);
		else if (dup2(peer_fd, 3) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);     /* not installed: the test is skipped */
	}
	close(peer_fd);
	peer_fd = -1;
	PUMP_UNTIL(ready_calls == 1 || io_rc < 0);
	if (io_rc < 0 && waitpid(child, &status, 0) == child) {
		child = -1;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			cr_skip_test("%s is not installed", argv[0]);
		cr_assert_fail("qemu did not start: status %#x", status);
	}
	cr_assert_eq(qmp_execute(q, "query-status", NULL, on_reply, &rec[0]), 0);
	PUMP_UNTIL(rec[0].calls == 1);
	cr_assert_eq(rec[0].err, 0);
	cr_assert_not_null(ret_str(&rec[0], "status"), "no status in the reply");
	cr_assert_eq(qmp_execute(q, "quit", NULL, on_reply, &rec[1]), 0);
	PUMP_UNTIL(rec[1].calls == 1);
	cr_assert_not_null(json_object_get(rec[1].reply, "return"));
	PUMP_UNTIL(io_rc < 0);
	cr_assert_eq(io_rc, -EPIPE);
	cr_assert_eq(waitpid(child, &status, 0), child);
	child = -1;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "qemu status %#x", status);
}

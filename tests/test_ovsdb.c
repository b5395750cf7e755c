/* test_ovsdb.c - the OVSDB client against a scripted ovsdb-server over a
 * socketpair.
 *
 * The test plays the server on one end ("the peer") and drives the client
 * with poll() + ovsdb_io(), always with a deadline.  Like ovsdb-server, the
 * peer writes messages back to back with no newline between them.  The sync
 * call is tested against a forked peer, since the client then blocks.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/ovsdb.h"

static struct ovsdb *c;

static int peer_client_fd(void) { return ovsdb_fd(c); }
static bool peer_client_want_write(void) { return ovsdb_want_write(c); }
static int peer_client_io(void) { return ovsdb_io(c, NULL); }

#include "tests/peer.h"

struct rec {
	int calls;
	int err;
	json_t *result;
	char msg[512];
	int seq;
};

static int seq;
static struct rec rec[4];
static json_t *updates;         /* [[monitor id, table-updates], ...] */
static bool free_in_cb;

static void on_reply(void *opaque, json_t *result, int err, const char *errmsg)
{
	struct rec *r = opaque;

	r->calls++;
	r->err = err;
	json_decref(r->result);
	r->result = json_incref(result);
	snprintf(r->msg, sizeof(r->msg), "%s", errmsg ? errmsg : "");
	r->seq = ++seq;
	if (free_in_cb) {
		ovsdb_free(c);
		c = NULL;
	}
}

static void on_update(void *opaque, json_t *id, json_t *ups)
{
	(void)opaque;
	json_array_append_new(updates, json_pack("[O,O]", id, ups));
}

static void setup(void)
{
	struct ovsdb_callbacks cb = { .update = on_update };

	c = ovsdb_new(peer_open(), &cb);
	cr_assert_not_null(c);
	updates = json_array();
}

static void teardown(void)
{
	ovsdb_free(c);
	peer_close();
	for (size_t i = 0; i < sizeof(rec) / sizeof(rec[0]); i++)
		json_decref(rec[i].result);
	json_decref(updates);
}

TestSuite(ovsdb, .init = setup, .fini = teardown, .timeout = 20);

static json_int_t req_id(json_t *req)
{
	cr_assert(json_is_integer(json_object_get(req, "id")), "request without an integer id");
	return json_integer_value(json_object_get(req, "id"));
}

static json_t *ops_of(const char *text)
{
	json_error_t jerr;
	json_t *ops = json_loads(text, 0, &jerr);

	cr_assert_not_null(ops, "%s", jerr.text);
	return ops;
}

Test(ovsdb, transact_request_and_success)
{
	json_t *req, *want;

	cr_assert_eq(ovsdb_transact(c, "Open_vSwitch", ops_of(
		"[{\"op\":\"insert\",\"table\":\"Bridge\",\"row\":{\"name\":\"br0\"},\"uuid-name\":\"b\"}]"),
		on_reply, &rec[0]), 0);
	req = peer_recv();
	want = json_pack("{s:s, s:[s,{s:s,s:s,s:{s:s},s:s}], s:I}", "method", "transact", "params",
			 "Open_vSwitch", "op", "insert", "table", "Bridge", "row", "name", "br0",
			 "uuid-name", "b", "id", req_id(req));
	cr_assert(json_equal(req, want), "request: %s", json_dumps(req, JSON_COMPACT));
	json_decref(want);
	peer_send("{\"id\":%lld,\"result\":[{\"uuid\":[\"uuid\",\"6a2eab19-c213-4cf3-93cd-fd9de57982fd\"]}],"
		  "\"error\":null}", (long long)req_id(req));
	json_decref(req);
	PUMP_UNTIL(rec[0].calls);
	cr_assert_eq(rec[0].err, 0);
	cr_assert_str_eq(rec[0].msg, "");
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(
		json_array_get(rec[0].result, 0), "uuid"), 0)), "uuid");
}

Test(ovsdb, failed_operation_is_named_in_one_line)
{
	json_t *req;

	cr_assert_eq(ovsdb_transact(c, "Open_vSwitch", ops_of(
		"[{\"op\":\"wait\",\"table\":\"Bridge\"},{\"op\":\"insert\",\"table\":\"Port\"}]"),
		on_reply, &rec[0]), 0);
	req = peer_recv();
	peer_send("{\"id\":%lld,\"result\":[{},{\"error\":\"constraint violation\",\"details\":"
		  "\"Transaction causes multiple rows\\nin \\\"Port\\\" table\"}],\"error\":null}",
		  (long long)req_id(req));
	json_decref(req);
	PUMP_UNTIL(rec[0].calls);
	cr_assert_eq(rec[0].err, -EIO);
	cr_assert_str_eq(rec[0].msg, "constraint violation: Transaction causes multiple rows in "
			 "\"Port\" table (op 2, insert Port)");
	/* The results still come, to find which operation failed. */
	cr_assert_eq(json_array_size(rec[0].result), 2);
}

Test(ovsdb, commit_error_and_rpc_error)
{
	json_t *r1, *r2;

	cr_assert_eq(ovsdb_transact(c, "Open_vSwitch", ops_of("[{\"op\":\"delete\",\"table\":\"Port\"}]"),
				    on_reply, &rec[0]), 0);
	cr_assert_eq(ovsdb_transact(c, "Nope", json_array(), on_reply, &rec[1]), 0);
	r1 = peer_recv();
	r2 = peer_recv();
	/* One extra result past the operations: the commit failed. */
	peer_send("{\"id\":%lld,\"result\":[{\"count\":1},{\"error\":\"referential integrity violation\","
		  "\"details\":\"cannot delete Port row\"}],\"error\":null}"
		  "{\"id\":%lld,\"result\":null,\"error\":{\"error\":\"unknown database\","
		  "\"details\":\"Nope\"}}", (long long)req_id(r1), (long long)req_id(r2));
	json_decref(r1);
	json_decref(r2);
	PUMP_UNTIL(rec[1].calls);
	cr_assert_eq(rec[0].err, -EIO);
	cr_assert_str_eq(rec[0].msg, "referential integrity violation: cannot delete Port row (at commit)");
	cr_assert_eq(rec[1].err, -EIO);
	cr_assert_null(rec[1].result);
	cr_assert_str_eq(rec[1].msg, "unknown database: Nope");
}

Test(ovsdb, echo_is_answered)
{
	json_t *reply, *want;

	peer_send("{\"method\":\"echo\",\"params\":[\"ping\",7],\"id\":\"echo\"}");
	reply = NULL;
	for (long long dl = now_ms() + TIMEOUT_MS; !reply; ) {
		struct pollfd pf = { peer_fd, POLLIN, 0 };

		cr_assert_lt(now_ms(), dl);
		client_round(10);
		cr_assert_eq(io_rc, 0);
		if (poll(&pf, 1, 0) > 0)
			reply = peer_recv();
	}
	want = json_pack("{s:[s,i], s:n, s:s}", "result", "ping", 7, "error", "id", "echo");
	cr_assert(json_equal(reply, want), "reply: %s", json_dumps(reply, JSON_COMPACT));
	json_decref(reply);
	json_decref(want);
	/* Unknown requests get an error, not silence. */
	peer_send("{\"method\":\"lock\",\"params\":[\"x\"],\"id\":5}");
	client_round(TIMEOUT_MS);
	reply = peer_recv();
	cr_assert(json_is_object(json_object_get(reply, "error")));
	cr_assert_eq(json_integer_value(json_object_get(reply, "id")), 5);
	json_decref(reply);
}

Test(ovsdb, monitor_and_update_notifications)
{
	json_t *req;

	cr_assert_eq(ovsdb_monitor(c, "Open_vSwitch", json_string("m1"),
				   json_pack("{s:{s:[s,s]}}", "Interface", "columns", "name", "ofport"),
				   on_reply, &rec[0]), 0);
	req = peer_recv();
	cr_assert_str_eq(json_string_value(json_object_get(req, "method")), "monitor");
	cr_assert_str_eq(json_string_value(json_array_get(json_object_get(req, "params"), 1)), "m1");
	peer_send("{\"id\":%lld,\"result\":{\"Interface\":{\"u1\":{\"new\":{\"name\":\"t0\","
		  "\"ofport\":[\"set\",[]]}}}},\"error\":null}", (long long)req_id(req));
	json_decref(req);
	PUMP_UNTIL(rec[0].calls);
	cr_assert_eq(rec[0].err, 0);
	cr_assert_not_null(json_object_get(json_object_get(rec[0].result, "Interface"), "u1"));
	/* Two notifications in one write, braces inside a string. */
	peer_send("{\"id\":null,\"method\":\"update\",\"params\":[\"m1\",{\"Interface\":{\"u1\":"
		  "{\"new\":{\"name\":\"t0\",\"ofport\":3},\"old\":{\"ofport\":[\"set\",[]]}}}}]}"
		  "{\"id\":null,\"method\":\"update\",\"params\":[\"m1\",{\"Interface\":{\"u2\":"
		  "{\"new\":{\"name\":\"}{\\\"]\",\"ofport\":-1}}}}]}");
	PUMP_UNTIL(json_array_size(updates) == 2);
	cr_assert_str_eq(json_string_value(json_array_get(json_array_get(updates, 0), 0)), "m1");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_object_get(json_object_get(
		json_array_get(json_array_get(updates, 0), 1), "Interface"), "u1"), "new"), "ofport")), 3);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(json_object_get(json_object_get(
		json_array_get(json_array_get(updates, 1), 1), "Interface"), "u2"), "new"), "name")), "}{\"]");
	/* Other notifications are not ours and change nothing. */
	peer_send("{\"id\":null,\"method\":\"locked\",\"params\":[\"x\"]}");
	client_round(100);
	cr_assert_eq(io_rc, 0);
	cr_assert_eq(json_array_size(updates), 2);
}

Test(ovsdb, replies_out_of_order_and_in_pieces)
{
	json_t *r[3];
	char *reply;
	int len;

	for (int i = 0; i < 3; i++)
		cr_assert_eq(ovsdb_transact(c, "Open_vSwitch", json_pack("[{s:s}]", "op", "comment"),
					    on_reply, &rec[i]), 0);
	for (int i = 0; i < 3; i++)
		r[i] = peer_recv();
	cr_assert_neq(req_id(r[0]), req_id(r[1]));
	peer_send("{\"id\":%lld,\"result\":[{\"n\":3}],\"error\":null}", (long long)req_id(r[2]));
	PUMP_UNTIL(rec[2].calls);
	cr_assert_eq(rec[0].calls + rec[1].calls, 0);
	/* The first reply byte by byte, the second right behind it. */
	len = asprintf(&reply, " {\"id\":%lld,\"error\":null,\"result\":[{\"n\":1}]}\n"
		       "{\"id\":%lld,\"error\":null,\"result\":[{\"n\":2}]}",
		       (long long)req_id(r[0]), (long long)req_id(r[1]));
	for (int i = 0; i < len; i++) {
		peer_write(reply + i, 1);
		client_round(0);
		cr_assert_eq(io_rc, 0);
	}
	free(reply);
	PUMP_UNTIL(rec[1].calls);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(rec[i].err, 0);
		cr_assert_eq(json_integer_value(json_object_get(json_array_get(rec[i].result, 0), "n")),
			     i + 1);
		json_decref(r[i]);
	}
	cr_assert(rec[2].seq < rec[0].seq && rec[0].seq < rec[1].seq);
}

Test(ovsdb, peer_closing_fails_pending)
{
	json_t *req;

	cr_assert_eq(ovsdb_transact(c, "Open_vSwitch", json_array(), on_reply, &rec[0]), 0);
	req = peer_recv();
	json_decref(req);
	close(peer_fd);
	peer_fd = -1;
	PUMP_UNTIL(rec[0].calls);
	cr_assert_eq(io_rc, -EPIPE);
	cr_assert_eq(rec[0].err, -EPIPE);
	cr_assert_null(rec[0].result);
	cr_assert_str_eq(rec[0].msg, "OVSDB connection: closed by the server");
	struct err e = { 0 };
	cr_assert_eq(ovsdb_io(c, &e), -EPIPE);
	cr_assert_str_eq(e.msg, "OVSDB connection: closed by the server");
	cr_assert_eq(ovsdb_transact(c, "Open_vSwitch", json_array(), on_reply, &rec[1]), -EPIPE);
	cr_assert_eq(rec[1].calls, 0);
}

static void expect_proto(const char *junk)
{
	cr_assert_eq(ovsdb_transact(c, "Open_vSwitch", json_array(), on_reply, &rec[0]), 0);
	json_decref(peer_recv());
	peer_send("%s", junk);
	PUMP_UNTIL(rec[0].calls);
	cr_assert_eq(io_rc, -EPROTO, "%s: io %d", junk, io_rc);
	cr_assert_eq(rec[0].err, -EPROTO);
	cr_assert_str_eq(rec[0].msg, "OVSDB connection: malformed message from the server");
}

Test(ovsdb, malformed_json) { expect_proto("{\"id\":1,\"result\":[}]"); }
Test(ovsdb, scalar_at_top_level) { expect_proto("42 "); }
Test(ovsdb, stray_closing_bracket) { expect_proto("}"); }
Test(ovsdb, reply_nobody_asked_for) { expect_proto("{\"id\":99,\"result\":[],\"error\":null}"); }
Test(ovsdb, array_message) { expect_proto("[1,2]"); }

Test(ovsdb, free_from_a_callback_and_cancel)
{
	json_t *r1;

	cr_assert_eq(ovsdb_transact(c, "Open_vSwitch", json_array(), on_reply, &rec[0]), 0);
	cr_assert_eq(ovsdb_transact(c, "Open_vSwitch", json_array(), on_reply, &rec[1]), 0);
	r1 = peer_recv();
	free_in_cb = true;
	peer_send("{\"id\":%lld,\"result\":[],\"error\":null}", (long long)req_id(r1));
	json_decref(r1);
	struct pollfd pf = { ovsdb_fd(c), POLLIN, 0 };
	cr_assert_gt(poll(&pf, 1, TIMEOUT_MS), 0);
	cr_assert_eq(ovsdb_io(c, NULL), -ECANCELED);
	cr_assert_null(c);
	cr_assert_eq(rec[0].calls, 1);
	cr_assert_eq(rec[1].calls, 1);
	cr_assert_eq(rec[1].err, -ECANCELED);
}

Test(ovsdb, bad_arguments)
{
	cr_assert_eq(ovsdb_transact(c, "Open_vSwitch", json_object(), on_reply, &rec[0]), -EINVAL);
	cr_assert_eq(ovsdb_call(c, "echo", json_string("x"), on_reply, &rec[0]), -EINVAL);
	cr_assert_eq(ovsdb_monitor(c, "Open_vSwitch", json_string("m"), json_array(), on_reply,
				   &rec[0]), -EINVAL);
	cr_assert_eq(rec[0].calls, 0);
}

Test(ovsdb, connect_to_nothing)
{
	struct ovsdb *d;

	cr_assert_eq(ovsdb_connect("/nonexistent/db.sock", NULL, &d), -ENOENT);
	cr_assert_null(d);
}

/* A forked peer that answers the first request after delay_ms, then a
 * second time (late) when asked to. */
static void fork_peer(int delay_ms, bool answer)
{
	if (peer_fork())
		return;
	json_t *req = peer_recv();

	usleep(delay_ms * 1000);
	if (answer)
		peer_send("{\"method\":\"echo\",\"params\":[],\"id\":\"echo\"}"
			  "{\"id\":%lld,\"result\":[{\"rows\":[]}],\"error\":null}", (long long)req_id(req));
	pause();
	_exit(0);
}

Test(ovsdb, call_sync_waits_for_its_reply)
{
	json_t *res = NULL;

	fork_peer(50, true);
	cr_assert_eq(ovsdb_transact_sync(c, "Open_vSwitch", json_pack("[{s:s}]", "op", "comment"),
					 TIMEOUT_MS, &res, NULL), 0);
	cr_assert_eq(json_array_size(res), 1);
	json_decref(res);
	/* The echo that came with it was answered meanwhile. */
	json_t *reply = peer_recv();
	cr_assert_str_eq(json_string_value(json_object_get(reply, "id")), "echo");
	json_decref(reply);
}

Test(ovsdb, call_sync_times_out_and_drops_the_late_reply)
{
	json_t *res = (json_t *)1;
	struct err e = { 0 };
	json_t *req;

	fork_peer(0, false);
	cr_assert_eq(ovsdb_call_sync(c, "list_dbs", json_array(), 100, &res, &e), -ETIMEDOUT);
	cr_assert_null(res);
	cr_assert_eq(e.code, ETIMEDOUT);
	cr_assert_str_eq(e.msg, "list_dbs: no reply from the OVSDB server within 100 ms");
	/* The child took the request; the late reply comes from here. */
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	child = -1;
	peer_send("{\"id\":1,\"result\":[\"Open_vSwitch\"],\"error\":null}");
	client_round(TIMEOUT_MS);
	cr_assert_eq(io_rc, 0);
	/* And the connection still works. */
	cr_assert_eq(ovsdb_transact(c, "Open_vSwitch", json_array(), on_reply, &rec[0]), 0);
	req = peer_recv();
	cr_assert_eq(req_id(req), 2);
	peer_send("{\"id\":2,\"result\":[],\"error\":null}");
	json_decref(req);
	PUMP_UNTIL(rec[0].calls);
	cr_assert_eq(rec[0].err, 0);
}

Test(ovsdb, call_sync_reports_a_failed_transaction)
{
	json_t *res = NULL;
	struct err e = { 0 };

	/* Answered before the call even asks: it is read after the request. */
	peer_send("{\"id\":1,\"result\":[{\"error\":\"timed out\",\"details\":\"\\\"where\\\" clause "
		  "test failed\"}],\"error\":null}");
	cr_assert_eq(ovsdb_transact_sync(c, "Open_vSwitch", json_pack("[{s:s,s:s}]", "op", "wait",
					 "table", "Bridge"), TIMEOUT_MS, &res, &e), -EIO);
	cr_assert_str_eq(e.msg, "timed out: \"where\" clause test failed (op 1, wait Bridge)");
	cr_assert_eq(json_array_size(res), 1);
	json_decref(res);
}

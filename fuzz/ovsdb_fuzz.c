/* ovsdb_fuzz.c - libFuzzer target for the OVSDB client (net/ovsdb.c) and
 * the JSON-RPC reader under it (net/jsonrpc.c): the input is what
 * ovsdb-server sends (replies, echo requests, update notifications,
 * garbage; JSON values back to back with no delimiter, split anywhere),
 * interleaved with requests the fabric makes.
 *
 *   make fuzz-build && build/fuzz/ovsdb_fuzz -max_total_time=300 build/fuzz/corpus/ovsdb fuzz/corpus/ovsdb
 *
 * The client talks over a socketpair whose other end the harness plays;
 * ovsdb_io() is called after every step, as the loop would.  The input is
 * a list of operations, one byte each, most followed by a length byte and
 * that many bytes:
 *   0  send the bytes as they are
 *   1  answer a request the client sent (the length picks which) with
 *      {"id": ID, "result": BYTES, "error": null} (BYTES when JSON, else [])
 *   2  answer it with {"id": ID, "result": null, "error": BYTES-as-string}
 *   3  {"method": "update", "params": [BYTES-as-JSON, {...}], "id": null}
 *   4  {"method": "echo", "params": [], "id": "echo"}
 *   5  ovsdb_call, ovsdb_transact or ovsdb_monitor
 *   6  shut down the harness's write side (the server went away)
 * Checked: every accepted request is answered exactly once, never from the
 * call that queued it: result and errmsg as ovsdb.h says for each err; an
 * echo is answered; once ovsdb_io fails it keeps returning that error with
 * a message.  Also, every message the client wrote is one JSON object.
 */
#include "net/ovsdb.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "ovsdb_fuzz: %s\n", #c); abort(); } } while (0)
#define MAX_IDS 256

static struct ovsdb *db;
static int peer = -1, failed;
static long accepted, answered, echoes, echo_replies;
static int in_call;
static json_t *ids[MAX_IDS];    /* ids of requests the client sent */
static int nids;
static char out[1 << 20];       /* what the client wrote, not yet parsed */
static size_t out_len;

static void on_reply(void *opaque, json_t *result, int err, const char *errmsg)
{
	CHECK(!in_call);
	if (err == 0)
		CHECK(!errmsg);
	else
		CHECK(err < 0 && errmsg && errmsg[0] && !strchr(errmsg, '\n'));
	if (err != 0 && err != -EIO)
		CHECK(!result);
	answered++;
	if (opaque && !err && ovsdb_call(db, "list_dbs", json_array(), on_reply, NULL) == 0)
		accepted++;
}

static void on_update(void *opaque, json_t *monitor_id, json_t *updates)
{
	(void)opaque, (void)monitor_id, (void)updates;
}

/* Split what the client wrote into JSON values: each must be an object,
 * a request (with our id) or an echo's reply. */
static void parse_out(void)
{
	size_t off = 0;

	while (off < out_len) {
		json_error_t e;
		json_t *m = json_loadb(out + off, out_len - off, JSON_DISABLE_EOF_CHECK, &e);

		if (!m)
			break; /* incomplete, the rest comes later */
		CHECK(json_is_object(m));
		if (json_is_string(json_object_get(m, "method"))) {
			if (nids < MAX_IDS)
				ids[nids++] = json_incref(json_object_get(m, "id"));
		} else {
			CHECK(json_object_get(m, "result"));
			echo_replies++;
		}
		json_decref(m);
		off += (size_t)e.position;
	}
	memmove(out, out + off, out_len - off);
	out_len -= off;
}

static void drain_peer(void)
{
	ssize_t n;

	while (out_len < sizeof(out) && (n = read(peer, out + out_len, sizeof(out) - out_len)) > 0) {
		out_len += (size_t)n;
		parse_out();
	}
	CHECK(out_len < sizeof(out));
}

static void io(void)
{
	for (int i = 0; i < 64 && db; i++) {
		struct err e = { 0 };
		int r;

		drain_peer();
		r = ovsdb_io(db, &e);
		if (r < 0) {
			CHECK(r != -ECANCELED && e.msg[0]);
			CHECK(!failed || failed == r);
			failed = r;
			CHECK(ovsdb_io(db, &e) == r);
			break;
		}
		if (!ovsdb_want_write(db))
			break;
	}
	drain_peer();
}

static void peer_write(const void *p, size_t n)
{
	const char *s = p;

	for (int tries = 0; n && tries < 64; tries++) {
		ssize_t w = send(peer, s, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w > 0) {
			s += w;
			n -= (size_t)w;
		} else if (w < 0 && errno != EAGAIN) {
			break;
		}
		io();
	}
	io();
}

static void peer_json(json_t *msg)
{
	char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;

	if (s)
		peer_write(s, strlen(s));
	free(s);
	json_decref(msg);
}

/* The id of a request the client sent (a new reference), picked by k and
 * forgotten; JSON null when there is none. */
static json_t *take_id(size_t k)
{
	json_t *id;

	if (!nids)
		return json_null();
	k %= (size_t)nids;
	id = ids[k];
	ids[k] = ids[--nids];
	return id ? id : json_null();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ovsdb_callbacks cbs = { .update = on_update };
	bool shut = false;
	int sv[2];
	size_t i = 0;

	signal(SIGPIPE, SIG_IGN);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	peer = sv[1];
	CHECK(fcntl(peer, F_SETFL, O_NONBLOCK) == 0);
	db = ovsdb_new(sv[0], &cbs);
	CHECK(db);
	accepted = answered = echoes = echo_replies = 0;
	failed = nids = 0;
	out_len = 0;

	while (i < size) {
		uint8_t op = data[i++] % 7;
		size_t len = i < size ? data[i++] : 0;
		const char *arg = (const char *)data + i;
		json_t *j;
		int r = -1;

		if (len > size - i)
			len = size - i;
		switch (op) {
		case 0:
			i += len;
			peer_write(arg, len);
			break;
		case 1:
			i += len;
			j = json_loadb(arg, len, JSON_DECODE_ANY, NULL);
			peer_json(json_pack("{s:o, s:o, s:n}", "id", take_id(len), "result",
					    j ? j : json_array(), "error"));
			break;
		case 2:
			i += len;
			peer_json(json_pack("{s:o, s:n, s:s%}", "id", take_id(len), "result", "error", arg, len));
			break;
		case 3:
			i += len;
			j = json_loadb(arg, len, JSON_DECODE_ANY, NULL);
			peer_json(json_pack("{s:s, s:[o, {s:{}}], s:n}", "method", "update", "params",
					    j ? j : json_null(), "Bridge", "id"));
			break;
		case 4:
			if (!failed && !shut)
				echoes++;
			peer_json(json_pack("{s:s, s:[], s:s}", "method", "echo", "params", "id", "echo"));
			break;
		case 5:
			in_call++;
			if (len % 3 == 0)
				r = ovsdb_call(db, "list_dbs", json_array(), on_reply, len & 8 ? &accepted : NULL);
			else if (len % 3 == 1)
				r = ovsdb_transact(db, "Open_vSwitch",
						   json_pack("[{s:s, s:s, s:[]}]", "op", "select", "table",
							     "Bridge", "where"), on_reply, NULL);
			else
				r = ovsdb_monitor(db, "Open_vSwitch", json_string("m"),
						  json_pack("{s:{s:[s]}}", "Bridge", "columns", "name"),
						  on_reply, NULL);
			in_call--;
			CHECK(r == 0 || (r < 0 && (!failed || r == failed)));
			break;
		case 6:
			if (!shut)
				shutdown(peer, SHUT_WR);
			shut = true;
			break;
		}
		if (r == 0)
			accepted++;
		io();
	}
	ovsdb_free(db);
	db = NULL;
	CHECK(accepted == answered);
	while (nids)
		json_decref(ids[--nids]);
	close(peer);
	peer = -1;
	return 0;
}

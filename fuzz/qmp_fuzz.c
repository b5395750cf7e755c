/* qmp_fuzz.c - libFuzzer target for the QMP client (qmp/qmp.c): the input
 * is what a QEMU monitor sends (greeting, replies, events, garbage, in any
 * order and in any pieces), interleaved with what the supervisor does.
 *
 *   make fuzz-build && build/fuzz/qmp_fuzz -max_total_time=300 build/fuzz/corpus/qmp fuzz/corpus/qmp
 *
 * The client talks over a socketpair whose other end the harness plays;
 * qmp_io() is called after every step, as the loop would when the fd is
 * readable.  The input is a list of operations, one byte each, most
 * followed by a length byte and that many bytes:
 *   0  send the bytes as they are
 *   1  send a greeting {"QMP": {...}}
 *   2  answer a command the client sent (the length picks which, by id)
 *      with {"return": BYTES, "id": ID} (BYTES when they are JSON, else {})
 *   3  answer it with {"error": {"class": ..., "desc": BYTES}, "id": ID}
 *   4  an error with no id (what QEMU says to a request it cannot parse)
 *   5  an event named BYTES
 *   6  qmp_execute of one of a few commands
 *   7  qmp_send_raw of the bytes, when they parse (the user's "id" kept)
 *   8  shut down the harness's write side (the peer closed)
 * Checked: every accepted command is answered exactly once, never from the
 * call that queued it, with a reply object or an error; a qmp_send_raw
 * reply carries the user's id back (none if they gave none); ready agrees
 * with qmp_is_ready; once qmp_io fails it keeps returning the same error.
 */
#include "qmp/qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "qmp_fuzz: %s\n", #c); abort(); } } while (0)
#define MAX_IDS 256

static struct qmp *q;
static int peer = -1, failed;
static long accepted, answered;
static int in_call, readies;
static json_int_t ids[MAX_IDS]; /* ids the client sent, not yet answered by us */
static int nids;
static char line[1 << 16];
static size_t line_len;
static bool line_long;

/* A qmp_send_raw's opaque: the id the user gave, or NULL. */
struct raw {
	json_t *user_id;
};

static void on_ready(void *opaque)
{
	(void)opaque;
	CHECK(qmp_is_ready(q));
	readies++;
}

static void on_event(void *opaque, const char *event, json_t *data, json_t *msg)
{
	(void)opaque, (void)data;
	CHECK(event && json_is_object(msg));
}

static void check_reply(json_t *reply, int err)
{
	CHECK(!in_call);
	CHECK(err ? !reply && err < 0 : json_is_object(reply));
	answered++;
}

static void on_reply(void *opaque, json_t *reply, int err)
{
	check_reply(reply, err);
	/* Some queue another, as the supervisor's chains of commands do. */
	if (opaque && !err && qmp_execute(q, "query-status", NULL, on_reply, NULL) == 0)
		accepted++;
}

static void on_raw(void *opaque, json_t *reply, int err)
{
	struct raw *r = opaque;

	check_reply(reply, err);
	if (reply) {
		json_t *id = json_object_get(reply, "id");

		CHECK(r->user_id ? id && json_equal(id, r->user_id) : !id);
	}
	json_decref(r->user_id);
	free(r);
}

/* A line the client wrote: remember its id. */
static void client_line(void)
{
	json_t *j = line_long ? NULL : json_loadb(line, line_len, 0, NULL);
	json_t *id = json_object_get(j, "id");

	if (json_is_integer(id) && nids < MAX_IDS)
		ids[nids++] = json_integer_value(id);
	json_decref(j);
	line_len = 0;
	line_long = false;
}

static void drain_peer(void)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(peer, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n')
				client_line();
			else if (line_len < sizeof(line))
				line[line_len++] = buf[i];
			else
				line_long = true;
		}
	}
}

/* What the loop does when the fd is readable (or writable). */
static void io(void)
{
	for (int i = 0; i < 64 && q; i++) {
		int r;

		drain_peer();
		r = qmp_io(q);
		if (r < 0) {
			CHECK(r != -ECANCELED);
			CHECK(!failed || failed == r);
			failed = r;
			CHECK(qmp_io(q) == r);
			break;
		}
		if (!qmp_want_write(q))
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

	if (s) {
		peer_write(s, strlen(s));
		peer_write("\n", 1);
	}
	free(s);
	json_decref(msg);
}

/* The id of a command the client sent, picked by k and forgotten. */
static json_int_t take_id(size_t k)
{
	json_int_t id;

	if (!nids)
		return -1;
	k %= (size_t)nids;
	id = ids[k];
	ids[k] = ids[--nids];
	return id;
}

static const char *const cmds[] = {
	"query-status", "stop", "cont", "system_powerdown", "query-block", "set_link",
	"human-monitor-command", "quit",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct qmp_callbacks cbs = { .event = on_event, .ready = on_ready };
	bool shut = false;
	int sv[2];
	size_t i = 0;

	signal(SIGPIPE, SIG_IGN);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	peer = sv[1];
	CHECK(fcntl(peer, F_SETFL, O_NONBLOCK) == 0);
	q = qmp_new(sv[0], &cbs);
	CHECK(q);
	accepted = answered = 0;
	failed = readies = nids = 0;
	line_len = 0;
	line_long = false;

	while (i < size) {
		uint8_t op = data[i++] % 9;
		size_t len = i < size ? data[i++] : 0;
		const char *arg = (const char *)data + i;
		json_t *j, *cmd;
		struct raw *raw;
		int r = -1;

		if (len > size - i)
			len = size - i;
		switch (op) {
		case 0:
			i += len;
			peer_write(arg, len);
			break;
		case 1:
			peer_json(json_pack("{s:{s:{s:{s:i,s:i,s:i},s:s},s:[]}}", "QMP", "version", "qemu",
					    "major", 7, "minor", 2, "micro", 0, "package", "", "capabilities"));
			break;
		case 2:
			i += len;
			j = json_loadb(arg, len, JSON_DECODE_ANY, NULL);
			peer_json(json_pack("{s:o, s:I}", "return", j ? j : json_object(), "id",
					    (json_int_t)take_id(len)));
			break;
		case 3:
			i += len;
			peer_json(json_pack("{s:{s:s, s:s%}, s:I}", "error", "class", "GenericError", "desc",
					    arg, len, "id", (json_int_t)take_id(len)));
			break;
		case 4:
			peer_json(json_pack("{s:{s:s, s:s}}", "error", "class", "GenericError", "desc",
					    "JSON parse error, too many nested containers"));
			break;
		case 5:
			i += len;
			peer_json(json_pack("{s:s%, s:{s:b}, s:{s:i, s:i}}", "event", arg, len, "data",
					    "guest", 1, "timestamp", "seconds", 1, "microseconds", 2));
			break;
		case 6:
			in_call++;
			r = qmp_execute(q, cmds[len % 8], len & 8 ? json_pack("{s:s}", "device", "d") : NULL,
					on_reply, len & 16 ? &accepted : NULL);
			in_call--;
			CHECK(r == 0 || (r < 0 && (!failed || r == failed)));
			break;
		case 7:
			i += len;
			cmd = json_loadb(arg, len, 0, NULL);
			if (!cmd)
				break;
			CHECK((raw = calloc(1, sizeof(*raw))));
			raw->user_id = json_incref(json_object_get(cmd, "id"));
			in_call++;
			r = qmp_send_raw(q, cmd, on_raw, raw);
			in_call--;
			if (r < 0) {
				CHECK(r == -EINVAL || r == -E2BIG || !failed || r == failed);
				json_decref(raw->user_id);
				free(raw);
			}
			break;
		case 8:
			if (!shut)
				shutdown(peer, SHUT_WR);
			shut = true;
			break;
		}
		if (r == 0)
			accepted++;
		io();
	}
	CHECK(readies <= 1);
	qmp_free(q);
	q = NULL;
	CHECK(accepted == answered);
	close(peer);
	peer = -1;
	return 0;
}

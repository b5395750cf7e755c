/* jsonrpc_fuzz.c - libFuzzer target for the JSON-RPC stream reader under
 * the OVSDB client (net/jsonrpc.c): messages are framed by counting
 * brackets outside strings, with no delimiter between them, and the input
 * decides where the stream is cut.
 *
 *   make fuzz-build && build/fuzz/jsonrpc_fuzz -max_total_time=300 build/fuzz/corpus/jsonrpc fuzz/corpus/jsonrpc
 *
 * Two jsonrpc ends over a socketpair: the harness's (the server) and the
 * one under test.  The input is a list of operations, one byte each, most
 * followed by a length byte and that many bytes:
 *   0  write the bytes raw (garbage, a message cut anywhere)
 *   1  jsonrpc_send the bytes as JSON, when they parse to an object or array
 *   2  write the bytes one at a time, reading after each
 *   3  shut down the server's write side
 * After each step the reader under test takes what is there.  Checked:
 * each message it returns is an object or an array; while only whole
 * messages were sent, it returns exactly those, equal and in order; after
 * the server shut down, everything sent was returned before -EPIPE (when
 * only whole messages were sent); an error is one of jsonrpc.h's.
 */
#include "net/jsonrpc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "jsonrpc_fuzz: %s\n", #c); abort(); } } while (0)
#define MAX_SENT 256

static struct jsonrpc *rd, *srv;
static json_t *sent[MAX_SENT];  /* sent whole, not yet read back */
static int nsent, failed;
static bool clean;              /* only whole messages so far */

/* Read what is there; end: the server has shut down and all is in. */
static void take(bool end)
{
	for (int i = 0; i < 4096 && !failed; i++) {
		json_t *m = NULL;
		int r = jsonrpc_recv(rd, &m);

		if (r == 0) {
			CHECK(!end);
			return;
		}
		if (r < 0) {
			CHECK(!m);
			CHECK(r == -EPIPE || r == -EPROTO || r == -EMSGSIZE || r == -ENOMEM);
			if (clean) {
				CHECK(r == -EPIPE && nsent == 0);
			}
			failed = r;
			return;
		}
		CHECK(r == 1 && (json_is_object(m) || json_is_array(m)));
		if (clean) {
			CHECK(nsent > 0 && json_equal(m, sent[0]));
			json_decref(sent[0]);
			memmove(sent, sent + 1, (size_t)--nsent * sizeof(sent[0]));
		}
		json_decref(m);
	}
}

static void raw(const uint8_t *p, size_t n, size_t step)
{
	while (n) {
		size_t k = n < step ? n : step;
		ssize_t w = send(jsonrpc_fd(srv), p, k, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
		take(false);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool shut = false;
	int sv[2];
	size_t i = 0;

	signal(SIGPIPE, SIG_IGN);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK((rd = jsonrpc_new(sv[0])));
	CHECK((srv = jsonrpc_new(sv[1])));
	nsent = failed = 0;
	clean = true;
	while (i < size && !shut) {
		uint8_t op = data[i++] % 4;
		size_t len = i < size ? data[i++] : 0;
		const uint8_t *arg = data + i;
		json_t *j;

		if (len > size - i)
			len = size - i;
		i += op == 3 ? 0 : len;
		switch (op) {
		case 0:
		case 2:
			/* Whitespace alone keeps the stream whole. */
			for (size_t k = 0; k < len && clean; k++)
				if (!strchr(" \t\r\n", arg[k]) || !arg[k])
					clean = false;
			raw(arg, len, op == 2 ? 1 : len);
			break;
		case 1:
			j = json_loadb((const char *)arg, len, 0, NULL);
			if (!j)
				break;
			if (nsent < MAX_SENT)
				sent[nsent++] = json_incref(j);
			else
				clean = false;
			if (jsonrpc_send(srv, j) < 0)
				clean = false;
			for (int k = 0; k < 64 && jsonrpc_want_write(srv); k++) {
				take(false);
				if (jsonrpc_flush(srv) < 0)
					break;
			}
			if (jsonrpc_want_write(srv))
				clean = false;
			break;
		case 3:
			shutdown(jsonrpc_fd(srv), SHUT_WR);
			shut = true;
			break;
		}
		take(shut);
	}
	if (shut && clean)
		CHECK(failed == -EPIPE && nsent == 0);
	jsonrpc_free(rd);
	jsonrpc_free(srv);
	while (nsent)
		json_decref(sent[--nsent]);
	return 0;
}

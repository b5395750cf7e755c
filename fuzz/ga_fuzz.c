/* ga_fuzz.c - libFuzzer target for the guest-agent client's reader
 * (qmp/ga.c): the input is what an agent sends, interleaved with what the
 * owner does (requests, the port closing and opening).
 *
 *   make fuzz && build/fuzz/ga_fuzz -max_total_time=300 build/fuzz/corpus fuzz/corpus/ga
 *
 * The client runs as in the supervisor, on the one loop, over a socketpair
 * whose other end the harness plays.  The input is a list of operations,
 * one byte each, most followed by a length byte and that many bytes:
 *   0  send the bytes as they are
 *   1  answer the last sync the client sent ("\xff{"return": ID}\n"), so
 *      the fuzzer gets past the sync it cannot guess the id of
 *   2  send {"return": BYTES}\n (a reply around fuzzed JSON)
 *   3  ga_execute of one of a few commands (some get no reply)
 *   4  ga_send_raw of the bytes, when they parse
 *   5  ga_set_open(false), 6 ga_set_open(true)
 *   7  a request with a 1 ms timeout, and wait for it (twice per input at most)
 * Checked on the way: every accepted request is answered exactly once, never
 * from inside the call that queued it, with a reply object or an error; the
 * up callback agrees with ga_is_up.  ASan and UBSan do the rest.
 */
#include "base/loop.h"
#include "qmp/ga.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct ga *g;
static int peer = -1;
static long accepted, answered;
static int in_call;             /* inside ga_execute / ga_send_raw */
static long long sync_id = -1;  /* the last sync the client sent */
static char line[4096];         /* what the client wrote since its last '\n' or 0xFF */
static size_t line_len;
static bool line_long;

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "ga_fuzz: %s\n", #c); abort(); } } while (0)

static void on_up(void *opaque, bool up)
{
	(void)opaque;
	CHECK(up == ga_is_up(g));
}

static void on_reply(void *opaque, json_t *reply, int err)
{
	CHECK(!in_call);
	CHECK(err ? !reply : json_is_object(reply));
	CHECK(err == 0 || err == -ENOTCONN || err == -ETIMEDOUT || err == -ECANCELED ||
	      err == -EPROTO || err == -ENOMEM);
	answered++;
	/* Half of them queue another, as exec's polling does. */
	if (opaque && !err) {
		in_call++;
		if (ga_execute(g, "guest-ping", NULL, 60000, on_reply, NULL) == 0)
			accepted++;
		in_call--;
	}
}

/* What the client wrote: remember the id of the last sync. */
static void client_line(void)
{
	static const char pre[] = "{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":";

	if (!line_long && line_len > sizeof(pre) - 1 && !memcmp(line, pre, sizeof(pre) - 1))
		sync_id = strtoll(line + sizeof(pre) - 1, NULL, 10);
	line_len = 0;
	line_long = false;
}

static void drain_peer(void)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(peer, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || buf[i] == '\xff')
				client_line();
			else if (line_len < sizeof(line))
				line[line_len++] = buf[i];
			else
				line_long = true;
		}
	}
}

/* Run the loop until nothing is left to do now. */
static void settle(void)
{
	for (int i = 0; i < 64; i++) {
		drain_peer();
		if (loop_run_once(0) <= 0)
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
		}
		settle();
	}
}

static const char *const cmds[] = {
	"guest-ping", "guest-info", "guest-exec-status", "guest-shutdown", "guest-suspend-ram",
	"guest-file-read", "guest-sync", "guest-get-time",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static const struct ga_callbacks cbs = { .up = on_up };
	int sv[2], timeouts = 0;
	size_t i = 0;

	if (!ready) {
		CHECK(loop_open() == 0);
		signal(SIGPIPE, SIG_IGN);
		ready = true;
	}
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	peer = sv[1];
	CHECK(fcntl(peer, F_SETFL, O_NONBLOCK) == 0);
	g = ga_new(sv[0], &cbs);
	CHECK(g);
	accepted = answered = 0;
	sync_id = -1;
	line_len = 0;
	line_long = false;
	ga_set_open(g, true);
	settle();

	while (i < size) {
		uint8_t op = data[i++] % 8;
		size_t len = i < size ? data[i++] : 0;
		const uint8_t *arg = data + i;
		char *s = NULL;
		json_t *cmd;
		int r = -1, n;

		if (len > size - i)
			len = size - i;
		switch (op) {
		case 0:
			i += len;
			peer_write(arg, len);
			break;
		case 1:
			n = asprintf(&s, "\xff{\"return\": %lld}\n", sync_id);
			if (n > 0)
				peer_write(s, (size_t)n);
			break;
		case 2:
			i += len;
			peer_write("{\"return\": ", 11);
			peer_write(arg, len);
			peer_write("}\n", 2);
			break;
		case 3:
			in_call++;
			r = ga_execute(g, cmds[len % 8], len & 8 ? json_pack("{s:i}", "pid", 1) : NULL,
				       60000, on_reply, len & 16 ? &accepted : NULL);
			in_call--;
			break;
		case 4:
			i += len;
			cmd = json_loadb((const char *)arg, len, 0, NULL);
			if (!cmd)
				break;
			in_call++;
			r = ga_send_raw(g, cmd, 60000, on_reply, NULL);
			in_call--;
			break;
		case 5:
		case 6:
			ga_set_open(g, op == 6);
			break;
		case 7:
			if (timeouts++ >= 2)
				break;
			in_call++;
			r = ga_execute(g, "guest-info", NULL, 1, on_reply, NULL);
			in_call--;
			loop_run_once(3);
			break;
		}
		free(s);
		if (r == 0)
			accepted++;
		settle();
	}
	ga_free(g);
	g = NULL;
	CHECK(accepted == answered);
	close(peer);
	peer = -1;
	return 0;
}

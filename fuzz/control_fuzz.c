/* control_fuzz.c - libFuzzer target for the control-request decoder: the
 * control socket's line framing and JSON checks (launcher/control.c) and
 * the supervisor's verb table and argument checks (launcher/requests.c and
 * the verbs it calls), as a client of $RUN/control.sock drives them.
 *
 *   make fuzz-build && build/fuzz/control_fuzz -max_total_time=300 build/fuzz/corpus/control fuzz/corpus/control
 *   CONTROL_FUZZ_SHOW=1 build/fuzz/control_fuzz INPUT    (prints the replies)
 *
 * The real control socket listens in a private directory (made at start,
 * removed at exit) and the real dispatcher (sup_dispatch) answers, for a
 * supervisor with two VMs (a, b: kernel boot, no NIC, so no fabric) whose
 * QEMU never runs: the harness puts a spawn that fails in child_spawn's
 * place (vm_set_spawn), so `start` fails at once and the VM is crashed.
 * Every verb and its argument checks run against real VMs, nothing is
 * started.  Only `snapshot save` is answered by the harness (it would
 * write a snapshot into the directory each time), and a wait still
 * pending when an input ends is failed as the teardown fails it.
 * The input is a list of operations, one byte each, most
 * followed by a length byte and that many bytes:
 *   0  send the bytes as they are
 *   1  send {"cmd": VERB, KEY: BYTES-as-JSON}\n with VERB and KEY picked by
 *      the length's bits (a request the verb table knows, fuzzed arguments)
 *   2  let the loop run once
 *   3  close the connection now, whatever is unanswered (the input ends)
 * A `shutdown` is answered as the teardown answers it, and the socket stays
 * open for the next input.  Then the harness shuts down its write side and
 * reads every reply until
 * the supervisor closes the connection.
 * Checked: each reply is one line, a JSON object with a boolean "ok"; a
 * failure has a one-line "error" and "code" 1 or 2; every non-blank line
 * sent gets exactly one reply, in order (unless the client turned into an
 * event stream); the connection is closed once answered.  ASan and UBSan do
 * the rest.
 */
#include "launcher/supervisor_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <ftw.h>
#include <sanitizer/common_interface_defs.h>
#include <sys/un.h>
#include <unistd.h>

/* A failed check removes the private directory first (abort skips atexit). */
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "control_fuzz: %s\n", #c); remove_dir(); abort(); } } while (0)

static void remove_dir(void);

static char dir[64] = "/tmp/n3x-control-fuzz.XXXXXX", sock_path[128], conf[128];
static bool streamed;
static char in[1 << 20];      /* the replies read so far */
static size_t in_len;

static void dispatch(struct control_client *c, json_t *req)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	const char *action = json_string_value(json_object_get(req, "action"));

	if (!strcmp(cmd, "events"))
		streamed = true;
	if (!strcmp(cmd, "snapshot") && action && !strcmp(action, "save")) {
		control_reply_error(c, 2, "snapshot save: not in the fuzzer");
		return;
	}
	sup_dispatch(c, req);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0; /* on with the rest */
}

static void remove_dir(void)
{
	if (dir[strlen(dir) - 1] != 'X') /* made */
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
	control_close();
	remove_dir();
}

/* In child_spawn's place: QEMU never runs (the start fails at once). */
static int no_spawn(struct child *c, char *const argv[], const int *fds, int nfds)
{
	(void)c, (void)argv, (void)fds, (void)nfds;
	return -EPERM;
}

static void on_state(struct vm *vm, enum vm_state from, const char *why)
{
	sup_on_state(vm, from, why);
	sup_ready_on_state(vm);
}

static void setup(void)
{
	static const struct vm_observer obs = { .state = on_state, .console_line = sup_on_console_line };
	static const struct accel_choice tcg = { .kvm = false, .reason = "accel=tcg" };
	char p[256];
	struct err e;
	FILE *f;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	CHECK(mkdtemp(dir));
	atexit(cleanup);
	__sanitizer_set_death_callback(remove_dir); /* a sanitizer report skips atexit too */
	snprintf(sock_path, sizeof(sock_path), "%s/control.sock", dir);
	snprintf(conf, sizeof(conf), "%s/topology.conf", dir);
	snprintf(p, sizeof(p), "%s/vmlinuz-test", dir);
	CHECK((fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0);
	close(fd);
	CHECK((f = fopen(conf, "we")));
	fputs("[fabric]\nname = fuzz\n\n[vm a]\nkernel = vmlinuz-test\naccel = tcg\n\n"
	      "[vm b]\nkernel = vmlinuz-test\naccel = tcg\nready = console login:\n\n"
	      "[schedule s]\n+0s = profile default\n+5ms = heal\n", f);
	CHECK(fclose(f) == 0);
	CHECK(topo_load(conf, stderr, &sup.topo) == 0);
	snprintf(sup.run, sizeof(sup.run), "%s", dir);
	snprintf(sup.state, sizeof(sup.state), "%s", dir);
	snprintf(sup.control_path, sizeof(sup.control_path), "%s", sock_path);
	CHECK(loop_open() == 0);
	vm_set_observer(&obs);
	vm_set_spawn(no_spawn);
	CHECK((sup.vms = calloc((size_t)sup.topo->nvms, sizeof(*sup.vms))));
	for (int i = 0; i < sup.topo->nvms; i++) {
		if (vm_new(&sup.topo->vms[i], &tcg, sup.run, sup.state, false, &sup.vms[i], &e) < 0) {
			fprintf(stderr, "control_fuzz: %s\n", e.msg);
			abort();
		}
		sup.nvms++;
	}
	CHECK(sup_ready_init() == 0);
	CHECK(control_open(sock_path, dispatch) == 0);
}

static void drain(int fd)
{
	ssize_t n;

	while (in_len < sizeof(in) && (n = read(fd, in + in_len, sizeof(in) - in_len)) > 0)
		in_len += (size_t)n;
}

/* `shutdown` is answered by the teardown once the loop ends (daemon.c):
 * answer it as that does, and keep serving (the supervisor would close the
 * socket; here the next input needs it). */
static void teardown_reply(void)
{
	if (!sup.shutdown_client)
		return;
	control_reply(sup.shutdown_client, json_pack("{s:b}", "ok", 1));
	control_client_unref(sup.shutdown_client);
	sup.shutdown_client = NULL;
}

static void settle(int fd)
{
	for (int i = 0; i < 64; i++) {
		drain(fd);
		teardown_reply();
		if (loop_run_once(0) <= 0)
			break;
	}
	teardown_reply();
	drain(fd);
}

/* Send what the socket takes, letting the supervisor run between tries,
 * and log exactly that: a supervisor busy with a request (a wait) reads
 * nothing more, so a socket buffer can fill and the rest is never sent. */
static void send_all(int fd, FILE *log, const void *p, size_t n)
{
	const char *s = p;

	for (int tries = 0; n && tries < 16; tries++) {
		ssize_t w = send(fd, s, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w > 0) {
			fwrite(s, 1, (size_t)w, log);
			s += w;
			n -= (size_t)w;
		} else if (w < 0 && errno != EAGAIN) {
			break;
		}
		settle(fd);
	}
}

static const char *const verbs[] = {
	"status", "start", "stop", "kill", "restart", "pause", "resume", "qmp", "hmp", "wait",
	"agent", "exec", "tc", "events", "link", "send", "snapshot", "shutdown", "schedule", "nope",
};
static const char *const keys[] = {
	"vms", "vm", "all", "command", "state", "console", "timeout", "interval", "port", "exec",
	"action", "name", "data", "up", "nic", "rule", "key", "profile", "args", "lease",
	"run", "stop", "status",
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Lines the supervisor must answer: those with more than blanks. */
static int count_lines(const char *s, size_t n)
{
	int lines = 0;
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\n')
			continue;
		for (size_t k = start; k < i; k++)
			if (s[k] != ' ' && s[k] != '\t' && s[k] != '\r') {
				lines++;
				break;
			}
		start = i + 1;
	}
	return lines;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char *sent = NULL;
	size_t sent_len = 0, i = 0;
	int fd, replies = 0;
	bool gone = false;
	FILE *log;

	if (!ready) {
		setup();
		ready = true;
	}
	streamed = false;
	in_len = 0;
	CHECK((log = open_memstream(&sent, &sent_len)));
	CHECK((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	settle(fd);
	while (i < size) {
		uint8_t op = data[i++] % 4;
		size_t len = i < size ? data[i++] : 0;
		const char *arg = (const char *)data + i;
		json_t *req, *v;
		char *s;

		if (len > size - i)
			len = size - i;
		switch (op) {
		case 0:
			i += len;
			send_all(fd, log, arg, len);
			break;
		case 1:
			i += len;
			v = json_loadb(arg, len, JSON_DECODE_ANY, NULL);
			if (!v)
				v = json_stringn_nocheck(arg, len);
			req = json_pack("{s:s, s:o}", "cmd", verbs[len % NVERBS], keys[(len / NVERBS + (len ? (uint8_t)arg[0] : 0)) % NKEYS], v);
			s = req ? json_dumps(req, JSON_COMPACT) : NULL;
			json_decref(req);
			if (s) {
				size_t n = strlen(s);

				s[n] = '\n'; /* in place of the NUL: one send */
				send_all(fd, log, s, n + 1);
			}
			free(s);
			break;
		case 2:
			loop_run_once(0);
			break;
		case 3:
			gone = true;
			break;
		}
		if (gone)
			break;
		settle(fd);
	}
	CHECK(fclose(log) == 0);
	if (gone) {
		/* Closed with requests unanswered (a wait pending, lines not yet
		 * read): the supervisor notices, and answering later must not
		 * touch the client it freed. */
		close(fd);
		for (int k = 0; k < 4; k++) {
			settle(-1);
			sup_waiters_fail_all("the fuzz input ended");
		}
		settle(-1);
		CHECK(control_nclients() == 0);
		free(sent);
		sup.shutting_down = false;
		return 0;
	}
	shutdown(fd, SHUT_WR);
	/* Until the supervisor closes: the last reply may take a few rounds. */
	for (int k = 0; k < 10000; k++) {
		ssize_t n;

		settle(fd);
		n = read(fd, in + in_len, sizeof(in) - in_len);
		if (n > 0)
			in_len += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			break;
		else if (sup.waiters)
			sup_waiters_fail_all("the fuzz input ended");
		else
			loop_run_once(1);
		CHECK(k < 9999);
	}
	close(fd);
	if (getenv("CONTROL_FUZZ_SHOW")) /* to see what an input gets */
		fprintf(stderr, "%.*s", (int)in_len, in);
	for (size_t off = 0; off < in_len && !streamed;) {
		char *nl = memchr(in + off, '\n', in_len - off);
		json_t *r, *err;

		CHECK(nl);
		r = json_loadb(in + off, (size_t)(nl - (in + off)), 0, NULL);
		CHECK(json_is_object(r) && json_is_boolean(json_object_get(r, "ok")));
		if (json_is_false(json_object_get(r, "ok"))) {
			json_int_t code = json_integer_value(json_object_get(r, "code"));

			err = json_object_get(r, "error");
			CHECK(json_is_string(err) && json_string_length(err) > 0);
			if (strchr(json_string_value(err), '\n'))
				fprintf(stderr, "control_fuzz: a multi-line error: %s\n", json_string_value(err));
			CHECK(!strchr(json_string_value(err), '\n'));
			CHECK(code == 1 || code == 2);
		}
		json_decref(r);
		replies++;
		off = (size_t)(nl - in) + 1;
	}
	if (!streamed && replies != count_lines(sent, sent_len)) {
		fprintf(stderr, "control_fuzz: %d replies to %d lines; sent:\n", replies,
			count_lines(sent, sent_len));
		fwrite(sent, 1, sent_len, stderr);
		fprintf(stderr, "\nreplies:\n");
		fwrite(in, 1, in_len, stderr);
		CHECK(replies == count_lines(sent, sent_len));
	}
	free(sent);
	settle(-1);
	sup.shutting_down = false;
	return 0;
}

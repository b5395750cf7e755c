/* test_events.c - the event stream: encoding, the VM filter, and the
 * bounded per-subscriber queue, through the real control socket (a client
 * socket that reads slowly or not at all), driven with loop_run_once(). */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/loop.h"
#include "launcher/control.h"
#include "launcher/events.h"

static char dir[64];
static char sock_path[128];

/* The dispatcher subscribes with the request's "vms" as the filter. */
static void dispatch(struct control_client *c, json_t *req)
{
	json_t *names = json_object_get(req, "vms"), *v;
	const char *vms[8];
	size_t i;

	json_array_foreach(names, i, v)
		vms[i] = json_string_value(v);
	cr_assert_eq(events_subscribe(c, vms, (int)json_array_size(names)), 0);
}

static void setup(void)
{
	strcpy(dir, "/tmp/n3x-events-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/control.sock", dir);
	cr_assert_eq(loop_open(), 0);
	cr_assert_eq(control_open(sock_path, dispatch), 0);
}

static void teardown(void)
{
	control_close();
	cr_assert_eq(events_nsubscribers(), 0, "control_close ends every stream");
	loop_close();
	unlink(sock_path);
	rmdir(dir);
}

TestSuite(events, .init = setup, .fini = teardown);

static void pump(int rounds)
{
	for (int i = 0; i < rounds; i++)
		loop_run_once(5);
}

/* What was read from each client fd and not yet returned as a line. */
static struct {
	char buf[1 << 16];
	size_t len;
	char line[4096];
} rd[64];

/* A client socket. */
static int client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_lt(fd, 64);
	rd[fd].len = 0;
	strcpy(sa.sun_path, sock_path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s", strerror(errno));
	return fd;
}

static void send_str(int fd, const char *s)
{
	cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* One line from fd, running the loop meanwhile; NULL when none comes
 * within 30 idle loop rounds. */
static char *read_line(int fd)
{
	cr_assert_lt(fd, 64);
	for (int idle = 0; idle < 30; idle++) {
		char *nl = memchr(rd[fd].buf, '\n', rd[fd].len);
		ssize_t n;

		if (nl) {
			size_t l = nl - rd[fd].buf;

			cr_assert_lt(l, sizeof(rd[fd].line));
			memcpy(rd[fd].line, rd[fd].buf, l);
			rd[fd].line[l] = '\0';
			memmove(rd[fd].buf, nl + 1, rd[fd].len - l - 1);
			rd[fd].len -= l + 1;
			return rd[fd].line;
		}
		/* What is there first: the loop runs (and may sleep) only when
		 * the socket is empty. */
		n = recv(fd, rd[fd].buf + rd[fd].len, sizeof(rd[fd].buf) - rd[fd].len, MSG_DONTWAIT);
		if (n > 0) {
			rd[fd].len += n;
			idle = -1;
			continue;
		}
		loop_run_once(2);
	}
	cr_assert_eq(rd[fd].len, 0, "a partial line: %.*s", (int)rd[fd].len, rd[fd].buf);
	return NULL;
}

/* A subscriber with filter json (e.g. "[\"a\"]"), answered. */
static int subscribe(const char *filter)
{
	char req[256];
	int fd = client();
	const char *line;

	snprintf(req, sizeof(req), "{\"cmd\":\"events\",\"vms\":%s}\n", filter);
	send_str(fd, req);
	line = read_line(fd);
	cr_assert_not_null(line);
	cr_assert_str_eq(line, "{\"ok\":true}");
	return fd;
}

static json_t *read_event(int fd)
{
	const char *line = read_line(fd);
	json_t *ev;

	if (!line)
		return NULL;
	ev = json_loads(line, 0, NULL);
	cr_assert(json_is_object(ev), "not an object: %s", line);
	return ev;
}

Test(events, encoding)
{
	json_t *ev = events_encode(1765094521.123, "n100-1", "SHUTDOWN",
				   json_pack("{s:b, s:s}", "guest", 1, "reason", "guest-shutdown"));
	char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(13));

	cr_assert_str_eq(s, "{\"time\":1765094521.123,\"vm\":\"n100-1\",\"kind\":\"SHUTDOWN\","
			    "\"data\":{\"guest\":true,\"reason\":\"guest-shutdown\"}}");
	free(s);
	json_decref(ev);

	/* The fabric's: vm null; no data is {} */
	ev = events_encode(1.5, NULL, "profile", NULL);
	s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
	cr_assert_str_eq(s, "{\"time\":1.5,\"vm\":null,\"kind\":\"profile\",\"data\":{}}");
	free(s);
	json_decref(ev);
}

Test(events, emitted_line_has_the_time_in_ms_and_the_fields)
{
	int fd = subscribe("[]");
	double before = (double)time(NULL);
	json_t *ev;
	const char *line;

	events_emit("a", "state", json_pack("{s:s, s:s, s:n}", "from", "running", "to", "paused",
					    "reason"));
	line = read_line(fd);
	cr_assert_not_null(line);
	/* Milliseconds, written as such: at most 3 decimals. */
	cr_assert(strstr(line, "\"time\":"), "%s", line);
	const char *dot = strchr(strstr(line, "\"time\":"), '.');
	cr_assert(dot && strcspn(dot + 1, ",") <= 3, "time not in ms: %s", line);
	cr_assert(strstr(line, ",\"vm\":\"a\",\"kind\":\"state\",\"data\":{\"from\":\"running\","
			       "\"to\":\"paused\",\"reason\":null}}"), "%s", line);
	ev = json_loads(line, 0, NULL);
	cr_assert_geq(json_real_value(json_object_get(ev, "time")), before - 1);
	cr_assert_leq(json_real_value(json_object_get(ev, "time")), before + 2);
	json_decref(ev);
	close(fd);
}

Test(events, filter_by_vm_and_fabric_events_always_pass)
{
	int all = subscribe("[]"), only_a = subscribe("[\"a\",\"c\"]");
	const char *want_all[] = { "a", "b", NULL, "c" }, *want_a[] = { "a", NULL, "c" };
	json_t *ev;

	cr_assert_eq(events_nsubscribers(), 2);
	events_emit("a", "STOP", NULL);
	events_emit("b", "STOP", NULL);
	events_emit(NULL, "profile", json_pack("{s:s, s:s}", "profile", "lossy", "previous", "default"));
	events_emit("c", "RESUME", NULL);
	for (int i = 0; i < 4; i++) {
		ev = read_event(all);
		cr_assert_not_null(ev);
		cr_assert_str_eq(json_string_value(json_object_get(ev, "vm")) ?: "(null)",
				 want_all[i] ?: "(null)");
		json_decref(ev);
	}
	for (int i = 0; i < 3; i++) {
		ev = read_event(only_a);
		cr_assert_not_null(ev);
		cr_assert_str_eq(json_string_value(json_object_get(ev, "vm")) ?: "(null)",
				 want_a[i] ?: "(null)");
		json_decref(ev);
	}
	cr_assert_null(read_line(only_a), "b's event is not a's");
	close(all);
	close(only_a);
	pump(5);
	cr_assert_eq(events_nsubscribers(), 0, "a subscriber that closed is gone");
	cr_assert_eq(control_nclients(), 0);
}

/* Read everything fd has (pumping the loop), checking the seq numbers:
 * events come in order, with at most one "lost" whose count is exactly the
 * gap it stands for.  Returns the events received; *lost the lost lines. */
static int drain(int fd, long *next_seq, long *lost_lines, long *lost_total)
{
	int got = 0;
	json_t *ev;

	while ((ev = read_event(fd))) {
		const char *kind = json_string_value(json_object_get(ev, "kind"));

		if (strcmp(kind, "lost") == 0) {
			long count = json_integer_value(json_object_get(json_object_get(ev, "data"), "count"));
			json_t *next;

			cr_assert(json_is_null(json_object_get(ev, "vm")));
			cr_assert_gt(count, 0);
			(*lost_lines)++;
			*lost_total += count;
			/* The next line is an event, exactly count later. */
			next = read_event(fd);
			cr_assert_not_null(next, "lost is followed by the next event");
			cr_assert_str_eq(json_string_value(json_object_get(next, "kind")), "tick");
			cr_assert_eq(json_integer_value(json_object_get(json_object_get(next, "data"), "seq")),
				     *next_seq + count);
			*next_seq += count + 1;
			got++;
			json_decref(next);
		} else {
			cr_assert_eq(json_integer_value(json_object_get(json_object_get(ev, "data"), "seq")),
				     *next_seq);
			(*next_seq)++;
			got++;
		}
		json_decref(ev);
	}
	return got;
}

Test(events, slow_subscriber_loses_the_oldest_and_is_told_once)
{
	/* A reader that does not read: the socket fills, then the control
	 * client's bounded output, then the queue. */
	int slow = subscribe("[]"), fast = subscribe("[]");
	long seq = 0, lost_lines = 0, lost = 0, fseq = 0, flines = 0, flost = 0;
	const int n = 20000;
	int got, fgot = 0;

	for (int i = 0; i < n; i++) {
		events_emit("a", "tick", json_pack("{s:i, s:s}", "seq", i, "pad",
						   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
		if (i % 1000 == 999) {
			/* The fast one reads as it goes and never loses. */
			loop_run_once(0);
			fgot += drain(fast, &fseq, &flines, &flost);
		}
	}
	fgot += drain(fast, &fseq, &flines, &flost);
	cr_assert_eq(fgot, n);
	cr_assert_eq(flines, 0);

	got = drain(slow, &seq, &lost_lines, &lost);
	cr_assert_eq(lost_lines, 1, "one lost line for one overflow");
	cr_assert_eq(seq, n, "the newest events arrive (seq %ld got %d lost %ld lines %ld)", seq, got, lost, lost_lines);
	cr_assert_eq(got + lost, n, "every event is delivered or counted");
	cr_assert_geq(got, EVENTS_QUEUE_MAX, "the queue's worth of events survives");
	/* The supervisor's side stayed bounded: 1024 queued lines plus 64 KiB
	 * of output plus what the socket holds, nothing near n. */
	cr_assert_lt(got, EVENTS_QUEUE_MAX + 2000, "got %d", got);

	/* The count starts over: a second overflow reports only its own. */
	long lost2 = 0, lines2 = 0;

	for (int i = n; i < 2 * n; i++)
		events_emit("a", "tick", json_pack("{s:i}", "seq", i));
	got = drain(slow, &seq, &lines2, &lost2);
	cr_assert_eq(lines2, 1);
	cr_assert_eq(seq, 2 * n);
	cr_assert_eq(got + lost2, n);

	/* No overflow, no lost line. */
	lines2 = lost2 = 0;
	for (int i = 2 * n; i < 2 * n + 10; i++)
		events_emit("a", "tick", json_pack("{s:i}", "seq", i));
	cr_assert_eq(drain(slow, &seq, &lines2, &lost2), 10);
	cr_assert_eq(lines2, 0);
	close(slow);
	close(fast);
}

Test(events, input_is_ignored_and_eof_ends_the_stream)
{
	int fd = subscribe("[]");
	json_t *ev;

	send_str(fd, "{\"cmd\":\"status\"}\nnot even json\n");
	pump(5);
	cr_assert_null(read_line(fd), "a stream answers no requests");
	events_emit("a", "STOP", NULL);
	ev = read_event(fd);
	cr_assert_not_null(ev);
	json_decref(ev);
	cr_assert_eq(events_nsubscribers(), 1);

	shutdown(fd, SHUT_WR);
	pump(5);
	cr_assert_eq(events_nsubscribers(), 0, "EOF ends the subscription");
	cr_assert_eq(control_nclients(), 0);
	close(fd);
}

Test(events, control_close_flushes_what_is_queued)
{
	int fd = subscribe("[]");
	long seq = 0, lines = 0, lost = 0;
	char ch;

	for (int i = 0; i < 50; i++)
		events_emit(NULL, "tick", json_pack("{s:i}", "seq", i));
	control_close();
	cr_assert_eq(events_nsubscribers(), 0);
	cr_assert_eq(drain(fd, &seq, &lines, &lost), 50);
	cr_assert_eq(recv(fd, &ch, 1, MSG_DONTWAIT), 0, "then EOF");
	close(fd);
}

/* test_qmp_job.c - the job driver (qmp/job.h) against a scripted QEMU over a
 * socketpair: the events QEMU 7.2 sends for a snapshot-save that works, one
 * that fails, a command QEMU refuses, and a monitor that goes away mid-job.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "qmp/job.h"
#include "qmp/qmp.h"

static struct qmp *q;
static struct qmp_job *job;

static int peer_client_fd(void) { return qmp_fd(q); }
static bool peer_client_want_write(void) { return qmp_want_write(q); }
static int peer_client_io(void) { return qmp_io(q); }

#include "tests/peer.h"

/* This suite needs no forked peer. */
static pid_t (*const unused_fork)(void) __attribute__((unused)) = peer_fork;

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, \"capabilities\": []}}\r\n"

static int done_calls;
static char done_error[512];
static bool done_ok;

static void on_event(void *opaque, const char *event, json_t *data, json_t *msg)
{
	(void)opaque, (void)msg;
	/* The owner routes its monitor's events to the job, as supervisor.c does. */
	if (job)
		qmp_job_event(job, event, data);
}

static void on_done(void *opaque, const char *error)
{
	(void)opaque;
	done_calls++;
	done_ok = error == NULL;
	snprintf(done_error, sizeof(done_error), "%s", error ? error : "");
	job = NULL;
}

static int exec(void *ctx, const char *cmd, json_t *args, qmp_reply_fn cb, void *opaque)
{
	return qmp_execute(ctx, cmd, args, cb, opaque);
}

static const struct qmp_callbacks cbs = { on_event, NULL, NULL };

static void setup(void)
{
	q = qmp_new(peer_open(), &cbs);
	cr_assert_not_null(q);
	job = NULL;
	done_calls = 0;
	done_ok = false;
	done_error[0] = 0;
}

static void teardown(void)
{
	qmp_free(q);
	peer_close();
}

TestSuite(qmp_job, .init = setup, .fini = teardown, .timeout = 20);

/* Read one command, check its name, return it (a new reference). */
static json_t *expect(const char *name)
{
	json_t *msg = peer_recv();

	cr_assert_str_eq(json_string_value(json_object_get(msg, "execute")), name);
	cr_assert(json_is_integer(json_object_get(msg, "id")));
	return msg;
}

static long long id_of(json_t *msg)
{
	return (long long)json_integer_value(json_object_get(msg, "id"));
}

static void handshake(void)
{
	json_t *caps;

	peer_send(GREETING);
	caps = expect("qmp_capabilities");
	peer_send("{\"return\": {}, \"id\": %lld}\r\n", id_of(caps));
	json_decref(caps);
	PUMP_UNTIL(qmp_is_ready(q));
}

static void status(const char *id, const char *st)
{
	peer_send("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"JOB_STATUS_CHANGE\", "
		  "\"data\": {\"status\": \"%s\", \"id\": \"%s\"}}\r\n", st, id);
}

/* Start a snapshot-save as snapshot.c does and return the command QEMU got. */
static json_t *start_save(void)
{
	json_t *msg, *args;

	handshake();
	cr_assert_eq(qmp_job_start(exec, q, "snapshot-save", "n3x-snap-1",
				   json_pack("{s:s, s:s, s:[s]}", "tag", "base", "vmstate", "state",
					     "devices", "state"),
				   on_done, NULL, &job), 0);
	msg = expect("snapshot-save");
	args = json_object_get(msg, "arguments");
	cr_assert_str_eq(json_string_value(json_object_get(args, "job-id")), "n3x-snap-1");
	cr_assert_str_eq(json_string_value(json_object_get(args, "tag")), "base");
	cr_assert_str_eq(json_string_value(json_object_get(args, "vmstate")), "state");
	return msg;
}

/* QEMU's query-jobs answer for our job, with error when not NULL. */
static void answer_query(const char *error)
{
	json_t *qj = expect("query-jobs");

	peer_send("{\"return\": [{\"current-progress\": 1, \"status\": \"concluded\", \"total-progress\": 1, "
		  "\"type\": \"snapshot-save\", \"id\": \"other\", \"error\": \"not ours\"}, "
		  "{\"current-progress\": 1, \"status\": \"concluded\", \"total-progress\": 1, "
		  "\"type\": \"snapshot-save\", \"id\": \"n3x-snap-1\"%s%s%s}], \"id\": %lld}\r\n",
		  error ? ", \"error\": \"" : "", error ? error : "", error ? "\"" : "", id_of(qj));
	json_decref(qj);
}

static void answer_dismiss(void)
{
	json_t *d = expect("job-dismiss");

	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(d, "arguments"), "id")),
			 "n3x-snap-1");
	peer_send("{\"return\": {}, \"id\": %lld}\r\n", id_of(d));
	json_decref(d);
}

/* The sequence QEMU 7.2 sends for a snapshot-save that works: created and
 * running before the command's reply, then waiting, pending, concluded. */
Test(qmp_job, created_running_concluded_ok)
{
	json_t *cmd = start_save();

	status("n3x-snap-1", "created");
	status("n3x-snap-1", "running");
	peer_send("{\"return\": {}, \"id\": %lld}\r\n", id_of(cmd));
	json_decref(cmd);
	status("other", "concluded");   /* another job's: not ours to query */
	status("n3x-snap-1", "waiting");
	status("n3x-snap-1", "pending");
	cr_assert_eq(done_calls, 0);
	status("n3x-snap-1", "concluded");
	answer_query(NULL);
	cr_assert_eq(done_calls, 0, "done before the job was dismissed");
	answer_dismiss();
	PUMP_UNTIL(done_calls == 1);
	cr_assert(done_ok, "error: %s", done_error);
	status("n3x-snap-1", "null");
	PUMP_UNTIL(plen == 0);
	cr_assert_eq(done_calls, 1);
}

/* A job that fails: aborting, concluded, and the reason from query-jobs. */
Test(qmp_job, concluded_with_error)
{
	json_t *cmd = start_save();

	status("n3x-snap-1", "created");
	status("n3x-snap-1", "running");
	peer_send("{\"return\": {}, \"id\": %lld}\r\n", id_of(cmd));
	json_decref(cmd);
	status("n3x-snap-1", "aborting");
	status("n3x-snap-1", "concluded");
	answer_query("Snapshot 'base' already exists in one or more devices");
	answer_dismiss();
	PUMP_UNTIL(done_calls == 1);
	cr_assert_not(done_ok);
	cr_assert_str_eq(done_error, "Snapshot 'base' already exists in one or more devices");
}

/* concluded before the command's reply: the query waits for the reply. */
Test(qmp_job, concluded_before_the_reply)
{
	json_t *cmd = start_save();

	status("n3x-snap-1", "concluded");
	peer_send("{\"return\": {}, \"id\": %lld}\r\n", id_of(cmd));
	json_decref(cmd);
	answer_query(NULL);
	answer_dismiss();
	PUMP_UNTIL(done_calls == 1);
	cr_assert(done_ok);
}

/* QEMU refuses the command: no job, no query, the reason in one line. */
Test(qmp_job, command_refused)
{
	json_t *cmd = start_save();
	struct pollfd pf = { 0 };

	peer_send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"Device 'nope' not found\"}, "
		  "\"id\": %lld}\r\n", id_of(cmd));
	json_decref(cmd);
	PUMP_UNTIL(done_calls == 1);
	cr_assert_not(done_ok);
	cr_assert_str_eq(done_error, "QEMU refused snapshot-save: Device 'nope' not found");
	pf.fd = peer_fd;
	pf.events = POLLIN;
	cr_assert_eq(poll(&pf, 1, 50), 0, "the driver wrote after a refusal");
}

/* QEMU dies while the job runs: the owner says so, done says why once. */
Test(qmp_job, monitor_lost_mid_job)
{
	json_t *cmd = start_save();

	status("n3x-snap-1", "created");
	peer_send("{\"return\": {}, \"id\": %lld}\r\n", id_of(cmd));
	json_decref(cmd);
	status("n3x-snap-1", "running");
	PUMP_UNTIL(plen == 0 && job != NULL);
	close(peer_fd);
	peer_fd = -1;
	{
		long long dl = now_ms() + TIMEOUT_MS;

		while ((io_rc = qmp_io(q)) == 0 && now_ms() < dl)
			client_round(100);
	}
	cr_assert_eq(io_rc, -EPIPE);
	cr_assert_eq(done_calls, 0, "no reply was due: only the owner knows the monitor is gone");
	qmp_job_lost(job);
	cr_assert_eq(done_calls, 1);
	cr_assert_not(done_ok);
	cr_assert(strstr(done_error, "monitor closed during snapshot-save"), "%s", done_error);
}

/* The monitor goes while query-jobs is out: its failed reply ends the job,
 * and a later qmp_job_lost would find nothing (the owner dropped it). */
Test(qmp_job, monitor_lost_while_querying)
{
	json_t *cmd = start_save(), *qj;

	peer_send("{\"return\": {}, \"id\": %lld}\r\n", id_of(cmd));
	json_decref(cmd);
	status("n3x-snap-1", "concluded");
	qj = expect("query-jobs");
	json_decref(qj);
	close(peer_fd);
	peer_fd = -1;
	{
		long long dl = now_ms() + TIMEOUT_MS;

		while (done_calls == 0 && now_ms() < dl)
			client_round(100);
	}
	cr_assert_eq(done_calls, 1);
	cr_assert_not(done_ok);
	cr_assert(strstr(done_error, "monitor closed during snapshot-save"), "%s", done_error);
	cr_assert_null(job);
}

/* job_fuzz.c - libFuzzer target for the QMP job driver (qmp/job.c): the
 * input is what QEMU says while a job runs, its replies and its events, in
 * any order, with any content.
 *
 *   make fuzz && build/fuzz/job_fuzz -max_total_time=300 build/fuzz/corpus fuzz/corpus/job
 *
 * The harness plays the owner (supervisor) and QEMU: the driver's commands
 * queue up in a fake monitor, and the input is a list of operations, one
 * byte each, most followed by a length byte and that many bytes:
 *   0  answer the oldest command with the bytes as JSON (an object), or
 *      {"return":{}} when they are not one
 *   1  answer the oldest command with {"error":{"desc": BYTES}}
 *   2  the oldest command's connection broke (no reply, -ECANCELED)
 *   3  JOB_STATUS_CHANGE of this job (or, length odd, another one) with
 *      one of QEMU's statuses
 *   4  an event named by the first byte with the bytes as its data
 *   5  the monitor went away (qmp_job_lost)
 * Checked: done is called exactly once by the end (the harness calls
 * qmp_job_lost for a job still running, as the supervisor does when QEMU
 * exits), never from inside qmp_job_start, and every command the driver
 * queued is answered.  ASan and UBSan catch a job used after it is freed.
 */
#include "qmp/job.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "job_fuzz: %s\n", #c); abort(); } } while (0)
#define MAX_PENDING 64

static struct pending {
	qmp_reply_fn cb;
	void *opaque;
} pending[MAX_PENDING];
static int npending, dones, in_start;
static struct qmp_job *job;

static int fake_exec(void *ctx, const char *cmd, json_t *args, qmp_reply_fn cb, void *opaque)
{
	(void)ctx, (void)cmd;
	json_decref(args);
	if (npending == MAX_PENDING)
		return -ENOBUFS;
	pending[npending++] = (struct pending){ cb, opaque };
	return 0;
}

static void on_done(void *opaque, const char *error)
{
	(void)opaque, (void)error;
	CHECK(!in_start);
	dones++;
	job = NULL;
}

/* Answer the oldest command with reply (stolen; NULL: err). */
static void answer(json_t *reply, int err)
{
	struct pending p;

	if (npending == 0) {
		json_decref(reply);
		return;
	}
	p = pending[0];
	memmove(pending, pending + 1, (size_t)--npending * sizeof(pending[0]));
	if (p.cb)
		p.cb(p.opaque, reply, reply ? 0 : err);
	json_decref(reply);
}

static const char *const statuses[] = {
	"created", "running", "paused", "ready", "standby", "waiting", "pending", "aborting",
	"concluded", "null", "undefined",
};
static const char *const events[] = { "JOB_STATUS_CHANGE", "STOP", "RESUME", "BLOCK_JOB_COMPLETED" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i = 0;
	int r;

	npending = dones = 0;
	in_start = 1;
	r = qmp_job_start(fake_exec, NULL, "snapshot-save", "n3x-fuzz",
			  json_pack("{s:s}", "tag", "t"), on_done, NULL, &job);
	in_start = 0;
	CHECK(r == 0);
	while (i < size) {
		uint8_t op = data[i++] % 6;
		size_t len = i < size ? data[i++] : 0;
		const char *arg = (const char *)data + i;
		json_t *j;

		if (len > size - i)
			len = size - i;
		i += len;
		switch (op) {
		case 0:
			j = json_loadb(arg, len, 0, NULL);
			if (!json_is_object(j)) {
				json_decref(j);
				j = json_pack("{s:{}}", "return");
			}
			answer(j, 0);
			break;
		case 1:
			answer(json_pack("{s:{s:s%}}", "error", "desc", arg, len), 0);
			break;
		case 2:
			answer(NULL, -ECANCELED);
			break;
		case 3:
			j = json_pack("{s:s, s:s}", "id", len & 1 ? "other" : "n3x-fuzz", "status",
				      statuses[len % 11]);
			if (job)
				qmp_job_event(job, "JOB_STATUS_CHANGE", j);
			json_decref(j);
			break;
		case 4:
			j = json_loadb(arg, len, 0, NULL);
			if (job)
				qmp_job_event(job, events[len ? (uint8_t)arg[0] % 4 : 0], j);
			json_decref(j);
			break;
		case 5:
			if (job)
				qmp_job_lost(job);
			break;
		}
	}
	if (job)
		qmp_job_lost(job);
	while (npending)
		answer(NULL, -ECANCELED);
	CHECK(dones == 1);
	return 0;
}

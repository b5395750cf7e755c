/* job.c - a QEMU background job: command, JOB_STATUS_CHANGE events,
 * query-jobs for the error, job-dismiss. */
#include "qmp/job.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum job_phase {
	JOB_SENT,       /* the command is out, its reply not in */
	JOB_ACCEPTED,   /* QEMU took it: waiting for "concluded" */
	JOB_QUERYING,   /* query-jobs is out */
	JOB_DISMISSING, /* job-dismiss is out */
	JOB_DONE,       /* done was called */
};

struct qmp_job {
	qmp_job_exec_fn exec;
	void *exec_ctx;
	qmp_job_done_fn done;
	void *opaque;
	enum job_phase phase;
	bool concluded;   /* seen, maybe before the command's reply */
	int replies_due;  /* our commands whose callbacks have not run */
	char *cmd, *id;
	char *error;      /* from query-jobs, kept until the dismiss is through */
};

static void job_free(struct qmp_job *j)
{
	free(j->cmd);
	free(j->id);
	free(j->error);
	free(j);
}

/* Call done once; the struct lives on while a reply may still call us. */
static void finish(struct qmp_job *j, const char *error)
{
	if (j->phase == JOB_DONE)
		return;
	j->phase = JOB_DONE;
	j->done(j->opaque, error);
	if (j->replies_due == 0)
		job_free(j);
}

/* A reply came for one of ours: false when the job is over and must not
 * be touched further (it may have been freed here). */
static bool reply_in(struct qmp_job *j)
{
	j->replies_due--;
	if (j->phase != JOB_DONE)
		return true;
	if (j->replies_due == 0)
		job_free(j);
	return false;
}

static int send_cmd(struct qmp_job *j, const char *cmd, json_t *args, qmp_reply_fn cb)
{
	int r = j->exec(j->exec_ctx, cmd, args, cb, j);

	if (r == 0)
		j->replies_due++;
	return r;
}

static const char *reply_error(json_t *reply)
{
	return json_string_value(json_object_get(json_object_get(reply, "error"), "desc"));
}

static void lost_msg(struct qmp_job *j, int err)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "the QMP monitor closed during %s (%s)", j->cmd, strerror(-err));
	finish(j, msg);
}

/* A reply to the job's command or its query-jobs: false when the job is
 * over, because it already was, the monitor went, or QEMU answered with an
 * error ("<failed> <the job's command>: <QEMU's desc>" goes to done). */
static bool reply_usable(struct qmp_job *j, json_t *reply, int err, const char *failed)
{
	const char *desc;
	char msg[512];

	if (!reply_in(j))
		return false;
	if (!reply) {
		lost_msg(j, err);
		return false;
	}
	if ((desc = reply_error(reply))) {
		snprintf(msg, sizeof(msg), "%s %s: %s", failed, j->cmd, desc);
		finish(j, msg);
		return false;
	}
	return true;
}

static void dismissed(void *opaque, json_t *reply, int err)
{
	struct qmp_job *j = opaque;

	if (!reply_in(j))
		return;
	/* A failed dismiss leaves QEMU a concluded job with our id; ours are
	 * never reused, so the outcome stands. */
	(void)reply, (void)err;
	finish(j, j->error);
}

static void queried(void *opaque, json_t *reply, int err)
{
	struct qmp_job *j = opaque;
	json_t *jobs, *job;
	size_t i;

	if (!reply_usable(j, reply, err, "query-jobs failed after"))
		return;
	jobs = json_object_get(reply, "return");
	json_array_foreach(jobs, i, job) {
		const char *id = json_string_value(json_object_get(job, "id"));
		const char *e = json_string_value(json_object_get(job, "error"));

		if (id && strcmp(id, j->id) == 0 && e && !(j->error = strdup(e))) {
			finish(j, "out of memory");
			return;
		}
	}
	j->phase = JOB_DISMISSING;
	if (send_cmd(j, "job-dismiss", json_pack("{s:s}", "id", j->id), dismissed) < 0)
		finish(j, j->error);
}

static void query(struct qmp_job *j)
{
	int r;

	j->phase = JOB_QUERYING;
	if ((r = send_cmd(j, "query-jobs", NULL, queried)) < 0)
		lost_msg(j, r);
}

static void accepted(void *opaque, json_t *reply, int err)
{
	struct qmp_job *j = opaque;

	if (!reply_usable(j, reply, err, "QEMU refused"))
		return;
	j->phase = JOB_ACCEPTED;
	if (j->concluded)
		query(j);
}

int qmp_job_start(qmp_job_exec_fn exec, void *exec_ctx, const char *cmd, const char *job_id,
		  json_t *args, qmp_job_done_fn done, void *opaque, struct qmp_job **out)
{
	struct qmp_job *j = calloc(1, sizeof(*j));
	int r;

	if (!args)
		args = json_object();
	if (!j || !args || !(j->cmd = strdup(cmd)) || !(j->id = strdup(job_id)) ||
	    json_object_set_new(args, "job-id", json_string(job_id)) < 0) {
		json_decref(args);
		if (j)
			job_free(j);
		return -ENOMEM;
	}
	j->exec = exec;
	j->exec_ctx = exec_ctx;
	j->done = done;
	j->opaque = opaque;
	j->phase = JOB_SENT;
	if ((r = send_cmd(j, cmd, args, accepted)) < 0) {
		job_free(j);
		return r;
	}
	*out = j;
	return 0;
}

void qmp_job_event(struct qmp_job *j, const char *event, json_t *data)
{
	const char *id = json_string_value(json_object_get(data, "id"));
	const char *status = json_string_value(json_object_get(data, "status"));

	if (j->phase == JOB_DONE || strcmp(event, "JOB_STATUS_CHANGE") != 0 || !id || !status ||
	    strcmp(id, j->id) != 0 || strcmp(status, "concluded") != 0 || j->concluded)
		return;
	/* Jobs conclude whether they succeeded or not ("aborting" comes
	 * first when not); only query-jobs says which, and why. */
	j->concluded = true;
	if (j->phase == JOB_ACCEPTED)
		query(j);
}

void qmp_job_lost(struct qmp_job *j)
{
	lost_msg(j, -EPIPE);
}

const char *qmp_job_id(const struct qmp_job *j)
{
	return j->id;
}

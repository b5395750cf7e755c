/* job.h - one QEMU background job (snapshot-save, snapshot-load,
 * snapshot-delete, ...) driven to its end over a QMP monitor.
 *
 * The driver sends the job's command with a job-id, follows that job's
 * JOB_STATUS_CHANGE events, and once it is "concluded" reads its error (if
 * any) with query-jobs and dismisses it, so QEMU forgets it.  Then the done
 * callback gets NULL (the job succeeded) or the error in one line.
 *
 * The driver does no I/O of its own: commands go through the owner's
 * execute function (qmp_execute, or a wrapper that also watches the fd for
 * writability), and the owner feeds it the monitor's events
 * (qmp_job_event) and tells it when the monitor went away (qmp_job_lost).
 */
#ifndef N3X_QMP_JOB_H
#define N3X_QMP_JOB_H

#include <jansson.h>

#include "qmp/qmp.h"

struct qmp_job;

/* qmp_execute's shape: queue cmd with args (stolen) on ctx's monitor,
 * cb called exactly once when it returned 0. */
typedef int (*qmp_job_exec_fn)(void *ctx, const char *cmd, json_t *args, qmp_reply_fn cb, void *opaque);
/* The job ended: error is NULL on success, else one line (QEMU's error,
 * "QEMU refused snapshot-save: ...", or "the QMP monitor closed").  The job
 * is gone once this returns: drop every pointer to it here. */
typedef void (*qmp_job_done_fn)(void *opaque, const char *error);

/* Start `cmd` with args (an object or NULL; stolen even on failure) plus
 * "job-id": job_id.  0 and *out, or -errno (-ENOMEM, or exec's error) with
 * done never called.  exec_ctx must outlive the job. */
int qmp_job_start(qmp_job_exec_fn exec, void *exec_ctx, const char *cmd, const char *job_id,
		  json_t *args, qmp_job_done_fn done, void *opaque, struct qmp_job **out);
/* An event of the monitor the job runs on; events of other jobs and other
 * kinds are ignored.  May call done (and so free j). */
void qmp_job_event(struct qmp_job *j, const char *event, json_t *data);
/* The monitor went away (QEMU exited): done is called with "the QMP monitor
 * closed" unless it already was; replies still due are then dropped as
 * they come (qmp_free calls them with -ECANCELED). */
void qmp_job_lost(struct qmp_job *j);
/* The job's id, as given. */
const char *qmp_job_id(const struct qmp_job *j);

#endif

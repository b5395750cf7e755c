/* snapshot.c - whole-cluster snapshots (snapshot.h): the operations behind
 * the "snapshot" verb (snapverb.c checks the requests).
 *
 * An operation runs in phases; each phase starts work on every VM at once
 * (QMP jobs, qemu-img, starts) and counts it in op->pending, and the next
 * phase begins when the count is back to zero:
 *
 *   save    [drop the old one's internal snapshots] -> stop the running VMs,
 *           snapshot-save on each -> cont them together -> metadata
 *   load    start the stopped VMs paused (-S) -> stop the running ones,
 *           snapshot-load on each -> cables, cont together, profile, leases
 *   delete  snapshot-delete on VMs with QEMU, `qemu-img snapshot -d` on
 *           the others -> metadata removed
 *
 * The internal snapshots carry the snapshot's name as their tag; the vmstate
 * goes to each VM's state image (argv.h PLAN_NODE_STATE), the disks are
 * every qcow2 node of the VM's plan.
 */
#include "launcher/snapshot_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "launcher/events.h"
#include "launcher/impair.h"
#include "launcher/supervisor_impl.h"

struct snap_op *snap_cur;
static unsigned job_seq;

const char *const snap_action_names[] = { "save", "load", "delete" };

const struct plan_step *snap_ephemeral_overlay(struct vm *vm)
{
	const struct vm_plan *p = vm_plan(vm);

	for (int i = 0; i < p->nsteps; i++)
		if (p->steps[i].node && p->steps[i].always)
			return &p->steps[i];
	return NULL;
}

/* ---- the operation ---- */

struct err *snap_op_err(struct snap_op *op)
{
	if (op->failed)
		return NULL;
	op->failed = true;
	return &op->err;
}

static void op_reap(struct loop_deferred *d)
{
	struct snap_op *op = container_of(d, struct snap_op, free_d);

	free(op->vms);
	json_decref(op->meta);
	json_decref(op->notes);
	loop_timer_close(&op->agent_timer);
	free(op);
}

/* The op is over: the next may start now; its memory goes after the loop's
 * batch (a qemu-img child's watches were in it).  Every job and child of it
 * has ended: the op waited for them. */
void snap_op_free(struct snap_op *op)
{
	loop_timer_disarm(&op->agent_timer);
	if (snap_cur == op)
		snap_cur = NULL;
	loop_defer(&op->free_d, op_reap);
}

struct snap_op *snap_op_new(struct control_client *c, enum snap_action a, const char *name, int nvms)
{
	struct snap_op *op = calloc(1, sizeof(*op));

	if (!op || !(op->vms = calloc(nvms ? nvms : 1, sizeof(*op->vms)))) {
		free(op);
		return NULL;
	}
	op->action = a;
	op->client = c;
	loop_timer_init(&op->agent_timer, NULL);
	op->t0 = loop_now_ms();
	snprintf(op->name, sizeof(op->name), "%s", name);
	return op;
}

struct snap_vm *snap_op_add(struct snap_op *op, struct vm *vm, const char *name)
{
	struct snap_vm *sv = &op->vms[op->nall++];

	op->nvms = op->nall;
	sv->op = op;
	sv->vm = vm;
	snprintf(sv->name, sizeof(sv->name), "%s", name);
	return sv;
}

static double op_seconds(const struct snap_op *op)
{
	return (double)(loop_now_ms() - op->t0) / 1000.0;
}

static json_t *op_names(const struct snap_op *op)
{
	json_t *a = json_array();

	for (int i = 0; a && i < op->nvms; i++)
		json_array_append_new(a, json_string(op->vms[i].name));
	return a;
}

static void advance(struct snap_op *op);

/* One piece of work of the current phase ended. */
void snap_settle(struct snap_op *op)
{
	if (op->aborted)
		return;
	if (--op->pending == 0)
		advance(op);
}

static int exec_on_vm(void *ctx, const char *cmd, json_t *args, qmp_reply_fn cb, void *opaque)
{
	return vm_monitor(ctx, cmd, args, cb, opaque);
}

static void job_done(void *opaque, const char *error)
{
	struct snap_vm *sv = opaque;
	struct snap_op *op = sv->op;

	sv->job = NULL;
	sv->ok = !error;
	if (error)
		err_set(snap_op_err(op), EIO, "snapshot %s: %s: %s", op->name, sv->name, error);
	snap_settle(op);
}

/* Start job cmd for the op's tag on sv's VM: vmstate (save/load) into the
 * state image, devices = every qcow2 node.  Counted in pending. */
static void start_job(struct snap_vm *sv, const char *cmd, bool vmstate)
{
	const struct vm_plan *p = vm_plan(sv->vm);
	struct snap_op *op = sv->op;
	json_t *devs = json_array(), *args;
	char id[64];
	int r;

	for (int i = 0; devs && i < p->nsteps; i++)
		if (p->steps[i].node)
			json_array_append_new(devs, json_string(p->steps[i].node));
	args = json_pack("{s:s, s:o}", "tag", op->name, "devices", devs);
	if (args && vmstate)
		json_object_set_new(args, "vmstate", json_string(PLAN_NODE_STATE));
	snprintf(id, sizeof(id), "n3x-snap-%d-%u", (int)getpid(), ++job_seq);
	sv->ok = false;
	if (!args) {
		err_set(snap_op_err(op), ENOMEM, "out of memory");
		return;
	}
	if ((r = qmp_job_start(exec_on_vm, sv->vm, cmd, id, args, job_done, sv, &sv->job)) < 0) {
		err_set(snap_op_err(op), -r, "snapshot %s: %s: cannot start %s: %s", op->name, sv->name, cmd,
			r == -ENOTCONN ? "QMP is not connected" : strerror(-r));
		return;
	}
	op->pending++;
}

/* ---- qemu-img snapshot -d, for VMs without QEMU ---- */

static void img_next(struct snap_vm *sv);

static void img_exited(struct child *c, int wstatus)
{
	struct snap_vm *sv = c->opaque;
	struct snap_op *op = sv->op;
	char how[64];

	/* An image that never got the tag (made after the save) is fine. */
	if (!(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) && !strstr(c->last_line, "not found")) {
		child_status_str(wstatus, how, sizeof(how));
		err_set(snap_op_err(op), EIO, "snapshot %s: %s: qemu-img snapshot -d %s%s%s", op->name, sv->name,
			how, c->last_line[0] ? ": " : "", c->last_line);
		sv->ok = false;
		snap_settle(op);
		return;
	}
	img_next(sv);
}

/* Delete the tag from the next image that has it; snap_settle once none is left. */
static void img_next(struct snap_vm *sv)
{
	const struct vm_plan *p = vm_plan(sv->vm);
	struct snap_op *op = sv->op;

	while (sv->img_step < p->nsteps) {
		const struct plan_step *s = &p->steps[sv->img_step++];
		char *argv[] = { "qemu-img", "snapshot", "-d", op->name, s->creates, NULL };
		int r;

		/* A stopped VM's ephemeral overlay is made anew at its next boot. */
		if (!s->node || s->always || access(s->creates, F_OK) < 0)
			continue;
		if ((r = child_spawn(&sv->img, argv, NULL, 0)) < 0) {
			err_set(snap_op_err(op), -r, "snapshot %s: %s: cannot run qemu-img: %s", op->name, sv->name,
				strerror(-r));
			sv->ok = false;
			snap_settle(op);
		}
		return;
	}
	sv->ok = true;
	snap_settle(op);
}

/* Drop the op's tag from sv's VM: a job with QEMU, qemu-img without. */
void snap_drop_tag(struct snap_vm *sv)
{
	enum vm_state s;

	if (!sv->vm)
		return;
	s = vm_state(sv->vm);
	if (s == VM_RUNNING || s == VM_PAUSED) {
		start_job(sv, "snapshot-delete", false);
		return;
	}
	snprintf(sv->img_tag, sizeof(sv->img_tag), "vm %s: qemu-img", sv->name);
	child_init(&sv->img, sv->img_tag, img_exited, sv);
	sv->img_step = 0;
	sv->op->pending++;
	img_next(sv);
}

/* ---- phases ---- */

void snap_begin_save(struct snap_op *op)
{
	op->phase = PH_SAVE;
	op->pending++; /* held while the jobs start */
	for (int i = 0; i < op->nvms; i++) {
		struct snap_vm *sv = &op->vms[i];

		sv->running = vm_state(sv->vm) == VM_RUNNING;
		/* snapshot-save resumes a VM that ran; stopped first, every VM
		 * is resumed with the others instead. */
		if (sv->running)
			vm_monitor(sv->vm, "stop", NULL, NULL, NULL);
		start_job(sv, "snapshot-save", true);
	}
	snap_settle(op);
}

static void resume_all(struct snap_op *op)
{
	for (int i = 0; i < op->nvms; i++)
		if (op->vms[i].running && op->vms[i].vm)
			vm_monitor(op->vms[i].vm, "cont", NULL, NULL, NULL);
}

static json_t *save_meta(struct snap_op *op, long long bytes)
{
	json_t *vms = json_array(), *all = json_array();

	for (int i = 0; i < sup.topo->nvms; i++)
		json_array_append_new(all, json_string(sup.topo->vms[i].name));
	for (int i = 0; vms && i < op->nvms; i++) {
		struct snap_vm *sv = &op->vms[i];

		json_array_append_new(vms, json_pack("{s:s, s:b, s:b, s:i, s:o, s:o}", "name", sv->name,
			"running", sv->running, "agent", vm_agent_up(sv->vm),
			"qemu_pid", snap_ephemeral_overlay(sv->vm) ? vm_pid(sv->vm) : 0,
			"fingerprint", snapmeta_fingerprint(vm_config(sv->vm)), "nics", snapmeta_nics(sv->vm)));
	}
	return json_pack("{s:i, s:s, s:I, s:f, s:I, s:s, s:o, s:o}", "version", 1, "name", op->name,
			 "created", (json_int_t)time(NULL), "seconds", op_seconds(op), "bytes", (json_int_t)bytes,
			 "profile", impair_profile(), "topology_vms", all, "vms", vms);
}

/* query-named-block-nodes: the size of the vmstate the save wrote, from
 * the state image's snapshot list. */
static void size_reply(void *opaque, json_t *reply, int err)
{
	struct snap_vm *sv = opaque;
	json_t *node, *sn;
	size_t i, k;

	(void)err;
	json_array_foreach(json_object_get(reply, "return"), i, node) {
		if (strcmp(json_string_value(json_object_get(node, "node-name")) ?: "", PLAN_NODE_STATE) != 0)
			continue;
		json_array_foreach(json_object_get(json_object_get(node, "image"), "snapshots"), k, sn)
			if (strcmp(json_string_value(json_object_get(sn, "name")) ?: "", sv->op->name) == 0)
				sv->bytes = json_integer_value(json_object_get(sn, "vm-state-size"));
	}
	snap_settle(sv->op);
}

/* The jobs are done: every VM that ran resumes, together. */
static void finish_save(struct snap_op *op)
{
	resume_all(op);
	if (op->failed) {
		/* Take the tag back off the VMs that saved it. */
		op->phase = PH_UNDO;
		op->pending++;
		for (int i = 0; i < op->nvms; i++)
			if (op->vms[i].ok)
				start_job(&op->vms[i], "snapshot-delete", false);
		snap_settle(op);
		return;
	}
	op->phase = PH_SIZE;
	op->pending++;
	for (int i = 0; i < op->nvms; i++)
		if (vm_monitor(op->vms[i].vm, "query-named-block-nodes", json_pack("{s:b}", "flat", 1),
			       size_reply, &op->vms[i]) == 0)
			op->pending++;
	snap_settle(op);
}

static void write_save(struct snap_op *op)
{
	long long bytes = 0;
	struct err e;
	json_t *meta;
	double secs;

	for (int i = 0; i < op->nvms; i++)
		bytes += op->vms[i].bytes;
	secs = op_seconds(op);
	if (!(meta = save_meta(op, bytes)) || snapmeta_write(op->name, meta, &e) < 0) {
		if (!meta)
			err_set(&e, ENOMEM, "out of memory");
		json_decref(meta);
		control_reply_error(op->client, 1, "snapshot %s: %s", op->name, e.msg);
		snap_op_free(op);
		return;
	}
	json_decref(meta);
	log_info("snapshot %s saved: %d VMs in %.1f s, %lld bytes", op->name, op->nvms, secs, bytes);
	events_emit(NULL, "snapshot-saved", json_pack("{s:s, s:o, s:f}", "name", op->name, "vms",
						      op_names(op), "seconds", secs));
	control_reply(op->client, json_pack("{s:b, s:s, s:o, s:f, s:I}", "ok", 1, "name", op->name, "vms",
					    op_names(op), "seconds", secs, "bytes", (json_int_t)bytes));
	snap_op_free(op);
}

static void begin_load(struct snap_op *op)
{
	op->phase = PH_LOAD;
	op->pending++;
	for (int i = 0; i < op->nvms; i++) {
		struct snap_vm *sv = &op->vms[i];

		/* The agent's requests belong to the guest being replaced. */
		vm_agent_reset(sv->vm);
		if (vm_state(sv->vm) == VM_RUNNING)
			vm_monitor(sv->vm, "stop", NULL, NULL, NULL);
		start_job(sv, "snapshot-load", true);
	}
	snap_settle(op);
}

static void reply_load(struct snap_op *op)
{
	double secs = op_seconds(op);

	loop_timer_disarm(&op->agent_timer);
	for (int i = 0; i < op->nvms; i++)
		if (op->vms[i].waiting_agent)
			json_array_append_new(op->notes, json_sprintf("%s: the guest agent did not answer "
				"within %d s of the load", op->vms[i].name, AGENT_WAIT_MS / 1000));
	log_info("snapshot %s loaded: %d VMs in %.1f s", op->name, op->nvms, secs);
	events_emit(NULL, "snapshot-loaded", json_pack("{s:s, s:o, s:f}", "name", op->name, "vms",
						       op_names(op), "seconds", secs));
	control_reply(op->client, json_pack("{s:b, s:s, s:o, s:f, s:O}", "ok", 1, "name", op->name, "vms",
					    op_names(op), "seconds", secs, "notes", op->notes));
	snap_op_free(op);
}

static void agent_timeout(struct loop_timer *t)
{
	struct snap_op *op = container_of(t, struct snap_op, agent_timer);

	if (snap_cur == op && op->phase == PH_AGENT)
		reply_load(op);
}

/* The reply waits for the agents that answered at the save, so that exec
 * works as soon as the load returns (the guest reopens its port about a
 * second after it runs again, and the client syncs then). */
static void wait_agents(struct snap_op *op)
{
	json_t *saved = json_object_get(op->meta, "vms");

	op->phase = PH_AGENT;
	op->pending++;
	for (int i = 0; i < op->nvms; i++) {
		struct snap_vm *sv = &op->vms[i];

		if (sv->running && json_is_true(json_object_get(json_array_get(saved, i), "agent")) &&
		    !vm_agent_up(sv->vm)) {
			sv->waiting_agent = true;
			op->pending++;
		}
	}
	op->agent_timer.fire = agent_timeout;
	if (op->pending > 1 && loop_timer_arm(&op->agent_timer, AGENT_WAIT_MS) < 0)
		op->pending = 1; /* no timer: no wait either */
	snap_settle(op);
}

/* After the loads: cables, resume together, profile, leases. */
static void finish_load(struct snap_op *op)
{
	json_t *notes = op->notes = json_array(), *saved = json_object_get(op->meta, "vms");
	const char *profile = json_string_value(json_object_get(op->meta, "profile"));
	struct err e;

	if (op->failed) {
		control_reply_error(op->client, 1, "%s; the VMs are left paused", op->err.msg);
		snap_op_free(op);
		return;
	}
	for (int i = 0; i < op->nvms; i++) {
		json_t *nics = json_object_get(json_array_get(saved, i), "nics");

		for (size_t k = 0; k < json_array_size(nics); k++) {
			json_t *n = json_array_get(nics, k);
			bool up = strcmp(json_string_value(json_object_get(n, "link")) ?: "up", "down") != 0;

			if (vm_set_link(op->vms[i].vm, (int)k, up, NULL, NULL) >= 0)
				sup_link_changed(op->vms[i].vm, (int)k, up);
		}
	}
	resume_all(op);
	if (profile && strcmp(profile, impair_profile()) != 0 && impair_switch(profile, &e) < 0)
		json_array_append_new(notes, json_sprintf("profile %s could not be restored: %s", profile, e.msg));
	for (int i = 0; i < op->nvms; i++) {
		json_t *was = json_object_get(json_array_get(saved, i), "nics"), *now = snapmeta_nics(op->vms[i].vm);

		for (size_t k = 0; k < json_array_size(was); k++) {
			const char *w = json_string_value(json_object_get(json_array_get(was, k), "lease"));
			const char *n = json_string_value(json_object_get(json_array_get(now, k), "lease"));

			if ((w || n) && (!w || !n || strcmp(w, n) != 0))
				json_array_append_new(notes, json_sprintf("%s NIC %zu: %s%s, was %s when saved",
					op->vms[i].name, k, n ? "lease is " : "no lease", n ? n : "",
					w ? w : "none"));
		}
		json_decref(now);
	}
	wait_agents(op);
}

static void finish_delete(struct snap_op *op)
{
	char path[PATHS_MAX];

	if (op->failed) {
		control_reply_error(op->client, 1, "%s", op->err.msg);
	} else if (snapmeta_path(op->name, path, sizeof(path)) < 0 || (unlink(path) < 0 && errno != ENOENT)) {
		control_reply_error(op->client, 1, "snapshot %s: cannot remove %s: %s", op->name, path,
				    strerror(errno));
	} else {
		log_info("snapshot %s deleted", op->name);
		control_reply(op->client, json_pack("{s:b}", "ok", 1));
	}
	snap_op_free(op);
}

/* A save that failed: an older NAME it replaced lost its internal
 * snapshots on the way, so its metadata goes too. */
static void fail_save(struct snap_op *op)
{
	char path[PATHS_MAX];
	bool gone = op->replacing && snapmeta_path(op->name, path, sizeof(path)) == 0 && unlink(path) == 0;

	control_reply_error(op->client, 1, "%s%s", op->err.msg,
			    gone ? "; the earlier snapshot of that name is gone" : "");
	snap_op_free(op);
}

static void advance(struct snap_op *op)
{
	switch (op->phase) {
	case PH_DROP_OLD:
		if (op->failed) {
			fail_save(op);
			return;
		}
		snap_begin_save(op);
		return;
	case PH_SAVE:
		finish_save(op);
		return;
	case PH_SIZE:
		write_save(op);
		return;
	case PH_UNDO:
		fail_save(op);
		return;
	case PH_START:
		if (op->failed) {
			control_reply_error(op->client, 1, "%s", op->err.msg);
			snap_op_free(op);
			return;
		}
		begin_load(op);
		return;
	case PH_LOAD:
		finish_load(op);
		return;
	case PH_AGENT:
		reply_load(op);
		return;
	case PH_DELETE:
		finish_delete(op);
		return;
	}
}

/* ---- hooks ---- */

static struct snap_vm *op_vm(struct vm *vm)
{
	for (int i = 0; snap_cur && i < snap_cur->nall; i++)
		if (snap_cur->vms[i].vm == vm)
			return &snap_cur->vms[i];
	return NULL;
}

void snapshot_on_qmp_event(struct vm *vm, const char *event, json_t *data)
{
	struct snap_vm *sv = op_vm(vm);

	if (sv && sv->job)
		qmp_job_event(sv->job, event, data);
}

void snapshot_abort(const char *why)
{
	struct snap_op *op = snap_cur;

	if (!op)
		return;
	/* Its jobs' callbacks still come, as the VMs' monitors are freed:
	 * the op stays allocated for them and does nothing more. */
	op->aborted = true;
	snap_cur = NULL;
	loop_timer_disarm(&op->agent_timer);
	control_reply_error(op->client, 1, "snapshot %s: %s", op->name, why);
}

void snapshot_on_agent(struct vm *vm, bool up)
{
	struct snap_vm *sv = op_vm(vm);

	if (!sv || !up || !sv->waiting_agent || sv->op->phase != PH_AGENT)
		return;
	sv->waiting_agent = false;
	snap_settle(sv->op);
}

void snapshot_on_state(struct vm *vm)
{
	struct snap_vm *sv = op_vm(vm);
	enum vm_state s = vm_state(vm);

	if (!sv)
		return;
	if (sv->job && (s == VM_STOPPED || s == VM_CRASHED)) {
		qmp_job_lost(sv->job); /* job_done settles it */
		return;
	}
	if (!sv->waiting_start || s == VM_STARTING)
		return;
	sv->waiting_start = false;
	if (s != VM_PAUSED)
		err_set(snap_op_err(sv->op), EIO, "snapshot %s: %s did not start: %s", sv->op->name, sv->name,
			vm_last_error(vm)[0] ? vm_last_error(vm) : vm_state_name(s));
	snap_settle(sv->op);
}


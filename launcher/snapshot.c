/* snapshot.c - whole-cluster snapshots (snapshot.h): the "snapshot" verb.
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
#include "launcher/snapshot.h"

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
#include "launcher/snapmeta.h"
#include "launcher/supervisor_impl.h"
#include "qmp/job.h"

enum snap_action { SNAP_SAVE, SNAP_LOAD, SNAP_DELETE };
enum snap_phase { PH_DROP_OLD, PH_SAVE, PH_SIZE, PH_UNDO, PH_START, PH_LOAD, PH_AGENT, PH_DELETE };

/* After a load, how long the reply waits for the guest agents that
 * answered at the save to answer again (they sync afresh, ~1 s). */
#define AGENT_WAIT_MS 15000

struct snap_vm {
	struct snap_op *op;
	struct vm *vm;                 /* NULL: in the metadata, not in this supervisor */
	char name[64];
	struct qmp_job *job;
	bool running;                  /* save: was running, resumed after; load: resume after */
	bool waiting_start;            /* load: started paused, not there yet */
	bool waiting_agent;            /* load: its agent answered at the save, not yet again */
	bool ok;                       /* this phase's work on it succeeded */
	long long bytes;               /* save: its vmstate's size (vm-state-size) */
	/* qemu-img snapshot -d on a VM without QEMU, one image after another */
	struct child img;
	char img_tag[96];
	int img_step;
};

struct snap_op {
	enum snap_action action;
	enum snap_phase phase;
	char name[SNAP_NAME_MAX + 1];
	struct control_client *client;
	int nvms;                      /* the VMs of the snapshot, vms[0..nvms) */
	int nall;                      /* and after them, VMs that only drop an old tag */
	struct snap_vm *vms;
	int pending;
	bool failed;
	struct err err;                /* the first failure */
	uint64_t t0;
	json_t *meta;                  /* load, delete: the metadata read */
	bool replacing;                /* save: an older NAME's tags were dropped */
	json_t *notes;                 /* load: what could not be restored */
	struct loop_timer agent_timer; /* load: the wait for the agents */
	struct loop_deferred free_d;
};

static struct snap_op *cur;
static unsigned job_seq;

static const char *const action_names[] = { "save", "load", "delete" };

static const struct plan_step *ephemeral_overlay(struct vm *vm)
{
	const struct vm_plan *p = vm_plan(vm);

	for (int i = 0; i < p->nsteps; i++)
		if (p->steps[i].node && p->steps[i].always)
			return &p->steps[i];
	return NULL;
}

/* ---- the operation ---- */

static struct err *op_err(struct snap_op *op)
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
static void op_free(struct snap_op *op)
{
	loop_timer_disarm(&op->agent_timer);
	if (cur == op)
		cur = NULL;
	loop_defer(&op->free_d, op_reap);
}

static struct snap_op *op_new(struct control_client *c, enum snap_action a, const char *name, int nvms)
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

static struct snap_vm *op_add(struct snap_op *op, struct vm *vm, const char *name)
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
static void settle(struct snap_op *op)
{
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
		err_set(op_err(op), EIO, "snapshot %s: %s: %s", op->name, sv->name, error);
	settle(op);
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
		err_set(op_err(op), ENOMEM, "out of memory");
		return;
	}
	if ((r = qmp_job_start(exec_on_vm, sv->vm, cmd, id, args, job_done, sv, &sv->job)) < 0) {
		err_set(op_err(op), -r, "snapshot %s: %s: cannot start %s: %s", op->name, sv->name, cmd,
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
		err_set(op_err(op), EIO, "snapshot %s: %s: qemu-img snapshot -d %s%s%s", op->name, sv->name,
			how, c->last_line[0] ? ": " : "", c->last_line);
		sv->ok = false;
		settle(op);
		return;
	}
	img_next(sv);
}

/* Delete the tag from the next image that has it; settle once none is left. */
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
			err_set(op_err(op), -r, "snapshot %s: %s: cannot run qemu-img: %s", op->name, sv->name,
				strerror(-r));
			sv->ok = false;
			settle(op);
		}
		return;
	}
	sv->ok = true;
	settle(op);
}

/* Drop the op's tag from sv's VM: a job with QEMU, qemu-img without. */
static void drop_tag(struct snap_vm *sv)
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

static void begin_save(struct snap_op *op)
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
	settle(op);
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
			"qemu_pid", ephemeral_overlay(sv->vm) ? vm_pid(sv->vm) : 0,
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
	settle(sv->op);
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
		settle(op);
		return;
	}
	op->phase = PH_SIZE;
	op->pending++;
	for (int i = 0; i < op->nvms; i++)
		if (vm_monitor(op->vms[i].vm, "query-named-block-nodes", json_pack("{s:b}", "flat", 1),
			       size_reply, &op->vms[i]) == 0)
			op->pending++;
	settle(op);
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
		op_free(op);
		return;
	}
	json_decref(meta);
	log_line("snapshot %s saved: %d VMs in %.1f s, %lld bytes", op->name, op->nvms, secs, bytes);
	events_emit(NULL, "snapshot-saved", json_pack("{s:s, s:o, s:f}", "name", op->name, "vms",
						      op_names(op), "seconds", secs));
	control_reply(op->client, json_pack("{s:b, s:s, s:o, s:f, s:I}", "ok", 1, "name", op->name, "vms",
					    op_names(op), "seconds", secs, "bytes", (json_int_t)bytes));
	op_free(op);
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
	settle(op);
}

static void reply_load(struct snap_op *op)
{
	double secs = op_seconds(op);

	loop_timer_disarm(&op->agent_timer);
	for (int i = 0; i < op->nvms; i++)
		if (op->vms[i].waiting_agent)
			json_array_append_new(op->notes, json_sprintf("%s: the guest agent did not answer "
				"within %d s of the load", op->vms[i].name, AGENT_WAIT_MS / 1000));
	log_line("snapshot %s loaded: %d VMs in %.1f s", op->name, op->nvms, secs);
	events_emit(NULL, "snapshot-loaded", json_pack("{s:s, s:o, s:f}", "name", op->name, "vms",
						       op_names(op), "seconds", secs));
	control_reply(op->client, json_pack("{s:b, s:s, s:o, s:f, s:O}", "ok", 1, "name", op->name, "vms",
					    op_names(op), "seconds", secs, "notes", op->notes));
	op_free(op);
}

static void agent_timeout(struct loop_timer *t)
{
	struct snap_op *op = container_of(t, struct snap_op, agent_timer);

	if (cur == op && op->phase == PH_AGENT)
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
	settle(op);
}

/* After the loads: cables, resume together, profile, leases. */
static void finish_load(struct snap_op *op)
{
	json_t *notes = op->notes = json_array(), *saved = json_object_get(op->meta, "vms");
	const char *profile = json_string_value(json_object_get(op->meta, "profile"));
	struct err e;

	if (op->failed) {
		control_reply_error(op->client, 1, "%s; the VMs are left paused", op->err.msg);
		op_free(op);
		return;
	}
	for (int i = 0; i < op->nvms; i++) {
		json_t *nics = json_object_get(json_array_get(saved, i), "nics");

		for (size_t k = 0; k < json_array_size(nics); k++) {
			json_t *n = json_array_get(nics, k);
			bool up = strcmp(json_string_value(json_object_get(n, "link")) ?: "up", "down") != 0;

			if (vm_set_link(op->vms[i].vm, (int)k, up, NULL, NULL) >= 0)
				events_emit(op->vms[i].name, "link", json_pack("{s:i, s:b}", "nic", (int)k, "up", up));
		}
	}
	resume_all(op);
	if (profile && strcmp(profile, impair_profile()) != 0) {
		char prev[128];

		snprintf(prev, sizeof(prev), "%s", impair_profile());
		if (impair_switch(profile, &e) < 0)
			json_array_append_new(notes, json_sprintf("profile %s could not be restored: %s", profile,
								  e.msg));
		else
			events_emit(NULL, "profile", json_pack("{s:s, s:s}", "profile", profile, "previous", prev));
	}
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
		log_line("snapshot %s deleted", op->name);
		control_reply(op->client, json_pack("{s:b}", "ok", 1));
	}
	op_free(op);
}

/* A save that failed: an older NAME it replaced lost its internal
 * snapshots on the way, so its metadata goes too. */
static void fail_save(struct snap_op *op)
{
	char path[PATHS_MAX];
	bool gone = op->replacing && snapmeta_path(op->name, path, sizeof(path)) == 0 && unlink(path) == 0;

	control_reply_error(op->client, 1, "%s%s", op->err.msg,
			    gone ? "; the earlier snapshot of that name is gone" : "");
	op_free(op);
}

static void advance(struct snap_op *op)
{
	switch (op->phase) {
	case PH_DROP_OLD:
		if (op->failed) {
			fail_save(op);
			return;
		}
		begin_save(op);
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
			op_free(op);
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
	for (int i = 0; cur && i < cur->nall; i++)
		if (cur->vms[i].vm == vm)
			return &cur->vms[i];
	return NULL;
}

void snapshot_on_qmp_event(struct vm *vm, const char *event, json_t *data)
{
	struct snap_vm *sv = op_vm(vm);

	if (sv && sv->job)
		qmp_job_event(sv->job, event, data);
}

void snapshot_on_agent(struct vm *vm, bool up)
{
	struct snap_vm *sv = op_vm(vm);

	if (!sv || !up || !sv->waiting_agent || sv->op->phase != PH_AGENT)
		return;
	sv->waiting_agent = false;
	settle(sv->op);
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
		err_set(op_err(sv->op), EIO, "snapshot %s: %s did not start: %s", sv->op->name, sv->name,
			vm_last_error(vm)[0] ? vm_last_error(vm) : vm_state_name(s));
	settle(sv->op);
}

/* ---- the verb ---- */

static bool busy(struct control_client *c)
{
	if (!cur)
		return false;
	control_reply_error(c, 1, "a snapshot %s of %s is in progress", action_names[cur->action], cur->name);
	return true;
}

/* The VM may take part (QEMU up, or not at all): false after setting e. */
static bool state_ok(const char *name, struct vm *vm, bool stopped_ok, struct err *e)
{
	enum vm_state s = vm_state(vm);

	if (s == VM_RUNNING || s == VM_PAUSED || (stopped_ok && (s == VM_STOPPED || s == VM_CRASHED)))
		return true;
	err_set(e, EBUSY, "snapshot %s: %s is %s: try again when it is %s", name, vm_name(vm),
		vm_state_name(s), stopped_ok ? "running or stopped" : "running or paused");
	return false;
}

static void cmd_save(struct control_client *c, const char *name, json_t *req)
{
	json_t *names = json_object_get(req, "vms"), *old, *v;
	struct snap_op *op;
	struct err e;
	size_t i;

	if (names && !json_is_array(names)) {
		control_reply_error(c, 2, "snapshot save: \"vms\" is a list of VM names");
		return;
	}
	json_array_foreach(names, i, v)
		if (!json_is_string(v) || !sup_find_vm(json_string_value(v))) {
			control_reply_error(c, 2, "no VM named \"%s\" in %s",
					    json_is_string(v) ? json_string_value(v) : "?", sup.topo->path);
			return;
		}
	old = snapmeta_read(name);
	if (!(op = op_new(c, SNAP_SAVE, name, sup.nvms + (int)json_array_size(json_object_get(old, "vms"))))) {
		json_decref(old);
		control_reply_error(c, 1, "out of memory");
		return;
	}
	if (json_array_size(names)) {
		json_array_foreach(names, i, v) {
			struct vm *vm = sup_find_vm(json_string_value(v));
			bool dup = false;

			for (int k = 0; k < op->nvms; k++)
				dup |= op->vms[k].vm == vm;
			if (!dup)
				op_add(op, vm, vm_name(vm));
		}
	} else {
		for (int k = 0; k < sup.nvms; k++)
			if (vm_state(sup.vms[k]) == VM_RUNNING || vm_state(sup.vms[k]) == VM_PAUSED)
				op_add(op, sup.vms[k], vm_name(sup.vms[k]));
		if (op->nvms == 0) {
			json_decref(old);
			op_free(op);
			control_reply_error(c, 1, "snapshot %s: no VM is running or paused: nothing to save", name);
			return;
		}
	}
	for (int k = 0; k < op->nvms; k++)
		if (!state_ok(name, op->vms[k].vm, false, &e)) {
			json_decref(old);
			op_free(op);
			control_reply_error(c, 1, "%s", e.msg);
			return;
		}
	cur = op;
	if (!old) {
		begin_save(op);
		return;
	}
	/* A save over NAME replaces it: its tags go first, wherever they are
	 * (QEMU refuses a tag that exists). */
	op->phase = PH_DROP_OLD;
	op->replacing = true;
	op->pending++;
	{
		int nsave = op->nvms;
		json_t *ov;

		json_array_foreach(json_object_get(old, "vms"), i, ov) {
			const char *vn = json_string_value(json_object_get(ov, "name"));
			struct vm *vm = vn ? sup_find_vm(vn) : NULL;
			bool in = false;

			for (int k = 0; k < nsave; k++)
				in |= op->vms[k].vm == vm;
			if (vm && !in && state_ok(name, vm, true, &e))
				op_add(op, vm, vn);
		}
		for (int k = 0; k < op->nall; k++)
			drop_tag(&op->vms[k]);
		op->nvms = nsave; /* the others only have their tag dropped */
	}
	json_decref(old);
	settle(op);
}

/* Refuse a load whose VMs no longer fit; e says the first difference. */
static int load_check(const char *name, json_t *meta, struct err *e)
{
	json_t *all = json_object_get(meta, "topology_vms"), *v;
	size_t i;

	for (int k = 0; k < sup.topo->nvms; k++) {
		bool was = false;

		json_array_foreach(all, i, v)
			was |= strcmp(json_string_value(v) ?: "", sup.topo->vms[k].name) == 0;
		if (!was)
			return err_set(e, EINVAL, "snapshot %s: VM %s was added to the topology since the save",
				       name, sup.topo->vms[k].name);
	}
	json_array_foreach(json_object_get(meta, "vms"), i, v) {
		const char *vn = json_string_value(json_object_get(v, "name"));
		struct vm *vm = vn ? sup_find_vm(vn) : NULL;
		json_t *now;
		int r;

		if (!vn || !topo_find_vm(sup.topo, vn))
			return err_set(e, EINVAL, "snapshot %s: VM %s is no longer in the topology", name,
				       vn ? vn : "?");
		if (!vm)
			return err_set(e, EINVAL, "snapshot %s: VM %s is not run by this supervisor (--only)",
				       name, vn);
		if (!(now = snapmeta_fingerprint(vm_config(vm))))
			return err_set(e, ENOMEM, "out of memory");
		r = snapmeta_diff(name, vn, json_object_get(v, "fingerprint"), now, e);
		json_decref(now);
		if (r < 0)
			return r;
		if (!state_ok(name, vm, true, e))
			return -EBUSY;
		if (ephemeral_overlay(vm) &&
		    json_integer_value(json_object_get(v, "qemu_pid")) != vm_pid(vm)) {
			const char *path = ephemeral_overlay(vm)->creates, *base = strrchr(path, '/');

			return err_set(e, ENOENT, "snapshot %s: %s disk %s is ephemeral (made anew at each "
				       "boot) and the VM has %s since the save: the snapshot is gone with it",
				       name, vn, base ? base + 1 : path, vm_pid(vm) ? "restarted" : "stopped");
		}
	}
	return 0;
}

static void cmd_load(struct control_client *c, const char *name, json_t *meta)
{
	json_t *v;
	struct snap_op *op;
	struct err e;
	size_t i;

	if (load_check(name, meta, &e) < 0) {
		control_reply_error(c, 1, "%s", e.msg);
		json_decref(meta);
		return;
	}
	if (!(op = op_new(c, SNAP_LOAD, name, (int)json_array_size(json_object_get(meta, "vms"))))) {
		json_decref(meta);
		control_reply_error(c, 1, "out of memory");
		return;
	}
	op->meta = meta;
	op->phase = PH_START;
	op->pending++;
	cur = op;
	json_array_foreach(json_object_get(meta, "vms"), i, v) {
		const char *vn = json_string_value(json_object_get(v, "name"));
		struct snap_vm *sv = op_add(op, sup_find_vm(vn), vn);
		enum vm_state s = vm_state(sv->vm);
		int r;

		sv->running = json_is_true(json_object_get(v, "running"));
		if (s != VM_STOPPED && s != VM_CRASHED)
			continue;
		/* Paused before its first instruction: the load replaces it all. */
		if ((r = vm_start_paused(sv->vm)) < 0) {
			err_set(op_err(op), -r, "snapshot %s: %s cannot start: %s", name, vn,
				vm_last_error(sv->vm)[0] ? vm_last_error(sv->vm) : strerror(-r));
			continue;
		}
		if (vm_state(sv->vm) == VM_STARTING) {
			sv->waiting_start = true;
			op->pending++;
		}
	}
	settle(op);
}

static void cmd_delete(struct control_client *c, const char *name, json_t *meta)
{
	json_t *v;
	struct snap_op *op;
	struct err e;
	size_t i;

	json_array_foreach(json_object_get(meta, "vms"), i, v) {
		struct vm *vm = sup_find_vm(json_string_value(json_object_get(v, "name")) ?: "");

		if (vm && !state_ok(name, vm, true, &e)) {
			control_reply_error(c, 1, "%s", e.msg);
			json_decref(meta);
			return;
		}
	}
	if (!(op = op_new(c, SNAP_DELETE, name, (int)json_array_size(json_object_get(meta, "vms"))))) {
		json_decref(meta);
		control_reply_error(c, 1, "out of memory");
		return;
	}
	op->meta = meta;
	op->phase = PH_DELETE;
	op->pending++;
	cur = op;
	/* VMs no longer in the topology keep their images as they are. */
	json_array_foreach(json_object_get(meta, "vms"), i, v) {
		const char *vn = json_string_value(json_object_get(v, "name")) ?: "?";

		drop_tag(op_add(op, sup_find_vm(vn), vn));
	}
	settle(op);
}

void sup_cmd_snapshot(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	const char *action = json_string_value(json_object_get(req, "action"));
	const char *name = json_string_value(json_object_get(req, "name"));
	json_t *meta;

	(void)v;
	if (!action || (strcmp(action, "save") && strcmp(action, "load") && strcmp(action, "list") &&
			strcmp(action, "delete"))) {
		control_reply_error(c, 2, "snapshot needs an action: save, load, list or delete");
		return;
	}
	if (strcmp(action, "list") == 0) {
		/* "o" steals a NULL too: control_reply answers a failed pack */
		control_reply(c, json_pack("{s:b, s:o}", "ok", 1, "snapshots", snapmeta_list()));
		return;
	}
	if (!snapmeta_name_ok(name)) {
		control_reply_error(c, 2, "snapshot names are 1 to %d characters of A-Z a-z 0-9 . _ - (got \"%s\")",
				    SNAP_NAME_MAX, name ? name : "");
		return;
	}
	if (sup.shutting_down) {
		control_reply_error(c, 1, "the supervisor is shutting down");
		return;
	}
	if (busy(c))
		return;
	if (strcmp(action, "save") == 0) {
		cmd_save(c, name, req);
		return;
	}
	if (!(meta = snapmeta_read(name))) {
		if (errno == ENOENT)
			control_reply_error(c, 1, "no snapshot named \"%s\" (n3x-ctl snapshot list)", name);
		else
			control_reply_error(c, 1, "snapshot %s: cannot read its metadata in %s/snapshots: %s",
					    name, sup.state, strerror(errno));
		return;
	}
	if (strcmp(action, "load") == 0)
		cmd_load(c, name, meta);
	else
		cmd_delete(c, name, meta);
}

/* snapverb.c - the snapshot verb (control.h): a request checked against
 * the VMs and the metadata, then handed to an operation (snapshot.c). */
#include "launcher/snapshot_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/supervisor_impl.h"

/* ---- the verb ---- */

static bool busy(struct control_client *c)
{
	if (!snap_cur)
		return false;
	control_reply_error(c, 1, "a snapshot %s of %s is in progress", snap_action_names[snap_cur->action], snap_cur->name);
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
	if (!(op = snap_op_new(c, SNAP_SAVE, name, sup.nvms + (int)json_array_size(json_object_get(old, "vms"))))) {
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
				snap_op_add(op, vm, vm_name(vm));
		}
	} else {
		for (int k = 0; k < sup.nvms; k++)
			if (vm_state(sup.vms[k]) == VM_RUNNING || vm_state(sup.vms[k]) == VM_PAUSED)
				snap_op_add(op, sup.vms[k], vm_name(sup.vms[k]));
		if (op->nvms == 0) {
			json_decref(old);
			snap_op_free(op);
			control_reply_error(c, 1, "snapshot %s: no VM is running or paused: nothing to save", name);
			return;
		}
	}
	for (int k = 0; k < op->nvms; k++)
		if (!state_ok(name, op->vms[k].vm, false, &e)) {
			json_decref(old);
			snap_op_free(op);
			control_reply_error(c, 1, "%s", e.msg);
			return;
		}
	snap_cur = op;
	if (!old) {
		snap_begin_save(op);
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
				snap_op_add(op, vm, vn);
		}
		for (int k = 0; k < op->nall; k++)
			snap_drop_tag(&op->vms[k]);
		op->nvms = nsave; /* the others only have their tag dropped */
	}
	json_decref(old);
	snap_settle(op);
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
		if (snap_ephemeral_overlay(vm) &&
		    json_integer_value(json_object_get(v, "qemu_pid")) != vm_pid(vm)) {
			const char *path = snap_ephemeral_overlay(vm)->creates, *base = strrchr(path, '/');

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
	if (!(op = snap_op_new(c, SNAP_LOAD, name, (int)json_array_size(json_object_get(meta, "vms"))))) {
		json_decref(meta);
		control_reply_error(c, 1, "out of memory");
		return;
	}
	op->meta = meta;
	op->phase = PH_START;
	op->pending++;
	snap_cur = op;
	json_array_foreach(json_object_get(meta, "vms"), i, v) {
		const char *vn = json_string_value(json_object_get(v, "name"));
		struct snap_vm *sv = snap_op_add(op, sup_find_vm(vn), vn);
		enum vm_state s = vm_state(sv->vm);
		int r;

		sv->running = json_is_true(json_object_get(v, "running"));
		if (s != VM_STOPPED && s != VM_CRASHED)
			continue;
		/* Paused before its first instruction: the load replaces it all. */
		if ((r = vm_start_paused(sv->vm)) < 0) {
			err_set(snap_op_err(op), -r, "snapshot %s: %s cannot start: %s", name, vn,
				vm_last_error(sv->vm)[0] ? vm_last_error(sv->vm) : strerror(-r));
			continue;
		}
		if (vm_state(sv->vm) == VM_STARTING) {
			sv->waiting_start = true;
			op->pending++;
		}
	}
	snap_settle(op);
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
	if (!(op = snap_op_new(c, SNAP_DELETE, name, (int)json_array_size(json_object_get(meta, "vms"))))) {
		json_decref(meta);
		control_reply_error(c, 1, "out of memory");
		return;
	}
	op->meta = meta;
	op->phase = PH_DELETE;
	op->pending++;
	snap_cur = op;
	/* VMs no longer in the topology keep their images as they are. */
	json_array_foreach(json_object_get(meta, "vms"), i, v) {
		const char *vn = json_string_value(json_object_get(v, "name")) ?: "?";

		snap_drop_tag(snap_op_add(op, sup_find_vm(vn), vn));
	}
	snap_settle(op);
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

/* schedverb.c - the supervisor's side of schedules: the `schedule` control
 * verb (control.h), the ops a step runs through (schedule.h), and the
 * fabric's `schedule = NAME`, started once the VMs are.
 *
 * A profile step is `tc PROFILE` (impair_switch: all or nothing, its own
 * "profile" event); a link step is `link VM[/N] up|down` (QMP set_link,
 * done once QEMU acknowledged every NIC, each change a "link" event as
 * with the verb).  Partition and heal are launcher/partition.h's
 * (partition_apply_spec, partition_heal: all or nothing, their own
 * "partition" and "heal" events); a tree without it fails those steps with
 * "partitions are not built in".
 */
#include "launcher/supervisor_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "launcher/impair.h"
#include "launcher/partition.h"
#include "launcher/schedule.h"

/* ---- the ops ---- */

static int op_profile(void *opaque, const char *profile, struct err *e)
{
	(void)opaque;
	return impair_switch(profile, e);
}

static int op_partition(void *opaque, const char *spec, struct err *e)
{
	(void)opaque;
	return partition_apply_spec(spec, e);
}

static int op_heal(void *opaque, struct err *e)
{
	(void)opaque;
	return partition_heal(e);
}

/* One link step: its NICs' set_links still out, and the first failure. */
struct sched_link {
	struct schedule_call *call;
	struct vm *vm;
	bool up;
	int pending;            /* replies to come, +1 while sending */
	int r;
	struct err err;
	struct sched_nic {
		struct sched_link *l;
		int nic;
	} nics[TOPO_MAX_NICS];
};

static void link_maybe_done(struct sched_link *l)
{
	if (--l->pending > 0)
		return;
	schedule_call_done(l->call, l->r, l->r < 0 ? l->err.msg : NULL);
	free(l);
}

static void link_reply(void *opaque, json_t *reply, int err)
{
	struct sched_nic *n = opaque;
	struct sched_link *l = n->l;
	json_t *error = json_object_get(reply, "error");
	const char *desc = json_string_value(json_object_get(error, "desc"));

	/* No reply (err < 0): QEMU went away first, and the next one gets the
	 * setting, as with the link verb. */
	(void)err;
	if (error && !l->r) {
		l->r = err_set(&l->err, EIO, "%s: QEMU refused to %s the cable of NIC %d: %s", vm_name(l->vm),
			       l->up ? "plug" : "pull", n->nic, desc ? desc : "no reason given");
	} else if (!error) {
		sup_link_changed(l->vm, n->nic, l->up);
	}
	link_maybe_done(l);
}

static int op_link(void *opaque, const char *name, int nic, bool up, struct schedule_call *call, struct err *e)
{
	struct vm *vm = sup_find_vm(name);
	struct sched_link *l;
	int first, last;

	(void)opaque;
	if (!vm)
		return err_set(e, ENOENT, "%s is not in this run (n3x-launch --only)", name);
	first = nic < 0 ? 0 : nic;
	last = nic < 0 ? vm_config(vm)->nnics - 1 : nic;
	if (!(l = calloc(1, sizeof(*l))))
		return err_set(e, ENOMEM, "out of memory");
	*l = (struct sched_link){ .call = call, .vm = vm, .up = up, .pending = 1 };
	for (int i = first; i <= last; i++) {
		int r;

		l->nics[i] = (struct sched_nic){ .l = l, .nic = i };
		r = vm_set_link(vm, i, up, link_reply, &l->nics[i]);
		if (r == 1)
			l->pending++;
		else if (r == 0)
			sup_link_changed(vm, i, up); /* no QEMU now: the next one gets it */
		else if (r != -EALREADY && !l->r)
			l->r = err_sys(&l->err, -r, "%s: cannot %s the cable of NIC %d", name, up ? "plug" : "pull", i);
	}
	if (l->pending == 1) { /* nothing went to QEMU: done now */
		int r = l->r;

		if (r < 0)
			err_set(e, -r, "%s", l->err.msg);
		free(l);
		return r;
	}
	link_maybe_done(l); /* drops the sending hold; replies finish it */
	return 1;
}

static void op_log(void *opaque, const char *line)
{
	(void)opaque;
	log_line("%s", line);
}

/* ---- the verb ---- */

/* "a, b" of the topology's schedules, into buf. */
static const char *defined(char *buf, size_t size)
{
	buf[0] = '\0';
	for (int i = 0; i < sup.topo->nschedules; i++)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? ", " : "", sup.topo->schedules[i].name);
	return sup.topo->nschedules ? buf : "none";
}

static void reply_status(struct control_client *c, const char *stopped)
{
	json_t *names = json_array();

	for (int i = 0; names && i < sup.topo->nschedules; i++)
		if (json_array_append_new(names, json_string(sup.topo->schedules[i].name)) < 0) {
			json_decref(names);
			names = NULL;
		}
	/* "o" steals; a NULL reply is answered as out of memory */
	control_reply(c, json_pack("{s:b, s:o, s:o, s:s?}", "ok", 1, "schedule", schedule_status_json(true),
				   "defined", names, "stopped", stopped));
}

/* {"cmd":"schedule","run":NAME} | {"stop":true} | {"status":true} */
void sup_cmd_schedule(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	const char *run = json_string_value(json_object_get(req, "run"));
	const struct topo_schedule *sc;
	char names[512], stopped[TOPO_NAME_MAX + 1];
	struct err e;

	(void)v;
	if (run) {
		if (!(sc = topo_find_schedule(sup.topo, run))) {
			control_reply_error(c, 2, "no schedule \"%s\" in %s (defined: %s)", run, sup.topo->path,
					    defined(names, sizeof(names)));
			return;
		}
		if (sup.shutting_down) {
			control_reply_error(c, 1, "the supervisor is shutting down");
			return;
		}
		if (schedule_run(sc, &e) < 0) {
			control_reply_error(c, 1, "%s", e.msg);
			return;
		}
		reply_status(c, NULL);
	} else if (json_is_true(json_object_get(req, "stop"))) {
		snprintf(stopped, sizeof(stopped), "%s", schedule_running() ? schedule_running() : "");
		schedule_stop("stopped");
		reply_status(c, stopped[0] ? stopped : NULL);
	} else if (json_is_true(json_object_get(req, "status"))) {
		reply_status(c, NULL);
	} else {
		control_reply_error(c, 2, "schedule needs \"run\": NAME, \"stop\": true or \"status\": true");
	}
}

void sup_schedule_start(void)
{
	static const struct schedule_ops ops = {
		.profile = op_profile,
		.partition = op_partition,
		.heal = op_heal,
		.link = op_link,
		.log = op_log,
	};
	const char *name = sup.topo->fabric.schedule;
	struct err e;

	schedule_set_ops(&ops);
	if (name && schedule_run(topo_find_schedule(sup.topo, name), &e) < 0)
		log_line("%s", e.msg);
}

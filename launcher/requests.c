/* requests.c - the supervisor's control verbs (control.h describes the
 * protocol), in one table.  Each handler answers exactly once, now or
 * through an op (waiters.c); every failure, out of memory included, is
 * answered, so no client is left waiting.
 */
#include "launcher/supervisor_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "launcher/impair.h"
#include "launcher/partition.h"
#include "launcher/schedule.h"
#include "launcher/topverb.h"
#include "net/tap.h"

struct sup_verb {
	const char *name;
	void (*handler)(struct control_client *c, json_t *req, const struct sup_verb *v);
	int (*vm_fn)(struct vm *vm);   /* lifecycle verbs: the VM call ... */
	unsigned ok, fail;             /* ... and the states that settle it */
};

struct vm *sup_find_vm(const char *name)
{
	for (int i = 0; i < sup.nvms; i++)
		if (strcmp(vm_name(sup.vms[i]), name) == 0)
			return sup.vms[i];
	return NULL;
}

static void reply_nomem(struct control_client *c)
{
	control_reply_error(c, 1, "out of memory");
}

/* ---- status ---- */

/* What the fabric knows of a VM's NICs: its taps while QEMU runs, leases. */
static void status_nics(const struct vm *vm, json_t *vmj)
{
	const struct topo_vm *cfg = vm_config(vm);
	json_t *nics = json_object_get(vmj, "nics");
	bool up = json_is_integer(json_object_get(vmj, "pid"));

	for (int i = 0; sup.fabric && i < cfg->nnics; i++) {
		json_t *n = json_array_get(nics, i);
		char tap[32], port[32], buf[INET_ADDRSTRLEN];
		const char *ip = fabric_lease(sup.fabric, cfg->nics[i].mac, buf);

		tap_name(cfg->name, i, tap, sizeof(tap));
		tap_port_name(tap, port, sizeof(port));
		json_object_set_new(n, "tap", up ? json_string(tap) : json_null());
		json_object_set_new(n, "port", up ? json_string(port) : json_null());
		json_object_set_new(n, "lease", json_boolean(ip != NULL));
		if (ip)
			json_object_set_new(n, "ip", json_string(ip));
	}
}

/* The topology's [profile NAME]s, which `tc PROFILE` takes besides the
 * built-in "default" (n3x-ctl's completion offers them); NULL: no memory. */
static json_t *profile_names(void)
{
	json_t *names = json_array();

	for (int i = 0; names && i < sup.topo->nprofiles; i++)
		if (json_array_append_new(names, json_string(sup.topo->profiles[i].name)) < 0) {
			json_decref(names);
			names = NULL;
		}
	return names;
}

/* The status reply, or NULL when out of memory (control.c answers that). */
static json_t *status_json(void)
{
	json_t *vms = json_array(), *fab;

	for (int i = 0; vms && i < sup.nvms; i++) {
		json_t *v = vm_status_json(sup.vms[i]);

		if (v) {
			status_nics(sup.vms[i], v);
			if (json_object_set_new(v, "ready", json_boolean(sup_vm_ready(sup.vms[i]))) < 0 ||
			    (vm_config(sup.vms[i])->site &&
			     json_object_set_new(v, "site", json_string(vm_config(sup.vms[i])->site)) < 0)) {
				json_decref(v);
				v = NULL;
			}
		}
		if (json_array_append_new(vms, v) < 0) {
			json_decref(vms);
			return NULL;
		}
	}
	fab = json_pack("{s:s, s:n, s:s, s:s, s:s, s:i}", "name", sup.topo->fabric.name, "netns",
			"profile", impair_profile(), "run_dir", sup.run, "state_dir", sup.state,
			"pid", (int)getpid());
	if (fab && json_object_set_new(fab, "schedule", schedule_status_json(false)) < 0) {
		json_decref(fab);
		fab = NULL;
	}
	if (fab && sup.fabric) {
		json_t *f = fabric_status_json(sup.fabric);

		if (json_object_update(fab, f) < 0) {
			json_decref(fab);
			fab = NULL;
		}
		json_decref(f);
	}
	if (fab && json_object_set_new(fab, "partition", partition_status_json()) < 0) {
		json_decref(fab);
		fab = NULL;
	}
	if (fab && json_object_set_new(fab, "profiles", profile_names()) < 0) {
		json_decref(fab);
		fab = NULL;
	}
	/* "o" steals both, even when the pack fails */
	return json_pack("{s:b, s:o, s:o}", "ok", 1, "fabric", fab, "vms", vms);
}

static void cmd_status(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	(void)req, (void)v;
	control_reply(c, status_json());
}

/* ---- start, stop, kill, restart, pause, resume ---- */

/* Collect the VMs a request names ("vms" or "all"); NULL after replying. */
static struct vm **request_vms(struct control_client *c, json_t *req, int *n)
{
	json_t *names = json_object_get(req, "vms"), *v;
	bool all = json_is_true(json_object_get(req, "all"));
	struct vm **list;
	size_t i;

	*n = 0;
	if (!all && (!json_is_array(names) || json_array_size(names) == 0)) {
		control_reply_error(c, 2, "name one or more VMs, or --all");
		return NULL;
	}
	list = calloc(all ? (size_t)sup.nvms + 1 : json_array_size(names), sizeof(*list));
	if (!list) {
		reply_nomem(c);
		return NULL;
	}
	if (all) {
		for (int k = 0; k < sup.nvms; k++)
			list[(*n)++] = sup.vms[k];
		return list;
	}
	json_array_foreach(names, i, v) {
		struct vm *vm = json_is_string(v) ? sup_find_vm(json_string_value(v)) : NULL;

		if (!vm) {
			control_reply_error(c, 2, "no VM named \"%s\" in %s",
					    json_is_string(v) ? json_string_value(v) : "?", sup.topo->path);
			free(list);
			return NULL;
		}
		list[(*n)++] = vm;
	}
	return list;
}

static void cmd_lifecycle(struct control_client *c, json_t *req, const struct sup_verb *verb)
{
	struct op *op;
	struct vm **list;
	int n;

	if (sup.shutting_down) {
		control_reply_error(c, 1, "the supervisor is shutting down");
		return;
	}
	if (!(list = request_vms(c, req, &n)))
		return;
	if (!(op = sup_op_new(c))) {
		free(list);
		reply_nomem(c);
		return;
	}
	op->pending++; /* held until every VM is asked */
	for (int i = 0; i < n; i++) {
		struct waiter *w;
		int r = verb->vm_fn(list[i]);

		if (r == -EIO && vm_last_error(list[i])[0]) { /* the start failed at once: say why */
			err_set(sup_op_err(op, 1), EIO, "%s: %s", vm_name(list[i]), vm_last_error(list[i]));
			continue;
		}
		if (r == -ENOTCONN) {
			err_set(sup_op_err(op, 1), -r, "%s: the monitor is lost; reconnecting", vm_name(list[i]));
			continue;
		}
		if (r < 0 && r != -EALREADY) {
			err_set(sup_op_err(op, 1), -r, "%s: cannot %s a VM that is %s", vm_name(list[i]),
				verb->name, vm_state_name(vm_state(list[i])));
			continue;
		}
		if ((w = sup_waiter_add(op, list[i], verb->ok, verb->fail)))
			sup_waiter_check_state(w);
		else
			err_set(sup_op_err(op, 1), ENOMEM, "out of memory");
	}
	free(list);
	op->pending--;
	sup_op_maybe_done(op);
}

/* ---- qmp, hmp ---- */

static void qmp_done(void *opaque, json_t *reply, int err)
{
	struct control_client *c = opaque;

	if (reply)
		control_reply(c, json_pack("{s:b, s:O}", "ok", 1, "reply", reply));
	else
		control_reply_error(c, 1, "QMP connection lost: %s", strerror(-err));
	control_client_unref(c);
}

static void hmp_done(void *opaque, json_t *reply, int err)
{
	struct control_client *c = opaque;
	json_t *ret = json_object_get(reply, "return");
	const char *desc = json_string_value(json_object_get(json_object_get(reply, "error"), "desc"));

	if (json_is_string(ret))
		control_reply(c, json_pack("{s:b, s:O}", "ok", 1, "output", ret));
	else if (desc)
		control_reply_error(c, 1, "%s", desc);
	else
		control_reply_error(c, 1, "QMP connection lost: %s", strerror(err ? -err : EPROTO));
	control_client_unref(c);
}

struct vm *sup_request_vm(struct control_client *c, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "vm"));
	struct vm *vm = name ? sup_find_vm(name) : NULL;

	if (!vm)
		control_reply_error(c, 2, "no VM named \"%s\" in %s", name ? name : "", sup.topo->path);
	return vm;
}

/* Send cmd (stolen) over vm's monitor; done answers c. */
static void forward_qmp(struct control_client *c, struct vm *vm, json_t *cmd, qmp_reply_fn done)
{
	int r;

	if (!cmd) {
		reply_nomem(c);
		return;
	}
	control_client_ref(c);
	if ((r = vm_qmp(vm, cmd, done, c)) < 0) {
		control_client_unref(c);
		if (r == -E2BIG)
			control_reply_error(c, 2, "%s: a QMP command nested deeper than %d levels is "
					    "refused (QEMU could not answer it)", vm_name(vm), QMP_MAX_NESTING);
		else
			control_reply_error(c, 1, "%s: QMP is not available (VM is %s)", vm_name(vm),
					    vm_state_name(vm_state(vm)));
	}
}

static void cmd_qmp(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	struct vm *vm = sup_request_vm(c, req);
	json_t *cmd = json_object_get(req, "command");

	(void)v;
	if (!vm)
		return;
	if (!json_is_object(cmd) || !json_is_string(json_object_get(cmd, "execute"))) {
		control_reply_error(c, 2, "a QMP command is an object with \"execute\"");
		return;
	}
	forward_qmp(c, vm, json_incref(cmd), qmp_done);
}

static void cmd_hmp(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	struct vm *vm = sup_request_vm(c, req);
	const char *line = json_string_value(json_object_get(req, "command"));

	(void)v;
	if (!vm)
		return;
	if (!line) {
		control_reply_error(c, 2, "hmp needs a command line");
		return;
	}
	forward_qmp(c, vm, json_pack("{s:s, s:{s:s}}", "execute", "human-monitor-command",
				     "arguments", "command-line", line), hmp_done);
}

/* ---- wait ---- */

/* The state named by `wait --state`, as a bit; 0 for none. */
static unsigned state_bit(const char *state)
{
	for (int s = 0; s < VM_NSTATES; s++)
		if (strcmp(state, vm_state_name(s)) == 0)
			return STATE_BIT(s);
	return 0;
}

/* Which wait a request asks for; -1 after replying to a bad one. */
static int wait_kind(struct control_client *c, json_t *req, const struct vm *vm)
{
	static const char *const keys[] = {
		[WAIT_STATE] = "state", [WAIT_CONSOLE] = "console", [WAIT_LEASE] = "lease",
		[WAIT_AGENT] = "agent", [WAIT_EXEC] = "exec", [WAIT_PORT] = "port",
	};
	int kind = -1, n = 0;

	for (int k = 0; k < (int)(sizeof(keys) / sizeof(keys[0])); k++) {
		json_t *v = json_object_get(req, keys[k]);

		if (v && !json_is_false(v)) {
			kind = k;
			n++;
		}
	}
	if (n != 1) {
		control_reply_error(c, 2, "wait needs one of --console REGEX, --state STATE, --lease, "
				    "--agent, --exec CMD or --port N");
		return -1;
	}
	if ((kind == WAIT_LEASE || kind == WAIT_PORT) && (!sup.fabric || vm_config(vm)->nnics == 0)) {
		control_reply_error(c, 2, "%s has no NIC: no %s to wait for", vm_name(vm),
				    kind == WAIT_LEASE ? "lease" : "address");
		return -1;
	}
	return kind;
}

/* The wait's parameters into w (set up, kind still WAIT_STATE); 0, or the
 * exit code with op's error set. */
static int wait_setup(struct waiter *w, json_t *req, int kind)
{
	const char *regex = json_string_value(json_object_get(req, "console"));
	const char *state = json_string_value(json_object_get(req, "state"));
	const char *cmd = json_string_value(json_object_get(req, "exec"));
	json_t *port = json_object_get(req, "port"), *iv = json_object_get(req, "interval");
	double interval = json_is_number(iv) ? json_number_value(iv) : 1;
	char what[64];
	int e;

	if ((kind == WAIT_STATE && (!state || !(w->ok = state_bit(state))))) {
		err_set(sup_op_err(w->op, 2), EINVAL, "unknown state \"%s\" (stopped, starting, "
			"running, paused, stopping, crashed)", state ? state : "");
		return 2;
	}
	if ((kind == WAIT_CONSOLE && !regex) || (kind == WAIT_EXEC && (!cmd || !*cmd)) ||
	    (kind == WAIT_LEASE && !json_is_true(json_object_get(req, "lease"))) ||
	    (kind == WAIT_AGENT && !json_is_true(json_object_get(req, "agent")))) {
		err_set(sup_op_err(w->op, 2), EINVAL, "wait: bad --%s value",
			kind == WAIT_CONSOLE ? "console" : kind == WAIT_EXEC ? "exec" :
			kind == WAIT_LEASE ? "lease" : "agent");
		return 2;
	}
	if (kind == WAIT_PORT && (!json_is_integer(port) || json_integer_value(port) < 1 ||
				  json_integer_value(port) > 65535)) {
		err_set(sup_op_err(w->op, 2), EINVAL, "wait: --port is a TCP port, 1 to 65535");
		return 2;
	}
	if (iv && (!json_is_number(iv) || interval < 0.01 || interval > 86400)) {
		err_set(sup_op_err(w->op, 2), EINVAL, "wait: --interval is a number of seconds "
			"(0.01 to 86400)");
		return 2;
	}
	w->interval_ms = (unsigned)(interval * 1000);
	if (kind == WAIT_PORT) {
		w->port = (int)json_integer_value(port);
		snprintf(what, sizeof(what), "port %d", w->port);
	}
	if (kind == WAIT_CONSOLE && (e = regcomp(&w->re, regex, REG_EXTENDED | REG_NOSUB)) != 0) {
		char msg[128];

		regerror(e, &w->re, msg, sizeof(msg));
		err_set(sup_op_err(w->op, 2), EINVAL, "bad regex \"%s\": %s", regex, msg);
		return 2;
	}
	if (kind == WAIT_EXEC)
		snprintf(what, sizeof(what), "`%.40s%s` to succeed", cmd, strlen(cmd) > 40 ? "..." : "");
	w->kind = kind;
	w->what = strdup(kind == WAIT_STATE ? state : kind == WAIT_CONSOLE ? regex :
			 kind == WAIT_LEASE ? "a DHCP lease" : kind == WAIT_AGENT ? "the guest agent" :
			 what);
	if (!w->what || (kind == WAIT_EXEC && !(w->cmd = strdup(cmd)))) {
		err_set(sup_op_err(w->op, 1), ENOMEM, "out of memory");
		return 1;
	}
	return 0;
}

static void cmd_wait(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	struct vm *vm = sup_request_vm(c, req);
	json_t *tj = json_object_get(req, "timeout");
	double timeout = json_is_number(tj) ? json_number_value(tj) : 60;
	struct waiter *w;
	struct op *op;
	int kind, e;

	(void)v;
	if (!vm || (kind = wait_kind(c, req, vm)) < 0)
		return;
	if (!(op = sup_op_new(c))) {
		reply_nomem(c);
		return;
	}
	op->pending++; /* held while w is set up */
	if (!(w = sup_waiter_add(op, vm, 0, 0))) {
		err_set(sup_op_err(op, 1), ENOMEM, "out of memory");
		goto out;
	}
	w->says_state = true;
	if (wait_setup(w, req, kind) != 0) {
		sup_waiter_done(w);
		goto out;
	}
	/* Without its timer a wait could hang forever: fail it instead. */
	if (timeout > 0 && (e = loop_timer_arm(&w->timeout, (uint64_t)(timeout * 1000))) < 0) {
		err_sys(sup_op_err(op, 1), -e, "%s: cannot arm the wait timeout", vm_name(vm));
		sup_waiter_done(w);
		goto out;
	}
	sup_waiter_begin(w);
out:
	op->pending--;
	sup_op_maybe_done(op);
}

/* ---- agent, exec (guest.c) ---- */

static void cmd_agent(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	struct vm *vm = sup_request_vm(c, req);

	(void)v;
	if (vm)
		sup_cmd_agent(c, req, vm);
}

static void cmd_exec(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	struct vm *vm = sup_request_vm(c, req);

	(void)v;
	if (vm)
		sup_cmd_exec(c, req, vm);
}

/* ---- events (events.c) ---- */

static void cmd_events(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	(void)v;
	sup_cmd_events(c, req);
}

/* ---- tc, shutdown ---- */

static void cmd_tc(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	(void)v;
	impair_request(c, req);
}

/* ---- partition, heal (partition.c) ---- */

static void cmd_partition(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	(void)v;
	partition_request(c, req);
}

static void cmd_heal(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	(void)v;
	partition_heal_request(c, req);
}

void sup_shutdown_all(struct control_client *c)
{
	struct op *op = sup_op_new(c);

	sup.shutting_down = true;
	sup_stopping();
	schedule_stop("shutdown"); /* no step may touch VMs on their way down */
	if (!op) {
		/* No op to wait with: leave now; teardown still answers c. */
		sup.shutdown_client = c;
		if (c)
			control_client_ref(c);
		loop_quit();
		return;
	}
	op->quit_after = true;
	op->pending++;
	for (int i = 0; i < sup.nvms; i++) {
		struct waiter *w;

		vm_stop(sup.vms[i]);
		if ((w = sup_waiter_add(op, sup.vms[i], STATE_BIT(VM_STOPPED) | STATE_BIT(VM_CRASHED), 0)))
			sup_waiter_check_state(w);
	}
	op->pending--;
	sup_op_maybe_done(op);
}

void sup_leave_all(struct control_client *c)
{
	log_info("leaving the VMs and the fabric running for the next n3x-launch");
	sup.shutting_down = sup.keep_vms = true;
	sup_stopping();
	schedule_stop("shutdown");
	for (int i = 0; i < sup.nvms; i++)
		vm_detach(sup.vms[i]);
	sup.shutdown_client = c;
	if (c)
		control_client_ref(c);
	loop_quit();
}

/* {"cmd":"shutdown"}, with "keep_vms":true to leave the VMs running. */
static void cmd_shutdown(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	json_t *keep = json_object_get(req, "keep_vms");

	(void)v;
	if (keep && !json_is_boolean(keep))
		control_reply_error(c, 2, "keep_vms must be true or false");
	else if (sup.shutting_down)
		control_reply_error(c, 1, "already shutting down");
	else if (json_is_true(keep))
		sup_leave_all(c);
	else
		sup_shutdown_all(c);
}

#define LIFECYCLE(name, fn, ok, fail) { name, cmd_lifecycle, fn, ok, fail }
#define DOWN (STATE_BIT(VM_CRASHED) | STATE_BIT(VM_STOPPED))

static const struct sup_verb sup_verbs[] = {
	{ "status", cmd_status, NULL, 0, 0 },
	LIFECYCLE("start", vm_start, STATE_BIT(VM_RUNNING), DOWN),
	LIFECYCLE("stop", vm_stop, STATE_BIT(VM_STOPPED), 0),
	LIFECYCLE("kill", vm_kill, STATE_BIT(VM_STOPPED), 0),
	LIFECYCLE("restart", vm_restart, STATE_BIT(VM_RUNNING), DOWN),
	LIFECYCLE("pause", vm_pause, STATE_BIT(VM_PAUSED), DOWN),
	LIFECYCLE("resume", vm_resume, STATE_BIT(VM_RUNNING), DOWN),
	{ "qmp", cmd_qmp, NULL, 0, 0 },
	{ "hmp", cmd_hmp, NULL, 0, 0 },
	{ "wait", cmd_wait, NULL, 0, 0 },
	{ "agent", cmd_agent, NULL, 0, 0 },
	{ "exec", cmd_exec, NULL, 0, 0 },
	{ "tc", cmd_tc, NULL, 0, 0 },
	{ "partition", cmd_partition, NULL, 0, 0 },
	{ "heal", cmd_heal, NULL, 0, 0 },
	{ "events", cmd_events, NULL, 0, 0 },
	{ "link", sup_cmd_link, NULL, 0, 0 },
	{ "send", sup_cmd_send, NULL, 0, 0 },
	{ "snapshot", sup_cmd_snapshot, NULL, 0, 0 },
	{ "shutdown", cmd_shutdown, NULL, 0, 0 },
	{ "reset", sup_cmd_reset, NULL, 0, 0 },
	{ "schedule", sup_cmd_schedule, NULL, 0, 0 },
	{ "top", sup_cmd_top, NULL, 0, 0 },
};

void sup_dispatch(struct control_client *c, json_t *req)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	for (size_t i = 0; i < sizeof(sup_verbs) / sizeof(sup_verbs[0]); i++)
		if (strcmp(cmd, sup_verbs[i].name) == 0)
			return sup_verbs[i].handler(c, req, &sup_verbs[i]);
	control_reply_error(c, 2, "unknown command \"%s\"", cmd);
}

/* waiters.c - control requests that finish later.
 *
 * A request such as start, stop, wait or shutdown becomes an op holding the
 * client and one waiter per VM; every VM state change, console line, lease
 * change and agent change is offered to the waiters of that VM, and the op
 * replies when its last waiter is done.  Waiters that poll (wait --exec,
 * --port) are driven by probes.c; a VM's readiness (ready.c) is a waiter
 * too, on an op without a client.
 *
 * A waiter can be settled from another source's handler (a console line)
 * while its own timeout is in the same epoll batch, so it leaves the list
 * and closes its timer at once but is freed only after the batch
 * (loop_defer); the stale timer event then finds a closed timerfd and does
 * nothing.
 */
#include "launcher/supervisor_impl.h"
#include "base/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sup_state sup = { .sigfd = -1, .run_fd = -1, .state_fd = -1 };

/* ---- ops ---- */

struct op *sup_op_new(struct control_client *c)
{
	struct op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->reply = json_pack("{s:b, s:[]}", "ok", 1, "vms");
	if (!op->reply) {
		free(op);
		return NULL;
	}
	op->client = c;
	if (c)
		control_client_ref(c);
	return op;
}

void sup_op_maybe_done(struct op *op)
{
	if (op->pending > 0)
		return;
	if (op->quit_after && op->client && !op->code) {
		/* `shutdown` answers once the fabric is gone too (teardown). */
		sup.shutdown_client = op->client;
		op->client = NULL;
	}
	if (op->client) {
		if (op->code)
			control_reply_error(op->client, op->code, "%s", op->err.msg);
		else
			control_reply(op->client, json_incref(op->reply));
		control_client_unref(op->client);
	}
	if (op->settled)
		op->settled(op);
	if (op->quit_after)
		loop_quit();
	json_decref(op->reply);
	free(op);
}

struct err *sup_op_err(struct op *op, int code)
{
	if (op->code)
		return NULL;
	op->code = code;
	return &op->err;
}

/* ---- waiters ---- */

/* Console text as a JSON string: guests print what they like, and bytes
 * that are not UTF-8 (a garbled baud rate, a binary) become '?'. */
static json_t *text_json(char *s)
{
	json_t *j = json_string(s);

	if (j)
		return j;
	for (char *p = s; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	return json_string(s);
}

static void waiter_free(struct loop_deferred *d)
{
	free(container_of(d, struct waiter, free_d));
}

/* The leases a VM holds now, for a wait --lease reply; NULL when out of memory. */
static json_t *leases_json(const struct vm *vm)
{
	const struct topo_vm *cfg = vm_config(vm);
	json_t *a = json_array();
	char mac[18], buf[INET_ADDRSTRLEN];

	for (int i = 0; a && sup.fabric && i < cfg->nnics; i++) {
		const char *ip = fabric_lease(sup.fabric, cfg->nics[i].mac, buf);

		if (ip && json_array_append_new(a, json_pack("{s:i, s:s, s:s}", "index", i, "mac",
							     topo_format_mac(cfg->nics[i].mac, mac),
							     "ip", ip)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

void sup_waiter_done(struct waiter *w)
{
	struct op *op = w->op;
	const char *state = vm_state_name(vm_state(w->vm));
	struct waiter **pp;

	for (pp = &sup.waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	/* A reply that cannot be built is still sent: control.c answers a
	 * NULL one with an error, so the client is never left hanging. */
	if (json_array_append_new(json_object_get(op->reply, "vms"),
				  json_pack("{s:s, s:s}", "name", vm_name(w->vm), "state", state)) < 0 ||
	    (w->match && json_object_set_new(op->reply, "match", text_json(w->match)) < 0) ||
	    (w->says_state && json_object_set_new(op->reply, "state", json_string(state)) < 0) ||
	    (w->kind == WAIT_LEASE && !op->code &&
	     json_object_set_new(op->reply, "leases", leases_json(w->vm)) < 0) ||
	    (w->kind == WAIT_PORT && !op->code &&
	     json_object_set_new(op->reply, "address", json_string(w->addr)) < 0))
		err_set(sup_op_err(op, 1), ENOMEM, "out of memory");
	loop_timer_close(&w->timeout);
	sup_probe_stop(w);
	if (w->kind == WAIT_CONSOLE)
		regfree(&w->re);
	free(w->match);
	free(w->what);
	free(w->cmd);
	w->op = NULL;
	op->pending--;
	sup_op_maybe_done(op);
	loop_defer(&w->free_d, waiter_free);
}

bool sup_waiter_check_state(struct waiter *w)
{
	unsigned bit = STATE_BIT(vm_state(w->vm));
	const char *err = vm_last_error(w->vm);

	if (w->ok & bit) {
		sup_waiter_done(w);
		return true;
	}
	if (w->fail & bit) {
		err_set(sup_op_err(w->op, 1), EIO, "%s: %s%s%s", vm_name(w->vm),
			vm_state_name(vm_state(w->vm)), *err ? ": " : "", err);
		sup_waiter_done(w);
		return true;
	}
	return false;
}

bool sup_waiter_line(const char *line, void *opaque)
{
	struct waiter *w = opaque;

	if (regexec(&w->re, line, 0, NULL, 0) != 0)
		return false;
	w->match = strdup(line);
	if (!w->match)
		err_set(sup_op_err(w->op, 1), ENOMEM, "out of memory");
	return true;
}

static void waiter_timeout(struct loop_timer *t)
{
	struct waiter *w = container_of(t, struct waiter, timeout);
	const char *vm = vm_name(w->vm);
	struct err *e = sup_op_err(w->op, 1);

	if (w->kind == WAIT_EXEC)
		err_set(e, ETIMEDOUT, "%s: timed out waiting for `%s` to succeed (last: %s)", vm, w->cmd,
			*w->last ? w->last : "still running");
	else if (w->kind == WAIT_PORT)
		err_set(e, ETIMEDOUT, "%s: timed out waiting for port %d (last: %s)", vm, w->port,
			*w->last ? w->last : "no answer yet");
	else
		err_set(e, ETIMEDOUT, "%s: timed out waiting for %s (state %s)", vm, w->what,
			vm_state_name(vm_state(w->vm)));
	sup_waiter_done(w);
}

struct waiter *sup_waiter_add(struct op *op, struct vm *vm, unsigned ok, unsigned fail)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->op = op;
	w->vm = vm;
	w->ok = ok;
	w->fail = fail;
	w->sock = -1;
	loop_timer_init(&w->timeout, waiter_timeout);
	loop_timer_init(&w->poll, NULL);
	w->next = sup.waiters;
	sup.waiters = w;
	op->pending++;
	return w;
}

void sup_waiters_fail_all(const char *msg)
{
	while (sup.waiters) {
		struct waiter *w = sup.waiters;

		err_set(sup_op_err(w->op, 1), EIO, "%s", msg);
		sup_waiter_done(w);
	}
}

/* ---- what the VMs and the fabric report ---- */

/* A console that will print nothing more: the VM is down and no restart
 * policy brings it back. */
static bool console_over(struct vm *vm)
{
	enum vm_state s = vm_state(vm);

	return s == VM_STOPPED ||
	       (s == VM_CRASHED && topo_find_vm(sup.topo, vm_name(vm))->restart == TOPO_RESTART_NO);
}

void sup_on_state(struct vm *vm, enum vm_state from, const char *why)
{
	(void)from;
	log_status(vm_state(vm) == VM_CRASHED ? LOG_WARN : LOG_INFO, "vm %s: %s%s%s", vm_name(vm),
		   vm_state_name(vm_state(vm)), why && *why ? ": " : "", why ? why : "");
	for (struct waiter *w = sup.waiters, *next; w; w = next) {
		next = w->next;
		if (w->vm != vm)
			continue;
		if (w->kind == WAIT_STATE) {
			sup_waiter_check_state(w);
		} else if (console_over(vm)) {
			err_set(sup_op_err(w->op, 1), EIO, "%s: %s while waiting for %s%s%s", vm_name(vm),
				vm_state_name(vm_state(vm)), w->what, *vm_last_error(vm) ? ": " : "",
				vm_last_error(vm));
			sup_waiter_done(w);
		}
	}
}

void sup_on_console_line(struct vm *vm, const char *line)
{
	for (struct waiter *w = sup.waiters, *next; w; w = next) {
		next = w->next;
		if (w->vm == vm && w->kind == WAIT_CONSOLE && sup_waiter_line(line, w))
			sup_waiter_done(w);
	}
}

bool sup_vm_has_lease(const struct vm *vm)
{
	const struct topo_vm *cfg = vm_config(vm);
	char ip[INET_ADDRSTRLEN];

	for (int i = 0; sup.fabric && i < cfg->nnics; i++)
		if (fabric_lease(sup.fabric, cfg->nics[i].mac, ip))
			return true;
	return false;
}

/* dnsmasq's lease file changed. */
void sup_on_lease(void *opaque)
{
	(void)opaque;
	for (struct waiter *w = sup.waiters, *next; w; w = next) {
		next = w->next;
		if (w->kind == WAIT_LEASE && sup_vm_has_lease(w->vm))
			sup_waiter_done(w);
	}
}

/* The guest agent came up or went away. */
void sup_on_agent(struct vm *vm, bool up)
{
	if (!up) {
		/* Execs on it fail now; wait --exec and readiness then try again. */
		guest_exec_agent_down(vm);
		return;
	}
	for (struct waiter *w = sup.waiters, *next; w; w = next) {
		next = w->next;
		if (w->vm != vm)
			continue;
		if (w->kind == WAIT_AGENT)
			sup_waiter_done(w);
		else if (w->kind == WAIT_EXEC)
			sup_probe_kick(w);
	}
}

bool sup_waiter_begin(struct waiter *w)
{
	switch (w->kind) {
	case WAIT_STATE:
		return sup_waiter_check_state(w);
	case WAIT_CONSOLE:
		if (!vm_console_scan(w->vm, sup_waiter_line, w))
			return false;
		break;
	case WAIT_LEASE:
		if (!sup_vm_has_lease(w->vm))
			return false;
		break;
	case WAIT_AGENT:
		if (!vm_agent_up(w->vm))
			return false;
		break;
	case WAIT_EXEC:
	case WAIT_PORT:
		sup_probe_start(w);
		return false;
	}
	sup_waiter_done(w);
	return true;
}

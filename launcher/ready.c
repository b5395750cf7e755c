/* ready.c - each VM's `ready =` condition, and `n3x-launch --wait-ready`.
 *
 * A VM is ready once its condition held since its current QEMU started:
 * agent (the guest agent answers), lease (a NIC has a DHCP lease), console
 * REGEX (a console line matched), exec CMD (/bin/sh -c CMD exited 0, tried
 * every second), or, without the key, running.  The condition is watched by
 * a waiter like those of `wait`, on an op without a client whose settled
 * hook latches the result; a new QEMU (the VM starting again) resets it, and
 * a VM without QEMU (stopped, crashed) is not ready.
 *
 * --wait-ready: the detached supervisor keeps the parent's pipe (daemon.c's
 * notify lines), tells it each autostarted VM that becomes ready, and ends
 * with its exit code: 0 once all are, 1 when one stops for good first or
 * the time runs out.  The supervisor keeps running either way.
 */
#include "launcher/supervisor_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "launcher/events.h"
#include "launcher/notify.h"

#define READY_EXEC_INTERVAL_MS 1000

struct sup_ready {
	struct vm *vm;
	bool ready;           /* latched since the current QEMU started */
	bool reported;        /* --wait-ready: the parent was told */
	struct op *op;        /* the condition being watched, or NULL */
	uint64_t first_ms;    /* when it first started: --wait-ready's clock */
};

static struct {
	int fd;               /* the parent's pipe, or -1 */
	int pending;          /* autostarted VMs not reported yet */
	double timeout_s;
	struct loop_timer timer;
} wr = { .fd = -1 };

static bool all_told;         /* systemd heard "all N VMs ready" since the last change */

static struct sup_ready *find(const struct vm *vm)
{
	for (int i = 0; sup.ready && i < sup.nvms; i++)
		if (sup.ready[i].vm == vm)
			return &sup.ready[i];
	return NULL;
}

bool sup_vm_ready(const struct vm *vm)
{
	struct sup_ready *r = find(vm);

	return r && r->ready;
}

/* "agent", "lease", "console login:", "exec CMD", "running": what it waits for. */
void sup_ready_describe(const struct topo_vm *cfg, char *buf, size_t size)
{
	switch (cfg->ready) {
	case TOPO_READY_AGENT: snprintf(buf, size, "agent"); break;
	case TOPO_READY_LEASE: snprintf(buf, size, "lease"); break;
	case TOPO_READY_CONSOLE: snprintf(buf, size, "console %s", cfg->ready_arg); break;
	case TOPO_READY_EXEC: snprintf(buf, size, "exec %s", cfg->ready_arg); break;
	default: snprintf(buf, size, "running"); break;
	}
}

/* ---- --wait-ready ---- */

static bool autostarted(const struct sup_ready *r)
{
	return topo_find_vm(sup.topo, vm_name(r->vm))->autostart;
}

static void wr_end(int code)
{
	loop_timer_close(&wr.timer);
	sup_progress_settle(); /* the table before the parent's exit */
	sup_notify_exit(wr.fd, code);
	wr.fd = -1;
}

/* The parent's last line when it gives up, with how to stop what it leaves. */
static void wr_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void wr_fail(const char *fmt, ...)
{
	char line[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sup_notify_line(wr.fd, "%s: %s; the supervisor keeps running (`n3x-ctl -n %s shutdown` stops "
			"it)", SUP_LOG_PREFIX, line, sup.topo->fabric.name);
	wr_end(1);
}

/* Down, and no restart policy brings it back. */
static bool down_for_good(const struct vm *vm)
{
	enum vm_state s = vm_state(vm);

	return s == VM_STOPPED ||
	       (s == VM_CRASHED && topo_find_vm(sup.topo, vm_name(vm))->restart == TOPO_RESTART_NO);
}

/* r is down for good before it was ready: the parent gives up. */
static void wr_down(const struct sup_ready *r)
{
	char what[ERR_MSG_MAX / 2];
	const char *err = vm_last_error(r->vm);

	sup_ready_describe(vm_config(r->vm), what, sizeof(what));
	wr_fail("%s %s before it was ready (%s)%s%s", vm_name(r->vm), vm_state_name(vm_state(r->vm)),
		what, *err ? ": " : "", err);
}

static void wr_ready(struct sup_ready *r)
{
	char what[ERR_MSG_MAX / 2];

	if (wr.fd < 0 || r->reported || !autostarted(r))
		return;
	r->reported = true;
	sup_ready_describe(vm_config(r->vm), what, sizeof(what));
	if (log_get_level() >= LOG_INFO) /* --quiet: only how it failed */
		sup_notify_line(wr.fd, "%s: %s ready (%s) after %.1f s", SUP_LOG_PREFIX, vm_name(r->vm), what,
			(loop_now_ms() - r->first_ms) / 1000.0);
	if (--wr.pending == 0)
		wr_end(0);
}

static void wr_timeout(struct loop_timer *t)
{
	char what[ERR_MSG_MAX / 2], more[32];
	int late = 0;
	struct sup_ready *first = NULL;
	const char *err;

	(void)t;
	for (int i = 0; i < sup.nvms; i++)
		if (!sup.ready[i].reported && autostarted(&sup.ready[i]) && !late++)
			first = &sup.ready[i];
	if (!first || wr.fd < 0)
		return;
	sup_ready_describe(vm_config(first->vm), what, sizeof(what));
	err = vm_last_error(first->vm);
	snprintf(more, sizeof(more), ", and %d more VM%s", late - 1, late > 2 ? "s" : "");
	wr_fail("%s not ready (%s) after %g s (state %s%s%s)%s", vm_name(first->vm), what,
		wr.timeout_s, vm_state_name(vm_state(first->vm)), *err ? ": " : "", err,
		late > 1 ? more : "");
}

void sup_wait_ready_start(int fd, double timeout_s)
{
	int r;

	wr.fd = fd;
	wr.timeout_s = timeout_s;
	wr.pending = 0;
	loop_timer_init(&wr.timer, wr_timeout);
	for (int i = 0; i < sup.nvms; i++)
		if (autostarted(&sup.ready[i]))
			wr.pending++;
	if (wr.pending == 0) {
		wr_end(0);
		return;
	}
	if (log_get_level() >= LOG_INFO)
		sup_notify_line(wr.fd, "%s: waiting up to %g s for %d VM%s to be ready", SUP_LOG_PREFIX,
			timeout_s, wr.pending, wr.pending > 1 ? "s" : "");
	for (int i = 0; i < sup.nvms && wr.fd >= 0; i++)
		if (sup.ready[i].ready)
			wr_ready(&sup.ready[i]);
	/* A start that failed at once came before we listened. */
	for (int i = 0; i < sup.nvms && wr.fd >= 0; i++)
		if (!sup.ready[i].reported && autostarted(&sup.ready[i]) &&
		    down_for_good(sup.ready[i].vm))
			wr_down(&sup.ready[i]);
	if (wr.fd >= 0 && (r = loop_timer_arm(&wr.timer, (uint64_t)(timeout_s * 1000))) < 0)
		wr_fail("cannot arm the --wait-ready timer: %s", strerror(-r));
}

void sup_wait_ready_abort(const char *why)
{
	if (wr.fd >= 0)
		sup_notify_line(wr.fd, "%s: %s before every VM was ready", SUP_LOG_PREFIX, why);
	if (wr.fd >= 0)
		wr_end(1);
}

/* ---- watching a VM's condition ---- */

static void settled(struct op *op)
{
	struct sup_ready *r = op->opaque;
	char what[ERR_MSG_MAX / 2];

	if (r->op != op)
		return; /* cancelled */
	r->op = NULL;
	if (op->code)
		return; /* the VM went away first: sup_ready_on_state says so */
	r->ready = true;
	sup_ready_describe(vm_config(r->vm), what, sizeof(what));
	log_status(LOG_INFO, "vm %s: ready (%s)", vm_name(r->vm), what);
	events_emit(vm_name(r->vm), "ready", json_pack("{s:s}", "condition", what));
	/* systemd hears "all ready" before --wait-ready's parent hands over. */
	sup_ready_check_all();
	wr_ready(r);
}

void sup_ready_check_all(void)
{
	int n = 0, ready = 0, over = 0;

	if (!sup.ready || sup.shutting_down)
		return;
	for (int i = 0; i < sup.nvms; i++) {
		if (!autostarted(&sup.ready[i]))
			continue;
		n++;
		if (sup.ready[i].ready)
			ready++;
		else if (down_for_good(sup.ready[i].vm))
			over++;
	}
	if (n && ready == n && !all_told) {
		all_told = true;
		notify_all_ready(n);
	}
	if (ready + over == n && wr.fd < 0)
		sup_progress_settle();
}

/* Stop watching (a waiter still pending is settled into the void). */
static void unwatch(struct sup_ready *r)
{
	struct op *op = r->op;

	r->op = NULL;
	for (struct waiter *w = sup.waiters, *next; op && w; w = next) {
		next = w->next;
		if (w->op == op) {
			err_set(sup_op_err(op, 1), ECANCELED, "cancelled");
			sup_waiter_done(w);
			return;
		}
	}
}

static void watch(struct sup_ready *r)
{
	const struct topo_vm *cfg = vm_config(r->vm);
	struct op *op = sup_op_new(NULL);
	struct waiter *w;
	char what[ERR_MSG_MAX / 2];

	if (!op || !(w = sup_waiter_add(op, r->vm, 0, 0))) {
		log_line("vm %s: out of memory: its readiness is not watched", vm_name(r->vm));
		if (op)
			sup_op_maybe_done(op);
		return;
	}
	op->pending++; /* held while w is set up */
	op->settled = settled;
	op->opaque = r;
	r->op = op;
	sup_ready_describe(cfg, what, sizeof(what));
	w->what = strdup(what);
	w->interval_ms = READY_EXEC_INTERVAL_MS;
	switch (cfg->ready) {
	case TOPO_READY_AGENT: w->kind = WAIT_AGENT; break;
	case TOPO_READY_LEASE: w->kind = WAIT_LEASE; break;
	case TOPO_READY_CONSOLE:
		/* The parser checked the regex; a failure here is memory. */
		if (regcomp(&w->re, cfg->ready_arg, REG_EXTENDED | REG_NOSUB) == 0)
			w->kind = WAIT_CONSOLE;
		else
			err_set(sup_op_err(op, 1), ENOMEM, "out of memory");
		break;
	case TOPO_READY_EXEC:
		w->kind = WAIT_EXEC;
		if (!(w->cmd = strdup(cfg->ready_arg)))
			err_set(sup_op_err(op, 1), ENOMEM, "out of memory");
		break;
	default:
		w->ok = STATE_BIT(VM_RUNNING) | STATE_BIT(VM_PAUSED);
		break;
	}
	if (!w->what || op->code) {
		log_line("vm %s: out of memory: its readiness is not watched", vm_name(r->vm));
		r->op = NULL;
		sup_waiter_done(w);
	} else {
		sup_waiter_begin(w);
	}
	op->pending--;
	sup_op_maybe_done(op);
}

void sup_ready_on_state(struct vm *vm)
{
	struct sup_ready *r = find(vm);
	if (!r)
		return;
	switch (vm_state(vm)) {
	case VM_STARTING:
		/* A new QEMU: what held for the last one does not count. */
		unwatch(r);
		r->ready = false;
		all_told = false;
		if (!r->first_ms)
			r->first_ms = loop_now_ms();
		watch(r);
		break;
	case VM_RUNNING:
	case VM_PAUSED:
		/* Adopted without a start: watch from now. */
		if (!r->first_ms)
			r->first_ms = loop_now_ms();
		if (!r->ready && !r->op)
			watch(r);
		break;
	case VM_STOPPED:
	case VM_CRASHED:
		unwatch(r);
		r->ready = false;
		all_told = false;
		sup_ready_check_all();
		if (wr.fd < 0 || r->reported || !autostarted(r))
			break;
		if (sup.shutting_down) {
			sup_wait_ready_abort("the supervisor is shutting down");
			break;
		}
		if (down_for_good(vm))
			wr_down(r);
		break;
	default:
		break;
	}
}

int sup_ready_init(void)
{
	sup.ready = calloc(sup.nvms ? sup.nvms : 1, sizeof(*sup.ready));
	if (!sup.ready)
		return -ENOMEM;
	for (int i = 0; i < sup.nvms; i++)
		sup.ready[i].vm = sup.vms[i];
	return 0;
}

void sup_ready_free(void)
{
	for (int i = 0; sup.ready && i < sup.nvms; i++)
		unwatch(&sup.ready[i]);
	free(sup.ready);
	sup.ready = NULL;
}

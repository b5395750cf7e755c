/* vm_qemu.c - a VM's QEMU process: its start, its QMP monitor and the
 * monitor's events, which it turns into table events (vm.c). */
#include "launcher/vm_impl.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "launcher/bootlog.h"
#include "launcher/console.h"

static void mon_update_events(struct vm *vm)
{
	uint32_t want;

	if (!vm->qmp)
		return;
	want = EPOLLIN | (qmp_want_write(vm->qmp) ? EPOLLOUT : 0);
	if (want != vm->qmp_events && loop_mod(vm->qmp_fd, want, &vm->qmp_w) == 0)
		vm->qmp_events = want;
}

void vm_mon_drop(struct vm *vm)
{
	if (!vm->qmp)
		return;
	loop_del(vm->qmp_fd);
	qmp_free(vm->qmp);
	vm->qmp = NULL;
	vm->qmp_fd = -1;
}

static void mon_cb(struct loop_watch *w, uint32_t events)
{
	struct vm *vm = container_of(w, struct vm, qmp_w);

	(void)events;
	if (qmp_io(vm->qmp) < 0)
		vm_mon_drop(vm); /* QEMU is going away; its exit drives the state */
	else
		mon_update_events(vm);
}

int vm_execute(struct vm *vm, const char *cmd, json_t *args, qmp_reply_fn cb, void *opaque)
{
	int r;

	if (!vm->qmp) {
		json_decref(args);
		return -ENOTCONN;
	}
	r = qmp_execute(vm->qmp, cmd, args, cb, opaque);
	mon_update_events(vm);
	return r;
}

int vm_qmp(struct vm *vm, json_t *cmd, qmp_reply_fn cb, void *opaque)
{
	int r;

	if (!vm->qmp || !qmp_is_ready(vm->qmp)) {
		json_decref(cmd);
		return -ENOTCONN;
	}
	r = qmp_send_raw(vm->qmp, cmd, cb, opaque);
	mon_update_events(vm);
	return r;
}

static void status_reply(void *opaque, json_t *reply, int err)
{
	struct vm *vm = opaque;
	const char *st = json_string_value(json_object_get(json_object_get(reply, "return"), "status"));

	if (err || !st)
		return;
	vm_dispatch(vm, strcmp(st, "running") == 0 ? EV_QMP_RUNNING : EV_QMP_STOP);
}

static void mon_ready(void *opaque)
{
	struct vm *vm = opaque;

	vm_execute(vm, "query-status", NULL, status_reply, vm);
}

static void mon_event(void *opaque, const char *event, json_t *data, json_t *msg)
{
	struct vm *vm = opaque;

	(void)msg;
	if (strcmp(event, "STOP") == 0) {
		vm_dispatch(vm, EV_QMP_STOP);
	} else if (strcmp(event, "RESUME") == 0) {
		vm_dispatch(vm, EV_QMP_RESUME);
	} else if (strcmp(event, "RESET") == 0) {
		bootlog_reset(vm->boot);
	} else if (strcmp(event, "SHUTDOWN") == 0) {
		const char *reason = json_string_value(json_object_get(data, "reason"));

		console_note(vm->console, "QEMU shutdown (%s)", reason ? reason : "?");
	} else if (strcmp(event, "GUEST_PANICKED") == 0) {
		console_note(vm->console, "guest panicked");
		err_set(&vm->err, EIO, "guest panicked");
	}
}

static void qemu_exited(struct child *c, int wstatus)
{
	struct vm *vm = c->opaque;

	vm->wstatus = wstatus;
	vm_dispatch(vm, EV_EXIT);
}

void vm_qemu_init(struct vm *vm)
{
	snprintf(vm->qemu_tag, sizeof(vm->qemu_tag), "vm %s: qemu", vm->cfg->name);
	child_init(&vm->qemu, vm->qemu_tag, qemu_exited, vm);
	vm->qmp_fd = -1;
	vm->qmp_w.cb = mon_cb;
}

/* QEMU runs but cannot be driven: kill it.  Its exit ends the start in
 * crashed with vm->err (on_exit_qemu), after the usual cleanup. */
static void abort_qemu(struct vm *vm)
{
	vm->aborted = true;
	child_signal(&vm->qemu, SIGKILL);
}

/* Hand the monitor's end to a QMP client and watch it; the start aborts
 * without it, since only QMP says the guest runs. */
static void mon_open(struct vm *vm, int fd)
{
	struct qmp_callbacks cbs = { .event = mon_event, .ready = mon_ready, .opaque = vm };
	int r;

	if (!(vm->qmp = qmp_new(fd, &cbs))) {
		err_sys(&vm->err, errno, "cannot set up QMP");
		close(fd);
		abort_qemu(vm);
		return;
	}
	vm->qmp_fd = fd;
	vm->qmp_events = EPOLLIN;
	if ((r = loop_add(vm->qmp_fd, EPOLLIN, &vm->qmp_w)) < 0) {
		err_sys(&vm->err, -r, "cannot watch QMP");
		vm_mon_drop(vm);
		abort_qemu(vm);
	}
}

int vm_qemu_spawn(struct vm *vm)
{
	int ser[2] = { -1, -1 }, mon[2] = { -1, -1 }, r, nfds = 2;
	int fds[2 + TOPO_MAX_NICS];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ser) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, mon) < 0) {
		r = err_sys(&vm->err, errno, "cannot make QEMU's sockets");
		goto out;
	}
	fds[0] = ser[1];
	fds[1] = mon[1];
	if (vm->cfg->nnics) {
		if ((r = vm_observer.nics_up(vm, fds + 2, &vm->err)) < 0)
			goto out;
		nfds += vm->cfg->nnics;
	}
	r = vm->spawn(&vm->qemu, vm->plan.qemu.v, fds, nfds);
	for (int i = 2; i < nfds; i++)
		close(fds[i]); /* QEMU holds the taps now: they go when it does */
	if (r < 0) {
		err_sys(&vm->err, -r, "cannot run %s", vm->plan.qemu.v[0]);
		if (vm->cfg->nnics)
			vm_observer.nics_down(vm);
		goto out;
	}
	bootlog_reset(vm->boot);
	r = console_attach(vm->console, ser[0]);
	ser[0] = -1; /* the console's, even when it failed */
	if (r < 0) {
		err_sys(&vm->err, -r, "cannot attach the console");
		r = 0;
		abort_qemu(vm);
		goto out;
	}
	mon_open(vm, mon[0]);
	mon[0] = -1;
	if (!vm->aborted)
		console_note(vm->console, "QEMU started (pid %d, %s)", (int)vm->qemu.pid,
			     vm->accel.kvm ? "kvm" : "tcg");
out:
	for (int i = 0; i < 2; i++) {
		if (ser[i] >= 0)
			close(ser[i]);
		if (mon[i] >= 0)
			close(mon[i]);
	}
	return r;
}

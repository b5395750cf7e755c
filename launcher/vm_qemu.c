/* vm_qemu.c - a VM's QEMU process: its start, its QMP monitor and the
 * monitor's events, which it turns into table events (vm.c), and the guest
 * agent's channel, which the monitor's VSERPORT_CHANGE opens and closes. */
#include "launcher/vm_impl.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "launcher/bootlog.h"
#include "launcher/console.h"
#include "launcher/qemuuser.h"

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
	/* QEMU's exit, earlier in this batch, may have dropped the monitor. */
	if (!vm->qmp)
		return;
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

int vm_monitor(struct vm *vm, const char *cmd, json_t *args, qmp_reply_fn cb, void *opaque)
{
	return vm_execute(vm, cmd, args, cb, opaque);
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

/* ---- the guest agent ---- */

/* One QEMU's agent client.  The client's callbacks point here rather than at
 * the VM: the client outlives the VM's hold on it until the end of the
 * loop's batch (its fd may have an event in it), and vm is NULL by then. */
struct vm_agent_link {
	struct vm *vm;
	struct ga *ga;
	bool up;              /* what the observer last heard */
	struct loop_deferred reap;
};

static void agent_changed(struct vm *vm, struct vm_agent_link *a, bool up)
{
	if (a->up == up)
		return;
	a->up = up;
	if (vm_observer.agent)
		vm_observer.agent(vm, up);
}

static void agent_up_cb(void *opaque, bool up)
{
	struct vm_agent_link *a = opaque;

	if (a->vm)
		agent_changed(a->vm, a, up);
}

static void agent_reap(struct loop_deferred *d)
{
	struct vm_agent_link *a = container_of(d, struct vm_agent_link, reap);

	ga_free(a->ga);
	free(a);
}

/* Hand the supervisor's end of the agent's port to a client.  Without one
 * the VM runs on, as it would with a guest that has no agent. */
static void agent_open(struct vm *vm, int fd)
{
	struct vm_agent_link *a = calloc(1, sizeof(*a));
	struct ga_callbacks cbs = { .up = agent_up_cb, .opaque = a };

	if (!a || !(a->ga = ga_new(fd, &cbs))) {
		int e = errno;

		free(a);
		console_note(vm->console, "cannot set up the guest agent's channel: %s", strerror(e));
		close(fd);
		return;
	}
	a->vm = vm;
	vm->agent = a;
}

void vm_agent_drop(struct vm *vm)
{
	struct vm_agent_link *a = vm->agent;

	if (!a)
		return;
	vm->agent = NULL;
	/* Closing the port fails every request now, while their owners can
	 * still take the answer; the free waits for the batch to end. */
	ga_set_open(a->ga, false);
	agent_changed(vm, a, false);
	a->vm = NULL;
	loop_defer(&a->reap, agent_reap);
}

void vm_agent_reset(struct vm *vm)
{
	if (vm->agent)
		ga_set_open(vm->agent->ga, false);
}

bool vm_agent_up(const struct vm *vm)
{
	return vm->agent && ga_is_up(vm->agent->ga);
}

int vm_agent(struct vm *vm, const char *cmd, json_t *args, unsigned timeout_ms, ga_reply_fn cb,
	     void *opaque)
{
	if (!vm->agent) {
		json_decref(args);
		return -ENOTCONN;
	}
	return ga_execute(vm->agent->ga, cmd, args, timeout_ms, cb, opaque);
}

int vm_agent_raw(struct vm *vm, json_t *cmd, unsigned timeout_ms, ga_reply_fn cb, void *opaque)
{
	if (!vm->agent) {
		json_decref(cmd);
		return -ENOTCONN;
	}
	return ga_send_raw(vm->agent->ga, cmd, timeout_ms, cb, opaque);
}

/* VSERPORT_CHANGE for our port: the guest opened or closed its end. */
static void agent_port(struct vm *vm, json_t *data)
{
	json_t *open = json_object_get(data, "open");
	const char *id = json_string_value(json_object_get(data, "id"));

	if (!vm->agent || !json_is_boolean(open) || !id || strcmp(id, QEMU_AGENT_PORT) != 0)
		return;
	ga_set_open(vm->agent->ga, json_is_true(open));
}

/* ---- the monitor ---- */

static void status_reply(void *opaque, json_t *reply, int err)
{
	struct vm *vm = opaque;
	const char *st = json_string_value(json_object_get(json_object_get(reply, "return"), "status"));

	if (err || !st)
		return;
	vm_dispatch(vm, strcmp(st, "running") == 0 ? EV_QMP_RUNNING : EV_QMP_STOP);
}

/* A set_link the caller waits for: the NIC and the setting it asked for,
 * to put back if QEMU refuses it. */
struct link_req {
	struct vm *vm;
	int nic;
	bool up;
	qmp_reply_fn cb;
	void *opaque;
};

static void link_reply(void *opaque, json_t *reply, int err)
{
	struct link_req *lr = opaque;
	struct vm *vm = lr->vm;

	/* Refused: the guest's carrier did not change, so neither does the
	 * setting, unless a later request changed it already. */
	if (json_object_get(reply, "error") && vm->link_down[lr->nic] == !lr->up)
		vm->link_down[lr->nic] = lr->up;
	if (lr->cb)
		lr->cb(lr->opaque, reply, err);
	free(lr);
}

/* The link of NIC i as the VM wants it; set_link on the tap's netdev
 * reaches the virtio-net NIC behind it, whose guest sees the carrier.
 * qmp_execute's return: 0 when cb will be called. */
static int send_link(struct vm *vm, int i, qmp_reply_fn cb, void *opaque)
{
	char name[16];

	snprintf(name, sizeof(name), "net%d", i);
	return vm_execute(vm, "set_link", json_pack("{s:s, s:b}", "name", name, "up", !vm->link_down[i]),
			  cb, opaque);
}

bool vm_link_up(const struct vm *vm, int nic)
{
	return nic < 0 || nic >= vm->cfg->nnics || !vm->link_down[nic];
}

int vm_set_link(struct vm *vm, int nic, bool up, qmp_reply_fn cb, void *opaque)
{
	struct link_req *lr;
	int r;

	if (nic < 0 || nic >= vm->cfg->nnics)
		return -EINVAL;
	if (vm->link_down[nic] == !up)
		return -EALREADY;
	/* A monitor that is not ready yet sends the pulled cables itself
	 * (mon_ready), before the guest runs far enough to look. */
	if (!vm->qmp || !qmp_is_ready(vm->qmp)) {
		vm->link_down[nic] = !up;
		return 0;
	}
	if (!(lr = malloc(sizeof(*lr))))
		return -ENOMEM;
	*lr = (struct link_req){ .vm = vm, .nic = nic, .up = up, .cb = cb, .opaque = opaque };
	vm->link_down[nic] = !up;
	if ((r = send_link(vm, nic, link_reply, lr)) < 0) {
		vm->link_down[nic] = up;
		free(lr);
		return r;
	}
	return 1;
}

int vm_console_input(struct vm *vm, const void *buf, size_t len)
{
	return console_input(vm->console, buf, len);
}

static void mon_ready(void *opaque)
{
	struct vm *vm = opaque;

	/* Pulled cables first: the guest's driver, still seconds from
	 * probing, finds the carrier already gone. */
	for (int i = 0; i < vm->cfg->nnics; i++)
		if (vm->link_down[i])
			send_link(vm, i, NULL, NULL);
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
	} else if (strcmp(event, "VSERPORT_CHANGE") == 0) {
		agent_port(vm, data);
	} else if (strcmp(event, "RESET") == 0) {
		bootlog_reset(vm->boot);
		/* QEMU closes the port too (VSERPORT_CHANGE); the agent of the
		 * guest that runs next starts from a fresh sync either way. */
		if (vm->agent)
			ga_set_open(vm->agent->ga, false);
	} else if (strcmp(event, "SHUTDOWN") == 0) {
		const char *reason = json_string_value(json_object_get(data, "reason"));

		console_note(vm->console, "QEMU shutdown (%s)", reason ? reason : "?");
	} else if (strcmp(event, "GUEST_PANICKED") == 0) {
		console_note(vm->console, "guest panicked");
		err_set(&vm->err, EIO, "guest panicked");
	}
	if (vm_observer.qmp_event)
		vm_observer.qmp_event(vm, event, data);
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

/* The plan's argv, with -S when the VM is to start paused (once). */
static int spawn_qemu(struct vm *vm, const int *fds, int nfds)
{
	size_t n = vm->plan.qemu.n;
	char **argv;
	int r;

	if (!vm->start_paused)
		return vm->spawn(&vm->qemu, vm->plan.qemu.v, fds, nfds);
	vm->start_paused = false;
	if (!(argv = calloc(n + 2, sizeof(*argv))))
		return -ENOMEM;
	memcpy(argv, vm->plan.qemu.v, n * sizeof(*argv));
	argv[n] = "-S";
	r = vm->spawn(&vm->qemu, argv, fds, nfds);
	free(argv);
	return r;
}

int vm_qemu_spawn(struct vm *vm)
{
	int ser[2] = { -1, -1 }, mon[2] = { -1, -1 }, ga[2] = { -1, -1 }, r, nfds = 3;
	int fds[3 + TOPO_MAX_NICS + PLAN_MAX_FILES];

	/* In QEMU: QEMU_FD_SERIAL, QEMU_FD_QMP, QEMU_FD_AGENT, then the taps. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ser) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, mon) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ga) < 0) {
		r = err_sys(&vm->err, errno, "cannot make QEMU's sockets");
		goto out;
	}
	fds[0] = ser[1];
	fds[1] = mon[1];
	fds[2] = ga[1];
	if (vm->cfg->nnics) {
		if ((r = vm_observer.nics_up(vm, fds + 3, &vm->err)) < 0)
			goto out;
		nfds += vm->cfg->nnics;
	}
	/* The files QEMU_USER cannot open itself, after the taps (argv.h). */
	if ((r = plan_open_files(&vm->plan, fds + nfds, &vm->err)) < 0) {
		for (int i = 3; i < nfds; i++)
			close(fds[i]);
		if (vm->cfg->nnics)
			vm_observer.nics_down(vm);
		goto out;
	}
	nfds += r;
	qemu_user_apply(&vm->qemu);
	r = spawn_qemu(vm, fds, nfds);
	for (int i = 3; i < nfds; i++)
		close(fds[i]); /* QEMU holds the taps and files now: they go when it does */
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
	if (vm->aborted)
		goto out;
	agent_open(vm, ga[0]);
	ga[0] = -1;
	console_note(vm->console, "QEMU started (pid %d, %s)", (int)vm->qemu.pid,
		     vm->accel.kvm ? "kvm" : "tcg");
out:
	for (int i = 0; i < 2; i++) {
		if (ser[i] >= 0)
			close(ser[i]);
		if (mon[i] >= 0)
			close(mon[i]);
		if (ga[i] >= 0)
			close(ga[i]);
	}
	return r;
}

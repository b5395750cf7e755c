/* vm_qemu.c - a VM's QEMU process: its start, its QMP monitor and the
 * monitor's events, which it turns into table events (vm.c), and the guest
 * agent's channel, which the monitor's VSERPORT_CHANGE opens and closes. */
#include "launcher/vm_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/proc.h"
#include "base/sock.h"

#include "launcher/bootlog.h"
#include "launcher/console.h"
#include "launcher/disks.h"

#define MON_BACKOFF_MIN_MS 100
#define MON_BACKOFF_MAX_MS 5000
#define QEMU_LOG_CAP (1024 * 1024) /* qemu.log -> qemu.log.1 at a start past it */
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

/* The monitor's connection ended.  If QEMU is exiting, its pidfd says so
 * in a moment and the exit drives the state; otherwise the monitor is
 * lost: reconnect, first after MON_BACKOFF_MIN_MS.  The loss is told when
 * that first try comes, so a QEMU that closes its monitor on its way out
 * is not reported as one that lost it. */
static void mon_lost(struct vm *vm, const char *why)
{
	int r;

	vm_mon_drop(vm);
	if (!vm_qemu_running(vm))
		return;
	if (!vm->mon_lost) {
		vm->mon_lost = true;
		vm->mon_backoff_ms = MON_BACKOFF_MIN_MS;
		snprintf(vm->mon_why, sizeof(vm->mon_why), "%s", why);
	}
	if ((r = loop_timer_arm(&vm->mon_timer, vm->mon_backoff_ms)) < 0)
		console_note(vm->console, "monitor lost (%s) and cannot arm its reconnect timer: %s", why,
			     strerror(-r));
}

static void mon_cb(struct loop_watch *w, uint32_t events)
{
	struct vm *vm = container_of(w, struct vm, qmp_w);
	char why[96];
	int r;

	(void)events;
	/* QEMU's exit, earlier in this batch, may have dropped the monitor. */
	if (!vm->qmp)
		return;
	if ((r = qmp_io(vm->qmp)) < 0) {
		snprintf(why, sizeof(why), "%s", r == -EPIPE ? "QEMU closed the connection" : strerror(-r));
		mon_lost(vm, why);
	} else {
		mon_update_events(vm);
	}
}

int vm_execute(struct vm *vm, const char *cmd, json_t *args, qmp_reply_fn cb, void *opaque)
{
	int r;

	if (!vm->qmp || vm->mon_lost) {
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

	if (!vm->qmp || vm->mon_lost || !qmp_is_ready(vm->qmp)) {
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
	if (json_object_get(reply, "error") && vm->link_down[lr->nic] == !lr->up) {
		vm->link_down[lr->nic] = lr->up;
		vm_state_save(vm);
	}
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
	if (!vm->qmp || vm->mon_lost || !qmp_is_ready(vm->qmp)) {
		vm->link_down[nic] = !up;
		vm_state_save(vm);
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
	vm_state_save(vm);
	return 1;
}

int vm_console_input(struct vm *vm, const void *buf, size_t len)
{
	return console_input(vm->console, buf, len);
}

/* query-chardev after a reconnect or an adoption: whether the guest holds
 * its agent's port open (VSERPORT_CHANGE came while nobody listened). */
static void chardev_reply(void *opaque, json_t *reply, int err)
{
	struct vm *vm = opaque;
	json_t *list = json_object_get(reply, "return"), *c;
	size_t i;

	if (err || !vm->agent)
		return;
	json_array_foreach(list, i, c) {
		const char *label = json_string_value(json_object_get(c, "label"));
		json_t *open = json_object_get(c, "frontend-open");

		if (label && strcmp(label, QEMU_AGENT_CHARDEV) == 0 && json_is_boolean(open))
			ga_set_open(vm->agent->ga, json_is_true(open));
	}
}

static void mon_ready(void *opaque)
{
	struct vm *vm = opaque;
	bool resync = vm->mon_resync, told = vm->mon_lost_told;

	vm->mon_resync = false;
	if (vm->mon_lost) {
		vm->mon_lost = vm->mon_lost_told = false;
		loop_timer_disarm(&vm->mon_timer);
	}
	/* Pulled cables first: the guest's driver, still seconds from
	 * probing, finds the carrier already gone.  A QEMU met again (a lost
	 * monitor, an adoption) may have missed changes: every cable then. */
	for (int i = 0; i < vm->cfg->nnics; i++)
		if (resync || vm->link_down[i])
			send_link(vm, i, NULL, NULL);
	if (resync)
		vm_execute(vm, "query-chardev", NULL, chardev_reply, vm);
	vm_execute(vm, "query-status", NULL, status_reply, vm);
	if (told) {
		console_note(vm->console, "monitor reconnected");
		if (vm_observer.monitor)
			vm_observer.monitor(vm, true, NULL);
	}
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

		/* The exit that follows was asked for: for an adopted QEMU,
		 * whose wait status nobody tells us, that makes it clean. */
		vm->shutdown_seen = true;
		console_note(vm->console, "QEMU shutdown (%s)", reason ? reason : "?");
	} else if (strcmp(event, "GUEST_PANICKED") == 0) {
		console_note(vm->console, "guest panicked");
		err_set(&vm->err, EIO, "guest panicked");
	}
	disks_qmp_event(vm->disks, event, data); /* BLOCK_IO_ERROR: status io_error */
	if (vm_observer.qmp_event)
		vm_observer.qmp_event(vm, event, data);
}

static void qemu_exited(struct child *c, int wstatus)
{
	struct vm *vm = c->opaque;

	vm->wstatus = wstatus;
	vm_dispatch(vm, EV_EXIT);
}

/* Hand a connection to the monitor to a QMP client and watch it. */
static int mon_attach(struct vm *vm, int fd, struct err *e)
{
	struct qmp_callbacks cbs = { .event = mon_event, .ready = mon_ready, .opaque = vm };
	int r;

	if (!(vm->qmp = qmp_new(fd, &cbs))) {
		r = err_sys(e, errno, "cannot set up QMP");
		close(fd);
		return r;
	}
	vm->qmp_fd = fd;
	vm->qmp_events = EPOLLIN;
	if ((r = loop_add(vm->qmp_fd, EPOLLIN, &vm->qmp_w)) < 0) {
		err_sys(e, -r, "cannot watch QMP");
		vm_mon_drop(vm);
	}
	return r;
}

/* The reconnect timer of a lost monitor. */
static void mon_retry(struct loop_timer *t)
{
	struct vm *vm = container_of(t, struct vm, mon_timer);
	struct err e;
	int fd;

	if (!vm->mon_lost || !vm_qemu_running(vm))
		return;
	if (!vm->mon_lost_told) {
		vm->mon_lost_told = true;
		console_note(vm->console, "monitor lost (%s): reconnecting", vm->mon_why);
		if (vm_observer.monitor)
			vm_observer.monitor(vm, false, vm->mon_why);
	}
	/* An attempt that connected but never got as far as ready (a QEMU
	 * that does not answer) is dropped and made again. */
	vm_mon_drop(vm);
	fd = unix_connect(vm->monitor_sock);
	if (fd >= 0 && mon_attach(vm, fd, &e) == 0)
		vm->mon_resync = true;
	if ((vm->mon_backoff_ms *= 2) > MON_BACKOFF_MAX_MS)
		vm->mon_backoff_ms = MON_BACKOFF_MAX_MS;
	loop_timer_arm(&vm->mon_timer, vm->mon_backoff_ms);
}

/* Connect to what QEMU listens on and hand the connections out: the serial
 * port to the console, the monitor to a QMP client, the agent's port to
 * its client.  Only the monitor is needed (it alone says whether the guest
 * runs): without it, the monitor counts as lost and is reconnected.  The
 * others fail with a note on the console. */
void vm_qemu_connect(struct vm *vm)
{
	int fd, r;
	struct err e;

	if ((fd = unix_connect(vm->serial_sock)) < 0 || (r = console_attach(vm->console, fd)) < 0)
		console_note(vm->console, "cannot connect to the serial port %s: %s", vm->serial_sock,
			     strerror(fd < 0 ? -fd : -r));
	if ((fd = unix_connect(vm->agent_sock)) < 0)
		console_note(vm->console, "cannot connect to the guest agent's port %s: %s", vm->agent_sock,
			     strerror(-fd));
	else
		agent_open(vm, fd);
	if ((fd = unix_connect(vm->monitor_sock)) < 0) {
		char why[96];

		snprintf(why, sizeof(why), "cannot connect: %s", strerror(-fd));
		mon_lost(vm, why);
	} else if (mon_attach(vm, fd, &e) < 0) {
		mon_lost(vm, e.msg);
	}
}

void vm_qemu_init(struct vm *vm)
{
	snprintf(vm->qemu_tag, sizeof(vm->qemu_tag), "vm %s: qemu", vm->cfg->name);
	child_init(&vm->qemu, vm->qemu_tag, qemu_exited, vm);
	vm->qmp_fd = -1;
	vm->qmp_w.cb = mon_cb;
	loop_timer_init(&vm->mon_timer, mon_retry);
}

/* What state.json says of the QEMU just started: its argv (the plan's,
 * and -S when it starts paused) and networks now, its identity once it
 * runs.  0 or -ENOMEM. */
static int run_begin(struct vm *vm, bool paused)
{
	int r = 0;

	vmstate_free(&vm->run);
	memset(&vm->run, 0, sizeof(vm->run));
	for (size_t i = 0; i < vm->plan.qemu.n; i++)
		r |= strv_add(&vm->run.argv, vm->plan.qemu.v[i]);
	if (paused)
		r |= strv_add(&vm->run.argv, "-S");
	vm->run.nnics = vm->cfg->nnics;
	for (int i = 0; i < vm->cfg->nnics; i++)
		vmstate_net(&vm->cfg->nics[i], vm->run.nets[i]);
	return r ? -ENOMEM : 0;
}

/* The plan's argv, with -S when the VM is to start paused (once). */
static int spawn_qemu(struct vm *vm, const int *fds, int nfds)
{
	bool paused = vm->start_paused;
	int r;

	vm->start_paused = false;
	if ((r = run_begin(vm, paused)) < 0)
		return r;
	return vm->spawn(&vm->qemu, vm->run.argv.v, fds, nfds);
}

/* QEMU's sockets, in QEMU_FD_* order (argv.h). */
static const char *sock_path(struct vm *vm, int i)
{
	const char *p[] = { vm->serial_sock, vm->monitor_sock, vm->agent_sock, vm->qmp_sock };

	return p[i];
}

enum { NSOCKS = 4 };

static void unlink_socks(struct vm *vm)
{
	for (int i = 0; i < NSOCKS; i++)
		unlink(sock_path(vm, i));
}

int vm_qemu_spawn(struct vm *vm)
{
	int fds[QEMU_FD_NIC0 - 3 + TOPO_MAX_NICS + PLAN_MAX_FILES], nfds = QEMU_FD_NIC0 - 3, r = 0, i, made = 0;
	struct stat st;

	for (i = 0; i < nfds; i++)
		fds[i] = -1;
	/* Listening sockets QEMU keeps: a later supervisor connects to the
	 * same paths.  unix_listen refuses a path something still answers on
	 * (a QEMU nobody adopted), so no second QEMU runs on its sockets. */
	for (i = 0; i < NSOCKS; i++, made++) {
		if ((fds[i] = unix_listen(sock_path(vm, i), 4)) < 0) {
			r = fds[i] == -EADDRINUSE ?
				err_set(&vm->err, EADDRINUSE, "%s: another QEMU still listens there", sock_path(vm, i)) :
				err_sys(&vm->err, -fds[i], "cannot listen on %s", sock_path(vm, i));
			goto out;
		}
	}
	/* QEMU's serial port writes console.log itself, through its own open
	 * file; its stderr goes to qemu.log, which outlives us both. */
	if ((fds[QEMU_FD_CONSOLE_LOG - 3] = open(vm->console_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
						  O_NOFOLLOW, 0600)) < 0) {
		r = err_sys(&vm->err, errno, "cannot open %s", vm->console_log);
		goto out;
	}
	/* No QEMU holds qemu.log now: a long one is rotated here, once per start. */
	if (stat(vm->qemu_log, &st) == 0 && st.st_size > QEMU_LOG_CAP) {
		char old[PATHS_MAX + 2];

		snprintf(old, sizeof(old), "%s.1", vm->qemu_log);
		rename(vm->qemu_log, old);
	}
	if ((vm->qemu.errlog = open(vm->qemu_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
				    0600)) < 0) {
		r = err_sys(&vm->err, errno, "cannot open %s", vm->qemu_log);
		goto out;
	}
	vm->qemu_log_off = fstat(vm->qemu.errlog, &st) == 0 ? (long long)st.st_size : 0;
	if (vm->cfg->nnics) {
		if ((r = vm_observer.nics_up(vm, fds + nfds, &vm->err)) < 0)
			goto out;
		nfds += vm->cfg->nnics;
	}
	/* The files QEMU's user cannot open itself, after the taps (argv.h). */
	if ((r = plan_open_files(&vm->plan, fds + nfds, &vm->err)) < 0) {
		if (vm->cfg->nnics)
			vm_observer.nics_down(vm);
		goto out;
	}
	nfds += r;
	qemu_user_apply(&vm->qemu);
	/* QEMU outlives the supervisor (no parent-death signal), in its own
	 * session (child_spawn), to be adopted by the next one. */
	vm->qemu.outlive = true;
	r = spawn_qemu(vm, fds, nfds);
	if (r < 0) {
		err_sys(&vm->err, -r, "cannot run %s", vm->plan.qemu.v[0]);
		if (vm->cfg->nnics)
			vm_observer.nics_down(vm);
		goto out;
	}
	vm->shutdown_seen = vm->mon_resync = false;
	vm->run.pid = vm->qemu.pid;
	/* After child_spawn the exec is done: /proc shows QEMU's own. */
	if ((r = proc_start_time(vm->run.pid, &vm->run.start_time)) < 0 ||
	    (r = vmstate_proc_cmdline_hash(vm->run.pid, &vm->run.cmdline_hash)) < 0)
		console_note(vm->console, "cannot read /proc/%d: %s; a later supervisor cannot adopt it",
			     (int)vm->run.pid, strerror(-r));
	r = 0;
	bootlog_reset(vm->boot);
	vm_qemu_connect(vm);
	vm_state_save(vm);
	console_note(vm->console, "QEMU started (pid %d, %s)", (int)vm->qemu.pid,
		     vm->accel.kvm ? "kvm" : "tcg");
out:
	/* QEMU holds its sockets, logs and taps now: they go when it does. */
	for (i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (vm->qemu.errlog >= 0)
		close(vm->qemu.errlog);
	vm->qemu.errlog = -1;
	if (r < 0)
		for (i = 0; i < made; i++)
			unlink(sock_path(vm, i)); /* ours only: not a live QEMU's */
	return r;
}

bool vm_qemu_running(const struct vm *vm)
{
	return child_running(&vm->qemu);
}

int vm_qemu_signal(struct vm *vm, int sig)
{
	return child_signal(&vm->qemu, sig);
}

int vm_pid(const struct vm *vm)
{
	return vm->qemu.pid > 0 ? (int)vm->qemu.pid : 0;
}

/* The last non-empty line QEMU wrote to qemu.log (since it started), for
 * the reason of a failure. */
static void read_last_line(struct vm *vm)
{
	char buf[2048], *end, *start;
	struct stat st;
	off_t from;
	ssize_t n;
	int fd;

	vm->qemu_last[0] = '\0';
	if ((fd = open(vm->qemu_log, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return;
	if (fstat(fd, &st) < 0 || st.st_size <= vm->qemu_log_off) {
		close(fd);
		return;
	}
	from = st.st_size - (off_t)sizeof(buf) + 1;
	if (from < vm->qemu_log_off)
		from = vm->qemu_log_off;
	n = pread(fd, buf, sizeof(buf) - 1, from);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	end = buf + n;
	while (end > buf && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	start = end;
	while (start > buf && start[-1] != '\n')
		start--;
	snprintf(vm->qemu_last, sizeof(vm->qemu_last), "%.*s", (int)sizeof(vm->qemu_last) - 1, start);
}

void vm_qemu_gone(struct vm *vm)
{
	loop_timer_disarm(&vm->mon_timer);
	vm->mon_lost = vm->mon_lost_told = vm->mon_resync = false;
	vm->adopted = vm->adopting = vm->shutdown_seen = false;
	vm->stale[0] = '\0';
	vmstate_free(&vm->run);
	memset(&vm->run, 0, sizeof(vm->run));
	unlink_socks(vm);
	unlink(vm->state_json);
	read_last_line(vm);
}

void vm_qemu_free(struct vm *vm)
{
	if (vm_qemu_running(vm) && !vm->detached) {
		/* Not handed to a next supervisor: it goes with this one, as
		 * before QEMU could outlive us (an adopted one too: up to
		 * CHILD_KILL_WAIT_MS for it to be gone). */
		child_stop_sync(&vm->qemu, 0);
		unlink_socks(vm);
		unlink(vm->state_json);
	}
	loop_timer_close(&vm->mon_timer);
	vmstate_free(&vm->run);
}

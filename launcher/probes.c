/* probes.c - the waiters that poll: `wait --exec CMD` runs /bin/sh -c CMD
 * in the guest (guest.h) every interval until it exits 0, and `wait --port
 * N` connects to the VM's first address from the fabric's namespace every
 * interval until a connect succeeds.  Each remembers its last failure for
 * the timeout message.
 *
 * A waiter settled from elsewhere (its timeout, the VM stopping) stops its
 * probe through sup_probe_stop(): the exec is cancelled (guest.c frees it
 * when its agent request came back), the socket and timer closed at once;
 * their stale events in the same batch find fd -1 and do nothing.
 */
#include "launcher/supervisor_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORT_CONNECT_MIN_MS 1000 /* a connect gets at least this long for an answer */

/* e's message without the "VM: " it starts with, as the last failure. */
static void set_last(struct waiter *w, const char *msg)
{
	size_t n = strlen(vm_name(w->vm));

	if (strncmp(msg, vm_name(w->vm), n) == 0 && strncmp(msg + n, ": ", 2) == 0)
		msg += n + 2;
	snprintf(w->last, sizeof(w->last), "%s", msg);
}

/* Try again after the interval; a timer that cannot be armed fails w. */
static void schedule(struct waiter *w, unsigned ms)
{
	int r = loop_timer_arm(&w->poll, ms);

	if (r < 0) {
		err_sys(sup_op_err(w->op, 1), -r, "%s: cannot arm a timer", vm_name(w->vm));
		sup_waiter_done(w);
	}
}

/* ---- wait --exec ---- */

static void exec_done(void *opaque, json_t *result, const struct err *e)
{
	struct waiter *w = opaque;

	w->x = NULL;
	if (result && json_integer_value(json_object_get(result, "exitcode")) == 0 &&
	    !json_object_get(result, "signal")) {
		sup_waiter_done(w);
		return;
	}
	if (result)
		guest_exec_failure(result, w->last, sizeof(w->last));
	else
		set_last(w, e->msg);
	schedule(w, w->interval_ms);
}

static void exec_try(struct waiter *w)
{
	json_t *argv, *args;
	struct err e;
	int r;

	if (!vm_agent_up(w->vm)) {
		/* No request, so no noise: the agent coming up kicks us. */
		guest_not_connected(&e, w->vm);
		set_last(w, e.msg);
		schedule(w, w->interval_ms);
		return;
	}
	if (!(argv = json_pack("[s, s]", "-c", w->cmd)))
		r = err_set(&e, ENOMEM, "out of memory");
	else
		r = guest_exec_args("/bin/sh", argv, NULL, NULL, &args, &e);
	json_decref(argv);
	if (r < 0 || guest_exec_start(w->vm, args, w->cmd, 0, exec_done, w, &w->x, &e) < 0) {
		set_last(w, e.msg);
		schedule(w, w->interval_ms);
	}
}

/* ---- wait --port ---- */

const char *sup_vm_address(const struct vm *vm, char *buf)
{
	const struct topo_vm *cfg = vm_config(vm);
	const char *ip;

	if (cfg->nnics == 0)
		return NULL;
	if (sup.fabric && (ip = fabric_lease(sup.fabric, cfg->nics[0].mac, buf)))
		return ip;
	if (cfg->nics[0].has_ip)
		return inet_ntop(AF_INET, &cfg->nics[0].ip, buf, INET_ADDRSTRLEN);
	return NULL;
}

static void sock_close(struct waiter *w)
{
	if (w->sock < 0)
		return;
	loop_del(w->sock);
	close(w->sock);
	w->sock = -1;
}

static void port_cb(struct loop_watch *lw, uint32_t events)
{
	struct waiter *w = container_of(lw, struct waiter, sock_w);
	struct sockaddr_in peer;
	socklen_t len = sizeof(int), plen = sizeof(peer);
	int err = 0;

	(void)events;
	if (w->sock < 0)
		return; /* closed earlier in this batch */
	if (getsockopt(w->sock, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0 && getpeername(w->sock, (struct sockaddr *)&peer, &plen) == 0) {
		sup_waiter_done(w);
		return;
	}
	if (err == 0 && errno != ENOTCONN)
		err = errno;
	if (err == 0)
		return; /* still connecting */
	snprintf(w->last, sizeof(w->last), "%s: %s", w->addr, strerror(err));
	sock_close(w);
	schedule(w, w->interval_ms);
}

/* A non-blocking socket made in the fabric's namespace: it stays there. */
static int fabric_socket(void)
{
	int saved, fd, r;

	if ((r = fabric_enter(sup.fabric, &saved)) < 0)
		return r;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	r = fd < 0 ? -errno : fd;
	fabric_leave(saved);
	return r;
}

static void port_try(struct waiter *w)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)w->port) };
	char ip[INET_ADDRSTRLEN];
	unsigned deadline = w->interval_ms > PORT_CONNECT_MIN_MS ? w->interval_ms : PORT_CONNECT_MIN_MS;
	int r;

	if (!sup_vm_address(w->vm, ip)) {
		snprintf(w->last, sizeof(w->last), "no address yet (no DHCP lease, no ip=)");
		schedule(w, w->interval_ms);
		return;
	}
	snprintf(w->addr, sizeof(w->addr), "%s:%d", ip, w->port);
	inet_pton(AF_INET, ip, &sa.sin_addr);
	if ((r = fabric_socket()) < 0) {
		snprintf(w->last, sizeof(w->last), "socket in the fabric's namespace: %s", strerror(-r));
		schedule(w, w->interval_ms);
		return;
	}
	w->sock = r;
	if (connect(w->sock, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(w->sock);
		w->sock = -1;
		sup_waiter_done(w);
		return;
	}
	if (errno != EINPROGRESS) {
		snprintf(w->last, sizeof(w->last), "%s: %s", w->addr, strerror(errno));
		close(w->sock);
		w->sock = -1;
		schedule(w, w->interval_ms);
		return;
	}
	w->sock_w.cb = port_cb;
	if ((r = loop_add(w->sock, EPOLLOUT, &w->sock_w)) < 0) {
		close(w->sock);
		w->sock = -1;
		err_sys(sup_op_err(w->op, 1), -r, "%s: cannot watch a socket", vm_name(w->vm));
		sup_waiter_done(w);
		return;
	}
	/* A guest that drops SYNs never answers: give up on this one then. */
	schedule(w, deadline);
}

/* ---- both ---- */

static void poll_fire(struct loop_timer *t)
{
	struct waiter *w = container_of(t, struct waiter, poll);

	if (w->kind == WAIT_EXEC) {
		if (!w->x)
			exec_try(w);
		return;
	}
	if (w->sock >= 0) {
		snprintf(w->last, sizeof(w->last), "%s: no answer", w->addr);
		sock_close(w);
	}
	port_try(w);
}

void sup_probe_start(struct waiter *w)
{
	loop_timer_init(&w->poll, poll_fire);
	if (w->kind == WAIT_EXEC)
		exec_try(w);
	else
		port_try(w);
}

void sup_probe_kick(struct waiter *w)
{
	if (w->kind != WAIT_EXEC || w->x || !w->op)
		return;
	loop_timer_disarm(&w->poll);
	exec_try(w);
}

void sup_probe_stop(struct waiter *w)
{
	guest_exec_cancel(w->x);
	w->x = NULL;
	sock_close(w);
	loop_timer_close(&w->poll);
}

/* supervisor.c - the fabric: VMs, control requests, signals, shutdown.
 *
 * Control requests that finish later (start, stop, wait, shutdown...) become
 * an op holding the client and one waiter per VM; every VM state change and
 * console line is offered to the waiters of that VM, and the op replies when
 * its last waiter is done.
 */
#include "launcher/supervisor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "launcher/accel.h"
#include "base/buf.h"
#include "base/sock.h"
#include "launcher/argv.h"
#include "launcher/control.h"
#include "launcher/fabric.h"
#include "launcher/impair.h"
#include "net/ovsd.h"
#include "tc/profile.h"
#include "base/loop.h"
#include "base/paths.h"
#include "launcher/topology.h"
#include "launcher/vm.h"

#define STATE_BIT(s) (1u << (s))

struct op {
	struct control_client *client; /* NULL for a shutdown from a signal */
	int pending;
	json_t *reply;                 /* {"ok":true,"vms":[{"name","state"}]} so far */
	char error[512];
	int code;
	bool quit_after;               /* shutdown: leave the loop once replied */
};

struct waiter {
	struct waiter *next;
	struct op *op;
	struct vm *vm;
	unsigned ok, fail;             /* state bitmasks */
	bool console;
	bool lease;                    /* `wait --lease`: any NIC of the VM has one */
	bool says_state;               /* `wait`: the reply names the state reached */
	regex_t re;
	char *match;
	struct loop_timer timeout;
	char *what;                    /* for the timeout message */
};

static struct {
	struct topology *topo;
	const char *profile;
	char run[PATHS_MAX], state[PATHS_MAX];
	char control_path[PATHS_MAX], pid_path[PATHS_MAX];
	int nvms;
	struct vm **vms;
	struct fabric *fabric;         /* NULL when no VM has a NIC */
	struct control_client *shutdown_client; /* answered at the end of teardown */
	struct waiter *waiters;
	int sigfd;
	struct loop_watch sig_w;
	bool shutting_down;
} sup = { .sigfd = -1 };

/* ---- ops and waiters ---- */

static struct op *op_new(struct control_client *c)
{
	struct op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->client = c;
	op->reply = json_pack("{s:b, s:[]}", "ok", 1, "vms");
	if (c)
		control_client_ref(c);
	return op;
}

/* Reply if nothing is pending any more; frees the op. */
static void op_maybe_done(struct op *op)
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
			control_reply_error(op->client, op->code, "%s", op->error);
		else
			control_reply(op->client, json_incref(op->reply));
		control_client_unref(op->client);
	}
	if (op->quit_after)
		loop_quit();
	json_decref(op->reply);
	free(op);
}

static void op_fail(struct op *op, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void op_fail(struct op *op, int code, const char *fmt, ...)
{
	va_list ap;

	if (op->code)
		return; /* the first error is the one reported */
	op->code = code;
	va_start(ap, fmt);
	vsnprintf(op->error, sizeof(op->error), fmt, ap);
	va_end(ap);
}

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

static json_t *leases_json(const struct vm *vm);

static void waiter_done(struct waiter *w)
{
	struct waiter **pp;

	for (pp = &sup.waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	json_array_append_new(json_object_get(w->op->reply, "vms"),
			      json_pack("{s:s, s:s}", "name", vm_name(w->vm),
					"state", vm_state_name(vm_state(w->vm))));
	if (w->match)
		json_object_set_new(w->op->reply, "match", text_json(w->match));
	if (w->says_state)
		json_object_set_new(w->op->reply, "state", json_string(vm_state_name(vm_state(w->vm))));
	if (w->lease && !w->op->code)
		json_object_set_new(w->op->reply, "leases", leases_json(w->vm));
	loop_timer_close(&w->timeout);
	if (w->console)
		regfree(&w->re);
	free(w->match);
	free(w->what);
	w->op->pending--;
	op_maybe_done(w->op);
	free(w);
}

/* Settle w if the VM's state decides it; true when w was freed. */
static bool waiter_check_state(struct waiter *w)
{
	unsigned bit = STATE_BIT(vm_state(w->vm));
	const char *err = vm_last_error(w->vm);

	if (w->ok & bit) {
		waiter_done(w);
		return true;
	}
	if (w->fail & bit) {
		op_fail(w->op, 1, "%s: %s%s%s", vm_name(w->vm), vm_state_name(vm_state(w->vm)),
			*err ? ": " : "", err);
		waiter_done(w);
		return true;
	}
	return false;
}

static bool line_matches(const char *line, void *opaque)
{
	struct waiter *w = opaque;

	if (regexec(&w->re, line, 0, NULL, 0) != 0)
		return false;
	w->match = strdup(line);
	return true;
}

static void waiter_timeout(struct loop_timer *t)
{
	struct waiter *w = container_of(t, struct waiter, timeout);

	op_fail(w->op, 1, "%s: timed out waiting for %s (state %s)", vm_name(w->vm), w->what,
		vm_state_name(vm_state(w->vm)));
	waiter_done(w);
}

static struct waiter *waiter_add(struct op *op, struct vm *vm, unsigned ok, unsigned fail)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->op = op;
	w->vm = vm;
	w->ok = ok;
	w->fail = fail;
	loop_timer_init(&w->timeout, waiter_timeout);
	w->next = sup.waiters;
	sup.waiters = w;
	op->pending++;
	return w;
}

/* A console that will print nothing more: the VM is down and no restart
 * policy brings it back. */
static bool console_over(struct vm *vm)
{
	enum vm_state s = vm_state(vm);

	return s == VM_STOPPED ||
	       (s == VM_CRASHED && topo_find_vm(sup.topo, vm_name(vm))->restart == TOPO_RESTART_NO);
}

static void on_state(struct vm *vm, enum vm_state from, const char *why)
{
	(void)from, (void)why;
	for (struct waiter *w = sup.waiters, *next; w; w = next) {
		next = w->next;
		if (w->vm != vm)
			continue;
		if (!w->console && !w->lease) {
			waiter_check_state(w);
		} else if (console_over(vm)) {
			op_fail(w->op, 1, "%s: %s while waiting for %s%s%s", vm_name(vm),
				vm_state_name(vm_state(vm)), w->what, *vm_last_error(vm) ? ": " : "",
				vm_last_error(vm));
			waiter_done(w);
		}
	}
}

static bool vm_has_lease(const struct vm *vm)
{
	const struct topo_vm *cfg = vm_config(vm);

	char ip[INET_ADDRSTRLEN];

	for (int i = 0; sup.fabric && i < cfg->nnics; i++)
		if (fabric_lease(sup.fabric, cfg->nics[i].mac, ip))
			return true;
	return false;
}

static json_t *leases_json(const struct vm *vm)
{
	const struct topo_vm *cfg = vm_config(vm);
	json_t *a = json_array();
	char mac[18], buf[INET_ADDRSTRLEN];

	for (int i = 0; sup.fabric && i < cfg->nnics; i++) {
		const char *ip = fabric_lease(sup.fabric, cfg->nics[i].mac, buf);

		if (ip)
			json_array_append_new(a, json_pack("{s:i, s:s, s:s}", "index", i, "mac",
							   topo_format_mac(cfg->nics[i].mac, mac), "ip", ip));
	}
	return a;
}

/* What the fabric did on its own: one line in our log. */
static void on_fabric_log(void *opaque, const char *line)
{
	(void)opaque;
	fprintf(stderr, "n3x-launch: fabric: %s\n", line);
}

/* dnsmasq's lease file changed. */
static void on_lease(void *opaque)
{
	(void)opaque;
	for (struct waiter *w = sup.waiters, *next; w; w = next) {
		next = w->next;
		if (w->lease && vm_has_lease(w->vm))
			waiter_done(w);
	}
}

/* A (re)started VM gets its taps wired and then its impairment back. */
static int on_nics_up(struct vm *vm, int *fds, char *why)
{
	const struct topo_vm *cfg = vm_config(vm);
	struct err e;
	int r = fabric_attach(sup.fabric, cfg, fds, &e);

	if (r < 0)
		snprintf(why, 256, "%.255s", e.msg);
	if (r == 0 && (r = impair_vm_up(cfg, why)) < 0) {
		impair_vm_down(cfg);
		for (int i = 0; i < cfg->nnics; i++)
			close(fds[i]);
		fabric_detach(sup.fabric, cfg);
	}
	return r;
}

static void on_nics_down(struct vm *vm)
{
	impair_vm_down(vm_config(vm));
	fabric_detach(sup.fabric, vm_config(vm));
}

static void on_console_line(struct vm *vm, const char *line)
{
	for (struct waiter *w = sup.waiters, *next; w; w = next) {
		next = w->next;
		if (w->vm == vm && w->console && line_matches(line, w))
			waiter_done(w);
	}
}

/* ---- control requests ---- */

static struct vm *find_vm(const char *name)
{
	for (int i = 0; i < sup.nvms; i++)
		if (strcmp(vm_name(sup.vms[i]), name) == 0)
			return sup.vms[i];
	return NULL;
}

/* What the fabric knows of a VM's NICs: its taps while QEMU runs, leases. */
static void status_nics(const struct vm *vm, json_t *vmj)
{
	const struct topo_vm *cfg = vm_config(vm);
	json_t *nics = json_object_get(vmj, "nics");
	bool up = json_is_integer(json_object_get(vmj, "pid"));

	for (int i = 0; sup.fabric && i < cfg->nnics; i++) {
		json_t *n = json_array_get(nics, i);
		char tap[32], buf[INET_ADDRSTRLEN];
		const char *ip = fabric_lease(sup.fabric, cfg->nics[i].mac, buf);

		snprintf(tap, sizeof(tap), "%s-n%d", cfg->name, i);
		json_object_set_new(n, "tap", up ? json_string(tap) : json_null());
		json_object_set_new(n, "lease", json_boolean(ip != NULL));
		if (ip)
			json_object_set_new(n, "ip", json_string(ip));
	}
}

static json_t *status_json(void)
{
	json_t *vms = json_array(), *fab;

	for (int i = 0; i < sup.nvms; i++) {
		json_t *v = vm_status_json(sup.vms[i]);

		status_nics(sup.vms[i], v);
		json_array_append_new(vms, v);
	}
	fab = json_pack("{s:s, s:n, s:s, s:s, s:s, s:i}", "name", sup.topo->fabric.name, "netns",
			"profile", impair_profile(), "run_dir", sup.run, "state_dir", sup.state,
			"pid", (int)getpid());
	if (sup.fabric) {
		json_t *f = fabric_status_json(sup.fabric);

		json_object_update(fab, f);
		json_decref(f);
	}
	return json_pack("{s:b, s:o, s:o}", "ok", 1, "fabric", fab, "vms", vms);
}

struct verb {
	const char *name;
	int (*fn)(struct vm *vm);
	unsigned ok, fail;
};

static const struct verb verbs[] = {
	{ "start", vm_start, STATE_BIT(VM_RUNNING), STATE_BIT(VM_CRASHED) | STATE_BIT(VM_STOPPED) },
	{ "stop", vm_stop, STATE_BIT(VM_STOPPED), 0 },
	{ "kill", vm_kill, STATE_BIT(VM_STOPPED), 0 },
	{ "restart", vm_restart, STATE_BIT(VM_RUNNING), STATE_BIT(VM_CRASHED) | STATE_BIT(VM_STOPPED) },
	{ "pause", vm_pause, STATE_BIT(VM_PAUSED), STATE_BIT(VM_CRASHED) | STATE_BIT(VM_STOPPED) },
	{ "resume", vm_resume, STATE_BIT(VM_RUNNING), STATE_BIT(VM_CRASHED) | STATE_BIT(VM_STOPPED) },
};

/* Collect the VMs a request names ("vms" or "all"); NULL after replying. */
static struct vm **request_vms(struct control_client *c, json_t *req, int *n)
{
	json_t *names = json_object_get(req, "vms"), *v;
	struct vm **list;
	size_t i;

	*n = 0;
	if (json_is_true(json_object_get(req, "all"))) {
		list = calloc(sup.nvms + 1, sizeof(*list));
		for (int k = 0; list && k < sup.nvms; k++)
			list[(*n)++] = sup.vms[k];
		return list;
	}
	if (!json_is_array(names) || json_array_size(names) == 0) {
		control_reply_error(c, 2, "name one or more VMs, or --all");
		return NULL;
	}
	list = calloc(json_array_size(names), sizeof(*list));
	json_array_foreach(names, i, v) {
		struct vm *vm = json_is_string(v) ? find_vm(json_string_value(v)) : NULL;

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

static void run_verb(struct control_client *c, json_t *req, const struct verb *verb)
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
	if (!(op = op_new(c))) {
		free(list);
		control_reply_error(c, 1, "out of memory");
		return;
	}
	op->pending++; /* held until every VM is asked */
	for (int i = 0; i < n; i++) {
		struct waiter *w;
		int r = verb->fn(list[i]);

		if (r < 0 && r != -EALREADY) {
			op_fail(op, 1, "%s: cannot %s a VM that is %s", vm_name(list[i]), verb->name,
				vm_state_name(vm_state(list[i])));
			continue;
		}
		if ((w = waiter_add(op, list[i], verb->ok, verb->fail)))
			waiter_check_state(w);
	}
	free(list);
	op->pending--;
	op_maybe_done(op);
}

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

static struct vm *request_vm(struct control_client *c, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "vm"));
	struct vm *vm = name ? find_vm(name) : NULL;

	if (!vm)
		control_reply_error(c, 2, "no VM named \"%s\" in %s", name ? name : "", sup.topo->path);
	return vm;
}

static void forward_qmp(struct control_client *c, struct vm *vm, json_t *cmd, qmp_reply_fn done)
{
	int r;

	control_client_ref(c);
	if ((r = vm_qmp(vm, cmd, done, c)) < 0) {
		control_client_unref(c);
		control_reply_error(c, 1, "%s: QMP is not available (VM is %s)", vm_name(vm),
				    vm_state_name(vm_state(vm)));
	}
}

static void cmd_qmp(struct control_client *c, json_t *req)
{
	struct vm *vm = request_vm(c, req);
	json_t *cmd = json_object_get(req, "command");

	if (!vm)
		return;
	if (!json_is_object(cmd) || !json_is_string(json_object_get(cmd, "execute"))) {
		control_reply_error(c, 2, "a QMP command is an object with \"execute\"");
		return;
	}
	forward_qmp(c, vm, json_incref(cmd), qmp_done);
}

static void cmd_hmp(struct control_client *c, json_t *req)
{
	struct vm *vm = request_vm(c, req);
	const char *line = json_string_value(json_object_get(req, "command"));

	if (!vm)
		return;
	if (!line) {
		control_reply_error(c, 2, "hmp needs a command line");
		return;
	}
	forward_qmp(c, vm, json_pack("{s:s, s:{s:s}}", "execute", "human-monitor-command",
				     "arguments", "command-line", line), hmp_done);
}

static void cmd_wait(struct control_client *c, json_t *req)
{
	struct vm *vm = request_vm(c, req);
	const char *regex = json_string_value(json_object_get(req, "console"));
	const char *state = json_string_value(json_object_get(req, "state"));
	bool lease = json_is_true(json_object_get(req, "lease"));
	json_t *tj = json_object_get(req, "timeout");
	double timeout = json_is_number(tj) ? json_number_value(tj) : 60;
	struct waiter *w;
	struct op *op;
	unsigned ok = 0;
	int e;

	if (!vm)
		return;
	if (!!regex + !!state + lease != 1) {
		control_reply_error(c, 2, "wait needs one of --console REGEX, --state STATE or --lease");
		return;
	}
	if (lease && !sup.fabric) {
		control_reply_error(c, 2, "%s has no NIC: no lease to wait for", vm_name(vm));
		return;
	}
	if (state) {
		for (int s = 0; s < VM_NSTATES; s++)
			if (strcmp(state, vm_state_name(s)) == 0)
				ok = STATE_BIT(s);
		if (!ok) {
			control_reply_error(c, 2, "unknown state \"%s\" (stopped, starting, running, "
					    "paused, stopping, crashed)", state);
			return;
		}
	}
	if (!(op = op_new(c)) || !(w = waiter_add(op, vm, ok, 0))) {
		free(op);
		control_reply_error(c, 1, "out of memory");
		return;
	}
	w->says_state = true;
	w->lease = lease;
	if (!(w->what = strdup(state ? state : regex ? regex : "a DHCP lease"))) {
		op_fail(op, 1, "out of memory");
		waiter_done(w);
		return;
	}
	if (regex) {
		if ((e = regcomp(&w->re, regex, REG_EXTENDED | REG_NOSUB)) != 0) {
			char msg[128];

			regerror(e, &w->re, msg, sizeof(msg));
			op_fail(op, 2, "bad regex \"%s\": %s", regex, msg);
			waiter_done(w);
			return;
		}
		w->console = true;
	}
	if (timeout > 0)
		loop_timer_arm(&w->timeout, (uint64_t)(timeout * 1000));
	if (w->console ? vm_console_scan(vm, line_matches, w) : lease ? vm_has_lease(vm) : false)
		waiter_done(w);
	else if (state)
		waiter_check_state(w);
}

static void shutdown_all(struct control_client *c)
{
	struct op *op = op_new(c);

	if (!op) {
		loop_quit();
		return;
	}
	sup.shutting_down = true;
	op->quit_after = true;
	op->pending++;
	for (int i = 0; i < sup.nvms; i++) {
		struct waiter *w;

		vm_stop(sup.vms[i]);
		if ((w = waiter_add(op, sup.vms[i], STATE_BIT(VM_STOPPED) | STATE_BIT(VM_CRASHED), 0)))
			waiter_check_state(w);
	}
	op->pending--;
	op_maybe_done(op);
}

static void dispatch(struct control_client *c, json_t *req)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(cmd, verbs[i].name) == 0)
			return run_verb(c, req, &verbs[i]);
	if (strcmp(cmd, "status") == 0)
		control_reply(c, status_json());
	else if (strcmp(cmd, "qmp") == 0)
		cmd_qmp(c, req);
	else if (strcmp(cmd, "hmp") == 0)
		cmd_hmp(c, req);
	else if (strcmp(cmd, "wait") == 0)
		cmd_wait(c, req);
	else if (strcmp(cmd, "tc") == 0)
		impair_request(c, req);
	else if (strcmp(cmd, "shutdown") == 0)
		sup.shutting_down ? control_reply_error(c, 1, "already shutting down") : shutdown_all(c);
	else
		control_reply_error(c, 2, "unknown command \"%s\"", cmd);
}

/* ---- signals ---- */

static void kill_all(void)
{
	for (int i = 0; i < sup.nvms; i++)
		vm_kill(sup.vms[i]);
}

static void sig_cb(struct loop_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)w, (void)events;
	while (read(sup.sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (sup.shutting_down) {
			/* A second Ctrl-C: stop waiting for the guests. */
			fprintf(stderr, "n3x-launch: %s again: killing every VM\n", sigabbrev_np(si.ssi_signo));
			kill_all();
			continue;
		}
		fprintf(stderr, "n3x-launch: SIG%s: stopping every VM (again to kill them)\n",
			sigabbrev_np(si.ssi_signo));
		shutdown_all(NULL);
	}
}

/* Block the signals we handle before the first fork, so no child or early
 * signal slips past the signalfd; children unblock them before exec. */
static int signals_open(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	sup.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sup.sigfd < 0)
		return -errno;
	sup.sig_w.cb = sig_cb;
	return loop_add(sup.sigfd, EPOLLIN, &sup.sig_w);
}

/* ---- start-up checks: everything that can fail is found before anything starts ---- */

static int check_only(const struct topology *t, const char *only)
{
	int bad = 0;

	for (const char *p = only; p && *p;) {
		const char *e = strchrnul(p, ',');
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)(e - p), p);
		if (!topo_find_vm(t, name)) {
			fprintf(stderr, "n3x-launch: --only: no VM named \"%s\" in %s\n", name, t->path);
			bad++;
		}
		p = *e ? e + 1 : e;
	}
	return bad;
}

/* Accel and socket paths: per VM, reported as FILE:LINE like the parser. */
static int check_vms(const struct topology *t, const struct accel_host *host, const char *only,
		     struct accel_choice *choices)
{
	int bad = 0;

	for (int i = 0; i < t->nvms; i++) {
		const struct topo_vm *vm = &t->vms[i];
		char sock[PATHS_MAX + 32];

		if (!topo_selected(only, vm->name))
			continue;
		if (accel_decide(host, vm->arch, vm->accel, &choices[i]) < 0) {
			fprintf(stderr, "%s:%d: vm %s: accel=kvm is not usable here: %s (use accel=auto or tcg)\n",
				t->path, vm->line, vm->name, choices[i].reason);
			bad++;
		}
		snprintf(sock, sizeof(sock), "%s/vm/%s/console.sock", sup.run, vm->name);
		if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			fprintf(stderr, "%s:%d: vm %s: socket path %s is too long for a unix socket "
				"(set XDG_RUNTIME_DIR to a shorter directory)\n", t->path, vm->line, vm->name, sock);
			bad++;
		}
	}
	return bad;
}

/* Networks without a VM on them still get built: the host side is usable. */
static bool needs_fabric(const struct topology *t)
{
	return t->nnetworks > 0;
}

static int print_plan(const struct topology *t, const char *only, const struct accel_choice *choices)
{
	/* Without the kernel module, a private OVS runs the userspace datapath. */
	bool userspace = ovsd_kernel_datapath() != 1;

	printf("# n3x-launch plan for %s: fabric %s, profile %s\n", t->path, t->fabric.name, sup.profile);
	printf("# run %s, state %s\n", sup.run, sup.state);
	for (int i = 0; i < t->nvms; i++) {
		const struct topo_vm *vm = &t->vms[i];
		struct vm_plan plan;
		struct plan_env d = { .ovs_userspace = userspace };

		if (!topo_selected(only, vm->name))
			continue;
		paths_join(d.run, sizeof(d.run), "%s/vm/%s", sup.run, vm->name);
		paths_join(d.state, sizeof(d.state), "%s/vm/%s", sup.state, vm->name);
		if (plan_build(vm, &choices[i], &d, &plan) < 0) {
			plan_free(&plan);
			fprintf(stderr, "n3x-launch: out of memory\n");
			return 1;
		}
		printf("\n# vm %s: %s, %s%s%s%s, restart=%s, autostart=%s\n", vm->name,
		       topo_arch_name(vm->arch), choices[i].kvm ? "kvm" : "tcg",
		       choices[i].reason[0] ? " (" : "", choices[i].reason, choices[i].reason[0] ? ")" : "",
		       vm->restart == TOPO_RESTART_NO ? "no" :
		       vm->restart == TOPO_RESTART_ALWAYS ? "always" : "on-failure",
		       vm->autostart ? "yes" : "no");
		plan_print(&plan, stdout);
		plan_free(&plan);
	}
	if (needs_fabric(t))
		fabric_print_plan(t, only, stdout);
	return 0;
}

/* A live supervisor answers on control.sock; a stale file does not. */
static pid_t running_supervisor(void)
{
	int fd = unix_connect(sup.control_path);
	pid_t pid = -1;
	FILE *f;

	if (fd < 0)
		return 0;
	close(fd);
	if ((f = fopen(sup.pid_path, "re"))) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid;
}

/* ---- the run ---- */

static int write_pid(void)
{
	FILE *f = fopen(sup.pid_path, "we");

	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f) ? -errno : 0;
}

static void teardown(void)
{
	for (struct waiter *w = sup.waiters, *next; w; w = next) {
		next = w->next;
		op_fail(w->op, 1, "the supervisor exited");
		waiter_done(w);
	}
	for (int i = 0; i < sup.nvms; i++)
		vm_free(sup.vms[i]);
	free(sup.vms);
	sup.vms = NULL;
	sup.nvms = 0;
	if (sup.fabric)
		fabric_close(sup.fabric);
	sup.fabric = NULL;
	if (sup.shutdown_client) {
		control_reply(sup.shutdown_client, json_pack("{s:b}", "ok", 1));
		control_client_unref(sup.shutdown_client);
	}
	control_close();
	unlink(sup.pid_path);
	char vmdir[PATHS_MAX + 8];
	snprintf(vmdir, sizeof(vmdir), "%s/vm", sup.run);
	rmdir(vmdir);
	rmdir(sup.run);
	if (sup.sigfd >= 0) {
		loop_del(sup.sigfd);
		close(sup.sigfd);
		sup.sigfd = -1;
	}
	loop_close();
}

/* Detach: the parent waits on a pipe until the child says the VMs are
 * started (a 0 byte) or failed (its exit code), then exits with that. */
static int daemonize(int *notify)
{
	int p[2];
	pid_t pid;
	unsigned char code = 1;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		perror("n3x-launch: daemon");
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &code, 1) != 1)
			code = 1;
		exit(code);
	}
	close(p[0]);
	setsid();
	*notify = p[1];
	return 0;
}

static void daemon_log(void)
{
	char log[PATHS_MAX + 16];
	int fd, null = open("/dev/null", O_RDWR | O_CLOEXEC);

	snprintf(log, sizeof(log), "%s/launcher.log", sup.state);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		close(null);
	}
	if (fd >= 0) {
		dup2(fd, 2);
		close(fd);
	}
}

static int build_vms(const struct topology *t, const char *only, const struct accel_choice *choices)
{
	static const struct vm_observer obs = {
		.state = on_state, .console_line = on_console_line,
		.nics_up = on_nics_up, .nics_down = on_nics_down,
	};
	int r;

	vm_set_observer(&obs);
	sup.vms = calloc(t->nvms, sizeof(*sup.vms));
	if (!sup.vms)
		return -ENOMEM;
	for (int i = 0; i < t->nvms; i++) {
		if (!topo_selected(only, t->vms[i].name))
			continue;
		if ((r = vm_new(&t->vms[i], &choices[i], sup.run, sup.state,
				sup.fabric && fabric_ovs_userspace(sup.fabric), &sup.vms[sup.nvms])) < 0) {
			fprintf(stderr, "n3x-launch: vm %s: %s\n", t->vms[i].name, strerror(-r));
			return r;
		}
		sup.nvms++;
	}
	return 0;
}

int supervisor_main(const struct sup_options *opt)
{
	struct accel_choice *choices = NULL;
	struct accel_host host;
	int notify = -1, rc = 2, r;
	pid_t other;

	if (topo_load(opt->topology, stderr, &sup.topo) < 0)
		return 2;
	sup.profile = opt->profile ? opt->profile : sup.topo->fabric.profile;
	if (strcmp(sup.profile, "default") != 0 && !topo_find_profile(sup.topo, sup.profile)) {
		fprintf(stderr, "n3x-launch: --profile: no profile \"%s\" in %s\n", sup.profile, sup.topo->path);
		goto out;
	}
	if (paths_run_dir(sup.topo->fabric.name, sup.run, sizeof(sup.run)) < 0 ||
	    paths_state_dir(sup.topo->fabric.name, sup.state, sizeof(sup.state)) < 0 ||
	    paths_join(sup.control_path, sizeof(sup.control_path), "%s/control.sock", sup.run) < 0 ||
	    paths_join(sup.pid_path, sizeof(sup.pid_path), "%s/launcher.pid", sup.run) < 0) {
		fprintf(stderr, "n3x-launch: runtime directory path too long\n");
		goto out;
	}
	accel_probe(&host);
	choices = calloc(sup.topo->nvms + 1, sizeof(*choices));
	if (!choices || check_only(sup.topo, opt->only) + check_vms(sup.topo, &host, opt->only, choices) +
			fabric_check(sup.topo, stderr) + (tc_profile_check(sup.topo, stderr) < 0))
		goto out;
	/* Resolving the profile touches no link, and a rule this kernel cannot
	 * run (netem) is found before anything starts. */
	if (needs_fabric(sup.topo) && impair_open(sup.topo, sup.profile) < 0)
		goto out;
	if (opt->check) {
		rc = print_plan(sup.topo, opt->only, choices);
		goto out;
	}

	rc = 1;
	if ((other = running_supervisor()) != 0) {
		fprintf(stderr, "n3x-launch: fabric %s is already running (pid %d, %s)\n",
			sup.topo->fabric.name, (int)other, sup.control_path);
		goto out;
	}
	if ((r = paths_mkdir_p(sup.run, 0700)) < 0 || (r = paths_mkdir_p(sup.state, 0700)) < 0) {
		fprintf(stderr, "n3x-launch: cannot create %s or %s: %s\n", sup.run, sup.state, strerror(-r));
		goto out;
	}
	if (opt->daemon && daemonize(&notify) < 0)
		goto out;
	if ((r = loop_open()) < 0 || (r = signals_open()) < 0) {
		fprintf(stderr, "n3x-launch: event loop: %s\n", strerror(-r));
		goto out_teardown;
	}
	if ((r = control_open(sup.control_path, dispatch)) < 0) {
		fprintf(stderr, "n3x-launch: %s: %s\n", sup.control_path, strerror(-r));
		goto out_teardown;
	}
	if ((r = write_pid()) < 0) {
		fprintf(stderr, "n3x-launch: %s: %s\n", sup.pid_path, strerror(-r));
		goto out_teardown;
	}
	if (needs_fabric(sup.topo)) {
		const struct fabric_hooks hooks = { .lease = on_lease, .log = on_fabric_log };
		struct err e;

		if (fabric_open(sup.topo, sup.run, sup.state, &hooks, &sup.fabric, &e) < 0) {
			fprintf(stderr, "n3x-launch: fabric: %s\n", e.msg);
			goto out_teardown;
		}
	}
	impair_set_fabric(sup.fabric);
	if (build_vms(sup.topo, opt->only, choices) < 0)
		goto out_teardown;
	fprintf(stderr, "n3x-launch: fabric %s: %d VMs, control %s\n", sup.topo->fabric.name,
		sup.nvms, sup.control_path);
	for (int i = 0; i < sup.nvms; i++) {
		const struct topo_vm *cfg = topo_find_vm(sup.topo, vm_name(sup.vms[i]));

		if (cfg->autostart)
			vm_start(sup.vms[i]);
	}
	if (notify >= 0) {
		unsigned char ok = 0;

		fprintf(stderr, "n3x-launch: detached (pid %d); log in %s/launcher.log\n", (int)getpid(), sup.state);
		daemon_log();
		(void)!write(notify, &ok, 1);
		close(notify);
		notify = -1;
	}
	rc = loop_run() < 0 ? 1 : 0;
	fprintf(stderr, "n3x-launch: fabric %s stopped\n", sup.topo->fabric.name);
out_teardown:
	teardown();
out:
	if (notify >= 0) {
		unsigned char code = rc;

		(void)!write(notify, &code, 1);
		close(notify);
	}
	impair_close();
	free(choices);
	topo_free(sup.topo);
	return rc;
}

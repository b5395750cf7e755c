/* supervisor.c - n3x-launch's top: checks, then the fabric, the VMs and the
 * control socket on one loop until shutdown; signals; the VMs' observer.
 *
 * The rest of the supervisor is in waiters.c, requests.c, checks.c and
 * daemon.c (supervisor_impl.h).  This is where errors are printed: once,
 * through log_line(), prefixed "n3x-launch".
 */
#include "launcher/supervisor_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/log.h"
#include "launcher/events.h"
#include "launcher/impair.h"
#include "launcher/notify.h"
#include "launcher/partition.h"
#include "launcher/progress.h"
#include "launcher/schedule.h"
#include "launcher/snapshot.h"

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
			log_line("%s again: killing every VM", sigabbrev_np(si.ssi_signo));
			kill_all();
			continue;
		}
		if (sup.detach_vms) {
			log_line("SIG%s (--detach-vms)", sigabbrev_np(si.ssi_signo));
			sup_leave_all(NULL);
			continue;
		}
		log_info("SIG%s: stopping every VM (again to kill them)", sigabbrev_np(si.ssi_signo));
		sup_shutdown_all(NULL);
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

/* ---- the VMs ---- */

/* What the fabric did on its own: one line in our log. */
static void on_fabric_log(void *opaque, const char *line)
{
	(void)opaque;
	log_line("fabric: %s", line);
}

static void on_fabric_info(void *opaque, const char *line)
{
	(void)opaque;
	log_info("fabric: %s", line);
}

/* A (re)started VM gets its taps wired and then its impairment back. */
static int on_nics_up(struct vm *vm, int *fds, struct err *e)
{
	const struct topo_vm *cfg = vm_config(vm);
	int r = fabric_attach(sup.fabric, cfg, fds, e);

	if (r == 0 && ((r = impair_vm_up(cfg, e)) < 0 || (r = partition_vm_up(cfg, e)) < 0)) {
		impair_vm_down(cfg);
		for (int i = 0; i < cfg->nnics; i++)
			close(fds[i]);
		fabric_detach(sup.fabric, cfg);
	}
	return r;
}

/* An adopted QEMU's taps: wired into the fabric again where they are not,
 * and their qdiscs read back and compared with the profile; what had to be
 * mended is logged. */
static int on_nics_adopt(struct vm *vm, struct err *e)
{
	const struct topo_vm *cfg = vm_config(vm);
	char mended[ERR_MSG_MAX];
	int r;

	if (!sup.fabric)
		return 0;
	if ((r = fabric_adopt_vm(sup.fabric, cfg, e)) < 0 ||
	    (r = impair_vm_adopt(cfg, mended, sizeof(mended), e)) < 0 ||
	    partition_vm_up(cfg, e) < 0)
		return r < 0 ? r : -e->code;
	if (r > 0)
		log_line("vm %s: qdiscs not as the profile says, mended: %s", vm_name(vm), mended);
	return 0;
}

static void on_nics_down(struct vm *vm)
{
	/* A detached VM's QEMU runs on: its ports and glue stay for the next
	 * supervisor. */
	if (sup.keep_vms)
		return;
	impair_vm_down(vm_config(vm));
	fabric_detach(sup.fabric, vm_config(vm));
}

/* The stream first, so a subscriber hears of the change before a client
 * whose request it settles; then the waiters (they log the change), then
 * readiness, which may start watching with a waiter of its own. */
static void on_state(struct vm *vm, enum vm_state from, const char *why)
{
	char reason[ERR_MSG_MAX];
	json_t *data;

	/* why may quote QEMU's stderr, which need not be UTF-8: such bytes
	 * become '?' rather than costing the event its reason. */
	snprintf(reason, sizeof(reason), "%s", why ? why : "");
	data = json_pack("{s:s, s:s, s:s?}", "from", vm_state_name(from), "to",
			 vm_state_name(vm_state(vm)), "reason", *reason ? reason : NULL);
	if (!data) {
		for (char *p = reason; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		data = json_pack("{s:s, s:s, s:s}", "from", vm_state_name(from), "to",
				 vm_state_name(vm_state(vm)), "reason", reason);
	}
	events_emit(vm_name(vm), "state", data);
	sup_on_state(vm, from, why);
	sup_ready_on_state(vm);
	snapshot_on_state(vm);
}

static void on_restart(struct vm *vm, unsigned attempt, unsigned delay_ms)
{
	events_emit(vm_name(vm), "restart",
		    json_pack("{s:I, s:I}", "attempt", (json_int_t)attempt, "delay_ms", (json_int_t)delay_ms));
}

static void on_monitor(struct vm *vm, bool up, const char *why)
{
	if (up)
		log_info("vm %s: monitor connected again", vm_name(vm));
	else
		log_line("vm %s: monitor lost: %s; reconnecting", vm_name(vm), why ? why : "");
	events_emit(vm_name(vm), "monitor", json_pack("{s:b, s:s?}", "connected", up, "reason", why));
}

static void on_agent(struct vm *vm, bool up)
{
	log_info("vm %s: guest agent %s", vm_name(vm), up ? "up" : "down");
	events_emit(vm_name(vm), "agent", json_pack("{s:b}", "up", up));
	sup_on_agent(vm, up);
	snapshot_on_agent(vm, up);
}

/* The lease each NIC had when dnsmasq's file last changed ("" for none),
 * [VM index * TOPO_MAX_NICS + NIC], to tell a new or changed lease. */
static char (*known_leases)[INET_ADDRSTRLEN];

/* dnsmasq's lease file changed: an event per NIC whose lease is new or
 * another address, then the waiters. */
static void on_lease(void *opaque)
{
	char mac[18], buf[INET_ADDRSTRLEN];

	if (!known_leases && sup.nvms) /* the VMs are made before the loop runs */
		known_leases = calloc((size_t)sup.nvms * TOPO_MAX_NICS + 1, sizeof(*known_leases));
	for (int i = 0; known_leases && sup.fabric && i < sup.nvms; i++) {
		const struct topo_vm *cfg = vm_config(sup.vms[i]);

		for (int n = 0; n < cfg->nnics; n++) {
			char *known = known_leases[i * TOPO_MAX_NICS + n];
			const char *ip = fabric_lease(sup.fabric, cfg->nics[n].mac, buf);

			if (!ip) {
				known[0] = '\0'; /* expired or released: the next one is new */
				continue;
			}
			if (strcmp(known, ip) == 0)
				continue;
			log_status(LOG_INFO, "vm %s: lease %s (NIC %d)", vm_name(sup.vms[i]), ip, n);
			events_emit(vm_name(sup.vms[i]), "lease",
				    json_pack("{s:i, s:s, s:s, s:s?}", "nic", n, "mac",
					      topo_format_mac(cfg->nics[n].mac, mac), "ip", ip,
					      "previous", known[0] ? known : NULL));
			snprintf(known, INET_ADDRSTRLEN, "%s", ip);
		}
	}
	sup_on_lease(opaque);
}

/* The fabric started one of its daemons again after it died. */
static void on_fabric_restarted(void *opaque, const char *daemon, const char *reason)
{
	char kind[64];

	(void)opaque;
	snprintf(kind, sizeof(kind), "%s-restarted", daemon);
	events_emit(NULL, kind, json_pack("{s:s}", "reason", reason));
}

/* QEMU's own events go to the stream as they are; snapshot jobs follow
 * theirs. */
static void on_qmp_event(struct vm *vm, const char *event, json_t *data)
{
	log_debug("vm %s: QMP event %s", vm_name(vm), event);
	snapshot_on_qmp_event(vm, event, data);
	events_emit(vm_name(vm), event, json_is_object(data) ? json_deep_copy(data) : NULL);
}

/* A console line: the progress block's last line of the VM, a debug line
 * (guests print escape sequences: control characters go), the waiters. */
static void on_console_line(struct vm *vm, const char *line)
{
	char clean[512];
	size_t n = 0;

	progress_console(vm_name(vm), line);
	if (log_get_level() >= LOG_DEBUG) {
		for (const char *p = line; *p && n < sizeof(clean) - 1; p++)
			if ((unsigned char)*p >= 0x20 && *p != 0x7f)
				clean[n++] = *p;
		clean[n] = '\0';
		log_debug("vm %s console: %s", vm_name(vm), clean);
	}
	sup_on_console_line(vm, line);
}

static int build_vms(const struct topology *t, const char *only, const struct accel_choice *choices)
{
	static const struct vm_observer obs = {
		.state = on_state, .console_line = on_console_line,
		.nics_up = on_nics_up, .nics_down = on_nics_down, .agent = on_agent,
		.qmp_event = on_qmp_event, .restart = on_restart,
		.nics_adopt = on_nics_adopt, .monitor = on_monitor,
	};
	struct err e;
	int r;

	vm_set_observer(&obs);
	sup.vms = calloc(t->nvms, sizeof(*sup.vms));
	if (!sup.vms)
		return -ENOMEM;
	for (int i = 0; i < t->nvms; i++) {
		if (!topo_selected(only, t->vms[i].name))
			continue;
		if ((r = vm_new(&t->vms[i], &choices[i], sup.run, sup.state,
				sup.fabric && fabric_ovs_userspace(sup.fabric), &sup.vms[sup.nvms], &e)) < 0) {
			log_line("%s", e.msg);
			return r;
		}
		sup.nvms++;
	}
	return sup_ready_init();
}

/* Take over what an earlier supervisor of this topology left running (each
 * VM's QEMU, vm_adopt); a VM with nothing to adopt starts if it is
 * autostarted.  Returns how many were adopted. */
static int adopt_or_start(void)
{
	int adopted = 0;
	struct err e;

	for (int i = 0; i < sup.nvms; i++) {
		struct vm *vm = sup.vms[i];
		int r = vm_adopt(vm, &e);

		if (r == 1) {
			const char *stale = vm_stale(vm);

			adopted++;
			log_info("vm %s: adopted QEMU pid %d", vm_name(vm), vm_pid(vm));
			if (*stale)
				log_line("vm %s: runs as it was started, not as the file says: %s", vm_name(vm), stale);
			events_emit(vm_name(vm), "adopted", json_pack("{s:i, s:s?}", "pid", vm_pid(vm), "stale",
								      *stale ? stale : NULL));
			continue;
		}
		if (r < 0)
			log_line("%s", e.msg);
		if (vm_config(vm)->autostart)
			vm_start(vm);
	}
	return adopted;
}

/* ---- progress and systemd ---- */

/* Each VM as status says it (vm_status_json and "ready"), NULL when out
 * of memory. */
static json_t *vms_json(void)
{
	json_t *a = json_array();

	for (int i = 0; a && i < sup.nvms; i++) {
		json_t *v = vm_status_json(sup.vms[i]);

		if (!v || json_object_set_new(v, "ready", json_boolean(sup_vm_ready(sup.vms[i]))) < 0 ||
		    json_array_append_new(a, v) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Show the VMs' progress on out (-1: stderr, through the log), for the
 * terminal tty (owned when out >= 0). */
static void progress_start(int out, int tty)
{
	json_t *vms = vms_json();
	bool *autostart = calloc(sup.nvms ? sup.nvms : 1, sizeof(*autostart));
	int r = -ENOMEM;

	for (int i = 0; autostart && i < sup.nvms; i++)
		autostart[i] = vm_config(sup.vms[i])->autostart;
	if (vms && autostart)
		r = progress_open(out, tty, vms, autostart);
	if (r < 0) {
		log_line("progress display: %s", strerror(-r));
		if (out >= 0 && tty >= 0)
			close(tty);
	}
	json_decref(vms);
	free(autostart);
}

void sup_progress_settle(void)
{
	json_t *vms = vms_json();

	progress_settle(vms);
	json_decref(vms);
}

void sup_stopping(void)
{
	notify_stopping();
	sup_progress_settle();
}

/* ---- the run ---- */

/* Tell a waiting parent (--daemon) the exit code; 0 means detached. */
static void notify_parent(int *notify, int code)
{
	sup_notify_exit(*notify, code);
	*notify = -1;
}

int supervisor_main(const struct sup_options *opt)
{
	struct accel_choice *choices = NULL;
	struct sup_host host = { 0 };
	int notify = -1, rc, r;
	bool kept = false;
	struct err e;
	pid_t other;

	log_set_prefix(SUP_LOG_PREFIX);
	log_set_level(opt->verbosity < 0 ? LOG_WARN : opt->verbosity > 0 ? LOG_DEBUG : LOG_INFO);
	notify_init();
	events_set_listener(progress_event);
	if (topo_load(opt->topology, stderr, &sup.topo) < 0)
		return 2;
	if ((rc = sup_check(opt, &host, &choices)) != 0)
		goto out;
	if (opt->check) {
		rc = sup_print_plan(opt->only, &host, choices);
		goto out;
	}

	rc = 1;
	if ((other = sup_running()) != 0) {
		log_line("fabric %s is already running (pid %d, %s)", sup.topo->fabric.name, (int)other,
			 sup.control_path);
		goto out;
	}
	if ((sup.run_fd = paths_open_dir(sup.run, &e)) < 0 || (sup.state_fd = paths_open_dir(sup.state, &e)) < 0) {
		log_line("%s", e.msg);
		rc = e.code == EPERM ? 2 : 1;
		goto out;
	}
	if (opt->daemon && sup_daemonize(&notify, &e) < 0) {
		log_line("%s", e.msg);
		goto out;
	}
	if ((r = loop_open()) < 0 || (r = signals_open()) < 0) {
		log_line("event loop: %s", strerror(-r));
		goto out_teardown;
	}
	if ((r = control_open(sup.control_path, sup_dispatch)) < 0) {
		log_line("%s: %s", sup.control_path, strerror(-r));
		goto out_teardown;
	}
	if ((r = sup_write_pid()) < 0) {
		log_line("%s: %s", sup.pid_path, strerror(-r));
		goto out_teardown;
	}
	sup.detach_vms = opt->detach_vms;
	if (sup_needs_fabric(sup.topo)) {
		const struct fabric_hooks hooks = { .lease = on_lease, .log = on_fabric_log, .info = on_fabric_info,
						    .restarted = on_fabric_restarted };
		char path[PATHS_MAX + 16];

		if (fabric_adopt(sup.topo, sup.run, sup.state, &hooks, &sup.fabric, &kept, &e) < 0) {
			log_line("fabric: %s", e.msg);
			goto out_teardown;
		}
		/* A kept fabric's links carry the earlier supervisor's profile,
		 * unless --profile asks for another now. */
		snprintf(path, sizeof(path), "%s/tc.json", sup.run);
		if ((r = impair_keep(path, kept && !opt->profile, &e)) < 0)
			log_line("tc: %s; profile %s instead", e.msg, impair_profile());
		else if (r > 0)
			log_line("tc: profile %s, kept from the earlier run", impair_profile());
		snprintf(path, sizeof(path), "%s/partition.json", sup.run);
		if ((r = partition_keep(path, kept, &e)) < 0)
			log_line("partition: %s; none in force", e.msg);
		else if (r > 0)
			log_line("partition kept from the earlier run");
	}
	impair_set_fabric(sup.fabric);
	partition_set_fabric(sup.fabric);
	if (build_vms(sup.topo, opt->only, choices) < 0) {
		/* A kept fabric still serves the VMs no one adopted: leave it. */
		sup.keep_vms = kept;
		goto out_teardown;
	}
	log_info("fabric %s: %d VMs, control %s", sup.topo->fabric.name, sup.nvms, sup.control_path);
	if (notify < 0 && opt->verbosity >= 0)
		progress_start(-1, STDERR_FILENO);
	if ((r = adopt_or_start()) > 0)
		log_info("adopted %d of %d VMs", r, sup.nvms);
	sup_schedule_start();
	/* The fabric is up and the VMs are on their way. */
	notify_ready(sup.nvms, notify >= 0 ? getpid() : 0);
	if (notify >= 0) {
		/* The parent's terminal, for its width, before stderr becomes the log. */
		int tty = opt->verbosity >= 0 ? fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3) : -1;

		log_info("detached (pid %d); log in %s/launcher.log", (int)getpid(), sup.state);
		sup_daemon_log();
		if (opt->wait_ready) {
			/* The parent stays until every autostarted VM is ready (ready.c),
			 * watching them boot. */
			if (tty >= 0)
				progress_start(notify, tty);
			sup_wait_ready_start(notify, opt->wait_ready_s);
			notify = -1;
		} else {
			/* Detached at once: the table as it stands, on a terminal. */
			if (tty >= 0 && isatty(tty)) {
				progress_start(notify, tty);
				sup_progress_settle();
			} else if (tty >= 0) {
				close(tty);
			}
			notify_parent(&notify, 0);
		}
	}
	sup_ready_check_all();
	rc = loop_run() < 0 ? 1 : 0;
	notify_stopping();
	progress_close();
	log_info("fabric %s stopped", sup.topo->fabric.name);
out_teardown:
	progress_close();
	schedule_close();
	sup_teardown();
out:
	notify_parent(&notify, rc);
	impair_close(sup.keep_vms);
	partition_close(sup.keep_vms);
	free(known_leases);
	known_leases = NULL;
	free(choices);
	topo_free(sup.topo);
	log_flush(1000);
	if (sup.run_fd >= 0)
		close(sup.run_fd);
	if (sup.state_fd >= 0)
		close(sup.state_fd);
	sup.run_fd = sup.state_fd = -1;
	return rc;
}

/* fabric.c - namespace, bridges, host interfaces, taps and dnsmasq. */
#include "launcher/fabric.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/child.h"
#include "base/loop.h"
#include "base/paths.h"
#include "net/link.h"
#include "net/netns.h"
#include "net/ovs.h"
#include "net/tap.h"

#define DNSMASQ_RESTART_MS 1000
#define CHILD_STOP_MS 5000
#define OVS_PORT_WAIT_MS 10000

_Static_assert(OVS_FABRIC_MAX >= TOPO_NAME_MAX, "OVS tags rows with the fabric's name");

struct fabric {
	const struct topology *t;
	char netns[TOPO_NAME_MAX + 8]; /* "" for netns=host */
	int nsfd;                      /* -1: the supervisor's own namespace */
	char alias[TOPO_NAME_MAX + 8]; /* "n3x:NAME" on Linux bridges we made */
	struct ovs *ovs;
	char run[PATHS_MAX], state[PATHS_MAX];

	struct child dnsmasq;
	char dnsmasq_conf[PATHS_MAX], dnsmasq_pid[PATHS_MAX], leases_path[PATHS_MAX];
	struct loop_timer dnsmasq_timer;
	char dnsmasq_died[64];        /* how the dnsmasq being restarted ended */
	bool closing;
	struct dnsmasq_watch *watch;
	struct dnsmasq_lease *leases;
	int nleases;
	struct fabric_hooks hooks;
};

/* An event for the owner's log: what the fabric did or saw on its own. */
static void note(const struct fabric *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const struct fabric *f, const char *fmt, ...)
{
	char line[ERR_MSG_MAX];
	va_list ap;

	if (!f->hooks.log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	f->hooks.log(f->hooks.opaque, line);
}

static bool uses_vlans(const struct topology *t, const struct topo_network *net)
{
	for (int i = 0; i < t->nvms; i++)
		for (int j = 0; j < t->vms[i].nnics; j++)
			if (t->vms[i].nics[j].net == net && t->vms[i].nics[j].nvlans)
				return true;
	return false;
}

/* ---- dnsmasq's view of the topology ---- */

/* dnsmasq serves a network with an address and dhcp= or domain=. */
static bool served(const struct topo_network *n)
{
	return n->has_address && (n->has_dhcp || n->domain);
}

static bool dns_needed(const struct topology *t)
{
	for (int i = 0; i < t->nnetworks; i++)
		if (served(&t->networks[i]))
			return true;
	return false;
}

int fabric_dnsmasq_config(const struct topology *t, const char *state_dir, struct dnsmasq_config *c)
{
	struct dnsmasq_net *nets = calloc(t->nnetworks + 1, sizeof(*nets));
	int *index = calloc(t->nnetworks + 1, sizeof(*index)), nhosts = 0;
	struct dnsmasq_host *hosts;

	*c = (struct dnsmasq_config){ .fabric = t->fabric.name, .state_dir = state_dir };
	for (int i = 0; i < t->nvms; i++)
		nhosts += t->vms[i].nnics;
	hosts = calloc(nhosts + 1, sizeof(*hosts));
	if (!nets || !index || !hosts) {
		free(nets);
		free(index);
		free(hosts);
		return -ENOMEM;
	}
	for (int i = 0; i < t->nnetworks; i++) {
		const struct topo_network *n = &t->networks[i];

		index[i] = -1;
		if (!served(n))
			continue;
		index[i] = c->nnets;
		nets[c->nnets++] = (struct dnsmasq_net){
			.name = n->name, .interface = n->host_interface, .address = n->address,
			.prefix = n->prefix, .dhcp = n->has_dhcp, .dhcp_start = n->dhcp_start,
			.dhcp_end = n->dhcp_end, .dhcp_lease = n->dhcp_lease, .domain = n->domain,
		};
	}
	for (int i = 0; i < t->nvms; i++) {
		for (int j = 0; j < t->vms[i].nnics; j++) {
			const struct topo_nic *nic = &t->vms[i].nics[j];
			struct dnsmasq_host *h = &hosts[c->nhosts];

			/* Without ip= the NIC still gets its name, with an address from the range. */
			if (index[nic->net - t->networks] < 0 || (!nic->has_ip && !nic->net->has_dhcp))
				continue;
			h->name = t->vms[i].name;
			topo_format_mac(nic->mac, h->mac);
			h->ip = nic->has_ip ? nic->ip : (struct in_addr){ INADDR_ANY };
			h->net = index[nic->net - t->networks];
			c->nhosts++;
		}
	}
	free(index);
	c->nets = nets;
	c->hosts = hosts;
	return 0;
}

void fabric_dnsmasq_free(struct dnsmasq_config *c)
{
	free((void *)c->nets);
	free((void *)c->hosts);
	*c = (struct dnsmasq_config){ 0 };
}

/* ---- checks and plan ---- */

/* Whether this kernel's bridge does VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING):
 * asked by making one in a throwaway namespace of a child process. */
static bool bridge_vlans_work(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		_exit(unshare(CLONE_NEWNET) == 0 && link_bridge_create("n3xprobe0", false, true) == 0 ? 0 : 1);
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int fabric_check(const struct topology *t, FILE *err)
{
	char alias[64], want[TOPO_NAME_MAX + 8];
	int bad = 0, vlans_work = -1;

	for (int i = 0; i < t->nnetworks; i++) {
		const struct topo_network *n = &t->networks[i];

		if (n->sw != TOPO_SWITCH_LINUX_BRIDGE || !uses_vlans(t, n))
			continue;
		if (vlans_work < 0)
			vlans_work = bridge_vlans_work();
		if (!vlans_work) {
			fprintf(err, "%s:%d: network %s: vlan= on a Linux bridge needs a kernel with "
				"CONFIG_BRIDGE_VLAN_FILTERING, which this one lacks (use switch = ovs)\n",
				t->path, n->line, n->name);
			bad++;
		}
	}
	if (!t->fabric.netns_host)
		return bad; /* a namespace of our own holds only what we put there */
	snprintf(want, sizeof(want), "n3x:%s", t->fabric.name);
	for (int i = 0; i < t->nnetworks; i++) {
		const struct topo_network *n = &t->networks[i];

		if (n->sw != TOPO_SWITCH_LINUX_BRIDGE || link_exists(n->bridge) != 1)
			continue;
		if (link_get_alias(n->bridge, alias, sizeof(alias)) < 0 || strcmp(alias, want) != 0) {
			fprintf(err, "%s:%d: network %s: bridge %s exists and is not this fabric's "
				"(netns = host); pick another name or netns = auto\n", t->path, n->line, n->name, n->bridge);
			bad++;
		}
	}
	return bad;
}

static void print_vlans(const struct topo_nic *nic, FILE *out)
{
	if (nic->nvlans == 1) {
		fprintf(out, " access vlan %u", nic->vlans[0]);
	} else if (nic->nvlans > 1) {
		fputs(" trunk vlans ", out);
		for (int i = 0; i < nic->nvlans; i++)
			fprintf(out, "%s%u", i ? "," : "", nic->vlans[i]);
	}
}

void fabric_print_plan(const struct topology *t, const char *only, FILE *out)
{
	char ip[INET_ADDRSTRLEN], mac[18], tap[TAP_NAME_MAX + 1];

	fprintf(out, "\n# fabric %s: ", t->fabric.name);
	if (t->fabric.netns_host)
		fputs("in the host's network namespace\n", out);
	else
		fprintf(out, "network namespace n3x-%s (ip netns)\n", t->fabric.name);
	for (int i = 0; i < t->nnetworks; i++) {
		const struct topo_network *n = &t->networks[i];

		fprintf(out, "# network %s: %s bridge %s%s, host interface %s", n->name,
			n->sw == TOPO_SWITCH_OVS ? "openvswitch" : "linux", n->bridge, n->stp ? " (stp)" : "",
			n->host_interface);
		if (n->has_address)
			fprintf(out, " %s/%d", inet_ntop(AF_INET, &n->address, ip, sizeof(ip)), n->prefix);
		fputc('\n', out);
		for (int v = 0; v < t->nvms; v++) {
			const struct topo_vm *vm = &t->vms[v];

			if (!topo_selected(only, vm->name))
				continue;
			for (int j = 0; j < vm->nnics; j++) {
				const struct topo_nic *nic = &vm->nics[j];

				if (nic->net != n)
					continue;
				tap_name(vm->name, j, tap, sizeof(tap));
				fprintf(out, "#   tap %s (mac %s) -> %s port", tap,
					topo_format_mac(nic->mac, mac), n->bridge);
				print_vlans(nic, out);
				if (nic->has_ip)
					fprintf(out, ", dhcp-host %s", inet_ntop(AF_INET, &nic->ip, ip, sizeof(ip)));
				fputc('\n', out);
			}
		}
	}
	if (dns_needed(t))
		fputs("# dnsmasq --keep-in-foreground --conf-file=$RUN/dnsmasq.conf (DHCP and DNS)\n", out);
}

/* ---- leftovers ---- */

/* A killed supervisor leaves its namespace (and in it everything but the
 * processes, which died with it) or, with netns=host, its tagged bridges
 * and OVS rows. */
/* dnsmasq drops capabilities, and a change of credentials clears the
 * parent-death signal: unlike QEMU and OVS it outlives a supervisor killed
 * with SIGKILL.  Its pid file (ours, not dnsmasq's) finds it again; the
 * command line must still name our config, so a reused pid is left alone. */
static void kill_stale_dnsmasq(struct fabric *f)
{
	char cmdline[PATHS_MAX * 2] = "", path[64];
	struct pollfd p = { .events = POLLIN };
	FILE *pf = fopen(f->dnsmasq_pid, "re");
	int pid = 0;
	ssize_t n;

	if (!pf)
		return;
	if (fscanf(pf, "%d", &pid) != 1)
		pid = 0;
	fclose(pf);
	unlink(f->dnsmasq_pid);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	int fd = pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0)
		return;
	n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	for (ssize_t i = 0; i < n; i++)
		if (cmdline[i] == '\0')
			cmdline[i] = ' ';
	if (n <= 0 || !strstr(cmdline, f->dnsmasq_conf) || (p.fd = pidfd_open(pid, 0)) < 0)
		return;
	pidfd_send_signal(p.fd, SIGTERM, NULL, 0);
	if (poll(&p, 1, CHILD_STOP_MS) <= 0)
		pidfd_send_signal(p.fd, SIGKILL, NULL, 0);
	close(p.fd);
	note(f, "stopped dnsmasq (pid %d) left by an earlier run", pid);
}

static void clear_leftovers(struct fabric *f)
{
	kill_stale_dnsmasq(f);
	if (!f->t->fabric.netns_host) {
		if (netns_delete(f->netns) == 0)
			note(f, "removed namespace %s left by an earlier run", f->netns);
		return;
	}
	for (int i = 0; i < f->t->nnetworks; i++) {
		const struct topo_network *n = &f->t->networks[i];
		char alias[64];

		if (n->sw == TOPO_SWITCH_LINUX_BRIDGE && link_exists(n->bridge) == 1 &&
		    link_get_alias(n->bridge, alias, sizeof(alias)) == 0 && strcmp(alias, f->alias) == 0 &&
		    link_delete(n->bridge) == 0)
			note(f, "removed bridge %s left by an earlier run", n->bridge);
	}
}

/* ---- build ---- */

static int build_network(struct fabric *f, const struct topo_network *n, struct err *e)
{
	int r;

	if (n->sw == TOPO_SWITCH_OVS) {
		/* ovs-vswitchd makes the internal port's device a moment later. */
		if ((r = ovs_bridge_add(f->ovs, n->bridge, n->host_interface, n->stp, e)) < 0 ||
		    (r = ovs_ports_wait(f->ovs, OVS_PORT_WAIT_MS, e)) < 0) {
			err_wrap(e, "network %s", n->name);
			return r;
		}
	} else {
		if ((r = link_bridge_create(n->bridge, n->stp, uses_vlans(f->t, n))) < 0)
			return err_sys(e, r, "network %s: cannot create bridge %s", n->name, n->bridge);
		/* The alias is how a later run knows the bridge for ours
		 * (leftovers, fabric_check): one without it would be refused. */
		if ((r = link_set_alias(n->bridge, f->alias)) < 0)
			return err_sys(e, r, "network %s: cannot set alias %s on bridge %s", n->name,
				       f->alias, n->bridge);
	}
	if (n->has_address && (r = link_addr_add(n->host_interface, n->address, n->prefix)) < 0)
		return err_sys(e, r, "network %s: cannot add the address to %s", n->name, n->host_interface);
	if ((r = link_set_up(n->host_interface)) < 0 || (r = link_set_up(n->bridge)) < 0)
		return err_sys(e, r, "network %s: cannot bring up %s", n->name, n->host_interface);
	return 0;
}

static void dnsmasq_exited(struct child *c, int wstatus)
{
	struct fabric *f = c->opaque;
	char how[64];

	if (f->closing)
		return;
	note(f, "dnsmasq %s; restarting it in %d ms", child_status_str(wstatus, how, sizeof(how)),
	     DNSMASQ_RESTART_MS);
	snprintf(f->dnsmasq_died, sizeof(f->dnsmasq_died), "%s", how);
	loop_timer_arm(&f->dnsmasq_timer, DNSMASQ_RESTART_MS);
}

static void ovs_port_event(void *opaque, const char *port, int ofport, const char *error)
{
	if (error)
		note(opaque, "openvswitch port %s failed: %s", port, error);
	else if (ofport < 0)
		note(opaque, "openvswitch port %s failed", port);
}

static void ovs_exited(void *opaque, const char *daemon, int wstatus, bool expected, int restart_ms)
{
	char how[64];

	if (expected)
		return;
	if (wstatus == -1)
		snprintf(how, sizeof(how), "exited (adopted, status unknown)");
	else
		child_status_str(wstatus, how, sizeof(how));
	note(opaque, "openvswitch: %s %s; restarting it in %d ms", daemon, how, restart_ms);
}

/* The switch runs again: event "ovs-restarted" {"reason"}. */
static void ovs_restarted(void *opaque, const char *daemon, const char *how)
{
	struct fabric *f = opaque;
	char reason[128];

	snprintf(reason, sizeof(reason), "%s %s", daemon, how);
	note(f, "openvswitch: %s restarted", daemon);
	if (f->hooks.restarted)
		f->hooks.restarted(f->hooks.opaque, "ovs", reason);
}

static void ovs_lost(void *opaque, const struct err *e)
{
	note(opaque, "openvswitch: %s; reconnecting", e->msg);
}

static void ovs_connected(void *opaque)
{
	note(opaque, "openvswitch: connected again; bridges and ports re-asserted");
}

static void ovs_failed(void *opaque, const struct err *e)
{
	note(opaque, "%s", e->msg);
}

static int dnsmasq_start(struct fabric *f, struct err *e)
{
	struct strv argv = { 0 };
	int r;

	if ((r = dnsmasq_argv(f->dnsmasq_conf, &argv)) == 0 &&
	    (r = child_spawn(&f->dnsmasq, argv.v, NULL, 0)) == 0) {
		FILE *pf = fopen(f->dnsmasq_pid, "we");

		if (pf) {
			fprintf(pf, "%d\n", (int)f->dnsmasq.pid);
			fclose(pf);
		}
	}
	strv_free(&argv);
	return r < 0 ? err_sys(e, r, "cannot start dnsmasq") : 0;
}

static void dnsmasq_restart(struct loop_timer *t)
{
	struct fabric *f = container_of(t, struct fabric, dnsmasq_timer);
	struct err e;

	if (dnsmasq_start(f, &e) < 0)
		note(f, "%s", e.msg);
	else if (f->hooks.restarted)
		f->hooks.restarted(f->hooks.opaque, "dnsmasq", f->dnsmasq_died);
}

static void leases_changed(void *opaque, const struct dnsmasq_lease *leases, int n)
{
	struct fabric *f = opaque;
	struct dnsmasq_lease *copy = malloc((n + 1) * sizeof(*copy));
	time_t now = time(NULL);
	int kept = 0;

	if (!copy)
		return;
	for (int i = 0; i < n; i++)
		if (leases[i].expiry == 0 || leases[i].expiry > now) /* 0: infinite */
			copy[kept++] = leases[i];
	free(f->leases);
	f->leases = copy;
	f->nleases = kept;
	if (f->hooks.lease)
		f->hooks.lease(f->hooks.opaque);
}

static void leases_unreadable(void *opaque, const struct err *e)
{
	note(opaque, "%s", e->msg);
}

/* dnsmasq may start before the host interfaces exist (bind-dynamic).  The
 * lease file of an earlier run goes first: its leases are of guests that
 * are gone, and `wait --lease` must see this run's. */
static int dns_start(struct fabric *f, struct err *e)
{
	struct dnsmasq_config c;
	int r;

	if (paths_join(f->leases_path, sizeof(f->leases_path), "%s/" DNSMASQ_LEASES, f->state) < 0)
		return err_set(e, ENAMETOOLONG, "dnsmasq: %s/%s: path too long", f->state, DNSMASQ_LEASES);
	unlink(f->leases_path);
	if ((r = dnsmasq_watch_open(f->leases_path, leases_changed, leases_unreadable, f, &f->watch)) < 0)
		return err_sys(e, r, "dnsmasq");
	if ((r = fabric_dnsmasq_config(f->t, f->state, &c)) == 0) {
		r = dnsmasq_write_config_file(&c, f->dnsmasq_conf);
		fabric_dnsmasq_free(&c);
	}
	if (r < 0)
		return err_sys(e, r, "dnsmasq");
	return dnsmasq_start(f, e);
}

int fabric_open(const struct topology *t, const char *run_dir, const char *state_dir,
		const struct fabric_hooks *hooks, struct fabric **out, struct err *e)
{
	struct fabric *f = calloc(1, sizeof(*f));
	bool any_ovs = false;
	int saved = -1, r = 0;

	*out = NULL;
	if (!f)
		return err_set(e, ENOMEM, "out of memory");
	f->t = t;
	f->nsfd = -1;
	if (hooks)
		f->hooks = *hooks;
	snprintf(f->alias, sizeof(f->alias), "n3x:%s", t->fabric.name);
	snprintf(f->run, sizeof(f->run), "%s", run_dir);
	snprintf(f->state, sizeof(f->state), "%s", state_dir);
	child_init(&f->dnsmasq, "dnsmasq", dnsmasq_exited, f);
	if (paths_join(f->dnsmasq_conf, sizeof(f->dnsmasq_conf), "%s/dnsmasq.conf", run_dir) < 0 ||
	    paths_join(f->dnsmasq_pid, sizeof(f->dnsmasq_pid), "%s/dnsmasq.pid", run_dir) < 0) {
		r = err_set(e, ENAMETOOLONG, "%s/dnsmasq.conf: path too long", run_dir);
		goto fail;
	}
	loop_timer_init(&f->dnsmasq_timer, dnsmasq_restart);
	*out = f;

	if (!t->fabric.netns_host)
		snprintf(f->netns, sizeof(f->netns), "n3x-%s", t->fabric.name);
	clear_leftovers(f);
	if (f->netns[0]) {
		if ((r = netns_create(f->netns)) < 0 || (r = f->nsfd = netns_open(f->netns)) < 0) {
			err_sys(e, r, "cannot create network namespace %s", f->netns);
			goto fail;
		}
		f->dnsmasq.netns = f->nsfd;
	}
	for (int i = 0; i < t->nnetworks; i++)
		any_ovs |= t->networks[i].sw == TOPO_SWITCH_OVS;
	if (any_ovs) {
		const struct ovs_callbacks c = { .port = ovs_port_event, .exited = ovs_exited,
						 .restarted = ovs_restarted, .lost = ovs_lost,
						 .connected = ovs_connected, .failed = ovs_failed,
						 .opaque = f };

		if ((r = ovs_open(t->fabric.name, run_dir, f->nsfd, &c, &f->ovs, e)) < 0)
			goto fail;
		if (ovs_warning(f->ovs))
			note(f, "openvswitch: %s", ovs_warning(f->ovs));
	}
	if (f->nsfd >= 0 && (r = netns_enter(f->nsfd, &saved)) < 0) {
		err_sys(e, r, "cannot enter %s", f->netns);
		goto fail;
	}
	for (int i = 0; i < t->nnetworks; i++)
		if ((r = build_network(f, &t->networks[i], e)) < 0)
			break;
	if (saved >= 0)
		netns_leave(saved);
	if (r < 0 || (dns_needed(t) && (r = dns_start(f, e)) < 0))
		goto fail;
	note(f, "%s%s%s ready%s%s", t->fabric.name, f->netns[0] ? " in namespace " : "", f->netns,
	     f->ovs ? ", openvswitch datapath " : "", f->ovs ? ovs_datapath(f->ovs) : "");
	return 0;
fail:
	fabric_close(f);
	*out = NULL;
	return r;
}

/* A private OVS leaves its database and logs under $RUN/ovs; the logs'
 * warnings went to our log already. */
static void remove_ovs_dir(struct fabric *f)
{
	static const char *const files[] = { "conf.db", ".conf.db.~lock~", "ovsdb-server.log",
					     "ovs-vswitchd.log" };
	char path[PATHS_MAX + 32];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/ovs/%s", f->run, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/ovs", f->run);
	rmdir(path);
}

void fabric_close(struct fabric *f)
{
	struct err e;

	if (!f)
		return;
	f->closing = true;
	loop_timer_close(&f->dnsmasq_timer);
	child_stop_sync(&f->dnsmasq, CHILD_STOP_MS);
	if (f->watch)
		dnsmasq_watch_close(f->watch);
	/* The loop has stopped: removes our rows, stops a private OVS. */
	if (ovs_close(f->ovs, &e) < 0)
		note(f, "%s", e.msg);
	remove_ovs_dir(f);
	if (f->netns[0]) {
		/* Everything else lived in the namespace and goes with it. */
		if (f->nsfd >= 0)
			close(f->nsfd);
		netns_delete(f->netns);
	} else {
		for (int i = 0; i < f->t->nnetworks; i++)
			if (f->t->networks[i].sw == TOPO_SWITCH_LINUX_BRIDGE)
				link_delete(f->t->networks[i].bridge);
	}
	unlink(f->dnsmasq_conf);
	unlink(f->dnsmasq_pid);
	free(f->leases);
	free(f);
}

/* ---- VMs ---- */

/* Wire the tap made for nic to its network's bridge. */
static int attach_tap(struct fabric *f, const struct topo_vm *vm, const struct topo_nic *nic,
		      const char *tap, struct err *e)
{
	const struct topo_network *n = nic->net;
	int r;

	if (n->sw == TOPO_SWITCH_OVS) {
		if ((r = ovs_port_add(f->ovs, n->bridge, tap, vm->name, nic->vlans, nic->nvlans, e)) < 0)
			err_wrap(e, "tap %s: cannot attach it to %s", tap, n->bridge);
		return r;
	}
	if ((r = link_set_master(tap, n->bridge)) == 0 && nic->nvlans)
		r = link_bridge_vlan(tap, nic->vlans, nic->nvlans, nic->nvlans == 1);
	return r < 0 ? err_sys(e, r, "tap %s: cannot attach it to %s", tap, n->bridge) : 0;
}

int fabric_attach(struct fabric *f, const struct topo_vm *vm, int *fds, struct err *e)
{
	int saved = -1, r = 0, made = 0;
	char tap[TAP_NAME_MAX + 1];

	if (f->nsfd >= 0 && (r = netns_enter(f->nsfd, &saved)) < 0)
		return err_sys(e, r, "cannot enter %s", f->netns);
	for (; made < vm->nnics; made++) {
		const struct topo_nic *nic = &vm->nics[made];

		if ((r = tap_name(vm->name, made, tap, sizeof(tap))) < 0) {
			err_sys(e, r, "NIC %d of %s: tap name", made, vm->name);
			break;
		}
		if ((r = tap_create(tap, nic->mac, TAP_DEFAULT_MTU, &fds[made])) < 0) {
			err_sys(e, r, "tap %s", tap);
			break;
		}
		if ((r = attach_tap(f, vm, nic, tap, e)) < 0) {
			close(fds[made]);
			break;
		}
	}
	if (saved >= 0)
		netns_leave(saved);
	if (r < 0) {
		while (made-- > 0)
			close(fds[made]);
		fabric_detach(f, vm);
	}
	return r;
}

void fabric_detach(struct fabric *f, const struct topo_vm *vm)
{
	struct err e;

	if (f->ovs && ovs_vm_del(f->ovs, vm->name, &e) < 0)
		note(f, "%s", e.msg);
}

int fabric_enter(const struct fabric *f, int *saved)
{
	*saved = -1;
	return f->nsfd >= 0 ? netns_enter(f->nsfd, saved) : 0;
}

void fabric_leave(int saved)
{
	if (saved >= 0)
		netns_leave(saved);
}

bool fabric_ovs_userspace(const struct fabric *f)
{
	return f->ovs && strcmp(ovs_datapath(f->ovs), "netdev") == 0;
}

const char *fabric_lease(const struct fabric *f, const uint8_t mac[6], char *ip)
{
	const struct dnsmasq_lease *l = dnsmasq_lease_find(f->leases, f->nleases, mac);

	return l ? inet_ntop(AF_INET, &l->ip, ip, INET_ADDRSTRLEN) : NULL;
}

json_t *fabric_status_json(const struct fabric *f)
{
	json_t *nets = json_array();
	char addr[INET_ADDRSTRLEN], cidr[INET_ADDRSTRLEN + 4];

	for (int i = 0; i < f->t->nnetworks; i++) {
		const struct topo_network *n = &f->t->networks[i];

		if (n->has_address)
			snprintf(cidr, sizeof(cidr), "%s/%d",
				 inet_ntop(AF_INET, &n->address, addr, sizeof(addr)), n->prefix);
		json_array_append_new(nets, json_pack("{s:s, s:s, s:s, s:s, s:s?, s:b}", "name", n->name,
			"switch", n->sw == TOPO_SWITCH_OVS ? "ovs" : "linux-bridge", "bridge", n->bridge,
			"host_interface", n->host_interface, "address", n->has_address ? cidr : NULL,
			"stp", n->stp));
	}
	return json_pack("{s:s?, s:s?, s:o}", "netns", f->netns[0] ? f->netns : NULL,
			 "datapath", f->ovs ? ovs_datapath(f->ovs) : NULL, "networks", nets);
}

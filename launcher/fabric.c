/* fabric.c - namespace, bridges, host interfaces and taps (dnsmasq:
 * fabric_dns.c). */
#include "launcher/fabric_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/link.h"
#include "net/netns.h"
#include "net/ovs.h"
#include "net/tap.h"
#include "tc/tc.h"

#define OVS_PORT_WAIT_MS 10000

_Static_assert(OVS_FABRIC_MAX >= TOPO_NAME_MAX, "OVS tags rows with the fabric's name");

void fabric_note(const struct fabric *f, const char *fmt, ...)
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

/* fabric_note for routine news: the info hook when there is one. */
static void fabric_info(const struct fabric *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fabric_info(const struct fabric *f, const char *fmt, ...)
{
	void (*fn)(void *, const char *) = f->hooks.info ? f->hooks.info : f->hooks.log;
	char line[ERR_MSG_MAX];
	va_list ap;

	if (!fn)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fn(f->hooks.opaque, line);
}


static bool uses_vlans(const struct topology *t, const struct topo_network *net)
{
	for (int i = 0; i < t->nvms; i++)
		for (int j = 0; j < t->vms[i].nnics; j++)
			if (t->vms[i].nics[j].net == net && t->vms[i].nics[j].nvlans)
				return true;
	return false;
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
	char ip[INET_ADDRSTRLEN], mac[18], tap[TAP_NAME_MAX + 1], glue[IFNAMSIZ], port[IFNAMSIZ];

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
				tap_glue_name(tap, glue, sizeof(glue));
				tap_port_name(tap, port, sizeof(port));
				fprintf(out, "#   tap %s (mac %s) glued to veth %s, port %s on %s", tap,
					topo_format_mac(nic->mac, mac), glue, port, n->bridge);
				print_vlans(nic, out);
				if (nic->has_ip)
					fprintf(out, ", dhcp-host %s", inet_ntop(AF_INET, &nic->ip, ip, sizeof(ip)));
				fputc('\n', out);
			}
		}
	}
	if (fabric_dns_needed(t))
		fputs("# dnsmasq --keep-in-foreground --conf-file=$RUN/dnsmasq.conf (DHCP and DNS)\n", out);
}

/* ---- leftovers ---- */

/* The alias of a glue end: whose tap it serves, so a leftover can be told
 * from someone else's link. */
#define GLUE_ALIAS_PREFIX "n3x-glue:"

/* A glue end (and with it its port) left by a killed supervisor whose VMs
 * are gone, when the tap it names is one of t's. */
static int drop_glue(const char *name, const char *alias, void *arg)
{
	struct fabric *f = arg;
	const char *tap = alias + strlen(GLUE_ALIAS_PREFIX);
	char want[TAP_NAME_MAX + 1];

	for (int i = 0; i < f->t->nvms; i++)
		for (int j = 0; j < f->t->vms[i].nnics; j++)
			if (tap_name(f->t->vms[i].name, j, want, sizeof(want)) == 0 && strcmp(want, tap) == 0 &&
			    link_delete(name) == 0)
				fabric_note(f, "removed veth %s left by an earlier run", name);
	return 0;
}

/* A killed supervisor whose VMs are gone too leaves its namespace (and in
 * it everything but the processes), or with netns=host its tagged bridges
 * and OVS rows, and dnsmasq: a fabric built afresh clears them first. */
static void clear_leftovers(struct fabric *f)
{
	fabric_dns_clear_stale(f);
	if (!f->t->fabric.netns_host) {
		if (netns_delete(f->netns) == 0)
			fabric_note(f, "removed namespace %s left by an earlier run", f->netns);
		return;
	}
	for (int i = 0; i < f->t->nnetworks; i++) {
		const struct topo_network *n = &f->t->networks[i];
		char alias[64];

		if (n->sw == TOPO_SWITCH_LINUX_BRIDGE && link_exists(n->bridge) == 1 &&
		    link_get_alias(n->bridge, alias, sizeof(alias)) >= 0 && strcmp(alias, f->alias) == 0 &&
		    link_delete(n->bridge) == 0)
			fabric_note(f, "removed bridge %s left by an earlier run", n->bridge);
	}
	link_list_by_alias(GLUE_ALIAS_PREFIX, drop_glue, f);
}

/* ---- build ---- */

/* The address on n's host interface (kept when it is there), and it and
 * the bridge up. */
static int host_interface_up(const struct topo_network *n, struct err *e)
{
	int r;

	if (n->has_address && (r = link_addr_add(n->host_interface, n->address, n->prefix)) < 0)
		return err_sys(e, r, "network %s: cannot add the address to %s", n->name, n->host_interface);
	if ((r = link_set_up(n->host_interface)) < 0 || (r = link_set_up(n->bridge)) < 0)
		return err_sys(e, r, "network %s: cannot bring up %s", n->name, n->host_interface);
	return 0;
}

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
	return host_interface_up(n, e);
}

/* A kept fabric's network: its bridge is still there (made again when it
 * is not), its host interface gets its address and is up. */
static int keep_network(struct fabric *f, const struct topo_network *n, bool ovs_kept, struct err *e)
{
	char alias[64];
	bool there;

	/* An OVS bridge's internal port is a device while ovs-vswitchd runs it. */
	if (n->sw == TOPO_SWITCH_OVS)
		there = ovs_kept && link_exists(n->host_interface) == 1;
	else
		there = link_exists(n->bridge) == 1 && link_get_alias(n->bridge, alias, sizeof(alias)) >= 0 &&
			strcmp(alias, f->alias) == 0;
	return there ? host_interface_up(n, e) : build_network(f, n, e);
}

static void ovs_port_event(void *opaque, const char *port, int ofport, const char *error)
{
	if (error)
		fabric_note(opaque, "openvswitch port %s failed: %s", port, error);
	else if (ofport < 0)
		fabric_note(opaque, "openvswitch port %s failed", port);
}

static void ovs_exited(void *opaque, const char *daemon, int wstatus, bool expected, int restart_ms)
{
	char how[64];

	if (expected)
		return;
	child_status_str(wstatus, how, sizeof(how));
	fabric_note(opaque, "openvswitch: %s %s; restarting it in %d ms", daemon, how, restart_ms);
}

/* The switch runs again: event "ovs-restarted" {"reason"}. */
static void ovs_restarted(void *opaque, const char *daemon, const char *how)
{
	struct fabric *f = opaque;
	char reason[128];

	snprintf(reason, sizeof(reason), "%s %s", daemon, how);
	fabric_note(f, "openvswitch: %s restarted", daemon);
	if (f->hooks.restarted)
		f->hooks.restarted(f->hooks.opaque, "ovs", reason);
}

static void ovs_lost(void *opaque, const struct err *e)
{
	fabric_note(opaque, "openvswitch: %s; reconnecting", e->msg);
}

static void ovs_connected(void *opaque)
{
	fabric_note(opaque, "openvswitch: connected again; bridges and ports re-asserted");
}

static void ovs_failed(void *opaque, const struct err *e)
{
	fabric_note(opaque, "%s", e->msg);
}

/* Whether a tap of t's VMs exists in the fabric's namespace: taps are not
 * persistent, so one that exists is held by a QEMU that outlived the
 * supervisor that made it. */
static bool taps_alive(const struct fabric *f)
{
	int nsfd = f->netns[0] ? netns_open(f->netns) : -1, saved = -1;
	char tap[TAP_NAME_MAX + 1];
	bool any = false;

	if (f->netns[0] && (nsfd < 0 || netns_enter(nsfd, &saved) < 0)) {
		if (nsfd >= 0)
			close(nsfd);
		return false;
	}
	for (int i = 0; !any && i < f->t->nvms; i++)
		for (int j = 0; !any && j < f->t->vms[i].nnics; j++)
			any = tap_name(f->t->vms[i].name, j, tap, sizeof(tap)) == 0 && link_exists(tap) == 1;
	if (saved >= 0)
		netns_leave(saved);
	if (nsfd >= 0)
		close(nsfd);
	return any;
}

/* The namespace: made afresh, or kept (made when it is gone). */
static int open_netns(struct fabric *f, bool keep, struct err *e)
{
	int r = 0;

	if (!f->netns[0])
		return 0;
	if ((!keep || (r = f->nsfd = netns_open(f->netns)) < 0) &&
	    ((r = netns_create(f->netns)) < 0 || (r = f->nsfd = netns_open(f->netns)) < 0))
		return err_sys(e, r, "cannot create network namespace %s", f->netns);
	f->dnsmasq.netns = f->nsfd;
	return 0;
}

static int build(const struct topology *t, const char *run_dir, const char *state_dir,
		 const struct fabric_hooks *hooks, bool adopt, struct fabric **out, bool *kept,
		 struct err *e)
{
	struct fabric *f = calloc(1, sizeof(*f));
	bool any_ovs = false, keep = false, ovs_kept = false;
	int saved = -1, r = 0;

	*out = NULL;
	*kept = false;
	if (!f)
		return err_set(e, ENOMEM, "out of memory");
	f->t = t;
	f->nsfd = -1;
	if (hooks)
		f->hooks = *hooks;
	snprintf(f->alias, sizeof(f->alias), "n3x:%s", t->fabric.name);
	snprintf(f->run, sizeof(f->run), "%s", run_dir);
	snprintf(f->state, sizeof(f->state), "%s", state_dir);
	if ((r = fabric_dns_init(f, e)) < 0) {
		free(f);
		return r;
	}
	*out = f;

	if (!t->fabric.netns_host)
		snprintf(f->netns, sizeof(f->netns), "n3x-%s", t->fabric.name);
	*kept = keep = adopt && taps_alive(f);
	if (!keep)
		clear_leftovers(f);
	if ((r = open_netns(f, keep, e)) < 0)
		goto fail;
	for (int i = 0; i < t->nnetworks; i++)
		any_ovs |= t->networks[i].sw == TOPO_SWITCH_OVS;
	if (any_ovs) {
		const struct ovs_callbacks c = { .port = ovs_port_event, .exited = ovs_exited,
						 .restarted = ovs_restarted, .lost = ovs_lost,
						 .connected = ovs_connected, .failed = ovs_failed,
						 .opaque = f };

		if (keep)
			r = ovs_adopt(t->fabric.name, run_dir, f->nsfd, &c, &f->ovs, &ovs_kept, e);
		else
			r = ovs_open(t->fabric.name, run_dir, f->nsfd, &c, &f->ovs, e);
		if (r < 0)
			goto fail;
		if (ovs_warning(f->ovs))
			fabric_note(f, "openvswitch: %s", ovs_warning(f->ovs));
	}
	if (f->nsfd >= 0 && (r = netns_enter(f->nsfd, &saved)) < 0) {
		err_sys(e, r, "cannot enter %s", f->netns);
		goto fail;
	}
	for (int i = 0; i < t->nnetworks; i++)
		if ((r = keep ? keep_network(f, &t->networks[i], ovs_kept, e) :
			    build_network(f, &t->networks[i], e)) < 0)
			break;
	if (saved >= 0)
		netns_leave(saved);
	if (r < 0)
		goto fail;
	if (fabric_dns_needed(t) && (r = fabric_dns_start(f, keep, e)) < 0)
		goto fail;
	if (keep && !fabric_dns_needed(t))
		fabric_dns_clear_stale(f); /* the topology no longer has DHCP or DNS */
	fabric_info(f, "%s%s%s %s%s%s", t->fabric.name, f->netns[0] ? " in namespace " : "", f->netns,
	     keep ? "kept from an earlier run: its VMs still run" : "ready",
	     f->ovs ? ", openvswitch datapath " : "", f->ovs ? ovs_datapath(f->ovs) : "");
	return 0;
fail:
	/* What still serves running VMs stays for another try. */
	if (keep)
		fabric_release(f);
	else
		fabric_close(f);
	*out = NULL;
	return r;
}

int fabric_open(const struct topology *t, const char *run_dir, const char *state_dir,
		const struct fabric_hooks *hooks, struct fabric **out, struct err *e)
{
	bool kept;

	return build(t, run_dir, state_dir, hooks, false, out, &kept, e);
}

int fabric_adopt(const struct topology *t, const char *run_dir, const char *state_dir,
		 const struct fabric_hooks *hooks, struct fabric **out, bool *kept, struct err *e)
{
	return build(t, run_dir, state_dir, hooks, true, out, kept, e);
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
	fabric_dns_close(f);
	/* The loop has stopped: removes our rows, stops a private OVS. */
	if (ovs_close(f->ovs, &e) < 0)
		fabric_note(f, "%s", e.msg);
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
	free(f);
}

void fabric_release(struct fabric *f)
{
	if (!f)
		return;
	f->closing = true;
	fabric_dns_release(f);
	ovs_detach(f->ovs);
	if (f->nsfd >= 0)
		close(f->nsfd);
	free(f);
}

/* ---- VMs ---- */

/* Put port on nic's network's bridge. */
static int attach_port(struct fabric *f, const struct topo_vm *vm, const struct topo_nic *nic,
		       const char *port, struct err *e)
{
	const struct topo_network *n = nic->net;
	int r;

	if (n->sw == TOPO_SWITCH_OVS) {
		if ((r = ovs_port_add(f->ovs, n->bridge, port, vm->name, nic->vlans, nic->nvlans, e)) < 0)
			err_wrap(e, "port %s: cannot attach it to %s", port, n->bridge);
		return r;
	}
	if ((r = link_set_master(port, n->bridge)) == 0 && nic->nvlans)
		r = link_bridge_vlan(port, nic->vlans, nic->nvlans, nic->nvlans == 1);
	return r < 0 ? err_sys(e, r, "port %s: cannot attach it to %s", port, n->bridge) : 0;
}

/* Make the veth pair glue|port of tap (net/tap.h).  One left by a killed
 * supervisor (netns=host; its alias says whose) is made anew; a link of
 * that name that is not ours is refused. */
static int make_veth(const struct topo_nic *nic, const char *tap, const char *glue, const char *port,
		     struct err *e)
{
	char alias[LINK_ALIAS_MAX], have[LINK_ALIAS_MAX];
	uint8_t mac[6];
	int r;

	/* fe: as on the tap: a Linux bridge takes the lowest port MAC as its
	 * own and must never take a guest's, nor change when VMs come and go
	 * (libvirt's rule for taps). */
	memcpy(mac, nic->mac, sizeof(mac));
	mac[0] = 0xfe;
	snprintf(alias, sizeof(alias), GLUE_ALIAS_PREFIX "%s", tap);
	r = link_veth_create(glue, port, mac, TAP_DEFAULT_MTU);
	if (r == -EEXIST) {
		if (link_get_alias(glue, have, sizeof(have)) < 0 || strcmp(have, alias) != 0)
			return err_set(e, EEXIST, "tap %s: the name %s or %s is taken by another link", tap,
				       glue, port);
		if ((r = link_delete(glue)) == 0)
			r = link_veth_create(glue, port, mac, TAP_DEFAULT_MTU);
	}
	if (r == 0 && (r = link_set_alias(glue, alias)) < 0)
		link_delete(glue);
	return r < 0 ? err_sys(e, r, "tap %s: veth %s|%s", tap, glue, port) : 0;
}

/* Put tap on its switch: the veth pair, the glue between tap and the
 * pair's glue end, the port end on the bridge (tc.h has the why).  The
 * switch never reads the tap: a frame from the VM reaches it only through
 * the glue end's egress, where its from-vm qdiscs are. */
static int wire(struct fabric *f, const struct topo_vm *vm, const struct topo_nic *nic, const char *tap,
		struct err *e)
{
	char glue[IFNAMSIZ], port[IFNAMSIZ];
	int r;

	tap_glue_name(tap, glue, sizeof(glue));
	tap_port_name(tap, port, sizeof(port));
	if ((r = make_veth(nic, tap, glue, port, e)) < 0)
		return r;
	if ((r = tc_glue_set(tap, glue, e)) < 0 || (r = attach_port(f, vm, nic, port, e)) < 0)
		link_delete(glue);
	return r;
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
		if ((r = wire(f, vm, nic, tap, e)) < 0) {
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

int fabric_wire_link(struct fabric *f, const struct topo_vm *vm, int nic, const char *ifname,
		     struct err *e)
{
	int saved = -1, r;

	if (nic < 0 || nic >= vm->nnics)
		return err_set(e, EINVAL, "vm %s has no NIC %d", vm->name, nic);
	if (f->nsfd >= 0 && (r = netns_enter(f->nsfd, &saved)) < 0)
		return err_sys(e, r, "cannot enter %s", f->netns);
	r = wire(f, vm, &vm->nics[nic], ifname, e);
	if (saved >= 0)
		netns_leave(saved);
	return r;
}

void fabric_detach(struct fabric *f, const struct topo_vm *vm)
{
	char tap[TAP_NAME_MAX + 1], glue[IFNAMSIZ];
	int saved = -1, r;
	struct err e;

	if (f->ovs && ovs_vm_del(f->ovs, vm->name, &e) < 0)
		fabric_note(f, "%s", e.msg);
	if (f->nsfd >= 0 && (r = netns_enter(f->nsfd, &saved)) < 0) {
		fabric_note(f, "vm %s: cannot enter %s to delete its veths: %s", vm->name, f->netns,
			    strerror(-r));
		return;
	}
	/* Deleting the glue end takes its peer, the port, along. */
	for (int i = 0; i < vm->nnics; i++)
		if (tap_name(vm->name, i, tap, sizeof(tap)) == 0) {
			tap_glue_name(tap, glue, sizeof(glue));
			if ((r = link_delete(glue)) < 0 && r != -ENODEV)
				fabric_note(f, "vm %s: deleting veth %s: %s", vm->name, glue, strerror(-r));
		}
	if (saved >= 0)
		netns_leave(saved);
}

/* An adopted VM's tap, in the namespace: still there, glued, and its port
 * on its network's bridge (again, when the port went with a restarted OVS
 * or the bridge was made anew, or the veth with a killed supervisor). */
static int keep_tap(struct fabric *f, const struct topo_vm *vm, const struct topo_nic *nic,
		    const char *tap, struct err *e)
{
	char master[IFNAMSIZ], glue[IFNAMSIZ], port[IFNAMSIZ];
	int r;

	if (link_exists(tap) != 1)
		return err_set(e, ENODEV, "tap %s is gone, though its QEMU runs", tap);
	tap_glue_name(tap, glue, sizeof(glue));
	tap_port_name(tap, port, sizeof(port));
	if (link_exists(glue) != 1 || link_exists(port) != 1)
		return wire(f, vm, nic, tap, e);
	if ((r = tc_glue_set(tap, glue, e)) < 0)
		return r;
	if (nic->net->sw == TOPO_SWITCH_OVS)
		return ovs_port_state(f->ovs, port, NULL) == 1 ? 0 : attach_port(f, vm, nic, port, e);
	if (link_get_master(port, master, sizeof(master)) == 0 && strcmp(master, nic->net->bridge) == 0)
		return 0;
	return attach_port(f, vm, nic, port, e);
}

int fabric_adopt_vm(struct fabric *f, const struct topo_vm *vm, struct err *e)
{
	char tap[TAP_NAME_MAX + 1];
	int saved = -1, r = 0;

	if (f->nsfd >= 0 && (r = netns_enter(f->nsfd, &saved)) < 0)
		return err_sys(e, r, "cannot enter %s", f->netns);
	for (int i = 0; r >= 0 && i < vm->nnics; i++)
		if ((r = tap_name(vm->name, i, tap, sizeof(tap))) < 0)
			err_sys(e, r, "NIC %d of %s: tap name", i, vm->name);
		else
			r = keep_tap(f, vm, &vm->nics[i], tap, e);
	if (saved >= 0)
		netns_leave(saved);
	return r < 0 ? r : 0;
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

/* fabric_dns.c - a fabric's dnsmasq: what it serves of the topology, the
 * process (supervised, or adopted from an earlier supervisor), its restart
 * and the leases it hands out.
 *
 * dnsmasq outlives the supervisor (child.outlive), as QEMU does: the guests
 * keep their DHCP and DNS while no supervisor runs, and the next one
 * adopts it with the VMs.
 */
#include "launcher/fabric_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/proc.h"

#define DNSMASQ_RESTART_MS 1000

/* ---- dnsmasq's view of the topology ---- */

/* dnsmasq serves a network with an address and dhcp= or domain=. */
static bool served(const struct topo_network *n)
{
	return n->has_address && (n->has_dhcp || n->domain);
}

bool fabric_dns_needed(const struct topology *t)
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

/* ---- the process ---- */

/* Whether process pid is a dnsmasq of ours: one of its arguments names
 * our config (so a reused pid is left alone). */
static bool runs_conf(pid_t pid, void *opaque)
{
	const struct fabric *f = opaque;
	struct strv argv = { 0 };
	bool ours = false;

	if (proc_cmdline(pid, &argv) > 0)
		for (size_t i = 0; i < argv.n && !ours; i++)
			ours = strstr(argv.v[i], f->dnsmasq_conf) != NULL;
	strv_free(&argv);
	return ours;
}

/* dnsmasq outlives the supervisor (child.outlive), with the VMs it serves.
 * Its pid file (ours, not dnsmasq's) finds it again, taken over into c
 * (child_adopt) while its command line still names our config: 0 and
 * watching it, -ESRCH when there is none, another -errno when it cannot
 * be watched (c holds it, for child_stop_sync).  *pid: the file's pid. */
static int find_dnsmasq(struct fabric *f, struct child *c, pid_t *pid)
{
	FILE *pf = fopen(f->dnsmasq_pid, "re");

	*pid = 0;
	if (!pf)
		return -ESRCH;
	if (fscanf(pf, "%d", pid) != 1)
		*pid = 0;
	fclose(pf);
	return child_adopt(c, *pid, runs_conf, f);
}

static void stale_exited(struct child *c, int wstatus)
{
	(void)c;
	(void)wstatus;
}

void fabric_dns_clear_stale(struct fabric *f)
{
	struct child stale;
	pid_t pid;

	child_init(&stale, "dnsmasq", stale_exited, f);
	if (find_dnsmasq(f, &stale, &pid) != -ESRCH) {
		/* SIGTERM, SIGKILL after CHILD_STOP_MS.  Not our child: its
		 * parent (init) reaps it. */
		child_stop_sync(&stale, CHILD_STOP_MS);
		fabric_note(f, "stopped dnsmasq (pid %d) left by an earlier run", (int)pid);
	}
	unlink(f->dnsmasq_pid);
}

/* dnsmasq ended (how: "killed by SIGKILL"): start it again in a while. */
static void dnsmasq_gone(struct fabric *f, const char *how)
{
	if (f->closing)
		return;
	fabric_note(f, "dnsmasq %s; restarting it in %d ms", how, DNSMASQ_RESTART_MS);
	snprintf(f->dnsmasq_died, sizeof(f->dnsmasq_died), "%s", how);
	loop_timer_arm(&f->dnsmasq_timer, DNSMASQ_RESTART_MS);
}

/* Ours or adopted (then init reaps it, and how it ended is unknown). */
static void dnsmasq_exited(struct child *c, int wstatus)
{
	char how[64];

	dnsmasq_gone(c->opaque, child_status_str(wstatus, how, sizeof(how)));
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
		fabric_note(f, "%s", e.msg);
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
	fabric_note(opaque, "%s", e->msg);
}

/* Whether path holds exactly the config dnsmasq_write_config makes of c. */
static bool config_is(const struct dnsmasq_config *c, const char *path)
{
	char *want = NULL, *have = NULL;
	size_t wlen = 0, hlen = 0;
	FILE *w = open_memstream(&want, &wlen), *h = fopen(path, "re");
	bool same = false;

	if (w && dnsmasq_write_config(c, w) == 0 && fclose(w) == 0) {
		w = NULL;
		if (h && (have = malloc(wlen + 1)))
			hlen = fread(have, 1, wlen + 1, h);
		same = have && hlen == wlen && memcmp(want, have, wlen) == 0;
	}
	if (w)
		fclose(w);
	if (h)
		fclose(h);
	free(want);
	free(have);
	return same;
}

/* Take over the dnsmasq an earlier supervisor left: 0 and watching it when
 * it runs with the config this topology makes, 1 when there is none to
 * take (one with another config is stopped). */
static int dns_adopt(struct fabric *f, const struct dnsmasq_config *c)
{
	pid_t pid;
	int r = find_dnsmasq(f, &f->dnsmasq, &pid);

	if (r == -ESRCH)
		return 1;
	if (r < 0) {
		/* Unwatched, it could die unseen: start one of our own. */
		child_stop_sync(&f->dnsmasq, CHILD_STOP_MS);
		return 1;
	}
	if (!config_is(c, f->dnsmasq_conf)) {
		child_stop_sync(&f->dnsmasq, CHILD_STOP_MS);
		fabric_note(f, "stopped dnsmasq (pid %d): the topology's DHCP or DNS changed", (int)pid);
		return 1;
	}
	fabric_note(f, "kept dnsmasq (pid %d) and its leases", (int)pid);
	return 0;
}

/* dnsmasq may start before the host interfaces exist (bind-dynamic).
 * Building afresh, the lease file of an earlier run goes first: its leases
 * are of guests that are gone, and `wait --lease` must see this run's.
 * Keeping a fabric, the leases are the running guests' and stay, and so
 * does a dnsmasq that serves them (dns_adopt).  dnsmasq outlives us, so
 * its output goes to a file of its own rather than a pipe into our log. */
int fabric_dns_start(struct fabric *f, bool keep, struct err *e)
{
	struct dnsmasq_config c;
	char log[PATHS_MAX];
	int r;

	if (paths_join(f->leases_path, sizeof(f->leases_path), "%s/" DNSMASQ_LEASES, f->state) < 0 ||
	    paths_join(log, sizeof(log), "%s/dnsmasq.log", f->state) < 0)
		return err_set(e, ENAMETOOLONG, "dnsmasq: %s/%s: path too long", f->state, DNSMASQ_LEASES);
	if (!keep)
		unlink(f->leases_path);
	if ((f->dnsmasq.errlog = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return err_sys(e, errno, "dnsmasq: %s", log);
	if ((r = dnsmasq_watch_open(f->leases_path, leases_changed, leases_unreadable, f, &f->watch)) < 0)
		return err_sys(e, r, "dnsmasq");
	if ((r = fabric_dnsmasq_config(f->t, f->state, &c)) < 0)
		return err_sys(e, r, "dnsmasq");
	if (!keep || (r = dns_adopt(f, &c)) > 0)
		r = dnsmasq_write_config_file(&c, f->dnsmasq_conf);
	fabric_dnsmasq_free(&c);
	if (r < 0)
		return err_sys(e, r, "dnsmasq");
	return child_adopted(&f->dnsmasq) ? 0 : dnsmasq_start(f, e);
}

int fabric_dns_init(struct fabric *f, struct err *e)
{
	child_init(&f->dnsmasq, "dnsmasq", dnsmasq_exited, f);
	/* It serves the guests, which outlive us (QEMU is adopted). */
	f->dnsmasq.outlive = true;
	loop_timer_init(&f->dnsmasq_timer, dnsmasq_restart);
	if (paths_join(f->dnsmasq_conf, sizeof(f->dnsmasq_conf), "%s/dnsmasq.conf", f->run) < 0 ||
	    paths_join(f->dnsmasq_pid, sizeof(f->dnsmasq_pid), "%s/dnsmasq.pid", f->run) < 0)
		return err_set(e, ENAMETOOLONG, "%s/dnsmasq.conf: path too long", f->run);
	return 0;
}

/* What close and release share: no restart, no lease watch. */
static void dns_drop(struct fabric *f)
{
	loop_timer_close(&f->dnsmasq_timer);
	if (f->dnsmasq.errlog >= 0)
		close(f->dnsmasq.errlog);
	f->dnsmasq.errlog = -1;
	if (f->watch)
		dnsmasq_watch_close(f->watch);
	f->watch = NULL;
	free(f->leases);
	f->leases = NULL;
	f->nleases = 0;
}

void fabric_dns_close(struct fabric *f)
{
	dns_drop(f);
	child_stop_sync(&f->dnsmasq, CHILD_STOP_MS); /* ours or adopted */
	unlink(f->dnsmasq_conf);
	unlink(f->dnsmasq_pid);
}

void fabric_dns_release(struct fabric *f)
{
	dns_drop(f);
	child_release(&f->dnsmasq);
}

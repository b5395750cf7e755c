/* topverb.c - the `top` verb: what every VM costs and carries, as raw
 * counters at one instant, for n3x-ctl top (which takes two samples and
 * makes rates of them).
 *
 *   {"cmd":"top"}
 *   -> {"ok":true,"fabric":NAME,"t_ns":N,"vms":[{"name","state",
 *        "pid","cpu_ns","rss_bytes","nics":[{"index","tap",
 *        "to_vm_bytes","to_vm_packets","to_vm_drops",
 *        "from_vm_bytes","from_vm_packets","from_vm_drops",
 *        "backlog_bytes","backlog_pkts"}]}]}
 *
 * t_ns is CLOCK_MONOTONIC when the sample was taken.  A VM without a QEMU
 * process has "name" and "state" only.  cpu_ns is QEMU's CPU time, every
 * thread's, user + system; rss_bytes its resident memory.  Per NIC, to_vm
 * is what the tap handed the guest (the tap's tx), from_vm what the guest
 * sent (its rx); the drops are the tap's own plus the qdiscs' on that
 * direction's path: to the VM the switch port's egress (partitions, site
 * latency) and the tap's egress (the to-vm shape), from it the glue end's
 * egress (the from-vm shape).  The backlog is what the root qdiscs of the
 * three hold now.  Every counter starts from zero with a new QEMU (a new
 * tap) and a qdisc's with a new qdisc: the client tells a new QEMU by its
 * pid and takes a counter that went down as counting from zero.
 *
 * It all comes from one read of /proc/PID/stat per VM and two netlink dumps
 * in the fabric's namespace (links, qdiscs), each answered at once by the
 * kernel: nothing waits on a guest or a daemon, so the loop is not held
 * for longer than those reads.
 */
#include "launcher/supervisor_impl.h"
#include "launcher/topverb.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/procstat.h"
#include "launcher/vmstate.h"
#include "net/linkstats.h"
#include "net/tap.h"
#include "tc/qstats.h"

/* Links per NIC, in the order the name arrays hold them. */
enum { L_TAP, L_GLUE, L_PORT, L_N };

struct top_nic {
	int vm, nic;                   /* sup.vms index, NIC index */
	char names[L_N][TAP_NAME_MAX + 1];
};

/* Whether pid still is the QEMU vm was running when ps was read.  Our own
 * child's pid is ours until we reap it, which happens in this loop, not
 * during this verb.  An adopted QEMU's parent is someone else, who may have
 * reaped it already and its pid gone to another process: the start time
 * state.json recorded tells them apart, as adoption does. */
static bool same_qemu(const struct vm *vm, pid_t pid, const struct procstat *ps)
{
	char path[PATHS_MAX];
	struct vmstate s;
	struct err e;
	bool same;

	if (!vm_adopted(vm))
		return true;
	if (paths_join(path, sizeof(path), "%s/vm/%s/state.json", sup.run, vm_name(vm)) < 0 ||
	    vmstate_load(path, &s, &e) < 0)
		return false;
	same = s.pid == pid && s.start_time == ps->start_time;
	vmstate_free(&s);
	return same;
}

/* The NICs of every VM with a QEMU, their link names into *out (caller frees). */
static int collect_nics(struct top_nic **out, size_t *n)
{
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	for (int i = 0; i < sup.nvms; i++)
		if (vm_pid(sup.vms[i]) > 0)
			cap += (size_t)vm_config(sup.vms[i])->nnics;
	if (!sup.fabric || cap == 0)
		return 0;
	if (!(*out = calloc(cap, sizeof(**out))))
		return -ENOMEM;
	for (int i = 0; i < sup.nvms; i++) {
		const struct topo_vm *cfg = vm_config(sup.vms[i]);

		if (vm_pid(sup.vms[i]) <= 0)
			continue;
		for (int j = 0; j < cfg->nnics; j++) {
			struct top_nic *tn = &(*out)[(*n)++];

			tn->vm = i;
			tn->nic = j;
			if (tap_name(cfg->name, j, tn->names[L_TAP], sizeof(tn->names[L_TAP])) < 0)
				continue; /* cannot happen: the topology checked it; all three stay "" */
			tap_glue_name(tn->names[L_TAP], tn->names[L_GLUE], sizeof(tn->names[L_GLUE]));
			tap_port_name(tn->names[L_TAP], tn->names[L_PORT], sizeof(tn->names[L_PORT]));
		}
	}
	return 0;
}

/* The counters of the nn NICs' links, read inside the fabric's namespace:
 * ls[k] the tap of NIC k, qs[k * L_N + l] its link l's root qdisc.
 * 0 or -errno with e. */
static int read_links(const struct top_nic *nics, size_t nn, struct linkstats *ls, struct tc_qstats *qs,
		      struct err *e)
{
	const char **names = calloc(nn * L_N + 1, sizeof(*names));
	const char **taps = calloc(nn + 1, sizeof(*taps));
	int saved, r = 0;

	if (!names || !taps) {
		r = err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t k = 0; k < nn; k++) {
		for (int l = 0; l < L_N; l++)
			names[k * L_N + l] = nics[k].names[l];
		/* The glue and port ends' own counters would say the tap's
		 * again: only the taps' are read. */
		taps[k] = nics[k].names[L_TAP];
	}
	if ((r = fabric_enter(sup.fabric, &saved)) < 0) {
		err_sys(e, -r, "cannot enter the fabric's network namespace");
		goto out;
	}
	if ((r = linkstats_read(taps, nn, ls)) < 0)
		err_sys(e, -r, "reading the taps' counters");
	else if ((r = tc_qstats_read(names, nn * L_N, qs)) < 0)
		err_sys(e, -r, "reading the qdiscs' counters");
	fabric_leave(saved);
out:
	free(taps);
	free(names);
	return r < 0 ? r : 0;
}

static json_t *nic_json(const struct top_nic *tn, const struct linkstats *l, const struct tc_qstats *q)
{
	if (!l->found) /* QEMU is on its way out, or in: no tap now */
		return json_pack("{s:i, s:s, s:b}", "index", tn->nic, "tap", tn->names[L_TAP], "present", 0);
	return json_pack("{s:i, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "index", tn->nic, "tap",
			 tn->names[L_TAP], "present", 1,
			 "to_vm_bytes", (json_int_t)l->tx_bytes, "to_vm_packets", (json_int_t)l->tx_packets,
			 "to_vm_drops", (json_int_t)(l->tx_dropped + q[L_TAP].drops + q[L_PORT].drops),
			 "from_vm_bytes", (json_int_t)l->rx_bytes, "from_vm_packets", (json_int_t)l->rx_packets,
			 "from_vm_drops", (json_int_t)(l->rx_dropped + q[L_GLUE].drops),
			 "backlog_bytes",
			 (json_int_t)(q[L_TAP].backlog_bytes + q[L_GLUE].backlog_bytes + q[L_PORT].backlog_bytes),
			 "backlog_pkts",
			 (json_int_t)(q[L_TAP].backlog_pkts + q[L_GLUE].backlog_pkts + q[L_PORT].backlog_pkts));
}

/* VM i's entry; its NICs are nics[0..nn), their counters ls[0..nn) and
 * qs[0..nn * L_N). */
static json_t *vm_json(int i, const struct top_nic *nics, size_t nn, const struct linkstats *ls,
		       const struct tc_qstats *qs)
{
	struct vm *vm = sup.vms[i];
	pid_t pid = vm_pid(vm);
	struct procstat ps;
	json_t *v, *arr;

	v = json_pack("{s:s, s:s}", "name", vm_name(vm), "state", vm_state_name(vm_state(vm)));
	if (!v || pid <= 0 || procstat_read(pid, &ps) < 0 || !same_qemu(vm, pid, &ps))
		return v; /* no QEMU (or it just went): the state alone */
	if (json_object_set_new(v, "pid", json_integer(pid)) < 0 ||
	    json_object_set_new(v, "cpu_ns", json_integer((json_int_t)ps.cpu_ns)) < 0 ||
	    json_object_set_new(v, "rss_bytes", json_integer((json_int_t)ps.rss_bytes)) < 0 ||
	    json_object_set_new(v, "nics", arr = json_array()) < 0)
		goto nomem;
	for (size_t k = 0; k < nn; k++)
		if (json_array_append_new(arr, nic_json(&nics[k], &ls[k], &qs[k * L_N])) < 0)
			goto nomem;
	return v;
nomem:
	json_decref(v);
	return NULL;
}

void sup_cmd_top(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	struct top_nic *nics = NULL;
	struct linkstats *ls = NULL;
	struct tc_qstats *qs = NULL;
	struct timespec ts;
	json_t *vms = NULL;
	size_t nn = 0, k = 0;
	struct err e;
	int r;

	(void)req, (void)v;
	if ((r = collect_nics(&nics, &nn)) < 0)
		goto nomem;
	if (nn && (!(ls = calloc(nn, sizeof(*ls))) || !(qs = calloc(nn * L_N, sizeof(*qs)))))
		goto nomem;
	/* One instant for the lot: the reads below take microseconds. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (nn && read_links(nics, nn, ls, qs, &e) < 0) {
		control_reply_error(c, 1, "top: %s", e.msg);
		goto out;
	}
	if (!(vms = json_array()))
		goto nomem;
	for (int i = 0; i < sup.nvms; i++) {
		size_t first = k;

		while (k < nn && nics[k].vm == i)
			k++;
		if (json_array_append_new(vms, vm_json(i, nn ? nics + first : NULL, k - first,
						       nn ? ls + first : NULL, nn ? qs + first * L_N : NULL)) < 0)
			goto nomem;
	}
	/* "o" steals vms, even when the pack fails (then answered as out of memory) */
	control_reply(c, json_pack("{s:b, s:s, s:I, s:o}", "ok", 1, "fabric", sup.topo->fabric.name, "t_ns",
				   (json_int_t)ts.tv_sec * 1000000000 + ts.tv_nsec, "vms", vms));
	vms = NULL;
	goto out;
nomem:
	control_reply_error(c, 1, "out of memory");
out:
	json_decref(vms);
	free(qs);
	free(ls);
	free(nics);
}

/* verify.c - the plan of `tc verify` (verify.h): tc status's links picked
 * by the request's keys, each direction's rule turned into numbers. */
#include "launcher/verify.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "net/tap.h"
#include "tc/rule.h"

/* The mean loss of a shape, percent, or -1 when not worked out here (the
 * 4-state model).  Gilbert-Elliott (gemodel P R 1-H 1-K): the bad state's
 * share is P / (P + R); a packet is lost with 1-H there, 1-K in good. */
static double mean_loss(const struct tc_shape *s)
{
	const double *v = s->loss_p;
	double bad;

	switch (s->loss_model) {
	case TC_LOSS_GEMODEL:
		bad = v[0] + v[1] > 0 ? v[0] / (v[0] + v[1]) : 0;
		return bad * v[2] + (1 - bad) * v[3];
	case TC_LOSS_STATE:
		return -1;
	default:
		return s->loss;
	}
}

/* The rate a full Ethernet frame (1514 bytes) is sent at: tbf's rate, or
 * netem's own less its per-packet overhead and cells, since tc verify
 * measures frames. */
static double frame_rate(const struct tc_shape *s)
{
	double len = 1514, wire;

	if (s->rate_bps || !s->netem_rate_bps)
		return (double)s->rate_bps;
	wire = len + s->packet_overhead;
	if (s->cell_size) {
		double cells = (double)(uint64_t)((wire + s->cell_size - 1) / s->cell_size);

		wire = cells * ((double)s->cell_size + s->cell_overhead);
	}
	return wire > 0 ? s->netem_rate_bps * len / wire : (double)s->netem_rate_bps;
}

/* One direction: the rule text tc status printed (tc_shape_format's, which
 * tc_rule_parse reads back) as numbers, and the kernel's qdiscs.  Loss in
 * bursts (a correlation, gemodel, state) has no binomial bounds, and a
 * slot or a pareto distribution moves the median delay off "delay": the
 * plan says so ("loss_bursty", "delay_judged"), and n3x-ctl shows those
 * without judging them. */
static json_t *direction(const char *link, const char *dir, const char *text, json_t *kernel,
			 struct err *e)
{
	struct tc_rule r = { 0 };
	const struct tc_shape *sh;
	struct err pe;
	double loss;
	json_t *d;

	if (text && text[0] && tc_rule_parse(text, &r, &pe) < 0) {
		err_set(e, EPROTO, "%s: %s rule \"%s\" does not parse: %s", link, dir, text, pe.msg);
		return NULL;
	}
	/* A rule without a prefix covers both directions: to_vm is it. */
	sh = &r.to_vm;
	loss = mean_loss(sh);
	d = json_pack("{s:s, s:I, s:I, s:I, s:o, s:b, s:b, s:O}", "rule", text ? text : "",
		      "rate_bps", (json_int_t)(frame_rate(sh) + 0.5), "delay_us", (json_int_t)sh->delay_us,
		      "jitter_us", (json_int_t)sh->jitter_us, "loss_pct", loss < 0 ? json_null() : json_real(loss),
		      "loss_bursty", sh->loss_model != TC_LOSS_RANDOM || sh->loss_corr > 0,
		      "delay_judged", !sh->slot_min_us && sh->dist != TC_DIST_PARETO && sh->dist != TC_DIST_PARETONORMAL,
		      "kernel", kernel ? kernel : json_null());
	if (!d)
		err_set(e, ENOMEM, "out of memory");
	return d;
}

/* The plan's entry for link key ("VM/N") of tc status's links. */
static json_t *entry(const char *vm, int nic, const char *key, json_t *l, struct err *e)
{
	const char *tap = json_string_value(json_object_get(l, "tap"));
	json_t *rule = json_object_get(l, "rule"), *to, *from;
	char glue[TAP_NAME_MAX + 1], port[TAP_NAME_MAX + 1];

	if (!tap) {
		err_set(e, EPROTO, "%s: tc status names no tap", key);
		return NULL;
	}
	tap_glue_name(tap, glue, sizeof(glue));
	tap_port_name(tap, port, sizeof(port));
	to = direction(key, "to-vm", json_string_value(json_object_get(rule, "to_vm")),
		       json_object_get(l, "to_vm"), e);
	from = to ? direction(key, "from-vm", json_string_value(json_object_get(rule, "from_vm")),
			      json_object_get(l, "from_vm"), e) : NULL;
	if (!from) {
		json_decref(to);
		return NULL;
	}
	l = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:o, s:o}", "link", key, "vm", vm, "nic", nic,
		      "tap", tap, "glue", glue, "port", port, "to_vm", to, "from_vm", from);
	if (!l)
		err_set(e, ENOMEM, "out of memory");
	return l;
}

/* Whether keys asks for NIC nic of vm: no keys at all, "VM" or "VM/N". */
static bool wanted(const json_t *keys, const char *vm, int nic)
{
	char name[TOPO_VM_NAME_MAX + 1];
	const json_t *k;
	size_t i;
	int n;

	if (json_array_size(keys) == 0)
		return true;
	json_array_foreach(keys, i, k)
		if (topo_parse_key(json_string_value(k), name, &n) == 0 && !strcmp(name, vm) &&
		    (n < 0 || n == nic))
			return true;
	return false;
}

/* Every key names a VM (and NIC) of t, and one that runs. */
static int check_keys(const struct topology *t, const json_t *links, const json_t *keys, struct err *e)
{
	char name[TOPO_VM_NAME_MAX + 1], key[64];
	const struct topo_vm *vm;
	const json_t *k;
	size_t i;
	int nic;

	if (keys && !json_is_array(keys))
		return err_set(e, EINVAL, "tc verify: \"links\" must be a list of VM or VM/N");
	json_array_foreach(keys, i, k) {
		const char *s = json_string_value(k);
		bool live = false;

		if (!s || topo_parse_key(s, name, &nic) < 0 || !name[0])
			return err_set(e, EINVAL, "tc verify: bad link \"%s\" (use VM or VM/N)", s ? s : "?");
		if (!(vm = topo_find_vm(t, name)))
			return err_set(e, ENOENT, "tc verify: no vm \"%s\" in %s", name, t->path);
		if (nic >= vm->nnics)
			return err_set(e, ENOENT, "tc verify: vm %s has no NIC %d (it has %d)", name, nic,
				       vm->nnics);
		for (int j = 0; j < vm->nnics; j++) {
			snprintf(key, sizeof(key), "%s/%d", name, j);
			live |= (nic < 0 || nic == j) && json_object_get(links, key);
		}
		if (!live)
			return err_set(e, ESRCH, "tc verify: %s is not running: it has no link to measure", s);
	}
	return 0;
}

int verify_plan(const struct topology *t, const json_t *status, const json_t *keys, json_t **out,
		struct err *e)
{
	json_t *links = json_object_get(status, "links"), *list = json_array(), *l;
	char key[64];
	int r;

	*out = NULL;
	if (!list)
		return err_set(e, ENOMEM, "out of memory");
	if ((r = check_keys(t, links, keys, e)) < 0) {
		json_decref(list);
		return r;
	}
	for (int i = 0; i < t->nvms; i++) {
		const struct topo_vm *vm = &t->vms[i];

		for (int j = 0; j < vm->nnics; j++) {
			json_t *x;

			snprintf(key, sizeof(key), "%s/%d", vm->name, j);
			if (!(l = json_object_get(links, key)) || !wanted(keys, vm->name, j))
				continue;
			if (!(x = entry(vm->name, j, key, l, e))) {
				json_decref(list);
				return -e->code;
			}
			if (json_array_append_new(list, x) < 0) {
				json_decref(list);
				return err_set(e, ENOMEM, "out of memory");
			}
		}
	}
	*out = json_pack("{s:O?, s:o}", "profile", json_object_get(status, "profile"), "links", list);
	return *out ? 0 : err_set(e, ENOMEM, "out of memory");
}

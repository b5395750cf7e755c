/* verify.c - the plan of `tc verify` (verify.h): tc status's links picked
 * by the request's keys, each direction's rule turned into numbers. */
#include "launcher/verify.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "net/tap.h"
#include "tc/rule.h"

/* One direction: the rule text tc status printed (tc_shape_format's, which
 * tc_rule_parse reads back) as numbers, and the kernel's qdiscs. */
static json_t *direction(const char *link, const char *dir, const char *text, json_t *kernel,
			 struct err *e)
{
	struct tc_rule r = { 0 };
	struct err pe;
	json_t *d;

	if (text && text[0] && tc_rule_parse(text, &r, &pe) < 0) {
		err_set(e, EPROTO, "%s: %s rule \"%s\" does not parse: %s", link, dir, text, pe.msg);
		return NULL;
	}
	/* A rule without a prefix covers both directions: to_vm is it. */
	d = json_pack("{s:s, s:I, s:I, s:I, s:f, s:O}", "rule", text ? text : "",
			 "rate_bps", (json_int_t)r.to_vm.rate_bps, "delay_us", (json_int_t)r.to_vm.delay_us,
			 "jitter_us", (json_int_t)r.to_vm.jitter_us, "loss_pct", r.to_vm.loss,
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

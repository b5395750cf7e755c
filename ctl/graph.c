/* graph.c - the picture's model (graph.h): from a status reply and the tc
 * rules, or from a topology file before anything runs.  graphdraw.c draws
 * it.
 */
#include "ctl/graph.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- rules ---- */

json_t *graph_rules_from_tc(const json_t *tc)
{
	json_t *rules = json_object(), *link;
	const char *key;

	json_object_foreach((json_t *)json_object_get(tc, "links"), key, link) {
		const json_t *rule = json_object_get(link, "rule");
		const char *to = json_string_value(json_object_get(rule, "to_vm")) ?: "";
		const char *from = json_string_value(json_object_get(rule, "from_vm")) ?: "";
		char text[1024];

		if (!*to && !*from)
			continue;
		/* One text when both ways agree, else the rule language's own
		 * per-direction words. */
		if (!strcmp(to, from))
			snprintf(text, sizeof(text), "%s", to);
		else
			snprintf(text, sizeof(text), "%s%s%s%s%s", *to ? "to-vm: " : "", to, *to && *from ? " " : "",
				 *from ? "from-vm: " : "", from);
		if (rules && json_object_set_new(rules, key, json_string(text)) < 0) {
			json_decref(rules);
			return NULL;
		}
	}
	return rules;
}

/* ---- a topology as a status reply ---- */

static const char *accel_name(enum topo_accel a)
{
	return a == TOPO_ACCEL_KVM ? "kvm" : a == TOPO_ACCEL_TCG ? "tcg" : "auto";
}

/* The text of the most specific rule of profile p for NIC nic of vm: "VM/N"
 * over "VM" over "*" (tc/profile.c); NULL when none applies. */
static const char *profile_rule(const struct topo_profile *p, const char *vm, int nic)
{
	const char *best = NULL;
	int best_rank = 0;

	for (int i = 0; p && i < p->nrules; i++) {
		char kvm[TOPO_VM_NAME_MAX + 1];
		int knic, rank;

		if (topo_parse_key(p->rules[i].key, kvm, &knic) < 0)
			continue;
		if (kvm[0] && (strcmp(kvm, vm) || (knic >= 0 && knic != nic)))
			continue;
		rank = !kvm[0] ? 1 : knic < 0 ? 2 : 3;
		if (rank > best_rank) {
			best = p->rules[i].rule;
			best_rank = rank;
		}
	}
	return best;
}

static json_t *topo_networks(const struct topology *t)
{
	json_t *nets = json_array();
	char addr[INET_ADDRSTRLEN], cidr[INET_ADDRSTRLEN + 4];

	for (int i = 0; nets && i < t->nnetworks; i++) {
		const struct topo_network *n = &t->networks[i];

		if (n->has_address)
			snprintf(cidr, sizeof(cidr), "%s/%d", inet_ntop(AF_INET, &n->address, addr, sizeof(addr)),
				 n->prefix);
		if (json_array_append_new(nets, json_pack("{s:s, s:s, s:s, s:s, s:s?, s:b}", "name", n->name,
				"switch", n->sw == TOPO_SWITCH_OVS ? "ovs" : "linux-bridge", "bridge", n->bridge,
				"host_interface", n->host_interface, "address", n->has_address ? cidr : NULL,
				"stp", n->stp)) < 0) {
			json_decref(nets);
			return NULL;
		}
	}
	return nets;
}

static json_t *topo_vm_json(const struct topo_vm *v, const struct topo_profile *p, json_t *rules)
{
	json_t *nics = json_array(), *vm;
	char mac[18], ip[INET_ADDRSTRLEN], key[TOPO_VM_NAME_MAX + 8];

	for (int i = 0; nics && i < v->nnics; i++) {
		const struct topo_nic *n = &v->nics[i];
		char vlans[TOPO_MAX_VLANS * 6 + 1] = "";
		const char *rule = profile_rule(p, v->name, n->index);

		for (int k = 0; k < n->nvlans; k++)
			snprintf(vlans + strlen(vlans), sizeof(vlans) - strlen(vlans), "%s%u", k ? "," : "",
				 n->vlans[k]);
		if (json_array_append_new(nics, json_pack("{s:i, s:s, s:n, s:s, s:o, s:s?, s:s}",
				"index", n->index, "network", n->network, "tap",
				"mac", topo_format_mac(n->mac, mac),
				"ip", n->has_ip ? json_string(inet_ntop(AF_INET, &n->ip, ip, sizeof(ip))) : json_null(),
				"vlan", n->nvlans ? vlans : NULL, "link", "up")) < 0)
			goto fail;
		snprintf(key, sizeof(key), "%s/%d", v->name, n->index);
		if (rule && json_object_set_new(rules, key, json_string(rule)) < 0)
			goto fail;
	}
	vm = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:o}", "name", v->name, "state", "defined",
		       "arch", topo_arch_name(v->arch), "accel", accel_name(v->accel), "role",
		       v->role ? v->role : "", "site", v->site, "nics", nics);
	return vm;
fail:
	json_decref(nics);
	return NULL;
}

json_t *graph_status_from_topology(const struct topology *t, json_t **rules)
{
	const struct topo_profile *p = topo_find_profile(t, t->fabric.profile);
	json_t *vms = json_array(), *fab, *st;

	*rules = json_object();
	for (int i = 0; vms && *rules && i < t->nvms; i++)
		if (json_array_append_new(vms, topo_vm_json(&t->vms[i], p, *rules)) < 0) {
			json_decref(vms);
			vms = NULL;
		}
	fab = json_pack("{s:s, s:s, s:s, s:n, s:o}", "name", t->fabric.name, "profile", t->fabric.profile,
			"file", t->path, "partition", "networks", topo_networks(t));
	/* "o" steals both, even when the pack fails */
	st = json_pack("{s:o, s:o}", "fabric", fab, "vms", vms);
	if (!st || !*rules) {
		json_decref(st);
		json_decref(*rules);
		*rules = NULL;
		return NULL;
	}
	return st;
}

/* ---- the model ---- */

/* "a,b | c" or "a,b -> c" from a status's fabric.partition; "" for none. */
static void partition_text(const json_t *pt, char *buf, size_t size)
{
	const json_t *groups = json_object_get(pt, "groups"), *g, *name;
	size_t i, j;

	buf[0] = '\0';
#define PUT(...) snprintf(buf + strlen(buf), size - strlen(buf), __VA_ARGS__)
	json_array_foreach(groups, i, g) {
		PUT("%s", i ? " | " : "");
		json_array_foreach(g, j, name)
			PUT("%s%s", j ? "," : "", json_string_value(name) ?: "?");
	}
	if (!groups && json_is_object(pt)) {
		json_array_foreach(json_object_get(pt, "from"), j, name)
			PUT("%s%s", j ? "," : "", json_string_value(name) ?: "?");
		PUT(" -> ");
		json_array_foreach(json_object_get(pt, "to"), j, name)
			PUT("%s%s", j ? "," : "", json_string_value(name) ?: "?");
	}
#undef PUT
}

/* The subnet of a host address "192.168.100.1/24": "192.168.100.0/24". */
static json_t *subnet_of(const char *cidr)
{
	char addr[INET_ADDRSTRLEN + 4], out[INET_ADDRSTRLEN + 4];
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	struct in_addr a;
	int prefix;

	if (!slash || (size_t)(slash - cidr) >= INET_ADDRSTRLEN)
		return json_null();
	snprintf(addr, sizeof(addr), "%.*s", (int)(slash - cidr), cidr);
	prefix = atoi(slash + 1);
	if (inet_pton(AF_INET, addr, &a) != 1 || prefix < 0 || prefix > 32)
		return json_null();
	a.s_addr &= prefix ? htonl(~0u << (32 - prefix)) : 0;
	snprintf(out, sizeof(out), "%s/%d", inet_ntop(AF_INET, &a, addr, sizeof(addr)), prefix);
	return json_string(out);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Every VLAN a NIC of vms carries on network net, sorted, once each. */
static json_t *network_vlans(const json_t *vms, const char *net)
{
	int ids[TOPO_MAX_VLANS * TOPO_MAX_NICS], n = 0;
	const json_t *vm, *nic;
	json_t *out = json_array();
	size_t i, j;

	json_array_foreach(vms, i, vm)
		json_array_foreach(json_object_get(vm, "nics"), j, nic) {
			const char *v = json_string_value(json_object_get(nic, "vlan"));

			if (!v || strcmp(json_string_value(json_object_get(nic, "network")) ?: "", net))
				continue;
			for (char *end; *v && n < (int)(sizeof(ids) / sizeof(ids[0])); v = *end ? end + 1 : end) {
				long id = strtol(v, &end, 10);

				if (end == v)
					break;
				ids[n++] = (int)id;
			}
		}
	qsort(ids, n, sizeof(ids[0]), cmp_int);
	for (int k = 0; out && k < n; k++)
		if ((k == 0 || ids[k] != ids[k - 1]) && json_array_append_new(out, json_integer(ids[k])) < 0) {
			json_decref(out);
			return NULL;
		}
	return out;
}

static bool has_node(const json_t *nodes, const char *id)
{
	const json_t *n;
	size_t i;

	json_array_foreach(nodes, i, n)
		if (!strcmp(json_string_value(json_object_get(n, "id")) ?: "", id))
			return true;
	return false;
}

static int add_network(json_t *nodes, const json_t *net, const char *name, const json_t *vms)
{
	const char *addr = json_string_value(json_object_get(net, "address"));
	char id[64];

	snprintf(id, sizeof(id), "net:%s", name);
	return json_array_append_new(nodes, json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:o, s:o, s:b}",
		"id", id, "kind", "network", "name", name,
		"switch", json_string_value(json_object_get(net, "switch")),
		"bridge", json_string_value(json_object_get(net, "bridge")),
		"host_interface", json_string_value(json_object_get(net, "host_interface")),
		"address", addr, "subnet", subnet_of(addr), "vlans", network_vlans(vms, name),
		"stp", json_is_true(json_object_get(net, "stp"))));
}

static int add_vm(json_t *model, const json_t *vm, const json_t *rules)
{
	json_t *nodes = json_object_get(model, "nodes"), *edges = json_object_get(model, "edges");
	json_t *ips = json_array(), *sites = json_object_get(model, "sites");
	const char *name = json_string_value(json_object_get(vm, "name")) ?: "?";
	const char *site = json_string_value(json_object_get(vm, "site"));
	const json_t *nic, *s;
	char id[64], to[64], key[64];
	bool seen = false;
	size_t i;

	snprintf(id, sizeof(id), "vm:%s", name);
	json_array_foreach(json_object_get(vm, "nics"), i, nic) {
		const char *net = json_string_value(json_object_get(nic, "network")) ?: "?";
		const json_t *ip = json_object_get(nic, "ip");
		int index = (int)json_integer_value(json_object_get(nic, "index"));

		if (json_is_string(ip) && json_array_append(ips, (json_t *)ip) < 0)
			goto fail;
		snprintf(to, sizeof(to), "net:%s", net);
		snprintf(key, sizeof(key), "%s/%d", name, index);
		/* A NIC on a network the reply does not list (no fabric): the
		 * network still gets its node, with what is known of it. */
		if (!has_node(nodes, to) && add_network(nodes, NULL, net, NULL) < 0)
			goto fail;
		if (json_array_append_new(edges, json_pack("{s:s, s:s, s:s, s:i, s:s, s:O?, s:O?, s:O?, s:O?, s:s, s:O?}",
				"from", id, "to", to, "vm", name, "nic", index, "network", net,
				"tap", json_object_get(nic, "tap"), "mac", json_object_get(nic, "mac"),
				"ip", ip, "vlan", json_object_get(nic, "vlan"),
				"link", json_string_value(json_object_get(nic, "link")) ?: "up",
				"rule", json_object_get(rules, key))) < 0)
			goto fail;
	}
	json_array_foreach(sites, i, s)
		seen = seen || (site && !strcmp(json_string_value(s), site));
	if (site && !seen && json_array_append_new(sites, json_string(site)) < 0)
		goto fail;
	return json_array_append_new(nodes, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:o}",
		"id", id, "kind", "vm", "name", name,
		"state", json_string_value(json_object_get(vm, "state")) ?: "?",
		"arch", json_string_value(json_object_get(vm, "arch")) ?: "?",
		"accel", json_string_value(json_object_get(vm, "accel")) ?: "?",
		"role", json_string_value(json_object_get(vm, "role")) ?: "",
		"site", site, "ips", ips));
fail:
	json_decref(ips);
	return -ENOMEM;
}

json_t *graph_model(const json_t *status, const json_t *rules, const char *source)
{
	const json_t *fab = json_object_get(status, "fabric"), *vms = json_object_get(status, "vms"), *x;
	char part[1024];
	json_t *model;
	size_t i;

	if (!json_is_array(vms))
		return NULL;
	partition_text(json_object_get(fab, "partition"), part, sizeof(part));
	model = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:[], s:[], s:[]}",
			  "fabric", json_string_value(json_object_get(fab, "name")) ?: "?", "source", source,
			  "file", json_string_value(json_object_get(fab, "file")),
			  "profile", json_string_value(json_object_get(fab, "profile")),
			  "partition", part[0] ? part : NULL, "sites", "nodes", "edges");
	json_array_foreach(json_object_get(fab, "networks"), i, x) {
		const char *name = json_string_value(json_object_get(x, "name"));

		if (model && name && add_network(json_object_get(model, "nodes"), x, name, vms) < 0) {
			json_decref(model);
			model = NULL;
		}
	}
	json_array_foreach(vms, i, x)
		if (model && add_vm(model, x, rules) < 0) {
			json_decref(model);
			model = NULL;
		}
	return model;
}

/* partition.c - partitions and the sites' latency matrix on the fabric's
 * switch ports: the topology and the partition in force turned into
 * tc/pairs.h's per-port lists of source MACs (see partition.h).
 *
 * Each VM's policy depends only on the topology (MACs, sites, [latency])
 * and the partition, never on which other VMs run: a VM that starts gets
 * its ports' policy (partition_vm_up), and a change of partition rebuilds
 * the ports of every running VM in one tc_pairs_apply (all build, then all
 * switch).  Band ids are site numbers (their order in the file), stable
 * for the life of the supervisor.
 */
#include "launcher/partition.h"

#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/events.h"
#include "launcher/jsonfile.h"
#include "net/tap.h"
#include "tc/tc.h"

enum kind { NONE, GROUPS, ONE_WAY };

static struct {
	const struct topology *t;
	struct fabric *fabric;
	int nsites;
	const char **sites;            /* distinct, in file order: band id = index */
	int *site;                     /* per VM: its site's index, -1 for none */
	struct tc_shape *lat;          /* nsites x nsites, both ways; empty: no band */
	enum kind kind;
	int *side;                     /* per VM: GROUPS: group 1.., 0 none; ONE_WAY: 1 from, 2 to */
	json_t *desc;                  /* status's fabric.partition, or NULL */
	char *keep_path;               /* partition_keep's file, or NULL */
} pt;

static int site_index(const char **sites, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(sites[i], name))
			return i;
	return -1;
}

/* A [latency] rule as one shape: no direction words, a shape applies both
 * ways by construction. */
static int latency_shape(const struct topo_latency *l, struct tc_shape *out, struct err *e)
{
	char to[256], from[256];
	struct tc_rule r;
	int rc;

	if ((rc = tc_rule_parse(l->rule, &r, e)) < 0) {
		err_wrap(e, "latency %s:%s", l->a, l->b);
		return rc;
	}
	if (strcmp(tc_shape_format(&r.to_vm, to, sizeof(to)), tc_shape_format(&r.from_vm, from, sizeof(from))))
		return err_set(e, EINVAL, "latency %s:%s: to-vm: and from-vm: do not apply (a pair's rule "
			       "shapes both ways)", l->a, l->b);
	*out = r.to_vm;
	return 0;
}

int partition_check(const struct topology *t, FILE *out)
{
	struct tc_shape s;
	struct err e;
	int rc = 0;

	for (int i = 0; i < t->nlatency; i++)
		if (latency_shape(&t->latency[i], &s, &e) < 0) {
			fprintf(out, "%s:%d: %s\n", t->path, t->latency[i].line, e.msg);
			rc = -EINVAL;
		}
	return rc;
}

void partition_close(bool keep)
{
	if (pt.keep_path && !keep)
		unlink(pt.keep_path);
	free(pt.keep_path);
	free(pt.sites);
	free(pt.site);
	free(pt.lat);
	free(pt.side);
	json_decref(pt.desc);
	memset(&pt, 0, sizeof(pt));
}

int partition_open(const struct topology *t, struct err *e)
{
	int n = t->nvms, r;

	partition_close(true);
	pt.t = t;
	pt.sites = calloc(n + 1, sizeof(*pt.sites));
	pt.site = calloc(n + 1, sizeof(*pt.site));
	pt.side = calloc(n + 1, sizeof(*pt.side));
	if (!pt.sites || !pt.site || !pt.side)
		goto nomem;
	for (int i = 0; i < n; i++) {
		const char *s = t->vms[i].site;

		if (!s) {
			pt.site[i] = -1;
		} else if ((pt.site[i] = site_index(pt.sites, pt.nsites, s)) < 0) {
			pt.site[i] = pt.nsites;
			pt.sites[pt.nsites++] = s;
		}
	}
	if (pt.nsites > TC_PAIRS_MAX_BAND + 1)
		return err_set(e, EINVAL, "%d sites, at most %d", pt.nsites, TC_PAIRS_MAX_BAND + 1);
	if (!(pt.lat = calloc((size_t)pt.nsites * pt.nsites + 1, sizeof(*pt.lat))))
		goto nomem;
	for (int i = 0; i < t->nlatency; i++) {
		const struct topo_latency *l = &t->latency[i];
		int a = site_index(pt.sites, pt.nsites, l->a), b = site_index(pt.sites, pt.nsites, l->b);
		struct tc_shape s;

		if ((r = latency_shape(l, &s, e)) < 0)
			return r;
		if (a < 0 || b < 0)
			continue; /* topo_load refused it */
		pt.lat[a * pt.nsites + b] = pt.lat[b * pt.nsites + a] = s;
	}
	return 0;
nomem:
	return err_set(e, ENOMEM, "out of memory");
}

void partition_set_fabric(struct fabric *f)
{
	pt.fabric = f;
}

/* ---- the ports' policies ---- */

/* Whether frames from VM w are dropped on the ports of VM v. */
static bool dropped(int v, int w)
{
	if (pt.kind == GROUPS)
		return pt.side[v] && pt.side[w] && pt.side[v] != pt.side[w];
	return pt.kind == ONE_WAY && pt.side[v] == 2 && pt.side[w] == 1;
}

/* Every running port (of only, or of all VMs) with its policy, built in
 * arrays freed by ports_free. */
struct ports {
	struct tc_pairs_port *p;
	struct tc_pairs_band *bands;
	uint8_t (*macs)[6];
	char (*names)[IFNAMSIZ];
	size_t n;
};

static void ports_free(struct ports *ps)
{
	free(ps->p);
	free(ps->bands);
	free(ps->macs);
	free(ps->names);
	memset(ps, 0, sizeof(*ps));
}

/* The MACs of VM w's NICs at *k onwards. */
static void add_macs(uint8_t (*macs)[6], size_t *k, int w)
{
	for (int j = 0; j < pt.t->vms[w].nnics; j++)
		memcpy(macs[(*k)++], pt.t->vms[w].nics[j].mac, 6);
}

/* VM v's policy (the same for each of its ports) into ps at port slot i. */
static void policy(struct ports *ps, size_t i, int v, size_t *k, size_t *nb)
{
	struct tc_pairs_port *p = &ps->p[i];
	int s = pt.site[v];

	p->drop = &ps->macs[*k];
	for (int w = 0; w < pt.t->nvms; w++)
		if (w != v && dropped(v, w))
			add_macs(ps->macs, k, w);
	p->ndrop = (size_t)(&ps->macs[*k] - p->drop);
	p->bands = &ps->bands[*nb];
	for (int u = 0; s >= 0 && u < pt.nsites; u++) {
		struct tc_pairs_band *b = &ps->bands[*nb];

		if (tc_shape_empty(&pt.lat[u * pt.nsites + s]))
			continue;
		*b = (struct tc_pairs_band){ .id = (unsigned)u, .shape = pt.lat[u * pt.nsites + s],
					     .macs = &ps->macs[*k] };
		for (int w = 0; w < pt.t->nvms; w++)
			if (w != v && pt.site[w] == u && !dropped(v, w))
				add_macs(ps->macs, k, w);
		b->nmacs = (size_t)(&ps->macs[*k] - b->macs);
		if (b->nmacs) {
			(*nb)++;
			p->nbands++;
		}
	}
}

/* In the fabric's namespace: the ports that exist now. */
static int ports_build(struct ports *ps, const struct topo_vm *only)
{
	size_t nics = 0, k = 0, nb = 0;
	char tap[IFNAMSIZ];

	memset(ps, 0, sizeof(*ps));
	for (int i = 0; i < pt.t->nvms; i++)
		nics += pt.t->vms[i].nnics;
	ps->p = calloc(nics + 1, sizeof(*ps->p));
	ps->names = calloc(nics + 1, sizeof(*ps->names));
	ps->bands = calloc(nics * (pt.nsites + 1) + 1, sizeof(*ps->bands));
	/* Each port lists each other VM's MACs at most once. */
	ps->macs = calloc(nics * nics + 1, sizeof(*ps->macs));
	if (!ps->p || !ps->names || !ps->bands || !ps->macs) {
		ports_free(ps);
		return -ENOMEM;
	}
	for (int v = 0; v < pt.t->nvms; v++) {
		const struct topo_vm *vm = &pt.t->vms[v];

		if (only && only != vm)
			continue;
		for (int j = 0; j < vm->nnics; j++) {
			if (tap_name(vm->name, vm->nics[j].index, tap, sizeof(tap)) < 0)
				continue;
			tap_port_name(tap, ps->names[ps->n], sizeof(ps->names[ps->n]));
			/* A VM whose QEMU does not run has no ports: it gets its
			 * policy when it starts (partition_vm_up). */
			if (!if_nametoindex(ps->names[ps->n]))
				continue;
			ps->p[ps->n].ifname = ps->names[ps->n];
			policy(ps, ps->n, v, &k, &nb);
			ps->n++;
		}
	}
	return 0;
}

/* Give the ports (of only, or of every running VM) the policy in force. */
static int apply(const struct topo_vm *only, struct err *e)
{
	struct ports ps;
	int saved, r;

	if (!pt.t)
		return 0;
	if (pt.fabric && (r = fabric_enter(pt.fabric, &saved)) < 0)
		return err_sys(e, -r, "cannot enter the fabric's namespace");
	if ((r = ports_build(&ps, only)) < 0)
		err_set(e, ENOMEM, "out of memory");
	else if ((r = tc_pairs_apply(ps.p, ps.n, e)) < 0)
		err_wrap(e, "partition");
	ports_free(&ps);
	if (pt.fabric)
		fabric_leave(saved);
	return r;
}

int partition_vm_up(const struct topo_vm *vm, struct err *e)
{
	/* Even with nothing in force: an adopted VM's ports may still hold
	 * an earlier supervisor's partition. */
	return apply(vm, e);
}

/* ---- changing the partition ---- */

static int vm_index(const char *name)
{
	const struct topo_vm *vm = topo_find_vm(pt.t, name);

	return vm ? (int)(vm - pt.t->vms) : -1;
}

/* The partition in force into pt.keep_path, whole or not at all.  Nothing
 * to tell when it fails: the next supervisor then starts healed. */
static void keep_write(void)
{
	json_t *k;

	if (pt.keep_path && (k = json_pack("{s:O?}", "partition", pt.desc))) {
		jsonfile_write(pt.keep_path, k, JSON_COMPACT, false);
		json_decref(k);
	}
}

/* Put the new partition in force: kind, sides (per VM) and its status
 * form (stolen); on failure the old one stays, in the kernel and here. */
static int set(enum kind kind, int *side, json_t *desc, struct err *e)
{
	enum kind old_kind = pt.kind;
	int *old_side = pt.side, r;

	pt.kind = kind;
	pt.side = side;
	if ((r = apply(NULL, e)) < 0) {
		pt.kind = old_kind;
		pt.side = old_side;
		free(side);
		json_decref(desc);
		return r;
	}
	free(old_side);
	json_decref(pt.desc);
	pt.desc = desc;
	keep_write();
	if (kind == NONE)
		events_emit(NULL, "heal", NULL);
	else
		events_emit(NULL, "partition", json_deep_copy(desc));
	return 0;
}

/* Mark the VMs of names (a JSON array of strings) as side s; what names
 * the list in errors.  -EINVAL with e on a bad or repeated name. */
static int mark(int *side, json_t *names, int s, const char *what, struct err *e)
{
	size_t i;
	json_t *n;

	if (!json_is_array(names) || !json_array_size(names))
		return err_set(e, EINVAL, "%s: name one VM or more", what);
	json_array_foreach(names, i, n) {
		int v = json_is_string(n) ? vm_index(json_string_value(n)) : -1;

		if (v < 0)
			return err_set(e, EINVAL, "%s: no vm \"%s\" in %s", what,
				       json_is_string(n) ? json_string_value(n) : "?", pt.t->path);
		if (side[v])
			return err_set(e, EINVAL, "%s: vm %s is named twice", what, json_string_value(n));
		side[v] = s;
	}
	return 0;
}

/* {"groups":[[...],...]} or {"from":[...],"to":[...]} into *kind and
 * *side (per VM, the caller's to free). */
static int parse_json(json_t *spec, enum kind *kind_out, int **side_out, struct err *e)
{
	json_t *groups = json_object_get(spec, "groups"), *g;
	int *side = calloc(pt.t->nvms + 1, sizeof(*side)), r = 0;
	enum kind kind;
	char what[32];
	size_t i;

	if (!side)
		return err_set(e, ENOMEM, "out of memory");
	if (groups) {
		kind = GROUPS;
		if (!json_is_array(groups) || json_array_size(groups) < 2)
			r = err_set(e, EINVAL, "a partition needs two groups of VMs or more");
		json_array_foreach(groups, i, g) {
			snprintf(what, sizeof(what), "group %zu", i + 1);
			if (!r)
				r = mark(side, g, (int)i + 1, what, e);
		}
	} else {
		kind = ONE_WAY;
		if ((r = mark(side, json_object_get(spec, "from"), 1, "from", e)) == 0)
			r = mark(side, json_object_get(spec, "to"), 2, "to", e);
	}
	if (r < 0) {
		free(side);
		return r;
	}
	*kind_out = kind;
	*side_out = side;
	return 0;
}

/* {"groups":...} or {"from":...,"to":...} into force. */
static int set_json(json_t *spec, struct err *e)
{
	enum kind kind;
	int *side, r;

	if ((r = parse_json(spec, &kind, &side, e)) < 0)
		return r;
	return set(kind, side, json_deep_copy(spec), e);
}

int partition_keep(const char *path, bool restore, struct err *e)
{
	json_t *k = NULL, *desc;
	enum kind kind;
	int *side, r = 0;

	if (!pt.t)
		return 0;
	if (!(pt.keep_path = strdup(path)))
		return err_set(e, ENOMEM, "out of memory");
	if (restore && (k = json_load_file(path, 0, NULL)) &&
	    json_is_object(desc = json_object_get(k, "partition"))) {
		if ((r = parse_json(desc, &kind, &side, e)) < 0) {
			err_wrap(e, "%s", path);
		} else {
			free(pt.side);
			pt.kind = kind;
			pt.side = side;
			json_decref(pt.desc);
			pt.desc = json_incref(desc);
			r = 1;
		}
	}
	json_decref(k);
	keep_write();
	return r;
}

/* "a,b" into a JSON array of names; NULL on ENOMEM or an empty name. */
static json_t *name_list(const char *text, size_t len)
{
	json_t *a = json_array();
	const char *end = text + len;

	while (a && text < end) {
		size_t n = strcspn(text, ",");
		const char *s = text, *t;

		if (text + n > end)
			n = (size_t)(end - text);
		t = s + n;
		while (s < t && (*s == ' ' || *s == '\t'))
			s++;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if (t == s || json_array_append_new(a, json_stringn(s, (size_t)(t - s))) < 0) {
			json_decref(a);
			return NULL;
		}
		text += n + 1;
	}
	return a;
}

int partition_apply_spec(const char *spec, struct err *e)
{
	const char *arrow = strstr(spec, "->");
	json_t *j = NULL;
	int r;

	if (!pt.t)
		return err_set(e, ENOTSUP, "partitions need a fabric (a [network] in the topology)");
	if (arrow) {
		json_t *from = name_list(spec, (size_t)(arrow - spec)), *to = name_list(arrow + 2, strlen(arrow + 2));

		if (from && to)
			j = json_pack("{s:o, s:o}", "from", from, "to", to);
		else {
			json_decref(from);
			json_decref(to);
		}
	} else {
		json_t *groups = json_array();

		for (const char *g = spec; groups;) {
			size_t n = strcspn(g, "|");
			json_t *names = name_list(g, n);

			if (!names || json_array_append_new(groups, names) < 0) {
				json_decref(groups);
				groups = NULL;
				break;
			}
			if (!g[n])
				break;
			g += n + 1;
		}
		if (groups)
			j = json_pack("{s:o}", "groups", groups);
	}
	if (!j)
		return err_set(e, EINVAL, "bad partition \"%s\" (use A,B | C or A,B -> C)", spec);
	r = set_json(j, e);
	json_decref(j);
	return r;
}

int partition_heal(struct err *e)
{
	int *side;

	if (!pt.t)
		return err_set(e, ENOTSUP, "partitions need a fabric (a [network] in the topology)");
	if (!(side = calloc(pt.t->nvms + 1, sizeof(*side))))
		return err_set(e, ENOMEM, "out of memory");
	return set(NONE, side, NULL, e);
}

json_t *partition_status_json(void)
{
	return pt.desc ? json_deep_copy(pt.desc) : json_null();
}

/* ---- the control verbs ---- */

static void reply(struct control_client *c, int r, const struct err *e)
{
	if (r < 0)
		control_reply_error(c, r == -EINVAL ? 2 : 1, "%s", e->msg);
	else
		control_reply(c, json_pack("{s:b, s:o}", "ok", 1, "partition", partition_status_json()));
}

void partition_request(struct control_client *c, json_t *req)
{
	json_t *spec;
	struct err e;
	int r;

	if (!pt.t) {
		control_reply_error(c, 1, "partitions need a fabric (a [network] in the topology)");
		return;
	}
	if (json_object_get(req, "groups"))
		spec = json_pack("{s:O}", "groups", json_object_get(req, "groups"));
	else if (json_object_get(req, "from") || json_object_get(req, "to"))
		spec = json_pack("{s:O?, s:O?}", "from", json_object_get(req, "from"), "to",
				 json_object_get(req, "to"));
	else {
		control_reply_error(c, 2, "partition needs groups, or from and to");
		return;
	}
	if (!spec) {
		control_reply_error(c, 1, "out of memory");
		return;
	}
	r = set_json(spec, &e);
	json_decref(spec);
	reply(c, r, &e);
}

void partition_heal_request(struct control_client *c, json_t *req)
{
	struct err e;

	(void)req;
	reply(c, partition_heal(&e), &e);
}

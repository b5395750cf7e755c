/* profile.c - impairment profiles across the fabric (see profile.h).
 *
 * Every change is a plan: the shape each NIC of the topology should carry
 * afterwards, and which NICs the change is about.  A plan is checked whole
 * (rules parsed, netem present) before any link is touched, then applied
 * link by link with what each link had kept in memory (nics[].cur), so a
 * failure can put back every link already changed.  Only a plan that went
 * through whole is committed to memory.
 */
#include "tc/profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIRS 2 /* 0: to the VM (the tap's egress), 1: from it (the ifb's) */

struct nicstate {
	const char *vm; /* the topology's */
	int nic;
	struct tc_rule want;                  /* what the NIC should carry */
	struct tc_rule cur;                   /* what its current tap got from us */
	const struct topo_rule *src[DIRS];    /* the profile line of each direction; NULL: none or tc set */
};

struct tc_profile {
	const struct topology *t;
	char name[TOPO_NAME_MAX + 1];
	bool modified;
	bool has_seed;
	uint64_t seed;
	int n;
	struct nicstate *nics;
};

struct plan {
	const char *what;                     /* "profile NAME" or "set KEY", for messages */
	struct tc_rule *want;                 /* per NIC, p->n */
	const struct topo_rule *(*src)[DIRS]; /* per NIC */
	bool *changes;                        /* per NIC: part of this change */
};

static struct tc_shape *dir_shape(struct tc_rule *r, int d)
{
	return d == 0 ? &r->to_vm : &r->from_vm;
}

/* ---- keys and resolution ---- */

struct key {
	char vm[TOPO_VM_NAME_MAX + 1];
	int nic;  /* -1: every NIC */
	int rank; /* 1 "*", 2 "VM", 3 "VM/N": the more specific wins */
};

static int key_parse(const char *s, struct key *k)
{
	size_t len = strcspn(s, "/");
	char *end;

	memset(k, 0, sizeof(*k));
	k->nic = -1;
	if (!strcmp(s, "*")) {
		k->rank = 1;
		return 0;
	}
	if (!len || len > TOPO_VM_NAME_MAX)
		return -EINVAL;
	memcpy(k->vm, s, len);
	k->rank = 2;
	if (s[len]) {
		long n = strtol(s + len + 1, &end, 10);

		if (end == s + len + 1 || *end || n < 0 || n >= TOPO_MAX_NICS)
			return -EINVAL;
		k->nic = (int)n;
		k->rank = 3;
	}
	return 0;
}

static bool key_matches(const struct key *k, const struct nicstate *ns)
{
	return k->rank == 1 || (!strcmp(k->vm, ns->vm) && (k->nic < 0 || k->nic == ns->nic));
}

/* Whether rule r says something about direction d (see profile.h). */
static bool covers(struct tc_rule *r, int d)
{
	return !tc_shape_empty(dir_shape(r, d)) || (tc_shape_empty(&r->to_vm) && tc_shape_empty(&r->from_vm));
}

static void fill_seed(const struct tc_profile *p, struct tc_rule *r)
{
	for (int d = 0; d < DIRS; d++) {
		struct tc_shape *s = dir_shape(r, d);

		if (p->has_seed && !s->has_seed && tc_shape_needs_netem(s)) {
			s->has_seed = true;
			s->seed = p->seed;
		}
	}
}

static int rule_parse(const struct topology *t, const struct topo_profile *pr, const struct topo_rule *r,
		      struct tc_rule *out, char *err, size_t errsize)
{
	char msg[TC_ERR_MAX];

	if (tc_rule_parse(r->rule, out, msg, sizeof(msg)) == 0)
		return 0;
	snprintf(err, errsize, "%s:%d: profile %s: %s: %s", t->path, r->line, pr->name, r->key, msg);
	return -EINVAL;
}

/* Fill the plan with profile pr (NULL: default) for every NIC. */
static int resolve(const struct tc_profile *p, const struct topo_profile *pr, struct plan *pl,
		   char *err, size_t errsize)
{
	struct tc_rule *parsed = NULL;
	struct key *keys = NULL;
	int r = 0, n = pr ? pr->nrules : 0;

	if (n && (!(parsed = calloc(n, sizeof(*parsed))) || !(keys = calloc(n, sizeof(*keys))))) {
		snprintf(err, errsize, "%s: out of memory", pl->what);
		r = -ENOMEM;
		goto out;
	}
	for (int k = 0; k < n; k++) {
		if ((r = rule_parse(p->t, pr, &pr->rules[k], &parsed[k], err, errsize)))
			goto out;
		if (key_parse(pr->rules[k].key, &keys[k]) < 0) {
			snprintf(err, errsize, "%s:%d: profile %s: bad key \"%s\"", p->t->path,
				 pr->rules[k].line, pr->name, pr->rules[k].key);
			r = -EINVAL;
			goto out;
		}
	}
	for (int i = 0; i < p->n; i++) {
		pl->changes[i] = true;
		memset(&pl->want[i], 0, sizeof(pl->want[i]));
		for (int d = 0; d < DIRS; d++) {
			int best = 0;

			pl->src[i][d] = NULL;
			for (int k = 0; k < n; k++) {
				if (keys[k].rank <= best || !key_matches(&keys[k], &p->nics[i]) ||
				    !covers(&parsed[k], d))
					continue;
				best = keys[k].rank;
				*dir_shape(&pl->want[i], d) = *dir_shape(&parsed[k], d);
				pl->src[i][d] = &pr->rules[k];
			}
		}
		fill_seed(p, &pl->want[i]);
	}
out:
	free(parsed);
	free(keys);
	return r;
}

int tc_profile_check(const struct topology *t, FILE *err)
{
	char msg[TC_ERR_MAX + 128];
	struct tc_rule rule;
	int bad = 0;

	for (int i = 0; i < t->nprofiles; i++)
		for (int k = 0; k < t->profiles[i].nrules; k++)
			if (rule_parse(t, &t->profiles[i], &t->profiles[i].rules[k], &rule, msg, sizeof(msg))) {
				fprintf(err ? err : stderr, "%s\n", msg);
				bad = 1;
			}
	return bad ? -EINVAL : 0;
}

/* ---- applying a plan ---- */

/* Where direction d of NIC i came from, for messages: "PATH:LINE: profile
 * NAME: KEY" or "set KEY". */
static void origin(const struct tc_profile *p, const struct plan *pl, int i, int d, char *buf, size_t size)
{
	const struct topo_rule *r = pl->src[i][d];

	if (r)
		snprintf(buf, size, "%s:%d: %s: %s", p->t->path, r->line, pl->what, r->key);
	else
		snprintf(buf, size, "%s", pl->what);
}

/* The first word of s that needs netem, for the error. */
static const char *netem_word(const struct tc_shape *s)
{
	return s->delay_us ? "delay" : s->jitter_us ? "jitter" : s->loss ? "loss" :
	       s->duplicate ? "duplicate" : s->corrupt ? "corrupt" : s->reorder ? "reorder" :
	       s->has_seed ? "seed" : "distribution";
}

static int netem_check(const struct tc_profile *p, const struct plan *pl, char *err, size_t errsize)
{
	char where[TC_ERR_MAX];
	int have = -1;

	for (int i = 0; i < p->n; i++)
		for (int d = 0; pl->changes[i] && d < DIRS; d++) {
			const struct tc_shape *s = dir_shape(&pl->want[i], d);

			if (!tc_shape_needs_netem(s))
				continue;
			if (have < 0 && (have = tc_netem_available()) < 0) {
				snprintf(err, errsize, "cannot tell whether the kernel has netem: %s",
					 strerror(-have));
				return have;
			}
			if (have)
				return 0;
			origin(p, pl, i, d, where, sizeof(where));
			snprintf(err, errsize, "%s: \"%s\" needs netem, which this kernel lacks "
				 "(CONFIG_NET_SCH_NETEM); nothing was changed", where, netem_word(s));
			return -EOPNOTSUPP;
		}
	return 0;
}

/* Both directions of one tap; *dir says which failed. */
static int shape_link(const char *tap, const struct tc_rule *r, int *dir, char *err, size_t errsize)
{
	int e;

	*dir = 0;
	e = tc_egress_apply(tap, &r->to_vm, err, errsize);
	/* A tap that is gone (its QEMU exited) holds nothing: clearing it is
	 * done, and its ifb, which outlives it, still goes below. */
	if (e == -ENODEV && tc_shape_empty(&r->to_vm))
		e = 0;
	if (e)
		return e;
	*dir = 1;
	return tc_ingress_apply(tap, &r->from_vm, err, errsize);
}

static int find_nic(const struct tc_profile *p, const char *vm, int nic)
{
	for (int i = 0; i < p->n; i++)
		if (p->nics[i].nic == nic && !strcmp(p->nics[i].vm, vm))
			return i;
	return -ENOENT;
}

/* Put back links[0..done) that the plan changed, last first; failures are
 * appended to err. */
static void restore(struct tc_profile *p, const struct plan *pl, const struct tc_profile_link *links,
		    const int *idx, int done, char *err, size_t errsize)
{
	char msg[TC_ERR_MAX];
	size_t len;
	int d, bad = 0;

	for (int k = done - 1; k >= 0; k--) {
		if (!pl->changes[idx[k]] || !shape_link(links[k].tap, &p->nics[idx[k]].cur, &d, msg, sizeof(msg)))
			continue;
		len = strlen(err);
		snprintf(err + len, errsize - len, "; restoring %s/%d failed too: %s", links[k].vm,
			 links[k].nic, msg);
		bad = 1;
	}
	len = strlen(err);
	if (!bad)
		snprintf(err + len, errsize - len, "; every link is back as it was");
}

static int apply(struct tc_profile *p, const struct plan *pl, const struct tc_profile_link *links,
		 int nlinks, char *err, size_t errsize)
{
	char msg[TC_ERR_MAX], where[TC_ERR_MAX], text[TC_ERR_MAX];
	int *idx = nlinks ? calloc(nlinks, sizeof(*idx)) : NULL;
	int r = 0, d;

	if (nlinks && !idx) {
		snprintf(err, errsize, "%s: out of memory", pl->what);
		return -ENOMEM;
	}
	for (int k = 0; k < nlinks; k++)
		if ((idx[k] = find_nic(p, links[k].vm, links[k].nic)) < 0) {
			snprintf(err, errsize, "%s/%d: no such NIC in %s", links[k].vm, links[k].nic, p->t->path);
			r = -ENOENT;
			goto out;
		}
	if ((r = netem_check(p, pl, err, errsize)))
		goto out;
	for (int k = 0; k < nlinks; k++) {
		int i = idx[k];

		if (!pl->changes[i] || !(r = shape_link(links[k].tap, &pl->want[i], &d, msg, sizeof(msg))))
			continue;
		origin(p, pl, i, d, where, sizeof(where));
		tc_shape_format(dir_shape(&pl->want[i], d), text, sizeof(text));
		snprintf(err, errsize, "%s: %s/%d %s \"%s\": %s", where, links[k].vm, links[k].nic,
			 d ? "from-vm" : "to-vm", text, msg);
		/* The failing link may be half done: it is put back too. */
		restore(p, pl, links, idx, k + 1, err, errsize);
		goto out;
	}
	for (int i = 0; i < p->n; i++)
		if (pl->changes[i]) {
			p->nics[i].want = pl->want[i];
			memcpy(p->nics[i].src, pl->src[i], sizeof(p->nics[i].src));
		}
	for (int k = 0; k < nlinks; k++)
		if (pl->changes[idx[k]])
			p->nics[idx[k]].cur = pl->want[idx[k]];
out:
	free(idx);
	return r;
}

/* A plan that changes nothing yet: every NIC keeps what it wants. */
static int plan_init(const struct tc_profile *p, struct plan *pl, const char *what, char *err,
		     size_t errsize)
{
	pl->what = what;
	pl->want = calloc(p->n ? p->n : 1, sizeof(*pl->want));
	pl->src = calloc(p->n ? p->n : 1, sizeof(*pl->src));
	pl->changes = calloc(p->n ? p->n : 1, sizeof(*pl->changes));
	if (!pl->want || !pl->src || !pl->changes) {
		snprintf(err, errsize, "%s: out of memory", what);
		return -ENOMEM;
	}
	for (int i = 0; i < p->n; i++) {
		pl->want[i] = p->nics[i].want;
		memcpy(pl->src[i], p->nics[i].src, sizeof(pl->src[i]));
	}
	return 0;
}

static void plan_free(struct plan *pl)
{
	free(pl->want);
	free(pl->src);
	free(pl->changes);
}

/* ---- the verbs ---- */

int tc_profile_switch(struct tc_profile *p, const char *name, const struct tc_profile_link *links,
		      int nlinks, char *err, size_t errsize)
{
	const struct topo_profile *pr = NULL;
	char what[TOPO_NAME_MAX + 16];
	struct plan pl;
	int r;

	if (strcmp(name, TC_PROFILE_DEFAULT) && !(pr = topo_find_profile(p->t, name))) {
		snprintf(err, errsize, "no profile \"%s\" in %s", name, p->t->path);
		return -ENOENT;
	}
	snprintf(what, sizeof(what), "profile %s", name);
	if (!(r = plan_init(p, &pl, what, err, errsize)) && !(r = resolve(p, pr, &pl, err, errsize)) &&
	    !(r = apply(p, &pl, links, nlinks, err, errsize))) {
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->modified = false;
	}
	plan_free(&pl);
	return r;
}

/* tc set / tc clear VM: the NICs of key carry rule. */
static int set_rule(struct tc_profile *p, const char *keytext, const char *what, const struct tc_rule *rule,
		    const struct tc_profile_link *links, int nlinks, char *err, size_t errsize)
{
	struct key key;
	struct topo_vm *vm = NULL;
	struct plan pl;
	int r;

	if (key_parse(keytext, &key) < 0) {
		snprintf(err, errsize, "%s: bad key (use a VM name, VM/N or *)", what);
		return -EINVAL;
	}
	if (key.rank > 1 && !(vm = topo_find_vm(p->t, key.vm))) {
		snprintf(err, errsize, "%s: no vm \"%s\" in %s", what, key.vm, p->t->path);
		return -ENOENT;
	}
	if (vm && key.nic >= vm->nnics) {
		snprintf(err, errsize, "%s: vm %s has no NIC %d (it has %d)", what, key.vm, key.nic, vm->nnics);
		return -ENOENT;
	}
	if (!(r = plan_init(p, &pl, what, err, errsize))) {
		for (int i = 0; i < p->n; i++) {
			if (!(pl.changes[i] = key_matches(&key, &p->nics[i])))
				continue;
			pl.want[i] = *rule;
			fill_seed(p, &pl.want[i]);
			pl.src[i][0] = pl.src[i][1] = NULL;
		}
		if (!(r = apply(p, &pl, links, nlinks, err, errsize)))
			p->modified = true;
	}
	plan_free(&pl);
	return r;
}

int tc_profile_set(struct tc_profile *p, const char *key, const char *text,
		   const struct tc_profile_link *links, int nlinks, char *err, size_t errsize)
{
	char what[64], msg[TC_ERR_MAX];
	struct tc_rule rule;

	snprintf(what, sizeof(what), "set %s", key);
	if (tc_rule_parse(text, &rule, msg, sizeof(msg))) {
		snprintf(err, errsize, "%s: %s", what, msg);
		return -EINVAL;
	}
	return set_rule(p, key, what, &rule, links, nlinks, err, errsize);
}

int tc_profile_clear(struct tc_profile *p, const char *vm, const struct tc_profile_link *links,
		     int nlinks, char *err, size_t errsize)
{
	static const struct tc_rule none;
	char what[64];

	if (!vm)
		return tc_profile_switch(p, TC_PROFILE_DEFAULT, links, nlinks, err, errsize);
	snprintf(what, sizeof(what), "clear %s", vm);
	if (strchr(vm, '/') || !strcmp(vm, "*")) {
		snprintf(err, errsize, "%s: not a VM name", what);
		return -EINVAL;
	}
	return set_rule(p, vm, what, &none, links, nlinks, err, errsize);
}

/* Only vm's links, in a new array the caller frees; *n its length. */
static struct tc_profile_link *vm_links(const char *vm, const struct tc_profile_link *links, int nlinks,
					int *n)
{
	struct tc_profile_link *out = calloc(nlinks ? nlinks : 1, sizeof(*out));

	*n = 0;
	for (int k = 0; out && k < nlinks; k++)
		if (!strcmp(links[k].vm, vm))
			out[(*n)++] = links[k];
	return out;
}

int tc_profile_reapply_vm(struct tc_profile *p, const char *vm, const struct tc_profile_link *links,
			  int nlinks, char *err, size_t errsize)
{
	char what[64];
	struct tc_profile_link *mine;
	struct plan pl;
	int n, r;

	snprintf(what, sizeof(what), "profile %s", p->name);
	if (!(mine = vm_links(vm, links, nlinks, &n))) {
		snprintf(err, errsize, "%s: out of memory", what);
		return -ENOMEM;
	}
	/* New taps hold nothing: that is what a failure goes back to. */
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->nics[i].vm, vm))
			memset(&p->nics[i].cur, 0, sizeof(p->nics[i].cur));
	if (!(r = plan_init(p, &pl, what, err, errsize))) {
		for (int i = 0; i < p->n; i++)
			pl.changes[i] = !strcmp(p->nics[i].vm, vm);
		r = apply(p, &pl, mine, n, err, errsize);
	}
	plan_free(&pl);
	free(mine);
	return r;
}

int tc_profile_release_vm(struct tc_profile *p, const char *vm, const struct tc_profile_link *links,
			  int nlinks, char *err, size_t errsize)
{
	static const struct tc_rule none;
	char msg[TC_ERR_MAX];
	int r = 0, e, d, i;

	for (int k = 0; k < nlinks; k++) {
		if (strcmp(links[k].vm, vm))
			continue;
		if ((i = find_nic(p, vm, links[k].nic)) >= 0)
			memset(&p->nics[i].cur, 0, sizeof(p->nics[i].cur));
		if ((e = shape_link(links[k].tap, &none, &d, msg, sizeof(msg))) && !r) {
			snprintf(err, errsize, "%s/%d: %s", vm, links[k].nic, msg);
			r = e;
		}
	}
	return r;
}

/* ---- the handle and status ---- */

int tc_profile_new(const struct topology *t, const char *name, struct tc_profile **out,
		   char *err, size_t errsize)
{
	struct tc_profile *p = calloc(1, sizeof(*p));
	int r, n = 0;

	*out = NULL;
	for (int i = 0; i < t->nvms; i++)
		n += t->vms[i].nnics;
	if (!p || !(p->nics = calloc(n ? n : 1, sizeof(*p->nics)))) {
		free(p);
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	p->t = t;
	for (int i = 0; i < t->nvms; i++)
		for (int k = 0; k < t->vms[i].nnics; k++)
			p->nics[p->n++] = (struct nicstate){ .vm = t->vms[i].name, .nic = t->vms[i].nics[k].index };
	snprintf(p->name, sizeof(p->name), "%s", TC_PROFILE_DEFAULT);
	if ((r = tc_profile_switch(p, name, NULL, 0, err, errsize))) {
		tc_profile_free(p);
		return r;
	}
	*out = p;
	return 0;
}

void tc_profile_free(struct tc_profile *p)
{
	if (p)
		free(p->nics);
	free(p);
}

void tc_profile_set_seed(struct tc_profile *p, uint64_t seed)
{
	p->has_seed = true;
	p->seed = seed;
}

const char *tc_profile_active(const struct tc_profile *p)
{
	return p->name;
}

/* Add each distinct seed of r to seeds. */
static void add_seeds(json_t *seeds, struct tc_rule *r)
{
	for (int d = 0; d < DIRS; d++) {
		const struct tc_shape *s = dir_shape(r, d);
		bool seen = !s->has_seed;
		size_t k;
		json_t *v;

		json_array_foreach(seeds, k, v)
			seen = seen || (uint64_t)json_integer_value(v) == s->seed;
		if (!seen)
			json_array_append_new(seeds, json_integer((json_int_t)s->seed));
	}
}

int tc_profile_status(const struct tc_profile *p, const struct tc_profile_link *links, int nlinks,
		      json_t **out)
{
	json_t *o = json_object(), *all = json_object(), *seeds = json_array(), *l, *seed;
	char key[TOPO_VM_NAME_MAX + 8], text[DIRS][TC_ERR_MAX];
	int r = 0, i;

	*out = NULL;
	if (!o || !all || !seeds) {
		r = -ENOMEM;
		goto fail;
	}
	for (int k = 0; k < nlinks; k++) {
		if ((i = find_nic(p, links[k].vm, links[k].nic)) < 0)
			continue;
		/* A tap can vanish under us (its VM is stopping): say so there
		 * rather than failing the whole status. */
		if ((r = tc_link_dump(links[k].tap, &l)) < 0)
			l = json_pack("{s:s}", "error", strerror(-r));
		r = 0;
		for (int d = 0; d < DIRS; d++)
			tc_shape_format(dir_shape(&p->nics[i].want, d), text[d], sizeof(text[d]));
		json_object_set_new(l, "tap", json_string(links[k].tap));
		json_object_set_new(l, "rule", json_pack("{s:s,s:s}", "to_vm", text[0], "from_vm", text[1]));
		snprintf(key, sizeof(key), "%s/%d", links[k].vm, links[k].nic);
		json_object_set_new(all, key, l);
		add_seeds(seeds, &p->nics[i].want);
	}
	seed = json_array_size(seeds) == 0 ? json_null() :
	       json_array_size(seeds) == 1 ? json_incref(json_array_get(seeds, 0)) : json_incref(seeds);
	json_decref(seeds);
	json_object_set_new(o, "profile", json_string(p->name));
	json_object_set_new(o, "modified", json_boolean(p->modified));
	json_object_set_new(o, "seed", seed);
	json_object_set_new(o, "links", all);
	*out = o;
	return 0;
fail:
	json_decref(o);
	json_decref(all);
	json_decref(seeds);
	return r;
}

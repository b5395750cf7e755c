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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIRS 2 /* 0: to the VM (the tap's egress), 1: from it (the glue end's) */
#define TEXT_MAX 512 /* a shape as tc_shape_format writes it */

struct nicstate {
	const char *vm; /* the conf's */
	int nic;
	struct tc_rule want;                     /* what the NIC should carry */
	struct tc_rule cur;                      /* what its current tap got from us */
	const struct tc_profile_rule *src[DIRS]; /* the profile line of each direction; NULL: none or tc set */
};

struct tc_profile {
	const struct tc_profile_conf *c;
	const char *name; /* the conf's, or TC_PROFILE_DEFAULT */
	bool modified;
	bool has_seed;
	uint64_t seed;
	int n;
	struct nicstate *nics;
};

struct plan {
	char what[128];                             /* "profile NAME" or "set KEY", for messages */
	struct tc_rule *want;                       /* per NIC, p->n */
	const struct tc_profile_rule *(*src)[DIRS]; /* per NIC */
	bool *changes;                              /* per NIC: part of this change */
};

static struct tc_shape *dir_shape(struct tc_rule *r, int d)
{
	return d == 0 ? &r->to_vm : &r->from_vm;
}

/* Add to e's message (nothing when e is NULL). */
__attribute__((format(printf, 2, 3)))
static void append(struct err *e, const char *fmt, ...)
{
	size_t len;
	va_list ap;

	if (!e)
		return;
	len = strlen(e->msg);
	va_start(ap, fmt);
	vsnprintf(e->msg + len, sizeof(e->msg) - len, fmt, ap);
	va_end(ap);
}

/* ---- targets and resolution ---- */

/* 1 "*", 2 "VM", 3 "VM/N": the more specific wins. */
static int rank(const struct tc_target *t)
{
	return !t->vm ? 1 : t->nic < 0 ? 2 : 3;
}

static bool target_matches(const struct tc_target *t, const struct nicstate *ns)
{
	return !t->vm || (!strcmp(t->vm, ns->vm) && (t->nic < 0 || t->nic == ns->nic));
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

static int rule_parse(const struct tc_profile_conf *c, const struct tc_profile_def *def,
		      const struct tc_profile_rule *r, struct tc_rule *out, struct err *e)
{
	int rc = tc_rule_parse(r->rule, out, e);

	if (rc)
		err_wrap(e, "%s:%d: profile %s: %s", c->path, r->line, def->name, r->key);
	return rc;
}

/* Fill the plan with profile def (NULL: default) for every NIC. */
static int resolve(const struct tc_profile *p, const struct tc_profile_def *def, struct plan *pl,
		   struct err *e)
{
	struct tc_rule *parsed = NULL;
	int r = 0, n = def ? def->nrules : 0;

	if (n && !(parsed = calloc(n, sizeof(*parsed))))
		return err_set(e, ENOMEM, "%s: out of memory", pl->what);
	for (int k = 0; k < n; k++)
		if ((r = rule_parse(p->c, def, &def->rules[k], &parsed[k], e)))
			goto out;
	for (int i = 0; i < p->n; i++) {
		pl->changes[i] = true;
		memset(&pl->want[i], 0, sizeof(pl->want[i]));
		for (int d = 0; d < DIRS; d++) {
			int best = 0;

			pl->src[i][d] = NULL;
			for (int k = 0; k < n; k++) {
				const struct tc_target *t = &def->rules[k].target;

				if (rank(t) <= best || !target_matches(t, &p->nics[i]) || !covers(&parsed[k], d))
					continue;
				best = rank(t);
				*dir_shape(&pl->want[i], d) = *dir_shape(&parsed[k], d);
				pl->src[i][d] = &def->rules[k];
			}
		}
		fill_seed(p, &pl->want[i]);
	}
out:
	free(parsed);
	return r;
}

int tc_profile_check(const struct tc_profile_conf *c, tc_profile_report_fn *report, void *arg)
{
	struct tc_rule rule;
	struct err e;
	int bad = 0;

	for (int i = 0; i < c->nprofiles; i++)
		for (int k = 0; k < c->profiles[i].nrules; k++)
			if (rule_parse(c, &c->profiles[i], &c->profiles[i].rules[k], &rule, &e)) {
				if (report)
					report(&e, arg);
				bad = 1;
			}
	return bad ? -EINVAL : 0;
}

/* ---- applying a plan ---- */

/* Where direction d of NIC i came from, for messages: "PATH:LINE: profile
 * NAME: KEY" or "set KEY". */
static void origin(const struct tc_profile *p, const struct plan *pl, int i, int d, char *buf, size_t size)
{
	const struct tc_profile_rule *r = pl->src[i][d];

	if (r)
		snprintf(buf, size, "%s:%d: %s: %s", p->c->path, r->line, pl->what, r->key);
	else
		snprintf(buf, size, "%s", pl->what);
}

static int netem_check(const struct tc_profile *p, const struct plan *pl, struct err *e)
{
	char where[ERR_MSG_MAX];
	int have = -1;

	for (int i = 0; i < p->n; i++)
		for (int d = 0; pl->changes[i] && d < DIRS; d++) {
			const struct tc_shape *s = dir_shape(&pl->want[i], d);

			if (!tc_shape_needs_netem(s))
				continue;
			if (have < 0 && (have = tc_netem_available()) < 0)
				return err_sys(e, -have, "cannot tell whether the kernel has netem");
			if (have)
				return 0;
			origin(p, pl, i, d, where, sizeof(where));
			return err_set(e, EOPNOTSUPP, "%s: \"%s\" needs netem, which this kernel lacks "
				       "(CONFIG_NET_SCH_NETEM); nothing was changed", where,
				       tc_shape_netem_word(s));
		}
	return 0;
}

static int find_nic(const struct tc_profile *p, const char *vm, int nic)
{
	for (int i = 0; i < p->n; i++)
		if (p->nics[i].nic == nic && !strcmp(p->nics[i].vm, vm))
			return i;
	return -ENOENT;
}

/* Put back links[0..done) that the plan changed, last first; failures are
 * appended to e. */
static void restore(struct tc_profile *p, const struct plan *pl, const struct tc_profile_link *links,
		    const int *idx, int done, struct err *e)
{
	struct err why;
	int d, bad = 0;

	for (int k = done - 1; k >= 0; k--) {
		if (!pl->changes[idx[k]] || !tc_link_apply(links[k].tap, links[k].glue, &p->nics[idx[k]].cur, &d, &why))
			continue;
		append(e, "; restoring %s/%d failed too: %s", links[k].vm, links[k].nic, why.msg);
		bad = 1;
	}
	if (!bad)
		append(e, "; every link is back as it was");
}

static int apply(struct tc_profile *p, const struct plan *pl, const struct tc_profile_link *links,
		 int nlinks, struct err *e)
{
	char where[ERR_MSG_MAX], text[TEXT_MAX];
	int *idx = nlinks ? calloc(nlinks, sizeof(*idx)) : NULL;
	int r = 0, d;

	if (nlinks && !idx)
		return err_set(e, ENOMEM, "%s: out of memory", pl->what);
	for (int k = 0; k < nlinks; k++)
		if ((idx[k] = find_nic(p, links[k].vm, links[k].nic)) < 0) {
			r = err_set(e, ENOENT, "%s/%d: no such NIC in %s", links[k].vm, links[k].nic,
				    p->c->path);
			goto out;
		}
	if ((r = netem_check(p, pl, e)))
		goto out;
	for (int k = 0; k < nlinks; k++) {
		int i = idx[k];

		if (!pl->changes[i] || !(r = tc_link_apply(links[k].tap, links[k].glue, &pl->want[i], &d, e)))
			continue;
		origin(p, pl, i, d, where, sizeof(where));
		tc_shape_format(dir_shape(&pl->want[i], d), text, sizeof(text));
		err_wrap(e, "%s: %s/%d %s \"%s\"", where, links[k].vm, links[k].nic,
			 d ? "from-vm" : "to-vm", text);
		/* The failing link may be half done: it is put back too. */
		restore(p, pl, links, idx, k + 1, e);
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
static int plan_init(const struct tc_profile *p, struct plan *pl, const char *what, struct err *e)
{
	snprintf(pl->what, sizeof(pl->what), "%s", what);
	pl->want = calloc(p->n ? p->n : 1, sizeof(*pl->want));
	pl->src = calloc(p->n ? p->n : 1, sizeof(*pl->src));
	pl->changes = calloc(p->n ? p->n : 1, sizeof(*pl->changes));
	if (!pl->want || !pl->src || !pl->changes)
		return err_set(e, ENOMEM, "%s: out of memory", what);
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

static const struct tc_profile_def *find_profile(const struct tc_profile_conf *c, const char *name)
{
	for (int i = 0; i < c->nprofiles; i++)
		if (!strcmp(c->profiles[i].name, name))
			return &c->profiles[i];
	return NULL;
}

int tc_profile_switch(struct tc_profile *p, const char *name, const struct tc_profile_link *links,
		      int nlinks, struct err *e)
{
	const struct tc_profile_def *def = NULL;
	char what[128];
	struct plan pl;
	int r;

	if (strcmp(name, TC_PROFILE_DEFAULT) && !(def = find_profile(p->c, name)))
		return err_set(e, ENOENT, "no profile \"%s\" in %s", name, p->c->path);
	snprintf(what, sizeof(what), "profile %s", name);
	if (!(r = plan_init(p, &pl, what, e)) && !(r = resolve(p, def, &pl, e)) &&
	    !(r = apply(p, &pl, links, nlinks, e))) {
		p->name = def ? def->name : TC_PROFILE_DEFAULT;
		p->modified = false;
	}
	plan_free(&pl);
	return r;
}

/* tc set / tc clear VM: the NICs of to carry rule. */
static int set_rule(struct tc_profile *p, const struct tc_target *to, const char *what,
		    const struct tc_rule *rule, const struct tc_profile_link *links, int nlinks,
		    struct err *e)
{
	struct plan pl;
	int r;

	if (!(r = plan_init(p, &pl, what, e))) {
		for (int i = 0; i < p->n; i++) {
			if (!(pl.changes[i] = target_matches(to, &p->nics[i])))
				continue;
			pl.want[i] = *rule;
			fill_seed(p, &pl.want[i]);
			pl.src[i][0] = pl.src[i][1] = NULL;
		}
		if (!(r = apply(p, &pl, links, nlinks, e)))
			p->modified = true;
	}
	plan_free(&pl);
	return r;
}

int tc_profile_set(struct tc_profile *p, const char *key, const struct tc_target *to, const char *text,
		   const struct tc_profile_link *links, int nlinks, struct err *e)
{
	char what[128];
	struct tc_rule rule;
	int r;

	snprintf(what, sizeof(what), "set %s", key);
	if ((r = tc_rule_parse(text, &rule, e))) {
		err_wrap(e, "%s", what);
		return r;
	}
	return set_rule(p, to, what, &rule, links, nlinks, e);
}

int tc_profile_clear(struct tc_profile *p, const char *vm, const struct tc_profile_link *links,
		     int nlinks, struct err *e)
{
	static const struct tc_rule none;
	struct tc_target to = { .vm = vm, .nic = -1 };
	char what[128];

	if (!vm)
		return tc_profile_switch(p, TC_PROFILE_DEFAULT, links, nlinks, e);
	snprintf(what, sizeof(what), "clear %s", vm);
	return set_rule(p, &to, what, &none, links, nlinks, e);
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
			  int nlinks, struct err *e)
{
	char what[128];
	struct tc_profile_link *mine;
	struct plan pl;
	int n, r;

	snprintf(what, sizeof(what), "profile %s", p->name);
	if (!(mine = vm_links(vm, links, nlinks, &n)))
		return err_set(e, ENOMEM, "%s: out of memory", what);
	/* New taps hold nothing: that is what a failure goes back to. */
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->nics[i].vm, vm))
			memset(&p->nics[i].cur, 0, sizeof(p->nics[i].cur));
	if (!(r = plan_init(p, &pl, what, e))) {
		for (int i = 0; i < p->n; i++)
			pl.changes[i] = !strcmp(p->nics[i].vm, vm);
		r = apply(p, &pl, mine, n, e);
	}
	plan_free(&pl);
	free(mine);
	return r;
}

int tc_profile_adopt_vm(struct tc_profile *p, const char *vm, const struct tc_profile_link *links,
			int nlinks, char *note, size_t size, struct err *e)
{
	char had[DIRS][TEXT_MAX], wants[DIRS][TEXT_MAX];
	struct tc_rule got;
	size_t len = 0;
	int mended = 0, i, r, d;

	if (size)
		note[0] = '\0';
	for (int k = 0; k < nlinks; k++) {
		if (strcmp(links[k].vm, vm) || (i = find_nic(p, vm, links[k].nic)) < 0)
			continue;
		if ((r = tc_link_read(links[k].tap, links[k].glue, &got)) < 0)
			return err_sys(e, -r, "%s/%d: cannot read the qdiscs of %s back", vm, links[k].nic,
				       links[k].tap);
		if (r == 0 && tc_shape_same(&p->nics[i].want.to_vm, &got.to_vm) &&
		    tc_shape_same(&p->nics[i].want.from_vm, &got.from_vm)) {
			p->nics[i].cur = p->nics[i].want;
			continue;
		}
		for (d = 0; d < DIRS; d++) {
			tc_shape_format(dir_shape(&got, d), had[d], sizeof(had[d]));
			tc_shape_format(dir_shape(&p->nics[i].want, d), wants[d], sizeof(wants[d]));
		}
		if (len < size)
			len += (size_t)snprintf(note + len, size - len,
						"%s%s/%d had to-vm \"%s\" from-vm \"%s\"%s, profile %s wants \"%s\" and \"%s\"",
						len ? "; " : "", vm, links[k].nic, had[0], had[1],
						r ? " and qdiscs of another's" : "", p->name, wants[0], wants[1]);
		p->nics[i].cur = got;
		if ((r = tc_link_apply(links[k].tap, links[k].glue, &p->nics[i].want, &d, e)) < 0) {
			err_wrap(e, "%s/%d %s", vm, links[k].nic, d ? "from-vm" : "to-vm");
			return r;
		}
		p->nics[i].cur = p->nics[i].want;
		mended++;
	}
	return mended;
}

int tc_profile_release_vm(struct tc_profile *p, const char *vm, const struct tc_profile_link *links,
			  int nlinks, struct err *e)
{
	static const struct tc_rule none;
	struct err why;
	int r = 0, rc, d, i;

	for (int k = 0; k < nlinks; k++) {
		if (strcmp(links[k].vm, vm))
			continue;
		if ((i = find_nic(p, vm, links[k].nic)) >= 0)
			memset(&p->nics[i].cur, 0, sizeof(p->nics[i].cur));
		if ((rc = tc_link_apply(links[k].tap, links[k].glue, &none, &d, &why)) && !r)
			r = err_set(e, -rc, "%s/%d: %s", vm, links[k].nic, why.msg);
	}
	return r;
}

/* ---- the handle and status ---- */

int tc_profile_new(const struct tc_profile_conf *c, const char *name, struct tc_profile **out,
		   struct err *e)
{
	struct tc_profile *p = calloc(1, sizeof(*p));
	int r;

	*out = NULL;
	if (!p || !(p->nics = calloc(c->nnics ? c->nnics : 1, sizeof(*p->nics)))) {
		free(p);
		return err_set(e, ENOMEM, "out of memory");
	}
	p->c = c;
	for (int i = 0; i < c->nnics; i++)
		p->nics[p->n++] = (struct nicstate){ .vm = c->nics[i].vm, .nic = c->nics[i].nic };
	p->name = TC_PROFILE_DEFAULT;
	if ((r = tc_profile_switch(p, name, NULL, 0, e))) {
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
	char key[128], text[DIRS][TEXT_MAX];
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
		if ((r = tc_link_dump(links[k].tap, links[k].glue, &l)) < 0)
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

/* impair.c - tc profiles on the fabric's live links: the topology turned
 * into tc/'s plain parameters. */
#include "launcher/impair.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/paths.h"
#include "launcher/events.h"
#include "launcher/jsonfile.h"
#include "launcher/verify.h"
#include "net/tap.h"
#include "tc/profile.h"

/* The topology's profiles and NICs as tc/ takes them. */
struct conf {
	struct tc_profile_conf c;
	struct tc_profile_def *defs;
	struct tc_profile_rule *rules;
	struct tc_nic *nics;
};

static struct {
	const struct topology *t;
	struct fabric *fabric;
	struct conf conf;
	struct tc_profile *tc;
	bool *up;                      /* per VM of t: its taps exist */
	/* What the links carry, for a supervisor that adopts them after us
	 * (impair_keep): {"profile": NAME, "changes": [{"set": KEY, "rule":
	 * RULE} | {"clear": VM}, ...]}, the changes since the profile. */
	char *keep_path;
	json_t *kept;
	const char *opened;            /* the profile impair_open resolved */
} im;

/* key ("*", "VM" or "VM/N") as a target among t's NICs; what ("set KEY",
 * "clear VM") starts the messages. */
static int target(const struct topology *t, const char *key, const char *what, struct tc_target *to,
		  struct err *e)
{
	char name[TOPO_VM_NAME_MAX + 1];
	const struct topo_vm *vm;
	int nic;

	if (topo_parse_key(key, name, &nic) < 0)
		return err_set(e, EINVAL, "%s: bad key (use a VM name, VM/N or *)", what);
	*to = (struct tc_target){ .vm = NULL, .nic = -1 };
	if (!name[0])
		return 0;
	if (!(vm = topo_find_vm(t, name)))
		return err_set(e, ENOENT, "%s: no vm \"%s\" in %s", what, name, t->path);
	if (nic >= vm->nnics)
		return err_set(e, ENOENT, "%s: vm %s has no NIC %d (it has %d)", what, name, nic, vm->nnics);
	*to = (struct tc_target){ .vm = vm->name, .nic = nic };
	return 0;
}

static void conf_free(struct conf *cf)
{
	free(cf->defs);
	free(cf->rules);
	free(cf->nics);
	memset(cf, 0, sizeof(*cf));
}

static int conf_build(const struct topology *t, struct conf *cf, struct err *e)
{
	int nrules = 0, nnics = 0, k = 0, r;
	char what[128];

	memset(cf, 0, sizeof(*cf));
	for (int i = 0; i < t->nprofiles; i++)
		nrules += t->profiles[i].nrules;
	for (int i = 0; i < t->nvms; i++)
		nnics += t->vms[i].nnics;
	cf->defs = calloc(t->nprofiles + 1, sizeof(*cf->defs));
	cf->rules = calloc(nrules + 1, sizeof(*cf->rules));
	cf->nics = calloc(nnics + 1, sizeof(*cf->nics));
	if (!cf->defs || !cf->rules || !cf->nics) {
		conf_free(cf);
		return err_set(e, ENOMEM, "out of memory");
	}
	for (int i = 0; i < t->nprofiles; i++) {
		const struct topo_profile *pr = &t->profiles[i];

		cf->defs[i] = (struct tc_profile_def){ .name = pr->name, .rules = &cf->rules[k],
						       .nrules = pr->nrules };
		for (int j = 0; j < pr->nrules; j++, k++) {
			const struct topo_rule *tr = &pr->rules[j];

			snprintf(what, sizeof(what), "%s:%d: profile %s", t->path, tr->line, pr->name);
			if ((r = target(t, tr->key, what, &cf->rules[k].target, e)) < 0) {
				conf_free(cf);
				return r;
			}
			cf->rules[k].key = tr->key;
			cf->rules[k].rule = tr->rule;
			cf->rules[k].line = tr->line;
		}
	}
	k = 0;
	for (int i = 0; i < t->nvms; i++)
		for (int j = 0; j < t->vms[i].nnics; j++)
			cf->nics[k++] = (struct tc_nic){ .vm = t->vms[i].name, .nic = t->vms[i].nics[j].index };
	cf->c = (struct tc_profile_conf){ .path = t->path, .profiles = cf->defs, .nprofiles = t->nprofiles,
					  .nics = cf->nics, .nnics = nnics };
	return 0;
}

static void print_err(const struct err *e, void *out)
{
	fprintf(out, "%s\n", e->msg);
}

int impair_check(const struct topology *t, FILE *out)
{
	struct conf cf;
	struct err e;
	int r = conf_build(t, &cf, &e);

	if (r < 0) {
		print_err(&e, out);
		return r;
	}
	r = tc_profile_check(&cf.c, print_err, out);
	conf_free(&cf);
	return r;
}

int impair_open(const struct topology *t, const char *profile, struct err *e)
{
	int r;

	im.t = t;
	im.opened = profile;
	if (!(im.up = calloc(t->nvms + 1, sizeof(*im.up))))
		return err_set(e, ENOMEM, "out of memory");
	if ((r = conf_build(t, &im.conf, e)) < 0)
		return r;
	return tc_profile_new(&im.conf.c, profile, &im.tc, e);
}

void impair_set_fabric(struct fabric *f)
{
	im.fabric = f;
}

void impair_close(bool keep)
{
	if (im.keep_path && !keep)
		unlink(im.keep_path);
	free(im.keep_path);
	json_decref(im.kept);
	tc_profile_free(im.tc);
	conf_free(&im.conf);
	free(im.up);
	memset(&im, 0, sizeof(im));
}

/* ---- what the links carry, for the next supervisor ---- */

/* im.kept into im.keep_path, whole or not at all.  Nothing to tell when it
 * fails: the next supervisor then mends the links to its own profile. */
static void keep_write(void)
{
	if (im.keep_path)
		jsonfile_write(im.keep_path, im.kept, JSON_COMPACT, false);
}

/* The profile was switched (change NULL) or one change made on top. */
static void keep_note(json_t *change)
{
	if (!im.keep_path) {
		json_decref(change);
		return;
	}
	if (!change) {
		json_decref(im.kept);
		im.kept = json_pack("{s:s, s:[]}", "profile", tc_profile_active(im.tc), "changes");
	} else {
		json_array_append_new(json_object_get(im.kept, "changes"), change);
	}
	keep_write();
}

/* Replay what path says onto the handle, touching no link. */
static int keep_restore(json_t *k, struct err *e)
{
	const char *profile = json_string_value(json_object_get(k, "profile")), *key, *vm;
	json_t *changes = json_object_get(k, "changes"), *c;
	struct tc_target to;
	size_t i;
	int r;

	if (!profile || !json_is_array(changes))
		return err_set(e, EINVAL, "not what n3x-launch writes");
	if ((r = tc_profile_switch(im.tc, profile, NULL, 0, e)) < 0)
		return r;
	json_array_foreach(changes, i, c) {
		const char *rule = json_string_value(json_object_get(c, "rule"));

		if ((key = json_string_value(json_object_get(c, "set"))) && rule)
			r = target(im.t, key, key, &to, e) < 0 ? -EINVAL :
			    tc_profile_set(im.tc, key, &to, rule, NULL, 0, e);
		else if ((vm = json_string_value(json_object_get(c, "clear"))) && topo_find_vm(im.t, vm))
			r = tc_profile_clear(im.tc, topo_find_vm(im.t, vm)->name, NULL, 0, e);
		else
			r = err_set(e, EINVAL, "change %zu is not what n3x-launch writes", i);
		if (r < 0)
			return r;
	}
	return 0;
}

int impair_keep(const char *path, bool restore, struct err *e)
{
	json_t *k = NULL;
	int r = 0;

	if (!im.tc)
		return 0;
	if (restore && (k = json_load_file(path, 0, NULL)) && (r = keep_restore(k, e)) < 0) {
		err_wrap(e, "%s", path);
		/* Half replayed is neither: back to what impair_open resolved. */
		tc_profile_switch(im.tc, im.opened, NULL, 0, NULL);
	}
	if (!(im.keep_path = strdup(path))) {
		json_decref(k);
		return err_set(e, ENOMEM, "out of memory");
	}
	if (r == 0 && k) {
		im.kept = k;
		keep_write();
		return 1;
	}
	json_decref(k);
	keep_note(NULL);
	return r;
}

const char *impair_profile(void)
{
	return im.tc ? tc_profile_active(im.tc) : TC_PROFILE_DEFAULT;
}

/* The live links, or only vm's; *taps holds their names, tap and glue end
 * in turn (freed by the caller). */
static struct tc_profile_link *links(const struct topo_vm *only, int *n, char (**taps)[IFNAMSIZ])
{
	int max = 0, k = 0;
	struct tc_profile_link *l;

	for (int i = 0; i < im.t->nvms; i++)
		max += im.t->vms[i].nnics;
	l = calloc(max + 1, sizeof(*l));
	*taps = calloc(2 * max + 1, sizeof(**taps));
	if (!l || !*taps) {
		free(l);
		free(*taps);
		*n = -1;
		return NULL;
	}
	for (int i = 0; i < im.t->nvms; i++) {
		const struct topo_vm *vm = &im.t->vms[i];

		if (!im.up[i] || (only && only != vm))
			continue;
		/* A name too long for IFNAMSIZ never got a tap: the fabric
		 * refused it when the VM started. */
		for (int j = 0; j < vm->nnics; j++, k++) {
			char *tap = (*taps)[2 * k], *glue = (*taps)[2 * k + 1];

			tap_name(vm->name, j, tap, IFNAMSIZ);
			tap_glue_name(tap, glue, IFNAMSIZ);
			l[k] = (struct tc_profile_link){ .vm = vm->name, .nic = j, .tap = tap, .glue = glue };
		}
	}
	*n = k;
	return l;
}

typedef int (*links_fn)(struct tc_profile *p, const struct tc_profile_link *l, int n, void *arg,
			struct err *e);

/* Run fn over the links (of only, or all) inside the fabric's namespace. */
static int with_links(const struct topo_vm *only, links_fn fn, void *arg, struct err *e)
{
	char (*taps)[IFNAMSIZ] = NULL;
	int n, saved, r;
	struct tc_profile_link *l = links(only, &n, &taps);

	if (n < 0)
		return err_set(e, ENOMEM, "out of memory");
	if (im.fabric && (r = fabric_enter(im.fabric, &saved)) < 0) {
		err_sys(e, -r, "cannot enter the fabric's namespace");
	} else {
		r = fn(im.tc, l, n, arg, e);
		if (im.fabric)
			fabric_leave(saved);
	}
	free(l);
	free(taps);
	return r;
}

static int do_reapply(struct tc_profile *p, const struct tc_profile_link *l, int n, void *vm,
		      struct err *e)
{
	return tc_profile_reapply_vm(p, vm, l, n, e);
}

static int do_release(struct tc_profile *p, const struct tc_profile_link *l, int n, void *vm,
		      struct err *e)
{
	return tc_profile_release_vm(p, vm, l, n, e);
}

static int vm_index(const struct topo_vm *vm)
{
	return (int)(vm - im.t->vms);
}

int impair_vm_up(const struct topo_vm *vm, struct err *e)
{
	if (!im.tc || !vm->nnics)
		return 0;
	im.up[vm_index(vm)] = true;
	return with_links(vm, do_reapply, (void *)vm->name, e);
}

struct adopt_arg {
	const char *vm;
	char *note;
	size_t size;
};

static int do_adopt(struct tc_profile *p, const struct tc_profile_link *l, int n, void *arg,
		    struct err *e)
{
	struct adopt_arg *a = arg;

	return tc_profile_adopt_vm(p, a->vm, l, n, a->note, a->size, e);
}

int impair_vm_adopt(const struct topo_vm *vm, char *note, size_t size, struct err *e)
{
	struct adopt_arg a = { vm->name, note, size };

	if (size)
		note[0] = '\0';
	if (!im.tc || !vm->nnics)
		return 0;
	im.up[vm_index(vm)] = true;
	return with_links(vm, do_adopt, &a, e);
}

void impair_vm_down(const struct topo_vm *vm)
{
	if (!im.tc || !im.up[vm_index(vm)])
		return;
	/* The taps went with QEMU; the glue ends' qdiscs go now (the fabric
	 * deletes the veths after).  Nothing to tell anyone if that fails:
	 * the VM is down anyway. */
	with_links(vm, do_release, (void *)vm->name, NULL);
	im.up[vm_index(vm)] = false;
}

/* ---- control requests ---- */

struct tc_req {
	const char *profile, *key, *rule, *vm;
	struct tc_target to;
	json_t *status;
	bool verify; /* tc verify: the status becomes verify_plan's plan */
};

/* Both ways in (a tc request, a snapshot load) tell the event stream. */
static int do_switch(struct tc_profile *p, const struct tc_profile_link *l, int n, void *arg,
		     struct err *e)
{
	char previous[128];
	int r;

	snprintf(previous, sizeof(previous), "%s", tc_profile_active(p));
	if ((r = tc_profile_switch(p, ((struct tc_req *)arg)->profile, l, n, e)) == 0) {
		keep_note(NULL);
		events_emit(NULL, "profile", json_pack("{s:s, s:s}", "profile", tc_profile_active(p),
						       "previous", previous));
	}
	return r;
}

static int do_set(struct tc_profile *p, const struct tc_profile_link *l, int n, void *arg,
		  struct err *e)
{
	struct tc_req *q = arg;
	int r = tc_profile_set(p, q->key, &q->to, q->rule, l, n, e);

	if (r == 0)
		keep_note(json_pack("{s:s, s:s}", "set", q->key, "rule", q->rule));
	return r;
}

static int do_clear(struct tc_profile *p, const struct tc_profile_link *l, int n, void *arg,
		    struct err *e)
{
	const char *vm = ((struct tc_req *)arg)->vm;
	int r = tc_profile_clear(p, vm, l, n, e);

	if (r == 0)
		keep_note(vm ? json_pack("{s:s}", "clear", vm) : NULL);
	return r;
}

static int do_status(struct tc_profile *p, const struct tc_profile_link *l, int n, void *arg,
		     struct err *e)
{
	int r = tc_profile_status(p, l, n, &((struct tc_req *)arg)->status);

	return r < 0 ? err_sys(e, -r, "cannot read the qdiscs back") : r;
}

int impair_switch(const char *profile, struct err *e)
{
	struct tc_req q = { .profile = profile };

	if (!im.tc)
		return err_set(e, ENOTSUP, "traffic control needs a fabric (a [network] in the topology)");
	return with_links(NULL, do_switch, &q, e);
}

/* The request's function, with its key or VM resolved; -errno with e set
 * when the request is wrong. */
static int parse_request(json_t *req, struct tc_req *q, links_fn *fn, struct err *e)
{
	json_t *set = json_object_get(req, "set");
	char what[128];

	q->vm = json_string_value(json_object_get(req, "vm"));
	if ((q->profile = json_string_value(json_object_get(req, "profile")))) {
		*fn = do_switch;
		return 0;
	}
	if (json_is_object(set)) {
		q->key = json_string_value(json_object_get(set, "key"));
		q->rule = json_string_value(json_object_get(set, "rule"));
		if (!q->key || !q->rule)
			return err_set(e, EINVAL, "tc set needs a key (VM, VM/N or *) and a rule");
		*fn = do_set;
		snprintf(what, sizeof(what), "set %s", q->key);
		return target(im.t, q->key, what, &q->to, e);
	}
	if (json_is_true(json_object_get(req, "clear"))) {
		*fn = do_clear;
		if (!q->vm)
			return 0;
		snprintf(what, sizeof(what), "clear %s", q->vm);
		if (strchr(q->vm, '/') || !strcmp(q->vm, "*"))
			return err_set(e, EINVAL, "%s: not a VM name", what);
		return target(im.t, q->vm, what, &q->to, e);
	}
	q->verify = json_is_true(json_object_get(req, "verify"));
	if (q->verify || json_is_true(json_object_get(req, "status"))) {
		*fn = do_status;
		return 0;
	}
	return err_set(e, EINVAL, "tc needs a profile, status, set, clear or verify");
}

void impair_request(struct control_client *c, json_t *req)
{
	struct tc_req q = { 0 };
	struct err e;
	links_fn fn = NULL;
	int r;

	if (!im.tc) {
		control_reply_error(c, 1, "traffic control needs a fabric (a [network] in the topology)");
		return;
	}
	if ((r = parse_request(req, &q, &fn, &e)) == 0)
		r = with_links(NULL, fn, &q, &e);
	if (r == 0 && q.verify) {
		json_t *plan;

		r = verify_plan(im.t, q.status, json_object_get(req, "links"), &plan, &e);
		json_decref(q.status);
		q.status = NULL;
		if (r == 0) {
			control_reply(c, json_pack("{s:b, s:o}", "ok", 1, "verify", plan));
			return;
		}
	}
	if (r < 0) {
		/* Bad names and rules are the user's to fix: exit code 2. */
		control_reply_error(c, r == -ENOENT || r == -EINVAL ? 2 : 1, "%s", e.msg);
		json_decref(q.status);
		return;
	}
	if (q.status)
		control_reply(c, json_pack("{s:b, s:o}", "ok", 1, "tc", q.status));
	else
		control_reply(c, json_pack("{s:b, s:s}", "ok", 1, "profile", tc_profile_active(im.tc)));
}

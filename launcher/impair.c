/* impair.c - tc profiles on the fabric's live links. */
#include "launcher/impair.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tc/profile.h"

static struct {
	const struct topology *t;
	struct fabric *fabric;
	struct tc_profile *tc;
	bool *up;                      /* per VM of t: its taps exist */
} im;

int impair_open(const struct topology *t, const char *profile)
{
	char err[TC_ERR_MAX];
	int r;

	im.t = t;
	if (!(im.up = calloc(t->nvms + 1, sizeof(*im.up))))
		return -ENOMEM;
	if ((r = tc_profile_new(t, profile, &im.tc, err, sizeof(err))) < 0)
		fprintf(stderr, "n3x-launch: %s\n", err);
	return r;
}

void impair_set_fabric(struct fabric *f)
{
	im.fabric = f;
}

void impair_close(void)
{
	tc_profile_free(im.tc);
	free(im.up);
	memset(&im, 0, sizeof(im));
}

const char *impair_profile(void)
{
	return im.tc ? tc_profile_active(im.tc) : TC_PROFILE_DEFAULT;
}

/* The live links, or only vm's; *taps holds their names (freed by the caller). */
static struct tc_profile_link *links(const struct topo_vm *only, int *n, char (**taps)[32])
{
	int max = 0, k = 0;
	struct tc_profile_link *l;

	for (int i = 0; i < im.t->nvms; i++)
		max += im.t->vms[i].nnics;
	l = calloc(max + 1, sizeof(*l));
	*taps = calloc(max + 1, sizeof(**taps));
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
		for (int j = 0; j < vm->nnics; j++, k++) {
			snprintf((*taps)[k], sizeof((*taps)[k]), "%s-n%d", vm->name, j);
			l[k] = (struct tc_profile_link){ .vm = vm->name, .nic = j, .tap = (*taps)[k] };
		}
	}
	*n = k;
	return l;
}

typedef int (*links_fn)(struct tc_profile *p, const struct tc_profile_link *l, int n, void *arg,
			char *err, size_t errsize);

/* Run fn over the links (of only, or all) inside the fabric's namespace. */
static int with_links(const struct topo_vm *only, links_fn fn, void *arg, char *err, size_t errsize)
{
	char (*taps)[32] = NULL;
	int n, saved, r;
	struct tc_profile_link *l = links(only, &n, &taps);

	if (n < 0) {
		snprintf(err, errsize, "out of memory");
		return -ENOMEM;
	}
	if (im.fabric && (r = fabric_enter(im.fabric, &saved)) < 0) {
		snprintf(err, errsize, "cannot enter the fabric's namespace: %s", strerror(-r));
	} else {
		r = fn(im.tc, l, n, arg, err, errsize);
		if (im.fabric)
			fabric_leave(saved);
	}
	free(l);
	free(taps);
	return r;
}

static int do_reapply(struct tc_profile *p, const struct tc_profile_link *l, int n, void *vm,
		      char *err, size_t errsize)
{
	return tc_profile_reapply_vm(p, vm, l, n, err, errsize);
}

static int do_release(struct tc_profile *p, const struct tc_profile_link *l, int n, void *vm,
		      char *err, size_t errsize)
{
	return tc_profile_release_vm(p, vm, l, n, err, errsize);
}

static int vm_index(const struct topo_vm *vm)
{
	return (int)(vm - im.t->vms);
}

int impair_vm_up(const struct topo_vm *vm, char *why)
{
	if (!im.tc || !vm->nnics)
		return 0;
	im.up[vm_index(vm)] = true;
	return with_links(vm, do_reapply, (void *)vm->name, why, 256);
}

void impair_vm_down(const struct topo_vm *vm)
{
	char err[TC_ERR_MAX];

	if (!im.tc || !im.up[vm_index(vm)])
		return;
	/* The taps went with QEMU; the ifbs that carried their ingress did not. */
	with_links(vm, do_release, (void *)vm->name, err, sizeof(err));
	im.up[vm_index(vm)] = false;
}

/* ---- control requests ---- */

struct tc_req {
	const char *profile, *key, *rule, *vm;
	json_t *status;
};

static int do_switch(struct tc_profile *p, const struct tc_profile_link *l, int n, void *arg,
		     char *err, size_t errsize)
{
	return tc_profile_switch(p, ((struct tc_req *)arg)->profile, l, n, err, errsize);
}

static int do_set(struct tc_profile *p, const struct tc_profile_link *l, int n, void *arg,
		  char *err, size_t errsize)
{
	struct tc_req *q = arg;

	return tc_profile_set(p, q->key, q->rule, l, n, err, errsize);
}

static int do_clear(struct tc_profile *p, const struct tc_profile_link *l, int n, void *arg,
		    char *err, size_t errsize)
{
	return tc_profile_clear(p, ((struct tc_req *)arg)->vm, l, n, err, errsize);
}

static int do_status(struct tc_profile *p, const struct tc_profile_link *l, int n, void *arg,
		     char *err, size_t errsize)
{
	int r = tc_profile_status(p, l, n, &((struct tc_req *)arg)->status);

	if (r < 0)
		snprintf(err, errsize, "cannot read the qdiscs back: %s", strerror(-r));
	return r;
}

void impair_request(struct control_client *c, json_t *req)
{
	struct tc_req q = { 0 };
	json_t *set = json_object_get(req, "set");
	char err[TC_ERR_MAX] = "";
	links_fn fn;
	int r;

	if (!im.tc) {
		control_reply_error(c, 1, "traffic control needs a fabric (a [network] in the topology)");
		return;
	}
	q.vm = json_string_value(json_object_get(req, "vm"));
	if ((q.profile = json_string_value(json_object_get(req, "profile")))) {
		fn = do_switch;
	} else if (json_is_object(set)) {
		q.key = json_string_value(json_object_get(set, "key"));
		q.rule = json_string_value(json_object_get(set, "rule"));
		if (!q.key || !q.rule) {
			control_reply_error(c, 2, "tc set needs a key (VM, VM/N or *) and a rule");
			return;
		}
		fn = do_set;
	} else if (json_is_true(json_object_get(req, "clear"))) {
		fn = do_clear;
	} else if (json_is_true(json_object_get(req, "status"))) {
		fn = do_status;
	} else {
		control_reply_error(c, 2, "tc needs a profile, status, set or clear");
		return;
	}
	r = with_links(NULL, fn, &q, err, sizeof(err));
	if (r < 0) {
		/* Bad names and rules are the user's to fix: exit code 2. */
		control_reply_error(c, r == -ENOENT || r == -EINVAL ? 2 : 1, "%s", err);
		json_decref(q.status);
		return;
	}
	if (q.status)
		control_reply(c, json_pack("{s:b, s:o}", "ok", 1, "tc", q.status));
	else
		control_reply(c, json_pack("{s:b, s:s}", "ok", 1, "profile", tc_profile_active(im.tc)));
}

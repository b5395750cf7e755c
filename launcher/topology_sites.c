/* topology_sites.c - `site = NAME` per VM and the [latency] matrix.
 *
 *     [vm jetson-1]
 *     site = edge
 *     [latency]
 *     edge:core = delay 40ms jitter 5ms loss 0.5%
 *     core:core = delay 1ms
 *
 * A pair's RULE shapes frames between a VM at one site and a VM at the
 * other, both ways (edge:core is core:edge); A:A shapes frames between two
 * VMs of one site.  The rule stays text: its words belong to tc/ and are
 * checked by the launcher (partition_check), as the profiles' are.
 */
#include "launcher/topology_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void topo_site_key(struct topo_parser *p, struct topo_sect *s, struct topo_vm *vm, const char *val)
{
	int r = topo_check_name(val, TOPO_NAME_MAX);

	if (r == -EINVAL)
		topo_sect_msg(p, s, p->line, "site: bad site name \"%s\" %s", val, TOPO_NAME_RULE);
	else if (r)
		topo_sect_msg(p, s, p->line, "site: site name \"%s\" is longer than %d characters", val,
			      TOPO_NAME_MAX);
	free(vm->site);
	vm->site = r ? NULL : topo_strdup(p, val);
}

/* inih splits at the first '=' or ':', so "edge:core = RULE" comes as key
 * "edge" and val "core = RULE" (and "edge = RULE", a line without the ':',
 * as val "RULE", which has no second site before an '='). */
void topo_latency_key(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val)
{
	const char *eq = strchr(val, '='), *rule;
	struct topo_latency *l;
	char b[TOPO_NAME_MAX + 2];
	size_t n;

	if (!eq) {
		topo_sect_msg(p, s, p->line, "expected \"SITE:SITE = RULE\"");
		return;
	}
	n = (size_t)(eq - val);
	while (n && isspace((unsigned char)val[n - 1]))
		n--;
	if (!n || n > TOPO_NAME_MAX) {
		topo_sect_msg(p, s, p->line, "expected \"SITE:SITE = RULE\"");
		return;
	}
	memcpy(b, val, n);
	b[n] = '\0';
	for (rule = eq + 1; isspace((unsigned char)*rule); rule++)
		;
	if (topo_check_name(key, TOPO_NAME_MAX) || topo_check_name(b, TOPO_NAME_MAX)) {
		topo_sect_msg(p, s, p->line, "bad site name in \"%s:%s\" %s", key, b, TOPO_NAME_RULE);
		return;
	}
	if (!*rule) {
		topo_sect_msg(p, s, p->line, "%s:%s: missing rule", key, b);
		return;
	}
	if (!(l = topo_grow(p, &s->owner->latency, &s->owner->nlatency, sizeof(*l))))
		return;
	*l = (struct topo_latency){ .a = topo_strdup(p, key), .b = topo_strdup(p, b),
				    .rule = topo_strdup(p, rule), .line = p->line };
}

static bool site_used(const struct topology *t, const char *site)
{
	for (int i = 0; i < t->nvms; i++)
		if (t->vms[i].site && !strcmp(t->vms[i].site, site))
			return true;
	return false;
}

static bool same_pair(const struct topo_latency *x, const struct topo_latency *y)
{
	return (!strcmp(x->a, y->a) && !strcmp(x->b, y->b)) || (!strcmp(x->a, y->b) && !strcmp(x->b, y->a));
}

void topo_check_sites(struct topo_parser *p)
{
	struct topology *t = p->t;
	struct topo_sect latency = { .kind = TOPO_SEC_LATENCY, .owner = t };

	for (int i = 0; i < t->nlatency; i++) {
		const struct topo_latency *l = &t->latency[i];

		if (!l->a || !l->b || !l->rule)
			continue; /* out of memory, reported as such */
		for (int k = 0; k < 2; k++) {
			const char *site = k ? l->b : l->a;

			if (!site_used(t, site) && (!k || strcmp(l->a, l->b)))
				topo_sect_msg(p, &latency, l->line, "%s:%s: no VM has site \"%s\" (set site = %s in "
					      "its [vm])", l->a, l->b, site, site);
		}
		for (int j = 0; j < i; j++)
			if (t->latency[j].a && t->latency[j].b && same_pair(l, &t->latency[j])) {
				topo_sect_msg(p, &latency, l->line, "%s:%s: duplicate pair (first at line %d)",
					      l->a, l->b, t->latency[j].line);
				break;
			}
	}
}

void topo_free_sites(struct topology *t)
{
	for (int i = 0; i < t->nvms; i++)
		free(t->vms[i].site);
	for (int i = 0; i < t->nlatency; i++) {
		free(t->latency[i].a);
		free(t->latency[i].b);
		free(t->latency[i].rule);
	}
	free(t->latency);
}

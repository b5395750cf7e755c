/* topology_sched.c - [schedule NAME] sections and `schedule =` in [fabric].
 *
 *   [schedule flap]
 *   +10s   = profile lossy
 *   +30s   = partition n100-1 | n100-2,n100-3
 *   +31.5s = partition n100-1 -> n100-2
 *   +60s   = heal
 *   +75s   = link jetson-1 down
 *   +80s   = link jetson-1/0 up
 *   repeat = yes
 *
 * Each "+TIME = ACTION" line is one step; its syntax is checked here, where
 * the line is known, and what it names (profiles, VMs, NICs) by
 * topo_sched_check() once the whole file is read.  Steps keep the action as
 * text for events and status, plus the one argument the supervisor needs.
 * Running them is launcher/schedule.c's.
 */
#include "launcher/topology_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A step further out than this is a typo (+100000s for +100s), not a plan. */
#define MAX_AT_MS (7ULL * 24 * 3600 * 1000)
#define STEP_USE "use profile NAME, partition A | B,C, partition A -> B, heal or link VM[/N] up|down"
#define TIME_USE "use +Ns, +N.Ns or +Nms"

int topo_sched_add(struct topo_parser *p, struct topology *o, const char *name)
{
	struct topo_schedule *sc = topo_grow(p, &o->schedules, &o->nschedules, sizeof(*sc));

	if (!sc)
		return -ENOMEM;
	sc->name = topo_strdup(p, name);
	sc->line = p->line;
	return p->nomem ? -ENOMEM : o->nschedules - 1;
}

void topo_sched_free(struct topology *t)
{
	for (int i = 0; i < t->nschedules; i++) {
		struct topo_schedule *sc = &t->schedules[i];

		for (int k = 0; k < sc->nsteps; k++) {
			free(sc->steps[k].action);
			free(sc->steps[k].arg);
		}
		free(sc->steps);
		free(sc->name);
	}
	free(t->schedules);
	t->schedules = NULL;
	t->nschedules = 0;
}

/* "10s", "1.5s", "250ms" into milliseconds; 0, or -EINVAL (syntax, finer than 1 ms) or -ERANGE. */
static int parse_time(const char *s, uint64_t *ms)
{
	size_t whole = strspn(s, "0123456789"), frac = 0;
	uint64_t n = 0, f = 0;
	const char *unit;

	if (!whole || whole > 9)
		return whole > 9 ? -ERANGE : -EINVAL;
	for (size_t i = 0; i < whole; i++)
		n = n * 10 + (uint64_t)(s[i] - '0');
	unit = s + whole;
	if (*unit == '.') {
		frac = strspn(unit + 1, "0123456789");
		if (!frac)
			return -EINVAL;
		/* at most milliseconds: 1.5s, 0.25s, 0.001s */
		for (size_t i = 0; i < frac; i++) {
			if (i >= 3 && unit[1 + i] != '0')
				return -EINVAL;
			if (i < 3)
				f = f * 10 + (uint64_t)(unit[1 + i] - '0');
		}
		for (size_t i = frac; i < 3; i++)
			f *= 10;
		unit += 1 + frac;
	}
	if (!strcmp(unit, "s"))
		*ms = n * 1000 + f;
	else if (!strcmp(unit, "ms") && !frac)
		*ms = n;
	else
		return -EINVAL;
	return *ms > MAX_AT_MS ? -ERANGE : 0;
}

/* Append "w" (len n) to buf if it fits; false when it does not. */
static bool append(char *buf, size_t size, const char *w, size_t n)
{
	size_t len = strlen(buf);

	if (len + n + 1 > size)
		return false;
	memcpy(buf + len, w, n);
	buf[len + n] = '\0';
	return true;
}

/* One side of a partition: VM names separated by commas, spaces around them
 * allowed, appended to out as "a,b,c".  NULL, or why it is bad. */
static const char *spec_list(const char *s, const char *end, char *out, size_t size)
{
	bool first = true;

	while (s <= end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *e = comma ? comma : end, *a = s, *b = e;
		char name[TOPO_VM_NAME_MAX + 2];

		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (a == b)
			return "an empty VM name (use A | B,C or A -> B)";
		if (memchr(a, ' ', (size_t)(b - a)) || memchr(a, '\t', (size_t)(b - a)))
			return "groups are separated by | and the VMs in a group by commas (A | B,C)";
		if ((size_t)(b - a) > TOPO_VM_NAME_MAX)
			return "a VM name longer than 12 characters";
		memcpy(name, a, (size_t)(b - a));
		name[b - a] = '\0';
		if (topo_check_name(name, TOPO_VM_NAME_MAX))
			return "a bad VM name " TOPO_NAME_RULE;
		if ((!first && !append(out, size, ",", 1)) || !append(out, size, a, (size_t)(b - a)))
			return "too long";
		first = false;
		if (!comma)
			break;
		s = comma + 1;
	}
	return NULL;
}

/* The partition text after "partition" in its normal form, "a | b,c" or
 * "a,b -> c" (the spec partition_apply_spec takes); NULL, or why not. */
static const char *parse_spec(const char *text, char *out, size_t size)
{
	const char *arrow = strstr(text, "->"), *end = text + strlen(text), *why, *s;
	int groups = 0;

	out[0] = '\0';
	if (arrow) {
		if (strstr(arrow + 2, "->") || strchr(text, '|'))
			return "one-way is A -> B, with one ->, and no |";
		if ((why = spec_list(text, arrow, out, size)) || !append(out, size, " -> ", 4) ||
		    (why = spec_list(arrow + 2, end, out, size)))
			return why ? why : "too long";
		return NULL;
	}
	for (s = text;; groups++) {
		const char *bar = strchr(s, '|'), *e = bar ? bar : end;

		if ((groups && !append(out, size, " | ", 3)) || (why = spec_list(s, e, out, size)))
			return why ? why : "too long";
		if (!bar)
			break;
		s = bar + 1;
	}
	return groups ? NULL : "two groups or more, A | B,C (or one way, A -> B)";
}

/* Fill st from ACTION; false after a message. */
static bool parse_action(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val,
			 struct topo_step *st)
{
	char words[4][64] = { "" }, spec[1024], action[1100];
	const char *why;
	int n = 0;

	for (const char *v = val; *v && n < 4;) {
		size_t len;

		v += strspn(v, " \t");
		if (!(len = strcspn(v, " \t")))
			break;
		snprintf(words[n++], sizeof(words[0]), "%.*s", (int)len, v);
		v += len;
	}
	if (!strcmp(words[0], "partition")) {
		const char *rest = val + strspn(val, " \t") + strlen("partition");

		if ((why = parse_spec(rest, spec, sizeof(spec)))) {
			topo_sect_msg(p, s, p->line, "%s: partition: %s", key, why);
			return false;
		}
		st->kind = TOPO_STEP_PARTITION;
		st->arg = topo_strdup(p, spec);
		snprintf(action, sizeof(action), "partition %s", spec);
	} else if (!strcmp(words[0], "profile") && n == 2) {
		int r = topo_check_name(words[1], TOPO_NAME_MAX);

		if (r) {
			topo_sect_msg(p, s, p->line, "%s: profile: bad name \"%s\" %s", key, words[1], TOPO_NAME_RULE);
			return false;
		}
		st->kind = TOPO_STEP_PROFILE;
		st->arg = topo_strdup(p, words[1]);
		snprintf(action, sizeof(action), "profile %s", words[1]);
	} else if (!strcmp(words[0], "heal") && n == 1) {
		st->kind = TOPO_STEP_HEAL;
		snprintf(action, sizeof(action), "heal");
	} else if (!strcmp(words[0], "link") && n == 3 &&
		   (!strcmp(words[2], "up") || !strcmp(words[2], "down"))) {
		char vm[TOPO_VM_NAME_MAX + 1];
		int nic;

		if (topo_parse_key(words[1], vm, &nic) || !vm[0] || topo_check_name(vm, TOPO_VM_NAME_MAX)) {
			topo_sect_msg(p, s, p->line, "%s: link: bad VM \"%s\" (use VM or VM/N)", key, words[1]);
			return false;
		}
		st->kind = TOPO_STEP_LINK;
		st->up = !strcmp(words[2], "up");
		st->arg = topo_strdup(p, words[1]);
		snprintf(action, sizeof(action), "link %s %s", words[1], words[2]);
	} else {
		topo_sect_msg(p, s, p->line, "%s: bad step \"%s\" (%s)", key, val, STEP_USE);
		return false;
	}
	st->action = topo_strdup(p, action);
	return true;
}

static void repeat_key(struct topo_parser *p, struct topo_sect *s, struct topo_schedule *sc, const char *val)
{
	static const char *const yes[] = { "yes", "on", "true" }, *const no[] = { "no", "off", "false" };
	uint64_t ms;

	for (int i = 0; i < 3; i++) {
		if (!strcmp(val, yes[i]) || !strcmp(val, no[i])) {
			sc->repeat = !strcmp(val, yes[i]);
			sc->period_ms = 0; /* the last step's time, once all are known */
			return;
		}
	}
	if (parse_time(val + (val[0] == '+'), &ms) < 0 || !ms) {
		topo_sect_msg(p, s, p->line, "repeat: bad value \"%s\" (use yes, no or a period: 90s, 1.5s, 500ms)",
			      val);
		return;
	}
	sc->repeat = true;
	sc->period_ms = ms;
}

void topo_sched_key(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val)
{
	struct topo_schedule *sc = &s->owner->schedules[s->idx];
	struct topo_step st = { .line = p->line }, *slot;
	int r;

	if (!strcmp(key, "repeat")) {
		repeat_key(p, s, sc, val);
		return;
	}
	if (key[0] != '+') {
		topo_sect_msg(p, s, p->line, "unknown key \"%s\" (a step is +TIME = ACTION, e.g. +10s = heal; "
			      "or repeat = yes)", key);
		return;
	}
	if ((r = parse_time(key + 1, &st.at_ms)) < 0) {
		if (r == -ERANGE)
			topo_sect_msg(p, s, p->line, "step time \"%s\" is more than 7 days from the start", key);
		else
			topo_sect_msg(p, s, p->line, "bad step time \"%s\" (%s; at most milliseconds)", key, TIME_USE);
		return;
	}
	if (!parse_action(p, s, key, val, &st)) {
		free(st.arg);
		return;
	}
	if (!(slot = topo_grow(p, &sc->steps, &sc->nsteps, sizeof(*slot)))) {
		free(st.arg);
		free(st.action);
		return;
	}
	*slot = st;
}

/* Steps by time; steps at one time in file order (by line), so the sort
 * needs no stability of its own. */
static int by_time(const void *a, const void *b)
{
	const struct topo_step *x = a, *y = b;

	if (x->at_ms != y->at_ms)
		return x->at_ms < y->at_ms ? -1 : 1;
	return (x->line > y->line) - (x->line < y->line);
}

static void check_vm_name(struct topo_parser *p, const struct topo_sect *s, const struct topo_step *st,
			  const char *name, int nic)
{
	const struct topo_vm *vm = topo_find_vm(p->t, name);

	if (!vm)
		topo_sect_msg(p, s, st->line, "%s: no vm \"%s\"", st->action, name);
	else if (st->kind == TOPO_STEP_LINK && !vm->nnics)
		topo_sect_msg(p, s, st->line, "%s: vm %s has no NIC (no cable to pull)", st->action, name);
	else if (nic >= vm->nnics)
		topo_sect_msg(p, s, st->line, "%s: vm %s has no NIC %d (it has %d)", st->action, name, nic,
			      vm->nnics);
}

static void check_step(struct topo_parser *p, const struct topo_sect *s, const struct topo_step *st)
{
	char vm[TOPO_VM_NAME_MAX + 1], seen[64][TOPO_VM_NAME_MAX + 1];
	int nic, nseen = 0;

	switch (st->kind) {
	case TOPO_STEP_PROFILE:
		if (strcmp(st->arg, "default") && !topo_find_profile(p->t, st->arg))
			topo_sect_msg(p, s, st->line, "%s: no profile \"%s\" (define [profile %s] or use default)",
				      st->action, st->arg, st->arg);
		break;
	case TOPO_STEP_LINK:
		if (!topo_parse_key(st->arg, vm, &nic))
			check_vm_name(p, s, st, vm, nic);
		break;
	case TOPO_STEP_PARTITION:
		/* The normal form: names between ' ', ',', "|" and "->". */
		for (const char *w = st->arg; *w;) {
			size_t len = strcspn(w, " ,");

			if (len && len <= TOPO_VM_NAME_MAX && strncmp(w, "|", len) && strncmp(w, "->", len)) {
				snprintf(vm, sizeof(vm), "%.*s", (int)len, w);
				for (int i = 0; i < nseen; i++)
					if (!strcmp(seen[i], vm)) {
						topo_sect_msg(p, s, st->line, "%s: vm %s is named twice", st->action, vm);
						return;
					}
				if (nseen < 64)
					snprintf(seen[nseen++], sizeof(seen[0]), "%s", vm);
				check_vm_name(p, s, st, vm, -1);
			}
			w += len;
			w += strspn(w, " ,");
		}
		break;
	case TOPO_STEP_HEAL:
		break;
	}
}

void topo_sched_check(struct topo_parser *p)
{
	struct topology *t = p->t;
	struct topo_sect fabric = { .kind = TOPO_SEC_FABRIC, .owner = t };

	if (t->fabric.schedule && !topo_find_schedule(t, t->fabric.schedule))
		topo_sect_msg(p, &fabric, topo_key_line(p, TOPO_SEC_FABRIC, 0, "schedule"),
			      "schedule: no schedule \"%s\" (define [schedule %s])", t->fabric.schedule,
			      t->fabric.schedule);
	for (int i = 0; i < t->nschedules; i++) {
		struct topo_schedule *sc = &t->schedules[i];
		struct topo_sect s = { .kind = TOPO_SEC_SCHEDULE, .owner = t, .idx = i };
		uint64_t last;

		if (!sc->nsteps) {
			topo_sect_msg(p, &s, sc->line, "no steps (add +TIME = ACTION lines, e.g. +10s = heal)");
			continue;
		}
		qsort(sc->steps, sc->nsteps, sizeof(*sc->steps), by_time);
		for (int k = 0; k < sc->nsteps; k++)
			check_step(p, &s, &sc->steps[k]);
		last = sc->steps[sc->nsteps - 1].at_ms;
		if (!sc->repeat)
			continue;
		if (!sc->period_ms && !last)
			topo_sect_msg(p, &s, topo_key_line(p, TOPO_SEC_SCHEDULE, i, "repeat"),
				      "repeat: every step is at +0s: give the period (repeat = 30s)");
		else if (!sc->period_ms)
			sc->period_ms = last;
		else if (sc->period_ms < last)
			topo_sect_msg(p, &s, topo_key_line(p, TOPO_SEC_SCHEDULE, i, "repeat"),
				      "repeat: the period (%llu ms) is shorter than the last step (+%llu ms)",
				      (unsigned long long)sc->period_ms, (unsigned long long)last);
	}
}

/* topology.c - topology.conf: inih reads the INI syntax, this file gives it meaning.
 *
 * Debian's libinih (r55) is built with its options as run-time globals (see
 * /usr/include/ini.h), not the compile-time defaults its README describes.
 * topo_load() sets the ones it relies on and puts them back afterwards:
 * inline comments start with ';' or '#' after a space, an indented line is a
 * line of its own (not a continuation of the previous value), and lines may be
 * long (a kernel command line easily passes inih's 200).
 *
 * The handler gets no line number and is not called for section headers, so
 * inih reads through our own line reader: it counts lines and opens sections
 * itself, and reports the syntax errors inih would only count.  Checks that
 * need the whole file (NIC networks, uniqueness, profiles) run after parsing,
 * in topology_check.c; every message is collected, sorted by line and printed
 * at the end, so one pass reports everything.
 */
#include "launcher/topology_impl.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* inih's line buffer (a VLA on its stack): the longest line plus "\r\n\0". */
#define INI_LINE 4096

static const char *const section_kinds[] = {
	[TOPO_SEC_FABRIC] = "fabric", [TOPO_SEC_NETWORK] = "network",
	[TOPO_SEC_VM] = "vm", [TOPO_SEC_PROFILE] = "profile", [TOPO_SEC_SCHEDULE] = "schedule",
	[TOPO_SEC_LATENCY] = "latency",
};

/* The pointer is copied with memcpy so that one helper serves every element
 * type without breaking aliasing rules. */
void *topo_grow(struct topo_parser *p, void *arrp, int *n, size_t sz)
{
	char *old, *a;

	memcpy(&old, arrp, sizeof(old));
	if (!(a = reallocarray(old, *n + 1, sz))) {
		p->nomem = true;
		return NULL;
	}
	memcpy(arrp, &a, sizeof(a));
	memset(a + *n * sz, 0, sz);
	return a + (*n)++ * sz;
}

void topo_msg(struct topo_parser *p, int line, const char *fmt, ...)
{
	struct topo_error *m;
	va_list ap;
	char *text;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0) {
		p->nomem = true;
		return;
	}
	if (!(m = topo_grow(p, &p->msgs, &p->nmsgs, sizeof(*m)))) {
		free(text);
		return;
	}
	*m = (struct topo_error){ .line = line, .seq = p->nmsgs, .text = text };
}

/* "vm n100-1: " in front of a message about that section. */
void topo_sect_msg(struct topo_parser *p, const struct topo_sect *s, int line, const char *fmt, ...)
{
	const char *name = topo_sect_name(s);
	va_list ap;
	char *body;

	va_start(ap, fmt);
	if (vasprintf(&body, fmt, ap) < 0) {
		va_end(ap);
		p->nomem = true;
		return;
	}
	va_end(ap);
	if (name)
		topo_msg(p, line, "%s %s: %s", section_kinds[s->kind], name, body);
	else
		topo_msg(p, line, "%s: %s", section_kinds[s->kind], body);
	free(body);
}

const char *topo_sect_name(const struct topo_sect *s)
{
	switch (s->kind) {
	case TOPO_SEC_NETWORK: return s->owner->networks[s->idx].name;
	case TOPO_SEC_VM: return s->owner->vms[s->idx].name;
	case TOPO_SEC_PROFILE: return s->owner->profiles[s->idx].name;
	case TOPO_SEC_SCHEDULE: return s->owner->schedules[s->idx].name;
	default: return NULL;
	}
}

char *topo_strdup(struct topo_parser *p, const char *s)
{
	char *d = strdup(s);

	if (!d)
		p->nomem = true;
	return d;
}

/* The line of KEY in the section that holds element idx of kind, else the
 * section's own line: messages about a value checked after parsing point at
 * the key that set it. */
int topo_key_line(const struct topo_parser *p, enum topo_sect_kind kind, int idx, const char *key)
{
	for (int i = 0; i < p->nsects; i++) {
		const struct topo_sect *s = &p->sects[i];

		if (s->kind != kind || s->owner != p->t || s->idx != idx)
			continue;
		for (int k = 0; k < s->nkeys; k++)
			if (!strcmp(s->keys[k].key, key))
				return s->keys[k].line;
		return s->line;
	}
	return 0;
}

/* Append a new element with its defaults to the owner's array for kind. */
static int add_element(struct topo_parser *p, struct topology *o, enum topo_sect_kind kind, const char *name)
{
	struct topo_network *n;
	struct topo_profile *pr;
	struct topo_vm *vm;

	switch (kind) {
	case TOPO_SEC_NETWORK:
		if (!(n = topo_grow(p, &o->networks, &o->nnetworks, sizeof(*n))))
			return -ENOMEM;
		n->name = topo_strdup(p, name);
		n->line = p->line;
		return p->nomem ? -ENOMEM : o->nnetworks - 1;
	case TOPO_SEC_VM:
		if (!(vm = topo_grow(p, &o->vms, &o->nvms, sizeof(*vm))))
			return -ENOMEM;
		vm->name = topo_strdup(p, name);
		vm->role = topo_strdup(p, "");
		vm->memory_mib = 1024;
		vm->vcpus = 1;
		vm->autostart = true;
		vm->stop_timeout_s = 30;
		vm->line = p->line;
		return p->nomem ? -ENOMEM : o->nvms - 1;
	case TOPO_SEC_PROFILE:
		if (!(pr = topo_grow(p, &o->profiles, &o->nprofiles, sizeof(*pr))))
			return -ENOMEM;
		pr->name = topo_strdup(p, name);
		pr->line = p->line;
		return p->nomem ? -ENOMEM : o->nprofiles - 1;
	case TOPO_SEC_SCHEDULE:
		return topo_sched_add(p, o, name);
	default:
		return 0;
	}
}

/* The line of the section that already defines name, or 0. */
static int first_line(const struct topology *t, enum topo_sect_kind kind, const char *name)
{
	const struct topo_network *n;
	const struct topo_profile *pr;
	const struct topo_schedule *sc;
	const struct topo_vm *vm;

	switch (kind) {
	case TOPO_SEC_NETWORK: return (n = topo_find_network(t, name)) ? n->line : 0;
	case TOPO_SEC_VM: return (vm = topo_find_vm(t, name)) ? vm->line : 0;
	case TOPO_SEC_PROFILE: return (pr = topo_find_profile(t, name)) ? pr->line : 0;
	case TOPO_SEC_SCHEDULE: return (sc = topo_find_schedule(t, name)) ? sc->line : 0;
	default: return 0;
	}
}

/* A section that is itself in error (bad or duplicate name) is still parsed,
 * into p->junk, so the problems in its keys are reported too; it is dropped
 * at the end and takes no part in the checks across sections. */
static void open_section(struct topo_parser *p, char *text)
{
	struct topo_sect *s = topo_grow(p, &p->sects, &p->nsects, sizeof(*s));
	char *name = text ? text + strcspn(text, " \t") : NULL;
	struct topology *owner = p->t;
	int first, max, r;

	if (!s)
		return;
	p->cur = p->nsects - 1;
	s->line = p->line;
	s->kind = TOPO_SEC_IGNORE;
	if (!text)
		return; /* a malformed header: its keys belong to no section */
	if (*name) {
		*name++ = '\0';
		name += strspn(name, " \t");
	}
	for (int k = TOPO_SEC_FABRIC; k <= TOPO_SEC_LATENCY; k++)
		if (!strcmp(text, section_kinds[k]))
			s->kind = k;
	if (s->kind == TOPO_SEC_IGNORE) {
		topo_msg(p, p->line, "unknown section [%s%s%s] (use fabric, network, vm, profile, schedule or latency)",
			 text, *name ? " " : "", name);
		return;
	}
	if (s->kind == TOPO_SEC_LATENCY) {
		/* Several [latency] sections add up; their pairs are checked
		 * across all of them (topo_check_sites). */
		if (*name)
			topo_msg(p, p->line, "[latency] takes no name");
		s->owner = owner;
		return;
	}
	if (s->kind == TOPO_SEC_FABRIC) {
		if (*name)
			topo_msg(p, p->line, "[fabric] takes no name");
		if ((first = p->t->fabric.line)) {
			topo_msg(p, p->line, "duplicate section [fabric] (first at line %d)", first);
			owner = p->junk;
		}
		owner->fabric.line = p->line;
		s->owner = owner;
		return;
	}
	if (!*name) {
		topo_msg(p, p->line, "[%s] needs a name: [%s NAME]", text, text);
		s->kind = TOPO_SEC_IGNORE;
		return;
	}
	max = s->kind == TOPO_SEC_VM ? TOPO_VM_NAME_MAX :
	      s->kind == TOPO_SEC_NETWORK ? TOPO_IFNAME_MAX : TOPO_NAME_MAX;
	r = topo_check_name(name, max);
	if (r == -EINVAL) {
		topo_msg(p, p->line, "bad %s name \"%s\" %s", text, name, TOPO_NAME_RULE);
		owner = p->junk;
	} else if (r == -ENAMETOOLONG) {
		topo_msg(p, p->line, "%s name \"%s\" is longer than %d characters%s", text, name, max,
			 s->kind == TOPO_SEC_VM ? " (its tap names NAME-nN must fit IFNAMSIZ)" : "");
		owner = p->junk;
	} else if ((first = first_line(p->t, s->kind, name))) {
		topo_msg(p, p->line, "duplicate %s \"%s\" (first at line %d)", text, name, first);
		owner = p->junk;
	} else if (s->kind == TOPO_SEC_PROFILE && !strcmp(name, "default")) {
		topo_msg(p, p->line, "profile \"default\" is built in (it clears every rule)");
		owner = p->junk;
	}
	s->owner = owner;
	s->idx = add_element(p, owner, s->kind, name);
	if (s->idx < 0)
		s->kind = TOPO_SEC_IGNORE;
}

/* inih's find_chars_or_comment(): the first of chars, or an inline comment
 * prefix that follows whitespace, or the end of the string. */
static char *find_end(char *s, const char *chars)
{
	bool was_space = false;

	while (*s && !strchr(chars, *s) && !(was_space && strchr(";#", *s))) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* Classify one line as inih will see it; open sections, report syntax errors. */
static void classify(struct topo_parser *p, char *line)
{
	char *s = line, *end;

	if (p->line == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (!*s || strchr(";#", *s))
		return;
	if (*s == '[') {
		end = find_end(s + 1, "]");
		if (*end != ']') {
			topo_msg(p, p->line, "section header without closing ']'");
			open_section(p, NULL);
			return;
		}
		for (*end++ = '\0'; isspace((unsigned char)*end); end++)
			;
		if (*end && !strchr(";#", *end))
			topo_msg(p, p->line, "text after section header: \"%s\"", end);
		for (s++; isspace((unsigned char)*s); s++)
			;
		for (char *e = s + strlen(s); e > s && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		open_section(p, s);
		return;
	}
	end = find_end(s, "=:");
	if (*end != '=' && *end != ':')
		topo_msg(p, p->line, "expected \"KEY = VALUE\" or \"[SECTION]\"");
	else if (end == s)
		topo_msg(p, p->line, "missing key before '%c'", *end);
}

/* The ini_reader: one call, one line, so p->line is inih's line number. */
static char *read_line(char *str, int num, void *stream)
{
	struct topo_parser *p = stream;
	size_t len;
	ssize_t n;

	errno = 0;
	n = getline(&p->buf, &p->bufsz, p->f);
	if (n < 0) {
		if (ferror(p->f))
			p->read_errno = errno ? errno : EIO;
		return NULL;
	}
	p->line++;
	len = n - (n && p->buf[n - 1] == '\n') - (n > 1 && p->buf[n - 1] == '\n' && p->buf[n - 2] == '\r');
	if (len > (size_t)num - 3 || memchr(p->buf, '\0', n)) {
		/* Hand inih an empty line rather than let it split this one. */
		if (len > (size_t)num - 3)
			topo_msg(p, p->line, "line too long (more than %d characters)", num - 3);
		else
			topo_msg(p, p->line, "NUL byte in line");
		str[0] = '\0';
		return str;
	}
	memcpy(str, p->buf, n + 1);
	classify(p, p->buf);
	return str;
}

static int on_key(void *user, const char *section, const char *key, const char *val)
{
	struct topo_parser *p = user;
	struct topo_sect *s;
	struct topo_keyline *seen;

	(void)section; /* ours is p->cur: inih keeps only 50 bytes of it */
	if (!*key)
		return 1; /* reported by classify() */
	if (p->cur < 0) {
		topo_msg(p, p->line, "%s: key outside any section", key);
		return 1;
	}
	s = &p->sects[p->cur];
	if (s->kind == TOPO_SEC_IGNORE)
		return 1;
	/* nic may repeat, and so may a schedule's step time (steps at one
	 * time run in file order); a [latency] key is only the first site of
	 * a pair. */
	if (!(s->kind == TOPO_SEC_VM && !strcmp(key, "nic")) && !(s->kind == TOPO_SEC_SCHEDULE && key[0] == '+') &&
	    s->kind != TOPO_SEC_LATENCY) {
		for (int k = 0; k < s->nkeys; k++) {
			if (!strcmp(s->keys[k].key, key)) {
				topo_sect_msg(p, s, p->line, "duplicate key \"%s\" (first at line %d)",
					key, s->keys[k].line);
				return 1;
			}
		}
	}
	if (!(seen = topo_grow(p, &s->keys, &s->nkeys, sizeof(*seen))))
		return 1;
	seen->key = topo_strdup(p, key);
	seen->line = p->line;
	if (!seen->key)
		return 1;
	if (!*val) {
		topo_sect_msg(p, s, p->line, "%s: missing value", key);
		return 1;
	}
	if (!topo_set_key(p, s, key, val))
		topo_sect_msg(p, s, p->line, "unknown key \"%s\"", key);
	return 1;
}

static int by_line(const void *a, const void *b)
{
	const struct topo_error *x = a, *y = b;

	return x->line != y->line ? (x->line > y->line) - (x->line < y->line) : x->seq - y->seq;
}

static void free_parser(struct topo_parser *p)
{
	for (int i = 0; i < p->nsects; i++) {
		for (int k = 0; k < p->sects[i].nkeys; k++)
			free(p->sects[i].keys[k].key);
		free(p->sects[i].keys);
	}
	free(p->sects);
	for (int i = 0; i < p->nmsgs; i++)
		free(p->msgs[i].text);
	free(p->msgs);
	free(p->buf);
	topo_free(p->junk);
}

static struct topology *new_topology(const char *path)
{
	struct topology *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->path = strdup(path);
	t->fabric.name = strdup("n3x");
	t->fabric.profile = strdup("default");
	if (!t->path || !t->fabric.name || !t->fabric.profile) {
		topo_free(t);
		return NULL;
	}
	return t;
}

/* The absolute directory of path, without resolving the file itself. */
static char *file_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *abs;

	if (!slash)
		return realpath(".", NULL);
	dir = slash == path ? strdup("/") : strndup(path, slash - path);
	if (!dir)
		return NULL;
	abs = realpath(dir, NULL);
	free(dir);
	return abs;
}

/* inih's options are process-wide globals: set ours for one parse, then put
 * back whatever was there (so topo_load is not thread-safe). */
struct ini_opts {
	bool multiline, inline_comments, stop_on_first_error, no_value, bom, use_stack;
	char *inline_prefixes, *start_prefixes;
	int max_line;
};

static struct ini_opts swap_ini_opts(struct ini_opts o)
{
	struct ini_opts old = {
		.multiline = ini_allow_multiline, .inline_comments = ini_allow_inline_comments,
		.stop_on_first_error = ini_stop_on_first_error, .no_value = ini_allow_no_value,
		.bom = ini_allow_bom, .use_stack = ini_use_stack,
		.inline_prefixes = ini_inline_comment_prefixes,
		.start_prefixes = ini_start_comment_prefixes, .max_line = ini_max_line,
	};

	ini_allow_multiline = o.multiline;
	ini_allow_inline_comments = o.inline_comments;
	ini_stop_on_first_error = o.stop_on_first_error;
	ini_allow_no_value = o.no_value;
	ini_allow_bom = o.bom;
	ini_use_stack = o.use_stack;
	ini_inline_comment_prefixes = o.inline_prefixes;
	ini_start_comment_prefixes = o.start_prefixes;
	ini_max_line = o.max_line;
	return old;
}

static int parse(struct topo_parser *p)
{
	static char comment_chars[] = ";#";
	struct ini_opts saved = swap_ini_opts((struct ini_opts){
		.multiline = false, .inline_comments = true, .stop_on_first_error = false,
		.no_value = false, .bom = true, .use_stack = true,
		.inline_prefixes = comment_chars, .start_prefixes = comment_chars, .max_line = INI_LINE,
	});
	int r = ini_parse_stream(read_line, p, on_key, p);

	swap_ini_opts(saved);
	if (r == -2)
		return -ENOMEM;
	if (r > 0) {
		/* classify() mirrors inih's syntax rules; should they ever differ,
		 * still say where inih stopped rather than pass silently. */
		bool known = false;

		for (int i = 0; i < p->nmsgs; i++)
			known |= p->msgs[i].line == r;
		if (!known)
			topo_msg(p, r, "syntax error");
	}
	return 0;
}

int topo_load(const char *path, FILE *err, struct topology **out)
{
	struct topo_parser p = { .cur = -1 };
	int r = 0;

	*out = NULL;
	if (!err)
		err = stderr;
	p.f = fopen(path, "re");
	if (!p.f) {
		r = -errno;
		fprintf(err, "%s: %s\n", path, strerror(-r));
		return r;
	}
	p.t = new_topology(path);
	p.junk = new_topology(path);
	if (!p.t || !p.junk)
		r = -ENOMEM;
	else if (!(p.t->dir = file_dir(path)))
		r = -errno;
	else
		r = parse(&p);
	fclose(p.f);
	if (!r && p.read_errno)
		r = -p.read_errno;
	if (!r && !p.nomem)
		topo_check(&p);
	if (!r && p.nomem)
		r = -ENOMEM;
	if (r) {
		fprintf(err, "%s: %s\n", path, strerror(-r));
	} else if (p.nmsgs) {
		qsort(p.msgs, p.nmsgs, sizeof(*p.msgs), by_line);
		for (int i = 0; i < p.nmsgs; i++)
			fprintf(err, "%s:%d: %s\n", path, p.msgs[i].line, p.msgs[i].text);
		r = -EINVAL;
	}
	free_parser(&p);
	if (r)
		topo_free(p.t);
	else
		*out = p.t;
	return r;
}

static void free_vm(struct topo_vm *vm)
{
	free(vm->name);
	free(vm->role);
	free(vm->disk);
	free(vm->kernel);
	free(vm->initrd);
	free(vm->append);
	free(vm->ready_arg);
	for (int i = 0; i < vm->nnics; i++)
		free(vm->nics[i].network);
	free(vm->nics);
}

void topo_free(struct topology *t)
{
	if (!t)
		return;
	free(t->path);
	free(t->dir);
	free(t->fabric.name);
	free(t->fabric.profile);
	free(t->fabric.schedule);
	for (int i = 0; i < t->nnetworks; i++) {
		struct topo_network *n = &t->networks[i];

		free(n->name);
		free(n->bridge);
		free(n->host_interface);
		free(n->dhcp_lease);
		free(n->domain);
	}
	free(t->networks);
	topo_free_sites(t); /* before the VMs, whose sites it frees */
	for (int i = 0; i < t->nvms; i++)
		free_vm(&t->vms[i]);
	free(t->vms);
	for (int i = 0; i < t->nprofiles; i++) {
		for (int k = 0; k < t->profiles[i].nrules; k++) {
			free(t->profiles[i].rules[k].key);
			free(t->profiles[i].rules[k].rule);
		}
		free(t->profiles[i].rules);
		free(t->profiles[i].name);
	}
	free(t->profiles);
	topo_sched_free(t);
	free(t);
}

struct topo_vm *topo_find_vm(const struct topology *t, const char *name)
{
	for (int i = 0; t && i < t->nvms; i++)
		if (t->vms[i].name && !strcmp(t->vms[i].name, name))
			return &t->vms[i];
	return NULL;
}

struct topo_network *topo_find_network(const struct topology *t, const char *name)
{
	for (int i = 0; t && i < t->nnetworks; i++)
		if (t->networks[i].name && !strcmp(t->networks[i].name, name))
			return &t->networks[i];
	return NULL;
}

struct topo_profile *topo_find_profile(const struct topology *t, const char *name)
{
	for (int i = 0; t && i < t->nprofiles; i++)
		if (t->profiles[i].name && !strcmp(t->profiles[i].name, name))
			return &t->profiles[i];
	return NULL;
}

struct topo_schedule *topo_find_schedule(const struct topology *t, const char *name)
{
	for (int i = 0; t && i < t->nschedules; i++)
		if (t->schedules[i].name && !strcmp(t->schedules[i].name, name))
			return &t->schedules[i];
	return NULL;
}

int topo_parse_key(const char *key, char vm[TOPO_VM_NAME_MAX + 1], int *nic)
{
	size_t len = strcspn(key, "/"), digits;

	vm[0] = '\0';
	*nic = -1;
	if (!strcmp(key, "*"))
		return 0;
	if (!len || len > TOPO_VM_NAME_MAX)
		return -EINVAL;
	memcpy(vm, key, len);
	vm[len] = '\0';
	if (!key[len])
		return 0;
	digits = strspn(key + len + 1, "0123456789");
	if (!digits || digits > 3 || key[len + 1 + digits])
		return -EINVAL;
	*nic = atoi(key + len + 1);
	return 0;
}

bool topo_selected(const char *only, const char *name)
{
	size_t n = strlen(name);

	if (!only)
		return true;
	for (const char *p = only; *p;) {
		const char *e = strchrnul(p, ',');

		if ((size_t)(e - p) == n && strncmp(p, name, n) == 0)
			return true;
		p = *e ? e + 1 : e;
	}
	return false;
}

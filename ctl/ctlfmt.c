/* ctlfmt.c - n3x-ctl's tables. */
#include "ctl/ctlfmt.h"
#include "ctl/partcmds.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define COL_GAP 2

/* A table of strings sized at the end: column widths are only known once
 * every row is in. */
struct table {
	int ncols, nrows, cap;
	char **cells;
};

static int table_add(struct table *t, const char *const *row)
{
	if (t->nrows == t->cap) {
		int cap = t->cap ? t->cap * 2 : 16;
		char **p = realloc(t->cells, sizeof(*p) * cap * t->ncols);

		if (!p)
			return -ENOMEM;
		t->cells = p;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++) {
		char *s = strdup(row[i] ? row[i] : "-");

		if (!s) {
			while (i--)
				free(t->cells[t->nrows * t->ncols + i]);
			return -ENOMEM;
		}
		t->cells[t->nrows * t->ncols + i] = s;
	}
	t->nrows++;
	return 0;
}

static void table_print(FILE *out, struct table *t)
{
	size_t width[16] = { 0 };

	for (int r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++) {
			size_t n = strlen(t->cells[r * t->ncols + i]);

			if (n > width[i])
				width[i] = n;
		}
	for (int r = 0; r < t->nrows; r++) {
		for (int i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];

			/* No trailing blanks: the last column is not padded. */
			if (i == t->ncols - 1)
				fprintf(out, "%s\n", s);
			else
				fprintf(out, "%-*s", (int)(width[i] + COL_GAP), s);
		}
	}
}

static void table_free(struct table *t)
{
	for (int i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

char *ctlfmt_uptime(double s, char *buf, size_t size)
{
	long n = (long)s;

	if (s < 0)
		snprintf(buf, size, "-");
	else if (n < 60)
		snprintf(buf, size, "%lds", n);
	else if (n < 3600)
		snprintf(buf, size, "%ldm%02lds", n / 60, n % 60);
	else if (n < 86400)
		snprintf(buf, size, "%ldh%02ldm", n / 3600, n % 3600 / 60);
	else
		snprintf(buf, size, "%ldd%02ldh", n / 86400, n % 86400 / 3600);
	return buf;
}

/* A field as text: strings as they are, integers in decimal, null/absent/""
 * as NULL (printed "-"). */
static const char *field(const json_t *o, const char *key, char *buf, size_t size)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		return json_string_length(v) ? json_string_value(v) : NULL;
	if (json_is_integer(v)) {
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_true(v))
		return "yes";
	if (json_is_false(v))
		return "no";
	return NULL;
}

static void print_fabric(FILE *out, const json_t *f)
{
	char pid[24];
	const char *s;

	if (!json_is_object(f))
		return;
	fprintf(out, "fabric %s", (s = field(f, "name", NULL, 0)) ? s : "-");
	if ((s = field(f, "profile", NULL, 0)))
		fprintf(out, "  profile %s", s);
	if (json_is_object(json_object_get(f, "partition"))) {
		fputs("  partition ", out);
		ctl_partition_line(out, json_object_get(f, "partition"));
	}
	if ((s = field(f, "netns", NULL, 0)))
		fprintf(out, "  netns %s", s);
	if ((s = field(f, "pid", pid, sizeof(pid))))
		fprintf(out, "  supervisor pid %s", s);
	fprintf(out, "\n\n");
}

/* The STATE cell: the state, and in parentheses what makes it unusual
 * (a QEMU taken over from an earlier supervisor, a monitor being
 * reconnected), where the user reads the state anyway. */
static const char *state_cell(const json_t *vm, char *buf, size_t size)
{
	const char *st = field(vm, "state", NULL, 0);
	const char *mon = json_string_value(json_object_get(vm, "monitor"));
	bool lost = mon && strcmp(mon, "lost") == 0, adopted = json_is_true(json_object_get(vm, "adopted"));

	if (!st || (!lost && !adopted))
		return st;
	snprintf(buf, size, "%s (%s%s%s)", st, adopted ? "adopted" : "", adopted && lost ? ", " : "",
		 lost ? "monitor lost" : "");
	return buf;
}

static int vm_table(const json_t *vms, struct table *t)
{
	static const char *const head[] = {
		"NAME", "STATE", "ARCH", "ACCEL", "PID", "UPTIME", "AGENT", "READY", "ROLE",
	};
	size_t i;
	json_t *vm;
	int r = table_add(t, head);

	json_array_foreach(vms, i, vm) {
		char pid[24], up[24], state[80];
		const json_t *u = json_object_get(vm, "uptime_s");
		const char *pidtxt = field(vm, "pid", pid, sizeof(pid));
		const char *row[] = {
			field(vm, "name", NULL, 0), state_cell(vm, state, sizeof(state)),
			field(vm, "arch", NULL, 0), field(vm, "accel", NULL, 0), pidtxt,
			/* Uptime belongs to a QEMU: none without a pid. */
			pidtxt && json_is_number(u) ? ctlfmt_uptime(json_number_value(u), up, sizeof(up)) : NULL,
			field(vm, "agent", NULL, 0), field(vm, "ready", NULL, 0), field(vm, "role", NULL, 0),
		};

		if (r == 0)
			r = table_add(t, row);
	}
	return r;
}

/* The NIC column: its index, and "(down)" when its cable is pulled, where
 * the user looks for the NIC anyway. */
static const char *nic_index(const json_t *nic, char *buf, size_t size)
{
	const json_t *idx = json_object_get(nic, "index");
	const char *link = json_string_value(json_object_get(nic, "link"));

	if (!json_is_integer(idx))
		return NULL;
	snprintf(buf, size, "%lld%s", (long long)json_integer_value(idx),
		 link && strcmp(link, "down") == 0 ? " (down)" : "");
	return buf;
}

static int nic_table(const json_t *vms, struct table *t)
{
	static const char *const head[] = { "VM", "NIC", "NETWORK", "TAP", "MAC", "IP", "LEASE" };
	size_t i, j;
	json_t *vm, *nic;
	int r = table_add(t, head);

	json_array_foreach(vms, i, vm) {
		json_array_foreach(json_object_get(vm, "nics"), j, nic) {
			char idx[40];
			const char *row[] = {
				field(vm, "name", NULL, 0), nic_index(nic, idx, sizeof(idx)),
				field(nic, "network", NULL, 0), field(nic, "tap", NULL, 0),
				field(nic, "mac", NULL, 0), field(nic, "ip", NULL, 0),
				field(nic, "lease", NULL, 0),
			};

			if (r == 0)
				r = table_add(t, row);
		}
	}
	return r;
}

int ctlfmt_status(FILE *out, const json_t *status)
{
	const json_t *vms = json_object_get(status, "vms");
	struct table vt = { .ncols = 9 }, nt = { .ncols = 7 };
	size_t i;
	json_t *vm;
	int r;

	if (!json_is_array(vms))
		return -EINVAL;
	print_fabric(out, json_object_get(status, "fabric"));
	if (json_array_size(vms) == 0) {
		fprintf(out, "no VMs\n");
		return 0;
	}
	r = vm_table(vms, &vt);
	if (r == 0)
		r = nic_table(vms, &nt);
	if (r == 0) {
		table_print(out, &vt);
		/* Notes under the table: why a guest runs under TCG (the slow
		 * path), and what last went wrong, rather than leave the user
		 * guessing. */
		bool first = true;

		json_array_foreach(vms, i, vm) {
			const char *why = field(vm, "accel_reason", NULL, 0);
			const char *accel = field(vm, "accel", NULL, 0);
			const char *err = field(vm, "last_error", NULL, 0);
			const char *name = field(vm, "name", NULL, 0);
			const char *stale = json_string_value(json_object_get(vm, "stale"));

			if (why && accel && strcmp(accel, "tcg") == 0) {
				fprintf(out, "%s%s: tcg (%s)\n", first ? "\n" : "", name ? name : "-", why);
				first = false;
			}
			if (err) {
				fprintf(out, "%s%s: last error: %s\n", first ? "\n" : "", name ? name : "-", err);
				first = false;
			}
			if (json_is_object(json_object_get(vm, "io_error"))) {
				const json_t *io = json_object_get(vm, "io_error");
				const char *dev = field(io, "device", NULL, 0), *op = field(io, "operation", NULL, 0);
				const char *reason = field(io, "reason", NULL, 0), *act = field(io, "action", NULL, 0);

				fprintf(out, "%s%s: I/O error on %s (%s): %s; QEMU's action: %s\n", first ? "\n" : "",
					name ? name : "-", dev ? dev : "?", op ? op : "?", reason ? reason : "?",
					act ? act : "?");
				first = false;
			}
			if (stale && *stale) {
				fprintf(out, "%s%s: changed in the file: %s\n", first ? "\n" : "", name ? name : "-",
					stale);
				first = false;
			}
		}
		if (nt.nrows > 1) {
			fprintf(out, "\n");
			table_print(out, &nt);
		}
	}
	table_free(&vt);
	table_free(&nt);
	return r;
}

static void tc_qdiscs(FILE *out, const json_t *list)
{
	const json_t *q, *v;
	const char *k;
	size_t i;

	if (!json_array_size(list)) {
		fputs(" -", out);
		return;
	}
	json_array_foreach(list, i, q) {
		const json_t *st = json_object_get(q, "stats");

		fprintf(out, " %s%s", i ? "+ " : "", json_string_value(json_object_get(q, "kind")) ?: "?");
		json_object_foreach((json_t *)json_object_get(q, "params"), k, v) {
			if (json_is_integer(v))
				fprintf(out, " %s=%lld", k, (long long)json_integer_value(v));
			else if (json_is_real(v))
				fprintf(out, " %s=%g", k, json_real_value(v));
			else if (json_is_string(v))
				fprintf(out, " %s=%s", k, json_string_value(v));
			else if (json_is_true(v))
				fprintf(out, " %s", k); /* a flag: netem's "ecn" */
		}
		fprintf(out, " [sent %lld pkt, dropped %lld, overlimits %lld, backlog %lldb]",
			(long long)json_integer_value(json_object_get(st, "packets")),
			(long long)json_integer_value(json_object_get(st, "drops")),
			(long long)json_integer_value(json_object_get(st, "overlimits")),
			(long long)json_integer_value(json_object_get(st, "backlog_bytes")));
	}
}

void ctlfmt_tc(FILE *out, const json_t *tc)
{
	const json_t *link, *seed = json_object_get(tc, "seed");
	const char *key;

	fprintf(out, "profile %s%s", json_string_value(json_object_get(tc, "profile")) ?: "?",
		json_is_true(json_object_get(tc, "modified")) ? " (changed since by tc set/clear)" : "");
	if (json_is_integer(seed))
		fprintf(out, ", seed %lld", (long long)json_integer_value(seed));
	fputc('\n', out);
	json_object_foreach((json_t *)json_object_get(tc, "links"), key, link) {
		const json_t *rule = json_object_get(link, "rule");

		fprintf(out, "%s (%s)\n", key, json_string_value(json_object_get(link, "tap")) ?: "-");
		fprintf(out, "  to-vm   rule: %s\n          kernel:",
			json_string_value(json_object_get(rule, "to_vm")) ?: "-");
		tc_qdiscs(out, json_object_get(link, "to_vm"));
		fprintf(out, "\n  from-vm rule: %s\n          kernel:",
			json_string_value(json_object_get(rule, "from_vm")) ?: "-");
		tc_qdiscs(out, json_object_get(link, "from_vm"));
		fputc('\n', out);
	}
}

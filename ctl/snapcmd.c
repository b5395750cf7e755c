/* snapcmd.c - n3x-ctl snapshot save NAME [VM...] | load NAME | list [--json]
 * | delete NAME: whole-cluster snapshots, kept by the supervisor (control.h,
 * "snapshot"; launcher/snapshot.c does the work).  Here: the arguments, the
 * name rule checked before anything is sent, and the replies as people read
 * them. */
#include "ctl/client.h"
#include "ctl/ctl.h"
#include "ctl/snapcmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool snapcmd_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > SNAP_NAME_MAX)
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

char *snapcmd_size(double bytes, char *buf, size_t size)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	int u = -1;

	if (bytes < 0) {
		snprintf(buf, size, "-");
		return buf;
	}
	if (bytes < 1024) {
		snprintf(buf, size, "%.0f B", bytes);
		return buf;
	}
	while (bytes >= 1024 && u < 3) {
		bytes /= 1024;
		u++;
	}
	/* Two or three significant digits are what a person compares. */
	if (bytes < 10)
		snprintf(buf, size, "%.1f %s", bytes, unit[u]);
	else
		snprintf(buf, size, "%.0f %s", bytes, unit[u]);
	return buf;
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : "-";
}

/* "NAME: 3 VMs in 4.2 s" */
static void print_done(FILE *out, const char *verb, const json_t *reply)
{
	size_t n = json_array_size(json_object_get(reply, "vms"));
	const json_t *s = json_object_get(reply, "seconds");

	fprintf(out, "%s %s: %zu VM%s", verb, str(reply, "name"), n, n == 1 ? "" : "s");
	if (json_is_number(s))
		fprintf(out, " in %.1f s", json_number_value(s));
}

void snapcmd_print_saved(FILE *out, const json_t *reply)
{
	const json_t *b = json_object_get(reply, "bytes");
	char size[32];

	print_done(out, "saved", reply);
	if (json_is_number(b))
		fprintf(out, ", %s", snapcmd_size(json_number_value(b), size, sizeof(size)));
	fputc('\n', out);
}

void snapcmd_print_loaded(FILE *out, const json_t *reply)
{
	const json_t *note;
	size_t i;

	print_done(out, "loaded", reply);
	fputc('\n', out);
	json_array_foreach(json_object_get(reply, "notes"), i, note)
		if (json_is_string(note))
			fprintf(out, "  %s\n", json_string_value(note));
}

/* ---- list: a table sized once every row is known ---- */

#define LIST_COLS 5

static char *join_names(const json_t *vms)
{
	char *s = NULL;
	size_t len = 0, i;
	const json_t *v;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	json_array_foreach(vms, i, v)
		fprintf(f, "%s%s", i ? "," : "", json_is_string(v) ? json_string_value(v) : "?");
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static char *created(const json_t *t)
{
	char buf[32];
	struct tm tm;
	time_t when;

	if (!json_is_number(t))
		return strdup("-");
	when = (time_t)json_number_value(t);
	if (!localtime_r(&when, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm))
		return strdup("-");
	return strdup(buf);
}

static char *size_cell(const json_t *b)
{
	char buf[32];

	return strdup(json_is_number(b) ? snapcmd_size(json_number_value(b), buf, sizeof(buf)) : "-");
}

int snapcmd_print_list(FILE *out, const json_t *reply)
{
	static const char *const head[LIST_COLS] = { "NAME", "CREATED", "VMS", "PROFILE", "SIZE" };
	const json_t *snaps = json_object_get(reply, "snapshots"), *s;
	size_t n = json_array_size(snaps), width[LIST_COLS] = { 0 }, i;
	char **cells;
	int r = 0;

	if (!json_is_array(snaps))
		return -EINVAL;
	if (n == 0) {
		fprintf(out, "no snapshots\n");
		return 0;
	}
	cells = calloc((n + 1) * LIST_COLS, sizeof(*cells));
	if (!cells)
		return -ENOMEM;
	for (int c = 0; c < LIST_COLS; c++)
		cells[c] = strdup(head[c]);
	json_array_foreach(snaps, i, s) {
		char **row = cells + (i + 1) * LIST_COLS;

		row[0] = strdup(str(s, "name"));
		row[1] = created(json_object_get(s, "created"));
		row[2] = json_is_array(json_object_get(s, "vms")) ? join_names(json_object_get(s, "vms")) : strdup("-");
		row[3] = strdup(str(s, "profile"));
		row[4] = size_cell(json_object_get(s, "bytes"));
	}
	for (i = 0; i < (n + 1) * LIST_COLS; i++) {
		if (!cells[i]) {
			r = -ENOMEM;
			goto out;
		}
		if (strlen(cells[i]) > width[i % LIST_COLS])
			width[i % LIST_COLS] = strlen(cells[i]);
	}
	/* Columns two blanks apart; the last one unpadded, so no trailing
	 * blanks (as the status table). */
	for (i = 0; i < (n + 1) * LIST_COLS; i++) {
		if (i % LIST_COLS == LIST_COLS - 1)
			fprintf(out, "%s\n", cells[i]);
		else
			fprintf(out, "%-*s", (int)width[i % LIST_COLS] + 2, cells[i]);
	}
out:
	for (i = 0; i < (n + 1) * LIST_COLS; i++)
		free(cells[i]);
	free(cells);
	return r;
}

/* ---- the verb ---- */

static int bad_name(const char *name)
{
	return fail(EXIT_USAGE, "snapshot: bad name \"%s\": 1-%d characters of A-Z a-z 0-9 . _ -", name,
		    SNAP_NAME_MAX);
}

static int do_save(struct ctl *c, int argc, char **argv)
{
	json_t *req, *vms, *reply;
	int r;

	req = json_pack("{s:s, s:s, s:s}", "cmd", "snapshot", "action", "save", "name", argv[0]);
	if (argc > 1) {
		vms = json_array();
		for (int i = 1; i < argc; i++)
			json_array_append_new(vms, json_string(argv[i]));
		if (json_array_size(vms) != (size_t)(argc - 1)) { /* a name that is not UTF-8 */
			json_decref(vms);
			json_decref(req);
			return fail(EXIT_USAGE, "snapshot save: the VM names are not valid UTF-8 text");
		}
		json_object_set_new(req, "vms", vms);
	}
	/* No client timeout: under TCG saving gigabytes of RAM takes minutes,
	 * and the supervisor answers when the last VM is resumed. */
	r = request(c, req, -1, &reply);
	if (r)
		return r;
	snapcmd_print_saved(stdout, reply);
	json_decref(reply);
	return 0;
}

static int do_name_only(struct ctl *c, const char *action, const char *name)
{
	json_t *reply;
	/* load restores every VM's RAM; delete drops the snapshot from every
	 * disk, which is a QMP job per running VM: neither is bounded here. */
	int r = request(c, json_pack("{s:s, s:s, s:s}", "cmd", "snapshot", "action", action, "name", name), -1,
			&reply);

	if (r)
		return r;
	if (strcmp(action, "load") == 0)
		snapcmd_print_loaded(stdout, reply);
	json_decref(reply);
	return 0;
}

static int do_list(struct ctl *c, bool as_json)
{
	json_t *reply;
	int r = request(c, json_pack("{s:s, s:s}", "cmd", "snapshot", "action", "list"), QUICK_TIMEOUT_MS, &reply);

	if (r)
		return r;
	if (!json_is_array(json_object_get(reply, "snapshots"))) {
		r = fail(EXIT_FAIL, "the snapshot list from %s has no \"snapshots\" array", c->sock);
	} else if (as_json) {
		/* A script interface: the array as the supervisor sent it. */
		json_dumpf(json_object_get(reply, "snapshots"), stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else if (snapcmd_print_list(stdout, reply) < 0) {
		r = fail(EXIT_FAIL, "snapshot list: out of memory");
	}
	json_decref(reply);
	return r;
}

int cmd_snapshot(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	const char *sub = argv[1];

	/* Options and names apart: a leading '-' is neither a snapshot nor a VM. */
	for (int i = 2; i < argc; i++)
		if (argv[i][0] == '-' && !(strcmp(sub, "list") == 0 && strcmp(argv[i], "--json") == 0))
			return usage_error(cmd);
	if (strcmp(sub, "list") == 0) {
		if (argc > 3)
			return usage_error(cmd);
		return do_list(c, argc == 3);
	}
	if (strcmp(sub, "save") != 0 && strcmp(sub, "load") != 0 && strcmp(sub, "delete") != 0)
		return usage_error(cmd);
	if (argc < 3 || (strcmp(sub, "save") != 0 && argc != 3))
		return usage_error(cmd);
	if (!snapcmd_name_ok(argv[2]))
		return bad_name(argv[2]);
	if (strcmp(sub, "save") == 0)
		return do_save(c, argc - 2, argv + 2);
	return do_name_only(c, sub, argv[2]);
}

/* complete.c - `n3x-ctl __complete WHAT` (complete.h): the words bash
 * completion offers, from the running supervisor's replies or from the -f
 * topology when no supervisor answers.
 *
 * Bash runs this on every TAB, so nothing here may block for long (a short
 * timeout on the socket) or print anything but words (main sends stderr to
 * /dev/null first; topo_load gets /dev/null for its messages).
 */
#include "ctl/complete.h"
#include "ctl/ctl.h"
#include "ctl/snapcmd.h"
#include "base/paths.h"
#include "launcher/topology.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

/* A supervisor answers status and lists from memory: one that takes longer
 * than this is stuck, and the shell waits for us. */
#define COMPLETE_TIMEOUT_MS 2000

static const char *const whats[] = {
	[COMPLETE_VERBS] = "verbs", [COMPLETE_VMS] = "vms", [COMPLETE_NICS] = "nics",
	[COMPLETE_PROFILES] = "profiles", [COMPLETE_SCHEDULES] = "schedules",
	[COMPLETE_SNAPSHOTS] = "snapshots",
};

int complete_parse(const char *what)
{
	for (size_t i = 0; i < sizeof(whats) / sizeof(whats[0]); i++)
		if (strcmp(what, whats[i]) == 0)
			return (int)i;
	return -EINVAL;
}

bool complete_hidden(const char *name)
{
	return strncmp(name, "__", 2) == 0;
}

void complete_verbs(FILE *out, const struct ctl_cmd *table)
{
	for (const struct ctl_cmd *cmd = table; cmd->name; cmd++)
		if (!complete_hidden(cmd->name))
			fprintf(out, "%s\n", cmd->name);
}

/* One word a line; a word with a newline would be two, and bash would
 * offer half of each: left out.  (Names are checked when the topology is
 * loaded; this guards what a reply says.) */
static void word(FILE *out, const char *w)
{
	if (w && *w && !strchr(w, '\n'))
		fprintf(out, "%s\n", w);
}

int complete_reply(FILE *out, enum complete_what what, const json_t *reply)
{
	const json_t *list, *v, *n;
	size_t i, j;

	switch (what) {
	case COMPLETE_VMS:
	case COMPLETE_NICS:
		if (!json_is_array(list = json_object_get(reply, "vms")))
			return -ENOENT;
		json_array_foreach(list, i, v) {
			const char *name = json_string_value(json_object_get(v, "name"));

			if (what == COMPLETE_VMS) {
				word(out, name);
				continue;
			}
			json_array_foreach(json_object_get(v, "nics"), j, n) {
				const json_t *idx = json_object_get(n, "index");
				char buf[TOPO_VM_NAME_MAX + 16];

				if (name && json_is_integer(idx) &&
				    snprintf(buf, sizeof(buf), "%s/%lld", name, (long long)json_integer_value(idx)) <
					    (int)sizeof(buf))
					word(out, buf);
			}
		}
		return 0;
	case COMPLETE_PROFILES:
		/* "default" is built in: no [profile default] section names it. */
		if (!json_is_array(list = json_object_get(json_object_get(reply, "fabric"), "profiles")))
			return -ENOENT;
		word(out, "default");
		json_array_foreach(list, i, v)
			word(out, json_string_value(v));
		return 0;
	case COMPLETE_SCHEDULES:
		if (!json_is_array(list = json_object_get(reply, "defined")))
			return -ENOENT;
		json_array_foreach(list, i, v)
			word(out, json_string_value(v));
		return 0;
	default:
		return -ENOENT;
	}
}

int complete_snapshot_reply(FILE *out, const json_t *reply)
{
	const json_t *list = json_object_get(reply, "snapshots"), *v;
	size_t i;

	if (!json_is_array(list))
		return -ENOENT;
	json_array_foreach(list, i, v)
		word(out, json_string_value(json_object_get(v, "name")));
	return 0;
}

void complete_topology(FILE *out, enum complete_what what, const struct topology *t)
{
	switch (what) {
	case COMPLETE_VMS:
		for (int i = 0; i < t->nvms; i++)
			word(out, t->vms[i].name);
		break;
	case COMPLETE_NICS:
		for (int i = 0; i < t->nvms; i++)
			for (int j = 0; j < t->vms[i].nnics; j++)
				fprintf(out, "%s/%d\n", t->vms[i].name, t->vms[i].nics[j].index);
		break;
	case COMPLETE_PROFILES:
		word(out, "default");
		for (int i = 0; i < t->nprofiles; i++)
			word(out, t->profiles[i].name);
		break;
	case COMPLETE_SCHEDULES:
		for (int i = 0; i < t->nschedules; i++)
			word(out, t->schedules[i].name);
		break;
	default:
		break;
	}
}

void complete_snapshot_dir(FILE *out, const char *dir)
{
	struct dirent *d;
	DIR *dp = opendir(dir);

	if (!dp)
		return;
	/* As the supervisor lists them (launcher/snapmeta.c): NAME.json, NAME
	 * a good snapshot name. */
	while ((d = readdir(dp))) {
		size_t len = strlen(d->d_name);
		char name[SNAP_NAME_MAX + 1];

		if (len < 6 || len - 5 > SNAP_NAME_MAX || strcmp(d->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 5), d->d_name);
		if (snapcmd_name_ok(name))
			word(out, name);
	}
	closedir(dp);
}

void complete_silence(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

/* The running supervisor's words: 0 when it answered with the list. */
static int from_supervisor(struct ctl *c, enum complete_what what)
{
	struct err e = { 0 };
	json_t *req, *reply = NULL;
	int r;

	if (!c->sock[0])
		return -ENOENT;
	if (what == COMPLETE_SNAPSHOTS)
		req = json_pack("{s:s, s:s}", "cmd", "snapshot", "action", "list");
	else if (what == COMPLETE_SCHEDULES)
		req = json_pack("{s:s, s:b}", "cmd", "schedule", "status", 1);
	else
		req = json_pack("{s:s}", "cmd", "status");
	if (request_e(c, req, COMPLETE_TIMEOUT_MS, &reply, &e))
		return -EIO;
	r = what == COMPLETE_SNAPSHOTS ? complete_snapshot_reply(stdout, reply)
				       : complete_reply(stdout, what, reply);
	json_decref(reply);
	return r;
}

/* No supervisor: the -f file's words; snapshots from the fabric's state
 * dir, which outlives the supervisor. */
static void from_files(struct ctl *c, enum complete_what what, const char *topo)
{
	struct topology *t = NULL;
	FILE *devnull;

	if (what == COMPLETE_SNAPSHOTS) {
		char dir[PATHS_MAX], snaps[PATHS_MAX];

		if (c->fabric[0] && paths_state_dir(c->fabric, dir, sizeof(dir)) == 0 &&
		    paths_join(snaps, sizeof(snaps), "%s/snapshots", dir) == 0)
			complete_snapshot_dir(stdout, snaps);
		return;
	}
	if (!topo || !(devnull = fopen("/dev/null", "we")))
		return;
	if (topo_load(topo, devnull, &t) == 0) {
		complete_topology(stdout, what, t);
		topo_free(t);
	}
	fclose(devnull);
}

int complete_run(struct ctl *c, const struct ctl_cmd *table, const char *topo, const char *what)
{
	int w = complete_parse(what);

	if (w == COMPLETE_VERBS)
		complete_verbs(stdout, table);
	else if (w >= 0 && from_supervisor(c, w) < 0)
		from_files(c, w, topo);
	return 0;
}

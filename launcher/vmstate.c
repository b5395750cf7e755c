/* vmstate.c - state.json, and who the process behind a pid is. */
#include "launcher/vmstate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/proc.h"
#include "net/tap.h"

#define VMSTATE_VERSION 1

void vmstate_net(const struct topo_nic *nic, char buf[VMSTATE_NET_MAX])
{
	size_t n = (size_t)snprintf(buf, VMSTATE_NET_MAX, "%s", nic->network ? nic->network : "");

	for (int v = 0; v < nic->nvlans && n < VMSTATE_NET_MAX; v++)
		n += (size_t)snprintf(buf + n, VMSTATE_NET_MAX - n, "%s%u", v ? "," : " vlan=", nic->vlans[v]);
}

/* FNV-1a over the argv and the networks: a quick "nothing changed" for
 * people comparing files; the adoption itself compares the lists. */
static uint64_t state_hash(const struct strv *argv, int nnics, const char nets[][VMSTATE_NET_MAX])
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < argv->n; i++)
		for (const char *p = argv->v[i];; p++) {
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
			if (!*p)
				break;
		}
	for (int i = 0; i < nnics; i++)
		for (const char *p = nets[i];; p++) {
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
			if (!*p)
				break;
		}
	return h;
}

static json_t *state_json(const char *dir, const char *vm, const struct vmstate *s)
{
	json_t *argv = json_array(), *nics = json_array(), *o;
	char hash[17], cmdline[17], tap[32];

	for (size_t i = 0; argv && i < s->argv.n; i++)
		json_array_append_new(argv, json_string(s->argv.v[i]));
	for (int i = 0; nics && i < s->nnics; i++) {
		if (tap_name(vm, i, tap, sizeof(tap)) < 0)
			tap[0] = '\0';
		json_array_append_new(nics, json_pack("{s:s, s:s, s:b}", "tap", tap, "network", s->nets[i],
						      "link", !s->link_down[i]));
	}
	snprintf(hash, sizeof(hash), "%016" PRIx64, state_hash(&s->argv, s->nnics, s->nets));
	snprintf(cmdline, sizeof(cmdline), "%016" PRIx64, s->cmdline_hash);
	o = json_pack("{s:i, s:i, s:I, s:s, s:s, s:o*, s:o*, s:I, s:{s:s+, s:s+, s:s+, s:s+}}",
		      "version", VMSTATE_VERSION, "pid", (int)s->pid, "start_time", (json_int_t)s->start_time,
		      "cmdline_hash", cmdline, "hash", hash, "argv", argv, "nics", nics, "up_since_ms", (json_int_t)s->up_since_ms,
		      "sockets", "monitor", dir, "/monitor.sock", "serial", dir, "/serial.sock",
		      "agent", dir, "/agent.sock", "qmp", dir, "/qmp.sock");
	return o;
}

int vmstate_save(const char *path, const char *dir, const char *vm, const struct vmstate *s)
{
	char tmp[PATH_MAX];
	json_t *o = state_json(dir, vm, s);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	size_t len = text ? strlen(text) : 0, off = 0;
	int fd = -1, r = 0;

	json_decref(o);
	if (!text)
		return -ENOMEM;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	text[len++] = '\n'; /* over the NUL: the length is known */
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto out;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		r = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (r < 0)
		unlink(tmp);
	free(text);
	return r;
}

int vmstate_load(const char *path, struct vmstate *s, struct err *e)
{
	json_error_t jerr;
	json_t *o, *argv, *nics, *v;
	json_int_t version = 0, pid = 0, start = 0, up = 0;
	const char *cmdline = NULL;
	char *end = NULL;
	size_t i;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	memset(s, 0, sizeof(*s));
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : err_sys(e, errno, "%s", path);
	o = json_loadfd(fd, 0, &jerr);
	close(fd);
	if (!o)
		return err_set(e, EINVAL, "%s:%d: %s", path, jerr.line, jerr.text);
	if (json_unpack_ex(o, &jerr, 0, "{s:I, s:I, s:I, s:s, s:o, s:o, s?:I}", "version", &version, "pid",
			   &pid, "start_time", &start, "cmdline_hash", &cmdline, "argv", &argv, "nics", &nics,
			   "up_since_ms", &up) < 0 ||
	    version != VMSTATE_VERSION || pid <= 0 || start < 0 ||
	    (s->cmdline_hash = strtoull(cmdline, &end, 16), !*cmdline || *end) || !json_is_array(argv) ||
	    !json_array_size(argv) || !json_is_array(nics) || json_array_size(nics) > TOPO_MAX_NICS) {
		json_decref(o);
		return err_set(e, EINVAL, "%s: not a state file of this version (%s)", path,
			       version != VMSTATE_VERSION ? "version" : jerr.text[0] ? jerr.text : "bad values");
	}
	s->pid = (pid_t)pid;
	s->start_time = (uint64_t)start;
	s->up_since_ms = up;
	json_array_foreach(argv, i, v) {
		if (!json_is_string(v) || strv_add(&s->argv, json_string_value(v)) < 0) {
			json_decref(o);
			vmstate_free(s);
			return err_set(e, EINVAL, "%s: argv[%zu] is not a string", path, i);
		}
	}
	json_array_foreach(nics, i, v) {
		const char *net = json_string_value(json_object_get(v, "network"));

		snprintf(s->nets[i], VMSTATE_NET_MAX, "%s", net ? net : "");
		s->link_down[i] = json_is_false(json_object_get(v, "link"));
	}
	s->nnics = (int)json_array_size(nics);
	json_decref(o);
	return 0;
}

void vmstate_free(struct vmstate *s)
{
	strv_free(&s->argv);
}

int vmstate_proc_cmdline_hash(pid_t pid, uint64_t *out)
{
	struct strv argv = { 0 };
	uint64_t h = 0xcbf29ce484222325ULL;
	int r = proc_cmdline(pid, &argv);

	/* The bytes of /proc/PID/cmdline: each argument and its NUL. */
	for (size_t i = 0; r >= 0 && i < argv.n; i++)
		for (const char *c = argv.v[i];; c++) {
			h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
			if (!*c)
				break;
		}
	strv_free(&argv);
	if (r < 0)
		return r;
	*out = h;
	return 0;
}

/* ---- what changed ---- */

/* The option group at *i ("-m 512": the option and the values after it),
 * written into buf; *i moves past it. */
static void next_group(const struct strv *a, size_t *i, size_t end, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	do {
		n += (size_t)snprintf(buf + (n < size ? n : size - 1), n < size ? size - n : 1, "%s%s",
				      n ? " " : "", a->v[*i]);
		(*i)++;
	} while (*i < end && a->v[*i][0] != '-');
	if (n >= size && size > 4)
		strcpy(buf + size - 4, "...");
}

static void argv_diff(const struct strv *was, const struct strv *now, char *buf, size_t size)
{
	size_t ew = was->n, en = now->n, i = 0, j = 0;
	char gw[160], gn[160];
	int more = 0;

	if (ew && strcmp(was->v[ew - 1], "-S") == 0)
		ew--;
	buf[0] = '\0';
	while (i < ew || j < en) {
		if (i < ew)
			next_group(was, &i, ew, gw, sizeof(gw));
		else
			gw[0] = '\0';
		if (j < en)
			next_group(now, &j, en, gn, sizeof(gn));
		else
			gn[0] = '\0';
		if (strcmp(gw, gn) == 0)
			continue;
		if (buf[0]) {
			more++;
			continue;
		}
		if (!gw[0])
			snprintf(buf, size, "the file now adds `%s`", gn);
		else if (!gn[0])
			snprintf(buf, size, "QEMU runs with `%s`, which the file no longer asks", gw);
		else
			snprintf(buf, size, "QEMU runs with `%s`, the file now says `%s`", gw, gn);
	}
	if (more) {
		size_t n = strlen(buf);

		snprintf(buf + n, size - n, " (and %d more difference%s)", more, more == 1 ? "" : "s");
	}
}

void vmstate_diff(const struct vmstate *s, const struct strv *argv, int nnics,
		  const char nets[][VMSTATE_NET_MAX], char *buf, size_t size)
{
	size_t n;

	argv_diff(&s->argv, argv, buf, size);
	for (int i = 0; i < nnics || i < s->nnics; i++) {
		const char *was = i < s->nnics ? s->nets[i] : "", *now = i < nnics ? nets[i] : "";

		if (strcmp(was, now) == 0)
			continue;
		n = strlen(buf);
		snprintf(buf + n, size - n, "%snic %d is on %s, the file now says %s", n ? "; " : "", i,
			 *was ? was : "nothing", *now ? now : "nothing");
		break;
	}
	if ((n = strlen(buf)) > 0)
		snprintf(buf + n, size - n, "; restart to apply");
}

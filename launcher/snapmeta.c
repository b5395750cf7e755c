/* snapmeta.c - what a snapshot keeps of the cluster: $STATE/snapshots/NAME.json,
 * each VM's fingerprint (what must not change for its saved state to fit)
 * and its NICs' cables and leases.  Part of snapshot.c's verb. */
#include "launcher/snapmeta.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/jsonfile.h"
#include "launcher/supervisor_impl.h"

/* ---- metadata files ---- */

int snapmeta_path(const char *name, char *buf, size_t size)
{
	return paths_join(buf, size, "%s/snapshots/%s.json", sup.state, name);
}

bool snapmeta_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 1 || n > SNAP_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", name[i]))
			return false;
	return true;
}

/* NAME.json, or NULL (errno ENOENT when there is none). */
json_t *snapmeta_read(const char *name)
{
	char path[PATHS_MAX];
	json_error_t je;
	json_t *m;

	if (snapmeta_path(name, path, sizeof(path)) < 0)
		return NULL;
	if (access(path, F_OK) < 0)
		return NULL;
	m = json_load_file(path, 0, &je);
	if (!json_is_object(m)) {
		json_decref(m);
		errno = EINVAL;
		return NULL;
	}
	return m;
}

/* Write m atomically: a temporary file, fsync, rename. */
int snapmeta_write(const char *name, json_t *m, struct err *e)
{
	char dir[PATHS_MAX], path[PATHS_MAX];
	int r;

	if ((r = paths_join(dir, sizeof(dir), "%s/snapshots", sup.state)) < 0 ||
	    (r = snapmeta_path(name, path, sizeof(path))) < 0 || (r = paths_mkdir_p(dir, 0700)) < 0)
		return err_sys(e, -r, "cannot write the metadata under %s/snapshots", sup.state);
	if ((r = jsonfile_write(path, m, JSON_INDENT(1) | JSON_SORT_KEYS, true)) < 0)
		return err_sys(e, -r, "cannot write %s", path);
	return 0;
}

/* ---- what a VM was when saved ---- */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* What must not change for a saved state to fit the VM again. */
json_t *snapmeta_fingerprint(const struct topo_vm *c)
{
	static const char *const fw[] = { [TOPO_FIRMWARE_NONE] = "none", [TOPO_FIRMWARE_BIOS] = "bios",
					  [TOPO_FIRMWARE_UEFI] = "uefi" };
	json_t *f = json_pack("{s:s, s:I, s:i, s:o, s:s, s:I, s:o, s:o, s:o, s:s}",
		"arch", topo_arch_name(c->arch), "memory", (json_int_t)c->memory_mib, "vcpus", c->vcpus,
		"disk", str_or_null(c->disk), "disk-mode", c->disk_mode == TOPO_DISK_EPHEMERAL ? "ephemeral" :
		"persistent", "data-disk", (json_int_t)c->data_disk_bytes, "kernel", str_or_null(c->kernel),
		"initrd", str_or_null(c->initrd), "append", str_or_null(c->append), "firmware", fw[c->firmware]);
	json_t *nics = json_array();

	for (int i = 0; f && nics && i < c->nnics; i++) {
		char mac[18], desc[128];

		snprintf(desc, sizeof(desc), "%s %s", c->nics[i].network, topo_format_mac(c->nics[i].mac, mac));
		json_array_append_new(nics, json_string(desc));
	}
	if (!f || !nics || json_object_set_new(f, "nics", nics) < 0) {
		json_decref(f);
		return NULL;
	}
	return f;
}

static void value_str(json_t *v, const char *key, char *buf, size_t size)
{
	if (json_is_string(v))
		snprintf(buf, size, "%s", json_string_value(v));
	else if (json_is_integer(v) && strcmp(key, "memory") == 0)
		snprintf(buf, size, "%lld MiB", (long long)json_integer_value(v));
	else if (json_is_integer(v) && json_integer_value(v) == 0)
		snprintf(buf, size, "none");
	else if (json_is_integer(v) && strcmp(key, "data-disk") == 0)
		snprintf(buf, size, "%lld MiB", (long long)(json_integer_value(v) >> 20));
	else if (json_is_integer(v))
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, size, "none");
}

/* The first difference between what vm is and what it was, in e; 0 when
 * none. */
int snapmeta_diff(const char *snap, const char *vm, json_t *was, json_t *now, struct err *e)
{
	static const char *const keys[] = { "arch", "memory", "vcpus", "disk", "disk-mode", "data-disk",
					    "kernel", "initrd", "append", "firmware" };
	json_t *wn = json_object_get(was, "nics"), *nn = json_object_get(now, "nics");
	char a[256], b[256];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *w = json_object_get(was, keys[i]), *n = json_object_get(now, keys[i]);

		if (json_equal(w, n))
			continue;
		value_str(n, keys[i], a, sizeof(a));
		value_str(w, keys[i], b, sizeof(b));
		return err_set(e, EINVAL, "snapshot %s: %s %s is %s, was %s when saved", snap, vm, keys[i], a, b);
	}
	if (json_array_size(wn) != json_array_size(nn))
		return err_set(e, EINVAL, "snapshot %s: %s has %zu NICs, had %zu when saved", snap, vm,
			       json_array_size(nn), json_array_size(wn));
	for (size_t i = 0; i < json_array_size(nn); i++)
		if (!json_equal(json_array_get(wn, i), json_array_get(nn, i)))
			return err_set(e, EINVAL, "snapshot %s: %s NIC %zu is %s, was %s when saved", snap, vm, i,
				       json_string_value(json_array_get(nn, i)),
				       json_string_value(json_array_get(wn, i)));
	return 0;
}

/* Each NIC's cable and lease. */
json_t *snapmeta_nics(struct vm *vm)
{
	const struct topo_vm *c = vm_config(vm);
	json_t *a = json_array();

	for (int i = 0; a && i < c->nnics; i++) {
		char ip[INET_ADDRSTRLEN];
		const char *lease = sup.fabric ? fabric_lease(sup.fabric, c->nics[i].mac, ip) : NULL;

		json_array_append_new(a, json_pack("{s:i, s:s, s:o}", "index", i, "link",
						   vm_link_up(vm, i) ? "up" : "down", "lease", str_or_null(lease)));
	}
	return a;
}

static int by_created(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "created"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "created"));

	return x < y ? -1 : x > y;
}

json_t *snapmeta_list(void)
{
	char dir[PATHS_MAX];
	json_t *list = json_array(), **v = NULL;
	struct dirent *d;
	size_t n = 0;
	DIR *dp;

	if (!list || paths_join(dir, sizeof(dir), "%s/snapshots", sup.state) < 0) {
		json_decref(list);
		return NULL;
	}
	if ((dp = opendir(dir))) {
		while ((d = readdir(dp))) {
			size_t len = strlen(d->d_name);
			char name[SNAP_NAME_MAX + 1];
			json_t *m;

			if (d->d_name[0] == '.' || len < 6 || len - 5 > SNAP_NAME_MAX ||
			    strcmp(d->d_name + len - 5, ".json") != 0)
				continue;
			snprintf(name, sizeof(name), "%.*s", (int)(len - 5), d->d_name);
			if (!(m = snapmeta_read(name)))
				continue;
			json_t *names = json_array(), *vm;
			size_t i;

			json_array_foreach(json_object_get(m, "vms"), i, vm)
				json_array_append(names, json_object_get(vm, "name"));
			json_array_append_new(list, json_pack("{s:s, s:I, s:o, s:s?, s:I}", "name", name,
				"created", json_integer_value(json_object_get(m, "created")), "vms", names,
				"profile", json_string_value(json_object_get(m, "profile")),
				"bytes", json_integer_value(json_object_get(m, "bytes"))));
			json_decref(m);
		}
		closedir(dp);
	}
	/* Oldest first, as they were taken. */
	n = json_array_size(list);
	if (n > 1 && (v = calloc(n, sizeof(*v)))) {
		json_t *sorted = json_array();

		for (size_t i = 0; i < n; i++)
			v[i] = json_array_get(list, i);
		qsort(v, n, sizeof(*v), by_created);
		for (size_t i = 0; sorted && i < n; i++)
			json_array_append(sorted, v[i]);
		free(v);
		if (sorted) {
			json_decref(list);
			list = sorted;
		}
	}
	return list;
}

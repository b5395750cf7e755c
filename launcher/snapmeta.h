/* snapmeta.h - snapshot metadata ($STATE/snapshots/NAME.json) and the VM
 * fingerprints in it; private to snapshot.c.
 *
 * NAME.json: {"version":1,"name","created" (unix s),"seconds","bytes",
 * "profile","topology_vms":[every VM of the topology at the save],
 * "vms":[{"name","running","qemu_pid" (ephemeral overlay: the QEMU that
 * held it, else 0),"fingerprint":{...},"nics":[{"index","link","lease"}]}]}
 */
#ifndef N3X_SNAPMETA_H
#define N3X_SNAPMETA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "launcher/topology.h"
#include "launcher/vm.h"

#define SNAP_NAME_MAX 64

/* [A-Za-z0-9._-], 1 to SNAP_NAME_MAX characters. */
bool snapmeta_name_ok(const char *name);
/* $STATE/snapshots/NAME.json into buf; 0 or -ENAMETOOLONG. */
int snapmeta_path(const char *name, char *buf, size_t size);
/* NAME's metadata (a new reference), or NULL with errno ENOENT when there
 * is none, EINVAL when it is not a JSON object. */
json_t *snapmeta_read(const char *name);
/* Write m as NAME.json atomically (temporary file, fsync, rename).  0, or
 * -errno with e set. */
int snapmeta_write(const char *name, json_t *m, struct err *e);
/* What must not change for a saved state to fit vm again; NULL when out
 * of memory. */
json_t *snapmeta_fingerprint(const struct topo_vm *vm);
/* The first difference between two fingerprints as the refusal of a load
 * ("snapshot X: n100-1 memory is 2048 MiB, was 4096 MiB when saved") in e;
 * 0 when they match. */
int snapmeta_diff(const char *snap, const char *vm, json_t *was, json_t *now, struct err *e);
/* [{"index","link":"up"|"down","lease":IP|null}] for vm's NICs now. */
json_t *snapmeta_nics(struct vm *vm);
/* [{"name","created","vms","profile","bytes"}] of every snapshot, oldest
 * first; NULL when out of memory. */
json_t *snapmeta_list(void);

#endif

/* vmstate.h - $RUN/vm/NAME/state.json: what a later supervisor needs to
 * adopt a QEMU an earlier one started, and the checks that the process
 * behind a pid really is that QEMU.
 *
 * The file is written whole to state.json.tmp and renamed over state.json,
 * so a reader finds the old state or the new one, never half of either.
 */
#ifndef N3X_VMSTATE_H
#define N3X_VMSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "base/strv.h"
#include "launcher/topology.h"

#define VMSTATE_NET_MAX 96 /* "lan vlan=100,200,..." */

struct vmstate {
	pid_t pid;
	uint64_t start_time;     /* /proc/PID/stat starttime (clock ticks after boot) */
	uint64_t cmdline_hash;   /* of /proc/PID/cmdline as it read after the exec */
	struct strv argv;        /* as QEMU was started, -S included */
	int nnics;
	char nets[TOPO_MAX_NICS][VMSTATE_NET_MAX]; /* NIC i's network and VLANs */
	bool link_down[TOPO_MAX_NICS];             /* cables pulled (vm_set_link) */
	int64_t up_since_ms;     /* CLOCK_REALTIME when QMP first said the guest runs; 0 */
};

/* NIC i's network as state.json records it ("lan", "lan vlan=100,200"). */
void vmstate_net(const struct topo_nic *nic, char buf[VMSTATE_NET_MAX]);

/* Write s to path (through path.tmp, 0600, no symlink followed).  The file
 * also names taps and sockets for people and tools; dir is the VM's run
 * directory, vm its name.  0 or -errno. */
int vmstate_save(const char *path, const char *dir, const char *vm, const struct vmstate *s);

/* Read path into *s (vmstate_free it after a 0).  0; -ENOENT when there is
 * no file; -EINVAL with e saying why when it cannot be used. */
int vmstate_load(const char *path, struct vmstate *s, struct err *e);
void vmstate_free(struct vmstate *s);

/* A hash (FNV-1a, 64 bits) of /proc/PID/cmdline (base/proc.h): 0 and *out, or -errno.
 * With the pid and the start time it tells the process we started from
 * any other (the argv it holds is QEMU's, but a test's stand-in differs). */
int vmstate_proc_cmdline_hash(pid_t pid, uint64_t *out);

/* One line saying how the QEMU that s describes differs from what the
 * definition asks now (argv, and NIC i's network in nets[i]): "" when it
 * does not.  A trailing -S (a start paused) is not a difference. */
void vmstate_diff(const struct vmstate *s, const struct strv *argv, int nnics,
		  const char nets[][VMSTATE_NET_MAX], char *buf, size_t size);

#endif

/* snapshot.h - whole-cluster snapshots: every VM named is paused, saved
 * (QMP snapshot-save: RAM and devices into its state image, its writable
 * disks as qcow2 internal snapshots) and resumed together; a load puts every
 * VM back the same way and restores cables, profile and says what leases
 * changed.  Metadata in $STATE/snapshots/NAME.json, so snapshots outlive the
 * supervisor.  One snapshot operation runs at a time.
 *
 * The control verb is sup_cmd_snapshot (supervisor_impl.h); the supervisor
 * hands the module its VMs' QMP events and state changes.
 */
#ifndef N3X_SNAPSHOT_H
#define N3X_SNAPSHOT_H

#include <jansson.h>

#include "launcher/vm.h"

/* Every QMP event of vm's monitor: the running jobs follow their own. */
void snapshot_on_qmp_event(struct vm *vm, const char *event, json_t *data);
/* vm's guest agent came up or went away: a load waits for it. */
void snapshot_on_agent(struct vm *vm, bool up);
/* vm changed state: a VM started for a load is paused (or failed); a VM
 * whose QEMU went away fails the job it ran. */
void snapshot_on_state(struct vm *vm);

#endif

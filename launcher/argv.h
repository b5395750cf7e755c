/* argv.h - the plan for one VM: the QEMU argv and the disk preparation.
 *
 * Everything is derived from the topology, the accel choice and the VM's run
 * and state directories, so `--check` prints exactly what a start runs.  File
 * descriptors QEMU inherits sit at fixed numbers in the child (see below), so
 * the argv does not depend on which fds the supervisor happened to get.
 */
#ifndef N3X_ARGV_H
#define N3X_ARGV_H

#include <stdbool.h>
#include <stddef.h>

#include "base/strv.h"
#include "launcher/accel.h"
#include "launcher/topology.h"

/* QEMU's chardev sockets are listening sockets the supervisor makes under
 * $RUN/vm/NAME and hands over (server=on,wait=off): QEMU needs no access to
 * $RUN, keeps them across a supervisor's restart, and the supervisor (any
 * supervisor) connects to the paths as a client. */
#define QEMU_FD_SERIAL 3   /* serial.sock: the guest's serial port; the console connects */
#define QEMU_FD_QMP 4      /* monitor.sock: the supervisor's private QMP monitor */
#define QEMU_FD_AGENT 5    /* agent.sock: the guest agent's virtio-serial port; ga_new()'s */
#define QEMU_FD_USER_QMP 6 /* qmp.sock: QMP for users' scripts */
#define QEMU_FD_CONSOLE_LOG 7 /* console.log, O_APPEND, in fdset QEMU_FDSET_CONSOLE_LOG */
#define QEMU_FDSET_CONSOLE_LOG 1
#define QEMU_AGENT_PORT "ga0port" /* the port's device id, in VSERPORT_CHANGE events */
#define QEMU_AGENT_CHARDEV "ga0" /* its chardev, in query-chardev ("frontend-open") */
#define QEMU_FD_NIC0 8     /* tap of NIC n at QEMU_FD_NIC0 + n */

/* UEFI firmware (Debian's qemu-efi-aarch64 and ovmf): the code is shared and
 * read-only, the variable store (boot order) is a per-VM copy of the
 * template.  OVMF's 4M pair is the one q35 takes as two pflash units. */
#define AAVMF_CODE "/usr/share/AAVMF/AAVMF_CODE.fd"
#define AAVMF_VARS "/usr/share/AAVMF/AAVMF_VARS.fd"
#define OVMF_CODE "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define OVMF_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"

/* Block node names of the qcow2 images, for QMP's snapshot-save/-load/
 * -delete: the overlay and the data disk (guest disks), and the state image
 * (every VM has one, the guest never sees it) that holds the vmstate. */
#define PLAN_NODE_OVERLAY "overlay"
#define PLAN_NODE_DATA "data"
#define PLAN_NODE_STATE "state"

/* A step before QEMU starts: run argv (qemu-img) unless `creates` exists and
 * `always` is false, or copy `copy_from` to `creates` when argv is empty.
 * node: the block node name of the qcow2 image it makes (PLAN_NODE_*), or
 * NULL for the UEFI variables, which are raw (they travel in the vmstate,
 * as the flash's RAM copy). */
struct plan_step {
	struct strv argv;
	char *creates;
	char *copy_from;
	const char *node;
	bool always;
};

struct vm_plan {
	struct strv qemu;
	int nsteps;
	struct plan_step steps[5];
};

/* Where the VM's files go, and what the host's switch can take. */
struct plan_env {
	char run[256];       /* $RUN/vm/NAME */
	char state[256];     /* $STATE/vm/NAME */
	bool ovs_userspace;  /* OVS runs the userspace (netdev) datapath */
};

/* Build the plan for vm.  Returns 0 or -ENOMEM / -ENAMETOOLONG; free with
 * plan_free() either way. */
int plan_build(const struct topo_vm *vm, const struct accel_choice *ac,
	       const struct plan_env *dirs, struct vm_plan *plan);
void plan_free(struct vm_plan *plan);

/* Print the plan as shell commands, one option group per line. */
void plan_print(const struct vm_plan *plan, FILE *out);

#endif

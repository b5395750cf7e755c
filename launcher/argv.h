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

#include "base/err.h"
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

/* The files a VM's disks live in, under its state dir (SPEC "Runtime
 * layout").  Persistent and ephemeral overlays have paths of their own, so
 * switching disk-mode never touches the other mode's file. */
#define PLAN_OVERLAY "overlay.qcow2"         /* disk-mode = persistent */
#define PLAN_EPHEMERAL "ephemeral.qcow2"     /* disk-mode = ephemeral, new at each start */
#define PLAN_BASE_ID "overlay.base.json"     /* the identity of the overlay's base */
#define PLAN_TMP_SUFFIX ".tmp"               /* a file being made; renamed once whole */

/* A step before QEMU starts.  When `creates` is missing, or always:
 * argv (qemu-img) makes `tmp`, or `copy_from` is copied to `tmp` when argv
 * is empty; `tmp` is renamed to `creates` only once it is whole, so a
 * qemu-img that is killed or runs out of space leaves no half file behind.
 * When `creates` exists and the step is not always: `check` (qemu-img
 * check; empty for none) must pass.
 * node: the block node name of the qcow2 image it makes (PLAN_NODE_*), or
 * NULL for the UEFI variables, which are raw (they travel in the vmstate,
 * as the flash's RAM copy).
 * base, base_id: a persistent overlay's base image and the file that records
 * its identity when the overlay is made (disks.h); NULL otherwise. */
struct plan_step {
	struct strv argv;
	struct strv check;
	char *creates;
	char *tmp;
	char *copy_from;
	char *base;
	char *base_id;
	const char *node;
	bool always;
};

/* A file QEMU gets as an fd: QEMU runs as QEMU_USER (qemuuser.h) and cannot
 * reach $STATE, so the supervisor opens the images QEMU writes (overlay,
 * data and state images, UEFI variables) and QEMU opens /dev/fdset/N,
 * a dup of the set's fd whose access mode matches (-add-fd).  files[i] is
 * fd QEMU_FD_NIC0 + nnics + i in QEMU, after the taps.  A disk's set holds
 * it twice, read-write and read-only: -drive first opens its file
 * read-only (auto-read-only) and reopens it read-write. */
struct plan_file {
	char *path;
	int flags;    /* open(2)'s, O_CLOEXEC added */
};

#define PLAN_MAX_FILES 8
#define PLAN_FDSET0 2 /* the first plan file's set; set 1 is console.log's */

struct vm_plan {
	const char *name;      /* the VM's (the topology's string), for messages */
	struct strv qemu;
	int nsteps;
	struct plan_step steps[5];
	int nfiles, nsets;
	struct plan_file files[PLAN_MAX_FILES];
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

/* Open plan->files into fds[0..nfiles), close-on-exec (child_spawn makes
 * them QEMU's), following no symlink.  Returns nfiles, or -errno with e
 * naming the file and every fd it opened closed. */
int plan_open_files(const struct vm_plan *plan, int *fds, struct err *e);

/* s with every ',' doubled: QEMU's option syntax for a literal comma, so a
 * path cannot end its option and start another.  malloc'd, or NULL. */
char *plan_opt_escape(const char *s);

/* Print the plan as shell commands, one option group per line. */
void plan_print(const struct vm_plan *plan, FILE *out);

#endif

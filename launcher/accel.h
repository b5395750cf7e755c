/* accel.h - choosing KVM or TCG for a VM, and saying why.
 *
 * accel_probe() reads the host once; accel_decide() is a pure function of
 * that probe and the VM's arch and accel= so it can be tested on any host.
 */
#ifndef N3X_ACCEL_H
#define N3X_ACCEL_H

#include <stdbool.h>

#include "base/err.h"
#include "launcher/topology.h"

struct accel_host {
	enum topo_arch arch;   /* the host's arch */
	bool arch_known;       /* false on hosts that are neither x86_64 nor aarch64 */
	bool kvm_dev;          /* /dev/kvm exists */
	int kvm_errno;         /* 0 when /dev/kvm opens read-write, else errno */
	bool kvm_pvm_only;     /* kvm_pvm loaded and no hardware KVM module (kvm_intel/kvm_amd) */
};

struct accel_choice {
	bool kvm;              /* else TCG */
	char reason[160];      /* why TCG ("accel=tcg" when asked for); "" with KVM */
};

void accel_probe(struct accel_host *h);

/* Replace part of what accel_probe() found with a described host, so
 * `--check` can print the plan of another machine.  arch: "x86_64" or
 * "aarch64".  kvm: "ok" (hardware KVM usable), "pvm-only", "absent" or
 * "denied" (/dev/kvm not openable).  0, or -EINVAL with e saying which
 * words are known. */
int accel_describe_arch(struct accel_host *h, const char *arch, struct err *e);
int accel_describe_kvm(struct accel_host *h, const char *kvm, struct err *e);

/* Fill *out for a VM of arch that asked for want.  Returns 0, or -ENODEV when
 * want is kvm and KVM cannot run this guest (out->reason says why). */
int accel_decide(const struct accel_host *h, enum topo_arch arch,
		 enum topo_accel want, struct accel_choice *out);

#endif

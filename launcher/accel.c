/* accel.c - KVM or TCG. */
#include "launcher/accel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

void accel_probe(struct accel_host *h)
{
	struct utsname u;
	int fd;

	memset(h, 0, sizeof(*h));
	if (uname(&u) == 0) {
		if (strcmp(u.machine, "x86_64") == 0) {
			h->arch = TOPO_ARCH_X86_64;
			h->arch_known = true;
		} else if (strcmp(u.machine, "aarch64") == 0) {
			h->arch = TOPO_ARCH_AARCH64;
			h->arch_known = true;
		}
	}
	h->kvm_dev = exists("/dev/kvm");
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	h->kvm_errno = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	/* PVM (pagetable-based virtual machine) serves /dev/kvm without VT-x/SVM
	 * and only runs PVM-enabled guest kernels: an ordinary kernel hangs, and
	 * `-cpu host` aborts on MSR 0x10a.  It cannot be told from a KVM ioctl,
	 * only from which module provides /dev/kvm. */
	h->kvm_pvm_only = exists("/sys/module/kvm_pvm") &&
			  !exists("/sys/module/kvm_intel") &&
			  !exists("/sys/module/kvm_amd");
}

int accel_describe_arch(struct accel_host *h, const char *arch, struct err *e)
{
	for (enum topo_arch a = TOPO_ARCH_X86_64; a <= TOPO_ARCH_AARCH64; a++)
		if (strcmp(arch, topo_arch_name(a)) == 0) {
			h->arch = a;
			h->arch_known = true;
			return 0;
		}
	return err_set(e, EINVAL, "\"%s\" is not x86_64 or aarch64", arch);
}

int accel_describe_kvm(struct accel_host *h, const char *kvm, struct err *e)
{
	static const struct { const char *word; bool dev; int err; bool pvm; } hosts[] = {
		{ "ok", true, 0, false },
		{ "pvm-only", true, 0, true },
		{ "absent", false, ENOENT, false },
		{ "denied", true, EACCES, false },
	};

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		if (strcmp(kvm, hosts[i].word) == 0) {
			h->kvm_dev = hosts[i].dev;
			h->kvm_errno = hosts[i].err;
			h->kvm_pvm_only = hosts[i].pvm;
			return 0;
		}
	return err_set(e, EINVAL, "\"%s\" is not ok, pvm-only, absent or denied", kvm);
}

/* Why KVM cannot run a guest of arch, or NULL when it can. */
static const char *kvm_unusable(const struct accel_host *h, enum topo_arch arch,
				char *buf, size_t size)
{
	if (!h->arch_known || h->arch != arch) {
		snprintf(buf, size, "%s guest on a different host arch", topo_arch_name(arch));
		return buf;
	}
	if (!h->kvm_dev)
		return "/dev/kvm is absent";
	if (h->kvm_pvm_only)
		return "/dev/kvm is PVM-only (kvm_pvm): ordinary guest kernels hang under it";
	if (h->kvm_errno) {
		snprintf(buf, size, "/dev/kvm: %s", strerror(h->kvm_errno));
		return buf;
	}
	return NULL;
}

int accel_decide(const struct accel_host *h, enum topo_arch arch,
		 enum topo_accel want, struct accel_choice *out)
{
	char buf[sizeof(out->reason)];
	const char *why;

	memset(out, 0, sizeof(*out));
	if (want == TOPO_ACCEL_TCG) {
		snprintf(out->reason, sizeof(out->reason), "accel=tcg");
		return 0;
	}
	why = kvm_unusable(h, arch, buf, sizeof(buf));
	if (why) {
		snprintf(out->reason, sizeof(out->reason), "%s", why);
		return want == TOPO_ACCEL_KVM ? -ENODEV : 0;
	}
	out->kvm = true;
	return 0;
}

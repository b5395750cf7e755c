/* checks.c - everything that can fail is found before anything starts, and
 * `--check` prints the plan a start would run.
 *
 * Problems are reported all in one pass, then n3x-launch exits 2.  A
 * problem tied to a line of the topology reads like the parser's own
 * ("FILE:LINE: ..."), without the program prefix.
 *
 * The plan depends on the host (KVM or TCG, the OVS datapath), so --check
 * can be told what host to assume instead of probing this one: N3X_PROBE_ARCH,
 * N3X_PROBE_KVM and N3X_PROBE_OVS_DATAPATH (README, "--check").  A start
 * always probes: its VMs run here.
 */
#include "launcher/supervisor_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "launcher/argv.h"
#include "launcher/disks.h"
#include "launcher/impair.h"
#include "launcher/partition.h"
#include "launcher/qemuuser.h"
#include "net/ovsd.h"

static int check_only(const struct topology *t, const char *only)
{
	int bad = 0;

	for (const char *p = only; p && *p;) {
		const char *e = strchrnul(p, ',');
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)(e - p), p);
		if (!topo_find_vm(t, name)) {
			log_line("--only: no VM named \"%s\" in %s", name, t->path);
			bad++;
		}
		p = *e ? e + 1 : e;
	}
	return bad;
}

static const char *firmware_name(enum topo_firmware f)
{
	return f == TOPO_FIRMWARE_BIOS ? "bios" : f == TOPO_FIRMWARE_UEFI ? "uefi" : "none";
}

/* UEFI's code and variable template come from a distribution package; a
 * missing one would only show as a failed copy or a QEMU error at start. */
static int check_firmware(const struct topology *t, const struct topo_vm *vm)
{
	bool x86 = vm->arch == TOPO_ARCH_X86_64;
	const char *files[] = { x86 ? OVMF_CODE : AAVMF_CODE, x86 ? OVMF_VARS : AAVMF_VARS };

	if (vm->firmware != TOPO_FIRMWARE_UEFI)
		return 0;
	for (int i = 0; i < 2; i++) {
		if (access(files[i], R_OK) == 0)
			continue;
		log_plain("%s:%d: vm %s: firmware uefi needs %s (Debian package %s): %s", t->path, vm->line,
			  vm->name, files[i], x86 ? "ovmf" : "qemu-efi-aarch64", strerror(errno));
		return 1;
	}
	return 0;
}

/* The files QEMU opens by path, as QEMU_USER will: a base image, kernel or
 * initrd in a directory only root can enter would only show as QEMU's own
 * error at start.  (The parser found each readable by the supervisor.) */
static int check_readable(const struct topology *t, const struct qemu_user *u, const char *only)
{
	enum { PER_VM = 3 };
	const char **paths = calloc((size_t)t->nvms * PER_VM + 1, sizeof(*paths));
	int *modes = calloc((size_t)t->nvms * PER_VM + 1, sizeof(*modes));
	int *errs = calloc((size_t)t->nvms * PER_VM + 1, sizeof(*errs));
	const struct topo_vm **owner = calloc((size_t)t->nvms * PER_VM + 1, sizeof(*owner));
	int n = 0, bad = 0, r;

	if (!paths || !modes || !errs || !owner) {
		log_line("out of memory");
		bad = 1;
		goto out;
	}
	for (int i = 0; i < t->nvms; i++) {
		const struct topo_vm *vm = &t->vms[i];
		const char *files[PER_VM] = { vm->disk, vm->kernel, vm->initrd };

		if (!topo_selected(only, vm->name))
			continue;
		for (int k = 0; k < PER_VM; k++) {
			if (!files[k])
				continue;
			paths[n] = files[k];
			modes[n] = R_OK;
			owner[n++] = vm;
		}
	}
	if ((r = qemu_user_access(u, paths, modes, n, errs)) < 0) {
		log_line("cannot test what the user " QEMU_USER " can read: %s", strerror(-r));
		bad = 1;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (!errs[i])
			continue;
		log_plain("%s:%d: vm %s: QEMU runs as %s, which cannot read %s: %s (it needs read access to "
			  "the file and search access to every directory above it)", t->path, owner[i]->line,
			  owner[i]->name, u->uid ? QEMU_USER : "this user", paths[i], strerror(errs[i]));
		bad++;
	}
out:
	free(paths);
	free(modes);
	free(errs);
	free(owner);
	return bad;
}

/* Accel, firmware and socket paths: per VM, reported as FILE:LINE like the parser. */
static int check_vms(const struct topology *t, const struct accel_host *host, const char *only,
		     struct accel_choice *choices)
{
	int bad = 0;

	for (int i = 0; i < t->nvms; i++) {
		const struct topo_vm *vm = &t->vms[i];
		char sock[PATHS_MAX + 32];

		if (!topo_selected(only, vm->name))
			continue;
		if (accel_decide(host, vm->arch, vm->accel, &choices[i]) < 0) {
			log_plain("%s:%d: vm %s: accel=kvm is not usable here: %s (use accel=auto or tcg)",
				  t->path, vm->line, vm->name, choices[i].reason);
			bad++;
		}
		bad += check_firmware(t, vm);
		snprintf(sock, sizeof(sock), "%s/vm/%s/console.sock", sup.run, vm->name);
		if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			log_plain("%s:%d: vm %s: socket path %s is too long for a unix socket "
				  "(set XDG_RUNTIME_DIR to a shorter directory)", t->path, vm->line, vm->name, sock);
			bad++;
		}
	}
	return bad;
}

/* The host --check plans for: this one, or the one N3X_PROBE_* describe. */
static int probe(bool check, const struct qemu_user *u, struct accel_host *accel, bool *ovs_userspace)
{
	const char *arch = check ? getenv("N3X_PROBE_ARCH") : NULL;
	const char *kvm = check ? getenv("N3X_PROBE_KVM") : NULL;
	const char *dp = check ? getenv("N3X_PROBE_OVS_DATAPATH") : NULL;
	int bad = 0;
	struct err e;

	accel_probe(accel);
	/* KVM is QEMU's to open: root's access says nothing for QEMU_USER
	 * (/dev/kvm's group is kvm where udev set it up). */
	if (!accel->kvm_errno && accel->kvm_dev) {
		static const char *const kvm[] = { "/dev/kvm" };
		static const int rw[] = { R_OK | W_OK };
		int err = 0;

		if (qemu_user_access(u, kvm, rw, 1, &err) < 0)
			err = EPERM;
		accel->kvm_errno = err;
	}
	if (arch && accel_describe_arch(accel, arch, &e) < 0) {
		err_wrap(&e, "N3X_PROBE_ARCH");
		log_line("%s", e.msg);
		bad++;
	}
	if (kvm && accel_describe_kvm(accel, kvm, &e) < 0) {
		err_wrap(&e, "N3X_PROBE_KVM");
		log_line("%s", e.msg);
		bad++;
	}
	if (dp && strcmp(dp, "system") != 0 && strcmp(dp, "netdev") != 0) {
		log_line("N3X_PROBE_OVS_DATAPATH: \"%s\" is not system or netdev", dp);
		bad++;
	}
	/* Without the kernel module, a private OVS runs the userspace datapath. */
	if (check)
		*ovs_userspace = dp ? strcmp(dp, "netdev") == 0 : ovsd_kernel_datapath() != 1;
	return bad;
}

bool sup_needs_fabric(const struct topology *t)
{
	/* Networks without a VM on them still get built: the host side is usable. */
	return t->nnetworks > 0;
}

int sup_check(const struct sup_options *opt, struct sup_host *host, struct accel_choice **choices)
{
	struct topology *t = sup.topo;
	struct qemu_user user;
	struct err e;
	int bad;

	sup.profile = opt->profile ? opt->profile : t->fabric.profile;
	if (strcmp(sup.profile, "default") != 0 && !topo_find_profile(t, sup.profile)) {
		log_line("--profile: no profile \"%s\" in %s", sup.profile, t->path);
		return 2;
	}
	if (paths_run_dir(t->fabric.name, sup.run, sizeof(sup.run)) < 0 ||
	    paths_state_dir(t->fabric.name, sup.state, sizeof(sup.state)) < 0 ||
	    paths_join(sup.control_path, sizeof(sup.control_path), "%s/control.sock", sup.run) < 0 ||
	    paths_join(sup.pid_path, sizeof(sup.pid_path), "%s/launcher.pid", sup.run) < 0) {
		log_line("runtime directory path too long");
		return 2;
	}
	/* As root, an XDG_* another user controls would let them point our
	 * files anywhere.  --check creates nothing, so it plans on. */
	if (!opt->check && paths_check_env(&e) < 0) {
		log_line("%s", e.msg);
		return 2;
	}
	if (qemu_user_lookup(&user, &e) < 0) {
		log_line("%s", e.msg);
		return 2;
	}
	qemu_user_set(&user);
	if (probe(opt->check, &user, &host->accel, &host->ovs_userspace))
		return 2;
	*choices = calloc(t->nvms + 1, sizeof(**choices));
	if (!*choices) {
		log_line("out of memory");
		return 2;
	}
	bad = check_only(t, opt->only) + check_vms(t, &host->accel, opt->only, *choices) +
	      check_readable(t, &user, opt->only) +
	      fabric_check(t, stderr) + (impair_check(t, stderr) < 0) + (partition_check(t, stderr) < 0);
	if (bad)
		return 2;
	/* Resolving the profile touches no link, and a rule this kernel cannot
	 * run (netem) is found before anything starts. */
	if (sup_needs_fabric(t) && (impair_open(t, sup.profile, &e) < 0 || partition_open(t, &e) < 0)) {
		log_line("%s", e.msg);
		return 2;
	}
	return 0;
}

int sup_print_plan(const char *only, const struct sup_host *host, const struct accel_choice *choices)
{
	const struct topology *t = sup.topo;
	struct err e;
	int rc = 0;

	printf("# n3x-launch plan for %s: fabric %s, profile %s%s%s\n", t->path, t->fabric.name, sup.profile,
	       t->fabric.schedule ? ", schedule " : "", t->fabric.schedule ? t->fabric.schedule : "");
	printf("# run %s, state %s\n", sup.run, sup.state);
	for (int i = 0; i < t->nvms; i++) {
		const struct topo_vm *vm = &t->vms[i];
		struct vm_plan plan;
		struct plan_env d = { .ovs_userspace = host->ovs_userspace };
		char ready[ERR_MSG_MAX / 2];

		if (!topo_selected(only, vm->name))
			continue;
		paths_join(d.run, sizeof(d.run), "%s/vm/%s", sup.run, vm->name);
		paths_join(d.state, sizeof(d.state), "%s/vm/%s", sup.state, vm->name);
		if (plan_build(vm, &choices[i], &d, &plan) < 0) {
			plan_free(&plan);
			log_line("out of memory");
			return 1;
		}
		/* What the start would refuse (a changed base, a damaged
		 * overlay) is found here too: the plan is printed, the run fails. */
		if (disks_verify(&plan, &e) < 0) {
			log_line("vm %s: %s", vm->name, e.msg);
			rc = 2;
		}
		sup_ready_describe(vm, ready, sizeof(ready));
		printf("\n# vm %s: %s, %s%s%s%s, firmware=%s, restart=%s, autostart=%s, ready=%s\n", vm->name,
		       topo_arch_name(vm->arch), choices[i].kvm ? "kvm" : "tcg",
		       choices[i].reason[0] ? " (" : "", choices[i].reason, choices[i].reason[0] ? ")" : "",
		       firmware_name(vm->firmware), vm->restart == TOPO_RESTART_NO ? "no" :
		       vm->restart == TOPO_RESTART_ALWAYS ? "always" : "on-failure",
		       vm->autostart ? "yes" : "no", ready);
		plan_print(&plan, stdout);
		plan_free(&plan);
	}
	if (sup_needs_fabric(t))
		fabric_print_plan(t, only, stdout);
	return rc;
}

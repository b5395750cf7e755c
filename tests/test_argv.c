/* test_argv.c - the QEMU plan per arch, accel and boot mode, against golden
 * files in tests/data/argv (diffed exactly), and the accel decision. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/accel.h"
#include "launcher/argv.h"
#include "tests/golden.h"

static const struct plan_env dirs = {
	.run = "/run/n3x/demo/vm/t",
	.state = "/var/lib/n3x/demo/vm/t",
};

static struct topo_vm base_vm(enum topo_arch arch)
{
	struct topo_vm vm = {
		.name = "t", .arch = arch, .memory_mib = 512, .vcpus = 2,
		.restart = TOPO_RESTART_NO, .autostart = true, .stop_timeout_s = 30,
	};
	return vm;
}

static void check_golden(const struct topo_vm *vm, bool kvm, const char *name)
{
	struct accel_choice ac = { .kvm = kvm };
	struct vm_plan plan;
	char *got = NULL, path[512];
	size_t len = 0;
	FILE *out = open_memstream(&got, &len);

	cr_assert_eq(plan_build(vm, &ac, &dirs, &plan), 0);
	plan_print(&plan, out);
	fclose(out);
	plan_free(&plan);
	snprintf(path, sizeof(path), "%s/argv/%s.plan", TEST_DATA, name);
	golden_expect(path, got, len);
	free(got);
}

Test(argv, x86_64_tcg_kernel_boot)
{
	struct topo_vm vm = base_vm(TOPO_ARCH_X86_64);

	vm.kernel = "/img/vmlinuz";
	vm.initrd = "/img/initrd.img";
	vm.append = "console=ttyS0 quiet";
	vm.firmware = TOPO_FIRMWARE_BIOS;
	check_golden(&vm, false, "x86_64-tcg-kernel");
}

Test(argv, x86_64_kvm_disk_boot_with_data_disk)
{
	struct topo_vm vm = base_vm(TOPO_ARCH_X86_64);

	vm.disk = "/img/base image.qcow2"; /* not there: taken as raw */
	vm.data_disk_bytes = 10ULL << 30;
	vm.firmware = TOPO_FIRMWARE_BIOS;
	check_golden(&vm, true, "x86_64-kvm-disk");
}

/* OVMF's 4M pair on q35, as aarch64 has AAVMF: the code read-only, the
 * variables a per-VM copy made before QEMU starts. */
Test(argv, x86_64_tcg_uefi_disk_boot)
{
	struct topo_vm vm = base_vm(TOPO_ARCH_X86_64);

	vm.disk = "/img/debian-gpt.qcow2";
	vm.firmware = TOPO_FIRMWARE_UEFI;
	check_golden(&vm, false, "x86_64-tcg-uefi");
}

Test(argv, x86_64_ephemeral_overlay_is_always_recreated)
{
	struct topo_vm vm = base_vm(TOPO_ARCH_X86_64);
	struct accel_choice ac = { 0 };
	struct vm_plan plan;

	vm.disk = "/img/base.qcow2";
	vm.disk_mode = TOPO_DISK_EPHEMERAL;
	cr_assert_eq(plan_build(&vm, &ac, &dirs, &plan), 0);
	cr_assert_eq(plan.nsteps, 2);
	cr_expect(plan.steps[0].always);
	cr_expect_str_eq(plan.steps[0].creates, "/var/lib/n3x/demo/vm/t/overlay.qcow2");
	/* The snapshots' state image is kept, as any persistent disk. */
	cr_expect_not(plan.steps[1].always);
	cr_expect_str_eq(plan.steps[1].creates, "/var/lib/n3x/demo/vm/t/state.qcow2");
	cr_expect_str_eq(plan.steps[1].node, PLAN_NODE_STATE);
	plan_free(&plan);
}

Test(argv, aarch64_tcg_kernel_boot)
{
	struct topo_vm vm = base_vm(TOPO_ARCH_AARCH64);
	struct topo_nic nics[2] = {
		{ .index = 0, .network = "lan", .mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x10 } },
		{ .index = 1, .network = "lan", .mac = { 0x52, 0x54, 0, 0x12, 0x34, 0x11 }, .nvlans = 1, .vlans = { 100 } },
	};

	vm.nics = nics; /* taps at fds 6 and 7, after serial, monitor and agent */
	vm.nnics = 2;
	vm.kernel = "/img/a/vmlinuz";
	vm.initrd = "/img/a/initrd.img";
	vm.append = "console=ttyAMA0";
	vm.firmware = TOPO_FIRMWARE_NONE; /* direct kernel boot: no AAVMF */
	check_golden(&vm, false, "aarch64-tcg-kernel");
}

Test(argv, aarch64_tcg_uefi_disk_boot)
{
	struct topo_vm vm = base_vm(TOPO_ARCH_AARCH64);

	vm.disk = "/img/jetson.qcow2";
	vm.firmware = TOPO_FIRMWARE_UEFI;
	check_golden(&vm, false, "aarch64-tcg-uefi");
}

/* The index of arg in the argv, or -1. */
static int argv_find(const struct vm_plan *plan, const char *arg)
{
	for (size_t i = 0; i < plan->qemu.n; i++)
		if (strcmp(plan->qemu.v[i], arg) == 0)
			return (int)i;
	return -1;
}

/* Every VM, whatever it boots, gets the agent's port on fd 5; the taps
 * follow it; pflash only with UEFI. */
Test(argv, agent_port_and_firmware_per_branch)
{
	static const struct {
		enum topo_arch arch;
		bool kernel;
		enum topo_firmware fw;
		const char *code, *vars;
	} cases[] = {
		{ TOPO_ARCH_X86_64, false, TOPO_FIRMWARE_BIOS, NULL, NULL },
		{ TOPO_ARCH_X86_64, true, TOPO_FIRMWARE_BIOS, NULL, NULL },
		{ TOPO_ARCH_X86_64, false, TOPO_FIRMWARE_UEFI, OVMF_CODE, OVMF_VARS },
		{ TOPO_ARCH_AARCH64, false, TOPO_FIRMWARE_UEFI, AAVMF_CODE, AAVMF_VARS },
		{ TOPO_ARCH_AARCH64, true, TOPO_FIRMWARE_NONE, NULL, NULL },
	};
	struct topo_nic nic = { .index = 0, .network = "lan", .mac = { 0x52, 0x54, 0, 1, 2, 3 } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct topo_vm vm = base_vm(cases[i].arch);
		struct accel_choice ac = { 0 };
		struct vm_plan plan;
		char code[128];
		int at;

		vm.firmware = cases[i].fw;
		vm.nics = &nic;
		vm.nnics = 1;
		if (cases[i].kernel)
			vm.kernel = "/img/vmlinuz";
		else
			vm.disk = "/img/disk.qcow2";
		cr_assert_eq(plan_build(&vm, &ac, &dirs, &plan), 0);
		at = argv_find(&plan, "socket,id=ga0,fd=5,server=on,wait=off");
		cr_expect_gt(at, 0, "case %zu: no agent chardev", i);
		cr_expect_eq(argv_find(&plan, "virtio-serial-pci,id=vser0"), at + 2, "case %zu", i);
		cr_expect_eq(argv_find(&plan, "virtserialport,bus=vser0.0,chardev=ga0,"
					      "name=org.qemu.guest_agent.0,id=ga0port"), at + 4, "case %zu", i);
		cr_expect_gt(argv_find(&plan, "tap,id=net0,fd=8"), 0, "case %zu: the tap follows the sockets", i);
		snprintf(code, sizeof(code), "if=pflash,format=raw,unit=0,readonly=on,file=%s",
			 cases[i].code ? cases[i].code : "");
		if (cases[i].code) {
			cr_expect_gt(argv_find(&plan, code), 0, "case %zu: no %s", i, cases[i].code);
			cr_expect_gt(argv_find(&plan, "if=pflash,format=raw,unit=1,file=/var/lib/n3x/demo/vm/t/efivars.fd"),
				     0, "case %zu", i);
			cr_expect_str_eq(plan.steps[plan.nsteps - 2].copy_from, cases[i].vars, "case %zu", i);
		} else {
			for (size_t k = 0; k < plan.qemu.n; k++)
				cr_expect_null(strstr(plan.qemu.v[k], "pflash"), "case %zu: %s", i, plan.qemu.v[k]);
			for (int k = 0; k < plan.nsteps; k++)
				cr_expect_null(plan.steps[k].copy_from, "case %zu", i);
		}
		plan_free(&plan);
	}
}

Test(argv, qcow2_base_is_detected_for_the_backing_format)
{
	struct topo_vm vm = base_vm(TOPO_ARCH_X86_64);
	struct accel_choice ac = { 0 };
	char tmpl[] = "/tmp/n3x-argv-XXXXXX";
	int fd = mkstemp(tmpl);
	struct vm_plan plan;

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "QFI\xfb\0\0\0\3", 8), 8);
	close(fd);
	vm.disk = tmpl;
	cr_assert_eq(plan_build(&vm, &ac, &dirs, &plan), 0);
	unlink(tmpl);
	cr_expect_str_eq(plan.steps[0].argv.v[6], "qcow2");
	plan_free(&plan);
}

Test(argv, quoting)
{
	char *q = strv_quote("it's a test");

	cr_expect_str_eq(q, "'it'\\''s a test'");
	free(q);
	q = strv_quote("plain,value=1");
	cr_expect_str_eq(q, "plain,value=1");
	free(q);
	q = strv_quote("");
	cr_expect_str_eq(q, "''");
	free(q);
}

static const struct accel_host x86_hw = { .arch = TOPO_ARCH_X86_64, .arch_known = true, .kvm_dev = true };

Test(accel, auto_uses_kvm_for_the_host_arch)
{
	struct accel_choice c;

	cr_assert_eq(accel_decide(&x86_hw, TOPO_ARCH_X86_64, TOPO_ACCEL_AUTO, &c), 0);
	cr_expect(c.kvm);
	cr_expect_str_eq(c.reason, "");
}

Test(accel, auto_falls_back_to_tcg_with_a_reason)
{
	struct accel_host pvm = x86_hw, none = x86_hw, denied = x86_hw;
	struct accel_choice c;

	pvm.kvm_pvm_only = true;
	none.kvm_dev = false;
	denied.kvm_errno = EACCES;
	cr_assert_eq(accel_decide(&x86_hw, TOPO_ARCH_AARCH64, TOPO_ACCEL_AUTO, &c), 0);
	cr_expect(!c.kvm);
	cr_expect_str_eq(c.reason, "aarch64 guest on a different host arch");
	cr_assert_eq(accel_decide(&pvm, TOPO_ARCH_X86_64, TOPO_ACCEL_AUTO, &c), 0);
	cr_expect(!c.kvm);
	cr_expect_str_eq(c.reason, "/dev/kvm is PVM-only (kvm_pvm): ordinary guest kernels hang under it");
	cr_assert_eq(accel_decide(&none, TOPO_ARCH_X86_64, TOPO_ACCEL_AUTO, &c), 0);
	cr_expect_str_eq(c.reason, "/dev/kvm is absent");
	cr_assert_eq(accel_decide(&denied, TOPO_ARCH_X86_64, TOPO_ACCEL_AUTO, &c), 0);
	cr_expect_str_eq(c.reason, "/dev/kvm: Permission denied");
}

Test(accel, explicit_kvm_that_cannot_work_is_an_error)
{
	struct accel_host pvm = x86_hw;
	struct accel_choice c;

	pvm.kvm_pvm_only = true;
	cr_expect_eq(accel_decide(&pvm, TOPO_ARCH_X86_64, TOPO_ACCEL_KVM, &c), -ENODEV);
	cr_expect_eq(accel_decide(&x86_hw, TOPO_ARCH_X86_64, TOPO_ACCEL_KVM, &c), 0);
	cr_expect(c.kvm);
	cr_expect_eq(accel_decide(&x86_hw, TOPO_ARCH_X86_64, TOPO_ACCEL_TCG, &c), 0);
	cr_expect(!c.kvm);
}

/* --check's described host (N3X_PROBE_*): each word gives the branch the
 * probe of such a host would. */
Test(accel, described_hosts_take_each_branch)
{
	struct accel_host h = { 0 };
	struct accel_choice c;
	struct err e = { 0 };

	cr_assert_eq(accel_describe_arch(&h, "x86_64", &e), 0);
	cr_assert_eq(accel_describe_kvm(&h, "ok", &e), 0);
	cr_assert_eq(accel_decide(&h, TOPO_ARCH_X86_64, TOPO_ACCEL_AUTO, &c), 0);
	cr_expect(c.kvm);
	cr_assert_eq(accel_describe_kvm(&h, "pvm-only", &e), 0);
	accel_decide(&h, TOPO_ARCH_X86_64, TOPO_ACCEL_AUTO, &c);
	cr_expect_str_eq(c.reason, "/dev/kvm is PVM-only (kvm_pvm): ordinary guest kernels hang under it");
	cr_assert_eq(accel_describe_kvm(&h, "absent", &e), 0);
	accel_decide(&h, TOPO_ARCH_X86_64, TOPO_ACCEL_AUTO, &c);
	cr_expect_str_eq(c.reason, "/dev/kvm is absent");
	cr_assert_eq(accel_describe_kvm(&h, "denied", &e), 0);
	accel_decide(&h, TOPO_ARCH_X86_64, TOPO_ACCEL_AUTO, &c);
	cr_expect_str_eq(c.reason, "/dev/kvm: Permission denied");
	cr_assert_eq(accel_describe_arch(&h, "aarch64", &e), 0);
	cr_assert_eq(accel_describe_kvm(&h, "ok", &e), 0);
	accel_decide(&h, TOPO_ARCH_X86_64, TOPO_ACCEL_AUTO, &c);
	cr_expect_str_eq(c.reason, "x86_64 guest on a different host arch");
	cr_expect(!err_is_set(&e));
}

Test(accel, unknown_descriptions_are_refused)
{
	struct accel_host h = { 0 };
	struct err e = { 0 };

	cr_expect_eq(accel_describe_kvm(&h, "maybe", &e), -EINVAL);
	cr_expect_str_eq(e.msg, "\"maybe\" is not ok, pvm-only, absent or denied");
	cr_expect_eq(accel_describe_arch(&h, "sparc", &e), -EINVAL);
	cr_expect_str_eq(e.msg, "\"sparc\" is not x86_64 or aarch64");
}

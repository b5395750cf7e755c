/* test_snapmeta.c - what a snapshot remembers of each VM, and the one line
 * that refuses a load into a VM that changed since. */
#include <criterion/criterion.h>
#include <string.h>

#include "launcher/snapmeta.h"

static struct topo_nic nics[2];
static struct topo_vm vm;

static void setup(void)
{
	memset(nics, 0, sizeof(nics));
	nics[0] = (struct topo_nic){ .index = 0, .network = "lan", .mac = { 0x52, 0x54, 0, 0x12, 0x34, 1 } };
	nics[1] = (struct topo_nic){ .index = 1, .network = "mgmt", .mac = { 0x52, 0x54, 0, 0x12, 0x35, 1 } };
	vm = (struct topo_vm){
		.name = "n100-1", .arch = TOPO_ARCH_X86_64, .memory_mib = 4096, .vcpus = 2,
		.disk = "/img/debian.qcow2", .data_disk_bytes = 10ull << 30, .firmware = TOPO_FIRMWARE_BIOS,
		.nnics = 1, .nics = nics,
	};
}

TestSuite(snapmeta, .init = setup);

/* The refusal for a change made by f, against the fingerprint before it. */
static void refused(void (*f)(void), const char *msg)
{
	json_t *was = snapmeta_fingerprint(&vm), *now;
	struct err e = { 0 };

	cr_assert_not_null(was);
	f();
	now = snapmeta_fingerprint(&vm);
	cr_assert_not_null(now);
	cr_assert_lt(snapmeta_diff("base", "n100-1", was, now, &e), 0);
	cr_assert_str_eq(e.msg, msg);
	json_decref(was);
	json_decref(now);
}

static void less_memory(void) { vm.memory_mib = 2048; }
static void more_vcpus(void) { vm.vcpus = 4; }
static void bigger_data_disk(void) { vm.data_disk_bytes = 20ull << 30; }
static void kernel_boot(void) { vm.kernel = "/img/vmlinuz"; }
static void a_nic_added(void) { vm.nnics = 2; }
static void mac_changed(void) { nics[0].mac[5] = 9; }
static void uefi(void) { vm.firmware = TOPO_FIRMWARE_UEFI; }

Test(snapmeta, the_same_vm_fits)
{
	json_t *a = snapmeta_fingerprint(&vm), *b = snapmeta_fingerprint(&vm);
	struct err e = { 0 };

	cr_assert_eq(snapmeta_diff("base", "n100-1", a, b, &e), 0);
	json_decref(a);
	json_decref(b);
}

Test(snapmeta, each_change_is_named_once)
{
	refused(less_memory, "snapshot base: n100-1 memory is 2048 MiB, was 4096 MiB when saved");
	setup();
	refused(more_vcpus, "snapshot base: n100-1 vcpus is 4, was 2 when saved");
	setup();
	refused(bigger_data_disk, "snapshot base: n100-1 data-disk is 20480 MiB, was 10240 MiB when saved");
	setup();
	refused(kernel_boot, "snapshot base: n100-1 kernel is /img/vmlinuz, was none when saved");
	setup();
	refused(a_nic_added, "snapshot base: n100-1 has 2 NICs, had 1 when saved");
	setup();
	refused(mac_changed, "snapshot base: n100-1 NIC 0 is lan 52:54:00:12:34:09, was lan 52:54:00:12:34:01 "
		"when saved");
	setup();
	refused(uefi, "snapshot base: n100-1 firmware is uefi, was bios when saved");
}

Test(snapmeta, names)
{
	char long_name[70];

	cr_assert(snapmeta_name_ok("booted"));
	cr_assert(snapmeta_name_ok("k3s-1.29_ready.v2"));
	cr_assert_not(snapmeta_name_ok(""));
	cr_assert_not(snapmeta_name_ok(NULL));
	cr_assert_not(snapmeta_name_ok("a/b"));
	cr_assert_not(snapmeta_name_ok("../x"));
	cr_assert_not(snapmeta_name_ok("with space"));
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	cr_assert(snapmeta_name_ok(long_name));
	long_name[64] = 'a';
	long_name[65] = '\0';
	cr_assert_not(snapmeta_name_ok(long_name));
}

/* test_topology.c - topology.conf parsing: valid files field by field, and
 * golden error files (NAME.conf + NAME.err, the exact expected output) in the
 * style of vmd's regress/usr.sbin/vmd/config.
 *
 * Every test runs in TEST_DATA/topology with a relative file name, so the
 * messages do not depend on where the tree is checked out, and with $PATH set
 * to a temporary directory of fake QEMU binaries, so they do not depend on
 * what the host has installed.  N3X_REGEN_GOLDEN=1 rewrites the .err files
 * from the current output (review the diff before committing it).
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/topology.h"
#include "tests/golden.h"

#define DATA TEST_DATA "/topology"
#define MIB (1024ULL * 1024)

static char bindir[] = "/tmp/test-topology-XXXXXX";
static char path_x86[64], path_arm[64];

static void fake_qemu(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
	close(fd);
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(bindir));
	snprintf(path_x86, sizeof(path_x86), "%s/qemu-system-x86_64", bindir);
	snprintf(path_arm, sizeof(path_arm), "%s/qemu-system-aarch64", bindir);
	fake_qemu(path_x86);
	fake_qemu(path_arm);
	setenv("PATH", bindir, 1);
	cr_assert_eq(chdir(DATA), 0, "%s: %s", DATA, strerror(errno));
}

static void teardown(void)
{
	unlink(path_x86);
	unlink(path_arm);
	rmdir(bindir);
}

TestSuite(topology, .init = setup, .fini = teardown);

/* topo_load(path) with its messages in *msgs (caller frees). */
static int load(const char *path, struct topology **t, char **msgs)
{
	size_t len;
	FILE *err = open_memstream(msgs, &len);
	int r;

	cr_assert_not_null(err);
	r = topo_load(path, err, t);
	fclose(err);
	return r;
}

static struct topology *load_ok(const char *path)
{
	struct topology *t;
	char *msgs;
	int r = load(path, &t, &msgs);

	cr_assert_eq(r, 0, "%s: topo_load returned %d:\n%s", path, r, msgs);
	cr_assert_str_empty(msgs, "%s: output on success:\n%s", path, msgs);
	cr_assert_not_null(t);
	free(msgs);
	return t;
}

static const char *ip(struct in_addr a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static const char *mac(const struct topo_nic *nic, char *buf)
{
	return topo_format_mac(nic->mac, buf);
}

static char *in_data(const char *rel)
{
	char *p;

	cr_assert_geq(asprintf(&p, "%s/%s", DATA, rel), 0);
	return p;
}

Test(topology, cluster_example)
{
	struct topology *t = load_ok("valid-cluster.conf");
	struct topo_network *lan = topo_find_network(t, "lan");
	struct topo_vm *vm;
	struct topo_profile *pr;
	char buf[64], *base = in_data("images/base.qcow2");

	cr_expect_str_eq(t->path, "valid-cluster.conf");
	cr_expect_str_eq(t->dir, DATA);
	cr_expect_str_eq(t->fabric.name, "n3x");
	cr_expect_not(t->fabric.netns_host);
	cr_expect_str_eq(t->fabric.profile, "constrained");
	cr_expect_eq(t->fabric.line, 2);

	cr_assert_eq(t->nnetworks, 1);
	cr_assert_not_null(lan);
	cr_expect_eq(lan->sw, TOPO_SWITCH_OVS);
	cr_expect_str_eq(lan->bridge, "ovsbr0");
	cr_expect_str_eq(lan->host_interface, "ovshost0");
	cr_expect(lan->has_address);
	cr_expect_str_eq(ip(lan->address, buf), "192.168.100.1");
	cr_expect_eq(lan->prefix, 24);
	cr_expect(lan->has_dhcp);
	cr_expect_str_eq(ip(lan->dhcp_start, buf), "192.168.100.100");
	cr_expect_str_eq(ip(lan->dhcp_end, buf), "192.168.100.200");
	cr_expect_str_eq(lan->dhcp_lease, "12h");
	cr_expect_str_eq(lan->domain, "local");
	cr_expect(lan->stp);
	cr_expect_eq(lan->line, 7);

	cr_assert_eq(t->nvms, 4);
	vm = &t->vms[0];
	cr_expect_str_eq(vm->name, "n100-1");
	cr_expect_eq(vm->arch, TOPO_ARCH_X86_64);
	cr_expect_eq(vm->accel, TOPO_ACCEL_AUTO);
	cr_expect_str_eq(vm->role, "k3s-server");
	cr_expect_eq(vm->memory_mib, 4096);
	cr_expect_eq(vm->vcpus, 2);
	cr_expect_str_eq(vm->disk, base);
	cr_expect_eq(vm->disk_mode, TOPO_DISK_PERSISTENT);
	cr_expect_eq(vm->data_disk_bytes, 10ULL << 30);
	cr_expect_null(vm->kernel);
	cr_expect_eq(vm->restart, TOPO_RESTART_ON_FAILURE);
	cr_expect(vm->autostart);
	cr_expect_eq(vm->stop_timeout_s, 30);
	cr_expect_eq(vm->firmware, TOPO_FIRMWARE_BIOS);
	cr_expect_eq(vm->ready, TOPO_READY_RUNNING);
	cr_expect_null(vm->ready_arg);
	cr_assert_eq(vm->nnics, 1);
	cr_expect_eq(vm->nics[0].index, 0);
	cr_expect_str_eq(vm->nics[0].network, "lan");
	cr_expect_eq(vm->nics[0].net, lan);
	cr_expect_str_eq(mac(&vm->nics[0], buf), "52:54:00:12:34:01");
	cr_expect_not(vm->nics[0].mac_derived);
	cr_expect(vm->nics[0].has_ip);
	cr_expect_str_eq(ip(vm->nics[0].ip, buf), "192.168.100.10");
	cr_expect_eq(vm->nics[0].nvlans, 0);
	cr_expect_eq(vm->nics[0].line, 25);

	cr_expect_eq(t->vms[1].memory_mib, 4096, "4G");
	cr_expect_eq(t->vms[1].restart, TOPO_RESTART_NO);
	cr_expect_eq(t->vms[2].memory_mib, 2048, "2048M");
	cr_expect_eq(t->vms[2].disk_mode, TOPO_DISK_EPHEMERAL);

	vm = topo_find_vm(t, "jetson-1");
	cr_assert_eq(vm, &t->vms[3]);
	cr_expect_eq(vm->arch, TOPO_ARCH_AARCH64);
	cr_expect_eq(vm->accel, TOPO_ACCEL_TCG);
	cr_expect_eq(vm->memory_mib, 2048, "2GiB");
	cr_expect_eq(vm->restart, TOPO_RESTART_ALWAYS);
	cr_expect_not(vm->autostart);
	cr_expect_eq(vm->stop_timeout_s, 120);
	cr_expect_eq(vm->firmware, TOPO_FIRMWARE_UEFI, "aarch64 disk boot");
	cr_expect_str_eq(ip(vm->nics[0].ip, buf), "192.168.100.20");

	cr_assert_eq(t->nprofiles, 2);
	pr = topo_find_profile(t, "constrained");
	cr_assert_not_null(pr);
	cr_assert_eq(pr->nrules, 3);
	cr_expect_str_eq(pr->rules[0].key, "n100-1");
	cr_expect_str_eq(pr->rules[0].rule, "rate 100mbit delay 5ms");
	cr_expect_eq(pr->rules[0].line, 57);
	cr_expect_str_eq(pr->rules[2].key, "jetson-1");
	pr = topo_find_profile(t, "lossy");
	cr_assert_not_null(pr);
	cr_assert_eq(pr->nrules, 2);
	cr_expect_str_eq(pr->rules[0].rule, "loss 0.1% delay 5ms jitter 2ms distribution normal");
	cr_expect_str_eq(pr->rules[1].key, "*");
	cr_expect_str_eq(pr->rules[1].rule, "loss 1%");
	cr_expect_null(topo_find_profile(t, "default"));
	cr_expect_null(topo_find_vm(t, "n100-4"));
	cr_expect_null(topo_find_network(t, "wan"));
	free(base);
	topo_free(t);
}

Test(topology, defaults_and_forms)
{
	struct topology *t = load_ok("valid-forms.conf");
	struct topo_network *lan, *mgmt;
	struct topo_vm *vm;
	struct topo_profile *pr;
	char buf[64], *kernel = in_data("vmlinuz-test"), *initrd = in_data("initrd-test");
	char *disk = in_data("disk-test.qcow2");

	/* No [fabric]: its defaults. */
	cr_expect_str_eq(t->fabric.name, "n3x");
	cr_expect_not(t->fabric.netns_host);
	cr_expect_str_eq(t->fabric.profile, "default");
	cr_expect_eq(t->fabric.line, 0);

	/* Only kernel given: every other default. */
	vm = topo_find_vm(t, "minimal");
	cr_assert_not_null(vm);
	cr_expect_eq(vm->arch, TOPO_ARCH_X86_64);
	cr_expect_eq(vm->accel, TOPO_ACCEL_AUTO);
	cr_expect_str_eq(vm->role, "");
	cr_expect_eq(vm->memory_mib, 1024);
	cr_expect_eq(vm->vcpus, 1);
	cr_expect_null(vm->disk);
	cr_expect_eq(vm->disk_mode, TOPO_DISK_PERSISTENT);
	cr_expect_eq(vm->data_disk_bytes, 0);
	cr_expect_str_eq(vm->kernel, kernel);
	cr_expect_null(vm->initrd);
	cr_expect_null(vm->append);
	cr_expect_eq(vm->nnics, 0);
	cr_expect_eq(vm->restart, TOPO_RESTART_NO);
	cr_expect(vm->autostart);
	cr_expect_eq(vm->stop_timeout_s, 30);
	cr_expect_eq(vm->line, 3);

	vm = topo_find_vm(t, "forms");
	cr_assert_not_null(vm);
	cr_expect_eq(vm->memory_mib, 512, "512M with a trailing ; comment");
	cr_expect_eq(vm->vcpus, 64);
	cr_expect_eq(vm->data_disk_bytes, 512 * MIB);
	cr_expect_eq(vm->stop_timeout_s, 1, "an indented key is a key, not a continuation");
	cr_expect_str_eq(vm->kernel, kernel, "./vmlinuz-test");
	cr_expect_str_eq(vm->initrd, initrd);
	cr_expect_str_eq(vm->disk, "/dev/null", "absolute paths are kept");
	cr_expect_eq(vm->accel, TOPO_ACCEL_KVM);
	cr_assert_not_null(vm->append);
	cr_expect_gt(strlen(vm->append), 200);
	cr_expect(!strncmp(vm->append, "console=ttyS0,115200 root=/dev/vda1 rw init=", 44), "%s", vm->append);
	cr_expect(strstr(vm->append, " opt19=v19,x panic=-1") && !strchr(vm->append, '\n'), "%s", vm->append);

	lan = topo_find_network(t, "lan");
	mgmt = topo_find_network(t, "mgmt");
	cr_assert(lan && mgmt);
	cr_assert_eq(vm->nnics, 4);
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(vm->nics[i].index, i);
		cr_expect_eq(vm->nics[i].net, i == 2 ? mgmt : lan);
	}
	/* untagged, derived MAC: pinned, guests' leases depend on it */
	cr_expect_eq(vm->nics[0].nvlans, 0);
	cr_expect_not(vm->nics[0].has_ip);
	cr_expect(vm->nics[0].mac_derived);
	cr_expect_str_eq(mac(&vm->nics[0], buf), "52:54:00:3d:03:3b");
	/* access port */
	cr_expect_eq(vm->nics[1].nvlans, 1);
	cr_expect_eq(vm->nics[1].vlans[0], 200);
	cr_expect_str_eq(ip(vm->nics[1].ip, buf), "10.1.2.3");
	cr_expect_str_eq(mac(&vm->nics[1], buf), "52:54:00:3d:01:a8");
	/* trunk, explicit MAC in mixed case */
	cr_expect_eq(vm->nics[2].nvlans, 3);
	cr_expect_eq(vm->nics[2].vlans[0], 100);
	cr_expect_eq(vm->nics[2].vlans[1], 200);
	cr_expect_eq(vm->nics[2].vlans[2], 4094);
	cr_expect_not(vm->nics[2].mac_derived);
	cr_expect_str_eq(mac(&vm->nics[2], buf), "02:00:00:ab:cd:ef");
	/* tabs around '=' and between words */
	cr_expect_str_eq(mac(&vm->nics[3], buf), "52:54:00:00:00:09");

	vm = topo_find_vm(t, "sizes");
	cr_assert_not_null(vm);
	cr_expect_eq(vm->memory_mib, 16, "bare number: MiB; 16 is the least");
	cr_expect_eq(vm->data_disk_bytes, 1ULL << 40);
	cr_expect_str_eq(vm->append, "quiet#not-a-comment", "'#' starts a comment only after a space");
	cr_expect_str_eq(mac(&vm->nics[0], buf), "52:54:00:cb:07:52");
	cr_expect_str_eq(ip(vm->nics[0].ip, buf), "172.16.0.254");

	vm = topo_find_vm(t, "lower");
	cr_assert_not_null(vm);
	cr_expect_eq(vm->memory_mib, 64, "65536k");
	cr_expect_eq(vm->data_disk_bytes, 3072, "3kib");
	cr_expect_str_eq(vm->disk, disk);

	/* Networks defined after the VMs that use them. */
	cr_expect_eq(lan->sw, TOPO_SWITCH_LINUX_BRIDGE);
	cr_expect_str_eq(lan->bridge, "br-lan");
	cr_expect_str_eq(lan->host_interface, "br-lan");
	cr_expect_eq(lan->prefix, 16);
	cr_expect_str_eq(ip(lan->dhcp_start, buf), "10.1.3.1");
	cr_expect_str_eq(ip(lan->dhcp_end, buf), "10.1.3.50");
	cr_expect_str_eq(lan->dhcp_lease, "12h");
	cr_expect_null(lan->domain);
	cr_expect_not(lan->stp);
	cr_expect_eq(mgmt->sw, TOPO_SWITCH_OVS);
	cr_expect_not(mgmt->has_dhcp);
	cr_expect(mgmt->stp);

	pr = topo_find_profile(t, "mixed");
	cr_assert_not_null(pr);
	cr_assert_eq(pr->nrules, 4);
	cr_expect_str_eq(pr->rules[0].key, "*");
	cr_expect_str_eq(pr->rules[1].key, "forms");
	cr_expect_str_eq(pr->rules[2].key, "forms/2");
	cr_expect_str_eq(pr->rules[2].rule, "to-vm: loss 1%");
	cr_expect_str_eq(pr->rules[3].key, "sizes/0");
	free(kernel);
	free(initrd);
	free(disk);
	topo_free(t);
}

/* firmware: bios on x86_64, uefi for an aarch64 disk, none for an aarch64
 * kernel unless asked; ready: each kind, with its argument as written. */
Test(topology, firmware_and_ready)
{
	struct topology *t = load_ok("valid-guest.conf");
	static const struct {
		const char *vm;
		enum topo_firmware fw;
		enum topo_ready ready;
		const char *arg;
	} want[] = {
		{ "x-default", TOPO_FIRMWARE_BIOS, TOPO_READY_RUNNING, NULL },
		{ "x-uefi", TOPO_FIRMWARE_UEFI, TOPO_READY_AGENT, NULL },
		{ "x-bios-kern", TOPO_FIRMWARE_BIOS, TOPO_READY_LEASE, NULL },
		{ "a-disk", TOPO_FIRMWARE_UEFI, TOPO_READY_CONSOLE, "login:\\s*$" },
		{ "a-kernel", TOPO_FIRMWARE_NONE, TOPO_READY_EXEC,
		  "systemctl is-active --quiet k3s && test -e /var/lib/rancher/k3s/server/node-token" },
		{ "a-kern-uefi", TOPO_FIRMWARE_UEFI, TOPO_READY_CONSOLE, "^(ok|ready) [0-9]+" },
	};

	cr_assert_eq(t->nvms, 6);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct topo_vm *vm = topo_find_vm(t, want[i].vm);

		cr_assert_not_null(vm, "%s", want[i].vm);
		cr_expect_eq(vm->firmware, want[i].fw, "%s: firmware %d", want[i].vm, vm->firmware);
		cr_expect_eq(vm->ready, want[i].ready, "%s: ready %d", want[i].vm, vm->ready);
		if (want[i].arg)
			cr_expect_str_eq(vm->ready_arg, want[i].arg, "%s", want[i].vm);
		else
			cr_expect_null(vm->ready_arg, "%s", want[i].vm);
	}
	topo_free(t);
}

Test(topology, derived_macs_are_stable)
{
	struct topology *a = load_ok("valid-forms.conf"), *b = load_ok("valid-forms.conf");
	struct topo_vm *x = topo_find_vm(a, "forms"), *y = topo_find_vm(b, "forms");

	for (int i = 0; i < x->nnics; i++)
		cr_expect_arr_eq(x->nics[i].mac, y->nics[i].mac, 6);
	cr_expect_arr_neq(x->nics[0].mac, x->nics[1].mac, 6);
	topo_free(a);
	topo_free(b);
}

Test(topology, empty_file)
{
	struct topology *t = load_ok("valid-empty.conf");

	cr_expect_eq(t->nvms + t->nnetworks + t->nprofiles, 0);
	cr_expect_str_eq(t->fabric.name, "n3x");
	topo_free(t);
}

Test(topology, absolute_file_name)
{
	struct topology *t;
	char *base = in_data("images/base.qcow2");

	cr_assert_eq(chdir("/"), 0); /* relative paths follow the file, not the cwd */
	t = load_ok(DATA "/valid-cluster.conf");

	cr_expect_str_eq(t->dir, DATA);
	cr_expect_str_eq(t->vms[0].disk, base);
	free(base);
	topo_free(t);
}

Test(topology, inih_options_restored)
{
	struct topology *t = load_ok("valid-forms.conf");

	topo_free(t);
	cr_expect_eq(ini_max_line, 200);
	cr_expect(ini_allow_multiline);
	cr_expect_str_eq(ini_inline_comment_prefixes, ";");
}

/* Every NAME.err: the exact output for NAME.conf. */
Test(topology, golden_errors)
{
	DIR *d = opendir(".");
	struct dirent *e;
	int ran = 0;

	cr_assert_not_null(d);
	unlink(path_arm); /* err-qemu.conf: only x86_64 can be found */
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char conf[256], *got;
		struct topology *t;
		int r;

		if (len < 5 || strcmp(e->d_name + len - 4, ".err"))
			continue;
		snprintf(conf, sizeof(conf), "%.*s.conf", (int)(len - 4), e->d_name);
		r = load(conf, &t, &got);
		cr_expect_eq(r, -EINVAL, "%s: topo_load returned %d", conf, r);
		cr_expect_null(t);
		golden_expect(e->d_name, got, strlen(got));
		free(got);
		ran++;
	}
	closedir(d);
	cr_expect_geq(ran, 9);
}

/* Each .conf is a valid-*.conf or has its .err: none goes untested. */
Test(topology, every_conf_has_a_verdict)
{
	DIR *d = opendir(".");
	struct dirent *e;

	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char err[256];

		if (len < 6 || strcmp(e->d_name + len - 5, ".conf") || !strncmp(e->d_name, "valid-", 6))
			continue;
		snprintf(err, sizeof(err), "%.*s.err", (int)(len - 5), e->d_name);
		cr_expect_eq(access(err, R_OK), 0, "%s has no %s", e->d_name, err);
	}
	closedir(d);
}

/* Write text to DIR/name in a new temporary directory dir (a mkdtemp template). */
static void temp_conf(char *dir, char *path, size_t size, const char *text)
{
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, size, "%s/test.conf", dir);
	f = fopen(path, "we");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void temp_conf_remove(const char *dir, const char *path)
{
	unlink(path);
	rmdir(dir);
}

Test(topology, bom_and_crlf)
{
	char dir[] = "/tmp/test-topology-XXXXXX", path[64], *real;
	struct topology *t;

	temp_conf(dir, path, sizeof(path),
		  "\xEF\xBB\xBF[vm x]\r\nkernel = /dev/null\r\nmemory = 2G\r\nrole = edge node # comment\r\n");
	t = load_ok(path);
	cr_assert_eq(t->nvms, 1);
	cr_expect_str_eq(t->vms[0].name, "x");
	cr_expect_eq(t->vms[0].memory_mib, 2048);
	cr_expect_str_eq(t->vms[0].role, "edge node");
	real = realpath(dir, NULL);
	cr_expect_str_eq(t->dir, real, "/tmp may be a symlink: the directory is resolved");
	free(real);
	topo_free(t);
	temp_conf_remove(dir, path);
}

/* Past inih's line buffer: one message, and the next line keeps its number. */
Test(topology, line_too_long)
{
	char dir[] = "/tmp/test-topology-XXXXXX", path[64], want[256], text[5100], *got;
	struct topology *t;
	int n = snprintf(text, sizeof(text), "[vm x]\nkernel = /dev/null\nappend = ");

	memset(text + n, 'a', 5000);
	strcpy(text + n + 5000, "\nmemory = 4X\n");
	temp_conf(dir, path, sizeof(path), text);
	cr_expect_eq(load(path, &t, &got), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:3: line too long (more than 4093 characters)\n"
		 "%s:4: vm x: memory: bad size \"4X\" (use 4096, 512M or 4G)\n", path, path);
	cr_expect_str_eq(got, want);
	free(got);
	temp_conf_remove(dir, path);
}

Test(topology, unreadable_files)
{
	struct topology *t = (struct topology *)1;
	char *got;

	cr_expect_eq(load("no-such.conf", &t, &got), -ENOENT);
	cr_expect_str_eq(got, "no-such.conf: No such file or directory\n");
	cr_expect_null(t);
	free(got);
	cr_expect_eq(load("images", &t, &got), -EISDIR);
	cr_expect_str_eq(got, "images: Is a directory\n");
	free(got);
}

Test(topology, names_and_helpers)
{
	uint8_t m[6] = { 0x52, 0x54, 0x00, 0x0a, 0xbc, 0xff };
	char buf[18];

	cr_expect_str_eq(topo_arch_name(TOPO_ARCH_X86_64), "x86_64");
	cr_expect_str_eq(topo_arch_name(TOPO_ARCH_AARCH64), "aarch64");
	cr_expect_str_eq(topo_qemu_binary(TOPO_ARCH_X86_64), "qemu-system-x86_64");
	cr_expect_str_eq(topo_qemu_binary(TOPO_ARCH_AARCH64), "qemu-system-aarch64");
	cr_expect_str_eq(topo_qemu_package(TOPO_ARCH_X86_64), "qemu-system-x86");
	cr_expect_str_eq(topo_qemu_package(TOPO_ARCH_AARCH64), "qemu-system-arm");
	cr_expect_eq(topo_format_mac(m, buf), buf);
	cr_expect_str_eq(buf, "52:54:00:0a:bc:ff");
	topo_free(NULL);
}

Test(topology, sites_and_latency)
{
	struct topology *t = load_ok("valid-sites.conf");

	cr_expect_str_eq(topo_find_vm(t, "core-2")->site, "core");
	cr_expect_str_eq(topo_find_vm(t, "edge-1")->site, "edge");
	cr_expect_null(topo_find_vm(t, "lab")->site, "no site = unless given");
	cr_assert_eq(t->nlatency, 2);
	cr_expect_str_eq(t->latency[0].a, "edge");
	cr_expect_str_eq(t->latency[0].b, "core");
	cr_expect_str_eq(t->latency[0].rule, "delay 40ms jitter 5ms loss 0.5%", "the comment is not the rule's");
	cr_expect_eq(t->latency[0].line, 15);
	cr_expect_str_eq(t->latency[1].a, "core");
	cr_expect_str_eq(t->latency[1].b, "core");
	topo_free(t);
}

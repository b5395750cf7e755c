/* test_disks.c - a VM's disks before QEMU starts (launcher/disks.h), on
 * real files in a temporary directory: every file made under .tmp and
 * renamed once whole, the base's identity recorded and checked, damaged
 * overlays refused with the way out, reset, and the last block I/O error.
 * qemu-img is a stand-in: the spawn records its argv and makes what
 * `qemu-img create` would (a qcow2 header naming the backing file); the
 * test then reports its exit through disks_exited. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher/disks.h"

static char dir[64], state[128], base[128];
static struct topo_vm vm;
static struct vm_plan plan;
static struct disks *d;
static struct err e;

/* The stand-in qemu-img's last argv, and whether it is to make its file. */
static struct {
	char argv[16][256];
	int n, spawns, fail_spawn;
	bool make;
} img;

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

/* A qcow2 v3 at path as qemu-img makes it (64 KiB clusters: refcount table
 * at 64 KiB, L1 at 192 KiB, 256 KiB in all), naming backing if not NULL. */
static void write_qcow2(const char *path, const char *backing)
{
	unsigned char h[512] = { 'Q', 'F', 'I', 0xfb };
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	put_be(h + 4, 3, 4);
	if (backing) {
		put_be(h + 8, 112, 8);
		put_be(h + 16, strlen(backing), 4);
		memcpy(h + 112, backing, strlen(backing));
	}
	put_be(h + 20, 16, 4);           /* cluster_bits */
	put_be(h + 24, 64 << 20, 8);     /* virtual size */
	put_be(h + 36, 1, 4);            /* l1_size */
	put_be(h + 40, 0x30000, 8);      /* l1_table_offset */
	put_be(h + 48, 0x10000, 8);      /* refcount_table_offset */
	put_be(h + 56, 1, 4);            /* refcount_table_clusters */
	put_be(h + 96, 4, 4);            /* refcount_order */
	put_be(h + 100, 104, 4);         /* header_length */
	cr_assert_eq(write(fd, h, sizeof(h)), (ssize_t)sizeof(h));
	cr_assert_eq(ftruncate(fd, 0x40000), 0);
	close(fd);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int fake_spawn(struct child *c, char *const argv[], const int *fds, int nfds)
{
	(void)c, (void)fds, (void)nfds;
	if (img.fail_spawn)
		return img.fail_spawn;
	img.spawns++;
	for (img.n = 0; argv[img.n] && img.n < 16; img.n++)
		snprintf(img.argv[img.n], sizeof(img.argv[img.n]), "%s", argv[img.n]);
	if (img.make && strcmp(argv[1], "create") == 0) {
		const char *backing = NULL;

		for (int i = 2; argv[i]; i++)
			if (strcmp(argv[i], "-b") == 0)
				backing = argv[i + 1];
		/* The file is the last argument of an overlay, the one before
		 * the size otherwise. */
		write_qcow2(argv[img.n - 1][0] == '/' ? argv[img.n - 1] : argv[img.n - 2], backing);
	}
	return 0;
}

static void exited(void *opaque, int wstatus)
{
	(void)opaque, (void)wstatus;
}

static bool exists(const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", state, name);
	return access(p, F_OK) == 0;
}

static void setup(void)
{
	char vmdir[160];

	snprintf(dir, sizeof(dir), "/tmp/n3x-test-disks.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(vmdir, sizeof(vmdir), "%s/vm", dir);
	snprintf(state, sizeof(state), "%s/vm/t", dir);
	snprintf(base, sizeof(base), "%s/base.img", dir);
	cr_assert_eq(mkdir(vmdir, 0700), 0);
	cr_assert_eq(mkdir(state, 0700), 0);
	write_file(base, "the base image, version 1\n");
	memset(&vm, 0, sizeof(vm));
	vm.name = "t";
	vm.arch = TOPO_ARCH_X86_64;
	vm.memory_mib = 256;
	vm.vcpus = 1;
	vm.disk = base;
	memset(&img, 0, sizeof(img));
	img.make = true;
	err_clear(&e);
	d = NULL;
}

static void teardown(void)
{
	disks_free(d);
	plan_free(&plan);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(disks, .init = setup, .fini = teardown);

static void build(void)
{
	struct accel_choice ac = { 0 };
	struct plan_env env = { 0 };

	snprintf(env.state, sizeof(env.state), "%s", state);
	snprintf(env.run, sizeof(env.run), "%s/run", dir);
	plan_free(&plan);
	cr_assert_eq(plan_build(&vm, &ac, &env, &plan), 0);
	disks_free(d);
	cr_assert_eq(disks_new(&plan, "vm t: qemu-img", fake_spawn, exited, NULL, &d), 0);
}

/* Run every step, each qemu-img exiting with 0. */
static void start_all(void)
{
	int r = disks_start(d, &e);

	while (r == 1)
		r = disks_exited(d, W_EXITCODE(0, 0), &e);
	cr_assert_eq(r, 0, "%s", e.msg);
}

/* ---- files made whole, then named ---- */

Test(disks, qemu_img_writes_the_tmp_name_and_the_file_is_renamed_once_whole)
{
	build();
	cr_assert_eq(disks_start(d, &e), 1);
	cr_expect_str_eq(img.argv[1], "create");
	cr_expect(strstr(img.argv[img.n - 1], "/overlay.qcow2.tmp"), "qemu-img wrote %s", img.argv[img.n - 1]);
	cr_expect_not(exists("overlay.qcow2"), "named before qemu-img finished");
	cr_assert_eq(disks_exited(d, W_EXITCODE(0, 0), &e), 1); /* the state image next */
	cr_expect(exists("overlay.qcow2"));
	cr_expect_not(exists("overlay.qcow2.tmp"));
	cr_expect(exists("overlay.base.json"));
	cr_assert_eq(disks_exited(d, W_EXITCODE(0, 0), &e), 0);
	cr_expect(exists("state.qcow2"));
	cr_expect_not(exists("state.qcow2.tmp"));
}

Test(disks, a_failed_qemu_img_leaves_no_file_behind)
{
	build();
	cr_assert_eq(disks_start(d, &e), 1);
	cr_assert(exists("overlay.qcow2.tmp")); /* written in part, then it died */
	cr_assert_eq(disks_exited(d, W_EXITCODE(1, 0), &e), -EIO);
	cr_expect_str_eq(e.msg, "qemu-img exited with status 1");
	cr_expect_not(exists("overlay.qcow2"));
	cr_expect_not(exists("overlay.qcow2.tmp"));
	cr_expect_not(exists("overlay.base.json"));
	/* Killed (SIGKILL, or the supervisor died with it): the same. */
	cr_assert_eq(disks_start(d, &e), 1);
	cr_assert_eq(disks_exited(d, SIGKILL, &e), -EIO);
	cr_expect_not(exists("overlay.qcow2"));
	cr_expect_not(exists("overlay.qcow2.tmp"));
}

Test(disks, a_leftover_tmp_is_never_taken_for_a_disk)
{
	char p[256];

	build();
	snprintf(p, sizeof(p), "%s/overlay.qcow2.tmp", state);
	write_file(p, "half");
	img.make = false; /* this qemu-img makes nothing: the old half must not survive */
	cr_assert_eq(disks_start(d, &e), 1);
	cr_expect_not(exists("overlay.qcow2.tmp"), "the leftover was not removed before qemu-img ran");
	cr_assert_eq(disks_exited(d, W_EXITCODE(0, 0), &e), -ENOENT);
	cr_expect_not(exists("overlay.qcow2"));
}

Test(disks, uefi_variables_are_copied_by_way_of_tmp)
{
	char vars[256];

	vm.firmware = TOPO_FIRMWARE_UEFI;
	vm.disk = NULL;
	build();
	/* The template is the system's OVMF file: point the step at ours. */
	snprintf(vars, sizeof(vars), "%s/VARS.fd", dir);
	write_file(vars, "variables");
	for (int i = 0; i < plan.nsteps; i++)
		if (plan.steps[i].copy_from) {
			free(plan.steps[i].copy_from);
			plan.steps[i].copy_from = strdup(vars);
		}
	start_all();
	cr_expect(exists("efivars.fd"));
	cr_expect_not(exists("efivars.fd.tmp"));
}

Test(disks, a_step_that_cannot_run_says_so)
{
	build();
	img.fail_spawn = -ENOENT;
	cr_assert_eq(disks_start(d, &e), -ENOENT);
	cr_expect_str_eq(e.msg, "cannot run qemu-img: No such file or directory");
}

/* ---- ephemeral overlays have their own path ---- */

Test(disks, persistent_then_ephemeral_keeps_the_persistent_overlay)
{
	char ov[256];
	struct stat before, after;

	build();
	start_all();
	snprintf(ov, sizeof(ov), "%s/overlay.qcow2", state);
	cr_assert_eq(stat(ov, &before), 0);
	vm.disk_mode = TOPO_DISK_EPHEMERAL;
	build();
	start_all();
	start_all(); /* made anew each start */
	cr_expect(exists("ephemeral.qcow2"));
	cr_assert_eq(stat(ov, &after), 0, "the persistent overlay is gone");
	cr_expect_eq(before.st_ino, after.st_ino);
	cr_expect_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	/* And back: the persistent overlay is used again, checked, not remade. */
	vm.disk_mode = TOPO_DISK_PERSISTENT;
	build();
	img.spawns = 0;
	cr_assert_eq(disks_start(d, &e), 1);
	cr_expect_str_eq(img.argv[1], "check");
	cr_expect_str_eq(img.argv[img.n - 1], ov);
	cr_assert_eq(disks_exited(d, W_EXITCODE(0, 0), &e), 0, "%s", e.msg);
	cr_assert_eq(stat(ov, &after), 0);
	cr_expect_eq(before.st_ino, after.st_ino);
}

/* ---- the base's identity ---- */

Test(disks, the_base_identity_is_recorded)
{
	char p[256];
	json_t *j;
	struct stat st;

	build();
	start_all();
	snprintf(p, sizeof(p), "%s/overlay.base.json", state);
	cr_assert_not_null(j = json_load_file(p, 0, NULL));
	cr_assert_eq(stat(base, &st), 0);
	cr_expect_str_eq(json_string_value(json_object_get(j, "path")), base);
	cr_expect_eq(json_integer_value(json_object_get(j, "size")), st.st_size);
	cr_expect_eq(json_integer_value(json_object_get(j, "mtime_ns")),
		     st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
	cr_expect_eq(strlen(json_string_value(json_object_get(j, "head_fnv1a64"))), 16);
	json_decref(j);
	/* The same base: the next start checks the overlay and goes on. */
	cr_assert_eq(disks_verify(&plan, &e), 0, "%s", e.msg);
	cr_assert_eq(disks_start(d, &e), 1);
	cr_expect_str_eq(img.argv[1], "check");
}

Test(disks, a_changed_base_is_a_start_error_with_the_way_out)
{
	build();
	start_all();
	write_file(base, "the base image, version 2, rebuilt\n");
	img.spawns = 0;
	cr_assert_eq(disks_start(d, &e), -ESTALE);
	cr_expect_eq(img.spawns, 0, "qemu-img ran over a changed base");
	cr_expect(strstr(e.msg, "changed since its overlay was made"), "%s", e.msg);
	cr_expect(strstr(e.msg, "size 35 bytes, was 26"), "%s", e.msg);
	cr_expect(strstr(e.msg, "first 64 KiB differ"), "%s", e.msg);
	cr_expect(strstr(e.msg, "`n3x-ctl reset t` discards the overlay, or put the old base back"), "%s", e.msg);
	cr_expect(strncmp(e.msg, "base ", 5) == 0 && strstr(e.msg, base), "%s", e.msg);
	/* --check finds the same, and nothing was changed by looking. */
	cr_assert_eq(disks_verify(&plan, &e), -ESTALE);
	cr_expect(strstr(e.msg, "changed since its overlay was made"), "%s", e.msg);
	cr_expect(exists("overlay.qcow2"));
}

Test(disks, a_touched_base_is_a_changed_base)
{
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

	build();
	start_all();
	cr_assert_eq(utimensat(AT_FDCWD, base, ts, 0), 0);
	cr_assert_eq(disks_verify(&plan, &e), -ESTALE);
	cr_expect(strstr(e.msg, "modified 2001-09-09 01:46:40 UTC, was "), "%s", e.msg);
	cr_expect_null(strstr(e.msg, "size"), "%s", e.msg);
}

Test(disks, another_base_path_is_a_changed_base)
{
	char other[256];

	build();
	start_all();
	snprintf(other, sizeof(other), "%s/other.img", dir);
	write_file(other, "the base image, version 1\n");
	vm.disk = other;
	build();
	cr_assert_eq(disks_verify(&plan, &e), -ESTALE);
	cr_expect(strstr(e.msg, "the overlay was made on "), "%s", e.msg);
	cr_expect(strstr(e.msg, base), "%s", e.msg);
}

Test(disks, an_overlay_without_a_record_gets_one_if_its_header_names_the_base)
{
	char ov[256], p[256];

	build();
	snprintf(ov, sizeof(ov), "%s/overlay.qcow2", state);
	write_qcow2(ov, base);
	cr_assert_eq(disks_verify(&plan, &e), 0, "%s", e.msg);
	cr_expect_not(exists("overlay.base.json"), "--check wrote a file");
	cr_assert_eq(disks_start(d, &e), 1, "%s", e.msg);
	cr_expect(exists("overlay.base.json"));
	/* One made on another base is refused. */
	snprintf(p, sizeof(p), "%s/overlay.base.json", state);
	unlink(p);
	write_qcow2(ov, "/somewhere/else.qcow2");
	cr_assert_eq(disks_start(d, &e), -EINVAL);
	cr_expect(strstr(e.msg, "(/somewhere/else.qcow2)"), "%s", e.msg);
	cr_expect(strstr(e.msg, "`n3x-ctl reset t`"), "%s", e.msg);
	/* One cut short: said as such, with the way out, and nothing recorded. */
	cr_assert_eq(truncate(ov, 50), 0);
	cr_assert_eq(disks_start(d, &e), -EBADMSG);
	cr_expect(strstr(e.msg, "too short for a qcow2 image (cut short); `n3x-ctl reset t`"), "%s", e.msg);
	cr_expect_not(exists("overlay.base.json"));
}

Test(disks, a_record_that_is_not_ours_is_refused)
{
	char p[256];

	build();
	start_all();
	snprintf(p, sizeof(p), "%s/overlay.base.json", state);
	write_file(p, "{\"path\": 1}");
	cr_assert_eq(disks_verify(&plan, &e), -EBADMSG);
	cr_expect(strstr(e.msg, "is not a base record of n3x-launch"), "%s", e.msg);
}

/* ---- damaged overlays ---- */

Test(disks, a_truncated_overlay_is_found_before_qemu_img_runs)
{
	char ov[256];

	build();
	start_all();
	snprintf(ov, sizeof(ov), "%s/overlay.qcow2", state);
	cr_assert_eq(truncate(ov, 0x20000), 0); /* the L1 table is past the end now */
	img.spawns = 0;
	cr_assert_eq(disks_start(d, &e), -EBADMSG);
	cr_expect_eq(img.spawns, 0);
	cr_expect(strstr(e.msg, "is 131072 bytes, shorter than its own tables (196616 bytes): cut short"), "%s",
		  e.msg);
	cr_expect(strstr(e.msg, "; `n3x-ctl reset t` discards the overlay"), "%s", e.msg);
	cr_assert_eq(truncate(ov, 30), 0);
	cr_assert_eq(disks_verify(&plan, &e), -EBADMSG);
	cr_expect(strstr(e.msg, "is 30 bytes, too short for a qcow2 image"), "%s", e.msg);
	cr_assert_eq(truncate(ov, 0), 0);
	cr_assert_eq(disks_verify(&plan, &e), -EBADMSG);
	cr_expect(strstr(e.msg, "is 0 bytes, too short"), "%s", e.msg);
}

Test(disks, qemu_img_check_decides_past_the_header)
{
	build();
	start_all();
	/* 2: corruptions (a file cut in its data clusters). */
	cr_assert_eq(disks_start(d, &e), 1);
	cr_assert_str_eq(img.argv[1], "check");
	cr_assert_eq(disks_exited(d, W_EXITCODE(2, 0), &e), -EIO);
	cr_expect(strstr(e.msg, "overlay.qcow2 is damaged: qemu-img check found corruptions; "
			 "`n3x-ctl reset t` discards the overlay, or try `qemu-img check -r all "), "%s", e.msg);
	/* 3: leaked clusters only, left by a QEMU that died: fine. */
	cr_assert_eq(disks_start(d, &e), 1);
	cr_assert_eq(disks_exited(d, W_EXITCODE(3, 0), &e), 0, "%s", e.msg);
	/* 1: it could not check (e.g. another QEMU holds the image's lock). */
	cr_assert_eq(disks_start(d, &e), 1);
	cr_assert_eq(disks_exited(d, W_EXITCODE(1, 0), &e), -EIO);
	cr_expect(strstr(e.msg, "cannot check "), "%s", e.msg);
}

Test(disks, a_damaged_data_disk_names_its_own_way_out)
{
	char data[256];

	vm.disk = NULL;
	vm.data_disk_bytes = 1 << 20;
	build();
	start_all();
	snprintf(data, sizeof(data), "%s/data.qcow2", state);
	cr_assert_eq(truncate(data, 100), 0);
	cr_assert_eq(disks_start(d, &e), -EBADMSG);
	cr_expect(strstr(e.msg, "move "), "%s", e.msg);
	cr_expect(strstr(e.msg, "data.qcow2 away to start with an empty data disk"), "%s", e.msg);
}

/* ---- reset ---- */

Test(disks, reset_discards_both_overlays_and_the_record_only)
{
	json_t *removed = json_array();

	vm.data_disk_bytes = 1 << 20;
	build();
	start_all();
	vm.disk_mode = TOPO_DISK_EPHEMERAL;
	build();
	start_all();
	cr_assert(exists("overlay.qcow2") && exists("ephemeral.qcow2") && exists("overlay.base.json"));
	cr_assert_eq(disks_reset(&plan, removed, &e), 0, "%s", e.msg);
	cr_expect_eq(json_array_size(removed), 3);
	cr_expect_not(exists("overlay.qcow2"));
	cr_expect_not(exists("ephemeral.qcow2"));
	cr_expect_not(exists("overlay.base.json"));
	cr_expect(exists("data.qcow2"), "reset took the data disk");
	cr_expect(exists("state.qcow2"));
	json_array_clear(removed);
	cr_assert_eq(disks_reset(&plan, removed, &e), 0);
	cr_expect_eq(json_array_size(removed), 0);
	json_decref(removed);
}

Test(disks, after_reset_a_changed_base_gets_a_fresh_overlay)
{
	json_t *removed = json_array();

	build();
	start_all();
	write_file(base, "rebuilt\n");
	cr_assert_eq(disks_start(d, &e), -ESTALE);
	cr_assert_eq(disks_reset(&plan, removed, &e), 0);
	json_decref(removed);
	cr_assert_eq(disks_start(d, &e), 1);
	cr_expect_str_eq(img.argv[1], "create");
	while (disks_exited(d, W_EXITCODE(0, 0), &e) == 1)
		;
	cr_assert_eq(disks_verify(&plan, &e), 0, "%s", e.msg);
}

/* ---- the last block I/O error ---- */

Test(disks, block_io_error_is_kept_until_resume_or_start)
{
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "device", "disk1", "node-name", "data",
			       "operation", "write", "action", "stop", "nospace", 1, "reason",
			       "No space left on device");
	json_t *io;

	build();
	cr_expect_null(disks_io_error(d));
	disks_qmp_event(d, "BLOCK_IO_ERROR", ev);
	cr_assert_not_null(io = disks_io_error(d));
	cr_expect_str_eq(json_string_value(json_object_get(io, "device")), "disk1");
	cr_expect_str_eq(json_string_value(json_object_get(io, "reason")), "No space left on device");
	cr_expect_str_eq(json_string_value(json_object_get(io, "operation")), "write");
	cr_expect_str_eq(json_string_value(json_object_get(io, "action")), "stop");
	disks_qmp_event(d, "STOP", NULL);
	cr_expect_not_null(disks_io_error(d), "a pause does not clear it");
	disks_qmp_event(d, "RESUME", NULL);
	cr_expect_null(disks_io_error(d));
	/* A -blockdev has no device name: its node names it. */
	json_object_set_new(ev, "device", json_string(""));
	disks_qmp_event(d, "BLOCK_IO_ERROR", ev);
	cr_expect_str_eq(json_string_value(json_object_get(disks_io_error(d), "device")), "data");
	start_all();
	cr_expect_null(disks_io_error(d), "a new start keeps the old QEMU's error");
	json_decref(ev);
}

/* ---- against images the real qemu-img makes ---- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

Test(disks, real_qemu_img_images_pass_and_a_cut_one_fails)
{
	if (sh("command -v qemu-img >/dev/null && command -v qemu-io >/dev/null") != 0)
		cr_skip_test("qemu-img or qemu-io is not installed");
	cr_assert_eq(sh("qemu-img create -q -f qcow2 %s 64M", base), 0);
	vm.data_disk_bytes = 10ULL << 30;
	build();
	cr_assert_eq(sh("qemu-img create -q -f qcow2 -F qcow2 -b %s %s/overlay.qcow2", base, state), 0);
	cr_assert_eq(sh("qemu-img create -q -f qcow2 %s/data.qcow2 10G", state), 0);
	cr_assert_eq(disks_verify(&plan, &e), 0, "%s", e.msg);
	cr_assert_eq(sh("qemu-io -c 'write -P 0xab 0 4M' %s/overlay.qcow2 >/dev/null", state), 0);
	cr_assert_eq(sh("qemu-io -c 'write -P 0xcd 1G 4M' %s/data.qcow2 >/dev/null", state), 0);
	cr_assert_eq(disks_verify(&plan, &e), 0, "%s", e.msg);
	/* Cut in its data clusters: the header is whole, qemu-img check finds it. */
	cr_assert_eq(sh("truncate -s 2M %s/overlay.qcow2", state), 0);
	cr_assert_eq(disks_verify(&plan, &e), 0, "%s", e.msg);
	cr_assert_eq(sh("qemu-img check -q -f qcow2 %s/overlay.qcow2 >/dev/null 2>&1; test $? -eq 2", state), 0,
		     "qemu-img check did not call the cut overlay corrupt (exit 2)");
}

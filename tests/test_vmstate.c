/* test_vmstate.c - state.json written and read back, /proc identity of a
 * process, and the one line that says how a running QEMU differs from its
 * definition now. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/proc.h"
#include "launcher/vmstate.h"

static char dir[64], path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/n3x-test-vmstate-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
}

static void teardown(void)
{
	char tmp[160];

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(path);
	unlink(tmp);
	rmdir(dir);
}

TestSuite(vmstate, .init = setup, .fini = teardown);

static void argv_of(struct strv *s, const char *const *args)
{
	memset(s, 0, sizeof(*s));
	for (; *args; args++)
		cr_assert_eq(strv_add(s, *args), 0);
}

static const char *const QEMU[] = { "qemu-system-x86_64", "-nodefaults", "-m", "512", "-smp", "2",
				    "-kernel", "/img/vmlinuz", NULL };

Test(vmstate, saved_and_loaded_back)
{
	struct vmstate s = { .pid = 1234, .start_time = 987654321, .cmdline_hash = 0xfedcba9876543210ULL,
			     .nnics = 2, .up_since_ms = 1700000000123LL };
	struct vmstate got;
	struct err e = { 0 };
	struct stat st;

	argv_of(&s.argv, QEMU);
	strcpy(s.nets[0], "lan");
	strcpy(s.nets[1], "wan vlan=100,200");
	s.link_down[1] = true;
	cr_assert_eq(vmstate_save(path, "/run/n3x/f/vm/a", "a", &s), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(vmstate_load(path, &got, &e), 0, "%s", e.msg);
	cr_assert_eq(got.pid, 1234);
	cr_assert_eq(got.start_time, 987654321);
	cr_assert_eq(got.cmdline_hash, 0xfedcba9876543210ULL);
	cr_assert_eq(got.up_since_ms, 1700000000123LL);
	cr_assert_eq(got.argv.n, s.argv.n);
	for (size_t i = 0; i < s.argv.n; i++)
		cr_assert_str_eq(got.argv.v[i], s.argv.v[i]);
	cr_assert_eq(got.nnics, 2);
	cr_assert_str_eq(got.nets[1], "wan vlan=100,200");
	cr_assert_not(got.link_down[0]);
	cr_assert(got.link_down[1]);
	vmstate_free(&got);
	vmstate_free(&s);
}

Test(vmstate, the_file_names_taps_and_sockets)
{
	struct vmstate s = { .pid = 1, .nnics = 1 };
	char buf[4096];
	ssize_t n;
	int fd;

	argv_of(&s.argv, QEMU);
	strcpy(s.nets[0], "lan");
	cr_assert_eq(vmstate_save(path, "/run/n3x/f/vm/a", "a", &s), 0);
	cr_assert_geq(fd = open(path, O_RDONLY), 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_assert_not_null(strstr(buf, "\"tap\":\"a-n0\""), "%s", buf);
	cr_assert_not_null(strstr(buf, "\"monitor\":\"/run/n3x/f/vm/a/monitor.sock\""), "%s", buf);
	cr_assert_not_null(strstr(buf, "\"serial\":\"/run/n3x/f/vm/a/serial.sock\""), "%s", buf);
	cr_assert_eq(buf[n - 1], '\n');
	vmstate_free(&s);
}

Test(vmstate, missing_and_broken_files)
{
	struct vmstate s;
	struct err e = { 0 };
	int fd;

	cr_assert_eq(vmstate_load(path, &s, &e), -ENOENT);
	cr_assert_geq(fd = open(path, O_WRONLY | O_CREAT, 0600), 0);
	cr_assert_eq(write(fd, "{\"version\":1,\"pid\":", 19), 19);
	close(fd);
	cr_assert_eq(vmstate_load(path, &s, &e), -EINVAL);
	cr_assert_not_null(strstr(e.msg, path), "%s", e.msg);
	cr_assert_geq(fd = open(path, O_WRONLY | O_TRUNC), 0);
	static const char v9[] = "{\"version\":9,\"pid\":1,\"start_time\":1,\"cmdline_hash\":\"1\","
				 "\"argv\":[\"q\"],\"nics\":[]}";
	cr_assert_eq(write(fd, v9, strlen(v9)), (ssize_t)strlen(v9));
	close(fd);
	cr_assert_eq(vmstate_load(path, &s, &e), -EINVAL);
	cr_assert_not_null(strstr(e.msg, "version"), "%s", e.msg);
}

Test(vmstate, a_symlink_is_not_followed)
{
	char target[160];
	struct vmstate s = { .pid = 1 }, got;
	struct err e = { 0 };

	argv_of(&s.argv, QEMU);
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	cr_assert_eq(symlink(target, path), 0);
	cr_assert_lt(vmstate_load(path, &got, &e), 0);
	/* The write goes to state.json.tmp and renames over the link. */
	cr_assert_eq(vmstate_save(path, dir, "a", &s), 0);
	cr_assert_eq(access(target, F_OK), -1, "the link's target was written");
	vmstate_free(&s);
}

Test(vmstate, proc_identity_of_a_process)
{
	uint64_t start, again, h1, h2;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execlp("sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	usleep(100 * 1000); /* until the exec */
	cr_assert_eq(proc_start_time(pid, &start), 0);
	cr_assert_eq(proc_start_time(pid, &again), 0);
	cr_assert_eq(start, again);
	cr_assert_gt(start, 0);
	cr_assert_eq(vmstate_proc_cmdline_hash(pid, &h1), 0);
	cr_assert_eq(vmstate_proc_cmdline_hash(getpid(), &h2), 0);
	cr_assert_neq(h1, h2, "sleep 30 and the test have different command lines");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cr_assert_eq(proc_start_time(pid, &start), -ESRCH);
	cr_assert_eq(vmstate_proc_cmdline_hash(pid, &h1), -ESRCH);
}

static void diff_of(const char *const *was, const char *const *now, int nnics, const char *net_was,
		    const char *net_now, char *buf, size_t size)
{
	struct vmstate s = { .nnics = nnics };
	struct strv n;
	char nets[TOPO_MAX_NICS][VMSTATE_NET_MAX] = { { 0 } };

	argv_of(&s.argv, was);
	argv_of(&n, now);
	if (nnics) {
		snprintf(s.nets[0], VMSTATE_NET_MAX, "%s", net_was);
		snprintf(nets[0], VMSTATE_NET_MAX, "%s", net_now);
	}
	vmstate_diff(&s, &n, nnics, (const char (*)[VMSTATE_NET_MAX])nets, buf, size);
	vmstate_free(&s);
	strv_free(&n);
}

Test(vmstate, diff_says_what_changed)
{
	static const char *const more_mem[] = { "qemu-system-x86_64", "-nodefaults", "-m", "768", "-smp", "2",
						"-kernel", "/img/vmlinuz", NULL };
	static const char *const both[] = { "qemu-system-x86_64", "-nodefaults", "-m", "768", "-smp", "4",
					    "-kernel", "/img/vmlinuz", NULL };
	static const char *const paused[] = { "qemu-system-x86_64", "-nodefaults", "-m", "512", "-smp", "2",
					      "-kernel", "/img/vmlinuz", "-S", NULL };
	char buf[512];

	diff_of(QEMU, QEMU, 0, NULL, NULL, buf, sizeof(buf));
	cr_assert_str_eq(buf, "");
	diff_of(paused, QEMU, 0, NULL, NULL, buf, sizeof(buf));
	cr_assert_str_eq(buf, "", "a start paused is not a change");
	diff_of(QEMU, more_mem, 0, NULL, NULL, buf, sizeof(buf));
	cr_assert_str_eq(buf, "QEMU runs with `-m 512`, the file now says `-m 768`; restart to apply");
	diff_of(QEMU, both, 0, NULL, NULL, buf, sizeof(buf));
	cr_assert_str_eq(buf, "QEMU runs with `-m 512`, the file now says `-m 768` (and 1 more difference); "
			      "restart to apply");
	diff_of(QEMU, QEMU, 1, "lan", "wan vlan=7", buf, sizeof(buf));
	cr_assert_str_eq(buf, "nic 0 is on lan, the file now says wan vlan=7; restart to apply");
}

Test(vmstate, net_of_a_nic)
{
	struct topo_nic n = { .network = "lan", .nvlans = 2, .vlans = { 100, 200 } };
	char buf[VMSTATE_NET_MAX];

	vmstate_net(&n, buf);
	cr_assert_str_eq(buf, "lan vlan=100,200");
	n.nvlans = 0;
	vmstate_net(&n, buf);
	cr_assert_str_eq(buf, "lan");
}

/* test_ovs.c - the fabric on a real private Open vSwitch.
 *
 * Each test creates its own named network namespace n3x-test-PID (deleted in
 * fini, however the test ends), starts the private OVS inside it through
 * ovs_open(), and checks what was built with ovs-vsctl as an independent
 * client (tests only: the product never runs it).  Taps come from
 * `ip tuntap add` inside the namespace.  Skipped unless root with Open
 * vSwitch installed.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/loop.h"
#include "net/ovs.h"

#define FABRIC "t"

static char ns_name[32], run_dir[64], db_arg[160];
static int ns_fd = -1;
static struct ovs *o;
static int exits, expected_exits;
static char failed_port[32], failed_error[256];
static struct err e;            /* what the last failing call said */

/* Run argv, its stdout into out (may be NULL); the exit status. */
static int run(char *const argv[], char *out, size_t size)
{
	int p[2], status;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(p[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], out ? out + len : (char[256]){ 0 }, out ? size - 1 - len : 256)) > 0)
		if (out)
			len += (size_t)n;
	close(p[0]);
	if (out)
		out[len] = '\0';
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* ovs-vsctl ARGS... inside the namespace, against our db.sock; its stdout. */
static char *vsctl_argv(const char **args)
{
	static char out[16384];
	char *argv[32] = { "ip", "netns", "exec", ns_name, "ovs-vsctl", db_arg };
	int n = 6;

	while (*args && n < 31)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	cr_assert_eq(run(argv, out, sizeof(out)), 0, "ovs-vsctl %s failed", argv[6]);
	return out;
}

#define vsctl(...) vsctl_argv((const char *[]){ __VA_ARGS__, NULL })

static void tap_add(const char *name)
{
	char *add[] = { "ip", "-n", ns_name, "tuntap", "add", (char *)name, "mode", "tap", NULL };
	char *up[] = { "ip", "-n", ns_name, "link", "set", (char *)name, "up", NULL };

	cr_assert_eq(run(add, NULL, 0), 0);
	cr_assert_eq(run(up, NULL, 0), 0);
}

/* Processes whose command line names our run dir, or that hold it as fd 3
 * (ovs-vswitchd, see ovsd.h): the private daemons. */
static int our_processes(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d))) {
		char path[300], cmd[4096] = "";
		ssize_t len;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		for (ssize_t i = 0; i < len; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		if (len > 0 && strstr(cmd, run_dir) && strstr(cmd, "ovs")) {
			n++;
			continue;
		}
		char link[256];
		snprintf(path, sizeof(path), "/proc/%s/fd/3", e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len > 0 && (link[len] = '\0', strstr(link, run_dir)) && strstr(cmd, "ovs-vswitchd"))
			n++;
	}
	closedir(d);
	return n;
}

/* Sockets left under $RUN/ovs and $RUN/ovs/vswitchd (the daemons remove
 * theirs on SIGTERM). */
static int sockets_left(void)
{
	char dir[128], path[400];
	DIR *d;
	struct dirent *e;
	struct stat st;
	int n = 0;

	for (int i = 0; i < 2; i++) {
		snprintf(dir, sizeof(dir), "%s/ovs%s", run_dir, i ? "/vswitchd" : "");
		if (!(d = opendir(dir))) {
			cr_assert_eq(i, 1);   /* ovsd_reap removes vswitchd/ */
			continue;
		}
		while ((e = readdir(d))) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
				n++;
		}
		closedir(d);
	}
	return n;
}

/* The pid in $RUN/ovs/NAME.pid, 0 when none. */
static int pid_of(const char *daemon)
{
	char path[160];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/ovs/%s.pid", run_dir, daemon);
	if ((f = fopen(path, "re"))) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return pid;
}

static void on_port(void *opaque, const char *port, int ofport, const char *error)
{
	(void)opaque;
	if (ofport < 0) {
		snprintf(failed_port, sizeof(failed_port), "%s", port);
		snprintf(failed_error, sizeof(failed_error), "%s", error);
	}
}

static int restarts, connects, losses;

static void on_exited(void *opaque, const char *daemon, int wstatus, bool expected, int restart_ms)
{
	(void)opaque;
	(void)daemon;
	(void)wstatus;
	(void)restart_ms;
	exits++;
	expected_exits += expected;
}

static void on_restarted(void *opaque, const char *daemon, const char *how)
{
	(void)opaque;
	(void)daemon;
	(void)how;
	restarts++;
}

static void on_lost(void *opaque, const struct err *why)
{
	(void)opaque;
	(void)why;
	losses++;
}

static void on_connected(void *opaque)
{
	(void)opaque;
	connects++;
}

static const struct ovs_callbacks callbacks = { .port = on_port, .exited = on_exited,
						.restarted = on_restarted, .lost = on_lost,
						.connected = on_connected };

static void setup(void)
{
	char path[64];

	if (geteuid() != 0 || access("/usr/sbin/ovs-vswitchd", X_OK) != 0)
		cr_skip_test("needs root and Open vSwitch");
	snprintf(ns_name, sizeof(ns_name), "n3x-test-%d", (int)getpid());
	snprintf(run_dir, sizeof(run_dir), "/tmp/n3x-ovs-test.%d", (int)getpid());
	snprintf(db_arg, sizeof(db_arg), "--db=unix:%s/ovs/db.sock", run_dir);
	char *add[] = { "ip", "netns", "add", ns_name, NULL };
	cr_assert_eq(run(add, NULL, 0), 0);
	snprintf(path, sizeof(path), "/run/netns/%s", ns_name);
	ns_fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(ns_fd, 0);
	cr_assert_eq(loop_open(), 0);
}

static void teardown(void)
{
	char *del[] = { "ip", "netns", "del", ns_name, NULL };
	char *rm[] = { "rm", "-rf", run_dir, NULL };

	ovs_close(o, NULL);  /* stops the daemons if a test failed before it did */
	loop_close();
	if (ns_fd >= 0)
		close(ns_fd);
	if (ns_name[0])
		run(del, NULL, 0);
	if (run_dir[0])
		run(rm, NULL, 0);
}

TestSuite(ovs, .init = setup, .fini = teardown, .timeout = 60);

static void open_private(void)
{
	cr_assert_eq(ovs_open(FABRIC, run_dir, ns_fd, &callbacks, &o, &e), 0, "%s", e.msg);
	cr_assert(ovs_is_private(o));
	cr_assert_str_eq(ovs_datapath(o), access("/sys/module/openvswitch", F_OK) ? "netdev" : "system");
}

static void stop_and_check_nothing_left(void)
{
	cr_assert_eq(ovs_stop(o, &e), 0, "%s", e.msg);
	for (int i = 0; i < 100 && ovs_running(o); i++)
		loop_run_once(100);
	cr_assert_not(ovs_running(o));
	cr_assert_eq(exits, 2);
	cr_assert_eq(expected_exits, 2);
	cr_assert_eq(our_processes(), 0);
	cr_assert_eq(sockets_left(), 0);
	ovs_close(o, &e);
	o = NULL;
}

Test(ovs, build_inspect_and_clear)
{
		uint16_t access = 100, trunk[] = { 100, 200 };
	char *out, *show[] = { "ip", "-n", ns_name, "link", "show", "ovshost0", NULL };

	open_private();
	cr_assert_eq(our_processes(), 2);
	cr_assert_eq(ovs_bridge_check(o, "ovsbr0", &e), 0);
	cr_assert_eq(ovs_bridge_add(o, "ovsbr0", "ovshost0", true, &e), 0, "%s", e.msg);
	tap_add("vm-a-n0");
	tap_add("vm-b-n0");
	cr_assert_eq(ovs_port_add(o, "ovsbr0", "vm-a-n0", "vm-a", &access, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_port_add(o, "ovsbr0", "vm-b-n0", "vm-b", trunk, 2, &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_ports_wait(o, 10000, &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_port_state(o, "vm-a-n0", &e), 1);
	/* ovs-vswitchd made the internal host port in the namespace. */
	cr_assert_eq(run(show, NULL, 0), 0);

	out = vsctl("show");
	cr_assert(strstr(out, "Bridge ovsbr0"), "%s", out);
	cr_assert(strstr(out, "Port ovshost0"), "%s", out);
	cr_assert(strstr(out, "tag: 100"), "%s", out);
	cr_assert(strstr(out, "trunks: [100, 200]"), "%s", out);
	cr_assert_str_eq(vsctl("get", "Port", "vm-a-n0", "external_ids"),
			 "{n3x-fabric=t, n3x-vm=vm-a}\n");
	cr_assert_str_eq(vsctl("get", "Interface", "vm-b-n0", "external_ids"),
			 "{n3x-fabric=t, n3x-vm=vm-b}\n");
	cr_assert_str_eq(vsctl("get", "Interface", "ovshost0", "type"), "internal\n");
	cr_assert_str_eq(vsctl("get", "Bridge", "ovsbr0", "fail_mode"), "standalone\n");
	cr_assert_str_eq(vsctl("get", "Bridge", "ovsbr0", "stp_enable"), "true\n");
	cr_assert_str_eq(vsctl("get", "Bridge", "ovsbr0", "other_config:forward-bpdu"), "\"true\"\n");
	cr_assert_str_eq(vsctl("get", "Bridge", "ovsbr0", "external_ids"), "{n3x-fabric=t}\n");
	cr_assert_str_eq(vsctl("--bare", "--columns=type", "list", "QoS"), "linux-noop\n\nlinux-noop\n");
	cr_assert_str_neq(vsctl("get", "Port", "vm-a-n0", "qos"), "[]\n");

	/* A device that is not there: the port fails, named. */
	cr_assert_eq(ovs_port_add(o, "ovsbr0", "nodev0", "vm-c", NULL, 0, &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_ports_wait(o, 10000, &e), -EIO);
	cr_assert(strstr(e.msg, "port nodev0: could not open network device nodev0"), "%s",
		  e.msg);
	cr_assert_str_eq(failed_port, "nodev0");
	cr_assert(strstr(failed_error, "could not open network device"));

	/* Refusals, each with its message and nothing changed. */
	cr_assert_eq(ovs_port_add(o, "ovsbr0", "vm-a-n0", "vm-x", NULL, 0, &e), -EEXIST);
	cr_assert_str_eq(e.msg, "add port vm-a-n0 to bridge ovsbr0: the port exists already (VM vm-a's)");
	cr_assert_eq(ovs_port_add(o, "nobr", "vm-x-n0", "vm-x", NULL, 0, &e), -ENODEV);
	cr_assert_str_eq(e.msg, "add port vm-x-n0 to bridge nobr: no such bridge");
	cr_assert_eq(ovs_bridge_add(o, "ovsbr0", "ovshost0", true, &e), -EEXIST);
	cr_assert_str_eq(e.msg, "create bridge ovsbr0: it exists already");

	/* A VM's ports, then one port, then the rest. */
	cr_assert_eq(ovs_vm_del(o, "vm-a", &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_flush(o, 10000, &e), 0, "%s", e.msg);
	out = vsctl("--bare", "--columns=name", "list", "Port");
	cr_assert_null(strstr(out, "vm-a-n0"), "%s", out);
	cr_assert(strstr(out, "vm-b-n0"), "%s", out);
	cr_assert_eq(ovs_port_del(o, "vm-b-n0", &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_port_del(o, "vm-b-n0", &e), 0);
	cr_assert_eq(ovs_flush(o, 10000, &e), 0, "%s", e.msg);
	cr_assert_str_eq(vsctl("--bare", "--columns=type", "list", "QoS"), "linux-noop\n");
	cr_assert_eq(ovs_clear_fabric(o, &e), 0, "%s", e.msg);
	cr_assert_str_eq(vsctl("list-br"), "");
	cr_assert_str_eq(vsctl("list", "QoS"), "");
	cr_assert_str_eq(vsctl("list", "Interface"), "");
	cr_assert_str_eq(vsctl("list", "Port"), "");
	stop_and_check_nothing_left();
}

Test(ovs, other_owners_rows_are_left_alone)
{
	open_private();
	cr_assert_eq(ovs_bridge_add(o, "br-t", "br-t", false, &e), 0, "%s", e.msg);
	/* Someone else's bridge, and another fabric's. */
	vsctl("add-br", "foreign", "--", "set", "Bridge", "foreign", "datapath_type=netdev");
	vsctl("add-br", "br-u", "--", "set", "Bridge", "br-u", "datapath_type=netdev",
	      "external_ids:n3x-fabric=u");
	cr_assert_eq(ovs_bridge_check(o, "foreign", &e), -EEXIST);
	cr_assert_str_eq(e.msg, "bridge foreign exists in Open vSwitch and is not fabric t's");
	cr_assert_eq(ovs_bridge_check(o, "br-u", &e), -EEXIST);
	cr_assert_eq(ovs_bridge_check(o, "br-t", &e), 0);
	cr_assert_eq(ovs_ports_wait(o, 10000, &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_clear_fabric(o, &e), 0, "%s", e.msg);
	cr_assert_str_eq(vsctl("list-br"), "br-u\nforeign\n");
	/* The synchronous way out, as when the loop has stopped. */
	cr_assert_eq(ovs_close(o, &e), 0, "%s", e.msg);
	o = NULL;
	cr_assert_eq(our_processes(), 0);
	cr_assert_eq(sockets_left(), 0);
	cr_assert_eq(exits, 0);
}

/* A supervisor that leaves (ovs_detach) keeps the switch running; the
 * next one adopts it with its rows, or starts afresh and ends it. */
Test(ovs, detached_instance_is_adopted_or_replaced)
{
	uint16_t vlan = 7;
	int server, vswitchd;
	bool kept = false;
	char *out, *uuid;

	open_private();
	cr_assert_eq(ovs_bridge_add(o, "ovsbr0", "ovshost0", false, &e), 0, "%s", e.msg);
	tap_add("vm-a-n0");
	cr_assert_eq(ovs_port_add(o, "ovsbr0", "vm-a-n0", "vm-a", &vlan, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_ports_wait(o, 10000, &e), 0, "%s", e.msg);
	server = pid_of("ovsdb-server");
	vswitchd = pid_of("ovs-vswitchd");
	cr_assert_gt(server, 0);
	cr_assert_gt(vswitchd, 0);
	ovs_detach(o);
	o = NULL;
	cr_assert_eq(kill(server, 0), 0);
	cr_assert_eq(kill(vswitchd, 0), 0);

	cr_assert_eq(ovs_adopt(FABRIC, run_dir, ns_fd, &callbacks, &o, &kept, &e), 0, "%s", e.msg);
	cr_assert(kept);
	cr_assert_eq(pid_of("ovsdb-server"), server);
	cr_assert_eq(pid_of("ovs-vswitchd"), vswitchd);
	cr_assert_eq(our_processes(), 2);
	cr_assert_str_eq(vsctl("get", "Port", "vm-a-n0", "tag"), "7\n");
	/* The adopted port is wanted: another VM cannot take it, its own can
	 * add it again, which keeps the live row. */
	uuid = strdup(vsctl("get", "Interface", "vm-a-n0", "_uuid"));
	cr_assert_eq(ovs_port_add(o, "ovsbr0", "vm-a-n0", "vm-b", NULL, 0, &e), -EEXIST);
	cr_assert_eq(ovs_port_add(o, "ovsbr0", "vm-a-n0", "vm-a", &vlan, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_ports_wait(o, 10000, &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_flush(o, 10000, &e), 0, "%s", e.msg);
	cr_assert_str_eq(vsctl("get", "Port", "vm-a-n0", "tag"), "7\n");
	cr_assert_str_eq(vsctl("get", "Interface", "vm-a-n0", "_uuid"), uuid);
	free(uuid);
	/* An adopted daemon that dies is restarted by its new supervisor. */
	cr_assert_eq(kill(vswitchd, SIGKILL), 0);
	for (int i = 0; i < 60 && !restarts; i++)
		loop_run_once(100);
	cr_assert_eq(restarts, 1);
	cr_assert_neq(pid_of("ovs-vswitchd"), vswitchd);
	ovs_detach(o);
	o = NULL;

	/* Starting afresh ends the earlier daemons and clears their rows. */
	server = pid_of("ovsdb-server");
	open_private();
	cr_assert_neq(pid_of("ovsdb-server"), server);
	/* Ended: in this test it is still our child, a zombie until reaped. */
	cr_assert_eq(waitpid(server, NULL, WNOHANG), server);
	cr_assert_eq(our_processes(), 2);
	out = vsctl("list-br");
	cr_assert_str_eq(out, "");
	exits = expected_exits = 0;
	stop_and_check_nothing_left();
}

/* ovsdb-server stopped: the port verbs return at once and their work is
 * done once it answers again.  ovsdb-server killed: it is restarted on the
 * same database, we reconnect, and what was asked meanwhile is done. */
Test(ovs, outage_of_ovsdb_server)
{
	uint64_t t0;
	int server;
	char *out;

	open_private();
	cr_assert_eq(ovs_bridge_add(o, "ovsbr0", "ovshost0", false, &e), 0, "%s", e.msg);
	tap_add("vm-a-n0");
	tap_add("vm-b-n0");
	server = pid_of("ovsdb-server");
	cr_assert_eq(kill(server, SIGSTOP), 0);
	t0 = loop_now_ms();
	cr_assert_eq(ovs_port_add(o, "ovsbr0", "vm-a-n0", "vm-a", NULL, 0, &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_vm_del(o, "vm-x", &e), 0, "%s", e.msg);
	cr_assert_lt(loop_now_ms() - t0, 50);
	for (int i = 0; i < 5; i++)
		loop_run_once(100);
	cr_assert_eq(kill(server, SIGCONT), 0);
	cr_assert_eq(ovs_flush(o, 10000, &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_ports_wait(o, 10000, &e), 0, "%s", e.msg);
	out = vsctl("--bare", "--columns=name", "list", "Port");
	cr_assert(strstr(out, "vm-a-n0"), "%s", out);

	cr_assert_eq(kill(server, SIGKILL), 0);
	for (int i = 0; i < 50 && !losses; i++)
		loop_run_once(100);
	cr_assert_eq(losses, 1);
	/* Asked while it is gone: queued. */
	cr_assert_eq(ovs_port_add(o, "ovsbr0", "vm-b-n0", "vm-b", NULL, 0, &e), 0, "%s", e.msg);
	for (int i = 0; i < 100 && !(restarts && connects); i++)
		loop_run_once(100);
	cr_assert_eq(restarts, 1);
	cr_assert_eq(connects, 1);
	cr_assert_neq(pid_of("ovsdb-server"), server);
	cr_assert_eq(ovs_flush(o, 10000, &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_ports_wait(o, 10000, &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_port_state(o, "vm-b-n0", &e), 1, "%s", e.msg);
	out = vsctl("--bare", "--columns=name", "list", "Port");
	cr_assert(strstr(out, "vm-a-n0") && strstr(out, "vm-b-n0"), "%s", out);
	exits = expected_exits = 0;
	stop_and_check_nothing_left();
}

/* ovsdb-server killed and its database lost: the restarted one starts
 * from an empty conf.db, and what the fabric wants (bridge, ports) is
 * asserted again, tagged as before. */
Test(ovs, lost_database_is_rebuilt)
{
	uint16_t vlan = 9;
	char db[160], *out;
	int server;

	open_private();
	cr_assert_eq(ovs_bridge_add(o, "ovsbr0", "ovshost0", false, &e), 0, "%s", e.msg);
	tap_add("vm-a-n0");
	cr_assert_eq(ovs_port_add(o, "ovsbr0", "vm-a-n0", "vm-a", &vlan, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(ovs_ports_wait(o, 10000, &e), 0, "%s", e.msg);
	server = pid_of("ovsdb-server");
	snprintf(db, sizeof(db), "%s/ovs/conf.db", run_dir);
	cr_assert_eq(unlink(db), 0);
	cr_assert_eq(kill(server, SIGKILL), 0);
	for (int i = 0; i < 100 && !connects; i++)
		loop_run_once(100);
	cr_assert_eq(connects, 1);
	cr_assert_eq(ovs_flush(o, 10000, &e), 0, "%s", e.msg);
	cr_assert_str_eq(vsctl("list-br"), "ovsbr0\n");
	out = vsctl("--bare", "--columns=name", "list", "Port");
	cr_assert(strstr(out, "vm-a-n0") && strstr(out, "ovshost0"), "%s", out);
	cr_assert_str_eq(vsctl("get", "Port", "vm-a-n0", "tag"), "9\n");
	cr_assert_str_eq(vsctl("get", "Port", "vm-a-n0", "external_ids"), "{n3x-fabric=t, n3x-vm=vm-a}\n");
	/* ovs-vswitchd, still running, opens them from the new database. */
	for (int i = 0; i < 50 && ovs_port_state(o, "vm-a-n0", &e) != 1; i++)
		loop_run_once(100);
	cr_assert_eq(ovs_port_state(o, "vm-a-n0", &e), 1, "%s", e.msg);
	exits = expected_exits = 0;
	stop_and_check_nothing_left();
}

/* ovs-vswitchd keeps only its network capabilities, as n3x-ovs. */
Test(ovs, vswitchd_runs_unprivileged)
{
	char path[64], line[256];
	unsigned long long eff = ~0ULL;
	int uid = -1;
	FILE *f;

	open_private();
	if (ovs_warning(o))
		cr_skip_test("%s", ovs_warning(o));
	snprintf(path, sizeof(path), "/proc/%d/status", pid_of("ovs-vswitchd"));
	/* --user takes effect a moment after exec. */
	for (int i = 0; i < 50 && uid <= 0; i++) {
		cr_assert_not_null(f = fopen(path, "re"));
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "Uid: %d", &uid);
			sscanf(line, "CapEff: %llx", &eff);
		}
		fclose(f);
		if (uid <= 0)
			loop_run_once(100);
	}
	cr_assert_gt(uid, 0);
	/* What OVS keeps for a datapath daemon: CAP_NET_BIND_SERVICE 10,
	 * CAP_NET_BROADCAST 11, CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_IPC_LOCK
	 * 14 (for --mlockall); nothing else. */
	cr_assert_eq(eff & ~(0x1fULL << 10), 0, "CapEff %llx", eff);
	cr_assert_neq(eff & (1ULL << 12), 0, "CapEff %llx", eff);
	stop_and_check_nothing_left();
}

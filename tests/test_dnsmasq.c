/* test_dnsmasq.c - dnsmasq config (golden files), lease parsing, the lease
 * watcher, and a real dnsmasq handing out a reserved address.
 *
 * Golden files: TEST_DATA/dnsmasq/NAME.dnsmasq is the exact config expected
 * for the networks and hosts of the topology NAME.conf, written out here as
 * plain parameters (test_fabric checks the topology's own translation
 * against the same files), with $STATE = /var/lib/n3x/NAME; each is also
 * checked with `dnsmasq --test` when dnsmasq is installed.
 * N3X_REGEN_GOLDEN=1 rewrites the .dnsmasq files (review the diff).
 *
 * The real run needs root and dnsmasq, ip and busybox (udhcpc); it is skipped
 * otherwise.  Everything it touches lives in a network namespace it creates
 * and holds only by an fd: the namespace, its veth pair and dnsmasq go away
 * with the test process even when it fails.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/child.h"
#include "base/loop.h"
#include "net/dnsmasq.h"
#include "tests/golden.h"
#include "tests/net_helpers.h"

#define DATA TEST_DATA "/dnsmasq"

/* ---- helpers ---- */

static struct in_addr a4(const char *s)
{
	struct in_addr a = { 0 };

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "%s", s);
	return a;
}

/* A served network; start NULL: no DHCP. */
static struct dnsmasq_net net(const char *name, const char *ifname, const char *addr, int prefix,
			      const char *start, const char *end, const char *lease,
			      const char *domain)
{
	return (struct dnsmasq_net){ .name = name, .interface = ifname, .address = a4(addr),
				     .prefix = prefix, .dhcp = start != NULL,
				     .dhcp_start = a4(start ?: "0.0.0.0"),
				     .dhcp_end = a4(end ?: "0.0.0.0"), .dhcp_lease = lease,
				     .domain = domain };
}

static struct dnsmasq_host host(const char *name, const char *mac, const char *ip, int net)
{
	struct dnsmasq_host h = { .name = name, .ip = a4(ip), .net = net };

	snprintf(h.mac, sizeof(h.mac), "%s", mac);
	return h;
}

static struct dnsmasq_net nets[8];
static struct dnsmasq_host hosts[16];
static struct dnsmasq_config cfg;

/* cluster.conf: the SPEC example, one OVS network and four VMs. */
static const struct dnsmasq_config *cluster(void)
{
	nets[0] = net("lan", "ovshost0", "192.168.100.1", 24, "192.168.100.100", "192.168.100.200",
		      "12h", "local");
	hosts[0] = host("n100-1", "52:54:00:12:34:01", "192.168.100.10", 0);
	hosts[1] = host("n100-2", "52:54:00:12:34:02", "192.168.100.11", 0);
	hosts[2] = host("n100-3", "52:54:00:12:34:03", "192.168.100.12", 0);
	hosts[3] = host("jetson-1", "52:54:00:12:34:10", "192.168.100.20", 0);
	cfg = (struct dnsmasq_config){ .fabric = "n3x", .state_dir = "/var/lib/n3x/n3x",
				       .nets = nets, .nnets = 1, .hosts = hosts, .nhosts = 4 };
	return &cfg;
}

/* multi.conf: DHCP + domain, DHCP only, DNS only, two networks sharing a
 * domain; VMs with several NICs (one VM's NICs on one network too), one
 * NIC without an address of its own. */
static const struct dnsmasq_config *multi(void)
{
	nets[0] = net("lan", "lanhost0", "10.10.0.1", 16, "10.10.1.0", "10.10.1.255", "infinite",
		      "edge");
	nets[1] = net("mgmt", "br-mgmt", "172.16.5.1", 24, "172.16.5.100", "172.16.5.150", "1w",
		      NULL);
	nets[2] = net("lab", "br-lab", "10.20.0.1", 24, NULL, NULL, NULL, "lab.example");
	nets[3] = net("lan2", "br-lan2", "10.40.0.1", 28, "10.40.0.2", "10.40.0.14", "45m", "edge");
	hosts[0] = host("alpha", "52:54:00:aa:00:01", "10.10.0.10", 0);
	hosts[1] = host("alpha", "52:54:00:aa:00:02", "172.16.5.10", 1);
	hosts[2] = host("alpha", "52:54:00:aa:00:03", "10.20.0.10", 2);
	hosts[3] = host("beta", "52:54:00:bb:00:02", "172.16.5.11", 1);
	/* no ip=: named, with an address from the range */
	hosts[4] = host("beta", "52:54:00:2d:2a:be", "0.0.0.0", 0);
	hosts[5] = host("gamma", "52:54:00:cc:00:01", "0.0.0.0", 0);
	hosts[6] = host("delta", "52:54:00:dd:00:01", "10.40.0.5", 3);
	hosts[7] = host("bond", "52:54:00:ee:00:01", "10.10.0.20", 0);
	hosts[8] = host("bond", "52:54:00:ee:00:02", "10.10.0.21", 0);
	cfg = (struct dnsmasq_config){ .fabric = "multi", .state_dir = "/var/lib/n3x/multi",
				       .nets = nets, .nnets = 4, .hosts = hosts, .nhosts = 9 };
	return &cfg;
}

static bool on_path(const char *name)
{
	char buf[4096], *dir, *save = NULL;
	const char *path = getenv("PATH");

	snprintf(buf, sizeof(buf), "%s", path ? path : "");
	for (dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char p[4200];

		snprintf(p, sizeof(p), "%s/%s", dir, name);
		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

/* Run argv (in netns ns when >= 0) with stdout+stderr into out, for at most
 * timeout_ms; then SIGKILL.  Returns the wait status. */
static int run(int ns, const char *const argv[], char *out, size_t size, int timeout_ms)
{
	uint64_t deadline = loop_now_ms() + timeout_ms;
	size_t len = 0;
	int p[2], status;
	pid_t pid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((ns >= 0 && setns(ns, CLONE_NEWNET) < 0) || devnull < 0 || dup2(devnull, 0) < 0 ||
		    dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		int left = (int)(deadline - loop_now_ms());
		ssize_t n;

		if (left <= 0 || poll(&pf, 1, left) <= 0) {
			kill(pid, SIGKILL); /* our own child */
			break;
		}
		n = read(p[0], out + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == size - 1)
			break;
	}
	out[len] = '\0';
	close(p[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* `dnsmasq --test` on a config file: its syntax check, no side effects. */
static void dnsmasq_accepts(const char *path)
{
	char arg[4200], out[4096];
	const char *argv[] = { "dnsmasq", "--test", arg, NULL };
	int st;

	if (!on_path("dnsmasq"))
		return;
	snprintf(arg, sizeof(arg), "--conf-file=%s", path);
	st = run(-1, argv, out, sizeof(out), 10000);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "dnsmasq --test %s:\n%s", path, out);
}

/* ---- golden config ---- */

static void golden(const char *name, const struct dnsmasq_config *c)
{
	char gold[256], *got = NULL;
	size_t got_len;
	FILE *f = open_memstream(&got, &got_len);

	snprintf(gold, sizeof(gold), DATA "/%s.dnsmasq", name);
	cr_assert_eq(dnsmasq_write_config(c, f), 0);
	fclose(f);
	golden_expect(gold, got, got_len);
	dnsmasq_accepts(gold);
	free(got);
}

Test(dnsmasq_config, cluster)
{
	golden("cluster", cluster());
}

Test(dnsmasq_config, multi)
{
	golden("multi", multi());
}

Test(dnsmasq_config, file_and_argv)
{
	char dir[] = "/tmp/test-dnsmasq-conf-XXXXXX", path[64], tmp[128];
	struct strv argv = { 0 };
	struct stat st;
	size_t len;
	char *text;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dnsmasq.conf", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	cr_assert_eq(dnsmasq_write_config_file(cluster(), path), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_expect_neq(access(tmp, F_OK), 0, "%s left behind", tmp);
	text = read_text(path, &len);
	golden_expect(DATA "/cluster.dnsmasq", text, len);
	free(text);
	cr_expect_eq(dnsmasq_write_config_file(cluster(), "/nonexistent/dir/dnsmasq.conf"), -ENOENT);

	cr_assert_eq(dnsmasq_argv("/run/n3x/n3x/dnsmasq.conf", &argv), 0);
	cr_assert_eq(argv.n, 3);
	cr_expect_str_eq(argv.v[0], "dnsmasq");
	cr_expect_str_eq(argv.v[1], "--keep-in-foreground");
	cr_expect_str_eq(argv.v[2], "--conf-file=/run/n3x/n3x/dnsmasq.conf");
	strv_free(&argv);

	f = fopen("/dev/full", "we");
	cr_assert_not_null(f);
	cr_expect_eq(dnsmasq_write_config(cluster(), f), -EIO);
	fclose(f);
	unlink(path);
	rmdir(dir);
}

/* ---- lease parsing ---- */

static const uint8_t mac1[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x01 };

static const char *ip_of(const struct dnsmasq_lease *l, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &l->ip, buf, INET_ADDRSTRLEN);
}

static struct dnsmasq_lease *parse(const char *text, int *n)
{
	struct dnsmasq_lease *l;

	cr_assert_eq(dnsmasq_parse_leases(text, strlen(text), &l, n), 0);
	return l;
}

/* As dnsmasq 2.90 wrote it after a busybox udhcpc got its reserved address. */
Test(dnsmasq_leases, real_line)
{
	int n;
	char ip[INET_ADDRSTRLEN];
	struct dnsmasq_lease *l =
		parse("1795799292 52:54:00:12:34:01 192.168.100.10 n100-1 01:52:54:00:12:34:01\n", &n);

	cr_assert_eq(n, 1);
	cr_expect_eq(l[0].expiry, 1795799292);
	cr_expect_arr_eq(l[0].mac, mac1, 6);
	cr_expect_str_eq(ip_of(&l[0], ip), "192.168.100.10");
	cr_expect_str_eq(l[0].hostname, "n100-1");
	cr_expect_str_eq(l[0].clientid, "01:52:54:00:12:34:01");
	free(l);
}

Test(dnsmasq_leases, unknowns_infinite_and_v6)
{
	int n;
	char ip[INET_ADDRSTRLEN];
	struct dnsmasq_lease *l = parse(
		"0 52:54:00:12:34:02 192.168.100.11 * *\n"
		"1795799300 52:54:00:12:34:03 192.168.100.12 n100-3 *\n"
		"1795799301 20-00:11:22:33:44:55:66:77:88:99 192.168.100.13 ib *\n"
		"duid 00:01:00:01:2e:4a:1b:2c:52:54:00:12:34:99\n"
		"1795799302 305419896 fd00::10 n100-1 00:04:aa:bb:cc:dd\n"
		"1795799303 T305419897 fd00::11 * 00:04:aa:bb:cc:de\n",
		&n);

	cr_assert_eq(n, 2);
	cr_expect_eq(l[0].expiry, 0);
	cr_expect_str_eq(ip_of(&l[0], ip), "192.168.100.11");
	cr_expect_str_eq(l[0].hostname, "");
	cr_expect_str_eq(l[0].clientid, "");
	cr_expect_str_eq(l[1].hostname, "n100-3");
	cr_expect_eq(l[1].mac[5], 0x03);
	free(l);
}

Test(dnsmasq_leases, partial_and_garbage)
{
	int n;
	struct dnsmasq_lease *l;

	l = parse("", &n);
	cr_expect_eq(n, 0);
	cr_expect_null(l);
	/* The last line is cut: dnsmasq was still writing it. */
	l = parse("1795799292 52:54:00:12:34:01 192.168.100.10 n100-1 *\n"
		  "1795799293 52:54:00:12:34:02 192.168", &n);
	cr_expect_eq(n, 1);
	free(l);
	l = parse("1795799292 52:54:00:12:34:01 192.168.100.10 n100-1 01:52:54:00:12:34:01", &n);
	cr_expect_eq(n, 0);
	cr_expect_null(l);
	l = parse("\n"
		  "garbage\n"
		  "12x 52:54:00:12:34:01 192.168.100.10 a *\n"
		  "1 52:54:00:12:34 192.168.100.10 a *\n"
		  "1 52:54:00:12:34:0g 192.168.100.10 a *\n"
		  "1 52:54:00:12:34:01 192.168.100.300 a *\n"
		  "1 52:54:00:12:34:01 192.168.100.10\n"
		  "99999999999999999999 52:54:00:12:34:01 192.168.100.10 a *\n"
		  "1  52:54:00:12:34:01  192.168.100.10  spaced\n",
		  &n);
	cr_assert_eq(n, 1, "only the last line is a lease");
	cr_expect_str_eq(l[0].hostname, "spaced");
	cr_expect_str_eq(l[0].clientid, "");
	free(l);
	/* Names and client ids longer than the struct holds are cut. */
	char text[512], name[200] = { [0 ... 198] = 'a' };
	snprintf(text, sizeof(text), "7 52:54:00:12:34:01 10.0.0.1 %s %s\n", name, name);
	l = parse(text, &n);
	cr_assert_eq(n, 1);
	cr_expect_eq(strlen(l[0].hostname), sizeof(l[0].hostname) - 1);
	cr_expect_eq(strlen(l[0].clientid), sizeof(l[0].clientid) - 1);
	free(l);
}

Test(dnsmasq_leases, find)
{
	int n;
	char ip[INET_ADDRSTRLEN];
	const uint8_t other[6] = { 0x52, 0x54, 0x00, 0, 0, 9 };
	struct dnsmasq_lease *l = parse("100 52:54:00:12:34:01 10.0.0.1 a *\n"
					"300 52:54:00:12:34:01 10.0.0.3 a *\n"
					"200 52:54:00:12:34:01 10.0.0.2 a *\n", &n);

	cr_assert_eq(n, 3);
	cr_expect_str_eq(ip_of(dnsmasq_lease_find(l, n, mac1), ip), "10.0.0.3");
	cr_expect_null(dnsmasq_lease_find(l, n, other));
	cr_expect_null(dnsmasq_lease_find(NULL, 0, mac1));
	l[0].expiry = 0; /* never expires: beats any time */
	cr_expect_str_eq(ip_of(dnsmasq_lease_find(l, n, mac1), ip), "10.0.0.1");
	free(l);
}

/* ---- the watcher ---- */

static int calls, last_n;
static struct dnsmasq_lease last[8];

static void on_leases(void *opaque, const struct dnsmasq_lease *leases, int n)
{
	cr_assert_eq(opaque, &calls);
	calls++;
	last_n = n;
	if (n)
		memcpy(last, leases, (size_t)(n < 8 ? n : 8) * sizeof(*leases));
}

static struct err unreadable;

static void on_unreadable(void *opaque, const struct err *e)
{
	cr_assert_eq(opaque, &calls);
	unreadable = *e;
}

/* Run the loop until cb has been called want times in all, or timeout_ms. */
static bool wait_calls(int want, int timeout_ms)
{
	uint64_t deadline = loop_now_ms() + timeout_ms;

	while (calls < want && loop_now_ms() < deadline)
		cr_assert_geq(loop_run_once(20), 0);
	return calls >= want;
}

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void loop_setup(void)
{
	cr_assert_eq(loop_open(), 0);
}

TestSuite(dnsmasq_watch, .init = loop_setup, .fini = loop_close, .timeout = 30);

Test(dnsmasq_watch, follows_the_file)
{
	char dir[] = "/tmp/test-dnsmasq-watch-XXXXXX", path[64], tmp[128];
	struct dnsmasq_watch *w;
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dnsmasq.leases", dir);
	snprintf(tmp, sizeof(tmp), "%s/other", dir);

	/* Absent: reported once as empty, before open returns. */
	cr_assert_eq(dnsmasq_watch_open(path, on_leases, on_unreadable, &calls, &w), 0);
	cr_expect_eq(calls, 1);
	cr_expect_eq(last_n, 0);

	/* Created, as dnsmasq does on its first lease. */
	put(path, "1795799292 52:54:00:12:34:01 192.168.100.10 n100-1 *\n");
	cr_assert(wait_calls(2, 2000));
	cr_expect_eq(last_n, 1);
	cr_expect_str_eq(last[0].hostname, "n100-1");

	/* Rewritten in place the way dnsmasq does (truncate, write): seen
	 * once, whole, not as an empty file first. */
	fd = open(path, O_WRONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 0), 0);
	const char *two = "1795799292 52:54:00:12:34:01 192.168.100.10 n100-1 *\n"
			  "1795799300 52:54:00:12:34:02 192.168.100.11 n100-2 *\n";
	cr_assert_eq(write(fd, two, strlen(two)), (ssize_t)strlen(two));
	close(fd);
	cr_assert(wait_calls(3, 2000));
	cr_expect_eq(last_n, 2);
	cr_expect_str_eq(last[1].hostname, "n100-2");

	/* The same bytes again, and other files in the directory: no call. */
	put(path, two);
	put(tmp, "unrelated\n");
	cr_expect_not(wait_calls(4, 300));

	/* Replaced by rename. */
	put(tmp, "0 52:54:00:12:34:03 192.168.100.12 n100-3 *\n");
	cr_assert_eq(rename(tmp, path), 0);
	cr_assert(wait_calls(4, 2000));
	cr_expect_eq(last_n, 1);
	cr_expect_eq(last[0].expiry, 0);

	/* Removed. */
	cr_assert_eq(unlink(path), 0);
	cr_assert(wait_calls(5, 2000));
	cr_expect_eq(last_n, 0);

	/* Made a directory: it cannot be read, the leases stand. */
	cr_assert_eq(mkdir(path, 0700), 0);
	for (uint64_t end = loop_now_ms() + 2000; !unreadable.code && loop_now_ms() < end;)
		cr_assert_geq(loop_run_once(20), 0);
	cr_expect_eq(unreadable.code, EISDIR);
	snprintf(tmp, sizeof(tmp), "dnsmasq leases: cannot read %s: %s", path, strerror(EISDIR));
	cr_expect_str_eq(unreadable.msg, tmp);
	cr_expect_eq(calls, 5);

	dnsmasq_watch_close(w);
	rmdir(path);
	rmdir(dir);
}

Test(dnsmasq_watch, errors)
{
	struct dnsmasq_watch *w = (void *)1;
	char dir[] = "/tmp/test-dnsmasq-watch-XXXXXX", path[64];

	cr_expect_eq(dnsmasq_watch_open("/nonexistent/dir/dnsmasq.leases", on_leases, NULL, &calls, &w),
		     -ENOENT);
	cr_expect_null(w);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/file", dir);
	put(path, "");
	snprintf(path, sizeof(path), "%s/file/dnsmasq.leases", dir);
	cr_expect_eq(dnsmasq_watch_open(path, on_leases, NULL, &calls, &w), -ENOTDIR);
	snprintf(path, sizeof(path), "%s/file", dir);
	unlink(path);
	cr_expect_eq(calls, 0);
	/* The name is a directory: it cannot be read as a lease file. */
	snprintf(path, sizeof(path), "%s/leases", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_expect_eq(dnsmasq_watch_open(path, on_leases, NULL, &calls, &w), -EISDIR);
	cr_expect_eq(dnsmasq_watch_open("", on_leases, NULL, &calls, &w), -EISDIR);
	cr_expect_eq(calls, 0);
	rmdir(path);
	rmdir(dir);
	dnsmasq_watch_close(NULL);
}

/* ---- a real dnsmasq ---- */

#define HOSTIF "n3xt-h0"
#define CLIENTIF "n3xt-c0"
#define CLIENT_MAC "52:54:00:99:00:01"

static int netns = -1;
static char rundir[] = "/tmp/test-dnsmasq-run-XXXXXX";
static char conf_path[64], lease_path[64];
static struct child dm;
static struct dnsmasq_watch *rw;
static int dm_status = -1;

static void dm_exited(struct child *c, int status)
{
	(void)c;
	dm_status = status;
}

/* A new network namespace held only by the returned fd: the test process
 * steps in to create it and straight back out. */
static int new_netns(void)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), ns = -1;

	cr_assert_geq(self, 0);
	if (unshare(CLONE_NEWNET) == 0) {
		ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		cr_assert_eq(setns(self, CLONE_NEWNET), 0, "back to our namespace: %s", strerror(errno));
	}
	close(self);
	return ns;
}

static void run_setup(void)
{
	cr_assert_eq(loop_open(), 0);
	child_init(&dm, "dnsmasq", dm_exited, NULL);
}

static void run_teardown(void)
{
	if (child_running(&dm))
		child_stop_sync(&dm, 2000);
	dnsmasq_watch_close(rw);
	rw = NULL;
	/* The veth pair goes with the namespace, once dnsmasq is gone. */
	if (netns >= 0)
		close(netns);
	netns = -1;
	if (conf_path[0])
		unlink(conf_path);
	if (lease_path[0])
		unlink(lease_path);
	rmdir(rundir);
	loop_close();
}

TestSuite(dnsmasq_run, .init = run_setup, .fini = run_teardown, .timeout = 60);

static void ip(const char *const argv[])
{
	char out[1024];
	int st = run(netns, argv, out, sizeof(out), 5000);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ip %s %s %s: %s", argv[1], argv[2], argv[3], out);
}
#define IP(...) ip((const char *[]){ "ip", __VA_ARGS__, NULL })

/* The client's NIC has the reserved MAC; dnsmasq starts before the host
 * interface exists, as it may when the switch is slow to create it. */
Test(dnsmasq_run, reserved_address_and_names)
{
	const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x99, 0x00, 0x01 };
	const char *udhcpc[] = { "busybox", "udhcpc", "-i", CLIENTIF, "-f", "-q", "-n",
				 "-t", "10", "-T", "1", "-s", "/bin/true", NULL };
	const struct dnsmasq_lease *l;
	struct strv argv = { 0 };
	char out[4096], ipbuf[INET_ADDRSTRLEN];
	int st;

	if (geteuid() != 0 || !on_path("dnsmasq") || !on_path("ip") || !on_path("busybox"))
		cr_skip_test("needs root, dnsmasq, ip and busybox");
	if ((netns = new_netns()) < 0)
		cr_skip_test("cannot create a network namespace: %s", strerror(errno));
	cr_assert_not_null(mkdtemp(rundir));
	snprintf(conf_path, sizeof(conf_path), "%s/dnsmasq.conf", rundir);
	snprintf(lease_path, sizeof(lease_path), "%s/%s", rundir, DNSMASQ_LEASES);
	/* One DHCP network, with a veth pair standing in for the switch. */
	nets[0] = net("lan", HOSTIF, "10.99.0.1", 24, "10.99.0.100", "10.99.0.150", "1h", "test");
	hosts[0] = host("node-1", CLIENT_MAC, "10.99.0.10", 0);
	cfg = (struct dnsmasq_config){ .fabric = "run", .state_dir = rundir, .nets = nets,
				       .nnets = 1, .hosts = hosts, .nhosts = 1 };
	cr_assert_eq(dnsmasq_write_config_file(&cfg, conf_path), 0);
	dnsmasq_accepts(conf_path);

	calls = 0;
	cr_assert_eq(dnsmasq_watch_open(lease_path, on_leases, NULL, &calls, &rw), 0);
	cr_assert_eq(dnsmasq_argv(conf_path, &argv), 0);
	dm.netns = netns;
	cr_assert_eq(child_spawn(&dm, argv.v, NULL, 0), 0);
	strv_free(&argv);

	IP("link", "add", HOSTIF, "type", "veth", "peer", "name", CLIENTIF);
	IP("link", "set", CLIENTIF, "address", CLIENT_MAC, "up");
	IP("addr", "add", "10.99.0.1/24", "dev", HOSTIF);
	IP("link", "set", HOSTIF, "up");
	IP("link", "set", "lo", "up");

	/* dnsmasq's log piles up in its pipe meanwhile: a few kB. */
	st = run(netns, udhcpc, out, sizeof(out), 20000);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "udhcpc: %s", out);
	cr_expect(strstr(out, "lease of 10.99.0.10 obtained"), "udhcpc: %s", out);

	/* The watcher sees it. */
	for (uint64_t end = loop_now_ms() + 5000; loop_now_ms() < end;) {
		if (last_n && dnsmasq_lease_find(last, last_n, mac))
			break;
		cr_assert_geq(loop_run_once(50), 0);
	}
	cr_assert_eq(dm_status, -1, "dnsmasq exited: %s", dm.last_line);
	l = dnsmasq_lease_find(last, last_n, mac);
	cr_assert_not_null(l, "no lease for " CLIENT_MAC " in %s", lease_path);
	cr_expect_str_eq(inet_ntop(AF_INET, &l->ip, ipbuf, sizeof(ipbuf)), "10.99.0.10");
	cr_expect_str_eq(l->hostname, "node-1");
	cr_expect_gt(l->expiry, (int64_t)time(NULL));

	/* DNS on the host interface: the full name, the plain one, the PTR,
	 * and names nobody has (never REFUSED for want of an upstream). */
	const char *names[][2] = { { "node-1.test", "10.99.0.10" }, { "node-1", "10.99.0.10" },
				   { "10.99.0.10", "node-1.test" }, { "nosuch.test", "NXDOMAIN" },
				   { "nosuch", "NXDOMAIN" } };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *q[] = { "busybox", "nslookup", names[i][0], "10.99.0.1", NULL };

		run(netns, q, out, sizeof(out), 10000);
		cr_expect(strstr(out, names[i][1]) && !strstr(out, "REFUSED"), "nslookup %s: %s",
			  names[i][0], out);
	}
}

/* test_netns.c - named namespaces in /run/netns, checked with iproute2's
 * `ip netns` as the independent reader.  Every name is n3x-test-PID-*, and
 * the fixture deletes them even when an assertion fails. */
#include "net/link.h"
#include "net/netns.h"
#include "tests/net_helpers.h"

#include <limits.h>
#include <sys/stat.h>

static char name[64], stale[64];

static void setup(void)
{
	need_root();
	snprintf(name, sizeof(name), "n3x-test-%d", (int)getpid());
	snprintf(stale, sizeof(stale), "n3x-test-%d-stale", (int)getpid());
}

static void teardown(void)
{
	netns_delete(name);
	netns_delete(stale);
}

TestSuite(netns, .init = setup, .fini = teardown);

static ino_t ino_of_fd(int fd)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_ino;
}

/* The namespace this thread is in now. */
static ino_t current_ns(void)
{
	struct stat st;

	cr_assert_eq(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

/* Does `ip netns list` show n?  Its lines are "NAME" or "NAME (id: N)". */
static bool ip_lists(const char *n)
{
	char out[8192], *line, *save = NULL;
	size_t len = strlen(n);

	cr_assert_eq(RUN(out, IP_BIN, "netns", "list"), 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, n, len) && (line[len] == '\0' || line[len] == ' '))
			return true;
	return false;
}

Test(netns_name, fabric)
{
	char buf[16];

	cr_assert_eq(netns_name("n3x", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "n3x-n3x");
	cr_assert_eq(netns_name("0123456789ab", buf, sizeof(buf)), -ENAMETOOLONG);
}

Test(netns_name, bad_names)
{
	const char *bad[] = { "", "a/b", ".", "..", "/abs" };
	int saved;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(netns_create(bad[i]), -EINVAL, "create \"%s\"", bad[i]);
		cr_assert_eq(netns_open(bad[i]), -EINVAL, "open \"%s\"", bad[i]);
		cr_assert_eq(netns_delete(bad[i]), -EINVAL, "delete \"%s\"", bad[i]);
	}
	/* netns=host: fd -1 means stay where we are. */
	cr_assert_eq(netns_enter(-1, &saved), 0);
	cr_assert_eq(saved, -1);
	cr_assert_eq(netns_leave(-1), 0);
}

Test(netns, lifecycle)
{
	char out[8192];
	ino_t home = current_ns();
	int fd, saved;

	cr_assert_eq(netns_create(name), 0);
	cr_assert_eq(current_ns(), home, "create left the thread in the new namespace");
	cr_assert_eq(netns_create(name), -EEXIST);
	cr_assert(ip_lists(name), "`ip netns list` does not show %s", name);

	fd = netns_open(name);
	cr_assert_geq(fd, 0, "%s", strerror(-fd));
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	cr_assert_neq(ino_of_fd(fd), home);

	cr_assert_eq(netns_enter(fd, &saved), 0);
	cr_assert_geq(saved, 0);
	cr_assert_eq(current_ns(), ino_of_fd(fd));
	/* Inside: a fresh namespace has only lo, and ours brought it up. */
	cr_assert_eq(link_ifindex("lo"), 1);
	{
		json_t *l = ip_link("lo");

		cr_assert(json_has_str(json_object_get(l, "flags"), "UP"), "lo is down");
		json_decref(l);
	}
	cr_assert_eq(netns_leave(saved), 0);
	cr_assert_eq(current_ns(), home);

	/* iproute2 can enter it too: the mount is where `ip netns exec` looks. */
	cr_assert_eq(RUN(out, IP_BIN, "netns", "exec", name, IP_BIN, "-o", "link", "show", "up"), 0);
	cr_assert(strstr(out, "lo:"), "ip netns exec sees no lo up: %s", out);
	cr_assert_null(strstr(out, "eth"));

	close(fd);
	cr_assert_eq(netns_delete(name), 0);
	cr_assert_not(ip_lists(name));
	cr_assert_eq(netns_delete(name), -ENOENT);
	cr_assert_eq(netns_open(name), -ENOENT);
}

/* /run/netns is a shared mount point afterwards, as iproute2 makes it. */
Test(netns, run_dir_shared)
{
	char out[4096];

	cr_assert_eq(netns_create(name), 0);
	cr_assert_eq(RUN(out, "/usr/bin/findmnt", "-n", "-o", "PROPAGATION", NETNS_RUN_DIR), 0);
	cr_assert(!strncmp(out, "shared", 6), "propagation of /run/netns: %s", out);
}

/* Links made inside stay inside; the namespace outlives our fd. */
Test(netns, isolated_and_kept_by_mount)
{
	int fd, saved;

	cr_assert_eq(netns_create(name), 0);
	fd = netns_open(name);
	cr_assert_geq(fd, 0);
	cr_assert_eq(netns_enter(fd, &saved), 0);
	close(fd);
	cr_assert_eq(link_bridge_create("n3xt0", false, false), 0);
	cr_assert_eq(netns_leave(saved), 0);
	cr_assert_eq(link_exists("n3xt0"), 0, "bridge leaked into the caller's namespace");

	fd = netns_open(name);
	cr_assert_geq(fd, 0);
	cr_assert_eq(netns_enter(fd, &saved), 0);
	cr_assert_eq(link_exists("n3xt0"), 1, "namespace lost once our fd closed");
	cr_assert_eq(netns_leave(saved), 0);
	close(fd);
}

/* A create killed between the placeholder file and the bind mount. */
Test(netns, stale_placeholder)
{
	char path[PATH_MAX];
	int fd;

	cr_assert_eq(netns_create(name), 0); /* makes sure /run/netns exists */
	snprintf(path, sizeof(path), "%s/%s", NETNS_RUN_DIR, stale);
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(netns_open(stale), -ESTALE);
	cr_assert_eq(netns_create(stale), -EEXIST);
	cr_assert_eq(netns_delete(stale), 0);
	cr_assert_eq(access(path, F_OK), -1);
	cr_assert_eq(netns_create(stale), 0);
}

Test(netns, enter_not_a_namespace)
{
	ino_t home = current_ns();
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), saved = 123;

	cr_assert_eq(netns_enter(fd, &saved), -EINVAL);
	cr_assert_eq(saved, -1);
	cr_assert_eq(current_ns(), home);
	close(fd);
}

/* fabric_drv.c - the timing half of bench/fabric.
 *
 * usage: fabric_drv NETNS RUN_DIR ROUNDS N...
 *
 * Starts a private OVS (net/ovs.h) inside the named network namespace NETNS,
 * whose taps bt0..bt(max N - 1) bench/fabric has created, then for each N
 * and round times the same work two ways on that same OVS:
 *   ovsdb   ovs_bridge_add() + N x ovs_port_add() + ovs_ports_wait()
 *   vsctl   one `ovs-vsctl add-br` + N x `ovs-vsctl add-port` processes, as
 *           libvirt and the seed do, each waiting (as ovs-vsctl does by
 *           default) until ovs-vswitchd has applied it
 * Both build the same rows: a netdev bridge with fail_mode, stp, forward-bpdu
 * and an internal host port, then per port a VLAN tag, a linux-noop QoS and
 * the n3x external_ids.  The fabric is cleared (untimed) after each run and
 * ovs-vswitchd given FABRIC_DRV_SETTLE_MS (1500) to finish tearing down.
 * Prints one line per N: "N ovsdb_ms vsctl_ms" (medians); with
 * FABRIC_DRV_DEBUG set, also when each port went live, on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/loop.h"
#include "net/ovs.h"

#define FABRIC "bench"
#define BRIDGE "benchbr0"
#define HOSTIF "benchhost0"

extern char **environ;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "fabric_drv: %s: %s\n", what, msg);
	exit(1);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double t_start;
static struct err e;    /* what the failing call said */

static void on_port(void *opaque, const char *port, int ofport, const char *error)
{
	(void)opaque;
	if (getenv("FABRIC_DRV_DEBUG"))
		fprintf(stderr, "  %.1f ms: %s ofport %d %s\n", now() - t_start, port, ofport, error ?: "");
}

static double run_ovsdb(struct ovs *o, int n)
{
	double t0 = t_start = now();

	if (ovs_bridge_add(o, BRIDGE, HOSTIF, false, &e) < 0)
		die("ovsdb", e.msg);
	for (int i = 0; i < n; i++) {
		char port[16], vm[16];
		uint16_t vlan = 100 + i % 2;

		snprintf(port, sizeof(port), "bt%d", i);
		snprintf(vm, sizeof(vm), "vm%d", i);
		if (ovs_port_add(o, BRIDGE, port, vm, &vlan, 1, &e) < 0)
			die("ovsdb", e.msg);
	}
	double t1 = now();
	if (ovs_ports_wait(o, 30000, &e) < 0)
		die("ovsdb", e.msg);
	if (getenv("FABRIC_DRV_DEBUG"))
		fprintf(stderr, "n=%d adds %.1f ms, wait %.1f ms\n", n, t1 - t0, now() - t1);
	return now() - t0;
}

static void vsctl(const char *sock, char **args)
{
	char db[300], *argv[64];
	int n = 0, status;
	posix_spawn_file_actions_t quiet;
	pid_t pid;

	snprintf(db, sizeof(db), "--db=unix:%s", sock);
	argv[n++] = "ovs-vsctl";
	argv[n++] = db;
	argv[n++] = "--timeout=30";
	while (*args)
		argv[n++] = *args++;
	argv[n] = NULL;
	/* `create` prints the new row's uuid. */
	posix_spawn_file_actions_init(&quiet);
	posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &quiet, NULL, argv, environ) != 0)
		die("ovs-vsctl", strerror(errno));
	posix_spawn_file_actions_destroy(&quiet);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		die("ovs-vsctl", "failed");
}

static double run_vsctl(struct ovs *o, int n)
{
	const char *sock = ovs_db_sock(o);
	double t0 = now();
	char *br[] = { "--", "add-br", BRIDGE,
		"--", "set", "Bridge", BRIDGE, "datapath_type=netdev", "fail_mode=standalone",
		"stp_enable=false", "other_config:forward-bpdu=true", "external_ids:n3x-fabric=" FABRIC,
		"--", "set", "Port", BRIDGE, "external_ids:n3x-fabric=" FABRIC,
		"--", "set", "Interface", BRIDGE, "external_ids:n3x-fabric=" FABRIC,
		"--", "add-port", BRIDGE, HOSTIF, "external_ids:n3x-fabric=" FABRIC,
		"--", "set", "Interface", HOSTIF, "type=internal", "external_ids:n3x-fabric=" FABRIC,
		NULL };

	vsctl(sock, br);
	for (int i = 0; i < n; i++) {
		char port[16], tag[16], vm[48];

		snprintf(port, sizeof(port), "bt%d", i);
		snprintf(tag, sizeof(tag), "tag=%d", 100 + i % 2);
		snprintf(vm, sizeof(vm), "external_ids:n3x-vm=vm%d", i);
		char *args[] = { "--", "add-port", BRIDGE, port, tag, "qos=@q",
			"external_ids:n3x-fabric=" FABRIC, vm,
			"--", "set", "Interface", port, "external_ids:n3x-fabric=" FABRIC, vm,
			"--", "--id=@q", "create", "QoS", "type=linux-noop",
			"external_ids:n3x-fabric=" FABRIC, vm, NULL };
		vsctl(sock, args);
	}
	return now() - t0;
}

/* Remove the fabric and let ovs-vswitchd finish tearing its datapath down:
 * a bridge added while it still does waits ~100 ms, whoever adds it. */
static void clear(struct ovs *o)
{
	if (ovs_clear_fabric(o, &e) < 0)
		die("clear", e.msg);
	usleep(atoi(getenv("FABRIC_DRV_SETTLE_MS") ?: "1500") * 1000);
}

int main(int argc, char **argv)
{
	char path[256];
	struct ovs *o;
	int ns, rounds;

	if (argc < 5) {
		fprintf(stderr, "usage: fabric_drv NETNS RUN_DIR ROUNDS N...\n");
		return 2;
	}
	rounds = atoi(argv[3]);
	if (rounds < 1 || rounds > 64)
		rounds = 3;
	snprintf(path, sizeof(path), "/run/netns/%s", argv[1]);
	if ((ns = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		die(path, strerror(errno));
	if (loop_open() < 0)
		die("loop", strerror(errno));
	double t0 = now();
	struct ovs_callbacks cb = { .port = on_port };
	if (ovs_open(FABRIC, argv[2], ns, &cb, &o, &e) < 0)
		die("open", e.msg);
	fprintf(stderr, "%s OVS (%s datapath) up in %.0f ms\n", ovs_is_private(o) ? "private" : "system",
		ovs_datapath(o), now() - t0);
	/* ovs-vswitchd creates its userspace datapath with the first bridge
	 * and, the first time in its life, calibrates its TSC for 100 ms:
	 * a warm-up run pays that outside the measurements. */
	run_ovsdb(o, 1);
	clear(o);
	for (int a = 4; a < argc; a++) {
		int n = atoi(argv[a]);
		double t[2][64];

		for (int r = 0; r < rounds; r++) {
			/* Alternate which goes first: neither always runs
			 * right after the other's teardown. */
			for (int k = 0; k < 2; k++) {
				int which = (k + r) % 2;

				t[which][r] = which ? run_vsctl(o, n) : run_ovsdb(o, n);
				clear(o);
			}
		}
		qsort(t[0], rounds, sizeof(double), cmp);
		qsort(t[1], rounds, sizeof(double), cmp);
		printf("%d %.1f %.1f\n", n, t[0][rounds / 2], t[1][rounds / 2]);
		fflush(stdout);
	}
	if (ovs_stop(o, &e) < 0)
		die("stop", e.msg);
	while (ovs_running(o) && loop_run_once(1000) >= 0)
		;
	ovs_close(o, NULL);
	loop_close();
	close(ns);
	return 0;
}

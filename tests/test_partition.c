/* test_partition.c - launcher/partition.c against this kernel: a topology
 * of three one-NIC VMs whose switch ports are veths of the names the fabric
 * gives them (VM-n0_p, its peer standing for the rest of the switch), in a
 * private namespace (no fabric: partition.c works in the caller's).  Frames
 * from each VM's MAC are sent into the other VMs' ports and counted on the
 * far side: who reaches whom is measured, not read back. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/partition.h"
#include "net/tap.h"
#include "tests/frames.h"
#include "tests/net_helpers.h"

#define TC_BIN "/usr/sbin/tc"

static const char *const vms[] = { "a", "b", "c" };
static const uint8_t macs[3][6] = { { 0x52, 0x54, 0, 0xaa, 0, 1 }, { 0x52, 0x54, 0, 0xaa, 0, 2 },
				    { 0x52, 0x54, 0, 0xaa, 0, 3 } };
static struct topology *topo;
static char dir[] = "/tmp/test-partition-XXXXXX", conf[64];

/* Port of VM i and its peer (the "switch" end we send from). */
static void port(int i, char *p, char *peer)
{
	char tap[IFNAMSIZ];

	cr_assert_eq(tap_name(vms[i], 0, tap, sizeof(tap)), 0);
	tap_port_name(tap, p, IFNAMSIZ);
	snprintf(peer, IFNAMSIZ, "sw-%s", vms[i]);
}

/* a gets the line extra_a, b and c extra_bc; extra follows the VMs. */
static void setup_with(const char *extra_a, const char *extra_bc, const char *extra)
{
	char out[256], p[IFNAMSIZ], peer[IFNAMSIZ];
	struct err e = { 0 };
	FILE *f;

	enter_private_netns();
	cr_assert_not_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/t.conf", dir);
	cr_assert_not_null(f = fopen(conf, "we"));
	fputs("[network lan]\n", f);
	for (int i = 0; i < 3; i++)
		fprintf(f, "[vm %s]\nkernel = " TEST_DATA "/topology/vmlinuz-test\n"
			   "nic = lan mac=52:54:00:aa:00:0%d\n%s\n", vms[i], i + 1, i ? extra_bc : extra_a);
	fputs(extra, f);
	fclose(f);
	cr_assert_eq(topo_load(conf, stderr, &topo), 0);
	for (int i = 0; i < 3; i++) {
		port(i, p, peer);
		cr_assert_eq(RUN(out, IP_BIN, "link", "add", p, "type", "veth", "peer", "name", peer), 0);
		cr_assert_eq(RUN(out, IP_BIN, "link", "set", p, "up"), 0);
		cr_assert_eq(RUN(out, IP_BIN, "link", "set", peer, "up"), 0);
	}
	cr_assert_eq(partition_open(topo, &e), 0, "%s", e.msg);
}

static void setup(void)
{
	setup_with("", "", "");
}

static void teardown(void)
{
	partition_close(false);
	topo_free(topo);
	unlink(conf);
	rmdir(dir);
}

/* Frames from VM `from` reach VM `to` (sent into to's port). */
static bool reaches(int from, int to)
{
	char p[IFNAMSIZ], peer[IFNAMSIZ];
	int n;

	port(to, p, peer);
	n = frames_through(p, peer, macs[from], true, 5);
	cr_assert(n == 0 || n == 5, "%s -> %s: %d of 5 frames", vms[from], vms[to], n);
	return n == 5;
}

static void expect_matrix(const char *what, const bool want[3][3])
{
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			if (i != j)
				cr_expect_eq(reaches(i, j), want[i][j], "%s: %s -> %s", what, vms[i], vms[j]);
}

static void expect_status(const char *json)
{
	json_t *got = partition_status_json(), *want = json_loads(json, JSON_DECODE_ANY, NULL);
	char *text = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);

	cr_expect(json_equal(got, want), "status %s, want %s", text, json);
	free(text);
	json_decref(got);
	json_decref(want);
}

TestSuite(partition, .init = setup, .fini = teardown);
TestSuite(sites, .fini = teardown);

Test(partition, groups_one_way_and_heal)
{
	const bool all[3][3] = { { 1, 1, 1 }, { 1, 1, 1 }, { 1, 1, 1 } },
		   split[3][3] = { { 1, 0, 0 }, { 0, 1, 1 }, { 0, 1, 1 } },
		   a_to_b[3][3] = { { 1, 0, 1 }, { 1, 1, 1 }, { 1, 1, 1 } };
	struct err e = { 0 };

	expect_matrix("before", all);
	expect_status("null");
	cr_assert_eq(partition_apply_spec("a | b, c", &e), 0, "%s", e.msg);
	expect_matrix("a | b,c", split);
	expect_status("{\"groups\":[[\"a\"],[\"b\",\"c\"]]}");
	cr_assert_eq(partition_apply_spec("a -> b", &e), 0, "%s", e.msg);
	expect_matrix("a -> b", a_to_b);
	expect_status("{\"from\":[\"a\"],\"to\":[\"b\"]}");
	cr_assert_eq(partition_heal(&e), 0, "%s", e.msg);
	expect_matrix("healed", all);
	expect_status("null");
}

/* A supervisor killed or told to keep its VMs leaves the partition in
 * $RUN; the next one takes it over and gives it to the adopted VMs' ports.
 * A plain shutdown removes the file. */
Test(partition, kept_for_the_next_supervisor)
{
	const bool split[3][3] = { { 1, 0, 0 }, { 0, 1, 1 }, { 0, 1, 1 } };
	char path[sizeof(dir) + 32];
	struct err e = { 0 };

	snprintf(path, sizeof(path), "%s/partition.json", dir);
	cr_assert_eq(partition_keep(path, false, &e), 0, "%s", e.msg);
	cr_assert_eq(partition_apply_spec("a | b,c", &e), 0, "%s", e.msg);
	partition_close(true);
	cr_assert_eq(access(path, F_OK), 0, "the file outlives a kept close");
	for (int i = 0; i < 3; i++) { /* the ports as a fresh fabric has them */
		char out[256], p[IFNAMSIZ], peer[IFNAMSIZ];

		port(i, p, peer);
		RUN(out, TC_BIN, "qdisc", "del", "dev", p, "root");
	}
	cr_assert_eq(partition_open(topo, &e), 0, "%s", e.msg);
	cr_assert_eq(partition_keep(path, true, &e), 1, "%s", e.msg);
	expect_status("{\"groups\":[[\"a\"],[\"b\",\"c\"]]}");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(partition_vm_up(&topo->vms[i], &e), 0, "%s", e.msg);
	expect_matrix("kept a | b,c", split);
	partition_close(false);
	cr_expect_neq(access(path, F_OK), 0, "a plain close removes the file");
	cr_assert_eq(partition_open(topo, &e), 0, "%s", e.msg);
	cr_assert_eq(partition_keep(path, true, &e), 0, "%s", e.msg);
	expect_status("null");
	unlink(path);
}

Test(partition, bad_specs_change_nothing)
{
	const bool split[3][3] = { { 1, 0, 0 }, { 0, 1, 1 }, { 0, 1, 1 } };
	static const struct {
		const char *spec, *msg;
	} bad[] = {
		{ "a | nosuch", "group 2: no vm \"nosuch\" in " },
		{ "a,b", "a partition needs two groups of VMs or more" },
		{ "a | a", "group 2: vm a is named twice" },
		{ "a -> a", "to: vm a is named twice" },
		{ "a || b", "group 2: name one VM or more" },
		{ " -> b", "bad partition \" -> b\" (use A,B | C or A,B -> C)" },
	};
	struct err e = { 0 };

	cr_assert_eq(partition_apply_spec("a|b,c", &e), 0, "%s", e.msg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(partition_apply_spec(bad[i].spec, &e), -EINVAL, "%s", bad[i].spec);
		cr_expect(!strncmp(e.msg, bad[i].msg, strlen(bad[i].msg)), "%s: %s", bad[i].spec, e.msg);
	}
	expect_matrix("still a | b,c", split);
	expect_status("{\"groups\":[[\"a\"],[\"b\",\"c\"]]}");
}

/* a at site core, b and c at edge: edge:core is a band on every port,
 * edge:edge one more on b's and c's. */
Test(sites, bands_and_a_partition_on_top)
{
	char out[8192], p[IFNAMSIZ], peer[IFNAMSIZ];
	struct err e = { 0 };
	const bool split[3][3] = { { 1, 1, 0 }, { 1, 1, 1 }, { 0, 1, 1 } };

	setup_with("site = core", "site = edge", "[latency]\nedge:core = rate 2mbit\nedge:edge = rate 3mbit\n");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(partition_vm_up(topo_find_vm(topo, vms[i]), &e), 0, "%s", e.msg);
	port(1, p, peer);
	cr_assert_eq(RUN(out, TC_BIN, "qdisc", "show", "dev", p), 0);
	cr_expect(strstr(out, "rate 3Mbit") && strstr(out, "rate 2Mbit"), "b's port: a band for c, one for a: %s",
		  out);
	port(0, p, peer);
	cr_assert_eq(RUN(out, TC_BIN, "qdisc", "show", "dev", p), 0);
	cr_expect(strstr(out, "rate 2Mbit") && !strstr(out, "rate 3Mbit"), "a's port: edge:core only: %s", out);
	cr_assert_eq(partition_apply_spec("a | c", &e), 0, "%s", e.msg);
	expect_matrix("a | c with sites", split);
	cr_assert_eq(partition_heal(&e), 0, "%s", e.msg);
	port(1, p, peer);
	cr_assert_eq(RUN(out, TC_BIN, "qdisc", "show", "dev", p), 0);
	cr_expect(strstr(out, "rate 3Mbit"), "healing keeps the sites: %s", out);
}

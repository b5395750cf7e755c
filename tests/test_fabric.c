/* test_fabric.c - the fabric's translation of a topology into what dnsmasq
 * serves, against the golden configs of test_dnsmasq: TEST_DATA/dnsmasq/
 * NAME.conf is a topology, NAME.dnsmasq the exact config for it with
 * $STATE = /var/lib/n3x/NAME.  The rest of the fabric needs root, OVS and
 * namespaces: the t_fabric_* integration tests build it.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher/fabric.h"
#include "launcher/topology.h"
#include "tests/golden.h"
#include "tests/net_helpers.h"

#define DATA TEST_DATA "/dnsmasq"

static char bindir[] = "/tmp/test-fabric-bin-XXXXXX";

static const char *const fakes[] = { "qemu-system-x86_64", "qemu-system-aarch64" };

/* topo_load wants QEMU on $PATH: fake ones first, the real tools after. */
static void fake_path(void)
{
	char path[4096];

	cr_assert_not_null(mkdtemp(bindir));
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", bindir, fakes[i]);
		cr_assert_eq(symlink("/bin/true", path), 0, "%s: %s", path, strerror(errno));
	}
	snprintf(path, sizeof(path), "%s:%s", bindir, getenv("PATH") ?: "/usr/sbin:/usr/bin");
	setenv("PATH", path, 1);
}

static void unfake_path(void)
{
	char path[128];

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", bindir, fakes[i]);
		unlink(path);
	}
	rmdir(bindir);
}

TestSuite(fabric_dnsmasq, .init = fake_path, .fini = unfake_path);

static struct topology *load(const char *name)
{
	struct topology *t;
	char *msgs = NULL;
	size_t len;
	FILE *err = open_memstream(&msgs, &len);
	int r;

	cr_assert_eq(chdir(DATA), 0, "%s: %s", DATA, strerror(errno));
	r = topo_load(name, err, &t);
	fclose(err);
	cr_assert_eq(r, 0, "%s: topo_load returned %d:\n%s", name, r, msgs);
	free(msgs);
	return t;
}

static void golden(const char *name)
{
	char conf[64], gold[64], state[64], *got = NULL;
	size_t got_len;
	struct topology *t = load((snprintf(conf, sizeof(conf), "%s.conf", name), conf));
	struct dnsmasq_config c;
	FILE *f = open_memstream(&got, &got_len);

	snprintf(gold, sizeof(gold), "%s.dnsmasq", name);
	snprintf(state, sizeof(state), "/var/lib/n3x/%s", t->fabric.name);
	cr_assert_eq(fabric_dnsmasq_config(t, state, &c), 0);
	cr_assert_eq(dnsmasq_write_config(&c, f), 0);
	fclose(f);
	golden_expect(gold, got, got_len);
	fabric_dnsmasq_free(&c);
	free(got);
	topo_free(t);
}

Test(fabric_dnsmasq, cluster)
{
	golden("cluster");
}

/* Networks dnsmasq does not serve are left out; a NIC without ip= on a
 * DHCP network is named without an address. */
Test(fabric_dnsmasq, multi)
{
	golden("multi");
}

Test(fabric_dnsmasq, nothing_to_serve)
{
	struct topology *t = load("nothing.conf");
	struct dnsmasq_config c;

	cr_assert_eq(fabric_dnsmasq_config(t, "/x", &c), 0);
	cr_expect_eq(c.nnets, 0);
	cr_expect_eq(c.nhosts, 0);
	fabric_dnsmasq_free(&c);
	topo_free(t);
}

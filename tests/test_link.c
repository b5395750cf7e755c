/* test_link.c - the rtnetlink helpers against the real kernel, each test in
 * a network namespace of its own; iproute2 (`ip -j`, `bridge -j`) reads back
 * what we set, and ping checks that a bridge really forwards. */
#include "net/link.h"
#include "net/netns.h"
#include "tests/net_helpers.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

/* A veth pair; peer_ns >= 0 puts the peer into that namespace. */
static void veth(const char *name, const char *peer, int peer_ns)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *l = rtnl_link_veth_alloc();
	struct rtnl_link *p = rtnl_link_veth_get_peer(l);
	int err;

	cr_assert_eq(nl_connect(sk, NETLINK_ROUTE), 0);
	rtnl_link_set_name(l, name);
	rtnl_link_set_name(p, peer);
	if (peer_ns >= 0)
		rtnl_link_set_ns_fd(p, peer_ns);
	err = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	cr_assert_eq(err, 0, "veth %s/%s: %s", name, peer, nl_geterror(err));
	rtnl_link_put(p);
	rtnl_link_veth_release(l);
	nl_socket_free(sk);
}

static bool is_up(json_t *l)
{
	return json_has_str(json_object_get(l, "flags"), "UP");
}

static json_t *info_data(json_t *l)
{
	return json_object_get(json_object_get(l, "linkinfo"), "info_data");
}

static struct in_addr ip4(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* Does this kernel have CONFIG_BRIDGE_VLAN_FILTERING?  Skip if not. */
static void bridge_vlan_or_skip(const char *name)
{
	int err = link_bridge_create(name, false, true);

	if (err == -EOPNOTSUPP)
		cr_skip_test("kernel without CONFIG_BRIDGE_VLAN_FILTERING");
	cr_assert_eq(err, 0, "%s", strerror(-err));
}

TestSuite(link, .init = enter_private_netns);

Test(link, lookup)
{
	cr_assert_eq(link_exists("lo"), 1);
	cr_assert_eq(link_ifindex("lo"), 1);
	cr_assert_eq(link_exists("n3x-none"), 0);
	cr_assert_eq(link_ifindex("n3x-none"), -ENODEV);
	cr_assert_eq(link_ifindex("0123456789abcdef"), -EINVAL);
	cr_assert_eq(link_ifindex(""), -EINVAL);
	cr_assert_eq(link_set_up("n3x-none"), -ENODEV);
}

Test(link, bridge_stp)
{
	json_t *l;

	cr_assert_eq(link_bridge_create("br0", true, false), 0);
	cr_assert_eq(link_bridge_create("br0", true, false), -EEXIST);
	l = ip_link("br0");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(l, "linkinfo"),
							   "info_kind")), "bridge");
	cr_assert_eq(json_integer_value(json_object_get(info_data(l), "stp_state")), 1);
	cr_assert_eq(json_integer_value(json_object_get(info_data(l), "forward_delay")), 200);
	json_decref(l);

	cr_assert_eq(link_bridge_create("br1", false, false), 0);
	l = ip_link("br1");
	cr_assert_eq(json_integer_value(json_object_get(info_data(l), "stp_state")), 0);
	json_decref(l);
}

Test(link, bridge_vlan_filtering)
{
	json_t *l;

	bridge_vlan_or_skip("br0");
	l = ip_link("br0");
	cr_assert_eq(json_integer_value(json_object_get(info_data(l), "vlan_filtering")), 1);
	json_decref(l);
}

Test(link, configure_up_down)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
	json_t *l;

	veth("v0", "v1", -1);
	cr_assert_eq(link_configure("v0", mac, 1400, true), 0);
	l = ip_link("v0");
	cr_assert_str_eq(json_string_value(json_object_get(l, "address")), "52:54:00:ab:cd:ef");
	cr_assert_eq(json_integer_value(json_object_get(l, "mtu")), 1400);
	cr_assert(is_up(l));
	json_decref(l);

	cr_assert_eq(link_set_down("v0"), 0);
	l = ip_link("v0");
	cr_assert_not(is_up(l));
	cr_assert_eq(json_integer_value(json_object_get(l, "mtu")), 1400);
	json_decref(l);
	cr_assert_eq(link_configure("v0", NULL, -1, false), -EINVAL);
}

Test(link, master)
{
	char m[IFNAMSIZ];
	json_t *l;

	veth("v0", "v1", -1);
	cr_assert_eq(link_bridge_create("br0", false, false), 0);
	cr_assert_eq(link_get_master("v0", m, sizeof(m)), 0);
	cr_assert_str_eq(m, "");
	cr_assert_eq(link_set_master("v0", "br0"), 0);
	cr_assert_eq(link_get_master("v0", m, sizeof(m)), 0);
	cr_assert_str_eq(m, "br0");
	l = ip_link("v0");
	cr_assert_str_eq(json_string_value(json_object_get(l, "master")), "br0");
	json_decref(l);

	cr_assert_eq(link_set_master("v0", NULL), 0);
	l = ip_link("v0");
	cr_assert_null(json_object_get(l, "master"));
	json_decref(l);
	cr_assert_eq(link_set_master("v0", "n3x-none"), -ENODEV);
}

Test(link, addr_add)
{
	json_t *arr, *ai, *a;
	size_t i;
	int inet = 0;

	cr_assert_eq(link_bridge_create("br0", false, false), 0);
	cr_assert_eq(link_addr_add("br0", ip4("192.168.77.1"), 24), 0);
	cr_assert_eq(link_addr_add("br0", ip4("192.168.77.1"), 24), 0, "not idempotent");
	cr_assert_eq(link_addr_add("br0", ip4("192.168.77.1"), 33), -EINVAL);
	cr_assert_eq(link_addr_add("n3x-none", ip4("192.168.77.1"), 24), -ENODEV);

	arr = ip_json((char *const[]){ IP_BIN, "-j", "addr", "show", "dev", "br0", NULL });
	ai = json_object_get(json_array_get(arr, 0), "addr_info");
	json_array_foreach(ai, i, a) {
		if (strcmp(json_string_value(json_object_get(a, "family")), "inet"))
			continue;
		inet++;
		cr_assert_str_eq(json_string_value(json_object_get(a, "local")), "192.168.77.1");
		cr_assert_eq(json_integer_value(json_object_get(a, "prefixlen")), 24);
		cr_assert_str_eq(json_string_value(json_object_get(a, "broadcast")),
				 "192.168.77.255");
	}
	cr_assert_eq(inet, 1);
	json_decref(arr);
}

struct seen {
	int n;
	char names[4][IFNAMSIZ];
	int stop_with;
};

static int visit(const char *name, const char *alias, void *arg)
{
	struct seen *s = arg;

	cr_assert(!strncmp(alias, "n3x:", 4));
	if (s->n < 4)
		snprintf(s->names[s->n], IFNAMSIZ, "%s", name);
	s->n++;
	return s->stop_with;
}

Test(link, alias_tag)
{
	char buf[LINK_ALIAS_MAX];
	struct seen s = { 0 };
	json_t *l;

	cr_assert_eq(link_bridge_create("br0", false, false), 0);
	cr_assert_eq(link_bridge_create("br1", false, false), 0);
	cr_assert_eq(link_get_alias("br0", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "");
	cr_assert_eq(link_list_by_alias("n3x:", visit, &s), 0);

	cr_assert_eq(link_set_alias("br0", "n3x:test"), 0);
	cr_assert_eq(link_set_alias("br1", "n3x:other"), 0);
	cr_assert_eq(link_get_alias("br0", buf, sizeof(buf)), 8);
	cr_assert_str_eq(buf, "n3x:test");
	cr_assert_eq(link_get_alias("br0", buf, 4), -ENAMETOOLONG);
	l = ip_link("br0");
	cr_assert_str_eq(json_string_value(json_object_get(l, "ifalias")), "n3x:test");
	json_decref(l);

	cr_assert_eq(link_list_by_alias("n3x:test", visit, &s), 1);
	cr_assert_str_eq(s.names[0], "br0");
	s.n = 0;
	cr_assert_eq(link_list_by_alias("n3x:", visit, &s), 2);
	s.n = 0;
	s.stop_with = 7;
	cr_assert_eq(link_list_by_alias("n3x:", visit, &s), 7);
	cr_assert_eq(s.n, 1);

	cr_assert_eq(link_set_alias("br0", ""), 0);
	cr_assert_eq(link_get_alias("br0", buf, sizeof(buf)), 0);
	s.n = 0;
	s.stop_with = 0;
	cr_assert_eq(link_list_by_alias("n3x:test", visit, &s), 0);
}

Test(link, delete)
{
	char m[IFNAMSIZ];

	veth("v0", "v1", -1);
	cr_assert_eq(link_bridge_create("br0", false, false), 0);
	cr_assert_eq(link_set_master("v0", "br0"), 0);
	cr_assert_eq(link_delete("br0"), 0);
	cr_assert_eq(link_exists("br0"), 0);
	cr_assert_eq(link_delete("br0"), -ENODEV);
	/* The port survives its bridge, released. */
	cr_assert_eq(link_get_master("v0", m, sizeof(m)), 0);
	cr_assert_str_eq(m, "");
	cr_assert_eq(link_delete("v0"), 0);
	cr_assert_eq(link_exists("v1"), 0, "veth peer outlived its pair");
}

/* Both ends made in one request, up, with the MAC and MTU asked for; a
 * taken name is EEXIST and leaves nothing new behind. */
Test(link, veth_create)
{
	const uint8_t mac[6] = { 0xfe, 0x54, 0, 0x12, 0x34, 0x56 };
	json_t *l;

	cr_assert_eq(link_veth_create("g0", "p0", mac, 1400), 0);
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "p0" : "g0";

		l = ip_link(name);
		cr_expect_str_eq(json_string_value(json_object_get(l, "link_type")), "ether");
		cr_expect_str_eq(json_string_value(json_object_get(l, "address")), "fe:54:00:12:34:56", "%s", name);
		cr_expect_eq(json_integer_value(json_object_get(l, "mtu")), 1400, "%s", name);
		cr_expect(json_has_str(json_object_get(l, "flags"), "UP"), "%s is down", name);
		cr_expect_str_eq(json_string_value(json_object_get(l, "link")), i ? "g0" : "p0");
		json_decref(l);
	}
	cr_expect_eq(link_veth_create("g0", "p1", NULL, 0), -EEXIST);
	cr_expect_eq(link_exists("p1"), 0);
	cr_assert_eq(link_veth_create("g1", "p1", NULL, 0), 0);
	cr_expect_eq(link_delete("g1"), 0);
	cr_expect_eq(link_exists("p1"), 0, "the peer goes with its pair");
}

Test(link, vlan_bad_input)
{
	const uint16_t zero = 0, big = 4095, two[2] = { 100, 200 };

	cr_assert_eq(link_bridge_vlan("lo", &zero, 1, true), -EINVAL);
	cr_assert_eq(link_bridge_vlan("lo", &big, 1, false), -EINVAL);
	cr_assert_eq(link_bridge_vlan("lo", two, 2, true), -EINVAL);
	cr_assert_eq(link_bridge_vlan("lo", two, 0, false), -EINVAL);
	cr_assert_eq(link_bridge_vlan("n3x-none", two, 1, true), -ENODEV);
}

/* `bridge -j vlan show dev NAME` as {vid: flags} checks. */
static json_t *bridge_vlans(const char *dev)
{
	json_t *arr = ip_json((char *const[]){ BRIDGE_BIN, "-j", "vlan", "show", "dev",
					       (char *)dev, NULL });
	json_t *v = json_incref(json_object_get(json_array_get(arr, 0), "vlans"));

	json_decref(arr);
	cr_assert_not_null(v, "bridge shows no vlans on %s", dev);
	return v;
}

static void expect_vlan(json_t *vlans, size_t i, int vid, bool pvid, bool untagged)
{
	json_t *v = json_array_get(vlans, i), *flags;

	cr_assert_not_null(v, "vlan entry %zu missing", i);
	flags = json_object_get(v, "flags");
	cr_assert_eq(json_integer_value(json_object_get(v, "vlan")), vid);
	cr_assert_eq(json_has_str(flags, "PVID"), pvid, "vid %d PVID", vid);
	cr_assert_eq(json_has_str(flags, "Egress Untagged"), untagged, "vid %d untagged", vid);
}

Test(link, vlan_access_trunk_self)
{
	const uint16_t acc = 100, trunk[2] = { 100, 200 };
	json_t *v;

	bridge_vlan_or_skip("br0");
	veth("v0", "v1", -1);
	veth("v2", "v3", -1);
	cr_assert_eq(link_set_master("v0", "br0"), 0);
	cr_assert_eq(link_set_master("v2", "br0"), 0);

	cr_assert_eq(link_bridge_vlan("v0", &acc, 1, true), 0);
	v = bridge_vlans("v0");
	cr_assert_eq(json_array_size(v), 1, "VID 1 left on the access port");
	expect_vlan(v, 0, 100, true, true);
	json_decref(v);

	cr_assert_eq(link_bridge_vlan("v2", trunk, 2, false), 0);
	v = bridge_vlans("v2");
	cr_assert_eq(json_array_size(v), 2);
	expect_vlan(v, 0, 100, false, false);
	expect_vlan(v, 1, 200, false, false);
	json_decref(v);

	/* The bridge itself, as the host interface on VLAN 100. */
	cr_assert_eq(link_bridge_vlan("br0", &acc, 1, true), 0);
	v = bridge_vlans("br0");
	cr_assert_eq(json_array_size(v), 1);
	expect_vlan(v, 0, 100, true, true);
	json_decref(v);
}

/* ---- traffic: two or three "hosts" on a bridge in the test's namespace ---- */

static char ns[3][32];

static void traffic_init(void)
{
	enter_private_netns();
	if (access(PING_BIN, X_OK) < 0)
		cr_skip_test(PING_BIN " missing (Debian package iputils-ping)");
	cr_assert_eq(link_set_up("lo"), 0);
	for (int i = 0; i < 3; i++)
		snprintf(ns[i], sizeof(ns[i]), "n3x-test-%d-%c", (int)getpid(), 'a' + i);
}

static void traffic_fini(void)
{
	for (int i = 0; i < 3; i++)
		netns_delete(ns[i]);
}

/* Host i: namespace ns[i] with eth0 = 10.77.0.(i+1)/24, its veth peer
 * "p-i" on bridge br0 here (access vid when vid > 0). */
static void host(int i, int vid)
{
	char port[IFNAMSIZ], addr[24];
	int fd, saved;
	uint16_t v = vid;

	cr_assert_eq(netns_create(ns[i]), 0);
	fd = netns_open(ns[i]);
	cr_assert_geq(fd, 0);
	snprintf(port, sizeof(port), "p-%d", i);
	veth(port, "eth0", fd);
	cr_assert_eq(link_set_master(port, "br0"), 0);
	if (vid)
		cr_assert_eq(link_bridge_vlan(port, &v, 1, true), 0);
	cr_assert_eq(link_set_up(port), 0);

	snprintf(addr, sizeof(addr), "10.77.0.%d", i + 1);
	cr_assert_eq(netns_enter(fd, &saved), 0);
	cr_assert_eq(link_addr_add("eth0", ip4(addr), 24), 0);
	cr_assert_eq(link_set_up("eth0"), 0);
	cr_assert_eq(netns_leave(saved), 0);
	close(fd);
}

/* ping from host `from` to 10.77.0.(to+1), bounded; true if it answered. */
static bool ping(int from, int to, const char *count, const char *wait)
{
	char out[4096], dst[24];
	int fd = netns_open(ns[from]), st;

	cr_assert_geq(fd, 0);
	snprintf(dst, sizeof(dst), "10.77.0.%d", to + 1);
	st = run_capture_ns(fd, out, sizeof(out),
			    (char *const[]){ PING_BIN, "-n", "-q", "-c", (char *)count, "-i",
					     "0.2", "-W", (char *)wait, dst, NULL });
	close(fd);
	return st == 0;
}

TestSuite(traffic, .init = traffic_init, .fini = traffic_fini, .timeout = 60);

Test(traffic, bridge_forwards)
{
	cr_assert_eq(link_bridge_create("br0", false, false), 0);
	cr_assert_eq(link_set_up("br0"), 0);
	host(0, 0);
	host(1, 0);
	cr_assert(ping(0, 1, "3", "2"), "10.77.0.1 cannot reach 10.77.0.2 over br0");
}

Test(traffic, vlans_separate)
{
	bridge_vlan_or_skip("br0");
	cr_assert_eq(link_set_up("br0"), 0);
	host(0, 100);
	host(1, 100);
	host(2, 200);
	cr_assert(ping(0, 1, "3", "2"), "VLAN 100 does not reach VLAN 100");
	cr_assert_not(ping(0, 2, "2", "1"), "VLAN 100 reaches VLAN 200");
}

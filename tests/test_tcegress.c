/* test_tcegress.c - tc_egress_apply and tc_link_dump against this kernel,
 * each test in a network namespace of its own (net_helpers.h), with
 * iproute2's `tc -j` as the independent observer.  tbf runs everywhere;
 * the netem tests run where the kernel has netem (the netem VM) and are
 * skipped elsewhere, where the refusal is tested instead. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "tests/net_helpers.h"
#include "tc/rule.h"
#include "tc/tc.h"

#define TC_BIN "/usr/sbin/tc"

static void veth(void)
{
	char out[256];

	enter_private_netns();
	cr_assert_eq(RUN(out, IP_BIN, "link", "add", "v0", "type", "veth", "peer", "name", "v1"), 0);
	/* No IPv6, so no router solicitations or MLD reports in the counters. */
	for (int i = 0; i < 2; i++) {
		char path[64];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/v%d/disable_ipv6", i);
		if ((f = fopen(path, "we"))) {
			fputs("1", f);
			fclose(f);
		}
	}
	cr_assert_eq(RUN(out, IP_BIN, "link", "set", "v0", "up"), 0);
	cr_assert_eq(RUN(out, IP_BIN, "link", "set", "v1", "up"), 0);
}

static struct tc_shape shape(const char *text)
{
	struct tc_rule r;
	struct err err = { 0 };

	cr_assert_eq(tc_rule_parse(text, &r, &err), 0, "%s", err.msg);
	return r.to_vm;
}

static void apply(const char *dev, const char *text)
{
	struct tc_shape s = text ? shape(text) : (struct tc_shape){ 0 };
	struct err err = { 0 };

	cr_assert_eq(tc_egress_apply(dev, &s, &err), 0, "%s: %s", text ?: "clear", err.msg);
	cr_assert_eq(err.code, 0, "%s", err.msg);
}

/* `tc -s -j qdisc show dev DEV`, without the kernel's handle-0 defaults. */
static json_t *tc_show(const char *dev)
{
	json_t *all = ip_json((char *const[]){ TC_BIN, "-s", "-j", "qdisc", "show", "dev",
					       (char *)dev, NULL });
	json_t *ours = json_array(), *q;
	size_t i;

	json_array_foreach(all, i, q)
		if (strcmp(json_string_value(json_object_get(q, "handle")) ?: "", "0:"))
			json_array_append(ours, q);
	json_decref(all);
	return ours;
}

/* The link of tap dev glued to v1 (the veth's other end). */
static json_t *dump(const char *dev)
{
	json_t *j = NULL;

	cr_assert_eq(tc_link_dump(dev, "v1", &j), 0);
	cr_assert(json_is_array(json_object_get(j, "to_vm")) && json_is_array(json_object_get(j, "from_vm")));
	return j;
}

static json_int_t num(json_t *o, const char *path1, const char *key)
{
	json_t *v = json_object_get(path1 ? json_object_get(o, path1) : o, key);

	cr_assert(json_is_integer(v), "no integer %s.%s", path1 ?: "", key);
	return json_integer_value(v);
}

/* Frames out of dev through its qdisc, without addresses or routes. */
static void send_frames(const char *dev, int n)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(dev),
				  .sll_halen = ETH_ALEN };
	unsigned char frame[100] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x88, 0xb5 };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	memset(to.sll_addr, 0xff, ETH_ALEN);
	for (int i = 0; i < n; i++)
		cr_assert_eq(sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)),
			     (ssize_t)sizeof(frame));
	close(fd);
}

Test(tcegress, tbf_apply_read_back_switch_clear)
{
	json_t *t, *d, *q;

	veth();
	apply("v0", "rate 10mbit");
	t = tc_show("v0");
	cr_assert_eq(json_array_size(t), 1, "%s", json_dumps(t, 0));
	q = json_array_get(t, 0);
	cr_expect_str_eq(json_string_value(json_object_get(q, "kind")), "tbf");
	cr_expect_str_eq(json_string_value(json_object_get(q, "handle")), "2:");
	cr_expect(json_is_true(json_object_get(q, "root")));
	cr_expect_eq(num(q, "options", "rate"), 1250000, "tc shows bytes/s");
	cr_expect_eq(num(q, "options", "burst"), 15000);
	cr_expect_eq(num(q, "options", "lat"), 50000, "limit 77500 = 15000 + 50 ms at the rate");
	json_decref(t);

	d = dump("v0");
	cr_assert_eq(json_array_size(json_object_get(d, "to_vm")), 1);
	cr_expect_eq(json_array_size(json_object_get(d, "from_vm")), 0, "nothing on the glue end, nothing from the VM");
	q = json_array_get(json_object_get(d, "to_vm"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(q, "kind")), "tbf");
	cr_expect_str_eq(json_string_value(json_object_get(q, "handle")), "2:");
	cr_expect_str_eq(json_string_value(json_object_get(q, "parent")), "root");
	cr_expect_eq(num(q, "params", "rate_bps"), 10000000);
	cr_expect_eq(num(q, "params", "burst_bytes"), 15000);
	cr_expect_eq(num(q, "params", "limit_bytes"), 77500);
	cr_expect_str_eq(json_string_value(json_object_get(q, "text")),
			 "rate 10Mbit burst 15000b limit 77500");
	json_decref(d);

	/* Switch: the same tbf changes in place. */
	apply("v0", "rate 50mbit");
	t = tc_show("v0");
	cr_assert_eq(json_array_size(t), 1);
	cr_expect_eq(num(json_array_get(t, 0), "options", "rate"), 6250000);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(t, 0), "handle")), "2:");
	json_decref(t);

	apply("v0", NULL);
	t = tc_show("v0");
	cr_expect_eq(json_array_size(t), 0, "left behind: %s", json_dumps(t, 0));
	json_decref(t);
	d = dump("v0");
	cr_expect_eq(json_array_size(json_object_get(d, "to_vm")), 0);
	json_decref(d);
	apply("v0", NULL); /* clearing nothing is fine */
}

Test(tcegress, counters_match_tc)
{
	json_t *t, *d, *q;

	veth();
	apply("v0", "rate 100mbit");
	send_frames("v0", 25);
	t = tc_show("v0");
	d = dump("v0");
	q = json_array_get(json_object_get(d, "to_vm"), 0);
	cr_expect_eq(num(q, "stats", "packets"), 25);
	cr_expect_eq(num(q, "stats", "bytes"), 25 * 100);
	cr_expect_eq(num(q, "stats", "packets"), num(json_array_get(t, 0), NULL, "packets"));
	cr_expect_eq(num(q, "stats", "drops"), num(json_array_get(t, 0), NULL, "drops"));
	cr_expect_eq(num(q, "stats", "overlimits"), num(json_array_get(t, 0), NULL, "overlimits"));
	cr_expect_eq(num(q, "stats", "backlog_bytes"), num(json_array_get(t, 0), NULL, "backlog"));
	cr_expect_eq(num(q, "stats", "backlog_packets"), num(json_array_get(t, 0), NULL, "qlen"));
	json_decref(t);
	json_decref(d);
}

/* On a kernel without netem a rule that needs it fails before anything
 * changes, naming the word and the kernel option. */
Test(tcegress, netem_refused_without_netem)
{
	struct tc_shape s;
	struct err err = { 0 };
	json_t *t;

	veth();
	if (tc_netem_available() != 0)
		cr_skip_test("this kernel has netem");
	apply("v0", "rate 50mbit");
	s = shape("rate 10mbit delay 20ms");
	cr_expect_eq(tc_egress_apply("v0", &s, &err), -EOPNOTSUPP);
	cr_expect_str_eq(err.msg, "v0: delay needs netem: Specified qdisc kind is unknown (the kernel "
			 "lacks CONFIG_NET_SCH_NETEM; rate alone works, with tbf)");
	t = tc_show("v0");
	cr_expect_eq(num(json_array_get(t, 0), "options", "rate"), 6250000, "the old shape stays");
	json_decref(t);
}

/* tc_netem_available asks the kernel; so does tc. */
Test(tcegress, netem_probe_agrees_with_tc)
{
	char out[256];
	int st, avail;

	enter_private_netns();
	avail = tc_netem_available();
	cr_assert_geq(avail, 0);
	st = RUN(out, TC_BIN, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms");
	cr_expect_eq(avail, st == 0, "probe says %d, tc exited %d", avail, st);
	cr_expect_eq(tc_netem_available(), avail, "stable");
}

Test(tcegress, foreign_root_is_left_alone_by_clear)
{
	char out[256];
	json_t *t;

	veth();
	cr_assert_eq(RUN(out, TC_BIN, "qdisc", "add", "dev", "v0", "root", "handle", "5:", "htb"), 0);
	apply("v0", NULL);
	t = tc_show("v0");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(t, 0), "kind")), "htb");
	json_decref(t);
	/* A shape takes the root over in one graft. */
	apply("v0", "rate 1gbit");
	t = tc_show("v0");
	cr_expect_eq(json_array_size(t), 1);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(t, 0), "kind")), "tbf");
	json_decref(t);
}

Test(tcegress, from_vm_is_the_glue_ends_egress)
{
	json_t *d, *q;

	veth();
	apply("v1", "rate 5mbit");
	d = dump("v0");
	cr_expect_eq(json_array_size(json_object_get(d, "to_vm")), 0);
	cr_assert_eq(json_array_size(json_object_get(d, "from_vm")), 1);
	q = json_array_get(json_object_get(d, "from_vm"), 0);
	cr_expect_eq(num(q, "params", "rate_bps"), 5000000);
	json_decref(d);
}

Test(tcegress, missing_link)
{
	struct tc_shape s = shape("rate 1mbit");
	struct err err = { 0 };
	json_t *j = NULL;

	enter_private_netns();
	cr_expect_eq(tc_egress_apply("nosuch0", &s, &err), -ENODEV);
	cr_expect_str_eq(err.msg, "nosuch0: no such link");
	cr_expect_eq(tc_link_dump("nosuch0", "nosuch1", &j), -ENODEV);
	cr_expect_null(j);
}

/* The tree with netem: root 1:, tbf 10: under 1:1 when there is a rate. */
Test(tcegress, netem_tree_and_switches)
{
	json_t *t, *d, *q, *p;
	bool two;

	veth();
	if (tc_netem_available() != 1)
		cr_skip_test("this kernel has no netem");
	apply("v0", "rate 10mbit delay 20ms loss 1%");
	t = tc_show("v0");
	cr_assert_eq(json_array_size(t), 2, "%s", json_dumps(t, 0));
	two = !strcmp(json_string_value(json_object_get(json_array_get(t, 0), "kind")), "netem");
	q = json_array_get(t, two ? 1 : 0);
	cr_expect_str_eq(json_string_value(json_object_get(q, "kind")), "tbf");
	cr_expect_str_eq(json_string_value(json_object_get(q, "handle")), "10:");
	cr_expect_str_eq(json_string_value(json_object_get(q, "parent")), "1:1");
	q = json_object_get(json_array_get(t, two ? 0 : 1), "options");
	cr_expect_float_eq(json_real_value(json_object_get(json_object_get(q, "delay"), "delay")),
			   0.02, 1e-9, "tc shows seconds");
	cr_expect_float_eq(json_real_value(json_object_get(json_object_get(q, "loss-random"), "loss")),
			   0.01, 1e-6, "tc shows a fraction");
	json_decref(t);

	d = dump("v0");
	q = json_array_get(json_object_get(d, "to_vm"), 0);
	if (strcmp(json_string_value(json_object_get(q, "kind")), "netem"))
		q = json_array_get(json_object_get(d, "to_vm"), 1);
	p = json_object_get(q, "params");
	cr_expect_str_eq(json_string_value(json_object_get(q, "handle")), "1:");
	cr_expect_eq(num(q, "params", "delay_us"), 20000);
	cr_expect_float_eq(json_real_value(json_object_get(p, "loss_pct")), 1.0, 1e-9);
	json_decref(d);

	/* Rate gone: netem stays, its child goes. */
	apply("v0", "delay 30ms");
	t = tc_show("v0");
	cr_expect_eq(json_array_size(t), 1, "%s", json_dumps(t, 0));
	json_decref(t);
	d = dump("v0");
	q = json_array_get(json_object_get(d, "to_vm"), 0);
	cr_expect_eq(num(q, "params", "delay_us"), 30000);
	cr_expect_null(json_object_get(json_object_get(q, "params"), "loss_pct"), "loss reset");
	json_decref(d);

	/* Rate only: tbf 2: replaces netem; then nothing. */
	apply("v0", "rate 10mbit");
	t = tc_show("v0");
	cr_expect_eq(json_array_size(t), 1);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(t, 0), "kind")), "tbf");
	json_decref(t);
	apply("v0", NULL);
	t = tc_show("v0");
	cr_expect_eq(json_array_size(t), 0);
	json_decref(t);
}

/* A change in place must not keep what the old rule had and the new one
 * leaves out: netem keeps those unless told (see tc_netem_build). */
Test(tcegress, netem_change_forgets_old_options)
{
	json_t *d, *p;

	veth();
	if (tc_netem_available() != 1)
		cr_skip_test("this kernel has no netem");
	apply("v0", "delay 20ms jitter 5ms distribution normal loss 1% 25% corrupt 5% 10% "
		    "reorder 10% 20% duplicate 1% 5%");
	d = dump("v0");
	p = json_object_get(json_array_get(json_object_get(d, "to_vm"), 0), "params");
	cr_expect_float_eq(json_real_value(json_object_get(p, "corrupt_pct")), 5, 1e-6);
	cr_expect_float_eq(json_real_value(json_object_get(p, "reorder_corr_pct")), 20, 1e-6);
	cr_expect_float_eq(json_real_value(json_object_get(p, "loss_corr_pct")), 25, 1e-6);
	json_decref(d);

	apply("v0", "delay 30ms jitter 1ms loss 2%");
	d = dump("v0");
	p = json_object_get(json_array_get(json_object_get(d, "to_vm"), 0), "params");
	cr_expect_eq(json_integer_value(json_object_get(p, "delay_us")), 30000);
	cr_expect_eq(json_integer_value(json_object_get(p, "jitter_us")), 1000);
	cr_expect_float_eq(json_real_value(json_object_get(p, "loss_pct")), 2, 1e-6);
	for (const char *const *k = (const char *const[]){ "loss_corr_pct", "corrupt_pct",
			"corrupt_corr_pct", "reorder_pct", "reorder_corr_pct", "duplicate_pct",
			"duplicate_corr_pct", NULL }; *k; k++)
		cr_expect_null(json_object_get(p, *k), "%s kept: %s", *k, json_dumps(p, 0));
	json_decref(d);
}

Test(tcegress, netem_seed_in_force_is_shown)
{
	struct tc_shape s;
	struct err err = { 0 };
	struct utsname u;
	json_t *d, *q;
	int r, major = 0, minor = 0;

	veth();
	if (tc_netem_available() != 1)
		cr_skip_test("this kernel has no netem");
	s = shape("loss 20% seed 12345");
	r = tc_egress_apply("v0", &s, &err);
	/* TCA_NETEM_PRNG_SEED is Linux 6.3: older kernels must refuse it. */
	uname(&u);
	if (sscanf(u.release, "%d.%d", &major, &minor) == 2 && (major < 6 || (major == 6 && minor < 3))) {
		cr_expect_eq(r, -EOPNOTSUPP, "%s took a seed", u.release);
		cr_expect_str_eq(err.msg, "v0: seed needs Linux 6.3 or later (TCA_NETEM_PRNG_SEED); "
				 "this kernel would ignore it");
		return;
	}
	cr_assert_eq(r, 0, "%s", err.msg);
	d = dump("v0");
	q = json_array_get(json_object_get(d, "to_vm"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(q, "params"), "seed")),
			 "12345");
	json_decref(d);
}

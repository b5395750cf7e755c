/* test_tap.c - taps made in a private namespace, read back with `ip -j`. */
#include "net/link.h"
#include "net/tap.h"
#include "tests/net_helpers.h"

#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <time.h>

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x01 };

/* The kernel unregisters a closed tap in the close; allow it a moment
 * all the same rather than make the test depend on that. */
static bool gone(const char *name)
{
	for (int i = 0; i < 100; i++) {
		if (link_exists(name) == 0)
			return true;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	return false;
}

Test(tap, name)
{
	char buf[IFNAMSIZ];

	cr_assert_eq(tap_name("n100-1", 0, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "n100-1-n0");
	/* A 12-character VM name (the limit) with a one-digit NIC fits IFNAMSIZ. */
	cr_assert_eq(tap_name("abcdefghijkl", 9, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "abcdefghijkl-n9");
	cr_assert_eq(tap_name("abcdefghijkl", 10, buf, sizeof(buf)), -ENAMETOOLONG);
	cr_assert_eq(tap_name("vm", -1, buf, sizeof(buf)), -ENAMETOOLONG);
	cr_assert_eq(tap_name("vm", 0, buf, 4), -ENAMETOOLONG);
}

/* The veth names beside a tap: the tap's name with _g / _p when it fits;
 * a 15-character tap cut with its hash, so neighbours never collide. */
Test(tap, glue_and_port_names)
{
	char a[IFNAMSIZ], b[IFNAMSIZ];

	tap_glue_name("n100-1-n0", a, sizeof(a));
	tap_port_name("n100-1-n0", b, sizeof(b));
	cr_expect_str_eq(a, "n100-1-n0_g");
	cr_expect_str_eq(b, "n100-1-n0_p");
	tap_port_name("abcdefghijk-n1", a, sizeof(a)); /* 14 + 2 does not fit */
	tap_port_name("abcdefghijk-n2", b, sizeof(b));
	cr_expect_eq(strlen(a), IFNAMSIZ - 1);
	cr_expect_str_neq(a, b);
	cr_expect_eq(strncmp(a, "abcdefghi", 9), 0, "%s", a);
	cr_expect_str_eq(a + strlen(a) - 2, "_p");
	tap_glue_name("abcdefghijkl-n1", a, sizeof(a));
	tap_port_name("abcdefghijkl-n1", b, sizeof(b));
	cr_expect_eq(strncmp(a, b, strlen(a) - 2), 0, "glue %s and port %s share the stem", a, b);
}

Test(tap, create_and_close, .init = enter_private_netns)
{
	struct ifreq ifr = { 0 };
	int fd = -1;
	json_t *l;

	cr_assert_eq(tap_create("vm1-n0", guest_mac, 0, &fd), 0);
	cr_assert_geq(fd, 0);
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	cr_assert_eq(ioctl(fd, TUNGETIFF, &ifr), 0);
	cr_assert_str_eq(ifr.ifr_name, "vm1-n0");
	cr_assert_eq(ifr.ifr_flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR),
		     IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);

	l = ip_link("vm1-n0");
	cr_assert_str_eq(json_string_value(json_object_get(l, "address")), "fe:54:00:12:34:01");
	cr_assert_eq(json_integer_value(json_object_get(l, "mtu")), 1500);
	cr_assert(json_has_str(json_object_get(l, "flags"), "UP"));
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(l, "linkinfo"),
							   "info_kind")), "tun");
	json_decref(l);

	close(fd);
	cr_assert(gone("vm1-n0"), "tap outlived its fd");
}

Test(tap, mtu, .init = enter_private_netns)
{
	int fd = -1;
	json_t *l;

	cr_assert_eq(tap_create("vm1-n1", guest_mac, 9000, &fd), 0);
	l = ip_link("vm1-n1");
	cr_assert_eq(json_integer_value(json_object_get(l, "mtu")), 9000);
	json_decref(l);
	close(fd);
}

/* A tap still held (by a QEMU that outlived an earlier supervisor) is not
 * taken over. */
Test(tap, busy, .init = enter_private_netns)
{
	int fd = -1, fd2 = -1;

	cr_assert_eq(tap_create("vm1-n0", guest_mac, 0, &fd), 0);
	cr_assert_eq(tap_create("vm1-n0", guest_mac, 0, &fd2), -EBUSY);
	cr_assert_eq(fd2, -1);
	cr_assert_eq(link_exists("vm1-n0"), 1);
	close(fd);
}

Test(tap, name_taken_by_other_kind, .init = enter_private_netns)
{
	int fd = -1;

	cr_assert_eq(link_bridge_create("vm1-n0", false, false), 0);
	cr_assert_eq(tap_create("vm1-n0", guest_mac, 0, &fd), -EINVAL);
	cr_assert_eq(link_exists("vm1-n0"), 1);
}

Test(tap, failure_leaves_nothing, .init = enter_private_netns)
{
	int fd = -1;

	/* Above the tun driver's maximum MTU: created, then refused. */
	cr_assert_eq(tap_create("vm1-n0", guest_mac, 70000, &fd), -EINVAL);
	cr_assert_eq(fd, -1);
	cr_assert(gone("vm1-n0"));
	cr_assert_eq(tap_create("0123456789abcdef", guest_mac, 0, &fd), -EINVAL);
	cr_assert_eq(tap_create("", guest_mac, 0, &fd), -EINVAL);
}

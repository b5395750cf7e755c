/* tap.c - taps for QEMU, set up over rtnetlink (link.c). */
#include "net/tap.h"
#include "net/link.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

_Static_assert(TAP_NAME_MAX == IFNAMSIZ - 1, "a tap name is an interface name");

int tap_name(const char *vm, int nic, char *buf, size_t size)
{
	int n = snprintf(buf, size, TAP_NAME_FMT, vm, nic);

	if (nic < 0 || n < 0 || (size_t)n >= size || n > TAP_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* tap + suffix when that fits IFNAMSIZ; else a cut tap ("abcdefghijkl-n1"
 * and "...-n10" would collide cut short) with its hash before the suffix. */
static void peer_name(const char *tap, const char *suffix, char *buf, size_t size)
{
	char name[2 * IFNAMSIZ + 8];

	if (strlen(tap) + strlen(suffix) <= TAP_NAME_MAX)
		snprintf(name, sizeof(name), "%s%s", tap, suffix);
	else
		snprintf(name, sizeof(name), "%.9s%04x%s", tap, fnv1a(tap) & 0xffff, suffix);
	snprintf(buf, size, "%.*s", TAP_NAME_MAX, name);
}

void tap_glue_name(const char *tap, char *buf, size_t size)
{
	peer_name(tap, "_g", buf, size);
}

void tap_port_name(const char *tap, char *buf, size_t size)
{
	peer_name(tap, "_p", buf, size);
}

int tap_create(const char *name, const uint8_t guest_mac[6], int mtu, int *fd_out)
{
	struct ifreq ifr = { 0 };
	uint8_t mac[6];
	int fd, err;

	if (!name || !name[0] || strlen(name) >= IFNAMSIZ || mtu < 0)
		return -EINVAL;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* IFF_VNET_HDR: virtio-net passes checksum and GSO metadata through
	 * instead of QEMU doing the work per packet.  No IFF_MULTI_QUEUE: a
	 * second TUNSETIFF on the name then fails with EBUSY rather than
	 * quietly attaching to a tap a surviving QEMU still uses. */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	memcpy(mac, guest_mac, sizeof(mac));
	mac[0] = 0xfe;
	err = link_configure(name, mac, mtu ? mtu : TAP_DEFAULT_MTU, true);
	if (err) {
		close(fd); /* not persistent: the tap goes with the fd */
		return err;
	}
	*fd_out = fd;
	return 0;
}

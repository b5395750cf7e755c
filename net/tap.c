/* tap.c - taps for QEMU, set up over rtnetlink (link.c). */
#include "net/tap.h"
#include "net/link.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
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

/* linkstats.h - a link's traffic counters (IFLA_STATS64) over rtnetlink,
 * for many links at once: one RTM_GETLINK dump in the calling thread's
 * network namespace (enter the fabric's first), so reading a whole
 * fabric costs one round trip however many links it has.
 *
 * The counters are the device's own, from its side: a tap's tx is what it
 * handed to the VM, its rx what the VM sent.  They count from when the link
 * was made; a link made again starts from zero.
 */
#ifndef N3X_LINKSTATS_H
#define N3X_LINKSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct linkstats {
	bool found;           /* false: no link of that name (the rest is 0) */
	uint64_t rx_bytes, rx_packets, rx_dropped;
	uint64_t tx_bytes, tx_packets, tx_dropped;
};

/* out[i] for names[i], i < n (a NULL or empty name is not found).  0, or
 * -errno when the links could not be dumped (out is then all not found). */
int linkstats_read(const char *const *names, size_t n, struct linkstats *out);

#endif

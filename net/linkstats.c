/* linkstats.c - many links' counters from one RTM_GETLINK dump (linkstats.h). */
#include "net/linkstats.h"
#include "base/nlerr.h"

#include <errno.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>

int linkstats_read(const char *const *names, size_t n, struct linkstats *out)
{
	struct nl_cache *cache = NULL;
	struct nl_sock *sk;
	int err;

	memset(out, 0, n * sizeof(*out));
	/* A fresh socket: it belongs to the namespace the thread is in now. */
	if (!(sk = nl_socket_alloc()))
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (!err)
		err = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	nl_socket_free(sk);
	if (err < 0)
		return nlerr_errno(err);
	for (size_t i = 0; i < n; i++) {
		struct rtnl_link *l = names[i] && names[i][0] ? rtnl_link_get_by_name(cache, names[i]) : NULL;

		if (!l)
			continue;
		out[i] = (struct linkstats){
			.found = true,
			.rx_bytes = rtnl_link_get_stat(l, RTNL_LINK_RX_BYTES),
			.rx_packets = rtnl_link_get_stat(l, RTNL_LINK_RX_PACKETS),
			.rx_dropped = rtnl_link_get_stat(l, RTNL_LINK_RX_DROPPED),
			.tx_bytes = rtnl_link_get_stat(l, RTNL_LINK_TX_BYTES),
			.tx_packets = rtnl_link_get_stat(l, RTNL_LINK_TX_PACKETS),
			.tx_dropped = rtnl_link_get_stat(l, RTNL_LINK_TX_DROPPED),
		};
		rtnl_link_put(l);
	}
	nl_cache_free(cache);
	return 0;
}

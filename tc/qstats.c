/* qstats.c - root qdiscs' backlog and drops of many links, one dump (qstats.h). */
#include "tc/qstats.h"
#include "base/nlerr.h"

#include <errno.h>
#include <linux/pkt_sched.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/netlink.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>

int tc_qstats_read(const char *const *ifnames, size_t n, struct tc_qstats *out)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	struct nl_sock *sk;
	int *idx, err;

	memset(out, 0, n * sizeof(*out));
	if (!(idx = calloc(n ? n : 1, sizeof(*idx))))
		return -ENOMEM;
	/* Names to indexes in this namespace (if_nametoindex asks through a
	 * socket made now, so in the namespace the thread is in). */
	for (size_t i = 0; i < n; i++)
		if (ifnames[i] && ifnames[i][0] && strlen(ifnames[i]) < IFNAMSIZ &&
		    (idx[i] = (int)if_nametoindex(ifnames[i])) > 0)
			out[i].found = true;
	if (!(sk = nl_socket_alloc())) {
		free(idx);
		return -ENOMEM;
	}
	err = nl_connect(sk, NETLINK_ROUTE);
	if (!err)
		err = rtnl_qdisc_alloc_cache(sk, &cache);
	nl_socket_free(sk);
	if (err < 0) {
		free(idx);
		memset(out, 0, n * sizeof(*out));
		return nlerr_errno(err);
	}
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_tc *tc = TC_CAST(o);

		if (rtnl_tc_get_parent(tc) != TC_H_ROOT)
			continue;
		for (size_t i = 0; i < n; i++)
			if (idx[i] > 0 && idx[i] == rtnl_tc_get_ifindex(tc)) {
				out[i].backlog_bytes += rtnl_tc_get_stat(tc, RTNL_TC_BACKLOG);
				out[i].backlog_pkts += rtnl_tc_get_stat(tc, RTNL_TC_QLEN);
				out[i].drops += rtnl_tc_get_stat(tc, RTNL_TC_DROPS);
			}
	}
	nl_cache_free(cache);
	free(idx);
	return 0;
}

/* link.c - rtnetlink link helpers: libnl-route-3 for links and addresses,
 * libmnl for the bridge attributes libnl cannot set (see link.h). */
#include "net/link.h"
#include "base/nlerr.h"

#include <errno.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>

/* Forward delay with STP on, in USER_HZ ticks: the kernel's minimum, 2 s. */
#define BRIDGE_STP_FORWARD_DELAY 200
/* VLAN entries per AF_BRIDGE message: 8 bytes each, so an ack that echoes
 * the request still fits a MNL_SOCKET_BUFFER_SIZE receive buffer. */
#define VLANS_PER_MSG 256

/* A fresh socket per call: a netlink socket stays in the namespace it was
 * created in, and callers move between namespaces (netns_enter). */
static int sock_open(struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err;

	*out = NULL;
	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		nl_socket_free(sk);
		err = nlerr_errno(err);
		return err < 0 ? err : -EIO;
	}
	*out = sk;
	return 0;
}

static int name_ok(const char *name)
{
	return name && name[0] && strlen(name) < IFNAMSIZ ? 0 : -EINVAL;
}

/* Fetch one link by name from the kernel (RTM_GETLINK, not a cache dump). */
static int lookup(struct nl_sock *sk, const char *name, struct rtnl_link **out)
{
	int err = name_ok(name);

	if (err)
		return err;
	err = rtnl_link_get_kernel(sk, 0, name, out);
	/* A missing name comes back as ENODEV from the kernel; make sure it
	 * reads that way whichever code libnl folded it into. */
	if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
		return -ENODEV;
	return nlerr_errno(err);
}

int link_ifindex(const char *name)
{
	struct rtnl_link *link;
	struct nl_sock *sk;
	int err;

	if ((err = sock_open(&sk)))
		return err;
	err = lookup(sk, name, &link);
	if (!err) {
		err = rtnl_link_get_ifindex(link);
		rtnl_link_put(link);
	}
	nl_socket_free(sk);
	return err;
}

int link_exists(const char *name)
{
	int idx = link_ifindex(name);

	if (idx == -ENODEV)
		return 0;
	return idx < 0 ? idx : 1;
}

/* Look name up, let fill() describe the change, send it. */
static int change(const char *name, void (*fill)(struct rtnl_link *, const void *),
		  const void *arg)
{
	struct rtnl_link *orig = NULL, *ch = NULL;
	struct nl_sock *sk;
	int err;

	if ((err = sock_open(&sk)))
		return err;
	if ((err = lookup(sk, name, &orig)))
		goto out;
	if (!(ch = rtnl_link_alloc())) {
		err = -ENOMEM;
		goto out;
	}
	fill(ch, arg);
	err = nlerr_errno(rtnl_link_change(sk, orig, ch, 0));
out:
	if (ch)
		rtnl_link_put(ch);
	if (orig)
		rtnl_link_put(orig);
	nl_socket_free(sk);
	return err;
}

struct conf {
	const uint8_t *mac;
	int mtu;
	int up; /* 1 set IFF_UP, -1 clear it, 0 leave it */
	int master; /* -1 leave, 0 release, > 0 enslave */
	const char *alias;
};

static void fill_conf(struct rtnl_link *ch, const void *arg)
{
	const struct conf *c = arg;

	if (c->mac) {
		struct nl_addr *a = nl_addr_build(AF_LLC, c->mac, 6);

		if (a) {
			rtnl_link_set_addr(ch, a);
			nl_addr_put(a);
		}
	}
	if (c->mtu > 0)
		rtnl_link_set_mtu(ch, c->mtu);
	if (c->up > 0)
		rtnl_link_set_flags(ch, IFF_UP);
	else if (c->up < 0)
		rtnl_link_unset_flags(ch, IFF_UP);
	if (c->master >= 0)
		rtnl_link_set_master(ch, c->master);
	if (c->alias)
		rtnl_link_set_ifalias(ch, c->alias);
}

int link_configure(const char *name, const uint8_t *mac, int mtu, bool up)
{
	struct conf c = { .mac = mac, .mtu = mtu, .up = up, .master = -1 };

	if (mtu < 0)
		return -EINVAL;
	return change(name, fill_conf, &c);
}

int link_set_up(const char *name)
{
	return link_configure(name, NULL, 0, true);
}

int link_set_down(const char *name)
{
	struct conf c = { .up = -1, .master = -1 };

	return change(name, fill_conf, &c);
}

int link_set_master(const char *name, const char *master)
{
	struct conf c = { .master = 0 };

	if (master) {
		c.master = link_ifindex(master);
		if (c.master < 0)
			return c.master;
	}
	return change(name, fill_conf, &c);
}

int link_set_alias(const char *name, const char *alias)
{
	struct conf c = { .master = -1, .alias = alias };

	/* An empty IFLA_IFALIAS clears the alias in the kernel. */
	if (!alias || strlen(alias) >= LINK_ALIAS_MAX)
		return -EINVAL;
	return change(name, fill_conf, &c);
}

int link_get_alias(const char *name, char *buf, size_t size)
{
	struct rtnl_link *link;
	struct nl_sock *sk;
	const char *alias;
	int err;

	if ((err = sock_open(&sk)))
		return err;
	if (!(err = lookup(sk, name, &link))) {
		alias = rtnl_link_get_ifalias(link);
		if (!alias)
			alias = "";
		err = snprintf(buf, size, "%s", alias);
		if ((size_t)err >= size)
			err = -ENAMETOOLONG;
		rtnl_link_put(link);
	}
	nl_socket_free(sk);
	return err;
}

int link_get_master(const char *name, char *buf, size_t size)
{
	struct rtnl_link *link, *m;
	struct nl_sock *sk;
	int err, idx;

	if (size < IFNAMSIZ)
		return -EINVAL;
	buf[0] = '\0';
	if ((err = sock_open(&sk)))
		return err;
	if ((err = lookup(sk, name, &link)))
		goto out;
	idx = rtnl_link_get_master(link);
	rtnl_link_put(link);
	if (idx > 0) {
		err = nlerr_errno(rtnl_link_get_kernel(sk, idx, NULL, &m));
		if (!err) {
			snprintf(buf, size, "%s", rtnl_link_get_name(m));
			rtnl_link_put(m);
		}
	}
out:
	nl_socket_free(sk);
	return err;
}

int link_delete(const char *name)
{
	struct rtnl_link *link;
	struct nl_sock *sk;
	int err;

	if ((err = sock_open(&sk)))
		return err;
	if (!(err = lookup(sk, name, &link))) {
		err = nlerr_errno(rtnl_link_delete(sk, link));
		if (err == -ENOENT) /* gone between the lookup and the delete */
			err = -ENODEV;
		rtnl_link_put(link);
	}
	nl_socket_free(sk);
	return err;
}

int link_addr_add(const char *name, struct in_addr addr, int prefix)
{
	struct nl_addr *local = NULL, *brd = NULL;
	struct rtnl_addr *ra = NULL;
	struct nl_sock *sk;
	int idx, err;

	if (prefix < 0 || prefix > 32)
		return -EINVAL;
	if ((idx = link_ifindex(name)) < 0)
		return idx;
	if ((err = sock_open(&sk)))
		return err;
	ra = rtnl_addr_alloc();
	local = nl_addr_build(AF_INET, &addr, sizeof(addr));
	if (!ra || !local) {
		err = -ENOMEM;
		goto out;
	}
	nl_addr_set_prefixlen(local, prefix);
	rtnl_addr_set_ifindex(ra, idx);
	if ((err = nlerr_errno(rtnl_addr_set_local(ra, local))))
		goto out;
	/* /31 and /32 have no broadcast address (RFC 3021). */
	if (prefix < 31) {
		struct in_addr b = addr;

		b.s_addr |= htonl(0xffffffffu >> prefix);
		brd = nl_addr_build(AF_INET, &b, sizeof(b));
		if (!brd) {
			err = -ENOMEM;
			goto out;
		}
		rtnl_addr_set_broadcast(ra, brd);
	}
	err = nlerr_errno(rtnl_addr_add(sk, ra, 0));
	if (err == -EEXIST)
		err = 0;
out:
	if (brd)
		nl_addr_put(brd);
	if (local)
		nl_addr_put(local);
	if (ra)
		rtnl_addr_put(ra);
	nl_socket_free(sk);
	return err;
}

int link_list_by_alias(const char *prefix, link_visit_fn *fn, void *arg)
{
	struct nl_cache *cache;
	struct nl_object *o;
	struct nl_sock *sk;
	size_t plen = strlen(prefix);
	int err, n = 0;

	if ((err = sock_open(&sk)))
		return err;
	err = nlerr_errno(rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache));
	nl_socket_free(sk);
	if (err)
		return err;
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *link = (struct rtnl_link *)o;
		const char *alias = rtnl_link_get_ifalias(link);

		if (!alias || strncmp(alias, prefix, plen))
			continue;
		n++;
		if ((err = fn(rtnl_link_get_name(link), alias, arg)))
			break;
	}
	nl_cache_free(cache);
	return err ? err : n;
}

/* ---- libmnl: bridge attributes ---- */

/* Send one request and wait for its ack; 0 or the kernel's -errno. */
static int mnl_request(struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned int portid, seq;
	ssize_t n;
	int err = 0;

	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq = (unsigned int)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	/* The ack is the only reply; mnl_cb_run turns its error into errno. */
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		err = -errno;
	else if (mnl_cb_run(buf, n, seq, portid, NULL, NULL) < 0)
		err = errno ? -errno : -EIO;
out:
	mnl_socket_close(nl);
	return err;
}

int link_bridge_create(const char *name, bool stp, bool vlan_filtering)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlattr *info, *data;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	int err = name_ok(name);

	if (err)
		return err;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	/* The kernel applies FORWARD_DELAY before STP_STATE, and 2 s is legal
	 * either way. */
	if (stp)
		mnl_attr_put_u32(nlh, IFLA_BR_FORWARD_DELAY, BRIDGE_STP_FORWARD_DELAY);
	mnl_attr_put_u32(nlh, IFLA_BR_STP_STATE, stp);
	/* Only when asked: a kernel without CONFIG_BRIDGE_VLAN_FILTERING
	 * refuses the attribute even when it says 0. */
	if (vlan_filtering)
		mnl_attr_put_u8(nlh, IFLA_BR_VLAN_FILTERING, 1);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return mnl_request(nlh);
}

static void veth_end(struct rtnl_link *l, const char *name, struct nl_addr *mac, int mtu)
{
	rtnl_link_set_name(l, name);
	if (mac)
		rtnl_link_set_addr(l, mac);
	if (mtu)
		rtnl_link_set_mtu(l, (unsigned)mtu);
}

int link_veth_create(const char *name, const char *peer, const uint8_t *mac, int mtu)
{
	struct rtnl_link *link = NULL, *other;
	struct nl_addr *addr = NULL;
	struct nl_sock *sk = NULL;
	int err;

	if ((err = name_ok(name)) || (err = name_ok(peer)) || mtu < 0)
		return err ? err : -EINVAL;
	if ((err = sock_open(&sk)))
		return err;
	err = -ENOMEM;
	if (!(link = rtnl_link_veth_alloc()) || (mac && !(addr = nl_addr_build(AF_LLC, mac, 6))))
		goto out;
	veth_end(link, name, addr, mtu);
	rtnl_link_set_flags(link, IFF_UP);
	if (!(other = rtnl_link_veth_get_peer(link)))
		goto out;
	veth_end(other, peer, addr, mtu);
	rtnl_link_put(other);
	/* libnl fails the whole request when the peer's part carries flags,
	 * so the peer comes up with a second one. */
	if (!(err = nlerr_errno(rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL))) &&
	    (err = link_set_up(peer)))
		link_delete(name);
out:
	if (addr)
		nl_addr_put(addr);
	if (link)
		rtnl_link_veth_release(link);
	nl_socket_free(sk);
	return err;
}

/* One AF_BRIDGE RTM_SETLINK (add) or RTM_DELLINK (remove) with n VLAN
 * entries, all with the same flags. */
static int vlan_msg(int ifindex, bool self, uint16_t type, const uint16_t *vids, int n,
		    uint16_t flags)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	struct nlattr *spec;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_BRIDGE;
	ifm->ifi_index = ifindex;
	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	/* Without BRIDGE_FLAGS_SELF the kernel applies entries to a port
	 * (master); on the bridge device the entries are its own. */
	if (self)
		mnl_attr_put_u16(nlh, IFLA_BRIDGE_FLAGS, BRIDGE_FLAGS_SELF);
	for (int i = 0; i < n; i++) {
		struct bridge_vlan_info vi = { .flags = flags, .vid = vids[i] };

		mnl_attr_put(nlh, IFLA_BRIDGE_VLAN_INFO, sizeof(vi), &vi);
	}
	mnl_attr_nest_end(nlh, spec);
	return mnl_request(nlh);
}

/* The port's ifindex, and whether it is a bridge (its own VLANs: self). */
static int port_lookup(const char *port, int *ifindex, bool *self)
{
	struct rtnl_link *link;
	struct nl_sock *sk;
	const char *kind;
	int err;

	if ((err = sock_open(&sk)))
		return err;
	if (!(err = lookup(sk, port, &link))) {
		*ifindex = rtnl_link_get_ifindex(link);
		kind = rtnl_link_get_type(link);
		*self = kind && !strcmp(kind, "bridge");
		rtnl_link_put(link);
	}
	nl_socket_free(sk);
	return err;
}

int link_bridge_vlan(const char *port, const uint16_t *vids, int n, bool access)
{
	static const uint16_t vid1 = 1;
	bool self, keep1 = false;
	int ifindex, err;

	if (n < 1 || (access && n != 1))
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		if (vids[i] < 1 || vids[i] > 4094)
			return -EINVAL;
		keep1 |= vids[i] == 1;
	}
	if ((err = port_lookup(port, &ifindex, &self)))
		return err;
	if (access) {
		err = vlan_msg(ifindex, self, RTM_SETLINK, vids, 1,
			       BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED);
	} else {
		/* Re-adding VID 1 tagged takes away its PVID and untagged flags. */
		for (int i = 0; i < n && !err; i += VLANS_PER_MSG) {
			int k = n - i < VLANS_PER_MSG ? n - i : VLANS_PER_MSG;

			err = vlan_msg(ifindex, self, RTM_SETLINK, vids + i, k, 0);
		}
	}
	if (err || keep1)
		return err;
	/* Removed after the add so the port is never without a PVID when it
	 * needs one; a port that had no VID 1 is fine too. */
	err = vlan_msg(ifindex, self, RTM_DELLINK, &vid1, 1, 0);
	return err == -ENOENT ? 0 : err;
}

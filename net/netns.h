/* netns.h - named network namespaces, kept the way iproute2 keeps them, so
 * `ip netns list` and `ip netns exec n3x-NAME ...` see ours: a file
 * /run/netns/NAME with the namespace bind-mounted on it, /run/netns itself a
 * shared mount so an unmount in one mount namespace reaches the others.
 *
 * Namespaces are per thread: enter and leave on the same thread, and do not
 * hand a thread back to other code while it is inside.  netns=host means the
 * fabric stays in the current namespace; callers represent it as fd -1,
 * which netns_enter and netns_leave accept as "stay put".
 */
#ifndef N3X_NETNS_H
#define N3X_NETNS_H

#include <stddef.h>

#define NETNS_RUN_DIR "/run/netns"

/* "n3x-FABRIC" into buf; 0 or -ENAMETOOLONG. */
int netns_name(const char *fabric, char *buf, size_t size);

/* Create the namespace NAME, bind it at /run/netns/NAME and bring its
 * loopback up; the calling thread is back in its own namespace on return.
 * 0, -EEXIST if NAME is taken, -EINVAL for a name that is not a plain file
 * name, or -errno (nothing left behind). */
int netns_create(const char *name);

/* An O_RDONLY|O_CLOEXEC fd on the namespace, for netns_enter, setns in a
 * child (struct child .netns) or IFLA_NET_NS_FD; the caller closes it.
 * -ENOENT if there is none; -ESTALE if the file is there but has no
 * namespace mounted on it (a create that was killed half-way): delete it and
 * create again. */
int netns_open(const char *name);

/* Unmount (MNT_DETACH) and unlink /run/netns/NAME; -ENOENT if absent.  The
 * namespace itself dies when nothing else holds it: processes still running
 * in it (dnsmasq, a private OVS) and open fds keep it, and its links, alive. */
int netns_delete(const char *name);

/* Move the calling thread into nsfd; *saved_fd gets an fd on where it was,
 * for netns_leave.  nsfd -1: stay put, *saved_fd = -1.  0 or -errno (the
 * thread has not moved). */
int netns_enter(int nsfd, int *saved_fd);

/* Go back to saved_fd and close it; -1 is a no-op.  0 or -errno: failing
 * leaves the thread in the fabric's namespace, which the caller must treat
 * as fatal. */
int netns_leave(int saved_fd);

#endif

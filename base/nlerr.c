/* nlerr.c - libnl's error numbers as errno values. */
#include "base/nlerr.h"

#include <errno.h>
#include <netlink/errno.h>

int nlerr_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case 0:                  return 0;
	case NLE_EXIST:          return -EEXIST;
	case NLE_NODEV:          return -ENODEV;
	case NLE_OBJ_NOTFOUND:   return -ENOENT;
	case NLE_NOMEM:          return -ENOMEM;
	case NLE_INVAL:          return -EINVAL;
	case NLE_MISSING_ATTR:   return -EINVAL;
	case NLE_RANGE:          return -ERANGE;
	case NLE_BUSY:           return -EBUSY;
	case NLE_PERM:           return -EPERM;
	case NLE_NOACCESS:       return -EACCES;
	case NLE_OPNOTSUPP:      return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:   return -EAFNOSUPPORT;
	case NLE_NOADDR:         return -EADDRNOTAVAIL;
	case NLE_AGAIN:          return -EAGAIN;
	case NLE_INTR:           return -EINTR;
	case NLE_MSGSIZE:        return -EMSGSIZE;
	case NLE_BAD_SOCK:       return -EBADF;
	case NLE_PROTO_MISMATCH: return -EPROTONOSUPPORT;
	default:                 return -EIO;
	}
}

/* link.c - both directions of one link (see tc.h): the tap's egress and,
 * through its ifb, its ingress.  Sits on top of egress.c and ifb.c, so
 * neither has to know the other's half. */
#include "tc/tc.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>

int tc_link_apply(const char *ifname, const struct tc_rule *r, int *dir, struct err *e)
{
	int rc;

	*dir = 0;
	rc = tc_egress_apply(ifname, &r->to_vm, e);
	/* A tap that is gone (its QEMU exited) holds nothing: clearing it is
	 * done, and its ifb, which outlives it, still goes below. */
	if (rc == -ENODEV && tc_shape_empty(&r->to_vm)) {
		err_clear(e);
		rc = 0;
	}
	if (rc)
		return rc;
	*dir = 1;
	return tc_ingress_apply(ifname, &r->from_vm, e);
}

int tc_link_read(const char *ifname, struct tc_rule *out)
{
	char ifb[IF_NAMESIZE];
	int to, from;

	memset(out, 0, sizeof(*out));
	if ((to = tc_egress_read(ifname, &out->to_vm)) < 0)
		return to;
	tc_ifb_name(ifname, ifb, sizeof(ifb));
	if ((from = tc_egress_read(ifb, &out->from_vm)) == -ENODEV)
		from = 0; /* no ifb: nothing shapes traffic from the VM */
	return from < 0 ? from : to || from;
}

int tc_link_dump(const char *ifname, json_t **out)
{
	char ifb[IF_NAMESIZE];
	json_t *to = NULL, *from = NULL;
	int r = tc_egress_dump(ifname, &to);

	if (!r) {
		/* No ifb: nothing shapes traffic from the VM. */
		tc_ifb_name(ifname, ifb, sizeof(ifb));
		r = tc_egress_dump(ifb, &from);
		if (r == -ENODEV)
			r = (from = json_array()) ? 0 : -ENOMEM;
	}
	if (r) {
		json_decref(to);
		json_decref(from);
		return r;
	}
	*out = json_pack("{s:o,s:o}", "to_vm", to, "from_vm", from);
	return *out ? 0 : -ENOMEM;
}

/* link.c - both directions of one link (see tc.h): the tap's egress and
 * the glue end's.  Sits on top of egress.c. */
#include "tc/tc.h"

#include <errno.h>
#include <string.h>

/* Clearing a device that is gone is done: what it held went with it. */
static int one(const char *dev, const struct tc_shape *s, struct err *e)
{
	int rc = tc_egress_apply(dev, s, e);

	if (rc == -ENODEV && tc_shape_empty(s)) {
		err_clear(e);
		rc = 0;
	}
	return rc;
}

int tc_link_apply(const char *tap, const char *glue, const struct tc_rule *r, int *dir,
		  struct err *e)
{
	int rc;

	*dir = 0;
	if ((rc = one(tap, &r->to_vm, e)))
		return rc;
	*dir = 1;
	return one(glue, &r->from_vm, e);
}

int tc_link_read(const char *tap, const char *glue, struct tc_rule *out)
{
	int to, from;

	memset(out, 0, sizeof(*out));
	if ((to = tc_egress_read(tap, &out->to_vm)) < 0)
		return to;
	if ((from = tc_egress_read(glue, &out->from_vm)) == -ENODEV)
		from = 0; /* no glue end: nothing shapes traffic from the VM */
	return from < 0 ? from : to || from;
}

int tc_link_dump(const char *tap, const char *glue, json_t **out)
{
	json_t *to = NULL, *from = NULL;
	int r = tc_egress_dump(tap, &to);

	if (!r && (r = tc_egress_dump(glue, &from)) == -ENODEV)
		r = (from = json_array()) ? 0 : -ENOMEM; /* no glue end: nothing from the VM */
	if (r) {
		json_decref(to);
		json_decref(from);
		return r;
	}
	*out = json_pack("{s:o,s:o}", "to_vm", to, "from_vm", from);
	return *out ? 0 : -ENOMEM;
}

/* resetverb.c - the reset verb: discard a stopped VM's overlay on purpose,
 * the only way one is ever discarded (SPEC "Behaviour users rely on").
 */
#include "launcher/supervisor_impl.h"

#include "base/log.h"
#include "launcher/disks.h"

void sup_cmd_reset(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	struct vm *vm = sup_request_vm(c, req);
	json_t *removed;
	struct err e;

	(void)v;
	if (!vm)
		return;
	/* A crashed VM may be about to restart on its overlay, a starting one
	 * may have qemu-img on it: only stopped means no one touches it. */
	if (vm_state(vm) != VM_STOPPED) {
		control_reply_error(c, 1, "%s: stop the VM first (it is %s)", vm_name(vm),
				    vm_state_name(vm_state(vm)));
		return;
	}
	if (!(removed = json_array())) {
		control_reply_error(c, 1, "out of memory");
		return;
	}
	if (disks_reset(vm_plan(vm), removed, &e) < 0) {
		control_reply_error(c, 1, "%s: %s", vm_name(vm), e.msg);
		json_decref(removed);
		return;
	}
	log_info("vm %s: reset: %zu overlay file%s removed", vm_name(vm), json_array_size(removed),
		 json_array_size(removed) == 1 ? "" : "s");
	control_reply(c, json_pack("{s:b, s:s, s:o}", "ok", 1, "vm", vm_name(vm), "removed", removed));
}

/* links.c - the `link` and `send` control verbs: pull or plug a VM's
 * cables (vm_set_link) and type into its serial console
 * (vm_console_input).  control.h describes both requests.
 *
 * A link request on a running VM is answered only once QEMU acknowledged
 * every set_link it sent, so a script that pulls a cable and then pings
 * knows the guest's carrier is already gone.  Each NIC that changed is an
 * event ("link" {"nic","up"}) and a line in the supervisor's log.
 */
#include "launcher/supervisor_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/log.h"
#include "launcher/console.h"
#include "launcher/events.h"

/* ---- link ---- */

/* One link request: the NICs it names, and set_links still unanswered. */
struct link_op {
	struct control_client *c;
	struct vm *vm;
	bool up;
	int first, last;        /* the NICs asked, inclusive */
	int pending;            /* set_link replies to come, +1 while sending */
	int code;               /* 0, or the reply's code once failed */
	struct err err;         /* the first failure */
	struct link_nic {
		struct link_op *op;
		int nic;
	} nics[TOPO_MAX_NICS];
};

void sup_link_changed(struct vm *vm, int nic, bool up)
{
	log_info("vm %s: NIC %d cable %s", vm_name(vm), nic, up ? "plugged" : "pulled");
	events_emit(vm_name(vm), "link", json_pack("{s:i, s:b}", "nic", nic, "up", up));
}

static void link_maybe_done(struct link_op *op)
{
	json_t *nics;

	if (--op->pending > 0)
		return;
	if (op->code) {
		control_reply_error(op->c, op->code, "%s", op->err.msg);
	} else {
		nics = json_array();
		for (int i = op->first; nics && i <= op->last; i++)
			if (json_array_append_new(nics, json_pack("{s:i, s:s}", "index", i, "link",
								  vm_link_up(op->vm, i) ? "up" : "down")) < 0) {
				json_decref(nics);
				nics = NULL;
			}
		/* "o" steals nics; a NULL reply is answered as out of memory */
		control_reply(op->c, nics ? json_pack("{s:b, s:o}", "ok", 1, "nics", nics) : NULL);
	}
	control_client_unref(op->c);
	free(op);
}

/* QEMU's answer to one set_link. */
static void link_reply(void *opaque, json_t *reply, int err)
{
	struct link_nic *ln = opaque;
	struct link_op *op = ln->op;
	json_t *error = json_object_get(reply, "error");
	const char *desc = json_string_value(json_object_get(error, "desc"));

	/* Without a reply (err < 0) QEMU went away first: the setting stays,
	 * for the next QEMU, so the cable did change. */
	(void)err;
	if (error) {
		if (!op->code)
			err_set(&op->err, EIO, "%s: QEMU refused to %s the cable of NIC %d: %s",
				vm_name(op->vm), op->up ? "plug" : "pull", ln->nic, desc ? desc : "no reason given");
		op->code = 1;
	} else {
		sup_link_changed(op->vm, ln->nic, op->up);
	}
	link_maybe_done(op);
}

/* "nic": absent for every NIC, else an index of this VM; -1 after replying. */
static int link_nics(struct control_client *c, json_t *req, struct vm *vm, int *first, int *last)
{
	json_t *nic = json_object_get(req, "nic");
	int n = vm_config(vm)->nnics;

	if (n == 0) {
		control_reply_error(c, 2, "%s has no NIC: no cable to pull", vm_name(vm));
		return -1;
	}
	if (!nic || json_is_null(nic)) {
		*first = 0;
		*last = n - 1;
		return 0;
	}
	if (!json_is_integer(nic)) {
		control_reply_error(c, 2, "link: \"nic\" is a NIC's index, from 0");
		return -1;
	}
	if (json_integer_value(nic) < 0 || json_integer_value(nic) >= n) {
		char has[32];

		snprintf(has, sizeof(has), n == 1 ? "only NIC 0" : "NICs 0 to %d", n - 1);
		control_reply_error(c, 2, "%s has no NIC %" JSON_INTEGER_FORMAT " (%s)", vm_name(vm),
				    json_integer_value(nic), has);
		return -1;
	}
	*first = *last = (int)json_integer_value(nic);
	return 0;
}

void sup_cmd_link(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	struct vm *vm = sup_request_vm(c, req);
	json_t *up = json_object_get(req, "up");
	struct link_op *op;

	(void)v;
	if (!vm)
		return;
	if (!json_is_boolean(up)) {
		control_reply_error(c, 2, "link needs \"up\": true (plug) or false (pull)");
		return;
	}
	if (!(op = calloc(1, sizeof(*op)))) {
		control_reply_error(c, 1, "out of memory");
		return;
	}
	if (link_nics(c, req, vm, &op->first, &op->last) < 0) {
		free(op);
		return;
	}
	op->c = c;
	op->vm = vm;
	op->up = json_is_true(up);
	op->pending = 1; /* held while sending */
	control_client_ref(c);
	for (int i = op->first; i <= op->last; i++) {
		struct link_nic *ln = &op->nics[i];
		int r;

		*ln = (struct link_nic){ .op = op, .nic = i };
		r = vm_set_link(vm, i, op->up, link_reply, ln);
		if (r == 1) {
			op->pending++;
		} else if (r == 0) {
			sup_link_changed(vm, i, op->up); /* no QEMU: the next one gets it */
		} else if (r != -EALREADY && !op->code) {
			err_sys(&op->err, -r, "%s: cannot %s the cable of NIC %d", vm_name(vm),
				op->up ? "plug" : "pull", i);
			op->code = 1;
		}
	}
	link_maybe_done(op);
}

/* ---- send ---- */

void sup_cmd_send(struct control_client *c, json_t *req, const struct sup_verb *v)
{
	struct vm *vm = sup_request_vm(c, req);
	json_t *data = json_object_get(req, "data");
	size_t len = 0;
	void *bytes;
	int r;

	(void)v;
	if (!vm)
		return;
	if (!json_is_string(data)) {
		control_reply_error(c, 2, "send needs \"data\": the bytes to type, in base64");
		return;
	}
	bytes = b64_decode_alloc(json_string_value(data), json_string_length(data), &len);
	if (!bytes) {
		if (errno == ENOMEM)
			control_reply_error(c, 1, "out of memory");
		else
			control_reply_error(c, 2, "send: \"data\" is not base64");
		return;
	}
	r = vm_console_input(vm, bytes, len);
	free(bytes);
	if (r == -ENOTCONN)
		control_reply_error(c, 1, "%s: the console is not connected (the VM is %s)", vm_name(vm),
				    vm_state_name(vm_state(vm)));
	else if (r == -EMSGSIZE)
		control_reply_error(c, 2, "%s: send takes at most %d bytes at a time, not %zu", vm_name(vm),
				    CONSOLE_INPUT_MAX, len);
	else if (r == -ENOBUFS)
		control_reply_error(c, 1, "%s: the guest is not reading its console: %zu bytes would not "
				    "fit behind what is still queued (at most %d)", vm_name(vm), len,
				    CONSOLE_INPUT_MAX);
	else if (r < 0)
		control_reply_error(c, 1, "%s: cannot type into the console: %s", vm_name(vm), strerror(-r));
	else
		control_reply(c, json_pack("{s:b, s:I}", "ok", 1, "bytes", (json_int_t)len));
}

/* fabric_driver.c - the supervisor's fabric and impairment code without
 * QEMU, for the netem VM's matrix (images/netem/init) and the tests that
 * want a real fabric whose "VMs" are network namespaces.
 *
 *   fabric_driver TOPOLOGY RUN_DIR STATE_DIR
 *
 * Builds TOPOLOGY's fabric with fabric_open (namespace n3x-NAME, bridges,
 * host interfaces, a private Open vSwitch where a network says switch =
 * ovs, dnsmasq where one says dhcp), resolves its fabric profile with
 * impair_open, then reads one command a line on stdin and answers each
 * with one line on stdout, "ok" or "error MESSAGE":
 *
 *   wire VM N IFNAME   the link IFNAME, made by the caller inside the
 *                      fabric's namespace (a veth whose peer is the "VM's"
 *                      eth0 in a namespace of its own), becomes NIC N of VM
 *                      as a tap would (fabric_wire_link: the glue, the
 *                      switch port); once every NIC of VM is wired, VM is
 *                      up for the profiles (impair_vm_up), as when QEMU
 *                      starts
 *   profile NAME       impair_switch: what `n3x-ctl tc NAME` does
 *   quit               fabric_close, exit 0 (so does the end of stdin)
 *
 * The loop runs between commands, so Open vSwitch's transactions and port
 * events go on as in the supervisor.  Log lines of the fabric go to
 * stderr.  Exit 1 when the fabric cannot be built (the reason on stderr),
 * 2 on usage or a topology that does not load.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/loop.h"
#include "launcher/fabric.h"
#include "launcher/impair.h"
#include "launcher/topology.h"

static struct {
	struct topology *t;
	struct fabric *f;
	int *wired; /* per VM: NICs wired so far */
	char buf[4096];
	size_t len;
	struct loop_watch w;
} d;

static void on_log(void *opaque, const char *line)
{
	(void)opaque;
	fprintf(stderr, "fabric_driver: %s\n", line);
}

static void reply(int r, const struct err *e)
{
	if (r < 0)
		printf("error %s\n", e->msg);
	else
		printf("ok\n");
	fflush(stdout);
}

static int wire(const char *vmname, const char *nic_s, const char *ifname, struct err *e)
{
	struct topo_vm *vm = topo_find_vm(d.t, vmname);
	char *end;
	long nic;
	int r;

	if (!vm)
		return err_set(e, ENOENT, "no vm %s", vmname);
	nic = strtol(nic_s, &end, 10);
	if (*end || nic < 0 || nic >= vm->nnics)
		return err_set(e, EINVAL, "vm %s has no NIC %s", vmname, nic_s);
	if ((r = fabric_wire_link(d.f, vm, (int)nic, ifname, e)) < 0)
		return r;
	if (++d.wired[vm - d.t->vms] == vm->nnics)
		return impair_vm_up(vm, e);
	return 0;
}

/* One command line; false on quit. */
static bool command(char *line)
{
	char *argv[4] = { NULL }, *save = NULL;
	struct err e = { 0 };
	int argc = 0, r;

	for (char *w = strtok_r(line, " \t", &save); w && argc < 4; w = strtok_r(NULL, " \t", &save))
		argv[argc++] = w;
	if (!argc)
		return true;
	if (!strcmp(argv[0], "quit"))
		return false;
	if (argc == 4 && !strcmp(argv[0], "wire"))
		r = wire(argv[1], argv[2], argv[3], &e);
	else if (argc == 2 && !strcmp(argv[0], "profile"))
		r = impair_switch(argv[1], &e);
	else
		r = err_set(&e, EINVAL, "usage: wire VM N IFNAME | profile NAME | quit");
	reply(r, &e);
	return true;
}

static void on_stdin(struct loop_watch *w, uint32_t events)
{
	ssize_t n;
	char *nl;

	(void)w;
	(void)events;
	n = read(0, d.buf + d.len, sizeof(d.buf) - 1 - d.len);
	if (n <= 0) {
		loop_quit();
		return;
	}
	d.len += n;
	while ((nl = memchr(d.buf, '\n', d.len))) {
		*nl = '\0';
		if (!command(d.buf)) {
			loop_quit();
			return;
		}
		d.len -= nl + 1 - d.buf;
		memmove(d.buf, nl + 1, d.len);
	}
	if (d.len == sizeof(d.buf) - 1) {
		fprintf(stderr, "fabric_driver: command line too long\n");
		loop_quit();
	}
}

int main(int argc, char **argv)
{
	const struct fabric_hooks hooks = { .log = on_log };
	struct err e;
	int r;

	if (argc != 4) {
		fprintf(stderr, "usage: fabric_driver TOPOLOGY RUN_DIR STATE_DIR\n");
		return 2;
	}
	if (topo_load(argv[1], stderr, &d.t) < 0)
		return 2;
	if (!(d.wired = calloc(d.t->nvms + 1, sizeof(*d.wired))) || (r = loop_open()) < 0) {
		fprintf(stderr, "fabric_driver: cannot start the loop\n");
		return 1;
	}
	if (impair_open(d.t, d.t->fabric.profile, &e) < 0 || fabric_open(d.t, argv[2], argv[3], &hooks, &d.f, &e) < 0) {
		fprintf(stderr, "fabric_driver: %s\n", e.msg);
		return 1;
	}
	impair_set_fabric(d.f);
	d.w.cb = on_stdin;
	if ((r = loop_add(0, EPOLLIN, &d.w)) < 0) {
		fprintf(stderr, "fabric_driver: stdin: %s\n", strerror(-r));
		r = 1;
	} else {
		json_t *st = fabric_status_json(d.f);
		const char *dp = json_string_value(json_object_get(st, "datapath"));

		/* The Open vSwitch datapath, or "none" (Linux bridges only). */
		printf("ready %s\n", dp ? dp : "none");
		fflush(stdout);
		json_decref(st);
		r = loop_run() < 0;
		loop_del(0);
	}
	impair_close(false);
	fabric_close(d.f);
	loop_close();
	topo_free(d.t);
	free(d.wired);
	return r;
}

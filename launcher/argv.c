/* argv.c - QEMU argv and disk preparation for one VM. */
#include "launcher/argv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* qemu-img needs the backing format spelled out (-F) since QEMU 6.1; a
 * qcow2 file starts with "QFI\xfb", anything else is taken as raw. */
static const char *image_format(const char *path)
{
	unsigned char magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;

	if (fd >= 0) {
		n = read(fd, magic, sizeof(magic));
		close(fd);
	}
	return n == 4 && memcmp(magic, "QFI\xfb", 4) == 0 ? "qcow2" : "raw";
}

static struct plan_step *add_step(struct vm_plan *p)
{
	struct plan_step *s = &p->steps[p->nsteps++];

	memset(s, 0, sizeof(*s));
	return s;
}

/* s's argv: an empty qcow2 of the given size at s->creates; 0 or -ENOMEM. */
__attribute__((format(printf, 2, 3)))
static int new_qcow2(struct plan_step *s, const char *size_fmt, ...)
{
	char size[32];
	va_list ap;
	int r = 0;

	va_start(ap, size_fmt);
	vsnprintf(size, sizeof(size), size_fmt, ap);
	va_end(ap);
	r |= strv_add(&s->argv, "qemu-img");
	r |= strv_add(&s->argv, "create");
	r |= strv_add(&s->argv, "-q");
	r |= strv_add(&s->argv, "-f");
	r |= strv_add(&s->argv, "qcow2");
	r |= strv_add(&s->argv, s->creates);
	r |= strv_add(&s->argv, size);
	return r ? -ENOMEM : 0;
}

static int disk_steps(const struct topo_vm *vm, const struct plan_env *d, struct vm_plan *p)
{
	struct plan_step *s;
	int r = 0;

	if (vm->disk) {
		s = add_step(p);
		if (asprintf(&s->creates, "%s/overlay.qcow2", d->state) < 0)
			return -ENOMEM;
		/* The base is only ever a backing file, which QEMU opens read-only. */
		s->always = vm->disk_mode == TOPO_DISK_EPHEMERAL;
		s->node = PLAN_NODE_OVERLAY;
		r |= strv_add(&s->argv, "qemu-img");
		r |= strv_add(&s->argv, "create");
		r |= strv_add(&s->argv, "-q");
		r |= strv_add(&s->argv, "-f");
		r |= strv_add(&s->argv, "qcow2");
		r |= strv_add(&s->argv, "-F");
		r |= strv_add(&s->argv, image_format(vm->disk));
		r |= strv_add(&s->argv, "-b");
		r |= strv_add(&s->argv, vm->disk);
		r |= strv_add(&s->argv, s->creates);
	}
	if (vm->data_disk_bytes) {
		s = add_step(p);
		if (asprintf(&s->creates, "%s/data.qcow2", d->state) < 0)
			return -ENOMEM;
		s->node = PLAN_NODE_DATA;
		r |= new_qcow2(s, "%llu", (unsigned long long)vm->data_disk_bytes);
	}
	if (vm->firmware == TOPO_FIRMWARE_UEFI) {
		/* UEFI keeps its variables (boot order) in a per-VM copy. */
		s = add_step(p);
		if (asprintf(&s->creates, "%s/efivars.fd", d->state) < 0 ||
		    !(s->copy_from = strdup(vm->arch == TOPO_ARCH_X86_64 ? OVMF_VARS : AAVMF_VARS)))
			return -ENOMEM;
	}
	/* Snapshots put each VM's RAM and device state here: a VM booted
	 * from a kernel alone has no qcow2 of its own otherwise.  The virtual
	 * size is a formality: the vmstate lives past it. */
	s = add_step(p);
	if (asprintf(&s->creates, "%s/state.qcow2", d->state) < 0)
		return -ENOMEM;
	s->node = PLAN_NODE_STATE;
	r |= new_qcow2(s, "1M");
	return r ? -ENOMEM : 0;
}

static int machine_args(const struct topo_vm *vm, const struct accel_choice *ac, struct strv *q)
{
	int r = 0;

	if (vm->arch == TOPO_ARCH_X86_64) {
		r |= strv_add(q, "-machine");
		r |= strv_add(q, "q35");
		r |= strv_add(q, "-cpu");
		r |= strv_add(q, ac->kvm ? "host" : "max");
	} else {
		r |= strv_add(q, "-machine");
		r |= strv_add(q, "virt,gic-version=3");
		r |= strv_add(q, "-cpu");
		r |= strv_add(q, ac->kvm ? "host" : "cortex-a57");
	}
	r |= strv_add(q, "-accel");
	r |= strv_add(q, ac->kvm ? "kvm" : "tcg");
	return r ? -ENOMEM : 0;
}

static int drive_args(const struct topo_vm *vm, const struct vm_plan *p, struct strv *q)
{
	int r = 0, n = 0;

	for (int i = 0; i < p->nsteps; i++) {
		const struct plan_step *s = &p->steps[i];

		if (s->copy_from) {
			r |= strv_add(q, "-drive");
			r |= strv_addf(q, "if=pflash,format=raw,unit=0,readonly=on,file=%s",
				       vm->arch == TOPO_ARCH_X86_64 ? OVMF_CODE : AAVMF_CODE);
			r |= strv_add(q, "-drive");
			r |= strv_addf(q, "if=pflash,format=raw,unit=1,file=%s", s->creates);
			continue;
		}
		if (strcmp(s->node, PLAN_NODE_STATE) == 0) {
			/* No device: only snapshot jobs ever touch it. */
			r |= strv_add(q, "-blockdev");
			r |= strv_addf(q, "driver=file,filename=%s,node-name=%s-file,discard=unmap", s->creates,
				       s->node);
			r |= strv_add(q, "-blockdev");
			r |= strv_addf(q, "driver=qcow2,file=%s-file,node-name=%s", s->node, s->node);
			continue;
		}
		r |= strv_add(q, "-drive");
		r |= strv_addf(q, "file=%s,format=qcow2,if=none,id=disk%d,node-name=%s,discard=unmap", s->creates,
			       n, s->node);
		r |= strv_add(q, "-device");
		/* With -kernel, QEMU's linuxboot ROM holds boot index 0. */
		if (n == 0 && vm->disk && !vm->kernel)
			r |= strv_addf(q, "virtio-blk-pci,drive=disk%d,bootindex=0", n);
		else
			r |= strv_addf(q, "virtio-blk-pci,drive=disk%d", n);
		n++;
	}
	return r ? -ENOMEM : 0;
}

int plan_build(const struct topo_vm *vm, const struct accel_choice *ac,
	       const struct plan_env *d, struct vm_plan *p)
{
	struct strv *q = &p->qemu;
	int r = 0;

	memset(p, 0, sizeof(*p));
	if (disk_steps(vm, d, p) < 0)
		return -ENOMEM;
	r |= strv_add(q, topo_qemu_binary(vm->arch));
	r |= strv_add(q, "-nodefaults");
	r |= strv_add(q, "-no-user-config");
	r |= strv_add(q, "-name");
	r |= strv_addf(q, "%s,debug-threads=on", vm->name);
	r |= machine_args(vm, ac, q);
	r |= strv_add(q, "-m");
	r |= strv_addf(q, "%llu", (unsigned long long)vm->memory_mib);
	r |= strv_add(q, "-smp");
	r |= strv_addf(q, "%d", vm->vcpus);
	r |= strv_add(q, "-display");
	r |= strv_add(q, "none");
	r |= strv_add(q, "-object");
	r |= strv_add(q, "rng-random,id=rng0,filename=/dev/urandom");
	r |= strv_add(q, "-device");
	r |= strv_add(q, "virtio-rng-pci,rng=rng0");
	/* The guest learns its name the way a libvirt guest learns its SMBIOS
	 * serial: the demo init reads it from sysfs; real images ignore it. */
	r |= strv_add(q, "-fw_cfg");
	r |= strv_addf(q, "name=opt/n3x/hostname,string=%s", vm->name);
	/* The serial port logs into console.log itself (logappend): what the
	 * guest prints while no supervisor is connected is kept. */
	r |= strv_add(q, "-add-fd");
	r |= strv_addf(q, "fd=%d,set=%d", QEMU_FD_CONSOLE_LOG, QEMU_FDSET_CONSOLE_LOG);
	r |= strv_add(q, "-chardev");
	r |= strv_addf(q, "socket,id=serial0,fd=%d,server=on,wait=off,logfile=/dev/fdset/%d,logappend=on",
		       QEMU_FD_SERIAL, QEMU_FDSET_CONSOLE_LOG);
	r |= strv_add(q, "-serial");
	r |= strv_add(q, "chardev:serial0");
	r |= strv_add(q, "-chardev");
	r |= strv_addf(q, "socket,id=qmp0,fd=%d,server=on,wait=off", QEMU_FD_QMP);
	r |= strv_add(q, "-mon");
	r |= strv_add(q, "chardev=qmp0,mode=control");
	r |= strv_add(q, "-chardev");
	r |= strv_addf(q, "socket,id=qmp1,fd=%d,server=on,wait=off", QEMU_FD_USER_QMP);
	r |= strv_add(q, "-mon");
	r |= strv_add(q, "chardev=qmp1,mode=control");
	/* The guest agent's port, on a socket only the supervisor connects to
	 * (its one client).  A guest without an agent never opens the port, and
	 * nothing is written to it until one does (qmp/ga.h). */
	r |= strv_add(q, "-chardev");
	r |= strv_addf(q, "socket,id=" QEMU_AGENT_CHARDEV ",fd=%d,server=on,wait=off", QEMU_FD_AGENT);
	r |= strv_add(q, "-device");
	r |= strv_add(q, "virtio-serial-pci,id=vser0");
	r |= strv_add(q, "-device");
	r |= strv_add(q, "virtserialport,bus=vser0.0,chardev=" QEMU_AGENT_CHARDEV ",name=org.qemu.guest_agent.0,id=" QEMU_AGENT_PORT);
	r |= drive_args(vm, p, q);
	/* Taps are made and wired by the supervisor; QEMU only gets their fds
	 * and needs no network privileges.  virtio-net-pci on both machines:
	 * q35 and virt both have PCIe. */
	for (int i = 0; i < vm->nnics; i++) {
		char mac[18];

		r |= strv_add(q, "-netdev");
		r |= strv_addf(q, "tap,id=net%d,fd=%d", i, QEMU_FD_NIC0 + i);
		/* OVS's userspace datapath reads taps through AF_PACKET, without
		 * the virtio-net header: a checksum the guest left to the host
		 * would reach the other side unfinished and be dropped.  So
		 * guests on such a switch compute their own. */
		bool no_offload = d->ovs_userspace && vm->nics[i].net && vm->nics[i].net->sw == TOPO_SWITCH_OVS;

		r |= strv_add(q, "-device");
		r |= strv_addf(q, "virtio-net-pci,netdev=net%d,mac=%s%s", i, topo_format_mac(vm->nics[i].mac, mac),
			       no_offload ? ",csum=off,guest_csum=off" : "");
	}
	if (vm->kernel) {
		r |= strv_add(q, "-kernel");
		r |= strv_add(q, vm->kernel);
		if (vm->initrd) {
			r |= strv_add(q, "-initrd");
			r |= strv_add(q, vm->initrd);
		}
		if (vm->append) {
			r |= strv_add(q, "-append");
			r |= strv_add(q, vm->append);
		}
	}
	return r ? -ENOMEM : 0;
}

void plan_free(struct vm_plan *p)
{
	strv_free(&p->qemu);
	for (int i = 0; i < p->nsteps; i++) {
		strv_free(&p->steps[i].argv);
		free(p->steps[i].creates);
		free(p->steps[i].copy_from);
	}
	memset(p, 0, sizeof(*p));
}

static void print_quoted(FILE *out, const char *arg)
{
	char *q = strv_quote(arg);

	fputs(q ? q : arg, out);
	free(q);
}

void plan_print(const struct vm_plan *p, FILE *out)
{
	for (int i = 0; i < p->nsteps; i++) {
		const struct plan_step *s = &p->steps[i];

		if (s->copy_from) {
			fprintf(out, "test -e %s || cp %s %s\n", s->creates, s->copy_from, s->creates);
			continue;
		}
		if (!s->always)
			fprintf(out, "test -e %s || ", s->creates);
		for (size_t j = 0; j < s->argv.n; j++) {
			if (j)
				fputc(' ', out);
			print_quoted(out, s->argv.v[j]);
		}
		fputc('\n', out);
	}
	for (size_t i = 0; i < p->qemu.n; i++) {
		const char *a = p->qemu.v[i];

		if (i == 0) {
			print_quoted(out, a);
		} else if (a[0] == '-') {
			fputs(" \\\n    ", out);
			print_quoted(out, a);
		} else {
			fputc(' ', out);
			print_quoted(out, a);
		}
	}
	fputc('\n', out);
}

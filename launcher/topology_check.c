/* topology_check.c - the topology.conf checks that need the whole file.
 *
 * Sections may come in any order (a VM's NIC may name a network defined
 * further down), so these run once inih is done.  Each message points at the
 * key that set the value, found through the parser's record of key lines.
 * Sections that were themselves in error were parsed into p->junk and take
 * no part here; neither do NICs whose line was in error (network NULL).
 */
#include "launcher/topology_impl.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const qemu_binaries[] = { "qemu-system-x86_64", "qemu-system-aarch64" };
static const char *const qemu_packages[] = { "qemu-system-x86", "qemu-system-arm" };

const char *topo_qemu_binary(enum topo_arch a)
{
	return (unsigned)a <= TOPO_ARCH_AARCH64 ? qemu_binaries[a] : "unknown";
}

const char *topo_qemu_package(enum topo_arch a)
{
	return (unsigned)a <= TOPO_ARCH_AARCH64 ? qemu_packages[a] : "unknown";
}

char *topo_format_mac(const uint8_t mac[6], char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

enum topo_addr topo_addr_kind(const struct topo_network *n, struct in_addr a)
{
	uint32_t mask = ~0U << (32 - n->prefix), net = ntohl(n->address.s_addr) & mask;
	uint32_t h = ntohl(a.s_addr);

	if ((h & mask) != net)
		return TOPO_ADDR_OUTSIDE;
	if (h == net)
		return TOPO_ADDR_NETWORK;
	return h == (net | ~mask) ? TOPO_ADDR_BROADCAST : TOPO_ADDR_HOST;
}

/* "outside 192.168.100.0/24", ... or NULL for a host address in n's subnet. */
static const char *addr_problem(const struct topo_network *n, struct in_addr a, char *buf, size_t size)
{
	static const char *const what[] = {
		[TOPO_ADDR_OUTSIDE] = "outside", [TOPO_ADDR_NETWORK] = "the network address of",
		[TOPO_ADDR_BROADCAST] = "the broadcast address of",
	};
	struct in_addr net = { htonl(ntohl(n->address.s_addr) & (~0U << (32 - n->prefix))) };
	enum topo_addr kind = topo_addr_kind(n, a);
	char ip[INET_ADDRSTRLEN];

	if (kind == TOPO_ADDR_HOST)
		return NULL;
	inet_ntop(AF_INET, &net, ip, sizeof(ip));
	snprintf(buf, size, "%s %s/%d", what[kind], ip, n->prefix);
	return buf;
}

/* Like execvp's search: $PATH, or the system default when it is unset. */
static bool on_path(const char *prog)
{
	char *path = getenv("PATH"), *copy, file[PATH_MAX], dflt[256];
	struct stat st;
	bool found = false;

	if (!path && confstr(_CS_PATH, dflt, sizeof(dflt)) > 0)
		path = dflt;
	if (!path || !(copy = strdup(path)))
		return false;
	/* strsep, not strtok: an empty entry means the current directory */
	for (char *dir, *rest = copy; !found && (dir = strsep(&rest, ":"));) {
		snprintf(file, sizeof(file), "%s/%s", *dir ? dir : ".", prog);
		found = stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* The first of the networks before index i whose bridge or host interface is name. */
static const struct topo_network *uses_ifname(const struct topology *t, int i, const char *name)
{
	for (int j = 0; j < i; j++) {
		const struct topo_network *o = &t->networks[j];

		/* both set by check_network(j), unless it ran out of memory */
		if (o->bridge && o->host_interface && (!strcmp(o->bridge, name) || !strcmp(o->host_interface, name)))
			return o;
	}
	return NULL;
}

static void check_network(struct topo_parser *p, int i)
{
	struct topo_network *n = &p->t->networks[i];
	const struct topo_network *o;
	struct topo_sect s = { .kind = TOPO_SEC_NETWORK, .owner = p->t, .idx = i };
	char buf[64], a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	const char *why;
	int line;

	if (!n->bridge && asprintf(&n->bridge, "br-%s", n->name) < 0) {
		n->bridge = NULL;
		p->nomem = true;
		return;
	}
	if (strlen(n->bridge) > TOPO_IFNAME_MAX)
		topo_sect_msg(p, &s, n->line, "default bridge name \"%s\" is longer than %d characters: set bridge",
			n->bridge, TOPO_IFNAME_MAX);
	if (!n->host_interface)
		n->host_interface = topo_strdup(p, n->bridge);
	else if (n->sw == TOPO_SWITCH_LINUX_BRIDGE && strcmp(n->host_interface, n->bridge))
		topo_sect_msg(p, &s, topo_key_line(p, TOPO_SEC_NETWORK, i, "host-interface"),
			"host-interface: must be the bridge (\"%s\") with switch = linux-bridge", n->bridge);
	if (!n->host_interface)
		return;
	if ((o = uses_ifname(p->t, i, n->bridge)))
		topo_sect_msg(p, &s, topo_key_line(p, TOPO_SEC_NETWORK, i, "bridge"),
			"bridge \"%s\" is already used by network %s (line %d)", n->bridge, o->name, o->line);
	else if (strcmp(n->host_interface, n->bridge) && (o = uses_ifname(p->t, i, n->host_interface)))
		topo_sect_msg(p, &s, topo_key_line(p, TOPO_SEC_NETWORK, i, "host-interface"),
			"host-interface \"%s\" is already used by network %s (line %d)",
			n->host_interface, o->name, o->line);
	if (n->domain && !n->has_address)
		topo_sect_msg(p, &s, topo_key_line(p, TOPO_SEC_NETWORK, i, "domain"), "domain: needs an address");
	if (!n->has_dhcp)
		return;
	line = topo_key_line(p, TOPO_SEC_NETWORK, i, "dhcp");
	if (!n->has_address) {
		topo_sect_msg(p, &s, line, "dhcp: needs an address");
		return;
	}
	inet_ntop(AF_INET, &n->dhcp_start, a, sizeof(a));
	inet_ntop(AF_INET, &n->dhcp_end, b, sizeof(b));
	if ((why = addr_problem(n, n->dhcp_start, buf, sizeof(buf))))
		topo_sect_msg(p, &s, line, "dhcp: start %s is %s", a, why);
	else if ((why = addr_problem(n, n->dhcp_end, buf, sizeof(buf))))
		topo_sect_msg(p, &s, line, "dhcp: end %s is %s", b, why);
	else if (ntohl(n->dhcp_start.s_addr) > ntohl(n->dhcp_end.s_addr))
		topo_sect_msg(p, &s, line, "dhcp: start %s is after end %s", a, b);
	else if (ntohl(n->address.s_addr) >= ntohl(n->dhcp_start.s_addr) &&
		 ntohl(n->address.s_addr) <= ntohl(n->dhcp_end.s_addr))
		topo_sect_msg(p, &s, line, "dhcp: range %s-%s holds the host interface's address", a, b);
}

/* The default firmware, or the one given if this arch has it: x86_64 boots
 * SeaBIOS unless told uefi; aarch64 has only UEFI (AAVMF), and direct kernel
 * boot needs none. */
static void firmware(struct topo_parser *p, const struct topo_sect *s, int i, struct topo_vm *vm)
{
	if (vm->firmware == TOPO_FIRMWARE_NONE)
		vm->firmware = vm->arch == TOPO_ARCH_X86_64 ? TOPO_FIRMWARE_BIOS :
			       vm->kernel ? TOPO_FIRMWARE_NONE : TOPO_FIRMWARE_UEFI;
	else if (vm->firmware == TOPO_FIRMWARE_BIOS && vm->arch == TOPO_ARCH_AARCH64)
		topo_sect_msg(p, s, topo_key_line(p, TOPO_SEC_VM, i, "firmware"),
			"firmware: bios is x86_64 only (aarch64 boots its disk through UEFI: use uefi)");
}

static void check_vm(struct topo_parser *p, int i, int have_qemu[2])
{
	struct topo_vm *vm = &p->t->vms[i];
	struct topo_sect s = { .kind = TOPO_SEC_VM, .owner = p->t, .idx = i };

	if (vm->initrd && !vm->kernel)
		topo_sect_msg(p, &s, topo_key_line(p, TOPO_SEC_VM, i, "initrd"), "initrd without kernel");
	if (vm->append && !vm->kernel)
		topo_sect_msg(p, &s, topo_key_line(p, TOPO_SEC_VM, i, "append"), "append without kernel");
	if (!vm->disk && !vm->kernel)
		topo_sect_msg(p, &s, vm->line, "nothing to boot: set disk or kernel");
	if (!vm->disk && vm->disk_mode == TOPO_DISK_EPHEMERAL)
		topo_sect_msg(p, &s, topo_key_line(p, TOPO_SEC_VM, i, "disk-mode"), "disk-mode = ephemeral without disk");
	firmware(p, &s, i, vm);
	if (vm->ready == TOPO_READY_LEASE && !vm->nnics)
		topo_sect_msg(p, &s, topo_key_line(p, TOPO_SEC_VM, i, "ready"),
			"ready: lease needs a nic (a DHCP lease is per NIC)");
	if (have_qemu[vm->arch] < 0)
		have_qemu[vm->arch] = on_path(topo_qemu_binary(vm->arch));
	if (!have_qemu[vm->arch])
		topo_sect_msg(p, &s, topo_key_line(p, TOPO_SEC_VM, i, "arch"),
			"arch %s needs %s (Debian package %s), not found on $PATH",
			topo_arch_name(vm->arch), topo_qemu_binary(vm->arch), topo_qemu_package(vm->arch));
}

/* The earlier NIC (in file order) that nic's MAC or ip repeats, or NULL. */
static const struct topo_nic *earlier(const struct topology *t, const struct topo_nic *nic, bool by_ip,
				      const char **vm_name)
{
	for (int i = 0; i < t->nvms; i++) {
		for (int k = 0; k < t->vms[i].nnics; k++) {
			const struct topo_nic *o = &t->vms[i].nics[k];

			if (o == nic)
				return NULL;
			if (!o->network || (by_ip && (!o->has_ip || o->ip.s_addr != nic->ip.s_addr)) ||
			    (!by_ip && memcmp(o->mac, nic->mac, 6)))
				continue;
			*vm_name = t->vms[i].name;
			return o;
		}
	}
	return NULL;
}

static void check_nic(struct topo_parser *p, int i, struct topo_nic *nic)
{
	struct topo_sect s = { .kind = TOPO_SEC_VM, .owner = p->t, .idx = i };
	char mac[18], ip[INET_ADDRSTRLEN], buf[64];
	const struct topo_nic *o;
	const char *why, *name;

	nic->net = topo_find_network(p->t, nic->network);
	inet_ntop(AF_INET, &nic->ip, ip, sizeof(ip));
	if (!nic->net)
		topo_sect_msg(p, &s, nic->line, "nic: no network \"%s\"", nic->network);
	else if (nic->has_ip && !nic->net->has_address)
		topo_sect_msg(p, &s, nic->line, "nic: ip= needs an address on network %s", nic->net->name);
	else if (nic->has_ip && (why = addr_problem(nic->net, nic->ip, buf, sizeof(buf))))
		topo_sect_msg(p, &s, nic->line, "nic: ip %s on network %s is %s", ip, nic->net->name, why);
	else if (nic->has_ip && nic->ip.s_addr == nic->net->address.s_addr)
		topo_sect_msg(p, &s, nic->line, "nic: ip %s is the address of network %s's host interface", ip,
			nic->net->name);
	else if (nic->has_ip && (o = earlier(p->t, nic, true, &name)))
		topo_sect_msg(p, &s, nic->line, "nic: ip %s is already used by %s/%d (line %d)", ip, name, o->index,
			o->line);
	if ((o = earlier(p->t, nic, false, &name)))
		topo_sect_msg(p, &s, nic->line, "nic: %sMAC %s is already used by %s/%d (line %d%s)%s",
			nic->mac_derived ? "derived " : "", topo_format_mac(nic->mac, mac), name, o->index,
			o->line, o->mac_derived ? ", derived" : "", nic->mac_derived ? ": set mac=" : "");
}

static void check_rule(struct topo_parser *p, int i, const struct topo_rule *r)
{
	struct topo_sect s = { .kind = TOPO_SEC_PROFILE, .owner = p->t, .idx = i };
	const struct topo_vm *vm;
	char name[TOPO_VM_NAME_MAX + 1];
	int nic;

	if (topo_parse_key(r->key, name, &nic) || !name[0]) /* a bad key was reported when parsed */
		return;
	if (!(vm = topo_find_vm(p->t, name))) {
		topo_sect_msg(p, &s, r->line, "%s: no vm \"%s\"", r->key, name);
		return;
	}
	if (nic >= vm->nnics)
		topo_sect_msg(p, &s, r->line, "%s: vm %s has no NIC %d (it has %d)", r->key, name, nic, vm->nnics);
}

void topo_check(struct topo_parser *p)
{
	struct topology *t = p->t;
	struct topo_sect fabric = { .kind = TOPO_SEC_FABRIC, .owner = t };
	int have_qemu[2] = { -1, -1 };

	if (strcmp(t->fabric.profile, "default") && !topo_find_profile(t, t->fabric.profile))
		topo_sect_msg(p, &fabric, topo_key_line(p, TOPO_SEC_FABRIC, 0, "profile"),
			"profile: no profile \"%s\" (define [profile %s] or use default)",
			t->fabric.profile, t->fabric.profile);
	for (int i = 0; i < t->nnetworks; i++)
		check_network(p, i);
	for (int i = 0; i < t->nvms; i++) {
		check_vm(p, i, have_qemu);
		for (int k = 0; k < t->vms[i].nnics; k++)
			if (t->vms[i].nics[k].network)
				check_nic(p, i, &t->vms[i].nics[k]);
	}
	for (int i = 0; i < t->nprofiles; i++)
		for (int k = 0; k < t->profiles[i].nrules; k++)
			check_rule(p, i, &t->profiles[i].rules[k]);
	topo_sched_check(p);
	topo_check_sites(p);
}

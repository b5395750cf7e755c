/* topology_keys.c - one "KEY = VALUE" line of topology.conf into the model.
 *
 * Each value is checked on its own here, where the line is known; checks that
 * need other keys or sections (a NIC's network, uniqueness, boot sources) are
 * in topology_check.c.  A bad value leaves the default in place and adds one
 * message, so the rest of the file is still checked.
 */
#include "launcher/topology_impl.h"
#include "net/tap.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1024ULL * 1024)

static const char *const arch_names[] = {
	[TOPO_ARCH_X86_64] = "x86_64", [TOPO_ARCH_AARCH64] = "aarch64", NULL,
};
static const char *const accel_names[] = { "auto", "kvm", "tcg", NULL };
static const char *const switch_names[] = { "ovs", "linux-bridge", NULL };
static const char *const netns_names[] = { "auto", "host", NULL };
static const char *const disk_mode_names[] = { "persistent", "ephemeral", NULL };
static const char *const restart_names[] = { "no", "on-failure", "always", NULL };
/* TOPO_FIRMWARE_BIOS and _UEFI, one after none (which is never written). */
static const char *const firmware_names[] = { "bios", "uefi", NULL };

int topo_check_name(const char *s, size_t max)
{
	static const char allowed[] = "abcdefghijklmnopqrstuvwxyz0123456789-";
	size_t len = strspn(s, allowed);

	if (!len || s[len] || s[0] == '-')
		return -EINVAL;
	return len > max ? -ENAMETOOLONG : 0;
}

/* Index of val in names, else -1 after "KEY: bad value "X" (use a, b or c)". */
static int pick(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val,
		const char *const *names)
{
	char use[128] = "";
	int i;

	for (i = 0; names[i]; i++)
		if (!strcmp(val, names[i]))
			return i;
	for (i = 0; names[i]; i++)
		snprintf(use + strlen(use), sizeof(use) - strlen(use), "%s%s",
			 i == 0 ? "" : names[i + 1] ? ", " : " or ", names[i]);
	topo_sect_msg(p, s, p->line, "%s: bad value \"%s\" (use %s)", key, val, use);
	return -1;
}

static void boolean(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val, bool *out)
{
	static const char *const yes[] = { "on", "yes", "true" }, *const no[] = { "off", "no", "false" };

	for (int i = 0; i < 3; i++) {
		if (!strcmp(val, yes[i]) || !strcmp(val, no[i])) {
			*out = !strcmp(val, yes[i]);
			return;
		}
	}
	topo_sect_msg(p, s, p->line, "%s: bad value \"%s\" (use on/off, yes/no or true/false)", key, val);
}

/* A decimal number in min..max; digits only, so no sign, space or hex. */
static void number(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val,
		   int min, int max, const char *unit, int *out)
{
	size_t len = strspn(val, "0123456789");
	long n = len && len <= 9 && !val[len] ? strtol(val, NULL, 10) : -1;

	if (n < min || n > max) {
		topo_sect_msg(p, s, p->line, "%s: bad value \"%s\" (use %d..%d%s)", key, val, min, max, unit);
		return;
	}
	*out = (int)n;
}

/* "4096" (MiB), "512M", "4G", "1T", "64K", also "4GiB": case-insensitive. */
static int parse_size(const char *val, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	uint64_t n, mult = MIB;
	const char *u;
	char *end;

	if (!isdigit((unsigned char)val[0]))
		return -EINVAL;
	errno = 0;
	n = strtoull(val, &end, 10);
	if (errno)
		return -ERANGE;
	if (*end) {
		if (!(u = strchr(units, toupper((unsigned char)*end))) || !*u)
			return -EINVAL;
		mult = 1ULL << (10 * (u - units + 1));
		if (end[1] && strcasecmp(end + 1, "iB"))
			return -EINVAL;
	}
	if (n > UINT64_MAX / mult)
		return -ERANGE;
	*bytes = n * mult;
	return 0;
}

static void set_str(struct topo_parser *p, char **field, const char *val)
{
	free(*field);
	*field = topo_strdup(p, val);
}

/* A name of [a-z0-9-]: the fabric's (max TOPO_NAME_MAX) or an interface's
 * (TOPO_IFNAME_MAX, what IFNAMSIZ leaves). */
static void set_name(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val,
		     size_t max, char **field)
{
	int r = topo_check_name(val, max);

	if (r == -EINVAL)
		topo_sect_msg(p, s, p->line, "%s: bad name \"%s\" %s", key, val, TOPO_NAME_RULE);
	else if (r == -ENAMETOOLONG)
		topo_sect_msg(p, s, p->line, "%s: name \"%s\" is longer than %zu characters%s", key, val, max,
			      max == TOPO_IFNAME_MAX ? " (IFNAMSIZ)" : "");
	else
		set_str(p, field, val);
}

/* DIR/../x/file as /x/file: the directory is resolved, the file itself is
 * not, so a symlinked image stays the link the user named.  Takes path. */
static char *canonical_dir(char *path)
{
	char *slash = strrchr(path, '/'), *dir, *out = NULL;

	*slash = '\0';
	dir = realpath(*path ? path : "/", NULL);
	*slash = '/';
	if (dir && asprintf(&out, "%s/%s", strcmp(dir, "/") ? dir : "", slash + 1) >= 0) {
		free(path);
		path = out;
	}
	free(dir);
	return path;
}

/* A file the VM reads: stored absolute, relative to the topology file's
 * directory.  Stored even when missing, so no second message follows
 * ("initrd without kernel") from the same mistake. */
static void set_path(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val,
		     char **field)
{
	const char *rel = val;
	struct stat st;
	char *abs;

	while (rel[0] == '.' && rel[1] == '/')
		rel += 2 + strspn(rel + 2, "/"); /* "./vmlinuz" is DIR/vmlinuz, not DIR/./vmlinuz */
	if (val[0] == '/') {
		if (!(abs = topo_strdup(p, val)))
			return;
	} else if (asprintf(&abs, "%s/%s", p->t->dir, rel) < 0) {
		p->nomem = true;
		return;
	}
	if (stat(abs, &st) < 0 || access(abs, R_OK) < 0)
		topo_sect_msg(p, s, p->line, "%s: cannot read \"%s\": %s", key, val, strerror(errno));
	else if (S_ISDIR(st.st_mode))
		topo_sect_msg(p, s, p->line, "%s: \"%s\" is a directory", key, val);
	else
		abs = canonical_dir(abs);
	free(*field);
	*field = abs;
}

static bool parse_ip(const char *val, struct in_addr *out)
{
	return inet_pton(AF_INET, val, out) == 1;
}

static bool fabric_key(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val)
{
	struct topo_fabric *f = &s->owner->fabric;
	int n;

	if (!strcmp(key, "name")) {
		set_name(p, s, key, val, TOPO_NAME_MAX, &f->name);
	} else if (!strcmp(key, "netns")) {
		if ((n = pick(p, s, key, val, netns_names)) >= 0)
			f->netns_host = n == 1;
	} else if (!strcmp(key, "profile")) {
		set_str(p, &f->profile, val); /* resolved once every profile is known */
	} else if (!strcmp(key, "schedule")) {
		set_str(p, &f->schedule, val); /* resolved once every schedule is known */
	} else {
		return false;
	}
	return true;
}

static void address_key(struct topo_parser *p, struct topo_sect *s, struct topo_network *n, const char *val)
{
	char ip[INET_ADDRSTRLEN + 1];
	const char *slash = strchr(val, '/');
	size_t len = slash ? (size_t)(slash - val) : 0;
	size_t plen = slash ? strspn(slash + 1, "0123456789") : 0;
	enum topo_addr kind;
	int prefix;

	if (slash && len < sizeof(ip))
		snprintf(ip, sizeof(ip), "%.*s", (int)len, val);
	if (!slash || len >= sizeof(ip) || !plen || plen > 2 || slash[1 + plen] || !parse_ip(ip, &n->address)) {
		topo_sect_msg(p, s, p->line, "address: bad address \"%s\" (use A.B.C.D/P, e.g. 192.168.100.1/24)", val);
		return;
	}
	prefix = atoi(slash + 1);
	if (prefix < 1 || prefix > 30) {
		topo_sect_msg(p, s, p->line, "address: bad prefix /%d (use /1 to /30)", prefix);
		return;
	}
	n->prefix = prefix;
	kind = topo_addr_kind(n, n->address);
	if (kind == TOPO_ADDR_NETWORK || kind == TOPO_ADDR_BROADCAST) {
		topo_sect_msg(p, s, p->line, "address: %s is the %s address of its subnet, not a host address",
			ip, kind == TOPO_ADDR_NETWORK ? "network" : "broadcast");
		return;
	}
	n->has_address = true;
}

/* dnsmasq's lease time: seconds, or with m, h, d or w, or "infinite". */
static bool good_lease(const char *v)
{
	size_t len = strspn(v, "0123456789");

	return !strcmp(v, "infinite") || (len && (!v[len] || (strchr("mhdw", v[len]) && !v[len + 1])));
}

static void dhcp_key(struct topo_parser *p, struct topo_sect *s, struct topo_network *n, const char *val)
{
	char *copy = topo_strdup(p, val), *part[4] = { 0 }, *save = NULL;
	int nparts = 0;

	if (!copy)
		return;
	for (char *w = strtok_r(copy, ",", &save); w && nparts < 4; w = strtok_r(NULL, ",", &save)) {
		w += strspn(w, " \t");
		w[strcspn(w, " \t")] = '\0';
		part[nparts++] = w;
	}
	if (nparts < 2 || nparts > 3 || !parse_ip(part[0], &n->dhcp_start) ||
	    !parse_ip(part[1], &n->dhcp_end)) {
		topo_sect_msg(p, s, p->line, "dhcp: bad range \"%s\" (use START,END[,LEASE], e.g. 192.168.100.100,192.168.100.200,12h)",
			val);
	} else if (part[2] && !good_lease(part[2])) {
		topo_sect_msg(p, s, p->line, "dhcp: bad lease time \"%s\" (use seconds, 45m, 12h, 7d, 1w or infinite)",
			part[2]);
	} else {
		set_str(p, &n->dhcp_lease, part[2] ? part[2] : "12h");
		n->has_dhcp = true; /* the range against the subnet: topo_check() */
	}
	free(copy);
}

static bool good_domain(const char *v)
{
	size_t len;

	if (strlen(v) > 253)
		return false;
	do {
		len = strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-");
		if (!len || len > 63 || v[0] == '-' || v[len - 1] == '-' || (v[len] && v[len] != '.'))
			return false;
		v += len;
	} while (*v++ == '.');
	return true;
}

static bool network_key(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val)
{
	struct topo_network *n = &s->owner->networks[s->idx];
	int i;

	if (!strcmp(key, "switch")) {
		if ((i = pick(p, s, key, val, switch_names)) >= 0)
			n->sw = i;
	} else if (!strcmp(key, "bridge")) {
		set_name(p, s, key, val, TOPO_IFNAME_MAX, &n->bridge);
	} else if (!strcmp(key, "host-interface")) {
		set_name(p, s, key, val, TOPO_IFNAME_MAX, &n->host_interface);
	} else if (!strcmp(key, "address")) {
		address_key(p, s, n, val);
	} else if (!strcmp(key, "dhcp")) {
		dhcp_key(p, s, n, val);
	} else if (!strcmp(key, "domain")) {
		if (good_domain(val))
			set_str(p, &n->domain, val);
		else
			topo_sect_msg(p, s, p->line, "domain: bad domain \"%s\" (use labels of a-z, 0-9 and '-', e.g. local)",
				val);
	} else if (!strcmp(key, "stp")) {
		boolean(p, s, key, val, &n->stp);
	} else {
		return false;
	}
	return true;
}

static bool parse_mac(const char *v, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++, v += 3) {
		if (!isxdigit((unsigned char)v[0]) || !isxdigit((unsigned char)v[1]) ||
		    v[2] != (i < 5 ? ':' : '\0'))
			return false;
		mac[i] = (uint8_t)strtoul((char[]){ v[0], v[1], '\0' }, NULL, 16);
	}
	return true;
}

/* 52:54:00 (QEMU's prefix) and 24 bits of FNV-1a over "VM/INDEX": the same
 * NIC gets the same MAC on every run, so DHCP leases and ARP caches hold. */
static void derive_mac(const char *vm, int index, uint8_t mac[6])
{
	char key[64];
	uint32_t h = 2166136261u;

	snprintf(key, sizeof(key), "%s/%d", vm, index);
	for (const char *c = key; *c; c++) {
		h ^= (uint8_t)*c;
		h *= 16777619u;
	}
	memcpy(mac, (uint8_t[]){ 0x52, 0x54, 0x00, h >> 16, h >> 8, h }, 6);
}

static bool vlans(struct topo_parser *p, struct topo_sect *s, struct topo_nic *nic, char *list)
{
	char *save = NULL;
	size_t len;

	for (char *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		long id = 0;

		if ((len = strspn(w, "0123456789")) && len <= 4 && !w[len])
			id = strtol(w, NULL, 10);
		if (id < 1 || id > 4094) {
			topo_sect_msg(p, s, p->line, "nic: bad VLAN \"%s\" (use 1..4094)", w);
			return false;
		}
		for (int i = 0; i < nic->nvlans; i++) {
			if (nic->vlans[i] == id) {
				topo_sect_msg(p, s, p->line, "nic: VLAN %ld listed twice", id);
				return false;
			}
		}
		if (nic->nvlans == TOPO_MAX_VLANS) {
			topo_sect_msg(p, s, p->line, "nic: more than %d VLANs", TOPO_MAX_VLANS);
			return false;
		}
		nic->vlans[nic->nvlans++] = (uint16_t)id;
	}
	if (!nic->nvlans)
		topo_sect_msg(p, s, p->line, "nic: vlan= needs at least one VLAN");
	return nic->nvlans > 0;
}

static bool nic_option(struct topo_parser *p, struct topo_sect *s, struct topo_nic *nic, char *w,
		       unsigned *given)
{
	static const char *const opts[] = { "mac=", "ip=", "vlan=" };
	int o;

	for (o = 0; o < 3 && strncmp(w, opts[o], strlen(opts[o])); o++)
		;
	if (o == 3) {
		topo_sect_msg(p, s, p->line, "nic: unknown option \"%s\" (use mac=, ip= or vlan=)", w);
		return false;
	}
	if (*given & (1u << o)) {
		topo_sect_msg(p, s, p->line, "nic: %s given twice", opts[o]);
		return false;
	}
	*given |= 1u << o;
	w += strlen(opts[o]);
	if (o == 0 && !parse_mac(w, nic->mac)) {
		topo_sect_msg(p, s, p->line, "nic: bad MAC \"%s\" (use 52:54:00:12:34:01)", w);
		return false;
	}
	if (o == 0 && (nic->mac[0] & 1)) {
		topo_sect_msg(p, s, p->line, "nic: MAC %s is multicast (the first octet must be even)", w);
		return false;
	}
	if (o == 0 && !memcmp(nic->mac, (uint8_t[6]){ 0 }, 6)) {
		topo_sect_msg(p, s, p->line, "nic: MAC %s is not a usable address", w);
		return false;
	}
	if (o == 1 && !(nic->has_ip = parse_ip(w, &nic->ip))) {
		topo_sect_msg(p, s, p->line, "nic: bad ip \"%s\" (use A.B.C.D)", w);
		return false;
	}
	return o == 2 ? vlans(p, s, nic, w) : true;
}

/* NETWORK [mac=XX:..] [ip=A.B.C.D] [vlan=N[,M...]].  A NIC in error is kept
 * with network NULL, so the indexes of the NICs after it do not shift. */
static void nic_key(struct topo_parser *p, struct topo_sect *s, struct topo_vm *vm, const char *val)
{
	char *copy = topo_strdup(p, val), *save = NULL, *w;
	struct topo_nic *nic;
	unsigned given = 0;
	bool ok = true;

	if (!copy || !(nic = topo_grow(p, &vm->nics, &vm->nnics, sizeof(*nic)))) {
		free(copy);
		return;
	}
	nic->index = vm->nnics - 1;
	nic->line = p->line;
	w = strtok_r(copy, " \t", &save); /* inih strips the value: one word at least */
	if (strchr(w, '=')) {
		topo_sect_msg(p, s, p->line, "nic: \"%s\" comes before the network (use nic = NETWORK [mac=..] [ip=..] [vlan=..])",
			w);
		ok = false;
	}
	nic->network = topo_strdup(p, w);
	while (ok && (w = strtok_r(NULL, " \t", &save)))
		ok = nic_option(p, s, nic, w, &given);
	if (ok && nic->index >= TOPO_MAX_NICS) {
		topo_sect_msg(p, s, p->line, "nic: at most %d NICs per VM", TOPO_MAX_NICS);
		ok = false;
	} else if (ok && strlen(vm->name) <= TOPO_VM_NAME_MAX &&
	    snprintf(NULL, 0, TAP_NAME_FMT, vm->name, nic->index) > TAP_NAME_MAX) {
		topo_sect_msg(p, s, p->line, "nic: too many NICs: tap name \"" TAP_NAME_FMT "\" is longer than %d characters",
			vm->name, nic->index, TAP_NAME_MAX);
		ok = false;
	}
	if (!(given & 1)) {
		derive_mac(vm->name, nic->index, nic->mac);
		nic->mac_derived = true;
	}
	if (!ok) {
		free(nic->network);
		nic->network = NULL;
	}
	free(copy);
}

static void memory_key(struct topo_parser *p, struct topo_sect *s, struct topo_vm *vm, const char *val)
{
	uint64_t bytes;
	int r = parse_size(val, &bytes);

	if (r == -EINVAL)
		topo_sect_msg(p, s, p->line, "memory: bad size \"%s\" (use 4096, 512M or 4G)", val);
	else if (r == -ERANGE)
		topo_sect_msg(p, s, p->line, "memory: size \"%s\" is too large", val);
	else if (bytes % MIB)
		topo_sect_msg(p, s, p->line, "memory: %s is not a whole number of MiB", val);
	else if (bytes < 16 * MIB)
		topo_sect_msg(p, s, p->line, "memory: %s is too small (at least 16 MiB)", val);
	else
		vm->memory_mib = bytes / MIB;
}

static void data_disk_key(struct topo_parser *p, struct topo_sect *s, struct topo_vm *vm, const char *val)
{
	uint64_t bytes;
	int r = parse_size(val, &bytes);

	if (r == -EINVAL)
		topo_sect_msg(p, s, p->line, "data-disk: bad size \"%s\" (use 10240, 512M or 10G)", val);
	else if (r == -ERANGE)
		topo_sect_msg(p, s, p->line, "data-disk: size \"%s\" is too large", val);
	else if (!bytes)
		topo_sect_msg(p, s, p->line, "data-disk: size must be more than 0 (leave data-disk out for none)");
	else
		vm->data_disk_bytes = bytes;
}

/* agent | lease | console REGEX | exec CMD.  The regex is compiled here as
 * `wait --console` compiles it (POSIX extended), so a typo is a FILE:LINE
 * error now rather than a VM that never becomes ready. */
static void ready_key(struct topo_parser *p, struct topo_sect *s, struct topo_vm *vm, const char *val)
{
	static const char *const words[] = { "agent", "lease", "console", "exec" };
	size_t len = strcspn(val, " \t");
	const char *arg = val + len + strspn(val + len, " \t");
	int w;

	for (w = 0; w < 4 && (strlen(words[w]) != len || strncmp(val, words[w], len)); w++)
		;
	if (w == 4) {
		topo_sect_msg(p, s, p->line, "ready: bad value \"%s\" (use agent, lease, console REGEX or exec CMD)",
			      val);
		return;
	}
	if (w < 2 && *arg) {
		topo_sect_msg(p, s, p->line, "ready: %s takes no argument (got \"%s\")", words[w], arg);
		return;
	}
	if (w >= 2 && !*arg) {
		topo_sect_msg(p, s, p->line, "ready: %s needs %s (ready = %s)", words[w],
			      w == 2 ? "a regular expression" : "a command", w == 2 ? "console REGEX" : "exec CMD");
		return;
	}
	if (w == 2) {
		regex_t re;
		char msg[128];
		int e = regcomp(&re, arg, REG_EXTENDED | REG_NOSUB);

		if (e) {
			regerror(e, &re, msg, sizeof(msg));
			topo_sect_msg(p, s, p->line, "ready: bad regular expression \"%s\": %s", arg, msg);
			return;
		}
		regfree(&re);
	}
	vm->ready = (enum topo_ready[]){ TOPO_READY_AGENT, TOPO_READY_LEASE, TOPO_READY_CONSOLE,
					 TOPO_READY_EXEC }[w];
	free(vm->ready_arg);
	vm->ready_arg = w >= 2 ? topo_strdup(p, arg) : NULL;
}

static bool vm_key(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val)
{
	struct topo_vm *vm = &s->owner->vms[s->idx];
	int n;

	if (!strcmp(key, "arch")) {
		if ((n = pick(p, s, key, val, arch_names)) >= 0)
			vm->arch = n;
	} else if (!strcmp(key, "accel")) {
		if ((n = pick(p, s, key, val, accel_names)) >= 0)
			vm->accel = n;
	} else if (!strcmp(key, "disk-mode")) {
		if ((n = pick(p, s, key, val, disk_mode_names)) >= 0)
			vm->disk_mode = n;
	} else if (!strcmp(key, "restart")) {
		if ((n = pick(p, s, key, val, restart_names)) >= 0)
			vm->restart = n;
	} else if (!strcmp(key, "firmware")) {
		/* The default depends on arch and kernel: topo_check() fills it. */
		if ((n = pick(p, s, key, val, firmware_names)) >= 0)
			vm->firmware = TOPO_FIRMWARE_BIOS + n;
	} else if (!strcmp(key, "ready")) {
		ready_key(p, s, vm, val);
	} else if (!strcmp(key, "role")) {
		set_str(p, &vm->role, val);
	} else if (!strcmp(key, "site")) {
		topo_site_key(p, s, vm, val);
	} else if (!strcmp(key, "append")) {
		set_str(p, &vm->append, val);
	} else if (!strcmp(key, "memory")) {
		memory_key(p, s, vm, val);
	} else if (!strcmp(key, "vcpus")) {
		number(p, s, key, val, 1, 64, "", &vm->vcpus);
	} else if (!strcmp(key, "stop-timeout")) {
		number(p, s, key, val, 1, 3600, " seconds", &vm->stop_timeout_s);
	} else if (!strcmp(key, "disk")) {
		set_path(p, s, key, val, &vm->disk);
	} else if (!strcmp(key, "kernel")) {
		set_path(p, s, key, val, &vm->kernel);
	} else if (!strcmp(key, "initrd")) {
		set_path(p, s, key, val, &vm->initrd);
	} else if (!strcmp(key, "data-disk")) {
		data_disk_key(p, s, vm, val);
	} else if (!strcmp(key, "nic")) {
		nic_key(p, s, vm, val);
	} else if (!strcmp(key, "autostart")) {
		boolean(p, s, key, val, &vm->autostart);
	} else {
		return false;
	}
	return true;
}

/* KEY is "*", a VM or VM/N, resolved by topo_check() once every VM is known. */
static bool good_rule_key(const char *key)
{
	char name[TOPO_VM_NAME_MAX + 1];
	int nic;

	return !topo_parse_key(key, name, &nic) && (!name[0] || !topo_check_name(name, TOPO_VM_NAME_MAX));
}

/* KEY = RULE; the rule stays text for tc/ to parse. */
static void profile_key(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val)
{
	struct topo_profile *pr = &s->owner->profiles[s->idx];
	struct topo_rule *r;

	if (!good_rule_key(key)) {
		topo_sect_msg(p, s, p->line, "bad key \"%s\" (use a VM name, VM/N or *)", key);
		return;
	}
	if (!(r = topo_grow(p, &pr->rules, &pr->nrules, sizeof(*r))))
		return;
	*r = (struct topo_rule){ .key = topo_strdup(p, key), .rule = topo_strdup(p, val), .line = p->line };
}

const char *topo_arch_name(enum topo_arch a)
{
	return (unsigned)a <= TOPO_ARCH_AARCH64 ? arch_names[a] : "unknown";
}

bool topo_set_key(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val)
{
	switch (s->kind) {
	case TOPO_SEC_FABRIC: return fabric_key(p, s, key, val);
	case TOPO_SEC_NETWORK: return network_key(p, s, key, val);
	case TOPO_SEC_VM: return vm_key(p, s, key, val);
	case TOPO_SEC_PROFILE: profile_key(p, s, key, val); return true; /* every key is a rule */
	case TOPO_SEC_SCHEDULE: topo_sched_key(p, s, key, val); return true;
	case TOPO_SEC_LATENCY: topo_latency_key(p, s, key, val); return true; /* every key is a pair */
	default: return true;
	}
}

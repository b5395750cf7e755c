/* topology.h - topology.conf parsed into a plain data model.
 *
 * topo_load() parses the INI file with inih, validates every key and reports
 * every problem in one pass as "FILE:LINE: message" lines.  Nothing in the
 * model refers back to the parser; the model owns all of its strings.
 */
#ifndef N3X_TOPOLOGY_H
#define N3X_TOPOLOGY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define TOPO_NAME_MAX 31    /* fabric and profile names */
#define TOPO_VM_NAME_MAX 12 /* "VM-nN" must fit IFNAMSIZ (15 + NUL) */
#define TOPO_IFNAME_MAX 15  /* network, bridge, host-interface and tap names */
#define TOPO_MAX_VLANS 64
/* QEMU gets fds 3..19 (CHILD_MAX_FDS is more): serial, monitor, guest
 * agent and a tap per NIC (launcher/argv.h). */
#define TOPO_MAX_NICS 14

enum topo_switch { TOPO_SWITCH_OVS, TOPO_SWITCH_LINUX_BRIDGE };
enum topo_arch { TOPO_ARCH_X86_64, TOPO_ARCH_AARCH64 };
enum topo_accel { TOPO_ACCEL_AUTO, TOPO_ACCEL_KVM, TOPO_ACCEL_TCG };
enum topo_disk_mode { TOPO_DISK_PERSISTENT, TOPO_DISK_EPHEMERAL };
enum topo_restart { TOPO_RESTART_NO, TOPO_RESTART_ON_FAILURE, TOPO_RESTART_ALWAYS };
/* none: direct kernel boot on aarch64, which needs no firmware. */
enum topo_firmware { TOPO_FIRMWARE_NONE, TOPO_FIRMWARE_BIOS, TOPO_FIRMWARE_UEFI };
/* What makes a VM ready (`ready =`); running: no key, QEMU runs the guest. */
enum topo_ready { TOPO_READY_RUNNING, TOPO_READY_AGENT, TOPO_READY_LEASE, TOPO_READY_CONSOLE,
		  TOPO_READY_EXEC };

struct topo_fabric {
	char *name;      /* default "n3x" */
	bool netns_host; /* netns = host; default auto */
	char *profile;   /* default "default" */
	char *schedule;  /* schedule = NAME: run with the cluster; NULL: none */
	int line;
};

struct topo_network {
	char *name;
	enum topo_switch sw;    /* default ovs */
	char *bridge;           /* default "br-NAME" */
	char *host_interface;   /* default: the bridge name */
	bool has_address;
	struct in_addr address; /* host interface address */
	int prefix;             /* 0..32 */
	bool has_dhcp;
	struct in_addr dhcp_start, dhcp_end;
	char *dhcp_lease;       /* "12h", "infinite", ... as dnsmasq takes it; default "12h" */
	char *domain;           /* default NULL: no DNS domain */
	bool stp;               /* default off */
	int line;
};

struct topo_nic {
	int index;                     /* N in VM-nN, in file order */
	char *network;                 /* as written */
	struct topo_network *net;      /* resolved; owned by the topology */
	uint8_t mac[6];                /* given, else derived from VM name + index */
	bool mac_derived;              /* no mac= given: 52:54:00 + FNV-1a("VM/INDEX") */
	bool has_ip;
	struct in_addr ip;
	int nvlans;                    /* 0: untagged; 1: access port; >1: trunk */
	uint16_t vlans[TOPO_MAX_VLANS];
	int line;
};

struct topo_vm {
	char *name;
	enum topo_arch arch;           /* default x86_64 */
	enum topo_accel accel;         /* default auto */
	char *role;                    /* default "" */
	uint64_t memory_mib;           /* default 1024 */
	int vcpus;                     /* default 1 */
	char *disk;                    /* absolute path of the base image, or NULL */
	enum topo_disk_mode disk_mode; /* default persistent */
	uint64_t data_disk_bytes;      /* 0: none */
	char *kernel, *initrd, *append;/* absolute paths; append as written */
	int nnics;
	struct topo_nic *nics;
	enum topo_restart restart;     /* default no */
	bool autostart;                /* default yes */
	int stop_timeout_s;            /* stop-timeout, default 30 */
	enum topo_firmware firmware;   /* x86_64: bios unless uefi; aarch64: uefi, none with kernel= unless given */
	enum topo_ready ready;         /* default running */
	char *ready_arg;               /* console: the regex (checked); exec: the shell command */
	char *site;                    /* site = NAME, for [latency]; NULL: none */
	int line;
};

/* One "KEY = RULE" line of a [profile NAME] section, kept as text: the rule
 * language belongs to tc/.  key is a VM name, "VM/N" or "*". */
struct topo_rule {
	char *key;
	char *rule;
	int line;
};

struct topo_profile {
	char *name;
	int nrules;
	struct topo_rule *rules;
	int line;
};

/* One "A:B = RULE" line of [latency]: RULE (tc's words, kept as text) shapes
 * frames between a VM at site a and one at site b, both ways; a may be b. */
struct topo_latency {
	char *a, *b;
	char *rule;
	int line;
};

/* One timed step of a [schedule NAME] section ("+10s = profile lossy"),
 * checked when parsed (launcher/topology_sched.c). */
enum topo_step_kind { TOPO_STEP_PROFILE, TOPO_STEP_PARTITION, TOPO_STEP_HEAL, TOPO_STEP_LINK };

struct topo_step {
	uint64_t at_ms;                /* from the start of the run (of the cycle, with repeat) */
	enum topo_step_kind kind;
	char *action;                  /* as shown in events and status: "partition a | b,c" */
	char *arg;                     /* profile: its name; partition: "a | b,c" or "a -> b"
					* (spaces normalised); link: "VM" or "VM/N"; heal: NULL */
	bool up;                       /* link: plug (true) or pull */
	int line;
};

struct topo_schedule {
	char *name;
	bool repeat;                   /* repeat = yes or a period */
	uint64_t period_ms;            /* repeat: one cycle (yes: the last step's time) */
	int nsteps;
	struct topo_step *steps;       /* by at_ms; steps at one time keep the file's order */
	int line;
};

struct topology {
	char *path;   /* as given to topo_load */
	char *dir;    /* absolute directory of the file: relative paths are resolved against it */
	struct topo_fabric fabric;
	int nnetworks;
	struct topo_network *networks;
	int nvms;
	struct topo_vm *vms;
	int nprofiles;
	struct topo_profile *profiles;
	int nschedules;
	struct topo_schedule *schedules;
	int nlatency;
	struct topo_latency *latency;
};

/* Parse and validate PATH.  On success returns 0, prints nothing, and *out
 * owns a topology the caller frees with topo_free(): every default is filled
 * in (each network has its bridge and host_interface, each NIC its net and
 * mac).  On failure *out is NULL; prints one "PATH:LINE: message" line per
 * problem to err (stderr when NULL), every problem in line order, and returns
 * -EINVAL; or -errno when the file cannot be read ("PATH: strerror").
 * The QEMU binary for each VM's arch is looked up on $PATH.  Not thread-safe:
 * inih's options are process-wide globals (set for the parse, then restored). */
int topo_load(const char *path, FILE *err, struct topology **out);
void topo_free(struct topology *t);

struct topo_vm *topo_find_vm(const struct topology *t, const char *name);
struct topo_network *topo_find_network(const struct topology *t, const char *name);
struct topo_profile *topo_find_profile(const struct topology *t, const char *name);
struct topo_schedule *topo_find_schedule(const struct topology *t, const char *name);

/* A profile or `tc set` key: "*" (vm "" and nic -1), "VM" (nic -1) or
 * "VM/N" (N up to three digits), VM at most TOPO_VM_NAME_MAX characters.
 * 0, or -EINVAL.  Whether VM is a good name, or a VM of some topology, is
 * the caller's to check. */
int topo_parse_key(const char *key, char vm[TOPO_VM_NAME_MAX + 1], int *nic);

/* Whether name is in only, a comma-separated list (--only); NULL is every VM. */
bool topo_selected(const char *only, const char *name);

const char *topo_arch_name(enum topo_arch a);       /* "x86_64", "aarch64" */
const char *topo_qemu_binary(enum topo_arch a);     /* "qemu-system-x86_64", ... */
const char *topo_qemu_package(enum topo_arch a);    /* "qemu-system-x86", "qemu-system-arm" */

/* "52:54:00:12:34:01" into buf (at least 18 bytes); returns buf. */
char *topo_format_mac(const uint8_t mac[6], char *buf);

#endif

/* dnsmasq.h - DHCP and DNS for a fabric: one dnsmasq, its config, its leases.
 *
 * The supervisor runs one dnsmasq per fabric, in the fabric's namespace, with
 * only the config generated here (`dnsmasq_argv`).  It serves the networks
 * it is given: the dhcp range, one reserved address per host, and a DNS name
 * per VM.  dnsmasq rewrites its lease file in place; a watcher in the loop
 * re-reads it on every change.
 */
#ifndef N3X_DNSMASQ_H
#define N3X_DNSMASQ_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "base/strv.h"

#define DNSMASQ_LEASES "dnsmasq.leases" /* in $STATE (SPEC "Runtime layout") */

/* A network dnsmasq serves, on the host interface in its address. */
struct dnsmasq_net {
	const char *name;         /* comments, and the DHCP tag "net-NAME" */
	const char *interface;    /* the host interface dnsmasq listens on */
	struct in_addr address;   /* the interface's: router and DNS server */
	int prefix;
	bool dhcp;                /* hand out dhcp_start..dhcp_end */
	struct in_addr dhcp_start, dhcp_end;
	const char *dhcp_lease;   /* as dnsmasq takes it: "12h", "infinite" */
	const char *domain;       /* NULL: none */
};

/* A NIC with a fixed address: a reservation (on a DHCP network) and names.
 * A VM's NICs are consecutive hosts of the same name. */
struct dnsmasq_host {
	const char *name;         /* the VM's */
	char mac[18];             /* "52:54:00:12:34:01" */
	struct in_addr ip;        /* INADDR_ANY: any address of the DHCP range */
	int net;                  /* its network: an index into nets */
};

struct dnsmasq_config {
	const char *fabric;       /* named in the header comment */
	const char *state_dir;    /* the lease file is STATE_DIR/dnsmasq.leases */
	const struct dnsmasq_net *nets;
	int nnets;
	const struct dnsmasq_host *hosts;
	int nhosts;
};

/* Write the config for c to out.  The output depends only on c (tests diff
 * it exactly).  Returns 0, or -EIO when out failed. */
int dnsmasq_write_config(const struct dnsmasq_config *c, FILE *out);

/* The same into PATH (mode 0600), through PATH.tmp and rename() so a
 * restarting dnsmasq never reads half a file.  Returns 0 or -errno. */
int dnsmasq_write_config_file(const struct dnsmasq_config *c, const char *path);

/* `dnsmasq --keep-in-foreground --conf-file=CONF_PATH` appended to argv
 * (--conf-file keeps /etc/dnsmasq.conf out).  Returns 0 or -ENOMEM. */
int dnsmasq_argv(const char *conf_path, struct strv *argv);

/* One IPv4 lease of an Ethernet NIC, as dnsmasq wrote it.  Match leases to
 * NICs by MAC, not hostname: each NIC of a VM gets the VM's name. */
struct dnsmasq_lease {
	int64_t expiry;     /* seconds since the epoch; 0: never expires */
	uint8_t mac[6];
	struct in_addr ip;
	char hostname[64];  /* "" when dnsmasq knows none ("*"); longer names are cut */
	char clientid[128]; /* hex "01:52:54:..." or ""; longer ids are cut */
};

/* Parse a lease file's text ("EXPIRY MAC IP HOSTNAME CLIENTID" lines).  Lines
 * that are not an Ethernet IPv4 lease are skipped: the "duid" line and the
 * DHCPv6 leases after it, other hardware types, garbage, and a last line with
 * no newline (dnsmasq was still writing it).  On success returns 0 and *out
 * is a malloc'd array of *n leases (NULL when none) the caller frees; on
 * failure returns -ENOMEM and sets *out = NULL, *n = 0. */
int dnsmasq_parse_leases(const char *text, size_t len, struct dnsmasq_lease **out, int *n);

/* The lease for mac that lasts longest (expiry 0 beats any time), or NULL.
 * Expired leases are not skipped: compare expiry with time(NULL) for that. */
const struct dnsmasq_lease *dnsmasq_lease_find(const struct dnsmasq_lease *leases, int n,
					       const uint8_t mac[6]);

/* Called from the loop with the whole lease file each time it changed;
 * leases (n of them, NULL when 0) are valid only during the call. */
typedef void dnsmasq_lease_cb(void *opaque, const struct dnsmasq_lease *leases, int n);
/* Called from the loop when a changed file could not be read; e says why.
 * The leases last reported stand until the next change is read. */
typedef void dnsmasq_error_cb(void *opaque, const struct err *e);

struct dnsmasq_watch;

/* Watch the lease file PATH with inotify on its directory (dnsmasq
 * truncates and rewrites the file, and it need not exist yet; the directory
 * must).  Calls cb once before returning with the current leases (n = 0 when
 * the file is absent), then from the loop whenever the file's content
 * changed, 50 ms after the last write so a rewrite is seen whole.  A deleted
 * file reports n = 0.  Returns 0 and *out, or -errno: the directory is
 * missing, or the file exists and cannot be read.  Later read errors go to
 * on_error (may be NULL). */
int dnsmasq_watch_open(const char *path, dnsmasq_lease_cb *cb, dnsmasq_error_cb *on_error,
		       void *opaque, struct dnsmasq_watch **out);
/* Stop watching and free w (NULL is fine).  Not from inside cb. */
void dnsmasq_watch_close(struct dnsmasq_watch *w);

#endif

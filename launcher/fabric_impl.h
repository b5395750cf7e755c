/* fabric_impl.h - what fabric.c and fabric_dns.c share: the fabric itself.
 *
 *   fabric.c      namespace, bridges, host interfaces, taps; build and close
 *   fabric_dns.c  dnsmasq: its config, the supervised (or adopted) process,
 *                 the leases
 *
 * Private to those two files.
 */
#ifndef N3X_FABRIC_IMPL_H
#define N3X_FABRIC_IMPL_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/child.h"
#include "base/loop.h"
#include "base/paths.h"
#include "launcher/fabric.h"

#define CHILD_STOP_MS 5000

struct fabric {
	const struct topology *t;
	char netns[TOPO_NAME_MAX + 8]; /* "" for netns=host */
	int nsfd;                      /* -1: the supervisor's own namespace */
	char alias[TOPO_NAME_MAX + 8]; /* "n3x:NAME" on Linux bridges we made */
	struct ovs *ovs;
	char run[PATHS_MAX], state[PATHS_MAX];

	/* Ours, or one an earlier supervisor left and this one adopted
	 * (child_adopt: not our child, its exit status unknown). */
	struct child dnsmasq;
	char dnsmasq_conf[PATHS_MAX], dnsmasq_pid[PATHS_MAX], leases_path[PATHS_MAX];
	struct loop_timer dnsmasq_timer;
	char dnsmasq_died[64];        /* how the dnsmasq being restarted ended */
	bool closing;
	struct dnsmasq_watch *watch;
	struct dnsmasq_lease *leases;
	int nleases;
	struct fabric_hooks hooks;
};

/* An event for the owner's log: what the fabric did or saw on its own. */
void fabric_note(const struct fabric *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- fabric_dns.c ---- */

/* Whether t has a network dnsmasq serves. */
bool fabric_dns_needed(const struct topology *t);
/* The fields dnsmasq needs before anything else (f's run dir set); 0 or
 * -errno with e. */
int fabric_dns_init(struct fabric *f, struct err *e);
/* A fabric built afresh: stop a dnsmasq an earlier supervisor left. */
void fabric_dns_clear_stale(struct fabric *f);
/* Serve t's networks: a new dnsmasq and a new lease file, or with keep the
 * running dnsmasq and its leases (adopted when it serves the same config,
 * else started again keeping the leases).  0 or -errno with e. */
int fabric_dns_start(struct fabric *f, bool keep, struct err *e);
/* Stop dnsmasq (bounded) and remove its files. */
void fabric_dns_close(struct fabric *f);
/* Leave dnsmasq running for the next supervisor. */
void fabric_dns_release(struct fabric *f);

#endif

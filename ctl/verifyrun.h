/* verifyrun.h - tc verify's measurements, run inside the fabric's network
 * namespace (verify.h says what each measures and why that way). */
#ifndef N3X_CTL_VERIFYRUN_H
#define N3X_CTL_VERIFYRUN_H

#include <arpa/inet.h>

#include "base/err.h"
#include "ctl/verify.h"

struct verify_probe_args {
	const char *vm_dev;     /* the tap */
	const char *switch_dev; /* the switch port of the tap's veth pair, or the host interface */
	struct in_addr dst;     /* the VM's address */
	int count;              /* probes */
	double interval_s;      /* between probes */
	double grace_s;         /* waiting for the last ones after the last is sent */
};

/* Probe the link: out[0] to the VM, out[1] from it (probed, entered, lost,
 * delay_us, jitter_us; probe_note when the captures dropped frames).  0,
 * or -errno with e when the captures or the socket could not be opened. */
int verify_probe(const struct verify_probe_args *a, struct verify_measured out[2], struct err *e);

/* Start the guest's side: script is a POSIX shell line that connects to
 * our listener twice (to the VM, then from it) and returns at once. */
typedef int verify_start_fn(void *opaque, const char *script, struct err *e);

struct verify_xfer_args {
	struct in_addr host;    /* our listener's address: the host interface's */
	struct in_addr vm;      /* only connections from here count */
	double warm_s, secs;    /* the warm-up not counted, then the measured time */
	double accept_s;        /* how long the guest may take to connect */
	verify_start_fn *start;
	void *opaque;
};

/* The guest's script for a listener on host:port ("( ... ) &"), written
 * into buf.  It uses bash's /dev/tcp where there is a bash, busybox (or
 * any) nc otherwise, each bounded by timeout(1). */
void verify_guest_script(struct in_addr host, int port, char *buf, size_t size);

/* Transfer to the VM, then from it: out[0].rate_bps and out[1].rate_bps
 * (rated, or rate_note saying why not).  0, or -errno with e when the
 * listener could not be made or the guest could not be started. */
int verify_xfer(const struct verify_xfer_args *a, struct verify_measured out[2], struct err *e);

/* The guest's side over its serial console (a unix socket, console_sock):
 * log in as root/test when it shows a login prompt, type script at the
 * shell prompt.  *logged_in says whether we logged in (verify_console_done
 * then logs out again).  0 or -errno with e naming vm. */
int verify_console_run(const char *vm, const char *console_sock, const char *script, bool *logged_in,
		       struct err *e);
/* Log out of the console again when verify_console_run logged in. */
void verify_console_done(const char *console_sock, bool logged_in);

#endif

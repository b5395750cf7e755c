/* capture.h - `n3x-ctl capture VM[/N] [-w FILE] [-c COUNT] [--direction
 * to-vm|from-vm|both]`: a pcap of one VM's link, taken with libpcap on the
 * VM's tap inside the fabric's network namespace (capture.c).  The
 * arguments and the direction mapping live apart, in capargs.c, so the
 * tests check them without a supervisor, libpcap's library or root.
 */
#ifndef N3X_CTL_CAPTURE_H
#define N3X_CTL_CAPTURE_H

#include "base/err.h"
#include "launcher/topology.h"

#include <pcap/pcap.h>
#include <stdbool.h>

/* Which of the link's frames, as the VM sees them. */
enum capture_dir { CAPTURE_BOTH, CAPTURE_TO_VM, CAPTURE_FROM_VM };

struct capture_args {
	char vm[TOPO_VM_NAME_MAX + 1];
	int nic;               /* the N of VM/N; 0 without one */
	const char *file;      /* -w FILE (argv's); NULL or "-": stdout */
	int count;             /* -c COUNT; 0: until a signal ends it */
	enum capture_dir dir;
};

/* The arguments of `capture` (argv[0] is "capture") into *a.  Returns 0,
 * or EXIT_USAGE with e set to the line to print, or with e unset when the
 * arguments do not fit the usage line (the caller prints that). */
int capture_parse(int argc, char **argv, struct capture_args *a, struct err *e);

/* Whether the pcap goes to stdout (no -w, or -w -). */
bool capture_to_stdout(const struct capture_args *a);

/* The libpcap direction on the VM's tap: the host's side of the tap sends
 * what goes to the VM (the tap's egress, PCAP_D_OUT) and receives what the
 * VM sends (PCAP_D_IN); both is PCAP_D_INOUT. */
pcap_direction_t capture_pcap_dir(enum capture_dir d);

/* "to-vm", "from-vm", "both". */
const char *capture_dir_name(enum capture_dir d);

#endif

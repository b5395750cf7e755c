/* supervisor.h - the fabric: its VMs, the control socket, signals, shutdown. */
#ifndef N3X_SUPERVISOR_H
#define N3X_SUPERVISOR_H

#include <stdbool.h>

struct sup_options {
	const char *topology;
	const char *profile; /* --profile, or NULL for the fabric's */
	const char *only;    /* --only VM,..., or NULL for every VM */
	bool check;          /* print the plan, start nothing */
	bool daemon;         /* detach once the VMs are started */
	bool wait_ready;     /* --wait-ready (implies daemon): the parent stays until
			      * every autostarted VM is ready, or one cannot be */
	double wait_ready_s; /* ... for at most this long */
	bool detach_vms;     /* SIGTERM/SIGINT/SIGHUP: exit leaving the VMs and the
			      * fabric running for the next n3x-launch to adopt */
	int verbosity;       /* -1 --quiet, 0, 1 --verbose (the last one given) */
};

/* Run the supervisor; returns the process exit code (0, 1, or 2 for bad
 * input, reported on stderr before anything was started). */
int supervisor_main(const struct sup_options *opt);

#endif

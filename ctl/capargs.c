/* capargs.c - the arguments of `n3x-ctl capture` and the direction
 * mapping (capture.h); the capture itself is capture.c. */
#include "ctl/capture.h"
#include "ctl/ctl.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *const dir_names[] = {
	[CAPTURE_BOTH] = "both",
	[CAPTURE_TO_VM] = "to-vm",
	[CAPTURE_FROM_VM] = "from-vm",
};

const char *capture_dir_name(enum capture_dir d)
{
	return (unsigned)d < sizeof(dir_names) / sizeof(dir_names[0]) ? dir_names[d] : "?";
}

pcap_direction_t capture_pcap_dir(enum capture_dir d)
{
	switch (d) {
	case CAPTURE_TO_VM: return PCAP_D_OUT;
	case CAPTURE_FROM_VM: return PCAP_D_IN;
	case CAPTURE_BOTH: break;
	}
	return PCAP_D_INOUT;
}

bool capture_to_stdout(const struct capture_args *a)
{
	return !a->file || strcmp(a->file, "-") == 0;
}

static int parse_dir(const char *s, struct capture_args *a, struct err *e)
{
	for (size_t i = 0; i < sizeof(dir_names) / sizeof(dir_names[0]); i++) {
		if (strcmp(s, dir_names[i]) == 0) {
			a->dir = (enum capture_dir)i;
			return 0;
		}
	}
	err_set(e, EINVAL, "capture: --direction takes to-vm, from-vm or both, not '%s'", s);
	return EXIT_USAGE;
}

static int parse_count(const char *s, struct capture_args *a, struct err *e)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < 1 || n > INT_MAX) {
		err_set(e, EINVAL, "capture: -c takes a number of packets from 1 to %d, not '%s'", INT_MAX, s);
		return EXIT_USAGE;
	}
	a->count = (int)n;
	return 0;
}

static int parse_vm(const char *s, struct capture_args *a, struct err *e)
{
	/* topo_parse_key also takes "*", which names no one link here. */
	if (topo_parse_key(s, a->vm, &a->nic) < 0 || !a->vm[0]) {
		err_set(e, EINVAL, "capture: '%s' is not VM or VM/N (a VM name of at most %d characters, "
			"N the NIC's index)", s, TOPO_VM_NAME_MAX);
		return EXIT_USAGE;
	}
	if (a->nic < 0)
		a->nic = 0;
	return 0;
}

int capture_parse(int argc, char **argv, struct capture_args *a, struct err *e)
{
	bool dashdash = false, have_vm = false;
	int r;

	*a = (struct capture_args){ .dir = CAPTURE_BOTH };
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val;

		if (dashdash || arg[0] != '-') {
			if (have_vm)
				return EXIT_USAGE;
			if ((r = parse_vm(arg, a, e)))
				return r;
			have_vm = true;
		} else if (strcmp(arg, "--") == 0) {
			dashdash = true;
		} else if (strncmp(arg, "--direction=", 12) == 0) {
			if ((r = parse_dir(arg + 12, a, e)))
				return r;
		} else if (strcmp(arg, "-w") == 0 || strcmp(arg, "-c") == 0 || strcmp(arg, "--direction") == 0) {
			if (i + 1 >= argc) {
				err_set(e, EINVAL, "capture: %s needs a value", arg);
				return EXIT_USAGE;
			}
			val = argv[++i];
			if (arg[1] == 'c')
				r = parse_count(val, a, e);
			else if (arg[1] == '-')
				r = parse_dir(val, a, e);
			else if (!val[0])
				r = (err_set(e, EINVAL, "capture: -w takes a file name (- for stdout)"), EXIT_USAGE);
			else
				a->file = val, r = 0;
			if (r)
				return r;
		} else {
			err_set(e, EINVAL, "capture: unknown option '%s'", arg);
			return EXIT_USAGE;
		}
	}
	return have_vm ? 0 : EXIT_USAGE;
}

/* main.c - n3x-launch [OPTIONS] TOPOLOGY.conf */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "launcher/supervisor.h"

static void usage(FILE *out)
{
	fputs("usage: n3x-launch [OPTIONS] TOPOLOGY.conf\n"
	      "  --check          validate and print the plan (every QEMU argv); start nothing\n"
	      "  --daemon         detach once the VMs are started; log to $STATE/launcher.log\n"
	      "  --wait-ready[=SECONDS]\n"
	      "                   --daemon, but return once every autostarted VM is ready\n"
	      "                   (its `ready =`), with progress on stderr; 1 when one stops\n"
	      "                   for good first or SECONDS (default 900) pass\n"
	      "  --detach-vms     on SIGTERM or Ctrl-C exit leaving the VMs and the fabric\n"
	      "                   running, for the next n3x-launch of this topology to adopt\n"
	      "                   (n3x-ctl shutdown still stops everything)\n"
	      "  --profile NAME   the tc profile to apply (default: [fabric] profile)\n"
	      "  --only VM,...    run only these VMs\n"
	      "  -q, --quiet      warnings and errors only (no progress, no table)\n"
	      "  -v, --verbose    also debug lines (every console line, QMP events)\n"
	      "  -h, --help       this text\n"
	      "--check plans for this host unless told another: N3X_PROBE_ARCH=x86_64|aarch64,\n"
	      "N3X_PROBE_KVM=ok|pvm-only|absent|denied, N3X_PROBE_OVS_DATAPATH=system|netdev.\n"
	      "Control it with n3x-ctl (n3x-ctl --help).\n", out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "wait-ready", optional_argument, NULL, 'w' },
		{ "detach-vms", no_argument, NULL, 'D' },
		{ "profile", required_argument, NULL, 'p' },
		{ "only", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct sup_options o = { .wait_ready_s = 900 };
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "hqv", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.check = 1; break;
		case 'd': o.daemon = 1; break;
		case 'D': o.detach_vms = 1; break;
		case 'w':
			o.daemon = o.wait_ready = 1;
			if (!optarg)
				break;
			o.wait_ready_s = strtod(optarg, &end);
			if (end == optarg || *end || !isfinite(o.wait_ready_s) || o.wait_ready_s <= 0 ||
			    o.wait_ready_s > 1e6) {
				fprintf(stderr, "n3x-launch: --wait-ready=%s: a number of seconds above 0\n",
					optarg);
				return 2;
			}
			break;
		case 'p': o.profile = optarg; break;
		case 'o': o.only = optarg; break;
		case 'q': o.verbosity = -1; break;
		case 'v': o.verbosity = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	o.topology = argv[optind];
	return supervisor_main(&o);
}

/* tc_driver.c - the tc/ module from the command line, for
 * tests/integration/t_tc_rate.sh and bench/tc.  Works in the namespace it
 * runs in (`ip netns exec NS tc_driver ...`).
 *
 *   tc_driver glue TAP GLUE        tc_glue_set: TAP's ingress to GLUE's egress,
 *                                  GLUE's ingress to TAP's egress (GLUE is one
 *                                  end of a veth pair the caller made, its
 *                                  peer stands for the switch port)
 *   tc_driver apply TAP GLUE 'RULE'  shape the link both ways as the rule says
 *   tc_driver clear TAP GLUE       no qdisc of ours
 *   tc_driver dump TAP GLUE        tc_link_dump as JSON
 *   tc_driver bench N ROUNDS 'RULE_A' 'RULE_B'
 *       N one-NIC VMs on taps bt0..bt(N-1), glued here to bt0_g..
 *       (the caller makes the taps and the veth pairs btI_g|btI_p), two
 *       profiles "* = RULE_A" and "* = RULE_B"; switch between them ROUNDS
 *       times each way through tc_profile_switch and print
 *       "N median_ms min_ms max_ms" over every switch; ends on default.
 *
 * Exit 0, 1 when the module failed (its message on stderr), 2 on usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tc/profile.h"
#include "tc/tc.h"
#include "tests/timing.h"

static int usage(void)
{
	fprintf(stderr, "usage: tc_driver glue TAP GLUE | apply TAP GLUE RULE | clear TAP GLUE |\n"
			"       dump TAP GLUE | bench N ROUNDS RULE_A RULE_B\n");
	return 2;
}

static int shape(const char *tap, const char *glue, const struct tc_rule *r)
{
	struct err e;
	int dir;

	if (tc_link_apply(tap, glue, r, &dir, &e)) {
		fprintf(stderr, "tc_driver: %s\n", e.msg);
		return 1;
	}
	return 0;
}

static int bench(int n, int rounds, const char *rule_a, const char *rule_b)
{
	const struct tc_profile_rule rules[2] = { { "*", { NULL, -1 }, rule_a, 2 },
						  { "*", { NULL, -1 }, rule_b, 4 } };
	const struct tc_profile_def profiles[2] = { { "a", &rules[0], 1 }, { "b", &rules[1], 1 } };
	struct tc_nic *nics = calloc(n, sizeof(*nics));
	struct tc_profile_conf c = { .path = "bench", .profiles = profiles, .nprofiles = 2, .nics = nics,
				     .nnics = n };
	struct tc_profile_link *links = calloc(n, sizeof(*links));
	char (*names)[3][16] = calloc(n, sizeof(*names));
	double *ms = calloc(2 * rounds, sizeof(*ms));
	struct tc_profile *p = NULL;
	struct err e;
	int rc = 1;

	if (!links || !names || !ms || !nics)
		goto out;
	for (int i = 0; i < n; i++) {
		snprintf(names[i][0], sizeof(names[i][0]), "vm%d", i);
		snprintf(names[i][1], sizeof(names[i][1]), "bt%d", i);
		snprintf(names[i][2], sizeof(names[i][2]), "bt%d_g", i);
		nics[i] = (struct tc_nic){ .vm = names[i][0], .nic = 0 };
		links[i] = (struct tc_profile_link){ .vm = names[i][0], .nic = 0, .tap = names[i][1],
						     .glue = names[i][2] };
		if (tc_glue_set(names[i][1], names[i][2], &e))
			goto fail;
	}
	if (tc_profile_new(&c, TC_PROFILE_DEFAULT, &p, &e))
		goto fail;
	for (int r = 0; r < 2 * rounds; r++) {
		double t0 = now_ms();

		if (tc_profile_switch(p, r % 2 ? "b" : "a", links, n, &e))
			goto fail;
		ms[r] = now_ms() - t0;
	}
	if (tc_profile_switch(p, TC_PROFILE_DEFAULT, links, n, &e))
		goto fail;
	/* The first switch shapes bare links; the rest
	 * replace one shape with another, which is what is timed. */
	qsort(ms + 1, 2 * rounds - 1, sizeof(*ms), cmp_ms);
	printf("%d %.2f %.2f %.2f\n", n, ms[1 + (2 * rounds - 1) / 2], ms[1], ms[2 * rounds - 1]);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "tc_driver: %s\n", e.msg);
out:
	tc_profile_free(p);
	free(links);
	free(names);
	free(ms);
	free(nics);
	return rc;
}

int main(int argc, char **argv)
{
	struct err err;
	struct tc_rule r;
	json_t *j;
	int e;

	if (argc == 4 && !strcmp(argv[1], "glue")) {
		if (tc_glue_set(argv[2], argv[3], &err)) {
			fprintf(stderr, "tc_driver: %s\n", err.msg);
			return 1;
		}
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "apply")) {
		if (tc_rule_parse(argv[4], &r, &err)) {
			fprintf(stderr, "tc_driver: %s\n", err.msg);
			return 2;
		}
		if (tc_shape_needs_netem(&r.to_vm) || tc_shape_needs_netem(&r.from_vm)) {
			if ((e = tc_netem_available()) <= 0) {
				fprintf(stderr, "tc_driver: the rule needs netem (CONFIG_NET_SCH_NETEM)%s%s\n",
					e < 0 ? ": " : "", e < 0 ? strerror(-e) : "");
				return 1;
			}
		}
		return shape(argv[2], argv[3], &r);
	}
	if (argc == 4 && !strcmp(argv[1], "clear")) {
		memset(&r, 0, sizeof(r));
		return shape(argv[2], argv[3], &r);
	}
	if (argc == 4 && !strcmp(argv[1], "dump")) {
		if ((e = tc_link_dump(argv[2], argv[3], &j)) < 0) {
			fprintf(stderr, "tc_driver: %s: %s\n", argv[2], strerror(-e));
			return 1;
		}
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
		return 0;
	}
	if (argc == 6 && !strcmp(argv[1], "bench")) {
		int n = atoi(argv[2]), rounds = atoi(argv[3]);

		if (n < 1 || rounds < 1)
			return usage();
		return bench(n, rounds, argv[4], argv[5]);
	}
	return usage();
}

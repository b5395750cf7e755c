/* pairs_drv.c - tc/pairs.c from the command line, for bench/tc and by hand.
 * Works in the namespace it runs in (`ip netns exec NS pairs_drv ...`).
 *
 *   pairs_drv apply PORT [drop MAC,...] [band ID 'RULE' MAC,...]...
 *   pairs_drv clear PORT
 *   pairs_drv bench N ROUNDS
 *       ports bp0..bp(N-1) (the caller makes them), one per VM; VM i has
 *       MAC 02:00:00:00:II:II and sits at site i % 4; every pair of sites
 *       has a latency band (rate 100mbit between sites, 1gbit within one:
 *       rate-only, which every kernel runs); two partitions, A (the first
 *       half | the rest) and B (even | odd).  Switches every port between
 *       A and B ROUNDS times each way in one tc_pairs_apply and prints
 *       "N median_ms min_ms max_ms"; the first switch, which builds the
 *       trees, is not counted.  Ends with the ports cleared.
 *   pairs_drv tcbatch N A|B TABLE FIRST
 *       the same switch (to partition A or B, into u32 table TABLE) as
 *       `tc -force -batch` input: the same qdiscs, classes and filters, for
 *       bench/tc to time.  As tc_pairs_apply, it first deletes the table it
 *       builds (unlinked two switches ago: the kernel frees a table only
 *       after the node that linked it, an RCU grace period later); FIRST 1:
 *       the htb is made too.
 *
 * Exit 0, 1 when the module failed (its message on stderr), 2 on usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tc/tc.h"
#include "tests/timing.h"

#define SITES 4
#define MAX_PORTS 1024

static int usage(void)
{
	fprintf(stderr, "usage: pairs_drv apply PORT [drop MAC,...] [band ID RULE MAC,...]... |\n"
			"       clear PORT | bench N ROUNDS | tcbatch N A|B TABLE OLD\n");
	return 2;
}

static int parse_macs(char *list, uint8_t (**out)[6], size_t *n)
{
	*n = 0;
	*out = NULL;
	for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
		uint8_t (*m)[6] = realloc(*out, (*n + 1) * sizeof(**out));

		if (!m)
			return -1;
		*out = m;
		if (sscanf(tok, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[*n][0], &m[*n][1], &m[*n][2],
			   &m[*n][3], &m[*n][4], &m[*n][5]) != 6)
			return -1;
		(*n)++;
	}
	return 0;
}

static int apply(int argc, char **argv)
{
	struct tc_pairs_port p = { .ifname = argv[0] };
	struct tc_pairs_band bands[16];
	struct tc_rule r;
	struct err e;
	uint8_t (*drop)[6] = NULL;

	for (int i = 1; i < argc;) {
		if (!strcmp(argv[i], "drop") && i + 1 < argc) {
			if (parse_macs(argv[i + 1], &drop, &p.ndrop))
				return usage();
			p.drop = drop;
			i += 2;
		} else if (!strcmp(argv[i], "band") && i + 3 < argc && p.nbands < 16) {
			struct tc_pairs_band *b = &bands[p.nbands++];
			uint8_t (*macs)[6];

			if (tc_rule_parse(argv[i + 2], &r, &e)) {
				fprintf(stderr, "pairs_drv: %s\n", e.msg);
				return 2;
			}
			*b = (struct tc_pairs_band){ .id = (unsigned)atoi(argv[i + 1]), .shape = r.to_vm };
			if (parse_macs(argv[i + 3], &macs, &b->nmacs))
				return usage();
			b->macs = macs;
			i += 4;
		} else {
			return usage();
		}
	}
	p.bands = bands;
	if (tc_pairs_apply(&p, 1, &e)) {
		fprintf(stderr, "pairs_drv: %s\n", e.msg);
		return 1;
	}
	return 0;
}

/* The bench's world: N VMs, their sites, the two partitions. */
struct world {
	int n;
	uint8_t (*mac)[6];
	char (*port)[16];
	struct tc_pairs_port *ports;
	struct tc_pairs_band *bands;  /* SITES per port */
	uint8_t (*lists)[6];          /* per port: drops, then each band's MACs */
};

static bool same_side(int part, int a, int b, int n)
{
	return part == 0 ? (a < n / 2) == (b < n / 2) : (a % 2) == (b % 2);
}

static int world_build(struct world *w, int n, int part)
{
	struct tc_rule between, within;
	struct err e;

	w->n = n;
	w->mac = calloc(n, sizeof(*w->mac));
	w->port = calloc(n, sizeof(*w->port));
	w->ports = calloc(n, sizeof(*w->ports));
	w->bands = calloc((size_t)n * SITES, sizeof(*w->bands));
	w->lists = calloc((size_t)n * n, sizeof(*w->lists));
	if (!w->mac || !w->port || !w->ports || !w->bands || !w->lists ||
	    tc_rule_parse("rate 100mbit", &between, &e) || tc_rule_parse("rate 1gbit", &within, &e))
		return -1;
	for (int i = 0; i < n; i++) {
		memcpy(w->mac[i], (uint8_t[6]){ 2, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i }, 6);
		snprintf(w->port[i], sizeof(w->port[i]), "bp%d", i);
	}
	for (int i = 0; i < n; i++) {
		struct tc_pairs_port *p = &w->ports[i];
		uint8_t (*l)[6] = &w->lists[(size_t)i * n];
		size_t k = 0;

		*p = (struct tc_pairs_port){ .ifname = w->port[i], .drop = l, .bands = &w->bands[i * SITES] };
		for (int j = 0; j < n; j++)
			if (j != i && !same_side(part, i, j, n))
				memcpy(l[k++], w->mac[j], 6);
		p->ndrop = k;
		for (int s = 0; s < SITES; s++) {
			struct tc_pairs_band *b = &w->bands[i * SITES + p->nbands];

			*b = (struct tc_pairs_band){ .id = (unsigned)s, .macs = &l[k],
						     .shape = s == i % SITES ? within.to_vm : between.to_vm };
			for (int j = s; j < n; j += SITES)
				if (j != i && same_side(part, i, j, n))
					memcpy(l[k + b->nmacs++], w->mac[j], 6);
			k += b->nmacs;
			if (b->nmacs)
				p->nbands++;
		}
	}
	return 0;
}

static void world_free(struct world *w)
{
	free(w->mac);
	free(w->port);
	free(w->ports);
	free(w->bands);
	free(w->lists);
}

static int bench(int n, int rounds)
{
	struct world w[2] = { 0 };
	double *ms = calloc(2 * rounds + 1, sizeof(*ms));
	struct err e = { 0 };
	int rc = 1;

	if (!ms || world_build(&w[0], n, 0) || world_build(&w[1], n, 1)) {
		fprintf(stderr, "pairs_drv: out of memory\n");
		goto out;
	}
	for (int r = 0; r < 2 * rounds + 1; r++) {
		double t0 = now_ms();

		if (tc_pairs_apply(w[r % 2].ports, n, &e))
			goto fail;
		ms[r] = now_ms() - t0;
	}
	for (int i = 0; i < n; i++)
		if (tc_pairs_clear(w[0].port[i], &e))
			goto fail;
	qsort(ms + 1, 2 * rounds, sizeof(*ms), cmp_ms);
	printf("%d %.2f %.2f %.2f\n", n, ms[1 + (2 * rounds - 1) / 2], ms[1], ms[2 * rounds]);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "pairs_drv: %s\n", e.msg);
out:
	world_free(&w[0]);
	world_free(&w[1]);
	free(ms);
	return rc;
}

static void tc_mac(const uint8_t m[6])
{
	printf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* What tc_pairs_apply sends, as tc commands (see tc.h for the tree). */
static int tcbatch(int n, int part, int table, int first)
{
	struct world w = { 0 };

	if (world_build(&w, n, part))
		return 1;
	for (int i = 0; i < n; i++) {
		const struct tc_pairs_port *p = &w.ports[i];
		const char *d = p->ifname;
		unsigned int node = 0;

		if (first)
			printf("qdisc replace dev %s root handle 5: htb default 0 direct_qlen 1000\n", d);
		else
			printf("filter del dev %s parent 5: prio 1 handle %d: protocol all u32\n", d, table);
		printf("class replace dev %s parent 5: classid 5:1 htb rate 32gbit quantum 60000\n", d);
		printf("qdisc replace dev %s parent 5:1 handle 6: pfifo limit 0\n", d);
		for (size_t b = 0; b < p->nbands; b++) {
			unsigned int id = p->bands[b].id;

			printf("class replace dev %s parent 5: classid 5:%x htb rate 32gbit quantum 60000\n",
			       d, 0x100 + id);
			printf("qdisc replace dev %s parent 5:%x handle %x: tbf rate %llubit burst 15000 "
			       "latency 50ms\n", d, 0x100 + id, 0x200 + id,
			       (unsigned long long)p->bands[b].shape.rate_bps);
		}
		printf("filter add dev %s parent 5: prio 1 handle %d: protocol all u32 divisor 1\n", d,
		       table);
		for (size_t k = 0; k < p->ndrop; k++) {
			printf("filter add dev %s parent 5: prio 1 protocol all u32 ht %d: match ether src ",
			       d, table);
			tc_mac(p->drop[k]);
			printf(" classid 5:1\n");
			node++;
		}
		for (size_t b = 0; b < p->nbands; b++)
			for (size_t k = 0; k < p->bands[b].nmacs; k++) {
				printf("filter add dev %s parent 5: prio 1 protocol all u32 ht %d: match ether "
				       "src ", d, table);
				tc_mac(p->bands[b].macs[k]);
				printf(" classid 5:%x\n", 0x100 + p->bands[b].id);
			}
		printf("filter replace dev %s parent 5: prio 1 handle 800::800 protocol all u32 "
		       "match u32 0 0 link %d:\n", d, table);
	}
	world_free(&w);
	return 0;
}

int main(int argc, char **argv)
{
	struct err e;

	if (argc >= 3 && !strcmp(argv[1], "apply"))
		return apply(argc - 2, argv + 2);
	if (argc == 3 && !strcmp(argv[1], "clear")) {
		if (tc_pairs_clear(argv[2], &e)) {
			fprintf(stderr, "pairs_drv: %s\n", e.msg);
			return 1;
		}
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "bench")) {
		int n = atoi(argv[2]), rounds = atoi(argv[3]);

		if (n < 2 || n > MAX_PORTS || rounds < 1)
			return usage();
		return bench(n, rounds);
	}
	if (argc == 6 && !strcmp(argv[1], "tcbatch") && (!strcmp(argv[3], "A") || !strcmp(argv[3], "B"))) {
		int n = atoi(argv[2]);

		if (n < 2 || n > MAX_PORTS)
			return usage();
		return tcbatch(n, argv[3][0] - 'A', atoi(argv[4]), atoi(argv[5]));
	}
	return usage();
}

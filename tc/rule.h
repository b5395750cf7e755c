/* rule.h - the impairment rule language (SPEC "Impairment rules").
 *
 * One profile line is "KEY = RULE" with KEY a VM, "VM/N" or "*".  RULE is a
 * list of words as tc and Mininet write them; "to-vm:" / "from-vm:" start a
 * part that shapes one direction only, words before any prefix shape both:
 *
 *     rate 100mbit delay 5ms
 *     loss 0.1% delay 5ms jitter 2ms distribution normal
 *     to-vm: delay 50ms from-vm: rate 10mbit burst 32kb
 *     loss gemodel 1% 30% ecn slot 5ms 10ms packets 8
 *     rate 10mbit 20 delay 40ms      (netem's rate, 20 bytes a packet more)
 *
 * Traffic to the VM is its tap's egress; traffic from the VM is the tap's
 * ingress, redirected to the glue end of the veth that leads to the switch
 * and shaped on that end's egress (tc.h).
 *
 * rule.c parses; shape.c holds the rest of what is declared here.
 */
#ifndef N3X_TC_RULE_H
#define N3X_TC_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum tc_dist { TC_DIST_NONE, TC_DIST_UNIFORM, TC_DIST_NORMAL, TC_DIST_PARETO, TC_DIST_PARETONORMAL };

/* How netem decides which packets to lose (tc-netem(8) "LOSS MODELS"):
 * "loss P [CORR]" (random), "loss state P13 [P31 [P32 [P23 [P14]]]]" (the
 * 4-state Markov model), "loss gemodel P [R [1-H [1-K]]]" (Gilbert-Elliott). */
enum tc_loss_model { TC_LOSS_RANDOM, TC_LOSS_STATE, TC_LOSS_GEMODEL };

/* The parameters of a loss model, in percent and in the order the user
 * writes them: state p13 p31 p32 p23 p14; gemodel p r 1-h 1-k (1-h: the
 * loss in the bad state, 1-k: the loss in the good one).  Left-out ones
 * hold tc's defaults: state p31 = 100 - p13, p32 0, p23 100, p14 0;
 * gemodel r = 100 - p, 1-h 100, 1-k 0. */
#define TC_LOSS_PARAMS 5

/* What one direction of one link gets.  All zero: nothing (no qdisc). */
struct tc_shape {
	uint64_t rate_bps;      /* rate, bits per second; 0: no tbf */
	uint32_t burst_bytes;   /* burst; 0: derived from the rate */
	uint32_t limit;         /* limit: netem packets, or tbf bytes when rate-only; 0: default */
	uint64_t delay_us, jitter_us;
	enum tc_dist dist;      /* needs jitter */
	double loss, loss_corr; /* percent, 0..100: the random loss model */
	enum tc_loss_model loss_model;
	double loss_p[TC_LOSS_PARAMS]; /* percent; the state and gemodel models */
	bool ecn;               /* mark ECN-capable packets CE instead of losing them */
	double duplicate, duplicate_corr;
	double corrupt, corrupt_corr;
	double reorder, reorder_corr; /* needs delay */
	bool has_seed;
	uint64_t seed;          /* netem's PRNG seed (Linux 6.3+) */
	/* slot MIN [MAX] [packets N] [bytes B]: netem sends in slots, each
	 * MIN..MAX (uniform) after the last, with at most N packets / B bytes
	 * in one; 0: no slots, no cap. */
	uint64_t slot_min_us, slot_max_us;
	uint32_t slot_packets, slot_bytes;
	/* netem's own rate ("rate RATE OVERHEAD [CELLSIZE [CELLOVERHEAD]]"):
	 * each packet takes (its length + overhead, in cells when cell_size
	 * is set) / rate to send, inside netem.  0: none; rate_bps (tbf's)
	 * and netem_rate_bps are never both set. */
	uint64_t netem_rate_bps;
	int32_t packet_overhead, cell_overhead;
	uint32_t cell_size;
};

/* A parsed rule: the shape for each direction. */
struct tc_rule {
	struct tc_shape to_vm, from_vm;
};

/* Whether a shape needs netem (anything but tbf's rate, burst, limit). */
bool tc_shape_needs_netem(const struct tc_shape *s);
bool tc_shape_empty(const struct tc_shape *s);
/* The first word of s that needs netem, for the errors that name it. */
const char *tc_shape_netem_word(const struct tc_shape *s);

/* Parse RULE.  Returns 0, or -EINVAL with e naming the word that is wrong
 * and why, e.g. `reorder needs delay`, `bad rate "10mbs" (use 10mbit,
 * 1gbit, 500kbit)`; -ENOMEM. */
int tc_rule_parse(const char *text, struct tc_rule *out, struct err *e);

/* netem's limit (packets) for s when the rule gives none: what 2 x rate x
 * (delay + jitter + slot MAX) holds in frames of 1514 bytes, at least
 * tc's 1000.  rate is the rule's (tbf's or netem's), 1 Gbit/s without one.
 * See shape.c for why. */
uint32_t tc_shape_netem_limit(const struct tc_shape *s);

/* Whether got (read back from the kernel) is what applying want made:
 * each word as the kernel keeps it; limit, burst and seed only where want
 * names them (the kernel's defaults and random seed otherwise); the
 * distribution not at all (it is not dumped). */
bool tc_shape_same(const struct tc_shape *want, const struct tc_shape *got);

/* Print a shape the way tc writes it ("rate 10Mbit delay 50ms loss 1%"),
 * for status and errors; returns buf. */
char *tc_shape_format(const struct tc_shape *s, char *buf, size_t size);

#endif

/* rule.h - the impairment rule language (SPEC "Impairment rules").
 *
 * One profile line is "KEY = RULE" with KEY a VM, "VM/N" or "*".  RULE is a
 * list of words as tc and Mininet write them; "to-vm:" / "from-vm:" start a
 * part that shapes one direction only, words before any prefix shape both:
 *
 *     rate 100mbit delay 5ms
 *     loss 0.1% delay 5ms jitter 2ms distribution normal
 *     to-vm: delay 50ms from-vm: rate 10mbit burst 32kb
 *
 * Traffic to the VM is its tap's egress; traffic from the VM is the tap's
 * ingress, redirected to the glue end of the veth that leads to the switch
 * and shaped on that end's egress (tc.h).
 */
#ifndef N3X_TC_RULE_H
#define N3X_TC_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum tc_dist { TC_DIST_NONE, TC_DIST_UNIFORM, TC_DIST_NORMAL, TC_DIST_PARETO, TC_DIST_PARETONORMAL };

/* What one direction of one link gets.  All zero: nothing (no qdisc). */
struct tc_shape {
	uint64_t rate_bps;      /* rate, bits per second; 0: no tbf */
	uint32_t burst_bytes;   /* burst; 0: derived from the rate */
	uint32_t limit;         /* limit: netem packets, or tbf bytes when rate-only; 0: default */
	uint64_t delay_us, jitter_us;
	enum tc_dist dist;      /* needs jitter */
	double loss, loss_corr; /* percent, 0..100 */
	double duplicate, duplicate_corr;
	double corrupt, corrupt_corr;
	double reorder, reorder_corr; /* needs delay */
	bool has_seed;
	uint64_t seed;          /* netem's PRNG seed (Linux 6.3+) */
};

/* A parsed rule: the shape for each direction. */
struct tc_rule {
	struct tc_shape to_vm, from_vm;
};

/* Whether a shape needs netem (anything but rate/burst/limit). */
bool tc_shape_needs_netem(const struct tc_shape *s);
bool tc_shape_empty(const struct tc_shape *s);
/* The first word of s that needs netem, for the errors that name it. */
const char *tc_shape_netem_word(const struct tc_shape *s);

/* Parse RULE.  Returns 0, or -EINVAL with e naming the word that is wrong
 * and why, e.g. `reorder needs delay`, `bad rate "10mbs" (use 10mbit,
 * 1gbit, 500kbit)`; -ENOMEM. */
int tc_rule_parse(const char *text, struct tc_rule *out, struct err *e);

/* Print a shape the way tc writes it ("rate 10Mbit delay 50ms loss 1%"),
 * for status and errors; returns buf. */
char *tc_shape_format(const struct tc_shape *s, char *buf, size_t size);

#endif

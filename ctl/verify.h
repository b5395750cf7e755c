/* verify.h - `n3x-ctl tc verify [VM[/N]...] [--json]`: what each link
 * really does now, measured with packets, against what it was asked.
 *
 * The supervisor hands over the plan ({"cmd":"tc","verify":true}, see
 * launcher/verify.h: per link its devices and, per direction, the rule as
 * numbers); n3x-ctl then measures inside the fabric's namespace, as capture
 * does, so the supervisor never waits on it:
 *
 *  - delay and loss (verifyprobe.c): ICMP echo requests from the network's
 *    host interface to the VM's address, timestamped by libpcap on the
 *    link's two ends: the tap (the VM's side) and the switch port of the
 *    veth pair that joins it to the switch (the host interface where there
 *    is no such port).  A request seen at the switch end and then on the
 *    tap measures to-vm; the reply seen on the tap and then at the switch
 *    end measures from-vm.  So each direction gets its own one-way delay
 *    and its own loss, exactly, whatever the guest takes to answer.
 *  - rate (verifyxfer.c): two TCP transfers through the link, to the VM
 *    and from it, against a listener of ours on the host interface; the
 *    guest connects to it (through its agent's guest-exec where it has an
 *    agent, else typed into its serial console: busybox nc, or bash's
 *    /dev/tcp).  To the VM counts the bytes the guest acknowledged
 *    (TCP_INFO), from it the bytes we received, after a warm-up.
 *
 * This file holds the part without sockets: the verdicts and the output,
 * unit-tested in tests/test_ctlverify.c.
 */
#ifndef N3X_CTL_VERIFY_H
#define N3X_CTL_VERIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"

/* The tolerances (issue 11): rate within 10 %, delay within 5 ms, loss
 * within the binomial bounds of the probes sent (z = 3.29, 99.9 %, and one
 * probe of slack each way). */
#define VERIFY_RATE_TOL 0.10
#define VERIFY_DELAY_TOL_US 5000.0
#define VERIFY_LOSS_Z 3.29
/* A rate this many times the one asked, or a delay under half of it: the
 * shaping is not there at all. */
#define VERIFY_BROKEN_RATE 1.5

enum verify_verdict { VERIFY_OK, VERIFY_OFF, VERIFY_BROKEN, VERIFY_UNMEASURED };

struct verify_asked {
	char rule[256];        /* as tc status prints it; "" is nothing */
	double rate_bps, delay_us, jitter_us, loss_pct;
	bool loss_bursty;      /* no binomial bounds: the loss is shown, not judged */
	bool delay_unjudged;   /* a slot or pareto: the delay is shown, not judged */
	bool kernel_empty;     /* the kernel holds no qdisc for this direction */
};

struct verify_measured {
	/* probes: how many entered the link in this direction (seen at its
	 * entry end), how many of those never left it, and the one-way delay
	 * of those that did (median, and standard deviation as jitter). */
	bool probed;
	int entered, lost;
	double delay_us, jitter_us;
	char probe_note[ERR_MSG_MAX];  /* why there are no probes, or a caveat */
	/* the transfer's rate, bit/s */
	bool rated;
	double rate_bps;
	char rate_note[ERR_MSG_MAX];  /* why there is no rate */
};

struct verify_dir {
	struct verify_asked asked;
	struct verify_measured m;
	enum verify_verdict verdict;
	char why[1024];        /* "; "-separated reasons, "" when ok */
};

struct verify_link {
	char link[32];         /* "VM/N" */
	char tap[16];
	char switch_end[16];   /* where the probes were timestamped on the switch's side */
	struct verify_dir dir[2]; /* 0: to-vm, 1: from-vm */
	enum verify_verdict verdict; /* the worse of the two */
};

/* Judge d from its asked and measured parts: sets verdict and why. */
void verify_judge(struct verify_dir *d);
/* Judge both directions of l and set l->verdict. */
void verify_judge_link(struct verify_link *l);

/* The binomial bounds on the number of n probes lost at loss_pct, as
 * verify_judge uses them. */
void verify_loss_bounds(int n, double loss_pct, double *lo, double *hi);

const char *verify_verdict_name(enum verify_verdict v);

/* One plan direction ({"rule","rate_bps","delay_us","jitter_us","loss_pct",
 * "loss_bursty","delay_judged","kernel"}) into a. */
void verify_asked_from(const json_t *plan_dir, struct verify_asked *a);

/* The table for people: one row per link and direction. */
void verify_print(FILE *out, const struct verify_link *l, int n);
/* The same as JSON: {"ok": bool, "links": [{"link", "tap", "switch_end", "verdict",
 * "to_vm": {"asked": {...}, "measured": {...}, "verdict", "why"},
 * "from_vm": ...}]}.  A new reference. */
json_t *verify_json(const struct verify_link *l, int n);

#endif

/* top.h - n3x-ctl top's arithmetic, apart from the screen (topcmd.c) so the
 * tests reach it without a supervisor or a terminal: two samples of the
 * supervisor's `top` verb (launcher/topverb.c: raw counters at one
 * instant) become a view of rates, which is sorted, totalled and printed.
 *
 * The view is what `top --once --json` prints:
 *   {"fabric":NAME,"interval_s":S,"vms":[{"name","state","pid","cpu_pct",
 *     "rss_bytes","nics":[{"index","tap","rx_bps","tx_bps","rx_pps",
 *     "tx_pps","rx_drops","tx_drops","backlog_bytes","backlog_pkts"}]}]}
 * from the VM's side: rx is what the guest receives (its tap's tx), tx what
 * it sends.  bps are bits a second, pps packets a second, drops the packets
 * dropped during the interval, backlog what the link's qdiscs hold at the
 * second sample.  What cannot be known is null: a VM without QEMU has
 * pid, cpu_pct and rss_bytes null and no NICs; a VM whose QEMU changed
 * between the samples (a restart: another pid) has its rates null, as has
 * everything on the first sample.
 */
#ifndef N3X_CTL_TOP_H
#define N3X_CTL_TOP_H

#include <jansson.h>
#include <stddef.h>

enum top_key { TOP_NAME, TOP_CPU, TOP_MEM, TOP_RX, TOP_TX, TOP_DROPS, TOP_NKEYS };

/* "name", "cpu", "mem", "rx", "tx", "drops"; 0 and *key, or -1. */
int top_key_parse(const char *word, enum top_key *key);
const char *top_key_name(enum top_key key);
/* The interactive key for a sort (n c m r t d), or -1 for any other. */
int top_key_of_char(int ch);

/* The view of cur, with rates against prev (NULL: none yet).  Both are
 * `top` replies.  A new reference, or NULL when out of memory. */
json_t *top_view(const json_t *prev, const json_t *cur);

/* Sort view's VMs by key: names A to Z, the rest largest first; VMs
 * without the figure (no QEMU, no rates yet) after those with it; ties by
 * name.  The VM's rx, tx and drops are its NICs' sums.  0 or -ENOMEM. */
int top_sort(json_t *view, enum top_key key);

/* A VM's figure for key (its NICs summed); -1 when it has none. */
double top_vm_figure(const json_t *vm, enum top_key key);

struct top_totals {
	int vms, running;            /* running: with a QEMU */
	double cpu_pct;              /* -1: no rates yet */
	double rss_bytes;
	double rx_bps, tx_bps;       /* -1: no rates yet */
	double drops;                /* -1: no rates yet */
	double backlog_bytes;
};
void top_totals(const json_t *view, struct top_totals *t);

/* 1536 -> "1.5K", 3e9 -> "2.8G" (powers of 1024): memory and queues. */
const char *top_fmt_bytes(double bytes, char *buf, size_t size);
/* 1.5e6 -> "1.5M" (powers of 1000): rates in bits a second, as tc says
 * mbit.  Negative: "-". */
const char *top_fmt_rate(double bps, char *buf, size_t size);

/* The view as a table: a header line of totals, then one row per VM
 * (NAME STATE CPU% RSS RX/s TX/s DROPS BACKLOG) and, for a VM with more
 * than one NIC, one indented row per NIC; each row at most width columns
 * (0: no limit).  Calls line(text, opaque) per line (no newline). */
void top_table(const json_t *view, enum top_key key, int width, void (*line)(const char *text, void *opaque),
	       void *opaque);

/* topcmd.c: `top [--once] [--json] [--sort KEY] [--interval S]`, the
 * command table's handler (ctl/client.h). */
struct ctl;
struct ctl_cmd;
int cmd_top(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);

#endif

/* qstats.h - what the qdiscs on many links hold and dropped now, for a
 * live view: one RTM_GETQDISC dump in the calling thread's namespace
 * (enter the fabric's first), however many links are asked about.
 *
 * Each link's figures are its root egress qdisc's: a classful root (netem
 * over tbf, the pair policy's htb) counts what its children hold and drop,
 * so the root alone is the whole egress.  The ingress qdisc (the glue's
 * redirect) queues nothing and is left out.  Counters start from zero when
 * a qdisc is replaced (a profile switch).
 */
#ifndef N3X_TC_QSTATS_H
#define N3X_TC_QSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tc_qstats {
	bool found;              /* the link exists (it may have no root qdisc) */
	uint64_t backlog_bytes;  /* queued now */
	uint64_t backlog_pkts;
	uint64_t drops;          /* dropped since the qdisc was made (netem loss,
				  * a full queue, a partition's drop class) */
};

/* out[i] for ifnames[i], i < n (a NULL or empty name is not found).  0,
 * or -errno when the qdiscs could not be dumped (out all not found). */
int tc_qstats_read(const char *const *ifnames, size_t n, struct tc_qstats *out);

#endif

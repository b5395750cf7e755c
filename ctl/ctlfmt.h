/* ctlfmt.h - how n3x-ctl prints replies for people (scripts use --json).
 *
 * Kept apart from ctl.c so the tests can diff the output without a socket.
 */
#ifndef N3X_CTLFMT_H
#define N3X_CTLFMT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Print a status reply (control.h) as tables: a fabric line, one row per VM
 * (NAME STATE ARCH ACCEL PID UPTIME AGENT READY ROLE; AGENT and READY are
 * yes/no), notes (why a VM runs under TCG, its last error) where the
 * supervisor gave them, and one row per NIC (its NIC column says "0 (down)"
 * for a pulled cable).  Missing or null fields print
 * as "-".  Returns 0, or -EINVAL when status has no "vms" array. */
int ctlfmt_status(FILE *out, const json_t *status);

/* "45s", "5m07s", "2h03m", "3d04h"; "-" for a negative value.  Returns buf. */
char *ctlfmt_uptime(double seconds, char *buf, size_t size);

/* A `tc status` reply's "tc" object: the profile, then per link and
 * direction the rule from memory and the qdiscs the kernel holds. */
void ctlfmt_tc(FILE *out, const json_t *tc);

#endif

/* progress.h - what n3x-launch shows while its VMs boot.
 *
 * On a terminal: a live block, one line per VM (name, state, time since it
 * started, lease, ready mark, its last console line), redrawn in place at
 * most four times a second; log lines that arrive meanwhile are written
 * above it, never into it.  Once every autostarted VM is ready (or the wait
 * ends) the block settles into the final table.  Without a terminal the log
 * already says it all (log_status lines, stamped with the time), so in the
 * foreground there is nothing to draw; behind --wait-ready those lines are
 * forwarded to the waiting parent.
 *
 * Fed by the supervisor's events (state, lease, ready: events.h) and its
 * console lines; never polls the VMs.  Output never blocks the loop: in the
 * foreground it goes through the log's queue (log_raw); to the parent of
 * --daemon only when the pipe has room, else the frame waits for the next
 * tick.
 */
#ifndef N3X_PROGRESS_H
#define N3X_PROGRESS_H

#include <jansson.h>
#include <stdbool.h>

/* Start showing the VMs in vms (an array of vm_status_json objects:
 * "name", "state", "nics"[]; borrowed), autostart[i] for each.
 * out: -1 for stderr through the log (the foreground), or the --daemon
 * parent's pipe (not owned).  tty: the fd whose terminal decides the mode
 * and the width (2; for the parent's pipe, a copy of the terminal fd, which
 * progress closes).  Nothing at all when out is -1 and tty is no terminal.
 * 0 or -errno. */
int progress_open(int out, int tty, const json_t *vms, const bool *autostart);

/* An event of events.h (vm may be NULL, data may be NULL): state, lease,
 * ready and restart move the block. */
void progress_event(const char *vm, const char *kind, const json_t *data);

/* A console line of vm (shown trimmed, control characters dropped). */
void progress_console(const char *vm, const char *line);

/* true while progress draws on fd (the parent's pipe): lines for that fd
 * go through progress_print. */
bool progress_owns(int fd);

/* A line for the user ("TEXT", no newline) above the block, or as it is
 * once settled. */
void progress_print(const char *line);

/* Wipe the block and print the final table (vms as for progress_open,
 * with "ready" set; borrowed); from then on nothing is drawn.  Once only;
 * NULL: wipe the block and print no table. */
void progress_settle(const json_t *vms);

/* Settle without a table if not yet, and forget everything. */
void progress_close(void);

#endif

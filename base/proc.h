/* proc.h - who the process behind a pid is, from /proc.
 *
 * For adopting a process an earlier supervisor started (child_adopt): open
 * its pidfd first, then check /proc/PID.  The pid then names the process
 * the pidfd holds unless it exited and was reaped in between, which the
 * owner learns from the pidfd.
 */
#ifndef N3X_PROC_H
#define N3X_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include "base/strv.h"

/* The start time of process pid (/proc/PID/stat field 22, clock ticks
 * after boot): 0 and *out, or -errno (-ESRCH when there is no such
 * process). */
int proc_start_time(pid_t pid, uint64_t *out);

/* The command line of process pid as an argv, appended to *argv (which the
 * caller frees, also on failure): its number of arguments, or -errno
 * (-ESRCH when there is no such process).  A kernel thread or a zombie has
 * none: 0. */
int proc_cmdline(pid_t pid, struct strv *argv);

#endif

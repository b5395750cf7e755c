/* ctlcp.h - `n3x-ctl cp`: one file between this host and a guest, over the
 * guest agent's guest-file-open/read/write/close, CTLCP_CHUNK bytes per
 * request (one request must fit the supervisor's line limit once in base64).
 *
 * The agent is reached through a ctl_agent_fn, so the tests run cp against
 * an in-memory agent and n3x-ctl runs it against the supervisor.
 */
#ifndef N3X_CTLCP_H
#define N3X_CTLCP_H

#include "ctl/ctl.h"

#include <stdbool.h>

#define CTLCP_CHUNK (512 * 1024)

/* Whether arg names a guest file: "VM:PATH", VM a possible VM name
 * ([a-z0-9-], not starting with '-', at most TOPO_VM_NAME_MAX characters).
 * A local path with a ':' in it is written so it is not one: ./a:b. */
bool ctlcp_is_remote(const char *arg);

/* Copy src to dst, exactly one of them VM:PATH.  VM:PATH -> LOCAL writes a
 * temporary file next to LOCAL and renames it into place, so LOCAL is never
 * half-written; LOCAL may be a directory (the file keeps its name), or a
 * device or FIFO (written in place), or "-" (stdout).  LOCAL -> VM:PATH
 * reads LOCAL ("-": stdin); a PATH ending in '/' gets LOCAL's file name.
 * The guest file is closed whatever happens once it was opened.
 * Returns 0, or an exit code with e set to the one line to print (EXIT_USAGE
 * when not exactly one argument is VM:PATH). */
int ctlcp_run(const char *src, const char *dst, ctl_agent_fn agent, void *opaque, struct err *e);

#endif

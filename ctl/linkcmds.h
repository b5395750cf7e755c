/* linkcmds.h - n3x-ctl's link and send verbs, and send's escape decoder
 * (kept apart so the tests check it without a supervisor).
 */
#ifndef N3X_CTL_LINKCMDS_H
#define N3X_CTL_LINKCMDS_H

#include <stddef.h>

#include "base/err.h"
#include "ctl/client.h"

/* Decode C-style escapes in text, as the NixOS driver's send_chars takes
 * them: \n \r \t \a \b \e (ESC) \f \v \\ \' \" \? \xH or \xHH (hex), \N to
 * \NNN (octal, \0 is NUL, at most \377).  Returns a malloc'd buffer with
 * its length in *len (a NUL follows the last byte, which may itself hold
 * NULs), or NULL with e saying which escape is bad and where ("bad escape
 * \q at character 5: ...") or that memory ran out; errno EINVAL or ENOMEM. */
char *ctl_unescape(const char *text, size_t *len, struct err *e);

/* link VM[/N] up|down */
int cmd_link(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);
/* send VM TEXT... (the words joined by one space, then unescaped) */
int cmd_send(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);

#endif

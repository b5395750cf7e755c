/* partcmds.h - n3x-ctl's partition and heal verbs (launcher/partition.h). */
#ifndef N3X_CTL_PARTCMDS_H
#define N3X_CTL_PARTCMDS_H

#include <jansson.h>
#include <stdio.h>

#include "ctl/client.h"

/* partition A,B C ... (groups) | partition --from A,B --to C (one way) */
int cmd_partition(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);
/* heal */
int cmd_heal(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);

/* The partition as status --json has it (fabric.partition), no newline:
 * "a | b,c", "a -> b", or "none". */
void ctl_partition_line(FILE *out, const json_t *partition);

#endif

/* snapcmd.h - n3x-ctl snapshot: the name rule and how the supervisor's
 * snapshot replies (launcher/control.h, "snapshot") print for people.
 *
 * Apart from the verb (cmd_snapshot in client.h) so the tests can diff the
 * output without a supervisor.
 */
#ifndef N3X_SNAPCMD_H
#define N3X_SNAPCMD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SNAP_NAME_MAX 64

/* The supervisor's rule for a snapshot name: 1-64 of [A-Za-z0-9._-]. */
bool snapcmd_name_ok(const char *name);

/* A size on disk for people: "512 B", "12 KiB", "8.5 MiB", "612 MiB",
 * "1.4 GiB"; "-" for a negative value.  Returns buf. */
char *snapcmd_size(double bytes, char *buf, size_t size);

/* "saved NAME: 3 VMs in 4.2 s, 612 MiB" from a save reply. */
void snapcmd_print_saved(FILE *out, const json_t *reply);

/* "loaded NAME: 3 VMs in 2.1 s", then each of the reply's "notes" (what
 * could not be restored as saved) on a line of its own. */
void snapcmd_print_loaded(FILE *out, const json_t *reply);

/* A list reply as a table: NAME, CREATED (local time), VMS (their names),
 * PROFILE, SIZE; "no snapshots" when there are none.  0, or -EINVAL when
 * the reply has no "snapshots" array. */
int snapcmd_print_list(FILE *out, const json_t *reply);

#endif

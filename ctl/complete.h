/* complete.h - `n3x-ctl __complete WHAT`, the words bash completion offers
 * (completion/n3x-ctl runs it on each TAB): one word per line, from the
 * running supervisor when its control socket answers, else from the -f
 * topology.  Hidden from help; silent, and exit 0, whatever fails, so the
 * user's command line is never disturbed.
 */
#ifndef N3X_CTL_COMPLETE_H
#define N3X_CTL_COMPLETE_H

#include "ctl/client.h"

#include <jansson.h>
#include <stdio.h>

struct topology;

enum complete_what {
	COMPLETE_VERBS,     /* the verb table's names, hidden ones ("__...") excluded */
	COMPLETE_VMS,       /* VM names */
	COMPLETE_NICS,      /* VM/N for every NIC */
	COMPLETE_PROFILES,  /* "default" (built in) and the [profile NAME]s */
	COMPLETE_SCHEDULES, /* the [schedule NAME]s */
	COMPLETE_SNAPSHOTS, /* the saved snapshots' names */
};

/* WHAT's word ("verbs", "vms", ...) as an enum complete_what, or -EINVAL. */
int complete_parse(const char *what);

/* Whether the verb table hides name from help and completion. */
bool complete_hidden(const char *name);

/* The verbs of table (ended by a NULL name), one a line. */
void complete_verbs(FILE *out, const struct ctl_cmd *table);

/* The words of what (not verbs, not snapshots) in a reply of the running
 * supervisor: vms, nics and profiles from the status reply, schedules from
 * `schedule status`'s.  Returns 0, or -ENOENT with nothing printed when the
 * reply lacks the list (a supervisor older than the field). */
int complete_reply(FILE *out, enum complete_what what, const json_t *reply);

/* The snapshots' names in the `snapshot list` reply; 0 or -ENOENT as above. */
int complete_snapshot_reply(FILE *out, const json_t *reply);

/* The words of what (not verbs, not snapshots) in a parsed topology. */
void complete_topology(FILE *out, enum complete_what what, const struct topology *t);

/* The snapshots kept in dir (a fabric's $STATE/snapshots: NAME.json each),
 * for when no supervisor runs.  A missing dir prints nothing. */
void complete_snapshot_dir(FILE *out, const char *dir);

/* Send stderr to /dev/null for the rest of the process. */
void complete_silence(void);

/* __complete WHAT: what's words on stdout.  c is the fabric main picked, its
 * sock "" when none could be picked; topo is -f FILE or NULL; table the verb
 * table.  Prints nothing for an unknown WHAT.  Always 0. */
int complete_run(struct ctl *c, const struct ctl_cmd *table, const char *topo, const char *what);

#endif

/* graph.h - `n3x-ctl graph`: a picture of the fabric (SPEC "Commands").
 *
 * One model, drawn five ways.  The model is what `--format json` prints:
 *   {"fabric", "source" ("supervisor"|"topology"), "file" (the topology's
 *    path, from a file), "profile", "profile_modified" (true after tc
 *    set/clear), "partition" (text or null), "sites": [...],
 *    "nodes": [{"id":"net:NAME","kind":"network","name","switch","bridge",
 *               "host_interface","address","subnet","vlans":[N...],"stp"},
 *              {"id":"vm:NAME","kind":"vm","name","state","arch","accel",
 *               "role","site","ips":[...]}],
 *    "edges": [{"from":"vm:NAME","to":"net:NAME","vm","nic","network","tap",
 *               "mac","ip","vlan","link" ("up"|"down"),"rule"}]}
 * It comes from a status reply plus `tc status`'s rules (a running
 * supervisor), or from a parsed topology (VMs "defined", the rules of the
 * [fabric] profile).  dot, svg and png go through Graphviz's cgraph; svg and
 * png are laid out and rendered in-process by libgvc, never by running dot.
 */
#ifndef N3X_CTL_GRAPH_H
#define N3X_CTL_GRAPH_H

#include <jansson.h>
#include <stdio.h>

#include "base/err.h"
#include "ctl/client.h"
#include "launcher/topology.h"

/* "dot svg png mermaid json": what --format takes. */
#define GRAPH_FORMATS "dot, svg, png, mermaid, json"

/* The rule text per link ("VM/N" -> "rate 10mbit delay 50ms", or
 * "to-vm: ... from-vm: ..." when the ways differ) from a `tc status`
 * reply's "tc" object; links without a rule are left out.  A new object,
 * or NULL when out of memory; tc may be NULL (no rules). */
json_t *graph_rules_from_tc(const json_t *tc);

/* A status reply as the supervisor would give it for t before anything
 * runs (every VM "defined", no taps, static IPs only), and in *rules the
 * rules of t's [fabric] profile per link, the most specific key winning as
 * in tc/profile.c.  Both new; NULL when out of memory. */
json_t *graph_status_from_topology(const struct topology *t, json_t **rules);

/* The model (see above) from a status reply and the rules per link (may be
 * NULL); source names where the data came from.  New, or NULL when out of
 * memory or when status has no "vms" list. */
json_t *graph_model(const json_t *status, const json_t *rules, const char *source);

/* Write model in format (one of GRAPH_FORMATS) to out.  0, or -errno with
 * e saying what failed (an unknown format is -EINVAL). */
int graph_write(const json_t *model, const char *format, FILE *out, struct err *e);

/* The verb: graph [--format F] [-o FILE]. */
int cmd_graph(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);

#endif

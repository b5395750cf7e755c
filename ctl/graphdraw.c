/* graphdraw.c - `n3x-ctl graph`: the model of graph.c drawn as DOT, SVG and
 * PNG (Graphviz: cgraph builds the graph, libgvc lays it out and renders it
 * in this process), as a Mermaid flowchart, or as JSON; and the verb.
 */
#include "ctl/ctl.h"
#include "ctl/graph.h"

#include <errno.h>
#include <gvc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
/* libgvc 2.43 never frees its plugin configuration (gvconfig) nor the
 * font tables its text layout fills through fontconfig (graph_init);
 * under LeakSanitizer every sanitized n3x-ctl that drew an SVG would fail.
 * Only stacks through libgvc or fontconfig (which nothing else of ours
 * uses; the fast unwinder stops inside it) are excused: our own leaks
 * still show. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libgvc.so\nleak:libfontconfig.so\n";
}

/* ... and quietly: every n3x-ctl would list them on stderr. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}
#endif

/* Fill colours by state: the status table's words. */
static const struct {
	const char *state, *fill;
} state_colours[] = {
	{ "running", "#b7e4b0" }, { "starting", "#ffe8a3" }, { "stopping", "#ffd1a3" },
	{ "paused", "#c6dbef" },  { "crashed", "#f4a6a6" },  { "stopped", "#e0e0e0" },
	{ "defined", "#ffffff" },
};

static const char *state_fill(const char *state)
{
	for (size_t i = 0; i < sizeof(state_colours) / sizeof(state_colours[0]); i++)
		if (!strcmp(state_colours[i].state, state))
			return state_colours[i].fill;
	return "#ffffff";
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The lines of each label, joined by nl (DOT's "\\n" escape; a newline for
 * Mermaid, which mermaid_text turns into <br/>).  Each ends in buf;
 * returns buf. */
#define PUT(...) snprintf(buf + strlen(buf), size - strlen(buf), __VA_ARGS__)

static char *title_label(const json_t *m, const char *nl, char *buf, size_t size)
{
	buf[0] = '\0';
	PUT("fabric %s", str(m, "fabric") ?: "?");
	if (str(m, "file"))
		PUT(" (defined in %s)", str(m, "file"));
	PUT("%sprofile %s%s", nl, str(m, "profile") ?: "-",
	    json_is_true(json_object_get(m, "profile_modified")) ? " (changed since by tc set/clear)" : "");
	if (str(m, "partition"))
		PUT("%spartition %s", nl, str(m, "partition"));
	return buf;
}

static char *network_label(const json_t *n, const char *nl, char *buf, size_t size)
{
	const json_t *v;
	size_t i;

	buf[0] = '\0';
	PUT("%s", str(n, "name") ?: "?");
	if (str(n, "switch"))
		PUT("%s%s %s%s", nl, str(n, "switch"), str(n, "bridge") ?: "", json_is_true(json_object_get(n, "stp")) ? " stp" : "");
	if (str(n, "subnet"))
		PUT("%s%s", nl, str(n, "subnet"));
	if (str(n, "address"))
		PUT("%shost %s %s", nl, str(n, "host_interface") ?: "", str(n, "address"));
	json_array_foreach(json_object_get(n, "vlans"), i, v) {
		if (i == 0)
			PUT("%svlan ", nl);
		PUT("%s%lld", i ? "," : "", (long long)json_integer_value(v));
	}
	return buf;
}

static char *vm_label(const json_t *n, const char *nl, char *buf, size_t size)
{
	const json_t *ip;
	size_t i;

	buf[0] = '\0';
	PUT("%s%s%s%s%s %s", str(n, "name") ?: "?", nl, str(n, "state") ?: "?", nl, str(n, "arch") ?: "?",
	    str(n, "accel") ?: "?");
	if (str(n, "role") && *str(n, "role"))
		PUT("%s%s", nl, str(n, "role"));
	json_array_foreach(json_object_get(n, "ips"), i, ip)
		PUT("%s%s", nl, json_string_value(ip));
	return buf;
}

static char *edge_label(const json_t *e, const char *nl, char *buf, size_t size)
{
	buf[0] = '\0';
	PUT("n%lld", (long long)json_integer_value(json_object_get(e, "nic")));
	if (str(e, "tap"))
		PUT(" %s", str(e, "tap"));
	if (str(e, "vlan"))
		PUT("%svlan %s", nl, str(e, "vlan"));
	PUT("%slink %s", nl, str(e, "link") ?: "up");
	if (str(e, "rule"))
		PUT("%s%s", nl, str(e, "rule"));
	return buf;
}
#undef PUT

static bool link_down(const json_t *e)
{
	return !strcmp(str(e, "link") ?: "", "down");
}

/* ---- cgraph ---- */

static void set(void *obj, char *name, const char *value)
{
	agsafeset(obj, name, (char *)value, "");
}

/* The model as a cgraph graph (the caller's to agclose), or NULL. */
static Agraph_t *build_cgraph(const json_t *m)
{
	char buf[2048], name[160];
	const json_t *n, *e, *s;
	Agraph_t *g;
	size_t i;

	snprintf(name, sizeof(name), "%s", str(m, "fabric") ?: "fabric");
	if (!(g = agopen(name, Agundirected, NULL)))
		return NULL;
	set(g, "label", title_label(m, "\\n", buf, sizeof(buf)));
	set(g, "labelloc", "t");
	set(g, "rankdir", "LR");
	set(g, "fontname", "Helvetica");
	agattr(g, AGNODE, "fontname", "Helvetica");
	agattr(g, AGEDGE, "fontname", "Helvetica");
	agattr(g, AGEDGE, "fontsize", "10");
	/* Sites as clusters: dot draws a box round each. */
	json_array_foreach(json_object_get(m, "sites"), i, s) {
		Agraph_t *sg;

		snprintf(name, sizeof(name), "cluster_%s", json_string_value(s));
		sg = agsubg(g, name, 1);
		snprintf(buf, sizeof(buf), "site %s", json_string_value(s));
		set(sg, "label", buf);
		set(sg, "style", "dashed");
	}
	json_array_foreach(json_object_get(m, "nodes"), i, n) {
		bool vm = !strcmp(str(n, "kind") ?: "", "vm");
		Agraph_t *parent = g;
		Agnode_t *node;

		if (vm && str(n, "site")) {
			snprintf(name, sizeof(name), "cluster_%s", str(n, "site"));
			parent = agsubg(g, name, 0) ?: g;
		}
		node = agnode(parent, (char *)str(n, "id"), 1);
		set(node, "shape", "box");
		if (vm) {
			set(node, "label", vm_label(n, "\\n", buf, sizeof(buf)));
			set(node, "style", "filled");
			set(node, "fillcolor", state_fill(str(n, "state") ?: ""));
		} else {
			set(node, "label", network_label(n, "\\n", buf, sizeof(buf)));
			set(node, "style", "rounded,filled,bold");
			set(node, "fillcolor", "#dbe9f6");
		}
	}
	json_array_foreach(json_object_get(m, "edges"), i, e) {
		Agnode_t *a = agnode(g, (char *)str(e, "from"), 0), *b = agnode(g, (char *)str(e, "to"), 0);
		Agedge_t *edge = a && b ? agedge(g, a, b, NULL, 1) : NULL;

		if (!edge)
			continue;
		set(edge, "label", edge_label(e, "\\n", buf, sizeof(buf)));
		/* A pulled cable: dashed and red, as the status table says "down". */
		if (link_down(e)) {
			set(edge, "style", "dashed");
			set(edge, "color", "red");
			set(edge, "fontcolor", "red");
		} else if (str(e, "rule")) {
			set(edge, "color", "darkorange");
			set(edge, "fontcolor", "darkorange3");
		}
	}
	return g;
}

/* Lay g out with dot and render it in format through libgvc. */
static int render(Agraph_t *g, const char *format, FILE *out, struct err *e)
{
	GVC_t *gvc = gvContext();
	unsigned int len = 0;
	char *data = NULL;
	int r = 0;

	if (!gvc)
		return err_set(e, ENOMEM, "Graphviz: cannot create a context");
	if (gvLayout(gvc, g, "dot") != 0) {
		r = err_set(e, EIO, "Graphviz: the dot layout failed (is libgvc's dot_layout plugin installed?)");
	} else {
		if (gvRenderData(gvc, g, format, &data, &len) != 0 || !data)
			r = err_set(e, EIO, "Graphviz: cannot render %s (is libgvc's %s plugin installed?)", format,
				    format);
		else if (fwrite(data, 1, len, out) != len)
			r = err_sys(e, errno ?: EIO, "writing the %s picture", format);
		gvFreeRenderData(data);
		gvFreeLayout(gvc, g);
	}
	gvFreeContext(gvc);
	return r;
}

/* ---- mermaid ---- */

/* Mermaid's quoted text: entity codes for what would end it or read as
 * HTML; a label's line breaks become <br/>. */
static void mermaid_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			fputs("<br/>", out);
		else if (*s == '"')
			fputs("#quot;", out);
		else if (*s == '|')
			fputs("#124;", out);
		else if (*s == '<')
			fputs("#lt;", out);
		else if (*s == '>')
			fputs("#gt;", out);
		else
			fputc(*s, out);
	}
}

/* Mermaid ids are words: the node's place in the model, not its name. */
static int node_index(const json_t *m, const char *id)
{
	const json_t *n;
	size_t i;

	json_array_foreach(json_object_get(m, "nodes"), i, n)
		if (!strcmp(str(n, "id") ?: "", id))
			return (int)i;
	return -1;
}

static void mermaid_node(FILE *out, const json_t *n, size_t i, const char *indent)
{
	char buf[2048];
	bool vm = !strcmp(str(n, "kind") ?: "", "vm");

	fprintf(out, "%sn%zu%s\"", indent, i, vm ? "[" : "{{");
	mermaid_text(out, vm ? vm_label(n, "\n", buf, sizeof(buf)) : network_label(n, "\n", buf, sizeof(buf)));
	fprintf(out, "\"%s", vm ? "]" : "}}");
	if (vm)
		fprintf(out, ":::%s", str(n, "state") ?: "defined");
	fputc('\n', out);
}

static int write_mermaid(const json_t *m, FILE *out)
{
	const json_t *n, *e, *s;
	char buf[2048];
	size_t i, j, k = 0;

	fputs("graph LR\n  title[\"", out);
	mermaid_text(out, title_label(m, "\n", buf, sizeof(buf)));
	fputs("\"]:::title\n", out);
	json_array_foreach(json_object_get(m, "sites"), j, s) {
		fprintf(out, "  subgraph site%zu[\"site ", j);
		mermaid_text(out, json_string_value(s));
		fputs("\"]\n", out);
		json_array_foreach(json_object_get(m, "nodes"), i, n)
			if (str(n, "site") && !strcmp(str(n, "site"), json_string_value(s)))
				mermaid_node(out, n, i, "    ");
		fputs("  end\n", out);
	}
	json_array_foreach(json_object_get(m, "nodes"), i, n)
		if (!str(n, "site"))
			mermaid_node(out, n, i, "  ");
	json_array_foreach(json_object_get(m, "edges"), i, e) {
		int a = node_index(m, str(e, "from") ?: ""), b = node_index(m, str(e, "to") ?: "");

		if (a < 0 || b < 0)
			continue;
		fprintf(out, "  n%d %s|\"", a, link_down(e) ? "-.-" : "---");
		mermaid_text(out, edge_label(e, "\n", buf, sizeof(buf)));
		fprintf(out, "\"| n%d\n", b);
		if (link_down(e))
			fprintf(out, "  linkStyle %zu stroke:red,color:red\n", k);
		k++;
	}
	for (size_t c = 0; c < sizeof(state_colours) / sizeof(state_colours[0]); c++)
		fprintf(out, "  classDef %s fill:%s,stroke:#333\n", state_colours[c].state, state_colours[c].fill);
	fputs("  classDef title fill:none,stroke:none\n", out);
	return ferror(out) ? -EIO : 0;
}

/* ---- output ---- */

int graph_write(const json_t *model, const char *format, FILE *out, struct err *e)
{
	Agraph_t *g;
	int r;

	if (!strcmp(format, "json")) {
		r = json_dumpf(model, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		return r < 0 || fputc('\n', out) == EOF ? err_sys(e, errno ?: EIO, "writing the JSON") : 0;
	}
	if (!strcmp(format, "mermaid"))
		return write_mermaid(model, out) < 0 ? err_sys(e, errno ?: EIO, "writing the flowchart") : 0;
	if (strcmp(format, "dot") && strcmp(format, "svg") && strcmp(format, "png"))
		return err_set(e, EINVAL, "unknown format '%s' (use %s)", format, GRAPH_FORMATS);
	if (!(g = build_cgraph(model)))
		return err_set(e, ENOMEM, "Graphviz: cannot build the graph");
	if (!strcmp(format, "dot"))
		r = agwrite(g, out) == EOF ? err_sys(e, errno ?: EIO, "writing the DOT text") : 0;
	else
		r = render(g, format, out, e);
	agclose(g);
	return r;
}

/* ---- the verb ---- */

/* The model from the running supervisor: its status and, where the fabric
 * has links, the rules `tc status` holds.  0 or the printed error's code. */
static int model_live(struct ctl *c, json_t **model)
{
	json_t *st, *tc = NULL, *rules;
	struct err e;
	int r;

	if ((r = status_all(c, &st)))
		return r;
	/* No [network]: no traffic control, and no rules to draw. */
	if (request_e(c, json_pack("{s:s, s:b}", "cmd", "tc", "status", 1), QUICK_TIMEOUT_MS, &tc, &e))
		tc = NULL;
	rules = graph_rules_from_tc(json_object_get(tc, "tc"));
	*model = rules ? graph_model(st, rules, "supervisor") : NULL;
	/* tc set/clear since the switch: the profile's name alone would lie. */
	if (*model && json_is_true(json_object_get(json_object_get(tc, "tc"), "modified")))
		json_object_set_new(*model, "profile_modified", json_true());
	json_decref(rules);
	json_decref(tc);
	json_decref(st);
	return *model ? 0 : fail(EXIT_FAIL, "graph: the status reply from %s has no \"vms\" list", c->sock);
}

/* The model from -f FILE when no supervisor runs it. */
static int model_file(const char *path, json_t **model)
{
	struct topology *t = NULL;
	json_t *st, *rules = NULL;
	FILE *devnull = fopen("/dev/null", "we");
	int r = topo_load(path, devnull, &t);

	if (devnull)
		fclose(devnull);
	/* main.c loaded it once already and printed any problem. */
	if (r < 0)
		return fail(EXIT_USAGE, "graph: cannot load %s: %s", path, strerror(-r));
	st = graph_status_from_topology(t, &rules);
	*model = st ? graph_model(st, rules, "topology") : NULL;
	json_decref(st);
	json_decref(rules);
	topo_free(t);
	return *model ? 0 : fail(EXIT_FAIL, "graph: out of memory");
}

int cmd_graph(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	const char *format = "dot", *path = NULL;
	FILE *out = stdout;
	json_t *model;
	struct err e;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc)
			format = argv[++i];
		else if (!strncmp(argv[i], "--format=", 9))
			format = argv[i] + 9;
		else if (!strcmp(argv[i], "-o") && i + 1 < argc)
			path = argv[++i];
		else
			return usage_error(cmd);
	}
	if (strcmp(format, "dot") && strcmp(format, "svg") && strcmp(format, "png") && strcmp(format, "mermaid") &&
	    strcmp(format, "json"))
		return fail(EXIT_USAGE, "graph: unknown format '%s' (use %s)", format, GRAPH_FORMATS);
	if (!path && !strcmp(format, "png") && isatty(STDOUT_FILENO))
		return fail(EXIT_USAGE, "graph: not writing a PNG to a terminal; use -o FILE or a pipe");
	/* Without a supervisor, -f FILE still has a picture: the file's. */
	if (c->topo && ctl_connect(c) < 0)
		r = model_file(c->topo, &model);
	else
		r = model_live(c, &model);
	if (r)
		return r;
	if (path && !(out = fopen(path, "we"))) {
		r = fail(EXIT_FAIL, "graph: cannot write %s: %s", path, strerror(errno));
		json_decref(model);
		return r;
	}
	if (graph_write(model, format, out, &e) < 0)
		r = fail(EXIT_FAIL, "graph: %s", e.msg);
	if (path && fclose(out) == EOF && !r)
		r = fail(EXIT_FAIL, "graph: writing %s: %s", path, strerror(errno));
	json_decref(model);
	return r;
}

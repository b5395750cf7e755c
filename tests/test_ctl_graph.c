/* test_ctl_graph.c - n3x-ctl graph: the model from a status reply and tc
 * rules (tests/data/graph/status.json, tc.json) or from a topology file
 * (sites.conf), and each format drawn from it, libgvc included.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/graph.h"

#define DATA TEST_DATA "/graph"

static json_t *load_json(const char *name)
{
	json_error_t err;
	json_t *j = json_load_file(name, 0, &err);

	cr_assert_not_null(j, "%s: %s", name, err.text);
	return j;
}

/* The model of the fixture: status.json plus tc.json's rules. */
static json_t *fixture_model(void)
{
	json_t *st = load_json(DATA "/status.json"), *tc = load_json(DATA "/tc.json");
	json_t *rules = graph_rules_from_tc(json_object_get(tc, "tc")), *m;

	cr_assert_not_null(rules);
	m = graph_model(st, rules, "supervisor");
	cr_assert_not_null(m);
	json_decref(rules);
	json_decref(tc);
	json_decref(st);
	return m;
}

/* graph_write into memory; *len gets the size.  Returns the text. */
static char *draw(const json_t *m, const char *format, size_t *len, int *ret)
{
	char *text = NULL;
	struct err e = { 0 };
	FILE *out = open_memstream(&text, len);

	cr_assert_not_null(out);
	*ret = graph_write(m, format, out, &e);
	fclose(out);
	return text;
}

static const json_t *find(const json_t *list, const char *key, const char *value)
{
	const json_t *x;
	size_t i;

	json_array_foreach(list, i, x)
		if (!strcmp(json_string_value(json_object_get(x, key)) ?: "", value))
			return x;
	return NULL;
}

static const char *s(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

Test(graph, rules_from_tc)
{
	json_t *tc = load_json(DATA "/tc.json"), *r = graph_rules_from_tc(json_object_get(tc, "tc"));
	json_t *none = graph_rules_from_tc(NULL);

	cr_assert_not_null(r);
	cr_expect_str_eq(s(r, "a/0"), "delay 50ms loss 1%");
	cr_expect_str_eq(s(r, "a/1"), "to-vm: rate 10mbit");
	cr_expect_null(json_object_get(r, "b/0"), "a link without a rule has none");
	cr_expect_eq(json_object_size(none), 0);
	json_decref(none);
	json_decref(r);
	json_decref(tc);
}

Test(graph, model_from_status)
{
	json_t *m = fixture_model();
	const json_t *nodes = json_object_get(m, "nodes"), *edges = json_object_get(m, "edges");
	const json_t *lan = find(nodes, "id", "net:lan"), *a = find(nodes, "id", "vm:a"), *e;

	cr_expect_str_eq(s(m, "fabric"), "g");
	cr_expect_str_eq(s(m, "source"), "supervisor");
	cr_expect_str_eq(s(m, "profile"), "wan");
	cr_expect_str_eq(s(m, "partition"), "a | b,c");
	cr_expect_eq(json_array_size(json_object_get(m, "sites")), 2);
	/* lan, a, b, c and wan: a network no [network] lists still gets its node. */
	cr_expect_eq(json_array_size(nodes), 5);
	cr_assert_not_null(find(nodes, "id", "net:wan"));
	cr_assert_not_null(lan);
	cr_expect_str_eq(s(lan, "subnet"), "10.9.0.0/24");
	cr_expect_str_eq(s(lan, "switch"), "ovs");
	cr_expect_eq(json_array_size(json_object_get(lan, "vlans")), 2, "VLANs 10 and 20, once each");
	cr_expect_eq(json_integer_value(json_array_get(json_object_get(lan, "vlans"), 0)), 10);
	cr_assert_not_null(a);
	cr_expect_str_eq(s(a, "state"), "running");
	cr_expect_str_eq(s(a, "site"), "core");
	cr_expect_str_eq(json_string_value(json_array_get(json_object_get(a, "ips"), 0)), "10.9.0.10");
	cr_expect_eq(json_array_size(edges), 4);
	e = json_array_get(edges, 1);
	cr_expect_str_eq(s(e, "from"), "vm:a");
	cr_expect_str_eq(s(e, "to"), "net:lan");
	cr_expect_str_eq(s(e, "link"), "down");
	cr_expect_str_eq(s(e, "tap"), "a-n1");
	cr_expect_str_eq(s(e, "rule"), "to-vm: rate 10mbit");
	cr_expect(json_is_null(json_object_get(json_array_get(edges, 2), "rule")) ||
		  !json_object_get(json_array_get(edges, 2), "rule"));
	json_decref(m);
}

Test(graph, no_vms_list)
{
	json_t *st = json_pack("{s:{s:s}}", "fabric", "name", "g");

	cr_expect_null(graph_model(st, NULL, "supervisor"));
	json_decref(st);
}

Test(graph, dot_text)
{
	json_t *m = fixture_model();
	size_t len;
	int r;
	char *t = draw(m, "dot", &len, &r);

	cr_assert_eq(r, 0);
	cr_expect(!strncmp(t, "graph g {", 9), "got:\n%s", t);
	cr_expect(strstr(t, "subgraph cluster_core {"), "no site cluster:\n%s", t);
	cr_expect(strstr(t, "label=\"site edge\""), "got:\n%s", t);
	cr_expect(strstr(t, "profile wan\\npartition a | b,c"), "got:\n%s", t);
	cr_expect(strstr(t, "label=\"a\\nrunning\\nx86_64 kvm\\nserver\\n10.9.0.10\""), "got:\n%s", t);
	cr_expect(strstr(t, "label=\"n1 a-n1\\nvlan 20,10\\nlink down\\nto-vm: rate 10mbit\""), "got:\n%s", t);
	cr_expect(strstr(t, "style=dashed"), "the pulled cable is not dashed:\n%s", t);
	cr_expect(strstr(t, "color=red"), "got:\n%s", t);
	cr_expect(strstr(t, "\"vm:a\" -- \"net:lan\""), "got:\n%s", t);
	free(t);
	json_decref(m);
}

Test(graph, mermaid)
{
	json_t *m = fixture_model();
	size_t len;
	int r;
	char *t = draw(m, "mermaid", &len, &r);

	cr_assert_eq(r, 0);
	cr_expect(!strncmp(t, "graph LR\n", 9), "got:\n%s", t);
	cr_expect(strstr(t, "  subgraph site0[\"site core\"]\n    n1[\"a<br/>running<br/>x86_64 kvm<br/>server"
			    "<br/>10.9.0.10\"]:::running\n  end\n"), "got:\n%s", t);
	cr_expect(strstr(t, "partition a #124; b,c"), "a | in the text is an entity:\n%s", t);
	cr_expect(strstr(t, "  n1 -.-|\"n1 a-n1<br/>vlan 20,10<br/>link down<br/>to-vm: rate 10mbit\"| n0\n"
			    "  linkStyle 1 stroke:red,color:red\n"), "got:\n%s", t);
	cr_expect(strstr(t, "  n1 ---|\"n0 a-n0<br/>link up<br/>delay 50ms loss 1%\"| n0\n"), "got:\n%s", t);
	free(t);
	json_decref(m);
}

Test(graph, svg_through_libgvc)
{
	json_t *m = fixture_model();
	size_t len;
	int r;
	char *t = draw(m, "svg", &len, &r);

	cr_assert_eq(r, 0);
	cr_expect(strstr(t, "<svg"), "got:\n%.400s", t);
	cr_expect(strstr(t, "</svg>"), "not the whole picture");
	cr_expect(strstr(t, "<title>cluster_core</title>"), "no site cluster");
	cr_expect(strstr(t, "to&#45;vm: rate 10mbit") || strstr(t, "to-vm: rate 10mbit"), "no rule text");
	cr_expect(strstr(t, "stroke-dasharray"), "no dashed edge");
	free(t);
	json_decref(m);
}

Test(graph, png_through_libgvc)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	json_t *m = fixture_model();
	size_t len;
	int r;
	char *t = draw(m, "png", &len, &r);

	cr_assert_eq(r, 0);
	cr_assert_gt(len, 1000);
	cr_expect_eq(memcmp(t, sig, 8), 0, "no PNG signature");
	free(t);
	json_decref(m);
}

Test(graph, unknown_format)
{
	json_t *m = fixture_model();
	struct err e = { 0 };

	cr_expect_eq(graph_write(m, "gif", stdout, &e), -EINVAL);
	cr_expect_str_eq(e.msg, "unknown format 'gif' (use " GRAPH_FORMATS ")");
	json_decref(m);
}

/* -f FILE without a supervisor: every VM "defined", the profile's most
 * specific rule per link. */
Test(graph, model_from_topology)
{
	char bindir[] = "/tmp/test-ctl-graph-XXXXXX", qemu[2][64];
	struct topology *t = NULL;
	json_t *st, *rules, *m;
	const json_t *edges, *b;

	/* topo_load wants a QEMU per arch on $PATH. */
	cr_assert_not_null(mkdtemp(bindir));
	for (int i = 0; i < 2; i++) {
		int fd;

		snprintf(qemu[i], sizeof(qemu[i]), "%s/qemu-system-%s", bindir, i ? "aarch64" : "x86_64");
		fd = open(qemu[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
		cr_assert_geq(fd, 0);
		cr_assert_eq(write(fd, "#!/bin/sh\n", 10), 10);
		close(fd);
	}
	setenv("PATH", bindir, 1);
	cr_assert_eq(topo_load(DATA "/sites.conf", NULL, &t), 0);
	st = graph_status_from_topology(t, &rules);
	cr_assert_not_null(st);
	m = graph_model(st, rules, "topology");
	cr_assert_not_null(m);
	cr_expect_str_eq(s(m, "source"), "topology");
	cr_expect_str_eq(s(m, "file"), DATA "/sites.conf");
	cr_expect(json_is_null(json_object_get(m, "partition")) || !json_object_get(m, "partition"));
	b = find(json_object_get(m, "nodes"), "id", "vm:b");
	cr_assert_not_null(b);
	cr_expect_str_eq(s(b, "state"), "defined");
	cr_expect_str_eq(s(b, "arch"), "aarch64");
	cr_expect_str_eq(s(b, "accel"), "auto");
	cr_expect_str_eq(s(b, "site"), "edge");
	cr_expect_str_eq(s(find(json_object_get(m, "nodes"), "id", "net:lan"), "switch"), "linux-bridge");
	edges = json_object_get(m, "edges");
	cr_assert_eq(json_array_size(edges), 3);
	cr_expect_str_eq(s(json_array_get(edges, 0), "rule"), "delay 5ms", "\"a\" over \"*\"");
	cr_expect_str_eq(s(json_array_get(edges, 1), "rule"), "rate 10mbit", "\"a/1\" over \"a\"");
	cr_expect_str_eq(s(json_array_get(edges, 1), "vlan"), "10,20");
	cr_expect_str_eq(s(json_array_get(edges, 2), "rule"), "loss 1%", "b: only \"*\"");
	cr_expect_str_eq(s(json_array_get(edges, 2), "link"), "up");
	json_decref(m);
	json_decref(rules);
	json_decref(st);
	topo_free(t);
	unlink(qemu[0]);
	unlink(qemu[1]);
	rmdir(bindir);
}

/* test_ovsops.c - the fabric's OVSDB transactions, compared with the JSON
 * they must be.  That OVS accepts them is tests/integration/t_ovs_private.sh's
 * part. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "net/ovsops.h"

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);

	cr_assert_not_null(j, "%s: %s", jerr.text, text);
	return j;
}

/* got (stolen) equals the JSON text want. */
static void expect(json_t *got, const char *want)
{
	json_t *w = parse(want);
	char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
	char *ws = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);

	cr_assert_str_eq(g, ws);
	free(g);
	free(ws);
	json_decref(w);
	json_decref(got);
}

static void expect_elems(const char *value, const char *want)
{
	json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);

	cr_assert_not_null(v);
	expect(ovsops_set_elems(v), want);
	json_decref(v);
}

#define TAGS "[\"map\",[[\"n3x-fabric\",\"n3x\"]]]"
#define VMTAGS "[\"map\",[[\"n3x-fabric\",\"n3x\"],[\"n3x-vm\",\"n100-1\"]]]"

Test(ovsops, access_port)
{
	uint16_t vlan = 200;

	expect(ovsops_port_add("n3x", "ovsbr0", "n100-1-n0", "n100-1", &vlan, 1),
	       "[{\"op\":\"wait\",\"table\":\"Bridge\",\"where\":[[\"name\",\"==\",\"ovsbr0\"]],"
	       "\"columns\":[\"name\"],\"until\":\"==\",\"rows\":[{\"name\":\"ovsbr0\"}],\"timeout\":0},"
	       "{\"op\":\"wait\",\"table\":\"Port\",\"where\":[[\"name\",\"==\",\"n100-1-n0\"]],"
	       "\"columns\":[\"name\"],\"until\":\"==\",\"rows\":[],\"timeout\":0},"
	       "{\"op\":\"insert\",\"table\":\"QoS\",\"row\":{\"type\":\"linux-noop\",\"external_ids\":" VMTAGS "},"
	       "\"uuid-name\":\"qos\"},"
	       "{\"op\":\"insert\",\"table\":\"Interface\",\"row\":{\"name\":\"n100-1-n0\",\"type\":\"\","
	       "\"external_ids\":" VMTAGS "},\"uuid-name\":\"ivm\"},"
	       "{\"op\":\"insert\",\"table\":\"Port\",\"row\":{\"name\":\"n100-1-n0\",\"interfaces\":"
	       "[\"named-uuid\",\"ivm\"],\"external_ids\":" VMTAGS ",\"qos\":[\"named-uuid\",\"qos\"],"
	       "\"tag\":200},\"uuid-name\":\"pvm\"},"
	       "{\"op\":\"mutate\",\"table\":\"Bridge\",\"where\":[[\"name\",\"==\",\"ovsbr0\"]],"
	       "\"mutations\":[[\"ports\",\"insert\",[\"set\",[[\"named-uuid\",\"pvm\"]]]]]}]");
}

Test(ovsops, trunk_and_untagged_ports)
{
	uint16_t vlans[] = { 100, 200 };
	json_t *ops = ovsops_port_add("n3x", "br", "p", "vm", vlans, 2), *row;

	row = json_object_get(json_array_get(ops, 4), "row");
	expect(json_incref(json_object_get(row, "trunks")), "[\"set\",[100,200]]");
	cr_assert_null(json_object_get(row, "tag"));
	json_decref(ops);
	ops = ovsops_port_add("n3x", "br", "p", "vm", NULL, 0);
	row = json_object_get(json_array_get(ops, 4), "row");
	cr_assert_null(json_object_get(row, "tag"));
	cr_assert_null(json_object_get(row, "trunks"));
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ops, OVSOPS_PORT_EXISTS),
							   "table")), "Port");
	json_decref(ops);
}

Test(ovsops, bridge_with_host_port)
{
	expect(ovsops_bridge_add("n3x", "netdev", "ovsbr0", "ovshost0", true),
	       "[{\"op\":\"wait\",\"table\":\"Bridge\",\"where\":[[\"name\",\"==\",\"ovsbr0\"]],"
	       "\"columns\":[\"name\"],\"until\":\"==\",\"rows\":[],\"timeout\":0},"
	       "{\"op\":\"insert\",\"table\":\"Interface\",\"row\":{\"name\":\"ovsbr0\",\"type\":\"internal\","
	       "\"external_ids\":" TAGS "},\"uuid-name\":\"ibr\"},"
	       "{\"op\":\"insert\",\"table\":\"Port\",\"row\":{\"name\":\"ovsbr0\",\"interfaces\":"
	       "[\"named-uuid\",\"ibr\"],\"external_ids\":" TAGS "},\"uuid-name\":\"pbr\"},"
	       "{\"op\":\"insert\",\"table\":\"Interface\",\"row\":{\"name\":\"ovshost0\",\"type\":\"internal\","
	       "\"external_ids\":" TAGS "},\"uuid-name\":\"ihost\"},"
	       "{\"op\":\"insert\",\"table\":\"Port\",\"row\":{\"name\":\"ovshost0\",\"interfaces\":"
	       "[\"named-uuid\",\"ihost\"],\"external_ids\":" TAGS "},\"uuid-name\":\"phost\"},"
	       "{\"op\":\"insert\",\"table\":\"Bridge\",\"row\":{\"name\":\"ovsbr0\",\"ports\":[\"set\","
	       "[[\"named-uuid\",\"pbr\"],[\"named-uuid\",\"phost\"]]],\"datapath_type\":\"netdev\","
	       "\"fail_mode\":\"standalone\",\"stp_enable\":true,\"other_config\":[\"map\","
	       "[[\"forward-bpdu\",\"true\"]]],\"external_ids\":" TAGS "},\"uuid-name\":\"br\"},"
	       "{\"op\":\"mutate\",\"table\":\"Open_vSwitch\",\"where\":[],\"mutations\":[[\"bridges\","
	       "\"insert\",[\"set\",[[\"named-uuid\",\"br\"]]]]]}]");
}

Test(ovsops, bridge_that_is_its_own_host_interface)
{
	json_t *ops = ovsops_bridge_add("n3x", "system", "br-lan", "br-lan", false);

	/* wait, Interface, Port, Bridge, mutate: one port only. */
	cr_assert_eq(json_array_size(ops), 5);
	cr_assert_eq(OVSOPS_BRIDGE_EXISTS, 0);
	expect(json_incref(json_object_get(json_object_get(json_array_get(ops, 3), "row"), "ports")),
	       "[\"set\",[[\"named-uuid\",\"pbr\"]]]");
	json_decref(ops);
}

/* What ovsdb-server answers to ovsops_del_select() for one port with two
 * interfaces and a QoS, one without QoS, and one bridge. */
#define SELECTED \
	"[{\"rows\":[{\"_uuid\":[\"uuid\",\"p1\"],\"name\":\"a-n0\",\"interfaces\":[\"set\",[[\"uuid\",\"i1\"]," \
	"[\"uuid\",\"i2\"]]],\"qos\":[\"uuid\",\"q1\"]},{\"_uuid\":[\"uuid\",\"p2\"],\"name\":\"a-n1\"," \
	"\"interfaces\":[\"uuid\",\"i3\"],\"qos\":[\"set\",[]]}]}," \
	"{\"rows\":[{\"_uuid\":[\"uuid\",\"b1\"],\"name\":\"ovsbr0\"}]}]"

Test(ovsops, delete_a_vms_ports)
{
	json_t *where = ovsops_ours("n3x", "a"), *sel = parse(SELECTED);

	expect(ovsops_del("n3x", where, sel, false),
	       "[{\"op\":\"wait\",\"table\":\"Port\",\"where\":[[\"external_ids\",\"includes\","
	       "[\"map\",[[\"n3x-fabric\",\"n3x\"],[\"n3x-vm\",\"a\"]]]]],\"columns\":[\"name\"],"
	       "\"until\":\"==\",\"rows\":[{\"name\":\"a-n0\"},{\"name\":\"a-n1\"}],\"timeout\":0},"
	       "{\"op\":\"delete\",\"table\":\"Port\",\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"p1\"]]]},"
	       "{\"op\":\"delete\",\"table\":\"Interface\",\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"i1\"]]]},"
	       "{\"op\":\"delete\",\"table\":\"Interface\",\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"i2\"]]]},"
	       "{\"op\":\"delete\",\"table\":\"QoS\",\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"q1\"]]]},"
	       "{\"op\":\"delete\",\"table\":\"Port\",\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"p2\"]]]},"
	       "{\"op\":\"delete\",\"table\":\"Interface\",\"where\":[[\"_uuid\",\"==\",[\"uuid\",\"i3\"]]]},"
	       "{\"op\":\"mutate\",\"table\":\"Bridge\",\"where\":[],\"mutations\":[[\"ports\",\"delete\","
	       "[\"set\",[[\"uuid\",\"p1\"],[\"uuid\",\"p2\"]]]]]}]");
	json_decref(where);
	json_decref(sel);
}

Test(ovsops, delete_nothing)
{
	json_t *where = ovsops_ours("n3x", "a"), *sel = parse("[{\"rows\":[]}]");

	cr_assert_null(ovsops_del("n3x", where, sel, false));
	json_decref(where);
	json_decref(sel);
}

Test(ovsops, clear_a_fabric)
{
	json_t *where = ovsops_ours("n3x", NULL), *sel = parse(SELECTED);
	json_t *ops = ovsops_del("n3x", where, sel, true), *op;
	const char *tail[] = { "Bridge", "Port", "Interface", "QoS" };
	size_t n = json_array_size(ops);

	cr_assert_eq(n, 8 + 2 + 4);
	expect(json_incref(json_array_get(ops, 8)),
	       "{\"op\":\"wait\",\"table\":\"Bridge\",\"where\":[[\"external_ids\",\"includes\"," TAGS "]],"
	       "\"columns\":[\"name\"],\"until\":\"==\",\"rows\":[{\"name\":\"ovsbr0\"}],\"timeout\":0}");
	expect(json_incref(json_array_get(ops, 9)),
	       "{\"op\":\"mutate\",\"table\":\"Open_vSwitch\",\"where\":[],\"mutations\":[[\"bridges\","
	       "\"delete\",[\"set\",[[\"uuid\",\"b1\"]]]]]}");
	for (int i = 0; i < 4; i++) {
		op = json_array_get(ops, 10 + i);
		cr_assert_str_eq(json_string_value(json_object_get(op, "op")), "delete");
		cr_assert_str_eq(json_string_value(json_object_get(op, "table")), tail[i]);
	}
	json_decref(ops);
	/* Nothing there: still a transaction, for the tagged strays. */
	json_decref(sel);
	sel = parse("[{\"rows\":[]},{\"rows\":[]}]");
	ops = ovsops_del("n3x", where, sel, true);
	cr_assert_eq(json_array_size(ops), 1 + 2 + 4);
	json_decref(ops);
	json_decref(where);
	json_decref(sel);
}

Test(ovsops, rows_and_sets)
{
	json_t *row = parse("{\"external_ids\":[\"map\",[[\"n3x-vm\",\"x\"],[\"n3x-fabric\",\"n3x\"]]]}");
	json_t *other = parse("{\"external_ids\":[\"map\",[[\"n3x-fabric\",\"n3x2\"]]]}");
	json_t *none = parse("{\"external_ids\":[\"map\",[]]}");

	cr_assert(ovsops_is_ours(row, "n3x"));
	cr_assert_not(ovsops_is_ours(other, "n3x"));
	cr_assert_not(ovsops_is_ours(none, "n3x"));
	cr_assert_not(ovsops_is_ours(NULL, "n3x"));
	json_decref(row);
	json_decref(other);
	json_decref(none);
	expect_elems("[\"set\",[]]", "[]");
	expect_elems("\"netdev\"", "[\"netdev\"]");
	expect_elems("[\"uuid\",\"u1\"]", "[[\"uuid\",\"u1\"]]");
	expect_elems("[\"set\",[\"netdev\",\"system\"]]", "[\"netdev\",\"system\"]");
	expect(ovsops_set_elems(NULL), "[]");
	expect(ovsops_read_root(), "[{\"op\":\"select\",\"table\":\"Open_vSwitch\",\"where\":[],"
	       "\"columns\":[\"datapath_types\"]}]");
	expect(ovsops_init_root(), "[{\"op\":\"wait\",\"table\":\"Open_vSwitch\",\"where\":[],"
	       "\"columns\":[\"next_cfg\"],\"until\":\"==\",\"rows\":[],\"timeout\":0},"
	       "{\"op\":\"insert\",\"table\":\"Open_vSwitch\",\"row\":{},\"uuid-name\":\"root\"}]");
}

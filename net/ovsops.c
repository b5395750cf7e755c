/* ovsops.c - the OVSDB transactions that build and clear a fabric. */
#include "net/ovsops.h"

#include <stdio.h>
#include <string.h>

#define DB "Open_vSwitch"

json_t *ovsops_tags(const char *fabric, const char *vm)
{
	json_t *pairs = json_pack("[[s,s]]", "n3x-fabric", fabric);

	if (vm)
		json_array_append_new(pairs, json_pack("[s,s]", "n3x-vm", vm));
	return json_pack("[s,o]", "map", pairs);
}

json_t *ovsops_ours(const char *fabric, const char *vm)
{
	return json_pack("[[s,s,o]]", "external_ids", "includes", ovsops_tags(fabric, vm));
}

json_t *ovsops_by_name(const char *name)
{
	return json_pack("[[s,s,s]]", "name", "==", name);
}

bool ovsops_is_ours(json_t *row, const char *fabric)
{
	json_t *pairs = json_array_get(json_object_get(row, "external_ids"), 1), *kv;
	size_t i;

	json_array_foreach(pairs, i, kv)
		if (!strcmp(json_string_value(json_array_get(kv, 0)) ?: "", "n3x-fabric"))
			return !strcmp(json_string_value(json_array_get(kv, 1)) ?: "", fabric);
	return false;
}

json_t *ovsops_set_elems(json_t *value)
{
	if (!strcmp(json_string_value(json_array_get(value, 0)) ?: "", "set"))
		return json_incref(json_array_get(value, 1)) ?: json_array();
	return value ? json_pack("[O]", value) : json_array();
}

static json_t *set_of(json_t *atoms)
{
	return json_pack("[s,o]", "set", atoms);
}

/* {"op": "wait", ...}: the rows matching where (stolen), seen through
 * column, must be exactly rows (an array of {column: value}; stolen).
 * Timeout 0: fail at once instead of waiting for it to become true. */
static json_t *wait_rows(const char *table, json_t *where, const char *column, json_t *rows)
{
	return json_pack("{s:s, s:s, s:o, s:[s], s:s, s:o, s:i}", "op", "wait", "table", table,
			 "where", where, "columns", column, "until", "==", "rows", rows,
			 "timeout", 0);
}

static json_t *wait_names(const char *table, json_t *where, json_t *names)
{
	return wait_rows(table, where, "name", names);
}

static json_t *insert(const char *table, json_t *row, const char *uuid_name)
{
	return json_pack("{s:s, s:s, s:o, s:s}", "op", "insert", "table", table, "row", row,
			 "uuid-name", uuid_name);
}

/* Mutate column of the rows matching where (stolen): mutator "insert" or
 * "delete" with the set of atoms (stolen). */
static json_t *mutate(const char *table, json_t *where, const char *column, const char *mutator,
		      json_t *atoms)
{
	return json_pack("{s:s, s:s, s:o, s:[[s,s,o]]}", "op", "mutate", "table", table,
			 "where", where, "mutations", column, mutator, set_of(atoms));
}

static json_t *delete(const char *table, json_t *where)
{
	return json_pack("{s:s, s:s, s:o}", "op", "delete", "table", table, "where", where);
}

static json_t *delete_uuid(const char *table, json_t *uuid)
{
	return delete(table, json_pack("[[s,s,O]]", "_uuid", "==", uuid));
}

json_t *ovsops_read_root(void)
{
	return json_pack("[{s:s, s:s, s:[], s:[s]}]", "op", "select", "table", DB, "where",
			 "columns", "datapath_types");
}

json_t *ovsops_init_root(void)
{
	/* The root table has no name column: any column shows a row. */
	return json_pack("[o, o]", wait_rows(DB, json_array(), "next_cfg", json_array()),
			 insert(DB, json_object(), "root"));
}

/* Insert Interface and Port name, as named-uuids "i<tag>" and "p<tag>";
 * port_extra holds more Port columns (stolen, may be NULL). */
static void add_port_ops(json_t *ops, const char *fabric, const char *name, const char *type,
			 const char *vm, const char *tag, json_t *port_extra)
{
	char iname[24], pname[24];
	json_t *port;

	snprintf(iname, sizeof(iname), "i%s", tag);
	snprintf(pname, sizeof(pname), "p%s", tag);
	json_array_append_new(ops, insert("Interface", json_pack("{s:s, s:s, s:o}", "name", name,
			      "type", type, "external_ids", ovsops_tags(fabric, vm)), iname));
	port = json_pack("{s:s, s:[s,s], s:o}", "name", name, "interfaces", "named-uuid", iname,
			 "external_ids", ovsops_tags(fabric, vm));
	if (port_extra)
		json_object_update(port, port_extra);
	json_decref(port_extra);
	json_array_append_new(ops, insert("Port", port, pname));
}

json_t *ovsops_bridge_add(const char *fabric, const char *datapath, const char *bridge,
			  const char *host_if, bool stp)
{
	json_t *ops = json_array(), *ports = json_pack("[[s,s]]", "named-uuid", "pbr");

	json_array_append_new(ops, wait_names("Bridge", ovsops_by_name(bridge), json_array()));
	add_port_ops(ops, fabric, bridge, "internal", NULL, "br", NULL);
	if (strcmp(bridge, host_if)) {
		add_port_ops(ops, fabric, host_if, "internal", NULL, "host", NULL);
		json_array_append_new(ports, json_pack("[s,s]", "named-uuid", "phost"));
	}
	/* forward-bpdu: the guests may run their own STP or LLDP, as in the seed. */
	json_array_append_new(ops, insert("Bridge", json_pack(
		"{s:s, s:o, s:s, s:s, s:b, s:[s,[[s,s]]], s:o}", "name", bridge,
		"ports", set_of(ports), "datapath_type", datapath, "fail_mode", "standalone",
		"stp_enable", stp, "other_config", "map", "forward-bpdu", "true",
		"external_ids", ovsops_tags(fabric, NULL)), "br"));
	json_array_append_new(ops, mutate(DB, json_array(), "bridges", "insert",
					  json_pack("[[s,s]]", "named-uuid", "br")));
	return ops;
}

json_t *ovsops_port_add(const char *fabric, const char *bridge, const char *port, const char *vm,
			const uint16_t *vlans, int nvlans)
{
	json_t *ops = json_array(), *extra = json_pack("{s:[s,s]}", "qos", "named-uuid", "qos");

	if (nvlans == 1) {
		json_object_set_new(extra, "tag", json_integer(vlans[0]));
	} else if (nvlans > 1) {
		json_t *ids = json_array();

		for (int i = 0; i < nvlans; i++)
			json_array_append_new(ids, json_integer(vlans[i]));
		json_object_set_new(extra, "trunks", set_of(ids));
	}
	json_array_append_new(ops, wait_names("Bridge", ovsops_by_name(bridge),
					      json_pack("[{s:s}]", "name", bridge)));
	json_array_append_new(ops, wait_names("Port", ovsops_by_name(port), json_array()));
	json_array_append_new(ops, insert("QoS", json_pack("{s:s, s:o}", "type", "linux-noop",
					  "external_ids", ovsops_tags(fabric, vm)), "qos"));
	add_port_ops(ops, fabric, port, "", vm, "vm", extra);
	json_array_append_new(ops, mutate("Bridge", ovsops_by_name(bridge), "ports", "insert",
					  json_pack("[[s,s]]", "named-uuid", "pvm")));
	return ops;
}

json_t *ovsops_del_select(const char *fabric, json_t *where, bool bridges)
{
	json_t *ops = json_pack("[{s:s, s:s, s:O, s:[s,s,s,s]}]", "op", "select", "table", "Port",
				"where", where, "columns", "_uuid", "name", "interfaces", "qos");

	if (bridges)
		json_array_append_new(ops, json_pack("{s:s, s:s, s:o, s:[s,s]}", "op", "select",
						     "table", "Bridge", "where", ovsops_ours(fabric, NULL),
						     "columns", "_uuid", "name"));
	return ops;
}

json_t *ovsops_del(const char *fabric, json_t *where, json_t *selected, bool bridges)
{
	json_t *ops = json_array(), *names = json_array(), *uuids = json_array(), *row;
	json_t *ports = json_object_get(json_array_get(selected, 0), "rows");
	size_t i;

	json_array_foreach(ports, i, row) {
		json_t *ifs = ovsops_set_elems(json_object_get(row, "interfaces"));
		json_t *qos = ovsops_set_elems(json_object_get(row, "qos")), *u;
		size_t k;

		json_array_append_new(names, json_pack("{s:O}", "name", json_object_get(row, "name")));
		json_array_append(uuids, json_object_get(row, "_uuid"));
		json_array_append_new(ops, delete_uuid("Port", json_object_get(row, "_uuid")));
		json_array_foreach(ifs, k, u)
			json_array_append_new(ops, delete_uuid("Interface", u));
		json_array_foreach(qos, k, u)
			json_array_append_new(ops, delete_uuid("QoS", u));
		json_decref(ifs);
		json_decref(qos);
	}
	json_array_insert_new(ops, 0, wait_names("Port", json_incref(where), names));
	if (json_array_size(uuids))
		json_array_append_new(ops, mutate("Bridge", json_array(), "ports", "delete",
						  json_incref(uuids)));
	json_decref(uuids);
	if (bridges) {
		json_t *bnames = json_array(), *buuids = json_array();

		json_array_foreach(json_object_get(json_array_get(selected, 1), "rows"), i, row) {
			json_array_append_new(bnames, json_pack("{s:O}", "name", json_object_get(row, "name")));
			json_array_append(buuids, json_object_get(row, "_uuid"));
		}
		json_array_append_new(ops, wait_names("Bridge", ovsops_ours(fabric, NULL), bnames));
		json_array_append_new(ops, mutate(DB, json_array(), "bridges", "delete", buuids));
		/* The bridges' other ports go with them; strays that carry our
		 * tag but hang nowhere go too. */
		for (const char **t = (const char *[]){ "Bridge", "Port", "Interface", "QoS", NULL }; *t; t++)
			json_array_append_new(ops, delete(*t, ovsops_ours(fabric, NULL)));
	} else if (!json_array_size(ports)) {
		json_decref(ops);
		return NULL;
	}
	return ops;
}

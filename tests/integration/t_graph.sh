# n3x-ctl graph: first from the topology file alone (no supervisor: VMs
# "defined", the [fabric] profile's rules), then of two demo VMs at two
# sites on a Linux bridge with one cable pulled and a profile rule on the
# other.  Checked by third-party tools: xmllint (well-formed SVG, an <svg>
# root, XPath into dot's SVG for the names, the rule, the dashed red
# edge), file and the PNG signature, Graphviz's own dot parsing our DOT
# text (dot -Tcanon), python3 for the JSON.  About 25 s.
. "$(dirname "$0")/lib.sh"
need_root "network namespaces"
need_cmd ip qemu-system-x86_64 xmllint file python3 dot od script

name=it-graph
conf=$(write_conf graph "[fabric]
name = $name
profile = slow
[network lan]
switch = linux-bridge
bridge = n3xgr0
address = 192.168.93.1/24
$(vm_block v1 x86_64 'nic = lan mac=52:54:00:dd:00:01 ip=192.168.93.10' 'site = core')
$(vm_block v2 x86_64 'nic = lan mac=52:54:00:dd:00:02 ip=192.168.93.11' 'site = edge')
[profile slow]
v2 = rate 10mbit")
CONF=$conf
rule="rate 10mbit"
# The same rule as the supervisor holds it: tc status writes rates as tc does.
live_rule="rate 10Mbit"

# svg_checks FILE RULE: well-formed, an <svg> root, every VM, the rule.
svg_text() { xmllint --xpath '//*[local-name()="text"]/text()' "$1"; }
svg_checks() {
	xmllint --noout "$1" || fail "$1: not well-formed XML"
	expect_eq "$(xmllint --xpath 'name(/*)' "$1")" svg "$1: root element"
	local text
	text=$(svg_text "$1") || fail "$1: no text in the SVG"
	for vm in v1 v2; do
		grep -qx "$vm" <<<"$text" || { echo "$text"; fail "$1: no VM $vm"; }
	done
	grep -qxF "$2" <<<"$text" || { echo "$text"; fail "$1: no rule text '$2'"; }
}

# ---- from the file, no supervisor ----
ctl graph --format json >"$TMP/file.json" || fail "graph --format json from the file"
python3 - "$TMP/file.json" "$rule" <<'PY' || { cat "$TMP/file.json"; fail "graph from the file: wrong model"; }
import json, sys
m = json.load(open(sys.argv[1]))
assert m["source"] == "topology"
vms = {n["name"]: n for n in m["nodes"] if n["kind"] == "vm"}
assert sorted(vms) == ["v1", "v2"] and all(v["state"] == "defined" for v in vms.values())
assert vms["v1"]["site"] == "core" and vms["v2"]["ips"] == ["192.168.93.11"]
rules = {e["vm"]: e.get("rule") for e in m["edges"]}
assert rules == {"v1": None, "v2": sys.argv[2]}, rules
PY
ctl graph --format svg -o "$TMP/file.svg" || fail "graph --format svg from the file"
svg_checks "$TMP/file.svg" "$rule"
grep -qx defined <<<"$(svg_text "$TMP/file.svg")" || fail "file.svg: the VMs are not 'defined'"
note "from the file: json and svg (VMs defined, the profile's rule)"

# ---- live ----
start_launcher "$conf"
for vm in v1 v2; do
	ctl wait "$vm" --state running --timeout 30 >/dev/null || fail "$vm not running"
done
expect_eq "$(ctl link v1 down)" "v1/0: down" "link v1 down"

ctl graph --format svg -o "$TMP/live.svg" || fail "graph --format svg"
svg_checks "$TMP/live.svg" "$live_rule"
text=$(svg_text "$TMP/live.svg")
grep -qx running <<<"$text" || fail "live.svg: no running VM"
grep -qx 'link down' <<<"$text" || { echo "$text"; fail "live.svg: no 'link down'"; }
grep -qx '192.168.93.10' <<<"$text" || fail "live.svg: no IP of v1"
edge='//*[local-name()="g"][@class="edge"][*[local-name()="title"]="vm:v1--net:lan"]/*[local-name()="path"]'
expect_eq "$(xmllint --xpath "string($edge/@stroke)" "$TMP/live.svg")" red "v1's edge colour"
dash=$(xmllint --xpath "string($edge/@stroke-dasharray)" "$TMP/live.svg") || fail "no v1 edge in live.svg"
[ -n "$dash" ] || fail "v1's pulled cable is not dashed"
edge2='//*[local-name()="g"][@class="edge"][*[local-name()="title"]="vm:v2--net:lan"]/*[local-name()="path"]'
expect_eq "$(xmllint --xpath "string($edge2/@stroke-dasharray)" "$TMP/live.svg")" "" "v2's edge is solid"
xmllint --xpath '//*[local-name()="g"][@class="cluster"]/*[local-name()="title"]/text()' "$TMP/live.svg" |
	contains -x cluster_core || fail "live.svg: no cluster for site core"

ctl graph --format png -o "$TMP/live.png" || fail "graph --format png"
file -b "$TMP/live.png" | contains '^PNG image data' || fail "live.png: $(file -b "$TMP/live.png")"
expect_eq "$(od -An -tx1 -N8 "$TMP/live.png" | tr -d ' \n')" 89504e470d0a1a0a "PNG signature"
ctl graph --format png | file -b - | contains '^PNG image data' || fail "png to a pipe"

# Our DOT text, parsed by Graphviz's own dot (-Tcanon: its canonical form).
ctl graph >"$TMP/live.dot" || fail "graph (dot)"
dot -Tcanon "$TMP/live.dot" >"$TMP/canon.dot" || { cat "$TMP/live.dot"; fail "dot cannot parse our DOT"; }
for n in '"vm:v1"' '"vm:v2"' '"net:lan"' 'cluster_edge'; do
	grep -qF "$n" "$TMP/canon.dot" || fail "canonical DOT: no $n"
done

ctl graph --format mermaid >"$TMP/live.mmd" || fail "graph --format mermaid"
head -n 1 "$TMP/live.mmd" | contains -E '^(graph|flowchart) ' || fail "mermaid: first line $(head -n 1 "$TMP/live.mmd")"
expect_eq "$(grep -cE '^ *n[0-9]+\["v[12]<br/>' "$TMP/live.mmd")" 2 "mermaid: VM nodes"
grep -qE -- '-\.-\|"n0 v1-n0<br/>link down' "$TMP/live.mmd" || { cat "$TMP/live.mmd"; fail "mermaid: v1's link not dotted"; }

ctl graph --format json | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert m["source"] == "supervisor" and m["profile"] == "slow"
vms = {n["name"]: n for n in m["nodes"] if n["kind"] == "vm"}
assert sorted(vms) == ["v1", "v2"] and all(v["state"] == "running" for v in vms.values()), vms
links = {e["vm"]: (e["link"], e.get("rule"), e["tap"]) for e in m["edges"]}
assert links == {"v1": ("down", None, "v1-n0"), "v2": ("up", sys.argv[1], "v2-n0")}, links' "$live_rule" ||
	{ ctl graph --format json; fail "graph --format json"; }
note "live: svg, png, dot (parsed by dot), mermaid and json show states, the pulled cable and the rule"

# Bad uses: exit 2 and one line.
rc=0; out=$(ctl graph --format gif 2>&1) || rc=$?
expect_eq "$rc" 2 "exit code of --format gif"
expect_eq "$out" "n3x-ctl: graph: unknown format 'gif' (use dot, svg, png, mermaid, json)" "--format gif"
rc=0; out=$(script -qec "$BIN/n3x-ctl -f $CONF graph --format png" /dev/null) || rc=$?
expect_eq "$rc" 2 "exit code of png to a terminal"
expect_eq "$(tr -d '\r' <<<"$out")" "n3x-ctl: graph: not writing a PNG to a terminal; use -o FILE or a pipe" \
	"png to a terminal"
note "--format gif and png to a terminal: exit 2, one line"

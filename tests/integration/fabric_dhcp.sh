# The body of t_fabric_ovs and t_fabric_bridge (SWITCH set by them): three
# demo VMs, one of them aarch64, on one switch in the fabric's own network
# namespace; each gets exactly its reserved address from dnsmasq, they ping
# each other by name and the host interface; independent clients (ovs-vsctl,
# bridge) see one port per NIC; a supervisor killed with SIGKILL is followed
# by one that adopts its guests; shutdown leaves nothing.
. "$(dirname "$0")/lib.sh"

need_root "network namespaces"
need_cmd ip dnsmasq socat qemu-system-x86_64 qemu-system-aarch64
[ "$SWITCH" != ovs ] || need_cmd ovs-vsctl ovsdb-server ovs-vswitchd

name=it-$SWITCH
case $SWITCH in ovs) br=ovsbr0 hif=ovshost0 ;; *) br=n3xbr0 hif=n3xbr0 ;; esac
conf=$(write_conf fabric "[fabric]
name = $name
[network lan]
switch = $SWITCH
bridge = $br
host-interface = $hif
address = 192.168.100.1/24
dhcp = 192.168.100.100,192.168.100.200,1h
domain = local
$(vm_block v1 x86_64 'nic = lan mac=52:54:00:aa:00:01 ip=192.168.100.10')
$(vm_block v2 x86_64 'nic = lan mac=52:54:00:aa:00:02 ip=192.168.100.11')
$(vm_block j1 aarch64 'nic = lan mac=52:54:00:aa:00:10 ip=192.168.100.20')")
RUN=$XDG_RUNTIME_DIR/n3x/$name
NS=n3x-$name
start_launcher "$conf"

declare -A want=([v1]=192.168.100.10 [v2]=192.168.100.11 [j1]=192.168.100.20)
for vm in v1 v2 j1; do
	got=$(ctl wait "$vm" --lease --timeout 120) || fail "$vm: no lease"
	expect_eq "$got" "$vm/0 ${want[$vm]}" "$vm lease"
done
ctl status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["fabric"]["netns"] == sys.argv[1], d["fabric"]
for vm in d["vms"]:
    n = vm["nics"][0]
    assert n["lease"] and n["tap"] == vm["name"] + "-n0" and n["port"] == n["tap"] + "_p", n' "$NS" ||
	fail "status --json"

# Independent clients see the ports: the veth ends glued to the taps
# (launcher/fabric.c), never the taps themselves.
if [ "$SWITCH" = ovs ]; then
	ports=$(ip netns exec "$NS" ovs-vsctl --db="unix:$RUN/ovs/db.sock" list-ports "$br" | sort | tr '\n' ' ') ||
		fail "ovs-vsctl list-ports failed"
	expect_eq "$ports" "j1-n0_p ovshost0 v1-n0_p v2-n0_p " "ovs ports"
	ip netns exec "$NS" ovs-vsctl --db="unix:$RUN/ovs/db.sock" get Bridge "$br" external_ids |
		contains "n3x-fabric=\"\?$name" || fail "bridge not tagged"
else
	for t in v1-n0_p v2-n0_p j1-n0_p; do
		ip netns exec "$NS" bridge link show dev "$t" | contains "master $br" || fail "$t not on $br"
	done
fi

# n3x-ctl shell is a shell in the namespace; graph draws the fabric.
echo "ip -o addr show dev $hif" | SHELL=bash ctl shell >"$TMP/shell.out" 2>&1 ||
	{ cat "$TMP/shell.out"; fail "n3x-ctl shell failed"; }
grep -q '192.168.100.1/24' "$TMP/shell.out" || { cat "$TMP/shell.out"; fail "n3x-ctl shell does not see $hif"; }
ctl graph --format json >"$TMP/graph.json" || fail "n3x-ctl graph failed"
python3 - "$TMP/graph.json" "$br" <<'PY' || { cat "$TMP/graph.json"; fail "graph: no edge j1 -- $br"; }
import json, sys
m = json.load(open(sys.argv[1]))
nets = {n["id"]: n for n in m["nodes"] if n["kind"] == "network"}
assert any(e["from"] == "vm:j1" and e["mac"] == "52:54:00:aa:00:10" and e["ip"] == "192.168.100.20"
           and nets[e["to"]]["bridge"] == sys.argv[2] for e in m["edges"])
PY

# From inside the guests: by name, and the host interface.
for vm in v1 j1; do guest_login "$vm"; done
expect_eq "$(guest_run v1 'ping -c 2 -W 3 v2.local >/dev/null')" 0 "v1 -> v2.local"
expect_eq "$(guest_run v1 'ping -c 2 -W 3 j1.local >/dev/null')" 0 "v1 -> j1.local"
expect_eq "$(guest_run j1 'ping -c 2 -W 3 v1.local >/dev/null')" 0 "j1 -> v1.local"
expect_eq "$(guest_run j1 'ping -c 2 -W 3 192.168.100.1 >/dev/null')" 0 "j1 -> host interface"
expect_eq "$(guest_run v1 'ping -c 1 -W 2 192.168.100.99 >/dev/null')" 1 "v1 -> nobody (the check can fail)"
# ...and the host side, inside the namespace.
ip netns exec "$NS" ping -c 1 -W 3 192.168.100.10 >/dev/null || fail "namespace -> v1"
note "leases, DNS names and pings on $SWITCH: ok"

# dnsmasq dying is logged and it comes back, still serving names: the old
# process is gone and the pid file names a new, live dnsmasq.
old=$(cat "$RUN/dnsmasq.pid") || fail "no dnsmasq pid file"
expect_eq "$(cat "/proc/$old/comm")" dnsmasq "process in dnsmasq.pid"
kill "$old"
new=
for _ in $(seq 1 50); do
	new=$(cat "$RUN/dnsmasq.pid" 2>/dev/null) || new=
	[ -n "$new" ] && [ "$new" != "$old" ] && kill -0 "$new" 2>/dev/null && break
	sleep 0.1
done
[ -f "$RUN/dnsmasq.pid" ] || fail "dnsmasq.pid gone after the restart"
[ -n "$new" ] && [ "$new" != "$old" ] || fail "dnsmasq.pid still says $old, or nothing: dnsmasq was not restarted"
expect_eq "$(cat "/proc/$new/comm" 2>/dev/null)" dnsmasq "process in dnsmasq.pid after the restart"
! kill -0 "$old" 2>/dev/null || fail "the old dnsmasq $old still runs"
grep -q "dnsmasq .*restarting it" "$TMP/launcher.log" || fail "dnsmasq's death was not logged"
expect_eq "$(guest_run v1 'ping -c 1 -W 3 j1.local >/dev/null')" 0 "v1 -> j1.local after dnsmasq restarted"

# A supervisor killed with SIGKILL leaves its guests, dnsmasq and the
# namespace running (issue 10), and the next one adopts them: the same
# QEMUs and dnsmasq, the leases known at once, and it says so.
qemus=
for vm in v1 v2 j1; do
	p=$(live_pid "$vm") || fail "$vm has no QEMU"
	qemus="$qemus $p"
done
dns=$(cat "$RUN/dnsmasq.pid") || fail "no dnsmasq pid file"
kill -KILL "$LPID"
rc=0
wait "$LPID" 2>/dev/null || rc=$? # quietly: bash would report "Killed"
expect_eq "$rc" 137 "n3x-launch's exit status after SIGKILL"
# Until the next supervisor has adopted them they are this test's to clean
# up, should it fail before that.
ovs=$(procs_of "$RUN/ovs" | awk '{ print $1 }' | sort -n | tr '\n' ' ')
EXTRA_PIDS="${EXTRA_PIDS:-}$qemus $dns $ovs" EXTRA_NETNS=$NS
sleep 1
for p in $qemus $dns $ovs; do kill -0 "$p" 2>/dev/null || fail "process $p died with the supervisor"; done
netns_exists "$NS" || fail "namespace $NS did not outlive the SIGKILLed supervisor"
start_launcher "$conf"
for vm in v1 v2 j1; do
	ctl wait "$vm" --state running --timeout 30 >/dev/null || fail "$vm not running after the relaunch"
	p=$(live_pid "$vm") || fail "$vm has no QEMU after the relaunch"
	[[ "$qemus " == *" $p "* ]] || fail "$vm: QEMU $p is not one of$qemus: it was not adopted"
done
grep -q "kept dnsmasq (pid $dns) and its leases" "$TMP/launcher.log" || fail "dnsmasq $dns was not adopted"
expect_eq "$(procs_of "$RUN/ovs" | awk '{ print $1 }' | sort -n | tr '\n' ' ')" "$ovs" "the private OVS after the relaunch"
got=$(ctl wait v2 --lease --timeout 1) || fail "v2's lease is not known after the relaunch"
expect_eq "$got" "v2/0 ${want[v2]}" "v2 lease after the relaunch"
EXTRA_PIDS= # the supervisor's now
note "after SIGKILL: guests, dnsmasq and namespace kept, adopted by the next supervisor"

kill -TERM "$LPID"
wait_gone "$LPID" 90 || fail "n3x-launch still running after SIGTERM"
nothing_left "$name"
note "restart after SIGKILL and shutdown: clean"

# Partitions with three demo VMs (a, b, c) on each switch: after
# `partition a b,c`, a<->b and a<->c fail both ways (tcpdump on b's and c's
# taps sees no frame of a's, broadcasts included), b<->c works, leases and
# DNS keep working inside each side, status and events say so; heal
# restores; `partition --from a --to b` drops a's frames to b only.  About
# 70 s per switch.
. "$(dirname "$0")/lib.sh"
need_root "network namespaces"
need_cmd ip dnsmasq socat tcpdump qemu-system-x86_64 ovs-vsctl ovsdb-server ovs-vswitchd

declare -A MAC=([a]=52:54:00:bb:00:01 [b]=52:54:00:bb:00:02 [c]=52:54:00:bb:00:03)
declare -A IP=([a]=192.168.91.10 [b]=192.168.91.11 [c]=192.168.91.12)

# pings FROM TO: 0 when FROM's guest gets an answer from TO (by address).
pings() { guest_run "$1" "ping -c 2 -W 2 ${IP[$2]} >/dev/null"; }

# frames_seen TAP SRC CMD_VM CMD: run CMD in CMD_VM while tcpdump listens
# on TAP (the VM side: what reaches that VM) for frames from SRC's MAC;
# prints how many it saw.
frames_seen() {
	local out=$TMP/seen.$RANDOM pid n
	ip netns exec "$NS" tcpdump -i "$1" -nn -e -l "ether src ${MAC[$2]}" >"$out" 2>/dev/null &
	pid=$!
	sleep 1 # tcpdump is listening
	guest_run "$3" "$4" >/dev/null
	sleep 0.5
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	n=$(grep -c . "$out") || n=0
	echo "$n"
}

for SWITCH in ovs linux-bridge; do
	name=it-part-${SWITCH%%-*}
	case $SWITCH in ovs) br=pbr0 hif=phost0 ;; *) br=pbr0 hif=pbr0 ;; esac
	conf=$(write_conf "part-$SWITCH" "[fabric]
name = $name
[network lan]
switch = $SWITCH
bridge = $br
host-interface = $hif
address = 192.168.91.1/24
dhcp = 192.168.91.100,192.168.91.200,1h
domain = local
$(vm_block a x86_64 "nic = lan mac=${MAC[a]} ip=${IP[a]}")
$(vm_block b x86_64 "nic = lan mac=${MAC[b]} ip=${IP[b]}")
$(vm_block c x86_64 "nic = lan mac=${MAC[c]} ip=${IP[c]}")")
	RUN=$XDG_RUNTIME_DIR/n3x/$name
	NS=n3x-$name
	start_launcher "$conf"
	for vm in a b c; do
		got=$(ctl wait "$vm" --lease --timeout 120) || fail "$vm: no lease"
		expect_eq "$got" "$vm/0 ${IP[$vm]}" "$vm lease"
		guest_login "$vm"
	done
	expect_eq "$(pings a b)" 0 "$SWITCH: a -> b before"
	expect_eq "$(pings c a)" 0 "$SWITCH: c -> a before"

	ctl events --json --until heal --timeout 300 >"$TMP/events.json" 2>&1 &
	EPID=$!
	EXTRA_PIDS="${EXTRA_PIDS:-} $EPID"
	sleep 0.5
	out=$(ctl partition a b,c) || fail "partition a b,c"
	expect_eq "$out" "partition: a | b,c" "partition's answer"
	got=$(ctl status --json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["fabric"]["partition"]))') ||
		fail "status --json"
	expect_eq "$got" '{"groups": [["a"], ["b", "c"]]}' "status fabric.partition"
	for pair in "a b" "b a" "a c" "c a"; do
		set -- $pair
		expect_eq "$(pings "$1" "$2")" 1 "$SWITCH: $1 -> $2 across the partition"
	done
	expect_eq "$(pings b c)" 0 "$SWITCH: b -> c on one side"
	expect_eq "$(pings c b)" 0 "$SWITCH: c -> b on one side"
	# No frame crosses, broadcasts included: a's ARP requests never reach b.
	expect_eq "$(frames_seen b-n0 a a "arping -c 3 -w 3 -I eth0 ${IP[b]}")" 0 "$SWITCH: a's frames on b's tap"
	# Leases and names still work on both sides (dnsmasq is no VM).
	expect_eq "$(guest_run a 'udhcpc -i eth0 -n -q -t 3 -T 2 >/dev/null 2>&1')" 0 "$SWITCH: a renews its lease"
	expect_eq "$(guest_run b 'udhcpc -i eth0 -n -q -t 3 -T 2 >/dev/null 2>&1')" 0 "$SWITCH: b renews its lease"
	expect_eq "$(guest_run b 'ping -c 1 -W 2 c.local >/dev/null')" 0 "$SWITCH: b -> c.local by name"
	note "$SWITCH: a | b,c: a cut off both ways, b<->c, leases and DNS work"

	out=$(ctl partition --from a --to b) || fail "partition --from a --to b"
	expect_eq "$out" "partition: a -> b" "one-way partition's answer"
	expect_eq "$(frames_seen b-n0 a a "arping -c 3 -w 3 -I eth0 ${IP[b]}")" 0 "$SWITCH: a -> b one way"
	seen=$(frames_seen a-n0 b b "arping -c 3 -w 3 -I eth0 ${IP[a]}")
	[ "$seen" -ge 3 ] || fail "$SWITCH: b -> a one way: $seen frames of b's on a's tap, want 3 or more"
	expect_eq "$(pings a c)" 0 "$SWITCH: a -> c untouched by a -> b"
	note "$SWITCH: a -> b drops a's frames to b ($seen of b's reach a)"

	out=$(ctl heal) || fail "heal"
	expect_eq "$out" "partition: none" "heal's answer"
	expect_eq "$(pings a b)" 0 "$SWITCH: a -> b after heal"
	expect_eq "$(pings b a)" 0 "$SWITCH: b -> a after heal"
	wait "$EPID" || fail "events --until heal"
	python3 - "$TMP/events.json" <<'EOF' || fail "events"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
kinds = [(e["kind"], e["data"]) for e in ev if e["kind"] in ("partition", "heal")]
want = [("partition", {"groups": [["a"], ["b", "c"]]}),
        ("partition", {"from": ["a"], "to": ["b"]}), ("heal", {})]
assert kinds == want, kinds
assert all(e["vm"] is None for e in ev if e["kind"] in ("partition", "heal"))
EOF
	got=$(ip netns exec "$NS" tc qdisc show dev b-n0_p) || fail "tc qdisc show"
	! contains "htb" <<<"$got" || fail "$SWITCH: a policy left on b's port after heal: $got"
	note "$SWITCH: heal restores; events partition, partition, heal"

	# The partition outlives its supervisor: the one that adopts the
	# cluster keeps it in force and says so.
	if [ "$SWITCH" = ovs ]; then
		ctl partition --from a --to b >/dev/null || fail "partition --from a --to b"
		ctl shutdown --keep-vms >/dev/null || fail "shutdown --keep-vms"
		wait_gone "$LPID" 30 || fail "n3x-launch still runs after shutdown --keep-vms"
		start_launcher "$conf"
		for v in a b c; do ctl wait "$v" --state running --timeout 60 >/dev/null || fail "$v not adopted"; done
		grep -q "partition kept from the earlier run" "$TMP/launcher.log" ||
			fail "no word of the kept partition: $(tail -n 5 "$TMP/launcher.log")"
		got=$(ctl status --json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["fabric"]["partition"]))')
		expect_eq "$got" '{"from": ["a"], "to": ["b"]}' "$SWITCH: status fabric.partition after adoption"
		expect_eq "$(frames_seen b-n0 a a "arping -c 3 -w 3 -I eth0 ${IP[b]}")" 0 "$SWITCH: a -> b after adoption"
		expect_eq "$(pings a c)" 0 "$SWITCH: a -> c after adoption"
		ctl heal >/dev/null || fail "heal after adoption"
		note "$SWITCH: a -> b kept in force by the supervisor that adopted the cluster"
	fi
	kill -TERM "$LPID"
	wait_gone "$LPID" 90 || fail "n3x-launch still running after SIGTERM"
	LPID=
	nothing_left "$name"
done

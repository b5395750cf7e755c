# Impairment through the supervisor: profiles switch live, tc status reads the
# kernel back, a VM restart gets its shaping back, OVS reconfiguring the
# bridge leaves our qdiscs alone (linux-noop QoS), a netem rule applies on a
# kernel with netem and on one without fails naming CONFIG_NET_SCH_NETEM with
# nothing changed (which branch: tests/tc_driver tries a netem qdisc in a
# namespace of this test's own first), and "default" leaves no shaping
# qdisc.  tests/integration/t_netem_vm.sh runs the netem side of tc/ on a
# kernel that has it.
. "$(dirname "$0")/lib.sh"
need_root "network namespaces"

DRV=${TC_DRIVER:-$SRC/build/tests/tc_driver}
[ -x "$DRV" ] || fail "$DRV is not built (make build/tests/tc_driver)"
PROBE=n3x-it-tcp$$
EXTRA_NETNS=$PROBE

# Does this kernel run netem?  Asked the way the supervisor will meet it: a
# netem qdisc on a link, here a veth in a namespace of our own.
ip netns add "$PROBE"
ip netns exec "$PROBE" ip link add probe0 up type veth peer name probe1
if ip netns exec "$PROBE" "$DRV" apply probe0 probe1 "to-vm: delay 1ms" 2>"$TMP/probe.txt"; then
	NETEM=1
elif grep -q CONFIG_NET_SCH_NETEM "$TMP/probe.txt"; then
	NETEM=0
else
	cat "$TMP/probe.txt" >&2
	fail "tc_driver could not tell whether the kernel has netem"
fi
ip netns del "$PROBE"

conf=$(write_conf tc "[fabric]
name = it-tc
profile = slow
[network lan]
switch = ovs
bridge = tcbr0
host-interface = tchost0
address = 192.168.100.1/24
$(vm_block t1 x86_64 'nic = lan')
$(vm_block t2 x86_64 'nic = lan')
[profile slow]
t1 = rate 10mbit
* = from-vm: rate 20mbit
[profile fast]
* = rate 50mbit
[profile lag]
t1 = delay 5ms")
RUN=$XDG_RUNTIME_DIR/n3x/it-tc
NS=n3x-it-tc
start_launcher "$conf"
ctl wait t1 --state running --timeout 30 >/dev/null
ctl wait t2 --state running --timeout 30 >/dev/null

qdiscs() { ip netns exec "$NS" tc -j qdisc show dev "$1"; }
rate_of() { # rate_of DEV: the tbf rate the kernel holds, bits/s, or none
	qdiscs "$1" | python3 -c 'import json,sys
q=[x for x in json.load(sys.stdin) if x["kind"]=="tbf"]
print(q[0]["options"]["rate"]*8 if q and isinstance(q[0]["options"]["rate"], int) else (q[0]["options"]["rate"] if q else "none"))'
}
status_rate() { # status_rate VM/N DIR
	ctl tc status --json | python3 -c 'import json,sys
l=json.load(sys.stdin)["links"][sys.argv[1]][sys.argv[2]]
print(l[0]["params"]["rate_bps"] if l else "none")' "$1" "$2"
}
status_delay() { # status_delay VM/N DIR: netem's delay in us, or none
	ctl tc status --json | python3 -c 'import json,sys
l=[q for q in json.load(sys.stdin)["links"][sys.argv[1]][sys.argv[2]] if q["kind"]=="netem"]
print(l[0]["params"]["delay_us"] if l else "none")' "$1" "$2"
}

expect_eq "$(ctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["fabric"]["profile"])')" slow "status profile"
expect_eq "$(status_rate t1/0 to_vm)" 10000000 "slow: t1 to-vm"
expect_eq "$(status_rate t1/0 from_vm)" 10000000 "slow: t1 from-vm"
expect_eq "$(status_rate t2/0 to_vm)" none "slow: t2 to-vm"
expect_eq "$(status_rate t2/0 from_vm)" 20000000 "slow: t2 from-vm"
# tc itself sees from-vm on the glue end between the tap and the port.
ip netns exec "$NS" tc qdisc show dev t2-n0_g | contains -E '^qdisc tbf .* rate 20Mbit' ||
	fail "t2-n0_g has no tbf of 20Mbit: $(ip netns exec "$NS" tc qdisc show dev t2-n0_g)"

ctl tc fast >/dev/null
expect_eq "$(status_rate t2/0 to_vm)" 50000000 "fast: t2 to-vm"
expect_eq "$(status_rate t1/0 from_vm)" 50000000 "fast: t1 from-vm"

# OVS reconfigures the bridge (STP on, then off): our qdiscs stay.
db="unix:$RUN/ovs/db.sock"
ip netns exec "$NS" ovs-vsctl --db="$db" set Bridge tcbr0 stp_enable=true
ip netns exec "$NS" ovs-vsctl --db="$db" set Bridge tcbr0 stp_enable=false
ip netns exec "$NS" ovs-vsctl --db="$db" get Port t1-n0_p qos | contains -E '^[0-9a-f-]{36}$' || fail "no QoS row on t1-n0_p"
sleep 0.5
expect_eq "$(status_rate t1/0 to_vm)" 50000000 "after OVS reconfigured: t1 to-vm"

set +e
ctl tc lag >/dev/null 2>"$TMP/err"
rc=$?
set -e
if [ "$NETEM" = 1 ]; then
	# netem here: t1 gets the delay both ways, t2 nothing.
	expect_eq "$rc" 0 "tc lag exit code (this kernel has netem): $(cat "$TMP/err")"
	expect_eq "$(status_delay t1/0 to_vm)" 5000 "lag: t1 to-vm delay (us)"
	expect_eq "$(status_delay t1/0 from_vm)" 5000 "lag: t1 from-vm delay (us)"
	expect_eq "$(status_rate t2/0 to_vm)" none "lag: t2 to-vm"
	note "this kernel has netem: profile lag applied"
else
	# netem on a kernel without it: refused, nothing changed.
	expect_eq "$rc" 1 "tc lag exit code (the operation failed)"
	grep -q "CONFIG_NET_SCH_NETEM" "$TMP/err" || { cat "$TMP/err"; fail "netem error does not name CONFIG_NET_SCH_NETEM"; }
	expect_eq "$(status_rate t1/0 to_vm)" 50000000 "after the refused switch"
	note "this kernel has no netem: profile lag refused, nothing changed"
fi

# Keys the topology does not have are the user's to fix (exit 2).
for args in "t9 rate 1mbit" "t1/3 rate 1mbit"; do
	set +e
	# shellcheck disable=SC2086 # the words are the command line
	ctl tc set $args >/dev/null 2>"$TMP/err"
	rc=$?
	set -e
	expect_eq "$rc" 2 "tc set $args: exit code ($(cat "$TMP/err"))"
done
contains -F 'vm t1 has no NIC 3 (it has 1)' <"$TMP/err" || fail "tc set t1/3: $(cat "$TMP/err")"

# A restarted VM gets its shaping back on its new tap.
ctl tc set t1 to-vm: rate 5mbit >/dev/null
ctl restart t1 >/dev/null
expect_eq "$(status_rate t1/0 to_vm)" 5000000 "t1 to-vm after restart"

# default: no shaping qdisc of ours on taps or glue ends (the glue's own
# ingress qdiscs stay: they carry the traffic).
ctl tc default >/dev/null
for t in t1-n0 t2-n0 t1-n0_g t2-n0_g; do
	qdiscs "$t" | contains -E '"kind":"(tbf|netem)"' && fail "$t still has a qdisc of ours"
done
note "profiles slow -> fast -> lag ($([ "$NETEM" = 1 ] && echo applied || echo refused)) -> default: ok"

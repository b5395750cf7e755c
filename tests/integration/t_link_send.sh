# Cable pulls and console input on two demo guests sharing a Linux bridge:
# log in and run commands with `n3x-ctl send` only (escapes decoded by
# n3x-ctl, Ctrl-C as \x03); `link v1 down` takes the carrier away inside the
# guest and stops its pings to v2 and the fabric's pings to it, `link up`
# brings both back; status and graph show the pulled cable; a VM restarted
# with its cable pulled boots without carrier until it is plugged.
. "$(dirname "$0")/lib.sh"

need_root "network namespaces"
need_cmd ip dnsmasq qemu-system-x86_64 python3

name=it-link
conf=$(write_conf link "[fabric]
name = $name
[network lan]
switch = linux-bridge
bridge = n3xlk0
host-interface = n3xlk0
address = 192.168.100.1/24
dhcp = 192.168.100.100,192.168.100.200,1h
$(vm_block v1 x86_64 'nic = lan mac=52:54:00:aa:01:01 ip=192.168.100.10')
$(vm_block v2 x86_64 'nic = lan mac=52:54:00:aa:01:02 ip=192.168.100.11' 'nic = lan mac=52:54:00:aa:01:03')")
NS=n3x-$name
start_launcher "$conf"

for vm in v1 v2; do
	ctl wait "$vm" --lease --timeout 120 >/dev/null || fail "$vm: no lease"
done

# Everything typed below goes through `n3x-ctl send`, never a console client.
send() { ctl send "$@" || fail "send $*: exit $?"; }

# login VM: root/test, typed with send.
send_line() { send "$1" "$2\\n"; }
login() { guest_login "$1" send_line; }

# run VM EXPR [TIMEOUT]: type `echo @@TAG=EXPR` into VM's shell and print
# what EXPR gave (a random tag per call: $(run ...) is a subshell).
run() {
	local tag=$RANDOM$RANDOM line
	send "$1" "echo @@$tag=$2\\n"
	line=$(ctl wait "$1" --console "^@@$tag=" --timeout "${3:-30}") || fail "$1: '$2' did not finish"
	echo "${line#*=}"
}

# carrier VM [IFACE]: /sys/class/net/IFACE/carrier inside VM (eth0).
carrier() { run "$1" "\$(cat /sys/class/net/${2:-eth0}/carrier)"; }
# nic_link VM: nics[0].link of VM in status --json.
nic_link() {
	local json
	json=$(ctl status --json) || return 1
	python3 -c '
import json, sys
print([v for v in json.loads(sys.argv[2])["vms"] if v["name"] == sys.argv[1]][0]["nics"][0]["link"])' "$1" "$json"
}
# ping_rc VM IP: the exit status of three pings from inside VM.
ping_rc() { run "$1" "\$(ping -c 3 -W 1 $2 >/dev/null; echo \$?)" 40; }

login v1
# A command and its output, typed with send.
send v1 'echo answer-$((6 * 7))\n'
line=$(ctl wait v1 --console '^answer-[0-9]+$' --timeout 20) || fail "v1: the shell did not answer"
expect_eq "$line" "answer-42" "command typed with send"
# Ctrl-C as an escape ends a command that would run for minutes.
send v1 'sleep 600\n'
sleep 1
send v1 '\x03'
expect_eq "$(run v1 'after-ctrl-c' 15)" "after-ctrl-c" "shell back after \\x03"
# Several words are one text, joined by spaces, as typed.
send v1 echo two words '\n'
ctl wait v1 --console '^two words$' --timeout 20 >/dev/null || fail "send VM WORD... did not type the words"
note "send: login, a command, Ctrl-C"

# Bad input is the user's: exit 2, one line naming it, nothing typed.
rc=0; err=$(ctl send v1 'oops\q' 2>&1) || rc=$?
expect_eq "$rc" 2 "send with a bad escape: exit status"
expect_eq "$(wc -l <<<"$err")" 1 "send with a bad escape: lines"
[[ "$err" == *'bad escape \q at character 5'* ]] || fail "send with a bad escape said: $err"
rc=0; err=$(ctl link v1/3 down 2>&1) || rc=$?
expect_eq "$rc" 2 "link to a NIC v1 lacks: exit status"
[[ "$err" == *'v1 has no NIC 3 (only NIC 0)'* ]] || fail "link v1/3 said: $err"
rc=0; ctl link v1 sideways >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "link v1 sideways: exit status"
rc=0; ctl link nosuch down >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "link of an unknown VM: exit status"

# Plugged: carrier, pings both ways.
expect_eq "$(carrier v1)" 1 "v1 carrier before the pull"
expect_eq "$(ping_rc v1 192.168.100.11)" 0 "v1 -> v2 before the pull"
ip netns exec "$NS" ping -c 2 -W 2 192.168.100.10 >/dev/null || fail "fabric -> v1 before the pull"

# Pulled.  With the events verb (issue 9's event stream, merged apart
# from this test) the pull is also a "link" event.
evpid=
if ctl help | grep -q '^  events '; then
	ctl events v1 --json --until link --timeout 30 >"$TMP/events" 2>&1 &
	evpid=$!
	EXTRA_PIDS="${EXTRA_PIDS:-} $evpid"
	sleep 1 # its subscription is in before the pull
fi
out=$(ctl link v1 down) || fail "link v1 down"
expect_eq "$out" "v1/0: down" "link v1 down says"
if [ -n "$evpid" ]; then
	rc=0; wait "$evpid" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$TMP/events"; fail "events --until link: exit status $rc"; }
	python3 -c '
import json, sys
ev = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert (ev["vm"], ev["kind"], ev["data"]) == ("v1", "link", {"nic": 0, "up": False}), ev' "$TMP/events" ||
		{ cat "$TMP/events"; fail "no link event for the pull"; }
fi
expect_eq "$(carrier v1)" 0 "v1 carrier after the pull"
rc=$(ping_rc v1 192.168.100.11) || fail "v1: ping did not finish"
[[ "$rc" =~ ^[1-9][0-9]*$ ]] || fail "v1 -> v2 with the cable pulled: ping exit status '$rc', want a failure"
rc=0; ip netns exec "$NS" ping -c 3 -W 1 192.168.100.10 >/dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "fabric -> v1 still answers with the cable pulled"
expect_eq "$(ctl link v1/0 down)" "v1/0: down" "pulling a pulled cable is no error"
got=$(nic_link v1) || fail "status --json: no link for v1"
expect_eq "$got" down "status --json: v1 nics[0].link"
got=$(nic_link v2) || fail "status --json: no link for v2"
expect_eq "$got" up "status --json: v2 nics[0].link"
ctl status | grep -E '^v1 +0 \(down\) +lan ' >/dev/null || { ctl status; fail "status table: no (down) on v1's NIC"; }
ctl status | grep -E '^v2 +0 +lan ' >/dev/null || { ctl status; fail "status table: v2's NIC looks pulled"; }
ctl graph --format json | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert [e["link"] for e in m["edges"] if e["from"] == "vm:v1"] == ["down"]
assert [e["link"] for e in m["edges"] if e["from"] == "vm:v2"] == ["up", "up"]' ||
	{ ctl graph --format json; fail "graph: v1's link is not down (or v2's two not up)"; }
grep -q 'vm v1: NIC 0 cable pulled' "$TMP/launcher.log" || fail "the pull is not in the supervisor's log"
note "link down: carrier 0, pings fail both ways, status and graph say so"

# Plugged again.
expect_eq "$(ctl link v1/0 up)" "v1/0: up" "link v1/0 up says"
expect_eq "$(carrier v1)" 1 "v1 carrier after the plug"
expect_eq "$(ping_rc v1 192.168.100.11)" 0 "v1 -> v2 after the plug"
ip netns exec "$NS" ping -c 2 -W 2 192.168.100.10 >/dev/null || fail "fabric -> v1 after the plug"
got=$(nic_link v1) || fail "status --json: no link for v1"
expect_eq "$got" up "status --json: v1 nics[0].link after the plug"
note "link up: carrier 1, pings work again"

# A restart keeps the cable pulled: the new guest boots without carrier
# and gets no lease until it is plugged.
ctl link v1 down >/dev/null || fail "link v1 down before the restart"
old=$(live_pid v1) || fail "v1 has no QEMU"
ctl restart v1 >/dev/null || fail "restart v1"
new=$(live_pid v1) || fail "v1 has no QEMU after the restart"
[ "$new" != "$old" ] || fail "v1 was not restarted (pid $old)"
login v1
expect_eq "$(carrier v1)" 0 "v1 carrier after a restart with the cable pulled"
got=$(nic_link v1) || fail "status --json: no link for v1"
expect_eq "$got" down "status --json: v1 nics[0].link after the restart"
# The console since this QEMU started: no lease through a pulled cable.
rc=0; ctl wait v1 --console 'n3x-guest: lease eth0' --timeout 3 >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 1 "v1 lease wait with the cable pulled (1: timed out)"
ctl link v1 up >/dev/null || fail "link v1 up after the restart"
ctl wait v1 --console 'n3x-guest: lease eth0 192.168.100.10' --timeout 60 >/dev/null ||
	fail "v1 got no lease once plugged after the restart"
expect_eq "$(carrier v1)" 1 "v1 carrier once plugged after the restart"
expect_eq "$(ping_rc v1 192.168.100.11)" 0 "v1 -> v2 once plugged after the restart"
note "restart with the cable pulled: no carrier until plugged"

# No QEMU, no console.
ctl stop v2 >/dev/null || fail "stop v2"
rc=0; err=$(ctl send v2 'x\n' 2>&1) || rc=$?
expect_eq "$rc" 1 "send to a stopped VM: exit status"
expect_eq "$err" "n3x-ctl: v2: the console is not connected (the VM is stopped)" "send to a stopped VM"
# A stopped VM's cables are a setting its next QEMU gets; without /N the
# verb takes every NIC.
out=$(ctl link v2 down) || fail "link v2 down while stopped"
expect_eq "$out" $'v2/0: down\nv2/1: down' "link of a stopped VM's two NICs"
ctl start v2 >/dev/null || fail "start v2"
login v2
expect_eq "$(carrier v2 eth0)" 0 "v2 eth0 carrier: pulled while stopped"
expect_eq "$(carrier v2 eth1)" 0 "v2 eth1 carrier: pulled while stopped"
expect_eq "$(ctl link v2/1 up)" "v2/1: up" "link v2/1 up"
expect_eq "$(carrier v2 eth1)" 1 "v2 eth1 carrier once plugged"
expect_eq "$(carrier v2 eth0)" 0 "v2 eth0 carrier: still pulled"
ctl status | grep -E '^v2 +0 \(down\) ' >/dev/null || { ctl status; fail "status table: v2/0 not down"; }
ctl status | grep -E '^v2 +1 +lan ' >/dev/null || { ctl status; fail "status table: v2/1 not up"; }
note "stopped VM: send refused, links kept for the next start, one NIC of two"

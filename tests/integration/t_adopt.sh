# Adoption (issue 10): QEMU, the fabric, dnsmasq and the qdiscs outlive a
# supervisor killed with SIGKILL, and the next n3x-launch of the topology
# takes them over instead of booting the guests again.
#
# Three demo guests, on an Open vSwitch network (a1, a2) and a Linux bridge
# (a3), with the lossy profile applied (n3x-ctl tc; netem where the kernel
# has it, else tbf).  Whether a guest rebooted is read on its
# serial console: the kernel's boot id (/proc/sys/kernel/random/boot_id,
# new at every boot) and /proc/uptime.  That is what the guest agent would
# report too; the demo guests have no agent, but they boot in seconds where
# three Debian guests take minutes under TCG, and the console is itself one
# of the things adoption must reconnect.
#
#   - kill -9 of n3x-launch leaves every QEMU, dnsmasq, the private OVS,
#     the namespace and the qdiscs; a line typed into a1's serial socket
#     during the gap runs in the guest and its output reaches console.log;
#   - the next n3x-launch adopts: same QEMU pids, status says adopted and
#     monitor connected, boot ids unchanged and uptimes on, the gap's output
#     in console.log, the profile applied at run time still active and
#     `tc qdisc show` in the namespace unchanged (the netem
#     seeds too: nothing was made again) and its counters not reset, leases,
#     dnsmasq and the OVS ports unchanged;
#   - 20 more kill -9 / relaunch cycles: after them the same processes,
#     runtime files, links (taps, veths), ports, qdiscs and namespaces as
#     before them, and still no guest rebooted;
#   - a VM whose section changed in the file is adopted as it runs and
#     reported (status "stale", one log line);
#   - `n3x-ctl shutdown --keep-vms`, and SIGTERM to `n3x-launch
#     --detach-vms`, leave the same for the next one;
#   - pause, resume and stop work on adopted VMs, and shutdown leaves
#     nothing.
. "$(dirname "$0")/lib.sh"

need_root "network namespaces"
need_cmd ip tc dnsmasq socat qemu-system-x86_64 ovs-vsctl ovsdb-server ovs-vswitchd python3

name=it-adopt
NS=n3x-$name
# The lossy profile needs netem; a kernel without it (this project's CI
# host has none: t_netem_vm) gets a rate-only one, tbf on every link.
probe=$NS-probe
EXTRA_NETNS="$NS $probe"
ip netns add "$probe" || fail "ip netns add"
ip -n "$probe" link add d0 type veth peer name d1 || fail "ip link add"
if tc -n "$probe" qdisc add dev d0 root netem delay 1ms 2>/dev/null; then
	shape=netem rules="a1 = loss 0.1% delay 5ms jitter 2ms distribution normal
a2 = rate 20mbit loss 1%
* = loss 1%"
else
	shape=tbf rules="a1 = rate 10mbit burst 32kb
a2 = to-vm: rate 20mbit
* = rate 50mbit"
fi
ip netns del "$probe"
EXTRA_NETNS=$NS
conf=$(write_conf adopt "[fabric]
name = $name
[network lan]
switch = ovs
bridge = adbr0
host-interface = adhost0
address = 192.168.120.1/24
dhcp = 192.168.120.100,192.168.120.200,1h
[network lab]
switch = linux-bridge
bridge = adbr1
host-interface = adbr1
address = 192.168.121.1/24
dhcp = 192.168.121.100,192.168.121.200,1h
[profile lossy]
$rules
$(vm_block a1 x86_64 'nic = lan mac=52:54:00:ad:00:01 ip=192.168.120.11')
$(vm_block a2 x86_64 'nic = lan mac=52:54:00:ad:00:02 ip=192.168.120.12')
$(vm_block a3 x86_64 'nic = lab mac=52:54:00:ad:00:03 ip=192.168.121.13')")
RUN=$XDG_RUNTIME_DIR/n3x/$name
STATE=$XDG_STATE_HOME/n3x/$name
VMS="a1 a2 a3"

# our_procs: "COMM PID" of every process the supervisors of this test
# started (QEMU, dnsmasq, the private OVS): they carry this test's
# XDG_RUNTIME_DIR in their environment.
our_procs() {
	local d comm
	for d in /proc/[0-9]*; do
		comm=$(cat "$d/comm" 2>/dev/null) || continue
		case $comm in qemu-system*|dnsmasq|ovsdb-server|ovs-vswitchd) ;; *) continue ;; esac
		tr '\0' '\n' 2>/dev/null <"$d/environ" | grep -qx "XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR" &&
			echo "$comm ${d#/proc/}"
	done | sort
}

# A supervisor killed by this test leaves QEMU, dnsmasq and OVS running
# (that is the point); should the test fail then, they are ended here.
test_cleanup() {
	local p
	kill -0 "$LPID" 2>/dev/null && return 0 # lib.sh's SIGTERM stops everything
	for p in $(our_procs | awk '{ print $2 }'); do kill -KILL "$p" 2>/dev/null || true; done
}

# guest_say VM CMD: run CMD in VM's logged-in shell, print its output (one line).
guest_say() {
	local tag=$RANDOM$RANDOM line
	type_in "$1" "echo @@$tag=\$($2)"
	line=$(ctl wait "$1" --console "^@@$tag=" --timeout 30) || fail "$1: '$2' did not answer"
	echo "${line#*=}"
}

# What a relaunch must not change, one file per kind in $1.
snapshot() {
	mkdir -p "$1"
	ip netns exec "$NS" tc qdisc show >"$1/qdiscs" || fail "tc qdisc show"
	ip -n "$NS" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort >"$1/links" ||
		fail "ip link show"
	ovs-vsctl --db="unix:$RUN/ovs/db.sock" list-ports adbr0 | sort >"$1/ports" || fail "ovs-vsctl list-ports"
	ip netns list | awk -v n="$NS" '$1 == n' >"$1/netns" || fail "ip netns list"
	sort "$STATE/dnsmasq.leases" >"$1/leases" || fail "no lease file"
	(cd "$RUN" && find . | sort) >"$1/files"
	our_procs >"$1/procs"
}

# same_as DIR WHAT...: the snapshot kinds named are as in DIR now.
same_as() {
	local d=$1 k
	shift
	snapshot "$TMP/now"
	for k in "$@"; do
		diff -u "$d/$k" "$TMP/now/$k" >&2 || fail "$k changed"
	done
}

# The qdiscs' packet counters: "DEV HANDLE PACKETS" lines.
counters() {
	ip netns exec "$NS" tc -s qdisc show | awk '
		/^qdisc/ { dev = $5; h = $3 }
		/Sent/ { print dev, h, $4 }' | sort
}

# relaunch [OPTION...]: start a new supervisor and wait until every VM is
# adopted.
relaunch() {
	start_launcher "$conf" "$@"
	for vm in $VMS; do
		ctl wait "$vm" --state running --timeout 30 >/dev/null || fail "$vm not running after the relaunch"
	done
}

kill9() {
	local rc=0
	kill -KILL "$LPID"
	wait "$LPID" 2>/dev/null || rc=$? # quietly: bash would report "Killed"
	expect_eq "$rc" 137 "n3x-launch's exit status after SIGKILL"
}

start_launcher "$conf"
declare -A boot up
QEMU_PIDS=
for vm in $VMS; do
	ctl wait "$vm" --lease --timeout 120 >/dev/null || fail "$vm: no lease"
	guest_login "$vm"
	boot[$vm]=$(guest_say "$vm" 'cat /proc/sys/kernel/random/boot_id')
	p=$(live_pid "$vm") || fail "$vm has no QEMU"
	QEMU_PIDS="$QEMU_PIDS $p"
done
QEMU_PIDS=${QEMU_PIDS# }
# Applied at run time: the next supervisor must learn it from the fabric,
# the file says nothing of it.
ctl tc lossy >/dev/null || fail "tc lossy"
# Traffic through the shaped links, so their counters have something to keep.
ip netns exec "$NS" ping -q -c 20 -i 0.05 -w 10 192.168.120.11 >/dev/null || fail "a1 does not answer ping"
snapshot "$TMP/before"
counters >"$TMP/counters.before"
grep -q "$shape" "$TMP/before/qdiscs" || fail "no $shape qdisc under the lossy profile"
expect_eq "$(grep -c '^qemu' "$TMP/before/procs")" 3 "QEMUs running"
dns=$(cat "$RUN/dnsmasq.pid") || fail "no dnsmasq.pid"
for vm in $VMS; do up[$vm]=$(guest_say "$vm" 'cut -d" " -f1 /proc/uptime'); done
t_kill=$(date +%s)

# ---- one kill -9 and relaunch, looked at closely ----
kill9
sleep 1
for p in $QEMU_PIDS $dns; do
	kill -0 "$p" 2>/dev/null || fail "process $p died with the supervisor"
done
# Typed into a1's serial console while no supervisor runs: QEMU's own
# logfile= keeps the guest's answer ($((6*7)) makes it differ from the echo).
gap=gap-$RANDOM
printf 'echo %s-$((6*7))\r' "$gap" | socat -t 1 - "unix-connect:$RUN/vm/a1/serial.sock" >/dev/null ||
	fail "cannot connect to a1's serial socket during the gap"
for _ in $(seq 1 50); do grep -q "^$gap-42" "$STATE/vm/a1/console.log" && break; sleep 0.1; done
grep -q "^$gap-42" "$STATE/vm/a1/console.log" || fail "the gap's console output is not in console.log"

t0=$(date +%s%N)
relaunch
note "relaunch to every VM running: $((($(date +%s%N) - t0) / 1000000)) ms"
for vm in $VMS; do
	p=$(live_pid "$vm") || fail "$vm has no QEMU after the relaunch"
	[[ " $QEMU_PIDS " == *" $p "* ]] || fail "$vm: QEMU pid $p, not one of $QEMU_PIDS"
	expect_field "$vm" adopted True
	expect_field "$vm" monitor connected
	expect_eq "$(guest_say "$vm" 'cat /proc/sys/kernel/random/boot_id')" "${boot[$vm]}" "$vm boot id"
	u=$(guest_say "$vm" 'cut -d" " -f1 /proc/uptime')
	python3 -c 'import sys; a, b, gap = map(float, sys.argv[1:]); sys.exit(b < a + gap - 1)' \
		"${up[$vm]}" "$u" "$(($(date +%s) - t_kill))" || fail "$vm: uptime ${up[$vm]} s before, $u s after"
done
grep -q "adopted QEMU pid" "$TMP/launcher.log" || fail "the adoptions were not logged"
expect_eq "$(cat "$RUN/dnsmasq.pid")" "$dns" "dnsmasq pid"
expect_eq "$(ctl status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["fabric"]["profile"])')" \
	lossy "profile after the relaunch"
same_as "$TMP/before" procs qdiscs links ports netns leases
counters >"$TMP/counters.after"
python3 - "$TMP/counters.before" "$TMP/counters.after" <<'EOF' || fail "qdisc counters were reset"
import sys
read = lambda f: {" ".join(l.split()[:2]): int(l.split()[2]) for l in open(f)}
a, b = read(sys.argv[1]), read(sys.argv[2])
sys.exit(any(k not in b or b[k] < v for k, v in a.items()))
EOF
! grep -q "mended" "$TMP/launcher.log" || fail "adoption mended qdiscs that were as the profile says"
note "adopted: same pids, boot ids, qdiscs (and counters), leases, ports; gap output in console.log"

# ---- 20 more, then nothing may have piled up ----
snapshot "$TMP/cycles"
for i in $(seq 1 20); do
	kill9
	relaunch
	for vm in $VMS; do
		p=$(live_pid "$vm") || fail "cycle $i: $vm has no QEMU"
		[[ " $QEMU_PIDS " == *" $p "* ]] || fail "cycle $i: $vm runs a new QEMU $p"
	done
done
same_as "$TMP/cycles" procs files links ports qdiscs netns leases
for vm in $VMS; do
	expect_eq "$(guest_say "$vm" 'cat /proc/sys/kernel/random/boot_id')" "${boot[$vm]}" "$vm boot id after 20 cycles"
done
note "20 kill -9 / relaunch cycles: nothing leaked, no guest rebooted"

# ---- a VM whose definition changed runs on as it was, and says so ----
sed '/^\[vm a3\]/,/^\[/ s/^memory = 256M$/memory = 384M/' "$conf" >"$TMP/changed.conf"
grep -q "memory = 384M" "$TMP/changed.conf" || fail "could not change a3's memory"
kill9
start_launcher "$TMP/changed.conf"
ctl wait a3 --state running --timeout 30 >/dev/null || fail "a3 not running after the relaunch"
stale=$(status_field a3 stale) || fail "status --json has no stale for a3, whose memory changed"
[[ "$stale" == *384* ]] || fail "a3's stale note does not name the new memory: $stale"
ctl status --json | python3 -c 'import json, sys; sys.exit(any("stale" in v for v in json.load(sys.stdin)["vms"] if v["name"] != "a3"))' ||
	fail "a VM whose definition did not change is called stale"
expect_eq "$(grep -c "vm a3: runs as it was started" "$TMP/launcher.log")" 1 "log lines about a3's change"
kill9
relaunch
ctl status --json | python3 -c 'import json, sys; sys.exit(any("stale" in v for v in json.load(sys.stdin)["vms"]))' ||
	fail "stale after the file was put back"
note "a changed definition: adopted as it runs, reported once (\"$stale\")"

# ---- the upgrade path: leaving on purpose ----
ctl shutdown --keep-vms >/dev/null || fail "shutdown --keep-vms"
wait_gone "$LPID" 10 || fail "n3x-launch still runs after shutdown --keep-vms"
same_as "$TMP/cycles" procs links ports qdiscs netns leases
relaunch --detach-vms
grep -q "adopted 3 of 3 VMs" "$TMP/launcher.log" || fail "shutdown --keep-vms: not every VM adopted"
kill -TERM "$LPID"
wait_gone "$LPID" 10 || fail "n3x-launch --detach-vms still runs after SIGTERM"
same_as "$TMP/cycles" procs links ports qdiscs netns leases
relaunch
grep -q "adopted 3 of 3 VMs" "$TMP/launcher.log" || fail "--detach-vms: not every VM adopted"
note "shutdown --keep-vms and --detach-vms + SIGTERM leave everything to the next supervisor"

# ---- the adopted VMs obey ----
ctl pause a1 >/dev/null || fail "pause a1"
expect_field a1 state paused
ctl resume a1 >/dev/null || fail "resume a1"
expect_field a1 state running
a3=$(live_pid a3) || fail "a3 has no QEMU"
ctl stop a3 >/dev/null || fail "stop a3"
expect_field a3 state stopped
wait_gone "$a3" 10 || fail "a3's QEMU $a3 still runs after stop"
grep -q 'n3x-guest: powering off' "$STATE/vm/a3/console.log" || fail "a3 was not stopped gracefully"
note "pause, resume and a graceful stop work on adopted VMs"

ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 60 || fail "n3x-launch still runs after shutdown"
for p in $QEMU_PIDS; do wait_gone "$p" 10 || fail "QEMU $p outlived the shutdown"; done
nothing_left "$name"
left=$(our_procs)
[ -z "$left" ] || { echo "$left"; fail "processes left after shutdown"; }
note "shutdown after adoption: nothing left"

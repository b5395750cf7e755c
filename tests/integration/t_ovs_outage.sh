# The loop never waits for Open vSwitch, and OVS comes back by itself:
# - ovsdb-server stopped (SIGSTOP) for 10 s while a VM is killed and
#   started again: every `n3x-ctl status` answers within 100 ms, and once
#   ovsdb-server runs again the VM's port is there and live;
# - ovsdb-server killed: the supervisor restarts it on the same database,
#   says so (event "ovs-restarted"), reconnects, and the next VM start gets
#   its port;
# - the private ovs-vswitchd runs as n3x-ovs with only network
#   capabilities.
# Checked with ovs-vsctl against the private db.sock, as a user would.
. "$(dirname "$0")/lib.sh"

need_root "network namespaces"
need_cmd ip socat qemu-system-x86_64 ovs-vsctl ovsdb-server ovs-vswitchd python3

name=it-ovsout
conf=$(write_conf ovsout "[fabric]
name = $name
[network lan]
switch = ovs
bridge = oobr0
host-interface = oohost0
address = 192.168.101.1/24
$(vm_block a x86_64 'nic = lan mac=52:54:00:ab:00:01')")
RUN=$XDG_RUNTIME_DIR/n3x/$name
NS=n3x-$name
STOPPED=
test_cleanup() {
	# Never leave ovsdb-server stopped: the supervisor's shutdown needs it.
	[ -z "$STOPPED" ] || kill -CONT "$STOPPED" 2>/dev/null || true
}

vsctl() { ip netns exec "$NS" ovs-vsctl --timeout=5 --db="unix:$RUN/ovs/db.sock" "$@"; }

# port_live PORT SECONDS: PORT is on oobr0 and ovs-vswitchd opened it.
port_live() {
	local ports ofport
	for _ in $(seq 1 $(($2 * 5))); do
		ports=$(vsctl list-ports oobr0 2>/dev/null) || ports=
		if grep -qx "$1" <<<"$ports"; then
			ofport=$(vsctl get Interface "$1" ofport 2>/dev/null) || ofport=
			[ -n "$ofport" ] && [ "$ofport" -gt 0 ] 2>/dev/null && return 0
		fi
		sleep 0.2
	done
	return 1
}

# timed CMD...: run it, print how long it took in ms; fail if it fails.
timed() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null || fail "$* failed"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

start_launcher "$conf"
ctl wait a --state running --timeout 60 >/dev/null || fail "a did not start"
port_live a-n0_p 20 || fail "a-n0_p not live on oobr0 at start"

# --- ovs-vswitchd's user and capabilities
vsd=$(cat "$RUN/ovs/ovs-vswitchd.pid") || fail "no ovs-vswitchd.pid"
if grep -q "ovs-vswitchd runs as root" "$TMP/launcher.log"; then
	note "ovs-vswitchd as root on this host: $(grep -o 'runs as root.*' "$TMP/launcher.log" | head -1)"
else
	uid=$(awk '/^Uid:/ { print $2 }' "/proc/$vsd/status") || fail "no /proc/$vsd/status"
	expect_eq "$uid" "$(id -u n3x-ovs)" "ovs-vswitchd's uid"
	capeff=$(awk '/^CapEff:/ { print $2 }' "/proc/$vsd/status")
	# Nothing beyond CAP_NET_BIND_SERVICE..CAP_IPC_LOCK (bits 10-14).
	[ $((0x$capeff & ~(0x1f << 10))) -eq 0 ] || fail "ovs-vswitchd keeps capabilities $capeff"
	note "ovs-vswitchd runs as n3x-ovs (uid $uid), CapEff $capeff"
fi

# --- ovsdb-server stopped for 10 s while the VM restarts
server=$(cat "$RUN/ovs/ovsdb-server.pid") || fail "no ovsdb-server.pid"
expect_eq "$(cat "/proc/$server/comm")" ovsdb-server "process in ovsdb-server.pid"
# The supervisor's own answer time, without n3x-ctl's exec: one client on
# control.sock asking for status every 20 ms for the 10 s.
python3 -c '
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
worst = 0.0; end = time.monotonic() + 10
while time.monotonic() < end:
    t = time.monotonic(); s.sendall(b"{\"cmd\":\"status\"}\n")
    assert json.loads(f.readline())["ok"]
    worst = max(worst, time.monotonic() - t); time.sleep(0.02)
print(int(worst * 1000))' "$RUN/control.sock" >"$TMP/probe.out" &
PROBE=$!
EXTRA_PIDS="${EXTRA_PIDS:-} $PROBE"
kill -STOP "$server"
STOPPED=$server
t_stop=$(date +%s)
max=0 n=0 all=
kill_ms=$(timed ctl kill a)
start_ms=$(timed ctl start a)
while [ $(($(date +%s) - t_stop)) -lt 10 ]; do
	ms=$(timed ctl status)
	n=$((n + 1)) all="$all $ms"
	[ "$ms" -le "$max" ] || max=$ms
	sleep 0.05
done
wait "$PROBE" || fail "the control.sock client failed"
kill -CONT "$server"
STOPPED=
probe=$(cat "$TMP/probe.out")
slowest=$(tr ' ' '\n' <<<"$all" | sort -n | tail -5 | tr '\n' ' ')
note "ovsdb-server stopped 10 s: kill ${kill_ms} ms, start ${start_ms} ms, $n n3x-ctl status calls, slowest ${max} ms (top 5:$slowest); on one connection, slowest answer ${probe} ms"
[ "$probe" -lt 100 ] || fail "the supervisor took $probe ms to answer status while ovsdb-server was stopped"
[ "$max" -lt 100 ] || fail "n3x-ctl status took $max ms while ovsdb-server was stopped (the supervisor itself at worst $probe ms)"
[ "$kill_ms" -lt 1000 ] && [ "$start_ms" -lt 1000 ] || fail "kill/start waited for OVS: ${kill_ms}/${start_ms} ms"
ctl wait a --state running --timeout 60 >/dev/null || fail "a did not run again"
port_live a-n0_p 20 || fail "a-n0_p not live after ovsdb-server continued"

# --- ovsdb-server killed: restarted, reconnected, the next start gets its port
ctl events --json --until ovs-restarted --timeout 30 >"$TMP/events.out" 2>&1 &
EV=$!
sleep 0.3
kill -KILL "$server"
new=
for _ in $(seq 1 100); do
	new=$(cat "$RUN/ovs/ovsdb-server.pid" 2>/dev/null) || new=
	[ -n "$new" ] && [ "$new" != "$server" ] && kill -0 "$new" 2>/dev/null && break
	sleep 0.1
done
[ -n "$new" ] && [ "$new" != "$server" ] || fail "ovsdb-server was not restarted"
expect_eq "$(cat "/proc/$new/comm")" ovsdb-server "process in ovsdb-server.pid after the restart"
wait "$EV" || { cat "$TMP/events.out"; fail "no ovs-restarted event"; }
grep -q '"ovs-restarted"' "$TMP/events.out" || { cat "$TMP/events.out"; fail "no ovs-restarted event"; }
for _ in $(seq 1 50); do
	grep -q "openvswitch: connected again" "$TMP/launcher.log" && break
	sleep 0.2
done
grep -q "openvswitch: connected again" "$TMP/launcher.log" || fail "no reconnect to the restarted ovsdb-server"
port_live a-n0_p 20 || fail "a-n0_p lost with the restart of ovsdb-server"
before=$(vsctl get Interface a-n0_p _uuid) || fail "no Interface a-n0_p"
ctl kill a >/dev/null || fail "kill a"
ctl start a >/dev/null || fail "start a"
ctl wait a --state running --timeout 60 >/dev/null || fail "a did not run again"
port_live a-n0_p 20 || fail "the VM started after the restart has no live port"
after=$(vsctl get Interface a-n0_p _uuid) || fail "no Interface a-n0_p"
[ "$before" != "$after" ] || fail "a-n0_p is the old row: the start did not add its port"
note "ovsdb-server killed: restarted as $new, reconnected, the next start got its port"

kill -TERM "$LPID"
wait_gone "$LPID" 60 || fail "n3x-launch still running after SIGTERM"
nothing_left "$name"

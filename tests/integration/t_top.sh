# n3x-ctl top on two demo guests on a Linux bridge: `top --once --json` has
# one entry per VM (pid, CPU, RSS, its tap); a UDP flood from the fabric's
# namespace to one guest moves that guest's rx (what it receives: its tap's
# tx, which `ip -s link` counts independently) while the idle guest's rx
# stays near zero, and shaping it to 2 Mbit/s shows a backlog and the
# drops `tc -s` counts; then the live view runs in tmux (a 120x30 pane): every
# VM name shows, `m` puts the guest holding 96 MiB more RAM (a file written
# into its initramfs root) first and `n` puts the names back in order, `q`
# leaves the pane at the shell with exit status 0, and a supervisor that
# shuts down under a running top ends it with one error line and exit 3.
# About 20 s.
. "$(dirname "$0")/lib.sh"

need_root "network namespaces, the fabric's taps"
need_cmd ip tc dnsmasq python3 tmux qemu-system-x86_64 socat

NAME=it-top NS=n3x-it-top
BUSY_IP=192.168.93.10 IDLE_IP=192.168.93.11
RUN=$XDG_RUNTIME_DIR/n3x/$NAME
TSOCK=$TMP/tmux.sock
FLOODPID=
# Ours: the flood, then the tmux server on our own socket (with the shell
# and any n3x-ctl top in its pane).
test_cleanup() {
	[ -z "$FLOODPID" ] || kill "$FLOODPID" 2>/dev/null || true
	if [ -S "$TSOCK" ]; then
		tmux -S "$TSOCK" kill-server 2>/dev/null || true
	fi
}

conf=$(write_conf top "[fabric]
name = $NAME
[network lan]
switch = linux-bridge
bridge = topbr0
host-interface = topbr0
address = 192.168.93.1/24
dhcp = 192.168.93.100,192.168.93.200,1h
$(vm_block busy x86_64 "nic = lan mac=52:54:00:93:00:10 ip=$BUSY_IP")
$(vm_block idle x86_64 "nic = lan mac=52:54:00:93:00:11 ip=$IDLE_IP")")
start_launcher "$conf"
t0=$(date +%s)
for vm in busy idle; do
	ctl wait "$vm" --lease --timeout 120 >/dev/null || fail "$vm: no lease"
done
for i in $(seq 1 20); do
	ip netns exec "$NS" ping -c 1 -W 1 "$BUSY_IP" >/dev/null && break
	[ "$i" -lt 20 ] || fail "the namespace cannot ping busy"
done
note "both guests up in $(($(date +%s) - t0)) s"

# top_json [ARGS]: `top --once --json` into $TMP/top.json.
top_json() { ctl top --once --json "$@" >"$TMP/top.json" || fail "top --once --json $* failed"; }

# check PYTHON: run PYTHON with the view as d (and vm(name), nic0(name));
# its output is printed; its failure fails the test.
check() {
	local out
	out=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
def vm(n):
    m = [v for v in d["vms"] if v["name"] == n]
    assert len(m) == 1, "%d entries for %s" % (len(m), n)
    return m[0]
def nic0(n):
    return vm(n)["nics"][0]
'"$1" "$TMP/top.json" "${@:2}" 2>&1) || { echo "$out" >&2; cat "$TMP/top.json" >&2; fail "top --once --json: ${CHECK_WHAT:-check}"; }
	[ -z "$out" ] || note "$out"
}

# One entry per VM, every field there.
top_json --interval 0.5
CHECK_WHAT="one entry per VM" check '
assert sorted(v["name"] for v in d["vms"]) == ["busy", "idle"], d["vms"]
assert 0.4 <= d["interval_s"] <= 2, d["interval_s"]
for v in d["vms"]:
    assert v["state"] == "running", v
    assert isinstance(v["pid"], int) and v["pid"] > 0, v
    assert isinstance(v["cpu_pct"], (int, float)) and v["cpu_pct"] >= 0, v
    assert v["rss_bytes"] > 10 * 2**20, v
    assert len(v["nics"]) == 1, v
    n = v["nics"][0]
    assert n["index"] == 0 and n["tap"] == v["name"] + "-n0", n
    for k in ("rx_bps", "tx_bps", "rx_pps", "tx_pps", "rx_drops", "tx_drops", "backlog_bytes", "backlog_pkts"):
        assert isinstance(n[k], (int, float)), (k, n)'
pid=$(status_field busy pid) || fail "busy: no pid"
check "assert vm('busy')['pid'] == $pid, 'pid differs from status'"

# Quiet first: neither guest receives much.
top_json
CHECK_WHAT="quiet guests" check '
for n in ("busy", "idle"):
    assert nic0(n)["rx_bps"] < 100000, (n, nic0(n))'

# A UDP flood to busy, 1000-byte datagrams at about 8 Mbit/s, from the
# fabric's namespace, for as long as it takes.
ip netns exec "$NS" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
buf = b"x" * 1000
end = time.monotonic() + 20
while time.monotonic() < end:
    for _ in range(10):
        s.sendto(buf, (sys.argv[1], 9))
    time.sleep(0.01)' "$BUSY_IP" &
FLOODPID=$!
sleep 0.5
# The tap's own tx counter, read with iproute2 around top's two samples.
iptx() { ip -n "$NS" -s -j link show busy-n0 | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["bytes"])'; }
a=$(iptx) || fail "ip -s link show busy-n0"
ta=$(date +%s%N)
top_json --sort rx
b=$(iptx) || fail "ip -s link show busy-n0"
tb=$(date +%s%N)
CHECK_WHAT="busy's rx under the flood" check '
ip_bps = (int(sys.argv[3]) - int(sys.argv[2])) * 8 / ((int(sys.argv[5]) - int(sys.argv[4])) / 1e9)
b, i = nic0("busy"), nic0("idle")
assert d["vms"][0]["name"] == "busy", "--sort rx: busy first"
assert b["rx_bps"] > 2000000 and b["rx_pps"] > 250, b
assert b["rx_bps"] > 20 * max(i["rx_bps"], 1000), (b, i)
assert i["rx_bps"] < 100000, i
# top samples within the window iproute2 measured: the same flow
assert 0.6 * ip_bps <= b["rx_bps"] <= 1.6 * ip_bps, (b["rx_bps"], ip_bps)
print("flood: busy rx %.1f Mbit/s %d pkt/s (ip -s: %.1f Mbit/s), idle rx %d bit/s" %
      (b["rx_bps"] / 1e6, b["rx_pps"], ip_bps / 1e6, i["rx_bps"]))' "$a" "$b" "$ta" "$tb"

# Shaped to 2 Mbit/s, the flood queues in busy's tbf and overflows it: a
# backlog, and drops as tc -s counts them on the tap's root qdisc.
ctl tc set busy to-vm: rate 2mbit >/dev/null || fail "tc set busy to-vm: rate 2mbit"
sleep 0.5
tcdrops() {
	tc -n "$NS" -s -j qdisc show dev busy-n0 |
		python3 -c 'import json, sys; print([q for q in json.load(sys.stdin) if q.get("root")][0]["drops"])'
}
a=$(tcdrops) || fail "tc -s qdisc show dev busy-n0"
top_json
b=$(tcdrops) || fail "tc -s qdisc show dev busy-n0"
CHECK_WHAT="busy's queue under 2 Mbit/s" check '
b, tc = nic0("busy"), int(sys.argv[3]) - int(sys.argv[2])
assert b["rx_bps"] < 2600000, b
assert b["backlog_bytes"] > 1000 and b["backlog_pkts"] > 0, b
assert tc > 100 and 0.5 * tc <= b["rx_drops"] <= 1.5 * tc, (b, tc)
print("shaped: busy rx %.1f Mbit/s, %d dropped (tc -s: %d), backlog %d bytes" %
      (b["rx_bps"] / 1e6, b["rx_drops"], tc, b["backlog_bytes"]))' "$a" "$b"
kill "$FLOODPID"; wait "$FLOODPID" 2>/dev/null || true; FLOODPID=
ctl tc clear busy >/dev/null || fail "tc clear busy"

# idle holds 96 MiB more: a file in its initramfs root is guest RAM.  How
# much of it is new to QEMU's RSS depends on the pages the guest touched
# while booting (one run: 62 MiB of the 96), so top's growth is held to
# what ps says QEMU grew by, and the write must show as more than 32 MiB.
idle_pid=$(python3 -c 'import json, sys; print([v for v in json.load(open(sys.argv[1]))["vms"] if v["name"] == "idle"][0]["pid"])' "$TMP/top.json") ||
	fail "idle's pid"
rss_top() { python3 -c 'import json, sys; print([v for v in json.load(open(sys.argv[1]))["vms"] if v["name"] == "idle"][0]["rss_bytes"])' "$TMP/top.json"; }
rss_ps() { echo $(($(ps -o rss= -p "$idle_pid") * 1024)); }
top_json
top_before=$(rss_top) || fail "idle's RSS before the write"
ps_before=$(rss_ps)
guest_login idle
expect_eq "$(guest_run idle 'dd if=/dev/zero of=/fill bs=1M count=96 2>/dev/null')" 0 "idle: writing /fill"
top_json --sort mem
ps_after=$(rss_ps)
CHECK_WHAT="idle's RSS" check '
grew, ps_grew = vm("idle")["rss_bytes"] - int(sys.argv[2]), int(sys.argv[4]) - int(sys.argv[3])
assert grew > 32 * 2**20, ("grew", grew, d["vms"])
assert abs(grew - ps_grew) < 8 * 2**20, ("top", grew, "ps", ps_grew)
assert vm("idle")["rss_bytes"] > vm("busy")["rss_bytes"], d["vms"]
assert d["vms"][0]["name"] == "idle", "--sort mem: idle first"
print("idle wrote 96 MiB: RSS +%d MiB (ps: +%d MiB)" % (grew >> 20, ps_grew >> 20))' "$top_before" "$ps_before" "$ps_after"

# ---- the live view, in tmux ----
tmux -S "$TSOCK" new-session -d -x 120 -y 30 "env -i PATH=$PATH TERM=screen PS1='shell\$ ' bash --norc --noprofile" ||
	fail "tmux new-session"
pane() { tmux -S "$TSOCK" capture-pane -p; }
# wait_pane REGEX [SECONDS]: until the pane shows a line matching REGEX.
wait_pane() {
	for _ in $(seq 1 $((${2:-10} * 10))); do
		pane | contains -E "$1" && return 0
		sleep 0.1
	done
	pane >&2
	return 1
}
# order: the VM rows' names, top to bottom.
order() { pane | awk '$1 == "busy" || $1 == "idle" { printf "%s ", $1 }'; }
wait_pane '^shell\$' || fail "no shell prompt in the pane"
tmux -S "$TSOCK" send-keys "env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR XDG_STATE_HOME=$XDG_STATE_HOME $BIN/n3x-ctl -f $CONF top --interval 0.5" Enter
wait_pane "^fabric $NAME: 2 VMs, 2 running" || fail "top's header"
wait_pane '^NAME +STATE +CPU% +RSS +RX/s +TX/s +DROPS +BACKLOG' || fail "top's column heads"
# after the second sample, every VM has its rates
wait_pane '^idle +running +[0-9.]+ ' || fail "idle's row with a CPU %"
wait_pane '^busy +running +[0-9.]+ ' || fail "busy's row with a CPU %"
expect_eq "$(order)" "busy idle " "rows sorted by name"
tmux -S "$TSOCK" send-keys m
wait_pane 'sorted by mem' 5 || fail "m: not sorted by mem"
expect_eq "$(order)" "idle busy " "rows after m (idle holds more RAM)"
tmux -S "$TSOCK" send-keys n
wait_pane 'sorted by name' 5 || fail "n: not sorted by name"
expect_eq "$(order)" "busy idle " "rows after n"
tmux -S "$TSOCK" send-keys q
wait_pane '^shell\$ *$' 5 || fail "q: no prompt"
tmux -S "$TSOCK" send-keys 'echo "top-exit=$?"' Enter
wait_pane '^top-exit=0' 5 || fail "q: top's exit status is not 0"
p=$(pane) || fail "tmux capture-pane"
! contains -E 'BACKLOG|sorted by' <<<"$p" || { echo "$p"; fail "top's screen is still in the pane after q"; }
cmd=$(tmux -S "$TSOCK" display-message -p '#{pane_current_command}') || fail "tmux display-message"
expect_eq "$cmd" bash "the pane's command after q"
note "tmux: names, m and n orders, q back to the shell"

# The supervisor goes away under a running top: one line, exit 3.
tmux -S "$TSOCK" send-keys "clear; env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR XDG_STATE_HOME=$XDG_STATE_HOME $BIN/n3x-ctl -f $CONF top --interval 0.5; echo \"top-exit=\$?\"" Enter
wait_pane '^busy +running' || fail "top did not start again"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 60 || fail "the supervisor did not exit"
wait_pane '^top-exit=3' 10 || fail "top's exit status after the supervisor left is not 3"
p=$(pane) || fail "tmux capture-pane"
errs=$(grep -c '^n3x-ctl: ' <<<"$p") || { echo "$p"; fail "no error line from top"; }
expect_eq "$errs" 1 "error lines from top"
grep '^n3x-ctl: ' <<<"$p" | sed 's/^/  /'
! contains -E 'BACKLOG' <<<"$p" || { echo "$p"; fail "top's screen is still in the pane after the error"; }

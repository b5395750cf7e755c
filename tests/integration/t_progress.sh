# What n3x-launch shows while its VMs boot.  On a terminal (a tmux pane of a
# fixed size): one live line per VM with its state and elapsed time, redrawn
# in place (never two lines for a VM), log lines kept above it, settling into
# the final table with the leases `status` reports; --wait-ready does the
# same through its parent and returns 0, and --daemon leaves the table as it
# stands when it detaches.  Without a terminal: timestamped
# state, lease and ready lines and no ESC byte.  --quiet: nothing at all on a
# clean start, while launcher.log still keeps the record.  About 50 s.
. "$(dirname "$0")/lib.sh"

need_root "network namespaces"
need_cmd ip dnsmasq qemu-system-x86_64 tmux python3

conf=$(write_conf prog "[fabric]
name = it-prog
[network lan]
switch = linux-bridge
bridge = pgbr0
host-interface = pgbr0
address = 192.168.134.1/24
dhcp = 192.168.134.100,192.168.134.200,1h
$(vm_block p1 x86_64 'nic = lan mac=52:54:00:ee:34:01' 'ready = lease')
$(vm_block p2 x86_64 'nic = lan mac=52:54:00:ee:34:02' 'ready = lease')")
CONF=$conf
STATE=$XDG_STATE_HOME/n3x/it-prog
PIDFILE=$XDG_RUNTIME_DIR/n3x/it-prog/launcher.pid
TM=(tmux -L "n3x-it-progress-$$" -f /dev/null)

test_cleanup() { "${TM[@]}" kill-server 2>/dev/null || true; }

pane() { "${TM[@]}" capture-pane -p -t prog; }

# lease_of VM: its NIC 0's address as status --json says.
lease_of() {
	local json
	json=$(ctl status --json) || { echo "n3x-ctl status --json failed" >&2; return 1; }
	python3 -c '
import json, sys
vm = [v for v in json.loads(sys.argv[2])["vms"] if v["name"] == sys.argv[1]][0]
print(vm["nics"][0].get("ip") or "")' "$1" "$json"
}

# The final table's row for VM: running, ready, its lease.
expect_row() {
	local ip
	ip=$(lease_of "$1") || fail "$1: no status"
	[ -n "$ip" ] || fail "$1: no lease in status"
	contains -E "^$1 +running +x86_64 +(tcg|kvm) +[0-9]+ +[0-9ms]+ +yes +${ip//./\\.} *\$" <<<"$2" ||
		{ echo "$2"; fail "$1: no table row with its lease $ip"; }
}

# ---- on a terminal, in the foreground
"${TM[@]}" new-session -d -s prog -x 120 -y 30 \
	"exec env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR XDG_STATE_HOME=$XDG_STATE_HOME $BIN/n3x-launch $conf 2>&1"
LPID=$("${TM[@]}" display-message -p -t prog '#{pane_pid}') || fail "no tmux pane"
live=0 settled=
for _ in $(seq 1 240); do
	p=$(pane) || fail "tmux capture-pane failed"
	if contains -E '^NAME +STATE +ARCH +ACCEL +PID +UPTIME +READY +IP *$' <<<"$p"; then
		settled=$p
		break
	fi
	# Redrawn in place: a VM never has two lines on the screen.
	for vm in p1 p2; do
		n=$(awk -v v="$vm" '$1 == v { n++ } END { print n + 0 }' <<<"$p")
		[ "$n" -le 1 ] || { echo "$p"; fail "$vm has $n lines in the live block"; }
	done
	if contains -E '^p1 +(starting|running) +[0-9ms]+( |$)' <<<"$p" &&
		contains -E '^p2 +(starting|running) +[0-9ms]+( |$)' <<<"$p"; then
		live=$((live + 1))
	fi
	sleep 0.25
done
[ -n "$settled" ] || { pane; fail "no final table on the terminal within 60 s"; }
[ "$live" -ge 2 ] || { echo "$settled"; fail "the live block was seen $live times, not a line per VM"; }
expect_row p1 "$settled"
expect_row p2 "$settled"
for vm in p1 p2; do
	n=$(awk -v v="$vm" '$1 == v { n++ } END { print n + 0 }' <<<"$settled")
	expect_eq "$n" 1 "$vm's lines once settled (the block gone)"
done
# The log line from before the block is still there, above the table.
awk '/fabric it-prog: 2 VMs, control/ { line = NR } /^NAME +STATE/ { tab = NR } END { exit !(line && tab > line) }' \
	<<<"$settled" || { echo "$settled"; fail "the log line is not above the table"; }
"${TM[@]}" send-keys -t prog C-c
wait_gone "$LPID" 30 || fail "n3x-launch did not stop on Ctrl-C"

# ---- --wait-ready on a terminal (make demo): the parent draws, then returns 0
"${TM[@]}" new-session -d -s prog2 -x 120 -y 30 \
	"env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR XDG_STATE_HOME=$XDG_STATE_HOME $BIN/n3x-launch --wait-ready=90 --only p1 $conf 2>&1; echo rc=\$?; sleep 300"
for _ in $(seq 1 240); do
	p=$("${TM[@]}" capture-pane -p -t prog2) || fail "tmux capture-pane failed"
	contains '^rc=' <<<"$p" && break
	sleep 0.25
done
LPID=$(cat "$PIDFILE") || { echo "$p"; fail "no $PIDFILE after --wait-ready"; }
contains '^rc=0$' <<<"$p" || { echo "$p"; fail "--wait-ready on a terminal did not return 0"; }
expect_row p1 "$p"
contains -E '^n3x-launch: p1 ready \(lease\) after [0-9.]+ s$' <<<"$p" || { echo "$p"; fail "no ready line above the table"; }
n=$(awk '$1 == "p1" { n++ } END { print n + 0 }' <<<"$p")
expect_eq "$n" 1 "p1's lines after --wait-ready"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "supervisor still running after shutdown"

# ---- --daemon on a terminal: the table as it stands when it detaches
"${TM[@]}" new-session -d -s prog3 -x 120 -y 30 \
	"env XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR XDG_STATE_HOME=$XDG_STATE_HOME $BIN/n3x-launch --daemon --only p1 $conf 2>&1; echo rc=\$?; sleep 300"
for _ in $(seq 1 120); do
	p=$("${TM[@]}" capture-pane -p -t prog3) || fail "tmux capture-pane failed"
	contains '^rc=' <<<"$p" && break
	sleep 0.25
done
LPID=$(cat "$PIDFILE") || { echo "$p"; fail "no $PIDFILE after --daemon"; }
contains '^rc=0$' <<<"$p" || { echo "$p"; fail "--daemon on a terminal did not return 0"; }
contains -E '^NAME +STATE +ARCH +ACCEL +PID +UPTIME +READY +IP *$' <<<"$p" || { echo "$p"; fail "--daemon: no table"; }
contains -E '^p1 +(starting|running) +x86_64 +(tcg|kvm) +[0-9]+ ' <<<"$p" || { echo "$p"; fail "--daemon: no row for p1"; }
n=$(awk '$1 == "p1" { n++ } END { print n + 0 }' <<<"$p")
expect_eq "$n" 1 "p1's lines after --daemon"
ctl kill p1 >/dev/null || fail "kill p1"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "supervisor still running after shutdown"

# ---- no terminal: timestamped lines, no escape sequences
start_launcher "$conf" --only p1
ctl wait p1 --lease --timeout 90 >/dev/null || fail "p1 got no lease"
ip=$(lease_of p1) || fail "p1: no status"
for line in 'vm p1: starting' 'vm p1: running' "vm p1: lease ${ip//./\\.} \\(NIC 0\\)"; do
	grep -qE "^[0-9]{2}:[0-9]{2}:[0-9]{2} n3x-launch: $line\$" "$TMP/launcher.log" ||
		{ cat "$TMP/launcher.log"; fail "no timestamped line '$line'"; }
done
for _ in $(seq 1 50); do grep -q 'vm p1: ready (lease)$' "$TMP/launcher.log" && break; sleep 0.1; done
grep -qE '^[0-9]{2}:[0-9]{2}:[0-9]{2} n3x-launch: vm p1: ready \(lease\)$' "$TMP/launcher.log" ||
	fail "no timestamped ready line"
rc=0
grep -q $'\033' "$TMP/launcher.log" || rc=$?
expect_eq "$rc" 1 "grep for ESC in the output without a terminal (1: none)"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "supervisor still running after shutdown"

# ---- --quiet: a clean start says nothing; launcher.log keeps the record
"$BIN/n3x-launch" -q --wait-ready=90 --only p1 "$conf" 2>"$TMP/quiet.log" ||
	{ cat "$TMP/quiet.log"; fail "--quiet --wait-ready did not return 0"; }
LPID=$(cat "$PIDFILE") || fail "no $PIDFILE after --wait-ready"
expect_eq "$(cat "$TMP/quiet.log")" "" "what --quiet printed on a clean start"
grep -q 'vm p1: ready (lease)$' "$STATE/launcher.log" || fail "launcher.log lost the ready line under --quiet"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "supervisor still running after shutdown"
nothing_left it-prog

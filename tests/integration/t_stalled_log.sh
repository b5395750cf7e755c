# The supervisor's log never holds up the loop: with its stderr a pipe that
# a reader holds open but never reads (a stuck terminal, a paused `less`),
# a VM boots and gets its lease, thousands of logged state changes go by and
# `status` answers promptly all along.  When the reader comes back it gets
# the log with one "N log lines dropped" line for what did not fit, and
# dnsmasq (in its own dnsmasq.log) said nothing about routine DHCP (quiet-dhcp).
. "$(dirname "$0")/lib.sh"

need_root "network namespaces"
need_cmd ip dnsmasq qemu-system-x86_64 python3

name=it-stall
conf=$(write_conf stall "[fabric]
name = $name
[network lan]
switch = linux-bridge
bridge = stallbr0
address = 192.168.105.1/24
dhcp = 192.168.105.100,192.168.105.200,1h
$(vm_block s1 x86_64 'nic = lan mac=52:54:00:ab:00:01 ip=192.168.105.10')")
CONF=$conf
RUN=$XDG_RUNTIME_DIR/n3x/$name

# The reader: opens the fifo, then waits for a go before reading anything.
mkfifo "$TMP/err.fifo" "$TMP/go.fifo"
python3 - "$TMP/err.fifo" "$TMP/go.fifo" "$TMP/launcher.log" <<'EOF' &
import sys
err = open(sys.argv[1], "rb")
open(sys.argv[2], "rb").read()      # blocks until the test says go
with open(sys.argv[3], "wb") as out:
    while True:
        b = err.read(65536)
        if not b:
            break
        out.write(b)
EOF
READER=$!
EXTRA_PIDS="$READER"
"$BIN/n3x-launch" "$conf" 2>"$TMP/err.fifo" &
LPID=$!
for _ in $(seq 1 100); do
	ctl status >/dev/null 2>&1 && break
	kill -0 "$LPID" 2>/dev/null || fail "n3x-launch exited at start"
	sleep 0.1
done
got=$(ctl wait s1 --lease --timeout 180) || fail "s1: no lease while the log was stalled"
expect_eq "$got" "s1/0 192.168.105.10" "s1 lease"

# 3000 pause/resume pairs: two log lines each, some 200 KB of log into a
# pipe that takes 64 KiB.  The old blocking fprintf stopped the loop here.
python3 - "$RUN/control.sock" <<'EOF' || fail "pause/resume with a stalled log"
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rwb")
def call(req):
    f.write((json.dumps(req) + "\n").encode()); f.flush()
    t0 = time.monotonic()
    r = json.loads(f.readline())
    return r, time.monotonic() - t0
worst = 0
for i in range(3000):
    for cmd in ("pause", "resume"):
        r, took = call({"cmd": cmd, "vms": ["s1"]})
        if not r.get("ok"):
            sys.exit("%s #%d failed: %s" % (cmd, i, r))
    if i % 100 == 0:
        r, took = call({"cmd": "status"})
        worst = max(worst, took)
        if not r.get("ok"):
            sys.exit("status failed: %s" % r)
print("  3000 pause/resume pairs; slowest status %.0f ms" % (worst * 1000))
if worst > 0.5:
    sys.exit("status took %.0f ms with the log stalled" % (worst * 1000))
EOF

# The reader comes back: the log flows again, with the drop marker.
echo go >"$TMP/go.fifo"
ctl pause s1 >/dev/null || fail "pause after the reader came back"
ctl resume s1 >/dev/null || fail "resume after the reader came back"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 60 || fail "the supervisor did not exit"
LPID=
wait_gone "$READER" 10 || fail "the reader did not see the end of the log"
EXTRA_PIDS=
log=$TMP/launcher.log
grep -q '^n3x-launch: [0-9]* log lines dropped: the log.s reader is not keeping up$' "$log" ||
	fail "no drop marker in the log"
note "$(grep -m1 'log lines dropped' "$log")"
grep -q '^n3x-launch: fabric it-stall stopped$' "$log" || fail "the last lines did not arrive"
# dnsmasq outlives a killed supervisor, so it writes its own log file.
dlog=$XDG_STATE_HOME/n3x/$name/dnsmasq.log
grep -q 'started, version' "$dlog" || fail "dnsmasq's own start lines are missing from $dlog"
! grep -E 'DHCP(DISCOVER|OFFER|REQUEST|ACK)' "$log" "$dlog" || fail "dnsmasq logged routine DHCP"
lines=$(wc -l <"$log")
note "$lines lines reached the reader"

# n3x-ctl events against demo guests on a fabric: two subscribers at once (one
# for every VM, one filtered to x1) see x1 started, its lease, paused and
# resumed (QMP STOP/RESUME and the states), a profile switch, its cable pulled
# and plugged, its QEMU killed
# with kill -9 (crashed, then the restart with its backoff), dnsmasq killed
# and restarted by the fabric; the filtered one sees nothing of x2.  The text
# form has local time with ms; --until, --count and --timeout end with the
# right exit codes, the supervisor going away ends a stream, and no
# supervisor is exit 3.
. "$(dirname "$0")/lib.sh"

need_root "network namespaces"
need_cmd ip dnsmasq socat qemu-system-x86_64 python3

conf=$(write_conf events "[fabric]
name = it-ev
[network lan]
switch = linux-bridge
bridge = evbr0
host-interface = evbr0
address = 192.168.100.1/24
dhcp = 192.168.100.100,192.168.100.200,1h
[profile slow]
x1 = rate 10mbit
$(vm_block x1 x86_64 'nic = lan mac=52:54:00:ee:00:01' 'restart = on-failure' 'autostart = no')
$(vm_block x2 x86_64 'autostart = no')")
RUN=$XDG_RUNTIME_DIR/n3x/it-ev
start_launcher "$conf"

# bg VAR CMD...: run CMD in the background, its pid in VAR (killed at cleanup).
bg() {
	local var=$1
	shift
	"$@" &
	printf -v "$var" '%s' "$!"
	EXTRA_PIDS="${EXTRA_PIDS:-} $!"
}

# expect_exit PID WANT WHAT: the background job PID ends with status WANT
# (waited for here: a $(...) subshell cannot wait for our children).
expect_exit() {
	local rc=0
	wait "$1" || rc=$?
	expect_eq "$rc" "$2" "$3"
}

# until_seen FILE PATTERN SECONDS: FILE gets a line matching PATTERN.
until_seen() {
	for _ in $(seq 1 $(($3 * 10))); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "$1: no line matching '$2' within $3 s"
}

# subscribed FILE...: a fabric event reaches every subscriber, so once each
# FILE has a profile event, each stream is live (tc default until then).
subscribed() {
	local f ok
	for _ in $(seq 1 40); do
		ctl tc default >/dev/null || fail "tc default"
		sleep 0.25
		ok=1
		for f in "$@"; do grep -q profile "$f" 2>/dev/null || ok=; done
		[ -z "$ok" ] || return 0
	done
	fail "the subscribers did not see a profile event within 10 s"
}

bg ALL ctl events --json >"$TMP/all.json" 2>"$TMP/all.err"
bg X1 ctl events x1 --json >"$TMP/x1.json" 2>"$TMP/x1.err"
bg TXT ctl events x1 >"$TMP/text" 2>"$TMP/text.err"
subscribed "$TMP/all.json" "$TMP/x1.json" "$TMP/text"

ctl start x1 >/dev/null || fail "start x1"
ctl wait x1 --lease --timeout 120 >/dev/null || fail "x1: no lease"
ctl pause x1 >/dev/null || fail "pause x1"
ctl resume x1 >/dev/null || fail "resume x1"
ctl tc slow >/dev/null || fail "tc slow"
ctl link x1 down >/dev/null || fail "link x1 down"
ctl link x1 up >/dev/null || fail "link x1 up"

pid=$(live_pid x1) || fail "x1 has no QEMU"
kill -9 "$pid"
ctl wait x1 --state crashed --timeout 10 >/dev/null || fail "x1 not seen crashed"
ctl wait x1 --state running --timeout 30 >/dev/null || fail "x1 did not come back"

# x2 comes and goes: only the unfiltered subscriber hears of it.
ctl start x2 >/dev/null || fail "start x2"
ctl kill x2 >/dev/null || fail "kill x2"

# dnsmasq dies; the fabric starts it again.
dpid=$(cat "$RUN/dnsmasq.pid") || fail "no dnsmasq.pid"
kill -9 "$dpid"
until_seen "$TMP/all.json" dnsmasq-restarted 20

# --until: the first event of that kind ends it, exit 0, and is printed.
bg U ctl events x1 --until RESUME --timeout 60 >"$TMP/until"
# --count: after N events (lost lines do not count).
bg C ctl events x1 --json --count 3 --timeout 60 >"$TMP/count"
subscribed "$TMP/until" "$TMP/count"
c0=$(wc -l <"$TMP/count")
ctl pause x1 >/dev/null || fail "pause x1"
ctl resume x1 >/dev/null || fail "resume x1"
expect_exit "$U" 0 "events --until RESUME exit status"
tail -n 1 "$TMP/until" | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} x1 RESUME$' ||
	{ cat "$TMP/until"; fail "--until's last line is not the RESUME event"; }
expect_exit "$C" 0 "events --count 3 exit status"
expect_eq "$(wc -l <"$TMP/count")" 3 "events --count 3 lines"
note "--until and --count: exit 0 after $(wc -l <"$TMP/until") and 3 events ($c0 of them before the pause)"

# --timeout passing first: exit 1, one line.
rc=0
ctl events --until NEVER --timeout 1 >/dev/null 2>"$TMP/timeout.err" || rc=$?
expect_eq "$rc" 1 "events --timeout exit status"
expect_eq "$(wc -l <"$TMP/timeout.err")" 1 "events --timeout error lines"
note "timeout: $(cat "$TMP/timeout.err")"
rc=0
ctl events nosuch 2>"$TMP/bad.err" || rc=$?
expect_eq "$rc" 2 "events for an unknown VM"
grep -q 'no VM named "nosuch"' "$TMP/bad.err" || fail "unknown VM error: $(cat "$TMP/bad.err")"

# The supervisor going away ends every stream: 0 without --until/--count,
# 1 (with one line) when what they wait for did not come.
bg N ctl events --until NEVER >"$TMP/never" 2>"$TMP/never.err"
subscribed "$TMP/never"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 60 || fail "n3x-launch still runs after shutdown"
for p in "$ALL" "$X1" "$TXT"; do expect_exit "$p" 0 "a stream's exit status at shutdown"; done
expect_exit "$N" 1 "events --until NEVER when the supervisor exits"
expect_eq "$(wc -l <"$TMP/never.err")" 1 "events --until NEVER error lines"
EXTRA_PIDS=
rc=0
ctl events 2>/dev/null || rc=$?
expect_eq "$rc" 3 "events without a supervisor"

# What the subscribers saw.
python3 - "$TMP/all.json" "$TMP/x1.json" <<'EOF' || fail "the event streams (above)"
import json, sys

def load(path):
    evs = []
    for line in open(path):
        ev = json.loads(line)
        assert set(ev) == {"time", "vm", "kind", "data"}, ev
        assert isinstance(ev["time"], float) and isinstance(ev["data"], dict), ev
        evs.append(ev)
    return evs

def expect_in_order(evs, wants, name):
    i = 0
    for ev in evs:
        w = wants[i]
        if ev["vm"] == w[0] and ev["kind"] == w[1] and all(ev["data"].get(k) == v for k, v in w[2].items()):
            i += 1
            if i == len(wants):
                return
    for ev in evs:
        print(json.dumps(ev), file=sys.stderr)
    sys.exit("%s: no %s after the ones before it" % (name, wants[i]))

all_, x1 = load(sys.argv[1]), load(sys.argv[2])
wants = [
    (None, "profile", {"profile": "default"}),
    ("x1", "state", {"from": "stopped", "to": "starting"}),
    ("x1", "state", {"from": "starting", "to": "running"}),
    ("x1", "lease", {"nic": 0, "mac": "52:54:00:ee:00:01", "previous": None}),
    ("x1", "state", {"from": "running", "to": "paused"}),
    ("x1", "STOP", {}),
    ("x1", "state", {"from": "paused", "to": "running"}),
    ("x1", "RESUME", {}),
    (None, "profile", {"profile": "slow", "previous": "default"}),
    ("x1", "link", {"nic": 0, "up": False}),
    ("x1", "link", {"nic": 0, "up": True}),
    ("x1", "state", {"from": "running", "to": "crashed", "reason": "QEMU killed by SIGKILL"}),
    ("x1", "restart", {"attempt": 1}),
    ("x1", "state", {"from": "crashed", "to": "starting"}),
    ("x1", "state", {"from": "starting", "to": "running"}),
]
for evs, name in ((all_, "all"), (x1, "x1")):
    expect_in_order(evs, wants, name)
lease = [e for e in all_ if e["kind"] == "lease"][0]["data"]
assert lease["ip"].startswith("192.168.100."), lease
restart = [e for e in all_ if e["kind"] == "restart"][0]["data"]
assert restart["delay_ms"] >= 1000, restart
assert any(e["vm"] == "x2" and e["kind"] == "state" and e["data"]["to"] == "running" for e in all_), "x2 in all"
assert not any(e["vm"] == "x2" for e in x1), "the x1 subscriber got x2's events"
d = [e for e in all_ if e["kind"] == "dnsmasq-restarted"]
assert d and d[0]["vm"] is None and d[0]["data"]["reason"] == "killed by SIGKILL", d
assert all(e["kind"] != "lost" for e in all_), "nothing was lost"
times = [e["time"] for e in all_]
assert times == sorted(times), "times go forward"
print("  all: %d events, x1: %d events" % (len(all_), len(x1)))
EOF
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\.[0-9]{3} x1 state from=running to=crashed reason="QEMU killed by SIGKILL"$' "$TMP/text" ||
	{ cat "$TMP/text"; fail "text form of the crash"; }
grep -qE '^[0-9-]{10} [0-9:.]{12} - profile profile=slow previous=default$' "$TMP/text" ||
	{ cat "$TMP/text"; fail "text form of the profile switch"; }
note "text: $(grep -c . "$TMP/text") lines, e.g. $(grep -m1 ' lease ' "$TMP/text")"

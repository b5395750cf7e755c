# Schedules: a bad step is FILE:LINE and exit 2 before anything starts;
# `schedule = boot` in [fabric] starts with the cluster and shows in
# status, schedule status and tc status, and stops; then a 5-step schedule
# run by n3x-ctl: every step is an event whose time is its plan's within
# 10 ms, the link steps take the guest's carrier away and back (seen inside
# the guest), the profile steps are what tc status and the kernel hold.
# Partition steps are checked as far as the tree has partitions: events and
# the steps' outcome (t_partition measures what they do to frames).
# One demo guest on a Linux bridge (a second one defined, not started);
# about 15 s.
. "$(dirname "$0")/lib.sh"

need_root "network namespaces"
need_cmd ip tc dnsmasq qemu-system-x86_64 python3 socat

name=it-sched
NS=n3x-$name
RUN=$XDG_RUNTIME_DIR/n3x/$name

# ---- bad steps: FILE:LINE, exit 2, nothing started ----
bad=$(write_conf bad "[fabric]
name = $name
schedule = flap
[network lan]
switch = linux-bridge
bridge = n3xsc0
address = 192.168.100.1/24
$(vm_block v1 x86_64 'nic = lan')
[schedule flap]
+1s = link v1 sideways
+2 = heal
+3s = profile nosuch
+4s = link v1/3 down")
rc=0; out=$("$BIN/n3x-launch" --check "$bad" 2>&1) || rc=$?
expect_eq "$rc" 2 "n3x-launch --check with bad steps: exit status"
expect_eq "$out" "$bad:18: schedule flap: +1s: bad step \"link v1 sideways\" (use profile NAME, partition A | B,C, partition A -> B, heal or link VM[/N] up|down)
$bad:19: schedule flap: bad step time \"+2\" (use +Ns, +N.Ns or +Nms; at most milliseconds)
$bad:20: schedule flap: profile nosuch: no profile \"nosuch\" (define [profile nosuch] or use default)
$bad:21: schedule flap: link v1/3 down: vm v1 has no NIC 3 (it has 1)" "bad steps"
rc=0; "$BIN/n3x-launch" "$bad" 2>/dev/null || rc=$?
expect_eq "$rc" 2 "n3x-launch with bad steps: exit status"
netns_exists "$NS" && fail "a bad schedule left namespace $NS behind"
note "bad steps: FILE:LINE each, exit 2, nothing started"

# ---- the fabric's schedule starts with it ----
conf=$(write_conf sched "[fabric]
name = $name
schedule = boot
[network lan]
switch = linux-bridge
bridge = n3xsc0
address = 192.168.100.1/24
dhcp = 192.168.100.100,192.168.100.200,1h
$(vm_block v1 x86_64 'nic = lan mac=52:54:00:aa:05:01 ip=192.168.100.10')
$(vm_block v2 x86_64 'nic = lan mac=52:54:00:aa:05:02' 'autostart = no')
[profile slow]
v1 = rate 5mbit
[schedule boot]
+0s = profile slow
+600s = profile default
[schedule flap]
+1s   = profile default
+2s   = link v1 down
+3s   = partition v1 | v2
+4s   = heal
+5s   = link v1 up
+5.5s = profile slow
+6.25s = profile default")
plan=$("$BIN/n3x-launch" --check "$conf" 2>&1) || fail "n3x-launch --check: $plan"
expect_eq "$(head -n 1 <<<"$plan")" "# n3x-launch plan for $conf: fabric $name, profile default, schedule boot" "the plan's first line"
start_launcher "$conf"

# fabric_schedule: status --json's fabric.schedule, as compact JSON.
fabric_schedule() {
	local json
	json=$(ctl status --json) || return 1
	python3 -c 'import json, sys
print(json.dumps(json.loads(sys.argv[1])["fabric"]["schedule"], sort_keys=True))' "$json"
}
# status_rate VM/N DIR: the tbf rate tc status reads back (bits/s), or none.
status_rate() {
	local json
	json=$(ctl tc status --json) || return 1
	python3 -c 'import json, sys
l = json.loads(sys.argv[3])["links"][sys.argv[1]][sys.argv[2]]
print(l[0]["params"]["rate_bps"] if l else "none")' "$1" "$2" "$json"
}
# kernel_rate DEV: the tbf rate on DEV's root, from tc itself (bits/s), or none.
kernel_rate() {
	local json
	json=$(ip netns exec "$NS" tc -j qdisc show dev "$1") || return 1
	python3 -c 'import json, sys
q = [x for x in json.loads(sys.argv[1]) if x["kind"] == "tbf"]
print(q[0]["options"]["rate"] * 8 if q else "none")' "$json"
}

got=$(fabric_schedule) || fail "status --json"
expect_eq "$got" '{"name": "boot", "next_at_ms": 600000, "step": 1}' "status --json fabric.schedule"
ctl wait v1 --lease --timeout 120 >/dev/null || fail "v1: no lease"
expect_eq "$(status_rate v1/0 to_vm)" 5000000 "boot's profile slow: tc status v1 to-vm"
expect_eq "$(kernel_rate v1-n0)" 5000000 "boot's profile slow: the kernel's qdisc on v1-n0"
out=$(ctl schedule status) || fail "schedule status"
head -n 1 <<<"$out" | contains -E '^schedule boot: running, cycle 1, step 1 of 2 begun; next: step 2 at \+600s \(in [0-9.]+ s\)$' ||
	fail "schedule status said: $out"
grep -E '^1 +\+0s +profile slow +1 +ok, [0-9.]+ ms late$' <<<"$out" >/dev/null || fail "schedule status, step 1: $out"
grep -E '^2 +\+600s +profile default +0 +-$' <<<"$out" >/dev/null || fail "schedule status, step 2: $out"
rc=0; err=$(ctl schedule run flap 2>&1) || rc=$?
expect_eq "$rc" 1 "schedule run while boot runs: exit status"
expect_eq "$err" "n3x-ctl: schedule boot is running (step 1 of 2): stop it first" "schedule run while boot runs"
expect_eq "$(ctl schedule stop)" "schedule boot: stopped after step 1 of 2" "schedule stop"
expect_eq "$(ctl schedule stop)" "no schedule was running" "schedule stop again"
got=$(fabric_schedule) || fail "status --json"
expect_eq "$got" null "fabric.schedule once stopped"
out=$(ctl schedule status) || fail "schedule status"
expect_eq "$(head -n 1 <<<"$out")" "schedule boot: stopped after step 1 of 2" "schedule status once stopped"
grep -q 'schedule boot: stopped after step 1 of 2' "$TMP/launcher.log" || fail "the stop is not in the log"
rc=0; err=$(ctl schedule run nosuch 2>&1) || rc=$?
expect_eq "$rc" 2 "schedule run nosuch: exit status"
expect_eq "$err" "n3x-ctl: no schedule \"nosuch\" in $conf (defined: boot, flap)" "schedule run nosuch"
rc=0; ctl schedule sideways >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "schedule sideways: exit status"
note "schedule = boot: ran with the cluster, shown in status, stopped"

# ---- a 7-step schedule: events on time, the guest sees the cable ----
guest_login v1
# The guest reports each change of its carrier, numbered, every 50 ms.
# (A line of its own: the job writes after the shell's prompt.)
type_in v1 'n=0; p=x; while :; do c=$(cat /sys/class/net/eth0/carrier); if [ "$c" != "$p" ]; then n=$((n+1)); printf "\n@@carrier %s %s\n" $n $c; p=$c; fi; sleep 0.05; done &'
ctl wait v1 --console '^@@carrier 1 1$' --timeout 20 >/dev/null || fail "v1: the carrier watcher did not start"

ctl events --json --until schedule-end --timeout 60 >"$TMP/events" 2>"$TMP/events.err" &
evpid=$!
EXTRA_PIDS="${EXTRA_PIDS:-} $evpid"
sleep 1 # its subscription is in before the run
t0=$(date +%s.%N)
out=$(ctl schedule run flap) || fail "schedule run flap"
t1=$(date +%s.%N)
expect_eq "$out" "schedule flap: started, 7 steps, the last at +6.25s" "schedule run flap"
got=$(fabric_schedule) || fail "status --json"
expect_eq "$got" '{"name": "flap", "next_at_ms": 1000, "step": 0}' "fabric.schedule before flap's first step"

# Between +2s and +5s the cable is out: the guest says so, tc status still
# holds +1s's profile default.
ctl wait v1 --console '^@@carrier 2 0$' --timeout 20 >/dev/null || fail "v1: the link step did not take the carrier away"
expect_eq "$(status_rate v1/0 to_vm)" none "flap's +1s profile default: tc status v1 to-vm"
ctl wait v1 --console '^@@carrier 3 1$' --timeout 20 >/dev/null || fail "v1: the link step did not bring the carrier back"
rc=0; wait "$evpid" || rc=$?
[ "$rc" -eq 0 ] || { cat "$TMP/events" "$TMP/events.err"; fail "events --until schedule-end: exit status $rc"; }
started=$(ctl schedule status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["schedule"]["started"])') ||
	fail "schedule status --json"
# Partitions are helper pairs' (launcher/partition.h); a tree without them
# fails those two steps, and says so.
# (help into a variable: grep -q leaving early would SIGPIPE n3x-ctl.)
parts=0
help=$(ctl help) || fail "n3x-ctl help"
grep -q '^  partition ' <<<"$help" && parts=1
python3 - "$TMP/events" "$started" "$t0" "$t1" "$parts" <<'EOF' || { cat "$TMP/events"; fail "flap's events"; }
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
started, t0, t1 = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
parts = sys.argv[5] == "1"
# The run began while `schedule run` was asked (ms resolution).
assert t0 - 0.002 <= started <= t1 + 0.002, (t0, started, t1)
steps = [e for e in evs if e["kind"] == "schedule"]
want = [(1000, "profile default"), (2000, "link v1 down"), (3000, "partition v1 | v2"),
        (4000, "heal"), (5000, "link v1 up"), (5500, "profile slow"), (6250, "profile default")]
assert [(s["data"]["at_ms"], s["data"]["action"]) for s in steps] == want, steps
worst = 0
for i, s in enumerate(steps):
    d = s["data"]
    assert s["vm"] is None and d["name"] == "flap" and d["step"] == i + 1, s
    if d["action"] in ("partition v1 | v2", "heal") and not parts:
        assert d["ok"] is False and d["error"] == "partitions are not built in", s
    else:
        assert d["ok"] is True, s
    off = s["time"] - (started + d["at_ms"] / 1000)
    # within 10 ms of plan; both times have ms resolution
    assert -0.002 <= off <= 0.012, (s, off)
    assert 0 <= d["late_ms"] <= 10, s
    worst = max(worst, off)
kinds = [e["kind"] for e in evs]
# the link steps' own "link" events, the profile steps' "profile" events,
# and the end
assert [e["data"] for e in evs if e["kind"] == "link"] == [{"nic": 0, "up": False}, {"nic": 0, "up": True}], evs
assert [(e["data"]["previous"], e["data"]["profile"]) for e in evs if e["kind"] == "profile"] == \
    [("slow", "default"), ("default", "slow"), ("slow", "default")], evs
if parts:
    assert [(e["kind"], e["data"]) for e in evs if e["kind"] in ("partition", "heal")] == \
        [("partition", {"groups": [["v1"], ["v2"]]}), ("heal", {})], evs
assert kinds[-1] == "schedule-end", kinds
assert evs[-1]["data"] == {"name": "flap", "reason": "done"}, evs[-1]
print("  worst step: %.0f ms after its plan (event times in ms), late_ms at most %.1f"
      % (worst * 1000, max(s["data"]["late_ms"] for s in steps)))
EOF
expect_eq "$(status_rate v1/0 to_vm)" none "flap ended on profile default: tc status"
expect_eq "$(kernel_rate v1-n0)" none "flap ended on profile default: the kernel"
out=$(ctl schedule status) || fail "schedule status"
expect_eq "$(head -n 1 <<<"$out")" "schedule flap: done after step 7 of 7" "schedule status once done"
grep -E '^6 +\+5.5s +profile slow +1 +ok, [0-9.]+ ms late$' <<<"$out" >/dev/null || fail "schedule status, step 6: $out"
got=$(fabric_schedule) || fail "status --json"
expect_eq "$got" null "fabric.schedule once done"
grep -q 'schedule flap: step 2 (+2s) link v1 down: ok' "$TMP/launcher.log" || fail "the step is not in the log"
grep -q 'vm v1: NIC 0 cable pulled' "$TMP/launcher.log" || fail "the link step's pull is not in the log"
note "flap: 7 steps as events on time, the guest's carrier, tc status (partitions built in: $parts)"

# --wait-ready on the busybox demo, which has no guest agent: the parent
# returns once the console says the guest is ready (ready = console), with
# its progress on stderr; one that waits for an agent that never comes gives
# up with one line and leaves the supervisor running; exec, agent and wait
# --exec fail at once, or at their timeout, saying the agent is not there.
. "$(dirname "$0")/lib.sh"

need_cmd qemu-system-x86_64
conf=$(write_conf ready "[fabric]
name = it-ready
$(vm_block r1 x86_64 'ready = console n3x-guest: ready')
$(vm_block r2 x86_64 'autostart = no' 'ready = agent')")
CONF=$conf
STATE=$XDG_STATE_HOME/n3x/it-ready
PIDFILE=$XDG_RUNTIME_DIR/n3x/it-ready/launcher.pid

"$BIN/n3x-launch" --wait-ready=120 "$conf" 2>"$TMP/parent.log" || {
	cat "$TMP/parent.log"
	fail "--wait-ready did not return 0"
}
LPID=$(cat "$PIDFILE") || fail "no $PIDFILE after --wait-ready"
ln -s "$STATE/launcher.log" "$TMP/launcher.log"
grep -qE '^n3x-launch: r1 ready \(console n3x-guest: ready\) after [0-9]+\.[0-9] s$' "$TMP/parent.log" ||
	{ cat "$TMP/parent.log"; fail "no progress line for r1"; }
! grep -q r2 "$TMP/parent.log" || fail "r2 is not autostarted: nothing to wait for"
ctl log r1 | contains 'n3x-guest: ready r1 x86_64' || fail "the parent returned before r1 was ready"
expect_field r1 ready True
expect_field r2 ready False
expect_field r1 agent False
grep -q 'vm r1: ready (console n3x-guest: ready)' "$STATE/launcher.log" || fail "no ready line in the log"

# No agent in this guest: every agent verb says so at once.
set +e
out=$(ctl exec r1 -- hostname 2>&1)
rc=$?
set -e
expect_eq "$rc" 1 "exec exit code without an agent"
expect_eq "$out" "n3x-ctl: r1: the guest agent is not connected (is qemu-guest-agent installed and running in the guest?)" "exec without an agent"
set +e
out=$(ctl agent r1 '{"execute":"guest-info"}' 2>&1)
rc=$?
set -e
expect_eq "$rc" 1 "agent exit code without an agent"
contains 'the guest agent is not connected' <<<"$out" || fail "agent: $out"
set +e
out=$(ctl wait r1 --exec true --timeout 2 2>&1)
rc=$?
set -e
expect_eq "$rc" 1 "wait --exec exit code without an agent"
contains -F 'r1: timed out waiting for `true` to succeed (last: the guest agent is not connected' <<<"$out" ||
	fail "wait --exec: $out"

ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "supervisor still running after shutdown"

# ready = agent on a guest without one: the parent gives up at its time and
# says how to stop what keeps running.
conf=$(write_conf ready2 "[fabric]
name = it-ready
$(vm_block r1 x86_64 'ready = agent')")
CONF=$conf
set +e
"$BIN/n3x-launch" --wait-ready=3 "$conf" 2>"$TMP/parent.log"
rc=$?
set -e
LPID=$(cat "$PIDFILE") || fail "no $PIDFILE after --wait-ready"
expect_eq "$rc" 1 "--wait-ready exit code when a VM is not ready in time"
expect_eq "$(tail -n 1 "$TMP/parent.log")" \
	'n3x-launch: r1 not ready (agent) after 3 s (state running); the supervisor keeps running (`n3x-ctl -n it-ready shutdown` stops it)' \
	"--wait-ready's last line"
kill -0 "$LPID" 2>/dev/null || fail "the supervisor did not keep running"
expect_field r1 state running
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "supervisor still running after shutdown"
nothing_left it-ready

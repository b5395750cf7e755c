# Boot an x86_64 and an aarch64 demo VM under the supervisor and drive them as
# a user would: wait for the ready line, QMP, two console clients, pause and
# resume, a QEMU killed with restart=on-failure, a graceful stop, and SIGTERM
# to the supervisor leaving nothing behind.
. "$(dirname "$0")/lib.sh"

need_cmd qemu-system-x86_64 qemu-system-aarch64 socat

conf=$(write_conf life "[fabric]
name = it-life
$(vm_block x1 x86_64 'restart = on-failure')
$(vm_block a1 aarch64)")
start_launcher "$conf"
RUN=$XDG_RUNTIME_DIR/n3x/it-life

for vm in x1 a1; do
	line=$(ctl wait "$vm" --console 'n3x-guest: ready' --timeout 120) || fail "$vm never got ready"
	note "$vm: $line"
done
expect_eq "$(ctl wait x1 --console 'n3x-guest: ready' --timeout 5)" "n3x-guest: ready x1 x86_64" "x1 ready line"
expect_eq "$(ctl wait a1 --console 'n3x-guest: ready' --timeout 5)" "n3x-guest: ready a1 aarch64" "a1 ready line"

# QMP through the supervisor, and the scripts' own socket.
ctl qmp x1 '{"execute":"query-status"}' | contains '"status": *"running"' || fail "query-status over n3x-ctl"
printf '{"execute":"qmp_capabilities"}\n{"execute":"query-status"}\n' |
	socat -t 2 - "unix-connect:$RUN/vm/a1/qmp.sock" | contains '"status": "running"' ||
	fail "query-status on qmp.sock"
ctl hmp a1 'info status' | contains 'VM status: running' || fail "hmp info status"
# A command QEMU could not parse (nested past its limit of 1024) is refused
# with one line, and the monitor it would have cost still drives the VM.
deep=$(python3 -c 'print("{\"execute\":\"qom-set\",\"arguments\":{\"value\":" + "[" * 1100 + "]" * 1100 + "}}")')
rc=0; out=$(ctl qmp x1 "$deep" 2>&1) || rc=$?
expect_eq "$rc" 2 "exit code of a QMP command nested 1100 deep"
echo "$out" | contains 'nested deeper than 64 levels' || fail "deep QMP command: $out"
ctl qmp x1 '{"execute":"query-status"}' | contains '"status": *"running"' || fail "QMP after the deep command"
# x1's accel is the host's choice (kvm where it works); the table shows
# what --json says.  An aarch64 guest on an x86_64 host is always tcg.
x1_accel=$(status_field x1 accel) || fail "x1: no accel"
ctl status | grep -E "^x1 +running +x86_64 +$x1_accel" >/dev/null || { ctl status; fail "status table"; }
expect_field a1 accel tcg

# Two console clients see the same live output while a third logs in.
socat -u "unix-connect:$RUN/vm/x1/console.sock" - >"$TMP/c1" & EXTRA_PIDS="$!"
socat -u "unix-connect:$RUN/vm/x1/console.sock" - >"$TMP/c2" & EXTRA_PIDS="$EXTRA_PIDS $!"
type_in() { printf '%s\r' "$1" | socat -t 0.5 - "unix-connect:$RUN/vm/x1/console.sock" >/dev/null; }
ctl wait x1 --console 'login: *$' --timeout 30 >/dev/null || fail "no login prompt"
type_in root
ctl wait x1 --console 'Password: *$' --timeout 20 >/dev/null || fail "no password prompt"
type_in test
ctl wait x1 --console 'root@x1:~# ' --timeout 20 >/dev/null || fail "root/test did not log in"
type_in 'echo answer-$((6 * 7))'
ctl wait x1 --console '^answer-42$' --timeout 20 >/dev/null || fail "the shell did not answer"
sleep 0.3
for f in c1 c2; do
	grep -q 'n3x-guest: ready x1 x86_64' "$TMP/$f" || fail "$f: no replay of the boot"
	grep -q '^answer-42' "$TMP/$f" || fail "$f: did not see the live shell output"
done
kill $EXTRA_PIDS; EXTRA_PIDS=

# pause / resume
ctl pause a1 >/dev/null || fail "pause"
expect_field a1 state paused
ctl qmp a1 '{"execute":"query-status"}' | contains '"status": *"paused"' || fail "QMP does not say paused"
ctl resume a1 >/dev/null || fail "resume"
expect_field a1 state running
ctl qmp a1 '{"execute":"query-status"}' | contains '"status": *"running"' || fail "QMP does not say running"

# kill -9 of QEMU with restart=on-failure brings it back.
old=$(live_pid x1) || fail "x1 has no running QEMU"
kill -9 "$old"
ctl wait x1 --state crashed --timeout 10 >/dev/null || fail "x1 not seen crashed"
ctl wait x1 --state running --timeout 30 >/dev/null || fail "x1 did not come back"
new=$(live_pid x1) || fail "x1 has no running QEMU after the restart"
[ "$new" != "$old" ] || fail "x1 has the same pid after restart"
expect_field x1 restarts 1
ctl wait x1 --console 'n3x-guest: ready' --timeout 120 >/dev/null || fail "x1 did not boot again"
note "x1 restarted: pid $old -> $new"

# stop is graceful: the guest sees the power button and logs its shutdown.
t0=$(date +%s)
a1_pid=$(live_pid a1) || fail "a1 has no running QEMU"
ctl stop a1 >/dev/null || fail "stop a1"
expect_field a1 state stopped
! kill -0 "$a1_pid" 2>/dev/null || fail "a1's QEMU $a1_pid still runs after stop"
grep -q 'n3x-guest: powering off' "$XDG_STATE_HOME/n3x/it-life/vm/a1/console.log" || fail "a1 did not log its shutdown"
grep -q 'QEMU exited with status 0' "$XDG_STATE_HOME/n3x/it-life/vm/a1/console.log" || fail "a1 QEMU did not exit cleanly"
! grep -q 'did not power off' "$XDG_STATE_HOME/n3x/it-life/vm/a1/console.log" || fail "a1 needed a forced quit"
note "a1 stopped gracefully in $(( $(date +%s) - t0 )) s"
ctl start a1 >/dev/null || fail "start a1"
ctl wait a1 --console 'n3x-guest: ready' --timeout 120 >/dev/null || fail "a1 did not start again"

# SIGTERM: every VM stopped, nothing left.
x1_pid=$(live_pid x1) || fail "x1 has no running QEMU"
a1_pid=$(live_pid a1) || fail "a1 has no running QEMU"
kill -TERM "$LPID"
wait_gone "$LPID" 60 || fail "n3x-launch still running 60 s after SIGTERM"
for p in "$x1_pid" "$a1_pid"; do ! kill -0 "$p" 2>/dev/null || fail "QEMU $p left running"; done
[ ! -e "$RUN" ] || { find "$RUN"; fail "runtime dir left behind"; }
grep -q 'n3x-guest: powering off' "$XDG_STATE_HOME/n3x/it-life/vm/x1/console.log" || fail "x1 not stopped gracefully on SIGTERM"
note "SIGTERM: clean"

# A bad topology exits 2 with file:line messages and starts nothing.
. "$(dirname "$0")/lib.sh"

conf=$(write_conf bad "[fabric]
name = it-bad
$(vm_block b1 x86_64 'memory = 4X')
$(vm_block b2 x86_64 'nic = nowhere')")
set +e
"$BIN/n3x-launch" "$conf" 2>"$TMP/err"
rc=$?
set -e
expect_eq "$rc" "2" "exit code"
grep -q "^$conf:[0-9]*: .*memory" "$TMP/err" || { cat "$TMP/err"; fail "no file:line for memory"; }
grep -q "^$conf:[0-9]*: .*nowhere" "$TMP/err" || { cat "$TMP/err"; fail "no file:line for the nic"; }
[ ! -e "$XDG_RUNTIME_DIR/n3x/it-bad" ] || fail "runtime dir created"
[ ! -e "$XDG_STATE_HOME/n3x/it-bad" ] || fail "state dir created"

set +e
"$BIN/n3x-ctl" -f "$conf" status >/dev/null 2>&1
rc=$?
set -e
expect_eq "$rc" "2" "n3x-ctl on a bad topology"

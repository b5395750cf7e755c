# --daemon detaches once the VMs are started; disks: the base image is only
# ever a backing file, an ephemeral overlay is new each boot, the data disk
# is created once and kept; restart, kill, log and shutdown from n3x-ctl.
. "$(dirname "$0")/lib.sh"

need_cmd qemu-img qemu-system-x86_64
qemu-img create -q -f qcow2 "$TMP/base.qcow2" 64M
sum0=$(md5sum <"$TMP/base.qcow2")
conf=$(write_conf disks "[fabric]
name = it-disks
$(vm_block d1 x86_64 "disk = $TMP/base.qcow2" 'disk-mode = ephemeral' 'data-disk = 32M')")
CONF=$conf
"$BIN/n3x-launch" --daemon "$conf" 2>"$TMP/daemon.log" || fail "--daemon failed: $(cat "$TMP/daemon.log")"
STATE=$XDG_STATE_HOME/n3x/it-disks
PIDFILE=$XDG_RUNTIME_DIR/n3x/it-disks/launcher.pid
# The pid file exists and names the live, detached supervisor.
LPID=$(cat "$PIDFILE") || fail "no $PIDFILE after --daemon"
[[ "$LPID" =~ ^[0-9]+$ ]] || fail "launcher.pid holds '$LPID', not a pid"
kill -0 "$LPID" 2>/dev/null || fail "no process $LPID behind launcher.pid"
expect_eq "$(cat "/proc/$LPID/comm")" n3x-launch "process behind launcher.pid"
ln -s "$STATE/launcher.log" "$TMP/launcher.log"

ctl wait d1 --console 'n3x-guest: ready' --timeout 120 >/dev/null || fail "d1 not ready"
ctl hmp d1 'info block' >"$TMP/block" || fail "hmp info block"
# QEMU (as n3x-qemu) gets its images as fds: the drives are fdsets, and
# query-fdsets names each fd's file.
grep -q "disk0 (overlay): /dev/fdset/" "$TMP/block" || { cat "$TMP/block"; fail "overlay not attached"; }
grep -q "disk1 (data): /dev/fdset/" "$TMP/block" || { cat "$TMP/block"; fail "data disk not attached"; }
ctl qmp d1 '{"execute": "query-fdsets"}' >"$TMP/fdsets" || fail "qmp query-fdsets"
for f in ephemeral.qcow2 data.qcow2; do
	contains -F "\"rw:$STATE/vm/d1/$f\"" <"$TMP/fdsets" || { cat "$TMP/fdsets"; fail "no fd for $f"; }
done
qemu-img info -U "$STATE/vm/d1/ephemeral.qcow2" | contains "backing file: $TMP/base.qcow2" ||
	fail "overlay does not have the base as backing file"
ctl log d1 | contains 'n3x-guest: ready d1 x86_64' || fail "log does not show the boot"

# An old mtime on the overlay: a new file made at the next boot will not have it
# (inode numbers are reused, so they cannot tell).
touch -d '2001-01-01' "$STATE/vm/d1/ephemeral.qcow2"
data1=$(stat -c %i "$STATE/vm/d1/data.qcow2")
pid1=$(live_pid d1) || fail "d1 has no running QEMU"
ctl restart d1 >/dev/null || fail "restart"
ctl wait d1 --console 'n3x-guest: ready' --timeout 120 >/dev/null || fail "d1 not ready after restart"
pid2=$(live_pid d1) || fail "d1 has no running QEMU after restart"
[ "$pid2" != "$pid1" ] || fail "restart kept the same QEMU"
! kill -0 "$pid1" 2>/dev/null || fail "the first QEMU $pid1 still runs after restart"
[ "$(stat -c %Y "$STATE/vm/d1/ephemeral.qcow2")" -gt 978307200 ] || fail "ephemeral overlay not recreated"
expect_eq "$(stat -c %i "$STATE/vm/d1/data.qcow2")" "$data1" "data disk inode"
grep -q 'n3x-guest: powering off' "$STATE/vm/d1/console.log" || fail "restart was not graceful"

ctl kill d1 >/dev/null || fail "kill"
expect_field d1 state stopped
wait_gone "$pid2" 10 || fail "QEMU $pid2 still runs after kill"
expect_eq "$(md5sum <"$TMP/base.qcow2")" "$sum0" "base image checksum"

expect_eq "$(cat "$PIDFILE" 2>/dev/null)" "$LPID" "launcher.pid before shutdown"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "supervisor still running after shutdown"
[ ! -e "$XDG_RUNTIME_DIR/n3x/it-disks" ] || { find "$XDG_RUNTIME_DIR/n3x/it-disks"; fail "runtime dir left behind"; }
set +e
ctl status >/dev/null 2>&1
rc=$?
set -e
expect_eq "$rc" "3" "n3x-ctl exit code with no supervisor"

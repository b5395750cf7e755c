# A disk is never lost by accident (issue 10): switching a VM from
# persistent to ephemeral and back keeps what the guest wrote to its
# persistent overlay; a truncated overlay and a changed base stop the start
# with the way out spelled out (`n3x-ctl reset`, or the old base put back),
# and --check says so too; reset discards an overlay only when the VM is
# stopped; ENOSPC in a guest's disk shows in status as io_error.
# Guests are the demo image, driven over their serial console; what they
# read from /dev/vda is what the disk holds.
. "$(dirname "$0")/lib.sh"

need_root "a tmpfs for the ENOSPC case"
need_cmd qemu-img socat
qemu-img create -q -f qcow2 "$TMP/base.qcow2" 64M
cp -p "$TMP/base.qcow2" "$TMP/base.orig"
STATE=$XDG_STATE_HOME/n3x/it-disk
RUN=$XDG_RUNTIME_DIR/n3x/it-disk
OV=$STATE/vm/d1/overlay.qcow2
MARK=n3x-persistent-marker

# conf MODE: the topology with d1's disk-mode set to MODE.
conf() {
	write_conf disk "[fabric]
name = it-disk
$(vm_block d1 x86_64 "disk = $TMP/base.qcow2" "disk-mode = $1")"
}

# launch MODE: a supervisor for the topology in MODE, d1 logged in.
launch() {
	start_launcher "$(conf "$1")"
	guest_login d1
}

# relaunch MODE: shut the supervisor down, start one in MODE.
relaunch() {
	ctl shutdown >/dev/null || fail "shutdown"
	wait_gone "$LPID" 30 || fail "supervisor still running after shutdown"
	launch "$1"
}

# vda_mark: whether the guest reads the marker at 1 MiB into its disk.
vda_mark() {
	local rc
	rc=$(guest_run d1 "dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null | head -c ${#MARK} | grep -q $MARK") ||
		fail "d1: could not read /dev/vda"
	case $rc in 0) echo yes ;; 1) echo no ;; *) fail "d1: reading /dev/vda exited $rc" ;; esac
}

# start_fails WHAT PATTERN: `ctl start d1` fails (exit 1) saying PATTERN,
# and status keeps the same line as d1's last error.
start_fails() {
	local rc=0 out
	out=$(ctl start d1 2>&1) || rc=$?
	expect_eq "$rc" 1 "$1: start exit code"
	grep -qF -- "$2" <<<"$out" || fail "$1: start said '$out', not '$2'"
	status_field d1 last_error | contains -F -- "$2" || fail "$1: last_error does not say '$2'"
	note "$1: $(tail -n1 <<<"$out")"
}

# ---- persistent -> ephemeral -> persistent keeps the persistent overlay ----
launch persistent
expect_eq "$(vda_mark)" no "a fresh overlay's marker"
expect_eq "$(guest_run d1 "echo $MARK | dd of=/dev/vda bs=512 seek=2048 conv=fsync 2>/dev/null")" 0 "writing the marker"
expect_eq "$(vda_mark)" yes "marker read back"
[ -s "$STATE/vm/d1/overlay.base.json" ] || fail "no overlay.base.json next to the overlay"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["path"]==sys.argv[2] and d["size"]==int(sys.argv[3]), d' \
	"$STATE/vm/d1/overlay.base.json" "$TMP/base.qcow2" "$(stat -c %s "$TMP/base.qcow2")" ||
	fail "overlay.base.json does not name the base and its size"
ctl stop d1 >/dev/null || fail "stop d1"
sum=$(md5sum <"$OV") ino=$(stat -c %i "$OV")

relaunch ephemeral
# QEMU holds its images as fds: query-fdsets names the file behind disk0's.
ctl qmp d1 '{"execute": "query-fdsets"}' | contains -F "\"rw:$STATE/vm/d1/ephemeral.qcow2\"" ||
	fail "ephemeral mode does not run on ephemeral.qcow2"
expect_eq "$(vda_mark)" no "an ephemeral overlay's marker"
expect_eq "$(md5sum <"$OV")" "$sum" "persistent overlay checksum while ephemeral"
ctl kill d1 >/dev/null || fail "kill d1"

relaunch persistent
expect_eq "$(vda_mark)" yes "the marker after persistent -> ephemeral -> persistent"
expect_eq "$(stat -c %i "$OV")" "$ino" "persistent overlay inode"
ctl stop d1 >/dev/null || fail "stop d1"
expect_eq "$(md5sum <"$OV")" "$sum" "persistent overlay checksum after the round trip"

# ---- reset is refused while the VM runs ----
ctl start d1 >/dev/null || fail "start d1"
rc=0
out=$(ctl reset d1 2>&1) || rc=$?
expect_eq "$rc" 1 "reset of a running VM: exit code"
expect_eq "$out" "n3x-ctl: d1: stop the VM first (it is running)" "reset of a running VM"
[ -e "$OV" ] || fail "reset of a running VM removed the overlay"
ctl stop d1 >/dev/null || fail "stop d1"

# ---- a changed base: a clear start error, --check too; the old base back works ----
qemu-img resize -q -f qcow2 "$TMP/base.qcow2" 128M
start_fails "changed base" "base $TMP/base.qcow2 changed since its overlay was made (modified "
start_fails "changed base" "; \`n3x-ctl reset d1\` discards the overlay, or put the old base back"
expect_field d1 state crashed
rc=0
"$BIN/n3x-launch" --check "$(conf persistent)" >/dev/null 2>"$TMP/check.err" || rc=$?
expect_eq "$rc" 2 "--check over a changed base: exit code"
contains -F "vm d1: base $TMP/base.qcow2 changed since its overlay was made" <"$TMP/check.err" ||
	fail "--check does not report the changed base: $(cat "$TMP/check.err")"
expect_eq "$(md5sum <"$OV")" "$sum" "overlay checksum after the refused start"
cp -p "$TMP/base.orig" "$TMP/base.qcow2"
ctl stop d1 >/dev/null || fail "stop the crashed d1"
ctl start d1 >/dev/null || fail "start with the old base put back: $(status_field d1 last_error)"
guest_login d1
expect_eq "$(vda_mark)" yes "the marker with the old base back"
ctl stop d1 >/dev/null || fail "stop d1"

# ---- a truncated overlay is found; reset then starts afresh ----
# Cut in its last cluster (the marker's data): its tables are whole, so
# qemu-img check is what finds it.
truncate -s -65536 "$OV"
start_fails "overlay cut in its data" "$OV is damaged: qemu-img check found corruptions"
start_fails "overlay cut in its data" "\`n3x-ctl reset d1\` discards the overlay"
# Cut in half: before its own tables, found without running anything.
truncate -s $(($(stat -c %s "$OV") / 2)) "$OV"
start_fails "truncated overlay" "$OV is "
start_fails "truncated overlay" "cut short; \`n3x-ctl reset d1\` discards the overlay"
rc=0
"$BIN/n3x-launch" --check "$(conf persistent)" >/dev/null 2>"$TMP/check.err" || rc=$?
expect_eq "$rc" 2 "--check over a truncated overlay: exit code"
contains -F "vm d1: $OV is " <"$TMP/check.err" || fail "--check does not report the cut overlay: $(cat "$TMP/check.err")"
ctl stop d1 >/dev/null || fail "stop the crashed d1"
out=$(ctl reset d1) || fail "reset d1"
contains -Fx "removed $OV" <<<"$out" || fail "reset did not say it removed $OV: $out"
contains -Fx "removed $STATE/vm/d1/overlay.base.json" <<<"$out" || fail "reset kept overlay.base.json: $out"
[ ! -e "$OV" ] || fail "overlay still there after reset"
expect_eq "$(ctl reset d1)" "d1: no overlay to discard" "a second reset"
ctl start d1 >/dev/null || fail "start after reset: $(status_field d1 last_error)"
guest_login d1
expect_eq "$(vda_mark)" no "the marker after reset"
[ -e "$STATE/vm/d1/overlay.base.json" ] || fail "no overlay.base.json for the new overlay"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "supervisor still running after shutdown"

# ---- ENOSPC in the guest's disk shows in status ----
# $STATE on a 24 MiB tmpfs (root's, 0700), a 64 MiB data disk the guest fills.
SMALL=$TMP/small
mkdir -p "$SMALL"
mount -t tmpfs -o size=24m,mode=0700 n3x-it-disks "$SMALL" || skip "cannot mount a tmpfs"
test_cleanup() { umount -l "$SMALL" 2>/dev/null || true; }
export XDG_STATE_HOME=$SMALL
start_launcher "$(write_conf full "[fabric]
name = it-full
$(vm_block d2 x86_64 'data-disk = 64M')")"
RUN=$XDG_RUNTIME_DIR/n3x/it-full
guest_login d2
type_in d2 "dd if=/dev/zero of=/dev/vda bs=65536 count=1000 conv=fsync; echo @@DD=\$?"
for _ in $(seq 1 600); do
	[ "$(status_field d2 state)" = paused ] && break
	sleep 0.1
done
expect_field d2 state paused
io=$(ctl status --json | python3 -c '
import json, sys
vm = [v for v in json.load(sys.stdin)["vms"] if v["name"] == "d2"][0]
e = vm.get("io_error") or sys.exit("status has no io_error for d2")
print("%s|%s %s %s" % (e["device"], e["operation"], e["action"], e["reason"]))') || fail "io_error"
# The device is the drive's id (disk0), or its node (data) for a -blockdev.
case ${io%%|*} in disk0 | data) ;; *) fail "d2 io_error names device '${io%%|*}'" ;; esac
expect_eq "${io#*|}" "write stop No space left on device" "d2 io_error"
ctl status | contains -E "d2: I/O error on (disk0|data) \(write\): No space left on device" ||
	fail "text status does not show the I/O error: $(ctl status)"
note "d2 paused on ENOSPC: $io"
ctl kill d2 >/dev/null || fail "kill d2"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "supervisor still running after shutdown"
umount "$SMALL" || fail "umount $SMALL"

# The aarch64 Debian disk image: GPT, GRUB at EFI/BOOT/BOOTAA64.EFI, booted
# by AAVMF under TCG.  n3x-launch --wait-ready returns once its agent
# answers; exec and cp work as on x86_64; stop is a clean poweroff.
. "$(dirname "$0")/lib.sh"

need_root "network namespace and taps"
need_cmd qemu-system-aarch64
[ -r "$IMG/debian-aarch64.qcow2" ] || skip "no $IMG/debian-aarch64.qcow2 (make images builds it where arm64 programs run)"

conf=$(write_conf arm "[fabric]
name = it-arm

[network lan]
switch = linux-bridge
bridge = br-itarm
address = 192.168.78.1/24
dhcp = 192.168.78.100,192.168.78.200,1h

[vm j1]
arch = aarch64
memory = 1G
disk = @IMG@/debian-aarch64.qcow2
disk-mode = ephemeral
nic = lan
ready = agent
stop-timeout = 90")
CONF=$conf
STATE=$XDG_STATE_HOME/n3x/it-arm

"$BIN/n3x-launch" --wait-ready=900 "$conf" 2>"$TMP/parent.log" || {
	cat "$TMP/parent.log"
	fail "--wait-ready did not return 0"
}
LPID=$(cat "$XDG_RUNTIME_DIR/n3x/it-arm/launcher.pid") || fail "no pid file after --wait-ready"
ln -s "$STATE/launcher.log" "$TMP/launcher.log"
grep -qE '^n3x-launch: j1 ready \(agent\) after [0-9.]+ s$' "$TMP/parent.log" || { cat "$TMP/parent.log"; fail "no progress line"; }
note "$(cat "$TMP/parent.log")"
expect_field j1 firmware uefi
expect_field j1 agent True

m=$(ctl exec j1 -- uname -m) || fail "exec uname -m"
expect_eq "$m" aarch64 "the guest's machine"
ctl exec j1 -- test -d /sys/firmware/efi || fail "j1 did not boot through UEFI"
# No ip= on its NIC: DHCP still names it.
ctl wait j1 --exec 'test "$(hostname)" = j1' --timeout 120 >/dev/null || fail "j1 did not take its hostname from DHCP"

head -c $((1024 * 1024 + 7)) /dev/urandom >"$TMP/blob"
ctl cp "$TMP/blob" j1:/root/blob || fail "cp in"
ctl cp j1:/root/blob "$TMP/back" || fail "cp out"
cmp -s "$TMP/blob" "$TMP/back" || fail "cp through the aarch64 agent changed the file"

ctl stop j1 >/dev/null || fail "stop j1"
grep -q 'reboot: Power down' "$STATE/vm/j1/console.log" || fail "j1 did not power itself off"
! grep -q 'did not power off' "$STATE/vm/j1/console.log" || fail "j1 needed a forced quit"

# `n3x-launch --check` prints the plans in tests/data/check/ (diffed exactly,
# the checkout and temp paths replaced by @SRC@ and @TMP@) and starts
# nothing.  The host is described with N3X_PROBE_*, not probed, so the
# goldens hold on any machine; each accel and datapath branch has its own.
# N3X_REGEN_GOLDEN=1 rewrites the goldens instead of diffing them.
. "$(dirname "$0")/lib.sh"

export XDG_RUNTIME_DIR=/run/user/1000 XDG_STATE_HOME=/home/u/.local/state
GOLD=$SRC/tests/data/check

# plan NAME CONF ARCH KVM DATAPATH: --check on that host, against NAME.plan.
plan() {
	local name=$1 conf=$2 out=$TMP/$1.plan
	N3X_PROBE_ARCH=$3 N3X_PROBE_KVM=$4 N3X_PROBE_OVS_DATAPATH=$5 \
		"$BIN/n3x-launch" --check "$conf" >"$TMP/raw" || fail "$name: --check failed"
	sed -e "s|$SRC|@SRC@|g" -e "s|$TMP|@TMP@|g" "$TMP/raw" >"$out"
	if [ -n "${N3X_REGEN_GOLDEN:-}" ]; then
		cp "$out" "$GOLD/$name.plan"
		note "regenerated $GOLD/$name.plan"
	fi
	diff -u "$GOLD/$name.plan" "$out" || fail "$name: plan differs"
}

# The example, as on the host the golden was first made on.
plan n3x-cluster "$SRC/examples/n3x-cluster.conf" x86_64 pvm-only netdev

# One x86_64 VM with accel=auto on an OVS switch, on each kind of host.
touch "$TMP/vmlinuz" "$TMP/initrd.img"
conf=$(write_conf probe "[fabric]
name = probe
[network lan]
switch = ovs
bridge = br-probe
host-interface = probe0
address = 10.9.0.1/24
[vm n1]
memory = 256M
kernel = $TMP/vmlinuz
initrd = $TMP/initrd.img
append = console=ttyS0
nic = lan mac=52:54:00:00:09:01")

plan kvm-ok "$conf" x86_64 ok system
grep -q '^    -accel kvm \\$' "$TMP/kvm-ok.plan" || fail "usable KVM: not planned with KVM"
plan kvm-pvm-only "$conf" x86_64 pvm-only system
grep -q '^# vm n1: x86_64, tcg (/dev/kvm is PVM-only' "$TMP/kvm-pvm-only.plan" || fail "PVM-only: not TCG"
plan kvm-absent "$conf" x86_64 absent system
grep -q '^# vm n1: x86_64, tcg (/dev/kvm is absent)' "$TMP/kvm-absent.plan" || fail "no /dev/kvm: not TCG"

# The kernel datapath keeps checksum offload; the userspace one turns it off.
! grep -q 'csum=off' "$TMP/kvm-ok.plan" || fail "kernel datapath: csum=off"
plan datapath-netdev "$conf" x86_64 ok netdev
grep -q 'csum=off,guest_csum=off' "$TMP/datapath-netdev.plan" || fail "netdev datapath: no csum=off"

# Firmware, each branch on purpose: x86_64 SeaBIOS by default, x86_64 UEFI
# (OVMF's 4M pair, a per-VM copy of the variables), aarch64 disk boot
# through AAVMF, aarch64 direct kernel boot without firmware.  Every VM gets
# the guest agent's port on fd 5 and its taps from fd 8 (after the users'
# QMP socket and console.log).
touch "$TMP/disk.img"
fw=$(write_conf firmware "[fabric]
name = fw
[network lan]
switch = linux-bridge
bridge = br-fw
address = 10.9.1.1/24
[vm x-bios]
disk = $TMP/disk.img
nic = lan mac=52:54:00:00:0a:01
[vm x-uefi]
disk = $TMP/disk.img
firmware = uefi
ready = agent
[vm a-disk]
arch = aarch64
disk = $TMP/disk.img
[vm a-kernel]
arch = aarch64
kernel = $TMP/vmlinuz
nic = lan mac=52:54:00:00:0a:02")
plan firmware "$fw" x86_64 absent system
# plan_of NAME: the plan lines of one VM.
plan_of() { sed -n "/^# vm $1:/,/^\$/p" "$TMP/firmware.plan"; }
plan_of x-bios | grep -q '^# vm x-bios: x86_64, tcg (/dev/kvm is absent), firmware=bios,' || fail "x-bios: not bios"
! plan_of x-bios | grep -q pflash || fail "x-bios: pflash with bios"
plan_of x-uefi | grep -q '^# vm x-uefi: x86_64, tcg (/dev/kvm is absent), firmware=uefi,' || fail "x-uefi: not uefi"
plan_of x-uefi | grep -q "^test -e .*/vm/x-uefi/efivars.fd || cp /usr/share/OVMF/OVMF_VARS_4M.fd " ||
	fail "x-uefi: no copy of OVMF_VARS_4M.fd"
plan_of x-uefi | grep -q 'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd' ||
	fail "x-uefi: no OVMF code"
plan_of a-disk | grep -q '^# vm a-disk: aarch64, tcg (aarch64 guest on a different host arch), firmware=uefi,' ||
	fail "a-disk: not uefi"
plan_of a-disk | grep -q 'file=/usr/share/AAVMF/AAVMF_CODE.fd' || fail "a-disk: no AAVMF code"
plan_of a-kernel | grep -q '^# vm a-kernel: aarch64, tcg (aarch64 guest on a different host arch), firmware=none,' ||
	fail "a-kernel: firmware"
! plan_of a-kernel | grep -q pflash || fail "a-kernel: pflash with direct kernel boot"
for vm in x-bios x-uefi a-disk a-kernel; do
	plan_of $vm | grep -q '^    -chardev socket,id=ga0,fd=5,server=on,wait=off \\$' || fail "$vm: no agent chardev on fd 5"
	plan_of $vm | grep -q '^    -device virtserialport,bus=vser0.0,chardev=ga0,name=org.qemu.guest_agent.0,id=ga0port \\$' ||
		fail "$vm: no agent port"
done
plan_of a-kernel | grep -q '^    -netdev tap,id=net0,fd=8 \\$' || fail "a-kernel: tap not at fd 8"

# A description that names no known host is bad usage.
rc=0
N3X_PROBE_KVM=maybe "$BIN/n3x-launch" --check "$conf" >/dev/null 2>"$TMP/err" || rc=$?
expect_eq "$rc" 2 "N3X_PROBE_KVM=maybe exit code"
expect_eq "$(cat "$TMP/err")" 'n3x-launch: N3X_PROBE_KVM: "maybe" is not ok, pvm-only, absent or denied' "message"

[ ! -e /run/user/1000/n3x/n3x ] || fail "--check created the runtime dir"
[ ! -e /run/user/1000/n3x/probe ] || fail "--check created the runtime dir"

# accel=kvm where KVM cannot run the guest: one FILE:LINE line, exit 2.
kvm=$(write_conf kvm "[vm k1]
accel = kvm
kernel = $TMP/vmlinuz")
rc=0
N3X_PROBE_KVM=absent "$BIN/n3x-launch" --check "$kvm" >/dev/null 2>"$TMP/err" || rc=$?
expect_eq "$rc" 2 "accel=kvm without KVM: exit code"
expect_eq "$(cat "$TMP/err")" "$kvm:1: vm k1: accel=kvm is not usable here: /dev/kvm is absent (use accel=auto or tcg)" "accel=kvm without KVM: message"

# The demo images on their own: each arch boots to its ready line, takes a
# DHCP lease on its NIC (QEMU's restricted user network: nothing leaves it)
# and powers off on system_powerdown.
. "$(dirname "$0")/lib.sh"

need_cmd qemu-system-x86_64 qemu-system-aarch64 socat

"$SRC/images/smoke-test.sh" "$IMG" || fail "images/smoke-test.sh"

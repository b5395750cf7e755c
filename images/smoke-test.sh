#!/bin/sh
# Boot each demo image under TCG the way n3x-launch does and check what
# the supervisor relies on:
#   - "n3x-guest: ready NAME ARCH" on the serial console, NAME from fw_cfg;
#   - "n3x-guest: lease eth0 IP" from QEMU's built-in DHCP (user netdev
#     with restrict=on, so no packet leaves the emulator);
#   - QMP system_powerdown -> "n3x-guest: powering off", QEMU exits by
#     itself.
#
#   images/smoke-test.sh OUTDIR [ARCH...]     (default: x86_64 aarch64)
#
# Prints one line per arch with the boot time, then "N passed, N failed".
# Needs qemu-system-x86, qemu-system-arm and socat (scripts/deps.sh).
set -u

[ $# -ge 1 ] || {
	echo "usage: images/smoke-test.sh OUTDIR [ARCH...]" >&2
	exit 2
}
out=$1
shift
[ $# -gt 0 ] || set -- x86_64 aarch64

tmp=$(mktemp -d /tmp/n3x-smoke.XXXXXX)
qemu_pid=""
cleanup() {
	# Only the QEMU this script started, by its PID.
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_line PATTERN TIMEOUT_S: 0 once PATTERN is in the console log.
wait_line() {
	deadline=$(($(now_ms) + $2 * 1000))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		grep -q "$1" "$tmp/console.log" 2>/dev/null && return 0
		kill -0 "$qemu_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

passed=0
failed=0
for arch in "$@"; do
	case "$arch" in
	x86_64)
		qemu="qemu-system-x86_64 -machine q35 -cpu max"
		append="console=ttyS0"
		;;
	aarch64)
		qemu="qemu-system-aarch64 -machine virt,gic-version=3 -cpu cortex-a57"
		append="console=ttyAMA0"
		;;
	*)
		echo "smoke: unknown arch $arch" >&2
		failed=$((failed + 1))
		continue
		;;
	esac
	name=smoke-$arch
	rm -f "$tmp/console.log" "$tmp/qmp.sock"
	start=$(now_ms)
	# shellcheck disable=SC2086 # $qemu is the program and its machine words
	$qemu -nodefaults -no-user-config -name "$name" -accel tcg -m 256 -smp 1 \
		-display none -object rng-random,id=rng0,filename=/dev/urandom \
		-device virtio-rng-pci,rng=rng0 \
		-fw_cfg "name=opt/n3x/hostname,string=$name" \
		-netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0 \
		-serial "file:$tmp/console.log" \
		-kernel "$out/$arch/vmlinuz" -initrd "$out/$arch/initrd.img" \
		-append "$append" -qmp "unix:$tmp/qmp.sock,server=on,wait=off" \
		</dev/null >"$tmp/qemu.err" 2>&1 &
	qemu_pid=$!

	why=""
	if ! wait_line "n3x-guest: ready $name $arch" 180; then
		why="no ready line"
	fi
	ready_ms=$(($(now_ms) - start))
	if [ -z "$why" ] && ! wait_line "n3x-guest: lease eth0 " 60; then
		why="no DHCP lease"
	fi
	if [ -z "$why" ]; then
		printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"system_powerdown"}' |
			socat -t 2 - "unix-connect:$tmp/qmp.sock" >/dev/null 2>&1
		stop=$(now_ms)
		i=0
		while kill -0 "$qemu_pid" 2>/dev/null && [ "$i" -lt 200 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		stop_ms=$(($(now_ms) - stop))
		if kill -0 "$qemu_pid" 2>/dev/null; then
			why="QEMU still running 20 s after system_powerdown"
		elif ! grep -q "n3x-guest: powering off" "$tmp/console.log"; then
			why="no powering-off line"
		fi
	fi
	if [ -z "$why" ]; then
		wait "$qemu_pid" 2>/dev/null
		qemu_pid=""
		echo "smoke: $arch ok: ready after $ready_ms ms," \
			"$(grep -o 'n3x-guest: lease [^ ]* [0-9.]*' "$tmp/console.log" | head -n 1)," \
			"powered off $stop_ms ms after system_powerdown"
		passed=$((passed + 1))
	else
		echo "smoke: $arch FAILED: $why; console tail:" >&2
		tail -n 20 "$tmp/console.log" "$tmp/qemu.err" >&2 2>/dev/null
		kill "$qemu_pid" 2>/dev/null
		wait "$qemu_pid" 2>/dev/null
		qemu_pid=""
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

# Real guests: Debian disk images booted through their own bootloader (GRUB
# on MBR under SeaBIOS, GRUB at the removable path under OVMF), driven
# through the guest agent as a test script would: wait --agent, exec,
# cp, wait --exec, wait --port, ssh from the fabric, a clean stop.  A
# busybox demo VM beside them has no agent, and exec says so.
. "$(dirname "$0")/lib.sh"

need_root "network namespace and taps"
need_cmd qemu-system-x86_64 ssh sshpass sha256sum
for f in debian-x86_64.qcow2 debian-x86_64-uefi.qcow2; do
	[ -r "$IMG/$f" ] || skip "no $IMG/$f (make images builds it)"
done
[ -r /usr/share/OVMF/OVMF_CODE_4M.fd ] || skip "no OVMF (package ovmf)"

NET=192.168.77
debian_vm() { # NAME IMAGE LAST-OCTET [EXTRA LINES]
	local name=$1 image=$2 ip=$3
	shift 3
	printf '[vm %s]\narch = x86_64\nmemory = 512M\ndisk = @IMG@/%s\ndisk-mode = ephemeral\n' "$name" "$image"
	printf 'nic = lan ip=%s.%s\nready = agent\nstop-timeout = 90\n' "$NET" "$ip"
	for l in "$@"; do printf '%s\n' "$l"; done
}
conf=$(write_conf guest "[fabric]
name = it-guest

[network lan]
switch = linux-bridge
bridge = br-itg
address = $NET.1/24
dhcp = $NET.100,$NET.200,1h
domain = test

$(debian_vm g1 debian-x86_64.qcow2 11)
$(debian_vm g2 debian-x86_64.qcow2 12)
$(debian_vm g3 debian-x86_64.qcow2 13)
$(debian_vm gu debian-x86_64-uefi.qcow2 14 'firmware = uefi')
$(vm_block b1 x86_64 'nic = lan')")
start_launcher "$conf"
RUN=$XDG_RUNTIME_DIR/n3x/it-guest
NS=n3x-it-guest

# The busybox demo has no agent: exec fails at once, naming what is missing.
ctl wait b1 --console 'n3x-guest: ready' --timeout 120 >/dev/null || fail "b1 did not boot"
rc=0
out=$(ctl exec b1 -- true 2>&1) || rc=$?
expect_eq "$rc" 1 "exec on a guest without an agent: exit code"
grep -q 'qemu-guest-agent' <<<"$out" || fail "exec on b1 does not name qemu-guest-agent: $out"
expect_field b1 agent False

# Four TCG guests share two cores: give them time.
t0=$(date +%s)
for vm in g1 g2 g3 gu; do
	ctl wait "$vm" --agent --timeout 900 >/dev/null || fail "$vm: no guest agent"
	note "$vm: agent up after $(($(date +%s) - t0)) s"
	expect_field "$vm" agent True
	expect_field "$vm" ready True
done

# Each guest has its own lease and took its hostname from DHCP (the base
# image has none); a fresh machine-id each.
ids=
for i in 1 2 3; do
	vm=g$i
	lease=$(ctl wait "$vm" --lease --timeout 60) || fail "$vm: no lease"
	expect_eq "$lease" "$vm/0 $NET.1$i" "$vm lease"
	ctl wait "$vm" --exec "test \"\$(hostname)\" = $vm" --timeout 120 >/dev/null ||
		fail "$vm did not take its hostname from DHCP"
	h=$(ctl exec "$vm" -- hostname) || fail "$vm: exec hostname"
	expect_eq "$h" "$vm" "$vm: hostname"
	id=$(ctl exec "$vm" -- cat /etc/machine-id) || fail "$vm: machine-id"
	[[ " $ids " != *" $id "* ]] || fail "$vm has the machine-id of another VM: $id"
	ids="$ids $id"
done

# Exit codes, signals, stdout and stderr apart, output of 1 MiB.
rc=0
ctl exec g1 -- sh -c 'echo out; echo err >&2; exit 3' >"$TMP/o" 2>"$TMP/e" || rc=$?
expect_eq "$rc" 3 "exec exit code"
expect_eq "$(cat "$TMP/o")" out "exec stdout"
expect_eq "$(cat "$TMP/e")" err "exec stderr"
rc=0
ctl exec g1 -- sh -c 'kill -TERM $$' || rc=$?
expect_eq "$rc" 143 "exec of a command killed by SIGTERM"
ctl exec g1 -- sh -c 'head -c 1048576 /dev/urandom | tee /root/mib; echo some-stderr >&2' \
	>"$TMP/mib" 2>"$TMP/e" || fail "exec of 1 MiB of output"
expect_eq "$(stat -c %s "$TMP/mib")" 1048576 "exec: bytes of stdout"
expect_eq "$(cat "$TMP/e")" some-stderr "exec: stderr beside 1 MiB of stdout"
sum=$(ctl exec g1 -- sha256sum /root/mib) || fail "sha256sum in g1"
expect_eq "${sum%% *}" "$(sha256sum <"$TMP/mib" | cut -d' ' -f1)" "exec: 1 MiB of stdout byte for byte"
rc=0
out=$(ctl exec g1 -- /no/such/program 2>&1) || rc=$?
expect_eq "$rc" 1 "exec of a missing program"
grep -q '/no/such/program' <<<"$out" || fail "exec of a missing program does not name it: $out"
printf 'line one\nline two\n' >"$TMP/in"
got=$(ctl exec g1 --stdin "$TMP/in" --env GREETING=hi -- sh -c 'wc -l; echo "$GREETING"') || fail "exec --stdin --env"
expect_eq "$got" "2
hi" "exec --stdin and --env"

# cp in and back out: 5 MiB of random bytes, the same sha256 on all three.
head -c $((5 * 1024 * 1024)) /dev/urandom >"$TMP/five"
want=$(sha256sum <"$TMP/five" | cut -d' ' -f1)
ctl cp "$TMP/five" g2:/root/five || fail "cp into g2"
sum=$(ctl exec g2 -- sha256sum /root/five) || fail "sha256sum in g2"
expect_eq "${sum%% *}" "$want" "cp in: sha256 in the guest"
mkdir "$TMP/back"
ctl cp g2:/root/five "$TMP/back" || fail "cp out of g2 into a directory"
expect_eq "$(sha256sum <"$TMP/back/five" | cut -d' ' -f1)" "$want" "cp out: sha256"
rc=0
out=$(ctl cp g2:/root/nope "$TMP/nope" 2>&1) || rc=$?
expect_eq "$rc" 1 "cp of a missing guest file"
expect_eq "$(wc -l <<<"$out")" 1 "cp of a missing file says it in one line"
grep -q '/root/nope' <<<"$out" || fail "cp of a missing file does not name it: $out"
[ ! -e "$TMP/nope" ] || fail "a failed cp left $TMP/nope"

# One raw agent command, and wait --exec's last failure on a timeout.
ctl agent g3 '{"execute":"guest-info"}' | contains '"version"' || fail "agent guest-info"
rc=0
out=$(ctl wait g3 --exec 'echo not-yet >&2; exit 1' --timeout 3 2>&1) || rc=$?
expect_eq "$rc" 1 "wait --exec that never succeeds"
grep -q 'not-yet' <<<"$out" || fail "wait --exec timeout does not show the last failure: $out"

# sshd from the fabric's namespace, with the image's root/test.
ctl wait g1 --port 22 --timeout 120 >/dev/null || fail "g1: port 22 never opened"
h=$(ip netns exec "$NS" sshpass -p test ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o LogLevel=ERROR -o ConnectTimeout=30 "root@$NET.11" hostname) || fail "ssh root@g1"
expect_eq "$h" g1 "hostname over ssh"

# UEFI: the same tree on GPT with an ESP, booted by OVMF.
ctl exec gu -- test -d /sys/firmware/efi || fail "gu did not boot through UEFI"
ctl exec g1 -- test ! -d /sys/firmware/efi || fail "g1 booted through UEFI, not BIOS"

# The agent restarting under a request: the request fails, the supervisor
# sees the port close and open again and resynchronises with the new agent.
ctl exec g2 -- systemctl restart qemu-guest-agent >/dev/null 2>&1 || true
ctl wait g2 --exec true --timeout 120 >/dev/null || fail "g2: no agent after its restart"
grep -q 'vm g2: guest agent down' "$TMP/launcher.log" || fail "the supervisor did not see g2's agent go"
h=$(ctl exec g2 -- hostname) || fail "g2: exec after the agent restarted"
expect_eq "$h" g2 "g2: hostname after the agent restarted"

# stop is a clean systemd shutdown: the guest powers itself off.
ctl stop g3 >/dev/null || fail "stop g3"
expect_field g3 state stopped
expect_field g3 agent False
log=$XDG_STATE_HOME/n3x/it-guest/vm/g3/console.log
grep -q 'reboot: Power down' "$log" || { tail -n 20 "$log"; fail "g3 did not power itself off"; }
! grep -q 'did not power off' "$log" || fail "g3 needed a forced quit"

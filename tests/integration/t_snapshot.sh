# Whole-cluster snapshots on three Debian guests: save a booted cluster,
# change a guest (a new file, a counter bumped), load, and the change is
# gone while the guests did not reboot (boot_id the same, uptime goes on
# from the save) and still reach each other.  The snapshot outlives the
# supervisor: a new one refuses it when a VM's memory changed, naming the
# VM, and loads it into stopped VMs when the topology is back as saved.
# A snapshot of one VM lives beside it; list shows them; delete removes one
# without the other.
. "$(dirname "$0")/lib.sh"

need_root "network namespace and taps"
need_cmd qemu-system-x86_64 qemu-img python3
[ -r "$IMG/debian-x86_64.qcow2" ] || skip "no $IMG/debian-x86_64.qcow2 (make images builds it)"

NET=192.168.79
FABRIC=it-snap
RUN=$XDG_RUNTIME_DIR/n3x/$FABRIC
STATE=$XDG_STATE_HOME/n3x/$FABRIC
VMS="g1 g2 g3"

# conf G2_MEMORY AUTOSTART: the topology, one VM's memory and whether the
# VMs boot with the supervisor as the knobs.
conf() {
	local vm i=0 mem
	printf '[fabric]\nname = %s\n\n[network lan]\nswitch = linux-bridge\nbridge = br-itsnap\n' "$FABRIC"
	printf 'address = %s.1/24\ndhcp = %s.100,%s.200,1h\ndomain = test\n' "$NET" "$NET" "$NET"
	for vm in $VMS; do
		i=$((i + 1))
		mem=512M
		[ "$vm" != g2 ] || mem=$1
		printf '\n[vm %s]\narch = x86_64\naccel = tcg\nmemory = %s\nvcpus = 1\n' "$vm" "$mem"
		printf 'disk = @IMG@/debian-x86_64.qcow2\ndisk-mode = persistent\n'
		printf 'nic = lan ip=%s.1%s\nready = agent\nautostart = %s\nstop-timeout = 30\n' "$NET" "$i" "$2"
	done
}

# launch [--wait-ready=S]: a detached supervisor for $CONF; LPID is its pid.
launch() {
	"$BIN/n3x-launch" "$@" "$CONF" 2>"$TMP/parent.log" || {
		cat "$TMP/parent.log"
		fail "n3x-launch $* did not return 0"
	}
	LPID=$(cat "$RUN/launcher.pid") || fail "no $RUN/launcher.pid"
	ln -sf "$STATE/launcher.log" "$TMP/launcher.log"
}

# relaunch G2_MEMORY: end the supervisor (its VMs killed first: their disks
# hold the snapshot, nothing else matters) and start one on a new topology
# whose VMs wait to be started.
relaunch() {
	ctl kill --all >/dev/null || fail "kill --all"
	ctl shutdown >/dev/null || fail "shutdown"
	wait_gone "$LPID" 30 || fail "the supervisor did not exit"
	LPID=
	write_conf snap "$(conf "$1" no)" >/dev/null
	launch --daemon
}

# guest VM CMD...: CMD's stdout from the guest.
guest() {
	local vm=$1
	shift
	ctl exec "$vm" -- "$@" || fail "$vm: exec $* failed"
}

uptime_of() { guest "$1" cut -d' ' -f1 /proc/uptime; }

# ping_all: each guest pings the other two through the fabric.
ping_all() {
	local vm j
	for vm in $VMS; do
		for j in 1 2 3; do
			[ "$vm" = "g$j" ] || guest "$vm" ping -c1 -W10 "$NET.1$j" >/dev/null
		done
	done
}

CONF=$(write_conf snap "$(conf 512M yes)")
t0=$(date +%s)
launch --wait-ready=600
note "3 guests ready after $(($(date +%s) - t0)) s"

# The guests reach each other before the save (the agent answers before
# networkd has its lease).
for vm in $VMS; do
	ctl wait "$vm" --lease --timeout 120 >/dev/null || fail "$vm: no lease"
done
ping_all

# A bad name is refused by n3x-ctl, an unknown one by the supervisor.
rc=0
out=$(ctl snapshot save 'no/slash' 2>&1) || rc=$?
expect_eq "$rc" 2 "save with a bad name: exit code"
rc=0
out=$(ctl snapshot load nope 2>&1) || rc=$?
expect_eq "$rc" 1 "load of an unknown snapshot: exit code"
expect_eq "$out" 'n3x-ctl: no snapshot named "nope" (n3x-ctl snapshot list)' "load of an unknown snapshot"
expect_eq "$(ctl snapshot list)" "no snapshots" "list before any save"

declare -A boot up tu
guest g1 sh -c 'echo 1 >/var/lib/counter'
for vm in $VMS; do
	boot[$vm]=$(guest "$vm" cat /proc/sys/kernel/random/boot_id)
	tu[$vm]=$EPOCHREALTIME
	up[$vm]=$(uptime_of "$vm")
done
out=$(ctl snapshot save base) || fail "snapshot save base"
te=$EPOCHREALTIME
note "$out"
[[ "$out" =~ ^saved\ base:\ 3\ VMs\ in\ [0-9.]+\ s,\ [0-9.]+\ [KMG]i?B$ ]] || fail "save printed: $out"
[ -f "$STATE/snapshots/base.json" ] || fail "no $STATE/snapshots/base.json after save"
for vm in $VMS; do expect_field "$vm" state running; done

# list: the table, and --json with the reply's fields.
ctl snapshot list | contains -E '^base +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} +g1,g2,g3 +default +[0-9.]+ [KMG]i?B$' ||
	fail "list does not show base: $(ctl snapshot list)"
json=$(ctl snapshot list --json) || fail "snapshot list --json"
python3 -c '
import json, sys, time
s = json.loads(sys.argv[1])
assert len(s) == 1 and s[0]["name"] == "base", s
assert sorted(s[0]["vms"]) == ["g1", "g2", "g3"], s
assert s[0]["profile"] == "default", s
assert s[0]["bytes"] > 0, s
assert abs(s[0]["created"] - time.time()) < 600, s' "$json" || fail "list --json: $json"

# A snapshot of one VM beside it, then gone again: the other snapshot stays.
out=$(ctl snapshot save one g3) || fail "snapshot save one g3"
[[ "$out" =~ ^saved\ one:\ 1\ VM\ in\ [0-9.]+\ s, ]] || fail "save of one VM printed: $out"
json=$(ctl snapshot list --json) || fail "snapshot list --json"
python3 -c '
import json, sys
s = {x["name"]: x for x in json.loads(sys.argv[1])}
assert sorted(s) == ["base", "one"] and s["one"]["vms"] == ["g3"], s' "$json" || fail "list --json with two: $json"
ctl snapshot delete one || fail "snapshot delete one"
rc=0
ctl snapshot delete one 2>/dev/null || rc=$?
expect_eq "$rc" 1 "delete of a deleted snapshot: exit code"
ctl snapshot list | contains '^base ' || fail "deleting one took base with it"

# Change g1: a new file, the counter bumped; then a pause so that a guest
# that kept running would show it in its uptime.
guest g1 sh -c 'echo after-save >/root/new-file; echo 2 >/var/lib/counter'
expect_eq "$(guest g1 cat /var/lib/counter)" 2 "counter before load"
sleep 10

ls_=$EPOCHREALTIME
out=$(ctl snapshot load base) || fail "snapshot load base"
note "$(head -n1 <<<"$out")"
[[ "$(head -n1 <<<"$out")" =~ ^loaded\ base:\ 3\ VMs\ in\ [0-9.]+\ s$ ]] || fail "load printed: $out"

# check_restored WHEN same|new: the change is gone, no guest rebooted, and
# each guest's uptime went on from the save: at least what it was then.
# A QEMU that loads a snapshot keeps its guest's TSC from going backwards
# (QEMU's cpu_ticks_prev is not in the snapshot), so a guest loaded in the
# QEMU that saved it (same) counts the time between save and load as if it
# had been paused: at most what a guest that ran all along would show.  A
# new QEMU (new) starts from the saved clock: at most the save's duration
# and the time since this load started, so the 10 s pause is not in it.
check_restored() {
	local vm u max
	guest g1 test ! -e /root/new-file || fail "$1: /root/new-file survived the load"
	expect_eq "$(guest g1 cat /var/lib/counter)" 1 "$1: counter"
	for vm in $VMS; do
		expect_eq "$(guest "$vm" cat /proc/sys/kernel/random/boot_id)" "${boot[$vm]}" "$1: $vm boot_id"
		u=$(uptime_of "$vm")
		if [ "$2" = same ]; then
			max=$(awk -v u="${up[$vm]}" -v a="${tu[$vm]}" -v d="$EPOCHREALTIME" \
				'BEGIN { printf "%.1f", u + (d - a) + 3 }')
		else
			max=$(awk -v u="${up[$vm]}" -v a="${tu[$vm]}" -v b="$te" -v c="$ls_" -v d="$EPOCHREALTIME" \
				'BEGIN { printf "%.1f", u + (b - a) + (d - c) + 3 }')
		fi
		awk -v u="$u" -v lo="${up[$vm]}" -v hi="$max" 'BEGIN { exit !(u >= lo && u <= hi) }' ||
			fail "$1: $vm uptime $u s, want ${up[$vm]}..$max s (saved at ${up[$vm]} s)"
		note "$1: $vm uptime ${up[$vm]} s at the save, $u s now"
	done
	# The fabric still carries them: each pings the other two.
	ping_all
}
check_restored "after load" same

# A new supervisor on a changed topology: the snapshot is still listed, and
# loading it is refused with one line naming what changed; nothing starts.
relaunch 768M
ctl snapshot list | contains '^base ' || fail "a new supervisor does not list base"
rc=0
out=$(ctl snapshot load base 2>&1) || rc=$?
expect_eq "$rc" 1 "load onto changed memory: exit code"
expect_eq "$(wc -l <<<"$out")" 1 "load onto changed memory: lines"
grep -q 'g2' <<<"$out" && grep -q '768' <<<"$out" && grep -q '512' <<<"$out" ||
	fail "the refusal does not name g2 and both sizes: $out"
note "refused: $out"
for vm in $VMS; do expect_field "$vm" state stopped; done

# Back to the saved topology: load starts the stopped VMs from the snapshot.
relaunch 512M
ls_=$EPOCHREALTIME
out=$(ctl snapshot load base) || fail "snapshot load base into stopped VMs"
note "$(head -n1 <<<"$out")"
for vm in $VMS; do expect_field "$vm" state running; done
check_restored "after a new supervisor" new

# delete: gone from the list, its metadata and every overlay.
ctl snapshot delete base >"$TMP/out" || fail "snapshot delete base"
expect_eq "$(cat "$TMP/out")" "" "delete prints nothing"
expect_eq "$(ctl snapshot list)" "no snapshots" "list after delete"
expect_eq "$(ctl snapshot list --json)" "[]" "list --json after delete"
[ ! -e "$STATE/snapshots/base.json" ] || fail "$STATE/snapshots/base.json left after delete"
rc=0
ctl snapshot load base >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 1 "load after delete: exit code"
note "whole test: $(($(date +%s) - t0)) s"

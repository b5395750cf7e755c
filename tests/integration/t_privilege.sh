# Least privilege, as the kernel reports it: QEMU runs as n3x-qemu (not
# root, no capabilities, seccomp filter mode: `Seccomp: 2` in
# /proc/PID/status), dnsmasq as nobody, the private ovs-vswitchd as
# n3x-ovs, and the VM still boots, writes its disks (handed over as fds
# from root's 0700 $STATE, which stays root's), gets its lease and its
# qdiscs.  The base image sits in a directory whose name holds a comma and
# an option ("x,readonly=on"): a path cannot add a QEMU option.  Before
# anything starts, a base n3x-qemu cannot read, and a missing n3x-qemu
# user, are one line each and exit 2.
. "$(dirname "$0")/lib.sh"

need_root "network namespaces, a user switch"
need_cmd ip dnsmasq socat qemu-system-x86_64 qemu-img ovs-vsctl ovsdb-server ovs-vswitchd unshare
getent passwd n3x-qemu >/dev/null || skip "no user n3x-qemu (make deps)"
QUID=$(id -u n3x-qemu)
NOBODY=$(id -u nobody)

# A base image in a directory whose name would be an option if pasted
# unescaped into QEMU's -drive (QEMU opens it as the overlay's backing file).
IMGDIR="$TMP/x,readonly=on"
mkdir -p "$IMGDIR"
qemu-img create -q -f qcow2 "$IMGDIR/base.qcow2" 32M

name=it-priv
NS=n3x-$name
RUN=$XDG_RUNTIME_DIR/n3x/$name
STATE=$XDG_STATE_HOME/n3x/$name
conf=$(write_conf priv "[fabric]
name = $name
profile = slow
[network lan]
switch = ovs
bridge = privbr0
host-interface = privhost0
address = 192.168.100.1/24
dhcp = 192.168.100.100,192.168.100.200,1h
$(vm_block p1 x86_64 'nic = lan mac=52:54:00:ab:00:01 ip=192.168.100.10' "disk = $IMGDIR/base.qcow2" 'data-disk = 64M')
[profile slow]
p1 = rate 10mbit")

# ---- before anything starts ----

# proc_field PID KEY: the value of KEY: in /proc/PID/status.
proc_field() { sed -n "s/^$2:\t//p" "/proc/$1/status"; }

# A base that root reads but n3x-qemu cannot reach (a 0700 directory).
mkdir -m 0700 "$TMP/private"
cp "$IMGDIR/base.qcow2" "$TMP/private/base.qcow2"
bad=$(write_conf bad "[fabric]
name = it-priv-bad
$(vm_block b1 x86_64 "disk = $TMP/private/base.qcow2")")
rc=0
"$BIN/n3x-launch" --check "$bad" >"$TMP/bad.out" 2>"$TMP/bad.err" || rc=$?
expect_eq "$rc" 2 "--check with a base n3x-qemu cannot read: exit status"
expect_eq "$(wc -l <"$TMP/bad.err")" 1 "--check with an unreadable base: lines of error"
contains -F "n3x-qemu, which cannot read $TMP/private/base.qcow2: Permission denied" <"$TMP/bad.err" ||
	fail "unreadable base: $(cat "$TMP/bad.err")"
[ ! -s "$TMP/bad.out" ] || fail "--check printed a plan despite the error"
rc=0
"$BIN/n3x-launch" "$bad" 2>"$TMP/bad-start.err" || rc=$?
expect_eq "$rc" 2 "a start with an unreadable base: exit status"
! netns_exists n3x-it-priv-bad || fail "a start that failed its checks made a namespace"
[ ! -e "$XDG_STATE_HOME/n3x/it-priv-bad/vm" ] || fail "a start that failed its checks made VM state"

# No user n3x-qemu: an /etc/passwd without it, in a mount namespace of
# this check's own.
grep -v '^n3x-qemu:' /etc/passwd >"$TMP/passwd"
rc=0
unshare --mount sh -c 'mount --bind "$1" /etc/passwd && exec "$2" --check "$3"' sh \
	"$TMP/passwd" "$BIN/n3x-launch" "$conf" >/dev/null 2>"$TMP/nouser.err" || rc=$?
expect_eq "$rc" 2 "no user n3x-qemu: exit status"
expect_eq "$(wc -l <"$TMP/nouser.err")" 1 "no user n3x-qemu: lines of error"
contains -F 'scripts/deps.sh' <"$TMP/nouser.err" || fail "no user n3x-qemu: $(cat "$TMP/nouser.err")"
contains -F 'make deps' <"$TMP/nouser.err" || fail "no user n3x-qemu: $(cat "$TMP/nouser.err")"

# ---- a running VM ----

start_launcher "$conf"
ctl wait p1 --state running --timeout 60 >/dev/null || fail "p1 did not start"
QPID=$(live_pid p1) || fail "p1: no QEMU"
expect_eq "$(proc_field "$QPID" Uid)" "$QUID	$QUID	$QUID	$QUID" "QEMU's uids (real, effective, saved, fs)"
expect_eq "$(proc_field "$QPID" Gid | cut -f1)" "$(id -g n3x-qemu)" "QEMU's gid"
expect_eq "$(proc_field "$QPID" Seccomp)" 2 "QEMU's seccomp mode"
expect_eq "$(proc_field "$QPID" CapEff)" 0000000000000000 "QEMU's effective capabilities"
tr '\0' ' ' <"/proc/$QPID/cmdline" | contains -F -- '-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny' ||
	fail "QEMU runs without -sandbox"
# The images QEMU writes are fds it was given, in a directory it cannot enter.
for f in overlay.qcow2 data.qcow2 state.qcow2; do
	ls -l "/proc/$QPID/fd" | contains -F -- "$STATE/vm/p1/$f" || fail "QEMU does not hold $f"
done
expect_eq "$(stat -c '%U %a' "$STATE/vm/p1")" "root 700" "the VM's state directory"
expect_eq "$(stat -c '%U' "$STATE/vm/p1/overlay.qcow2")" root "the overlay's owner"

DPID=$(cat "$RUN/dnsmasq.pid") || fail "no dnsmasq pid file"
kill -0 "$DPID" || fail "dnsmasq ($DPID) does not run"
expect_eq "$(proc_field "$DPID" Uid | cut -f2)" "$NOBODY" "dnsmasq's effective uid"
[ "$(proc_field "$DPID" Uid | cut -f1)" != 0 ] || fail "dnsmasq's real uid is root"

# The private ovs-vswitchd (helper ovs's --user): not root either.  A
# system OVS, when one serves the fabric, is the system's to configure.
if [ -d "$RUN/ovs" ]; then
	VPID=$(cat "$RUN/ovs/ovs-vswitchd.pid") || fail "no ovs-vswitchd.pid in $RUN/ovs"
	expect_eq "$(cat "/proc/$VPID/comm")" ovs-vswitchd "the process in ovs-vswitchd.pid"
	expect_eq "$(proc_field "$VPID" Uid | cut -f2)" "$(id -u n3x-ovs)" "ovs-vswitchd's effective uid"
	VSD="ovs-vswitchd uid $(id -u n3x-ovs)"
else
	VSD="the system's OVS"
fi

# It boots, writes its data disk through the fd, and is on the network.
guest_login p1
expect_eq "$(guest_run p1 'test -e /sys/block/vda && test -e /sys/block/vdb')" 0 "the guest's disks"
expect_eq "$(guest_run p1 'printf n3x-priv-ok | dd of=/dev/vdb conv=fsync 2>/dev/null')" 0 "a write to the data disk"
got=$(ctl wait p1 --lease --timeout 120) || fail "p1: no lease"
expect_eq "$got" "p1/0 192.168.100.10" "p1's lease"
contains -F '52:54:00:ab:00:01 192.168.100.10' <"$STATE/dnsmasq.leases" || fail "the lease is not in the lease file"
ip netns exec "$NS" tc qdisc show dev p1-n0 | contains -E '^qdisc tbf .* rate 10Mbit' ||
	fail "p1-n0 has no tbf of 10Mbit: $(ip netns exec "$NS" tc qdisc show dev p1-n0)"
pinged=
for _ in 1 2 3 4 5; do
	if ip netns exec "$NS" ping -c 1 -W 2 192.168.100.10 >/dev/null; then pinged=1; break; fi
done
[ -n "$pinged" ] || fail "the host interface cannot ping p1"

ctl stop p1 >/dev/null || fail "stop p1"
ctl wait p1 --state stopped --timeout 60 >/dev/null || fail "p1 did not stop"
qemu-img convert -O raw "$STATE/vm/p1/data.qcow2" "$TMP/data.raw"
expect_eq "$(head -c 11 "$TMP/data.raw")" n3x-priv-ok "the data disk's first bytes"
note "QEMU uid $QUID, Seccomp 2, no capabilities; dnsmasq uid $NOBODY; $VSD; boot, disks, lease and tbf: ok"

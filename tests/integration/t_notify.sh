# sd_notify as systemd would see it: a unix datagram socket (a python3
# receiver) as NOTIFY_SOCKET.  READY=1 with "fabric up, 1 VM starting"
# arrives when the fabric's namespace and bridge exist (the receiver looks
# at that moment), "all 1 VM ready" once the VM has its lease, STOPPING=1
# at shutdown; QEMU does not inherit NOTIFY_SOCKET; --wait-ready's parent
# hands over with MAINPID= the supervisor's pid; without NOTIFY_SOCKET
# nothing is sent.  About 30 s.
. "$(dirname "$0")/lib.sh"

need_root "network namespaces"
need_cmd ip dnsmasq qemu-system-x86_64 python3

conf=$(write_conf notify "[fabric]
name = it-notify
[network lan]
switch = linux-bridge
bridge = ntbr0
host-interface = ntbr0
address = 192.168.133.1/24
dhcp = 192.168.133.100,192.168.133.200,1h
$(vm_block n1 x86_64 'nic = lan mac=52:54:00:ee:33:01' 'ready = lease')")
STATE=$XDG_STATE_HOME/n3x/it-notify
PIDFILE=$XDG_RUNTIME_DIR/n3x/it-notify/launcher.pid

# receiver SOCKET OUT: every datagram on SOCKET as one line of OUT,
# "MESSAGE|ns=yes|br=yes": whether the fabric's namespace and bridge
# exist when it arrives.
receiver() {
	python3 - "$1" "$2" <<'EOF' &
import socket, subprocess, sys
out = open(sys.argv[2], "a", buffering=1)  # append: the test empties it between runs
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    msg = s.recv(4096).decode().replace("\n", ";")
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    br = subprocess.run(["ip", "-n", "n3x-it-notify", "link", "show", "ntbr0"],
                        capture_output=True).returncode == 0
    out.write("%s|ns=%s|br=%s\n" % (msg, "yes" if "n3x-it-notify" in ns else "no",
                                    "yes" if br else "no"))
EOF
	EXTRA_PIDS="${EXTRA_PIDS:-} $!"
	for _ in $(seq 1 50); do [ -S "$1" ] && return 0; sleep 0.1; done
	fail "the receiver did not bind $1"
}

# until_lines FILE N SECONDS: FILE has at least N lines.
until_lines() {
	for _ in $(seq 1 $(($3 * 10))); do
		[ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "$1: fewer than $2 messages after $3 s: $(cat "$1")"
}

# ---- the foreground supervisor under a notify socket
: >"$TMP/got"
receiver "$TMP/notify.sock" "$TMP/got"
NOTIFY_SOCKET=$TMP/notify.sock start_launcher "$conf"
until_lines "$TMP/got" 1 20
expect_eq "$(sed -n 1p "$TMP/got")" "READY=1;STATUS=fabric up, 1 VM starting|ns=yes|br=yes" "the first message"
ctl wait n1 --lease --timeout 90 >/dev/null || fail "n1 got no lease"
until_lines "$TMP/got" 2 20
expect_eq "$(sed -n 2p "$TMP/got" | cut -d'|' -f1)" "STATUS=all 1 VM ready" "the message once n1 is ready"
qpid=$(live_pid n1) || fail "n1 has no QEMU"
env=$(tr '\0' '\n' <"/proc/$qpid/environ") || fail "cannot read QEMU's environment"
contains '^PATH=' <<<"$env" || fail "QEMU's environment read back without PATH: $env"
rc=0
contains '^NOTIFY_SOCKET=' <<<"$env" || rc=$?
expect_eq "$rc" 1 "grep for NOTIFY_SOCKET in QEMU's environment (1: not there)"
kill -TERM "$LPID"
wait_gone "$LPID" 30 || fail "the supervisor did not stop on SIGTERM"
until_lines "$TMP/got" 3 5
expect_eq "$(sed -n 3p "$TMP/got" | cut -d'|' -f1)" "STOPPING=1;STATUS=stopping" "the message at shutdown"
expect_eq "$(wc -l <"$TMP/got")" 3 "messages from one run"

# ---- --wait-ready: the child says READY, the parent hands over (MAINPID)
: >"$TMP/got"
NOTIFY_SOCKET=$TMP/notify.sock "$BIN/n3x-launch" --wait-ready=90 "$conf" 2>"$TMP/parent.log" ||
	{ cat "$TMP/parent.log"; fail "--wait-ready did not return 0"; }
LPID=$(cat "$PIDFILE") || fail "no $PIDFILE after --wait-ready"
ln -sf "$STATE/launcher.log" "$TMP/launcher.log"
until_lines "$TMP/got" 3 10
expect_eq "$(sed -n 1p "$TMP/got")" "READY=1;STATUS=fabric up, 1 VM starting;MAINPID=$LPID|ns=yes|br=yes" \
	"the detached supervisor's first message"
expect_eq "$(sed -n 2p "$TMP/got" | cut -d'|' -f1)" "STATUS=all 1 VM ready" "--wait-ready: all ready"
expect_eq "$(sed -n 3p "$TMP/got" | cut -d'|' -f1)" "MAINPID=$LPID;READY=1" "the parent's hand-over"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "supervisor still running after shutdown"
until_lines "$TMP/got" 4 5
expect_eq "$(sed -n 4p "$TMP/got" | cut -d'|' -f1)" "STOPPING=1;STATUS=stopping" "n3x-ctl shutdown: STOPPING"

# ---- no NOTIFY_SOCKET: the socket hears nothing
: >"$TMP/got"
env -u NOTIFY_SOCKET "$BIN/n3x-launch" "$conf" 2>"$TMP/launcher.log" &
LPID=$!
for _ in $(seq 1 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
ctl wait n1 --state running --timeout 30 >/dev/null || fail "n1 did not run"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "supervisor still running after shutdown"
sleep 0.5
expect_eq "$(cat "$TMP/got")" "" "messages without NOTIFY_SOCKET"
nothing_left it-notify

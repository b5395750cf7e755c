# n3x-ctl capture on a demo guest's link, on a Linux bridge and on Open
# vSwitch (userspace datapath here: its taps are still kernel devices):
# the fabric's namespace pings the VM while capture runs, and tcpdump -r,
# an independent reader, checks what was written: -c 10 is ten packets with
# ICMP echo requests and replies in them; --direction to-vm holds only
# frames to the VM (requests), from-vm only frames from it (replies); stdout
# piped into tcpdump -r - shows packets while the capture still runs; a
# reader that goes away (tcpdump -c 2) ends it cleanly; SIGINT leaves a file tcpdump reads without complaint; the VM stopping
# under a capture ends it with exit 1 and a readable file; and the errors a
# user meets are one line with the right exit code.
. "$(dirname "$0")/lib.sh"

need_root "network namespaces, capturing on the fabric's taps"
need_cmd ip dnsmasq ping tcpdump qemu-system-x86_64

VM_IP=192.168.100.10 VM_MAC=52:54:00:aa:00:01
CPID= PINGPID= TPID=
EXTRA=()

# A capture, ping or tcpdump this test started and still runs (lib.sh's
# cleanup calls it first).
test_cleanup() {
	for p in $CPID $PINGPID $TPID; do kill "$p" 2>/dev/null || true; done
}

# capture_bg OUTFILE ERRFILE ARGS...: n3x-ctl capture in the background
# (CPID; not through ctl(), whose subshell would get the signals), once it
# says it is listening.
capture_bg() {
	local out=$1 err=$2
	shift 2
	"$BIN/n3x-ctl" -f "$CONF" capture "$@" >"$out" 2>"$err" &
	CPID=$!
	for _ in $(seq 1 100); do
		grep -q '^n3x-ctl: listening on ' "$err" && return 0
		kill -0 "$CPID" 2>/dev/null || { cat "$err" >&2; fail "capture $* exited before listening"; }
		sleep 0.1
	done
	fail "capture $* did not start listening within 10 s"
}

# wait_capture SECONDS: RC is CPID's exit status, once it has exited (not
# called as $(...): a subshell cannot wait for its parent's child).
wait_capture() {
	RC=0
	wait_gone "$CPID" "$1" || fail "capture still running after $1 s"
	wait "$CPID" || RC=$?
	CPID=
}

ping_bg() { ip netns exec "$NS" ping -n -i 0.2 -c "${1:-60}" -W 2 "$VM_IP" >/dev/null 2>&1 & PINGPID=$!; }
ping_stop() { kill "$PINGPID" 2>/dev/null || true; wait "$PINGPID" 2>/dev/null || true; PINGPID=; }

# read_pcap FILE [FILTER...]: tcpdump's lines for FILE; fails on any
# complaint of tcpdump's (a truncated or malformed file).
read_pcap() {
	local f=$1 out
	shift
	out=$(tcpdump -nn -e -r "$f" "$@" 2>"$TMP/tcpdump.err") || { cat "$TMP/tcpdump.err" >&2; fail "tcpdump -r $f failed"; }
	if grep -v '^reading from file' "$TMP/tcpdump.err" | grep -q .; then
		cat "$TMP/tcpdump.err" >&2
		fail "tcpdump -r $f complained"
	fi
	printf '%s\n' "$out" | sed '/^$/d'
}
count() { sed '/^$/d' | wc -l; }

run_on() {
	local sw=$1 name br hif lines n
	name=it-cap-$sw
	case $sw in ovs) br=capbr0 hif=caphost0 ;; *) br=capbr0 hif=capbr0 ;; esac
	conf=$(write_conf "cap-$sw" "[fabric]
name = $name
[network lan]
switch = $sw
bridge = $br
host-interface = $hif
address = 192.168.100.1/24
dhcp = 192.168.100.100,192.168.100.200,1h
$(vm_block v1 x86_64 "nic = lan mac=$VM_MAC ip=$VM_IP")")
	NS=n3x-$name
	start_launcher "$conf"
	got=$(ctl wait v1 --lease --timeout 120) || fail "$sw: v1 has no lease"
	expect_eq "$got" "v1/0 $VM_IP" "$sw: v1 lease"
	# The guest may answer a moment after its lease (OVS's userspace
	# datapath learns the port from its first frames).
	for i in $(seq 1 20); do
		ip netns exec "$NS" ping -c 1 -W 1 "$VM_IP" >/dev/null && break
		[ "$i" -lt 20 ] || fail "$sw: the namespace cannot ping v1 within 20 s"
	done

	# -c 10 while the namespace pings: ten packets, requests and replies.
	capture_bg /dev/null "$TMP/c10.err" v1 -c 10 -w "$TMP/c10.pcap"
	grep -q "listening on v1-n0 (v1/0, both directions) in network namespace $NS" "$TMP/c10.err" ||
		{ cat "$TMP/c10.err"; fail "$sw: listening line"; }
	ping_bg
	wait_capture 30
	expect_eq "$RC" 0 "$sw: capture -c 10 exit status ($(cat "$TMP/c10.err"))"
	ping_stop
	grep -qx '10 packets captured' "$TMP/c10.err" || { cat "$TMP/c10.err"; fail "$sw: no '10 packets captured'"; }
	lines=$(read_pcap "$TMP/c10.pcap")
	expect_eq "$(count <<<"$lines")" 10 "$sw: packets tcpdump reads in the -c 10 file"
	contains -E "> $VM_IP: ICMP echo request" <<<"$lines" || { echo "$lines"; fail "$sw: no echo request"; }
	contains -E "$VM_IP > 192.168.100.1: ICMP echo reply" <<<"$lines" || { echo "$lines"; fail "$sw: no echo reply"; }
	note "$sw: capture -c 10: $(grep -c 'ICMP echo' <<<"$lines") of 10 packets ICMP echo"

	# One direction each: every frame is to the VM, or from it.
	for dir in to-vm from-vm; do
		capture_bg /dev/null "$TMP/$dir.err" v1 -c 8 --direction "$dir" -w "$TMP/$dir.pcap"
		ping_bg
		wait_capture 30
		expect_eq "$RC" 0 "$sw: capture --direction $dir ($(cat "$TMP/$dir.err"))"
		ping_stop
		expect_eq "$(read_pcap "$TMP/$dir.pcap" | count)" 8 "$sw: $dir packets"
		if [ "$dir" = to-vm ]; then
			n=$(read_pcap "$TMP/$dir.pcap" "ether src $VM_MAC" | count)
			expect_eq "$n" 0 "$sw: to-vm frames sent by v1"
			n=$(read_pcap "$TMP/$dir.pcap" "icmp[icmptype] == icmp-echo and dst host $VM_IP" | count)
			[ "$n" -ge 1 ] || fail "$sw: to-vm has no echo request to v1"
			n=$(read_pcap "$TMP/$dir.pcap" "icmp[icmptype] == icmp-echoreply" | count)
			expect_eq "$n" 0 "$sw: echo replies in to-vm"
		else
			n=$(read_pcap "$TMP/$dir.pcap" "not ether src $VM_MAC" | count)
			expect_eq "$n" 0 "$sw: from-vm frames not sent by v1"
			n=$(read_pcap "$TMP/$dir.pcap" "icmp[icmptype] == icmp-echoreply and src host $VM_IP" | count)
			[ "$n" -ge 1 ] || fail "$sw: from-vm has no echo reply from v1"
			n=$(read_pcap "$TMP/$dir.pcap" "icmp[icmptype] == icmp-echo" | count)
			expect_eq "$n" 0 "$sw: echo requests in from-vm"
		fi
	done
	note "$sw: --direction to-vm only requests to v1, from-vm only replies from it"

	# stdout into tcpdump -r -, live: tcpdump prints a packet while the
	# capture still runs, then SIGINT ends both cleanly.
	rm -f "$TMP/pipe"
	mkfifo "$TMP/pipe"
	tcpdump -l -nn -r - <"$TMP/pipe" >"$TMP/live.out" 2>"$TMP/live.err" &
	TPID=$!
	capture_bg "$TMP/pipe" "$TMP/live.cerr" v1
	ping_bg
	for _ in $(seq 1 100); do
		contains 'ICMP echo reply' <"$TMP/live.out" && break
		sleep 0.1
	done
	contains 'ICMP echo reply' <"$TMP/live.out" || { cat "$TMP/live.out" "$TMP/live.err"; fail "$sw: tcpdump -r - saw no reply in 10 s"; }
	kill -0 "$CPID" 2>/dev/null || fail "$sw: capture to stdout ended by itself"
	kill -INT "$CPID"
	wait_capture 10
	expect_eq "$RC" 0 "$sw: capture to stdout after SIGINT ($(cat "$TMP/live.cerr"))"
	ping_stop
	wait_gone "$TPID" 10 || fail "$sw: tcpdump -r - did not see the end of the pcap"
	wait "$TPID" || { cat "$TMP/live.err"; fail "$sw: tcpdump -r - failed"; }
	TPID=
	n=$(sed -n 's/^\([0-9]*\) packets\? captured$/\1/p' "$TMP/live.cerr")
	expect_eq "$(count <"$TMP/live.out")" "$n" "$sw: packets tcpdump -r - printed against 'N packets captured'"
	note "$sw: capture | tcpdump -r -: live, $n packets, clean end on SIGINT"

	# The reader going away (tcpdump -c 2) ends the capture at its next
	# write: exit 0, the count on stderr, nothing else.
	rm -f "$TMP/pipe"
	mkfifo "$TMP/pipe"
	tcpdump -c 2 -nn -r - <"$TMP/pipe" >"$TMP/head.out" 2>"$TMP/head.err" &
	TPID=$!
	capture_bg "$TMP/pipe" "$TMP/head.cerr" v1
	ping_bg
	wait_gone "$TPID" 10 || fail "$sw: tcpdump -c 2 -r - did not end"
	wait "$TPID" || { cat "$TMP/head.err"; fail "$sw: tcpdump -c 2 -r - failed"; }
	TPID=
	wait_capture 10
	expect_eq "$RC" 0 "$sw: capture after its reader went away ($(cat "$TMP/head.cerr"))"
	ping_stop
	expect_eq "$(grep -v '^n3x-ctl: listening on ' "$TMP/head.cerr" | sed 's/[0-9]* packets\? captured/N captured/')" \
		"N captured" "$sw: stderr of a capture whose reader went away"
	expect_eq "$(count <"$TMP/head.out")" 2 "$sw: packets tcpdump -c 2 printed"

	# SIGINT to a capture to a file: a file tcpdump reads without error.
	capture_bg /dev/null "$TMP/int.err" v1 -w "$TMP/int.pcap"
	ping_bg 5
	wait "$PINGPID" || true
	PINGPID=
	kill -INT "$CPID"
	wait_capture 10
	expect_eq "$RC" 0 "$sw: capture -w after SIGINT ($(cat "$TMP/int.err"))"
	n=$(sed -n 's/^\([0-9]*\) packets\? captured$/\1/p' "$TMP/int.err")
	lines=$(read_pcap "$TMP/int.pcap")
	expect_eq "$(count <<<"$lines")" "$n" "$sw: packets in the SIGINTed file"
	[ "$(grep -c 'ICMP echo reply' <<<"$lines")" -ge 4 ] || { echo "$lines"; fail "$sw: fewer than 4 replies after 5 pings"; }

	# Mistakes are one line: VM/N out of range and an unknown VM are the
	# user's (2), a stopped VM the operation's (1).
	for args in "v1/1:2:v1 has no NIC 1 (it has 1)" "nope:2:no VM named 'nope'" \
		"v1 --direction in:2:--direction takes to-vm, from-vm or both, not 'in'"; do
		rc=0
		# shellcheck disable=SC2086 # the words are the command line
		ctl capture ${args%%:*} -w "$TMP/x.pcap" 2>"$TMP/err" || rc=$?
		want=${args#*:}
		expect_eq "$rc" "${want%%:*}" "$sw: capture ${args%%:*}: exit status"
		expect_eq "$(wc -l <"$TMP/err")" 1 "$sw: capture ${args%%:*}: lines on stderr"
		contains -F -e "${want#*:}" <"$TMP/err" || fail "$sw: capture ${args%%:*}: $(cat "$TMP/err")"
	done
	if command -v script >/dev/null; then
		rc=0
		script -qec "$BIN/n3x-ctl -f $CONF capture v1" /dev/null >"$TMP/tty.out" 2>&1 || rc=$?
		expect_eq "$rc" 2 "$sw: capture to a terminal: exit status"
		contains -F 'not writing a pcap to a terminal' <"$TMP/tty.out" || fail "$sw: capture to a terminal: $(cat "$TMP/tty.out")"
	fi

	# The VM going away under a capture ends it: exit 1, naming v1, and
	# what was captured is a whole file.
	capture_bg /dev/null "$TMP/gone.err" v1 -w "$TMP/gone.pcap"
	ctl kill v1 >/dev/null
	wait_capture 20
	expect_eq "$RC" 1 "$sw: capture of a VM that was killed ($(cat "$TMP/gone.err"))"
	contains -E '^n3x-ctl: v1: capture on v1-n0 ended: ' <"$TMP/gone.err" || fail "$sw: $(cat "$TMP/gone.err")"
	note "$sw: VM killed under a capture: $(grep 'ended:' "$TMP/gone.err")"
	read_pcap "$TMP/gone.pcap" >/dev/null
	rc=0
	ctl capture v1 -w "$TMP/x.pcap" 2>"$TMP/err" || rc=$?
	expect_eq "$rc" 1 "$sw: capture of a stopped VM: exit status"
	contains -F 'v1 is stopped: its NIC 0 has no tap to capture on until it runs' <"$TMP/err" ||
		fail "$sw: capture of a stopped VM: $(cat "$TMP/err")"
	[ ! -e "$TMP/x.pcap" ] || fail "$sw: a refused capture wrote $TMP/x.pcap"
	note "$sw: errors: NIC, VM, direction, terminal, VM killed, VM stopped"

	kill -TERM "$LPID"
	wait_gone "$LPID" 60 || fail "$sw: n3x-launch still running after SIGTERM"
	LPID=
}

run_on linux-bridge
if command -v ovs-vsctl >/dev/null && command -v ovs-vswitchd >/dev/null; then
	run_on ovs
else
	note "ovs: not installed, only the Linux bridge was checked"
fi

# n3x-ctl tc verify on a demo guest (busybox, no agent: the transfers are
# started over its serial console), on a Linux bridge and on Open vSwitch
# (the userspace datapath here): with `to-vm: rate 10mbit from-vm: rate
# 20mbit` each direction measures within 10 % of its own rate, the probes
# cross both ways with nothing lost, and the verdict is ok (exit 0).  Then
# the to-vm qdisc is deleted behind the supervisor's back (tc qdisc del on
# the tap): that direction is reported broken (exit 1) while from-vm stays
# ok; then the from-vm one too (on the veth's glue end).  Probe loss is
# split by direction: with every 16th echo request dropped on the tap's
# egress (no netem here: an htb root and a u32 filter redirecting those to
# a veth that is down), to-vm loses exactly 13 of 200 (verdict off, loss 0
# asked) and from-vm none.  Mistakes are one line: an unknown VM or NIC, a
# bad option (2), a stopped VM (1).  About 50 s a switch, 100 s in all.
. "$(dirname "$0")/lib.sh"

need_root "network namespaces, capturing on the fabric's links"
need_cmd ip tc python3 qemu-system-x86_64

VM_IP=192.168.100.10 VM_MAC=52:54:00:ab:00:01

# field FILE LINK DIR KEY...: a value from verify --json ("" for null).
field() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
l = [x for x in d["links"] if x["link"] == sys.argv[2]][0]
v = l[sys.argv[3]] if sys.argv[3] != "-" else l
for k in sys.argv[4:]:
    v = v[k]
print("" if v is None else v)' "$@"
}

# within GOT WANT: GOT within ±10% of WANT.
within() { awk -v g="$1" -v w="$2" 'BEGIN { exit !(g >= w * 0.9 && g <= w * 1.1) }'; }

# verify_json OUT ARGS...: tc verify --json into OUT; RC its exit status.
verify_json() {
	local out=$1
	shift
	RC=0
	ctl tc verify "$@" --json >"$out" 2>"$TMP/verify.err" || RC=$?
}

run_on() {
	local sw=$1 name br hif to from dev
	name=it-vfy-$sw
	case $sw in ovs) br=vfybr0 hif=vfyhost0 ;; *) br=vfybr0 hif=vfybr0 ;; esac
	conf=$(write_conf "vfy-$sw" "[fabric]
name = $name
[network lan]
switch = $sw
bridge = $br
host-interface = $hif
address = 192.168.100.1/24
dhcp = 192.168.100.100,192.168.100.200,1h
$(vm_block v1 x86_64 "nic = lan mac=$VM_MAC ip=$VM_IP")")
	NS=n3x-$name
	RUN=$XDG_RUNTIME_DIR/n3x/$name
	start_launcher "$conf"
	got=$(ctl wait v1 --lease --timeout 120) || fail "$sw: v1 has no lease"
	expect_eq "$got" "v1/0 $VM_IP" "$sw: v1 lease"
	for i in $(seq 1 20); do
		ip netns exec "$NS" ping -c 1 -W 1 "$VM_IP" >/dev/null && break
		[ "$i" -lt 20 ] || fail "$sw: the namespace cannot ping v1 within 20 s"
	done

	# Each direction its own rate; both measured within 10%.  A run
	# whose TCP backed off once gets one more try, as in t_tc_rate.
	ctl tc set v1 to-vm: rate 10mbit from-vm: rate 20mbit >/dev/null
	verify_json "$TMP/ok.json"
	if [ "$RC" != 0 ]; then
		note "$sw: first run: $(cat "$TMP/ok.json" "$TMP/verify.err" | head -c 2000): once more"
		verify_json "$TMP/ok.json"
	fi
	expect_eq "$RC" 0 "$sw: tc verify exit status ($(cat "$TMP/verify.err"; head -c 3000 "$TMP/ok.json"))"
	to=$(field "$TMP/ok.json" v1/0 to_vm measured rate_bps) || fail "$sw: no to-vm rate"
	from=$(field "$TMP/ok.json" v1/0 from_vm measured rate_bps) || fail "$sw: no from-vm rate"
	within "$to" 10000000 || fail "$sw: to-vm measured $to bit/s for rate 10mbit"
	within "$from" 20000000 || fail "$sw: from-vm measured $from bit/s for rate 20mbit"
	for d in to_vm from_vm; do
		expect_eq "$(field "$TMP/ok.json" v1/0 "$d" verdict)" ok "$sw: $d verdict"
		expect_eq "$(field "$TMP/ok.json" v1/0 "$d" measured lost)" 0 "$sw: $d probes lost"
		n=$(field "$TMP/ok.json" v1/0 "$d" measured probes)
		[ "$n" -ge 190 ] || fail "$sw: only $n of 200 probes entered the link $d"
		expect_eq "$(field "$TMP/ok.json" v1/0 "$d" asked rate_bps)" \
			"$([ "$d" = to_vm ] && echo 10000000 || echo 20000000)" "$sw: $d asked"
	done
	note "$sw: to-vm $to bit/s (rate 10mbit), from-vm $from bit/s (rate 20mbit)," \
		"one-way delay $(field "$TMP/ok.json" v1/0 to_vm measured delay_us) / $(field "$TMP/ok.json" v1/0 from_vm measured delay_us) us: ok"

	# The to-vm qdisc deleted behind the supervisor's back: broken.
	ip netns exec "$NS" tc qdisc del dev v1-n0 root
	verify_json "$TMP/del.json" v1/0 --probes 50 --seconds 2
	expect_eq "$RC" 1 "$sw: tc verify exit status with the to-vm qdisc gone ($(cat "$TMP/verify.err"))"
	expect_eq "$(field "$TMP/del.json" v1/0 - verdict)" broken "$sw: link verdict with the to-vm qdisc gone"
	expect_eq "$(field "$TMP/del.json" v1/0 to_vm verdict)" broken "$sw: to-vm verdict with its qdisc gone"
	field "$TMP/del.json" v1/0 to_vm why | contains 'not shaped' || fail "$sw: to-vm: $(field "$TMP/del.json" v1/0 to_vm why)"
	expect_eq "$(field "$TMP/del.json" v1/0 from_vm verdict)" ok "$sw: from-vm verdict with only to-vm's qdisc gone"
	note "$sw: to-vm qdisc deleted: $(field "$TMP/del.json" v1/0 to_vm why)"

	# And the from-vm one: the table says so, exit 1.
	ip netns exec "$NS" tc qdisc del dev v1-n0_g root
	rc=0
	ctl tc verify v1 --probes 50 --seconds 2 >"$TMP/table" 2>"$TMP/verify.err" || rc=$?
	expect_eq "$rc" 1 "$sw: tc verify exit status with both qdiscs gone ($(cat "$TMP/verify.err"))"
	# broken, and why: the kernel holds no qdisc for it (the rate is
	# whatever the transfer made of an unshaped link, 0 once when the
	# guest's side did not start under load).
	contains -E '^v1/0 +from-vm +rate 20Mbit .* broken: .*the kernel holds no qdisc for it' <"$TMP/table" ||
		{ cat "$TMP/table"; fail "$sw: the table does not say from-vm is broken"; }
	note "$sw: from-vm qdisc (v1-n0_g) deleted: $(grep from-vm "$TMP/table" | sed 's/  */ /g')"

	# Loss on one direction only, made behind the supervisor's back on
	# this netem-less kernel: every 16th echo request (sequence numbers
	# 3, 19, ...) that the tap sends the VM goes to a veth that is down,
	# i.e. nowhere.  Of 200 probes 13 are lost to the VM and none from it
	# (the VM answers what it gets): the per-direction split is exact.
	ctl tc clear v1 >/dev/null
	ip netns exec "$NS" ip link add vfyx0 type veth peer name vfyx1
	ip netns exec "$NS" tc qdisc replace dev v1-n0 root handle 1: htb default 10
	ip netns exec "$NS" tc class add dev v1-n0 parent 1: classid 1:10 htb rate 1gbit 2>/dev/null
	ip netns exec "$NS" tc filter add dev v1-n0 parent 1: pref 1 protocol ip u32 match ip protocol 1 0xff \
		match u8 8 0xff at 20 match u16 0x0003 0x000f at 26 action mirred egress redirect dev vfyx0
	verify_json "$TMP/loss.json" v1 --seconds 1
	expect_eq "$RC" 1 "$sw: tc verify exit status with to-vm probes dropped ($(cat "$TMP/verify.err"))"
	expect_eq "$(field "$TMP/loss.json" v1/0 to_vm measured probes)" 200 "$sw: probes into the link to the VM"
	expect_eq "$(field "$TMP/loss.json" v1/0 to_vm measured lost)" 13 "$sw: probes lost to the VM"
	expect_eq "$(field "$TMP/loss.json" v1/0 to_vm verdict)" off "$sw: to-vm verdict with 13 of 200 lost"
	expect_eq "$(field "$TMP/loss.json" v1/0 from_vm measured probes)" 187 "$sw: replies into the link from the VM"
	expect_eq "$(field "$TMP/loss.json" v1/0 from_vm measured lost)" 0 "$sw: replies lost from the VM"
	expect_eq "$(field "$TMP/loss.json" v1/0 from_vm verdict)" ok "$sw: from-vm verdict"
	note "$sw: every 16th request dropped on the tap: to-vm $(field "$TMP/loss.json" v1/0 to_vm why)," \
		"from-vm lost 0/187: ok"
	ip netns exec "$NS" tc qdisc del dev v1-n0 root
	ip netns exec "$NS" ip link del vfyx0

	# Mistakes: one line each, exit 2 for the user's, 1 for a stopped VM.
	for args in "nope:2:tc verify: no vm \"nope\"" "v1/3:2:tc verify: vm v1 has no NIC 3 (it has 1)" \
		"v1 --probes 5:2:tc verify: --probes takes 10 to 100000, not '5'"; do
		rc=0
		# shellcheck disable=SC2086 # the words are the command line
		ctl tc verify ${args%%:*} >/dev/null 2>"$TMP/err" || rc=$?
		want=${args#*:}
		expect_eq "$rc" "${want%%:*}" "$sw: tc verify ${args%%:*}: exit status"
		expect_eq "$(wc -l <"$TMP/err")" 1 "$sw: tc verify ${args%%:*}: lines on stderr"
		contains -F -e "${want#*:}" <"$TMP/err" || fail "$sw: tc verify ${args%%:*}: $(cat "$TMP/err")"
	done
	ctl kill v1 >/dev/null
	rc=0
	ctl tc verify v1 >/dev/null 2>"$TMP/err" || rc=$?
	expect_eq "$rc" 1 "$sw: tc verify of a stopped VM: exit status"
	contains -F 'tc verify: v1 is not running' <"$TMP/err" || fail "$sw: stopped VM: $(cat "$TMP/err")"

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

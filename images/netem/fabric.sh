# shellcheck shell=sh
# The fabric matrix of the netem VM, sourced by /init for the case
# "fabric" (tests/integration/t_netem_fabric.sh checks the numbers).
#
# For each switch this kernel can load -- a Linux bridge, Open vSwitch's
# userspace datapath (netdev), then, after insmod openvswitch, its kernel
# datapath (system) -- the project's own fabric code builds the fabric
# (fabric_driver: launcher/fabric.c, launcher/impair.c, tc/ without QEMU)
# from a topology with two "VMs", vma and vmb.  Each VM is a network
# namespace whose eth0 is a veth; the peer end, in the fabric's
# namespace, is wired as the VM's NIC as a tap would be
# (fabric_wire_link).  Then, profile by profile (impair_switch, what
# `n3x-ctl tc NAME` does), vma's link gets each rule word, with different
# values each way, and packets measure both directions on their own:
#
#   to-vm   (vmb -> vma, through the switch, then vma's to-vm qdiscs)
#   from-vm (vma -> vmb, vma's from-vm qdiscs, then the switch)
#
# one-way UDP probes (owd_probe: both ends in this one kernel share its
# monotonic clock, so each datagram's delay is exact) for delay, jitter,
# loss, duplicate, corrupt, reorder and limit, and iperf3 for rate.  One
# result line per switch, word and direction:
#
#   N3X-NETEM case=fabric sw=SW word=WORD dir=to|from status=ok KEY=VALUE...
#
# with owd_probe's numbers (sent recv dup reordered bad under delay_*) or
# mbit= for rate; status=error and msg= when something could not be set up.

FAB_NS=n3x-mx
FAB_A=10.9.0.1
FAB_B=10.9.0.2

# The rules, one profile each: NAME|RULE|HOW.  HOW is how a direction is
# measured: probes COUNT INTERVAL_US [UNDER_MS], burst COUNT GAP_MS (all at
# once, after the queue drained), or iperf.
fab_profiles() {
	cat <<'EOF'
rate|to-vm: rate 6mbit from-vm: rate 10mbit|iperf
delay|to-vm: delay 40ms from-vm: delay 20ms|probes 100 10000
jitter|to-vm: delay 60ms jitter 20ms from-vm: delay 30ms jitter 10ms|probes 400 5000
loss|to-vm: loss 20% from-vm: loss 10%|probes 500 2000
duplicate|to-vm: duplicate 10% from-vm: duplicate 20%|probes 500 2000
corrupt|to-vm: corrupt 20% from-vm: corrupt 10%|probes 500 2000
reorder|to-vm: delay 20ms reorder 25% from-vm: delay 20ms reorder 50%|probes 300 2000 10
limit|to-vm: delay 300ms limit 10 from-vm: delay 300ms limit 20|burst 50 400
EOF
}

# fab_conf SWITCH: the topology (fabric mx, network lan on SWITCH, VMs vma
# and vmb with one NIC each, a profile per rule).  QEMU is never run, but
# the topology's checks want it on $PATH and a kernel to read.
fab_conf() {
	cat <<EOF
[fabric]
name = mx
[network lan]
switch = $1
bridge = mxbr0
[vm vma]
arch = x86_64
kernel = /init
nic = lan mac=52:54:00:09:00:01
[vm vmb]
arch = x86_64
kernel = /init
nic = lan mac=52:54:00:09:00:02
EOF
	fab_profiles | while IFS='|' read -r name rule _; do
		printf '[profile %s]\nvma = %s\n' "$name" "$rule"
	done
}

# fab_cmd LINE: one command to the driver; its answer, "ok" or "error ...",
# on stdout.
fab_cmd() {
	echo "$1" >&3
	read -r ans <&4 || ans="error the driver exited"
	echo "$ans"
}

# fab_vm NAME IP MAC: the VM's namespace, its eth0 and the link in the
# fabric's namespace that is wired as its NIC.
fab_vm() {
	$IP netns add "$1" &&
		$IP -n "$1" link add eth0 address "$3" type veth peer name "$1-n0" netns $FAB_NS &&
		$IP -n "$1" addr add "$2/24" dev eth0 && $IP -n "$1" link set lo up &&
		$IP -n "$1" link set eth0 up && $IP -n $FAB_NS link set "$1-n0" up &&
		$IP netns exec "$1" owd_probe nocsum eth0
}

# fab_probe FROM_NS TO_NS TO_IP COUNT INTERVAL_US UNDER_MS GAP_MS: one run of
# owd_probe; its result line on stdout.
fab_probe() {
	$IP netns exec "$2" owd_probe recv 5300 600 "$6" >/tmp/probe.out 2>&1 &
	rpid=$!
	# Bound before the first probe leaves (the warm-up ones may not be).
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		$IP netns exec "$2" netstat -uln 2>/dev/null | grep -q ':5300 ' && break
		sleep 0.1
	done
	$IP netns exec "$1" owd_probe send "$3" 5300 "$4" "$5" 5 "$7" 2>&1 | log probe-send
	wait "$rpid"
	cat /tmp/probe.out
}

# fab_iperf [-R]: TCP Mbit/s vmb -> vma (-R: vma -> vmb), the receiver's
# number over 3 s after a 1 s warm-up that is left out.
fab_iperf() {
	$IP netns exec vma timeout 30 iperf3 -s -1 -B $FAB_A >/tmp/iperf-s.log 2>&1 &
	spid=$!
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		$IP netns exec vma netstat -ltn 2>/dev/null | grep -q ':5201 ' && break
		sleep 0.1
	done
	o=$($IP netns exec vmb timeout 20 iperf3 -c $FAB_A -t 3 -O 1 -f m "$@" 2>&1)
	echo "$o" | log "iperf3 $*"
	wait "$spid" 2>/dev/null
	echo "$o" | awk '/receiver/ { for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") v = $(i - 1) }
		END { print (v == "" ? "-" : v) }'
}

# fab_measure SW WORD HOW...: both directions of vma's link.
fab_measure() {
	sw=$1 word=$2 how=$3
	shift 3
	for dir in to from; do
		if [ "$dir" = to ]; then
			src=vmb dst=vma ip=$FAB_A rflag=""
		else
			src=vma dst=vmb ip=$FAB_B rflag=-R
		fi
		case "$how" in
		iperf)
			# shellcheck disable=SC2086 # no flag is no word
			res="mbit=$(fab_iperf $rflag)" ;;
		probes) res=$(fab_probe $src $dst $ip "$1" "$2" "${3:-0}" 0) ;;
		burst) res=$(fab_probe $src $dst $ip "$1" 0 0 "$2") ;;
		esac
		say "case=fabric sw=$sw word=$word dir=$dir status=ok $res"
	done
}

# fab_switch SW SWITCH_KEY: the whole matrix on one switch.
fab_switch() {
	sw=$1
	echo "fabric $sw from t=$(uptime_s)" | log time
	fab_conf "$2" >/tmp/mx.conf
	rm -f /tmp/fab.in /tmp/fab.out
	mkfifo /tmp/fab.in /tmp/fab.out
	fabric_driver /tmp/mx.conf /run/n3x-mx /tmp/n3x-mx-state </tmp/fab.in >/tmp/fab.out 2>/tmp/fab.err &
	dpid=$!
	exec 3>/tmp/fab.in 4</tmp/fab.out
	read -r ready dp <&4 || ready=""
	if [ "$ready" != ready ]; then
		exec 3>&- 4<&-
		wait "$dpid"
		say "case=fabric sw=$sw word=setup status=error msg=fabric_driver exited $?: $(tr '\n' ' ' </tmp/fab.err)"
		return
	fi
	err=""
	fab_vm vma $FAB_A 52:54:00:09:00:01 && fab_vm vmb $FAB_B 52:54:00:09:00:02 || err="namespaces or veths failed"
	for v in vma vmb; do
		[ -z "$err" ] || break
		a=$(fab_cmd "wire $v 0 $v-n0")
		[ "$a" = ok ] || err="wire $v: $a"
	done
	# No ARP on the measured links (its packets would draw from netem's
	# random numbers, and be lost); the switch learns both MACs from the
	# pings that wait for the ports to forward.
	$IP -n vma neigh replace $FAB_B lladdr 52:54:00:09:00:02 dev eth0 nud permanent
	$IP -n vmb neigh replace $FAB_A lladdr 52:54:00:09:00:01 dev eth0 nud permanent
	up=0
	for _ in $(seq 1 40); do
		[ -n "$err" ] && break
		if $IP netns exec vma ping -c 1 -W 1 $FAB_B >/dev/null 2>&1 &&
			$IP netns exec vmb ping -c 1 -W 1 $FAB_A >/dev/null 2>&1; then
			up=1
			break
		fi
		sleep 0.5
	done
	[ -n "$err" ] || [ "$up" = 1 ] || err="vma and vmb do not reach each other through the fabric"
	if [ -n "$err" ]; then
		say "case=fabric sw=$sw word=setup status=error msg=$err $(tr '\n' ' ' </tmp/fab.err)"
	else
		base=$(fab_probe vmb vma $FAB_A 100 5000 0 0)
		# The headroom: what TCP gets unshaped (to-vm) under TCG.
		free=$(fab_iperf </dev/null)
		say "case=fabric sw=$sw word=setup status=ok datapath=$dp t=$(uptime_s) mbit_free=$free $base"
		fab_profiles | while IFS='|' read -r name rule how; do
			echo "fabric $sw $name ($rule) from t=$(uptime_s)" | log time
			a=$(fab_cmd "profile $name")
			if [ "$a" != ok ]; then
				say "case=fabric sw=$sw word=$name dir=to status=error msg=$a"
				continue
			fi
			$TC -n $FAB_NS -s qdisc show 2>&1 | log tc
			# shellcheck disable=SC2086 # HOW is words
			fab_measure "$sw" "$name" $how </dev/null
			# What the qdiscs counted (netem's requeues: the reordered).
			$TC -n $FAB_NS -s qdisc show 2>&1 | grep -A 2 -E 'netem|tbf' | log "tc after"
		done
		a=$(fab_cmd "profile default")
		left=$($TC -n $FAB_NS qdisc show 2>&1 | grep -E 'netem|tbf')
		c=1
		if [ -n "$left" ]; then
			echo "$left" | log left
			c=0
		fi
		say "case=fabric sw=$sw word=default status=ok answer=$a clean=$c"
	fi
	fab_cmd quit >/dev/null
	exec 3>&- 4<&-
	wait "$dpid"
	echo "driver exit $? t=$(uptime_s)" | log time
	log fabric_driver </tmp/fab.err
	$IP netns del vma 2>/dev/null
	$IP netns del vmb 2>/dev/null
}

# case_fabric: a Linux bridge, then Open vSwitch without (netdev) and with
# (system) its kernel module.
case_fabric() {
	mkdir -p /tmp/qemu-bin
	for q in qemu-system-x86_64 qemu-system-aarch64; do
		printf '#!/bin/sh\nexit 1\n' >/tmp/qemu-bin/$q
		chmod 755 /tmp/qemu-bin/$q
	done
	PATH=$PATH:/tmp/qemu-bin
	# n3x.fabric=SW,... on the command line picks switches (all three
	# by default), for a run by hand.
	sws="bridge netdev system"
	read -r cmdline </proc/cmdline
	for arg in $cmdline; do
		case "$arg" in n3x.fabric=*) sws=$(echo "${arg#n3x.fabric=}" | tr ',' ' ') ;; esac
	done
	for sw in $sws; do
		case "$sw" in
		bridge) fab_switch bridge linux-bridge ;;
		netdev) fab_switch netdev ovs ;;
		system)
			ovsko=$(grep '/openvswitch\.ko$' /lib/modules/load.list)
			if insmod "/lib/modules/$ovsko"; then
				fab_switch system ovs
			else
				say "case=fabric sw=system word=setup status=error msg=insmod $ovsko failed"
			fi
			;;
		esac
	done
}

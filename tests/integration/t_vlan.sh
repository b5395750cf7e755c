# VLANs on both switches: two VMs on vlan=100 reach each other, a VM on
# vlan=200 reaches neither (addresses set by hand inside the guests).
. "$(dirname "$0")/lib.sh"
need_root "network namespaces"

for SWITCH in ovs linux-bridge; do
	name=it-vlan-${SWITCH%%-*}
	conf=$(write_conf "vlan-$SWITCH" "[fabric]
name = $name
[network lan]
switch = $SWITCH
bridge = vbr0
host-interface = $([ "$SWITCH" = ovs ] && echo vhost0 || echo vbr0)
$(vm_block a1 x86_64 'nic = lan vlan=100')
$(vm_block a2 x86_64 'nic = lan vlan=100')
$(vm_block b1 x86_64 'nic = lan vlan=200')")
	RUN=$XDG_RUNTIME_DIR/n3x/$name
	if [ "$SWITCH" = linux-bridge ] && ! "$BIN/n3x-launch" --check "$conf" >/dev/null 2>"$TMP/err"; then
		# Kernels without CONFIG_BRIDGE_VLAN_FILTERING (this CI's) must say so, exit 2.
		grep -q "^$conf:[0-9]*: network lan: vlan= on a Linux bridge needs .*CONFIG_BRIDGE_VLAN_FILTERING" \
			"$TMP/err" || { cat "$TMP/err"; fail "linux-bridge vlan: wrong error"; }
		note "linux-bridge: this kernel has no bridge VLAN filtering, and --check says so"
		continue
	fi
	start_launcher "$conf"
	i=0
	for vm in a1 a2 b1; do
		i=$((i + 1))
		guest_login "$vm"
		expect_eq "$(guest_run "$vm" "ip addr add 192.168.77.$i/24 dev eth0")" 0 "$vm address"
	done
	if [ "$SWITCH" = linux-bridge ]; then
		ip netns exec "n3x-$name" bridge vlan show dev a1-n0_p | contains '100 PVID.*Untagged' ||
			fail "a1-n0_p is not an access port of VLAN 100"
	else
		expect_eq "$(ip netns exec "n3x-$name" ovs-vsctl --db="unix:$RUN/ovs/db.sock" get Port b1-n0_p tag)" 200 "b1-n0_p tag"
	fi
	expect_eq "$(guest_run a1 'ping -c 2 -W 3 192.168.77.2 >/dev/null')" 0 "$SWITCH: a1 -> a2 (vlan 100)"
	expect_eq "$(guest_run a1 'ping -c 2 -W 2 192.168.77.3 >/dev/null')" 1 "$SWITCH: a1 -> b1 (vlan 200)"
	expect_eq "$(guest_run b1 'ping -c 2 -W 2 192.168.77.2 >/dev/null')" 1 "$SWITCH: b1 -> a2"
	note "$SWITCH: vlan 100 reaches vlan 100, vlan 200 does not"
	kill -TERM "$LPID"
	wait_gone "$LPID" 90 || fail "n3x-launch still running after SIGTERM"
	LPID=
	nothing_left "$name"
done

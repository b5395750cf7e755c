# Sites with three demo VMs on Open vSwitch: a at site core, b and c at
# edge, [latency] edge:core = rate 2mbit (rate-only: this kernel has no
# netem; the netem VM runs delay).  A TCP transfer from a to b runs at the
# site pair's rate (payload within -15 %/+10 % of 2 Mbit/s: TCP/IP headers
# take ~4 %, starting nc and the connection ~0.4 s of ~4), c to b (one site, no rule) is not limited, and status shows
# the sites.  About 60 s.
. "$(dirname "$0")/lib.sh"
need_root "network namespaces"
need_cmd ip dnsmasq socat qemu-system-x86_64 ovs-vsctl ovsdb-server ovs-vswitchd

name=it-sites
conf=$(write_conf sites "[fabric]
name = $name
[network lan]
bridge = sbr0
host-interface = shost0
address = 192.168.92.1/24
dhcp = 192.168.92.100,192.168.92.200,1h
$(vm_block a x86_64 'nic = lan mac=52:54:00:cc:00:01 ip=192.168.92.10' 'site = core')
$(vm_block b x86_64 'nic = lan mac=52:54:00:cc:00:02 ip=192.168.92.11' 'site = edge')
$(vm_block c x86_64 'nic = lan mac=52:54:00:cc:00:03 ip=192.168.92.12' 'site = edge')
[latency]
edge:core = rate 2mbit")
RUN=$XDG_RUNTIME_DIR/n3x/$name
NS=n3x-$name
start_launcher "$conf"
for vm in a b c; do
	ctl wait "$vm" --lease --timeout 120 >/dev/null || fail "$vm: no lease"
	guest_login "$vm"
done
got=$(ctl status --json | python3 -c '
import json, sys
print(" ".join("%s=%s" % (v["name"], v.get("site")) for v in json.load(sys.stdin)["vms"]))') ||
	fail "status --json"
expect_eq "$got" "a=core b=edge c=edge" "status vms[].site"

# send FROM: seconds (busybox time's "real") to send 1 MB from FROM to b.
send() {
	local line
	expect_eq "$(guest_run b 'nc -l -p 5001 >/dev/null & echo ok >/dev/null')" 0 "b listens"
	sleep 0.5
	expect_eq "$(guest_run "$1" 'dd if=/dev/zero of=/tmp/blob bs=1k count=1024 2>/dev/null')" 0 "$1: blob"
	expect_eq "$(guest_run "$1" 'time nc 192.168.92.11 5001 </tmp/blob 2>/tmp/t; cat /tmp/t >/dev/console' 60)" 0 \
		"$1 -> b transfer"
	line=$(ctl log "$1" | grep -E '^real' | tail -n 1) || fail "$1: no time output"
	# "real	0m 2.17s"
	awk '{ sub(/s$/, "", $3); split($2, m, "m"); print m[1] * 60 + $3 }' <<<"$line"
}

t_ab=$(send a)
rate=$(awk -v t="$t_ab" 'BEGIN { printf "%.3f", 1024 * 1024 * 8 / t / 1e6 }')
awk -v r="$rate" 'BEGIN { exit !(r >= 1.7 && r <= 2.2) }' ||
	fail "a -> b across edge:core: ${rate} Mbit/s in ${t_ab}s, want 2 Mbit/s"
t_cb=$(send c)
awk -v a="$t_ab" -v c="$t_cb" 'BEGIN { exit !(c * 3 < a) }' ||
	fail "c -> b within edge took ${t_cb}s, a -> b ${t_ab}s: within a site should not be limited"
note "a -> b (edge:core = rate 2mbit): ${rate} Mbit/s; c -> b (one site): ${t_cb}s for 1 MB"
got=$(ip netns exec "$NS" tc -s qdisc show dev b-n0_p) || fail "tc qdisc show"
contains "tbf .* rate 2Mbit" <<<"$got" || fail "no 2mbit band on b's port: $got"
kill -TERM "$LPID"
wait_gone "$LPID" 90 || fail "n3x-launch still running after SIGTERM"
LPID=
nothing_left "$name"

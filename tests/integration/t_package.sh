# The Debian package, as a user gets it: a clean copy of the tree (the files
# git knows, no build/) builds with `dpkg-buildpackage -us -uc -b` into
# n3x-launch_VERSION_amd64.deb, lintian finds no error in it, and in a
# throwaway copy of the root (overlayfs over /, chroot; the host is never
# touched) without the users n3x-qemu and n3x-ovs:
#   - `dpkg -i` succeeds (its Depends are met by what scripts/deps.sh
#     installs) and its postinst makes both users (n3x-qemu in kvm), and
#     does so again harmlessly on a reinstall;
#   - n3x-ctl help and n3x-launch --help run from /usr, and the unit it
#     put in /lib/systemd/system passes systemd-analyze verify;
#   - the installed n3x-demo builds the demo images with the installed
#     builder (the .debs from the tree's build/cache, downloaded into the
#     throwaway root when `make images` has not run) and starts the
#     example cluster: every VM gets its lease, `n3x-ctl status` shows all
#     four running, `n3x-ctl shutdown` ends it;
#   - `dpkg --purge` removes every file the package installed and the
#     demo's directory.
# About 70 s here (the build ~20 s, lintian ~7 s, the four demo guests
# booting under TCG ~40 s); the budget is 4 minutes on a loaded CI.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/throwaway_root.sh"
need_root "mount namespaces, overlayfs, chroot and dpkg -i"
need_cmd git dpkg-buildpackage dpkg-parsechangelog lintian unshare chroot
[ -d "$SRC/.git" ] || skip "$SRC is not a git checkout: no list of the tree's files to copy"

R=$TMP/root
# The demo cluster, if the test fails while it runs: its supervisor (a
# process this test started, through n3x-demo) stops its VMs on SIGTERM.
test_cleanup() {
	local pid
	pid=$(cat "$R/run/n3x/n3x/launcher.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
	kill -KILL "$pid" 2>/dev/null || true
}

# A clean copy: what git tracks, plus new files it does not ignore.
S=$TMP/src/n3x-launch
mkdir -p "$S"
(cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' copy |
	tar -c --null -T -) | tar -x -C "$S" || fail "copying the tree"
[ ! -e "$S/build" ] || fail "the clean copy has a build/"

start=$(date +%s)
(cd "$S" && dpkg-buildpackage -us -uc -b) >"$TMP/build.log" 2>&1 ||
	fail "dpkg-buildpackage: $(tail -n 15 "$TMP/build.log")"
! grep -q 'test_\|tests/integration' "$TMP/build.log" || fail "the package build ran the project's tests"
ver=$(dpkg-parsechangelog -l "$S/debian/changelog" -S Version) || fail "no version in debian/changelog"
deb=$TMP/src/n3x-launch_${ver}_amd64.deb
[ -f "$deb" ] || fail "no $deb: $(ls "$TMP/src")"
note "dpkg-buildpackage: ${deb##*/} in $(($(date +%s) - start)) s"

dep=$(dpkg-deb -f "$deb" Depends) || fail "dpkg-deb -f Depends"
for p in libjansson4 libnl-route-3-200 qemu-system-x86 qemu-system-arm qemu-utils openvswitch-switch \
	dnsmasq-base iproute2; do
	[[ ",$dep," == *", $p"[\ ,]* || ",$dep," == *",$p"[\ ,]* ]] || fail "Depends lacks $p: $dep"
done

lintian "$TMP/src/n3x-launch_${ver}_amd64.changes" >"$TMP/lintian.out" 2>"$TMP/lintian.err" ||
	grep -q '^E:' "$TMP/lintian.out" || fail "lintian failed: $(cat "$TMP/lintian.err")"
! grep '^E:' "$TMP/lintian.out" || fail "lintian reports errors"
note "lintian: no errors; $(grep -c '^W:' "$TMP/lintian.out" || true) warnings $(grep '^W:' "$TMP/lintian.out" | tr '\n' ' ')"

cp "$deb" "$TMP/pkg.deb"
# in the root: every step's output in $TMP/root.log, the first failure fails.
root() {
	in_root "$R" "" /bin/bash -ec "$1" in-root "$TMP/pkg.deb" "$SRC/build/cache" >>"$TMP/root.log" 2>&1 ||
		fail "$2: $(tail -n 25 "$TMP/root.log")"
}
root '
	for u in n3x-qemu n3x-ovs; do
		if getent passwd $u >/dev/null; then userdel $u; fi
		if getent group $u >/dev/null; then groupdel $u; fi
	done
	! getent passwd n3x-qemu' "removing the users in the throwaway root"
root 'dpkg -i "$1"' "dpkg -i"
root 'dpkg -i "$1"' "dpkg -i a second time"
root '
	getent passwd n3x-qemu | grep -q ":/nonexistent:/usr/sbin/nologin$"
	getent passwd n3x-ovs | grep -q ":/nonexistent:/usr/sbin/nologin$"
	id -nG n3x-qemu | tr " " "\n" | grep -qx kvm
	[ "$(dpkg-query -W -f="\${Status}" n3x-launch)" = "install ok installed" ]
	n3x-ctl help | grep -q "^usage: n3x-ctl"
	/usr/sbin/n3x-launch --help | grep -q "^usage: n3x-launch"
	cp /usr/share/n3x-launch/examples/n3x-cluster.conf /etc/n3x/lab.conf
	out=$(systemd-analyze verify n3x-launch@lab.service 2>&1)
	[ -z "$out" ] || { echo "systemd-analyze verify: $out"; exit 1; }' "the installed package"
note "dpkg -i (twice): users n3x-qemu (in kvm) and n3x-ovs made, n3x-ctl help and n3x-launch --help run, systemd-analyze verify n3x-launch@lab.service is clean"

start=$(date +%s)
root '
	n3x-demo --cache "$2" --wait 150
	n3x-ctl status --json >/tmp/status.json
	N3X_PROBE_ARCH=x86_64 N3X_PROBE_KVM=absent N3X_PROBE_OVS_DATAPATH=netdev \
		n3x-launch --check /usr/share/n3x-launch/examples/n3x-cluster.conf >/tmp/plan
	n3x-ctl shutdown
	# It answers before its last step, removing the pid file.
	for _ in $(seq 1 50); do [ -e /run/n3x/n3x/launcher.pid ] || break; sleep 0.2; done' \
	"n3x-demo from the installed paths"
up=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
ok = [v["name"] for v in s["vms"] if v["state"] == "running" and all(n["lease"] for n in v["nics"])]
print(" ".join(sorted(ok)))' "$R/upper/tmp/status.json") || fail "status --json: $(cat "$R/upper/tmp/status.json")"
[ "$up" = "jetson-1 n100-1 n100-2 n100-3" ] || fail "running with a lease: '$up'; $(cat "$R/upper/tmp/status.json")"
grep -q 'Every VM is booted' "$TMP/root.log" || fail "n3x-demo printed no hints"
grep -q '^  n3x-ctl console n100-1' "$TMP/root.log" || fail "the hints do not name the installed n3x-ctl"
grep -q -- '-kernel /var/lib/n3x-demo/images/aarch64/vmlinuz' "$R/upper/tmp/plan" || fail "the plan: $(head "$R/upper/tmp/plan")"
[ ! -e "$R/run/n3x/n3x/launcher.pid" ] || fail "the supervisor left its pid file after shutdown"
note "n3x-demo: 4 VMs running with leases, shut down, in $(($(date +%s) - start)) s"

root 'dpkg-query -L n3x-launch >/tmp/files' "dpkg -L"
root 'dpkg --purge n3x-launch' "dpkg --purge"
root '
	left=""
	while read -r f; do
		[ -d "$f" ] || [ ! -e "$f" ] || left="$left $f"
	done </tmp/files
	[ -z "$left" ] || { echo "left:$left"; exit 1; }
	[ ! -e /var/lib/n3x-demo ] || { echo "left: /var/lib/n3x-demo"; exit 1; }
	rm /etc/n3x/lab.conf
	! dpkg-query -W -f="\${Status}" n3x-launch 2>/dev/null | grep -q installed' "after dpkg --purge"
note "dpkg --purge: none of its $(grep -c . "$R/upper/tmp/files") paths is left, nor /var/lib/n3x-demo"

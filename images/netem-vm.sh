#!/bin/sh
# Build the netem test VM: Debian cloud kernels (which, unlike the build
# host's, have sch_netem) and one busybox initramfs that applies our tc
# rules to a veth pair between two namespaces inside the VM and prints what
# the packets measured (tests/integration/t_netem_vm.sh boots it), and
# builds real fabrics with the project's code to measure every rule word
# through each switch (images/netem/fabric.sh; t_netem_fabric.sh).
#
#   images/netem-vm.sh OUTDIR
#
# writes OUTDIR/stable/{vmlinuz,initrd.img,kver}, from bookworm's
# linux-image-cloud-amd64 (6.1), and OUTDIR/backports/ the same from
# bookworm-backports (6.12: netem takes a PRNG seed from 6.3 on).  The
# backports kernel is optional: when it cannot be had, OUTDIR/backports/
# holds only a file "unavailable" saying why, and the build still succeeds.
#
# The initramfs holds busybox-static, the kernel's sch_netem, sch_tbf,
# veth, sch_ingress, cls_u32, act_mirred (+ cls_matchall) with what
# they depend on, the project's tc test driver (N3X_TC_DRIVER, default
# build/tests/tc_driver: the tc/ module behind a small CLI), iproute2's ip
# and tc (namespaces, and tc as an observer only), iperf3, and
# images/netem/init as /init.  For the fabric matrix also bridge, tun and
# openvswitch (+ dependencies), Open vSwitch's userland from the host's
# packages (ovsdb-server, ovs-vswitchd, ovsdb-tool, ovs-vsctl, ovs-appctl,
# vswitch.ovsschema), the fabric driver (N3X_FABRIC_DRIVER, default
# build/tests/fabric_driver), the one-way probe (N3X_OWD_PROBE, default
# build/tests/owd_probe), images/netem/fabric.sh and a user n3x-ovs.  Host
# binaries go in with the libraries ldd lists, at the same paths.
#
# No root needed.  Packages are fetched with `apt-get download` into
# build/cache/ (the 6.1 kernel and busybox are shared with images/build.sh)
# and build/cache/backports/, which has its own apt sources, lists and
# cache: the system's apt configuration is read (for its Debian mirror)
# and never changed.  A cached .deb is used as is, with no apt lookup.
# Each kernel's modules are unpacked once into OUTDIR/FLAVOUR/modules.cpio;
# the userland archive is rebuilt when an input is newer than it, which
# takes about a second.
set -eu

# Loaded in this order after their dependencies.  cls_matchall is not in
# the plan (u32 matches all) but costs nothing, and a driver that picks it
# finds it here rather than failing on "unknown filter".
# bridge, tun (Open vSwitch's userspace datapath makes its internal ports
# with it) and openvswitch are the switches of the fabric matrix
# (images/netem/fabric.sh); /init loads openvswitch only after the netdev
# datapath's cases, so that ovs-vswitchd offers the kernel datapath then.
MODULES="sch_netem sch_tbf veth sch_ingress cls_u32 act_mirred cls_matchall bridge tun openvswitch"
# The sites case: tc/pairs.c's tree is htb with u32 on the source MAC.
MODULES="$MODULES sch_htb"

# shellcheck source=images/lib.sh
. "$(dirname "$0")/lib.sh"
bpo=$cache/backports
driver=${N3X_TC_DRIVER:-$repo/build/tests/tc_driver}
# The fabric matrix's driver (launcher/fabric.c and impair.c without QEMU)
# and its one-way probes.
fdriver=${N3X_FABRIC_DRIVER:-$repo/build/tests/fabric_driver}
probe=${N3X_OWD_PROBE:-$repo/build/tests/owd_probe}
# Open vSwitch's userland, from the host's packages.
OVS_BINS="/usr/sbin/ovsdb-server /usr/sbin/ovs-vswitchd /usr/bin/ovsdb-tool /usr/bin/ovs-vsctl /usr/bin/ovs-appctl"
OVS_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
pairs=${N3X_PAIRS_DRIVER:-$repo/build/bench/pairs_drv}

need_tools apt-get apt-cache dpkg-deb depmod modprobe cpio ldd xz
for bin in /usr/sbin/tc /usr/bin/iperf3; do
	[ -x "$bin" ] || die "$bin not found (run scripts/deps.sh)"
done
# Debian's /usr/sbin/ip is a link to /bin/ip; either will do.
ipbin=$(readlink -f /usr/sbin/ip 2>/dev/null || true)
[ -x "$ipbin" ] || die "/usr/sbin/ip not found (run scripts/deps.sh)"
[ -x "$driver" ] || die "no tc test driver at $driver (make build/tests/tc_driver)"
[ -x "$fdriver" ] || die "no fabric driver at $fdriver (make build/tests/fabric_driver)"
[ -x "$probe" ] || die "no probe at $probe (make build/tests/owd_probe)"
for bin in $OVS_BINS $OVS_SCHEMA; do
	[ -e "$bin" ] || die "$bin not found (run scripts/deps.sh: openvswitch-switch)"
done
[ -x "$pairs" ] || die "no pairs driver at $pairs (make build/bench/pairs_drv)"

# newer A B: true when file A was changed after file B (POSIX test has
# no -nt).
newer() {
	[ -n "$(find "$1" -prune -newer "$2")" ]
}

KGLOB=$(kernel_glob amd64)

# backports_deb: the bookworm-backports cloud kernel, or nothing (and a
# reason on stderr).  The private apt configuration takes the Debian
# mirror the system already uses for bookworm (from apt-cache policy, so
# both sources.list styles work) and adds only the backports suite; the
# system's sources.list.d is left out so its other repositories are not
# refreshed here.
backports_deb() {
	mkdir -p "$bpo"
	deb=$(newest "$bpo" "$KGLOB")
	if [ -n "$deb" ]; then
		echo "$bpo/$deb"
		return 0
	fi
	uri=$(apt-cache policy 2>/dev/null |
		awk '$3 == "bookworm/main" && $4 == "amd64" { print $2; exit }')
	if [ -z "$uri" ]; then
		echo "the system's apt sources have no bookworm main (amd64)" >&2
		return 1
	fi
	mkdir -p "$bpo/apt/lists/partial" "$bpo/apt/cache/archives/partial" "$bpo/apt/none"
	echo "deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm-backports main" \
		>"$bpo/apt/sources.list"
	set -- -o "Dir::Etc::sourcelist=$bpo/apt/sources.list" \
		-o "Dir::Etc::sourceparts=$bpo/apt/none" \
		-o "Dir::State::Lists=$bpo/apt/lists" \
		-o "Dir::Cache=$bpo/apt/cache"
	if ! apt-get "$@" -q update >"$bpo/apt/update.log" 2>&1; then
		echo "apt-get update of bookworm-backports failed (see $bpo/apt/update.log)" >&2
		return 1
	fi
	kernel_deb "$bpo" amd64 "$@"
}

# kernel_part FLAVOUR DEB: OUTDIR/FLAVOUR/{vmlinuz,kver,modules.cpio} from
# the kernel package DEB, unless already made from it.
kernel_part() {
	dest=$out/$1
	kdeb=$2
	stamp=$(basename "$kdeb")
	if [ -f "$dest/modules.cpio" ] && [ -f "$dest/vmlinuz" ] &&
		[ "$(cat "$dest/.inputs" 2>/dev/null)" = "$stamp" ] &&
		newer "$dest/modules.cpio" "$0" && newer "$dest/modules.cpio" "$here/lib.sh"; then
		return 0
	fi
	echo "images: netem $1 kernel from $stamp" >&2
	work=$(mktemp -d "$out/.work.XXXXXX")
	# shellcheck disable=SC2086 # one module name a word
	kernel_modules "$1" "$kdeb" $MODULES
	mkdir -p "$dest"
	# Uncompressed: read once from memory, and quick to rebuild.
	to_cpio "$root" "$dest/modules.cpio"
	cp "$kroot/boot/vmlinuz-$kver" "$dest/vmlinuz"
	echo "$kver" >"$dest/kver"
	echo "$stamp" >"$dest/.inputs"
	rm -f "$dest/unavailable"
	rm -rf "$work"
	work=""
}

# copy_bin SRC DEST ROOT: SRC at DEST in ROOT, with the libraries ldd
# lists for it at the paths ldd prints (a script or static binary has
# none).  Every file copied is also listed in ROOT/../inputs, so a newer
# host library makes the archive stale.
copy_bin() {
	mkdir -p "$3$(dirname "$2")"
	cp -L "$1" "$3$2"
	echo "$1" >>"$3/../inputs"
	ldd "$1" 2>/dev/null | awk '
		$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }' | while read -r lib; do
		[ -e "$3$lib" ] && continue
		mkdir -p "$3$(dirname "$lib")"
		cp -L "$lib" "$3$lib"
		echo "$lib" >>"$3/../inputs"
	done
}

# userland BUSYBOX_DEB: OUTDIR/userland.cpio, everything but the modules.
userland() {
	bdeb=$1
	dest=$out/userland.cpio
	if [ -f "$dest" ] && [ -f "$out/.userland.inputs" ] &&
		[ "$(head -n 1 "$out/.userland.inputs")" = "$driver" ]; then
		# shellcheck disable=SC2046 # one path a line, none with spaces
		if [ -z "$(find -L "$here/netem" "$0" "$here/lib.sh" "$bdeb" "$driver" $(tail -n +2 "$out/.userland.inputs") \
			-newer "$dest" 2>/dev/null | head -n 1)" ]; then
			return 0
		fi
	fi
	echo "images: netem userland with $driver" >&2
	work=$(mktemp -d "$out/.work.XXXXXX")
	root=$work/root
	echo "$driver" >"$work/inputs"
	mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" \
		"$root/dev" "$root/proc" "$root/sys" "$root/run" "$root/tmp" \
		"$root/etc" "$root/var" "$root/lib/modules"
	ln -s ../run "$root/var/run"
	dpkg-deb -x "$bdeb" "$work/busybox"
	cp "$work/busybox/bin/busybox" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	copy_bin "$ipbin" /usr/sbin/ip "$root"
	copy_bin /usr/sbin/tc /usr/sbin/tc "$root"
	copy_bin /usr/bin/iperf3 /usr/bin/iperf3 "$root"
	copy_bin "$driver" /usr/bin/tc_driver "$root"
	copy_bin "$fdriver" /usr/bin/fabric_driver "$root"
	copy_bin "$probe" /usr/bin/owd_probe "$root"
	for bin in $OVS_BINS; do
		copy_bin "$bin" "$bin" "$root"
	done
	mkdir -p "$root$(dirname "$OVS_SCHEMA")"
	cp "$OVS_SCHEMA" "$root$OVS_SCHEMA"
	echo "$OVS_SCHEMA" >>"$work/inputs"
	copy_bin "$pairs" /usr/bin/pairs_drv "$root"
	# netem's delay distribution tables, where iproute2 installs them (a
	# driver may load them from there).
	for t in /usr/lib/x86_64-linux-gnu/tc/*.dist; do
		[ -f "$t" ] || continue
		mkdir -p "$root/usr/lib/x86_64-linux-gnu/tc"
		cp "$t" "$root$t"
	done
	cp "$here/netem/init" "$root/init"
	chmod 755 "$root/init"
	cp "$here/netem/fabric.sh" "$root/fabric.sh"
	chmod 1777 "$root/tmp"
	# n3x-ovs: the private ovs-vswitchd's user (net/ovsd.h).
	printf 'root:x:0:0:root:/:/bin/sh\nn3x-ovs:x:101:101::/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nn3x-ovs:x:101:\n' >"$root/etc/group"
	to_cpio "$root" "$work/userland.cpio" console
	mv "$work/userland.cpio" "$dest"
	sort -u "$work/inputs" | grep -vxF "$driver" | { echo "$driver"; cat; } >"$out/.userland.inputs"
	rm -rf "$work"
	work=""
}

# initrd FLAVOUR: the kernel's modules and the userland as one file; the
# kernel unpacks concatenated archives in turn.
initrd() {
	d=$out/$1
	if [ ! -f "$d/initrd.img" ] || newer "$d/modules.cpio" "$d/initrd.img" ||
		newer "$out/userland.cpio" "$d/initrd.img"; then
		cat "$d/modules.cpio" "$out/userland.cpio" >"$d/initrd.img.new"
		mv "$d/initrd.img.new" "$d/initrd.img"
	fi
	echo "images: netem $1: kernel $(cat "$d/kver"), initrd $(wc -c <"$d/initrd.img") bytes" >&2
}

bdeb=$(fetch "$cache" busybox-static:amd64 "busybox-static_*_amd64.deb") ||
	die "apt-get download busybox-static failed (run scripts/deps.sh)"
userland "$bdeb"
kdeb_s=$(kernel_deb "$cache" amd64) || die "no amd64 kernel (run scripts/deps.sh)"
kernel_part stable "$kdeb_s"
initrd stable

if bdeb_k=$(backports_deb 2>"$out/.backports.err"); then
	kernel_part backports "$bdeb_k"
	initrd backports
else
	mkdir -p "$out/backports"
	rm -f "$out/backports/vmlinuz" "$out/backports/initrd.img"
	cat "$out/.backports.err" >"$out/backports/unavailable"
	echo "images: netem backports kernel unavailable: $(cat "$out/backports/unavailable")" >&2
fi
rm -f "$out/.backports.err"

#!/bin/sh
# Build the netem test VM: Debian cloud kernels (which, unlike the build
# host's, have sch_netem) and one busybox initramfs that applies our tc
# rules to a veth pair between two namespaces inside the VM and prints what
# the packets measured (tests/integration/t_netem_vm.sh boots it).
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
# veth, ifb, sch_ingress, cls_u32, act_mirred (+ cls_matchall) with what
# they depend on, the project's tc test driver (N3X_TC_DRIVER, default
# build/tests/tc_driver: the tc/ module behind a small CLI), iproute2's ip
# and tc (namespaces, and tc as an observer only), iperf3, and
# images/netem/init as /init.  Host binaries go in with the libraries ldd
# lists, at the same paths.
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

PATH=$PATH:/usr/sbin:/sbin
export PATH

# Loaded in this order after their dependencies.  cls_matchall is not in
# the plan (u32 matches all) but costs nothing, and a driver that picks it
# finds it here rather than failing on "unknown filter".
MODULES="sch_netem sch_tbf veth ifb sch_ingress cls_u32 act_mirred cls_matchall"

die() {
	echo "images/netem-vm.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || {
	echo "usage: images/netem-vm.sh OUTDIR" >&2
	exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=$repo/build/cache
bpo=$cache/backports
driver=${N3X_TC_DRIVER:-$repo/build/tests/tc_driver}
mkdir -p "$1" "$cache"
out=$(cd "$1" && pwd)

work=""
trap 'rm -rf ${work:+"$work"}' EXIT
trap 'exit 130' INT TERM HUP PIPE

for tool in apt-get apt-cache dpkg-deb depmod modprobe cpio ldd xz; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/deps.sh)"
done
for bin in /usr/sbin/tc /usr/bin/iperf3; do
	[ -x "$bin" ] || die "$bin not found (run scripts/deps.sh)"
done
# Debian's /usr/sbin/ip is a link to /bin/ip; either will do.
ipbin=$(readlink -f /usr/sbin/ip 2>/dev/null || true)
[ -x "$ipbin" ] || die "/usr/sbin/ip not found (run scripts/deps.sh)"
[ -x "$driver" ] || die "no tc test driver at $driver (make build/tests/tc_driver)"

# newer A B: true when file A was changed after file B (POSIX test has
# no -nt).
newer() {
	[ -n "$(find "$1" -prune -newer "$2")" ]
}

# newest DIR GLOB: the newest .deb in DIR matching GLOB, by version (the
# second _-separated field), or nothing.
newest() {
	for f in "$1"/$2; do
		[ -f "$f" ] && echo "${f##*/}"
	done | sort -t_ -k2,2V | tail -n 1
}

# fetch DIR NAME GLOB [APT OPTIONS...]: print the path of package NAME in
# DIR, downloading it with apt-get (and OPTIONS) when nothing matching
# GLOB is there yet.
fetch() {
	dir=$1 name=$2 glob=$3
	shift 3
	deb=$(newest "$dir" "$glob")
	if [ -z "$deb" ]; then
		echo "images: downloading $name" >&2
		(cd "$dir" && apt-get "$@" download -q "$name" >&2) || return 1
		deb=$(newest "$dir" "$glob")
		[ -n "$deb" ] || return 1
	fi
	echo "$dir/$deb"
}

# kernel_pkg APT OPTIONS...: the versioned package behind the
# linux-image-cloud-amd64 metapackage (which carries no files).
kernel_pkg() {
	apt-cache "$@" depends linux-image-cloud-amd64:amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*\).*/\1/p' | head -n 1
}

KGLOB="linux-image-[0-9]*-cloud-amd64_*_amd64.deb"

stable_deb() {
	deb=$(newest "$cache" "$KGLOB")
	if [ -z "$deb" ]; then
		pkg=$(kernel_pkg)
		[ -n "$pkg" ] || die "apt knows no linux-image-cloud-amd64 (run scripts/deps.sh)"
		fetch "$cache" "$pkg:amd64" "$KGLOB" || die "apt-get download $pkg failed"
	else
		echo "$cache/$deb"
	fi
}

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
	pkg=$(kernel_pkg "$@")
	if [ -z "$pkg" ]; then
		echo "bookworm-backports has no linux-image-cloud-amd64" >&2
		return 1
	fi
	fetch "$bpo" "$pkg" "$KGLOB" "$@" || {
		echo "apt-get download $pkg from bookworm-backports failed" >&2
		return 1
	}
}

# newc_node NAME MODE MAJOR MINOR: one cpio "newc" entry for a device node
# (/dev/console, which the kernel opens before /init runs); written by hand
# because only root may mknod one on disk.  As in images/build.sh.
newc_node() {
	namesize=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		1 "$2" 0 0 1 0 0 0 0 "$3" "$4" "$namesize" 0
	printf '%s' "$1"
	head -c $((1 + (4 - (110 + namesize) % 4) % 4)) /dev/zero
}

# to_cpio DIR FILE: DIR as a root-owned newc archive.  Uncompressed: it is
# read once from memory, and skipping compression keeps rebuilds quick.
to_cpio() {
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$2"
}

# kernel_part FLAVOUR DEB: OUTDIR/FLAVOUR/{vmlinuz,kver,modules.cpio} from
# the kernel package DEB, unless already made from it.
kernel_part() {
	dest=$out/$1
	kdeb=$2
	stamp=$(basename "$kdeb")
	if [ -f "$dest/modules.cpio" ] && [ -f "$dest/vmlinuz" ] &&
		[ "$(cat "$dest/.inputs" 2>/dev/null)" = "$stamp" ] &&
		newer "$dest/modules.cpio" "$0"; then
		return 0
	fi
	echo "images: netem $1 kernel from $stamp" >&2
	work=$(mktemp -d "$out/.work.XXXXXX")
	kroot=$work/kernel
	root=$work/root
	dpkg-deb -x "$kdeb" "$kroot"
	kver=""
	for d in "$kroot"/lib/modules/*; do
		[ -d "$d" ] && kver=${d##*/}
	done
	if [ -z "$kver" ] || [ ! -f "$kroot/boot/vmlinuz-$kver" ]; then
		die "$stamp holds no kernel + modules"
	fi
	# Dependency order from the kernel's own modules.dep; -C /dev/null
	# keeps the host's modprobe.d out of it.
	depmod -b "$kroot" "$kver"
	: >"$work/insmod"
	for m in $MODULES; do
		modprobe -C /dev/null -S "$kver" -d "$kroot" --show-depends "$m" >>"$work/insmod" ||
			die "$1: no module $m in $kver"
	done
	mkdir -p "$root/lib/modules"
	: >"$root/lib/modules/load.list"
	prefix="$kroot/lib/modules/"
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$work/insmod" >"$work/ko"
	while read -r ko; do
		rel=${ko#"$prefix"}
		mkdir -p "$root/lib/modules/$(dirname "$rel")"
		# busybox insmod may lack the decompressor (6.12 ships .ko.xz).
		case "$ko" in
		*.ko.xz) xz -dc "$ko" >"$root/lib/modules/${rel%.xz}"; rel=${rel%.xz} ;;
		*.ko.zst) zstd -qdc "$ko" >"$root/lib/modules/${rel%.zst}"; rel=${rel%.zst} ;;
		*.ko.gz) gzip -dc "$ko" >"$root/lib/modules/${rel%.gz}"; rel=${rel%.gz} ;;
		*) cp "$ko" "$root/lib/modules/$rel" ;;
		esac
		echo "$rel" >>"$root/lib/modules/load.list"
	done <"$work/ko"
	mkdir -p "$dest"
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
		if [ -z "$(find -L "$here/netem" "$0" "$bdeb" "$driver" $(tail -n +2 "$out/.userland.inputs") \
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
	# netem's delay distribution tables, where iproute2 installs them (a
	# driver may load them from there).
	for t in /usr/lib/x86_64-linux-gnu/tc/*.dist; do
		[ -f "$t" ] || continue
		mkdir -p "$root/usr/lib/x86_64-linux-gnu/tc"
		cp "$t" "$root$t"
	done
	cp "$here/netem/init" "$root/init"
	chmod 755 "$root/init"
	chmod 1777 "$root/tmp"
	printf 'root:x:0:0:root:/:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	to_cpio "$root" "$work/userland.cpio"
	{
		newc_node dev/console $((0020600)) 5 1
		newc_node TRAILER!!! 0 0 0
	} >>"$work/userland.cpio"
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
kdeb_s=$(stable_deb)
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

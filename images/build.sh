#!/bin/sh
# Build the n3x demo guest: a Debian cloud kernel and a busybox initramfs
# for x86_64 and aarch64, for direct kernel boot under n3x-launch.
#
#   images/build.sh OUTDIR
#
# writes OUTDIR/{x86_64,aarch64}/{vmlinuz,initrd.img}.  Needs no root:
# packages come from `apt-get download` into build/cache/ (arm64 must be
# one of dpkg's foreign architectures; scripts/deps.sh sees to that) and
# are unpacked with dpkg-deb -x.  Once a package is in the cache it is
# used as is, with no apt lookup, so a rebuild is offline and quick;
# delete build/cache/ to pick up a newer kernel.  An arch whose outputs
# are newer than this script, images/rootfs/ and its .debs is skipped.
#
# The guest (images/rootfs/) prints "n3x-guest: ready HOSTNAME ARCH" on
# the console once up, takes HOSTNAME from the fw_cfg entry
# opt/n3x/hostname (or n3x.hostname= on the command line), runs DHCP on
# every NIC, offers a root/test login on the serial console and powers
# off cleanly on QMP system_powerdown.
set -eu

# depmod and modprobe live in /usr/sbin, outside a normal user's PATH.
PATH=$PATH:/usr/sbin:/sbin
export PATH

# Modules the guest loads, in this order; build.sh adds their
# dependencies ahead of them.  qemu_fw_cfg first: the hostname comes from
# it.  evdev lets acpid see the ACPI power button (an input device);
# x86 builds that button driver as a module, arm64 has it built in.
modules_for() {
	echo qemu_fw_cfg virtio_pci virtio_net virtio_blk virtio_console virtio_rng evdev
	case "$1" in
	x86_64) echo button ;;
	esac
}

# Root's password is "test" (the demo's documented login).  Precomputed
# so the build needs no runnable busybox for the target arch; made with
# `openssl passwd -6 -salt n3xguest0 test` (busybox `mkpasswd -m sha512
# test n3xguest0` gives the same).
# shellcheck disable=SC2016 # a literal crypt(3) string, not an expansion
ROOT_HASH='$6$n3xguest0$T0vrCB33eaZY5c31R5h84nnPu8CrnreKJowwQ.5Vx.VjDiimnDNdc43NwQbk139LrWZ1qBmrAA/UobHQmf65m.'

die() {
	echo "images/build.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || {
	echo "usage: images/build.sh OUTDIR" >&2
	exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=$repo/build/cache
mkdir -p "$1" "$cache"
out=$(cd "$1" && pwd)

# The unpacked kernel is ~100 MB: never leave it behind, even when a
# signal (Ctrl-C, a closed pipe) ends the build.
work=""
trap 'rm -rf ${work:+"$work"}' EXIT
trap 'exit 130' INT TERM HUP PIPE

for tool in apt-get dpkg-deb depmod modprobe cpio zstd; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool not found (run scripts/deps.sh)"
done

# cached_deb GLOB: the newest cached .deb matching GLOB, or nothing.
cached_deb() {
	# The version is the second _-separated field; sort -V orders it.
	for f in "$cache"/$1; do
		[ -f "$f" ] && echo "${f##*/}"
	done | sort -t_ -k2,2V | tail -n 1
}

# fetch_deb NAME GLOB: print the cache path of package NAME (apt syntax,
# e.g. busybox-static:arm64), downloading it when no file matching GLOB
# is cached.
fetch_deb() {
	name=$1
	glob=$2
	deb=$(cached_deb "$glob")
	if [ -z "$deb" ]; then
		echo "images: downloading $name" >&2
		(cd "$cache" && apt-get download -q "$name" >&2) ||
			die "apt-get download $name failed (run scripts/deps.sh)"
		deb=$(cached_deb "$glob")
		[ -n "$deb" ] || die "apt-get download $name left no $glob in $cache"
	fi
	echo "$cache/$deb"
}

# kernel_deb DEBARCH: the versioned kernel package behind the
# linux-image-cloud-DEBARCH metapackage; the metapackage itself carries
# no files, only a dependency naming the current ABI.
kernel_deb() {
	glob="linux-image-[0-9]*-cloud-$1_*_$1.deb"
	deb=$(cached_deb "$glob")
	if [ -z "$deb" ]; then
		pkg=$(apt-cache depends "linux-image-cloud-$1:$1" 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*\).*/\1/p' | head -n 1)
		[ -n "$pkg" ] ||
			die "apt knows no linux-image-cloud-$1:$1 (run scripts/deps.sh)"
		fetch_deb "$pkg:$1" "$glob"
	else
		echo "$cache/$deb"
	fi
}

# newc_node NAME MODE MAJOR MINOR: one cpio "newc" entry for a device
# node.  The kernel opens /dev/console before /init runs, so the archive
# needs that node, and only root may mknod one on disk; writing the
# entry by hand keeps the build unprivileged.
newc_node() {
	namesize=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		1 "$2" 0 0 1 0 0 0 0 "$3" "$4" "$namesize" 0
	printf '%s' "$1"
	# NUL-terminate the name, then pad header + name to 4 bytes.
	head -c $((1 + (4 - (110 + namesize) % 4) % 4)) /dev/zero
}

# build_arch ARCH DEBARCH
build_arch() {
	arch=$1
	debarch=$2
	dest=$out/$arch
	kdeb=$(kernel_deb "$debarch")
	bdeb=$(fetch_deb "busybox-static:$debarch" "busybox-static_*_$debarch.deb")
	stamp="$(basename "$kdeb") $(basename "$bdeb")"

	if [ -f "$dest/vmlinuz" ] && [ -f "$dest/initrd.img" ] &&
		[ "$(cat "$dest/.inputs" 2>/dev/null)" = "$stamp" ] &&
		[ -z "$(find "$here" "$kdeb" "$bdeb" -newer "$dest/initrd.img" | head -n 1)" ]; then
		echo "images: $arch up to date" >&2
		return 0
	fi
	echo "images: building $arch from $(basename "$kdeb")" >&2

	work=$(mktemp -d "$out/.work.$arch.XXXXXX")
	kroot=$work/kernel
	root=$work/root
	dpkg-deb -x "$kdeb" "$kroot"
	dpkg-deb -x "$bdeb" "$work/busybox"
	kver=""
	for d in "$kroot"/lib/modules/*; do
		[ -d "$d" ] && kver=${d##*/}
	done
	if [ -z "$kver" ] || [ ! -f "$kroot/boot/vmlinuz-$kver" ]; then
		die "$(basename "$kdeb") holds no kernel + modules"
	fi

	# Dependency order from the kernel's own modules.dep, via depmod on
	# the unpacked tree.  -C /dev/null keeps the host's modprobe.d
	# (blacklists, install hooks) out of it.
	depmod -b "$kroot" "$kver"
	: >"$work/insmod"
	for m in $(modules_for "$arch"); do
		modprobe -C /dev/null -S "$kver" -d "$kroot" --show-depends "$m" >>"$work/insmod" ||
			die "$arch: no module $m in $kver"
	done
	mkdir -p "$root/lib/modules"
	prefix="$kroot/lib/modules/"
	: >"$root/lib/modules/load.list"
	# "insmod PATH" lines, first occurrence kept; "builtin X" lines need
	# nothing loaded.
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$work/insmod" >"$work/ko"
	while read -r ko; do
		rel=${ko#"$prefix"}
		mkdir -p "$root/lib/modules/$(dirname "$rel")"
		# busybox insmod may lack the decompressor for a compressed
		# module; the signature is inside the plain .ko either way.
		case "$ko" in
		*.ko.xz) xz -dc "$ko" >"$root/lib/modules/${rel%.xz}"; rel=${rel%.xz} ;;
		*.ko.zst) zstd -qdc "$ko" >"$root/lib/modules/${rel%.zst}"; rel=${rel%.zst} ;;
		*.ko.gz) gzip -dc "$ko" >"$root/lib/modules/${rel%.gz}"; rel=${rel%.gz} ;;
		*) cp "$ko" "$root/lib/modules/$rel" ;;
		esac
		echo "$rel" >>"$root/lib/modules/load.list"
	done <"$work/ko"

	mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" \
		"$root/dev" "$root/proc" "$root/sys" "$root/run" "$root/tmp" \
		"$root/root" "$root/var/log" "$root/etc"
	cp "$work/busybox/bin/busybox" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cp -R "$here/rootfs/." "$root/"
	chmod 1777 "$root/tmp"
	chmod 700 "$root/root"

	cat >"$root/etc/passwd" <<-EOF
		root:x:0:0:root:/root:/bin/sh
		nobody:x:65534:65534:nobody:/nonexistent:/bin/false
	EOF
	cat >"$root/etc/group" <<-EOF
		root:x:0:
		tty:x:5:
		nogroup:x:65534:
	EOF
	printf 'root:%s:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' \
		"$ROOT_HASH" >"$root/etc/shadow"
	chmod 600 "$root/etc/shadow"
	cat >"$root/etc/profile" <<-'EOF'
		export PATH=/sbin:/bin:/usr/sbin:/usr/bin
		PS1='\u@\h:\w\$ '
	EOF
	printf 'n3x demo guest (%s) \\n \\l\n\n' "$arch" >"$root/etc/issue"

	# The tree as root-owned newc cpio, then the console node, as two
	# concatenated archives (the kernel unpacks them in turn).
	(cd "$root" && find . | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet) >"$work/initrd.cpio"
	{
		newc_node dev/console $((0020600)) 5 1
		newc_node TRAILER!!! 0 0 0
	} >>"$work/initrd.cpio"
	zstd -q -19 -T1 "$work/initrd.cpio" -o "$work/initrd.img"

	mkdir -p "$dest"
	cp "$kroot/boot/vmlinuz-$kver" "$dest/vmlinuz.new"
	mv "$dest/vmlinuz.new" "$dest/vmlinuz"
	mv "$work/initrd.img" "$dest/initrd.img"
	echo "$stamp" >"$dest/.inputs"
	echo "images: $arch: kernel $kver, initrd $(wc -c <"$dest/initrd.img") bytes," \
		"$(wc -l <"$root/lib/modules/load.list") modules" >&2

	rm -rf "$work"
	work=""
}

build_arch x86_64 amd64
build_arch aarch64 arm64

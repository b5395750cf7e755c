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

# shellcheck source=images/lib.sh
. "$(dirname "$0")/lib.sh"
need_tools apt-get apt-cache dpkg-deb depmod modprobe cpio zstd

# build_arch ARCH DEBARCH
build_arch() {
	arch=$1
	debarch=$2
	dest=$out/$arch
	kdeb=$(kernel_deb "$cache" "$debarch") || die "no $debarch kernel (run scripts/deps.sh)"
	bdeb=$(fetch "$cache" "busybox-static:$debarch" "busybox-static_*_$debarch.deb") ||
		die "apt-get download busybox-static:$debarch failed (run scripts/deps.sh)"
	stamp="$(basename "$kdeb") $(basename "$bdeb")"

	if [ -f "$dest/vmlinuz" ] && [ -f "$dest/initrd.img" ] &&
		[ "$(cat "$dest/.inputs" 2>/dev/null)" = "$stamp" ] &&
		[ -z "$(find "$here" "$kdeb" "$bdeb" -newer "$dest/initrd.img" | head -n 1)" ]; then
		echo "images: $arch up to date" >&2
		return 0
	fi
	echo "images: building $arch from $(basename "$kdeb")" >&2

	work=$(mktemp -d "$out/.work.$arch.XXXXXX")
	# shellcheck disable=SC2046 # one module name a word
	kernel_modules "$arch" "$kdeb" $(modules_for "$arch")
	dpkg-deb -x "$bdeb" "$work/busybox"

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

	# The tree as root-owned newc cpio, then the console node.
	to_cpio "$root" "$work/initrd.cpio" console
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

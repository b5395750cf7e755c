#!/bin/sh
# Build the Debian 12 test images: whole disks that boot through their own
# GRUB, as the n3x images do.
#
#   images/debian.sh OUTDIR [ARCH...]      (default: x86_64 aarch64)
#
# writes, under OUTDIR:
#   debian-x86_64.qcow2       MBR, GRUB for BIOS, root ext4 on partition 1
#   debian-x86_64-uefi.qcow2  the same root file system on GPT, with an EFI
#                             system partition (GRUB at EFI/BOOT/BOOTX64.EFI)
#   debian-aarch64.qcow2      arm64, GPT + ESP (EFI/BOOT/BOOTAA64.EFI), AAVMF
#
# The guest: systemd, linux-image-cloud, a serial getty (ttyS0 / ttyAMA0),
# systemd-networkd running DHCP on every virtio NIC and taking the hostname
# from the lease (no /etc/hostname; polkitd lets networkd set it), an empty
# /etc/machine-id (each VM makes its own), openssh-server with root/test
# and host keys made on first boot, qemu-guest-agent, iperf3.
#
# Runs as root (mmdebstrap's root mode, and mkfs.ext4 -d keeps the tree's
# owners); nothing is mounted and no loop device is used: the root file
# system is made from the tree with mkfs.ext4 -d into a file, the ESP with
# mtools, GRUB's images with grub-mkimage, and all are written into the
# disk image at their partitions' offsets.  arm64 maintainer scripts run
# under qemu-user-static through binfmt_misc.
#
# Downloaded .debs stay in build/cache/debian-DEBARCH/, so a rebuild only
# fetches what changed.  An arch is skipped when its outputs exist and were
# made by this same script (its sha256 is kept in OUTDIR/.debian-ARCH).
# aarch64 is skipped, with a message and no error, where arm64 programs
# cannot run (no binfmt_misc or no qemu-aarch64 entry).
set -eu

[ $# -ge 1 ] || {
	echo "usage: images/debian.sh OUTDIR [ARCH...]" >&2
	exit 2
}
outarg=$1
shift
arches=${*:-x86_64 aarch64}
set -- "$outarg"
# shellcheck source=images/lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap, and file owners in the image); run as root"
need_tools mmdebstrap mkfs.ext4 sfdisk grub-mkimage mformat mmd mcopy mkfs.vfat qemu-img uuidgen sha256sum

SUITE=bookworm
MIRROR=http://deb.debian.org/debian
# Root file system size; the disks add 1 MiB before it (MBR, GRUB's core)
# or a 32 MiB ESP and the GPT, so every disk stays under 1 GiB virtual.
ROOT_MB=900
ESP_MB=32
# Root's password is "test" (`openssl passwd -6 -salt n3xguest0 test`),
# the same hash as the busybox demo guest's.
# shellcheck disable=SC2016 # a literal crypt(3) string
ROOT_HASH='$6$n3xguest0$T0vrCB33eaZY5c31R5h84nnPu8CrnreKJowwQ.5Vx.VjDiimnDNdc43NwQbk139LrWZ1qBmrAA/UobHQmf65m.'

PACKAGES="systemd systemd-sysv udev dbus polkitd systemd-resolved
  initramfs-tools zstd e2fsprogs kmod iproute2 iputils-ping procps
  openssh-server qemu-guest-agent iperf3"

# The initramfs holds these modules (MODULES=list), what mounts the root
# of a QEMU VM (virtio disks over PCI or MMIO, ext4), not MODULES=most.
INITRAMFS_MODULES="virtio_pci virtio_mmio virtio_blk virtio_scsi sd_mod ext4 crc32c_generic"

stamp=$(sha256sum "$here/debian.sh" "$here/lib.sh" | sha256sum | cut -d' ' -f1)

# outputs ARCH: the image files ARCH builds.
outputs() {
	case "$1" in
	x86_64) echo debian-x86_64.qcow2 debian-x86_64-uefi.qcow2 ;;
	aarch64) echo debian-aarch64.qcow2 ;;
	esac
}

up_to_date() {
	[ "$(cat "$out/.debian-$1" 2>/dev/null)" = "$stamp" ] || return 1
	for f in $(outputs "$1"); do
		[ -f "$out/$f" ] || return 1
	done
}

# The arm64 tree's maintainer scripts run through binfmt_misc; mount it and
# enable Debian's qemu-aarch64 entry when that has not been done.  Fails
# (1) with the reason on stderr when arm64 programs cannot run here (a
# container without binfmt_misc, say).
binfmt_aarch64() {
	bm=/proc/sys/fs/binfmt_misc
	if [ ! -f "$bm/status" ] && ! mount -t binfmt_misc binfmt_misc "$bm" 2>/dev/null; then
		echo "cannot mount $bm" >&2
		return 1
	fi
	if ! grep -qx enabled "$bm/qemu-aarch64" 2>/dev/null &&
		command -v update-binfmts >/dev/null 2>&1; then
		update-binfmts --enable qemu-aarch64 >&2 || true
	fi
	if ! grep -qx enabled "$bm/qemu-aarch64" 2>/dev/null; then
		echo "binfmt_misc has no qemu-aarch64 entry (qemu-user-static)" >&2
		return 1
	fi
}

# tree DEBARCH: the Debian tree in $work/tree, configured for the guest.
tree() {
	debarch=$1
	debs=$cache/debian-$debarch
	mkdir -p "$debs"
	t=$work/tree
	# The .debs go through build/cache (sync-in before, sync-out after),
	# so a rebuild downloads only what changed.  Docs, man pages and
	# translations are left out of the image (dpkg path-exclude), also for
	# what gets installed in the guest later.  The kernel comes last, in
	# a dpkg run of its own, so that its initramfs is made once, not again
	# when the other packages' triggers run (under qemu-user, for arm64,
	# each mkinitramfs takes minutes), and it holds only the modules a VM
	# needs to find its root (half the arm64 build time).  That apt-get
	# runs in the tree, whose resolv.conf systemd-resolved has made a link
	# to its stub by then: the host's is copied in for it (and the link is
	# put back below).
	# shellcheck disable=SC2086,SC2016 # one package a word; "$1" is the hooks'
	mmdebstrap --quiet --variant=minbase --arch="$debarch" \
		--include="$(echo $PACKAGES | tr ' ' ,)" \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--skip=download/empty --skip=essential/unlink \
		--setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
		--setup-hook="sync-in $debs /var/cache/apt/archives/" \
		--customize-hook="echo MODULES=list >\"\$1/etc/initramfs-tools/conf.d/n3x\"" \
		--customize-hook="printf '%s\n' $INITRAMFS_MODULES >>\"\$1/etc/initramfs-tools/modules\"" \
		--customize-hook='rm -f "$1/etc/resolv.conf" && cp -L /etc/resolv.conf "$1/etc/resolv.conf"' \
		--customize-hook="chroot \"\$1\" env DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends linux-image-cloud-$debarch >/dev/null" \
		--customize-hook="sync-out /var/cache/apt/archives $debs" \
		--customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
		"$SUITE" "$t" \
		"deb $MIRROR $SUITE main" \
		"deb $MIRROR $SUITE-updates main" \
		"deb http://deb.debian.org/debian-security $SUITE-security main" >&2 ||
		die "mmdebstrap failed for $debarch"
	# Keep only the newest version of each package in the cache.
	for f in "$debs"/*.deb; do echo "${f##*/}"; done | sort -t_ -k1,1 -k2,2V | awk -F_ '{ if ($1 == p) print prev; p = $1; prev = $0 }' |
		while read -r old; do rm -f "$debs/$old"; done

	# Root's password, and ssh may use it.
	sed -i "s|^root:[^:]*:|root:$ROOT_HASH:|" "$t/etc/shadow"
	cat >"$t/etc/ssh/sshd_config.d/n3x.conf" <<-EOF
		# n3x test image: root logs in with the password "test".
		PermitRootLogin yes
		PasswordAuthentication yes
	EOF
	# Host keys are made on first boot, so no two VMs share them.
	rm -f "$t"/etc/ssh/ssh_host_*
	mkdir -p "$t/etc/systemd/system/ssh.service.d"
	cat >"$t/etc/systemd/system/ssh.service.d/n3x-hostkeys.conf" <<-EOF
		# n3x test image: the image ships without host keys; make them
		# before sshd checks its configuration (which needs them).
		[Service]
		ExecStartPre=
		ExecStartPre=/usr/bin/ssh-keygen -A
		ExecStartPre=/usr/sbin/sshd -t
	EOF

	# One image for every VM: the machine-id is made on each VM's first
	# boot, the hostname comes from DHCP (an /etc/hostname would win).
	: >"$t/etc/machine-id"
	rm -f "$t/var/lib/dbus/machine-id" "$t/etc/hostname"
	cat >"$t/etc/hosts" <<-EOF
		127.0.0.1	localhost
		::1		localhost ip6-localhost ip6-loopback
	EOF
	cat >"$t/etc/systemd/network/50-n3x-virtio.network" <<-EOF
		# n3x test image: DHCP on every virtio NIC; the lease names the
		# host (networkd sets it through hostnamed, which asks polkit).
		[Match]
		Driver=virtio_net

		[Network]
		DHCP=ipv4

		[DHCPv4]
		ClientIdentifier=mac
		UseHostname=true
		UseDomains=true
	EOF
	ln -sf ../run/systemd/resolve/stub-resolv.conf "$t/etc/resolv.conf"
	systemctl --root="$t" --quiet enable systemd-networkd systemd-resolved ssh
	# No daily jobs catching up on first boot under TCG, and no first-boot
	# prompts on the console.
	systemctl --root="$t" --quiet mask apt-daily.timer apt-daily-upgrade.timer \
		dpkg-db-backup.timer e2scrub_all.timer fstrim.timer systemd-firstboot.service

	cat >"$t/etc/fstab" <<-EOF
		UUID=$uuid	/	ext4	errors=remount-ro	0	1
	EOF
	printf 'Debian GNU/Linux 12 (n3x test image) \\n \\l\n\n' >"$t/etc/issue"
	echo LANG=C.UTF-8 >"$t/etc/default/locale"
	rm -rf "$t/var/lib/apt/lists/"* "$t/var/log/"*.log "$t/var/cache/debconf/"*-old
}

# grub_cfg CONSOLE: /boot/grub/grub.cfg in the tree, for BIOS and EFI.
grub_cfg() {
	mkdir -p "$t/boot/grub"
	cat >"$t/boot/grub/grub.cfg" <<-EOF
		# n3x test image: written by images/debian.sh, not by update-grub.
		set timeout=0
		set default=0
		if [ "\$grub_platform" = pc ]; then
		  serial --unit=0 --speed=115200
		  terminal_input serial console
		  terminal_output serial console
		fi
		search --no-floppy --fs-uuid --set=root $uuid
		menuentry 'Debian GNU/Linux 12 (n3x test image)' {
		  linux /vmlinuz root=UUID=$uuid ro console=$1
		  initrd /initrd.img
		}
	EOF
}

# The config built into every GRUB image: find the root file system.
early_cfg() {
	cat >"$work/early.cfg" <<-EOF
		search --no-floppy --fs-uuid --set=root $uuid
		set prefix=(\$root)/boot/grub
		configfile \$prefix/grub.cfg
	EOF
}

MODS="part_msdos part_gpt ext2 search search_fs_uuid configfile normal linux echo test sleep"

# rootfs: the tree as an ext4 image in $work/root.ext4.  GRUB 2.06 cannot
# read metadata_csum_seed or orphan_file file systems.
rootfs() {
	rm -f "$work/root.ext4"
	truncate -s "${ROOT_MB}M" "$work/root.ext4"
	mkfs.ext4 -q -F -L root -U "$uuid" -O ^metadata_csum_seed,^orphan_file \
		-d "$t" "$work/root.ext4" || die "mkfs.ext4 -d failed"
}

# esp FILE EFI_NAME: a FAT ESP in FILE holding $work/grub.efi at
# EFI/BOOT/EFI_NAME (the removable path firmware boots with no NVRAM entry).
esp() {
	rm -f "$1"
	mkfs.vfat -C -n ESP "$1" $((ESP_MB * 1024)) >/dev/null
	mmd -i "$1" ::/EFI ::/EFI/BOOT
	mcopy -i "$1" "$work/grub.efi" "::/EFI/BOOT/$2"
}

# gpt_disk RAW ESP_NAME: GPT, root on partition 1 after the ESP
# (partition 2, first on the disk), both written in.
gpt_disk() {
	raw=$1
	rm -f "$raw"
	truncate -s $((1 + ESP_MB + ROOT_MB + 1))M "$raw"
	sfdisk -q "$raw" >/dev/null <<-EOF
		label: gpt
		start=$(((1 + ESP_MB) * 2048)), size=$((ROOT_MB * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
		start=2048, size=$((ESP_MB * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=ESP
	EOF
	esp "$work/esp.img" "$2"
	dd if="$work/esp.img" of="$raw" bs=1M seek=1 conv=notrunc status=none
	dd if="$work/root.ext4" of="$raw" bs=1M seek=$((1 + ESP_MB)) conv=notrunc,sparse status=none
}

# bios_disk RAW: MBR, root on partition 1 at 1 MiB, GRUB as grub-install
# puts it: boot.img in the MBR, core.img in the gap from sector 1.
bios_disk() {
	raw=$1
	rm -f "$raw"
	truncate -s $((1 + ROOT_MB))M "$raw"
	sfdisk -q "$raw" >/dev/null <<-EOF
		label: dos
		start=2048, type=83, bootable
	EOF
	# shellcheck disable=SC2086
	grub-mkimage -O i386-pc -o "$work/core.img" -c "$work/early.cfg" -p /boot/grub \
		biosdisk serial terminal $MODS
	[ "$(wc -c <"$work/core.img")" -lt $((2047 * 512)) ] || die "GRUB core.img does not fit before partition 1"
	# boot.img's code, not the disk signature and partition table after it.
	dd if=/usr/lib/grub/i386-pc/boot.img of="$raw" bs=440 count=1 conv=notrunc status=none
	# As grub-bios-setup does: core.img at LBA 1 (0x5c, 8 bytes), and a
	# hard disk boots whatever drive the BIOS says (the jump at 0x66
	# that would check for a floppy becomes two nops).
	printf '\001\000\000\000\000\000\000\000' |
		dd of="$raw" bs=1 seek=$((0x5c)) conv=notrunc status=none
	printf '\220\220' | dd of="$raw" bs=1 seek=$((0x66)) conv=notrunc status=none
	dd if="$work/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none
	dd if="$work/root.ext4" of="$raw" bs=1M seek=1 conv=notrunc,sparse status=none
}

# qcow2 RAW NAME: the compressed qcow2 OUTDIR/NAME, put in place whole.
qcow2() {
	qemu-img convert -c -f raw -O qcow2 "$1" "$out/$2.new"
	mv "$out/$2.new" "$out/$2"
	rm -f "$1"
	echo "images: $2: $(du -k "$out/$2" | cut -f1) KiB" \
		"($(qemu-img info "$out/$2" | sed -n 's/^virtual size: \([^(]*\).*/\1/p' | sed 's/ *$//') virtual)" >&2
}

build_x86_64() {
	tree amd64
	grub_cfg ttyS0,115200
	early_cfg
	rootfs
	rm -rf "$t"
	bios_disk "$work/bios.raw"
	qcow2 "$work/bios.raw" debian-x86_64.qcow2
	# shellcheck disable=SC2086
	grub-mkimage -O x86_64-efi -o "$work/grub.efi" -c "$work/early.cfg" -p /boot/grub $MODS
	gpt_disk "$work/uefi.raw" BOOTX64.EFI
	qcow2 "$work/uefi.raw" debian-x86_64-uefi.qcow2
}

build_aarch64() {
	grubdir=/usr/lib/grub/arm64-efi
	[ -f "$grubdir/linux.mod" ] || die "$grubdir missing (install grub-efi-arm64-bin:arm64)"
	tree arm64
	grub_cfg ttyAMA0
	early_cfg
	rootfs
	rm -rf "$t"
	# shellcheck disable=SC2086
	grub-mkimage -O arm64-efi -d "$grubdir" -o "$work/grub.efi" -c "$work/early.cfg" -p /boot/grub $MODS
	gpt_disk "$work/arm64.raw" BOOTAA64.EFI
	qcow2 "$work/arm64.raw" debian-aarch64.qcow2
}

# All of it in one function called on the last line, so that the shell
# has read the whole script before running any of it (an edit during a
# build does not change the build).
main() {
	for arch in $arches; do
		case "$arch" in
		x86_64 | aarch64) ;;
		*) die "unknown arch $arch (x86_64 or aarch64)" ;;
		esac
		if up_to_date "$arch"; then
			echo "images: debian $arch up to date" >&2
			continue
		fi
		# Without a way to run arm64 programs there is no arm64 image,
		# and aarch64 guests keep to direct kernel boot: not an error.
		if [ "$arch" = aarch64 ] && ! binfmt_aarch64; then
			echo "images: debian aarch64 skipped: this host cannot run arm64 programs" >&2
			continue
		fi
		echo "images: building the debian $arch image(s)" >&2
		start=$(date +%s)
		rm -f "$out/.debian-$arch"
		work=$(mktemp -d "$out/.work.debian-$arch.XXXXXX")
		uuid=$(uuidgen)
		case "$arch" in
		x86_64) build_x86_64 ;;
		aarch64) build_aarch64 ;;
		esac
		rm -rf "$work"
		work=""
		echo "$stamp" >"$out/.debian-$arch"
		echo "images: debian $arch built in $(($(date +%s) - start)) s" >&2
	done
}

main; exit

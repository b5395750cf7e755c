#!/bin/sh
# Install the Debian packages n3x-launch needs to build, test and run its demo.
# Idempotent: only packages dpkg does not report as installed are fetched, and
# `apt-get update` runs only when something is missing.
set -eu

pkgs="build-essential pkg-config git
  qemu-system-x86 qemu-system-arm qemu-utils qemu-efi-aarch64
  libnl-3-dev libnl-route-3-dev libnl-genl-3-dev libmnl-dev libjansson-dev
  libinih-dev libcriterion-dev libpcap-dev clang libclang-rt-dev
  socat busybox-static cpio kmod iproute2 procps zstd xz-utils python3
  openvswitch-switch dnsmasq-base iputils-ping iperf3 tcpdump
  mmdebstrap e2fsprogs fdisk uuid-runtime dosfstools mtools ovmf
  grub-common grub-pc-bin grub-efi-amd64-bin grub-efi-arm64-bin:arm64
  qemu-user-static binfmt-support arch-test openssh-client sshpass
  qemu-guest-agent
  scdoc mandoc man-db bash-completion debhelper dpkg-dev lintian fakeroot
  libsystemd-dev libncurses-dev libgraphviz-dev graphviz tmux libxml2-utils file"

missing=""
for p in $pkgs; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done

# The aarch64 demo image is built from arm64 .debs fetched with apt-get download,
# which needs arm64 in apt's architecture list; the only arm64 package
# installed is grub-efi-arm64-bin (GRUB's arm64-efi modules, data only) for
# the Debian aarch64 disk image (images/debian.sh).
need_update=""
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
	need_update=1
fi

if [ -n "$missing" ] || [ -n "$need_update" ]; then
	echo "deps: installing:${missing:- (none; refreshing arm64 lists)}" >&2
	apt-get update -q
	if [ -n "$missing" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
	fi
fi

# QEMU runs as this system user (launcher/qemuuser.c), never as root.  Its
# supplementary group kvm opens /dev/kvm where udev gives the device to
# kvm (Debian's 50-udev-default.rules, mode 0660); the group is made here
# when udev never ran.  It gets its disks, firmware variables and console
# log as file descriptors from the supervisor, so it needs no home and no
# access to $STATE.  Idempotent: each step checks first.
if ! getent group kvm >/dev/null; then
	groupadd --system kvm
fi
if ! getent passwd n3x-qemu >/dev/null; then
	echo "deps: adding the system user n3x-qemu" >&2
	useradd --system --user-group --groups kvm --no-create-home \
		--home-dir /nonexistent --shell /usr/sbin/nologin \
		--comment "n3x-launch QEMU" n3x-qemu
elif ! id -nG n3x-qemu | tr ' ' '\n' | grep -qx kvm; then
	usermod --append --groups kvm n3x-qemu
fi
# The private ovs-vswitchd drops to n3x-ovs (--user), keeping only the network
# capabilities OVS asks for; it reaches $RUN/ovs through an fd (net/ovsd.h).
if ! getent passwd n3x-ovs >/dev/null; then
	echo "deps: adding the system user n3x-ovs" >&2
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin --comment "n3x-launch Open vSwitch" n3x-ovs
fi
# Its userspace datapath makes internal ports through /dev/net/tun: 0666 as
# udev's default rules make it (a /dev without udev has 0600).  Opening it
# alone grants nothing: making a tap still needs CAP_NET_ADMIN.
if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" = 600 ]; then
	chmod 0666 /dev/net/tun
fi

# shellcheck shell=sh
# Shared by images/build.sh and images/netem-vm.sh, sourced after `set -eu`
# with the script's own arguments (`. "$(dirname "$0")/lib.sh"`):
#
#   - checks the one argument OUTDIR (usage, exit 2) and sets here (images/),
#     repo, cache (build/cache/, or $N3X_IMAGE_CACHE: an installed builder
#     has no build/ beside it; n3x-demo sets it) and out (OUTDIR, absolute);
#   - removes the work directory $work however the script ends;
#   - packages: `apt-get download` into a cache directory, a cached .deb
#     used as is with no apt lookup, unpacked with dpkg-deb -x (no root);
#   - a kernel package's modules with their dependencies, in load order;
#   - root-owned newc cpio archives, /dev/console included without mknod.

# depmod and modprobe live in /usr/sbin, outside a normal user's PATH.
PATH=$PATH:/usr/sbin:/sbin
export PATH

prog=images/${0##*/}

die() {
	echo "$prog: $*" >&2
	exit 1
}

[ $# -eq 1 ] || {
	echo "usage: $prog OUTDIR" >&2
	exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=${N3X_IMAGE_CACHE:-$repo/build/cache}
mkdir -p "$1" "$cache"
# shellcheck disable=SC2034 # used by the scripts that source this
out=$(cd "$1" && pwd)

# An unpacked kernel is ~100 MB: never leave it behind, even when a signal
# (Ctrl-C, a closed pipe) ends the build.
work=""
trap 'rm -rf ${work:+"$work"}' EXIT
trap 'exit 130' INT TERM HUP PIPE

# need_tools TOOL...: die unless each is on PATH.
need_tools() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run scripts/deps.sh)"
	done
}

# newest DIR GLOB: the newest .deb in DIR matching GLOB, by version (the
# second _-separated field, which sort -V orders), or nothing.
newest() {
	for f in "$1"/$2; do
		[ -f "$f" ] && echo "${f##*/}"
	done | sort -t_ -k2,2V | tail -n 1
}

# fetch DIR NAME GLOB [APT OPTIONS...]: print the path of package NAME (apt
# syntax, e.g. busybox-static:arm64) in DIR, downloading it with apt-get
# (and OPTIONS) when nothing matching GLOB is there yet.  Fails (1) when
# the download does.
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

# kernel_glob DEBARCH: the file names of Debian's versioned cloud kernels.
kernel_glob() {
	echo "linux-image-[0-9]*-cloud-$1_*_$1.deb"
}

# kernel_deb DIR DEBARCH [APT OPTIONS...]: the path in DIR of the versioned
# kernel package behind the linux-image-cloud-DEBARCH metapackage (which
# carries no files, only a dependency naming the current ABI), downloaded
# when not there yet.  Fails with the reason on stderr.
kernel_deb() {
	kdir=$1 debarch=$2
	shift 2
	deb=$(newest "$kdir" "$(kernel_glob "$debarch")")
	if [ -n "$deb" ]; then
		echo "$kdir/$deb"
		return 0
	fi
	pkg=$(apt-cache "$@" depends "linux-image-cloud-$debarch:$debarch" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*\).*/\1/p' | head -n 1)
	if [ -z "$pkg" ]; then
		echo "apt knows no linux-image-cloud-$debarch:$debarch" >&2
		return 1
	fi
	fetch "$kdir" "$pkg:$debarch" "$(kernel_glob "$debarch")" "$@" || {
		echo "apt-get download $pkg failed" >&2
		return 1
	}
}

# kernel_modules LABEL DEB MODULE...: unpack the kernel package DEB into
# $work/kernel (kroot) and set kver; put MODULE... and what they depend on
# under $work/root/lib/modules (root), decompressed, with load.list naming
# them in load order.  LABEL names the build in messages.
kernel_modules() {
	label=$1 kdeb=$2
	shift 2
	kroot=$work/kernel
	root=$work/root
	dpkg-deb -x "$kdeb" "$kroot"
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
	for m in "$@"; do
		modprobe -C /dev/null -S "$kver" -d "$kroot" --show-depends "$m" >>"$work/insmod" ||
			die "$label: no module $m in $kver"
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
		# module (6.12 ships .ko.xz); the signature is inside the
		# plain .ko either way.
		case "$ko" in
		*.ko.xz) xz -dc "$ko" >"$root/lib/modules/${rel%.xz}"; rel=${rel%.xz} ;;
		*.ko.zst) zstd -qdc "$ko" >"$root/lib/modules/${rel%.zst}"; rel=${rel%.zst} ;;
		*.ko.gz) gzip -dc "$ko" >"$root/lib/modules/${rel%.gz}"; rel=${rel%.gz} ;;
		*) cp "$ko" "$root/lib/modules/$rel" ;;
		esac
		echo "$rel" >>"$root/lib/modules/load.list"
	done <"$work/ko"
}

# newc_node NAME MODE MAJOR MINOR: one cpio "newc" entry for a device node.
# The kernel opens /dev/console before /init runs, so the archive needs
# that node, and only root may mknod one on disk; writing the entry by hand
# keeps the build unprivileged.
newc_node() {
	namesize=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		1 "$2" 0 0 1 0 0 0 0 "$3" "$4" "$namesize" 0
	printf '%s' "$1"
	# NUL-terminate the name, then pad header + name to 4 bytes.
	head -c $((1 + (4 - (110 + namesize) % 4) % 4)) /dev/zero
}

# to_cpio DIR FILE [console]: DIR as a root-owned newc archive in FILE;
# with "console", followed by a second archive holding /dev/console (the
# kernel unpacks concatenated archives in turn).
to_cpio() {
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$2"
	if [ "${3:-}" = console ]; then
		{
			newc_node dev/console $((0020600)) 5 1
			newc_node TRAILER!!! 0 0 0
		} >>"$2"
	fi
}

# Sourced by t_install, t_package and t_unit_file (after lib.sh): commands
# run chrooted into a throwaway copy of this host's root, so that installed
# files sit at their real paths (/usr/sbin/n3x-launch, /lib/systemd/system)
# without touching the host.
#
# in_root DIR LAYER CMD...: run CMD (an argv) chrooted into an overlay of /
# with the directory LAYER laid over it (LAYER may be ""), whose changes go
# to DIR/upper and are kept there for the next in_root with the same DIR
# (a fresh DIR is a fresh copy of the host).  The mounts are made in a
# private mount namespace and vanish with the last process in it: /proc,
# /sys and /dev are the host's; /run is DIR/run, empty at first (no host
# daemon's socket is reachable) and kept, so that a later in_root reaches
# what an earlier one left running there.
# The test's XDG_RUNTIME_DIR and XDG_STATE_HOME are not passed on: inside,
# the programs use the system's /run and /var/lib as an installed package's
# would.  Returns CMD's exit status.
in_root() {
	local dir=$1 layer=$2
	shift 2
	mkdir -p "$dir/upper" "$dir/work" "$dir/root" "$dir/run"
	env -u XDG_RUNTIME_DIR -u XDG_STATE_HOME \
		unshare -m --propagation private -- /bin/sh -ec '
		dir=$1 layer=$2 lower=/
		shift 2
		# Overlayfs refuses a lower layer inside another (LAYER is
		# inside /): the layer is copied to a tmpfs of its own, through
		# the merged-/usr links the host has (lib -> usr/lib), so that
		# its lib/ does not hide the host'"'"'s.
		if [ -n "$layer" ]; then
			mkdir -p "$dir/layer"
			mount -t tmpfs -o mode=0755 n3x-layer "$dir/layer"
			for l in bin sbin lib lib32 lib64 libx32; do
				[ ! -L "/$l" ] || ln -s "$(readlink "/$l")" "$dir/layer/$l"
			done
			mkdir -p "$dir/layer/usr"
			tar -C "$layer" -c . | tar -C "$dir/layer" -x --keep-directory-symlink
			lower=$dir/layer:/
		fi
		mount -t overlay n3x-root -o "lowerdir=$lower,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
		for m in proc sys dev; do mount --rbind "/$m" "$dir/root/$m"; done
		chmod 0755 "$dir/run"
		mount --bind "$dir/run" "$dir/root/run"
		exec chroot "$dir/root" "$@"' in_root "$dir" "$layer" "$@"
}

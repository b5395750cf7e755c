# `make install DESTDIR=... PREFIX=/usr` lays out exactly the brief's files
# with their modes; installed, the programs find their data without build/:
# laid over a throwaway copy of the root, the installed n3x-demo builds the
# demo images with the installed builder into /var/lib/n3x-demo/images (the
# .debs from the tree's build/cache, so nothing is downloaded when `make
# images` ran), and the installed n3x-launch --check accepts the installed
# example, whose QEMU argv names those images.  `make uninstall` leaves no
# file behind.  About 7 s (the two demo images are built anew; 30 s more
# when build/cache is empty and the .debs are downloaded).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/throwaway_root.sh"
need_root "mount namespaces, overlayfs and chroot"
need_cmd unshare chroot file mandoc

D=$TMP/dest
make -s -C "$SRC" install DESTDIR="$D" PREFIX=/usr >"$TMP/install.log" 2>&1 ||
	fail "make install: $(tail -n 3 "$TMP/install.log")"

# The layout: MODE PATH, every file and nothing else.
{
	echo "755 /usr/sbin/n3x-launch"
	echo "755 /usr/bin/n3x-ctl"
	echo "755 /usr/bin/n3x-demo"
	echo "644 /usr/share/man/man1/n3x-ctl.1"
	echo "644 /usr/share/man/man5/n3x-topology.5"
	echo "644 /usr/share/man/man8/n3x-launch.8"
	echo "644 /usr/share/man/man1/n3x-demo.1"
	echo "644 /usr/share/bash-completion/completions/n3x-ctl"
	echo "644 /usr/share/bash-completion/completions/n3x-launch"
	echo "644 /usr/lib/systemd/system/n3x-launch@.service"
	for f in "$SRC"/examples/*.conf; do echo "644 /usr/share/n3x-launch/examples/${f##*/}"; done
	for f in build.sh debian.sh lib.sh; do
		if [ -x "$SRC/images/$f" ]; then m=755; else m=644; fi
		echo "$m /usr/share/n3x-launch/images/$f"
	done
	(cd "$SRC" && find images/rootfs -type f) | while read -r f; do
		if [ -x "$SRC/$f" ]; then m=755; else m=644; fi
		echo "$m /usr/share/n3x-launch/$f"
	done
} | sort -k2 >"$TMP/want"
(cd "$D" && find . ! -type d -printf '%m /%P\n') | sort -k2 >"$TMP/got"
diff -u "$TMP/want" "$TMP/got" >"$TMP/layout.diff" || fail "installed files differ from the layout: $(cat "$TMP/layout.diff")"
note "$(wc -l <"$TMP/got") files, modes as the layout says"

# What they are, by third-party tools.
for b in usr/sbin/n3x-launch usr/bin/n3x-ctl; do
	file -b "$D/$b" | grep -q '^ELF 64-bit LSB pie executable' || fail "$b: $(file -b "$D/$b")"
done
for m in man1/n3x-ctl.1 man5/n3x-topology.5 man8/n3x-launch.8; do
	mandoc -T lint -W error "$D/usr/share/man/$m" >"$TMP/lint" 2>&1 || fail "$m: $(cat "$TMP/lint")"
done
cmp "$SRC/systemd/n3x-launch@.service" "$D/usr/lib/systemd/system/n3x-launch@.service" ||
	fail "the installed unit is not systemd/n3x-launch@.service"
grep -q '^sbindir="/usr/sbin" bindir="/usr/bin" pkgdatadir="/usr/share/n3x-launch" demodir="/var/lib/n3x-demo"$' \
	"$D/usr/bin/n3x-demo" || fail "n3x-demo does not name the installed paths"
grep -rn 'build/' "$D/usr/share/n3x-launch/examples" | grep -v '^[^:]*:[0-9]*: *#' >"$TMP/build-refs" || true
[ ! -s "$TMP/build-refs" ] || fail "an installed example still refers to build/: $(cat "$TMP/build-refs")"

# The installed demo builder and example, at their real paths.
in_root "$TMP/root" "$D" /bin/sh -c '
	set -e
	n3x-demo --images-only --cache "$1" >&2
	N3X_PROBE_ARCH=x86_64 N3X_PROBE_KVM=absent N3X_PROBE_OVS_DATAPATH=netdev \
		n3x-launch --check /usr/share/n3x-launch/examples/n3x-cluster.conf' \
	in-root "$SRC/build/cache" >"$TMP/plan" 2>"$TMP/root.log" ||
	fail "the installed demo builder or --check failed: $(tail -n 5 "$TMP/root.log")"
for a in x86_64 aarch64; do
	for f in vmlinuz initrd.img; do
		grep -q -- "/var/lib/n3x-demo/images/$a/$f" "$TMP/plan" ||
			fail "the plan does not boot /var/lib/n3x-demo/images/$a/$f: $(head -n 20 "$TMP/plan")"
		[ -s "$TMP/root/upper/var/lib/n3x-demo/images/$a/$f" ] || fail "n3x-demo built no $a/$f"
	done
done
note "installed n3x-demo built the images; installed n3x-launch --check of the installed example: $(grep -c qemu-system "$TMP/plan") QEMU argvs"

make -s -C "$SRC" uninstall DESTDIR="$D" PREFIX=/usr >"$TMP/uninstall.log" 2>&1 ||
	fail "make uninstall: $(tail -n 3 "$TMP/uninstall.log")"
(cd "$D" && find . ! -type d) >"$TMP/left"
[ ! -s "$TMP/left" ] || fail "make uninstall left: $(cat "$TMP/left")"
note "make uninstall removed every file"

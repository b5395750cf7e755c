# n3x-launch@.service as installed (`make install PREFIX=/usr` laid over a
# throwaway copy of the root, with an instance file /etc/n3x/lab.conf)
# passes `systemd-analyze verify n3x-launch@lab.service` without a word:
# its directives parse, ExecStart's and ExecStop's programs exist where the
# unit names them, and its Documentation= manual pages are installed.  Two
# broken copies must not pass: a misspelt Type= (a warning naming the line)
# and a root without /usr/sbin/n3x-launch (an error, exit 1).  PID 1 here is
# not systemd, so the unit is never started (t_notify covers sd_notify).
# About 3 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/throwaway_root.sh"
need_root "mount namespaces, overlayfs and chroot"
need_cmd systemd-analyze unshare chroot man

D=$TMP/dest
make -s -C "$SRC" install DESTDIR="$D" PREFIX=/usr >"$TMP/install.log" 2>&1 ||
	fail "make install: $(tail -n 3 "$TMP/install.log")"
unit=$D/usr/lib/systemd/system/n3x-launch@.service
[ -f "$unit" ] || fail "make install put no $unit"
mkdir -p "$D/etc/n3x"
cp "$D/usr/share/n3x-launch/examples/n3x-cluster.conf" "$D/etc/n3x/lab.conf"

# verify ROOTDIR SCRIPT: run SCRIPT (sh) in a throwaway root with the
# installation laid over it; its output in $TMP/verify.out.
verify() {
	local rc=0
	in_root "$TMP/$1" "$D" /bin/sh -c "$2" >"$TMP/verify.out" 2>&1 || rc=$?
	return "$rc"
}

verify good 'systemd-analyze verify n3x-launch@lab.service' ||
	fail "verify of the installed unit failed: $(cat "$TMP/verify.out")"
[ ! -s "$TMP/verify.out" ] || fail "verify of the installed unit complained: $(cat "$TMP/verify.out")"
note "systemd-analyze verify n3x-launch@lab.service: clean"

# A misspelt directive is only a warning to systemd: judged by the output.
verify typo 'sed s/^Type=notify$/Type=notfy/ /usr/lib/systemd/system/n3x-launch@.service \
		>/etc/systemd/system/n3x-launch@.service &&
	systemd-analyze verify n3x-launch@lab.service' || true
grep -q 'n3x-launch@.service:[0-9]*: Failed to parse service type.*notfy' "$TMP/verify.out" ||
	fail "a misspelt Type= passed verify: $(cat "$TMP/verify.out")"
note "Type=notfy: $(head -n 1 "$TMP/verify.out")"

rc=0
verify nobin 'rm /usr/sbin/n3x-launch && systemd-analyze verify n3x-launch@lab.service' || rc=$?
[ "$rc" -ne 0 ] || fail "verify passed with no /usr/sbin/n3x-launch"
grep -q 'Command /usr/sbin/n3x-launch is not executable' "$TMP/verify.out" ||
	fail "no /usr/sbin/n3x-launch: unexpected output: $(cat "$TMP/verify.out")"
note "without /usr/sbin/n3x-launch: exit $rc, $(head -n 1 "$TMP/verify.out")"

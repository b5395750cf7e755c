# As root, $RUN and $STATE must be directories no other user can change.
# An XDG_RUNTIME_DIR / XDG_STATE_HOME that is a symbolic link, is owned by
# another user (sudo -E with a user's /run/user/UID) or lies in a directory
# others can write is refused with one line, exit 2, nothing started and
# nothing written through it; n3x-ctl refuses it the same way.  A trusted
# one gives 0700 directories, and a link planted where launcher.pid goes is
# not followed.
. "$(dirname "$0")/lib.sh"

need_root "chown to another uid, and the checks are root's"
need_cmd qemu-system-x86_64

conf=$(write_conf paths "[fabric]
name = it-paths
$(vm_block p1 x86_64 'autostart = no')")
CONF=$conf

# refused VAR VALUE WHY: n3x-launch and n3x-ctl say one line naming VAR and
# WHY, exit 2, and leave nothing behind.
refused() {
	local var=$1 val=$2 why=$3 rc=0 out
	out=$(env "$var=$val" "$BIN/n3x-launch" "$conf" 2>&1 >/dev/null) || rc=$?
	expect_eq "$rc" 2 "n3x-launch with $var=$val: exit code"
	expect_eq "$(printf '%s\n' "$out" | wc -l)" 1 "n3x-launch with $var=$val: one line ($out)"
	echo "$out" | contains "^n3x-launch: $var=$val: .*$why" || fail "n3x-launch with $var=$val: $out"
	echo "$out" | contains 'uses only directories no other user can change' || fail "no way out in: $out"
	note "$out"
	rc=0
	out=$(env "$var=$val" "$BIN/n3x-ctl" -f "$conf" status 2>&1 >/dev/null) || rc=$?
	expect_eq "$rc" 2 "n3x-ctl with $var=$val: exit code"
	echo "$out" | contains "^n3x-ctl: $var=$val: .*$why" || fail "n3x-ctl with $var=$val: $out"
}

# 1. A user's runtime dir, as sudo -E passes it, with the attack of the
# issue inside: launcher.pid a link to a file root would truncate.
user=$TMP/run-user-1000
mkdir -p "$user/n3x/it-paths"
echo precious >"$TMP/victim"
ln -s "$TMP/victim" "$user/n3x/it-paths/launcher.pid"
chown -R -h 1000:1000 "$user"
refused XDG_RUNTIME_DIR "$user" "$user is owned by uid 1000, not root"
expect_eq "$(cat "$TMP/victim")" precious "the victim file"

# 2. A symbolic link as the state dir (or on the way to it).
mkdir -m 0700 "$TMP/real"
ln -s "$TMP/real" "$TMP/link"
refused XDG_STATE_HOME "$TMP/link" "$TMP/link is a symbolic link"
refused XDG_STATE_HOME "$TMP/link/state" "$TMP/link is a symbolic link"
[ -z "$(ls -A "$TMP/real")" ] || fail "something was created through the link: $(ls -A "$TMP/real")"

# 3. A directory others can write (not sticky): anyone could swap what is in it.
mkdir -m 0777 "$TMP/open"
chmod 0777 "$TMP/open"
refused XDG_RUNTIME_DIR "$TMP/open/run" "$TMP/open is writable by others (mode 0777)"
[ ! -e "$TMP/open/run" ] || fail "created a dir under a world-writable one"

# 4. Trusted (lib.sh's: root's, in sticky /tmp): it runs, with 0700 dirs.
start_launcher "$conf"
RUN=$XDG_RUNTIME_DIR/n3x/it-paths
STATE=$XDG_STATE_HOME/n3x/it-paths
for d in "$XDG_RUNTIME_DIR/n3x" "$RUN" "$XDG_STATE_HOME/n3x" "$STATE"; do
	expect_eq "$(stat -c '%U %a %F' "$d")" "root 700 directory" "$d"
done
expect_eq "$(stat -c '%F' "$RUN/launcher.pid")" "regular file" "launcher.pid"
expect_eq "$(cat "$RUN/launcher.pid")" "$LPID" "launcher.pid"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "the supervisor did not exit"
LPID=

# 5. A looser $STATE of our own is tightened back to 0700.
chmod 0755 "$STATE"
start_launcher "$conf"
expect_eq "$(stat -c '%a' "$STATE")" 700 "\$STATE after a start"
ctl shutdown >/dev/null || fail "shutdown"
wait_gone "$LPID" 30 || fail "the supervisor did not exit"
LPID=

# 6. Even in a trusted run dir, launcher.pid is opened O_NOFOLLOW: a link
# planted there fails the start instead of truncating its target.
mkdir -p -m 0700 "$RUN"
ln -s "$TMP/victim" "$RUN/launcher.pid"
rc=0
"$BIN/n3x-launch" "$conf" 2>"$TMP/err" >/dev/null || rc=$?
expect_eq "$rc" 1 "start with a planted launcher.pid: exit code"
contains 'launcher.pid: Too many levels of symbolic links' <"$TMP/err" || fail "planted launcher.pid: $(cat "$TMP/err")"
expect_eq "$(cat "$TMP/victim")" precious "the victim file after the planted link"
rm -f "$RUN/launcher.pid"

# Bash completion as bash itself runs it: completion/n3x-ctl and
# completion/n3x-launch sourced after bash-completion in a non-interactive
# bash, COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT set as readline sets
# them, the function called, COMPREPLY compared exactly.  n3x-ctl's verbs
# against `n3x-ctl help`; tc's subcommands and profiles; console's VMs from
# a running supervisor (started with --only, so its VMs are not the file's)
# and then, with none running, from -f FILE; n3x-launch --profile from the
# file on the line.  Takes ~10 s (one VM boots only as far as we stop it).
. "$(dirname "$0")/lib.sh"

need_root "network namespaces"
need_cmd qemu-system-x86_64
BC=/usr/share/bash-completion/bash_completion
[ -r "$BC" ] || skip "bash-completion is not installed (scripts/deps.sh)"

name=it-compl
conf=$(write_conf compl "[fabric]
name = $name
[network lan]
switch = linux-bridge
bridge = n3xcp0
host-interface = n3xcp0
address = 192.168.111.1/24
$(vm_block c1 x86_64 'nic = lan' 'nic = lan')
$(vm_block c2 x86_64 'autostart = no' 'nic = lan')
$(vm_block c3 x86_64 'nic = lan')
[profile lossy]
* = loss 5%
[profile slow]
c1 = delay 50ms
[schedule flap]
+1s = link c1 down")

# offered LINE [CURSOR]: the words bash would offer at the end of LINE, one
# a line, sorted.  LINE is split into COMP_WORDS as readline splits it
# (these lines have no quotes, '=' or ':'); a trailing space starts a new
# word.  The function is whatever `complete -p` says, as bash would find it.
offered() {
	PATH=$BIN:$PATH bash -c '
. "$1"; . "$2/completion/n3x-ctl"; . "$2/completion/n3x-launch"
line=$3
read -ra COMP_WORDS <<<"$line"
[[ $line == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) COMP_LINE=$line COMP_POINT=${#line}
spec=$(complete -p "${COMP_WORDS[0]##*/}") || exit 3
fn=${spec##*-F }; fn=${fn%% *}
COMPREPLY=()
"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
printf "%s\n" "${COMPREPLY[@]}"' bash "$BC" "$SRC" "$1" | sort
}

# expect_offered LINE WANT...: exactly WANT (any order) for LINE.
expect_offered() {
	local line=$1 got want
	shift
	got=$(offered "$line") || fail "completing '$line' failed"
	want=$(printf '%s\n' "$@" | sort)
	[ "$got" = "$want" ] || fail "'$line<TAB>' offers [${got//$'\n'/ }], want [${want//$'\n'/ }]"
	note "'$line<TAB>': ${got//$'\n'/ }"
}

# Nothing running yet: from the file, silently.
help=$("$BIN/n3x-ctl" help) || fail "n3x-ctl help"
mapfile -t verbs < <(awk '/^  [a-z]/ { print $1 }' <<<"$help")
[ "${#verbs[@]}" -gt 20 ] || fail "n3x-ctl help lists only: ${verbs[*]}"
expect_offered "n3x-ctl " "${verbs[@]}"
expect_offered "n3x-ctl __" # hidden: not offered
expect_offered "n3x-ctl -f $conf tc " default lossy slow status set clear verify
expect_offered "n3x-ctl -f $conf console " c1 c2 c3
expect_offered "n3x-ctl -f $conf link c1" c1 c1/0 c1/1
expect_offered "n3x-ctl -f $conf schedule run " flap
expect_offered "n3x-ctl console " # no fabric to ask
expect_offered "n3x-launch $conf --profile " default lossy slow
expect_offered "n3x-launch $conf --only c1,c" c1,c1 c1,c2 c1,c3
# Completion never writes on the user's line, whatever fails.
rc=0
out=$("$BIN/n3x-ctl" -f "$TMP/missing.conf" __complete vms 2>"$TMP/err") || rc=$?
{ [ "$rc" = 0 ] && [ -z "$out" ] && [ ! -s "$TMP/err" ]; } || fail "__complete on a missing file: rc $rc, '$out', $(cat "$TMP/err")"

# The running supervisor's VMs: c1 and c2 (c3 is not in --only).
start_launcher "$conf" --only c1,c2
expect_offered "n3x-ctl console " c1 c2
expect_offered "n3x-ctl -n $name console c" c1 c2
expect_offered "n3x-ctl --run-dir $XDG_RUNTIME_DIR/n3x/$name console " c1 c2
expect_offered "n3x-ctl -f $conf console " c1 c2
expect_offered "n3x-ctl link " c1 c1/0 c1/1 c2 c2/0
expect_offered "n3x-ctl tc " default lossy slow status set clear verify
expect_offered "n3x-ctl schedule run " flap

ctl kill c1 >/dev/null || fail "kill c1"
ctl shutdown || fail "shutdown"
wait_gone "$LPID" 30 || fail "the supervisor did not exit"
# No supervisor any more: the file's VMs again.
expect_offered "n3x-ctl -f $conf console " c1 c2 c3
expect_offered "n3x-ctl console "

# Bad fabric input: one clear error each, exit 2, nothing created.
. "$(dirname "$0")/lib.sh"
need_root "network namespaces"

bad() { # bad NAME BODY REGEX
	local conf rc
	conf=$(write_conf "$1" "$2")
	set +e
	"$BIN/n3x-launch" "$conf" 2>"$TMP/err"
	rc=$?
	set -e
	expect_eq "$rc" 2 "$1: exit code"
	grep -qE "^$conf:[0-9]+: .*$3" "$TMP/err" || { cat "$TMP/err"; fail "$1: no file:line error matching '$3'"; }
	[ ! -e "$XDG_RUNTIME_DIR/n3x/it-bad" ] || fail "$1: runtime dir created"
	! ip netns list | contains -w n3x-it-bad || fail "$1: namespace created"
}
net='[fabric]
name = it-bad
[network lan]
switch = linux-bridge
bridge = n3xbad0
address = 192.168.100.1/24'
bad same-mac "$net
$(vm_block m1 x86_64 'nic = lan mac=52:54:00:00:00:01')
$(vm_block m2 x86_64 'nic = lan mac=52:54:00:00:00:01')" 'MAC .* already used'
bad ip-outside "$net
$(vm_block m1 x86_64 'nic = lan ip=192.168.200.5')" '192.168.200.5'
bad vlan-range "$net
$(vm_block m1 x86_64 'nic = lan vlan=4095')" 'bad VLAN "4095"'

# netns = host and a bridge that exists and is not ours: made inside a
# namespace of this test's own, where n3x-launch --check runs too.
EXTRA_NETNS="n3x-test-$$"
ip netns add "n3x-test-$$"
ip netns exec "n3x-test-$$" ip link add n3xbad0 type bridge
conf=$(write_conf host-bridge "$(printf '%s\n' "$net" | sed 's/^name = it-bad/name = it-bad\nnetns = host/')
$(vm_block m1 x86_64 'nic = lan')")
set +e
ip netns exec "n3x-test-$$" "$BIN/n3x-launch" "$conf" 2>"$TMP/err"
rc=$?
set -e
expect_eq "$rc" 2 "existing bridge: exit code"
grep -qE "^$conf:[0-9]+: .*n3xbad0 exists and is not" "$TMP/err" || { cat "$TMP/err"; fail "existing bridge: message"; }
ip netns exec "n3x-test-$$" ip link show n3xbad0 >/dev/null || fail "the foreign bridge was touched"

# Shared by the integration tests: a private runtime/state dir per test, the
# built binaries, and cleanup that runs however the test ends.
# Each test is a bash script that sources this file; it fails on the first
# failed check (set -e and `fail`).

set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${N3X_BIN:-$SRC/build}
IMG=$SRC/build/images
TMP=$(mktemp -d /tmp/n3x-it.XXXXXX)
export XDG_RUNTIME_DIR=$TMP/run XDG_STATE_HOME=$TMP/state
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_STATE_HOME"
LPID=

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$TMP/launcher.log" ]; then
		echo "--- launcher log (last 30 lines)" >&2
		tail -n 30 "$TMP/launcher.log" >&2
	fi
	exit 1
}

note() { echo "  $*"; }

# The supervisor takes its QEMUs with it (they get SIGTERM when it dies), so
# ending it by its PID ends everything this test started.
cleanup() {
	if [ -n "$LPID" ] && kill -0 "$LPID" 2>/dev/null; then
		kill -TERM "$LPID" 2>/dev/null || true
		for _ in $(seq 1 300); do kill -0 "$LPID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$LPID" 2>/dev/null || true
	fi
	for p in ${EXTRA_PIDS:-}; do kill "$p" 2>/dev/null || true; done
	local rc=0
	if grep -qE 'ERROR: (Leak|Address)Sanitizer|runtime error:' "$TMP"/*.log 2>/dev/null; then
		echo "FAIL: sanitizer report from n3x-launch:" >&2
		grep -hA30 -E 'ERROR: (Leak|Address)Sanitizer|runtime error:' "$TMP"/*.log >&2
		rc=1
	fi
	rm -rf "$TMP"
	[ "$rc" -eq 0 ] || exit "$rc"
}
trap cleanup EXIT

# write_conf NAME BODY: a topology in $TMP with the demo images' paths.
write_conf() {
	local f=$TMP/$1.conf
	printf '%s\n' "$2" | sed "s|@IMG@|$IMG|g" > "$f"
	echo "$f"
}

# vm_block NAME ARCH [EXTRA KEY LINES]: a demo VM section.
vm_block() {
	local name=$1 arch=$2 con=ttyS0
	shift 2
	[ "$arch" = aarch64 ] && con=ttyAMA0
	printf '[vm %s]\narch = %s\nmemory = 256M\nvcpus = 1\nkernel = @IMG@/%s/vmlinuz\ninitrd = @IMG@/%s/initrd.img\nappend = console=%s\nstop-timeout = 20\n' \
		"$name" "$arch" "$arch" "$arch" "$con"
	for l in "$@"; do printf '%s\n' "$l"; done
}

start_launcher() {
	CONF=$1
	shift
	"$BIN/n3x-launch" "$@" "$CONF" 2>"$TMP/launcher.log" &
	LPID=$!
	for _ in $(seq 1 100); do
		ctl status >/dev/null 2>&1 && return 0
		kill -0 "$LPID" 2>/dev/null || fail "n3x-launch exited at start"
		sleep 0.1
	done
	fail "n3x-launch did not answer on its control socket"
}

ctl() { "$BIN/n3x-ctl" -f "$CONF" "$@"; }

# status_field VM KEY: one field of a VM from `status --json`.
status_field() {
	ctl status --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
vm = [v for v in d["vms"] if v["name"] == sys.argv[1]][0]
v = vm[sys.argv[2]]
print("" if v is None else v)' "$1" "$2"
}

expect_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

# wait_gone PID SECONDS
wait_gone() {
	for _ in $(seq 1 $(($2 * 10))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}

# ---- driving a guest over its serial console, as a person would ----
# (RUN must be the fabric's runtime dir.)

type_in() { printf '%s\r' "$2" | socat -t 0.3 - "unix-connect:$RUN/vm/$1/console.sock" >/dev/null; }

guest_login() {
	ctl wait "$1" --console 'login: *$' --timeout 90 >/dev/null || fail "$1: no login prompt"
	type_in "$1" root
	ctl wait "$1" --console 'Password: *$' --timeout 20 >/dev/null || fail "$1: no password prompt"
	type_in "$1" test
	ctl wait "$1" --console "root@$1:~# " --timeout 20 >/dev/null || fail "$1: root/test did not log in"
}

# guest_run VM CMD [TIMEOUT]: run CMD in the logged-in shell, print its exit
# code.  Called as $(guest_run ...), so the marker cannot come from a counter
# (a subshell's increments are lost): a random one per call.
guest_run() {
	local tag=$RANDOM$RANDOM line
	type_in "$1" "$2; echo @@$tag=\$?"
	line=$(ctl wait "$1" --console "^@@$tag=[0-9]+" --timeout "${3:-30}") || fail "$1: '$2' did not finish"
	echo "${line#*=}"
}

# nothing_left NAME: no namespace, link, process or runtime file of fabric NAME.
nothing_left() {
	! ip netns list | contains -w "n3x-$1" || fail "namespace n3x-$1 left behind"
	[ ! -e "$XDG_RUNTIME_DIR/n3x/$1" ] || { find "$XDG_RUNTIME_DIR/n3x/$1"; fail "runtime dir left behind"; }
	! pgrep -f -- "$XDG_RUNTIME_DIR/n3x/$1/" >/dev/null || { pgrep -af -- "$XDG_RUNTIME_DIR/n3x/$1/"; fail "processes of $1 left"; }
}

# PRODUCER | contains [GREP-OPTIONS] PATTERN: reads all of its input first, so
# the producer never dies of SIGPIPE under pipefail the way `| grep -q` can.
contains() {
	local all
	all=$(cat)
	grep -q "$@" <<<"$all"
}

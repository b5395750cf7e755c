# Shared by the integration tests: a private runtime/state dir per test, the
# built binaries, and cleanup that runs however the test ends.
# Each test is a bash script that sources this file; it fails on the first
# failed check (set -e and `fail`).  A test that cannot make its real check
# on this host says why and exits 77 (`skip`, `need_root`, `need_cmd`);
# run.sh counts it as skipped.
#
# A check must be able to fail: take a helper's output as
# `v=$(helper ...) || fail ...` (a $(...) inside a test's arguments, as in
# [ "$(helper)" = x ], loses the helper's exit status), and never hide a
# status behind `|| true`, `!` or a pipe.

set -euo pipefail
shopt -s inherit_errexit

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${N3X_BIN:-$SRC/build}
IMG=$SRC/build/images
TMP=$(mktemp -d /tmp/n3x-it.XXXXXX)
# QEMU runs as n3x-qemu: it opens the kernels and bases a test puts here.
chmod 0755 "$TMP"
export XDG_RUNTIME_DIR=$TMP/run XDG_STATE_HOME=$TMP/state
mkdir -p "$XDG_RUNTIME_DIR" "$XDG_STATE_HOME"
LPID=

LOG_SHOWN=
show_log() {
	if [ -z "$LOG_SHOWN" ] && [ -f "$TMP/launcher.log" ]; then
		LOG_SHOWN=1
		echo "--- launcher log (last 30 lines)" >&2
		tail -n 30 "$TMP/launcher.log" >&2
	fi
}

fail() {
	echo "FAIL: $*" >&2
	show_log
	exit 1
}

note() { echo "  $*"; }

# skip REASON: this host cannot run the test's real check.  run.sh shows
# REASON, the last line printed.
SKIPPING=
skip() {
	SKIPPING=1
	echo "$*"
	exit 77
}

need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root ($*)"; }

# need_cmd CMD...: skip unless each is installed.
need_cmd() {
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "$c is not installed (scripts/deps.sh)"
	done
}

# SIGTERM to the supervisor stops its QEMUs, dnsmasq and OVS (without
# --detach-vms), so ending it by its PID ends everything this test started;
# they outlive a SIGKILL, to be adopted, so a test that kills the supervisor
# that way ends them itself if it fails before a relaunch.  A test with more
# to undo defines test_cleanup (run first), or lists EXTRA_PIDS and
# EXTRA_NETNS; it never sets a trap of its own, which would hide the test's
# exit status from this one.
cleanup() {
	local st=$? rc=0
	if [ "$(type -t test_cleanup)" = function ]; then
		test_cleanup || true
	fi
	# A check that failed through set -e (a `ctl wait` that timed out)
	# says why in the supervisor's log, as fail does.
	[ "$st" -eq 0 ] || [ "$st" -eq 77 ] || show_log
	if [ -n "$LPID" ] && kill -0 "$LPID" 2>/dev/null; then
		kill -TERM "$LPID" 2>/dev/null || true
		for _ in $(seq 1 300); do kill -0 "$LPID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$LPID" 2>/dev/null || true
	fi
	for p in ${EXTRA_PIDS:-}; do kill "$p" 2>/dev/null || true; done
	for n in ${EXTRA_NETNS:-}; do ip netns del "$n" 2>/dev/null || true; done
	if grep -qE 'ERROR: (Leak|Address)Sanitizer|runtime error:' "$TMP"/*.log 2>/dev/null; then
		echo "FAIL: sanitizer report from n3x-launch:" >&2
		grep -hA30 -E 'ERROR: (Leak|Address)Sanitizer|runtime error:' "$TMP"/*.log >&2
		rc=1
	fi
	rm -rf "$TMP"
	[ "$rc" -eq 0 ] || exit "$rc"
	# 77 means "skipped" to run.sh: only skip() may say it.
	if [ "$st" -eq 77 ] && [ -z "$SKIPPING" ]; then
		echo "FAIL: exit status 77 without skip" >&2
		exit 1
	fi
	exit "$st"
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

# status_field VM KEY: one field of a VM from `status --json` ("" for
# null); fails when n3x-ctl does or the VM or key is missing.  Use it as
# v=$(status_field ...) || fail ..., or through expect_field.
status_field() {
	local json
	json=$(ctl status --json) || { echo "n3x-ctl status --json failed" >&2; return 1; }
	python3 -c '
import json, sys
d = json.loads(sys.argv[3])
vm = [v for v in d["vms"] if v["name"] == sys.argv[1]]
if not vm or sys.argv[2] not in vm[0]:
    sys.exit("status --json has no %s.%s" % (sys.argv[1], sys.argv[2]))
v = vm[0][sys.argv[2]]
print("" if v is None else v)' "$1" "$2" "$json"
}

# expect_field VM KEY WANT: status --json says VM's KEY is WANT.
expect_field() {
	local got
	got=$(status_field "$1" "$2") || fail "$1: no $2 in status --json"
	expect_eq "$got" "$3" "$1 $2"
}

# live_pid VM: the pid of VM's QEMU from status --json, checked alive.
live_pid() {
	local pid
	pid=$(status_field "$1" pid) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || { echo "$1: no live QEMU (pid '$pid')" >&2; return 1; }
	echo "$pid"
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

# guest_login VM [TYPE]: log in as root/test; TYPE VM LINE types one line
# (type_in by default: a console client, as a person would).
guest_login() {
	local type=${2:-type_in}
	ctl wait "$1" --console 'login: *$' --timeout 90 >/dev/null || fail "$1: no login prompt"
	"$type" "$1" root
	ctl wait "$1" --console 'Password: *$' --timeout 20 >/dev/null || fail "$1: no password prompt"
	"$type" "$1" test
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

# netns_exists NAME: 0 when `ip netns list` shows NAME (the whole name:
# n3x-it is not n3x-it-tc), 1 when not; fails the test when ip itself fails.
netns_exists() {
	local all
	all=$(ip netns list) || fail "ip netns list failed"
	awk -v n="$1" '$1 == n { found = 1 } END { exit !found }' <<<"$all"
}

# procs_of DIR: print the processes whose command line names DIR/; fails
# the test when pgrep itself fails (status 2 or more).
procs_of() {
	local rc=0
	pgrep -af -- "$1/" || rc=$?
	[ "$rc" -le 1 ] || fail "pgrep failed ($rc)"
}

# nothing_left NAME: no namespace, process or runtime file of fabric NAME.
nothing_left() {
	local left
	! netns_exists "n3x-$1" || fail "namespace n3x-$1 left behind"
	[ ! -e "$XDG_RUNTIME_DIR/n3x/$1" ] || { find "$XDG_RUNTIME_DIR/n3x/$1"; fail "runtime dir left behind"; }
	# QEMU gets its sockets as fds: its command line names $STATE, not $RUN.
	left=$(procs_of "$XDG_RUNTIME_DIR/n3x/$1"; procs_of "$XDG_STATE_HOME/n3x/$1")
	[ -z "$left" ] || { echo "$left"; fail "processes of $1 left"; }
}

# PRODUCER | contains [GREP-OPTIONS] PATTERN: reads all of its input first, so
# the producer never dies of SIGPIPE under pipefail the way `| grep -q` can.
contains() {
	local all
	all=$(cat)
	grep -q "$@" <<<"$all"
}

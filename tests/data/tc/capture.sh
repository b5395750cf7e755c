#!/bin/sh
# capture.sh - regenerate the golden netlink requests in this directory.
#
# For each line of ./cases it runs iproute2's tc in a throwaway network
# namespace (unshare -n: its own loopback, nothing else) under strace, and
# keeps the bytes of the RTM_NEWQDISC request tc sends as NAME.hex: 16 bytes
# a line, as strace dumps them.  A kernel without netem refuses the netem
# requests ("Specified qdisc kind is unknown"), but strace has recorded them
# by then, which is all we want.  tests/test_tcencode.c masks the sequence
# number and the ifindex, the only bytes that change from run to run.
#
# Needs root (unshare -n), strace and tc.  Run it after changing ./cases or
# to check a new iproute2:   sh tests/data/tc/capture.sh
set -eu
cd "$(dirname "$0")"
TC=${TC:-/usr/sbin/tc}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
version=$("$TC" -V | sed -n 's/.*iproute2-\([^ ,]*\).*/\1/p')

grep -v '^#' cases | grep -v '^[[:space:]]*$' | while IFS='|' read -r name kind rule args; do
	name=$(echo "$name" | tr -d '[:space:]')
	args=$(echo "$args" | sed 's/^ *//; s/ *$//')
	# shellcheck disable=SC2086 # args are words for tc
	unshare -n strace -f -e trace=sendmsg -e write=all -xx -s 65536 \
		"$TC" qdisc replace dev lo $args 2>"$tmp" >/dev/null || true
	{
		echo "# tc qdisc replace dev lo $args   (iproute2 $version)"
		# The dump lines of the sendmsg that carries RTM_NEWQDISC.
		awk '
			/sendmsg\(/ { keep = index($0, "RTM_NEWQDISC") > 0; next }
			keep && match($0, /\| [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]  /) {
				hex = substr($0, RSTART + RLENGTH, 48)
				gsub(/  +/, " ", hex); sub(/^ /, "", hex); sub(/ $/, "", hex)
				print hex
			}' "$tmp"
	} >"$name.hex"
	if [ "$(grep -vc '^#' "$name.hex")" -eq 0 ]; then
		echo "capture.sh: $name: tc sent no RTM_NEWQDISC:" >&2
		cat "$tmp" >&2
		exit 1
	fi
	echo "$name: $(grep -v '^#' "$name.hex" | wc -w) bytes"
done

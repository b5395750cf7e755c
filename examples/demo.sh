#!/bin/sh
# `make demo`: start the example cluster in the background, return once every
# guest is ready, and show where things are.
set -eu
cd "$(dirname "$0")/.."
conf=examples/n3x-cluster.conf
ctl="build/n3x-ctl -f $conf"

if $ctl status >/dev/null 2>&1; then
	echo "The demo cluster is already running:"
else
	# Returns once every VM's `ready =` holds, printing each as it does.
	build/n3x-launch --wait-ready=600 "$conf"
fi
$ctl status
cat <<EOT

Every VM is booted (login root / test).  Try:
  build/n3x-ctl console n100-1          # Ctrl-] detaches
  build/n3x-ctl qmp jetson-1 '{"execute":"query-status"}'
  build/n3x-ctl stop n100-3 ; build/n3x-ctl start n100-3
  build/n3x-ctl shell                   # in the fabric: ping n100-2.local, ovs-vsctl ...
  build/n3x-ctl graph
  build/n3x-ctl shutdown                # stops every VM and the supervisor
EOT

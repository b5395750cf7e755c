# Switch fabric on a Linux bridge.
SWITCH=linux-bridge
. "$(dirname "$0")/fabric_dhcp.sh"

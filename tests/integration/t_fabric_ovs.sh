# Switch fabric on Open vSwitch (private instance, userspace datapath).
SWITCH=ovs
. "$(dirname "$0")/fabric_dhcp.sh"

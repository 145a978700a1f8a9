#!/usr/bin/env bash
# The replication test network: a Linux bridge and one veth pair per node. The bridge end of
# each pair (spn<i>br) is on the bridge; the node end (spn<i>) lives in the network namespace
# spn-<i>, where a DPDK process opens it with net_af_packet. The node ends carry no address,
# so the namespaces' kernels neither answer for nor route the nodes' traffic: the DPDK
# processes own their addresses (10.99.0.<i>) and answer ARP themselves. IPv6 is off on every
# interface so that no stray router solicitations reach the nodes.
#
#   testnet.sh up [NODES] [--mtu BYTES]    build (idempotent; re-running fixes what is missing)
#   testnet.sh down                        remove everything this script made
#   testnet.sh loss PERCENT [PORTS]        drop PERCENT of the bridged UDP frames to PORTS
#                                          (default 17500-17599) with an nftables bridge rule
#   testnet.sh noloss                      remove the loss rule
#   testnet.sh status                      show the bridge, the pairs and the nft table
#   testnet.sh mac NODE                    print node NODE's MAC address
#   testnet.sh inject NAME                 add (or reuse) a namespace spn-NAME with a veth on
#                                          the bridge, for test programs that send raw frames
# Needs root (CI runs it as root). Names all start with "spn" so nothing else is touched.
set -euo pipefail

BRIDGE=spnbr0
NFT_TABLE=spindle_testnet
MTU=1500

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "testnet: needs root" >&2
		exit 1
	fi
}

v6_off() { # namespace-or-empty interface
	local ns=$1 ifc=$2
	local run=()
	[ -n "$ns" ] && run=(ip netns exec "$ns")
	"${run[@]}" sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1" 2>/dev/null || true
}

bridge_up() {
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge stp_state 0 forward_delay 0
	fi
	v6_off "" "$BRIDGE"
	ip link set "$BRIDGE" up
}

# pair NAME: namespace spn-NAME holding spnNAME, its peer spnNAMEbr on the bridge.
pair_up() {
	local name=$1 ns="spn-$1" node="spn$1" br="spn$1br"
	ip netns list | grep -qw "$ns" || ip netns add "$ns"
	if ! ip link show "$br" >/dev/null 2>&1; then
		ip netns exec "$ns" ip link del "$node" 2>/dev/null || true
		ip link add "$br" type veth peer name "$node"
		ip link set "$node" netns "$ns"
	fi
	v6_off "" "$br"
	v6_off "$ns" "$node"
	v6_off "$ns" lo
	ip link set "$br" master "$BRIDGE" mtu "$MTU" up
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" ip link set "$node" mtu "$MTU" up
}

cmd_up() {
	local nodes=3
	while [ $# -gt 0 ]; do
		case "$1" in
		--mtu) MTU=$2; shift 2 ;;
		*) nodes=$1; shift ;;
		esac
	done
	need_root
	bridge_up
	for i in $(seq 1 "$nodes"); do
		pair_up "$i"
	done
	# After the ports: a bridge's MTU cannot exceed its ports'.
	ip link set "$BRIDGE" mtu "$MTU"
	echo "testnet: $nodes nodes on $BRIDGE, mtu $MTU"
}

cmd_down() {
	need_root
	nft delete table bridge "$NFT_TABLE" 2>/dev/null || true
	for ns in $(ip netns list | awk '{print $1}' | grep '^spn-' || true); do
		ip netns del "$ns"
	done
	for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^spn' || true); do
		ip link del "$l" 2>/dev/null || true
	done
	echo "testnet: down"
}

cmd_loss() {
	local pct=$1 ports=${2:-17500-17599}
	need_root
	nft delete table bridge "$NFT_TABLE" 2>/dev/null || true
	nft add table bridge "$NFT_TABLE"
	nft add chain bridge "$NFT_TABLE" forward_chain \
		'{ type filter hook forward priority 0; policy accept; }'
	nft add rule bridge "$NFT_TABLE" forward_chain \
		udp dport "$ports" numgen random mod 100 '<' "$pct" counter drop
	echo "testnet: dropping $pct% of UDP frames to ports $ports"
}

cmd_noloss() {
	need_root
	nft delete table bridge "$NFT_TABLE" 2>/dev/null || true
}

cmd_status() {
	ip -br link show master "$BRIDGE" 2>/dev/null || echo "no bridge $BRIDGE"
	ip netns list | grep '^spn-' || true
	nft list table bridge "$NFT_TABLE" 2>/dev/null || echo "no loss rule"
}

cmd_mac() {
	ip netns exec "spn-$1" cat "/sys/class/net/spn$1/address"
}

case "${1:-}" in
up) shift; cmd_up "$@" ;;
down) cmd_down ;;
loss) shift; cmd_loss "$@" ;;
noloss) cmd_noloss ;;
status) cmd_status ;;
mac) cmd_mac "$2" ;;
inject) need_root; bridge_up; pair_up "$2" ;;
*) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac

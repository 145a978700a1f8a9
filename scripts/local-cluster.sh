#!/usr/bin/env bash
# A local spindle cluster on this machine, for trying spindle out and for the tests.
#
# Each node is one spindled process with its own data directory and config file. Clients
# connect on loopback (ports PORT, PORT+1, ...). Replication goes over:
#   dpdk  each node's replication port is a DPDK net_af_packet device on one end of a veth
#         pair (sPORTnI); the other ends (sPORTnIb) are joined by a Linux bridge (sPORTbr),
#         so several clusters on different ports can run side by side. The node ends stay in
#         this namespace with no address and IPv6 off, so the kernel leaves their traffic to
#         DPDK. Needs root. This is the default when run as root.
#   udp   kernel UDP on loopback addresses 127.<a>.<b>.<node> derived from PORT (so clusters
#         on different ports can run side by side), for machines without root or DPDK.
#
#   local-cluster.sh start [options] [PORT] DIR   start (options below); PORT defaults to 7001
#   local-cluster.sh stop DIR                     SIGTERM every node, wait, remove the network
#   local-cluster.sh status DIR                   nodes, pids, and each node's lanes
#   local-cluster.sh kill|term|pause|resume|restart NODE DIR
#                                                 kill -9 / SIGTERM / SIGSTOP / SIGCONT /
#                                                 restart one node (its data is kept)
#   local-cluster.sh link down|up NODE DIR        cut or restore a node's replication link
# start options: --nodes N (3) --transport dpdk|udp --lanes N (8) --loops N (1)
#   --binary PATH (build/spindled) --bootstrap-primary NODE (0: spread) --segment-bytes SIZE
#   --set "KEY VALUE" (any spindled key, repeatable)
#   --control-sockets (each node's control socket at DIR/nI.ctl, for a control daemon)
#   --control (a spindle-control beside each spindled, see below) --spares N (0)
#   --control-binary PATH (build/control/daemon/spindle-control)
#   --control-set "KEY VALUE" (any spindle-control key, repeatable)
#   --mgmt-port P (17600) --metrics-port P (17700): the control daemons' UDP and HTTP ports
#
# With --control, each node also runs spindle-control (cI.conf, cI.log, cI.pid, admin socket
# DIR/cI.sock, management network on 127.0.1.I:17600, metrics on 127.0.1.I:17700/metrics);
# spindled starts with `bootstrap control`, and start bootstraps the cluster with spindlectl
# and waits until every lane's primary acts. --spares N configures N more nodes (peers of
# every spindled, in no lane) for `add`.
#   local-cluster.sh ctl kill|term|pause|resume|restart NODE DIR
#                                                 the same, for NODE's control daemon only
#   local-cluster.sh add NODE DIR                 start spare NODE (both daemons) and add it
#                                                 to the cluster (spindlectl node add)
#   local-cluster.sh remove NODE DIR              remove NODE (spindlectl node remove), then
#                                                 stop its daemons
#   local-cluster.sh spindlectl NODE DIR ARGS...  spindlectl on NODE's control daemon
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "local-cluster: $*" >&2; exit 1; }

# Interface names: s<port>n<i> (node end), s<port>n<i>b (bridge end), s<port>br (bridge).
ifname() { echo "s$1n$2"; }
# UDP replication addresses: 127.<1 + port/256 % 200>.<port % 256>.<node>.
udpaddr() { echo "127.$((1 + $1 / 256 % 200)).$(($1 % 256)).$2"; }

net_up() { # nodes port
	local n=$1 port=$2 br="s${2}br"
	ip link show "$br" >/dev/null 2>&1 || ip link add "$br" type bridge stp_state 0 forward_delay 0
	sysctl -qw "net.ipv6.conf.$br.disable_ipv6=1" 2>/dev/null || true
	ip link set "$br" up
	for i in $(seq 1 "$n"); do
		local ifc
		ifc=$(ifname "$port" "$i")
		if ! ip link show "$ifc" >/dev/null 2>&1; then
			# DPDK 22.11's af_packet names its fanout group (pid ^ ifindex) & 0xffff, and the
			# groups are shared by the whole namespace: nodes started together have close
			# pids, so their interfaces get ifindexes far apart (a multiple of 4096).
			local base=$((4096 * i + 8 * (port % 500)))
			ip link add "$ifc" index $((base + 1)) type veth peer name "${ifc}b" \
				index $((base + 2)) 2>/dev/null ||
				ip link add "$ifc" type veth peer name "${ifc}b"
		fi
		for x in "$ifc" "${ifc}b"; do
			sysctl -qw "net.ipv6.conf.$x.disable_ipv6=1" 2>/dev/null || true
		done
		ip link set "${ifc}b" master "$br" up
		ip link set "$ifc" up
	done
	# af_packet joins a fanout group, which the kernel refuses on a link not yet running.
	for i in $(seq 1 "$n"); do
		for _ in $(seq 1 100); do
			[ "$(cat "/sys/class/net/$(ifname "$port" "$i")/operstate" 2>/dev/null)" = up ] && break
			sleep 0.05
		done
	done
}

net_down() { # nodes port
	local n=$1 port=$2
	for i in $(seq 1 "$n"); do
		ip link del "$(ifname "$port" "$i")" 2>/dev/null || true
	done
	ip link del "s${port}br" 2>/dev/null || true
}

node_conf() { # dir i nodes transport port lanes loops bootstrap segment ctl extra...
	local dir=$1 i=$2 n=$3 transport=$4 port=$5 lanes=$6 loops=$7 boot=$8 seg=$9 ctl=${10}
	shift 10
	local conf="$dir/n$i.conf"
	{
		echo "# node $i of a local $n-node cluster (scripts/local-cluster.sh)"
		echo "node-id $i"
		echo "port $((port + i - 1))"
		echo "lanes $lanes"
		echo "loops $loops"
		echo "data-dir $dir/n$i"
		echo "segment-bytes $seg"
		echo "bootstrap-primary $boot"
		echo "transport $transport"
		echo "repl-udp-port 17500"
		[ "$ctl" = yes ] && echo "control-socket $dir/n$i.ctl"
		if [ -f "$dir/control" ]; then echo "bootstrap control"; fi
		if [ "$transport" = dpdk ]; then
			echo "repl-ip 10.98.0.$i"
			# spindled builds the EAL arguments from nic (and floats the loops over every
			# CPU); plain memory keeps test clusters off the host's hugepages.
			echo "nic net_af_packet0,iface=$(ifname "$port" "$i"),framecnt=4096"
			echo "eal-args \"--file-prefix=spc-$port-$i --no-huge -m 256\""
		else
			echo "repl-ip $(udpaddr "$port" "$i")"
			echo "mtu 9000"
		fi
		for j in $(seq 1 "$n"); do
			[ "$j" = "$i" ] && continue
			if [ "$transport" = dpdk ]; then
				echo "peer $j 10.98.0.$j $(cat "/sys/class/net/$(ifname "$port" "$j")/address") 127.0.0.1:$((port + j - 1))"
			else
				echo "peer $j $(udpaddr "$port" "$j") 127.0.0.1:$((port + j - 1))"
			fi
		done
		for kv in "$@"; do
			echo "$kv"
		done
	} > "$conf"
}

node_start() { # dir i
	local dir=$1 i=$2 bin
	bin=$(cat "$dir/binary")
	"$bin" --config "$dir/n$i.conf" >> "$dir/n$i.log" 2>&1 &
	echo $! > "$dir/n$i.pid"
}

node_wait() { # dir i [tries]: waits for PING; restarts a node whose af_packet fanout collided
	local dir=$1 i=$2 tries=${3:-3} port
	port=$(awk '$1=="port"{print $2}' "$dir/n$i.conf")
	for _ in $(seq 1 300); do
		if redis-cli -p "$port" PING 2>/dev/null | grep -q PONG; then
			return 0
		fi
		if ! kill -0 "$(cat "$dir/n$i.pid")" 2>/dev/null; then
			if [ "$tries" -gt 1 ] && tail -20 "$dir/n$i.log" | grep -q "could not set PACKET_FANOUT"; then
				node_start "$dir" "$i"
				node_wait "$dir" "$i" $((tries - 1))
				return
			fi
			tail -20 "$dir/n$i.log" >&2
			die "node $i exited at start (log: $dir/n$i.log)"
		fi
		sleep 0.1
	done
	die "node $i did not answer within 30 s (log: $dir/n$i.log)"
}

# ---- The control plane ----

# The control daemons' ports (start --mgmt-port/--metrics-port; kept in DIR/ctlports).
CTL_MGMT_PORT=17600
CTL_METRICS_PORT=17700
ctl_ports_load() { # dir
	if [ -f "$1/ctlports" ]; then read -r CTL_MGMT_PORT CTL_METRICS_PORT < "$1/ctlports"; fi
}

repl_addr() { # transport i
	if [ "$1" = dpdk ]; then echo "10.98.0.$2"; else echo "127.0.1.$2"; fi
}

ctl_conf() { # dir i initial transport lease extra...
	local dir=$1 i=$2 initial=$3 transport=$4 lease=$5
	shift 5
	{
		echo "# control daemon of node $i (scripts/local-cluster.sh)"
		echo "node-id $i"
		echo "mgmt-addr 127.0.1.$i:$CTL_MGMT_PORT"
		echo "repl-addr $(repl_addr "$transport" "$i")"
		for j in $(seq 1 "$initial"); do
			echo "member $j 127.0.1.$j:$CTL_MGMT_PORT"
		done
		echo "data-dir $dir/c$i"
		echo "dataplane-socket $dir/n$i.ctl"
		echo "admin-socket $dir/c$i.sock"
		echo "metrics-addr 127.0.1.$i:$CTL_METRICS_PORT"
		echo "lease-wait-ms $lease"
		for kv in "$@"; do
			echo "$kv"
		done
	} > "$dir/c$i.conf"
}

ctl_bin() { cat "$1/control"; }
ctlctl() { # dir i args...: spindlectl on node i's control daemon
	local dir=$1 i=$2
	shift 2
	"$(dirname "$(ctl_bin "$dir")")/spindlectl" --socket "$dir/c$i.sock" "$@"
}

ctl_start() { # dir i
	local dir=$1 i=$2
	"$(ctl_bin "$dir")" --config "$dir/c$i.conf" >> "$dir/c$i.log" 2>&1 &
	echo $! > "$dir/c$i.pid"
}

ctl_wait() { # dir i: until its admin socket answers
	local dir=$1 i=$2
	for _ in $(seq 1 100); do
		ctlctl "$dir" "$i" status > /dev/null 2>&1 && return 0
		kill -0 "$(cat "$dir/c$i.pid")" 2>/dev/null || { tail -20 "$dir/c$i.log" >&2; die "control daemon $i exited (log: $dir/c$i.log)"; }
		sleep 0.1
	done
	die "control daemon $i did not answer within 10 s (log: $dir/c$i.log)"
}

ctl_any() { # dir: a node whose control daemon runs
	local dir=$1 total
	total=$(cat "$dir/total")
	for i in $(seq 1 "$total"); do
		kill -0 "$(cat "$dir/c$i.pid" 2>/dev/null || echo 0)" 2>/dev/null && ctlctl "$dir" "$i" status > /dev/null 2>&1 && { echo "$i"; return 0; }
	done
	die "no control daemon answers"
}

ctl_lanes_ok() { # dir i: every lane's primary acts, as the leader sees it
	ctlctl "$1" "$2" status --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if s["bootstrapped"] and s["view_age_ms"] is not None and all(l["state"] == "ok" for l in s["lanes"]) else 1)'
}

ctl_bootstrap() { # dir
	local dir=$1 rc
	for _ in $(seq 1 150); do
		rc=0
		ctlctl "$dir" 1 bootstrap --timeout 5 > /dev/null 2>&1 || rc=$?
		[ "$rc" = 0 ] || [ "$rc" = 5 ] && break
		sleep 0.2
	done
	[ "$rc" = 0 ] || [ "$rc" = 5 ] || die "bootstrap failed (spindlectl exit $rc; logs: $dir/c*.log)"
	for _ in $(seq 1 300); do
		ctl_lanes_ok "$dir" 1 && return 0
		sleep 0.1
	done
	ctlctl "$dir" 1 status >&2 || true
	die "the lanes' primaries did not start within 30 s"
}

cmd_ctl() { # action node dir
	local action=$1 i=$2 dir=$3 pid
	[ -f "$dir/control" ] || die "this cluster runs without a control plane"
	pid=$(cat "$dir/c$i.pid")
	case "$action" in
	kill) kill -9 "$pid" ;;
	term) kill -TERM "$pid" ;;
	pause) kill -STOP "$pid" ;;
	resume) kill -CONT "$pid" ;;
	restart)
		kill -9 "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
		ctl_start "$dir" "$i"
		ctl_wait "$dir" "$i" ;;
	*) die "ctl: unknown action $action" ;;
	esac
}

cmd_add() { # node dir
	local i=$1 dir=$2 transport via
	[ -f "$dir/control" ] || die "add needs a cluster started with --control"
	[ -f "$dir/n$i.conf" ] || die "node $i is not a configured spare (start with --spares)"
	read -r _ transport _ < "$dir/nodes"
	ctl_ports_load "$dir"
	via=$(ctl_any "$dir")
	node_start "$dir" "$i"
	node_wait "$dir" "$i"
	ctl_start "$dir" "$i"
	ctl_wait "$dir" "$i"
	ctlctl "$dir" "$via" node add "$i" "127.0.1.$i:$CTL_MGMT_PORT" "$(repl_addr "$transport" "$i")"
}

cmd_remove() { # node dir
	local i=$1 dir=$2 via pid
	[ -f "$dir/control" ] || die "remove needs a cluster started with --control"
	via=$(ctl_any "$dir")
	ctlctl "$dir" "$via" node remove "$i"
	for f in "c$i.pid" "n$i.pid"; do
		pid=$(cat "$dir/$f" 2>/dev/null || echo "")
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
	done
}

cmd_start() {
	local nodes=3 transport="" lanes=8 loops=1 boot=0 seg=16m port=7001 dir="" ctl=no
	local bin="$here/build/spindled" extra=() control=no spares=0 cextra=() lease=300
	local cbin="$here/build/control/daemon/spindle-control"
	while [ $# -gt 0 ]; do
		case "$1" in
		--nodes) nodes=$2; shift 2 ;;
		--transport) transport=$2; shift 2 ;;
		--lanes) lanes=$2; shift 2 ;;
		--loops) loops=$2; shift 2 ;;
		--binary) bin=$2; shift 2 ;;
		--bootstrap-primary) boot=$2; shift 2 ;;
		--segment-bytes) seg=$2; shift 2 ;;
		--set) extra+=("$2"); shift 2 ;;
		--control-sockets) ctl=yes; shift ;;
		--control) control=yes; ctl=yes; shift ;;
		--spares) spares=$2; shift 2 ;;
		--control-binary) cbin=$2; shift 2 ;;
		--control-set) cextra+=("$2"); shift 2 ;;
		--mgmt-port) CTL_MGMT_PORT=$2; shift 2 ;;
		--metrics-port) CTL_METRICS_PORT=$2; shift 2 ;;
		[0-9]*) port=$1; shift ;;
		*) dir=$1; shift ;;
		esac
	done
	[ -n "$dir" ] || die "start needs a directory"
	[ -x "$bin" ] || die "no spindled at $bin (build first: scripts/setup.sh)"
	if [ -z "$transport" ]; then
		if [ "$(id -u)" -eq 0 ]; then transport=dpdk; else transport=udp; fi
	fi
	[ "$transport" = udp ] || [ "$(id -u)" -eq 0 ] || die "the dpdk transport needs root"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ -f "$dir/nodes" ] && die "$dir already holds a cluster (stop it first)"
	local total=$((nodes + spares))
	[ "$control" = yes ] && { [ -x "$cbin" ] || die "no spindle-control at $cbin"; }
	[ "$spares" = 0 ] || [ "$control" = yes ] || die "--spares needs --control"
	for kv in "${extra[@]+"${extra[@]}"}"; do
		case "$kv" in lease-ms\ *) lease=${kv#lease-ms } ;; esac
	done
	[ "$transport" = dpdk ] && net_up "$total" "$port"
	echo "$bin" > "$dir/binary"
	echo "$nodes $transport $port" > "$dir/nodes"
	echo "$total" > "$dir/total"
	if [ "$control" = yes ]; then
		echo "$cbin" > "$dir/control"
		echo "$CTL_MGMT_PORT $CTL_METRICS_PORT" > "$dir/ctlports"
	fi
	for i in $(seq 1 "$total"); do
		node_conf "$dir" "$i" "$total" "$transport" "$port" "$lanes" "$loops" "$boot" "$seg" "$ctl" "${extra[@]+"${extra[@]}"}"
		if [ "$control" = yes ]; then
			ctl_conf "$dir" "$i" "$nodes" "$transport" "$lease" "${cextra[@]+"${cextra[@]}"}"
		fi
		if [ "$i" -le "$nodes" ]; then
			node_start "$dir" "$i"
		fi
	done
	for i in $(seq 1 "$nodes"); do
		node_wait "$dir" "$i"
	done
	if [ "$control" = yes ]; then
		for i in $(seq 1 "$nodes"); do
			ctl_start "$dir" "$i"
		done
		for i in $(seq 1 "$nodes"); do
			ctl_wait "$dir" "$i"
		done
		ctl_bootstrap "$dir"
	fi
	local with=""
	[ "$control" = yes ] && with=", control plane bootstrapped"
	echo "local-cluster: $nodes nodes ($transport) on ports $port-$((port + nodes - 1)), data in $dir$with"
}

cmd_stop() {
	local dir=$1 nodes transport port
	[ -f "$dir/nodes" ] || die "no cluster in $dir"
	read -r nodes transport port < "$dir/nodes"
	local total=$nodes
	[ -f "$dir/total" ] && total=$(cat "$dir/total")
	# Control daemons first, so that nothing fails over while the cluster goes down.
	for kind in c n; do
		for i in $(seq 1 "$total"); do
			local pid
			pid=$(cat "$dir/$kind$i.pid" 2>/dev/null || echo "")
			[ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
		done
		for i in $(seq 1 "$total"); do
			local pid
			pid=$(cat "$dir/$kind$i.pid" 2>/dev/null || echo "")
			for _ in $(seq 1 200); do
				[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
		done
	done
	[ "$transport" = dpdk ] && net_down "$total" "$port"
	rm -f "$dir/nodes"
	echo "local-cluster: stopped"
}

cmd_status() {
	local dir=$1 nodes transport port
	read -r nodes transport port < "$dir/nodes"
	for i in $(seq 1 "$nodes"); do
		local pid state=down
		pid=$(cat "$dir/n$i.pid" 2>/dev/null || echo 0)
		kill -0 "$pid" 2>/dev/null && state=up
		echo "node $i: $state pid $pid port $((port + i - 1))"
	done
	if [ -f "$dir/control" ]; then
		for i in $(seq 1 "$(cat "$dir/total")"); do
			local pid state=down
			pid=$(cat "$dir/c$i.pid" 2>/dev/null || echo 0)
			kill -0 "$pid" 2>/dev/null && state=up
			echo "control daemon $i: $state pid $pid"
		done
		ctlctl "$dir" "$(ctl_any "$dir")" status || true
	fi
}

cmd_node() { # action node dir
	local action=$1 i=$2 dir=$3 pid
	pid=$(cat "$dir/n$i.pid")
	case "$action" in
	kill) kill -9 "$pid" ;;
	term) kill -TERM "$pid" ;;
	pause) kill -STOP "$pid" ;;
	resume) kill -CONT "$pid" ;;
	restart)
		kill -9 "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
		node_start "$dir" "$i"
		node_wait "$dir" "$i" ;;
	esac
}

cmd_link() { # up|down node dir
	local state=$1 i=$2 dir=$3 transport port
	read -r _ transport port < "$dir/nodes"
	[ "$transport" = dpdk ] || die "link up/down needs the dpdk transport"
	ip link set "$(ifname "$port" "$i")b" "$state"
}

case "${1:-}" in
start) shift; cmd_start "$@" ;;
stop) cmd_stop "$2" ;;
status) cmd_status "$2" ;;
kill|term|pause|resume|restart) cmd_node "$1" "$2" "$3" ;;
link) cmd_link "$2" "$3" "$4" ;;
ctl) cmd_ctl "$2" "$3" "$4" ;;
add) cmd_add "$2" "$3" ;;
remove) cmd_remove "$2" "$3" ;;
spindlectl) dir=$3 node=$2; shift 3; ctlctl "$dir" "$node" "$@" ;;
*) sed -n '2,42p' "$0" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Shows spindle working on this machine: installs what is missing and builds (setup.sh),
# starts a local three-node cluster (DPDK af_packet replication on veth pairs as root, kernel
# UDP otherwise), writes through one node and reads through the others, runs a short load
# with spindle-bench, prints each node's view of its lanes, and leaves the cluster running.
#
#   scripts/demo.sh [--port 7001] [--dir /tmp/spindle-demo]    start and show
#   scripts/demo.sh stop [--dir /tmp/spindle-demo]              stop it
set -euo pipefail
cd "$(dirname "$0")/.."

port=7001
dir=/tmp/spindle-demo
action=start
while [ $# -gt 0 ]; do
	case "$1" in
	stop) action=stop; shift ;;
	--port) port=$2; shift 2 ;;
	--dir) dir=$2; shift 2 ;;
	*) echo "usage: $0 [stop] [--port PORT] [--dir DIR]" >&2; exit 2 ;;
	esac
done

if [ "$action" = stop ]; then
	scripts/local-cluster.sh stop "$dir"
	exit 0
fi

bash scripts/setup.sh
if [ -f "$dir/nodes" ]; then
	echo "demo: a cluster is already running in $dir (scripts/demo.sh stop to end it)"
	exit 1
fi
rm -rf "$dir"
scripts/local-cluster.sh start --lanes 8 "$port" "$dir"
p1=$port p2=$((port + 1)) p3=$((port + 2))

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "A write on node 1 is read back on nodes 2 and 3 (linearizable by default)"
run redis-cli -p "$p1" SET greeting "hello from node 1"
run redis-cli -p "$p2" GET greeting
run redis-cli -p "$p3" GET greeting
run redis-cli -p "$p2" INCRBY visits 5
run redis-cli -p "$p3" INCR visits
run redis-cli -p "$p1" MGET greeting visits

say "A short load run: 5 s of SET/GET, 50 connections, every reply checked"
run build/perf/bench/spindle-bench -p "$p1" -c 50 -D 5 -w mixed -r 0.5 --check

say "Each lane has its own primary, spread over the nodes"
for p in "$p1" "$p2" "$p3"; do
	printf 'node on port %s: ' "$p"
	redis-cli -p "$p" INFO replication | grep -c "role=primary" | tr -d '\n'
	echo " primary lanes"
done
redis-cli -p "$p1" INFO replication | grep -E "^lane[0-9]+_repl" | cut -d, -f1-5

cat <<EOF

The cluster keeps running: connect with any Redis client to ports $p1-$p3, e.g.
    redis-cli -p $p1
Logs and data are in $dir. Stop it with:
    scripts/demo.sh stop --dir $dir
EOF

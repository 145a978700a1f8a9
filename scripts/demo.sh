#!/usr/bin/env bash
# Shows spindle working on this machine: installs what is missing and builds (setup.sh),
# starts a local three-node cluster with the control plane (DPDK af_packet replication on veth
# pairs as root, kernel UDP otherwise), shows `spindlectl status`, writes through one node and
# reads through the others, runs a short checked load over all three nodes, then kills the
# primary of lane 0 with SIGKILL while writes go on and shows the failover: the load
# generator's per-second progress and errors, the time until writes succeeded again on each
# lane that lost its primary (from its trace of every request), and the status again. The killed node is restarted and catches up; then everything is stopped.
#
#   scripts/demo.sh [--port 7001] [--dir /tmp/spindle-demo] [--keep]
#       --keep leaves the cluster running at the end (stop it with: scripts/demo.sh stop)
#       --mgmt-port P --metrics-port P  the control daemons' ports (17600, 17700)
#       --no-setup  skip scripts/setup.sh (packages and build already there)
#   scripts/demo.sh stop [--dir /tmp/spindle-demo]
set -euo pipefail
cd "$(dirname "$0")/.."

port=7001
dir=/tmp/spindle-demo
action=start
keep=no
setup=yes
mgmt=17600
metrics=17700
while [ $# -gt 0 ]; do
	case "$1" in
	stop) action=stop; shift ;;
	--port) port=$2; shift 2 ;;
	--dir) dir=$2; shift 2 ;;
	--keep) keep=yes; shift ;;
	--no-setup) setup=no; shift ;;
	--mgmt-port) mgmt=$2; shift 2 ;;
	--metrics-port) metrics=$2; shift 2 ;;
	*) sed -n '9,14p' "$0" >&2; exit 2 ;;
	esac
done

if [ "$action" = stop ]; then
	scripts/local-cluster.sh stop "$dir"
	exit 0
fi

[ "$setup" = no ] || bash scripts/setup.sh
if [ -f "$dir/nodes" ]; then
	echo "demo: a cluster is already running in $dir (scripts/demo.sh stop to end it)"
	exit 1
fi
rm -rf "$dir"
stop_at_exit() {
	[ "$keep" = yes ] || scripts/local-cluster.sh stop "$dir" > /dev/null 2>&1 || true
}
trap stop_at_exit EXIT
scripts/local-cluster.sh start --control --lanes 4 --mgmt-port "$mgmt" \
	--metrics-port "$metrics" "$port" "$dir"
p1=$port p2=$((port + 1)) p3=$((port + 2))
bench=build/perf/bench/spindle-bench

say() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
ctl() { scripts/local-cluster.sh spindlectl "$1" "$dir" "${@:2}"; }
# The primary of a lane, as the control plane's status says.
primary_of() {
	ctl "$1" status --json | /usr/bin/python3 -c \
		"import json, sys; print(json.load(sys.stdin)['lanes'][$2]['primary'])"
}
# Whether every lane has a live primary other than node $2, as node $1's daemon sees it.
moved_from() {
	ctl "$1" status --json 2>/dev/null | /usr/bin/python3 -c "
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if all(l['state'] == 'ok' and l['primary'] not in (None, $2) for l in s['lanes'])
         else 1)"
}

say "The control plane's view: nodes, and each lane's primary, voters and epoch"
run build/control/daemon/spindlectl --socket "$dir/c1.sock" status

say "A write on node 1 is read back on nodes 2 and 3 (linearizable by default)"
run redis-cli -p "$p1" SET greeting "hello from node 1"
run redis-cli -p "$p2" GET greeting
run redis-cli -p "$p3" GET greeting
run redis-cli -p "$p2" INCRBY visits 5
run redis-cli -p "$p3" INCR visits

say "A short load run: 5 s of SET/GET over all three nodes, 48 connections, every reply checked"
run "$bench" -p "$p1,$p2,$p3" -c 48 -D 5 -w mixed -r 0.5 --check --no-progress

victim=$(primary_of 1 0)
lanes=$(ctl 1 status --json | /usr/bin/python3 -c "import json, sys
print(','.join(str(k) for k, l in enumerate(json.load(sys.stdin)['lanes']) if l['primary'] == $victim))")
others=()
for n in 1 2 3; do [ "$n" = "$victim" ] || others+=("$n"); done
say "Failover: node $victim (primary of lanes $lanes) is killed with SIGKILL 3 s into a 10 s run of 2000 checked writes/s"
"$bench" -p "$p1,$p2,$p3" -c 48 -R 2000 -D 10 -w set --check --dist seq -k 30000 -d 64 \
	--timeout-ms 5000 --progress --trace "$dir/failover-trace.txt" \
	> "$dir/failover-bench.txt" 2>&1 &
bench_pid=$!
sleep 3
echo "\$ kill -9 $(cat "$dir/n$victim.pid")"
# The kill's time on the clock the load generator's trace uses (CLOCK_MONOTONIC).
t_kill=$(/usr/bin/python3 -c 'import os, sys, time
t = time.monotonic_ns(); os.kill(int(sys.argv[1]), 9); print(t)' "$(cat "$dir/n$victim.pid")")
for _ in $(seq 1 1500); do
	moved_from "${others[0]}" "$victim" && break
	sleep 0.02
done
echo "spindlectl status shows every lane with a live primary again"
wait "$bench_pid" || true
echo "the load generator's view: writes through node $victim fail with their connections;"
echo "writes through the other nodes get TRYAGAIN until their lane has a new primary"
sed 's/^/    /' "$dir/failover-bench.txt"
# Read from the trace of every request (the analysis of perf/failover.py).
/usr/bin/python3 - "$dir/failover-trace.txt" "$t_kill" "$lanes" <<'EOF'
import sys
sys.path.insert(0, "perf")
import failover
reqs = failover.trace_read(sys.argv[1])
t_kill, lanes = int(sys.argv[2]), [int(k) for k in sys.argv[3].split(",")]
lane_of_key = {r.key: failover.lane_of("key:" + r.key, 4) for r in reqs}
for k in lanes:
    l = failover.lane_recovery(reqs, lane_of_key, k, t_kill)
    print("lane %d: a write sent after the kill succeeded %s after it (no write succeeded "
          "for %s)" % (k, failover.fmt(l["recovery_ms"]), failover.fmt(l["stall_ms"])))
EOF

say "The status after the failover (node $victim is down)"
run build/control/daemon/spindlectl --socket "$dir/c${others[0]}.sock" status

say "Node $victim restarts, catches up from its peers and serves again"
scripts/local-cluster.sh restart "$victim" "$dir"
for _ in $(seq 1 300); do
	ctl "$victim" status --json 2>/dev/null | /usr/bin/python3 -c "
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if all(set(l['in_sync']) == set(l['voters']) for l in s['lanes']) else 1)" && break
	sleep 0.1
done
run redis-cli -p "$((port + victim - 1))" GET greeting
run build/control/daemon/spindlectl --socket "$dir/c$victim.sock" status

if [ "$keep" = yes ]; then
	cat <<EOF

The cluster keeps running: connect with any Redis client to ports $p1-$p3, e.g.
    redis-cli -p $p1
Logs and data are in $dir. Stop it with:
    scripts/demo.sh stop --dir $dir
EOF
else
	say "Stopping the cluster"
	scripts/local-cluster.sh stop "$dir"
	trap - EXIT
fi

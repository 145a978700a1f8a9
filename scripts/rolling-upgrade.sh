#!/usr/bin/env bash
# Rolling upgrade of a spindle cluster with its control plane, one node at a time, stopping
# at the first step that does not come out as expected (and saying why). For each node N:
#
#   0. wait until the cluster is healthy: a control leader, every lane "ok", every voter in
#      sync, every node healthy
#   1. spindlectl node drain N          (N's primaries switch over to other voters; asked
#                                        again while it answers "no majority", exit code 3)
#   2. stop N's spindle-control, wait    (the leader stops counting N as healthy, so balancing
#      until N is not healthy, drain      cannot give N a lane any more; the second drain moves
#      again, check N leads no lane       what balancing gave N in between, if anything)
#   3. stop N's spindled (SIGTERM)
#   4. install the new binaries on N
#   5. start N's spindled, then its spindle-control
#   6. wait until N is healthy and in sync in every lane
#   7. wait until balancing has given N its share of primaries back (unless --no-balance-wait)
#
# Every spindlectl command goes to another node's control daemon than N's (N's is down from
# step 2 to 5). The script never decides anything itself: the control plane moves the
# primaries; the script only asks, waits and checks.
#
#   rolling-upgrade.sh --driver PATH [options] [NODE...]
#   rolling-upgrade.sh --local-cluster DIR --from BINDIR [options] [NODE...]
#
# NODE...: the order to upgrade in (default: every node of the cluster, in id order).
# --driver PATH: a program that acts on one node, called as
#     PATH spindlectl NODE ARGS...   spindlectl against NODE's spindle-control
#     PATH stop-control NODE         SIGTERM NODE's spindle-control, return once it exited
#     PATH stop-dataplane NODE       SIGTERM NODE's spindled, return once it exited
#     PATH install NODE              put the new binaries in place on NODE
#     PATH start-dataplane NODE      start NODE's spindled, return once it answers PING
#     PATH start-control NODE        start NODE's spindle-control
#   (docs/OPERATIONS.md has one for systemd over ssh).
# --local-cluster DIR --from BINDIR: a cluster of scripts/local-cluster.sh started with
#   --control; "install" copies spindled, spindle-control and spindlectl from BINDIR over the
#   files the cluster runs unless they are already the same (install(1) replaces a file:
#   running processes keep the old one).
# --via NODE: where to read the cluster's nodes first (default: the first of 1..16 that answers).
# --timeout S (60): the longest each step may take.
# --no-balance-wait: skip step 7 (for balance-every-ms 0).
# Exit code: 0 every node upgraded, 1 a step failed (the message says which and why), 2 usage.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
driver="" local_dir="" from="" first="" timeout_s=60 balance_wait=yes nodes=()

die() { echo "rolling-upgrade: $*" >&2; exit 1; }
usage() { sed -n '2,41p' "$0" >&2; exit 2; }
say() { echo "rolling-upgrade: [$(date -u +%H:%M:%S)] $*"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--driver) driver=$2; shift 2 ;;
	--local-cluster) local_dir=$2; shift 2 ;;
	--from) from=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--via) first=$2; shift 2 ;;
	--no-balance-wait) balance_wait=no; shift ;;
	-h|--help) usage ;;
	[0-9]*) nodes+=("$1"); shift ;;
	*) echo "rolling-upgrade: unknown argument '$1'" >&2; usage ;;
	esac
done
[ -n "$driver" ] || [ -n "$local_dir" ] || usage
[ -z "$driver" ] || [ -z "$local_dir" ] || die "--driver and --local-cluster exclude each other"
[[ "$timeout_s" =~ ^[0-9]+$ ]] && [ "$timeout_s" -gt 0 ] || die "--timeout: '$timeout_s' is not a number of seconds"

# ---- The local-cluster driver ----

local_driver() { # op node [args...]
	local op=$1 i=$2 lc="$here/local-cluster.sh" pid
	shift 2
	case "$op" in
	spindlectl) "$lc" spindlectl "$i" "$local_dir" "$@" ;;
	stop-control|stop-dataplane)
		local f="n$i.pid"
		[ "$op" = stop-control ] && f="c$i.pid"
		pid=$(cat "$local_dir/$f")
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 $((timeout_s * 10))); do
			kill -0 "$pid" 2>/dev/null || return 0
			sleep 0.1
		done
		echo "pid $pid did not exit within ${timeout_s} s of SIGTERM" >&2
		return 1 ;;
	install)
		local dbin cbin
		dbin=$(cat "$local_dir/binary")
		cbin=$(cat "$local_dir/control")
		# The nodes share these files: a node upgraded before keeps running its new ones.
		local src dst
		for pair in "spindled:$dbin" "spindle-control:$cbin" "spindlectl:$(dirname "$cbin")/spindlectl"; do
			src="$from/${pair%%:*}" dst=${pair#*:}
			cmp -s "$src" "$dst" || install -m 755 "$src" "$dst"
		done ;;
	start-dataplane) "$lc" restart "$i" "$local_dir" ;;
	start-control) "$lc" ctl restart "$i" "$local_dir" ;;
	*) echo "unknown driver operation $op" >&2; return 2 ;;
	esac
}

if [ -n "$local_dir" ]; then
	[ -f "$local_dir/control" ] || die "$local_dir is not a local cluster started with --control"
	[ -n "$from" ] || die "--local-cluster needs --from BINDIR (the new binaries)"
	for b in spindled spindle-control spindlectl; do
		[ -x "$from/$b" ] || die "no $b in $from"
	done
	drv() { local_driver "$@"; }
else
	[ -x "$driver" ] || die "--driver $driver is not an executable"
	drv() { "$driver" "$@"; }
fi

# ---- Reading the cluster's status ----

status_json() { # via
	drv spindlectl "$1" status --json 2>/dev/null
}

# check VIA WHAT NODE: exit 0 if the status seen through VIA says WHAT about NODE, else 1
# with the reason on stdout. WHAT: healthy-cluster, node-down, node-out, node-back, balanced,
# nodes.
check() {
	local json
	json=$(status_json "$1") || { echo "node $1's spindle-control does not answer status"; return 1; }
	/usr/bin/python3 -c '
import json, sys
what, node = sys.argv[1], int(sys.argv[2])
s = json.loads(sys.stdin.read())
nodes = {n["id"]: n for n in s["nodes"]}
def lanes_ok():
    if s["leader"] is None:
        return "no control group leader"
    if s["view_age_ms"] is None:
        return "no view of the cluster from the leader yet"
    for l in s["lanes"]:
        if l["state"] != "ok":
            return "lane %d is %s" % (l["lane"], l["state"])
    return None
def fail(why):
    print(why)
    sys.exit(1)
if what == "nodes":
    print(" ".join(str(i) for i, n in sorted(nodes.items()) if n["state"] == "active"))
    sys.exit(0)
why = lanes_ok()
if why and what != "node-down":
    fail(why)
if what == "healthy-cluster":
    for i, n in nodes.items():
        if n["state"] == "active" and n["health"] != "healthy":
            fail("node %d is %s" % (i, n["health"]))
    for l in s["lanes"]:
        if set(l["in_sync"]) != set(l["voters"]):
            fail("lane %d: voters %s, in sync %s" % (l["lane"], l["voters"], l["in_sync"]))
elif what == "node-down":
    if nodes.get(node, {}).get("health") == "healthy":
        fail("node %d still counts as healthy" % node)
elif what == "node-out":
    if nodes.get(node, {}).get("health") == "healthy":
        fail("node %d still counts as healthy" % node)
    led = [l["lane"] for l in s["lanes"] if l["primary"] == node or l["switch_target"] == node]
    if led:
        fail("node %d still leads lanes %s" % (node, led))
elif what == "node-back":
    if nodes.get(node, {}).get("health") != "healthy":
        fail("node %d is %s" % (node, nodes.get(node, {}).get("health", "unknown")))
    for l in s["lanes"]:
        if node in l["voters"] and node not in l["in_sync"]:
            fail("node %d is not in sync in lane %d yet" % (node, l["lane"]))
elif what == "balanced":
    counts = [n["primaries"] for n in nodes.values() if n["state"] == "active" and n["health"] == "healthy"]
    if counts and max(counts) >= min(counts) + 2:
        fail("primaries per node: %s" % ", ".join("%d: %d" % (i, n["primaries"]) for i, n in sorted(nodes.items())))
' "$2" "${3:-0}" <<< "$json"
}

# wait_for VIA WHAT NODE STEP: until check passes, or die with the last reason.
wait_for() {
	local via=$1 what=$2 node=$3 step=$4 why="" t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$timeout_s" ]; do
		if why=$(check "$via" "$what" "$node"); then
			return 0
		fi
		sleep 0.2
	done
	die "node $node, $step: not done after ${timeout_s} s: $why"
}

# drain VIA NODE: spindlectl node drain, again while it answers "no leader or no majority"
# (exit code 3: a node judged unhealthy for a moment), up to the step's timeout.
drain() {
	local out rc t0=$SECONDS
	while :; do
		rc=0
		out=$(drv spindlectl "$1" node drain "$2" --timeout "$timeout_s" 2>&1) || rc=$?
		if [ "$rc" != 3 ] || [ $((SECONDS - t0)) -ge "$timeout_s" ]; then
			echo "$out"
			return "$rc"
		fi
		echo "rolling-upgrade: node $2, drain: $out (trying again)" >&2
		sleep 0.5
	done
}

# drain_down VIA NODE: once NODE counts as down (its spindle-control stopped), drain it until
# it leads no lane and no switchover to it is pending (a new control leader counts a node it
# has not heard from yet as healthy for a moment, so balancing may still pick it).
drain_down() {
	local via=$1 n=$2 why="" out t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$timeout_s" ]; do
		if ! why=$(check "$via" node-down "$n"); then
			sleep 0.2
			continue
		fi
		out=$(drain "$via" "$n") || die "node $n, drain once down: spindlectl node drain $n failed: $out"
		echo "$out" | grep -v "nothing to" | sed 's/^/    /' || true
		if why=$(check "$via" node-out "$n"); then
			return 0
		fi
		sleep 0.5
	done
	die "node $n, waiting until it counts as down and leads no lane: not done after ${timeout_s} s: $why"
}

# A node other than $1 whose spindle-control answers.
pick_via() {
	local n
	for n in $all; do
		[ "$n" = "$1" ] && continue
		if status_json "$n" > /dev/null; then
			echo "$n"
			return 0
		fi
	done
	return 1
}

# ---- The procedure ----

if [ -z "$first" ]; then
	for n in $(seq 1 16); do
		if status_json "$n" > /dev/null 2>&1; then first=$n; break; fi
	done
fi
[ -n "$first" ] || die "no spindle-control answers spindlectl status"
all=$(check "$first" nodes 0) || die "cannot read the cluster's nodes"
[ ${#nodes[@]} -gt 0 ] || read -r -a nodes <<< "$all"
[ "$(echo "$all" | wc -w)" -ge 3 ] || die "a rolling upgrade needs at least 3 nodes (the cluster has: $all)"
for n in "${nodes[@]}"; do
	[[ " $all " == *" $n "* ]] || die "node $n is not an active node of the cluster ($all)"
done
say "upgrading nodes ${nodes[*]} of cluster nodes $all"

upgrade_node() { # node
	local n=$1 via t0=$SECONDS out
	via=$(pick_via "$n") || die "node $n: no other node's spindle-control answers"
	say "node $n: 0. waiting until the cluster is healthy (through node $via)"
	wait_for "$via" healthy-cluster "$n" "the cluster is not healthy, not touching node $n"
	say "node $n: 1. drain"
	out=$(drain "$via" "$n") || die "node $n, drain: spindlectl node drain $n failed: $out"
	echo "$out" | sed 's/^/    /'
	say "node $n: 2. stop spindle-control"
	drv stop-control "$n" || die "node $n: spindle-control did not stop"
	drain_down "$via" "$n"
	say "node $n: 3. stop spindled"
	drv stop-dataplane "$n" || die "node $n: spindled did not stop"
	say "node $n: 4. install"
	drv install "$n" || die "node $n: installing the new binaries failed"
	say "node $n: 5. start spindled and spindle-control"
	drv start-dataplane "$n" || die "node $n: spindled did not start"
	drv start-control "$n" || die "node $n: spindle-control did not start"
	say "node $n: 6. waiting until it is healthy and in sync in every lane"
	wait_for "$via" node-back "$n" "catching up"
	if [ "$balance_wait" = yes ]; then
		say "node $n: 7. waiting for balancing to give it primaries back"
		wait_for "$via" balanced "$n" "balancing (balance-every-ms 0? then --no-balance-wait)"
	fi
	say "node $n: upgraded in $((SECONDS - t0)) s"
}

for n in "${nodes[@]}"; do
	upgrade_node "$n"
done
via=$(pick_via 0) || die "no spindle-control answers after the upgrade"
# A balancing switchover may still be under way (a lane's new primary not acting yet): wait
# for a healthy cluster as step 0 does, up to the step timeout.
t0=$SECONDS
until out=$(check "$via" healthy-cluster 0); do
	[ $((SECONDS - t0)) -lt "$timeout_s" ] ||
		die "after the upgrade: the cluster is not healthy after ${timeout_s} s: $out"
	sleep 0.2
done
say "done: nodes ${nodes[*]} upgraded, the cluster is healthy"

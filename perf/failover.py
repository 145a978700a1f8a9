#!/usr/bin/python3
"""Failover measured by the load generator: how long writes stop when a lane's primary dies.

Starts a local three-node cluster with the control plane (scripts/local-cluster.sh --control;
DPDK af_packet replication when run as root, kernel UDP otherwise), runs spindle-bench against
it in open loop at a fixed write rate (SET of unique values, every reply checked, connections
spread over all three nodes, so that some writes land on a lane's primary and the others are
forwarded to it), kills the primary of lane 0 with SIGKILL in the middle of the run, keeps the
run going, and then reports from the load generator's per-request trace (--trace):

  - per lane whose primary died: the time from the kill until a write sent after the kill
    succeeded, and the longest stretch without any successful write on that lane;
  - latency (p50/p99/max, from each request's intended send time) before the kill, during
    the failover and after it, and the errors of each window by kind;
  - that every acknowledged write reads back: each key must hold its last acknowledged value
    or a later one the run sent (a write that failed with an unknown outcome may have been
    applied), read through every surviving node, and through the killed node once it is
    restarted and has caught up.

With --all-lanes, every lane's primary is first moved to one node (spindlectl failover, with
balancing off so that it stays there) and that node is killed, so every lane fails over at once.

Usage: perf/failover.py [--quick] [--build DIR] [--out DIR] [--rate N] [--duration S]
                        [--kill-at S] [--all-lanes] [--runs N] [--port P] ...
Exit status: 0 done and nothing lost, 1 an acknowledged write was lost, a reply was wrong or a
lane took no write again before the run ended, 2 the run could not be made (cluster, load
generator)."""

import argparse
import binascii
import collections
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER = os.path.join(ROOT, "scripts", "local-cluster.sh")
SLOTS = 16384
NODES = 3
VALUE_BYTES = 64
READ_BATCH = 500
EXIT_LOST, EXIT_RUN = 1, 2
SENTINEL_DOWN_AFTER_MS = 30000   # Redis Sentinel's documented default down-after-milliseconds


def log(msg):
    print("failover: " + msg, file=sys.stderr, flush=True)


def lane_of(key, lanes):
    """Redis Cluster's hash slot of a key (CRC16 XMODEM of it or of its {tag}), then the lane
    that holds the slot, as spindled places keys."""
    k = key.encode()
    left = k.find(b"{")
    if left >= 0:
        right = k.find(b"}", left + 1)
        if right > left + 1:
            k = k[left + 1:right]
    return (binascii.crc_hqx(k, 0) % SLOTS) * lanes // SLOTS


def pct(values, p):
    """The p-th percentile (nearest rank) of a sorted list, or None."""
    if not values:
        return None
    rank = max(1, -(-len(values) * p // 100))
    return values[int(rank) - 1]


def ms(ns):
    return None if ns is None else ns / 1e6


# ---------------------------------------------------------------------------------------------
# The cluster

class Cluster:
    def __init__(self, args, workdir):
        self.args = args
        self.dir = os.path.join(workdir, "cluster")
        self.port = args.port
        self.transport = args.transport or ("dpdk" if os.geteuid() == 0 else "udp")
        self.spindlectl = os.path.join(args.build, "control", "daemon", "spindlectl")
        self.started = False

    def script(self, *argv, timeout=120):
        out = subprocess.run([CLUSTER] + [str(a) for a in argv], capture_output=True,
                             text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError("local-cluster.sh %s failed:\n%s%s" % (
                " ".join(map(str, argv)), out.stdout, out.stderr))
        return out.stdout

    def start(self):
        if os.path.exists(os.path.join(self.dir, "nodes")):
            raise RuntimeError("a cluster still runs in %s (local-cluster.sh stop it)" % self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)  # data of an earlier run
        argv = ["start", "--control", "--nodes", NODES, "--lanes", self.args.lanes,
                "--transport", self.transport, "--segment-bytes", "16m",
                "--binary", os.path.join(self.args.build, "spindled"),
                "--control-binary", os.path.join(self.args.build, "control", "daemon",
                                                 "spindle-control"),
                "--mgmt-port", self.args.mgmt_port, "--metrics-port", self.args.metrics_port]
        if self.args.all_lanes:
            argv += ["--control-set", "balance-every-ms 0"]
        self.started = True
        log(self.script(*(argv + [self.port, self.dir])).strip())

    def stop(self):
        if self.started:
            subprocess.run([CLUSTER, "stop", self.dir], capture_output=True, timeout=120)
            self.started = False

    def ctl(self, node, *argv, timeout=30):
        return subprocess.run([self.spindlectl, "--socket", os.path.join(self.dir, "c%d.sock"
                                                                            % node)]
                              + [str(a) for a in argv], capture_output=True, text=True,
                              timeout=timeout)

    def status(self, nodes=range(1, NODES + 1)):
        for n in nodes:
            out = self.ctl(n, "status", "--json", timeout=10)
            if out.returncode == 0:
                return json.loads(out.stdout)
        raise RuntimeError("no control daemon answers status")

    def pid(self, node):
        with open(os.path.join(self.dir, "n%d.pid" % node)) as f:
            return int(f.read())

    def client(self, node):
        return redis.Redis(port=self.port + node - 1, socket_timeout=10)

    def wait(self, what, timeout_s, nodes=range(1, NODES + 1)):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if what(self.status(nodes)):
                    return True
            except (RuntimeError, ValueError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.05)
        return False

    def gather_all(self, node):
        """Moves every lane's primary to node (--all-lanes)."""
        for lane, l in enumerate(self.status()["lanes"]):
            if l["primary"] != node:
                out = self.ctl(node, "failover", lane, "--to", node, timeout=60)
                if out.returncode != 0:
                    raise RuntimeError("spindlectl failover %d --to %d: %s%s"
                                       % (lane, node, out.stdout, out.stderr))
        ok = self.wait(lambda s: all(l["primary"] == node and l["state"] == "ok"
                                     for l in s["lanes"]), 30)
        if not ok:
            raise RuntimeError("the lanes' primaries did not all move to node %d" % node)


# ---------------------------------------------------------------------------------------------
# The run

def bench_command(args, cluster, out):
    ports = ",".join(str(cluster.port + i) for i in range(NODES))
    keys = int(args.rate * args.duration * 1.2) + args.conns
    return [os.path.join(args.build, "perf", "bench", "spindle-bench"),
            "-p", ports, "-c", str(args.conns), "-t", "1", "-R", str(args.rate),
            "-D", str(args.duration), "-w", "set", "--check", "--dist", "seq",
            "-k", str(keys), "-d", str(VALUE_BYTES), "--timeout-ms", str(args.timeout_ms),
            "--label", "spindle-3-nodes", "--trace", os.path.join(out, "trace.txt"),
            "--json", os.path.join(out, "bench.json"),
            "--ready-file", os.path.join(out, "ready"), "--progress"]


def run_once(args, cluster, out):
    """Starts the load, kills the victim at --kill-at, waits for the end. Returns the facts
    the analysis needs."""
    if args.all_lanes:
        cluster.gather_all(cluster.status()["lanes"][0]["primary"])
    lanes_start = [l["primary"] for l in cluster.status()["lanes"]]
    log("primaries by lane %s; the primary of lane 0 is killed %.1f s into a %.0f s run at %d "
        "writes/s" % (lanes_start, args.kill_at, args.duration, args.rate))
    cmd = bench_command(args, cluster, out)
    with open(os.path.join(out, "bench.out"), "w") as bout, \
            open(os.path.join(out, "bench.err"), "w") as berr:
        bench = subprocess.Popen(cmd, stdout=bout, stderr=berr)
        ready = os.path.join(out, "ready")
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if bench.poll() is not None or time.monotonic() > deadline:
                bench.kill()
                raise RuntimeError("spindle-bench did not start: %s" % open(berr.name).read())
            time.sleep(0.01)
        time.sleep(args.kill_at)
        # The primaries as they are now: on a loaded machine the control plane may have
        # moved a lane since the start (a stalled dataplane counts as dead).
        lanes0 = [l["primary"] for l in cluster.status()["lanes"]]
        victim = lanes0[0]
        affected = [k for k, p in enumerate(lanes0) if p == victim]
        victim_pid = cluster.pid(victim)
        t_kill = time.monotonic_ns()
        os.kill(victim_pid, signal.SIGKILL)
        log("killed node %d, primary of lanes %s" % (victim, affected))
        survivors = [n for n in range(1, NODES + 1) if n != victim]
        moved = cluster.wait(lambda s: all(s["lanes"][k]["primary"] not in (victim, None) and
                                           s["lanes"][k]["state"] == "ok" for k in affected),
                             args.duration + 30, survivors)
        t_seen = time.monotonic_ns() if moved else None
        after = cluster.status(survivors)
        try:
            rc = bench.wait(timeout=args.duration + args.timeout_ms / 1000 + 60)
        except subprocess.TimeoutExpired:
            bench.kill()
            raise RuntimeError("spindle-bench did not finish")
    end = cluster.status(survivors)
    return {"victim": victim, "affected": affected, "t_kill_ns": t_kill,
            "status_moved_ns": t_seen, "primaries_start": lanes_start, "primaries_before": lanes0,
            "primaries_after": [l["primary"] for l in after["lanes"]],
            "epochs_after": [l.get("epoch") for l in after["lanes"]],
            "primaries_end": [l["primary"] for l in end["lanes"]],
            "epochs_end": [l.get("epoch") for l in end["lanes"]], "bench_rc": rc,
            "command": cmd, "survivors": survivors}


# ---------------------------------------------------------------------------------------------
# The analysis of the trace

Req = collections.namedtuple("Req", "done start sent conn op key seq result why")


def trace_read(path):
    reqs = []
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("#"):
                continue
            p = line.rstrip("\n").split(" ", 8)
            reqs.append(Req(int(p[0]), int(p[1]), int(p[2]), int(p[3]), p[4], p[5], int(p[6]),
                            p[7], p[8] if len(p) > 8 else ""))
    return reqs


def error_kind(r):
    """The kind of a failed request: the result, and for an error reply its text up to the
    first punctuation (enough to tell the TRYAGAIN cases apart)."""
    if r.result != "error":
        return r.result
    return r.why.split(";")[0].split(",")[0][:60]


def window_stats(reqs):
    lat = sorted(r.done - r.start for r in reqs if r.result == "ok")
    errors = collections.Counter(error_kind(r) for r in reqs if r.result != "ok")
    return {"requests": len(reqs), "ok": len(lat), "p50_ms": ms(pct(lat, 50)),
            "p99_ms": ms(pct(lat, 99)), "max_ms": ms(lat[-1] if lat else None),
            "errors": dict(errors.most_common())}


def lane_recovery(reqs, lane_of_key, lane, t_kill):
    """For one lane: the time from the kill until a write sent after it succeeded; the stall
    across the kill (last success before it to that first success after it); the longest
    gap between two successes in the rest of the run; the writes that failed after the
    lane had recovered."""
    mine = [r for r in reqs if lane_of_key[r.key] == lane]
    oks = sorted(r.done for r in mine if r.result == "ok")
    first_after = min((r.done for r in mine if r.result == "ok" and r.sent >= t_kill),
                      default=None)
    last_before = max((t for t in oks if t < t_kill), default=None)
    rest = [t for t in oks if first_after is not None and t >= first_after]
    late = sorted(r.done for r in mine if r.result != "ok" and first_after is not None and
                  r.start >= first_after)
    return {"lane": lane, "writes_ok": len(oks),
            "recovery_ms": ms(first_after - t_kill) if first_after else None,
            "stall_ms": ms(first_after - last_before) if first_after and last_before else None,
            "longest_gap_after_ms": ms(max((b - a for a, b in zip(rest, rest[1:])), default=0)),
            "failed_after_recovery": len(late),
            "failed_after_recovery_ms": [ms(late[0] - t_kill), ms(late[-1] - t_kill)]
            if late else None}


def timeline(reqs, lane_set, lane_of_key, t_kill, t_end, bucket_ms):
    """Successes and failures of writes on the given lanes per bucket, from 1 s before the
    kill until t_end."""
    step = int(bucket_ms * 1e6)
    start = t_kill - 1_000_000_000
    rows = collections.OrderedDict()
    for b in range(start, t_end, step):
        rows[b] = [0, 0]
    for r in reqs:
        if lane_of_key[r.key] in lane_set and start <= r.done < t_end:
            b = start + (r.done - start) // step * step
            if b in rows:
                rows[b][0 if r.result == "ok" else 1] += 1
    return [{"t_ms": round(ms(b - t_kill)), "ok": v[0], "failed": v[1]} for b, v in rows.items()]


def analyse(args, facts, reqs):
    t_kill = facts["t_kill_ns"]
    if not any(r.result == "ok" and r.done >= t_kill for r in reqs):
        raise RuntimeError("no request was answered after the kill on any lane: the load "
                           "generator lost every connection (the machine stalled for longer "
                           "than --timeout-ms?)")
    lane_of_key = {}
    for r in reqs:
        if r.key not in lane_of_key:
            lane_of_key[r.key] = lane_of("key:" + r.key, args.lanes)
    lanes = [lane_recovery(reqs, lane_of_key, k, t_kill) for k in facts["affected"]]
    others = [lane_recovery(reqs, lane_of_key, k, t_kill) for k in range(args.lanes)
              if k not in facts["affected"]]
    recov = [l["recovery_ms"] for l in lanes]
    worst = None if None in recov or not recov else max(recov)
    t_end = max(r.done for r in reqs)
    during_end = t_kill + int((worst or 0) * 1e6)
    windows = {
        "before": window_stats([r for r in reqs if r.start < t_kill]),
        "during": window_stats([r for r in reqs if t_kill <= r.start < during_end]),
        "after": window_stats([r for r in reqs if r.start >= during_end]),
    }
    affected = set(facts["affected"])
    return {"lanes": lanes, "other_lanes": others, "recovery_ms_max": worst,
            "stall_ms_max": max((l["stall_ms"] or 0) for l in lanes) if lanes else None,
            "windows": windows,
            "timeline_affected": timeline(reqs, affected, lane_of_key, t_kill,
                                          min(t_end, during_end + 1_000_000_000), 50),
            "by_node": by_node(reqs, args, t_kill)}


def by_node(reqs, args, t_kill):
    """Errors after the kill by the node each connection goes to (port g mod 3)."""
    out = {}
    for n in range(1, NODES + 1):
        rs = [r for r in reqs if r.conn % NODES == n - 1 and r.start >= t_kill]
        out[n] = dict(collections.Counter(error_kind(r) for r in rs if r.result != "ok"))
    return out


# ---------------------------------------------------------------------------------------------
# Reading back every acknowledged write

def expectations(reqs, t_kill):
    """Per key: the last acknowledged sequence, when it was acknowledged, and every sequence
    sent at or after it (any of which may be what the key holds)."""
    by_key = collections.defaultdict(list)
    for r in reqs:
        if r.op == "set":
            by_key[r.key].append(r)
    exp = {}
    for key, rs in by_key.items():
        acked = [r for r in rs if r.result == "ok"]
        last = max(acked, key=lambda r: r.seq) if acked else None
        floor = last.seq if last else 0
        allowed = {r.seq for r in rs if r.seq >= floor}
        exp[key] = (last.seq if last else None, last.done < t_kill if last else None, allowed)
    return exp


def read_back(cluster, node, exp):
    """Reads every key through node; returns (lost, wrong, checked_before, checked_after)."""
    client = cluster.client(node)
    keys = sorted(exp)
    lost, wrong, before, after = [], [], 0, 0
    for i in range(0, len(keys), READ_BATCH):
        batch = keys[i:i + READ_BATCH]
        for attempt in range(100):
            try:
                values = client.mget(["key:" + k for k in batch])
                break
            except redis.ResponseError as e:
                if "TRYAGAIN" not in str(e) or attempt == 99:
                    raise
                time.sleep(0.1)
        for k, v in zip(batch, values):
            acked, was_before, allowed = exp[k]
            seq = int(v[:16], 16) if v and len(v) == VALUE_BYTES else None
            if acked is not None:
                before += was_before
                after += not was_before
                if seq is None or seq < acked:
                    lost.append((k, acked, v[:32] if v else None))
                    continue
            if v is not None and seq not in allowed:
                wrong.append((k, sorted(allowed)[:4], v[:32]))
    return lost, wrong, before, after


def verify(cluster, facts, reqs, restart):
    exp = expectations(reqs, facts["t_kill_ns"])
    result = {"keys": len(exp), "acked": sum(1 for e in exp.values() if e[0] is not None),
              "reads": {}}
    nodes = list(facts["survivors"])
    if restart:
        victim = facts["victim"]
        cluster.script("restart", victim, cluster.dir)
        ok = cluster.wait(lambda s: all(set(l["in_sync"]) == set(l["voters"]) and
                                        l["state"] == "ok" for l in s["lanes"]), 60)
        result["victim_rejoined"] = ok
        nodes.append(victim)
    for n in nodes:
        lost, wrong, before, after = read_back(cluster, n, exp)
        result["reads"][n] = {"lost": len(lost), "wrong": len(wrong),
                              "acked_before_kill": before, "acked_after_kill": after,
                              "examples": [list(map(str, x)) for x in (lost + wrong)[:5]]}
    result["lost"] = max(r["lost"] for r in result["reads"].values())
    result["wrong"] = max(r["wrong"] for r in result["reads"].values())
    return result


# ---------------------------------------------------------------------------------------------
# Output

def fmt(v, unit="ms"):
    return "-" if v is None else "%.0f %s" % (v, unit)


def summary(args, facts, ana, ver, bench):
    lines = []
    w = lines.append
    w("spindle failover, %s transport, %d lanes, %d writes/s open loop, %d connections over 3 "
      "nodes, load average %s" % (facts["transport"], args.lanes, args.rate, args.conns,
                                  facts["loadavg"]))
    w("killed node %d (kill -9), primary of lanes %s; primaries after: %s"
      % (facts["victim"], facts["affected"], facts["primaries_after"]))
    for l in ana["lanes"]:
        late = ""
        if l["failed_after_recovery"]:
            late = "; %d writes failed after that, from +%.0f to +%.0f ms" % (
                l["failed_after_recovery"], *l["failed_after_recovery_ms"])
        w("  lane %d: a write sent after the kill succeeded %s after it; no write succeeded "
          "for %s across the kill; longest gap later %s%s"
          % (l["lane"], fmt(l["recovery_ms"]), fmt(l["stall_ms"]),
             fmt(l["longest_gap_after_ms"]), late))
    for l in ana["other_lanes"]:
        w("  lane %d (primary alive): longest gap between successful writes after the kill "
          "%s; %d writes failed" % (l["lane"], fmt(l["longest_gap_after_ms"]),
                                    l["failed_after_recovery"]))
    if facts["primaries_start"] != facts["primaries_before"]:
        w("  the control plane had moved lanes between the start of the run and the kill: "
          "primaries %s, then %s" % (facts["primaries_start"], facts["primaries_before"]))
    moved = [k for k in range(args.lanes) if facts["epochs_end"][k] != facts["epochs_after"][k]]
    if moved:
        w("  later in the run the control plane moved lanes %s again (balancing): primaries "
          "at the end %s" % (moved, facts["primaries_end"]))
    if facts["status_moved_ns"]:
        w("  spindlectl status showed the new primaries %s after the kill (polled)"
          % fmt(ms(facts["status_moved_ns"] - facts["t_kill_ns"])))
    w("writes on the affected lanes per 50 ms from the kill (ms:ok/failed): " + " ".join(
        "%d:%d/%d" % (b["t_ms"], b["ok"], b["failed"]) for b in ana["timeline_affected"]
        if -200 <= b["t_ms"]))
    w("latency of successful writes (from the intended send time) and errors, by when the "
      "request was due:")
    names = {"before": "before the kill", "during": "until the slowest lane recovered",
             "after": "after that"}
    for name, s in ana["windows"].items():
        w("  %s: %d requests, p50 %s, p99 %s, max %s; errors %s"
          % (names[name], s["requests"], fmt(s["p50_ms"]), fmt(s["p99_ms"]), fmt(s["max_ms"]),
             s["errors"] or "none"))
    w("errors after the kill by the node the connection goes to: %s" % ana["by_node"])
    first = next(iter(ver["reads"].values()))
    w("read back: %d keys, %d with an acknowledged write (%d acknowledged before the kill, %d "
      "after); lost %d, wrong %d (read through nodes %s)"
      % (ver["keys"], ver["acked"], first["acked_before_kill"], first["acked_after_kill"],
         ver["lost"], ver["wrong"], ", ".join(str(n) for n in ver["reads"])))
    w("spindle-bench: %s requests answered, %s failed checks"
      % (bench.get("requests"), bench.get("errors", {}).get("check")))
    w("Redis Sentinel, for comparison (not measured here): it declares a master down only "
      "after down-after-milliseconds, %d ms by default, before its failover starts"
      % SENTINEL_DOWN_AFTER_MS)
    return "\n".join(lines)


def one_run(args, out):
    os.makedirs(out, exist_ok=True)
    cluster = Cluster(args, out)
    try:
        cluster.start()
        facts = run_once(args, cluster, out)
        facts["transport"] = cluster.transport
        facts["loadavg"] = "%.2f %.2f %.2f" % os.getloadavg()
        reqs = trace_read(os.path.join(out, "trace.txt"))
        ana = analyse(args, facts, reqs)
        ver = verify(cluster, facts, reqs, not args.no_restart)
    finally:
        cluster.stop()
    if ver["lost"] == 0 and ver["wrong"] == 0:
        for name in os.listdir(cluster.dir):
            # The nodes' data (preallocated log segments) goes; configs and logs stay.
            if os.path.isdir(os.path.join(cluster.dir, name)):
                shutil.rmtree(os.path.join(cluster.dir, name), ignore_errors=True)
    with open(os.path.join(out, "bench.json")) as f:
        bench = json.load(f)
    if len(reqs) != bench.get("issued"):
        raise RuntimeError("the trace holds %d requests, spindle-bench issued %s"
                           % (len(reqs), bench.get("issued")))
    text = summary(args, facts, ana, ver, bench)
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump({"args": vars(args), "facts": facts, "analysis": ana, "verify": ver,
                   "bench": {k: bench.get(k) for k in ("requests", "errors", "latency_ns")}},
                  f, indent=1, default=str)
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(text + "\n")
    print(text, flush=True)
    bad = ver["lost"] > 0 or ver["wrong"] > 0 or (bench.get("errors", {}).get("check") or 0) > 0
    if ana["recovery_ms_max"] is None:
        log("a lane that lost its primary took no write again before the run ended")
        bad = True
    return EXIT_LOST if bad else 0, ana["recovery_ms_max"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", help="results directory (default perf/results/failover-DATE)")
    ap.add_argument("--transport", choices=["dpdk", "udp"], help="default: dpdk as root")
    ap.add_argument("--lanes", type=int, default=4)
    ap.add_argument("--rate", type=int, default=2000, help="writes per second in all")
    ap.add_argument("--conns", type=int, default=48)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--kill-at", type=float, default=8.0, help="seconds into the run")
    ap.add_argument("--timeout-ms", type=int, default=10000,
                    help="a request unanswered this long fails and closes its connection")
    ap.add_argument("--all-lanes", action="store_true",
                    help="gather every lane's primary on one node and kill that node")
    ap.add_argument("--no-restart", action="store_true",
                    help="do not restart the killed node to read back through it too")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="12 s runs, kill at 5 s")
    ap.add_argument("--port", type=int, default=17401, help="client port of node 1")
    ap.add_argument("--mgmt-port", type=int, default=17660)
    ap.add_argument("--metrics-port", type=int, default=17760)
    args = ap.parse_args()
    if args.quick:
        args.duration, args.kill_at = 12.0, 5.0
    if not 0 < args.kill_at < args.duration:
        ap.error("--kill-at must fall inside --duration")
    out = args.out or os.path.join(ROOT, "perf", "results", "failover-" +
                                   datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    worst, rc = [], 0
    for i in range(args.runs):
        run_out = out if args.runs == 1 else os.path.join(out, "run%d" % (i + 1))
        try:
            code, recovery = one_run(args, run_out)
        except (RuntimeError, OSError, subprocess.SubprocessError, redis.RedisError) as e:
            log("run %d could not be made: %s" % (i + 1, e))
            return EXIT_RUN
        rc = max(rc, code)
        worst.append(recovery)
    if args.runs > 1:
        print("recovery (kill until a write sent after it succeeds, slowest affected lane) "
              "over %d runs: %s" % (args.runs, ", ".join(fmt(x) for x in worst)))
    print("results in %s" % out)
    return rc


if __name__ == "__main__":
    sys.exit(main())

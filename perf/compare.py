#!/usr/bin/python3
"""The comparison matrix: spindle against what a user would pick instead, in one run.

Starts each target in turn on a loopback port in 17000-17999, runs the same workloads
against it with spindle-bench, stops it, and writes:

  OUT/report.md     machine, command, markdown tables (throughput, latency percentiles,
                    ratio to each Redis mode; open-loop sweep; connection scaling)
  OUT/results.json  the same figures for machines
  OUT/plot.png      throughput against p99 latency (open-loop sweep), latency by percentile,
                    memory per connection and p99 against connection count
  OUT/runs/*.json   every spindle-bench result, with its full latency histogram

The tables and the plot are drawn by compare_report.py.

The targets are one table (TARGETS below): a name, how to tell whether it can run here, how to
start it, and what to add to the load generator's command line. Adding a spindle mode is one
entry. Nothing is pinned to cores unless --server-cpus/--bench-cpus say so.

Usage: perf/compare.py [--quick] [--build DIR] [--out DIR] [--targets a,b] [--no-scaling]
"""

import argparse
import dataclasses
import datetime
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import compare_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT_FIRST, PORT_LAST = 17000, 17999
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10
ACTIVE_CONNS = 50             # connections that carry load in every run
SCALING_CONNS = [100, 1000, 5000, 10000, 19000]
REDIS_MAXCLIENTS = 19900      # Redis wants maxclients + 32 descriptors; the hard limit is 20000
SWEEP_FRACTIONS = [0.25, 0.5, 0.75, 0.9]   # of the closed-loop SET throughput
REDIS_MODES = ["redis", "redis-aof-always", "redis-repl2-wait"]
SCALING_TARGETS = ["spindle-memory", "redis"]   # one server loop each, nothing on disk


def log(msg):
    print("compare: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Ports, processes and readiness

def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def ports_pick(base, count):
    """count free ports from base upward, within the project's loopback range."""
    ports, p = [], base
    while len(ports) < count:
        if p > PORT_LAST:
            raise RuntimeError("no free ports left in %d-%d" % (PORT_FIRST, PORT_LAST))
        if port_free(p):
            ports.append(p)
        p += 1
    return ports


def resp_ping(port, timeout_s=1.0):
    """True if a RESP server on port answers PING with +PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def resp_command(port, *args, timeout_s=2.0):
    """Sends one command and returns the raw reply bytes (enough for INFO and CONFIG)."""
    req = b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(req)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if data.startswith(b"$"):
                n = int(data[1:data.index(b"\r\n")])
                if n < 0 or len(data) >= data.index(b"\r\n") + 2 + n + 2:
                    break
            elif data.endswith(b"\r\n"):
                break
        return data.decode(errors="replace")


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def affinity(cpus):
    """A preexec function that raises the open-file limit and pins to cpus (None: no pinning)."""
    def preexec():
        raise_nofile()
        os.setpgrp()  # so a stop reaches the server's children too
        if cpus:
            os.sched_setaffinity(0, cpus)
    return preexec


class Proc:
    """A server process we started; stop() always ends it."""

    def __init__(self, name, argv, logpath, cpus=None):
        self.name = name
        self.argv = argv
        self.logpath = logpath
        self.log = open(logpath, "wb")
        self.popen = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, preexec_fn=affinity(cpus))

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self):
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.log.close()

    def log_tail(self, lines=15):
        try:
            with open(self.logpath, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""


def wait_ready(proc, port, timeout_s=START_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError("%s exited with status %s:\n%s" % (
                proc.name, proc.popen.returncode, proc.log_tail()))
        if resp_ping(port):
            return
        time.sleep(0.05)
    raise RuntimeError("%s did not answer PING on port %d within %d s:\n%s" % (
        proc.name, port, timeout_s, proc.log_tail()))


def rss_bytes(pid):
    """Resident user memory of a process, from /proc/PID/status (VmRSS)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


# ---------------------------------------------------------------------------------------------
# Targets

@dataclasses.dataclass
class Running:
    """A started target: the processes to stop, the port to load, the pid whose memory counts."""
    procs: list
    port: int
    pid: int


def redis_argv(port, workdir, extra):
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
            "--protected-mode", "no",       # spindle-bench connects from 127.0.0.x sources
            "--save", "", "--appendonly", "no", "--dir", workdir,
            "--maxclients", str(REDIS_MAXCLIENTS), "--daemonize", "no"] + extra


def redis_start(ctx, name, extra):
    port = ctx.ports(1)[0]
    workdir = ctx.workdir(name)
    p = Proc(name, redis_argv(port, workdir, extra), os.path.join(workdir, "server.log"),
             ctx.server_cpus)
    try:
        wait_ready(p, port)
    except Exception:
        p.stop()
        raise
    return Running([p], port, p.pid)


def redis_replicated_start(ctx, name, replicas=2):
    """A primary without persistence and two replicas; writes are followed by WAIT 1 0."""
    ports = ctx.ports(1 + replicas)
    workdir = ctx.workdir(name)
    procs = []
    try:
        for i, port in enumerate(ports):
            extra = [] if i == 0 else ["--replicaof", "127.0.0.1", str(ports[0])]
            d = os.path.join(workdir, "node%d" % i)
            os.makedirs(d, exist_ok=True)
            p = Proc("%s node %d" % (name, i), redis_argv(port, d, extra),
                     os.path.join(d, "server.log"), ctx.server_cpus)
            procs.append(p)
            wait_ready(p, port)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            info = resp_command(ports[0], "INFO", "replication")
            if info.count("state=online") == replicas:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("replicas of %s did not come online:\n%s" % (name, info))
            time.sleep(0.1)
    except Exception:
        for p in procs:
            p.stop()
        raise
    return Running(procs, ports[0], procs[0].pid)


def spindled_path(ctx):
    if ctx.spindled:
        return ctx.spindled if os.access(ctx.spindled, os.X_OK) else None
    for rel in ["spindled", "dataplane/bin/spindled", "dataplane/spindled"]:
        path = os.path.join(ctx.build, rel)
        if os.access(path, os.X_OK):
            return path
    return None


def spindled_help(ctx):
    """spindled's --help and --help-config text (what its options are), or None."""
    path = spindled_path(ctx)
    if path is None:
        return None
    text = ""
    for flag in ("--help", "--help-config"):
        try:
            r = subprocess.run([path, flag], capture_output=True, timeout=10)
            text += (r.stdout + r.stderr).decode(errors="replace")
        except (OSError, subprocess.TimeoutExpired):
            pass
    return text


def eal_args():
    """DPDK EAL arguments for spindled, from SPINDLE_EAL_ARGS; by default none, and spindled
    picks its own defaults for this host."""
    return shlex.split(os.environ.get("SPINDLE_EAL_ARGS", ""))


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4]   # all, idle + iowait


def machine_busy(seconds=2.0):
    """The share of all CPUs other work used over a short sample taken while nothing of this
    run is running (a load average would still count the run's own servers minutes later)."""
    total0, idle0 = cpu_times()
    time.sleep(seconds)
    total1, idle1 = cpu_times()
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def spindle_available(needs):
    """An availability check: spindled exists and its help mentions every word of needs."""
    def check(ctx):
        if spindled_path(ctx) is None:
            return "%s not built yet" % (ctx.spindled or
                                          os.path.join(os.path.relpath(ctx.build, ROOT), "spindled"))
        text = spindled_help(ctx)
        missing = [w for w in needs if w not in text]
        if missing:
            return "spindled --help does not offer %s yet" % ", ".join(missing)
        return None
    return check


def spindle_start(args):
    def start(ctx, name):
        port = ctx.ports(1)[0]
        workdir = ctx.workdir(name)
        argv = [spindled_path(ctx), "--port", str(port), "--loops", "1"]
        if "maxclients" in spindled_help(ctx):
            argv += ["--maxclients", str(REDIS_MAXCLIENTS)]  # the same ceiling as Redis
        argv += [a.replace("{dir}", os.path.join(workdir, "data")) for a in args]
        os.makedirs(os.path.join(workdir, "data"), exist_ok=True)
        eal = eal_args()
        p = Proc(name, argv + (["--"] + eal if eal else []), os.path.join(workdir, "server.log"),
                 ctx.server_cpus)
        try:
            wait_ready(p, port)
        except Exception:
            p.stop()
            raise
        return Running([p], port, p.pid)
    return start


LOCAL_CLUSTER = os.path.join(ROOT, "scripts", "local-cluster.sh")


def spindle_cluster_available(ctx):
    problem = spindle_available([])(ctx)
    if problem:
        return problem
    if not os.access(LOCAL_CLUSTER, os.X_OK):
        return "no three-node launcher yet (scripts/local-cluster.sh start PORT DIR)"
    return None


def spindle_cluster_start(ctx, name):
    """Three nodes through the project's launcher: `local-cluster.sh start PORT DIR` starts
    them with the first node's client port at PORT and returns once all answer; `stop DIR`
    stops them."""
    port = ctx.ports(3)[0]
    workdir = ctx.workdir(name)
    r = subprocess.run([LOCAL_CLUSTER, "start", "--binary", spindled_path(ctx), "--segment-bytes", "16m",
                        str(port), workdir], capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("local-cluster.sh start failed:\n" + r.stderr.decode(errors="replace"))
    stopper = ClusterStopper(workdir)
    wait_ready(stopper, port)
    return Running([stopper], port, stopper.first_pid())


class ClusterStopper:
    """Looks like a Proc for the three-node cluster, so that stopping is the same."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.name = "spindle three-node cluster"

    def alive(self):
        return True

    def first_pid(self):
        with open(os.path.join(self.workdir, "n1.pid")) as f:
            return int(f.read().strip())

    def log_tail(self, lines=15):
        return ""

    def stop(self):
        subprocess.run([LOCAL_CLUSTER, "stop", self.workdir], timeout=60)


def redis_available(ctx):
    return None if shutil.which("redis-server") else "redis-server is not installed"


@dataclasses.dataclass
class Target:
    name: str
    available: object   # ctx -> None, or the reason it cannot run here
    start: object       # (ctx, name) -> Running
    bench_args: list = dataclasses.field(default_factory=list)
    spindle: bool = False


# The matrix. A spindle mode that does not exist yet is skipped with the reason.
TARGETS = [
    Target("spindle-memory", spindle_available(["durability", "memory"]),
           spindle_start(["--durability", "memory"]), spindle=True),
    Target("spindle-disk", spindle_available(["durability", "data-dir"]),
           spindle_start(["--durability", "disk", "--data-dir", "{dir}"]), spindle=True),
    Target("spindle-3node", spindle_cluster_available, spindle_cluster_start, spindle=True),
    Target("redis", redis_available, lambda ctx, n: redis_start(ctx, n, [])),
    Target("redis-aof-always", redis_available,
           lambda ctx, n: redis_start(ctx, n, ["--appendonly", "yes", "--appendfsync", "always"])),
    Target("redis-repl2-wait", redis_available, redis_replicated_start,
           bench_args=["--wait", "1:0"]),
]


# ---------------------------------------------------------------------------------------------
# Workloads

@dataclasses.dataclass
class Workload:
    name: str
    title: str
    args: list
    fill: bool = False   # reads: write every key first


WORKLOADS = [
    Workload("set", "SET", ["-w", "set"]),
    Workload("get", "GET", ["-w", "get"], fill=True),
    Workload("mixed-90-10", "90% GET, 10% SET", ["-w", "mixed", "-r", "0.9"], fill=True),
    Workload("incr", "INCR", ["-w", "incr"]),
    Workload("set-p16", "SET, pipeline 16", ["-w", "set", "-P", "16"]),
    Workload("get-p16", "GET, pipeline 16", ["-w", "get", "-P", "16"], fill=True),
]


class Ctx:
    """Settings of this run, and the helpers every target and run uses."""

    def __init__(self, args):
        self.build = os.path.abspath(args.build)
        self.spindled = os.path.abspath(args.spindled) if args.spindled else None
        self.out = os.path.abspath(args.out)
        self.quick = args.quick
        self.server_cpus = parse_cpus(args.server_cpus)
        self.bench_cpus = parse_cpus(args.bench_cpus)
        self.next_port = args.base_port
        self.duration = args.duration if args.duration else (0.5 if args.quick else 3.0)
        self.repeat = args.repeat if args.repeat else (1 if args.quick else 3)
        self.warmup = 0.0 if args.quick else 0.5
        self.keyspace = 1000 if args.quick else 100000
        self.conns = 10 if args.quick else ACTIVE_CONNS
        self.sweep = [0.5] if args.quick else SWEEP_FRACTIONS
        self.scaling = [20, 60] if args.quick else SCALING_CONNS
        self.scaling_duration = 1.5 if args.quick else 8.0
        self.workloads = [w for w in WORKLOADS if not args.quick or w.name in ("set", "get")]
        self.bench_path = os.path.join(self.build, "perf", "bench", "spindle-bench")
        if not os.access(self.bench_path, os.X_OK):
            raise SystemExit("compare: %s not built (ninja -C %s)" % (self.bench_path, args.build))
        os.makedirs(os.path.join(self.out, "runs"), exist_ok=True)

    def ports(self, n):
        ports = ports_pick(self.next_port, n)
        self.next_port = ports[-1] + 1
        return ports

    def workdir(self, name):
        servers = os.path.join(self.out, "servers")
        os.makedirs(servers, exist_ok=True)
        return tempfile.mkdtemp(prefix=name + "-", dir=servers)

    def bench_argv(self, port, label, json_path, args):
        return [self.bench_path, "-h", "127.0.0.1", "-p", str(port), "--label", label,
                "--json", json_path, "--no-progress", "-q"] + args

    def bench(self, target, port, tag, args, timeout_s=None):
        """Runs spindle-bench to the end; returns its JSON result (None on failure)."""
        path = os.path.join(self.out, "runs", "%s--%s.json" % (target, tag))
        argv = self.bench_argv(port, target, path, args)
        limit = timeout_s or (self.duration + self.warmup + 120)
        r = subprocess.run(argv, capture_output=True, timeout=limit,
                           preexec_fn=affinity(self.bench_cpus))
        if r.returncode not in (0, 3) or not os.path.exists(path):
            log("%s %s: spindle-bench failed (status %d): %s" % (
                target, tag, r.returncode, r.stderr.decode(errors="replace").strip()[-400:]))
            return None
        with open(path) as f:
            return json.load(f)

    def closed(self, extra):
        return ["-c", str(self.conns), "-D", str(self.duration + self.warmup),
                "--warmup", str(self.warmup), "-k", str(self.keyspace)] + extra


def parse_cpus(text):
    if not text:
        return None
    cpus = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def summary(result):
    """The figures the report shows, from a spindle-bench JSON result."""
    if result is None:
        return None
    lat = result["latency_us"]
    return {"rps": result["throughput_rps"], "requests": result["requests"],
            "p50": lat["p50"], "p90": lat["p90"], "p99": lat["p99"], "p999": lat["p999"],
            "max": lat["max"], "errors": result["errors"]["total"],
            "connections": result["connections"]}


def median_of(ctx, target, name, results):
    """Keeps the run of median throughput among a workload's rounds (its JSON becomes
    runs/TARGET--NAME.json), with the spread of all of them, so that noise on a shared machine
    shows in the report instead of hiding in one number."""
    if not results:
        return None
    results.sort(key=lambda x: x[0])
    rps, idx, median = results[len(results) // 2]
    shutil.copyfile(os.path.join(ctx.out, "runs", "%s--%s-%d.json" % (target, name, idx)),
                    os.path.join(ctx.out, "runs", "%s--%s.json" % (target, name)))
    s = summary(median)
    s["rps_runs"] = [x[0] for x in results]
    s["spread"] = (results[-1][0] - results[0][0]) / rps if rps else 0.0
    return s


def started(ctx, target):
    """Starts a target; returns (Running, None) or (None, the reason it did not start)."""
    log("%s: starting" % target.name)
    try:
        return target.start(ctx, target.name), None
    except Exception as e:  # a target that does not start is reported, not fatal
        log("%s: failed to start: %s" % (target.name, e))
        return None, str(e)


def stop(running):
    for p in running.procs:
        p.stop()


def run_round(ctx, target, running, rnd, results):
    """One round: every workload once on a freshly started target."""
    filled = False
    for w in ctx.workloads:
        if w.fill and not filled:
            # Every key written once, so that reads find values.
            ctx.bench(target.name, running.port, "fill",
                      ["-c", str(ctx.conns), "-P", "16", "-w", "set", "--dist", "seq",
                       "-n", str(ctx.keyspace), "-k", str(ctx.keyspace)] + target.bench_args)
            filled = True
        log("%s: %s (round %d of %d)" % (target.name, w.title, rnd, ctx.repeat))
        r = ctx.bench(target.name, running.port, "%s-%d" % (w.name, rnd),
                      ctx.closed(w.args + target.bench_args))
        if r is not None:
            results[w.name].append((r["throughput_rps"], rnd, r))


def run_sweep(ctx, target, running, top):
    """Open loop at fractions of the closed-loop SET throughput."""
    sweep = []
    for frac in ctx.sweep:
        rate = max(1.0, round(top * frac))
        log("%s: open loop at %.0f req/s" % (target.name, rate))
        s = summary(ctx.bench(target.name, running.port, "open-%d" % int(frac * 100),
                              ctx.closed(["-w", "set", "-R", str(rate)] + target.bench_args)))
        if s:
            s["offered"] = rate
            sweep.append(s)
    return sweep


def run_targets(ctx, chosen):
    """The matrix. Rounds go over all targets in turn (A B C, A B C, ...), so that a burst of
    other work on the machine lands on one round of one target, not on all its runs; each
    figure is then the median round."""
    out = {}
    for t in chosen:
        reason = t.available(ctx)
        if reason:
            log("%s: skipped: %s" % (t.name, reason))
            out[t.name] = {"name": t.name, "status": "skipped", "reason": reason}
        else:
            out[t.name] = {"name": t.name, "status": "ok", "runs": {}, "sweep": [],
                           "_results": {w.name: [] for w in ctx.workloads}}
    for rnd in range(1, ctx.repeat + 1):
        for t in chosen:
            if out[t.name]["status"] != "ok":
                continue
            running, why = started(ctx, t)
            if running is None:
                out[t.name] = {"name": t.name, "status": "failed", "reason": why}
                continue
            try:
                run_round(ctx, t, running, rnd, out[t.name]["_results"])
            finally:
                stop(running)
    for t in chosen:
        res = out[t.name]
        if res["status"] != "ok":
            continue
        results = res.pop("_results")
        res["runs"] = {w: median_of(ctx, t.name, w, results[w]) for w in results}
        top = res["runs"].get("set") and res["runs"]["set"]["rps"]
        running, why = started(ctx, t) if top else (None, None)
        if running:
            try:
                res["sweep"] = run_sweep(ctx, t, running, top)
            finally:
                stop(running)
    return [out[t.name] for t in chosen]


# ---------------------------------------------------------------------------------------------
# Connection scaling: N connections open on one server loop, a few of them loaded

def scaling_step(ctx, target, n):
    running = target.start(ctx, target.name)
    try:
        active = min(ctx.conns, n // 2)
        ctx.bench(target.name, running.port, "scaling-warm",
                  ["-c", str(active), "-P", "16", "-n", str(ctx.keyspace), "-w", "set",
                   "--dist", "seq", "-k", str(ctx.keyspace)] + target.bench_args)
        time.sleep(0.5)
        rss_base = rss_bytes(running.pid)
        ready = os.path.join(ctx.out, "runs", "%s--scaling-%d.ready" % (target.name, n))
        path = os.path.join(ctx.out, "runs", "%s--scaling-%d.json" % (target.name, n))
        for f in (ready, path):
            if os.path.exists(f):
                os.unlink(f)
        args = ["-c", str(active), "--hold", str(n - active), "-D", str(ctx.scaling_duration),
                "-w", "set", "-k", str(ctx.keyspace), "--source-addrs", "127.0.0.1+4",
                "--ready-file", ready, "--timeout-ms", "30000"] + target.bench_args
        bench = subprocess.Popen(ctx.bench_argv(running.port, target.name, path, args),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 preexec_fn=affinity(ctx.bench_cpus))
        samples = rss_samples(running.pid, bench, ready, ctx.scaling_duration)
        try:
            _, err = bench.communicate(timeout=ctx.scaling_duration + 120)
        except subprocess.TimeoutExpired:
            bench.kill()
            _, err = bench.communicate()
        if bench.returncode != 0 or not os.path.exists(path):
            log("%s scaling %d: spindle-bench failed: %s" % (
                target.name, n, err.decode(errors="replace").strip()[-400:]))
            return None
        with open(path) as f:
            result = json.load(f)
    finally:
        for p in running.procs:
            p.stop()
    s = summary(result)
    held = result["connections"]["held"] + result["connections"]["active"]
    # The last sample is the steady state: idle connections have been idle for seconds, and
    # the server has trimmed whatever it trims for idle clients.
    steady = samples[-1] if samples else None
    s.update({"conns": n, "open": held, "rss_base": rss_base, "rss_during": steady,
              "rss_peak": max(samples) if samples else None,
              "bytes_per_conn": (steady - rss_base) / held if steady and held else None})
    return s


def rss_samples(pid, bench, ready, duration_s):
    """The server's RSS every quarter second from the moment all connections are open until
    half a second before the load generator starts closing them."""
    deadline = time.monotonic() + 180
    while not os.path.exists(ready) and bench.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not os.path.exists(ready):
        return []
    samples = []
    end = time.monotonic() + duration_s - 0.5
    while time.monotonic() < end and bench.poll() is None:
        samples.append(rss_bytes(pid))
        time.sleep(0.25)
    return samples


def run_scaling(ctx, target):
    if target.available(ctx) or target.name not in SCALING_TARGETS:
        return None
    steps = []
    for n in ctx.scaling:
        log("%s: scaling, %d connections" % (target.name, n))
        try:
            s = scaling_step(ctx, target, n)
        except Exception as e:
            log("%s scaling %d: %s" % (target.name, n, e))
            s = None
        if s:
            steps.append(s)
    return {"name": target.name, "steps": steps}


# ---------------------------------------------------------------------------------------------
# The run as a whole

def machine():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    return {"cores": os.cpu_count(), "model": model, "kernel": platform.release(),
            "memory_mib": mem}


def main():
    ap = argparse.ArgumentParser(description="spindle against Redis: throughput, latency, "
                                 "connection scaling, in one run")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="meson build dir")
    ap.add_argument("--spindled", help="spindled binary (default: BUILD/spindled)")
    ap.add_argument("--out", help="output dir (default perf/results/DATE)")
    ap.add_argument("--quick", action="store_true", help="seconds, not minutes: a smoke run")
    ap.add_argument("--duration", type=float, help="seconds measured per run")
    ap.add_argument("--repeat", type=int, help="runs per workload, the median kept (3; quick: 1)")
    ap.add_argument("--targets", help="comma-separated target names (default: all)")
    ap.add_argument("--no-scaling", action="store_true", help="skip the connection scaling")
    ap.add_argument("--scaling-only", action="store_true", help="only the connection scaling")
    ap.add_argument("--base-port", type=int, default=17600, help="first port to try")
    ap.add_argument("--server-cpus", help="pin servers to these CPUs, e.g. 0 (default: none)")
    ap.add_argument("--bench-cpus", help="pin spindle-bench to these CPUs (default: none)")
    ap.add_argument("--keep", action="store_true", help="keep the servers' data directories")
    args = ap.parse_args()
    if not PORT_FIRST <= args.base_port <= PORT_LAST:
        ap.error("--base-port must be in %d-%d" % (PORT_FIRST, PORT_LAST))
    now = datetime.datetime.now(datetime.timezone.utc)
    args.out = args.out or os.path.join(ROOT, "perf", "results", now.strftime("%Y%m%d-%H%M%S"))
    raise_nofile()
    ctx = Ctx(args)
    names = args.targets.split(",") if args.targets else [t.name for t in TARGETS]
    unknown = set(names) - {t.name for t in TARGETS}
    if unknown:
        ap.error("unknown targets: %s (known: %s)" % (", ".join(sorted(unknown)),
                                                     ", ".join(t.name for t in TARGETS)))
    chosen = [t for t in TARGETS if t.name in names]
    meta = {"date": now.strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join(["perf/compare.py"] + [shlex.quote(a) for a in sys.argv[1:]]),
            "machine": machine(),
            "pinned": ", ".join(x for x in [args.server_cpus and "servers on " + args.server_cpus,
                                             args.bench_cpus and "bench on " + args.bench_cpus] if x)}
    busy_before = machine_busy()
    targets = [] if args.scaling_only else run_targets(ctx, chosen)
    scaling = None
    if not args.no_scaling:
        scaling = [s for s in (run_scaling(ctx, t) for t in chosen) if s]
    meta["busy"] = {"before": busy_before, "after": machine_busy()}
    if not args.keep:
        shutil.rmtree(os.path.join(ctx.out, "servers"), ignore_errors=True)
    report = compare_report.markdown(ctx, meta, targets, scaling, REDIS_MODES)
    with open(os.path.join(ctx.out, "report.md"), "w") as f:
        f.write(report)
    with open(os.path.join(ctx.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "settings": {"connections": ctx.conns, "duration_s": ctx.duration,
                                              "warmup_s": ctx.warmup, "keyspace": ctx.keyspace},
                   "targets": targets, "scaling": scaling}, f, indent=1)
    png = compare_report.plot(ctx, meta, targets, scaling)
    print(report)
    log("wrote %s/report.md, results.json%s" % (ctx.out, ", plot.png" if png else ""))
    failed = [t["name"] for t in targets if t["status"] == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

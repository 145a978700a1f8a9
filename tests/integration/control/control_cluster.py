"""A local cluster with the control plane (scripts/local-cluster.sh --control) for the tests:
spindlectl on any node, the control daemons' status and logs, and clients that write
throughout a test and measure how long a write can take across a fault."""
import binascii
import json
import os
import random
import socket
import subprocess
import threading
import time

import redis

from spindle_cluster import Cluster, dpdk_possible
from spindle_proc import BUILD_DIR

CONTROL_BIN = os.path.join(BUILD_DIR, "control/daemon/spindle-control")
SPINDLECTL = os.path.join(BUILD_DIR, "control/daemon/spindlectl")
LANE_SLOTS = 16384


def lane_of(key, lanes):
    """The lane of a key: Redis Cluster's hash slot (CRC16 XMODEM of the key or its {tag}),
    then the slot range of each lane, as spindled places keys."""
    k = key.encode()
    open_ = k.find(b"{")
    if open_ >= 0:
        close = k.find(b"}", open_ + 1)
        if close > open_ + 1:
            k = k[open_ + 1:close]
    slot = binascii.crc_hqx(k, 0) % LANE_SLOTS
    return slot * lanes // LANE_SLOTS


def keys_in_lane(lane, lanes, prefix, count):
    out, i = [], 0
    while len(out) < count:
        k = "%s%d" % (prefix, i)
        if lane_of(k, lanes) == lane:
            out.append(k)
        i += 1
    return out


def _udp_free(ip, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((ip, port))
            return True
        except OSError:
            return False


def _tcp_free(ip, port):
    with socket.socket() as s:
        try:
            s.bind((ip, port))
            return True
        except OSError:
            return False


def free_ports(nodes, lanes):
    """Ports nobody uses on 127.0.1.1..nodes (other clusters may run on this machine): a
    range of `lanes` UDP ports for the replication transport, a UDP port for the management
    network and a TCP port for the metrics."""
    rng = random.Random(os.getpid())
    ips = ["127.0.1.%d" % i for i in range(1, nodes + 1)]
    for _ in range(1000):
        base = rng.randrange(17000, 17990 - lanes - 2)
        repl = range(base, base + lanes)
        mgmt, metrics = base + lanes, base + lanes + 1
        if all(_udp_free(ip, p) for ip in ips for p in list(repl) + [mgmt]) and \
                all(_tcp_free(ip, metrics) for ip in ips):
            return base, mgmt, metrics
    raise RuntimeError("no free ports for a cluster")


class ControlCluster(Cluster):
    def __init__(self, spares=0, control_settings=(), **kw):
        super().__init__(**kw)
        self.spares = spares
        self.control_settings = list(control_settings)
        self.repl_port, self.mgmt_port, self.metrics_port = free_ports(
            self.nodes + spares, self.lanes)
        self.settings.append("repl-udp-port %d" % self.repl_port)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            print("cluster logs kept in", self.dir)
            raise

    def start(self):
        args = ["start", "--nodes", self.nodes, "--transport", self.transport, "--lanes",
                self.lanes, "--loops", self.loops, "--segment-bytes", "4m", "--binary",
                self.binary, "--control", "--control-binary", CONTROL_BIN, "--spares",
                self.spares, "--mgmt-port", self.mgmt_port, "--metrics-port", self.metrics_port]
        for s in self.settings:
            args += ["--set", s]
        for s in self.control_settings:
            args += ["--control-set", s]
        self.run(*(args + [self.port, self.dir]))
        return self

    # ---- spindlectl and the control daemons ----

    def ctl(self, node, *args, timeout=90):
        """spindlectl on node's control daemon: (exit code, stdout, stderr)."""
        out = subprocess.run([SPINDLECTL, "--socket", os.path.join(self.dir, "c%d.sock" % node)]
                             + [str(a) for a in args], capture_output=True, text=True,
                             timeout=timeout)
        return out.returncode, out.stdout, out.stderr

    def status(self, node=None):
        for n in ([node] if node else self.live_control_nodes()):
            rc, out, err = self.ctl(n, "status", "--json", timeout=10)
            if rc == 0:
                return json.loads(out)
        raise AssertionError("no control daemon answers status\n%s" % self.logs_tail())

    def live_control_nodes(self):
        live = []
        for i in range(1, self.nodes + self.spares + 1):
            try:
                with open(os.path.join(self.dir, "c%d.pid" % i)) as f:
                    pid = int(f.read())
                os.kill(pid, 0)
                live.append(i)
            except (OSError, ValueError):
                pass
        return live

    def leader(self):
        return self.status()["leader"]

    def primaries(self):
        return [l["primary"] for l in self.status()["lanes"]]

    def ctl_action(self, action, node):
        self.run("ctl", action, node, self.dir)

    def lanes_ok(self, node=None):
        s = self.status(node)
        return s["view_age_ms"] is not None and all(l["state"] == "ok" for l in s["lanes"])

    def all_in_sync(self, node=None):
        s = self.status(node)
        return self.lanes_ok(node) and all(set(l["in_sync"]) == set(l["voters"]) for l in s["lanes"])

    def ctl_log(self, node):
        try:
            with open(os.path.join(self.dir, "c%d.log" % node), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def logs_tail(self, lines=15):
        text = super().logs_tail(lines)
        for i in range(1, self.nodes + self.spares + 1):
            text += "\n--- control %d\n%s" % (i, "\n".join(self.ctl_log(i).splitlines()[-lines:]))
        return text

    def check_logs_clean(self):
        super().check_logs_clean()
        for i in range(1, self.nodes + self.spares + 1):
            for bad in ("PANIC", "AddressSanitizer", "runtime error:", "FATAL"):
                if bad in self.ctl_log(i):
                    raise AssertionError("control %d log shows %s:\n%s" % (i, bad, self.ctl_log(i)[-3000:]))


class Writers:
    """Threads that write unique keys through the given nodes until stopped. Every write is
    retried (same key, same value) until acknowledged, so a write's duration includes any
    stall; acked maps each acknowledged key to its value."""

    def __init__(self, cluster, nodes, threads_per_node=2, prefix="w"):
        self.c = cluster
        self.nodes = list(nodes)
        self.threads_per_node = threads_per_node
        self.prefix = prefix
        self.acked = {}
        self.ops = []          # (start, end) of every acknowledged write
        self.errors = {}
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.threads = []

    def _run(self, tid, node):
        r = self.c.client(node, socket_timeout=2)
        i = 0
        while not self.stop_flag.is_set():
            key, val = "%s%d-%d" % (self.prefix, tid, i), str(i)
            start = time.time()
            while not self.stop_flag.is_set():
                try:
                    if r.set(key, val):
                        end = time.time()
                        with self.lock:
                            self.acked[key] = val
                            self.ops.append((start, end))
                        break
                except (redis.RedisError, OSError) as e:
                    with self.lock:
                        k = str(e)[:50]
                        self.errors[k] = self.errors.get(k, 0) + 1
                    time.sleep(0.005)
            i += 1

    def start(self):
        tid = 0
        for node in self.nodes:
            for _ in range(self.threads_per_node):
                t = threading.Thread(target=self._run, args=(tid, node), daemon=True)
                t.start()
                self.threads.append(t)
                tid += 1
        return self

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(10)

    def count(self):
        with self.lock:
            return len(self.acked)

    def wait_writes(self, n, timeout_s=30):
        base = self.count()
        deadline = time.time() + timeout_s
        while self.count() < base + n:
            if time.time() > deadline:
                raise AssertionError("writers made no progress (%d acked, errors %s)\n%s"
                                     % (self.count(), self.errors, self.c.logs_tail()))
            time.sleep(0.02)

    def longest_after(self, t):
        """The longest write that was in flight at t or started after it, and when it started
        (relative to t)."""
        with self.lock:
            ops = [(e - s, s - t) for s, e in self.ops if e >= t]
        return max(ops) if ops else (0.0, 0.0)

    def check_all(self, node):
        """Every acknowledged write reads back through node (linearizable reads)."""
        r = self.c.client(node, socket_timeout=10)
        keys = list(self.acked)
        lost = []
        for i in range(0, len(keys), 200):
            chunk = keys[i:i + 200]
            for attempt in range(50):
                try:
                    got = r.mget(chunk)
                    break
                except (redis.RedisError, OSError):
                    time.sleep(0.1)
            else:
                raise AssertionError("reads through node %d keep failing" % node)
            lost += [k for k, v in zip(chunk, got) if v is None or v.decode() != self.acked[k]]
        return lost


def transports():
    return ["udp"] + (["dpdk"] if dpdk_possible() else [])

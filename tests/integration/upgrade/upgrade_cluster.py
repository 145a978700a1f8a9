"""What the upgrade tests share: a control-plane cluster on this helper's fixed ports (client
ports 17300-17399, management 17640, metrics 17740) started from an "installed" copy of the
binaries, the binaries' copies themselves, and writers that move to another node when theirs
goes away, as a cluster-aware client would."""
import os
import shutil
import subprocess
import tempfile
import time

import redis

from control_cluster import ControlCluster, Writers
from spindle_proc import BUILD_DIR

BINARIES = {"spindled": "spindled", "spindle-control": "control/daemon/spindle-control",
            "spindlectl": "control/daemon/spindlectl"}
PORT_BASE, PORT_LAST = 17300, 17399
MGMT_PORT, METRICS_PORT = 17640, 17740
NEW_MARK = b"\0spindle upgrade test: the new release\0"


def binaries_copy(into, mark=b""):
    """Copies the built binaries into a directory; mark is appended to each file (the kernel
    ignores bytes after an ELF file's sections), so that two copies of one build can be told
    apart by their contents."""
    os.makedirs(into, exist_ok=True)
    for name, rel in BINARIES.items():
        dst = os.path.join(into, name)
        shutil.copy2(os.path.join(BUILD_DIR, rel), dst)
        if mark:
            with open(dst, "ab") as f:
                f.write(mark)
    return into


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


class UpgradeCluster(ControlCluster):
    """A ControlCluster on fixed ports in this suite's range, running the binaries of a
    directory (spindled, spindle-control, spindlectl)."""

    def __init__(self, bindir, port_offset=0, **kw):
        super().__init__(**kw)
        self.bindir = bindir
        self.binary = os.path.join(bindir, "spindled")
        self.control_binary = os.path.join(bindir, "spindle-control")
        self.port = self._ports(PORT_BASE + port_offset)
        self.mgmt_port, self.metrics_port = MGMT_PORT, METRICS_PORT
        # Replication over UDP: each node has its own address, these ports on it.
        self.settings = [s for s in self.settings if not s.startswith("repl-udp-port")]
        self.settings.append("repl-udp-port %d" % (self.port + 50))

    def _ports(self, first):
        for p in range(first, PORT_LAST - self.nodes, 10):
            if all(self._port_free(p + i) for i in range(self.nodes)):
                return p
        raise RuntimeError("no free client ports in %d-%d" % (PORT_BASE, PORT_LAST))

    def start(self):
        args = ["start", "--nodes", self.nodes, "--transport", self.transport, "--lanes",
                self.lanes, "--loops", self.loops, "--segment-bytes", "4m", "--binary",
                self.binary, "--control", "--control-binary", self.control_binary, "--spares",
                self.spares, "--mgmt-port", self.mgmt_port, "--metrics-port", self.metrics_port]
        for s in self.settings:
            args += ["--set", s]
        for s in self.control_settings:
            args += ["--control-set", s]
        self.run(*(args + [self.port, self.dir]))
        return self

    def pid(self, kind, node):
        with open(os.path.join(self.dir, "%s%d.pid" % (kind, node))) as f:
            return int(f.read())

    def exe(self, kind, node):
        """The file a daemon runs, as the kernel names it (" (deleted)" once replaced)."""
        return os.readlink("/proc/%d/exe" % self.pid(kind, node))

    def lane_indexes(self, node):
        """(lane, applied, commit) of every lane on a node."""
        return [(l["lane"], l["applied"], l["commit"]) for l in self.lanes_state(node)]


class MovingWriters(Writers):
    """Writers (control_cluster) that each write through one node until that node fails,
    then through the next, so a write's duration includes the move; moves counts them."""

    def __init__(self, cluster, threads=6, prefix="up"):
        super().__init__(cluster, [tid % cluster.nodes + 1 for tid in range(threads)],
                         threads_per_node=1, prefix=prefix)
        self.moves = 0

    def _client(self, node):
        return self.c.client(node, socket_timeout=3, socket_connect_timeout=1)

    def _run(self, tid, node):
        r = self._client(node)
        i = 0
        while not self.stop_flag.is_set():
            key, val = "%s%d-%d" % (self.prefix, tid, i), "v%d.%d" % (tid, i)
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
                        k = str(e)[:60]
                        self.errors[k] = self.errors.get(k, 0) + 1
                        self.moves += 1
                    r.close()
                    node = node % self.c.nodes + 1
                    r = self._client(node)
                    time.sleep(0.005)
            i += 1
        r.close()

    def longest_write(self, since=0.0):
        """The longest acknowledged write (s) still in flight at `since` or later, and when it
        started (epoch seconds)."""
        with self.lock:
            ops = [((e - s), s) for s, e in self.ops if e >= since]
        return max(ops) if ops else (0.0, 0.0)

    def longest_silence(self, since=0.0):
        """The longest time (s) from `since` on in which no write at all was acknowledged."""
        with self.lock:
            ends = sorted(e for _, e in self.ops if e >= since)
        return max((b - a for a, b in zip(ends, ends[1:])), default=0.0)

    def missing(self, node, readonly=False):
        """Acknowledged keys whose value a node does not return (its own replica with
        readonly, else a linearizable read)."""
        r = self.c.client(node, socket_timeout=10)
        if readonly:
            r.execute_command("READONLY")
        keys = list(self.acked)
        bad = []
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            for attempt in range(50):
                try:
                    got = r.mget(chunk)
                    break
                except (redis.RedisError, OSError):   # TRYAGAIN while a lane moves
                    time.sleep(0.1)
            else:
                raise AssertionError("reads through node %d keep failing" % node)
            bad += [k for k, v in zip(chunk, got) if v is None or v.decode() != self.acked[k]]
        r.close()
        return bad


def run_script(args, timeout_s=240):
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)
    return out.returncode, out.stdout + out.stderr


def scratch_dir():
    return tempfile.mkdtemp(prefix="spindle-upgrade-")

"""A local spindle cluster for the tests, driven through scripts/local-cluster.sh: start it in
a fresh directory, reach each node with a redis client, kill or restart nodes, and stop it
(also on failure, keeping the logs for reading)."""
import os
import shutil
import subprocess
import tempfile
import time

import redis

from spindle_proc import BUILD_DIR, free_port

SOURCE_DIR = os.environ.get("SPINDLE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
SCRIPT = os.path.join(SOURCE_DIR, "scripts/local-cluster.sh")


def dpdk_possible():
    return os.geteuid() == 0


class Cluster:
    def __init__(self, nodes=3, transport=None, lanes=4, loops=1, bootstrap_primary=0,
                 settings=(), binary=None, control_socket=False):
        self.nodes = nodes
        self.transport = transport or ("dpdk" if dpdk_possible() else "udp")
        self.lanes, self.loops = lanes, loops
        self.bootstrap_primary = bootstrap_primary
        self.settings = list(settings)
        self.control_socket = control_socket
        self.binary = binary or os.path.join(BUILD_DIR, "spindled")
        self.dir = tempfile.mkdtemp(prefix="spindle-cluster-")
        # Consecutive free ports for the nodes' clients.
        while True:
            self.port = free_port()
            if all(self._port_free(self.port + i) for i in range(nodes)):
                break

    @staticmethod
    def _port_free(port):
        import socket
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return True
            except OSError:
                return False

    def run(self, *args, check=True):
        out = subprocess.run([SCRIPT] + [str(a) for a in args], capture_output=True, text=True,
                             timeout=120)
        if check and out.returncode != 0:
            raise RuntimeError("local-cluster.sh %s failed:\n%s%s\n%s" % (
                " ".join(map(str, args)), out.stdout, out.stderr, self.logs_tail()))
        return out

    def start(self):
        args = ["start", "--nodes", self.nodes, "--transport", self.transport, "--lanes",
                self.lanes, "--loops", self.loops, "--bootstrap-primary", self.bootstrap_primary,
                "--segment-bytes", "4m", "--binary", self.binary]
        for s in self.settings:
            args += ["--set", s]
        if self.control_socket:
            args += ["--control-sockets"]
        self.run(*(args + [self.port, self.dir]))
        return self

    def stop(self):
        self.run("stop", self.dir, check=False)

    def client(self, node, **kw):
        kw.setdefault("socket_timeout", 15)
        return redis.Redis(port=self.port + node - 1, **kw)

    def kill(self, node):
        self.run("kill", node, self.dir)

    def restart(self, node):
        self.run("restart", node, self.dir)

    def pause(self, node):
        self.run("pause", node, self.dir)

    def resume(self, node):
        self.run("resume", node, self.dir)

    def log(self, node):
        try:
            with open(os.path.join(self.dir, "n%d.log" % node), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def logs_tail(self, lines=15):
        return "\n".join("--- node %d\n%s" % (i, "\n".join(self.log(i).splitlines()[-lines:]))
                         for i in range(1, self.nodes + 1))

    def lanes_state(self, node):
        """SPINDLE LANES as a list of dicts."""
        raw = self.client(node).execute_command("SPINDLE", "LANES")
        out = []
        for item in raw:
            if isinstance(item, dict):
                out.append({k.decode() if isinstance(k, bytes) else k: v for k, v in item.items()})
            else:
                out.append({item[i].decode(): item[i + 1] for i in range(0, len(item), 2)})
        return out

    def wait_until(self, what, timeout_s=10.0, interval=0.05):
        deadline = time.time() + timeout_s
        last = None
        while time.time() < deadline:
            try:
                last = what()
                if last:
                    return last
            except (redis.RedisError, OSError) as e:
                last = e
            time.sleep(interval)
        # Said again after the logs: CI keeps only the tail of a long failure.
        raise AssertionError("condition not met within %.1fs (last: %r)\n%s\n=== %s: not met "
                             "within %.1fs" % (timeout_s, last, self.logs_tail(),
                                               getattr(what, "__name__", "condition"), timeout_s))

    def check_logs_clean(self):
        for i in range(1, self.nodes + 1):
            text = self.log(i)
            for bad in ("PANIC", "AddressSanitizer", "runtime error:"):
                if bad in text:
                    raise AssertionError("node %d log shows %s:\n%s" % (i, bad, text[-3000:]))

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if exc_type is None:
            self.check_logs_clean()
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("cluster logs kept in", self.dir)
        return False

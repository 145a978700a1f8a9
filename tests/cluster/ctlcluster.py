"""The fault suite's cluster: scripts/local-cluster.sh --control, so that spindle-control runs
beside every spindled and fails lanes over, with spare nodes for membership changes.

It keeps track of the members (the nodes in the cluster now: a removed node leaves, an added
spare joins) and of every node that ever ran (whose logs are checked). Ports: the nodes'
client ports from SPINDLE_FAULTS_PORT (17100) upwards, the control daemons' management and
metrics ports SPINDLE_FAULTS_MGMT_PORT (17620) and SPINDLE_FAULTS_METRICS_PORT (17720), so
that the suite can share a machine with other clusters."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import redis

from spindle_cluster import Cluster
from spindle_proc import BUILD_DIR

CONTROL_BIN = os.path.join(BUILD_DIR, "control/daemon/spindle-control")
SPINDLECTL = os.path.join(BUILD_DIR, "control/daemon/spindlectl")
PORT_BASE = int(os.environ.get("SPINDLE_FAULTS_PORT", "17100"))
PORT_SPAN = 100             # client ports; UDP replication (without root) 100 above
MGMT_PORT = int(os.environ.get("SPINDLE_FAULTS_MGMT_PORT", "17620"))
METRICS_PORT = int(os.environ.get("SPINDLE_FAULTS_METRICS_PORT", "17720"))


def _tcp_free(ip, port):
    with socket.socket() as s:
        try:
            s.bind((ip, port))
            return True
        except OSError:
            return False


def _udp_free(ip, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((ip, port))
            return True
        except OSError:
            return False


class FaultCluster(Cluster):
    def __init__(self, nodes, lanes, settings=(), binary=None, spares=0, control_settings=()):
        # Cluster.__init__ picks a port anywhere; this one stays in the suite's range.
        self.nodes, self.spares = nodes, spares
        self.transport = "dpdk" if os.geteuid() == 0 else "udp"
        self.lanes, self.loops = lanes, 1
        self.bootstrap_primary = 0
        self.settings = list(settings)
        self.control_settings = list(control_settings)
        self.control_socket = True
        self.binary = binary or os.path.join(BUILD_DIR, "spindled")
        self.dir = tempfile.mkdtemp(prefix="spindle-faults-")
        self.mgmt_port = MGMT_PORT
        self.members = list(range(1, nodes + 1))
        self.started = list(self.members)
        self.port = self._pick_port()
        if self.transport == "udp":
            self.settings.append("repl-udp-port %d" % (self.port + PORT_SPAN))

    def _pick_port(self):
        total = self.nodes + self.spares
        ips = ["127.0.1.%d" % i for i in range(1, total + 1)]
        for base in range(PORT_BASE, PORT_BASE + PORT_SPAN - total):
            if all(_tcp_free("127.0.0.1", base + i) for i in range(total)) and \
                    all(_udp_free(ip, MGMT_PORT) and _tcp_free(ip, METRICS_PORT) for ip in ips):
                return base
        raise RuntimeError("no free ports for a cluster in %d-%d (or the management ports "
                           "%d/%d are taken)" % (PORT_BASE, PORT_BASE + PORT_SPAN, MGMT_PORT,
                                                 METRICS_PORT))

    def start(self):
        args = ["start", "--nodes", self.nodes, "--transport", self.transport, "--lanes",
                self.lanes, "--loops", self.loops, "--segment-bytes", "4m", "--binary",
                self.binary, "--control", "--control-binary", CONTROL_BIN, "--spares",
                self.spares, "--mgmt-port", MGMT_PORT, "--metrics-port", METRICS_PORT]
        for s in self.settings:
            args += ["--set", s]
        for s in self.control_settings:
            args += ["--control-set", s]
        self.run(*(args + [self.port, self.dir]))
        return self

    def all_nodes(self):
        return list(range(1, self.nodes + self.spares + 1))

    # ---- spindlectl and the control daemons ----

    def ctl(self, node, *args, timeout=60):
        """spindlectl on node's control daemon: (exit code, stdout, stderr)."""
        try:
            out = subprocess.run([SPINDLECTL, "--socket", os.path.join(self.dir, "c%d.sock" % node)]
                                 + [str(a) for a in args], capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, "", "spindlectl did not return within %d s" % timeout
        return out.returncode, out.stdout, out.stderr

    def ctl_running(self, node):
        return self._pid_alive("c%d.pid" % node)

    def running(self, node):
        return self._pid_alive("n%d.pid" % node)

    def _pid_alive(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                os.kill(int(f.read()), 0)
            return True
        except (OSError, ValueError):
            return False

    def status(self, prefer=None):
        """spindlectl status --json from the first daemon that answers (prefer first), or
        None."""
        order = ([prefer] if prefer else []) + [n for n in self.members if n != prefer]
        for n in order:
            if not self.ctl_running(n):
                continue
            rc, out, _ = self.ctl(n, "status", "--json", timeout=10)
            if rc == 0:
                try:
                    return json.loads(out)
                except ValueError:
                    pass
        return None

    def leader(self):
        s = self.status()
        return s["leader"] if s else None

    def primaries(self, prefer=None):
        s = self.status(prefer)
        return [l["primary"] for l in s["lanes"]] if s else None

    def settled(self, prefer=None):
        """Every lane acting with all its voters in sync, as the leader sees it."""
        s = self.status(prefer)
        return bool(s) and s["view_age_ms"] is not None and \
            all(l["state"] == "ok" and set(l["in_sync"]) == set(l["voters"]) for l in s["lanes"])

    def ctl_action(self, action, node):
        self.run("ctl", action, node, self.dir)

    def add(self, node):
        """Starts spare `node` (both daemons) and adds it (spindlectl node add)."""
        self.started.append(node)
        out = self.run("add", node, self.dir, check=False)
        if out.returncode == 0 and node not in self.members:
            self.members.append(node)
        return out

    def stop_node(self, node):
        """SIGTERM to both daemons of a node that left the cluster, then SIGKILL."""
        for kind in ("c", "n"):
            self._signal("%s%d.pid" % (kind, node))
        if node in self.members:
            self.members.remove(node)

    def _signal(self, pidfile):
        try:
            with open(os.path.join(self.dir, pidfile)) as f:
                pid = int(f.read())
        except (OSError, ValueError):
            return
        for sig in (signal.SIGCONT, signal.SIGTERM):
            try:
                os.kill(pid, sig)
            except OSError:
                return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.1)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass

    def wipe(self, node):
        """Removes a stopped node's data (spindled's and spindle-control's directories)."""
        for d in ("n%d" % node, "c%d" % node):
            shutil.rmtree(os.path.join(self.dir, d), ignore_errors=True)

    def client(self, node, **kw):
        kw.setdefault("socket_timeout", 15)
        return redis.Redis(port=self.port + node - 1, **kw)

    def ctl_log(self, node):
        try:
            with open(os.path.join(self.dir, "c%d.log" % node), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def logs_tail(self, lines=15):
        out = []
        for i in self.started:
            out.append("--- node %d\n%s" % (i, "\n".join(self.log(i).splitlines()[-lines:])))
            out.append("--- control %d\n%s" % (i, "\n".join(self.ctl_log(i).splitlines()[-lines:])))
        return "\n".join(out)

"""Faults injected into a running local cluster from outside, each with its cure.

  Kill        kill -9 of nodes; healed by restarting them (their data kept)
  Pause       SIGSTOP; healed by SIGCONT
  LinkDown    the bridge end of a node's replication veth down; healed by up
  Partition   nftables rules (bridge family) on the cluster bridge's ports dropping frames
              between groups of nodes, both ways or one way
  Loss        an nftables rule dropping a share of the frames on every port of the bridge
  Hooks       duplication, reordering and delay from the transport's fault hooks
              (spindled-faults, admin command SPINDLE FAULTS); healed by "off"
  DiskFull    a node's data directory on a small tmpfs, filled by a balloon file while a
              writer pushes large values so the node's log needs new segments; healed by
              removing the balloon
Network faults need root and the DPDK transport (the veth pairs and bridge of
scripts/local-cluster.sh); DiskFull needs root to mount. Every fault's cleanup() is safe to
call at any time, also twice, so a failed case leaves nothing behind."""
import os
import re
import subprocess
import time

import redis

from workers import Filler


def sh(*args, check=True):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed: %s%s" % (" ".join(map(str, args)), p.stdout, p.stderr))
    return p


class Fault:
    name = "none"
    needs = ()          # of "root", "dpdk", "hooks"
    log_allowed = ()    # log lines this fault may cause that would otherwise fail the check
    binary = "spindled"

    def prepare(self, c):
        """Before the cluster starts."""

    def start(self, c):
        pass

    def heal(self, c):
        pass

    def cleanup(self, c):
        """After the cluster stopped, or on any failure."""

    def effect(self, c):
        """Before healing: evidence that the fault bit (a short text), or None if it
        visibly did nothing, which fails the case (a fault that misses proves nothing)."""
        return "-"

    def describe(self):
        return self.name


class Kill(Fault):
    needs = ()

    def __init__(self, nodes):
        self.nodes = list(nodes)
        self.name = "kill -9 " + ",".join("n%d" % n for n in self.nodes)

    def start(self, c):
        for n in self.nodes:
            c.kill(n)

    def heal(self, c):
        for n in self.nodes:
            c.restart(n)


class Pause(Fault):
    def __init__(self, nodes):
        self.nodes = list(nodes)
        self.name = "SIGSTOP " + ",".join("n%d" % n for n in self.nodes)

    def start(self, c):
        for n in self.nodes:
            c.pause(n)

    def heal(self, c):
        for n in self.nodes:
            c.resume(n)

    def cleanup(self, c):
        for n in self.nodes:
            c.run("resume", n, c.dir, check=False)


class LinkDown(Fault):
    needs = ("root", "dpdk")

    def __init__(self, nodes):
        self.nodes = list(nodes)
        self.name = "link down " + ",".join("n%d" % n for n in self.nodes)

    def start(self, c):
        for n in self.nodes:
            c.run("link", "down", n, c.dir)

    def heal(self, c):
        for n in self.nodes:
            c.run("link", "up", n, c.dir)

    def cleanup(self, c):
        for n in self.nodes:
            c.run("link", "up", n, c.dir, check=False)


def bridge_port(c, node):
    """The bridge end of a node's veth pair (scripts/local-cluster.sh names them)."""
    return "s%dn%db" % (c.port, node)


class Nft:
    """One nftables table in the bridge family per cluster, holding a forward chain whose
    rules match only this cluster's bridge ports (other clusters may share the host)."""

    def __init__(self, c):
        self.c = c
        self.table = "spindle_faults_%d" % c.port

    def apply(self, rules):
        self.clear()
        script = ["add table bridge %s" % self.table,
                  "add chain bridge %s faults { type filter hook forward priority 0; "
                  "policy accept; }" % self.table]
        script += ["add rule bridge %s faults %s" % (self.table, r) for r in rules]
        p = subprocess.run(["nft", "-f", "-"], input="\n".join(script) + "\n", text=True,
                           capture_output=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("nft refused the rules:\n%s\n%s" % ("\n".join(script), p.stderr))

    def clear(self):
        sh("nft", "delete", "table", "bridge", self.table, check=False)

    def dropped(self):
        """Frames the table's rules dropped so far."""
        p = sh("nft", "list", "table", "bridge", self.table, check=False)
        return sum(int(m) for m in re.findall(r"counter packets (\d+)", p.stdout))


def nft_effect(c):
    n = Nft(c).dropped()
    return "%d frames dropped" % n if n > 0 else None


class Partition(Fault):
    """Drops every frame from a node in `a` to a node in `b` (and back, unless one_way)."""
    needs = ("root", "dpdk")

    def __init__(self, a, b, one_way=False):
        self.a, self.b, self.one_way = list(a), list(b), one_way
        arrow = "->" if one_way else "<->"
        self.name = "partition %s %s %s" % (",".join("n%d" % n for n in self.a), arrow,
                                           ",".join("n%d" % n for n in self.b))

    def rules(self, c):
        out = []
        pairs = [(x, y) for x in self.a for y in self.b]
        if not self.one_way:
            pairs += [(y, x) for x, y in pairs]
        for x, y in pairs:
            out.append('iifname "%s" oifname "%s" counter drop' % (bridge_port(c, x),
                                                                 bridge_port(c, y)))
        return out

    def start(self, c):
        Nft(c).apply(self.rules(c))

    def heal(self, c):
        Nft(c).clear()

    cleanup = heal
    effect = staticmethod(nft_effect)


class Loss(Fault):
    """Drops `percent` of the frames leaving through any port of the cluster's bridge."""
    needs = ("root", "dpdk")

    def __init__(self, percent, nodes):
        self.percent, self.nodes = percent, list(nodes)
        self.name = "loss %d%%" % percent

    def start(self, c):
        ports = ", ".join('"%s"' % bridge_port(c, n) for n in self.nodes)
        Nft(c).apply(["oifname { %s } numgen random mod 100 < %d counter drop"
                      % (ports, self.percent)])

    def heal(self, c):
        Nft(c).clear()

    cleanup = heal
    effect = staticmethod(nft_effect)


class Hooks(Fault):
    """The transport's own fault hooks on every node: e.g.
    "seed=7; peer=*,dup_ppm=20000,reorder_ppm=50000,delay_us=2000"."""
    needs = ("hooks",)
    binary = "spindled-faults"

    def __init__(self, spec, label, nodes):
        self.spec, self.nodes = spec, list(nodes)
        self.name = label

    def set_all(self, c, spec):
        for n in self.nodes:
            reply = c.client(n).execute_command("SPINDLE", "FAULTS", spec)
            if reply not in (b"OK", "OK", True):
                raise RuntimeError("SPINDLE FAULTS on node %d answered %r" % (n, reply))

    def start(self, c):
        self.set_all(c, self.spec)

    def heal(self, c):
        self.set_all(c, "off")


class DiskFull(Fault):
    """Node `node`'s data directory on a tmpfs of `size_mb`; the fault fills what is left
    with a balloon file and keeps a writer busy through `writer_node` so the node's lanes
    need new log segments and find no room."""
    needs = ("root",)
    log_allowed = ("No space left", "no space", "disk is full")

    def __init__(self, node, writer_node, size_mb=96):
        self.node, self.writer_node, self.size_mb = node, writer_node, size_mb
        self.name = "disk full n%d" % node
        self.mounted = None
        self.filler = None
        self.full_before = 0

    def prepare(self, c):
        path = os.path.join(c.dir, "n%d" % self.node)
        os.makedirs(path, exist_ok=True)
        sh("mount", "-t", "tmpfs", "-o", "size=%dm" % self.size_mb, "tmpfs", path)
        self.mounted = path

    def balloon(self):
        return os.path.join(self.mounted, "balloon")

    def start(self, c):
        self.full_before = c.log(self.node).count("the disk is full")
        st = os.statvfs(self.mounted)
        free = st.f_bavail * st.f_frsize
        with open(self.balloon(), "wb") as f:
            try:
                os.posix_fallocate(f.fileno(), 0, max(free, 4096))
            except OSError:
                pass  # as full as it gets
        self.filler = Filler(c.port + self.writer_node - 1)
        self.filler.start()

    def effect(self, c):
        full = c.log(self.node).count("the disk is full") - self.full_before
        return "%d lanes found the disk full" % full if full > 0 else None

    def heal(self, c):
        if self.filler is not None:
            self.filler.stop()
        if self.mounted and os.path.exists(self.balloon()):
            os.unlink(self.balloon())

    def describe(self):
        if self.filler is None:
            return self.name
        return "%s (filler: %d ok, %d refused)" % (self.name, self.filler.ok, self.filler.failed)

    def cleanup(self, c):
        if self.filler is not None:
            self.filler.stop()
        if self.mounted:
            for _ in range(50):
                if sh("umount", self.mounted, check=False).returncode == 0:
                    self.mounted = None
                    break
                time.sleep(0.1)


def hooks_available(c, node=1):
    try:
        c.client(node).execute_command("SPINDLE", "FAULTS", "off")
        return True
    except redis.ResponseError:
        return False

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
  CtlKill     kill -9 (or SIGSTOP) of a control daemon, the control group's leader unless
              told which; healed by restarting (resuming) it
  Replace     a node lost with its disk: both daemons killed and its data wiped, then a spare
              node added and the lost one removed (spindlectl node add, node remove)
  RemoveIsolated
              a node cut off from all others (replication and management network), then
              its removal asked of its own control daemon and of one in the majority;
              healed by lifting the partition, and if it was removed, by adding a spare
  AddPartitioned
              a follower partitioned away while a spare node is added
Network faults need root and the DPDK transport (the veth pairs and bridge of
scripts/local-cluster.sh; the management network is cut by nftables rules on loopback);
DiskFull needs root to mount. Every fault's cleanup() is safe to call at any time, also
twice, so a failed case leaves nothing behind.

A fault that takes lanes' primaries away names the nodes that must keep serving
(survivors()); the suite then times the failover: from the fault until a write to every
lane succeeds through each survivor."""
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
    spares = 0          # spare nodes the cluster needs (membership changes)

    @property
    def problems(self):
        """What went wrong that the checks of the history cannot see."""
        if "_problems" not in self.__dict__:
            self._problems = []
        return self._problems

    def survivors(self, c):
        """The nodes that must serve every lane while the fault lasts (after a failover),
        or None if the fault promises no such thing."""
        return None

    def prepare(self, c):
        """Before the cluster starts."""

    def start(self, c):
        pass

    def act(self, c):
        """After start, and after the failover if the fault has survivors: what the
        operator does about the fault (a membership change), while it lasts."""

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

    def __init__(self, nodes, survivors=None):
        self.nodes = list(nodes)
        self._survivors = survivors
        self.name = "kill -9 " + ",".join("n%d" % n for n in self.nodes)

    def survivors(self, c):
        return self._survivors

    def start(self, c):
        for n in self.nodes:
            c.kill(n)

    def heal(self, c):
        for n in self.nodes:
            c.restart(n)


class Pause(Fault):
    def __init__(self, nodes, survivors=None):
        self.nodes = list(nodes)
        self._survivors = survivors
        self.name = "SIGSTOP " + ",".join("n%d" % n for n in self.nodes)

    def survivors(self, c):
        return self._survivors

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

    def __init__(self, nodes, survivors=None):
        self.nodes = list(nodes)
        self._survivors = survivors
        self.name = "link down " + ",".join("n%d" % n for n in self.nodes)

    def survivors(self, c):
        return self._survivors

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
    """One nftables table per cluster: in the bridge family, a forward chain whose rules
    match only this cluster's bridge ports (other clusters may share the host); in the inet
    family (mgmt=True), an output chain for the control daemons' management traffic on
    loopback, matched by this cluster's management port."""

    def __init__(self, c, mgmt=False):
        self.c = c
        if mgmt:
            self.family, self.hook = "inet", "output"
            self.table = "spindle_mgmt_%d" % c.port
        else:
            self.family, self.hook = "bridge", "forward"
            self.table = "spindle_faults_%d" % c.port

    def apply(self, rules):
        self.clear()
        script = ["add table %s %s" % (self.family, self.table),
                  "add chain %s %s faults { type filter hook %s priority 0; "
                  "policy accept; }" % (self.family, self.table, self.hook)]
        script += ["add rule %s %s faults %s" % (self.family, self.table, r) for r in rules]
        p = subprocess.run(["nft", "-f", "-"], input="\n".join(script) + "\n", text=True,
                           capture_output=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError("nft refused the rules:\n%s\n%s" % ("\n".join(script), p.stderr))

    def clear(self):
        sh("nft", "delete", "table", self.family, self.table, check=False)

    def dropped(self):
        """Frames the table's rules dropped so far."""
        p = sh("nft", "list", "table", self.family, self.table, check=False)
        return sum(int(m) for m in re.findall(r"counter packets (\d+)", p.stdout))


def nft_effect(c):
    n = Nft(c).dropped()
    return "%d frames dropped" % n if n > 0 else None


def mgmt_addr(node):
    """A control daemon's management address (scripts/local-cluster.sh)."""
    return "127.0.1.%d" % node


class Partition(Fault):
    """Drops every frame from a node in `a` to a node in `b` (and back, unless one_way); with
    mgmt, the control daemons' management traffic between them too."""
    needs = ("root", "dpdk")

    def __init__(self, a, b, one_way=False, mgmt=False, survivors=None):
        self.a, self.b, self.one_way, self.mgmt = list(a), list(b), one_way, mgmt
        self._survivors = survivors
        arrow = "->" if one_way else "<->"
        self.name = "partition %s %s %s%s" % (",".join("n%d" % n for n in self.a), arrow,
                                             ",".join("n%d" % n for n in self.b),
                                             " (+mgmt)" if mgmt else "")

    def survivors(self, c):
        return self._survivors

    def pairs(self):
        pairs = [(x, y) for x in self.a for y in self.b]
        if not self.one_way:
            pairs += [(y, x) for x, y in pairs]
        return pairs

    def start(self, c):
        Nft(c).apply(['iifname "%s" oifname "%s" counter drop'
                      % (bridge_port(c, x), bridge_port(c, y)) for x, y in self.pairs()])
        if self.mgmt:
            Nft(c, mgmt=True).apply(["ip saddr %s ip daddr %s udp dport %d counter drop"
                                     % (mgmt_addr(x), mgmt_addr(y), c.mgmt_port)
                                     for x, y in self.pairs()])

    def heal(self, c):
        Nft(c).clear()
        Nft(c, mgmt=True).clear()

    cleanup = heal

    def effect(self, c):
        n = Nft(c).dropped()
        m = Nft(c, mgmt=True).dropped() if self.mgmt else 0
        if n == 0 or (self.mgmt and m == 0):
            return None
        return "%d frames dropped" % n + (", %d management datagrams" % m if self.mgmt else "")


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


class CtlKill(Fault):
    """kill -9 (pause: SIGSTOP) of the control daemon of `node`, or of the control group's
    leader at the time; healed by restarting (resuming) it. Its node's dataplane is then
    without its control daemon, so its lanes move to other nodes."""

    def __init__(self, node=None, pause=False):
        self.node, self.pause = node, pause
        self.victim = None
        self.before = None

    @property
    def name(self):
        who = "n%d" % self.victim if self.victim else ("n%d" % self.node if self.node else
                                                       "the leader")
        return "%s control daemon of %s" % ("SIGSTOP" if self.pause else "kill -9", who)

    def survivors(self, c):
        return [n for n in c.members if n != self.victim]

    def start(self, c):
        self.victim = self.node or c.leader()
        if self.victim is None:
            raise RuntimeError("no control daemon names a leader")
        self.before = self.victim if self.node is None else None
        c.ctl_action("pause" if self.pause else "kill", self.victim)

    def effect(self, c):
        others = [n for n in c.members if n != self.victim]
        s = c.status(others[0])
        if s is None or s["leader"] in (None, self.victim):
            return None if self.node is None else "-"
        return "leader n%d" % s["leader"]

    def heal(self, c):
        if self.victim is not None:
            c.ctl_action("resume" if self.pause else "restart", self.victim)

    def cleanup(self, c):
        if self.victim is not None and self.pause:
            c.run("ctl", "resume", self.victim, c.dir, check=False)


def ctl_rc(c, node, *args, timeout_s=30):
    """spindlectl ARGS on node's daemon with --timeout: (exit code, one line of output)."""
    rc, out, err = c.ctl(node, *(list(args) + ["--timeout", timeout_s]), timeout=timeout_s + 30)
    text = (out + err).strip().replace("\n", " / ")
    return rc, text[:200]


class Replace(Fault):
    """Node `old` lost with its disk: spindled and spindle-control killed, their data
    wiped; spare `new` is added (it catches up from the others) and `old` removed. Not
    healed: the cluster goes on with the new node."""
    spares = 1

    def __init__(self, old, new):
        self.old, self.new = old, new
        self.name = "n%d wiped, replaced by n%d" % (old, new)
        self.times = {}

    def survivors(self, c):
        return [n for n in c.members if n != self.old]

    def start(self, c):
        c.kill(self.old)
        c.ctl_action("kill", self.old)
        c.wipe(self.old)

    def act(self, c):
        t = time.monotonic()
        out = c.add(self.new)
        self.times["add"] = time.monotonic() - t
        if out.returncode != 0:
            self.problems.append("adding n%d failed (exit %d): %s" % (
                self.new, out.returncode, (out.stdout + out.stderr).strip()[-500:]))
            return
        t = time.monotonic()
        rc, text = ctl_rc(c, self.new, "node", "remove", self.old)
        self.times["remove"] = time.monotonic() - t
        if rc != 0:
            self.problems.append("removing n%d failed (exit %s): %s" % (self.old, rc, text))
            return
        c.stop_node(self.old)

    def effect(self, c):
        if len(self.times) < 2:
            return None
        return "add %.1f s, remove %.1f s" % (self.times["add"], self.times["remove"])

    def heal(self, c):
        pass


# spindlectl's exit codes for a request that an isolated daemon cannot carry out: no leader
# or no majority, not allowed now, timed out.
REFUSED = (3, 5, 6)


class RemoveIsolated(Fault):
    """Node `victim` (the lanes' primary) cut off from every other node on both networks;
    once the others have taken its lanes, its removal is asked of its own control daemon
    (which cannot reach a majority: it must answer with a refusal, not hang or crash) and
    then of `via` in the majority (which removes it, or refuses with a clear exit code:
    both are fine, losing an acknowledged write is not). Healed by lifting the
    partition; a removed victim is stopped and the spare `spare` added in its place."""
    needs = ("root", "dpdk")
    spares = 1

    def __init__(self, victim, others, via, spare):
        self.victim, self.via, self.spare = victim, via, spare
        self.cut = Partition([victim], others, mgmt=True)
        self.name = "n%d isolated, its removal asked of n%d and n%d" % (victim, victim, via)
        self.answers = {}

    def survivors(self, c):
        return [n for n in c.members if n != self.victim]

    def start(self, c):
        self.cut.start(c)

    def act(self, c):
        self.answers[self.victim] = ctl_rc(c, self.victim, "node", "remove", self.victim,
                                           timeout_s=5)
        rc = self.answers[self.victim][0]
        if rc not in REFUSED:
            self.problems.append("isolated n%d answered its removal with exit %s, not a "
                                 "refusal (%s): %s" % (self.victim, rc, REFUSED,
                                                       self.answers[self.victim][1]))
        self.answers[self.via] = ctl_rc(c, self.via, "node", "remove", self.victim)
        rc = self.answers[self.via][0]
        if rc != 0 and rc not in REFUSED:
            self.problems.append("n%d answered the removal of n%d with exit %s: %s"
                                 % (self.via, self.victim, rc, self.answers[self.via][1]))

    def effect(self, c):
        eff = self.cut.effect(c)
        if eff is None:
            return None
        return "%s; exits %s" % (eff, ", ".join("n%d: %s" % (n, a[0])
                                               for n, a in sorted(self.answers.items())))

    def heal(self, c):
        self.cut.heal(c)
        s = c.status(self.via)
        ids = [n["id"] for n in s["nodes"] if n.get("state") != "none"] if s else []
        if s is not None and self.victim not in ids:
            c.stop_node(self.victim)
            out = c.add(self.spare)
            if out.returncode != 0:
                self.problems.append("adding n%d after the removal failed (exit %d): %s" % (
                    self.spare, out.returncode, (out.stdout + out.stderr).strip()[-500:]))

    def cleanup(self, c):
        self.cut.cleanup(c)


class AddPartitioned(Fault):
    """Follower `cut` partitioned from the other nodes while spare `new` is added."""
    needs = ("root", "dpdk")
    spares = 1

    def __init__(self, cut, others, new):
        self.new = new
        self.cut = Partition([cut], others)
        self.name = "n%d added while n%d is partitioned" % (new, cut)
        self.add_s = None

    def start(self, c):
        self.cut.start(c)

    def act(self, c):
        t = time.monotonic()
        out = c.add(self.new)
        if out.returncode != 0:
            self.problems.append("adding n%d failed (exit %d): %s" % (
                self.new, out.returncode, (out.stdout + out.stderr).strip()[-500:]))
        else:
            self.add_s = time.monotonic() - t

    def effect(self, c):
        eff = self.cut.effect(c)
        if eff is None or self.add_s is None:
            return None
        return "%s; add %.1f s" % (eff, self.add_s)

    def heal(self, c):
        self.cut.heal(c)

    def cleanup(self, c):
        self.cut.cleanup(c)


def wait_for(what, timeout_s, interval_s=0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if what():
                return True
        except (redis.RedisError, OSError, KeyError, TypeError):
            pass
        time.sleep(interval_s)
    return False


def hooks_available(c, node=1):
    try:
        c.client(node).execute_command("SPINDLE", "FAULTS", "off")
        return True
    except redis.ResponseError:
        return False

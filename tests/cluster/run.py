#!/usr/bin/python3
"""The fault suite, in the manner of Jepsen: real spindled and spindle-control processes
(scripts/local-cluster.sh --control), client workers on every node, faults injected on a
schedule drawn from a seed, healed, and the recorded history checked (checks.py). Prints a
table of fault, operations, failures, lost writes, linearizability, failover and recovery
time.

    run.py --set ci                 the short set: each case on a fresh three-node cluster
    run.py --set ci5                the five-node cases for CI
    run.py --set full               every case (ci, ci5 and the rest)
    run.py --case kill-primary      one case (--list shows them)
    run.py --soak 60                one cluster, random faults for 60 minutes
    options: --seed N  --nodes N  --keep (keep cluster directories)  --json FILE

Exit status 0 when every case passed, 1 on a failure (the seed and the commit are printed),
77 when nothing could run here (the suite needs root for the DPDK transport's bridge,
nftables and tmpfs; without root, the cases that need none of these run over UDP)."""
import argparse
import binascii
import os
import random
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "../lib"))

import redis  # noqa: E402

import checks  # noqa: E402
import nemesis  # noqa: E402
from history import OK, History, Op  # noqa: E402
from report import Row, summary, table, write_json  # noqa: E402
from ctlcluster import FaultCluster  # noqa: E402
from spindle_cluster import SOURCE_DIR  # noqa: E402
from spindle_proc import BUILD_DIR  # noqa: E402
from workers import Keyspace, Load  # noqa: E402

LANES = 4
SLOTS = 16384
WARM_S, FAULT_S, POST_S = 2.0, 6.0, 2.0
RECOVERY_MAX_S = 60.0
FAILOVER_MAX_S = 10.0        # a bound for a loaded machine; the goal is well under 1 s
CASE_MARGIN_S = 180           # start, checks and stop, on top of a case's own phases
REPLICA_WAIT_S = 15.0
SKIP = 77
SETTINGS = ["snapshot-every-bytes 8m"]
CONTROL_SETTINGS = ["balance-every-ms 0"]   # the cases place the primaries themselves
PLACE_S = 30.0                               # moving every lane to node 1 before a case


class CaseTimeout(Exception):
    pass


def on_alarm(signum, frame):
    raise CaseTimeout("case exceeded its time bound")


# ---- Cases ----

class Case:
    """A fault on a fresh cluster of `nodes`. make(rng) builds the fault. Before it, every
    lane's primary is moved to node 1 (and balancing is off), so that the faults of the
    other nodes hit followers only and those of node 1 hit the primary of every lane."""

    def __init__(self, name, nodes, make, fault_s=FAULT_S, doc=""):
        self.name, self.nodes, self.make, self.fault_s, self.doc = name, nodes, make, fault_s, doc


PRIMARY = 1


def followers(nodes):
    return list(range(2, nodes + 1))


def others(node, n):
    return [x for x in range(1, n + 1) if x != node]


def cases_primary(n):
    """Faults of the primary of every lane: the control plane must fail the lanes over to
    the other nodes (which the suite times), and the old primary must not acknowledge
    anything once its lease is over (the history's checks)."""
    rest = others(PRIMARY, n)
    return [
        Case("kill-primary", n, lambda rng: nemesis.Kill([PRIMARY], survivors=rest)),
        Case("pause-primary", n, lambda rng: nemesis.Pause([PRIMARY], survivors=rest)),
        Case("link-down-primary", n, lambda rng: nemesis.LinkDown([PRIMARY], survivors=rest)),
        Case("partition-primary", n, lambda rng: isolate(PRIMARY, n, survivors=rest)),
        Case("one-way-from-primary", n,
             lambda rng: nemesis.Partition([PRIMARY], rest, one_way=True, survivors=rest)),
        Case("one-way-to-primary", n,
             lambda rng: nemesis.Partition(rest, [PRIMARY], one_way=True, survivors=rest)),
        Case("isolate-primary", n,
             lambda rng: nemesis.Partition([PRIMARY], rest, mgmt=True, survivors=rest),
             doc="cut from the others on both the replication and the management network"),
    ]


def cases_control(n):
    """The control plane's own faults and membership changes."""
    return [
        Case("kill-control-leader", n, lambda rng: nemesis.CtlKill()),
        Case("pause-control-leader", n, lambda rng: nemesis.CtlKill(pause=True)),
        Case("kill-control-follower", n,
             lambda rng: nemesis.CtlKill(rng.choice(followers(n)))),
        Case("replace-wiped-primary", n, lambda rng: nemesis.Replace(PRIMARY, n + 1),
             fault_s=2, doc="node 1's data wiped; node 4 added, node 1 removed"),
        Case("replace-wiped-follower", n,
             lambda rng: nemesis.Replace(rng.choice(followers(n)), n + 1), fault_s=2),
        Case("remove-isolated-primary", n,
             lambda rng: nemesis.RemoveIsolated(PRIMARY, others(PRIMARY, n),
                                                rng.choice(followers(n)), n + 1), fault_s=2),
        Case("add-while-partitioned", n,
             lambda rng: nemesis.AddPartitioned(n, others(n, n), n + 1), fault_s=2),
    ]


def cases_follower(n):
    """The faults of the suite before the control plane: followers only (and the primary's
    disk), no failover needed."""
    def f(rng):
        return rng.choice(followers(n))
    everyone = list(range(1, n + 1))
    return [
        Case("baseline", n, lambda rng: nemesis.Fault(), doc="no fault"),
        Case("kill-follower", n, lambda rng: nemesis.Kill([f(rng)])),
        Case("pause-follower", n, lambda rng: nemesis.Pause([f(rng)])),
        Case("link-down-follower", n, lambda rng: nemesis.LinkDown([f(rng)])),
        Case("partition-follower", n, lambda rng: isolate(f(rng), n)),
        Case("one-way-to-follower", n,
             lambda rng: nemesis.Partition([PRIMARY], [f(rng)], one_way=True)),
        Case("one-way-from-follower", n,
             lambda rng: nemesis.Partition([f(rng)], [PRIMARY], one_way=True)),
        Case("loss-10", n, lambda rng: nemesis.Loss(10, everyone)),
        Case("dup-reorder-delay", n, lambda rng: hooks(rng, everyone)),
        Case("disk-full-follower", n, lambda rng: nemesis.DiskFull(f(rng), 1), fault_s=10),
        Case("disk-full-primary", n, lambda rng: nemesis.DiskFull(PRIMARY, 1), fault_s=10),
        Case("pause-majority", n, lambda rng: nemesis.Pause(followers(n)),
             doc="every follower stopped: the lanes lose their majority and stall"),
    ]


def cases_5():
    n = 5
    return [
        Case("kill-two-followers-5", n,
             lambda rng: nemesis.Kill(rng.sample(followers(n), 2))),
        Case("partition-minority-5", n,
             lambda rng: split(rng.sample(followers(n), 2), n)),
        Case("loss-dup-reorder-5", n, lambda rng: hooks(rng, list(range(1, n + 1)), loss=2)),
        Case("partition-primary-minority-5", n, lambda rng: primary_minority(rng, n),
             doc="the primary and one follower cut from the other three"),
    ]


def primary_minority(rng, n):
    minority = [PRIMARY, rng.choice(followers(n))]
    return split(minority, n, survivors=[x for x in range(1, n + 1) if x not in minority])


# The CI sets: the cases that need the control plane, and a few of the others; the rest
# run in the full set and the soak.
CI = ("kill-primary", "pause-primary", "partition-primary", "kill-control-leader",
      "replace-wiped-primary", "remove-isolated-primary")
CI5 = ("partition-primary-minority-5",)


def cases_all():
    return cases_primary(3) + cases_control(3) + cases_follower(3) + cases_5()


def cases_set(name):
    every = cases_all()
    if name == "ci":
        return [c for c in every if c.name in CI]
    if name == "ci5":
        return [c for c in every if c.name in CI5]
    return every


def isolate(node, n, survivors=None):
    return nemesis.Partition([node], others(node, n), survivors=survivors)


def split(minority, n, survivors=None):
    return nemesis.Partition(minority, [x for x in range(1, n + 1) if x not in minority],
                             survivors=survivors)


def hooks(rng, nodes, loss=0):
    seed = rng.getrandbits(31)
    spec = "seed=%d; peer=*,dup_ppm=20000,reorder_ppm=50000,reorder_us=2000,delay_us=1000" % seed
    label = "dup 2% reorder 5% delay 1ms"
    if loss:
        spec += ",loss_ppm=%d" % (loss * 10000)
        label += " loss %d%%" % loss
    return nemesis.Hooks(spec, label, nodes)


def soak_fault(rng, c):
    """One fault for a soak cycle, drawn from every kind, aimed at the nodes' roles now:
    `p` primary of the most lanes, `f` another node. Membership changes are left out (the
    soak's cluster keeps its nodes; the cases cover them)."""
    members = list(c.members)
    n = len(members)
    prim = c.primaries() or [members[0]]
    p = max(members, key=prim.count)
    rest = [x for x in members if x != p]
    f = rng.choice(rest)
    minority = rng.sample(members, (n - 1) // 2)
    majority = [x for x in members if x not in minority]
    kinds = [
        lambda: nemesis.Kill(minority, survivors=majority),
        lambda: nemesis.Kill([p], survivors=rest),
        lambda: nemesis.Pause([f]),
        lambda: nemesis.Pause([p], survivors=rest),
        lambda: nemesis.LinkDown([rng.choice(members)]),
        lambda: nemesis.Partition([f], others(f, n)),
        lambda: nemesis.Partition([p], rest, mgmt=rng.random() < 0.5, survivors=rest),
        lambda: nemesis.Partition(minority, majority, survivors=majority),
        lambda: nemesis.Partition([p], [f], one_way=True),
        lambda: nemesis.Partition([f], [p], one_way=True),
        lambda: nemesis.Partition([p], rest, one_way=True, survivors=rest),
        lambda: nemesis.Loss(rng.choice([5, 10, 20]), members),
        lambda: hooks(rng, members, loss=rng.choice([0, 1])),
        lambda: nemesis.Pause(rest),
        lambda: nemesis.CtlKill(),
        lambda: nemesis.CtlKill(rng.choice(members), pause=rng.random() < 0.5),
    ]
    return rng.choice(kinds)()


# ---- One cluster under load ----

def lane_probe_keys(lanes):
    """One key per lane, for the probes that time recovery: probe{<i>} hashes by its tag."""
    keys = {}
    i = 0
    while len(keys) < lanes:
        slot = binascii.crc_hqx(str(i).encode(), 0) % SLOTS
        keys.setdefault(slot * lanes // SLOTS, "probe{%d}" % i)
        i += 1
    return [keys[l] for l in range(lanes)]


class Run:
    """A cluster, its workers and the checked generations of keys."""

    def __init__(self, nodes, seed, binary, keep, prepare=(), spares=0,
                 control_settings=CONTROL_SETTINGS):
        self.c = FaultCluster(nodes, LANES, settings=SETTINGS, spares=spares,
                              binary=os.path.join(BUILD_DIR, binary),
                              control_settings=control_settings)
        self.seed, self.keep = seed, keep
        self.history = History()
        self.keyspace = Keyspace()
        self.load = None
        self.prepare = list(prepare)
        self.closed = {}        # key -> final raw value of closed generations
        self.probe_keys = lane_probe_keys(LANES)
        self.failed = False

    def start(self, place=PRIMARY):
        for f in self.prepare:
            f.prepare(self.c)
        self.c.start()
        if place:
            self.place_primaries(place)
        ports = [self.c.port + i for i in range(self.c.nodes)]
        self.load = Load(ports, self.history, self.seed, self.keyspace).start()
        return self

    def place_primaries(self, node):
        """Every lane's primary moved to `node` (a planned switchover), once all are settled."""
        c = self.c
        if not nemesis.wait_for(lambda: c.settled(), PLACE_S):
            raise AssertionError("the lanes did not settle within %.0f s:\n%s"
                                 % (PLACE_S, c.logs_tail()))
        deadline = time.monotonic() + PLACE_S
        rc, out, err = 0, "", ""
        while any(p != node for p in c.primaries() or [None]):
            rc, out, err = c.ctl(node, "failover", "all", "--to", node, "--timeout", 20)
            # No leader or majority right now (a loaded machine), or timed out: again.
            if rc == 0 or rc not in nemesis.REFUSED or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if rc != 0:
            raise AssertionError("failover all --to %d: exit %s: %s%s" % (node, rc, out, err))
        if not nemesis.wait_for(lambda: c.settled() and set(c.primaries()) == {node}, PLACE_S):
            raise AssertionError("the lanes did not all move to node %d: %r"
                                 % (node, c.primaries()))

    def join_members(self):
        """Workers for nodes that joined the cluster."""
        for n in self.c.members:
            if n not in self.load.nodes():
                self.load.add_node(n, self.c.port + n - 1)

    def stop(self):
        try:
            if self.load is not None and not self.load.stopping.is_set():
                self.load.stop()
        finally:
            self.c.stop()
            for f in self.prepare:
                f.cleanup(self.c)
            if not self.keep and not self.failed:
                subprocess.run(["rm", "-rf", self.c.dir])
            else:
                print("cluster directory kept: %s" % self.c.dir, flush=True)

    def probe(self, deadline, nodes=None):
        """Writes one key per lane through every member (or `nodes`) until all succeed; the
        time taken."""
        t0 = time.monotonic()
        nodes = list(nodes or self.c.members)
        pending = [(n, k) for n in nodes for k in self.probe_keys]
        clients = {n: self.c.client(n, socket_timeout=1.0, socket_connect_timeout=0.5)
                   for n in nodes}
        self.probe_errors = {}
        while pending and time.monotonic() < deadline:
            for n, k in list(pending):
                try:
                    clients[n].set(k, "x")
                    pending.remove((n, k))
                except (redis.RedisError, OSError) as e:
                    self.probe_errors[(n, k)] = "%s: %s" % (type(e).__name__, e)
            if pending:
                time.sleep(0.02)
        for r in clients.values():
            r.close()
        self.probe_errors = {nk: e for nk, e in self.probe_errors.items() if nk in pending}
        return None if pending else (time.monotonic() - t0) * 1000.0

    def probe_failures(self):
        """What the writes of the last probe that failed answered: node, lane, error."""
        return "; ".join("node %d lane %d: %s" % (n, self.probe_keys.index(k), e)
                         for (n, k), e in sorted(self.probe_errors.items()))

    def cycle(self, gen, name, fault, warm_s, fault_s, post_s, strict=True):
        """Load on generation `gen`, the fault, heal, recovery, more load; then the
        generation is closed and checked. Returns its report row. A fault without visible
        effect fails a case (it proved nothing); in a soak (not strict) the row says so."""
        row = Row(name, fault.describe(), self.c.nodes)
        self.load.set_gen(gen)
        time.sleep(warm_s)
        try:
            t_fault = time.monotonic()
            fault.start(self.c)
            survivors = fault.survivors(self.c)
            if survivors:
                self.failover(row, survivors, t_fault, fault_s)
            fault.act(self.c)
            time.sleep(max(0.0, t_fault + fault_s - time.monotonic()))
            row.effect = fault.effect(self.c)
            if row.effect is None and strict:
                row.problems.append("the fault had no visible effect")
            elif row.effect is None:
                row.effect = "no visible effect"
        finally:
            fault.heal(self.c)
        t_heal = time.monotonic()
        row.fault = fault.describe()
        row.problems += fault.problems
        self.join_members()
        rec = self.probe(t_heal + RECOVERY_MAX_S)
        if rec is None:
            row.problems.append("writes did not succeed through every node within %.0f s of "
                                "healing: %s" % (RECOVERY_MAX_S, self.probe_failures()))
        else:
            row.recovery_ms = round((time.monotonic() - t_heal) * 1000)
        time.sleep(post_s)
        self.load.set_gen(gen + 1)
        # Every request of `gen` has been answered; a probe through every node and lane now
        # comes after anything they left in flight inside the cluster.
        if self.probe(time.monotonic() + RECOVERY_MAX_S) is None:
            row.problems.append("writes stopped succeeding after the fault was healed: %s"
                                % self.probe_failures())
        self.close_gen(gen, row, fault.log_allowed)
        return row

    def failover(self, row, survivors, t_fault, fault_s):
        """Times the failover of a fault that takes primaries away: until a write to every
        lane succeeds through each survivor (within FAILOVER_MAX_S, or the fault's length
        if longer)."""
        deadline = t_fault + max(fault_s, FAILOVER_MAX_S)
        if self.probe(deadline, survivors) is None:
            row.problems.append("no failover: writes through %s did not succeed within %.0f s: "
                                "%s" % (survivors, deadline - t_fault, self.probe_failures()))
        else:
            row.failover_ms = round((time.monotonic() - t_fault) * 1000)

    def final_read(self, key, deadline):
        """A linearizable GET, from any member that answers, recorded as an Op."""
        i = 0
        while time.monotonic() < deadline:
            members = self.c.members
            n = members[i % len(members)]
            i += 1
            op = Op(0, n, "read", key)
            try:
                v = self.c.client(n, socket_timeout=2.0).get(key)
                return op.end(OK, result=v)
            except (redis.RedisError, OSError):
                time.sleep(0.05)
        raise AssertionError("no node answered GET %s" % key)

    def replicas(self, keys):
        """Each running member's own replica of keys (READONLY); a node that does not
        answer maps to its error."""
        out = {}
        for n in self.c.members:
            if not self.c.running(n):
                continue
            r = self.c.client(n, socket_timeout=5.0)
            try:
                # READONLY on the pipeline's own connection (a pipeline takes one from the
                # pool, not a client's single connection).
                p = r.pipeline(transaction=False)
                p.execute_command("READONLY")
                for k in keys:
                    p.get(k)
                out[n] = dict(zip(keys, p.execute()[1:]))
            except (redis.RedisError, OSError) as e:
                out[n] = e
            finally:
                r.close()
        return out

    def check_replicas(self, finals_raw):
        deadline = time.monotonic() + REPLICA_WAIT_S
        while True:
            reps = self.replicas(list(finals_raw))
            diff = ["node %d does not answer READONLY reads: %s: %s" % (n, type(e).__name__, e)
                    for n, e in sorted(reps.items()) if isinstance(e, Exception)]
            diff += checks.replica_mismatches({n: v for n, v in reps.items()
                                               if not isinstance(v, Exception)}, finals_raw)
            if not diff or time.monotonic() > deadline:
                return diff
            time.sleep(0.1)

    def close_gen(self, gen, row, log_allowed=()):
        keys = self.keyspace.keys(gen)
        ops = self.history.take(keys)
        deadline = time.monotonic() + 60
        finals = {k: self.final_read(k, deadline) for k in keys}
        row.count(ops)
        regs = self.keyspace.keys(gen, "r")
        res = checks.check_registers([o for o in ops if o.key in regs],
                                     {k: finals[k] for k in regs}, workdir=self.c.dir)
        res.add(checks.check_counters([o for o in ops if o.f == "incr"],
                                      {k: int(finals[k].result or 0)
                                       for k in self.keyspace.keys(gen, "c")}))
        res.add(checks.check_appends([o for o in ops if o.f == "append"],
                                     {k: (finals[k].result or b"").decode()
                                      for k in self.keyspace.keys(gen, "a")}))
        res.add(checks.check_unexpected(ops))
        raw = {k: finals[k].result for k in keys}
        res.problems += self.check_replicas(raw)
        res.problems += self.node_problems(log_allowed)
        row.lost += res.lost
        row.linearizable = res.linearizable
        row.problems += res.problems
        self.closed.update(raw)

    def node_problems(self, log_allowed):
        """Every node that ran: no crash in its logs; every member: both daemons running."""
        out = []
        for n in self.c.started:
            bad = checks.log_problems(self.c.log(n), log_allowed)
            if bad:
                out.append("node %d log: %s" % (n, bad[0]))
            bad = checks.log_problems(self.c.ctl_log(n), log_allowed, checks.CTL_LOG_BAD_MARKS)
            if bad:
                out.append("control %d log: %s" % (n, bad[0]))
        for n in self.c.members:
            if not self.c.running(n):
                out.append("node %d is not running:\n%s" % (n, self.c.log(n)[-2000:]))
            if not self.c.ctl_running(n):
                out.append("control %d is not running:\n%s" % (n, self.c.ctl_log(n)[-2000:]))
        return out

    def verify_closed(self):
        """Every closed generation's keys still hold their final values (nothing wrote them
        since), read linearizably once all faults are over."""
        row = Row("final", "all generations re-read", self.c.nodes)
        deadline = time.monotonic() + 120
        for k, want in sorted(self.closed.items()):
            got = self.final_read(k, deadline).result
            if got != want:
                row.lost += 1
                row.problems.append("%s changed after its generation closed: %r, then %r"
                                    % (k, want, got))
        row.ops = len(self.closed)
        row.ok = row.ops
        return row


# ---- Running ----

def can_run(fault):
    missing = []
    for need in fault.needs:
        if need in ("root", "dpdk") and os.geteuid() != 0:
            missing.append(need)
        if need == "hooks" and not os.path.exists(os.path.join(BUILD_DIR, "spindled-faults")):
            missing.append("spindled-faults")
    return missing


def run_case(case, seed, keep):
    rng = random.Random("%d/%s" % (seed, case.name))
    fault = case.make(rng)
    row = Row(case.name, fault.describe(), case.nodes)
    missing = can_run(fault)
    if missing:
        row.skipped = "needs " + ", ".join(missing)
        return row
    run = Run(case.nodes, rng.getrandbits(32), fault.binary, keep, prepare=[fault],
              spares=fault.spares)
    signal.alarm(int(WARM_S + case.fault_s + POST_S + RECOVERY_MAX_S + CASE_MARGIN_S +
                     PLACE_S))
    try:
        run.start()
        row = run.cycle(0, case.name, fault, WARM_S, case.fault_s, POST_S)
        run.load.stop()
        fin = run.verify_closed()
        row.problems += fin.problems
        row.lost += fin.lost
    except Exception as e:  # a case that breaks is a failed case, with what broke
        row.problems.append("%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
    finally:
        signal.alarm(0)
        run.failed = bool(row.problems)
        try:
            run.stop()
        except Exception as e:
            row.problems.append("stopping the cluster: %s" % e)
    return row


def run_soak(minutes, nodes, seed, keep, rows, json_path=None):
    rng = random.Random(seed)
    # Room for an hour of log and snapshots besides the balloon (160 MiB filled up by
    # itself after 25 minutes: the node then rightly refused to append, and lagged).
    disk = nemesis.DiskFull(rng.choice(followers(nodes)), 1, size_mb=512)
    # Balancing on: the control plane moves primaries on its own too.
    run = Run(nodes, rng.getrandbits(32), "spindled-faults", keep, prepare=[disk],
              control_settings=())
    end = time.monotonic() + minutes * 60
    gen = 0
    try:
        run.start(place=None)
        while time.monotonic() < end:
            fault = disk if rng.random() < 0.08 else soak_fault(rng, run.c)
            fault_s = rng.uniform(2, 15)
            print("soak-%d: %s for %.1f s" % (gen, fault.describe(), fault_s), flush=True)
            signal.alarm(int(fault_s + 30 + RECOVERY_MAX_S + CASE_MARGIN_S))
            row = run.cycle(gen, "soak-%d" % gen, fault, rng.uniform(1, 5), fault_s,
                            rng.uniform(1, 4), strict=False)
            signal.alarm(0)
            print_row(row)
            rows.append(row)
            if json_path:  # as it goes, so that a soak cut short leaves its report
                write_json(json_path, rows, {"seed": seed, "commit": commit()})
            gen += 1
            if safety_problems(row):
                break
        run.load.stop()
        rows.append(run.verify_closed())
    except Exception as e:
        row = Row("soak-%d" % gen, "(broke)", nodes)
        row.problems.append("%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
        print_row(row)
        rows.append(row)
    finally:
        signal.alarm(0)
        run.failed = any(r.problems for r in rows)
        run.stop()


# Problems of availability: the suite reports them; a soak goes on after them (its purpose
# is to find lost writes, stale reads, diverging replicas and crashes).
AVAILABILITY = ("no failover:", "writes did not succeed", "writes stopped succeeding")


def safety_problems(row):
    return row.lost or row.linearizable != "yes" or \
        any(not p.startswith(AVAILABILITY) for p in row.problems)


def print_row(row):
    print("%-22s %-34s ops %5d ok %5d fail %4d unknown %4d lost %d lin %s failover %s ms "
          "recovery %s ms (%s): %s" % (row.case, row.fault[:34], row.ops, row.ok, row.fail,
                                       row.info, row.lost, row.linearizable, row.failover_ms,
                                       row.recovery_ms, row.effect, row.result), flush=True)
    for p in row.problems:
        print("    " + p.replace("\n", "\n    "), flush=True)


def commit():
    p = subprocess.run(["git", "-C", SOURCE_DIR, "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    return p.stdout.strip() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", choices=["ci", "ci5", "full"], default=None)
    ap.add_argument("--case", action="append", default=[])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--soak", type=float, default=None, metavar="MINUTES")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(31)
    every = cases_all()
    if args.list:
        for c in every:
            sets = "ci" if c.name in CI else "ci5" if c.name in CI5 else "full"
            print("%-30s %d nodes %-5s %s" % (c.name, c.nodes, sets,
                                              c.make(random.Random(0)).describe()))
        return 0
    signal.signal(signal.SIGALRM, on_alarm)
    print("fault suite: seed %d, commit %s" % (seed, commit()), flush=True)
    rows = []
    if args.soak is not None:
        run_soak(args.soak, args.nodes, seed, args.keep, rows, args.json)
    else:
        chosen = cases_set(args.set) if args.set else []
        chosen += [c for c in every if c.name in args.case]
        if not chosen:
            ap.error("nothing to run: give --set, --case or --soak")
        for case in chosen:
            row = run_case(case, seed, args.keep)
            print_row(row)
            rows.append(row)
    print()
    print(table(rows))
    if args.soak is not None:
        print()
        print(summary(rows))
    if args.json:
        write_json(args.json, rows, {"seed": seed, "commit": commit()})
    if any(r.problems for r in rows):
        print("\nFAILED: seed %d, commit %s (rerun: %s --seed %d ...)"
              % (seed, commit(), sys.argv[0], seed))
        return 1
    if all(r.skipped for r in rows):
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main())

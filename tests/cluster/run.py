#!/usr/bin/python3
"""The fault suite, in the manner of Jepsen: real spindled processes (scripts/local-cluster.sh),
client workers on every node, faults injected on a schedule drawn from a seed, healed, and the
recorded history checked (checks.py). Prints a table of fault, operations, failures, lost
writes, linearizability and recovery time.

    run.py --set ci                 the short set: each case on a fresh three-node cluster
    run.py --set ci5                the five-node cases
    run.py --case kill-follower     one case (--list shows them)
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
from report import Row, table, write_json  # noqa: E402
from spindle_cluster import SOURCE_DIR, Cluster  # noqa: E402
from spindle_proc import BUILD_DIR  # noqa: E402
from workers import Keyspace, Load  # noqa: E402

LANES = 4
SLOTS = 16384
WARM_S, FAULT_S, POST_S = 2.0, 6.0, 2.0
RECOVERY_MAX_S = 60.0
CASE_MARGIN_S = 180           # start, checks and stop, on top of a case's own phases
REPLICA_WAIT_S = 15.0
SKIP = 77
SETTINGS = ["snapshot-every-bytes 8m"]


class CaseTimeout(Exception):
    pass


def on_alarm(signum, frame):
    raise CaseTimeout("case exceeded its time bound")


# ---- Cases ----

class Case:
    """A fault on a fresh cluster of `nodes`. make(rng, nodes) builds the fault; lanes all
    have node 1 as primary (bootstrap), so that faults of the other nodes need no failover."""

    def __init__(self, name, nodes, make, fault_s=FAULT_S, doc=""):
        self.name, self.nodes, self.make, self.fault_s, self.doc = name, nodes, make, fault_s, doc


def followers(nodes):
    return list(range(2, nodes + 1))


def cases_ci(n):
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
             lambda rng: nemesis.Partition([1], [f(rng)], one_way=True)),
        Case("one-way-from-follower", n,
             lambda rng: nemesis.Partition([f(rng)], [1], one_way=True)),
        Case("loss-10", n, lambda rng: nemesis.Loss(10, everyone)),
        Case("dup-reorder-delay", n, lambda rng: hooks(rng, everyone)),
        Case("disk-full-follower", n, lambda rng: nemesis.DiskFull(f(rng), 1), fault_s=10),
        Case("disk-full-primary", n, lambda rng: nemesis.DiskFull(1, 1), fault_s=10),
        Case("pause-majority", n, lambda rng: nemesis.Pause(followers(n)),
             doc="every follower stopped: the lanes lose their majority and stall"),
    ]


def cases_ci5():
    n = 5
    return [
        Case("kill-two-followers-5", n,
             lambda rng: nemesis.Kill(rng.sample(followers(n), 2))),
        Case("partition-minority-5", n,
             lambda rng: split(rng.sample(followers(n), 2), n)),
        Case("loss-dup-reorder-5", n, lambda rng: hooks(rng, list(range(1, n + 1)), loss=2)),
    ]


def isolate(node, n):
    return nemesis.Partition([node], [x for x in range(1, n + 1) if x != node])


def split(minority, n):
    return nemesis.Partition(minority, [x for x in range(1, n + 1) if x not in minority])


def hooks(rng, nodes, loss=0):
    seed = rng.getrandbits(31)
    spec = "seed=%d; peer=*,dup_ppm=20000,reorder_ppm=50000,reorder_us=2000,delay_us=1000" % seed
    label = "dup 2% reorder 5% delay 1ms"
    if loss:
        spec += ",loss_ppm=%d" % (loss * 10000)
        label += " loss %d%%" % loss
    return nemesis.Hooks(spec, label, nodes)


def soak_fault(rng, n):
    """One fault for a soak cycle, drawn from every kind that needs no failover."""
    everyone = list(range(1, n + 1))
    f = rng.choice(followers(n))
    minority = rng.sample(followers(n), (n - 1) // 2)
    kinds = [
        lambda: nemesis.Kill(minority),
        lambda: nemesis.Pause([f]),
        lambda: nemesis.LinkDown([f]),
        lambda: isolate(f, n),
        lambda: split(minority, n),
        lambda: nemesis.Partition([1], [f], one_way=True),
        lambda: nemesis.Partition([f], [1], one_way=True),
        lambda: nemesis.Loss(rng.choice([5, 10, 20]), everyone),
        lambda: hooks(rng, everyone, loss=rng.choice([0, 1])),
        lambda: nemesis.Pause(followers(n)),
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

    def __init__(self, nodes, seed, binary, keep, prepare=()):
        transport = "dpdk" if os.geteuid() == 0 else "udp"
        self.c = Cluster(nodes=nodes, transport=transport, lanes=LANES, bootstrap_primary=1,
                         settings=SETTINGS, binary=os.path.join(BUILD_DIR, binary))
        self.seed, self.keep = seed, keep
        self.history = History()
        self.keyspace = Keyspace()
        self.load = None
        self.prepare = list(prepare)
        self.closed = {}        # key -> final raw value of closed generations
        self.probe_keys = lane_probe_keys(LANES)
        self.failed = False

    def start(self):
        for f in self.prepare:
            f.prepare(self.c)
        self.c.start()
        ports = [self.c.port + i for i in range(self.c.nodes)]
        self.load = Load(ports, self.history, self.seed, self.keyspace).start()
        return self

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

    def probe(self, deadline):
        """Writes one key per lane through every node until all succeed; the time taken."""
        t0 = time.monotonic()
        pending = [(n, k) for n in range(1, self.c.nodes + 1) for k in self.probe_keys]
        clients = {n: self.c.client(n, socket_timeout=1.0, socket_connect_timeout=0.5)
                   for n in range(1, self.c.nodes + 1)}
        while pending and time.monotonic() < deadline:
            for n, k in list(pending):
                try:
                    clients[n].set(k, "x")
                    pending.remove((n, k))
                except (redis.RedisError, OSError):
                    pass
            if pending:
                time.sleep(0.02)
        for r in clients.values():
            r.close()
        return None if pending else (time.monotonic() - t0) * 1000.0

    def cycle(self, gen, name, fault, warm_s, fault_s, post_s):
        """Load on generation `gen`, the fault, heal, recovery, more load; then the
        generation is closed and checked. Returns its report row."""
        row = Row(name, fault.describe(), self.c.nodes)
        self.load.set_gen(gen)
        time.sleep(warm_s)
        try:
            fault.start(self.c)
            time.sleep(fault_s)
            row.effect = fault.effect(self.c)
            if row.effect is None:
                row.problems.append("the fault had no visible effect")
        finally:
            fault.heal(self.c)
        t_heal = time.monotonic()
        row.fault = fault.describe()
        rec = self.probe(t_heal + RECOVERY_MAX_S)
        if rec is None:
            row.problems.append("writes did not succeed through every node within %.0f s of "
                                "healing" % RECOVERY_MAX_S)
        else:
            row.recovery_ms = round((time.monotonic() - t_heal) * 1000)
        time.sleep(post_s)
        self.load.set_gen(gen + 1)
        # Every request of `gen` has been answered; a probe through every node and lane now
        # comes after anything they left in flight inside the cluster.
        if self.probe(time.monotonic() + RECOVERY_MAX_S) is None:
            row.problems.append("writes stopped succeeding after the fault was healed")
        self.close_gen(gen, row, fault.log_allowed)
        return row

    def final_read(self, key, deadline):
        """A linearizable GET, from any node that answers, recorded as an Op."""
        n = 0
        while time.monotonic() < deadline:
            n = n % self.c.nodes + 1
            op = Op(0, n, "read", key)
            try:
                v = self.c.client(n, socket_timeout=2.0).get(key)
                return op.end(OK, result=v)
            except (redis.RedisError, OSError):
                time.sleep(0.05)
        raise AssertionError("no node answered GET %s" % key)

    def running(self, n):
        try:
            with open(os.path.join(self.c.dir, "n%d.pid" % n)) as f:
                os.kill(int(f.read()), 0)
            return True
        except (OSError, ValueError):
            return False

    def replicas(self, keys):
        """Each running node's own replica of keys (READONLY)."""
        out = {}
        for n in range(1, self.c.nodes + 1):
            if not self.running(n):
                continue
            r = self.c.client(n, socket_timeout=5.0, single_connection_client=True)
            r.execute_command("READONLY")
            p = r.pipeline(transaction=False)
            for k in keys:
                p.get(k)
            out[n] = dict(zip(keys, p.execute()))
            r.close()
        return out

    def check_replicas(self, finals_raw):
        deadline = time.monotonic() + REPLICA_WAIT_S
        while True:
            diff = checks.replica_mismatches(self.replicas(list(finals_raw)), finals_raw)
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
        out = []
        for n in range(1, self.c.nodes + 1):
            bad = checks.log_problems(self.c.log(n), log_allowed)
            if bad:
                out.append("node %d log: %s" % (n, bad[0]))
            if not self.running(n):
                out.append("node %d is not running:\n%s" % (n, self.c.log(n)[-2000:]))
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
    run = Run(case.nodes, rng.getrandbits(32), fault.binary, keep, prepare=[fault])
    signal.alarm(int(WARM_S + case.fault_s + POST_S + RECOVERY_MAX_S + CASE_MARGIN_S))
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


def run_soak(minutes, nodes, seed, keep, rows):
    rng = random.Random(seed)
    disk = nemesis.DiskFull(rng.choice(followers(nodes)), 1, size_mb=160)
    run = Run(nodes, rng.getrandbits(32), "spindled-faults", keep, prepare=[disk])
    end = time.monotonic() + minutes * 60
    gen = 0
    try:
        run.start()
        while time.monotonic() < end:
            fault = disk if rng.random() < 0.08 else soak_fault(rng, nodes)
            fault_s = rng.uniform(2, 15)
            signal.alarm(int(fault_s + 30 + RECOVERY_MAX_S + CASE_MARGIN_S))
            row = run.cycle(gen, "soak-%d" % gen, fault, rng.uniform(1, 5), fault_s,
                            rng.uniform(1, 4))
            signal.alarm(0)
            print_row(row)
            rows.append(row)
            gen += 1
            if row.problems:
                break
        run.load.stop()
        rows.append(run.verify_closed())
    except Exception as e:
        row = Row("soak-%d" % gen, "(broke)", nodes)
        row.problems.append("%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
        rows.append(row)
    finally:
        signal.alarm(0)
        run.failed = any(r.problems for r in rows)
        run.stop()


def print_row(row):
    print("%-22s %-34s ops %5d ok %5d fail %4d unknown %4d lost %d lin %s recovery %s ms "
          "(%s): %s" % (row.case, row.fault[:34], row.ops, row.ok, row.fail, row.info, row.lost,
                        row.linearizable, row.recovery_ms, row.effect, row.result), flush=True)
    for p in row.problems:
        print("    " + p.replace("\n", "\n    "), flush=True)


def commit():
    p = subprocess.run(["git", "-C", SOURCE_DIR, "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    return p.stdout.strip() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", choices=["ci", "ci5", "all"], default=None)
    ap.add_argument("--case", action="append", default=[])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--soak", type=float, default=None, metavar="MINUTES")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(31)
    every = cases_ci(3) + cases_ci5()
    if args.list:
        for c in every:
            print("%-24s %d nodes  %s" % (c.name, c.nodes, c.make(random.Random(0)).describe()))
        return 0
    signal.signal(signal.SIGALRM, on_alarm)
    print("fault suite: seed %d, commit %s" % (seed, commit()), flush=True)
    rows = []
    if args.soak is not None:
        run_soak(args.soak, args.nodes, seed, args.keep, rows)
    else:
        chosen = {"ci": cases_ci(3), "ci5": cases_ci5(), "all": every, None: []}[args.set]
        chosen += [c for c in every if c.name in args.case]
        if not chosen:
            ap.error("nothing to run: give --set, --case or --soak")
        for case in chosen:
            row = run_case(case, seed, args.keep)
            print_row(row)
            rows.append(row)
    print()
    print(table(rows))
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

"""What must hold of a history once its faults have healed, checked per generation of keys:

  registers  linearizable key by key (tests/cluster/histcheck, built from the simulator's
             checker), with the final read of each key as the history's last operation;
  counters   every acknowledged INCR returned a value no other returned, in real-time order,
             and the final value counts every acknowledged one and no more than were tried;
  appends    the final string holds every acknowledged token once, nothing that was not
             tried or that failed for certain, each at the length its APPEND returned;
  lost       acknowledged writes the final state does not show (registers: overwritten by a
             write that finished before they started, or missing);
and of the cluster: every node's own replica equal to the final values, no node log with a
crash or a sanitizer report the test did not cause, no unexpected error reply.
Each check returns a list of problems (strings) and a count of lost writes; empty and zero
is a pass."""
import bisect
import collections
import os
import subprocess
import tempfile

from history import FAIL, INFO, OK

HISTCHECK_BUDGET = 50_000_000
LOG_BAD_MARKS = ("PANIC", "AddressSanitizer", "runtime error:", "LeakSanitizer",
                 "assertion failed", "Segmentation fault")
CTL_LOG_BAD_MARKS = LOG_BAD_MARKS + ("FATAL",)


def histcheck_path():
    build = os.environ.get("SPINDLE_BUILD_DIR",
                           os.path.join(os.path.dirname(__file__), "../../build"))
    return os.path.join(build, "tests/cluster/histcheck")


class Result:
    def __init__(self):
        self.problems = []
        self.lost = 0
        self.linearizable = "yes"

    def add(self, other):
        self.problems += other.problems
        self.lost += other.lost
        order = ["yes", "unknown", "no"]
        if order.index(other.linearizable) > order.index(self.linearizable):
            self.linearizable = other.linearizable
        return self


def register_value(raw):
    """A GET answer as the register's value: 0 for a missing key; None if it is not one of
    the values the workers write."""
    if raw is None:
        return 0
    try:
        v = int(raw)
    except ValueError:
        return None
    return v if 0 < v < (1 << 63) else None


def realtime_violations(acked):
    """acked: (call_us, ret_us, value, label). An operation that returned before another was
    called must have the smaller value. Returns the pairs that do not."""
    by_ret = sorted(acked, key=lambda a: a[1])
    rets = [a[1] for a in by_ret]
    best = []  # prefix maximum of value over by_ret
    for a in by_ret:
        best.append(a if not best or a[2] > best[-1][2] else best[-1])
    out = []
    for b in acked:
        i = bisect.bisect_left(rets, b[0])  # ops that returned strictly before b's call
        if i > 0 and best[i - 1][2] >= b[2]:
            out.append((best[i - 1], b))
    return out


def check_registers(ops, finals, workdir=None, budget=HISTCHECK_BUDGET):
    """ops: the register ops of some keys; finals: key -> a final read Op (status ok)."""
    res = Result()
    lines = []
    for o in list(ops) + list(finals.values()):
        if o.f == "write" and o.status in (OK, INFO):
            ret = o.ret_us if o.status == OK else "open"
            lines.append("%s w %d %d %s" % (o.key, o.value, o.call_us, ret))
        elif o.f == "read" and o.status == OK:
            v = register_value(o.result)
            if v is None:
                res.problems.append("%s: read %r, a value no worker writes" % (o.key, o.result))
                res.linearizable = "no"
                continue
            lines.append("%s r %d %d %d" % (o.key, v, o.call_us, o.ret_us))
    if lines:
        out, code = run_histcheck("\n".join(lines) + "\n", workdir, budget)
        if code == 1:
            res.linearizable = "no"
            res.problems.append("registers not linearizable:\n" + out)
        elif code == 2:
            res.linearizable = "unknown"
            res.problems.append("linearizability undecided (search budget):\n" + out)
        elif code != 0:
            raise RuntimeError("histcheck failed (%d):\n%s" % (code, out))
    res.lost = register_lost(ops, finals, res)
    return res


def run_histcheck(text, workdir, budget):
    with tempfile.NamedTemporaryFile("w", dir=workdir, prefix="history-", suffix=".txt",
                                     delete=workdir is None) as f:
        f.write(text)
        f.flush()
        p = subprocess.run([histcheck_path(), "--budget", str(budget), f.name],
                           capture_output=True, text=True, timeout=600)
    return p.stdout + p.stderr, p.returncode


def register_lost(ops, finals, res):
    """Acknowledged writes that the final value shows were lost: it is the initial value, a
    value never written, or the value of a write that finished before they started."""
    lost = 0
    writes = collections.defaultdict(dict)
    for o in ops:
        if o.f == "write":
            writes[o.key][o.value] = o
    for key, final in finals.items():
        v = register_value(final.result)
        acked = [w for w in writes[key].values() if w.status == OK]
        x = writes[key].get(v)
        if v == 0 or x is None or x.status == FAIL:
            gone = acked
        elif x.status == OK:
            gone = [w for w in acked if x.ret_us < w.call_us]
        else:
            gone = []  # an open write may have taken effect after any of them
        if gone:
            res.problems.append("%s: final value %r loses %d acknowledged writes (first: %r)"
                                % (key, final.result, len(gone), gone[0]))
        lost += len(gone)
    return lost


def check_counters(ops, finals):
    """ops: INCR ops; finals: key -> final value (int, 0 if missing)."""
    res = Result()
    by_key = collections.defaultdict(list)
    for o in ops:
        by_key[o.key].append(o)
    for key, final in finals.items():
        kops = by_key[key]
        acked = [o for o in kops if o.status == OK]
        unknown = sum(1 for o in kops if o.status == INFO)
        values = [int(o.result) for o in acked]
        twice = [v for v, n in collections.Counter(values).items() if n > 1]
        if twice:
            res.problems.append("%s: INCR returned %s more than once" % (key, twice[:5]))
            res.linearizable = "no"
        bad = realtime_violations([(o.call_us, o.ret_us, int(o.result), o) for o in acked])
        if bad:
            res.problems.append("%s: INCR %r returned before %r began, yet has a larger value"
                                % (key, bad[0][0][3], bad[0][1][3]))
            res.linearizable = "no"
        need = max([len(acked)] + values)
        if final < need:
            res.lost += need - final
            res.problems.append("%s: final value %d, but %d INCRs were acknowledged (largest "
                                "answer %d)" % (key, final, len(acked), max(values or [0])))
        if final > len(acked) + unknown:
            res.problems.append("%s: final value %d is more than the %d acknowledged and %d "
                                "unknown INCRs" % (key, final, len(acked), unknown))
            res.linearizable = "no"
    return res


def parse_tokens(text):
    """The final string of an append key as (token, end offset) in order; None if malformed."""
    if not text:
        return []
    if not text.endswith(";"):
        return None
    out, end = [], 0
    for t in text[:-1].split(";"):
        end += len(t) + 1
        out.append((t + ";", end))
    return out


def check_appends(ops, finals):
    """ops: APPEND ops; finals: key -> final string (str, '' if missing)."""
    res = Result()
    by_key = collections.defaultdict(list)
    for o in ops:
        by_key[o.key].append(o)
    for key, final in finals.items():
        kops = by_key[key]
        tokens = parse_tokens(final)
        if tokens is None:
            res.problems.append("%s: final value %r is not a list of tokens" % (key, final[-80:]))
            res.linearizable = "no"
            continue
        where = {}
        for i, (t, end) in enumerate(tokens):
            if t in where:
                res.problems.append("%s: token %s appended twice" % (key, t))
                res.linearizable = "no"
            where[t] = (i, end)
        status = {o.value: o for o in kops}
        for t in where:
            o = status.get(t)
            if o is None or o.status == FAIL:
                res.problems.append("%s: token %s is there but was %s" % (
                    key, t, "never written" if o is None else "refused (%s)" % o.error))
                res.linearizable = "no"
        acked = [o for o in kops if o.status == OK]
        for o in acked:
            if o.value not in where:
                res.lost += 1
                res.problems.append("%s: acknowledged APPEND %r is missing" % (key, o))
            elif where[o.value][1] != int(o.result):
                res.problems.append("%s: APPEND %r returned length %s but its token ends at %d"
                                    % (key, o, o.result, where[o.value][1]))
                res.linearizable = "no"
        bad = realtime_violations([(o.call_us, o.ret_us, where[o.value][0], o) for o in acked
                                   if o.value in where])
        if bad:
            res.problems.append("%s: %r finished before %r began but comes after it"
                                % (key, bad[0][0][3], bad[0][1][3]))
            res.linearizable = "no"
    return res


def check_unexpected(ops):
    res = Result()
    odd = [o for o in ops if o.error and "unexpected" in o.error]
    if odd:
        res.problems.append("%d unexpected answers, e.g. %r" % (len(odd), odd[0]))
    return res


def replica_mismatches(replicas, finals):
    """replicas: node -> {key: raw value}; finals: key -> raw value. Lists every difference."""
    out = []
    for node, vals in sorted(replicas.items()):
        for key, want in finals.items():
            if vals.get(key) != want:
                out.append("node %d holds %s=%r, the cluster %r" % (node, key,
                                                                       _short(vals.get(key)),
                                                                       _short(want)))
    return out


def _short(v):
    return v if v is None or len(v) < 60 else v[:28] + b"..." + v[-28:]


def log_problems(text, allowed=(), marks=LOG_BAD_MARKS):
    """Lines of a node's log that show a crash, an assertion or a sanitizer report, except
    those matching one of `allowed` (faults the test caused)."""
    bad = []
    for line in text.splitlines():
        if any(m in line for m in marks) and not any(a in line for a in allowed):
            bad.append(line)
    return bad

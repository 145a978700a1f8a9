"""The fault suite's report: one row per fault cycle (fault, operations, failures, lost
writes, linearizability, failover time while the fault lasts, recovery time after it is
healed), printed as a markdown table, and as JSON on request; a soak's rows also grouped by
kind of fault. `report.py FILE.json` prints the grouped table of a report written before."""
import json
import re

COLUMNS = (("case", "case"), ("fault", "fault"), ("nodes", "nodes"), ("ops", "ops"),
           ("ok", "ok"), ("fail", "failed"), ("info", "unknown"), ("lost", "lost writes"),
           ("linearizable", "linearizable"), ("failover_ms", "failover ms"),
           ("recovery_ms", "recovery ms"),
           ("result", "result"))


class Row:
    def __init__(self, case, fault, nodes):
        self.case, self.fault, self.nodes = case, fault, nodes
        self.ops = self.ok = self.fail = self.info = self.lost = 0
        self.linearizable = "yes"
        self.recovery_ms = None
        self.failover_ms = None
        self.problems = []
        self.skipped = None
        self.effect = "-"

    @property
    def result(self):
        if self.skipped:
            return "skipped"
        return "FAIL" if self.problems else "pass"

    def count(self, ops):
        for o in ops:
            self.ops += 1
            setattr(self, o.status, getattr(self, o.status) + 1)

    def as_dict(self):
        d = {k: getattr(self, k) for k, _ in COLUMNS}
        d["problems"] = self.problems
        d["skipped"] = self.skipped
        d["effect"] = self.effect
        return d


def cell(v):
    if v is None:
        return "-"
    return str(v)


def table(rows):
    head = [title for _, title in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        vals = [r.skipped if (k == "fault" and r.skipped) else getattr(r, k) for k, _ in COLUMNS]
        lines.append("| " + " | ".join(cell(v) for v in vals) + " |")
    total = [r for r in rows if not r.skipped]
    lines.append("")
    lines.append("%d cycles, %d operations (%d ok, %d failed, %d unknown), %d lost writes, "
                 "%d not linearizable, %d failed" % (
                     len(total), sum(r.ops for r in total), sum(r.ok for r in total),
                     sum(r.fail for r in total), sum(r.info for r in total),
                     sum(r.lost for r in total),
                     sum(1 for r in total if r.linearizable != "yes"),
                     sum(1 for r in total if r.problems)))
    return "\n".join(lines)


def write_json(path, rows, meta):
    with open(path, "w") as f:
        json.dump({"meta": meta, "rows": [r.as_dict() for r in rows]}, f, indent=1)


def fault_kind(fault):
    """A fault's description without its nodes: "kill -9 n1,n3" -> "kill -9 N,N"."""
    text = re.sub(r" \(filler:.*\)$", "", fault)
    return re.sub(r"\bn\d+\b", "N", text)


def _span(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return "-"
    return "%d / %d" % (values[len(values) // 2], values[-1])


def summary(rows):
    """The rows of a soak grouped by kind of fault: cycles, operations, lost writes, cycles
    not linearizable, failed cycles, failover and recovery times (median / max, ms)."""
    kinds = {}
    for r in rows:
        if r.case.startswith("soak-"):
            kinds.setdefault(fault_kind(r.fault), []).append(r)
    lines = ["| fault | cycles | ops | ok | unknown | lost writes | not linearizable | failed "
             "| failover ms (median / max) | recovery ms (median / max) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for kind, rs in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        lines.append("| %s | %d | %d | %d | %d | %d | %d | %d | %s | %s |" % (
            kind, len(rs), sum(r.ops for r in rs), sum(r.ok for r in rs),
            sum(r.info for r in rs), sum(r.lost for r in rs),
            sum(1 for r in rs if r.linearizable != "yes"), sum(1 for r in rs if r.problems),
            _span(r.failover_ms for r in rs), _span(r.recovery_ms for r in rs)))
    return "\n".join(lines)


def rows_from_json(path):
    """The rows of a report written by write_json()."""
    with open(path) as f:
        data = json.load(f)
    out = []
    for d in data["rows"]:
        r = Row(d["case"], d["fault"], d["nodes"])
        for k in ("ops", "ok", "fail", "info", "lost", "linearizable", "failover_ms",
                  "recovery_ms", "problems", "skipped", "effect"):
            if k in d:
                setattr(r, k, d[k])
        out.append(r)
    return out, data["meta"]


if __name__ == "__main__":
    import sys
    rows, meta = rows_from_json(sys.argv[1])
    print("seed %s, commit %s\n" % (meta.get("seed"), meta.get("commit")))
    print(summary(rows))
    print()
    print(table(rows).split("\n")[-1])

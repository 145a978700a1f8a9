"""The fault suite's report: one row per fault cycle (fault, operations, failures, lost
writes, linearizability, failover time while the fault lasts, recovery time after it is
healed), printed as a markdown table, and as JSON on request."""
import json

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

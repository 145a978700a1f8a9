"""The fault suite's checks against hand-made histories: each must pass what is correct and
catch what is not (stale and lost register values, counters that skip or repeat, appends
lost, doubled or out of order), histcheck's input handling, and how error replies are
classified. No cluster is needed."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import redis  # noqa: E402

import checks  # noqa: E402
from history import FAIL, INFO, OK, Op, classify_error  # noqa: E402


def op(f, key, value=None, call=0, ret=1, status=OK, result=None, proc=1):
    o = Op(proc, 1, f, key, value)
    o.call_us, o.ret_us, o.status, o.result = call, ret, status, result
    return o


def w(key, v, call, ret, status=OK):
    return op("write", key, v, call, ret, status, b"OK" if status == OK else None)


def r(key, v, call, ret):
    return op("read", key, None, call, ret, OK, None if v == 0 else str(v).encode())


def histcheck(text, *extra):
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write(text)
        f.flush()
        p = subprocess.run([checks.histcheck_path()] + list(extra) + [f.name],
                           capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


class Histcheck(unittest.TestCase):
    def test_linearizable_and_not(self):
        ok = "# two keys\na w 1 0 10\na r 1 11 12\nb w 5 0 10\nb r 0 1 2\n\nb r 5 20 21\n"
        code, out = histcheck(ok)
        self.assertEqual(code, 0, out)
        self.assertIn("keys 2 ops 5 linearizable 2 violations 0", out)
        stale = "a w 1 0 10\na w 2 20 30\na r 1 40 50\nb w 3 0 1\n"
        code, out = histcheck(stale)
        self.assertEqual(code, 1, out)
        self.assertIn("key a ops 3 VIOLATION", out)
        self.assertIn("=> line 3: r 1", out)
        self.assertIn("violations 1", out)

    def test_open_writes(self):
        # An open write may land after a later read...
        code, out = histcheck("a w 1 0 5\na w 2 6 open\na r 1 10 11\na r 2 12 13\n")
        self.assertEqual(code, 0, out)
        # ...but not flip back.
        code, out = histcheck("a w 1 0 5\na w 2 6 open\na r 2 10 11\na r 1 12 13\n")
        self.assertEqual(code, 1, out)

    def test_budget(self):
        # Many concurrent writes and a read that matches none: the search runs out.
        lines = ["a w %d 0 1000" % v for v in range(1, 40)] + ["a r 999 2000 2001"]
        code, out = histcheck("\n".join(lines) + "\n", "--budget", "50")
        self.assertEqual(code, 2, out)
        self.assertIn("UNKNOWN", out)

    def test_bad_input(self):
        for text, why in [("a w 1 0\n", "expected"), ("a x 1 0 1\n", "kind"),
                          ("a w 0 0 1\n", "write of 0"), ("a r 1 0 open\n", "only writes"),
                          ("a w 1 5 4\n", "before its call"), ("a w -1 0 1\n", "bad value"),
                          ("a w 1 0 1\na w 1 2 3\n", "written twice"),
                          ("a w 1 0 99999999999999999999999\n", "bad return"),
                          ("k" * 300 + " w 1 0 1\n", "key too long"),
                          ("a w 1 0 1 " + "x" * 600 + "\n", "longer than")]:
            code, out = histcheck(text)
            self.assertEqual(code, 3, (text[:40], out))
            self.assertIn(why, out)
        p = subprocess.run([checks.histcheck_path()], capture_output=True, text=True)
        self.assertEqual(p.returncode, 3)
        p = subprocess.run([checks.histcheck_path(), "/nonexistent/h"], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 3)


class Registers(unittest.TestCase):
    def test_pass(self):
        ops = [w("r0:0", 7, 0, 10), r("r0:0", 7, 11, 12), w("r0:0", 8, 13, 20, INFO)]
        res = checks.check_registers(ops, {"r0:0": r("r0:0", 8, 30, 31)})
        self.assertEqual((res.problems, res.lost, res.linearizable), ([], 0, "yes"))
        # The open write may also never have happened.
        res = checks.check_registers(ops, {"r0:0": r("r0:0", 7, 30, 31)})
        self.assertEqual((res.problems, res.lost), ([], 0))

    def test_lost_write(self):
        ops = [w("r0:0", 7, 0, 10), w("r0:0", 8, 20, 30)]
        res = checks.check_registers(ops, {"r0:0": r("r0:0", 7, 40, 41)})
        self.assertEqual(res.lost, 1)
        self.assertEqual(res.linearizable, "no")
        res = checks.check_registers(ops, {"r0:0": r("r0:0", 0, 40, 41)})
        self.assertEqual(res.lost, 2)
        # A refused write must not show.
        ops = [w("r0:0", 7, 0, 10), w("r0:0", 8, 20, 30, FAIL)]
        res = checks.check_registers(ops, {"r0:0": r("r0:0", 8, 40, 41)})
        self.assertEqual(res.linearizable, "no")
        self.assertEqual(res.lost, 1)

    def test_garbage_read(self):
        ops = [w("r0:0", 7, 0, 10), op("read", "r0:0", None, 11, 12, OK, b"hello")]
        res = checks.check_registers(ops, {"r0:0": r("r0:0", 7, 40, 41)})
        self.assertEqual(res.linearizable, "no")


class Counters(unittest.TestCase):
    def incr(self, v, call, ret, status=OK):
        return op("incr", "c0:0", None, call, ret, status, v)

    def test_pass(self):
        ops = [self.incr(1, 0, 10), self.incr(2, 5, 15), self.incr(None, 20, 30, INFO),
               self.incr(None, 31, 32, FAIL), self.incr(4, 40, 50)]
        # Three acknowledged (the largest answer 4) and one unknown: the final value is 4.
        self.assertEqual(checks.check_counters(ops, {"c0:0": 4}).problems, [])
        self.assertEqual(checks.check_counters(ops, {"c0:0": 3}).lost, 1)
        self.assertEqual(checks.check_counters(ops, {"c0:0": 5}).linearizable, "no")

    def test_faults(self):
        twice = [self.incr(1, 0, 10), self.incr(1, 20, 30)]
        self.assertEqual(checks.check_counters(twice, {"c0:0": 2}).linearizable, "no")
        backwards = [self.incr(2, 0, 10), self.incr(1, 20, 30)]
        self.assertEqual(checks.check_counters(backwards, {"c0:0": 2}).linearizable, "no")
        lost = [self.incr(1, 0, 10), self.incr(2, 20, 30)]
        self.assertEqual(checks.check_counters(lost, {"c0:0": 1}).lost, 1)
        phantom = [self.incr(1, 0, 10), self.incr(None, 20, 30, FAIL)]
        res = checks.check_counters(phantom, {"c0:0": 2})
        self.assertEqual(res.linearizable, "no")


class Appends(unittest.TestCase):
    def app(self, token, length, call, ret, status=OK):
        return op("append", "a0:0", token, call, ret, status, length)

    def test_pass(self):
        ops = [self.app("p1.1;", 5, 0, 10), self.app("p2.1;", 10, 5, 15),
               self.app("p1.2;", None, 20, 30, INFO), self.app("p2.2;", None, 20, 30, FAIL)]
        self.assertEqual(checks.check_appends(ops, {"a0:0": "p1.1;p2.1;"}).problems, [])
        self.assertEqual(checks.check_appends(ops, {"a0:0": "p1.1;p2.1;p1.2;"}).problems, [])

    def test_faults(self):
        ops = [self.app("p1.1;", 5, 0, 10), self.app("p2.1;", 10, 20, 30),
               self.app("p2.2;", None, 40, 50, FAIL)]
        self.assertEqual(checks.check_appends(ops, {"a0:0": "p1.1;"}).lost, 1)
        self.assertEqual(checks.check_appends(ops, {"a0:0": "p2.1;p1.1;"}).linearizable, "no")
        self.assertEqual(
            checks.check_appends(ops, {"a0:0": "p1.1;p2.1;p2.1;"}).linearizable, "no")
        self.assertEqual(
            checks.check_appends(ops, {"a0:0": "p1.1;p2.1;p2.2;"}).linearizable, "no")
        self.assertEqual(checks.check_appends(ops, {"a0:0": "p1.1;p2.1;zz"}).linearizable, "no")
        self.assertEqual(checks.check_appends(ops, {"a0:0": "p1.1;p9.9;p2.1;"}).linearizable,
                         "no")


class Misc(unittest.TestCase):
    def test_realtime(self):
        self.assertEqual(checks.realtime_violations([(0, 10, 1, "a"), (5, 15, 2, "b")]), [])
        self.assertEqual(checks.realtime_violations([(0, 10, 2, "a"), (5, 15, 1, "b")]), [])
        bad = checks.realtime_violations([(0, 10, 2, "a"), (11, 15, 1, "b")])
        self.assertEqual([(x[3], y[3]) for x, y in bad], [("a", "b")])

    def test_classify(self):
        cases = [
            (redis.ResponseError("TRYAGAIN the forwarded command got no answer from the "
                                 "lane's primary; it may or may not have been applied"), INFO),
            (redis.ResponseError("TRYAGAIN the lane's primary changed before this write was "
                                 "acknowledged; it may or may not have been applied"), INFO),
            (redis.ResponseError("TRYAGAIN this node is not the primary of the key's lane"),
             FAIL),
            (redis.ResponseError("MISCONF spindle cannot write to its log: no space left"), FAIL),
            (redis.BusyLoadingError("LOADING spindle is loading"), FAIL),
            (redis.TimeoutError("Timeout reading"), INFO),
            (redis.ConnectionError("Connection closed by server."), INFO),
        ]
        for e, want in cases:
            status, text = classify_error(e)
            self.assertEqual(status, want, text)
            self.assertNotIn("unexpected", text)
        status, text = classify_error(redis.ResponseError("Protocol error: junk"))
        self.assertEqual(status, FAIL)
        self.assertTrue(text.startswith("unexpected"))

    def test_replicas_and_logs(self):
        finals = {"a": b"1", "b": None}
        self.assertEqual(checks.replica_mismatches({1: {"a": b"1", "b": None}}, finals), [])
        self.assertEqual(len(checks.replica_mismatches({1: {"a": b"2", "b": None},
                                                        2: {"a": b"1", "b": b"x"}}, finals)), 2)
        log = "x INFO fine\ny PANIC lane.c:1: assertion failed: x\nz WARN No space left\n"
        self.assertEqual(len(checks.log_problems(log)), 1)
        self.assertEqual(checks.log_problems(log, allowed=("lane.c:1",)), [])


if __name__ == "__main__":
    unittest.main()

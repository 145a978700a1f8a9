"""spindlectl node drain on a running cluster: it moves every primary the node holds and
answers once the node leads nothing, also while balancing works hard to give lanes back (one
balancing switchover every 200 ms here); it says when there is nothing to drain; an unknown
node is refused with exit code 4."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../control"))
from spindle_cluster import dpdk_possible  # noqa: E402
from upgrade_cluster import UpgradeCluster, binaries_copy, scratch_dir  # noqa: E402

LANES = 8


class Drain(unittest.TestCase):
    transport = os.environ.get("SPINDLE_UPGRADE_TRANSPORT") or ("dpdk" if dpdk_possible() else "udp")

    def setUp(self):
        self.tmp = scratch_dir()
        self.bin = binaries_copy(os.path.join(self.tmp, "installed"))

    def tearDown(self):
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    def drain(self, c, timeout_s=30):
        """node drain 1 through node 2, again while the answer is "no majority" (exit code 3:
        a loaded host makes the leader judge a node unhealthy for a moment)."""
        deadline = time.time() + timeout_s
        while True:
            rc, out, err = c.ctl(2, "node", "drain", 1)
            if rc != 3 or time.time() > deadline:
                return rc, out, err
            print("drain: %s (again)" % err.strip())
            time.sleep(0.5)

    def test_drain_against_balancing(self):
        with UpgradeCluster(self.bin, port_offset=30, transport=self.transport, lanes=LANES,
                            control_settings=["balance-every-ms 200"]) as c:
            rc, out, err = c.ctl(1, "node", "drain", 9)
            self.assertEqual(rc, 4, out + err)
            self.assertIn("node 9 is not in the cluster", err)
            for round_ in range(3):
                c.wait_until(lambda: c.lanes_ok() and 1 in c.primaries(), timeout_s=30)
                led = [k for k, p in enumerate(c.primaries()) if p == 1]
                rc, out, err = self.drain(c)
                self.assertEqual(rc, 0, out + err)
                if "leads no lane" in out:
                    continue  # balancing moved them between our look and the drain
                # (Balancing may already be giving lanes back as the answer arrives.)
                for k in led:
                    self.assertIn("lane %d: primary 1 -> " % k, out)
                print("\nround %d: drained lanes %s:\n%s" % (round_, led, out.strip()))
            # Balancing gives lanes back within a few hundred ms; with the node's control
            # daemon stopped it cannot, and a drain then finds nothing, or moves what came
            # back in between.
            c.ctl_action("term", 1)
            c.wait_until(lambda: [n for n in c.status(2)["nodes"] if n["id"] == 1][0]["health"]
                         != "healthy", timeout_s=20)
            # (A new leader counts a node it has not heard from as healthy for its first
            # node-timeout-ms, so a drain may still find a switchover to cancel.)
            for attempt in range(5):
                rc, out, err = self.drain(c)
                self.assertEqual(rc, 0, out + err)
                if out.strip() == "node 1 leads no lane: nothing to drain":
                    break
                print("drain once node 1 counts as down: %s" % out.strip())
                time.sleep(1.0)
            self.assertEqual(out.strip(), "node 1 leads no lane: nothing to drain")
            # A balancing switchover to node 1 begun before it went down is given up
            # (not-acting-ms), and none begins while it is down.
            c.wait_until(lambda: all(l["primary"] != 1 and l["switch_target"] != 1
                                     for l in c.status(2)["lanes"]), timeout_s=10)
            c.ctl_action("restart", 1)


if __name__ == "__main__":
    unittest.main()

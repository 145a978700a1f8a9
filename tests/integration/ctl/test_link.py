"""spindled's end of the control link, spoken to by ctl_probe (the real protocol, no control
daemon): heartbeats report every lane and the peers heard; PREPARE gets a durable PROMISE;
a manual failover through the links of the surviving nodes (promise a new epoch, then
appoint a new primary) makes writes succeed again with nothing acknowledged lost."""
import json
import os
import subprocess
import time
import unittest

import redis

from spindle_cluster import Cluster

PROBE = os.path.join(os.environ.get("SPINDLE_BUILD_DIR", "build"), "tests/integration/ctl/ctl_probe")


def probe(c, node, *args, timeout=15):
    sock = os.path.join(c.dir, "n%d.ctl" % node)
    out = subprocess.run([PROBE, sock] + [str(a) for a in args], capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise AssertionError("ctl_probe %s on node %d failed (%d): %s\n%s"
                             % (args, node, out.returncode, out.stderr, c.logs_tail()))
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


class Link(unittest.TestCase):
    def test_heartbeats_promise_and_manual_failover(self):
        c = Cluster(transport="udp", lanes=2, bootstrap_primary=1, control_socket=True)
        with c:
            r1 = c.client(1)
            acked = {}
            for i in range(200):
                r1.set("k%d" % i, i)
                acked["k%d" % i] = str(i)
            hb = probe(c, 2, "heartbeats", 2)
            self.assertEqual(len(hb), 2)
            self.assertEqual(len(hb[-1]["lanes"]), 2)
            self.assertEqual(hb[-1]["peers_heard"] & 0b1110, 0b1110)  # nodes 1-3 heard
            self.assertTrue(hb[1]["progress"] >= hb[0]["progress"])
            for lane in hb[-1]["lanes"]:
                self.assertEqual(lane["epoch"], 1)
            hb1 = probe(c, 1, "heartbeats", 1)[0]
            for lane in hb1["lanes"]:
                self.assertEqual(lane["role"], 1)          # node 1 is every lane's primary
                self.assertEqual(lane["caught_up"] & 0b1100, 0b1100)
            # The primary dies; the survivors promise epoch 2 and node 2 takes over.
            c.kill(1)
            t0 = time.time()
            for lane in (0, 1):
                promises = [probe(c, n, "prepare", lane, 2)[0] for n in (2, 3)]
                for p in promises:
                    self.assertEqual(p["epoch"], 2)
                    self.assertGreaterEqual(p["last_index"], 1)
                for n in (2, 3):
                    probe(c, n, "config", lane, 2, 2, 0b1110)
            r2 = c.client(2)
            c.wait_until(lambda: r2.set("after", "failover"), timeout_s=10)
            print("writes resumed %.3f s after the primary was killed (manual failover)"
                  % (time.time() - t0))
            for k, v in acked.items():
                self.assertEqual(r2.get(k).decode(), v)
            self.assertEqual(c.client(3).get("after"), b"failover")
            # The old primary comes back as a follower of epoch 2 and catches up.
            c.restart(1)
            r1 = c.client(1)
            r1.execute_command("READONLY")
            c.wait_until(lambda: r1.get("after") == b"failover", timeout_s=15)


if __name__ == "__main__":
    unittest.main()

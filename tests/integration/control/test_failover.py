"""Failover with the control plane, on a local three-node cluster with real clients writing
through the surviving nodes throughout: kill -9 of a lane's primary, SIGSTOP of it (it must
not acknowledge anything once another primary took over), its replication link cut, the
control group's leader killed, a fourth node added and one removed, a planned switchover.
After each: no acknowledged write lost, and the longest write across the fault is printed
(the time until writes succeed again, as a client saw it)."""
import os
import signal
import sys
import threading
import time
import unittest

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from control_cluster import ControlCluster, Writers, keys_in_lane, transports  # noqa: E402
from spindle_cluster import dpdk_possible  # noqa: E402

LANES = 4
# Lanes start spread over nodes 1, 2, 3 in id order: lanes 0 and 3 on node 1.
VICTIM_LANES = (0, 3)
STALL_MAX_S = 5.0      # a bound for a loaded test machine; the goal is 1 s (printed)
SETTINGS = ["balance-every-ms 0"]  # no balancing: each test measures its own fault only


def report(what, transport, writers, t_fault):
    worst, started = writers.longest_after(t_fault)
    print("\n[%s, %s] longest write across the fault: %.0f ms (started %.0f ms after it); "
          "%d writes acknowledged" % (what, transport, worst * 1000, started * 1000,
                                      writers.count()))
    return worst


class Faults:
    transport = None

    def cluster(self, **kw):
        kw.setdefault("control_settings", SETTINGS)
        return ControlCluster(transport=self.transport, lanes=LANES, **kw)

    def moved(self, c, lanes, away_from):
        p = c.primaries()
        return all(p[k] != away_from for k in lanes) and c.lanes_ok()

    def test_kill_primary(self):
        with self.cluster() as c:
            self.assertEqual([c.primaries()[k] for k in VICTIM_LANES], [1, 1])
            w = Writers(c, [2, 3]).start()
            w.wait_writes(200)
            t = time.time()
            c.kill(1)
            c.wait_until(lambda: self.moved(c, VICTIM_LANES, 1), timeout_s=20)
            w.wait_writes(300)
            worst = report("kill -9 of the primary", self.transport, w, t)
            c.restart(1)
            c.wait_until(lambda: c.all_in_sync(), timeout_s=30)
            w.wait_writes(100)
            w.stop()
            self.assertLess(worst, STALL_MAX_S)
            self.assertEqual(w.check_all(2), [])
            self.assertEqual(w.check_all(1), [])

    def test_pause_primary(self):
        with self.cluster() as c:
            fence = keys_in_lane(0, LANES, "fence", 1)[0]
            zombie_keys = keys_in_lane(0, LANES, "zombie", 20)
            c.client(2).set(fence, "old")
            w = Writers(c, [2, 3]).start()
            w.wait_writes(200)
            zombie = c.client(1, socket_timeout=30)
            zombie.ping()
            acked_by_zombie = {}

            def zombie_writes():
                # Sent to the paused old primary; answered, if ever, after it resumes.
                for k in zombie_keys:
                    try:
                        if zombie.set(k, "z"):
                            acked_by_zombie[k] = "z"
                    except (redis.RedisError, OSError):
                        pass

            t = time.time()
            c.pause(1)
            zt = threading.Thread(target=zombie_writes, daemon=True)
            zt.start()
            c.wait_until(lambda: self.moved(c, VICTIM_LANES, 1), timeout_s=20)
            w.wait_writes(300)
            worst = report("SIGSTOP of the primary", self.transport, w, t)
            c.client(2).set(fence, "new")
            c.resume(1)
            zt.join(40)
            # The old primary has lost its lease: it serves no stale value...
            c.wait_until(lambda: c.client(1).get(fence) is not None, timeout_s=20)
            self.assertEqual(c.client(1).get(fence), b"new")
            c.wait_until(lambda: c.all_in_sync(), timeout_s=30)
            w.stop()
            # ... and whatever it acknowledged is really there.
            for k, v in acked_by_zombie.items():
                self.assertEqual(c.client(2).get(k), v.encode(), k)
            print("writes sent to the paused primary: %d acknowledged after it resumed, all "
                  "present" % len(acked_by_zombie))
            self.assertLess(worst, STALL_MAX_S)
            self.assertEqual(w.check_all(3), [])

    @unittest.skipUnless(dpdk_possible(), "link down needs the DPDK transport (root)")
    def test_link_down(self):
        if self.transport != "dpdk":
            self.skipTest("the udp transport runs on loopback: no link to cut")
        with self.cluster() as c:
            w = Writers(c, [2, 3]).start()
            w.wait_writes(200)
            t = time.time()
            c.run("link", "down", 1, c.dir)
            c.wait_until(lambda: self.moved(c, VICTIM_LANES, 1), timeout_s=20)
            w.wait_writes(300)
            worst = report("replication link of the primary cut", self.transport, w, t)
            c.run("link", "up", 1, c.dir)
            c.wait_until(lambda: c.all_in_sync(), timeout_s=30)
            w.stop()
            self.assertLess(worst, STALL_MAX_S)
            self.assertEqual(w.check_all(2), [])
            self.assertEqual(w.check_all(1), [])

    def test_control_leader_killed(self):
        with self.cluster() as c:
            leader = c.leader()
            others = [n for n in (1, 2, 3) if n != leader]
            w = Writers(c, others).start()
            w.wait_writes(200)
            t = time.time()
            c.ctl_action("kill", leader)
            c.wait_until(lambda: c.status(others[0])["leader"] not in (None, leader),
                         timeout_s=20)
            new_leader = c.status(others[0])["leader"]
            # The dead daemon's node reports no more: its lanes move to healthy nodes.
            c.wait_until(lambda: self.moved(c, [k for k, p in enumerate(c.primaries())
                                                if p == leader], leader), timeout_s=20)
            w.wait_writes(300)
            worst = report("control leader killed", self.transport, w, t)
            print("control leader: node %d -> node %d" % (leader, new_leader))
            c.ctl_action("restart", leader)
            c.wait_until(lambda: c.status(leader)["leader"] == new_leader, timeout_s=20)
            c.wait_until(lambda: c.all_in_sync(), timeout_s=30)
            w.stop()
            self.assertLess(worst, STALL_MAX_S)
            self.assertEqual(w.check_all(others[0]), [])

    def test_add_and_remove_node(self):
        with self.cluster(spares=1) as c:
            w = Writers(c, [2, 3]).start()
            w.wait_writes(200)
            t = time.time()
            c.run("add", 4, c.dir)
            s = c.status()
            self.assertEqual([n["state"] for n in s["nodes"] if n["id"] == 4], ["active"])
            self.assertTrue(all(4 in l["voters"] for l in s["lanes"]))
            w.wait_writes(200)
            worst_add = report("node 4 added", self.transport, w, t)
            t = time.time()
            rc, out, err = c.ctl(2, "node", "remove", 1)
            self.assertEqual(rc, 0, out + err)
            print(out.strip())
            s = c.status(2)
            self.assertEqual([n["state"] for n in s["nodes"] if n["id"] == 1], ["none"]
                             if 1 in [n["id"] for n in s["nodes"]] else [])
            self.assertTrue(all(set(l["voters"]) == {2, 3, 4} for l in s["lanes"]))
            # It leaves the control group too.
            c.wait_until(lambda: 1 not in [n["id"] for n in c.status(2)["nodes"]], timeout_s=10)
            w.wait_writes(200)
            worst_remove = report("node 1 removed", self.transport, w, t)
            c.wait_until(lambda: c.all_in_sync(2), timeout_s=30)
            w.stop()
            self.assertLess(max(worst_add, worst_remove), STALL_MAX_S)
            self.assertEqual(w.check_all(4), [])
            # Node 4's own replica holds everything too.
            r4 = c.client(4)
            r4.execute_command("READONLY")
            sample = list(w.acked)[::50]
            c.wait_until(lambda: [v.decode() if v else None for v in r4.mget(sample)]
                         == [w.acked[k] for k in sample], timeout_s=20)

    def test_planned_switchover(self):
        with self.cluster() as c:
            w = Writers(c, [1, 2, 3], threads_per_node=1).start()
            w.wait_writes(200)
            t = time.time()
            rc, out, err = c.ctl(3, "failover", 0, "--to", 2)
            self.assertEqual(rc, 0, out + err)
            print(out.strip())
            self.assertEqual(c.status(3)["lanes"][0]["primary"], 2)
            c.wait_until(lambda: c.primaries()[0] == 2)
            w.wait_writes(200)
            worst = report("planned switchover", self.transport, w, t)
            w.stop()
            self.assertLess(worst, STALL_MAX_S)
            self.assertEqual(w.check_all(1), [])


    def test_dataplane_restarts_relink(self):
        """Each time spindled stops and starts again, its control daemon links to it again. (The daemon's
        poll on the old link could outlive its removal when the two crossed in the ring: it
        then never reconnected and reported the node dead for good.)"""
        if self.transport != "udp":
            self.skipTest("the link to spindled does not depend on the transport")
        with self.cluster() as c:
            for i in range(8):
                before = c.ctl_log(3).count("dataplane link up")
                with open(os.path.join(c.dir, "n3.pid")) as f:
                    pid = int(f.read())
                os.kill(pid, signal.SIGTERM)  # a clean stop: spindled closes the link itself
                c.wait_until(lambda: not os.path.exists("/proc/%d" % pid), timeout_s=20)
                c.restart(3)
                c.wait_until(lambda: c.ctl_log(3).count("dataplane link up") > before,
                             timeout_s=10)
                c.wait_until(lambda: [n for n in c.status(1)["nodes"] if n["id"] == 3][0]
                             ["health"] == "healthy", timeout_s=10)
            print("spindled restarted 8 times: its control daemon linked again each time")


class FaultsUdp(Faults, unittest.TestCase):
    transport = "udp"


@unittest.skipUnless("dpdk" in transports(), "the DPDK transport on veth pairs needs root")
class FaultsDpdk(Faults, unittest.TestCase):
    transport = "dpdk"


if __name__ == "__main__":
    unittest.main()

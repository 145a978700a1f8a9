"""Three replicated nodes with real clients: a write on any node is read back on any node; it
reaches every replica; a killed follower does not stop writes; a restarted follower catches
up from the primary's log, and by snapshot once the log it needs was compacted. Each case
runs over the DPDK transport (af_packet on veth pairs and a bridge; needs root) and over
kernel UDP."""
import os
import time
import unittest

import redis

from spindle_cluster import Cluster, dpdk_possible

TRANSPORTS = ["udp"] + (["dpdk"] if dpdk_possible() else [])


def replicas_agree(c, keys, nodes):
    """Every node's own replica (READONLY) holds the expected value of every key."""
    for n in nodes:
        r = c.client(n)
        r.execute_command("READONLY")
        p = r.pipeline(transaction=False)
        for k in keys:
            p.get(k)
        got = p.execute()
        for k, v in zip(keys, got):
            if v is None or v.decode() != keys[k]:
                return False
    return True


class Replication:
    transport = None

    def test_write_anywhere_read_anywhere(self):
        with Cluster(transport=self.transport, lanes=4) as c:
            written = {}
            for i in range(300):
                node = 1 + i % 3
                key, val = "k%d" % i, "v%d" % i
                self.assertTrue(c.client(node).set(key, val))
                written[key] = val
                # Linearizable: any node answers with the latest value at once.
                reader = 1 + (i + 1) % 3
                self.assertEqual(c.client(reader).get(key).decode(), val)
            for node in (1, 2, 3):
                got = c.client(node).mget(list(written))
                self.assertEqual([g.decode() for g in got], list(written.values()))
                self.assertEqual(c.client(node).incr("shared"), node)
            c.wait_until(lambda: replicas_agree(c, written, (1, 2, 3)))
            lanes = c.lanes_state(1)
            self.assertEqual(len(lanes), 4)
            primaries = {l["primary"] for l in lanes}
            self.assertEqual(primaries, {1, 2, 3})  # spread over the nodes

    def test_killed_follower_does_not_stop_writes_and_catches_up(self):
        with Cluster(transport=self.transport, lanes=4, bootstrap_primary=1) as c:
            r1 = c.client(1)
            for i in range(100):
                r1.set("before%d" % i, i)
            c.kill(3)
            t0 = time.time()
            written = {}
            for i in range(500):
                node = 1 + i % 2
                written["during%d" % i] = str(i)
                self.assertTrue(c.client(node).set("during%d" % i, i))
            self.assertLess(time.time() - t0, 30)
            c.restart(3)
            expect = dict(written)
            expect.update({"before%d" % i: str(i) for i in range(100)})
            c.wait_until(lambda: replicas_agree(c, expect, (3,)), timeout_s=20)
            # And it keeps following.
            r1.set("after", "x")
            c.wait_until(lambda: replicas_agree(c, {"after": "x"}, (1, 2, 3)))

    def test_restarted_follower_catches_up_by_snapshot(self):
        settings = ["snapshot-every-bytes 1m"]
        with Cluster(transport=self.transport, lanes=1, bootstrap_primary=1,
                     settings=settings) as c:
            r1 = c.client(1)
            c.kill(3)
            value = "x" * 2000
            written = {}
            p = r1.pipeline(transaction=False)
            for i in range(4000):  # about 8 MB: several snapshots, the old log compacted
                written["s%d" % i] = value
                p.set("s%d" % i, value)
                if i % 200 == 199:
                    p.execute()
            p.execute()
            c.wait_until(lambda: "snapshot at entry" in c.log(1), timeout_s=30)
            c.restart(3)
            c.wait_until(lambda: replicas_agree(c, {"s3999": value, "s0": value}, (3,)),
                         timeout_s=30)
            info = c.client(3).info("replication")["lane0_repl"]
            self.assertGreater(int(info["snapshots_installed"]), 0, info)
            sample = {k: written[k] for k in list(written)[::97]}
            self.assertTrue(replicas_agree(c, sample, (3,)))


class ReplicationUdp(Replication, unittest.TestCase):
    transport = "udp"


@unittest.skipUnless(dpdk_possible(), "the DPDK transport on veth pairs needs root")
class ReplicationDpdk(Replication, unittest.TestCase):
    transport = "dpdk"


if __name__ == "__main__":
    unittest.main()

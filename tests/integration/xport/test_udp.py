"""The UDP transport between processes on loopback (127.77.2.<node>, ports 17500-17503):
messages of every size at the default and the loopback MTU, three nodes, loss from the fault
hooks dropping whole messages and never delivering wrong ones, foreign and corrupt datagrams
counted by kind, lanes reaching the loop that owns them, and duplication, reordering and
delay."""
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xportlib import CLUSTER, PORT_BASE, Node, node_ip, spindle, xsum  # noqa: E402

SIZES = [0, 1, 31, 32, 100, 1423, 1424, 1425, 4096, 65459, 65460, 1000000, 4194304]
LOSSLESS = ["--reasm-timeout-ms", 3000, "--duration-ms", 40000]


class UdpTransport(unittest.TestCase):
    def setUp(self):
        self.nodes = []

    def tearDown(self):
        for n in self.nodes:
            n.kill()

    def node(self, *args, **kw):
        n = Node("udp", *args, **kw)
        self.nodes.append(n)
        return n

    def assertClean(self, r):
        self.assertEqual(r["corrupt"], 0)
        for k in ("rx_drop_checksum", "rx_drop_malformed", "rx_drop_version", "rx_drop_foreign"):
            self.assertEqual(xsum(r, k), 0, k)

    def every_size(self, mtu):
        count = 2 * len(SIZES)
        recv = self.node(2, "recv", [1], ["--expect", count, "--mtu", mtu] + LOSSLESS)
        recv.wait_ready()
        send = self.node(1, "send", [2], ["--to", 2, "--count", count, "--mtu", mtu,
                                          "--sizes", ",".join(map(str, SIZES)),
                                          "--window", 64, "--window-bytes", 9000000] + LOSSLESS)
        s, r = send.result(), recv.result()
        self.assertEqual(s["sent"], count)
        self.assertEqual(r["received"], count, r["loops"])
        self.assertEqual(r["bytes"], 2 * sum(SIZES))
        self.assertClean(r)
        self.assertEqual(xsum(r, "rx_drop_reassembly"), 0)

    def test_every_size_mtu_1500(self):
        self.every_size(1500)

    def test_every_size_mtu_65535(self):
        self.every_size(65535)

    def test_three_nodes(self):
        recv = self.node(3, "recv", [1, 2], ["--expect", 2000] + LOSSLESS)
        recv.wait_ready()
        senders = [self.node(n, "send", [3], ["--to", 3, "--count", 1000,
                                               "--sizes", "100,4096,65536,200000",
                                               "--window", 32, "--window-bytes", 4000000]
                             + LOSSLESS) for n in (1, 2)]
        for s in senders:
            self.assertEqual(s.result()["sent"], 1000)
        r = recv.result()
        self.assertEqual(r["received"], 2000)
        self.assertClean(r)

    def test_loss_drops_whole_messages_never_wrong_ones(self):
        count = 600
        recv = self.node(2, "recv", [1], ["--idle-exit-ms", 1500, "--reasm-timeout-ms", 300])
        recv.wait_ready()
        send = self.node(1, "send", [2], ["--to", 2, "--count", count, "--window", 16,
                                          "--sizes", "100,4096,20000,65536"],
                         env={"SPINDLE_XPORT_FAULTS": "seed=3;peer=2,loss_ppm=50000"})
        s, r = send.result(), recv.result()
        self.assertClean(r)
        self.assertGreater(xsum(s, "fault_lost"), 0)
        self.assertLess(r["received"], count)
        self.assertGreater(r["received"], count // 4)
        self.assertGreater(xsum(r, "rx_drop_reassembly"), 0)

    def test_foreign_and_corrupt_datagrams_are_counted(self):
        recv = self.node(2, "recv", [1], ["--idle-exit-ms", 1500, "--duration-ms", 20000])
        recv.wait_ready()
        good = spindle(1, 2, 1, bytes((17 * 31 + i) & 0xFF for i in range(17)))
        kinds = {
            "foreign": [b"GET / HTTP/1.0\r\n\r\n", spindle(1, 2, 1, b"x", cluster=CLUSTER + 1)],
            "version": [spindle(1, 2, 1, b"v2", version=2)],
            "checksum": [spindle(1, 2, 1, b"bad", bad_crc=True), good[:-1] + bytes([good[-1] ^ 1])],
            "malformed": [good[:-3], spindle(9, 2, 1, b"who"), spindle(1, 2, 2, b"lane"),
                          good + bytes(3000)],  # longer than the MTU's datagram
        }
        node1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        node1.bind((node_ip("udp", 1), 0))
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stranger.bind(("127.77.2.9", 0))
        to = (node_ip("udp", 2), PORT_BASE + 1)
        for _ in range(10):
            for fs in kinds.values():
                for f in fs:
                    node1.sendto(f, to)
            stranger.sendto(good, to)  # node 1's frame from an address that is not node 1's
        node1.sendto(good, to)
        r = recv.result()
        node1.close()
        stranger.close()
        self.assertEqual(r["received"], 1)
        self.assertEqual(r["corrupt"], 0)
        self.assertEqual(xsum(r, "rx_drop_foreign"), 10 * (len(kinds["foreign"]) + 1))
        self.assertEqual(xsum(r, "rx_drop_version"), 10 * len(kinds["version"]))
        self.assertEqual(xsum(r, "rx_drop_checksum"), 10 * len(kinds["checksum"]))
        self.assertEqual(xsum(r, "rx_drop_malformed"), 10 * len(kinds["malformed"]))

    def test_lanes_reach_the_loop_that_owns_them(self):
        count = 400
        recv = self.node(2, "recv", [1], ["--expect", count] + LOSSLESS, loops=2)
        recv.wait_ready()
        send = self.node(1, "send", [2], ["--to", 2, "--count", count, "--sizes", "100,5000",
                                          "--window", 64] + LOSSLESS)
        send.result()
        r = recv.result()
        self.assertEqual(r["received"], count)
        self.assertEqual(r["wrong_lane"], 0)
        self.assertEqual([l["received"] for l in r["loops"]], [count // 2, count // 2])
        self.assertClean(r)

    def test_duplication_reordering_and_delay(self):
        count = 300
        faults = "seed=5;peer=2,dup_ppm=50000,reorder_ppm=50000,reorder_us=300,delay_us=100"
        recv = self.node(2, "recv", [1], ["--idle-exit-ms", 1500] + LOSSLESS)
        recv.wait_ready()
        send = self.node(1, "send", [2], ["--to", 2, "--count", count, "--sizes", "100,8000",
                                          "--window", 16] + LOSSLESS,
                         env={"SPINDLE_XPORT_FAULTS": faults})
        s, r = send.result(), recv.result()
        self.assertClean(r)
        self.assertGreaterEqual(r["received"], count)
        self.assertGreater(xsum(s, "fault_duplicated"), 0)
        self.assertGreater(xsum(s, "fault_reordered"), 0)
        self.assertGreater(xsum(r, "frags_dup") + xsum(r, "frags_late"), 0)


if __name__ == "__main__":
    unittest.main()

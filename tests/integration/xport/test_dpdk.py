"""The DPDK transport between processes: xport_peer nodes on net_af_packet ports, one per
network namespace, their veths joined by a Linux bridge (scripts/testnet.sh). Messages of
every size arrive intact; with loss on the bridge, incomplete messages are dropped and
counted, never delivered wrong; foreign and corrupt frames injected on the bridge are counted
by kind; two loops on one queue hand frames over; the fault hooks work from the environment.
Needs root (it builds the network); skipped otherwise."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xportlib import (CLUSTER, LANES, PORT_BASE, Node, ether_ipv4_udp, inject, injector_mac,
                      is_root, mac_of, spindle, testnet, xsum)

SIZES = [0, 1, 31, 32, 100, 1423, 1424, 1425, 4096, 65536, 1000000, 4194304]
# Generous reassembly timeouts: the test machine is shared and processes can wait long for a
# core; the point here is correctness, not latency.
LOSSLESS = ["--reasm-timeout-ms", 3000, "--duration-ms", 40000]


@unittest.skipUnless(is_root(), "the test network needs root")
class DpdkTransport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        testnet("down")
        testnet("up", 3)

    @classmethod
    def tearDownClass(cls):
        testnet("down")

    def setUp(self):
        self.nodes = []

    def tearDown(self):
        testnet("noloss")
        for n in self.nodes:
            n.kill()

    def node(self, *args, **kw):
        n = Node("dpdk", *args, **kw)
        self.nodes.append(n)
        return n

    def assertClean(self, r):
        self.assertEqual(r["corrupt"], 0)
        for k in ("rx_drop_checksum", "rx_drop_malformed", "rx_drop_version"):
            self.assertEqual(xsum(r, k), 0, k)

    def test_every_size_arrives_intact(self):
        count = 3 * len(SIZES)
        recv = self.node(2, "recv", [1], ["--expect", count] + LOSSLESS)
        send = self.node(1, "send", [2], ["--to", 2, "--count", count,
                                          "--sizes", ",".join(map(str, SIZES)),
                                          "--window", 64, "--window-bytes", 4500000] + LOSSLESS)
        s, r = send.result(), recv.result()
        self.assertEqual(s["sent"], count)
        self.assertEqual(r["received"], count, r["loops"])
        self.assertEqual(r["bytes"], 3 * sum(SIZES))
        self.assertClean(r)
        self.assertEqual(xsum(r, "rx_drop_reassembly"), 0)
        self.assertGreater(xsum(s, "rx_arp"), 0)  # the peer's address was resolved by ARP

    def test_three_nodes(self):
        recv = self.node(3, "recv", [1, 2], ["--expect", 1200] + LOSSLESS)
        senders = [self.node(n, "send", [3], ["--to", 3, "--count", 600,
                                               "--sizes", "100,4096,65536,200000",
                                               "--window", 32, "--window-bytes", 2000000]
                             + LOSSLESS) for n in (1, 2)]
        for s in senders:
            self.assertEqual(s.result()["sent"], 600)
        r = recv.result()
        self.assertEqual(r["received"], 1200)
        self.assertClean(r)

    def test_loss_drops_whole_messages_never_wrong_ones(self):
        testnet("loss", 5)
        count = 600
        recv = self.node(2, "recv", [1], ["--idle-exit-ms", 2000, "--reasm-timeout-ms", 300])
        send = self.node(1, "send", [2], ["--to", 2, "--count", count,
                                          "--sizes", "100,4096,20000,65536"])
        send.result()
        r = recv.result()
        self.assertClean(r)
        self.assertLess(r["received"], count)
        self.assertGreater(r["received"], count // 4)
        self.assertGreater(xsum(r, "rx_drop_reassembly"), 0)

    def test_foreign_and_corrupt_frames_are_counted(self):
        recv = self.node(2, "recv", [1], ["--idle-exit-ms", 1500, "--duration-ms", 20000])
        testnet("inject", "x")
        dst, src = mac_of(2), injector_mac("x")
        recv.wait_ready()
        # A message of 17 bytes that xport_peer recognises: bytes (17 * 31 + i) mod 256.
        good = spindle(1, 2, 1, bytes((17 * 31 + i) & 0xFF for i in range(17)))

        def udp(payload, dport=PORT_BASE + 1, **kw):
            return ether_ipv4_udp(src, dst, "10.99.0.1", "10.99.0.2", PORT_BASE + 1, dport,
                                  payload, **kw)
        frames = {
            "foreign": [dst + src + b"\x88\xb5" + bytes(50),            # another ethertype
                        udp(good, proto=6),                               # TCP
                        udp(good, dport=9999),                            # another port
                        udp(good, dport=PORT_BASE + LANES),               # past the lanes
                        udp(spindle(1, 2, 1, b"x", cluster=CLUSTER + 1)),  # another cluster
                        udp(b"GET / HTTP/1.0\r\n\r\n")],                  # not spindle
            "version": [udp(spindle(1, 2, 1, b"v2", version=2))],
            "checksum": [udp(spindle(1, 2, 1, b"bad", bad_crc=True)),
                         udp(good[:-1] + bytes([good[-1] ^ 1]))],
            "malformed": [udp(good, udp_len=8 + len(good) + 10),          # truncated
                          udp(spindle(9, 2, 1, b"who")),                   # unknown node
                          udp(spindle(1, 2, 2, b"lane"))],                 # lane != port
        }
        sent = inject("x", [f for fs in frames.values() for f in fs] * 10)
        inject("x", [udp(good)])
        r = recv.result()
        self.assertEqual(sent, 10 * sum(len(f) for f in frames.values()))
        self.assertEqual(r["received"], 1)  # the one good frame, after all the bad ones
        self.assertEqual(r["corrupt"], 0)
        self.assertGreaterEqual(xsum(r, "rx_drop_foreign"), 10 * len(frames["foreign"]))
        self.assertEqual(xsum(r, "rx_drop_version"), 10 * len(frames["version"]))
        self.assertEqual(xsum(r, "rx_drop_checksum"), 10 * len(frames["checksum"]))
        self.assertEqual(xsum(r, "rx_drop_malformed"), 10 * len(frames["malformed"]))

    def test_two_loops_on_one_queue_hand_frames_over(self):
        count = 400
        recv = self.node(2, "recv", [1], ["--expect", count] + LOSSLESS, loops=2)
        send = self.node(1, "send", [2], ["--to", 2, "--count", count, "--sizes", "100,5000",
                                          "--window", 64] + LOSSLESS)
        send.result()
        r = recv.result()
        self.assertEqual(r["received"], count)
        self.assertEqual(r["wrong_lane"], 0)
        self.assertClean(r)
        self.assertEqual([l["received"] for l in r["loops"]], [count // 2, count // 2])
        self.assertGreater(r["loops"][0]["xport"]["rx_dispatched"], 0)
        self.assertEqual(r["loops"][0]["xport"]["rx_drop_dispatch"], 0)

    def test_fault_hooks_from_the_environment(self):
        count = 300
        faults = "seed=5;peer=2,dup_ppm=50000,reorder_ppm=50000,reorder_us=300,delay_us=100"
        recv = self.node(2, "recv", [1], ["--idle-exit-ms", 2000] + LOSSLESS)
        send = self.node(1, "send", [2], ["--to", 2, "--count", count, "--sizes", "100,8000",
                                          "--window", 16] + LOSSLESS,
                         env={"SPINDLE_XPORT_FAULTS": faults})
        s, r = send.result(), recv.result()
        self.assertClean(r)
        self.assertGreaterEqual(r["received"], count)  # duplicates of one-frame messages count
        self.assertGreater(xsum(s, "fault_duplicated"), 0)
        self.assertGreater(xsum(s, "fault_reordered"), 0)
        self.assertGreater(xsum(r, "frags_dup") + xsum(r, "frags_late"), 0)


if __name__ == "__main__":
    unittest.main()

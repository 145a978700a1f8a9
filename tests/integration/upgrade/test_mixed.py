"""Mixed versions refuse each other clearly. A node of another release is played by
spindled-faults speaking replication frame version 2 (SPINDLE_FRAME_VERSION, honoured only in
that test build) in a cluster of version 1: both sides log which version they got and which
they speak, count it (drop_version in INFO), the node joins no lane (it leads none, is in sync
in none, holds none of the writes), and the cluster goes on writing with the other two; once
the node runs the cluster's release again it catches up. A management datagram of another wire
version sent to a control daemon is refused likewise: one log line, counted in the metrics."""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../control"))
from control_cluster import keys_in_lane  # noqa: E402
from spindle_cluster import dpdk_possible  # noqa: E402
from spindle_proc import BUILD_DIR  # noqa: E402
from upgrade_cluster import UpgradeCluster, binaries_copy, scratch_dir  # noqa: E402

LANES = 4
FAULTS_BIN = os.path.join(BUILD_DIR, "spindled-faults")


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def mgmt_datagram(version, src, dst, kind=1, cluster_id=0, payload=b"hello"):
    """A spindle-control management datagram (control/daemon/wire.h), well formed but for
    its version."""
    hdr = b"SPCT" + struct.pack("<BBHIBBHI", version, kind, 0, cluster_id, src, dst, 0,
                                len(payload))
    return hdr + struct.pack("<I", crc32c(payload, crc32c(hdr))) + payload


class MixedVersions(unittest.TestCase):
    transport = os.environ.get("SPINDLE_UPGRADE_TRANSPORT") or ("dpdk" if dpdk_possible() else "udp")

    def setUp(self):
        self.tmp = scratch_dir()
        self.bin = binaries_copy(os.path.join(self.tmp, "installed"))

    def tearDown(self):
        import shutil
        shutil.rmtree(self.tmp, ignore_errors=True)

    def wait_exit(self, pid, timeout_s=20):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.05)
        self.fail("pid %d did not exit" % pid)

    def start_other_release(self, c, node):
        """Node's spindled replaced by spindled-faults speaking frame version 2."""
        rc, out, err = c.ctl(1, "node", "drain", node)
        self.assertEqual(rc, 0, out + err)
        pid = c.pid("n", node)
        os.kill(pid, signal.SIGTERM)
        self.wait_exit(pid)
        env = dict(os.environ, SPINDLE_FRAME_VERSION="2")
        with open(os.path.join(c.dir, "n%d.log" % node), "ab") as log:
            p = subprocess.Popen([FAULTS_BIN, "--config", os.path.join(c.dir, "n%d.conf" % node)],
                                 stdout=log, stderr=subprocess.STDOUT, env=env)
        with open(os.path.join(c.dir, "n%d.pid" % node), "w") as f:
            f.write(str(p.pid))
        c.wait_until(lambda: c.client(node).ping(), timeout_s=30)
        return p

    def drop_version(self, c, node):
        """drop_version of every loop's transport (INFO replication, loopN_xport)."""
        info = c.client(node).info("replication")
        total = 0
        for key, v in info.items():
            if key.startswith("loop") and key.endswith("_xport"):
                total += int(v["drop_version"]) if isinstance(v, dict) else \
                    int(re.search(r"drop_version=(\d+)", str(v)).group(1))
        return total

    def test_frames_of_another_version_are_refused(self):
        with UpgradeCluster(self.bin, port_offset=10, transport=self.transport, lanes=LANES) as c:
            other = self.start_other_release(c, 3)
            r1 = c.client(1)
            keys = [k for lane in range(LANES) for k in keys_in_lane(lane, LANES, "mixed", 25)]
            for k in keys:
                self.assertTrue(r1.set(k, "v-" + k))
            # Both sides say what they got and what they speak, and count it.
            c.wait_until(lambda: re.search(r"refused replication frames of version 1 from .*"
                                           r"this node speaks version 2", c.log(3)), timeout_s=10)
            c.wait_until(lambda: re.search(r"refused replication frames of version 2 from .*"
                                           r"this node speaks version 1", c.log(1)), timeout_s=10)
            self.assertIn("speaking replication frame version 2", c.log(3))
            self.assertGreater(self.drop_version(c, 1), 0)
            self.assertGreater(self.drop_version(c, 3), 0)
            line = re.search(r".*refused replication frames of version 2.*", c.log(1)).group(0)
            print("\nnode 1 says: " + line)
            print("node 3 says: " + re.search(r".*refused replication frames of version 1.*",
                                              c.log(3)).group(0))
            # It joins no lane: not healthy, hears nobody, leads nothing, in sync nowhere,
            # holds no write; the lanes go on with nodes 1 and 2.
            def isolated():
                s = c.status(1)
                n3 = [n for n in s["nodes"] if n["id"] == 3][0]
                alone = n3["health"] != "healthy" and [n for n in n3["hears"] if n != 3] == []
                lanes = all(l["state"] == "ok" and l["primary"] != 3 and 3 not in l["in_sync"]
                            for l in s["lanes"])
                return s if alone and lanes else None

            s = c.wait_until(isolated, timeout_s=30)
            self.assertTrue(all(3 not in n["hears"] for n in s["nodes"] if n["id"] != 3), s)
            r3 = c.client(3)
            r3.execute_command("READONLY")
            self.assertEqual(r3.mget(keys), [None] * len(keys))
            print("node 3 (frame version 2): health %s, in sync in no lane, none of %d writes"
                  % ([n for n in s["nodes"] if n["id"] == 3][0]["health"], len(keys)))
            # Running the cluster's release again, it catches up.
            pid = other.pid
            os.kill(pid, signal.SIGTERM)
            other.wait(20)
            c.restart(3)
            c.wait_until(lambda: c.all_in_sync(1), timeout_s=30)
            r3 = c.client(3)
            r3.execute_command("READONLY")
            c.wait_until(lambda: r3.mget(keys) == [("v-" + k).encode() for k in keys], timeout_s=20)

    def test_control_datagram_of_another_version_is_refused(self):
        with UpgradeCluster(self.bin, port_offset=20, transport=self.transport, lanes=LANES) as c:
            metrics = "http://127.0.1.1:%d/metrics" % c.metrics_port

            def refused():
                text = urllib.request.urlopen(metrics, timeout=5).read().decode()
                m = re.search(r"^spindle_control_mgmt_datagrams_version_refused_total (\d+)$",
                              text, re.M)
                return int(m.group(1)) if m else None

            self.assertEqual(refused(), 0)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                for _ in range(5):
                    s.sendto(mgmt_datagram(2, 2, 1), ("127.0.1.1", c.mgmt_port))
                port = s.getsockname()[1]
            c.wait_until(lambda: refused() == 5, timeout_s=10)
            lines = [l for l in c.ctl_log(1).splitlines() if "refused management datagrams" in l]
            self.assertEqual(len(lines), 1, lines)   # said once, counted five times
            self.assertIn("of wire version 2 from 127.0.0.1:%d" % port, lines[0])
            self.assertIn("this spindle-control speaks version 1", lines[0])
            print("\ncontrol daemon 1 says: " + lines[0])
            # The control group carries on.
            self.assertTrue(c.lanes_ok(1))
            self.assertTrue(c.client(1).set("after", "1"))


if __name__ == "__main__":
    unittest.main()

"""Bugs the fault suite found, each replayed on purpose rather than by chance: a follower whose
disk is full, and that lags so far that the primary sends it a snapshot (one that fits, and
one that does not), must keep running and catch up once there is room; a node cut off from a
lane's primary for longer than a forwarded command waits must forward again once the
partition heals. Needs root (a tmpfs for the follower's data directory, nftables on the
cluster's bridge); skipped otherwise."""
import os
import subprocess
import sys
import threading
import time
import unittest

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nemesis  # noqa: E402
from spindle_cluster import Cluster  # noqa: E402

FWD_GIVE_UP_S = 10  # dataplane/lane/fwd.c: FWD_GIVE_UP_MS


def fill(path, leave_bytes):
    """Fills the filesystem of path up to leave_bytes of free space; returns the file."""
    st = os.statvfs(path)
    free = st.f_bavail * st.f_frsize
    balloon = os.path.join(path, "balloon")
    with open(balloon, "wb") as f:
        if free > leave_bytes:
            os.posix_fallocate(f.fileno(), 0, free - leave_bytes)
    return balloon


@unittest.skipUnless(os.geteuid() == 0, "mounting a tmpfs needs root")
class FullDiskFollower(unittest.TestCase):
    def setUp(self):
        # One lane; the primary takes a snapshot after every MiB of log and then drops the
        # log before it, so a follower that stops appending soon needs the snapshot.
        self.c = Cluster(nodes=3, lanes=1, bootstrap_primary=1,
                         settings=["snapshot-every-bytes 1m"])
        self.passed = False
        self.mnt = os.path.join(self.c.dir, "n3")
        os.makedirs(self.mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", self.mnt],
                       check=True)
        self.c.start()
        # The follower itself never compacts, so its disk stays full until the snapshot.
        conf = os.path.join(self.c.dir, "n3.conf")
        with open(conf) as f:
            text = f.read().replace("snapshot-every-bytes 1m", "snapshot-every-bytes 1g")
        with open(conf, "w") as f:
            f.write(text)
        self.c.restart(3)

    def tearDown(self):
        self.c.stop()
        subprocess.run(["umount", self.mnt])
        if self.passed and not os.environ.get("SPINDLE_KEEP"):
            subprocess.run(["rm", "-rf", self.c.dir])
        else:
            print("cluster kept in", self.c.dir)

    def write(self, r, rounds, value):
        p = r.pipeline(transaction=False)
        for i in range(rounds):
            p.set("k%d" % (i % 16), value + b"%d" % i)
            if i % 64 == 63:
                p.execute()
        p.execute()

    def test_snapshot_while_appends_wait_for_room(self):
        """Found by disk-full-follower: the follower's appends waited for room in the lane's
        queue; a snapshot from the primary (small enough to fit) was installed meanwhile and
        the log restarted after it; then the waiting appends, now older than the log, were
        offered to it: PANIC 'append of index N after M'."""
        r1 = self.c.client(1)
        self.write(r1, 200, b"v" * 4000)
        balloon = fill(self.mnt, 1 << 20)  # room for a small snapshot, not for a segment
        # About 12 MiB of log: the follower's segment fills and its appends queue, the
        # primary compacts several times.
        self.write(r1, 3000, b"w" * 4000)
        self.c.wait_until(lambda: "the disk is full" in self.c.log(3), timeout_s=30)
        time.sleep(3)
        self.write(r1, 500, b"x" * 4000)
        time.sleep(2)
        self.c.check_logs_clean()
        r3 = self.c.client(3)
        self.assertTrue(r3.ping())  # still running
        os.unlink(balloon)
        last = r1.get("k3")
        r3.execute_command("READONLY")
        self.c.wait_until(lambda: r3.get("k3") == last, timeout_s=30)
        info = r3.info("replication")["lane0_repl"]
        self.assertGreater(int(info["snapshots_installed"]), 0, info)
        r1.set("after", "1")
        self.c.wait_until(lambda: r3.get("after") == b"1", timeout_s=30)
        self.c.check_logs_clean()
        self.passed = True

    def test_snapshot_that_does_not_fit(self):
        """Found by disk-full-follower: the snapshot's chunk write failed with ENOSPC and
        the follower stopped the node (repl: fatal error -28). It must wait for room."""
        r1 = self.c.client(1)
        self.write(r1, 200, b"v" * 4000)
        balloon = fill(self.mnt, 0)
        self.write(r1, 3000, b"w" * 4000)
        self.c.wait_until(lambda: "the disk is full" in self.c.log(3), timeout_s=30)
        time.sleep(3)
        self.write(r1, 300, b"x" * 4000)
        time.sleep(2)
        self.c.check_logs_clean()
        self.assertNotIn("FATAL", self.c.log(3))
        r3 = self.c.client(3)
        self.assertTrue(r3.ping())
        os.unlink(balloon)
        last = r1.get("k5")
        r3.execute_command("READONLY")
        self.c.wait_until(lambda: r3.get("k5") == last, timeout_s=30)
        info = r3.info("replication")["lane0_repl"]
        self.assertGreater(int(info["snapshots_installed"]), 0, info)
        self.passed = True


@unittest.skipUnless(os.geteuid() == 0, "partitions need root (nftables on the bridge)")
class ForwardAfterPartition(unittest.TestCase):
    def test_forwarding_resumes_after_a_give_up(self):
        """Found by the soak: node 2, cut off from the lane's primary, forwarded a write that
        never arrived and gave up on it after 10 s (answering that it may or may not have
        been applied) but kept numbering its requests after it; the primary held every
        later one behind the missing number, so no write through node 2 got an answer again
        (and no linearizable read) until the lane's epoch changed."""
        c = Cluster(nodes=3, lanes=1, bootstrap_primary=1)
        cut = nemesis.Partition([2], [1])
        passed = False
        try:
            c.start()
            r2 = c.client(2, socket_timeout=5)
            c.wait_until(lambda: r2.set("k", "before"), timeout_s=30)
            cut.start(c)
            outcome = {}

            def lost_write():
                try:
                    outcome["reply"] = c.client(2, socket_timeout=FWD_GIVE_UP_S + 20).set("k", "lost")
                except redis.RedisError as e:
                    outcome["error"] = str(e)

            t = threading.Thread(target=lost_write, daemon=True)
            t.start()
            t.join(FWD_GIVE_UP_S + 25)
            self.assertIn("may or may not have been applied", outcome.get("error", ""), outcome)
            cut.heal(c)
            # Through node 2, a write and a linearizable read are answered again.
            c.wait_until(lambda: r2.set("k", "after"), timeout_s=10)
            self.assertEqual(r2.get("k"), b"after")
            self.assertEqual(c.client(1).get("k"), b"after")
            c.check_logs_clean()
            passed = True
        finally:
            cut.cleanup(c)
            c.stop()
            if passed:
                subprocess.run(["rm", "-rf", c.dir])
            else:
                print("cluster kept in", c.dir)


if __name__ == "__main__":
    unittest.main()

"""Durability of a single node: kill -9 in the middle of a write load, again and again, and
every acknowledged write is back after the restart; a full disk refuses writes with an error
while reads go on, and writes resume once there is room, with nothing acknowledged lost.

SPINDLE_CRASH_ROUNDS sets how many kill -9 rounds to run (default 12)."""
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import redis

from spindle_proc import Spindled, free_port

ROUNDS = int(os.environ.get("SPINDLE_CRASH_ROUNDS", "12"))


class Writer(threading.Thread):
    """Writes unique values to its own keys and increments its own counter, pipelined in small
    batches, recording what was acknowledged and what was only sent."""

    def __init__(self, port, wid, round_no):
        super().__init__(daemon=True)
        self.port, self.wid, self.round = port, wid, round_no
        self.acked = {}        # key -> last acknowledged value
        self.sent = {}         # key -> every value sent (acknowledged or not)
        self.incr_acked = 0
        self.incr_sent = 0
        self.stop = False

    def run(self):
        try:
            r = redis.Redis(port=self.port, socket_timeout=5)
            seq = 0
            while not self.stop:
                p = r.pipeline(transaction=False)
                batch = []
                for _ in range(random.randint(1, 16)):
                    seq += 1
                    key = "w%d:k%d" % (self.wid, seq % 50)
                    val = "r%d:s%d" % (self.round, seq)
                    self.sent.setdefault(key, set()).add(val)
                    p.set(key, val)
                    batch.append((key, val))
                p.incr("w%d:counter" % self.wid)
                self.incr_sent += 1
                res = p.execute()
                for (key, val), ok in zip(batch, res):
                    if ok is True:
                        self.acked[key] = val
                if isinstance(res[-1], int):
                    self.incr_acked = res[-1]
        except (redis.ConnectionError, redis.TimeoutError, ConnectionResetError, OSError):
            return


class CrashRestart(unittest.TestCase):
    def test_kill9_loses_no_acknowledged_write(self):
        tmp = tempfile.mkdtemp(prefix="spindle-crash-")
        data = os.path.join(tmp, "data")
        port = free_port()
        acked, sent = {}, {}
        counters = {}
        unacked_present = 0
        checked = 0
        try:
            for rnd in range(ROUNDS):
                sp = Spindled("--lanes", "4", "--loops", str(1 + rnd % 2), port=port,
                              data_dir=data, durability="disk")
                sp.start()
                r = redis.Redis(port=port)
                # Everything acknowledged in earlier rounds is here.
                for key, val in acked.items():
                    got = r.get(key)
                    got = got.decode() if got is not None else None
                    checked += 1
                    self.assertIsNotNone(got, "acknowledged key %s lost after crash %d" % (key, rnd))
                    if got != val:
                        # Only a later write of that key may have replaced it.
                        self.assertIn(got, sent[key], "key %s holds a value never written" % key)
                        unacked_present += 1
                for wid, (lo, hi) in counters.items():
                    got = int(r.get("w%d:counter" % wid) or 0)
                    self.assertGreaterEqual(got, lo, "counter %d lost acknowledged increments" % wid)
                    self.assertLessEqual(got, hi, "counter %d has increments never sent" % wid)
                    counters[wid] = (got, got)
                writers = [Writer(port, w, rnd) for w in range(4)]
                for w in writers:
                    w.start()
                time.sleep(random.uniform(0.3, 1.2))
                sp.kill(signal.SIGKILL)
                for w in writers:
                    w.stop = True
                    w.join(timeout=10)
                for w in writers:
                    for key, vals in w.sent.items():
                        sent.setdefault(key, set()).update(vals)
                    acked.update(w.acked)
                    lo, hi = counters.get(w.wid, (0, 0))
                    counters[w.wid] = (max(lo, w.incr_acked), hi + w.incr_sent)
                sp.log_file.close()
            print("crash rounds: %d, acknowledged keys checked: %d, keys holding a later "
                  "unacknowledged write: %d" % (ROUNDS, checked, unacked_present))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class LaneCount(unittest.TestCase):
    def test_another_lane_count_is_refused(self):
        tmp = tempfile.mkdtemp(prefix="spindle-lanes-")
        data = os.path.join(tmp, "data")
        try:
            with Spindled("--lanes", "4", data_dir=data, durability="disk") as sp:
                redis.Redis(port=sp.port).set("k", "v")
            sp = Spindled("--lanes", "8", data_dir=data, durability="disk")
            with self.assertRaisesRegex(RuntimeError, "created with 4 lanes but lanes is 8"):
                sp.start(wait_s=15)
            with Spindled("--lanes", "4", data_dir=data, durability="disk") as sp:
                self.assertEqual(redis.Redis(port=sp.port).get("k"), b"v")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class DiskFull(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        self.mnt = tempfile.mkdtemp(prefix="spindle-full-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", self.mnt], check=True)

    def tearDown(self):
        subprocess.run(["umount", "-l", self.mnt])
        os.rmdir(self.mnt)

    def fill(self):
        """Leaves about 1 MB free on the tmpfs."""
        filler = os.path.join(self.mnt, "filler")
        st = os.statvfs(self.mnt)
        free = st.f_bavail * st.f_frsize
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free - (1 << 20)))
        return filler

    def test_full_disk_refuses_writes_keeps_reads_then_recovers(self):
        data = os.path.join(self.mnt, "data")
        with Spindled("--lanes", "1", "--segment-bytes", "4m", data_dir=data,
                      durability="disk") as sp:
            r = redis.Redis(port=sp.port, socket_timeout=20)
            r.set("before", "1")
            filler = self.fill()
            refused = None
            acked = {}
            value = "x" * 4000
            for i in range(20000):
                try:
                    r.set("k%d" % i, value)
                    acked["k%d" % i] = value
                except redis.ResponseError as e:
                    refused = str(e)
                    break
            self.assertIsNotNone(refused, "writes were never refused on a full disk")
            self.assertIn("no space left on device", refused)
            # Reads go on.
            self.assertEqual(r.get("before"), b"1")
            for key in list(acked)[-10:]:
                self.assertEqual(r.get(key).decode(), value)
            # Room again: writes resume (the log retries on its own).
            os.unlink(filler)
            deadline = time.time() + 15
            while True:
                try:
                    r.set("after", "2")
                    break
                except redis.ResponseError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.2)
            self.assertEqual(r.get("after"), b"2")
            sp.kill(signal.SIGKILL)
            sp.log_file.close()
        with Spindled("--lanes", "1", "--segment-bytes", "4m", data_dir=data,
                      durability="disk") as sp2:
            r = redis.Redis(port=sp2.port)
            self.assertEqual(r.get("before"), b"1")
            self.assertEqual(r.get("after"), b"2")
            for key, val in acked.items():
                self.assertEqual(r.get(key).decode(), val, key)
            print("acknowledged before the disk filled: %d writes, all present after restart"
                  % len(acked))


if __name__ == "__main__":
    unittest.main()

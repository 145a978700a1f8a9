"""Backup and restore of a node's data directory as docs/OPERATIONS.md describes them: the
online backup script from that page, run while the node takes writes, restores to a prefix
of every lane's history; a cold copy restores everything acknowledged."""
import os
import shutil
import subprocess
import tempfile
import threading
import unittest

import redis

from spindle_proc import Spindled

SOURCE_DIR = os.environ.get("SPINDLE_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.."))
VALUE = "v" * 1000
KEY = "{a}:%d"  # one hash tag: every key in one lane, written in order


def backup_script():
    """The online backup script, as docs/OPERATIONS.md gives it."""
    with open(os.path.join(SOURCE_DIR, "docs/OPERATIONS.md")) as f:
        doc = f.read()
    for block in doc.split("```sh\n")[1:]:
        body = block.split("```", 1)[0]
        if body.startswith("# spindle-online-backup"):
            return body
    raise AssertionError("docs/OPERATIONS.md has no spindle-online-backup script")


def write_keys(port, start, count):
    r = redis.Redis(port=port)
    p = r.pipeline(transaction=False)
    for i in range(start, start + count):
        p.set(KEY % i, VALUE)
        if i % 500 == 499:
            p.execute()
    p.execute()
    r.close()


def present(port, upto):
    r = redis.Redis(port=port)
    p = r.pipeline(transaction=False)
    for i in range(upto):
        p.exists(KEY % i)
    found = [i for i, e in enumerate(p.execute()) if e]
    r.close()
    return found


class Backup(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="spindle-backup-")
        self.src = os.path.join(self.tmp, "src")
        self.dst = os.path.join(self.tmp, "dst")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_online_backup_under_writes_restores_a_prefix(self):
        with Spindled("--lanes", "2", data_dir=self.src, durability="disk") as sp:
            write_keys(sp.port, 0, 15000)             # about 15 MB: several sealed segments
            writer = threading.Thread(target=write_keys, args=(sp.port, 15000, 30000))
            writer.start()
            try:
                out = subprocess.run(["bash", "-c", backup_script()], capture_output=True,
                                     text=True, timeout=120,
                                     env=dict(os.environ, SRC=self.src, DST=self.dst))
            finally:
                writer.join(timeout=300)
            self.assertEqual(out.returncode, 0, out.stderr)
        names = sorted(os.listdir(self.dst))
        self.assertEqual(names, ["FORMAT", "lane-000", "lane-001"])
        segs = sorted(n for n in os.listdir(os.path.join(self.dst, "lane-001")) if n.startswith("seg-"))
        self.assertGreaterEqual(len(segs), 2, "the load should have sealed segments")
        with Spindled("--lanes", "2", data_dir=self.dst, durability="disk") as sp:
            found = present(sp.port, 45000)
        self.assertGreaterEqual(len(found), 4000)
        self.assertEqual(found, list(range(len(found))), "the restored lane is not a prefix")

    def test_cold_copy_restores_everything(self):
        with Spindled("--lanes", "4", data_dir=self.src, durability="disk") as sp:
            write_keys(sp.port, 0, 6000)
            r = redis.Redis(port=sp.port)
            for i in range(200):
                r.set("other:%d" % i, i)
            r.close()
        shutil.copytree(self.src, self.dst, symlinks=True)
        with Spindled("--lanes", "4", data_dir=self.dst, durability="disk") as sp:
            self.assertEqual(present(sp.port, 6000), list(range(6000)))
            r = redis.Redis(port=sp.port)
            self.assertEqual(r.dbsize(), 6200)
            self.assertEqual(r.get("other:199"), b"199")
            r.close()

    def test_restart_after_snapshots(self):
        """Known issue (docs/OPERATIONS.md, section 8, item 1): a lane that wrote a snapshot fails to load it
        at the next start ("cannot load the snapshot at entry I: Invalid argument"): the lane
        asks the log for the chunk after the last one at an offset that is not chunk-aligned.
        When that is fixed, this test passes: remove expectedFailure and the note."""
        with Spindled("--lanes", "1", "--snapshot-every-bytes", "1m", data_dir=self.src,
                      durability="disk") as sp:
            write_keys(sp.port, 0, 3000)
        with Spindled("--lanes", "1", data_dir=self.src, durability="disk") as sp:
            self.assertEqual(present(sp.port, 3000), list(range(3000)))


if __name__ == "__main__":
    unittest.main()

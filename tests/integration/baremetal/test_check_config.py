"""spindled --check-config and --help-config, run as processes: exit codes, what goes to
stdout and stderr, errors with the file and line, command-line overrides, and a dump that
loads back. --check-config must not start anything (no data directory, no port)."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from spindle_proc import SPINDLED

SOURCE_DIR = os.environ.get("SPINDLE_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.."))


def spindled(*args):
    out = subprocess.run([SPINDLED] + list(args), capture_output=True, text=True, timeout=30)
    for bad in ("AddressSanitizer", "runtime error:", "PANIC"):
        assert bad not in out.stderr, out.stderr
    return out


def dump_dict(text):
    keys = {}
    for line in text.splitlines():
        m = re.match(r'^([a-z-]+) "(.*)"$', line)
        if m:
            keys[m.group(1)] = m.group(2)
    return keys


class CheckConfig(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="spindle-checkconf-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def file(self, text, name="node.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_valid_file_prints_every_key(self):
        data = os.path.join(self.tmp, "never-created")
        path = self.file("port 17500\nloops 2\nlanes 16\nrequirepass \"s3 cret\"\n"
                         "data-dir %s\nsegment-bytes 8m\ncores 2,3\n" % data)
        out = spindled("--check-config", "--config", path)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stderr, "")
        keys = dump_dict(out.stdout)
        ref = spindled("--help-config").stdout
        documented = re.findall(r"^\| `([a-z-]+)` \|", ref, re.M)
        self.assertEqual(sorted(keys), sorted(k for k in documented if k != "peer"))
        self.assertEqual(keys["port"], "17500")
        self.assertEqual(keys["segment-bytes"], str(8 << 20))
        self.assertEqual(keys["cores"], "2,3")
        self.assertEqual(keys["requirepass"], "(set)")
        self.assertNotIn("s3 cret", out.stdout)
        self.assertFalse(os.path.exists(data), "--check-config created the data directory")

    def test_overrides_win_and_are_checked(self):
        path = self.file("port 17500\nlanes 16\n")
        out = spindled("--check-config", "--config", path, "--port", "17501", "--lanes", "32")
        self.assertEqual(out.returncode, 0, out.stderr)
        keys = dump_dict(out.stdout)
        self.assertEqual((keys["port"], keys["lanes"]), ("17501", "32"))
        out = spindled("--check-config", "--config", path, "--port", "0")
        self.assertEqual(out.returncode, 2)
        self.assertIn("--port: port: 0 is out of range [1, 65535]", out.stderr)
        self.assertEqual(out.stdout, "")
        out = spindled("--check-config", "--prot", "1")
        self.assertEqual(out.returncode, 2)
        self.assertIn("unknown key 'prot'", out.stderr)

    def test_file_errors_name_the_line(self):
        cases = [
            ("port 7000\nlanes 8\nnic eth0\n", ":3: nic: 'eth0' is neither a PCI address"),
            ("log-level verbose\n", ":1: log-level: 'verbose' is not one of: debug, info, warn, error"),
            ("# one\n\nsegment-bytes 1m\n", ":3: segment-bytes: 1m is out of range"),
            ("bind localhost\n", ":1: bind: 'localhost' is not an IPv4 or IPv6 address"),
            ("cores 1-3,2\n", ":1: cores: CPU 2 listed twice"),
            ("peer 2 10.0.0.2\npeer 2 10.0.0.3\n", ":2: peer: node 2 listed twice"),
        ]
        for text, needle in cases:
            path = self.file(text)
            out = spindled("--check-config", "--config", path)
            self.assertEqual(out.returncode, 2, text)
            self.assertEqual(out.stdout, "")
            self.assertIn("spindled: " + path + needle, out.stderr)

    def test_rules_between_keys(self):
        cases = [
            ("bind 0.0.0.0\n", "set requirepass"),
            ("loops 3\nlanes 8\ncores 1-4\n", "cores lists 4 CPUs but loops is 3"),
            ("transport dpdk\nrepl-ip 10.0.0.1\n", "no peer is configured"),
            ("loops 2\nmbufs 2000\n", "mbufs 2000 cannot fill the NIC rings"),
            ("lease-ms 50\nheartbeat-ms 30\n", "lease-ms (50) must be at least twice"),
        ]
        for text, needle in cases:
            out = spindled("--check-config", "--config", self.file(text))
            self.assertEqual(out.returncode, 2, text)
            self.assertIn("spindled: configuration: ", out.stderr)
            self.assertIn(needle, out.stderr)

    def test_missing_file(self):
        out = spindled("--check-config", "--config", os.path.join(self.tmp, "nope.conf"))
        self.assertEqual(out.returncode, 2)
        self.assertIn("nope.conf: No such file or directory", out.stderr)

    def test_dump_loads_back(self):
        path = self.file("node-id 3\nbind 0.0.0.0\nrequirepass pw\ntransport udp\n"
                         "repl-ip 10.9.0.3\npeer 1 10.9.0.1 02:00:00:00:00:01 10.0.0.1:6379\n"
                         "peer 2 10.9.0.2\nnic \"\"\neal-args \"--in-memory -l 0-1\"\n")
        first = spindled("--check-config", "--config", path)
        self.assertEqual(first.returncode, 0, first.stderr)
        second = spindled("--check-config", "--config", self.file(first.stdout, "dump.conf"))
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(first.stdout, second.stdout)
        self.assertIn("peer 1 10.9.0.1 02:00:00:00:00:01 10.0.0.1:6379\n", second.stdout)

    def test_config_md_example_checks(self):
        with open(os.path.join(SOURCE_DIR, "docs/CONFIG.md")) as f:
            doc = f.read()
        example = doc.split("```conf\n", 1)[1].split("```", 1)[0]
        out = spindled("--check-config", "--config", self.file(example))
        self.assertEqual(out.returncode, 0, out.stderr)
        keys = dump_dict(out.stdout)
        self.assertEqual(keys["transport"], "dpdk")
        self.assertEqual(keys["nic"], "0000:3b:00.0")

    def test_help_config_and_docs_list_the_same_keys(self):
        ref = spindled("--help-config")
        self.assertEqual(ref.returncode, 0)
        table = set(re.findall(r"^\| `([a-z-]+)` \|", ref.stdout, re.M))
        with open(os.path.join(SOURCE_DIR, "docs/CONFIG.md")) as f:
            docs = set(re.findall(r"^### `([a-z-]+)`$", f.read(), re.M))
        self.assertEqual(table, docs)
        self.assertGreaterEqual(len(table), 38)


if __name__ == "__main__":
    unittest.main()

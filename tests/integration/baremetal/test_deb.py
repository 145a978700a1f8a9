"""The Debian package: `dpkg-buildpackage -us -uc -b` builds it from a copy of this tree, and
it holds what an operator needs: the two binaries (which run), the units (installed, neither
enabled nor started by the package), the configuration as a conffile readable by root only,
and the documents the units point at."""
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

SOURCE_DIR = os.environ.get("SPINDLE_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.."))


def ignore_build_dirs(path, names):
    """Build directories and git's metadata stay behind (at the top of the tree only)."""
    if os.path.abspath(path) != os.path.abspath(SOURCE_DIR):
        return []
    return [n for n in names if n.startswith(("build", "obj-", ".git"))]


class DebianPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("dpkg-buildpackage") is None or shutil.which("dh") is None:
            raise unittest.SkipTest("dpkg-dev and debhelper are not installed")
        cls.tmp = tempfile.mkdtemp(prefix="spindle-deb-")
        src = os.path.join(cls.tmp, "spindle")
        shutil.copytree(SOURCE_DIR, src, symlinks=True, ignore=ignore_build_dirs)
        cls.build = subprocess.run(["nice", "dpkg-buildpackage", "-us", "-uc", "-b", "-j2"],
                                   cwd=src, capture_output=True, text=True, timeout=900)
        debs = [n for n in os.listdir(cls.tmp) if n.startswith("spindle_") and n.endswith(".deb")]
        cls.deb = os.path.join(cls.tmp, debs[0]) if len(debs) == 1 else None
        cls.root = os.path.join(cls.tmp, "root")
        cls.control = os.path.join(cls.tmp, "control")
        if cls.deb:
            subprocess.run(["dpkg-deb", "-x", cls.deb, cls.root], check=True)
            subprocess.run(["dpkg-deb", "-e", cls.deb, cls.control], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.assertEqual(self.build.returncode, 0, self.build.stdout[-3000:] + self.build.stderr[-3000:])
        self.assertIsNotNone(self.deb)

    def test_binaries_run(self):
        out = subprocess.run([os.path.join(self.root, "usr/bin/spindled"), "--version"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"^spindled \d+\.\d+\.\d+")
        out = subprocess.run([os.path.join(self.root, "usr/bin/spindle-preflight"), "--help"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0)
        out = subprocess.run([os.path.join(self.root, "usr/bin/spindle-control"), "--check-config",
                              "--config", os.path.join(self.root,
                                                       "usr/share/doc/spindle/examples/spindle-control.conf")],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        out = subprocess.run([os.path.join(self.root, "usr/bin/spindlectl"), "--help"],
                             capture_output=True, text=True, timeout=30)
        self.assertIn("spindlectl", out.stdout + out.stderr)
        out = subprocess.run([os.path.join(self.root, "usr/bin/spindled"), "--check-config",
                              "--config", os.path.join(self.root, "etc/spindle/spindled.conf")],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_configuration_is_a_private_conffile(self):
        conf = os.path.join(self.root, "etc/spindle/spindled.conf")
        self.assertEqual(stat.S_IMODE(os.stat(conf).st_mode), 0o640)
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertIn("/etc/spindle/spindled.conf", f.read().split())

    def test_units_installed_not_started(self):
        for unit in ("spindled.service", "spindle-control.service"):
            path = os.path.join(self.root, "lib/systemd/system", unit)
            with open(path) as f:
                text = f.read()
            self.assertIn("ExecStart=/usr/bin/", text)
            self.assertIn("--config /etc/spindle/", text)
            for doc in [w[5:] for w in text.split() if w.startswith("file:/")]:
                self.assertTrue(os.path.isfile(self.root + doc), doc)
        with open(os.path.join(self.control, "postinst")) as f:
            postinst = f.read()
        self.assertNotIn("deb-systemd-invoke start", postinst)
        lines = postinst.splitlines()
        for i, line in enumerate(lines):
            if "deb-systemd-helper enable" in line:
                # only re-enabling a unit the admin had enabled before (an upgrade)
                self.assertTrue(any("was-enabled" in l for l in lines[max(0, i - 3):i]), line)

    def test_depends_on_the_libraries(self):
        out = subprocess.run(["dpkg-deb", "-f", self.deb, "Depends"], capture_output=True,
                             text=True, check=True)
        for lib in ("librte-eal23", "liburing2", "libjemalloc2"):
            self.assertIn(lib, out.stdout)


if __name__ == "__main__":
    unittest.main()

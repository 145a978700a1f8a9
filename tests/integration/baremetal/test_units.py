"""What `meson install` puts on a host, and the systemd units: they pass systemd-analyze
verify, say what they must (ordering, restart policy, limits, the hugepage mount), and the
command lines they run work: ExecStartPre checks the configuration, ExecStart serves, and the
stop signal stops spindled cleanly within the stop timeout."""
import configparser
import glob
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from spindle_proc import BUILD_DIR, SPINDLED, free_port

SPINDLE_CONTROL = os.path.join(BUILD_DIR, "control/daemon/spindle-control")


def unit_read(path):
    p = configparser.ConfigParser(strict=False, interpolation=None)
    p.optionxform = str
    p.read(path)
    return p


class Installed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="spindle-install-")
        out = subprocess.run(["meson", "install", "-C", BUILD_DIR, "--no-rebuild", "--quiet",
                              "--destdir", cls.dest], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        units = glob.glob(cls.dest + "/**/spindled.service", recursive=True)
        assert len(units) == 1, units
        cls.unitdir = os.path.dirname(units[0])
        cls.spindled = unit_read(units[0])
        cls.control = unit_read(os.path.join(cls.unitdir, "spindle-control.service"))
        exec_start = shlex.split(cls.spindled["Service"]["ExecStart"])
        cls.bindir = os.path.dirname(exec_start[0])
        cls.conf_path = exec_start[-1]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def installed(self, path):
        return os.path.join(self.dest, path.lstrip("/"))

    def test_files(self):
        for name in ("spindled", "spindle-preflight"):
            self.assertTrue(os.access(self.installed(os.path.join(self.bindir, name)), os.X_OK), name)
        doc = glob.glob(self.dest + "/**/doc/spindle", recursive=True)
        self.assertEqual(len(doc), 1)
        for name in ("CONFIG.md", "OPERATIONS.md", "examples/spindled.conf"):
            self.assertTrue(os.path.isfile(os.path.join(doc[0], name)), name)
        self.assertEqual(glob.glob(self.dest + "/**/etc/spindle", recursive=True), [],
                         "meson install must not write a node's configuration")
        out = subprocess.run([SPINDLED, "--check-config", "--config",
                              os.path.join(doc[0], "examples/spindled.conf")],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn('data-dir "/var/lib/spindle"', out.stdout)  # the unit's StateDirectory

    def test_spindled_unit(self):
        u, s = self.spindled["Unit"], self.spindled["Service"]
        self.assertIn("dev-hugepages.mount", u["Requires"].split())
        after = u["After"].split()
        for dep in ("dev-hugepages.mount", "network-online.target", "local-fs.target"):
            self.assertIn(dep, after)
        self.assertEqual(u["RequiresMountsFor"], "/var/lib/spindle")
        self.assertEqual(s["Restart"], "on-failure")
        self.assertEqual(s["RestartPreventExitStatus"], "2")
        self.assertEqual(s["LimitNOFILE"], "1048576")
        self.assertEqual(s["LimitMEMLOCK"], "infinity")
        self.assertEqual(s["KillSignal"], "SIGTERM")
        self.assertEqual(s["StateDirectory"], "spindle")
        self.assertEqual(s["RuntimeDirectory"], "spindle")
        self.assertTrue(s["ExecStartPre"].endswith("--check-config --config " + self.conf_path))
        self.assertEqual(self.spindled["Install"]["WantedBy"], "multi-user.target")

    def test_control_unit_comes_after_spindled(self):
        u, s = self.control["Unit"], self.control["Service"]
        self.assertIn("spindled.service", u["After"].split())
        self.assertIn("spindled.service", u["Wants"].split())
        self.assertNotIn("BindsTo", u)   # it must outlive a dead dataplane to report it
        self.assertNotIn("spindled.service", u.get("Requires", ""))
        conf = os.path.join(os.path.dirname(self.conf_path), "spindle-control.conf")
        self.assertEqual(shlex.split(s["ExecStart"]),
                         [os.path.join(self.bindir, "spindle-control"), "--config", conf])
        self.assertEqual(u["ConditionPathExists"], conf)
        self.assertEqual(s["Restart"], "on-failure")
        self.assertIn("LimitNOFILE", s)
        self.assertEqual(s["StateDirectory"], "spindle-control")

    def test_systemd_analyze_verify(self):
        """Both units, with their binaries pointed at this build, pass systemd-analyze verify
        without a word."""
        if shutil.which("systemd-analyze") is None:
            self.skipTest("no systemd-analyze")
        tmp = tempfile.mkdtemp(prefix="spindle-units-")
        try:
            paths = []
            for name, binary in (("spindled.service", SPINDLED),
                                 ("spindle-control.service", SPINDLE_CONTROL)):
                with open(os.path.join(self.unitdir, name)) as f:
                    text = f.read()
                text = text.replace(os.path.join(self.bindir, "spindled"), binary)
                text = text.replace(os.path.join(self.bindir, "spindle-control"), binary)
                paths.append(os.path.join(tmp, name))
                with open(paths[-1], "w") as f:
                    f.write(text)
            out = subprocess.run(["systemd-analyze", "verify"] + paths, capture_output=True,
                                 text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual((out.stdout + out.stderr).strip(), "")
        finally:
            shutil.rmtree(tmp)

    def command(self, key, conf):
        """The unit's command line for key, run from this build with conf as the file."""
        argv = shlex.split(self.spindled["Service"][key])
        self.assertEqual(argv[0], os.path.join(self.bindir, "spindled"))
        return [SPINDLED] + [conf if a == self.conf_path else a for a in argv[1:]]

    def test_the_units_command_lines_run(self):
        tmp = tempfile.mkdtemp(prefix="spindle-unitrun-")
        port = free_port()
        conf = os.path.join(tmp, "spindled.conf")
        with open(conf, "w") as f:
            f.write("port %d\nlanes 2\ndata-dir %s/data\nsegment-bytes 4m\n" % (port, tmp))
        proc = None
        try:
            pre = subprocess.run(self.command("ExecStartPre", conf), capture_output=True,
                                 text=True, timeout=30)
            self.assertEqual(pre.returncode, 0, pre.stderr)
            with open(os.path.join(tmp, "log"), "wb") as log:
                proc = subprocess.Popen(self.command("ExecStart", conf), stdout=log,
                                        stderr=subprocess.STDOUT)
                deadline = time.time() + 20
                while True:
                    self.assertIsNone(proc.poll(), "spindled exited at start")
                    try:
                        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                            s.sendall(b"PING\r\n")
                            if s.recv(16).startswith(b"+PONG"):
                                break
                    except OSError:
                        pass
                    self.assertLess(time.time(), deadline, "no PONG")
                    time.sleep(0.05)
                proc.send_signal(getattr(signal, self.spindled["Service"]["KillSignal"]))
                stop_s = int(self.spindled["Service"]["TimeoutStopSec"])
                self.assertEqual(proc.wait(timeout=stop_s), 0)
            with open(conf, "a") as f:
                f.write("lanes many\n")
            pre = subprocess.run(self.command("ExecStartPre", conf), capture_output=True,
                                 text=True, timeout=30)
            prevent = int(self.spindled["Service"]["RestartPreventExitStatus"])
            self.assertEqual(pre.returncode, prevent, "a bad file must not be restarted")
            self.assertIn("lanes: 'many' is not a number", pre.stderr)
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()

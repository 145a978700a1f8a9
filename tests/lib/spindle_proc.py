"""Starting and stopping real spindled processes for the integration tests.

Each server gets a free loopback port in 17000-17999, its own data directory and DPDK file
prefix, and a log file; stopping it sends SIGTERM and checks that it exited cleanly and that
its log shows no panic or sanitizer report. Everything started is stopped, also on failure.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

BUILD_DIR = os.environ.get("SPINDLE_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SPINDLED = os.path.join(BUILD_DIR, "spindled")

_used_ports = set()


def free_port(lo=17000, hi=17999):
    """A loopback TCP port nobody listens on, not handed out before in this process."""
    start = lo + (os.getpid() * 7) % (hi - lo)
    for i in range(hi - lo):
        port = lo + (start - lo + i) % (hi - lo)
        if port in _used_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _used_ports.add(port)
        return port
    raise RuntimeError("no free port in %d-%d" % (lo, hi))


class Spindled:
    """One spindled process. Use as a context manager, or call start() and stop()."""

    def __init__(self, *args, port=None, data_dir=None, durability="memory", eal=None,
                 env=None, name="spindled"):
        self.port = port or free_port()
        self.tmp = tempfile.mkdtemp(prefix="spindle-test-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.log_path = os.path.join(self.tmp, name + ".log")
        self.args = list(args)
        self.durability = durability
        self.eal = eal
        self.env = env
        self.proc = None
        self.log_file = None
        self.killed = False

    def command(self):
        cmd = [SPINDLED, "--port", str(self.port), "--durability", self.durability,
               "--data-dir", self.data_dir, "--segment-bytes", "4m"] + self.args
        if self.eal is not None:
            cmd += ["--"] + self.eal
        return cmd

    def start(self, wait_s=20.0):
        self.log_file = open(self.log_path, "ab")
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(self.command(), stdout=self.log_file,
                                     stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + wait_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("spindled exited with %s at start:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                if self.ping():
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("spindled did not answer PING within %.0fs:\n%s" % (wait_s, self.log()))

    def ping(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def kill(self, sig=signal.SIGKILL):
        """Kills the server on purpose: stop() will not count its exit code against it."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
            self.killed = True

    def stop(self, timeout_s=20.0, check=True):
        """SIGTERM, wait, and (with check) insist on exit code 0 and a clean log."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                if check:
                    raise AssertionError("spindled did not stop within %.0fs after SIGTERM:\n%s"
                                         % (timeout_s, self.log()[-4000:]))
        rc = self.proc.returncode
        if not self.log_file.closed:
            self.log_file.close()
        if self.killed:
            return
        if check:
            text = self.log()
            for bad in ("PANIC", "AddressSanitizer", "runtime error:", "LeakSanitizer"):
                if bad in text:
                    raise AssertionError("spindled log shows %s:\n%s" % (bad, text[-4000:]))
            if rc != 0:
                raise AssertionError("spindled exited with %d:\n%s" % (rc, text[-4000:]))

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop(check=exc_type is None)
        finally:
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
            if exc_type is None:
                self.cleanup()
            else:
                print("spindled log kept in", self.log_path)
        return False


def resp_encode(*args):
    """A command as a RESP multibulk."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def recv_until_closed(sock, timeout_s=5.0):
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout_s)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            raise AssertionError("server did not close the connection; got %r" % data[:200])
        if not chunk:
            return data
        data += chunk


def recv_exact_reply(sock, expect_len, timeout_s=5.0):
    sock.settimeout(timeout_s)
    data = b""
    while len(data) < expect_len:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data

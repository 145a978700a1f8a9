#!/usr/bin/python3
"""Perf smoke test: spindle-bench against a redis-server this test starts and stops, in closed
loop, open loop, check mode, with held connections in two worker processes; its answers to a
stalled server (coordinated omission, timeouts), to a server that lies (check mode must catch
it), to no server and to bad options; and perf/compare.py end to end with tiny settings.
Every run is seconds long. Servers listen on free loopback ports in 17000-17999."""

import json
import os
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
import unittest

BUILD = os.environ.get("SPINDLE_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../../build"))
SOURCE = os.environ.get("SPINDLE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../.."))
BENCH = os.path.join(BUILD, "perf", "bench", "spindle-bench")
COMPARE = os.path.join(SOURCE, "perf", "compare.py")
PORT_BASE = 17700


def free_port(start):
    for port in range(start, 18000):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port in %d-17999" % start)


def ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class LyingServer(socketserver.ThreadingTCPServer):
    """A RESP server that stores SETs but answers every 50th GET with a changed value: a fast
    wrong answer that --check must catch."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port):
        super().__init__(("127.0.0.1", port), LyingHandler)
        self.data = {}
        self.gets = 0
        self.lock = threading.Lock()


class LyingHandler(socketserver.StreamRequestHandler):
    def read_command(self):
        line = self.rfile.readline()
        if not line.startswith(b"*"):
            return None
        args = []
        for _ in range(int(line[1:])):
            n = int(self.rfile.readline()[1:])
            args.append(self.rfile.read(n + 2)[:n])
        return args

    def handle(self):
        while True:
            args = self.read_command()
            if not args:
                return
            cmd = args[0].upper()
            with self.server.lock:
                if cmd == b"SET":
                    self.server.data[args[1]] = args[2]
                    reply = b"+OK\r\n"
                elif cmd == b"GET":
                    self.server.gets += 1
                    v = self.server.data.get(args[1])
                    if v is not None and self.server.gets % 50 == 0:
                        v = v[:-1] + (b"x" if v[-1:] != b"x" else b"y")
                    reply = b"$-1\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v)
                elif cmd == b"PING":
                    reply = b"+PONG\r\n"
                else:
                    reply = b"-ERR unknown command\r\n"
            self.wfile.write(reply)


class BenchSmoke(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="spindle-perf-")
        cls.port = free_port(PORT_BASE)
        cls.redis = subprocess.Popen(
            ["redis-server", "--port", str(cls.port), "--bind", "127.0.0.1",
             "--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir", cls.tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not ping(cls.port):
            if time.monotonic() > deadline or cls.redis.poll() is not None:
                cls.tearDownClass()
                raise RuntimeError("redis-server did not start on port %d" % cls.port)
            time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        if cls.redis.poll() is None:
            cls.redis.send_signal(signal.SIGCONT)
            cls.redis.terminate()
            cls.redis.wait(10)

    def bench(self, *args, port=None, expect_rc=0):
        path = os.path.join(self.tmp, "r%d.json" % time.monotonic_ns())
        argv = [BENCH, "-p", str(port or self.port), "--json", path, "--no-progress"] + list(args)
        r = subprocess.run(argv, capture_output=True, timeout=120)
        self.assertEqual(r.returncode, expect_rc, "%s\nstdout: %s\nstderr: %s" % (
            " ".join(argv), r.stdout.decode(), r.stderr.decode()))
        if not os.path.exists(path):
            return None, r
        with open(path) as f:
            return json.load(f), r

    def assert_sane(self, res, errors=0):
        for key in ("tool", "label", "target", "machine", "config", "duration_s", "requests",
                    "issued", "throughput_rps", "connections", "check", "errors",
                    "latency_us", "histogram_ns", "ok"):
            self.assertIn(key, res)
        lat = res["latency_us"]
        self.assertGreater(res["requests"], 0)
        self.assertGreater(res["throughput_rps"], 0)
        self.assertEqual(res["errors"]["total"], errors, res["errors"])
        self.assertLessEqual(lat["min"], lat["p50"])
        self.assertLessEqual(lat["p50"], lat["p90"])
        self.assertLessEqual(lat["p90"], lat["p99"])
        self.assertLessEqual(lat["p99"], lat["p999"])
        self.assertLessEqual(lat["p999"], lat["max"])
        self.assertGreater(lat["p50"], 0)
        self.assertEqual(sum(c for _, c in res["histogram_ns"]), res["requests"])
        self.assertGreaterEqual(res["machine"]["cores"], 1)

    def test_closed_loop(self):
        res, r = self.bench("-c", "8", "-D", "1", "-P", "4", "--label", "smoke")
        self.assert_sane(res)
        self.assertEqual(res["config"]["mode"], "closed")
        self.assertEqual(res["connections"]["active"], 8)
        self.assertEqual(res["label"], "smoke")
        self.assertIn(b"req/s", r.stdout)

    def test_request_bounded_custom_command(self):
        res, _ = self.bench("-c", "4", "-n", "3000", "--", "LPUSH", "list:__key__", "__value__")
        self.assert_sane(res)
        self.assertEqual(res["requests"], 3000)
        self.assertEqual(res["issued"], 3000)
        self.assertEqual(res["config"]["command"], ["LPUSH", "list:__key__", "__value__"])
        res, _ = self.bench("-c", "2", "-n", "100", "--", "NOSUCHCOMMAND", "__key__",
                            expect_rc=1)  # nothing answered without error
        self.assertEqual(res["errors"]["replies"]["ERR"], 100)
        self.assertEqual(res["requests"], 0)

    def test_open_loop_holds_the_rate(self):
        res, _ = self.bench("-c", "8", "-R", "2000", "-D", "1.5")
        self.assert_sane(res)
        self.assertEqual(res["config"]["mode"], "open")
        self.assertAlmostEqual(res["throughput_rps"], 2000, delta=200)
        self.assertAlmostEqual(res["requests"], 3000, delta=10)

    def test_check_mode(self):
        res, _ = self.bench("-c", "6", "-D", "1", "-w", "mixed", "-r", "0.5", "--check", "-P", "3")
        self.assert_sane(res)
        self.assertEqual(res["check"]["verified"], res["requests"])
        res, _ = self.bench("-c", "6", "-D", "1", "-w", "incr", "--check", "-P", "8",
                            "--dist", "zipf", "-k", "60")
        self.assert_sane(res)
        self.assertEqual(res["check"]["verified"], res["requests"])

    def test_check_mode_catches_wrong_answers(self):
        port = free_port(self.port + 1)
        server = LyingServer(port)
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        try:
            res, r = self.bench("-c", "2", "-t", "1", "-n", "4000", "-w", "mixed", "-r", "0.7",
                                "--check", "-k", "40", port=port, expect_rc=3)
        finally:
            server.shutdown()
            server.server_close()
        self.assertGreater(res["errors"]["check"], 0)
        self.assertGreater(res["check"]["verified"], 0)
        self.assertIn(b"check failed", r.stderr)
        self.assertFalse(res["ok"])

    def test_held_connections_in_two_processes(self):
        res, _ = self.bench("-c", "4", "--hold", "300", "--procs", "2", "-n", "5000",
                            "--source-addrs", "127.0.0.1+3")
        self.assert_sane(res)
        self.assertEqual(res["config"]["procs"], 2)
        self.assertEqual(res["connections"]["held"], 300)
        self.assertEqual(res["connections"]["active"], 4)
        self.assertEqual(res["requests"], 5000)

    def test_held_connections_stay_open_for_the_whole_run(self):
        # Three threads for two active connections: one thread holds only idle connections,
        # and they must stay open until the loaded ones are done.
        ready = os.path.join(self.tmp, "ready-%d" % time.monotonic_ns())
        path = os.path.join(self.tmp, "held.json")
        bench = subprocess.Popen([BENCH, "-p", str(self.port), "-c", "2", "--hold", "300",
                                  "--procs", "3", "-D", "2", "--ready-file", ready,
                                  "--json", path, "-q"])
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(ready) and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(1.5)
            info = subprocess.run(["redis-cli", "-p", str(self.port), "info", "clients"],
                                  capture_output=True, timeout=10).stdout.decode()
        finally:
            self.assertEqual(bench.wait(60), 0)
        clients = int(info.split("connected_clients:")[1].split()[0])
        self.assertGreaterEqual(clients, 302, info)
        with open(path) as f:
            res = json.load(f)
        self.assertEqual(res["connections"]["held"], 300)
        self.assertEqual(res["config"]["threads"], 3)

    def stall_redis(self, after_s, for_s):
        def stall():
            time.sleep(after_s)
            self.redis.send_signal(signal.SIGSTOP)
            time.sleep(for_s)
            self.redis.send_signal(signal.SIGCONT)
        t = threading.Thread(target=stall)
        t.start()
        return t

    def test_open_loop_sees_a_stall(self):
        # 300 ms without answers at 1000 req/s: the requests meant for that time wait, and
        # measured from their intended send time about 1% of them wait over 270 ms.
        t = self.stall_redis(0.6, 0.3)
        res, _ = self.bench("-c", "4", "-R", "1000", "-D", "2")
        t.join()
        self.assert_sane(res)
        self.assertGreater(res["latency_us"]["p99"], 200000)
        self.assertGreater(res["latency_us"]["max"], 250000)

    def test_timeouts_end_the_run(self):
        t = self.stall_redis(0.3, 2.5)
        start = time.monotonic()
        res, _ = self.bench("-c", "4", "-D", "30", "--timeout-ms", "500", expect_rc=0)
        took = time.monotonic() - start
        t.join()
        self.assertEqual(res["errors"]["timeout"], 4)  # one request in flight per connection
        self.assertLess(took, 5)

    def test_no_server_and_bad_usage(self):
        port = free_port(self.port + 50)
        res, r = self.bench("-c", "3", "-n", "10", port=port, expect_rc=1)
        self.assertEqual(res["errors"]["connect"], 3)
        self.assertIn("refused", res["errors"]["connect_error"])
        _, r = self.bench("-c", "0", expect_rc=2)
        self.assertIn(b"--connections", r.stderr)
        _, r = self.bench("--check", "-w", "get", expect_rc=2)
        self.assertIn(b"mixed", r.stderr)

    def test_compare_matrix_end_to_end(self):
        out = os.path.join(self.tmp, "compare")
        r = subprocess.run(["/usr/bin/python3", COMPARE, "--quick", "--build", BUILD,
                            "--out", out, "--base-port", str(free_port(17800))],
                           capture_output=True, timeout=240)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        for name in ("report.md", "results.json", "plot.png"):
            self.assertTrue(os.path.getsize(os.path.join(out, name)) > 0, name)
        with open(os.path.join(out, "results.json")) as f:
            results = json.load(f)
        by_name = {t["name"]: t for t in results["targets"]}
        for name in ("redis", "redis-aof-always", "redis-repl2-wait"):
            self.assertEqual(by_name[name]["status"], "ok")
            for run in by_name[name]["runs"].values():
                self.assertGreater(run["requests"], 0)
                self.assertEqual(run["errors"], 0)
                self.assertLessEqual(run["p50"], run["p99"])
                self.assertLessEqual(run["p99"], run["max"])
            self.assertTrue(by_name[name]["sweep"])
        for name in ("spindle-memory", "spindle-disk", "spindle-3node"):
            self.assertIn(by_name[name]["status"], ("ok", "skipped"))
            if by_name[name]["status"] == "skipped":
                self.assertTrue(by_name[name]["reason"])
        steps = [s for sc in results["scaling"] if sc["name"] == "redis" for s in sc["steps"]]
        self.assertEqual([s["conns"] for s in steps], [20, 60])
        self.assertTrue(all(s["open"] == s["conns"] for s in steps))
        with open(os.path.join(out, "report.md")) as f:
            report = f.read()
        self.assertIn("| redis-aof-always |", report)
        self.assertIn("vs redis-repl2-wait", report)
        with open(os.path.join(out, "plot.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)

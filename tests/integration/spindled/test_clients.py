"""Real Redis clients against spindled: redis-cli, redis-benchmark and Python's redis
client, on one loop and on two loops with many lanes (so that requests cross loops)."""
import re
import subprocess
import unittest

import redis

from spindle_proc import Spindled


def cli(port, *args, stdin=None):
    out = subprocess.run(["redis-cli", "-p", str(port)] + list(args), input=stdin,
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


class RedisCli(unittest.TestCase):
    def test_commands_and_pipe(self):
        with Spindled("--lanes", "4") as sp:
            self.assertEqual(cli(sp.port, "PING"), "PONG")
            self.assertEqual(cli(sp.port, "SET", "k", "hello world"), "OK")
            self.assertEqual(cli(sp.port, "GET", "k"), "hello world")
            self.assertEqual(cli(sp.port, "INCRBY", "n", "41"), "41")
            self.assertEqual(cli(sp.port, "GET", "nope"), "")
            self.assertRegex(cli(sp.port, "INFO", "server"), r"spindle_version:\d+\.\d+\.\d+")
            self.assertRegex(cli(sp.port, "COMMAND", "COUNT"), r"^\d+$")
            # Mass insertion through --pipe (RESP on stdin), then count.
            lines = "".join("SET key:%d value:%d\r\n" % (i, i) for i in range(5000))
            out = cli(sp.port, "--pipe", stdin=lines)
            self.assertRegex(out, r"errors: 0, replies: 5000")
            self.assertEqual(cli(sp.port, "DBSIZE"), "5002")
            self.assertEqual(cli(sp.port, "GET", "key:4321"), "value:4321")


class RedisBenchmark(unittest.TestCase):
    def run_bench(self, port, *extra):
        out = subprocess.run(
            ["redis-benchmark", "-p", str(port), "-n", "20000", "-c", "50", "-q",
             "-t", "set,get,incr,mset"] + list(extra),
            capture_output=True, text=True, timeout=300)
        text = out.stdout + out.stderr
        self.assertEqual(out.returncode, 0, text)
        self.assertNotIn("ERR", text)
        self.assertNotIn("rror", text)
        for test in ("SET", "GET", "INCR", "MSET"):
            self.assertRegex(text, r"%s[^:]*: [\d.]+ requests per second" % test, text)
        return text

    def test_unpipelined(self):
        with Spindled("--lanes", "8") as sp:
            self.run_bench(sp.port)
            self.assertEqual(cli(sp.port, "GET", "counter:__rand_int__"), "20000")

    def test_pipelined_two_loops(self):
        with Spindled("--lanes", "8", "--loops", "2") as sp:
            self.run_bench(sp.port, "-P", "16")
            self.assertEqual(cli(sp.port, "GET", "counter:__rand_int__"), "20000")


class PythonClient(unittest.TestCase):
    def test_string_commands(self):
        with Spindled("--lanes", "8", "--loops", "2") as sp:
            r = redis.Redis(port=sp.port, decode_responses=True)
            self.assertTrue(r.ping())
            self.assertTrue(r.set("a", "1"))
            self.assertEqual(r.get("a"), "1")
            self.assertEqual(r.incr("a", 5), 6)
            self.assertEqual(r.incrbyfloat("a", 0.5), 6.5)
            self.assertTrue(r.set("t", "v", ex=100))
            self.assertTrue(98 <= r.ttl("t") <= 100)
            self.assertTrue(r.persist("t"))
            self.assertEqual(r.ttl("t"), -1)
            self.assertEqual(r.append("t", "w"), 2)
            self.assertEqual(r.getrange("t", 0, 0), "v")
            self.assertEqual(r.setrange("t", 1, "XYZ"), 4)
            self.assertEqual(r.get("t"), "vXYZ")
            self.assertEqual(r.getdel("t"), "vXYZ")
            self.assertIsNone(r.get("t"))
            # Multi-key reads gather across lanes; writes across lanes are refused.
            keys = ["k%d" % i for i in range(50)]
            for k in keys:
                r.set(k, k.upper())
            self.assertEqual(r.mget(keys + ["missing"]), [k.upper() for k in keys] + [None])
            self.assertEqual(r.exists(*keys), 50)
            with self.assertRaisesRegex(redis.ResponseError, "CROSSSLOT"):
                r.mset({"k1": "x", "k2": "y", "k3": "z", "k4": "w"})
            with self.assertRaisesRegex(redis.ResponseError, "CROSSSLOT"):
                r.delete(*keys)
            self.assertTrue(r.mset({"{u}1": "x", "{u}2": "y"}))
            self.assertEqual(r.delete("{u}1", "{u}2"), 2)
            self.assertEqual(r.dbsize(), 51)  # "a" and k0..k49
            self.assertEqual(sorted(r.keys("k1*")), sorted(k for k in keys if k.startswith("k1")))
            self.assertEqual(sorted(r.scan_iter(match="k*", count=7)), sorted(keys))
            self.assertEqual(r.type("k1"), "string")
            self.assertTrue(r.flushall())
            self.assertEqual(r.dbsize(), 0)

    def test_pipeline_order_across_loops(self):
        with Spindled("--lanes", "16", "--loops", "2") as sp:
            r = redis.Redis(port=sp.port)
            p = r.pipeline(transaction=False)
            for i in range(2000):
                p.set("p%d" % i, i)
                p.get("p%d" % i)
                p.incr("c%d" % (i % 7))
            res = p.execute()
            for i in range(2000):
                self.assertTrue(res[3 * i])
                self.assertEqual(res[3 * i + 1], str(i).encode())
            counts = {}
            for i in range(2000):
                counts[i % 7] = counts.get(i % 7, 0) + 1
                self.assertEqual(res[3 * i + 2], counts[i % 7])

    def test_client_and_config(self):
        with Spindled() as sp:
            r = redis.Redis(port=sp.port, decode_responses=True)
            self.assertTrue(r.client_setname("worker-1"))
            self.assertEqual(r.client_getname(), "worker-1")
            cid = r.client_id()
            self.assertGreater(cid, 0)
            clients = r.client_list()
            me = [c for c in clients if int(c["id"]) == cid]
            self.assertEqual(len(me), 1)
            self.assertEqual(me[0]["name"], "worker-1")
            info = r.client_info()
            self.assertEqual(int(info["id"]), cid)
            self.assertEqual(r.config_get("appendonly"), {"appendonly": "no"})
            self.assertIn("save", r.config_get("save"))
            self.assertEqual(r.config_get("databases"), {"databases": "1"})
            info = r.info()
            for field in ("redis_version", "connected_clients", "used_memory", "total_commands_processed",
                          "spindle_loops", "spindle_lanes"):
                self.assertIn(field, info)


if __name__ == "__main__":
    unittest.main()

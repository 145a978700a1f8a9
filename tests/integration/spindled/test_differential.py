"""spindled answers like Redis 7: a battery of commands is sent as raw RESP to a real
redis-server and to spindled, and the replies must be the same bytes, in RESP2 and in RESP3.

Multi-key commands use a hash tag so that their keys share a slot (spindled, like Redis
Cluster, answers -CROSSSLOT otherwise). Replies that depend on the clock (TTL, PTTL) are
compared within a tolerance.
"""
import re
import socket
import subprocess
import time
import unittest

from spindle_proc import Spindled, free_port, resp_encode

# Each entry is a command; "~" before the name compares the integer reply within 2 units.
BATTERY = [
    ["PING"], ["PING", "hello"], ["ECHO", "bytes \x00 here"], ["ECHO"],
    ["GET", "{t}missing"], ["SET", "{t}a", "1"], ["GET", "{t}a"], ["SET", "{t}a", "2", "GET"],
    ["SET", "{t}a", "3", "NX"], ["SET", "{t}a", "4", "XX"], ["SET", "{t}nx", "v", "XX"],
    ["SET", "{t}a", "5", "NX", "XX"], ["SET", "{t}a", "5", "EX", "0"], ["SET", "{t}a", "5", "EX", "-3"],
    ["SET", "{t}a", "5", "EX", "abc"], ["SET", "{t}a", "5", "PX", "9223372036854775807"],
    ["SET", "{t}a", "5", "EX", "10", "PX", "10"], ["SET", "{t}a", "5", "KEEPTTL", "EX", "1"],
    ["SET", "{t}a", "5", "BOGUS"], ["SET", "{t}a"], ["SET", "{t}e", "v", "EX", "100"],
    ["~TTL", "{t}e"], ["~PTTL", "{t}e", "ms"], ["SET", "{t}e", "w", "KEEPTTL"], ["~TTL", "{t}e"],
    ["SET", "{t}e", "x"], ["TTL", "{t}e"], ["TTL", "{t}nope"], ["PTTL", "{t}nope"],
    ["SETNX", "{t}sn", "1"], ["SETNX", "{t}sn", "2"], ["GET", "{t}sn"],
    ["SETEX", "{t}se", "100", "v"], ["~TTL", "{t}se"], ["SETEX", "{t}se", "0", "v"],
    ["SETEX", "{t}se", "x", "v"], ["PSETEX", "{t}pe", "100000", "v"], ["~TTL", "{t}pe"],
    ["GETSET", "{t}gs", "1"], ["GETSET", "{t}gs", "2"], ["GETDEL", "{t}gs"], ["GETDEL", "{t}gs"],
    ["SET", "{t}gx", "v"], ["GETEX", "{t}gx", "EX", "100"], ["~TTL", "{t}gx"],
    ["GETEX", "{t}gx", "PERSIST"], ["TTL", "{t}gx"], ["GETEX", "{t}gx", "EX", "0"],
    ["GETEX", "{t}gx", "EX", "10", "PX", "10"], ["GETEX", "{t}none"],
    ["MSET", "{t}m1", "a", "{t}m2", "b"], ["MGET", "{t}m1", "{t}m2", "{t}m3"], ["MSET", "{t}m1"],
    ["MSETNX", "{t}m1", "x", "{t}m4", "y"], ["MSETNX", "{t}m4", "x", "{t}m5", "y"],
    ["MGET", "{t}m4", "{t}m5"], ["EXISTS", "{t}m1", "{t}m1", "{t}nope"],
    ["DEL", "{t}m1", "{t}m2", "{t}nope"], ["UNLINK", "{t}m4", "{t}m5"], ["EXISTS", "{t}m4"],
    ["INCR", "{t}n"], ["INCRBY", "{t}n", "10"], ["DECR", "{t}n"], ["DECRBY", "{t}n", "3"],
    ["INCRBY", "{t}n", "x"], ["SET", "{t}n", "9223372036854775807"], ["INCR", "{t}n"],
    ["SET", "{t}n", "-9223372036854775808"], ["DECR", "{t}n"], ["SET", "{t}n", "abc"], ["INCR", "{t}n"],
    ["SET", "{t}n", " 1"], ["INCR", "{t}n"], ["SET", "{t}n", "01"], ["INCR", "{t}n"],
    ["INCRBYFLOAT", "{t}f", "1.5"], ["INCRBYFLOAT", "{t}f", "0.1"], ["INCRBYFLOAT", "{t}f", "1e3"],
    ["INCRBYFLOAT", "{t}f", "abc"], ["INCRBYFLOAT", "{t}f", "inf"], ["SET", "{t}f", "3.0e1"],
    ["INCRBYFLOAT", "{t}f", "-0.5"], ["INCRBYFLOAT", "{t}f", "5.0e3"],
    ["APPEND", "{t}ap", "hello"], ["APPEND", "{t}ap", " world"], ["GET", "{t}ap"],
    ["STRLEN", "{t}ap"], ["STRLEN", "{t}nope"], ["GETRANGE", "{t}ap", "0", "4"],
    ["GETRANGE", "{t}ap", "-5", "-1"], ["GETRANGE", "{t}ap", "5", "1"], ["GETRANGE", "{t}ap", "0", "-100"],
    ["GETRANGE", "{t}nope", "0", "10"], ["GETRANGE", "{t}ap", "x", "1"],
    ["SETRANGE", "{t}ap", "6", "WORLD"], ["GET", "{t}ap"], ["SETRANGE", "{t}sr", "3", "x"],
    ["GET", "{t}sr"], ["SETRANGE", "{t}sr", "-1", "x"], ["SETRANGE", "{t}sr", "536870912", "x"],
    ["SETRANGE", "{t}empty", "0", ""], ["EXISTS", "{t}empty"],
    ["SET", "{t}x", "v"], ["EXPIRE", "{t}x", "100"], ["~TTL", "{t}x"], ["EXPIRE", "{t}x", "50", "GT"],
    ["EXPIRE", "{t}x", "200", "GT"], ["~TTL", "{t}x"], ["EXPIRE", "{t}x", "300", "LT"],
    ["EXPIRE", "{t}x", "100", "LT"], ["~TTL", "{t}x"], ["EXPIRE", "{t}x", "100", "NX"],
    ["EXPIRE", "{t}x", "100", "XX"], ["EXPIRE", "{t}x", "100", "NX", "XX"],
    ["EXPIRE", "{t}x", "100", "GT", "LT"], ["EXPIRE", "{t}x", "100", "FOO"],
    ["PERSIST", "{t}x"], ["PERSIST", "{t}x"], ["TTL", "{t}x"], ["EXPIRE", "{t}x", "100", "XX"],
    ["EXPIRE", "{t}x", "100", "GT"], ["EXPIRE", "{t}x", "100", "LT"], ["~TTL", "{t}x"],
    ["PEXPIRE", "{t}x", "100000"], ["~TTL", "{t}x"], ["EXPIRE", "{t}x", "abc"],
    ["EXPIRE", "{t}x", "-1"], ["EXISTS", "{t}x"], ["EXPIRE", "{t}nope", "10"],
    ["SET", "{t}y", "v"], ["EXPIREAT", "{t}y", "1"], ["GET", "{t}y"],
    ["SET", "{t}y", "v"], ["PEXPIREAT", "{t}y", "99999999999999"], ["~TTL", "{t}y"],
    ["EXPIRE", "{t}y", "9223372036854775807"], ["PEXPIRE", "{t}y", "9223372036854775807"],
    ["TYPE", "{t}y"], ["TYPE", "{t}nope"], ["SELECT", "0"], ["SELECT", "1"], ["SELECT", "x"],
    ["GET"], ["GET", "a", "b"], ["NOSUCHCOMMAND", "a", "b"], ["nosuch"],
    ["get", "{t}sn"], ["gEt", "{t}sn"],
    ["SET", "{t}big", "x" * 5000], ["GET", "{t}big"], ["STRLEN", "{t}big"],
]


def read_reply(f):
    """Reads one complete RESP2/RESP3 reply from a buffered socket file; returns its bytes."""
    line = f.readline()
    if not line:
        raise EOFError
    kind = line[:1]
    if kind in b"+-:_,#(":
        return line
    if kind in b"$=!":
        n = int(line[1:-2])
        if n < 0:
            return line
        return line + f.read(n + 2)
    if kind in b"*~%>|":
        n = int(line[1:-2])
        if n < 0:
            return line
        count = n * 2 if kind in b"%|" else n
        return line + b"".join(read_reply(f) for _ in range(count))
    raise AssertionError("bad reply line %r" % line)


def run_battery(port, proto):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = s.makefile("rb")
    replies = []
    try:
        if proto == 3:
            s.sendall(resp_encode("HELLO", "3"))
            read_reply(f)
        for cmd in BATTERY:
            name = cmd[0].lstrip("~")
            s.sendall(resp_encode(name, *cmd[1:]))
            replies.append(read_reply(f))
    finally:
        f.close()
        s.close()
    return replies


def approx_equal(a, b):
    ma, mb = re.match(rb":(-?\d+)\r\n", a), re.match(rb":(-?\d+)\r\n", b)
    if not (ma and mb):
        return a == b
    x, y = int(ma.group(1)), int(mb.group(1))
    return abs(x - y) <= max(2, abs(x) // 100)


class Differential(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis_port = free_port()
        cls.redis = subprocess.Popen(
            ["redis-server", "--port", str(cls.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--logfile", "", "--databases", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", cls.redis_port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.redis.terminate()
        cls.redis.wait(timeout=10)

    def compare(self, proto, *spindled_args, durability="memory"):
        with Spindled(*spindled_args, durability=durability) as sp:
            for port in (self.redis_port,):
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(resp_encode("FLUSHALL"))
                s.recv(100)
                s.close()
            expected = run_battery(self.redis_port, proto)
            got = run_battery(sp.port, proto)
        mismatches = []
        for cmd, e, g in zip(BATTERY, expected, got):
            same = approx_equal(e, g) if cmd[0].startswith("~") else e == g
            if not same:
                mismatches.append("%r:\n  redis:    %r\n  spindled: %r" % (cmd, e[:300], g[:300]))
        self.assertEqual(mismatches, [], "\n".join(mismatches))

    def test_resp2_one_lane(self):
        self.compare(2, "--lanes", "1")

    def test_resp3_one_lane(self):
        self.compare(3, "--lanes", "1")

    def test_resp2_many_lanes_two_loops(self):
        self.compare(2, "--lanes", "16", "--loops", "2")

    # Durable: every write is checked, made deterministic, logged, and applied from the log.
    def test_resp2_durable(self):
        self.compare(2, "--lanes", "4", durability="disk")

    def test_resp3_durable_two_loops(self):
        self.compare(3, "--lanes", "8", "--loops", "2", durability="disk")


if __name__ == "__main__":
    unittest.main()

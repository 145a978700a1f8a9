"""The protocol edge: malformed bytes get Redis's error and a closed connection while other
clients carry on; limits; inline commands and pipelining; RESP3 after HELLO 3; AUTH; QUIT;
the client limit; many idle connections; a clean stop on SIGTERM."""
import socket
import time
import unittest

import redis

from spindle_proc import Spindled, recv_exact_reply, recv_until_closed, resp_encode


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=5)


class Malformed(unittest.TestCase):
    CASES = [
        (b"*2\r\n$3\r\nGET\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
        (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$999999999999\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*99999999\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b'SET "a b\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ]

    def test_each_malformed_input(self):
        with Spindled() as sp:
            bystander = redis.Redis(port=sp.port)
            bystander.set("safe", "value")
            for data, expect in self.CASES:
                with connect(sp.port) as s:
                    s.sendall(resp_encode("SET", "before", "1") + data + resp_encode("SET", "after", "1"))
                    got = recv_until_closed(s)
                    self.assertEqual(got, b"+OK\r\n" + expect, data)
                self.assertEqual(bystander.get("safe"), b"value")
                self.assertIsNone(bystander.get("after"))
            self.assertEqual(bystander.get("before"), b"1")

    def test_huge_inline_line(self):
        with Spindled() as sp:
            with connect(sp.port) as s:
                s.sendall(b"A" * (70 * 1024))
                got = recv_until_closed(s)
                self.assertEqual(got, b"-ERR Protocol error: too big inline request\r\n")
            self.assertTrue(redis.Redis(port=sp.port).ping())

    def test_garbage_bytes(self):
        with Spindled() as sp:
            junk = bytes((i * 37 + 11) % 256 for i in range(100000))
            with connect(sp.port) as s:
                try:
                    s.sendall(junk)
                except OSError:
                    pass
                recv_until_closed(s, timeout_s=10)
            self.assertTrue(redis.Redis(port=sp.port).ping())


class Framing(unittest.TestCase):
    def test_inline_pipelined_and_split(self):
        with Spindled() as sp:
            with connect(sp.port) as s:
                s.sendall(b"SET a 1\r\nGET a\nPING\r\n\r\nECHO \"x y\"\r\n")
                want = b"+OK\r\n$1\r\n1\r\n+PONG\r\n$3\r\nx y\r\n"
                self.assertEqual(recv_exact_reply(s, len(want)), want)
                # One command delivered a byte at a time.
                cmd = resp_encode("SET", "split", "v" * 100)
                for b in cmd:
                    s.sendall(bytes([b]))
                    time.sleep(0.001)
                self.assertEqual(recv_exact_reply(s, 5), b"+OK\r\n")
                # A thousand commands in one write.
                s.sendall(resp_encode("INCR", "n") * 1000)
                want = b"".join(b":%d\r\n" % i for i in range(1, 1001))
                self.assertEqual(recv_exact_reply(s, len(want)), want)

    def test_big_value_round_trip(self):
        with Spindled() as sp:
            r = redis.Redis(port=sp.port)
            value = bytes(range(256)) * 40000  # 10 MB
            r.set("big", value)
            self.assertEqual(r.get("big"), value)
            self.assertEqual(r.strlen("big"), len(value))

    def test_resp3_hello(self):
        with Spindled() as sp:
            with connect(sp.port) as s:
                s.sendall(resp_encode("HELLO", "3"))
                f = s.makefile("rb")
                self.assertTrue(f.readline().startswith(b"%"))
                s.sendall(resp_encode("GET", "nope") + resp_encode("HELLO", "4"))
                f.readline()  # drain the rest of HELLO's map lazily below
            with connect(sp.port) as s:
                s.sendall(resp_encode("HELLO", "3") + resp_encode("GET", "nope") + resp_encode("PING"))
                data = b""
                deadline = time.time() + 5
                while not data.endswith(b"_\r\n+PONG\r\n") and time.time() < deadline:
                    data += s.recv(4096)
                self.assertTrue(data.endswith(b"_\r\n+PONG\r\n"), data)
                s.sendall(resp_encode("HELLO", "4"))
                self.assertEqual(s.recv(4096), b"-NOPROTO unsupported protocol version\r\n")

    def test_quit(self):
        with Spindled() as sp:
            with connect(sp.port) as s:
                s.sendall(resp_encode("PING") + resp_encode("QUIT") + resp_encode("PING"))
                self.assertEqual(recv_until_closed(s), b"+PONG\r\n+OK\r\n")


class Auth(unittest.TestCase):
    def test_requirepass(self):
        with Spindled("--requirepass", "s3cret") as sp:
            with connect(sp.port) as s:
                s.sendall(resp_encode("GET", "a"))
                self.assertEqual(s.recv(100), b"-NOAUTH Authentication required.\r\n")
                s.sendall(resp_encode("AUTH", "wrong"))
                self.assertEqual(s.recv(100),
                                 b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
                s.sendall(resp_encode("AUTH", "s3cret"))
                self.assertEqual(s.recv(100), b"+OK\r\n")
                s.sendall(resp_encode("SET", "a", "1"))
                self.assertEqual(s.recv(100), b"+OK\r\n")
            r = redis.Redis(port=sp.port, password="s3cret")
            self.assertEqual(r.get("a"), b"1")
            with connect(sp.port) as s:
                s.sendall(resp_encode("HELLO", "3", "AUTH", "default", "s3cret"))
                self.assertTrue(s.recv(4096).startswith(b"%"))

    def test_public_bind_needs_password(self):
        sp = Spindled("--bind", "0.0.0.0")
        with self.assertRaisesRegex(RuntimeError, "requirepass"):
            sp.start(wait_s=10)
        sp.cleanup()


class Connections(unittest.TestCase):
    def test_max_clients(self):
        with Spindled("--maxclients", "20") as sp:
            socks = [connect(sp.port) for _ in range(20)]
            for s in socks:
                s.sendall(resp_encode("PING"))
                self.assertEqual(s.recv(100), b"+PONG\r\n")
            with connect(sp.port) as extra:
                self.assertEqual(recv_until_closed(extra), b"-ERR max number of clients reached\r\n")
            socks.pop().close()
            time.sleep(0.2)
            with connect(sp.port) as again:
                again.sendall(resp_encode("PING"))
                self.assertEqual(again.recv(100), b"+PONG\r\n")
            for s in socks:
                s.close()

    def test_two_thousand_idle_connections(self):
        with Spindled("--maxclients", "5000") as sp:
            socks = [connect(sp.port) for _ in range(2000)]
            for s in socks[::50]:
                s.sendall(resp_encode("PING"))
                self.assertEqual(s.recv(100), b"+PONG\r\n")
            info = redis.Redis(port=sp.port).info("clients")
            self.assertEqual(info["connected_clients"], 2001)
            for s in socks:
                s.close()

    def test_slow_reader_does_not_hurt_others(self):
        with Spindled() as sp:
            r = redis.Redis(port=sp.port)
            r.set("v", "x" * 100000)
            slow = connect(sp.port)
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.setblocking(False)
            sent = 0
            cmd = resp_encode("GET", "v")
            deadline = time.time() + 5
            while time.time() < deadline:
                try:
                    sent += slow.send(cmd * 100)
                except BlockingIOError:
                    break
            # The server stops reading from the slow client instead of buffering without bound.
            t0 = time.time()
            for _ in range(200):
                self.assertEqual(len(r.get("v")), 100000)
            self.assertLess(time.time() - t0, 10)
            rss = int(open("/proc/%d/status" % sp.proc.pid).read().split("VmRSS:")[1].split()[0])
            self.assertLess(rss, 512 * 1024, "server RSS grew to %d KiB" % rss)
            slow.close()


if __name__ == "__main__":
    unittest.main()

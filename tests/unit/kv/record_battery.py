#!/usr/bin/python3
"""Records the reply bytes of real Redis 7.0 for the kv command battery.

Runs every group of commands below against a redis-server (RESP2 on one connection, RESP3
after HELLO 3 on another), each group on an emptied server, and writes battery_data.h: the
commands and the exact reply bytes, which test_battery.c checks the kv handlers against.

    redis-server --port 17631 --save '' --appendonly no &
    tests/unit/kv/record_battery.py 17631 > tests/unit/kv/battery_data.h

Arguments may use {expr} with `now` (ms) and `now_s` (s): the recorded time is stored with
each group, and the test runs the group at that time. Only replies that do not depend on a few
milliseconds of clock drift belong here (TTL in seconds, yes; PTTL of a fresh key, no).
"""
import random
import socket
import sys
import time

GROUPS = {
    "set": [
        "GET k", "SET k v", "GET k", "SET k ''", "GET k", "STRLEN k",
        "SET k v NX", "SET k2 v XX", "EXISTS k2", "SET k v2 XX", "GET k", "SET k3 v NX",
        "SET k v NX XX", "SET k v XX NX", "SET k v EX 10 PX 100", "SET k v EX 10 KEEPTTL",
        "SET k v KEEPTTL EX 10", "SET k v EX", "SET k v FOO", "SET k v PERSIST",
        "SET k v EX 10 EX 20", "TTL k", "SET k v PX 5000 PX 90000", "TTL k",
        "SET k v ex 0", "SET k v EX -1", "SET k v EX abc", "SET k v EX 1.5", "SET k v EX ' 10'",
        "SET k v EX 010", "SET k v EX 9223372036854775807", "SET k v EX 9223372036854775",
        "SET k v PX 9223372036854775807", "SET k v PXAT 0", "SET k v EXAT 0",
        "SET k v EXAT 9223372036854775807", "SET k v EXAT 1", "GET k", "EXISTS k",
        "SET k v1", "SET k v GET", "SET newkey v GET", "GET newkey", "SET k v3 NX GET",
        "GET k", "SET k v4 XX GET", "SET nokey v XX GET", "EXISTS nokey", "SET k v GET GET",
        "SET k v NX NX", "SET k v EX 100", "SET k v2 KEEPTTL", "TTL k", "GET k", "SET k v3",
        "TTL k", "set k v nx", "set k v xx ex 50", "ttl k", "SET k v pxat {now+100000}",
        "TTL k", "SET k v exat {now_s+1000}", "SET k v KEEPTTL KEEPTTL", "SET k v KEEPTTL GET",
        "SET k v EX 100 GET XX", "TTL k",
    ],
    "setex": [
        "SETNX k v", "SETNX k w", "GET k", "SETEX k 10 v", "TTL k", "SETEX k 0 v",
        "SETEX k -5 v", "SETEX k abc v", "SETEX k 9223372036854775807 v", "PSETEX k 0 v",
        "PSETEX k 100000 v", "TTL k", "PSETEX k 9223372036854775807 v", "SETEX k 10",
        "GETSET k new", "TTL k", "GETSET missing v", "GET missing", "GETDEL k", "GETDEL k",
        "EXISTS k", "SETEX k 100 v", "GETSET k w", "TTL k",
    ],
    "getex": [
        "GETEX missing", "SET k v", "GETEX k", "GETEX k EX 100", "TTL k", "GETEX k PERSIST",
        "TTL k", "GETEX k PX 5000", "TTL k", "GETEX k EXAT {now_s+500}", "GETEX k PXAT {now+300000}",
        "TTL k", "GETEX k EX 0", "GETEX missing EX 0", "GETEX k EX abc", "GETEX missing EX abc",
        "GETEX k NX", "GETEX k KEEPTTL", "GETEX k GET", "GETEX k PERSIST EX 10",
        "GETEX k EX 10 PERSIST", "GETEX k EX", "GETEX k FOO", "GETEX missing FOO",
        "GETEX k EX 9223372036854775807", "GETEX k PXAT 0", "GETEX k persist", "TTL k",
        "GETEX k EXAT {now_s-100}", "GET k", "EXISTS k", "SET k v", "GETEX k PXAT {now-5}",
        "EXISTS k", "GETEX", "GETEX k EX 10 EX 20", "TTL k",
    ],
    "mset": [
        "MSET a 1 b 2", "MGET a b c", "MSET a", "MSET a 1 b", "MSETNX a 1 c 3", "MGET c",
        "MSETNX c 3 d 4", "MGET a b c d", "MSETNX x 1 x 2", "GET x", "MSET a 1 a 2", "GET a",
        "SET t v EX 100", "MSET t w", "TTL t", "MSETNX a 1", "MSETNX a", "MGET", "MGET nothing",
        "SET exp v PXAT {now-10}", "MSETNX exp 1", "GET exp",
    ],
    "keys": [
        "SET a 1", "SET b 2", "DEL a b c", "EXISTS a", "SET a 1", "EXISTS a a b", "TYPE a",
        "TYPE missing", "UNLINK a missing", "EXISTS a", "SET e v PXAT {now-10}", "DEL e",
        "EXISTS e", "TYPE e", "DEL", "EXISTS", "SET a 1", "DEL a a a", "TTL a", "PTTL a",
        "TTL missing", "PTTL missing", "PERSIST a", "PERSIST missing",
    ],
    "incr": [
        "INCR n", "INCR n", "INCRBY n 10", "DECR n", "DECRBY n 5", "INCRBY n -6", "DECRBY n -5",
        "GET n", "SET n abc", "INCR n", "SET n '1 '", "INCR n", "SET n ' 1'", "INCR n",
        "SET n +1", "INCR n", "SET n 01", "INCR n", "SET n -0", "INCR n", "SET n ''", "INCR n",
        "SET n 1.5", "INCR n", "SET n 9223372036854775807", "INCR n", "INCRBY n 1",
        "INCRBY n -1", "SET n -9223372036854775808", "DECR n", "DECRBY n 1", "INCRBY n -1",
        "INCRBY n abc", "INCRBY n 9223372036854775808", "INCRBY n ''",
        "DECRBY n -9223372036854775808", "DECRBY m -9223372036854775808", "EXISTS m",
        "DECRBY n 9223372036854775807", "SET n 5 EX 100", "INCR n", "TTL n", "GET n",
        "SET n 123456789012345678901", "INCR n", "SET n -123", "INCRBY n 123", "GET n",
        "INCR", "INCRBY n", "DECRBY n 1 2",
    ],
    "incrbyfloat": [
        "INCRBYFLOAT f 10.5", "INCRBYFLOAT f 0.1", "GET f", "SET f 5.0e3", "INCRBYFLOAT f 2.0e2",
        "INCRBYFLOAT f -5200", "GET f", "INCRBYFLOAT f abc", "INCRBYFLOAT f nan",
        "INCRBYFLOAT f NaN", "INCRBYFLOAT f inf", "INCRBYFLOAT f -inf", "INCRBYFLOAT f ''",
        "INCRBYFLOAT f ' 1'", "INCRBYFLOAT f '1 '", "SET g abc", "INCRBYFLOAT g 1",
        "SET g inf", "INCRBYFLOAT g 1", "SET g ' 1'", "INCRBYFLOAT g 1",
        "INCRBYFLOAT h 1e400", "INCRBYFLOAT h2 3.0e3", "INCRBYFLOAT h3 1.23456789012345678",
        "INCRBYFLOAT h4 0x10", "INCRBYFLOAT h5 1e-20", "INCRBYFLOAT h6 -1e-20",
        "INCRBYFLOAT h7 1.7976931348623157e308", "INCRBYFLOAT h7 1.7976931348623157e308",
        "INCRBYFLOAT h8 1e5000", "INCRBYFLOAT h8 1e-5000", "EXISTS h8", "INCRBYFLOAT h9 -0.0",
        "INCRBYFLOAT h10 5", "INCRBYFLOAT h10 -2.5", "INCRBYFLOAT h11 .5", "INCRBYFLOAT h12 5.",
        "INCRBYFLOAT h13 1e2", "INCRBYFLOAT h14 0.1", "INCRBYFLOAT h14 0.2",
        "INCRBYFLOAT h15 3", "INCRBYFLOAT h15 -3", "SET t 1 EX 100", "INCRBYFLOAT t 1.5",
        "TTL t", "GET t", "INCR h14", "SET i 10", "INCRBYFLOAT i 0.5", "INCRBYFLOAT",
        "INCRBYFLOAT i", "INCRBYFLOAT i 1 2", "INCRBYFLOAT h16 -1.1e4932",
        "INCRBYFLOAT h16 -1e4932",
    ],
    "range": [
        "APPEND a hello", "APPEND a ' world'", "GET a", "STRLEN a", "STRLEN missing",
        "GETRANGE a 0 4", "GETRANGE a -5 -1", "GETRANGE a 0 -1", "GETRANGE a 5 3",
        "GETRANGE a -1 -5", "GETRANGE a 0 100", "GETRANGE a 100 200", "GETRANGE a -100 -50",
        "GETRANGE a -100 5", "GETRANGE missing 0 -1", "GETRANGE a x 1", "GETRANGE a 1 x",
        "GETRANGE missing x 1", "GETRANGE a 0 9223372036854775807",
        "GETRANGE a -9223372036854775808 -1", "GETRANGE a -9223372036854775808 9223372036854775807",
        "SET empty ''", "GETRANGE empty 0 -1", "GETRANGE empty 0 0", "GETRANGE empty -1 -1",
        "GETRANGE a 10 10", "GETRANGE a 11 11", "GETRANGE a -1 -1", "GETRANGE a -11 -11",
        "GETRANGE a -12 -12",
        "SETRANGE a 6 there", "GET a", "SETRANGE m 5 x", "GET m", "STRLEN m",
        "SETRANGE m2 0 ''", "EXISTS m2", "SETRANGE a 0 ''", "SETRANGE a 100 ''", "STRLEN a",
        "SETRANGE a -1 x", "SETRANGE a abc x", "SETRANGE a 536870912 x",
        "SETRANGE a 536870911 xy", "SETRANGE missing 536870912 ''", "SETRANGE a -1 ''",
        "SETRANGE a 9223372036854775807 x", "SETRANGE a 3 XYZ", "GET a", "SETRANGE a 11 '!'",
        "GET a", "SET t v EX 100", "APPEND t x", "TTL t", "SETRANGE t 0 y", "TTL t", "GET t",
        "APPEND newk ''", "EXISTS newk", "GET newk", "SETRANGE z 2 ''", "EXISTS z",
        "APPEND", "GETRANGE a 0", "SETRANGE a 0",
    ],
    "expire": [
        "EXPIRE missing 10", "SET k v", "EXPIRE k 100", "TTL k", "EXPIRE k 100 NX",
        "EXPIRE k 200 XX", "TTL k", "EXPIRE k 100 GT", "EXPIRE k 300 GT", "TTL k",
        "EXPIRE k 400 LT", "EXPIRE k 50 LT", "TTL k", "PERSIST k", "PERSIST k", "TTL k",
        "EXPIRE k 100 XX", "EXPIRE k 100 GT", "EXPIRE k 100 LT", "TTL k", "PERSIST k",
        "EXPIRE k 100 NX", "TTL k", "EXPIRE k 10 NX XX", "EXPIRE k 10 NX GT", "EXPIRE k 10 NX LT",
        "EXPIRE k 10 GT LT", "EXPIRE k 10 XX GT", "TTL k", "EXPIRE k 10 FOO", "EXPIRE k abc FOO",
        "EXPIRE k abc", "EXPIRE k 10 NX NX", "EXPIRE k 9223372036854775807",
        "EXPIRE k -9223372036854775808", "EXPIRE k 9223372036854775",
        "PEXPIRE k 9223372036854775807", "EXPIREAT k 9223372036854775807",
        "PEXPIREAT k 9223372036854775807", "EXISTS k", "PEXPIREAT k {now+100000}", "TTL k",
        "EXPIRE k -1", "EXISTS k", "SET k v", "EXPIRE k 0", "EXISTS k", "SET k v",
        "EXPIREAT k {now_s-100}", "EXISTS k", "SET k v", "PEXPIREAT k 0", "EXISTS k",
        "SET k v", "PEXPIRE k -5", "EXISTS k", "SET k v", "EXPIRE k 100",
        "EXPIRE k -1 GT", "EXPIRE k -1 LT", "EXISTS k", "SET k v", "EXPIRE k 1000",
        "PEXPIRE k 500000", "TTL k", "EXPIREAT k {now_s+2000} gt", "EXPIRE k 10 lt", "TTL k",
        "expire k 20 xx", "TTL k", "EXPIRE k", "EXPIRE", "PEXPIREAT k", "PERSIST",
        "EXPIRE k 10 nx xx gt", "EXPIRE k 10 ''",
    ],
    "misc": [
        "PING", "PING hello", "PING a b", "ECHO x", "ECHO", "ECHO ''", "GET", "GET a b", "FOO",
        "FOO a b c", "foo 'with space' '' x", "CONFIG FOO", "CONFIG", "CONFIG GET",
        "COMMAND FOO", "COMMAND FOO bar", "CLIENT NOSUCH", "__flush", "__expired k",
        "SETEX k", "MGET", "STRLEN", "TTL", "TYPE", "EXISTS", "GETDEL", "SCAN", "KEYS",
        "DBSIZE x", "FLUSHALL a b", "PERSIST a b",
        ["FOO", "a" * 200], ["GET" * 50, "x"], ["FOO", "a\r\nb", "c"], ["FOO", "x\x00y", "z"],
        ["FOO"] + ["arg%d" % i for i in range(40)], ["CONFIG", "a\r\nb"],
        ["SET", "bin\x00key", "v\x00\r\nal"], ["GET", "bin\x00key"], ["STRLEN", "bin\x00key"],
        ["SET", "k", "v", "NX\x00junk"], ["SET", "k", "v", "EX\x00", "10"], ["GET", "k"],
    ],
    "command": [
        "COMMAND INFO get set mset del ping config config|get nosuch",
        "COMMAND INFO CONFIG|GET client|setname config|nosuch get|x", "COMMAND INFO Get",
        "COMMAND GETKEYS mset a b c d", "COMMAND GETKEYS mset a b c", "COMMAND GETKEYS set a b",
        "COMMAND GETKEYSANDFLAGS set a b get", "COMMAND GETKEYSANDFLAGS set a b",
        "COMMAND GETKEYSANDFLAGS set a b EX 10", "COMMAND GETKEYS get",
        "COMMAND GETKEYS ping x", "COMMAND GETKEYS nosuch a", "COMMAND GETKEYS config get x",
        "COMMAND GETKEYSANDFLAGS del a b c", "COMMAND GETKEYS set a",
        "COMMAND GETKEYSANDFLAGS msetnx a 1 b 2", "COMMAND GETKEYSANDFLAGS getex k",
        "COMMAND GETKEYS client nosuch a", "COMMAND GETKEYS", "COMMAND LIST filterby x y",
        "COMMAND LIST x", "COMMAND LIST filterby module x", "COMMAND LIST filterby aclcat nosuch",
        "COMMAND DOCS nosuch", "COMMAND COUNT x",
    ],
    "scan": [
        "KEYS *", "SCAN 0", "SET foo bar", "KEYS f*", "KEYS x*", "KEYS *", "KEYS f?o",
        "KEYS [fg]oo", "KEYS [^f]oo", "SCAN 0", "SCAN 0 MATCH f* COUNT 10", "SCAN 0 MATCH x*",
        "SCAN 0 TYPE string", "SCAN 0 TYPE STRING", "SCAN 0 TYPE hash", "SCAN 0 COUNT 0",
        "SCAN 0 COUNT -1", "SCAN 0 COUNT abc", "SCAN abc", "SCAN 0 MATCH", "SCAN 0 FOO bar",
        "SCAN ''", "SCAN ' 0'", "SCAN 0x", "SCAN 18446744073709551616", "SCAN 0 count 100 match *",
        "DBSIZE", "SET e v PXAT {now-10}", "KEYS e", "SCAN 0 MATCH e", "FLUSHALL", "DBSIZE",
        "KEYS *", "SET a 1", "FLUSHDB", "DBSIZE", "FLUSHALL ASYNC", "FLUSHALL sync",
        "FLUSHALL foo",
    ],
}


def random_group(seed, count):
    """Seeded random string and keyspace commands over a few keys and awkward values. Times
    are either far away (no key expires while the group runs) or already past."""
    rng = random.Random(seed)
    keys = ["a", "b", "c", "n", "f", "e"]
    vals = ["", "1", "-5", "abc", "10.5", "9223372036854775807", "hello world", "0", "007",
            "-0", "1e3", " 2", "3.0", "inf"]
    nums = ["0", "1", "-1", "7", "-3", "100", "abc", "1.5", "9223372036854775807",
            "-9223372036854775808", ""]
    k = lambda: rng.choice(keys)
    v = lambda: rng.choice(vals)
    n = lambda: rng.choice(nums)
    far = lambda: str(rng.choice([100, 500, 1000, 86400]))
    past = lambda: rng.choice(["{now-1000}", "{now-1}", "1"])

    def set_opts():
        opts = []
        for _ in range(rng.randint(0, 3)):
            opts += rng.choice([["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["EX", far()],
                                ["PX", far() + "000"], ["PXAT", past()], ["EX", n()]])
        return opts

    makers = [
        lambda: ["SET", k(), v()] + set_opts(), lambda: ["GET", k()],
        lambda: ["GETSET", k(), v()], lambda: ["GETDEL", k()],
        lambda: ["GETEX", k()] + rng.choice([[], ["EX", far()], ["PERSIST"], ["PXAT", past()],
                                              ["EX", n()]]),
        lambda: ["MGET"] + [k() for _ in range(rng.randint(1, 4))],
        lambda: ["MSET"] + sum([[k(), v()] for _ in range(rng.randint(1, 3))], []),
        lambda: ["MSETNX"] + sum([[k(), v()] for _ in range(rng.randint(1, 3))], []),
        lambda: ["DEL"] + [k() for _ in range(rng.randint(1, 3))],
        lambda: ["EXISTS"] + [k() for _ in range(rng.randint(1, 3))],
        lambda: ["INCR", k()], lambda: ["DECR", k()], lambda: ["INCRBY", k(), n()],
        lambda: ["DECRBY", k(), n()], lambda: ["INCRBYFLOAT", k(), rng.choice(vals + nums)],
        lambda: ["APPEND", k(), v()], lambda: ["STRLEN", k()],
        lambda: ["GETRANGE", k(), n(), n()], lambda: ["SETRANGE", k(), rng.choice(
            ["0", "1", "3", "10", "-1", "x"]), v()],
        lambda: ["EXPIRE", k(), rng.choice([far(), "-1", "abc"])] + rng.sample(
            ["NX", "XX", "GT", "LT"], rng.randint(0, 2)),
        lambda: ["PEXPIREAT", k(), rng.choice([past(), "{now+9000000}"])],
        lambda: ["PERSIST", k()], lambda: ["TTL", k()], lambda: ["TYPE", k()],
        lambda: ["SETNX", k(), v()], lambda: ["SETEX", k(), rng.choice([far(), "0", "x"]), v()],
    ]
    return [rng.choice(makers)() for _ in range(count)]


for seed in range(3):
    GROUPS["random%d" % seed] = random_group(seed, 700)
# Every command's COMMAND INFO, in both protocols.
NAMES = ("ping echo hello quit select auth client command config info dbsize flushall flushdb "
         "get set setnx setex psetex getset getdel getex mget mset msetnx del unlink exists incr "
         "incrby decr decrby incrbyfloat append strlen getrange setrange expire pexpire expireat "
         "pexpireat ttl pttl persist type scan keys readonly readwrite").split()
GROUPS["command_info"] = ["COMMAND INFO " + n for n in NAMES]


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def reply(self):
        line = self._line()
        t, out = line[:1], line
        if t in b"$=!":
            n = int(line[1:-2])
            if n >= 0:
                out += self._take(n + 2)
        elif t in b"*~>":
            for _ in range(max(int(line[1:-2]), 0)):
                out += self.reply()
        elif t in b"%|":
            for _ in range(2 * int(line[1:-2])):
                out += self.reply()
        return out

    def cmd(self, args):
        req = b"*%d\r\n" % len(args)
        for a in args:
            req += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(req)
        return self.reply()


def parse(b, i=0):
    """One RESP element of b at i: (raw bytes, children or None, end)."""
    j = b.index(b"\r\n", i) + 2
    t = b[i:i + 1]
    if t in b"$=!":
        n = int(b[i + 1:j - 2])
        end = j + n + 2 if n >= 0 else j
        return b[i:end], None, end
    if t in b"*~>%|":
        n = int(b[i + 1:j - 2]) * (2 if t in b"%|" else 1)
        kids, k = [], j
        for _ in range(max(n, 0)):
            raw, sub, k = parse(b, k)
            kids.append((raw, sub))
        return b[i:k], kids, k
    return b[i:j], None, j


def sort_subcommands(raw, kids):
    """A COMMAND INFO entry with its subcommands sorted by name, as the kv table has them
    (Redis lists them in hash table order, which changes from run to run)."""
    if kids is None or len(kids) != 10 or kids[9][1] is None or not kids[9][1]:
        return raw
    def name(k):
        raw = k[1][0][0]
        return raw[raw.index(b"\r\n") + 2:-2]
    subs = sorted(kids[9][1], key=name)
    subs = [sort_subcommands(r, k) for r, k in subs]
    head = raw[:raw.index(b"\r\n") + 2]
    body = b"".join(k[0] for k in kids[:9])
    sub_head = kids[9][0][:kids[9][0].index(b"\r\n") + 2]
    return head + body + sub_head + b"".join(subs)


def normalize(args, reply):
    if len(args) >= 2 and args[0].upper() == b"COMMAND" and args[1].upper() == b"INFO":
        raw, kids, _ = parse(reply)
        if kids is not None:
            head = raw[:raw.index(b"\r\n") + 2]
            return head + b"".join(sort_subcommands(r, k) for r, k in kids)
    return reply


def expand(w, now):
    if w.startswith("{") and w.endswith("}"):
        return str(eval(w[1:-1], {"now": now, "now_s": now // 1000}))
    return w


def split(cmd, now):
    if isinstance(cmd, list):
        return [expand(a, now).encode("latin-1") for a in cmd]
    import shlex
    words = shlex.split(cmd)
    out = []
    for w in words:
        if w.startswith("{") and w.endswith("}"):
            w = str(eval(w[1:-1], {"now": now, "now_s": now // 1000}))
        out.append(w.encode())
    return out


def c_string(b):
    out = []
    for ch in b:
        if ch == 0x22 or ch == 0x5C:
            out.append("\\" + chr(ch))
        elif ch == 0x0D:
            out.append("\\r")
        elif ch == 0x0A:
            out.append("\\n")
        elif 0x20 <= ch < 0x7F and ch != 0x3F:
            out.append(chr(ch))
        else:
            out.append("\\%03o" % ch)
    return '"' + "".join(out) + '"'


def main():
    port = int(sys.argv[1])
    c2, c3 = Conn(port), Conn(port)
    c3.cmd([b"HELLO", b"3"])
    print("/* Generated by record_battery.py from redis-server %s: the kv command battery and"
          % c2.cmd([b"INFO", b"server"]).split(b"redis_version:")[1].split(b"\r\n")[0].decode())
    print(" * the exact reply bytes of real Redis, in RESP2 and RESP3. Do not edit. */")
    cases = []
    for gi, (name, cmds) in enumerate(GROUPS.items()):
        c2.cmd([b"FLUSHALL"])
        now = int(time.time() * 1000)
        for cmd in cmds:
            args = split(cmd, now)
            cases.append((gi, name, now, args, normalize(args, c2.cmd(args)), None))
        # The same commands on the RESP3 connection, from an emptied server again.
        c3.cmd([b"FLUSHALL"])
        k = len(cases) - len(cmds)
        for i, cmd in enumerate(cmds):
            args = split(cmd, now)
            r3 = normalize(args, c3.cmd(args))
            gi_, name_, now_, args_, r2_, _ = cases[k + i]
            cases[k + i] = (gi_, name_, now_, args_, r2_, r3)
    for i, (gi, name, now, args, r2, r3) in enumerate(cases):
        print("static const struct resp_arg bat_args_%d[] = { %s };" % (
            i, ", ".join("{ %s, %d }" % (c_string(a), len(a)) for a in args)))
    print("static const struct bat_case bat_cases[] = {")
    for i, (gi, name, now, args, r2, r3) in enumerate(cases):
        print("\t{ %d, \"%s\", %dll, %d, bat_args_%d,\n\t  %s, %d,\n\t  %s, %d }," % (
            gi, name, now, len(args), i, c_string(r2), len(r2), c_string(r3), len(r3)))
    print("};")


if __name__ == "__main__":
    main()

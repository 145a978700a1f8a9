"""Client workers: threads that talk to one node each, as real Redis clients do, and record
every request in the history.

The workload, over a small key space that changes with each generation (a fault cycle):
  registers  SET of a value unique in the whole run, and GET;
  counters   INCR;
  appends    APPEND of a unique token "p<proc>.<seq>;", so that the final string shows every
             append that took effect, once each, in the order they took effect.
Each worker holds one connection and sends one request at a time with a socket timeout; a
request whose connection could not even be opened certainly did nothing (fail), one that was
sent and got no answer is unknown (info), and the connection is then dropped."""
import random
import threading
import time

import redis

from history import FAIL, INFO, OK, Op, classify_error

REQUEST_TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 1.0
BACKOFF_S = 0.1               # after a refused or lost connection
MIX = (("write", 35), ("read", 35), ("incr", 15), ("append", 15))


class Keyspace:
    """The keys of a generation: registers r<g>:<i>, counters c<g>:<i>, appends a<g>:<i>."""

    def __init__(self, registers=4, counters=2, appends=2):
        self.sizes = {"r": registers, "c": counters, "a": appends}

    def keys(self, gen, kind=None):
        kinds = [kind] if kind else list(self.sizes)
        return ["%s%d:%d" % (k, gen, i) for k in kinds for i in range(self.sizes[k])]

    @staticmethod
    def kind_of(key):
        return {"r": "register", "c": "counter", "a": "append"}[key[0]]


class Load:
    """The workers of a run and what they share: the generation, the history, a stop flag."""

    def __init__(self, ports, history, seed, keyspace=None, per_node=2,
                 timeout_s=REQUEST_TIMEOUT_S):
        self.history = history
        self.keyspace = keyspace or Keyspace()
        self.gen = 0
        self.stopping = threading.Event()
        self.timeout_s = timeout_s
        self.workers = []
        rng = self.rng = random.Random(seed)
        proc = 0
        for node, port in enumerate(ports, 1):
            for _ in range(per_node):
                proc += 1
                self.workers.append(Worker(self, proc, node, port, rng.getrandbits(64)))

    def start(self):
        for w in self.workers:
            w.start()
        return self

    def nodes(self):
        return sorted({w.node for w in self.workers})

    def add_node(self, node, port, per_node=2):
        """Workers for a node that joined the cluster, started at once."""
        proc = max(w.proc for w in self.workers)
        for i in range(per_node):
            w = Worker(self, proc + 1 + i, node, port, self.rng.getrandbits(64))
            self.workers.append(w)
            w.start()

    def set_gen(self, gen, wait_s=3 * REQUEST_TIMEOUT_S + 5):
        """Moves every worker to generation `gen` and waits until none still has a request
        of an older generation in flight."""
        self.gen = gen
        deadline = time.monotonic() + wait_s
        while any(w.busy_gen < gen and w.is_alive() for w in self.workers):
            if time.monotonic() > deadline:
                raise AssertionError("workers did not finish their requests within %.0f s" % wait_s)
            time.sleep(0.01)

    def stop(self):
        self.stopping.set()
        for w in self.workers:
            w.join(timeout=3 * self.timeout_s + 5)
            w.close()
        stuck = [w.proc for w in self.workers if w.is_alive()]
        if stuck:
            raise AssertionError("workers %s did not stop" % stuck)


class Worker(threading.Thread):
    def __init__(self, load, proc, node, port, seed):
        super().__init__(name="worker-%d" % proc, daemon=True)
        self.load, self.proc, self.node, self.port = load, proc, node, port
        self.rng = random.Random(seed)
        self.seq = 0
        self.conn = None
        self.busy_gen = -1  # the generation of the request in flight, or the last one
        self.errors = 0

    def close(self):
        if self.conn is not None:
            self.conn.disconnect()
            self.conn = None

    def request(self, op, *args):
        """Sends one command and ends op with what its answer says; returns the answer."""
        if self.conn is None:
            c = redis.Connection(port=self.port, socket_timeout=self.load.timeout_s,
                                 socket_connect_timeout=CONNECT_TIMEOUT_S)
            try:
                c.connect()
            except (redis.RedisError, OSError) as e:
                op.end(FAIL, error="connect: %s" % e)
                return None
            self.conn = c
        try:
            self.conn.send_command(*args)
            reply = self.conn.read_response()
        except (redis.RedisError, OSError) as e:
            status, text = classify_error(e)
            if not isinstance(e, redis.ResponseError) or isinstance(e, redis.BusyLoadingError):
                self.close()
            op.end(status, error=text)
            return None
        op.end(OK, result=reply)
        return reply

    def next_value(self):
        self.seq += 1
        return (self.proc << 32) | self.seq

    def one(self, gen):
        ks = self.load.keyspace
        f = self.rng.choices([m[0] for m in MIX], [m[1] for m in MIX])[0]
        kind = {"write": "r", "read": "r", "incr": "c", "append": "a"}[f]
        key = self.rng.choice(ks.keys(gen, kind))
        if f == "write":
            op = Op(self.proc, self.node, f, key, self.next_value())
            reply = self.request(op, "SET", key, op.value)
            if op.status == OK and reply != b"OK":
                op.status, op.error = FAIL, "unexpected: SET answered %r" % (reply,)
        elif f == "read":
            op = Op(self.proc, self.node, f, key)
            reply = self.request(op, "GET", key)
            if op.status == OK:
                op.result = reply
        elif f == "incr":
            op = Op(self.proc, self.node, f, key)
            self.request(op, "INCR", key)
        else:
            seq = self.next_value()
            op = Op(self.proc, self.node, f, key, "p%d.%d;" % (self.proc, seq & 0xffffffff))
            self.request(op, "APPEND", key, op.value)
        return op

    def run(self):
        while not self.load.stopping.is_set():
            gen = self.load.gen
            self.busy_gen = gen
            op = self.one(gen)
            self.load.history.add(op)
            if op.status != OK:
                self.errors += 1
                if self.conn is None:
                    time.sleep(BACKOFF_S)
        self.busy_gen = 1 << 62


class Filler(threading.Thread):
    """Writes large values as fast as one node takes them, to fill a node's disk with log.
    Its keys (f:<i>) are outside the checked key space; it counts what it could write."""

    def __init__(self, port, value_bytes=256 << 10, keys=64):
        super().__init__(name="filler", daemon=True)
        self.port, self.value, self.keys = port, b"x" * value_bytes, keys
        self.stopping = threading.Event()
        self.ok = self.failed = 0

    def run(self):
        r = redis.Redis(port=self.port, socket_timeout=REQUEST_TIMEOUT_S,
                        socket_connect_timeout=CONNECT_TIMEOUT_S)
        i = 0
        while not self.stopping.is_set():
            try:
                r.set("f:%d" % (i % self.keys), self.value)
                self.ok += 1
            except (redis.RedisError, OSError):
                self.failed += 1
                time.sleep(BACKOFF_S)
            i += 1
        r.close()

    def stop(self):
        self.stopping.set()
        self.join(timeout=3 * REQUEST_TIMEOUT_S + 5)

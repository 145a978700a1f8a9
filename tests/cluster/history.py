"""The record of what clients did: one Op per request, with the time it was called and the
time its answer came back, and what the answer says about its effect.

Every operation ends in one of three states, as in Jepsen:
  ok    it took effect (a write) or returned a value (a read), and `result` holds the answer;
  fail  it certainly did not take effect (refused before it ran, or never sent);
  info  nobody knows: a timeout, a lost connection after the request was sent, or an error
        that says so ("... may or may not have been applied"). Such a write stays open: it
        may take effect at any time after its call, or never.
Times are microseconds on the monotonic clock shared by every thread of the runner."""
import threading
import time

import redis

OK, FAIL, INFO = "ok", "fail", "info"

# Refusals that say the command did not run: spindle checks these before a write joins a
# batch (not primary, no primary, loading, disk full, stopped lane).
DEFINITE_PREFIXES = ("TRYAGAIN this node is not the primary", "TRYAGAIN the key's lane has no primary",
                     "LOADING", "MISCONF", "this lane stopped after a disk error")
UNKNOWN_MARK = "may or may not have been applied"


def now_us():
    return time.monotonic_ns() // 1000


class Op:
    __slots__ = ("proc", "node", "f", "key", "value", "call_us", "ret_us", "status", "result",
                 "error")

    def __init__(self, proc, node, f, key, value=None):
        self.proc, self.node, self.f, self.key, self.value = proc, node, f, key, value
        self.call_us = now_us()
        self.ret_us = None
        self.status = None
        self.result = None
        self.error = None

    def end(self, status, result=None, error=None):
        self.ret_us = now_us()
        self.status, self.result, self.error = status, result, error
        return self

    def __repr__(self):
        return "%s(%s %s=%r -> %s %r %s) p%d n%d [%d, %s]" % (
            self.f, self.key, "v", self.value, self.status, self.result, self.error or "",
            self.proc, self.node, self.call_us, self.ret_us)


def classify_error(e):
    """(status, text) for an exception raised by a request that was sent. Unexpected error
    replies come back as FAIL with text starting 'unexpected:' so that a check can count
    them; they mean a bug or a missing case here."""
    text = str(e)
    if isinstance(e, redis.ResponseError):
        if UNKNOWN_MARK in text:
            return INFO, text
        if any(text.startswith(p) or p in text[:60] for p in DEFINITE_PREFIXES):
            return FAIL, text
        return FAIL, "unexpected: " + text
    if isinstance(e, redis.BusyLoadingError):  # LOADING: refused before it ran
        return FAIL, text
    if isinstance(e, (redis.TimeoutError, redis.ConnectionError, OSError)):
        return INFO, type(e).__name__ + ": " + text
    return INFO, "unexpected: " + type(e).__name__ + ": " + text


class History:
    """Every Op of a run not yet checked, appended by many threads."""

    def __init__(self):
        self.ops = []
        self.lock = threading.Lock()

    def add(self, op):
        with self.lock:
            self.ops.append(op)

    def take(self, keys):
        """Removes and returns the ops on the given keys (a generation being closed)."""
        keys = set(keys)
        with self.lock:
            mine = [o for o in self.ops if o.key in keys]
            self.ops = [o for o in self.ops if o.key not in keys]
        return mine

#!/usr/bin/python3
"""Writes seed inputs for fuzz_repl_msg and fuzz_ctl_msg: one valid encoding of every
message type (following the layouts at the top of dataplane/repl/msg.c and
control/core/msg.c), so that the fuzzers start past the headers. Usage:
repl_seeds.py CORPUS_DIR (writes CORPUS_DIR/repl_msg/* and CORPUS_DIR/ctl_msg/*)"""
import os
import struct
import sys

VERSION = 1


def repl(type_, src, dst, epoch, body):
    return struct.pack("<BBBBIQ", VERSION, type_, src, dst, 0, epoch) + body


def entry(epoch, type_, payload):
    return struct.pack("<QB3xI", epoch, type_, len(payload)) + payload


def repl_seeds():
    ents = entry(3, 2, b"set k v") + entry(3, 2, b"") + entry(3, 3, bytes(16))
    append = struct.pack("<QQQQI4x", 5, 2, 4, 9, 3) + ents
    return {
        "append": repl(1, 0, 1, 3, append),
        "append-heartbeat": repl(1, 0, 1, 3, struct.pack("<QQQQI4x", 6, 3, 6, 10, 0)),
        "append-conflict": repl(1, 2, 1, 4, struct.pack("<QQQQI4x", 3, 2, 0, 1, 1) +
                                entry(4, 1, b"")),
        "ack-ok": repl(2, 1, 0, 3, struct.pack("<B7xQQQQQ", 0, 6, 6, 0, 0, 9)),
        "ack-mismatch": repl(2, 1, 0, 3, struct.pack("<B7xQQQQQ", 1, 0, 2, 3, 5, 9)),
        "ack-stale": repl(2, 1, 0, 7, struct.pack("<B7xQQQQQ", 2, 0, 0, 0, 0, 0)),
        "snapshot-first": repl(3, 0, 1, 3, struct.pack("<QQQQQQIB3x", 40, 2, 12, 7, 0, 0, 8, 0)
                               + b"01234567"),
        "snapshot-last": repl(3, 0, 1, 3, struct.pack("<QQQQQQIB3x", 40, 2, 12, 7, 0, 8, 4, 1)
                              + b"89ab"),
        "snapshot-ack": repl(4, 1, 0, 3, struct.pack("<QQQ", 40, 2, 8)),
        "vote": repl(5, 1, 2, 4, struct.pack("<B7xQQ", 0, 6, 3)),
        "prevote": repl(5, 1, 2, 4, struct.pack("<B7xQQ", 1, 6, 3)),
        "vote-reply": repl(6, 2, 1, 4, struct.pack("<BB6x", 0, 1)),
    }


def ctl(type_, node, term, body):
    return struct.pack("<BBB5xQ", VERSION, type_, node, term) + body


def ctl_seeds():
    lane_status = struct.pack("<IBBBxQQQ", 0, 1, 0, 0, 3, 7, 6)
    report = struct.pack("<QQQB3xI", 2, 1234, 7, 1, 1) + lane_status
    config = struct.pack("<I4x", 1) + struct.pack("<IB3xQQQ", 0, 1, 3, 7, 0)
    cmd = struct.pack("<BBBBIQQQI4x", VERSION, 5, 255, 0, 1, 3, 0, 0, 0)
    add = struct.pack("<BBBBIQQQI4x", VERSION, 2, 3, 0, 0, 0, 0, 0, 0) + bytes(96)
    boot = struct.pack("<BBBBIQQQI4x", VERSION, 1, 0, 0, 0, 0, 7, 0, 4)
    state = struct.pack("<IIQQ", VERSION, 1, 9, 0) + bytes(64 * 97) + \
        struct.pack("<QBBBxQQQQ", 3, 1, 255, 255, 7, 0, 0, 0)
    return {
        "config": b"\x00" + ctl(1, 1, 0, config),
        "heartbeat": b"\x00" + ctl(2, 1, 0, report),
        "report": b"\x00" + ctl(3, 1, 5, report),
        "prepare": b"\x00" + ctl(4, 2, 0, struct.pack("<IB3xQ", 0, 255, 4)),
        "promise": b"\x00" + ctl(5, 2, 5, struct.pack("<IBB2xQQQQ", 0, 0, 1, 4, 3, 77, 2)),
        "handoff": b"\x00" + ctl(6, 0, 0, struct.pack("<IB3xQ", 0, 2, 3)),
        "cmd-prepare": b"\x01" + cmd,
        "cmd-node-add": b"\x01" + add,
        "cmd-bootstrap": b"\x01" + boot,
        "state": b"\x02" + state,
    }


def main():
    out = sys.argv[1]
    for name, seeds in (("repl_msg", repl_seeds()), ("ctl_msg", ctl_seeds())):
        os.makedirs(os.path.join(out, name), exist_ok=True)
        for seed, data in seeds.items():
            with open(os.path.join(out, name, seed), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()

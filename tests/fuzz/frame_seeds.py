#!/usr/bin/python3
"""Writes seed inputs for fuzz_frame into a directory: records of spindle frames (see the
comment at the top of fuzz_frame.c) that make whole messages, out-of-order and duplicated
fragments, and a lost one, so that the fuzzer starts inside the reassembler rather than
having to discover the header layout. Usage: frame_seeds.py OUTDIR"""
import os
import struct
import sys

CLUSTER = 0x53504E31
STRIDE = 1204  # the smallest stride the decoder accepts


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def fragment(msg, index, src=1, lane=2, msg_id=7):
    count = max(1, -(-len(msg) // STRIDE))
    off = index * STRIDE
    payload = msg[off:off + STRIDE]
    hdr = b"SPND" + struct.pack("<BBHIHHHHHHIIQI", 1, 1, 0, CLUSTER, src, 0, lane, index,
                                 count, len(payload), off, len(msg), msg_id, crc32c(msg))
    frame = hdr + struct.pack("<I", crc32c(payload, crc32c(hdr)))
    return frame + payload


def record(frame, flags=0):
    return struct.pack("<HB", len(frame), flags) + frame


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    msg = bytes((i * 7) & 0xFF for i in range(3000))
    small = b"hello"
    seeds = {
        "single": record(fragment(small, 0)),
        "in_order": b"".join(record(fragment(msg, i)) for i in range(3)),
        "reversed_dup": b"".join(record(fragment(msg, i)) for i in (2, 1, 1, 0, 2)),
        "lost_then_tick": b"".join(record(fragment(msg, i), 2) for i in (0, 2)) +
                          b"".join(record(fragment(msg, i, msg_id=8), 2) for i in (1, 0)),
        "two_peers": b"".join(record(fragment(msg, i, src=s)) for i in range(3) for s in (1, 2)),
        "reseal": record(fragment(msg, 1)[:44] + b"\0\0\0\0" + fragment(msg, 1)[48:], 1),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Writes seed inputs for fuzz_snapshot into a directory (see the comment at the top of
fuzz_snapshot.c): snapshot files as the log writes them (header, checksummed chunks of the
key-value stream, trailer), with one to three chunks, an empty db, keys with and without a
TTL; damaged ones (a flipped chunk byte, a short file, another lane, a trailer that does not
match the file); and key-value streams to install. Usage: snapshot_seeds.py OUTDIR"""
import os
import struct
import sys

CHUNK = 64 << 10
LANE = 1
FORMAT = 1
MODE_FILE, MODE_STREAM, MODE_RESEAL = 0x00, 0x01, 0x02


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def kv_stream(records):
    """records: (key, value, expire_ms or None). The stream of dataplane/kv/snap.c."""
    out = bytearray(b"SPNDLKV\0" + struct.pack("<II", 1, 0))
    for key, value, expire in records:
        out += bytes([1 if expire is None else 2]) + varint(len(key)) + varint(len(value))
        if expire is not None:
            out += struct.pack("<q", expire)
        out += key + value
    out += b"\xff" + struct.pack("<Q", len(records))
    return bytes(out)


def snap_file(stream, epoch=3, index=100, lane=LANE):
    """The file of dataplane/log/snapshot.c around a stream."""
    hdr = bytearray(64)
    hdr[0:8] = b"SPNDLSNP"
    struct.pack_into("<IIQQqI", hdr, 8, FORMAT, lane, epoch, index, 1700000000000, CHUNK)
    struct.pack_into("<I", hdr, 60, crc32c(bytes(hdr[:60])))
    body = bytearray()
    chunks = 0
    for off in range(0, len(stream), CHUNK):
        data = stream[off:off + CHUNK]
        crc = crc32c(data, crc32c(struct.pack("<Q", chunks)))
        body += struct.pack("<II", len(data), crc) + data
        chunks += 1
    tr = bytearray(32)
    tr[0:8] = b"SPNDLEND"
    struct.pack_into("<QQ", tr, 8, len(stream), chunks)
    struct.pack_into("<I", tr, 28, crc32c(bytes(tr[:28])))
    return bytes(hdr) + bytes(body) + bytes(tr)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    small = kv_stream([(b"a1", b"hello", None), (b"b", b"", 1700000000500),
                       (b"{tag}k", b"v" * 40, None)])
    empty = kv_stream([])
    # Enough records to need two chunks, and one value larger than a chunk (three).
    many = kv_stream([(b"k%d" % i, b"%d" % (i * 7919) * 20, None if i % 3 else 1800000000000 + i)
                      for i in range(500)])
    big = kv_stream([(b"big", bytes(i & 0xFF for i in range(CHUNK + 5000)), None),
                     (b"after", b"x", None)])
    f_small = snap_file(small)
    flipped = bytearray(f_small)
    flipped[64 + 8 + 20] ^= 0x40
    seeds = {
        "file-small": (MODE_FILE, f_small),
        "file-empty-db": (MODE_FILE, snap_file(empty)),
        "file-two-chunks": (MODE_FILE, snap_file(many)),
        "file-big-value": (MODE_FILE, snap_file(big)),
        "file-chunk-flipped": (MODE_FILE, bytes(flipped)),
        "file-short": (MODE_FILE, f_small[:-40]),
        "file-other-lane": (MODE_FILE, snap_file(small, lane=2)),
        # Damaged fields; the target's reseal step makes the checksums match them.
        "reseal-count-wrong": (MODE_RESEAL, snap_file(small[:-8] + struct.pack("<Q", 2))),
        "reseal-trailer-bytes": (MODE_RESEAL, f_small[:-24] + struct.pack("<Q", len(small) + 1)
                                 + f_small[-16:]),
        "reseal-truncated-record": (MODE_RESEAL, snap_file(small[:30] + b"\xff" +
                                                           struct.pack("<Q", 1))),
        # Streams, in pieces of 1 byte, 98 bytes, 389 bytes (the mode's upper bits).
        "stream-small": (MODE_STREAM, small),
        "stream-two-chunks": (MODE_STREAM | 1 << 2, many),
        "stream-big-value": (MODE_STREAM | 4 << 2, big),
        "stream-bad-magic": (MODE_STREAM, b"SPNDLKX" + small[7:]),
        "stream-no-trailer": (MODE_STREAM | 1 << 2, small[:-9]),
    }
    for name, (mode, blob) in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([mode]) + blob)

if __name__ == "__main__":
    main()

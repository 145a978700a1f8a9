"""Helpers for the transport's integration tests and benchmark: running xport_peer nodes
(DPDK af_packet in the test network's namespaces, or UDP on loopback) with bounded time,
reading their JSON reports, building spindle frames byte by byte (with CRC32C) to inject
foreign and corrupt ones, and the test network (scripts/testnet.sh)."""
import json
import os
import select
import socket
import struct
import subprocess
import time

BUILD = os.environ.get("SPINDLE_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../../build"))
SOURCE = os.environ.get("SPINDLE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../../.."))
PEER = os.path.join(BUILD, "tests/integration/xport/xport_peer")
TESTNET = os.path.join(SOURCE, "scripts/testnet.sh")

CLUSTER = 0x5350
PORT_BASE = 17500
LANES = 4
# af_packet rings large enough for a few largest messages in flight.
AFP = "qpairs=1,blocksz=4096,framesz=2048,framecnt=8192,qdisc_bypass=1"


def node_ip(driver, n):
    return "10.99.0.%d" % n if driver == "dpdk" else "127.77.2.%d" % n


def is_root():
    return os.geteuid() == 0


def testnet(*args):
    subprocess.run(["bash", TESTNET] + [str(a) for a in args], check=True,
                   stdout=subprocess.DEVNULL, timeout=60)


def mac_of(n):
    out = subprocess.run(["bash", TESTNET, "mac", str(n)], check=True, capture_output=True,
                         text=True, timeout=10)
    return bytes.fromhex(out.stdout.strip().replace(":", ""))


class Node:
    """One xport_peer process; always reaped, killed if it outlives its time."""

    def __init__(self, driver, n, role, peers, extra=(), loops=1, cpu=None, env=None,
                 timeout_s=60):
        self.n = n
        args = ["--driver", driver, "--role", role, "--node", str(n), "--ip", node_ip(driver, n),
                "--lanes", str(LANES), "--loops", str(loops), "--port-base", str(PORT_BASE),
                "--cluster", str(CLUSTER)]
        for p in peers:
            args += ["--peer", "%d=%s" % (p, node_ip(driver, p))]
        args += [str(a) for a in extra]
        self.runtime_dir = None
        if driver == "dpdk":
            cpu = (n - 1) % 2 if cpu is None else cpu
            lcores = ",".join("%d@%d" % (i, cpu) for i in range(loops))
            eal = ["--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
                   "--log-level=lib.eal:error", "--file-prefix", self.prefix(n),
                   "--lcores", lcores, "--vdev=net_af_packet0,iface=spn%d,%s" % (n, AFP)]
            cmd = ["ip", "netns", "exec", "spn-%d" % n, PEER] + eal + ["--"] + args
            self.runtime_dir = "/var/run/dpdk/" + self.prefix(n)
        else:
            cmd = [PEER, "--"] + args
            if cpu is not None:
                cmd = ["taskset", "-c", str(cpu)] + cmd
        self.timeout_s = timeout_s
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=dict(os.environ, **(env or {})), text=True)

    @staticmethod
    def prefix(n):
        return "spx-%d-%d" % (n, os.getpid())

    def cleanup(self):
        """--no-shconf leaves only an empty EAL runtime directory; remove it."""
        if self.runtime_dir:
            try:
                os.rmdir(self.runtime_dir)
            except OSError:
                pass

    def wait_ready(self, timeout_s=20):
        """Waits for the node's "ready" line: its transport is up and its loops run."""
        deadline = time.time() + timeout_s
        self.early_err = ""
        while time.time() < deadline:
            r, _, _ = select.select([self.proc.stderr], [], [], 0.5)
            if r:
                line = self.proc.stderr.readline()
                if line == "":
                    break
                self.early_err += line
                if line.strip() == "ready":
                    return
        raise AssertionError("node %d not ready:\n%s" % (self.n, self.early_err[-3000:]))

    def result(self):
        try:
            out, err = self.proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            self.cleanup()
            raise AssertionError("node %d ran past %ds:\n%s" % (self.n, self.timeout_s, err[-3000:]))
        if self.proc.returncode != 0 or not out.strip():
            raise AssertionError("node %d exited %d:\n%s" % (self.n, self.proc.returncode, err[-3000:]))
        self.cleanup()
        r = json.loads(out.strip().splitlines()[-1])
        r["stderr"] = err
        return r

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        self.cleanup()


def xsum(report, key):
    """A transport counter summed over the node's loops."""
    return sum(l["xport"][key] for l in report["loops"])


# ---- Building frames, as drivers/frame does ----

def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        t.append(c)
    return t


_T = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _T[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def spindle(src, dst, lane, msg, msg_id=1, cluster=CLUSTER, version=1, index=0, count=1,
            offset=0, frag=None, msg_len=None, bad_crc=False):
    """A spindle header and payload (one fragment), little-endian byte by byte."""
    frag = msg if frag is None else frag
    msg_len = len(msg) if msg_len is None else msg_len
    hdr = b"SPND" + struct.pack("<BBHIHHHHHHIIQI", version, 1, 0, cluster, src, dst, lane, index,
                                count, len(frag), offset, msg_len, msg_id, crc32c(msg))
    crc = crc32c(frag, crc32c(hdr))
    if bad_crc:
        crc ^= 1
    return hdr + struct.pack("<I", crc) + frag


def inet_csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ether_ipv4_udp(src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload, udp_len=None,
                   proto=17):
    udp_len = 8 + len(payload) if udp_len is None else udp_len
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, proto, 0,
                     socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    ip = ip[:10] + struct.pack("!H", inet_csum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + udp


_SENDER = r"""
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
data = sys.stdin.buffer.read()
n = 0
while data:
    (l,) = struct.unpack("<I", data[:4])
    s.send(data[4:4 + l])
    data = data[4 + l:]
    n += 1
print(n)
"""


def inject(name, frames):
    """Sends raw Ethernet frames from the injector namespace spn-NAME (on the bridge)."""
    testnet("inject", name)
    blob = b"".join(struct.pack("<I", len(f)) + f for f in frames)
    out = subprocess.run(["ip", "netns", "exec", "spn-%s" % name, "/usr/bin/python3", "-c",
                          _SENDER, "spn%s" % name], input=blob, capture_output=True,
                         check=True, timeout=30)
    return int(out.stdout.strip())


def injector_mac(name):
    out = subprocess.run(["ip", "netns", "exec", "spn-%s" % name, "cat",
                          "/sys/class/net/spn%s/address" % name], capture_output=True,
                         text=True, check=True, timeout=10)
    return bytes.fromhex(out.stdout.strip().replace(":", ""))

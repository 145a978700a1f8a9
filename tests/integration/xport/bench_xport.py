#!/usr/bin/python3
"""The transport benchmark: messages/s and MB/s between two xport_peer processes for 100 B,
4 KiB and 64 KiB messages, and round trips (p50/p99) of small messages, over DPDK af_packet
on the test network (when root) and over UDP on loopback, at MTU 1500 and (UDP only, as
loopback allows) 65535. The sender keeps a window of
unacknowledged messages so that nothing is lost to full rings; rates are what the receiver
saw, from its first message to its last. Prints a markdown table and writes JSON to
$SPINDLE_BUILD_DIR/xport-bench.json.

Usage: bench_xport.py [--drivers dpdk,udp] [--scale 1.0]"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xportlib import BUILD, Node, is_root, testnet  # noqa: E402

COUNTS = {100: 200000, 4096: 60000, 65536: 6000}
WINDOW_BYTES = {"dpdk": 4000000, "udp": 16000000}
MTUS = {"dpdk": [1500], "udp": [1500, 65535]}


def throughput(driver, mtu, size, count):
    common = ["--duration-ms", 60000, "--reasm-timeout-ms", 3000, "--mtu", mtu]
    recv = Node(driver, 2, "recv", [1], ["--expect", count] + common, cpu=1, timeout_s=90)
    recv.wait_ready()
    send = Node(driver, 1, "send", [2], ["--to", 2, "--count", count, "--sizes", size,
                                         "--window", 512, "--window-bytes", WINDOW_BYTES[driver]]
                + common, cpu=0, timeout_s=90)
    s, r = send.result(), recv.result()
    secs = r["rx_seconds"] or 1e-9
    return {"driver": driver, "mtu": mtu, "size": size, "sent": s["sent"], "received": r["received"],
            "corrupt": r["corrupt"], "seconds": secs,
            "msgs_per_s": r["received"] / secs, "mb_per_s": r["bytes"] / secs / 1e6}


def latency(driver, mtu, size, count):
    echo = Node(driver, 2, "echo", [1], ["--idle-exit-ms", 1000, "--duration-ms", 60000,
                                         "--mtu", mtu], cpu=1, timeout_s=90)
    echo.wait_ready()
    ping = Node(driver, 1, "ping", [2], ["--to", 2, "--count", count, "--sizes", size,
                                         "--duration-ms", 60000, "--mtu", mtu], cpu=0,
                timeout_s=90)
    p = ping.result()
    echo.result()
    return {"driver": driver, "mtu": mtu, "size": size, "samples": p["rtt_samples"],
            "rtt_p50_us": p["rtt_p50_us"], "rtt_p99_us": p["rtt_p99_us"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drivers", default="dpdk,udp")
    ap.add_argument("--scale", type=float, default=1.0)
    a = ap.parse_args()
    drivers = [d for d in a.drivers.split(",") if d != "dpdk" or is_root()]
    results = {"throughput": [], "latency": []}
    if "dpdk" in drivers:
        testnet("down")
        testnet("up", 2)
    try:
        for d, mtu in [(d, m) for d in drivers for m in MTUS[d]]:
            for size, count in COUNTS.items():
                n = max(100, int(count * a.scale))
                results["throughput"].append(throughput(d, mtu, size, n))
            results["latency"].append(latency(d, mtu, 64, max(100, int(3000 * a.scale))))
    finally:
        if "dpdk" in drivers:
            testnet("down")
    print("| driver | mtu | size | messages | msgs/s | MB/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for t in results["throughput"]:
        print("| %s | %d | %d | %d | %.0f | %.1f |" % (t["driver"], t["mtu"], t["size"],
                                                       t["received"], t["msgs_per_s"],
                                                       t["mb_per_s"]))
    print()
    print("| driver | mtu | size | round trips | p50 us | p99 us |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for l in results["latency"]:
        print("| %s | %d | %d | %d | %.1f | %.1f |" % (l["driver"], l["mtu"], l["size"],
                                                       l["samples"], l["rtt_p50_us"],
                                                       l["rtt_p99_us"]))
    with open(os.path.join(BUILD, "xport-bench.json"), "w") as f:
        json.dump(results, f, indent=1)
    bad = [t for t in results["throughput"] if t["corrupt"] or t["received"] != t["sent"]]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

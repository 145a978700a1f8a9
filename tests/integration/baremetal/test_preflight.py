"""spindle-preflight, run as a process: on this machine (it passes what this host has and
names what it lacks, such as a NIC on vfio-pci, without crashing) and against described hosts
(--root) that show the checks this machine cannot: a NIC on vfio-pci or mlx5_core, two NUMA
nodes, isolated cores, an IOMMU."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostfix import FakeHost, production_host
from spindle_proc import BUILD_DIR, Spindled, free_port

PREFLIGHT = os.path.join(BUILD_DIR, "control/preflight/spindle-preflight")
CHECKS = ["config", "nic", "iommu", "cores", "numa", "hugepages", "hugetlbfs", "memlock",
          "nofile", "data-dir", "filesystem", "disk-space", "clock", "io_uring",
          "client-address", "repl-address"]


def run(args, timeout=60):
    out = subprocess.run([PREFLIGHT] + args, capture_output=True, text=True, timeout=timeout)
    if "AddressSanitizer" in out.stderr or "runtime error" in out.stderr:
        raise AssertionError("sanitizer report:\n" + out.stderr)
    return out


class Case(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="spindle-preflight-")
        self.port = free_port()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def config(self, text, name="node.conf", mode=0o600):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("port %d\ndata-dir %s\n" % (self.port, os.path.join(self.tmp, "data")))
            f.write(text)
        os.chmod(path, mode)
        return path

    def check(self, path, *extra, rc=None):
        """Runs with --json; returns {name: (status, detail, fix)} and checks the exit code."""
        out = run(["--config", path, "--json"] + list(extra))
        try:
            doc = json.loads(out.stdout)
        except ValueError:
            raise AssertionError("not JSON:\n%s\n%s" % (out.stdout, out.stderr))
        res = {c["name"]: (c["status"], c["detail"], c["fix"]) for c in doc["checks"]}
        fails = [n for n, r in res.items() if r[0] == "FAIL"]
        self.assertEqual(doc["ok"], not fails)
        self.assertEqual(doc["summary"]["fail"], len(fails))
        self.assertEqual(out.returncode, 1 if fails else 0, out.stdout)
        if rc is not None:
            self.assertEqual(out.returncode, rc, out.stdout)
        return res

    def assertCheck(self, res, name, status, *needles):
        self.assertIn(name, res)
        st, detail, fix = res[name]
        self.assertEqual(st, status, "%s: %s / %s" % (name, detail, fix))
        for n in needles:
            self.assertIn(n, detail + " | " + fix)
        if status in ("WARN", "FAIL"):
            self.assertTrue(fix, "%s %s has no fix" % (name, status))


class ThisHost(Case):
    def test_single_node_config_passes(self):
        res = self.check(self.config("lanes 4\n"), rc=0)
        self.assertEqual(list(res), CHECKS)
        for name in ("config", "data-dir", "disk-space", "io_uring", "client-address"):
            self.assertCheck(res, name, "PASS")
        for name in ("nic", "iommu", "hugetlbfs", "memlock", "repl-address"):
            self.assertCheck(res, name, "SKIP")
        self.assertCheck(res, "cores", "WARN", "cores is empty")

    def test_text_output_matches_json(self):
        path = self.config("lanes 4\n")
        text = run(["--config", path])
        res = self.check(path)
        lines = [l for l in text.stdout.splitlines() if l[:4] in ("PASS", "WARN", "FAIL", "SKIP")]
        self.assertEqual([(l.split()[1], l[:4]) for l in lines],
                         [(n, r[0]) for n, r in res.items()])
        fixes = [l for l in text.stdout.splitlines() if l.strip().startswith("fix: ")]
        self.assertEqual(len(fixes), sum(1 for r in res.values() if r[2]))
        self.assertRegex(text.stdout, r"16 checks: \d+ passed, \d+ warnings, \d+ failed, \d+ skipped")

    def test_this_hosts_nic_is_named_with_the_fix(self):
        """The VM has NICs on kernel drivers, none on vfio-pci: the NIC check says which
        driver holds it and how to bind it, and the IOMMU check reports what it finds."""
        nic = None
        for addr in sorted(os.listdir("/sys/bus/pci/devices")):
            d = "/sys/bus/pci/devices/" + addr
            with open(d + "/class") as f:
                cls = int(f.read(), 16)
            drv = os.path.basename(os.readlink(d + "/driver")) if os.path.exists(d + "/driver") else ""
            with open(d + "/vendor") as f:
                vendor = int(f.read(), 16)
            if cls >> 16 == 2 and drv and drv != "vfio-pci" and vendor != 0x15b3:
                nic = (addr, drv)
                break
        if nic is None:
            self.skipTest("no PCI NIC on a kernel driver here")
        res = self.check(self.config(
            "transport dpdk\nrepl-ip 10.255.9.1\npeer 2 10.255.9.2\nnic %s\n" % nic[0]), rc=1)
        self.assertCheck(res, "nic", "FAIL", nic[0], "bound to " + nic[1],
                         "dpdk-devbind.py --bind=vfio-pci " + nic[0])
        self.assertIn(res["iommu"][0], ("PASS", "WARN", "FAIL"))
        self.assertCheck(res, "repl-address", "PASS", "belongs to the DPDK port")

    def test_missing_pci_device(self):
        res = self.check(self.config("transport dpdk\nrepl-ip 10.255.9.1\npeer 2 10.255.9.2\n"
                                     "nic 0000:7f:1f.7\n"), rc=1)
        self.assertCheck(res, "nic", "FAIL", "no PCI device 0000:7f:1f.7", "lspci")
        self.assertCheck(res, "iommu", "SKIP")

    def test_dpdk_without_a_nic(self):
        res = self.check(self.config("transport dpdk\nrepl-ip 10.255.9.1\npeer 2 10.255.9.2\n"))
        self.assertCheck(res, "nic", "FAIL", "no NIC is configured")
        res = self.check(self.config("transport dpdk\nrepl-ip 10.255.9.1\npeer 2 10.255.9.2\n"
                                     "eal-args \"-a 0000:3b:00.0 --in-memory\"\n"))
        self.assertCheck(res, "nic", "WARN", "comes from eal-args")

    def test_hugepage_memory_beyond_what_is_free(self):
        res = self.check(self.config("transport dpdk\nrepl-ip 10.255.9.1\npeer 2 10.255.9.2\n"
                                     "nic net_tap0\nhugepage-bytes 1024g\n"), rc=1)
        self.assertCheck(res, "hugepages", "FAIL", "hugepage-bytes needs 1 TiB", "nr_hugepages")
        res = self.check(self.config("hugepage-bytes 1024g\n"))
        self.assertCheck(res, "hugepages", "WARN", "plain memory")

    def test_data_dir_in_use_and_lane_count(self):
        data = os.path.join(self.tmp, "data")
        with Spindled("--lanes", "4", data_dir=data, durability="disk") as sp:
            res = self.check(self.config("lanes 4\nport %d\n" % free_port()))
            self.assertCheck(res, "data-dir", "WARN", "in use by a running spindled",
                             "pid %d" % sp.proc.pid)
        res = self.check(self.config("lanes 4\n"), rc=0)
        self.assertCheck(res, "data-dir", "PASS", "data of format 1, 4 lanes")
        res = self.check(self.config("lanes 8\n"), rc=1)
        self.assertCheck(res, "data-dir", "FAIL", "holds lanes 0-3 but lanes is 8", "set lanes 4")

    def test_data_dir_that_cannot_be(self):
        blocker = os.path.join(self.tmp, "file")
        open(blocker, "w").close()
        res = self.check(self.config("data-dir %s/sub\n" % blocker), rc=1)
        self.assertCheck(res, "data-dir", "FAIL", "cannot be created", "Not a directory")
        self.assertCheck(res, "filesystem", "SKIP")
        self.assertCheck(res, "disk-space", "SKIP")
        res = self.check(self.config("data-dir %s\n" % blocker), rc=1)
        self.assertCheck(res, "data-dir", "FAIL", "is not a directory")

    def test_tmpfs_is_not_durable(self):
        if not os.path.isdir("/dev/shm") or os.statvfs("/dev/shm").f_bavail == 0:
            self.skipTest("no /dev/shm")
        d = tempfile.mkdtemp(dir="/dev/shm")
        try:
            res = self.check(self.config("data-dir %s\n" % d))
            self.assertCheck(res, "filesystem", "WARN", "tmpfs", "nothing survives a reboot")
        finally:
            shutil.rmtree(d)

    def test_not_enough_disk_for_the_segments(self):
        res = self.check(self.config("lanes 1024\nsegment-bytes 1g\n"), rc=1)
        self.assertCheck(res, "disk-space", "FAIL", "alone take 2 TiB (lanes 1024 x 2 x segment-bytes)")

    def test_memory_durability_skips_the_disk(self):
        res = self.check(self.config("durability memory\n"))
        for name in ("data-dir", "filesystem", "disk-space"):
            self.assertCheck(res, name, "SKIP")

    def test_addresses(self):
        res = self.check(self.config("bind 10.255.255.1\nrequirepass x\n"), rc=1)
        self.assertCheck(res, "client-address", "FAIL", "not an address of this host")
        with socket.socket() as s:
            s.bind(("127.0.0.1", self.port))
            s.listen(1)
            res = self.check(self.config(""))
            self.assertCheck(res, "client-address", "WARN", "port %d is in use" % self.port)
        res = self.check(self.config("transport udp\nrepl-ip 10.255.255.7\npeer 2 10.0.0.2\n"), rc=1)
        self.assertCheck(res, "repl-address", "FAIL", "10.255.255.7 is not an address")
        res = self.check(self.config("transport udp\nrepl-ip 127.0.0.1\npeer 2 10.0.0.2\n"
                                     "repl-udp-port %d\n" % free_port()))
        self.assertCheck(res, "repl-address", "PASS", "is an address of this host")
        res = self.check(self.config("transport dpdk\nrepl-ip 127.0.0.1\npeer 2 10.0.0.2\n"
                                     "nic 0000:7f:1f.7\n"))
        self.assertCheck(res, "repl-address", "WARN", "also on a kernel interface")

    def test_open_file_limit(self):
        res = self.check(self.config("maxclients 10000000\n"))
        nr_open = int(open("/proc/sys/fs/nr_open").read())
        if nr_open < 10000000 + 8 * 8 + 256:
            self.assertCheck(res, "nofile", "FAIL", "fs.nr_open", "sysctl -w fs.nr_open=")
        else:
            self.assertCheck(res, "nofile", "WARN", "ulimit -n")

    def test_password_in_a_readable_file(self):
        res = self.check(self.config("requirepass s3cret\n", mode=0o644))
        self.assertCheck(res, "config", "WARN", "every user can read", "chmod 640")
        res = self.check(self.config("requirepass s3cret\n", mode=0o640))
        self.assertCheck(res, "config", "PASS")


class Usage(Case):
    def test_bad_config_stops_at_the_config_check(self):
        path = self.config("loops 2\nprot 7000\n")
        res = self.check(path, rc=1)
        self.assertEqual(list(res), ["config"])
        self.assertCheck(res, "config", "FAIL", "%s:4: unknown key 'prot'" % path,
                         "spindled --check-config")
        res = self.check(self.config("bind 0.0.0.0\n"), rc=1)
        self.assertCheck(res, "config", "FAIL", "set requirepass")

    def test_missing_config(self):
        res = self.check(os.path.join(self.tmp, "nope.conf"), rc=1)
        self.assertCheck(res, "config", "FAIL", "No such file")

    def test_command_line(self):
        self.assertEqual(run(["--bogus"]).returncode, 2)
        self.assertEqual(run(["--config"]).returncode, 2)
        out = run(["--help"])
        self.assertEqual(out.returncode, 0)
        self.assertIn("--json", out.stdout)
        self.assertEqual(run(["--root", "x" * 600]).returncode, 2)

    def test_strict_fails_on_warnings(self):
        path = self.config("lanes 4\n")
        res = self.check(path)
        self.assertCheck(res, "cores", "WARN")
        self.assertEqual(run(["--config", path, "--strict"]).returncode, 1)


class DescribedHost(Case):
    """The checks this machine cannot show, against hosts described under --root."""

    BASE = ("transport dpdk\nrepl-ip 10.255.9.1\npeer 2 10.255.9.2\nloops 4\nlanes 8\n"
            "cores 9-12\nmain-core 0\nspin yes\nhugepage-bytes 1g\n")

    def setUp(self):
        super().setUp()
        self.host = production_host()

    def tearDown(self):
        self.host.cleanup()
        super().tearDown()

    def run_host(self, extra="", nic="nic 0000:3b:00.0\n"):
        return self.check(self.config(self.BASE + nic + extra), "--root", self.host.root)

    def test_production_host_passes(self):
        res = self.run_host()
        self.assertCheck(res, "nic", "PASS", "0000:3b:00.0", "bound to vfio-pci")
        self.assertCheck(res, "iommu", "PASS", "IOMMU group 42")
        self.assertCheck(res, "cores", "PASS", "CPUs 9,10,11,12 online, isolated and nohz_full")
        self.assertCheck(res, "numa", "PASS", "on node 1")
        self.assertCheck(res, "hugepages", "PASS", "2 GiB free on node 1", "needs 1 GiB")
        self.assertCheck(res, "hugetlbfs", "PASS", "/dev/hugepages")
        res = self.run_host(nic="nic 3B:00.0\n")
        self.assertCheck(res, "nic", "PASS", "0000:3b:00.0")

    def test_nic_on_its_kernel_driver(self):
        self.host.remove("/sys/bus/pci/drivers/vfio-pci")
        self.host.pci_nic("0000:3b:00.0", driver="ice", iommu_group=42, netdev="ens1f0")
        self.host.route(default_iface="ens1f0")
        res = self.run_host()
        self.assertCheck(res, "nic", "FAIL", "bound to ice", "interface ens1f0, up",
                         "default route", "ip link set ens1f0 down", "modprobe vfio-pci",
                         "dpdk-devbind.py --bind=vfio-pci 0000:3b:00.0", "driverctl")
        self.assertCheck(res, "iommu", "PASS")

    def test_nic_without_driver_and_uio(self):
        self.host.remove("/sys/bus/pci/devices/0000:3b:00.0/driver")
        res = self.run_host()
        self.assertCheck(res, "nic", "FAIL", "has no driver", "modprobe vfio-pci")
        self.host.pci_nic("0000:3b:00.0", driver="uio_pci_generic", iommu_group=42)
        self.assertCheck(self.run_host(), "nic", "WARN", "without the IOMMU")

    def test_not_a_network_device(self):
        self.host.pci_nic("0000:3b:00.0", pci_class=0x010802)
        self.assertCheck(self.run_host(), "nic", "FAIL", "not a network controller")

    def test_mlx5_stays_on_its_kernel_driver(self):
        self.host.pci_nic("0000:3b:00.0", vendor=0x15b3, device=0x101d, driver="mlx5_core",
                          infiniband=True)
        self.host.remove("/sys/kernel/iommu_groups")
        res = self.run_host()
        self.assertCheck(res, "nic", "PASS", "mlx5_core", "bifurcated")
        self.assertCheck(res, "iommu", "SKIP")
        self.host.remove("/sys/bus/pci/devices/0000:3b:00.0/infiniband")
        self.assertCheck(self.run_host(), "nic", "FAIL", "mlx5_ib")
        self.host.pci_nic("0000:3b:00.0", vendor=0x15b3, driver="vfio-pci")
        self.assertCheck(self.run_host(), "nic", "FAIL", "--bind=mlx5_core")

    def test_iommu_off_and_noiommu(self):
        self.host.remove("/sys/kernel/iommu_groups")
        self.host.remove("/sys/bus/pci/devices/0000:3b:00.0/iommu_group")
        res = self.run_host()
        self.assertCheck(res, "iommu", "FAIL", "IOMMU off", "BIOS")
        self.host.write("/proc/cmdline", "BOOT_IMAGE=/vmlinuz")
        self.assertCheck(self.run_host(), "iommu", "FAIL", "intel_iommu=on iommu=pt")
        self.host.write("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "Y")
        self.assertCheck(self.run_host(), "iommu", "WARN", "no-IOMMU")

    def test_cores_not_isolated_and_offline(self):
        self.host.cpus("0-15", {0: "0-7", 1: "8-15"}, isolated="9-10")
        res = self.run_host()
        self.assertCheck(res, "cores", "WARN", "not isolated: 11,12", "not nohz_full: 9,10,11,12",
                         "isolcpus=9,10,11,12")
        self.host.cpus("0-11", {0: "0-7", 1: "8-11"}, isolated="9-12", nohz_full="9-12")
        self.assertCheck(self.run_host(), "cores", "FAIL", "CPUs 12 do not exist or are offline")
        self.host.cpus("0-15", {0: "0-7", 1: "8-15"}, isolated="0,9-12", nohz_full="9-12")
        self.assertCheck(self.run_host(), "cores", "WARN", "main-core 0 is isolated")

    def test_numa_placement(self):
        res = self.run_host("cores 2-5\nmain-core 0\n")
        self.assertCheck(res, "numa", "WARN", "not all on node 1", "choose cores from node 1: CPUs 8-15")
        res = self.run_host("numa-node 0\n")
        self.assertCheck(res, "numa", "WARN", "NIC 0000:3b:00.0 is on node 1")
        self.assertCheck(res, "hugepages", "FAIL", "on node 0",
                         "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages")
        res = self.run_host("numa-node 3\n")
        self.assertCheck(res, "numa", "FAIL", "numa-node 3 is not a node of this host")
        self.host.write("/sys/bus/pci/devices/0000:3b:00.0/numa_node", "-1")
        self.assertCheck(self.run_host(), "numa", "WARN", "does not say which node")

    def test_hugepages_short_and_unmounted(self):
        self.host.hugepages(node=1, total=1024, free=100)
        self.host.mounts(hugetlbfs=False)
        res = self.run_host()
        self.assertCheck(res, "hugepages", "FAIL", "200 MiB free on node 1", "needs 1 GiB",
                         "echo 1436 > ")
        self.assertCheck(res, "hugetlbfs", "WARN", "no hugetlbfs mounted", "mount -t hugetlbfs")

    def test_virtual_devices(self):
        self.host.netdev("veth-spin1", "up")
        res = self.run_host(nic="nic net_af_packet0,iface=veth-spin1\n")
        self.assertCheck(res, "nic", "PASS", "on interface veth-spin1 (up)")
        self.assertCheck(res, "iommu", "SKIP")
        self.assertCheck(res, "repl-address", "SKIP")
        self.host.netdev("veth-spin1", "down")
        self.assertCheck(self.run_host(nic="nic net_af_xdp0,iface=veth-spin1\n"), "nic", "WARN",
                         "ip link set veth-spin1 up")
        self.assertCheck(self.run_host(nic="nic net_af_packet0,iface=nope0\n"), "nic", "FAIL",
                         "no interface nope0")
        self.assertCheck(self.run_host(nic="nic net_af_packet0\n"), "nic", "FAIL", "no iface= given")
        self.assertCheck(self.run_host(nic="nic net_memif0\n"), "nic", "PASS", "nothing on the host")

    def test_kernel_limits(self):
        self.host.write("/proc/sys/fs/nr_open", "1000")
        self.host.write("/proc/sys/kernel/io_uring_disabled", "2")
        res = self.run_host()
        self.assertCheck(res, "nofile", "FAIL", "caps a process at 1000", "fs.nr_open=10320")
        self.assertCheck(res, "io_uring", "FAIL", "kernel.io_uring_disabled=2")


if __name__ == "__main__":
    unittest.main()

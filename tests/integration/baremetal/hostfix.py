"""A described host for spindle-preflight --root: a directory tree with the /proc and /sys
files the checks read, so that the tests can show it hosts this machine is not (two NUMA
nodes, a NIC on vfio-pci or on mlx5_core, isolated cores, no IOMMU)."""
import os
import shutil
import tempfile


class FakeHost:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="spindle-fakehost-")

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def write(self, path, text):
        full = os.path.join(self.root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text + "\n")

    def mkdir(self, path):
        os.makedirs(os.path.join(self.root, path.lstrip("/")), exist_ok=True)

    def link(self, path, target):
        full = os.path.join(self.root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if os.path.lexists(full):
            os.unlink(full)
        os.symlink(target, full)

    def remove(self, path):
        full = os.path.join(self.root, path.lstrip("/"))
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        elif os.path.lexists(full):
            os.unlink(full)

    # ---- pieces of a host ----
    def cpus(self, online, nodes, isolated="", nohz_full=None):
        """nodes: {node: "cpulist"}."""
        self.write("/sys/devices/system/cpu/online", online)
        self.write("/sys/devices/system/cpu/isolated", isolated)
        if nohz_full is None:
            self.remove("/sys/devices/system/cpu/nohz_full")  # a kernel without NO_HZ_FULL
        else:
            self.write("/sys/devices/system/cpu/nohz_full", nohz_full)
        self.write("/sys/devices/system/node/online", ",".join(str(n) for n in sorted(nodes)))
        for n, cpus in nodes.items():
            self.write("/sys/devices/system/node/node%d/cpulist" % n, cpus)

    def hugepages(self, node, total, free, kb=2048):
        for base in ("/sys/kernel/mm/hugepages",
                     "/sys/devices/system/node/node%d/hugepages" % node):
            d = "%s/hugepages-%dkB" % (base, kb)
            self.write(d + "/nr_hugepages", str(total))
            self.write(d + "/free_hugepages", str(free))

    def mounts(self, hugetlbfs=True):
        lines = ["/dev/root / ext4 rw,relatime 0 0", "proc /proc proc rw 0 0"]
        if hugetlbfs:
            lines.append("hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0")
        self.write("/proc/mounts", "\n".join(lines))

    def pci_nic(self, addr, vendor=0x8086, device=0x1592, driver="vfio-pci", node=1,
                iommu_group=None, netdev=None, netdev_state="up", infiniband=False,
                pci_class=0x020000):
        d = "/sys/bus/pci/devices/" + addr
        self.write(d + "/vendor", "0x%04x" % vendor)
        self.write(d + "/device", "0x%04x" % device)
        self.write(d + "/class", "0x%06x" % pci_class)
        self.write(d + "/numa_node", str(node))
        if driver:
            self.mkdir("/sys/bus/pci/drivers/" + driver)
            self.link(d + "/driver", "../../../../bus/pci/drivers/" + driver)
        if iommu_group is not None:
            self.mkdir("/sys/kernel/iommu_groups/%d" % iommu_group)
            self.link(d + "/iommu_group", "../../../../kernel/iommu_groups/%d" % iommu_group)
        if netdev:
            self.mkdir(d + "/net/" + netdev)
            self.write("/sys/class/net/%s/operstate" % netdev, netdev_state)
        if infiniband:
            self.mkdir(d + "/infiniband/mlx5_0")

    def route(self, default_iface=None):
        lines = ["Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask"]
        if default_iface:
            lines.append("%s\t00000000\t0100000A\t0003\t0\t0\t0\t00000000" % default_iface)
        self.write("/proc/net/route", "\n".join(lines))

    def netdev(self, name, state="up"):
        self.write("/sys/class/net/%s/operstate" % name, state)


def production_host():
    """Two sockets; the NIC 0000:3b:00.0 on node 1 bound to vfio-pci with the IOMMU on;
    CPUs 9-12 of node 1 isolated; 1024 x 2 MiB hugepages free on node 1; hugetlbfs mounted."""
    h = FakeHost()
    h.cpus("0-15", {0: "0-7", 1: "8-15"}, isolated="9-12", nohz_full="9-12")
    h.hugepages(node=1, total=1024, free=1024)
    h.write("/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "0")
    h.write("/sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages", "0")
    h.mounts()
    h.pci_nic("0000:3b:00.0", iommu_group=42)
    h.route()
    h.write("/proc/cmdline", "BOOT_IMAGE=/vmlinuz intel_iommu=on iommu=pt isolcpus=9-12")
    return h

/* The replication NIC: that the configured device exists and sits on a driver DPDK can use
 * (vfio-pci; mlx5_core for the bifurcated mlx5 PMD; the interface of an af_packet or af_xdp
 * virtual device), and that the IOMMU vfio-pci relies on is on. */
#include "preflight/preflight.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCI_VENDOR_MELLANOX 0x15b3
#define PCI_CLASS_NETWORK 0x02

/* "3b:00.0" -> "0000:3b:00.0"; lower case either way. */
static void nic_pci_normalise(const char *in, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s", strlen(in) == 7 ? "0000:" : "", in);
	for (char *p = out; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
}

static bool nic_is_pci(const char *nic)
{
	return strncmp(nic, "net_", 4) != 0;
}

/* The first entry of dir whose name starts with prefix ("" for any), into out. */
static bool nic_dir_entry(const struct preflight *pf, const char *dir, const char *prefix,
			  char *out, size_t cap)
{
	char full[PREFLIGHT_PATH_BYTES];
	DIR *d = opendir(preflight_path(pf, dir, full, sizeof(full)));
	struct dirent *de;
	out[0] = '\0';
	while (d != NULL && out[0] == '\0' && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			snprintf(out, cap, "%.*s", (int)cap - 1, de->d_name);
	if (d != NULL)
		closedir(d);
	return out[0] != '\0';
}

/* The kernel interface a PCI device drives ("" if none; virtio's sits one level down, under
 * virtioN/net) and whether it is up. */
static bool nic_netdev(const struct preflight *pf, const char *addr, char *ifname, size_t cap)
{
	char dir[128], sub[64], state[32] = "";
	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/net", addr);
	if (!nic_dir_entry(pf, dir, "", ifname, cap)) {
		snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", addr);
		if (!nic_dir_entry(pf, dir, "virtio", sub, sizeof(sub)))
			return false;
		snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/%s/net", addr, sub);
		if (!nic_dir_entry(pf, dir, "", ifname, cap))
			return false;
	}
	snprintf(dir, sizeof(dir), "/sys/class/net/%s/operstate", ifname);
	preflight_read(pf, dir, state, sizeof(state));
	return strcmp(state, "up") == 0;
}

/* Whether the host's default route leaves through ifname (from /proc/net/route). */
static bool nic_carries_default_route(const struct preflight *pf, const char *ifname)
{
	char full[PREFLIGHT_PATH_BYTES], line[256], iface[64];
	unsigned long dest;
	FILE *f = fopen(preflight_path(pf, "/proc/net/route", full, sizeof(full)), "r");
	bool found = false;
	while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL)
		found = sscanf(line, "%63s %lx", iface, &dest) == 2 && dest == 0 &&
			strcmp(iface, ifname) == 0;
	if (f != NULL)
		fclose(f);
	return found;
}

static void nic_check_mlx5(struct preflight *pf, const char *addr, const char *driver)
{
	char path[128], fix[PREFLIGHT_TEXT_BYTES];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/infiniband", addr);
	if (strcmp(driver, "mlx5_core") == 0 && preflight_exists(pf, path)) {
		preflight_add(pf, "nic", PREFLIGHT_PASS, NULL, "%s is an NVIDIA/Mellanox NIC on "
			      "mlx5_core with verbs: the mlx5 PMD shares it with the kernel "
			      "(bifurcated), no vfio-pci", addr);
	} else if (strcmp(driver, "mlx5_core") == 0) {
		preflight_add(pf, "nic", PREFLIGHT_FAIL, "modprobe mlx5_ib; apt install rdma-core "
			      "ibverbs-providers", "%s is on mlx5_core but has no verbs device: the "
			      "mlx5 PMD needs mlx5_ib and libibverbs", addr);
	} else {
		snprintf(fix, sizeof(fix), "dpdk-devbind.py --bind=mlx5_core %s; modprobe mlx5_ib",
			 addr);
		preflight_add(pf, "nic", PREFLIGHT_FAIL, fix, "%s is an NVIDIA/Mellanox NIC on %s: "
			      "the mlx5 PMD works through mlx5_core (bifurcated), not vfio-pci", addr,
			      driver);
	}
}

/* A kernel driver holds the device: say what binding it to vfio-pci takes and costs. */
static void nic_check_kernel_bound(struct preflight *pf, const char *addr, const char *driver)
{
	char ifname[64], fix[PREFLIGHT_TEXT_BYTES], down[96] = "", note[256] = "";
	bool up = nic_netdev(pf, addr, ifname, sizeof(ifname));
	if (ifname[0] != '\0') {
		snprintf(down, sizeof(down), "ip link set %s down && ", ifname);
		snprintf(note, sizeof(note), " (interface %s, %s%s)", ifname, up ? "up" : "down",
			 nic_carries_default_route(pf, ifname)
				 ? ", carrying this host's default route: binding it cuts the host off that network"
				 : "");
	}
	bool have_vfio = preflight_exists(pf, "/sys/bus/pci/drivers/vfio-pci");
	snprintf(fix, sizeof(fix), "%s%sdpdk-devbind.py --bind=vfio-pci %s (to keep it across "
		 "reboots: driverctl set-override %s vfio-pci)", down,
		 have_vfio ? "" : "modprobe vfio-pci && ", addr, addr);
	preflight_add(pf, "nic", PREFLIGHT_FAIL, fix, "%s is bound to %s, a kernel driver%s; "
		      "DPDK needs it on vfio-pci", addr, driver, note);
}

static void nic_check_pci(struct preflight *pf, const char *nic)
{
	char addr[16], path[128], driver[64] = "", fix[PREFLIGHT_TEXT_BYTES];
	long vendor = 0, class = 0, node = -1;
	nic_pci_normalise(nic, addr, sizeof(addr));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", addr);
	if (!preflight_exists(pf, path)) {
		preflight_add(pf, "nic", PREFLIGHT_FAIL, "lspci -D -d ::0200 lists the Ethernet "
			      "controllers; dpdk-devbind.py --status shows which DPDK can drive; set "
			      "nic to one of them", "no PCI device %s on this host", addr);
		return;
	}
	snprintf(pf->nic.addr, sizeof(pf->nic.addr), "%s", addr);
	pf->nic.pci = true;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/numa_node", addr);
	preflight_read_long(pf, path, &node);
	pf->nic.numa_node = (int)node;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", addr);
	preflight_read_long(pf, path, &vendor);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/class", addr);
	preflight_read_long(pf, path, &class);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", addr);
	if (preflight_link_name(pf, path, driver, sizeof(driver)) != 0)
		driver[0] = '\0';
	if ((class >> 16) != PCI_CLASS_NETWORK) {
		preflight_add(pf, "nic", PREFLIGHT_FAIL, "lspci -D -d ::0200 lists the Ethernet "
			      "controllers", "%s is not a network controller (class %06lx)", addr, class);
		return;
	}
	if (vendor == PCI_VENDOR_MELLANOX) {
		nic_check_mlx5(pf, addr, driver);
		return;
	}
	pf->nic.vfio = true;
	if (strcmp(driver, "vfio-pci") == 0) {
		preflight_add(pf, "nic", PREFLIGHT_PASS, NULL, "%s (vendor %04lx) is bound to vfio-pci",
			      addr, vendor);
	} else if (strcmp(driver, "uio_pci_generic") == 0 || strcmp(driver, "igb_uio") == 0) {
		snprintf(fix, sizeof(fix), "dpdk-devbind.py --bind=vfio-pci %s", addr);
		preflight_add(pf, "nic", PREFLIGHT_WARN, fix, "%s is bound to %s: DPDK works, but "
			      "without the IOMMU's protection", addr, driver);
	} else if (driver[0] == '\0') {
		snprintf(fix, sizeof(fix), "modprobe vfio-pci && dpdk-devbind.py --bind=vfio-pci %s",
			 addr);
		preflight_add(pf, "nic", PREFLIGHT_FAIL, fix, "%s has no driver", addr);
	} else {
		nic_check_kernel_bound(pf, addr, driver);
	}
}

/* net_af_packet0,iface=eth1 and net_af_xdp0,iface=eth1 need that interface. */
static void nic_check_vdev(struct preflight *pf, const char *nic)
{
	const char *iface = strstr(nic, "iface=");
	bool needs_iface = strncmp(nic, "net_af_packet", 13) == 0 || strncmp(nic, "net_af_xdp", 10) == 0;
	if (!needs_iface) {
		preflight_add(pf, "nic", PREFLIGHT_PASS, NULL, "virtual device %s: nothing on the "
			      "host to check", nic);
		return;
	}
	char name[64] = "", path[128], state[32] = "?";
	if (iface != NULL)
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(iface + 6, ","), iface + 6);
	snprintf(path, sizeof(path), "/sys/class/net/%s/operstate", name);
	if (name[0] == '\0' || preflight_read(pf, path, state, sizeof(state)) < 0) {
		preflight_add(pf, "nic", PREFLIGHT_FAIL, "ip -br link lists the interfaces; give one "
			      "as iface=NAME", "virtual device %s: %s%s", nic,
			      name[0] ? "no interface " : "no iface= given", name);
		return;
	}
	bool up = strcmp(state, "up") == 0 || strcmp(state, "unknown") == 0;
	char fix[128];
	snprintf(fix, sizeof(fix), "ip link set %s up", name);
	preflight_add(pf, "nic", up ? PREFLIGHT_PASS : PREFLIGHT_WARN, fix,
		      "virtual device %s on interface %s (%s)", nic, name, state);
}

static bool nic_eal_names_device(const char *eal)
{
	return strstr(eal, "-a ") || strstr(eal, "--allow") || strstr(eal, "--vdev") ||
	       strstr(eal, "-w ") || strstr(eal, "-a0") || strstr(eal, "-a=");
}

void preflight_check_nic(struct preflight *pf)
{
	pf->nic.numa_node = -1;
	const struct conf *c = &pf->conf;
	if (c->transport != CONF_TRANSPORT_DPDK) {
		preflight_add(pf, "nic", PREFLIGHT_SKIP, NULL, "no DPDK NIC: transport is %s",
			      c->transport == CONF_TRANSPORT_UDP ? "udp" : "none");
	} else if (c->nic[0] == '\0' && nic_eal_names_device(c->eal_args)) {
		preflight_add(pf, "nic", PREFLIGHT_WARN, "set nic to the device eal-args names, "
			      "so that this check can look at it", "nic is empty; the device "
			      "comes from eal-args, which this check does not read");
	} else if (c->nic[0] == '\0') {
		preflight_add(pf, "nic", PREFLIGHT_FAIL, "nic 0000:3b:00.0 (a PCI address from "
			      "dpdk-devbind.py --status) or nic net_af_packet0,iface=eth1",
			      "transport is dpdk but no NIC is configured");
	} else if (nic_is_pci(c->nic)) {
		nic_check_pci(pf, c->nic);
	} else {
		nic_check_vdev(pf, c->nic);
	}
}

static bool iommu_groups_present(const struct preflight *pf)
{
	char full[PREFLIGHT_PATH_BYTES];
	DIR *d = opendir(preflight_path(pf, "/sys/kernel/iommu_groups", full, sizeof(full)));
	bool any = false;
	struct dirent *de;
	while (d != NULL && !any && (de = readdir(d)) != NULL)
		any = de->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return any;
}

void preflight_check_iommu(struct preflight *pf)
{
	if (!pf->nic.vfio) {
		preflight_add(pf, "iommu", PREFLIGHT_SKIP, NULL, "not needed: %s",
			      pf->nic.pci ? "the NIC's PMD does not use vfio-pci"
					  : "no PCI NIC for vfio-pci");
		return;
	}
	char path[128], group[32], mode[8] = "", cmdline[2048] = "";
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", pf->nic.addr);
	if (iommu_groups_present(pf) && preflight_link_name(pf, path, group, sizeof(group)) == 0) {
		preflight_add(pf, "iommu", PREFLIGHT_PASS, NULL, "on: %s is in IOMMU group %s",
			      pf->nic.addr, group);
		return;
	}
	preflight_read(pf, "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", mode, sizeof(mode));
	if (mode[0] == 'Y' || mode[0] == '1') {
		preflight_add(pf, "iommu", PREFLIGHT_WARN, "give the VM a vIOMMU (QEMU: -device "
			      "intel-iommu) or accept it for a test machine", "no IOMMU; vfio runs in "
			      "unsafe no-IOMMU mode, so the NIC can write anywhere in memory");
		return;
	}
	preflight_read(pf, "/proc/cmdline", cmdline, sizeof(cmdline));
	bool asked = strstr(cmdline, "intel_iommu=on") || strstr(cmdline, "amd_iommu=on") ||
		     strstr(cmdline, "iommu=pt");
	preflight_add(pf, "iommu", PREFLIGHT_FAIL, asked
		      ? "the kernel command line asks for it, so turn on VT-d (Intel) or AMD-Vi/IOMMU in the BIOS"
		      : "turn on VT-d (Intel) or AMD-Vi in the BIOS and boot with intel_iommu=on "
			"iommu=pt (AMD: iommu=pt); in a VM without a vIOMMU: echo 1 > "
			"/sys/module/vfio/parameters/enable_unsafe_noiommu_mode",
		      "IOMMU off: no IOMMU groups, and vfio-pci needs one for %s", pf->nic.addr);
}

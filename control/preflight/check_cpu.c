/* CPU checks: the loops' cores exist, are online and are isolated from the scheduler and the
 * timer tick; the cores, the NIC and the memory sit on one NUMA node. */
#include "preflight/preflight.h"

#include <stdio.h>
#include <string.h>

static bool cpus_online[PREFLIGHT_CPUS_MAX];
static bool cpus_isolated[PREFLIGHT_CPUS_MAX];
static bool cpus_nohz[PREFLIGHT_CPUS_MAX];
static bool cpus_picked[PREFLIGHT_CPUS_MAX];

/* The configured cores missing from set, as "2,3" into out; returns how many. */
static unsigned cores_missing(const struct conf *c, const bool *set, char *out, size_t cap)
{
	memset(cpus_picked, 0, sizeof(cpus_picked));
	unsigned n = 0;
	for (uint32_t i = 0; i < c->cores_count; i++)
		if (!set[c->cores[i]]) {
			cpus_picked[c->cores[i]] = true;
			n++;
		}
	preflight_cpulist_text(cpus_picked, PREFLIGHT_CPUS_MAX, out, cap);
	return n;
}

static void cores_list_text(const struct conf *c, char *out, size_t cap)
{
	memset(cpus_picked, 0, sizeof(cpus_picked));
	for (uint32_t i = 0; i < c->cores_count; i++)
		cpus_picked[c->cores[i]] = true;
	preflight_cpulist_text(cpus_picked, PREFLIGHT_CPUS_MAX, out, cap);
}

void preflight_check_cores(struct preflight *pf)
{
	const struct conf *c = &pf->conf;
	char online[256], missing[256], list[256], fix[PREFLIGHT_TEXT_BYTES];
	preflight_read(pf, "/sys/devices/system/cpu/online", online, sizeof(online));
	preflight_cpulist_parse(online, cpus_online, PREFLIGHT_CPUS_MAX);
	if (c->cores_count == 0) {
		preflight_add(pf, "cores", PREFLIGHT_WARN, "cores 2-5 (one CPU per loop, isolated, "
			      "on the NIC's NUMA node), and spin yes", "cores is empty: %u loop%s over "
			      "every CPU (fine for a test host, not for production)",
			      c->loops, c->loops == 1 ? " floats" : "s float");
		return;
	}
	cores_list_text(c, list, sizeof(list));
	if (cores_missing(c, cpus_online, missing, sizeof(missing)) > 0) {
		preflight_add(pf, "cores", PREFLIGHT_FAIL, "choose cores among the online CPUs",
			      "CPUs %s do not exist or are offline (online: %s)", missing, online);
		return;
	}
	if (c->main_core != CONF_AUTO && !cpus_online[c->main_core]) {
		preflight_add(pf, "cores", PREFLIGHT_FAIL, "choose main-core among the online CPUs, "
			      "or auto", "main-core %d does not exist or is offline (online: %s)",
			      c->main_core, online);
		return;
	}
	preflight_cpulist_read(pf, "/sys/devices/system/cpu/isolated", cpus_isolated, PREFLIGHT_CPUS_MAX);
	preflight_cpulist_read(pf, "/sys/devices/system/cpu/nohz_full", cpus_nohz, PREFLIGHT_CPUS_MAX);
	char iso_missing[256], nohz_missing[256], what[600];
	unsigned not_iso = cores_missing(c, cpus_isolated, iso_missing, sizeof(iso_missing));
	unsigned not_nohz = cores_missing(c, cpus_nohz, nohz_missing, sizeof(nohz_missing));
	if (not_iso > 0 || not_nohz > 0) {
		snprintf(fix, sizeof(fix), "add isolcpus=%.150s nohz_full=%.150s rcu_nocbs=%.150s to the kernel "
			 "command line (GRUB_CMDLINE_LINUX in /etc/default/grub, update-grub, reboot)",
			 list, list, list);
		snprintf(what, sizeof(what), "%s%s%s%s%s", not_iso ? "not isolated: " : "",
			 not_iso ? iso_missing : "", not_iso && not_nohz ? "; " : "",
			 not_nohz ? "not nohz_full: " : "", not_nohz ? nohz_missing : "");
		preflight_add(pf, "cores", PREFLIGHT_WARN, fix, "CPUs %s online; %s: the scheduler "
			      "and the timer tick will interrupt the loops", list, what);
		return;
	}
	if (c->main_core != CONF_AUTO && cpus_isolated[c->main_core]) {
		preflight_add(pf, "cores", PREFLIGHT_WARN, "give main-core a CPU that is not isolated",
			      "CPUs %s online and isolated, but main-core %d is isolated too", list,
			      c->main_core);
		return;
	}
	preflight_add(pf, "cores", PREFLIGHT_PASS, NULL, "CPUs %s online, isolated and nohz_full%s",
		      list, c->spin ? "" : " (spin is no: the loops will sleep when idle)");
}

/* The node every configured core is on, -2 if they differ, -1 if unknown. */
static int cores_node(const struct preflight *pf, char *where, size_t cap)
{
	int node = -1;
	size_t off = 0;
	where[0] = '\0';
	for (uint32_t i = 0; i < pf->conf.cores_count; i++) {
		int n = preflight_cpu_node(pf, pf->conf.cores[i]);
		off += (size_t)snprintf(where + off, cap > off ? cap - off : 0, "%s%u@%d",
					i ? "," : "", pf->conf.cores[i], n);
		node = i == 0 ? n : (node == n ? node : -2);
	}
	return node;
}

void preflight_check_numa(struct preflight *pf)
{
	const struct conf *c = &pf->conf;
	char online[64] = "0", where[512], path[128], fix[PREFLIGHT_TEXT_BYTES], cpus[256];
	bool nodes[PREFLIGHT_NODES_MAX];
	if (preflight_read(pf, "/sys/devices/system/node/online", online, sizeof(online)) < 0)
		snprintf(online, sizeof(online), "0");
	preflight_cpulist_parse(online, nodes, PREFLIGHT_NODES_MAX);
	if (c->numa_node != CONF_AUTO && !nodes[c->numa_node]) {
		preflight_add(pf, "numa", PREFLIGHT_FAIL, "set numa-node to an online node, or auto",
			      "numa-node %d is not a node of this host (online: %s)", c->numa_node, online);
		return;
	}
	if (strcmp(online, "0") == 0) {
		preflight_add(pf, "numa", PREFLIGHT_PASS, NULL, "one NUMA node: nothing to place");
		return;
	}
	int want = c->numa_node != CONF_AUTO ? c->numa_node : pf->nic.numa_node;
	int cn = cores_node(pf, where, sizeof(where));
	if (want < 0)
		want = cn >= 0 ? cn : -1;
	if (want < 0 && !pf->nic.pci) {
		preflight_add(pf, "numa", PREFLIGHT_SKIP, NULL, "nodes %s online, but neither cores, "
			      "numa-node nor a PCI NIC to place", online);
		return;
	}
	if (pf->nic.pci && pf->nic.numa_node < 0)
		preflight_add(pf, "numa", PREFLIGHT_WARN, "check the NIC's slot in the board's manual",
			      "the firmware does not say which node the NIC %s is on", pf->nic.addr);
	else if (pf->nic.pci && want != pf->nic.numa_node)
		preflight_add(pf, "numa", PREFLIGHT_WARN, "set numa-node to the NIC's node, or move the NIC",
			      "numa-node is %d but the NIC %s is on node %d: every packet crosses "
			      "the link between sockets", want, pf->nic.addr, pf->nic.numa_node);
	else if (c->cores_count > 0 && cn != want) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", want);
		preflight_read(pf, path, cpus, sizeof(cpus));
		snprintf(fix, sizeof(fix), "choose cores from node %d: CPUs %s", want, cpus);
		preflight_add(pf, "numa", PREFLIGHT_WARN, fix, "cores (CPU@node: %s) are not all on "
			      "node %d, where the NIC and memory are", where, want);
	} else {
		preflight_add(pf, "numa", PREFLIGHT_PASS, NULL, "cores%s%s on node %d (nodes online: %s)",
			      pf->nic.pci ? ", NIC " : "", pf->nic.pci ? pf->nic.addr : "", want, online);
	}
}

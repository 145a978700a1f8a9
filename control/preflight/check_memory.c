/* Memory checks: hugepages reserved and free (on the NUMA node spindle uses), hugetlbfs
 * mounted, and the locked-memory limit that vfio's DMA mappings count against. */
#include "preflight/preflight.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define HP_SIZES_MAX 4

struct hp_pool {
	unsigned long kb;        /* page size */
	long total, free_pages;
};

uint64_t preflight_hugepage_need_bytes(const struct conf *c)
{
	return c->hugepage_bytes != 0 ? c->hugepage_bytes : PREFLIGHT_HUGEPAGE_BYTES_DEFAULT;
}

/* The page sizes under dir (".../hugepages"), each with its reserved and free pages. */
static int hp_pools_read(const struct preflight *pf, const char *dir, struct hp_pool *pools)
{
	char full[PREFLIGHT_PATH_BYTES], path[PREFLIGHT_PATH_BYTES];
	DIR *d = opendir(preflight_path(pf, dir, full, sizeof(full)));
	if (d == NULL)
		return 0;
	int n = 0;
	struct dirent *de;
	while (n < HP_SIZES_MAX && (de = readdir(d)) != NULL) {
		unsigned long kb;
		if (sscanf(de->d_name, "hugepages-%lukB", &kb) != 1)
			continue;
		struct hp_pool *p = &pools[n];
		p->kb = kb;
		snprintf(path, sizeof(path), "%s/%s/nr_hugepages", dir, de->d_name);
		if (preflight_read_long(pf, path, &p->total) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/free_hugepages", dir, de->d_name);
		if (preflight_read_long(pf, path, &p->free_pages) != 0)
			continue;
		n++;
	}
	closedir(d);
	return n;
}

/* Where spindle's memory should come from: numa-node, else the NIC's node, else anywhere. */
static int hp_node(const struct preflight *pf)
{
	int node = pf->conf.numa_node != CONF_AUTO ? pf->conf.numa_node : pf->nic.numa_node;
	char path[128];
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/hugepages", node);
	return node >= 0 && preflight_exists(pf, path) ? node : -1;
}

void preflight_check_hugepages(struct preflight *pf)
{
	struct hp_pool pools[HP_SIZES_MAX];
	int node = hp_node(pf);
	char dir[128], where[32] = "", pools_text[160] = "", need_h[32], free_h[32], fix[PREFLIGHT_TEXT_BYTES];
	if (node >= 0) {
		snprintf(dir, sizeof(dir), "/sys/devices/system/node/node%d/hugepages", node);
		snprintf(where, sizeof(where), " on node %d", node);
	} else {
		snprintf(dir, sizeof(dir), "/sys/kernel/mm/hugepages");
	}
	int n = hp_pools_read(pf, dir, pools);
	uint64_t free_bytes = 0, used_pages_2m = 0;
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		free_bytes += (uint64_t)pools[i].free_pages * pools[i].kb * 1024;
		if (pools[i].kb == 2048)
			used_pages_2m = (uint64_t)(pools[i].total - pools[i].free_pages);
		if (pools[i].total > 0 && off < sizeof(pools_text))
			off += (size_t)snprintf(pools_text + off, sizeof(pools_text) - off,
						"%s%ld of %ld x %lu kB free", off ? ", " : "",
						pools[i].free_pages, pools[i].total, pools[i].kb);
	}
	uint64_t need = preflight_hugepage_need_bytes(&pf->conf);
	preflight_bytes_text(need, need_h, sizeof(need_h));
	preflight_bytes_text(free_bytes, free_h, sizeof(free_h));
	const char *why = pf->conf.hugepage_bytes ? "hugepage-bytes" : "spindled's default";
	if (free_bytes >= need) {
		preflight_add(pf, "hugepages", PREFLIGHT_PASS, NULL, "%s free%s (%s); %s needs %s",
			      free_h, where, pools_text, why, need_h);
		return;
	}
	uint64_t pages = used_pages_2m + (need + (2u << 20) - 1) / (2u << 20);
	snprintf(fix, sizeof(fix), "echo %llu > %s/hugepages-2048kB/nr_hugepages now; at boot "
		 "hugepages=%llu on the kernel command line (or vm.nr_hugepages in /etc/sysctl.d/); "
		 "1 GiB pages: default_hugepagesz=1G hugepagesz=1G hugepages=N",
		 (unsigned long long)pages, dir, (unsigned long long)pages);
	bool dpdk = pf->conf.transport == CONF_TRANSPORT_DPDK;
	preflight_add(pf, "hugepages", dpdk ? PREFLIGHT_FAIL : PREFLIGHT_WARN, fix,
		      "%s free%s (%s), %s needs %s%s", free_h, where,
		      pools_text[0] ? pools_text : "none reserved",
		      why, need_h, dpdk ? "" : "; without them spindled runs DPDK on plain memory");
}

void preflight_check_hugetlbfs(struct preflight *pf)
{
	if (pf->conf.transport != CONF_TRANSPORT_DPDK) {
		preflight_add(pf, "hugetlbfs", PREFLIGHT_SKIP, NULL, "not needed: transport is not dpdk");
		return;
	}
	char full[PREFLIGHT_PATH_BYTES], line[512], dev[128], dir[256], type[64], opts[256];
	FILE *f = fopen(preflight_path(pf, "/proc/mounts", full, sizeof(full)), "r");
	bool found = false;
	while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL)
		found = sscanf(line, "%127s %255s %63s %255s", dev, dir, type, opts) == 4 &&
			strcmp(type, "hugetlbfs") == 0;
	if (f != NULL)
		fclose(f);
	if (found) {
		preflight_add(pf, "hugetlbfs", PREFLIGHT_PASS, NULL, "mounted at %s (%s)", dir, opts);
		return;
	}
	preflight_add(pf, "hugetlbfs", PREFLIGHT_WARN,
		      "mount -t hugetlbfs nodev /dev/hugepages (systemd's dev-hugepages.mount does it "
		      "at boot: systemctl enable --now dev-hugepages.mount)",
		      "no hugetlbfs mounted: fine for EAL --in-memory (spindled's default), needed "
		      "when eal-args leave it out");
}

void preflight_check_memlock(struct preflight *pf)
{
	if (pf->conf.transport != CONF_TRANSPORT_DPDK) {
		preflight_add(pf, "memlock", PREFLIGHT_SKIP, NULL, "not needed: transport is not dpdk");
		return;
	}
	struct rlimit rl;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	uint64_t need = preflight_hugepage_need_bytes(&pf->conf);
	char need_h[32], have_h[32];
	preflight_bytes_text(need, need_h, sizeof(need_h));
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
		preflight_add(pf, "memlock", PREFLIGHT_PASS, NULL, "locked-memory limit %s",
			      rl.rlim_cur == RLIM_INFINITY ? "unlimited" : "covers the hugepages");
		return;
	}
	preflight_bytes_text(rl.rlim_cur, have_h, sizeof(have_h));
	if (geteuid() == 0) {
		preflight_add(pf, "memlock", PREFLIGHT_PASS, NULL, "limit %s, but root "
			      "(CAP_IPC_LOCK) pins DMA memory beyond it; the unit sets "
			      "LimitMEMLOCK=infinity", have_h);
		return;
	}
	preflight_add(pf, "memlock", PREFLIGHT_WARN, "ulimit -l unlimited (the systemd unit sets "
		      "LimitMEMLOCK=infinity)", "this shell's locked-memory limit %s is below the %s "
		      "of hugepages that vfio pins for the NIC's DMA", have_h, need_h);
}

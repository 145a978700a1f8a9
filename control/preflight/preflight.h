/* spindle-preflight: checks a host against one node's configuration file before spindled
 * runs there, and says what to fix. Each check adds one result (PASS, WARN, FAIL or SKIP,
 * a sentence, and for WARN and FAIL the command or setting that fixes it); the report is
 * text, a line per check, or JSON.
 *
 * Host facts come from /proc and /sys, read under a root directory ("/" normally; the tests
 * point it at a tree that describes another host: two NUMA nodes, a NIC on vfio-pci).
 * Live probes (O_DIRECT, free space, the clock, io_uring, ports, limits) always look at this
 * host. Nothing here changes the host: the probes write one temporary file in the data
 * directory and remove it. */
#ifndef SPINDLE_PREFLIGHT_PREFLIGHT_H
#define SPINDLE_PREFLIGHT_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "conf/conf.h"

#define PREFLIGHT_RESULTS_MAX 32
#define PREFLIGHT_NAME_BYTES 24
#define PREFLIGHT_TEXT_BYTES 640
#define PREFLIGHT_PATH_BYTES 512
#define PREFLIGHT_CPUS_MAX (CONF_CPU_ID_MAX + 1)
#define PREFLIGHT_NODES_MAX (CONF_NUMA_NODE_MAX + 1)
/* What spindled's own EAL defaults ask for before they use hugepages: 64 free 2 MiB pages. */
#define PREFLIGHT_HUGEPAGE_BYTES_DEFAULT (128ull << 20)
/* Descriptors beyond the clients: per lane its segments, snapshot, metadata and directory;
 * per process the loops' rings, eventfds, listeners, the log and DPDK's own files. */
#define PREFLIGHT_FDS_PER_LANE 8u
#define PREFLIGHT_FDS_BASE 256u

enum preflight_status { PREFLIGHT_PASS, PREFLIGHT_WARN, PREFLIGHT_FAIL, PREFLIGHT_SKIP };

struct preflight_result {
	char name[PREFLIGHT_NAME_BYTES];
	enum preflight_status status;
	char detail[PREFLIGHT_TEXT_BYTES];
	char fix[PREFLIGHT_TEXT_BYTES];
};

/* What the NIC check found, for the checks after it (IOMMU, NUMA). */
struct preflight_nic {
	bool pci;                 /* a PCI device that exists on this host */
	bool vfio;                /* it needs (or has) vfio-pci: the IOMMU matters */
	int numa_node;            /* -1: unknown */
	char addr[16];            /* normalised: 0000:3b:00.0 */
};

struct preflight {
	struct conf conf;
	const char *config_path;
	char root[PREFLIGHT_PATH_BYTES];  /* "" for the real host */
	struct preflight_nic nic;
	bool data_dir_usable;             /* exists (or can be made) and is writable */
	uint32_t results_count;
	struct preflight_result results[PREFLIGHT_RESULTS_MAX];
};

/* ---- results (report.c) ---- */
PRINTF_FMT(5, 6)
void preflight_add(struct preflight *pf, const char *name, enum preflight_status status,
		   const char *fix, const char *fmt, ...);
const char *preflight_status_name(enum preflight_status s);
uint32_t preflight_count(const struct preflight *pf, enum preflight_status s);
void preflight_report_text(const struct preflight *pf, void *stream);
void preflight_report_json(const struct preflight *pf, void *stream);

/* ---- host facts under pf->root (sys.c) ---- */
/* root + path into buf. */
const char *preflight_path(const struct preflight *pf, const char *path, char *buf, size_t cap);
/* Reads a small file, without its trailing newline. Returns its length or -errno. */
int preflight_read(const struct preflight *pf, const char *path, char *buf, size_t cap);
/* Reads a file holding one integer. Returns 0 or -errno (-EINVAL if it holds no number). */
int preflight_read_long(const struct preflight *pf, const char *path, long *out);
bool preflight_exists(const struct preflight *pf, const char *path);
/* The last component of a symbolic link's target ("vfio-pci" for .../driver). */
int preflight_link_name(const struct preflight *pf, const char *path, char *buf, size_t cap);
/* Parses a kernel CPU list ("0-3,8") into a bitmap of PREFLIGHT_CPUS_MAX bits. */
int preflight_cpulist_parse(const char *text, bool *set, size_t bits);
/* Reads a CPU list file into set; a missing file is an empty list. */
int preflight_cpulist_read(const struct preflight *pf, const char *path, bool *set, size_t bits);
/* Writes the members of set as "2,3,8" (not ranges: the lists here are short). */
void preflight_cpulist_text(const bool *set, size_t bits, char *out, size_t cap);
/* The NUMA node of a CPU, or -1 when the host has no node directory for it. */
int preflight_cpu_node(const struct preflight *pf, unsigned cpu);
/* "2 GiB", "512 MiB", "4 KiB" */
void preflight_bytes_text(uint64_t bytes, char *out, size_t cap);

/* ---- the checks, in the order they run ---- */
void preflight_check_hugepages(struct preflight *pf);
void preflight_check_hugetlbfs(struct preflight *pf);
void preflight_check_memlock(struct preflight *pf);
void preflight_check_nic(struct preflight *pf);
void preflight_check_iommu(struct preflight *pf);
void preflight_check_cores(struct preflight *pf);
void preflight_check_numa(struct preflight *pf);
void preflight_check_nofile(struct preflight *pf);
void preflight_check_data_dir(struct preflight *pf);
void preflight_check_filesystem(struct preflight *pf);
void preflight_check_disk_space(struct preflight *pf);
void preflight_check_clock(struct preflight *pf);
void preflight_check_io_uring(struct preflight *pf);
void preflight_check_client_address(struct preflight *pf);
void preflight_check_repl_address(struct preflight *pf);

/* The hugepage memory the configuration needs: hugepage-bytes, or spindled's default. */
uint64_t preflight_hugepage_need_bytes(const struct conf *c);

#endif

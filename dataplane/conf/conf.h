/* spindled's configuration: one table of keys (type, range, default, unit, documentation)
 * drives the file parser, the command-line overrides (`--key value` for every key), the
 * validation (`--check-config`) and the reference in docs/CONFIG.md (`--help-config`).
 *
 * The file format is one `key value...` per line, as redis.conf: `#` starts a comment,
 * values may be double-quoted, sizes take k/m/g (powers of 1024) suffixes, booleans are
 * yes/no. Repeatable keys (peer) may appear on several lines. An unknown key, a malformed
 * value or a value out of range stops the start with the file, the line and the reason.
 * Keys come in groups (identity, clients, cores and lanes, storage, replication, NIC and
 * DPDK, timeouts, limits, security, control plane and logging), in the reference and in
 * docs/CONFIG.md alike. */
#ifndef SPINDLE_CONF_CONF_H
#define SPINDLE_CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONF_PATH_BYTES_MAX 256
#define CONF_STR_BYTES_MAX 256
#define CONF_EAL_BYTES_MAX 1024
#define CONF_PEERS_MAX 64
#define CONF_ERR_BYTES_MAX 512
#define CONF_CORES_MAX 128           /* one CPU per loop; as many as loops may be */
#define CONF_CPU_ID_MAX 1023         /* CPU_SETSIZE - 1: what a cpu_set_t can name */
#define CONF_NUMA_NODE_MAX 31        /* RTE_MAX_NUMA_NODES - 1 in DPDK 22.11 as Debian builds it */
#define CONF_AUTO (-1)               /* main-core, numa-node: let spindled choose */
/* A data directory leaves room, within the log's 256-byte paths, for the longest name
 * inside it: "/lane-1023/snap-0123456789abcdef.tmp". */
#define CONF_DATA_DIR_BYTES_MAX 200
#define CONF_SOCKET_PATH_BYTES_MAX 108 /* sizeof(sun_path), with its NUL */

enum conf_durability { CONF_DURABILITY_DISK = 0, CONF_DURABILITY_MEMORY = 1 };
enum conf_bootstrap { CONF_BOOTSTRAP_SELF = 0, CONF_BOOTSTRAP_CONTROL = 1 };
enum conf_transport { CONF_TRANSPORT_NONE = 0, CONF_TRANSPORT_DPDK, CONF_TRANSPORT_UDP };

/* A replication peer: its node id and where its replication port is. */
struct conf_peer {
	uint16_t node_id;
	char ip[64];             /* replication address (IPv4) */
	uint16_t udp_port;       /* base UDP port on that node */
	char mac[18];            /* static MAC ("" = resolve with ARP) */
	char client_addr[64];    /* where that node serves clients, "ip:port" (for MOVED-free forwarding) */
};

struct conf {
	/* Identity */
	uint16_t node_id;
	uint32_t cluster_id;
	/* Clients */
	char bind[64];
	uint16_t port;
	char requirepass[CONF_STR_BYTES_MAX];
	uint32_t maxclients;
	uint64_t client_output_max_bytes;
	uint64_t client_query_max_bytes;
	uint64_t proto_max_bulk_bytes;
	uint32_t recv_buffers;
	uint32_t recv_buffer_bytes;
	/* Cores and lanes */
	uint32_t loops;
	uint32_t lanes;
	uint16_t cores[CONF_CORES_MAX]; /* the CPU of loop i; read-only until cores_count */
	uint32_t cores_count;           /* 0: the loops float over every CPU */
	int32_t main_core;              /* CONF_AUTO or the CPU of the main thread */
	int32_t numa_node;              /* CONF_AUTO or the node of the cores, NIC and memory */
	bool spin;
	uint32_t idle_sleep_us;
	/* Storage */
	enum conf_durability durability;
	char data_dir[CONF_PATH_BYTES_MAX];
	uint64_t segment_bytes;
	uint64_t snapshot_every_bytes;
	/* Replication */
	enum conf_transport transport;
	char repl_ip[64];
	uint16_t repl_udp_port;
	uint32_t mtu;
	struct conf_peer peers[CONF_PEERS_MAX];
	uint32_t peers_count;
	uint32_t lease_ms;
	uint32_t heartbeat_ms;
	uint32_t drift_ppm;
	uint16_t bootstrap_primary;
	enum conf_bootstrap bootstrap;
	/* Control plane */
	char control_socket[CONF_PATH_BYTES_MAX];
	/* NIC and DPDK */
	char nic[CONF_STR_BYTES_MAX];   /* PCI address or virtual device; "" = from eal-args */
	uint32_t nic_rx_desc;
	uint32_t nic_tx_desc;
	uint32_t mbufs;                 /* 0: sized from the queues */
	uint64_t hugepage_bytes;        /* 0: what spindled's EAL defaults take */
	char eal_args[CONF_EAL_BYTES_MAX];
	/* Diagnostics */
	char log_level[16];
};

/* What the table says of one key: for the reference, the docs and their test. */
struct conf_key_info {
	const char *name;
	const char *group;      /* "Identity", "Clients", ... in reference order */
	const char *def;        /* the default as text; NULL for repeatable keys (peer) */
	const char *doc;
	const char *range;      /* "1 to 65535", "yes, no", "disk, memory"; "" if free text */
};

/* Fills every key with its default. */
void conf_defaults(struct conf *c);
/* Applies the keys of a file. On error returns -EINVAL (or -errno for I/O) and writes
 * "FILE:LINE: reason" into err. */
int conf_load_file(struct conf *c, const char *path, char *err, size_t err_len);
/* Applies one key given on the command line (`--key value`). */
int conf_set(struct conf *c, const char *key, const char *value, char *err, size_t err_len);
/* Checks the keys against each other (e.g. a non-loopback bind needs a password). */
int conf_validate(const struct conf *c, char *err, size_t err_len);
/* True for a PCI address ("0000:3b:00.0" or "3b:00.0"), false for a virtual device. */
bool conf_nic_is_pci(const char *nic);

/* What the host offers DPDK when the EAL arguments are built (eal.c). */
#define CONF_CPU_WORDS ((CONF_CPU_ID_MAX + 1) / 64)
struct conf_eal_host {
	long cpus;            /* online CPUs, 0 .. cpus - 1 */
	bool hugepages_free;  /* enough free hugepages for DPDK's default memory */
	/* The CPUs the process may run on (taskset, cgroup cpusets): threads that float stay
	 * inside them. All zero: every online CPU. */
	uint64_t allowed[CONF_CPU_WORDS];
};

/* The EAL command line (space-separated) for c: the cores, main core, NIC, hugepage memory
 * and NUMA node from their keys, spindled's defaults for what they leave open, then
 * eal-args, whose options take the place of the ones they name. 0, or -ENOSPC / -EINVAL
 * with the reason in out. */
int conf_eal_args_build(const struct conf *c, const struct conf_eal_host *host, char *out,
			size_t out_len);
/* -EINVAL with the reason when eal-args names what a key also gives (cores, the NIC,
 * memory), so that one of them would be silently ignored. */
int conf_eal_conflicts(const struct conf *c, char *err, size_t err_len);
/* Writes the reference of every key (markdown table) to a stream. */
void conf_reference_write(void *stream);
/* Writes the effective configuration (`key value` lines) to a stream. */
void conf_dump(const struct conf *c, void *stream);
/* CONFIG GET support: the value of a key as text, or -ENOENT. Secrets are returned as-is
 * only when reveal is set. */
int conf_get_text(const struct conf *c, const char *key, char *out, size_t out_len);
/* Calls fn for each key name (for CONFIG GET patterns). */
void conf_keys_foreach(void (*fn)(const char *key, void *arg), void *arg);
/* Describes one key. range is written into range_buf. Returns 0 or -ENOENT. */
int conf_key_info_get(const char *key, struct conf_key_info *out, char *range_buf,
		      size_t range_len);

#endif

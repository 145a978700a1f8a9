/* The configuration table and its parser: every key is one row (name, type, group, where it
 * lives in struct conf, range, default, checks, documentation), so parsing, overrides,
 * dumping and the reference never disagree. Cross-key rules are in conf_validate(). */
#include "conf/conf_priv.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "base/compiler.h"
#include "base/panic.h"

/* Below the NIC's descriptors and DPDK's own needs an mbuf pool cannot run; the DPDK driver
 * keeps the same margin (DPDK_POOL_MARGIN) for ARP and what the PMD holds beyond its rings. */
#define CONF_MBUFS_MARGIN 1024u
#define CONF_HUGEPAGE_BYTES_MIN (64ull << 20)
/* A segment holds its header block and at least two of the largest entries (1 MiB each);
 * the log's positions are 32-bit offsets. The log refuses anything outside these at start. */
#define CONF_SEGMENT_BYTES_MIN (4ull << 20)
#define CONF_SEGMENT_BYTES_MAX (1ull << 30)

#define F(field) .offset = offsetof(struct conf, field), .bytes = sizeof(((struct conf *)0)->field)

static int conf_check_bind(const char *value, char *why, size_t why_len);
static int conf_check_ipv4_or_empty(const char *value, char *why, size_t why_len);
static int conf_check_nic(const char *value, char *why, size_t why_len);
static int conf_check_data_dir(const char *value, char *why, size_t why_len);
static int conf_check_socket_path(const char *value, char *why, size_t why_len);

static const struct conf_enum_value conf_durability_values[] = {
	{ "disk", CONF_DURABILITY_DISK }, { "memory", CONF_DURABILITY_MEMORY }, { NULL, 0 }
};
static const struct conf_enum_value conf_bootstrap_values[] = {
	{ "self", CONF_BOOTSTRAP_SELF }, { "control", CONF_BOOTSTRAP_CONTROL }, { NULL, 0 }
};
static const struct conf_enum_value conf_transport_values[] = {
	{ "none", CONF_TRANSPORT_NONE }, { "dpdk", CONF_TRANSPORT_DPDK },
	{ "udp", CONF_TRANSPORT_UDP }, { NULL, 0 }
};
static const struct conf_enum_value conf_log_level_values[] = {
	{ "debug", 0 }, { "info", 1 }, { "warn", 2 }, { "error", 3 }, { NULL, 0 }
};

const char *const conf_group_names[CG_COUNT] = {
	[CG_IDENTITY] = "Identity", [CG_CLIENTS] = "Clients", [CG_CORES] = "Cores and lanes",
	[CG_STORAGE] = "Storage", [CG_REPLICATION] = "Replication", [CG_NIC] = "NIC and DPDK",
	[CG_TIMEOUTS] = "Timeouts", [CG_LIMITS] = "Limits", [CG_SECURITY] = "Security",
	[CG_CONTROL] = "Control plane and logging",
};

const struct conf_key conf_keys[] = {
	{ .name = "node-id", .type = CT_U16, .group = CG_IDENTITY, F(node_id), .min = 1, .max = 63,
	  .def = "1", .doc = "This node's id in the cluster (1-63), unique per cluster." },
	{ .name = "cluster-id", .type = CT_U32, .group = CG_IDENTITY, F(cluster_id), .min = 0,
	  .max = UINT32_MAX, .def = "1",
	  .doc = "Cluster identifier carried in every replication frame; frames of another cluster are dropped." },
	{ .name = "bind", .type = CT_STR, .group = CG_CLIENTS, F(bind), .def = "127.0.0.1",
	  .check = conf_check_bind,
	  .doc = "IPv4 or IPv6 address clients connect to. Anything but loopback requires requirepass." },
	{ .name = "port", .type = CT_U16, .group = CG_CLIENTS, F(port), .min = 1, .max = 65535,
	  .def = "6379", .doc = "TCP port for clients." },
	{ .name = "requirepass", .type = CT_STR, .group = CG_SECURITY, F(requirepass), .def = "",
	  .doc = "Password clients must give with AUTH or HELLO; empty means none (loopback only)." },
	{ .name = "maxclients", .type = CT_U32, .group = CG_LIMITS, F(maxclients), .min = 1,
	  .max = 10000000, .def = "10000",
	  .doc = "Most client connections at once; more are refused with -ERR max number of clients reached." },
	{ .name = "client-output-max-bytes", .type = CT_SIZE, .group = CG_LIMITS,
	  F(client_output_max_bytes), .min = 64 * 1024, .max = 1ull << 40, .def = "256m",
	  .doc = "Replies waiting for one client beyond this close the connection." },
	{ .name = "client-query-max-bytes", .type = CT_SIZE, .group = CG_LIMITS,
	  F(client_query_max_bytes), .min = 1024 * 1024, .max = 1ull << 40, .def = "1g",
	  .doc = "Largest partial command a client may send (Redis: client-query-buffer-limit)." },
	{ .name = "proto-max-bulk-bytes", .type = CT_SIZE, .group = CG_LIMITS,
	  F(proto_max_bulk_bytes), .min = 1024 * 1024, .max = 1ull << 40, .def = "512m",
	  .doc = "Largest bulk argument (Redis: proto-max-bulk-len)." },
	{ .name = "recv-buffers", .type = CT_U32, .group = CG_CLIENTS, F(recv_buffers), .min = 16,
	  .max = 32768, .flags = CONF_F_POW2, .def = "1024",
	  .doc = "Receive buffers per loop shared by all its connections (a power of two)." },
	{ .name = "recv-buffer-bytes", .type = CT_SIZE, .group = CG_CLIENTS, F(recv_buffer_bytes),
	  .min = 1024, .max = 1024 * 1024, .def = "16k", .doc = "Size of each receive buffer." },
	{ .name = "loops", .type = CT_U32, .group = CG_CORES, F(loops), .min = 1,
	  .max = CONF_CORES_MAX, .def = "1", .doc = "Worker loops (one per core)." },
	{ .name = "lanes", .type = CT_U32, .group = CG_CORES, F(lanes), .min = 1, .max = 1024,
	  .def = "8",
	  .doc = "Lanes (keyspace partitions, each with its own log and primary); fixed for the cluster's life." },
	{ .name = "cores", .type = CT_CPUS, .group = CG_CORES, .def = "",
	  .doc = "CPUs the loops run on, one per loop in loop order (\"2-5\", \"2,4,6,8\"); empty: the loops float over every CPU." },
	{ .name = "main-core", .type = CT_AUTO, .group = CG_CORES, F(main_core), .min = 0,
	  .max = CONF_CPU_ID_MAX, .def = "auto",
	  .doc = "CPU of the main thread (signals, start-up); not one of cores. auto: any CPU outside cores." },
	{ .name = "numa-node", .type = CT_AUTO, .group = CG_CORES, F(numa_node), .min = 0,
	  .max = CONF_NUMA_NODE_MAX, .def = "auto",
	  .doc = "NUMA node that the cores, the NIC and the hugepage memory share. auto: the NIC's node." },
	{ .name = "spin", .type = CT_BOOL, .group = CG_CORES, F(spin), .min = 0, .max = 1, .def = "no",
	  .doc = "Busy-poll without ever sleeping (dedicated cores in production)." },
	{ .name = "idle-sleep-us", .type = CT_U32, .group = CG_CORES, F(idle_sleep_us), .min = 10,
	  .max = 100000, .def = "1000", .doc = "Longest back-off sleep of an idle loop when not spinning." },
	{ .name = "durability", .type = CT_ENUM, .group = CG_STORAGE, F(durability), .def = "disk",
	  .enums = conf_durability_values,
	  .doc = "disk: acknowledge writes once durable; memory: a cache, nothing written." },
	{ .name = "data-dir", .type = CT_STR, .group = CG_STORAGE, F(data_dir),
	  .def = "./spindle-data", .check = conf_check_data_dir,
	  .doc = "Directory for the logs and snapshots (one subdirectory per lane)." },
	{ .name = "segment-bytes", .type = CT_SIZE, .group = CG_STORAGE, F(segment_bytes),
	  .min = CONF_SEGMENT_BYTES_MIN, .max = CONF_SEGMENT_BYTES_MAX, .flags = CONF_F_BLOCK,
	  .def = "64m", .doc = "Size of a preallocated log segment (a multiple of 4k)." },
	{ .name = "snapshot-every-bytes", .type = CT_SIZE, .group = CG_STORAGE,
	  F(snapshot_every_bytes), .min = 1024 * 1024, .max = 1ull << 40, .def = "256m",
	  .doc = "Take a lane snapshot after this much log since the last one." },
	{ .name = "transport", .type = CT_ENUM, .group = CG_REPLICATION, F(transport), .def = "none",
	  .enums = conf_transport_values,
	  .doc = "Replication transport: none (single node), dpdk (NIC queues) or udp (kernel sockets)." },
	{ .name = "repl-ip", .type = CT_STR, .group = CG_REPLICATION, F(repl_ip), .def = "",
	  .check = conf_check_ipv4_or_empty, .doc = "This node's IPv4 address on the replication network." },
	{ .name = "repl-udp-port", .type = CT_U16, .group = CG_REPLICATION, F(repl_udp_port),
	  .min = 1, .max = 65535, .def = "7400",
	  .doc = "Base UDP port of replication frames (lane i uses base + i)." },
	{ .name = "mtu", .type = CT_U32, .group = CG_REPLICATION, F(mtu), .min = 576, .max = 65535,
	  .def = "1500", .doc = "MTU of the replication network (jumbo frames up to 9216 on NICs; "
	  "up to 65535 for the udp transport on loopback)." },
	{ .name = "bootstrap-primary", .type = CT_U16, .group = CG_REPLICATION, F(bootstrap_primary),
	  .min = 0, .max = 63, .def = "0",
	  .doc = "Which node a new cluster makes the first primary of every lane: 0 spreads the "
	  "lanes over the nodes in id order; a node id gives it all of them." },
	{ .name = "bootstrap", .type = CT_ENUM, .group = CG_REPLICATION, F(bootstrap), .def = "self",
	  .enums = conf_bootstrap_values,
	  .doc = "self: a new lane starts epoch 1 on its own (bootstrap-primary); control: it waits "
	  "for its first configuration from spindle-control (a cluster run by the control plane, "
	  "and a node added to a running cluster)." },
	{ .name = "peer", .type = CT_PEER, .group = CG_REPLICATION, F(peers),
	  .doc = "A replica peer, one line each: `peer ID IP [MAC] [CLIENT_IP:PORT]`." },
	{ .name = "nic", .type = CT_STR, .group = CG_NIC, F(nic), .def = "", .check = conf_check_nic,
	  .doc = "The replication NIC: a PCI address (0000:3b:00.0) or a DPDK virtual device (net_af_packet0,iface=eth1); empty: the device eal-args names." },
	{ .name = "nic-rx-desc", .type = CT_U32, .group = CG_NIC, F(nic_rx_desc), .min = 64,
	  .max = 32768, .flags = CONF_F_POW2, .def = "1024",
	  .doc = "Receive descriptors per NIC queue (a power of two)." },
	{ .name = "nic-tx-desc", .type = CT_U32, .group = CG_NIC, F(nic_tx_desc), .min = 64,
	  .max = 32768, .flags = CONF_F_POW2, .def = "1024",
	  .doc = "Transmit descriptors per NIC queue (a power of two)." },
	{ .name = "mbufs", .type = CT_U32, .group = CG_NIC, F(mbufs), .min = 0, .max = 1u << 24,
	  .def = "0",
	  .doc = "Packet buffers in the replication pool; 0 sizes it from the queues, backlogs and reassembly." },
	{ .name = "hugepage-bytes", .type = CT_SIZE, .group = CG_NIC, F(hugepage_bytes), .min = 0,
	  .max = 1ull << 40, .def = "0",
	  .doc = "Hugepage memory DPDK takes at start, on numa-node; 0 takes what it needs as it goes." },
	{ .name = "lease-ms", .type = CT_U32, .group = CG_TIMEOUTS, F(lease_ms), .min = 10,
	  .max = 60000, .def = "300",
	  .doc = "Read lease of a primary; the control plane waits longer than this before replacing it." },
	{ .name = "heartbeat-ms", .type = CT_U32, .group = CG_TIMEOUTS, F(heartbeat_ms), .min = 1,
	  .max = 10000, .def = "50", .doc = "Primary heartbeat interval." },
	{ .name = "drift-ppm", .type = CT_U32, .group = CG_TIMEOUTS, F(drift_ppm), .min = 0,
	  .max = 100000, .def = "1000",
	  .doc = "Assumed bound on clock rate difference between nodes, in parts per million." },
	{ .name = "control-socket", .type = CT_STR, .group = CG_CONTROL, F(control_socket),
	  .def = "", .check = conf_check_socket_path,
	  .doc = "Unix socket of the local spindle-control; empty when run without a control plane." },
	{ .name = "eal-args", .type = CT_STR, .group = CG_NIC, F(eal_args), .def = "",
	  .doc = "DPDK EAL arguments (cores, devices, memory); empty picks defaults for this host." },
	{ .name = "log-level", .type = CT_STR, .group = CG_CONTROL, F(log_level), .def = "info",
	  .enums = conf_log_level_values, .doc = "debug, info, warn or error." },
};

const size_t conf_keys_count = ARRAY_SIZE(conf_keys);

const struct conf_key *conf_key_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(conf_keys); i++)
		if (strcmp(conf_keys[i].name, name) == 0)
			return &conf_keys[i];
	return NULL;
}

PRINTF_FMT(3, 4)
static int conf_fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Numbers: decimal digits only, with an optional k/m/g (1024-based) suffix for sizes. */
static int conf_parse_u64(const char *text, bool sizes, uint64_t *out)
{
	if (!isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno != 0)
		return -ERANGE;
	uint64_t mult = 1;
	if (sizes && *end != '\0') {
		switch (tolower((unsigned char)*end)) {
		case 'k': mult = 1024ull; break;
		case 'm': mult = 1024ull * 1024; break;
		case 'g': mult = 1024ull * 1024 * 1024; break;
		default: return -EINVAL;
		}
		end++;
		if (tolower((unsigned char)*end) == 'b')
			end++;
	}
	if (*end != '\0')
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

/* Numbers are stored by the width of their field, which the table records. */
static void conf_field_store(struct conf *c, const struct conf_key *k, uint64_t v)
{
	char *p = (char *)c + k->offset;
	ASSERT(v <= k->max);
	switch (k->bytes) {
	case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, sizeof(x)); return; }
	case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, sizeof(x)); return; }
	case 8: memcpy(p, &v, sizeof(v)); return;
	}
	PANIC("key %s: field of %zu bytes", k->name, k->bytes);
}

uint64_t conf_field_load(const struct conf *c, const struct conf_key *k)
{
	const char *p = (const char *)c + k->offset;
	switch (k->bytes) {
	case 2: { uint16_t x; memcpy(&x, p, sizeof(x)); return x; }
	case 4: { uint32_t x; memcpy(&x, p, sizeof(x)); return x; }
	case 8: { uint64_t x; memcpy(&x, p, sizeof(x)); return x; }
	}
	PANIC("key %s: field of %zu bytes", k->name, k->bytes);
}

/* A number in [min, max] that also meets the key's flags. */
static int conf_number_parse(const struct conf_key *k, const char *value, uint64_t *v,
			     char *err, size_t err_len)
{
	if (conf_parse_u64(value, k->type == CT_SIZE, v) != 0)
		return conf_fail(err, err_len, "%s: '%s' is not a %s", k->name, value,
				 k->type == CT_SIZE ? "size (e.g. 64m)" : "number");
	if (*v < k->min || *v > k->max)
		return conf_fail(err, err_len, "%s: %s is out of range [%llu, %llu]", k->name, value,
				 (unsigned long long)k->min, (unsigned long long)k->max);
	if ((k->flags & CONF_F_POW2) && !IS_POW2(*v))
		return conf_fail(err, err_len, "%s: %s is not a power of two", k->name, value);
	if ((k->flags & CONF_F_BLOCK) && *v % CONF_BLOCK_BYTES != 0)
		return conf_fail(err, err_len, "%s: %s is not a multiple of %u bytes", k->name,
				 value, CONF_BLOCK_BYTES);
	return 0;
}

static int conf_set_number(struct conf *c, const struct conf_key *k, const char *value,
			   char *err, size_t err_len)
{
	uint64_t v;
	int rc = conf_number_parse(k, value, &v, err, err_len);
	if (rc == 0)
		conf_field_store(c, k, v);
	return rc;
}

/* "auto", or a number in [min, max]. */
static int conf_set_auto(struct conf *c, const struct conf_key *k, const char *value,
			 char *err, size_t err_len)
{
	ASSERT(k->bytes == sizeof(int32_t) && k->max <= INT32_MAX);
	int32_t x = CONF_AUTO;
	if (strcasecmp(value, "auto") != 0) {
		uint64_t v;
		if (conf_parse_u64(value, false, &v) != 0)
			return conf_fail(err, err_len, "%s: '%s' is neither auto nor a number",
					 k->name, value);
		if (v < k->min || v > k->max)
			return conf_fail(err, err_len, "%s: %s is out of range [%llu, %llu]", k->name,
					 value, (unsigned long long)k->min,
					 (unsigned long long)k->max);
		x = (int32_t)v;
	}
	memcpy((char *)c + k->offset, &x, sizeof(x));
	return 0;
}

/* One item of a CPU list: "N" or "A-B". */
static int conf_cpu_range_parse(const char *item, uint64_t *lo, uint64_t *hi)
{
	char buf[32];
	if (snprintf(buf, sizeof(buf), "%s", item) >= (int)sizeof(buf))
		return -EINVAL;
	char *dash = strchr(buf, '-');
	if (dash != NULL)
		*dash = '\0';
	if (conf_parse_u64(buf, false, lo) != 0)
		return -EINVAL;
	*hi = *lo;
	if (dash != NULL && conf_parse_u64(dash + 1, false, hi) != 0)
		return -EINVAL;
	return *lo <= *hi ? 0 : -EINVAL;
}

/* "2-5,8": CPUs in the order given, each once, at most CONF_CORES_MAX. "" is no list. */
static int conf_set_cpus(struct conf *c, const char *value, char *err, size_t err_len)
{
	uint16_t cpus[CONF_CORES_MAX];
	uint32_t n = 0;
	char buf[CONF_STR_BYTES_MAX];
	if (snprintf(buf, sizeof(buf), "%s", value) >= (int)sizeof(buf))
		return conf_fail(err, err_len, "cores: list longer than %d bytes", CONF_STR_BYTES_MAX - 1);
	char *rest = buf;
	while (value[0] != '\0' && rest != NULL) {
		char *it = strsep(&rest, ",");
		uint64_t lo, hi;
		if (conf_cpu_range_parse(it, &lo, &hi) != 0)
			return conf_fail(err, err_len, "cores: '%s' is not a CPU or a range A-B", it);
		if (hi > CONF_CPU_ID_MAX)
			return conf_fail(err, err_len, "cores: CPU %llu is above %d",
					 (unsigned long long)hi, CONF_CPU_ID_MAX);
		for (uint64_t cpu = lo; cpu <= hi; cpu++) {
			if (n == CONF_CORES_MAX)
				return conf_fail(err, err_len, "cores: more than %d CPUs", CONF_CORES_MAX);
			for (uint32_t i = 0; i < n; i++)
				if (cpus[i] == cpu)
					return conf_fail(err, err_len, "cores: CPU %llu listed twice",
							 (unsigned long long)cpu);
			cpus[n++] = (uint16_t)cpu;
		}
	}
	memcpy(c->cores, cpus, n * sizeof(cpus[0]));
	c->cores_count = n;
	return 0;
}

void conf_enum_names(const struct conf_enum_value *e, char *out, size_t len)
{
	ASSERT(len > 0);
	out[0] = '\0';
	for (; e->name; e++) {
		strncat(out, e->name, len - strlen(out) - 1);
		if (e[1].name)
			strncat(out, ", ", len - strlen(out) - 1);
	}
}

static int conf_set_enum(struct conf *c, const struct conf_key *k, const char *value,
			 char *err, size_t err_len)
{
	for (const struct conf_enum_value *e = k->enums; e->name; e++) {
		if (strcasecmp(e->name, value) == 0) {
			int v = e->value;
			memcpy((char *)c + k->offset, &v, sizeof(v));
			return 0;
		}
	}
	char names[128];
	conf_enum_names(k->enums, names, sizeof(names));
	return conf_fail(err, err_len, "%s: '%s' is not one of: %s", k->name, value, names);
}

static int conf_set_str(struct conf *c, const struct conf_key *k, const char *value,
			char *err, size_t err_len)
{
	if (strlen(value) >= k->bytes)
		return conf_fail(err, err_len, "%s: value longer than %zu bytes", k->name, k->bytes - 1);
	bool allowed = k->enums == NULL;
	for (const struct conf_enum_value *e = k->enums; e && e->name; e++)
		allowed |= strcmp(e->name, value) == 0;
	if (!allowed) {
		char names[128];
		conf_enum_names(k->enums, names, sizeof(names));
		return conf_fail(err, err_len, "%s: '%s' is not one of: %s", k->name, value, names);
	}
	char why[CONF_ERR_BYTES_MAX / 2];
	if (k->check != NULL && k->check(value, why, sizeof(why)) != 0)
		return conf_fail(err, err_len, "%s: %s", k->name, why);
	memcpy((char *)c + k->offset, value, strlen(value) + 1);
	return 0;
}

static bool conf_is_mac(const char *s)
{
	unsigned b[6];
	char tail;
	return strlen(s) == 17 && sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
					 &b[3], &b[4], &b[5], &tail) == 6;
}

/* "IP:PORT" with an IPv4 address and a port in 1-65535. */
static bool conf_is_ipv4_port(const char *s)
{
	char ip[64];
	const char *colon = strrchr(s, ':');
	struct in_addr a;
	uint64_t port;
	if (colon == NULL || (size_t)(colon - s) >= sizeof(ip))
		return false;
	memcpy(ip, s, (size_t)(colon - s));
	ip[colon - s] = '\0';
	return inet_pton(AF_INET, ip, &a) == 1 && conf_parse_u64(colon + 1, false, &port) == 0 &&
	       port >= 1 && port <= 65535;
}

/* The words after "peer ID IP": a MAC, CLIENT_IP:PORT, or both. */
static int conf_peer_extras(struct conf_peer *p, char **word, int n, char *err, size_t err_len)
{
	for (int i = 2; i < n; i++) {
		if (conf_is_mac(word[i]))
			snprintf(p->mac, sizeof(p->mac), "%s", word[i]);
		else if (conf_is_ipv4_port(word[i]) && strlen(word[i]) < sizeof(p->client_addr))
			snprintf(p->client_addr, sizeof(p->client_addr), "%s", word[i]);
		else
			return conf_fail(err, err_len, "peer: '%s' is neither a MAC (02:00:00:00:00:02) "
					 "nor CLIENT_IP:PORT (10.0.0.2:6379)", word[i]);
	}
	return 0;
}

/* `peer ID IP [MAC] [CLIENT_IP:PORT]`: the words after the key, space-separated. */
static int conf_set_peer(struct conf *c, const char *value, char *err, size_t err_len)
{
	if (c->peers_count >= CONF_PEERS_MAX)
		return conf_fail(err, err_len, "peer: more than %d peers", CONF_PEERS_MAX);
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", value);
	char *save = NULL, *word[4] = { 0 };
	int n = 0;
	for (char *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n == 4)
			return conf_fail(err, err_len, "peer: too many words in '%s'", value);
		word[n++] = w;
	}
	uint64_t id;
	struct in_addr a;
	if (n < 2 || conf_parse_u64(word[0], false, &id) != 0 || id < 1 || id > 63)
		return conf_fail(err, err_len, "peer: expected 'ID IP [MAC] [CLIENT_IP:PORT]' with ID 1-63, got '%s'", value);
	if (inet_pton(AF_INET, word[1], &a) != 1)
		return conf_fail(err, err_len, "peer: '%s' is not an IPv4 address", word[1]);
	struct conf_peer *p = &c->peers[c->peers_count];
	memset(p, 0, sizeof(*p));
	p->node_id = (uint16_t)id;
	snprintf(p->ip, sizeof(p->ip), "%s", word[1]);
	int rc = conf_peer_extras(p, word, n, err, err_len);
	if (rc != 0)
		return rc;
	for (uint32_t i = 0; i < c->peers_count; i++)
		if (c->peers[i].node_id == p->node_id)
			return conf_fail(err, err_len, "peer: node %u listed twice", p->node_id);
	c->peers_count++;
	return 0;
}

static int conf_set_bool(struct conf *c, const struct conf_key *k, const char *value,
			 char *err, size_t err_len)
{
	bool v;
	if (strcasecmp(value, "yes") == 0)
		v = true;
	else if (strcasecmp(value, "no") == 0)
		v = false;
	else
		return conf_fail(err, err_len, "%s: '%s' is not yes or no", k->name, value);
	memcpy((char *)c + k->offset, &v, sizeof(v));
	return 0;
}

int conf_set(struct conf *c, const char *key, const char *value, char *err, size_t err_len)
{
	const struct conf_key *k = conf_key_find(key);
	if (k == NULL)
		return conf_fail(err, err_len, "unknown key '%s'", key);
	switch (k->type) {
	case CT_U16:
	case CT_U32:
	case CT_U64:
	case CT_SIZE:
		return conf_set_number(c, k, value, err, err_len);
	case CT_BOOL:
		return conf_set_bool(c, k, value, err, err_len);
	case CT_STR:
		return conf_set_str(c, k, value, err, err_len);
	case CT_ENUM:
		return conf_set_enum(c, k, value, err, err_len);
	case CT_PEER:
		return conf_set_peer(c, value, err, err_len);
	case CT_AUTO:
		return conf_set_auto(c, k, value, err, err_len);
	case CT_CPUS:
		return conf_set_cpus(c, value, err, err_len);
	}
	PANIC("unhandled key type");
}

void conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	char err[CONF_ERR_BYTES_MAX];
	for (size_t i = 0; i < ARRAY_SIZE(conf_keys); i++) {
		if (conf_keys[i].def == NULL)
			continue;
		int rc = conf_set(c, conf_keys[i].name, conf_keys[i].def, err, sizeof(err));
		ASSERT_MSG(rc == 0, "bad default: %s", err);
	}
}

/* Splits a line into the key and the rest; strips comments and a quoted value's quotes.
 * Returns 0 for a blank line, 1 for a key, -EINVAL for a malformed line. */
static int conf_line_split(char *line, char **key, char **value)
{
	char *p = line;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	*key = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	if (*p)
		*p++ = '\0';
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '"') {
		char *close = strchr(p + 1, '"');
		if (close == NULL)
			return -EINVAL;
		char *rest = close + 1;
		while (isspace((unsigned char)*rest))
			rest++;
		if (*rest != '\0' && *rest != '#')
			return -EINVAL;
		*close = '\0';
		*value = p + 1;
		return 2;
	}
	char *hash = strchr(p, '#');
	if (hash)
		*hash = '\0';
	size_t n = strlen(p);
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		p[--n] = '\0';
	*value = p;
	return 1;
}

int conf_load_file(struct conf *c, const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		int e = errno;
		snprintf(err, err_len, "%s: %s", path, strerror(e));
		return -e;
	}
	char line[2048], why[CONF_ERR_BYTES_MAX];
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			rc = conf_fail(err, err_len, "%s:%d: line longer than %zu bytes", path, lineno, sizeof(line) - 2);
			break;
		}
		char *key, *value;
		int kind = conf_line_split(line, &key, &value);
		if (kind < 0) {
			rc = conf_fail(err, err_len, "%s:%d: unbalanced quotes", path, lineno);
		} else if (kind == 1 && *value == '\0') {
			rc = conf_fail(err, err_len, "%s:%d: %s: missing value", path, lineno, key);
		} else if (kind > 0 && conf_set(c, key, value, why, sizeof(why)) != 0) {
			rc = conf_fail(err, err_len, "%s:%d: %s", path, lineno, why);
		}
	}
	fclose(f);
	return rc;
}

/* ---- Checks of single values ---- */

static int conf_check_bind(const char *value, char *why, size_t why_len)
{
	struct in6_addr a;
	if (inet_pton(AF_INET, value, &a) == 1 || inet_pton(AF_INET6, value, &a) == 1)
		return 0;
	return conf_fail(why, why_len, "'%s' is not an IPv4 or IPv6 address (names are not "
			 "resolved: 127.0.0.1, 0.0.0.0, 10.0.0.1, ::1)", value);
}

static int conf_check_ipv4_or_empty(const char *value, char *why, size_t why_len)
{
	struct in_addr a;
	if (value[0] == '\0' || inet_pton(AF_INET, value, &a) == 1)
		return 0;
	return conf_fail(why, why_len, "'%s' is not an IPv4 address", value);
}

/* "0000:3b:00.0" or "3b:00.0": domain, bus, device (0-1f), function (0-7), in hex. */
bool conf_nic_is_pci(const char *s)
{
	unsigned dom = 0, bus, dev, fn;
	int end = 0;
	if (sscanf(s, "%4x:%2x:%2x.%1u%n", &dom, &bus, &dev, &fn, &end) == 4 && end == 12 &&
	    s[end] == '\0' && s[4] == ':')
		return dev <= 0x1f && fn <= 7;
	end = 0;
	if (sscanf(s, "%2x:%2x.%1u%n", &bus, &dev, &fn, &end) == 3 && end == 7 && s[end] == '\0' &&
	    s[2] == ':')
		return dev <= 0x1f && fn <= 7;
	return false;
}

/* A DPDK virtual device: "net_<driver>[N]" then ",key=value" pairs, no spaces. */
static bool conf_is_vdev(const char *s)
{
	if (strncmp(s, "net_", 4) != 0 || !isalnum((unsigned char)s[4]))
		return false;
	size_t name_end = strcspn(s, ",");
	for (size_t i = 4; i < name_end; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	for (const char *p = s + name_end; *p; p++)
		if (isspace((unsigned char)*p))
			return false;
	return s[name_end] == '\0' || (s[name_end + 1] != '\0' && strchr(s + name_end, '=') != NULL);
}

static int conf_check_nic(const char *value, char *why, size_t why_len)
{
	if (value[0] == '\0' || conf_nic_is_pci(value) || conf_is_vdev(value))
		return 0;
	return conf_fail(why, why_len, "'%s' is neither a PCI address (0000:3b:00.0) nor a DPDK "
			 "virtual device (net_af_packet0,iface=eth1)", value);
}

static int conf_check_data_dir(const char *value, char *why, size_t why_len)
{
	if (value[0] == '\0')
		return conf_fail(why, why_len, "empty: give a directory");
	if (strlen(value) > CONF_DATA_DIR_BYTES_MAX)
		return conf_fail(why, why_len, "longer than %d bytes (the log's paths inside it "
				 "must fit in 256)", CONF_DATA_DIR_BYTES_MAX);
	return 0;
}

static int conf_check_socket_path(const char *value, char *why, size_t why_len)
{
	if (strlen(value) >= CONF_SOCKET_PATH_BYTES_MAX)
		return conf_fail(why, why_len, "longer than %d bytes (a Unix socket's path limit)",
				 CONF_SOCKET_PATH_BYTES_MAX - 1);
	return 0;
}

/* ---- Rules across keys ---- */

static bool conf_is_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
}

static int conf_validate_cores(const struct conf *c, char *err, size_t err_len)
{
	if (c->cores_count != 0 && c->cores_count != c->loops)
		return conf_fail(err, err_len, "cores lists %u CPUs but loops is %u: give one CPU per loop",
				 c->cores_count, c->loops);
	for (uint32_t i = 0; i < c->cores_count; i++)
		if (c->main_core == (int32_t)c->cores[i])
			return conf_fail(err, err_len, "main-core %d is also in cores: the main thread "
					 "needs a CPU of its own (or auto)", c->main_core);
	return 0;
}

static int conf_validate_nic(const struct conf *c, char *err, size_t err_len)
{
	uint64_t rings = (uint64_t)c->loops * (c->nic_rx_desc + c->nic_tx_desc) + CONF_MBUFS_MARGIN;
	if (c->mbufs != 0 && c->mbufs < rings)
		return conf_fail(err, err_len, "mbufs %u cannot fill the NIC rings of %u loops with "
				 "%u + %u descriptors: give at least %llu, or 0 to size it from the "
				 "queues", c->mbufs, c->loops, c->nic_rx_desc, c->nic_tx_desc,
				 (unsigned long long)rings);
	int rc = conf_eal_conflicts(c, err, err_len);
	if (rc != 0)
		return rc;
	if (c->hugepage_bytes != 0 && c->hugepage_bytes < CONF_HUGEPAGE_BYTES_MIN)
		return conf_fail(err, err_len, "hugepage-bytes %llu is below %llu (64m), less than "
				 "DPDK itself takes; give 0 to let it choose",
				 (unsigned long long)c->hugepage_bytes,
				 (unsigned long long)CONF_HUGEPAGE_BYTES_MIN);
	return 0;
}

static int conf_validate_replication(const struct conf *c, char *err, size_t err_len)
{
	if (c->transport != CONF_TRANSPORT_NONE && c->peers_count == 0)
		return conf_fail(err, err_len, "transport is set but no peer is configured");
	if (c->transport != CONF_TRANSPORT_NONE && c->repl_ip[0] == '\0')
		return conf_fail(err, err_len, "transport is set but repl-ip is empty");
	for (uint32_t i = 0; i < c->peers_count; i++)
		if (c->peers[i].node_id == c->node_id)
			return conf_fail(err, err_len, "peer %u is this node's own id", c->node_id);
	if (c->heartbeat_ms * 2 > c->lease_ms)
		return conf_fail(err, err_len, "lease-ms (%u) must be at least twice heartbeat-ms (%u)",
				 c->lease_ms, c->heartbeat_ms);
	if (c->bootstrap == CONF_BOOTSTRAP_CONTROL && c->control_socket[0] == '\0')
		return conf_fail(err, err_len, "bootstrap control needs control-socket: the lanes wait "
				 "for spindle-control");
	return 0;
}

int conf_validate(const struct conf *c, char *err, size_t err_len)
{
	if (!conf_is_loopback(c->bind) && c->requirepass[0] == '\0')
		return conf_fail(err, err_len, "bind %s is not loopback: set requirepass so that "
				 "clients on the network must authenticate", c->bind);
	if (!IS_POW2(c->recv_buffers))
		return conf_fail(err, err_len, "recv-buffers %u is not a power of two", c->recv_buffers);
	if (c->lanes < c->loops)
		return conf_fail(err, err_len, "lanes (%u) must be at least loops (%u)", c->lanes, c->loops);
	int rc = conf_validate_cores(c, err, err_len);
	if (rc == 0)
		rc = conf_validate_nic(c, err, err_len);
	if (rc == 0)
		rc = conf_validate_replication(c, err, err_len);
	return rc;
}

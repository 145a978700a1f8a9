/* The configuration table and its parser: every key is one row (name, type, where it lives in
 * struct conf, range, default, documentation), so parsing, overrides, dumping and the
 * reference never disagree. */
#include "conf/conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "base/compiler.h"
#include "base/panic.h"

enum conf_type { CT_U16, CT_U32, CT_U64, CT_SIZE, CT_BOOL, CT_STR, CT_ENUM, CT_PEER };

struct conf_enum_value {
	const char *name;
	int value;
};

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t offset;
	size_t bytes;              /* size of the field in struct conf */
	uint64_t min, max;         /* numbers and sizes */
	const char *def;           /* default, as text */
	const struct conf_enum_value *enums;
	const char *doc;
};

#define F(field) offsetof(struct conf, field), sizeof(((struct conf *)0)->field)

static const struct conf_enum_value conf_durability_values[] = {
	{ "disk", CONF_DURABILITY_DISK }, { "memory", CONF_DURABILITY_MEMORY }, { NULL, 0 }
};
static const struct conf_enum_value conf_transport_values[] = {
	{ "none", CONF_TRANSPORT_NONE }, { "dpdk", CONF_TRANSPORT_DPDK },
	{ "udp", CONF_TRANSPORT_UDP }, { NULL, 0 }
};

static const struct conf_key conf_keys[] = {
	{ "node-id", CT_U16, F(node_id), 1, 63, "1", NULL,
	  "This node's id in the cluster (1-63), unique per cluster." },
	{ "cluster-id", CT_U32, F(cluster_id), 0, UINT32_MAX, "1", NULL,
	  "Cluster identifier carried in every replication frame; frames of another cluster are dropped." },
	{ "bind", CT_STR, F(bind), 0, 0, "127.0.0.1", NULL,
	  "Address clients connect to. Anything but loopback requires requirepass." },
	{ "port", CT_U16, F(port), 1, 65535, "6379", NULL, "TCP port for clients." },
	{ "requirepass", CT_STR, F(requirepass), 0, 0, "", NULL,
	  "Password clients must give with AUTH or HELLO; empty means none (loopback only)." },
	{ "maxclients", CT_U32, F(maxclients), 1, 10000000, "10000", NULL,
	  "Most client connections at once; more are refused with -ERR max number of clients reached." },
	{ "client-output-max-bytes", CT_SIZE, F(client_output_max_bytes), 64 * 1024, 1ull << 40, "256m", NULL,
	  "Replies waiting for one client beyond this close the connection." },
	{ "client-query-max-bytes", CT_SIZE, F(client_query_max_bytes), 1024 * 1024, 1ull << 40, "1g", NULL,
	  "Largest partial command a client may send (Redis: client-query-buffer-limit)." },
	{ "proto-max-bulk-bytes", CT_SIZE, F(proto_max_bulk_bytes), 1024 * 1024, 1ull << 40, "512m", NULL,
	  "Largest bulk argument (Redis: proto-max-bulk-len)." },
	{ "recv-buffers", CT_U32, F(recv_buffers), 16, 32768, "1024", NULL,
	  "Receive buffers per loop shared by all its connections (a power of two)." },
	{ "recv-buffer-bytes", CT_SIZE, F(recv_buffer_bytes), 1024, 1024 * 1024, "16k", NULL,
	  "Size of each receive buffer." },
	{ "loops", CT_U32, F(loops), 1, 128, "1", NULL, "Worker loops (one per core)." },
	{ "lanes", CT_U32, F(lanes), 1, 1024, "8", NULL,
	  "Lanes (keyspace partitions, each with its own log and primary); fixed for the cluster's life." },
	{ "spin", CT_BOOL, F(spin), 0, 1, "no", NULL,
	  "Busy-poll without ever sleeping (dedicated cores in production)." },
	{ "idle-sleep-us", CT_U32, F(idle_sleep_us), 10, 100000, "1000", NULL,
	  "Longest back-off sleep of an idle loop when not spinning." },
	{ "durability", CT_ENUM, F(durability), 0, 0, "disk", conf_durability_values,
	  "disk: acknowledge writes once durable; memory: a cache, nothing written." },
	{ "data-dir", CT_STR, F(data_dir), 0, 0, "./spindle-data", NULL,
	  "Directory for the logs and snapshots (one subdirectory per lane)." },
	{ "segment-bytes", CT_SIZE, F(segment_bytes), 1024 * 1024, 1ull << 36, "64m", NULL,
	  "Size of a preallocated log segment." },
	{ "snapshot-every-bytes", CT_SIZE, F(snapshot_every_bytes), 1024 * 1024, 1ull << 40, "256m", NULL,
	  "Take a lane snapshot after this much log since the last one." },
	{ "transport", CT_ENUM, F(transport), 0, 0, "none", conf_transport_values,
	  "Replication transport: none (single node), dpdk (NIC queues) or udp (kernel sockets)." },
	{ "repl-ip", CT_STR, F(repl_ip), 0, 0, "", NULL, "This node's address on the replication network." },
	{ "repl-udp-port", CT_U16, F(repl_udp_port), 1, 65535, "7400", NULL,
	  "Base UDP port of replication frames (lane i uses base + i)." },
	{ "mtu", CT_U32, F(mtu), 576, 9216, "1500", NULL, "MTU of the replication network." },
	{ "peer", CT_PEER, F(peers), 0, 0, NULL, NULL,
	  "A replica peer, one line each: `peer ID IP [MAC] [CLIENT_IP:PORT]`." },
	{ "lease-ms", CT_U32, F(lease_ms), 10, 60000, "300", NULL,
	  "Read lease of a primary; the control plane waits longer than this before replacing it." },
	{ "heartbeat-ms", CT_U32, F(heartbeat_ms), 1, 10000, "50", NULL, "Primary heartbeat interval." },
	{ "drift-ppm", CT_U32, F(drift_ppm), 0, 100000, "1000", NULL,
	  "Assumed bound on clock rate difference between nodes, in parts per million." },
	{ "control-socket", CT_STR, F(control_socket), 0, 0, "", NULL,
	  "Unix socket of the local spindle-control; empty when run without a control plane." },
	{ "eal-args", CT_STR, F(eal_args), 0, 0, "", NULL,
	  "DPDK EAL arguments (cores, devices, memory); empty picks defaults for this host." },
	{ "log-level", CT_STR, F(log_level), 0, 0, "info", NULL, "debug, info, warn or error." },
};

static const struct conf_key *conf_key_find(const char *name)
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

static uint64_t conf_field_load(const struct conf *c, const struct conf_key *k)
{
	const char *p = (const char *)c + k->offset;
	switch (k->bytes) {
	case 2: { uint16_t x; memcpy(&x, p, sizeof(x)); return x; }
	case 4: { uint32_t x; memcpy(&x, p, sizeof(x)); return x; }
	case 8: { uint64_t x; memcpy(&x, p, sizeof(x)); return x; }
	}
	PANIC("key %s: field of %zu bytes", k->name, k->bytes);
}

static int conf_set_number(struct conf *c, const struct conf_key *k, const char *value,
			   char *err, size_t err_len)
{
	uint64_t v;
	int rc = conf_parse_u64(value, k->type == CT_SIZE, &v);
	if (rc != 0)
		return conf_fail(err, err_len, "%s: '%s' is not a %s", k->name, value,
				 k->type == CT_SIZE ? "size (e.g. 64m)" : "number");
	if (v < k->min || v > k->max)
		return conf_fail(err, err_len, "%s: %s is out of range [%llu, %llu]", k->name, value,
				 (unsigned long long)k->min, (unsigned long long)k->max);
	conf_field_store(c, k, v);
	return 0;
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
	char names[128] = "";
	for (const struct conf_enum_value *e = k->enums; e->name; e++) {
		strncat(names, e->name, sizeof(names) - strlen(names) - 2);
		if (e[1].name)
			strncat(names, ", ", sizeof(names) - strlen(names) - 1);
	}
	return conf_fail(err, err_len, "%s: '%s' is not one of: %s", k->name, value, names);
}

static bool conf_is_mac(const char *s)
{
	unsigned b[6];
	char tail;
	return strlen(s) == 17 && sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
					 &b[3], &b[4], &b[5], &tail) == 6;
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
	for (int i = 2; i < n; i++) {
		if (conf_is_mac(word[i]))
			snprintf(p->mac, sizeof(p->mac), "%s", word[i]);
		else if (strchr(word[i], ':') != NULL)
			snprintf(p->client_addr, sizeof(p->client_addr), "%s", word[i]);
		else
			return conf_fail(err, err_len, "peer: '%s' is neither a MAC nor CLIENT_IP:PORT", word[i]);
	}
	for (uint32_t i = 0; i < c->peers_count; i++)
		if (c->peers[i].node_id == p->node_id)
			return conf_fail(err, err_len, "peer: node %u listed twice", p->node_id);
	c->peers_count++;
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
	case CT_BOOL: {
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
	case CT_STR:
		if (strlen(value) >= k->bytes)
			return conf_fail(err, err_len, "%s: value longer than %zu bytes", k->name, k->bytes - 1);
		memcpy((char *)c + k->offset, value, strlen(value) + 1);
		return 0;
	case CT_ENUM:
		return conf_set_enum(c, k, value, err, err_len);
	case CT_PEER:
		return conf_set_peer(c, value, err, err_len);
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
		return 1;
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
		} else if (kind == 1 && conf_set(c, key, value, why, sizeof(why)) != 0) {
			rc = conf_fail(err, err_len, "%s:%d: %s", path, lineno, why);
		}
	}
	fclose(f);
	return rc;
}

static bool conf_is_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	       strcmp(addr, "localhost") == 0;
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
	return 0;
}

static void conf_value_text(const struct conf *c, const struct conf_key *k, char *out, size_t len)
{
	const char *p = (const char *)c + k->offset;
	switch (k->type) {
	case CT_U16:
	case CT_U32:
	case CT_U64:
	case CT_SIZE:
		snprintf(out, len, "%llu", (unsigned long long)conf_field_load(c, k));
		return;
	case CT_BOOL: { bool b; memcpy(&b, p, sizeof(b)); snprintf(out, len, "%s", b ? "yes" : "no"); return; }
	case CT_STR: snprintf(out, len, "%s", p); return;
	case CT_ENUM: {
		int e;
		memcpy(&e, p, sizeof(e));
		for (const struct conf_enum_value *ev = k->enums; ev->name; ev++)
			if (ev->value == e)
				snprintf(out, len, "%s", ev->name);
		return;
	}
	case CT_PEER: {
		size_t off = 0;
		out[0] = '\0';
		for (uint32_t i = 0; i < c->peers_count && off < len; i++)
			off += (size_t)snprintf(out + off, len - off, "%s%u %s", i ? "," : "",
						c->peers[i].node_id, c->peers[i].ip);
		return;
	}
	}
}

int conf_get_text(const struct conf *c, const char *key, char *out, size_t out_len)
{
	const struct conf_key *k = conf_key_find(key);
	if (k == NULL)
		return -ENOENT;
	conf_value_text(c, k, out, out_len);
	return 0;
}

void conf_keys_foreach(void (*fn)(const char *key, void *arg), void *arg)
{
	for (size_t i = 0; i < ARRAY_SIZE(conf_keys); i++)
		fn(conf_keys[i].name, arg);
}

void conf_dump(const struct conf *c, void *stream)
{
	char value[1024];
	for (size_t i = 0; i < ARRAY_SIZE(conf_keys); i++) {
		const struct conf_key *k = &conf_keys[i];
		if (k->type == CT_PEER) {
			for (uint32_t p = 0; p < c->peers_count; p++)
				fprintf(stream, "peer %u %s%s%s%s%s\n", c->peers[p].node_id, c->peers[p].ip,
					c->peers[p].mac[0] ? " " : "", c->peers[p].mac,
					c->peers[p].client_addr[0] ? " " : "", c->peers[p].client_addr);
			continue;
		}
		conf_value_text(c, k, value, sizeof(value));
		if (strcmp(k->name, "requirepass") == 0 && value[0])
			snprintf(value, sizeof(value), "(set)");
		fprintf(stream, "%s \"%s\"\n", k->name, value);
	}
}

void conf_reference_write(void *stream)
{
	fprintf(stream, "| key | default | range | meaning |\n| --- | --- | --- | --- |\n");
	for (size_t i = 0; i < ARRAY_SIZE(conf_keys); i++) {
		const struct conf_key *k = &conf_keys[i];
		char range[96] = "";
		if (k->type == CT_U16 || k->type == CT_U32 || k->type == CT_U64 || k->type == CT_SIZE)
			snprintf(range, sizeof(range), "%llu to %llu%s", (unsigned long long)k->min,
				 (unsigned long long)k->max, k->type == CT_SIZE ? " bytes" : "");
		else if (k->type == CT_BOOL)
			snprintf(range, sizeof(range), "yes, no");
		else if (k->type == CT_ENUM) {
			for (const struct conf_enum_value *e = k->enums; e->name; e++) {
				strncat(range, e->name, sizeof(range) - strlen(range) - 3);
				if (e[1].name)
					strncat(range, ", ", sizeof(range) - strlen(range) - 1);
			}
		}
		fprintf(stream, "| `%s` | %s | %s | %s |\n", k->name,
			k->def ? (k->def[0] ? k->def : "(empty)") : "(none)", range, k->doc);
	}
}

/* spindle-control's configuration table and parser: every key is one row (name, type, field,
 * range, default, documentation), so parsing, overrides, dumping and the reference agree. */
#include "daemon/conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "base/compiler.h"
#include "base/panic.h"

enum ctld_conf_type { KT_U32, KT_SIZE, KT_STR, KT_ADDR, KT_MEMBER };

struct ctld_conf_key {
	const char *name;
	enum ctld_conf_type type;
	size_t offset;
	size_t bytes;
	uint64_t min, max;
	const char *def;          /* NULL: no default (required, or repeatable) */
	const char *doc;
};

#define F(field) offsetof(struct ctld_conf, field), sizeof(((struct ctld_conf *)0)->field)
#define MS_MAX 600000

static const struct ctld_conf_key ctld_keys[] = {
	{ "node-id", KT_U32, F(node_id), 1, CTLD_NODE_ID_MAX, NULL,
	  "This node's id (1-63): the same as its spindled's node-id. Required." },
	{ "cluster-id", KT_U32, F(cluster_id), 0, UINT32_MAX, "1",
	  "Carried in every management datagram; datagrams of another cluster are dropped." },
	{ "mgmt-addr", KT_ADDR, F(mgmt_addr), 0, 0, NULL,
	  "IP:PORT this daemon receives the management network's UDP datagrams on. Required." },
	{ "repl-addr", KT_STR, F(repl_addr), 0, 0, "",
	  "This node's replication address, for the record only: not used by this version (the "
	  "cluster state records the one given to `spindlectl node add`)." },
	{ "member", KT_MEMBER, F(members), 0, 0, NULL,
	  "An initial member of the control group, one line each: `member ID IP:PORT`. A new "
	  "cluster lists the same members on every node; a node added later lists the members "
	  "it can reach (itself excluded) and joins when `spindlectl node add` adds it." },
	{ "data-dir", KT_STR, F(data_dir), 0, 0, "./spindle-control-data",
	  "Directory of the control group's log, metadata and snapshots." },
	{ "dataplane-socket", KT_STR, F(dataplane_socket), 0, 0, "",
	  "spindled's control-socket (Unix stream socket); empty: no local dataplane." },
	{ "admin-socket", KT_STR, F(admin_socket), 0, 0, "",
	  "Unix socket spindlectl talks to; empty: DATA-DIR/admin.sock." },
	{ "metrics-addr", KT_STR, F(metrics_addr), 0, 0, "",
	  "IP:PORT of the Prometheus metrics endpoint (GET /metrics); empty: off." },
	{ "dataplane-timeout-ms", KT_U32, F(dataplane_timeout_ms), 10, MS_MAX, "250",
	  "No heartbeat from spindled, or no progress in its heartbeats, for this long: the "
	  "dataplane is dead (a closed link counts at once)." },
	{ "reconnect-ms", KT_U32, F(reconnect_ms), 10, MS_MAX, "100",
	  "How often to try connecting to spindled's control socket while not connected." },
	{ "push-ms", KT_U32, F(push_ms), 10, MS_MAX, "200",
	  "The committed lane configurations are sent to spindled when they change and at least "
	  "this often." },
	{ "report-ms", KT_U32, F(report_ms), 5, MS_MAX, "50",
	  "How often this daemon reports its dataplane to the control group's leader." },
	{ "node-timeout-ms", KT_U32, F(node_timeout_ms), 10, MS_MAX, "250",
	  "The leader declares a node dead after this long without a report from it." },
	{ "lease-wait-ms", KT_U32, F(lease_wait_ms), 0, MS_MAX, "300",
	  "How long a failover waits out the old primary's read lease once a majority promised: "
	  "at least spindled's lease-ms." },
	{ "prepare-retry-ms", KT_U32, F(prepare_retry_ms), 5, MS_MAX, "30",
	  "PREPARE and HANDOFF are sent again this often until answered." },
	{ "propose-retry-ms", KT_U32, F(propose_retry_ms), 10, MS_MAX, "200",
	  "A decision not yet in the committed state is proposed again after this long." },
	{ "not-acting-ms", KT_U32, F(not_acting_ms), 10, MS_MAX, "600",
	  "An appointed primary that does not act as one for this long is replaced." },
	{ "handoff-wait-ms", KT_U32, F(handoff_wait_ms), 10, MS_MAX, "400",
	  "A planned switchover goes ahead without the old primary's handoff after this long." },
	{ "balance-every-ms", KT_U32, F(balance_every_ms), 0, MS_MAX, "3000",
	  "At most one balancing switchover this often, moving a primary from the busiest "
	  "healthy node to the idlest; 0: never balance." },
	{ "election-ms", KT_U32, F(election_ms), 20, MS_MAX, "300",
	  "The control group's election timeout (randomized up to twice this)." },
	{ "raft-heartbeat-ms", KT_U32, F(raft_heartbeat_ms), 5, MS_MAX, "30",
	  "The control group leader's heartbeat interval." },
	{ "segment-bytes", KT_SIZE, F(segment_bytes), 1ull << 20, 1ull << 30, "4m",
	  "Size of a preallocated segment of the control log." },
	{ "snapshot-every-bytes", KT_SIZE, F(snapshot_every_bytes), 4ull << 10, 1ull << 34, "1m",
	  "A snapshot of the cluster state is taken after this much control log." },
	{ "log-level", KT_STR, F(log_level), 0, 0, "info", "debug, info, warn or error." },
};

PRINTF_FMT(3, 4)
static int conf_fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const struct ctld_conf_key *conf_key_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(ctld_keys); i++)
		if (strcmp(ctld_keys[i].name, name) == 0)
			return &ctld_keys[i];
	return NULL;
}

int ctld_addr_parse(const char *text, struct sockaddr_in *out)
{
	char ip[INET_ADDRSTRLEN + 1];
	const char *colon = strrchr(text, ':');
	if (colon == NULL || (size_t)(colon - text) >= sizeof(ip) || colon == text)
		return -EINVAL;
	memcpy(ip, text, (size_t)(colon - text));
	ip[colon - text] = '\0';
	const char *p = colon + 1;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long port = strtoul(p, &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, ip, &out->sin_addr) == 1 ? 0 : -EINVAL;
}

/* Decimal digits with an optional k/m/g (1024-based) suffix for sizes. */
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
		case 'k': mult = 1ull << 10; break;
		case 'm': mult = 1ull << 20; break;
		case 'g': mult = 1ull << 30; break;
		default: return -EINVAL;
		}
		end++;
	}
	if (*end != '\0' || v > UINT64_MAX / mult)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

static int conf_set_number(struct ctld_conf *c, const struct ctld_conf_key *k, const char *value,
			   char *err, size_t err_len)
{
	uint64_t v;
	if (conf_parse_u64(value, k->type == KT_SIZE, &v) != 0)
		return conf_fail(err, err_len, "%s: '%s' is not a %s", k->name, value,
				 k->type == KT_SIZE ? "size (e.g. 4m)" : "number");
	if (v < k->min || v > k->max)
		return conf_fail(err, err_len, "%s: %s is out of range [%llu, %llu]", k->name, value,
				 (unsigned long long)k->min, (unsigned long long)k->max);
	char *p = (char *)c + k->offset;
	if (k->bytes == sizeof(uint32_t)) {
		uint32_t x = (uint32_t)v;
		memcpy(p, &x, sizeof(x));
	} else {
		ASSERT(k->bytes == sizeof(uint64_t));
		memcpy(p, &v, sizeof(v));
	}
	return 0;
}

/* `member ID IP:PORT` */
static int conf_set_member(struct ctld_conf *c, const char *value, char *err, size_t err_len)
{
	char id_text[16], addr[CTL_ADDR_BYTES + 1], extra;
	uint64_t id;
	struct sockaddr_in sa;
	if (sscanf(value, "%15s %48s %c", id_text, addr, &extra) != 2 ||
	    conf_parse_u64(id_text, false, &id) != 0 || id < 1 || id > CTLD_NODE_ID_MAX)
		return conf_fail(err, err_len, "member: expected 'ID IP:PORT' with ID 1-%d, got '%s'",
				 CTLD_NODE_ID_MAX, value);
	if (strlen(addr) >= CTL_ADDR_BYTES || ctld_addr_parse(addr, &sa) != 0)
		return conf_fail(err, err_len, "member: '%s' is not IP:PORT", addr);
	if (ctld_conf_member(c, (unsigned)id) != NULL)
		return conf_fail(err, err_len, "member: node %llu listed twice", (unsigned long long)id);
	if (c->members_count >= CTL_NODES_MAX)
		return conf_fail(err, err_len, "member: more than %d members", CTL_NODES_MAX);
	struct ctld_member *m = &c->members[c->members_count++];
	m->id = (uint8_t)id;
	snprintf(m->addr, sizeof(m->addr), "%s", addr);
	return 0;
}

int ctld_conf_set(struct ctld_conf *c, const char *key, const char *value, char *err,
		  size_t err_len)
{
	const struct ctld_conf_key *k = conf_key_find(key);
	if (k == NULL)
		return conf_fail(err, err_len, "unknown key '%s'", key);
	struct sockaddr_in sa;
	switch (k->type) {
	case KT_U32:
	case KT_SIZE:
		return conf_set_number(c, k, value, err, err_len);
	case KT_ADDR:
		if (ctld_addr_parse(value, &sa) != 0)
			return conf_fail(err, err_len, "%s: '%s' is not IP:PORT", k->name, value);
		/* fall through */
	case KT_STR:
		if (strlen(value) >= k->bytes)
			return conf_fail(err, err_len, "%s: longer than %zu bytes", k->name, k->bytes - 1);
		memcpy((char *)c + k->offset, value, strlen(value) + 1);
		return 0;
	case KT_MEMBER:
		return conf_set_member(c, value, err, err_len);
	}
	PANIC("unhandled key type");
}

void ctld_conf_defaults(struct ctld_conf *c)
{
	memset(c, 0, sizeof(*c));
	char err[CTLD_CONF_ERR_BYTES_MAX];
	for (size_t i = 0; i < ARRAY_SIZE(ctld_keys); i++) {
		if (ctld_keys[i].def == NULL)
			continue;
		int rc = ctld_conf_set(c, ctld_keys[i].name, ctld_keys[i].def, err, sizeof(err));
		ASSERT_MSG(rc == 0, "bad default: %s", err);
	}
}

/* Splits a line into key and value; strips comments and a quoted value's quotes. Returns 0
 * for a blank line, 1 for a key, -EINVAL for unbalanced quotes. */
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

int ctld_conf_load_file(struct ctld_conf *c, const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		int e = errno;
		snprintf(err, err_len, "%s: %s", path, strerror(e));
		return -e;
	}
	char line[1024], why[CTLD_CONF_ERR_BYTES_MAX];
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *key, *value;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			rc = conf_fail(err, err_len, "%s:%d: line longer than %zu bytes", path, lineno,
				       sizeof(line) - 2);
			break;
		}
		int kind = conf_line_split(line, &key, &value);
		if (kind < 0)
			rc = conf_fail(err, err_len, "%s:%d: unbalanced quotes", path, lineno);
		else if (kind == 1 && *value == '\0')
			rc = conf_fail(err, err_len, "%s:%d: %s: missing value", path, lineno, key);
		else if (kind == 1 && ctld_conf_set(c, key, value, why, sizeof(why)) != 0)
			rc = conf_fail(err, err_len, "%s:%d: %s", path, lineno, why);
	}
	fclose(f);
	return rc;
}

const struct ctld_member *ctld_conf_member(const struct ctld_conf *c, unsigned id)
{
	for (uint32_t i = 0; i < c->members_count; i++)
		if (c->members[i].id == id)
			return &c->members[i];
	return NULL;
}

int ctld_conf_validate(const struct ctld_conf *c, char *err, size_t err_len)
{
	struct sockaddr_in sa;
	if (c->node_id == 0)
		return conf_fail(err, err_len, "node-id is required");
	if (c->mgmt_addr[0] == '\0')
		return conf_fail(err, err_len, "mgmt-addr is required");
	if (c->members_count == 0)
		return conf_fail(err, err_len, "no member: list the control group's members");
	const struct ctld_member *self = ctld_conf_member(c, c->node_id);
	if (self != NULL && strcmp(self->addr, c->mgmt_addr) != 0)
		return conf_fail(err, err_len, "member %u is this node, at %s, but mgmt-addr is %s",
				 c->node_id, self->addr, c->mgmt_addr);
	if (c->metrics_addr[0] != '\0' && ctld_addr_parse(c->metrics_addr, &sa) != 0)
		return conf_fail(err, err_len, "metrics-addr '%s' is not IP:PORT", c->metrics_addr);
	if (c->raft_heartbeat_ms * 3 > c->election_ms)
		return conf_fail(err, err_len, "election-ms (%u) must be at least three times "
				 "raft-heartbeat-ms (%u)", c->election_ms, c->raft_heartbeat_ms);
	if (c->report_ms * 2 > c->node_timeout_ms)
		return conf_fail(err, err_len, "node-timeout-ms (%u) must be at least twice "
				 "report-ms (%u)", c->node_timeout_ms, c->report_ms);
	if (strlen(c->data_dir) + sizeof("/admin.sock") > CTLD_PATH_BYTES_MAX && !c->admin_socket[0])
		return conf_fail(err, err_len, "data-dir is too long for the default admin-socket");
	return 0;
}

static void conf_value_text(const struct ctld_conf *c, const struct ctld_conf_key *k, char *out,
			    size_t len)
{
	const char *p = (const char *)c + k->offset;
	uint32_t v32;
	uint64_t v64;
	switch (k->type) {
	case KT_U32:
		memcpy(&v32, p, sizeof(v32));
		snprintf(out, len, "%u", v32);
		return;
	case KT_SIZE:
		memcpy(&v64, p, sizeof(v64));
		snprintf(out, len, "%llu", (unsigned long long)v64);
		return;
	case KT_STR:
	case KT_ADDR:
		snprintf(out, len, "%s", p);
		return;
	case KT_MEMBER:
		out[0] = '\0';
		return;
	}
}

void ctld_conf_dump(const struct ctld_conf *c, void *stream)
{
	char value[CTLD_PATH_BYTES_MAX + 8];
	for (size_t i = 0; i < ARRAY_SIZE(ctld_keys); i++) {
		const struct ctld_conf_key *k = &ctld_keys[i];
		if (k->type == KT_MEMBER) {
			for (uint32_t m = 0; m < c->members_count; m++)
				fprintf(stream, "member %u %s\n", c->members[m].id, c->members[m].addr);
			continue;
		}
		conf_value_text(c, k, value, sizeof(value));
		fprintf(stream, "%s \"%s\"\n", k->name, value);
	}
}

void ctld_conf_reference_write(void *stream)
{
	fprintf(stream, "| key | default | range | meaning |\n| --- | --- | --- | --- |\n");
	for (size_t i = 0; i < ARRAY_SIZE(ctld_keys); i++) {
		const struct ctld_conf_key *k = &ctld_keys[i];
		char range[64] = "";
		if (k->type == KT_U32 || k->type == KT_SIZE)
			snprintf(range, sizeof(range), "%llu to %llu%s", (unsigned long long)k->min,
				 (unsigned long long)k->max, k->type == KT_SIZE ? " bytes" : "");
		fprintf(stream, "| `%s` | %s | %s | %s |\n", k->name,
			k->def ? (k->def[0] ? k->def : "(empty)") : "(none)", range, k->doc);
	}
}

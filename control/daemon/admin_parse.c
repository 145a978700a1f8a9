/* The admin protocol's request parser and answer codes (admin.h): pure functions shared by
 * spindle-control and spindlectl. */
#include "daemon/admin.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "base/compiler.h"
#include "daemon/conf.h"

#define ADMIN_WORDS_MAX 16
#define ADMIN_LINE_BYTES_MAX 1024

static const char *const admin_code_names[] = {
	[CTLD_ADMIN_OK] = "OK", [CTLD_ADMIN_USAGE] = "USAGE", [CTLD_ADMIN_NOLEADER] = "NOLEADER",
	[CTLD_ADMIN_NOMAJORITY] = "NOMAJORITY", [CTLD_ADMIN_UNKNOWN] = "UNKNOWN",
	[CTLD_ADMIN_STATE] = "STATE", [CTLD_ADMIN_TIMEOUT] = "TIMEOUT",
	[CTLD_ADMIN_INTERNAL] = "INTERNAL",
};

const char *ctld_admin_code_name(enum ctld_admin_code code)
{
	return (unsigned)code <= CTLD_ADMIN_CODE_MAX ? admin_code_names[code] : "INTERNAL";
}

int ctld_admin_code_parse(const char *name)
{
	for (unsigned i = 0; i <= CTLD_ADMIN_CODE_MAX; i++)
		if (strcmp(admin_code_names[i], name) == 0)
			return (int)i;
	return -1;
}

int ctld_admin_exit_code(enum ctld_admin_code code)
{
	switch (code) {
	case CTLD_ADMIN_OK: return 0;
	case CTLD_ADMIN_USAGE: return 2;
	case CTLD_ADMIN_NOLEADER:
	case CTLD_ADMIN_NOMAJORITY: return 3;
	case CTLD_ADMIN_UNKNOWN: return 4;
	case CTLD_ADMIN_STATE: return 5;
	case CTLD_ADMIN_TIMEOUT: return 6;
	default: return 1;
	}
}

PRINTF_FMT(3, 4)
static int admin_fail(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool admin_number(const char *w, uint64_t max, uint64_t *out)
{
	if (w == NULL || !isdigit((unsigned char)w[0]) || strlen(w) > 10)
		return false;
	char *end;
	unsigned long long v = strtoull(w, &end, 10);
	if (*end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static bool admin_node(const char *w, unsigned *out)
{
	uint64_t v;
	if (!admin_number(w, CTLD_NODE_ID_MAX, &v) || v == 0)
		return false;
	*out = (unsigned)v;
	return true;
}

static int admin_addrs(char **w, unsigned n, struct ctld_admin_req *r, char *err, size_t cap)
{
	struct sockaddr_in sa;
	if (n < 1 || n > 2)
		return admin_fail(err, cap, "expected MGMT_IP:PORT [REPL_ADDR]");
	if (strlen(w[0]) >= CTL_ADDR_BYTES || ctld_addr_parse(w[0], &sa) != 0)
		return admin_fail(err, cap, "'%s' is not a management address IP:PORT", w[0]);
	snprintf(r->mgmt_addr, sizeof(r->mgmt_addr), "%s", w[0]);
	if (n == 2) {
		if (strlen(w[1]) >= CTL_ADDR_BYTES)
			return admin_fail(err, cap, "replication address '%s' is too long", w[1]);
		snprintf(r->repl_addr, sizeof(r->repl_addr), "%s", w[1]);
	}
	return 0;
}

/* Takes the --options out of the words; returns the remaining count or -EINVAL. */
static int admin_options(char **w, int n, struct ctld_admin_req *r, char *err, size_t cap)
{
	int out = 0;
	for (int i = 0; i < n; i++) {
		uint64_t v;
		if (strcmp(w[i], "--json") == 0) {
			r->json = true;
		} else if (strcmp(w[i], "--to") == 0 && i + 1 < n) {
			if (!admin_node(w[++i], &r->to))
				return admin_fail(err, cap, "--to: '%s' is not a node id (1-%d)", w[i],
						  CTLD_NODE_ID_MAX);
		} else if (strcmp(w[i], "--timeout") == 0 && i + 1 < n) {
			if (!admin_number(w[++i], CTLD_ADMIN_TIMEOUT_S_MAX, &v) || v == 0)
				return admin_fail(err, cap, "--timeout: '%s' is not 1-%u seconds", w[i],
						  CTLD_ADMIN_TIMEOUT_S_MAX);
			r->timeout_ms = (uint32_t)v * 1000;
		} else if (strcmp(w[i], "--lanes") == 0 && i + 1 < n) {
			if (!admin_number(w[++i], CTL_LANES_MAX, &v) || v == 0)
				return admin_fail(err, cap, "--lanes: '%s' is not 1-%d", w[i], CTL_LANES_MAX);
			r->lanes = (uint32_t)v;
		} else if (strncmp(w[i], "--", 2) == 0) {
			return admin_fail(err, cap, "unknown option '%s'", w[i]);
		} else {
			w[out++] = w[i];
		}
	}
	return out;
}

static int admin_parse_node(char **w, int n, struct ctld_admin_req *r, char *err, size_t cap)
{
	if (n >= 3 && strcmp(w[1], "add") == 0) {
		r->op = CTLD_ADMIN_NODE_ADD;
		if (!admin_node(w[2], &r->node))
			return admin_fail(err, cap, "node add: '%s' is not a node id (1-%d)", w[2],
					  CTLD_NODE_ID_MAX);
		return admin_addrs(w + 3, (unsigned)(n - 3), r, err, cap);
	}
	if (n == 3 && strcmp(w[1], "remove") == 0) {
		r->op = CTLD_ADMIN_NODE_REMOVE;
		if (!admin_node(w[2], &r->node))
			return admin_fail(err, cap, "node remove: '%s' is not a node id", w[2]);
		return 0;
	}
	if (n == 3 && strcmp(w[1], "drain") == 0) {
		r->op = CTLD_ADMIN_NODE_DRAIN;
		if (!admin_node(w[2], &r->node))
			return admin_fail(err, cap, "node drain: '%s' is not a node id", w[2]);
		return 0;
	}
	if (n >= 4 && strcmp(w[1], "replace") == 0) {
		r->op = CTLD_ADMIN_NODE_REPLACE;
		if (!admin_node(w[2], &r->node) || !admin_node(w[3], &r->new_node) ||
		    r->node == r->new_node)
			return admin_fail(err, cap, "node replace: expected OLD NEW, two different node ids");
		return admin_addrs(w + 4, (unsigned)(n - 4), r, err, cap);
	}
	return admin_fail(err, cap, "usage: node add NODE MGMT_IP:PORT [REPL_ADDR] | node remove "
			  "NODE | node replace OLD NEW MGMT_IP:PORT [REPL_ADDR] | node drain NODE");
}

static int admin_parse_words(char **w, int n, struct ctld_admin_req *r, char *err, size_t cap)
{
	uint64_t v;
	if (n == 0)
		return admin_fail(err, cap, "empty request");
	if (strcmp(w[0], "status") == 0 && n == 1) {
		r->op = CTLD_ADMIN_STATUS;
		return 0;
	}
	if (strcmp(w[0], "bootstrap") == 0 && n == 1) {
		r->op = CTLD_ADMIN_BOOTSTRAP;
		return 0;
	}
	if (strcmp(w[0], "failover") == 0 && n == 2) {
		r->op = CTLD_ADMIN_FAILOVER;
		r->all = strcmp(w[1], "all") == 0;
		if (!r->all && !admin_number(w[1], CTL_LANES_MAX - 1, &v))
			return admin_fail(err, cap, "failover: '%s' is neither a lane number nor 'all'", w[1]);
		r->lane = r->all ? 0 : (uint32_t)v;
		return 0;
	}
	if (strcmp(w[0], "node") == 0 && n >= 2)
		return admin_parse_node(w, n, r, err, cap);
	return admin_fail(err, cap, "unknown request '%s' (status, failover, node, bootstrap)", w[0]);
}

int ctld_admin_parse(const char *line, struct ctld_admin_req *r, char *err, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->to = REPL_NODE_NONE;
	char buf[ADMIN_LINE_BYTES_MAX];
	if (strlen(line) >= sizeof(buf))
		return admin_fail(err, cap, "request longer than %d bytes", ADMIN_LINE_BYTES_MAX - 1);
	snprintf(buf, sizeof(buf), "%s", line);
	char *w[ADMIN_WORDS_MAX], *save = NULL;
	int n = 0;
	for (char *t = strtok_r(buf, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
		if (n == ADMIN_WORDS_MAX)
			return admin_fail(err, cap, "too many words");
		w[n++] = t;
	}
	n = admin_options(w, n, r, err, cap);
	if (n < 0)
		return n;
	int rc = admin_parse_words(w, n, r, err, cap);
	if (rc != 0)
		return rc;
	if (r->to != REPL_NODE_NONE && r->op != CTLD_ADMIN_FAILOVER)
		return admin_fail(err, cap, "--to is only for failover");
	if (r->lanes != 0 && r->op != CTLD_ADMIN_BOOTSTRAP)
		return admin_fail(err, cap, "--lanes is only for bootstrap");
	if (r->timeout_ms == 0)
		r->timeout_ms = r->op == CTLD_ADMIN_NODE_ADD || r->op == CTLD_ADMIN_NODE_REPLACE ||
					r->op == CTLD_ADMIN_NODE_REMOVE
				? CTLD_ADMIN_NODE_TIMEOUT_MS_DEFAULT
				: CTLD_ADMIN_TIMEOUT_MS_DEFAULT;
	return 0;
}

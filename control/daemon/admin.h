/* The admin protocol between spindlectl and its local spindle-control, on a Unix stream
 * socket: spindlectl sends one line (its arguments, space-separated); the daemon answers with
 * a status line, then the body, then closes the connection.
 *
 *   request   status [--json]
 *             failover LANE|all [--to NODE] [--timeout SECONDS] [--json]
 *             node add NODE MGMT_IP:PORT [REPL_ADDR] [--timeout SECONDS] [--json]
 *             node remove NODE [--timeout SECONDS] [--json]
 *             node replace OLD NEW MGMT_IP:PORT [REPL_ADDR] [--timeout SECONDS] [--json]
 *             node drain NODE [--timeout SECONDS] [--json]
 *             bootstrap [--lanes N] [--timeout SECONDS] [--json]
 *   answer    "OK\n" body, or "ERR CODE\n" body (the body says why, in text or JSON)
 *
 * Commands that change the cluster wait until the change has happened (or the timeout) and
 * say what happened and how long it took. The codes (enum ctld_admin_code) map to
 * spindlectl's exit codes. */
#ifndef SPINDLE_CONTROL_DAEMON_ADMIN_H
#define SPINDLE_CONTROL_DAEMON_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/core/ctl.h"

#define CTLD_ADMIN_TIMEOUT_MS_DEFAULT 15000u
#define CTLD_ADMIN_NODE_TIMEOUT_MS_DEFAULT 60000u
#define CTLD_ADMIN_TIMEOUT_S_MAX 3600u

enum ctld_admin_op {
	CTLD_ADMIN_STATUS = 1,
	CTLD_ADMIN_FAILOVER,
	CTLD_ADMIN_NODE_ADD,
	CTLD_ADMIN_NODE_REMOVE,
	CTLD_ADMIN_NODE_REPLACE,
	CTLD_ADMIN_BOOTSTRAP,
	CTLD_ADMIN_NODE_DRAIN,  /* every lane NODE leads switches over to another voter, and
				 * switchovers to NODE not yet under way are cancelled */
};

enum ctld_admin_code {
	CTLD_ADMIN_OK = 0,
	CTLD_ADMIN_USAGE,      /* the request is malformed */
	CTLD_ADMIN_NOLEADER,   /* no control group leader: no majority of daemons reachable */
	CTLD_ADMIN_NOMAJORITY, /* a lane has no healthy majority to carry the change */
	CTLD_ADMIN_UNKNOWN,    /* no such lane or node */
	CTLD_ADMIN_STATE,      /* the cluster is not in a state that allows it */
	CTLD_ADMIN_TIMEOUT,    /* asked for, not done in time (it may still happen) */
	CTLD_ADMIN_INTERNAL,
};
#define CTLD_ADMIN_CODE_MAX CTLD_ADMIN_INTERNAL

struct ctld_admin_req {
	enum ctld_admin_op op;
	bool json;
	bool all;                    /* failover all */
	uint32_t lane;
	unsigned to;                 /* failover --to, or REPL_NODE_NONE */
	unsigned node, new_node;     /* node add/remove/drain: node; replace: node -> new_node */
	char mgmt_addr[CTL_ADDR_BYTES];
	char repl_addr[CTL_ADDR_BYTES];
	uint32_t lanes;              /* bootstrap --lanes; 0: the dataplane's */
	uint32_t timeout_ms;
};

/* Parses a request line (without its newline). Returns 0, or -EINVAL with a sentence in err. */
int ctld_admin_parse(const char *line, struct ctld_admin_req *req, char *err, size_t err_cap);
/* "OK", "USAGE", "NOLEADER", ... and back (-1 for an unknown name). */
const char *ctld_admin_code_name(enum ctld_admin_code code);
int ctld_admin_code_parse(const char *name);
/* spindlectl's exit code for an answer's code: 0 OK, 2 usage, 3 no leader or no majority,
 * 4 unknown lane or node, 5 not allowed in this state, 6 timeout, 1 otherwise. */
int ctld_admin_exit_code(enum ctld_admin_code code);

#endif

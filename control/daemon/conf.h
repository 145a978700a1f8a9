/* spindle-control's configuration: one table of keys (type, range, default, documentation)
 * drives the file parser, the `--key value` overrides, `--check-config` and the reference
 * in docs/CONTROL.md (`--help-config`). The file format is spindled's: one `key value` per
 * line, `#` comments, double-quoted values, k/m/g size suffixes; `member` repeats.
 *
 * Addresses are IPv4 "IP:PORT". The control daemons form one Raft group over the management
 * network; `member` lines name its initial members (node id and management address), which
 * must be the same on every node of a new cluster. Nodes added later learn the group from
 * its replicated state. */
#ifndef SPINDLE_CONTROL_DAEMON_CONF_H
#define SPINDLE_CONTROL_DAEMON_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "control/core/ctl.h"

#define CTLD_PATH_BYTES_MAX 108      /* sun_path of a Unix socket; data-dir shares it */
#define CTLD_CONF_ERR_BYTES_MAX 512
#define CTLD_NODE_ID_MAX 63           /* node ids are 1..63, as spindled's */

struct ctld_member {
	uint8_t id;
	char addr[CTL_ADDR_BYTES];   /* management "IP:PORT" */
};

struct ctld_conf {
	/* Identity and the group */
	uint32_t node_id;
	uint32_t cluster_id;
	char mgmt_addr[CTL_ADDR_BYTES];
	char repl_addr[CTL_ADDR_BYTES];  /* this node's replication address, for the record */
	struct ctld_member members[CTL_NODES_MAX];
	uint32_t members_count;
	/* Where things are */
	char data_dir[CTLD_PATH_BYTES_MAX];
	char dataplane_socket[CTLD_PATH_BYTES_MAX];
	char admin_socket[CTLD_PATH_BYTES_MAX];
	char metrics_addr[CTL_ADDR_BYTES];
	/* The dataplane link */
	uint32_t dataplane_timeout_ms;
	uint32_t reconnect_ms;
	uint32_t push_ms;
	/* Reports and decisions */
	uint32_t report_ms;
	uint32_t node_timeout_ms;
	uint32_t lease_wait_ms;
	uint32_t prepare_retry_ms;
	uint32_t propose_retry_ms;
	uint32_t not_acting_ms;
	uint32_t handoff_wait_ms;
	uint32_t balance_every_ms;
	/* The control group's Raft */
	uint32_t election_ms;
	uint32_t raft_heartbeat_ms;
	uint64_t segment_bytes;
	uint64_t snapshot_every_bytes;
	/* Diagnostics */
	char log_level[16];
};

void ctld_conf_defaults(struct ctld_conf *c);
/* Applies a file's keys. On error returns a negative errno and writes "FILE:LINE: reason". */
int ctld_conf_load_file(struct ctld_conf *c, const char *path, char *err, size_t err_len);
/* Applies one key (`--key value` on the command line, or a line of a file). */
int ctld_conf_set(struct ctld_conf *c, const char *key, const char *value, char *err,
		  size_t err_len);
/* Checks the keys against each other (this node among the members, the lease wait ...). */
int ctld_conf_validate(const struct ctld_conf *c, char *err, size_t err_len);
/* The effective configuration as `key value` lines, and the reference as a markdown table. */
void ctld_conf_dump(const struct ctld_conf *c, void *stream);
void ctld_conf_reference_write(void *stream);
/* The member entry of node id, or NULL. */
const struct ctld_member *ctld_conf_member(const struct ctld_conf *c, unsigned id);

/* "IP:PORT" (IPv4, port 1-65535) into a socket address; 0 or -EINVAL. */
int ctld_addr_parse(const char *text, struct sockaddr_in *out);

#endif

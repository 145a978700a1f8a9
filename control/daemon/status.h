/* What spindlectl status and the metrics endpoint show, as plain data collected from the
 * daemon (ctld_status_collect in group.c) and rendered by pure functions: a human table, a
 * JSON document, and the Prometheus text format. The renderers take nothing but this
 * snapshot, so the tests can build one by hand. */
#ifndef SPINDLE_CONTROL_DAEMON_STATUS_H
#define SPINDLE_CONTROL_DAEMON_STATUS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "control/core/ctl.h"

#define CTLD_STATUS_LANES_MAX 1024u

/* A growable text buffer. */
struct ctld_buf {
	char *p;
	size_t len, cap;
	bool oom;           /* an append failed for lack of memory: the text is cut short */
};
void ctld_buf_printf(struct ctld_buf *b, const char *fmt, ...) PRINTF_FMT(2, 3);
/* s as a JSON string, quotes and escapes included. */
void ctld_buf_json_string(struct ctld_buf *b, const char *s);
void ctld_buf_free(struct ctld_buf *b);

struct ctld_status_node {
	uint8_t state;               /* enum ctl_node_state */
	bool in_group;               /* a voter or learner of the control group */
	bool group_voter;
	bool healthy, reporting, alive;
	uint32_t report_age_ms;
	uint64_t peers_heard;
	unsigned primaries;
	char mgmt_addr[CTL_ADDR_BYTES];
	char repl_addr[CTL_ADDR_BYTES];
};

struct ctld_status_lane {
	uint64_t epoch, prep_epoch;
	uint8_t primary, switch_target;
	uint64_t voters, learners, prev_voters;
	uint64_t caught_up;          /* from the primary's report, through the leader's view */
	uint8_t flags;               /* enum ctld_view_lane_flag */
};

struct ctld_status_counters {
	uint64_t applied, rejected, proposals, leader_changes, failovers, switchovers_done;
	uint64_t failovers_started, failovers_done, switchovers, members_changes, prepares_sent;
	uint64_t mgmt_tx, mgmt_rx, mgmt_rx_bad, mgmt_rx_version, mgmt_tx_errors;
	uint64_t link_connects, link_disconnects, link_heartbeats, link_promises, link_rx_bad;
	uint64_t log_first, log_last, log_bytes, snapshot_index, snapshots_taken;
	uint64_t snapshots_installed;
};

struct ctld_status {
	unsigned self;
	uint64_t term;
	unsigned leader;             /* REPL_NODE_NONE when unknown */
	bool is_leader;
	int role;                    /* enum repl_role of this daemon */
	uint64_t commit_index, applied_index, last_index;
	bool have_view;
	uint64_t view_age_ms;
	uint64_t uptime_ms;
	/* This node's dataplane */
	bool link_up, dataplane_alive;
	uint64_t dataplane_incarnation;
	uint64_t dataplane_hb_age_ms;
	uint32_t dataplane_lanes;
	uint32_t n_lanes;            /* 0 before bootstrap */
	uint64_t node_mask;          /* nodes with a state, or in the group */
	struct ctld_status_node node[CTL_NODES_MAX];
	struct ctld_status_lane lane[CTLD_STATUS_LANES_MAX];
	struct ctld_status_counters c;
};

/* "1,2,3" or "-" for a node bitmap. */
void ctld_nodes_text(uint64_t set, char *out, size_t cap);
const char *ctld_node_state_name(uint8_t state);

void ctld_status_render_text(const struct ctld_status *st, struct ctld_buf *out);
void ctld_status_render_json(const struct ctld_status *st, struct ctld_buf *out);
void ctld_metrics_render(const struct ctld_status *st, struct ctld_buf *out);

#endif

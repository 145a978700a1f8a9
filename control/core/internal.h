/* What the leader's source files share (leader.c: observations and health; failover.c:
 * failovers and switchovers; members.c: membership and balancing). */
#ifndef SPINDLE_CONTROL_CORE_INTERNAL_H
#define SPINDLE_CONTROL_CORE_INTERNAL_H

#include "control/core/ctl.h"

struct obs_node {
	bool have;
	uint64_t seen_ms;
	struct ctl_msg_heartbeat hb;    /* lanes point into `lanes` */
	struct ctl_lane_status *lanes;  /* indexed by lane, lanes_cap of them */
	uint64_t lanes_seen;            /* how many entries of `lanes` are valid */
	uint32_t lanes_cap;
};

struct obs_lane {
	uint64_t prep_epoch;            /* promises below are for this epoch */
	struct repl_promise promise[CTL_NODES_MAX];
	uint64_t promised;              /* bitmap */
	uint64_t majority_ms;
	uint64_t prepare_sent_ms;
	uint64_t proposed_ms;           /* last proposal about this lane, and which */
	uint8_t proposed_type;
	uint8_t proposed_node;
	uint64_t proposed_epoch;
	struct repl_members proposed_members;
	uint64_t seen_epoch;
	unsigned seen_primary;
	uint64_t appointed_ms;          /* when this leader first saw the current primary */
	uint64_t handoff_ms;            /* a HANDOFF was first sent */
	uint64_t handoff_sent_ms;
	uint64_t target_down_ms;        /* a switchover's target was first seen unhealthy */
};

struct ctl_leader {
	struct ctl_leader_options o;
	struct ctl_leader_io io;
	const struct ctl_state *s;
	uint64_t reset_ms;
	struct obs_node node[CTL_NODES_MAX];
	struct obs_lane *lane;          /* the state's n_lanes, grown as needed */
	uint32_t lanes_cap;
	uint64_t node_proposed_ms[CTL_NODES_MAX];
	uint64_t balance_ms;
	struct ctl_leader_stats stats;
};

/* leader.c */
const struct ctl_lane_status *ctl_status_of(const struct ctl_leader *l, uint64_t now,
					    unsigned node, uint32_t lane);
unsigned ctl_majority_of(uint64_t set);
/* The fewest members of set that meet every majority of it: ceil(n / 2). */
unsigned ctl_quorum_meet_of(uint64_t set);
unsigned ctl_count_healthy(const struct ctl_leader *l, uint64_t now, uint64_t set);
/* Proposes a lane command unless the same one went out less than propose_retry_ms ago
 * (it may still be on its way to commit). */
void ctl_propose_lane(struct ctl_leader *l, uint8_t type, uint32_t lane, uint64_t epoch,
		      unsigned node, const struct repl_members *m, uint64_t now);
void ctl_send_prepare(struct ctl_leader *l, uint8_t type, unsigned node, uint32_t lane,
		      uint64_t epoch, unsigned target);
unsigned ctl_primaries_on(const struct ctl_state *s, unsigned node);

/* Makes room for observations of every lane of the state; false when out of memory. */
bool ctl_obs_lanes_fit(struct ctl_leader *l);

/* failover.c */
void ctl_lane_tick(struct ctl_leader *l, uint32_t lane, uint64_t now);

/* members.c */
void ctl_members_tick(struct ctl_leader *l, uint64_t now);
void ctl_balance_tick(struct ctl_leader *l, uint64_t now);

#endif

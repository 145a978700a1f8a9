/* The control plane's logic, pure (no I/O, no clock reads): the replicated state machine of
 * the control group (nodes and lanes), the messages between a dataplane, its control daemon
 * and the other daemons (CONFIG, HEARTBEAT, REPORT, PREPARE, PROMISE, HANDOFF) with their
 * wire form, and the decisions the control group's leader makes (failure detection, failover,
 * switchover, membership, balancing). spindle-control carries the messages over a Unix
 * socket and the management network and runs the state machine on the shared replication
 * core in election mode; the simulator runs the same code.
 *
 * Failover of a lane (epoch e, primary P), as DESIGN.md section 5 says:
 *  1. commit LANE_PREPARE(e+1);
 *  2. ask the lane's voters to promise e+1 (PREPARE); each refuses epoch e from then on and
 *     answers with its last durable (epoch, index) (PROMISE);
 *  3. once a majority of the voters (of the old and the new voters while a voter change is
 *     not settled) has promised without damage, wait out P's lease (lease_wait_ms on the
 *     leader's clock) unless P itself promised and so stepped down;
 *  4. choose a promised, healthy voter X whose log is at least as up to date as those of a
 *     majority of the promises, and commit LANE_PRIMARY(e+1, X). X starts with a NOOP. */
#ifndef SPINDLE_CONTROL_CORE_CTL_H
#define SPINDLE_CONTROL_CORE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "repl/repl.h"

#define CTL_NODES_MAX REPL_NODES_MAX
#define CTL_LANES_MAX 4096
#define CTL_ADDR_BYTES 48          /* "host:port" of a node's management and replication */
#define CTL_WIRE_VERSION 1
#define CTL_MSG_BYTES_MAX (1u << 20)

/* ---- The replicated state ---- */

enum ctl_node_state {
	CTL_NODE_NONE = 0,    /* not part of the cluster */
	CTL_NODE_JOINING = 1, /* added: becoming a learner, then a voter, in every lane */
	CTL_NODE_ACTIVE = 2,
	CTL_NODE_LEAVING = 3, /* being removed from every lane */
};

struct ctl_node {
	uint8_t state;
	char mgmt_addr[CTL_ADDR_BYTES];
	char repl_addr[CTL_ADDR_BYTES];
};

struct ctl_lane {
	uint64_t epoch;        /* 0 until bootstrapped */
	uint8_t primary;
	struct repl_members members;
	uint64_t prep_epoch;   /* a failover in progress to this epoch, or 0 */
	uint8_t prep_target;   /* a planned switchover's target, or REPL_NODE_NONE */
	uint64_t prev_voters;  /* before an unsettled voter change (joint majorities), or 0 */
	uint8_t switch_target; /* a switchover asked for (admin or balancing), or NONE */
};

struct ctl_state {
	uint64_t applied_index;
	uint32_t n_lanes;      /* fixed at bootstrap */
	struct ctl_node nodes[CTL_NODES_MAX];
	struct ctl_lane lanes[CTL_LANES_MAX];
	uint64_t rejected;     /* commands that did not apply (stale or invalid) */
};

/* Commands: the payload of the control group's DATA entries. */
enum ctl_cmd_type {
	CTL_CMD_BOOTSTRAP = 1,    /* n_lanes lanes over the nodes in `nodes`, epoch 1 */
	CTL_CMD_NODE_ADD = 2,     /* node joins: JOINING */
	CTL_CMD_NODE_REMOVE = 3,  /* node leaves: LEAVING */
	CTL_CMD_NODE_STATE = 4,   /* JOINING -> ACTIVE, LEAVING -> NONE */
	CTL_CMD_LANE_PREPARE = 5, /* "epoch e preparing" */
	CTL_CMD_LANE_PRIMARY = 6, /* "epoch e, primary X" */
	CTL_CMD_LANE_MEMBERS = 7, /* voters/learners (one voter at a time; joint until settled) */
	CTL_CMD_LANE_SETTLED = 8, /* the lane's primary runs with the current voters */
	CTL_CMD_SWITCHOVER = 9,   /* ask for a planned switchover of a lane to a node */
};

struct ctl_cmd {
	uint8_t type;
	uint8_t node;          /* NODE_*, LANE_PRIMARY (primary), SWITCHOVER, LANE_PREPARE target */
	uint8_t node_state;    /* NODE_STATE */
	uint32_t lane;
	uint64_t epoch;
	struct repl_members members; /* LANE_MEMBERS; BOOTSTRAP: voters = the nodes */
	uint32_t n_lanes;      /* BOOTSTRAP */
	char mgmt_addr[CTL_ADDR_BYTES], repl_addr[CTL_ADDR_BYTES]; /* NODE_ADD */
};

void ctl_state_init(struct ctl_state *s);
/* Applies a committed command at index; returns 0, or a negative errno when the command does
 * not apply to the current state (it is then ignored, the same way on every replica). */
int ctl_state_apply(struct ctl_state *s, uint64_t index, const struct ctl_cmd *cmd);
ssize_t ctl_cmd_encode(const struct ctl_cmd *cmd, uint8_t *buf, size_t cap);
int ctl_cmd_decode(const uint8_t *buf, size_t len, struct ctl_cmd *out);
/* The whole state, for the control group's snapshots. */
size_t ctl_state_encoded_bytes(const struct ctl_state *s);
ssize_t ctl_state_encode(const struct ctl_state *s, uint8_t *buf, size_t cap);
int ctl_state_decode(const uint8_t *buf, size_t len, struct ctl_state *out);
/* The lane's configuration for the dataplane; false before bootstrap. */
bool ctl_state_lane_config(const struct ctl_state *s, uint32_t lane, struct repl_config *out);

/* ---- Messages ---- */

enum ctl_msg_type {
	CTL_MSG_CONFIG = 1,    /* daemon -> dataplane: lane configurations */
	CTL_MSG_HEARTBEAT = 2, /* dataplane -> daemon: liveness, progress, reachability, lanes */
	CTL_MSG_REPORT = 3,    /* daemon -> leader: the heartbeat and the daemon's verdict */
	CTL_MSG_PREPARE = 4,   /* leader -> daemon -> dataplane: promise this epoch */
	CTL_MSG_PROMISE = 5,   /* dataplane -> daemon -> leader */
	CTL_MSG_HANDOFF = 6,   /* leader -> daemon -> dataplane: prepare a planned switchover */
};
#define CTL_MSG_TYPE_MAX 6

/* A lane as its replica sees it, in HEARTBEAT and REPORT. */
struct ctl_lane_status {
	uint32_t lane;
	uint64_t epoch;
	uint8_t role;            /* enum repl_role */
	uint64_t voters;         /* the voters this replica runs with */
	uint64_t caught_up;      /* primary: followers within the lag bound */
	bool handoff_ready;
	bool damaged;
};

struct ctl_msg_config {
	uint32_t n;
	const struct repl_config *lanes_cfg; /* decode: into the caller's array */
	const uint32_t *lane_ids;
};

struct ctl_msg_heartbeat {
	uint64_t incarnation;    /* changes when the dataplane restarts */
	uint64_t progress;       /* grows while the dataplane's loops turn */
	uint64_t peers_heard;    /* nodes heard on the replication network recently */
	bool alive;              /* REPORT: the daemon's verdict on its dataplane */
	uint32_t n_lanes;
	const struct ctl_lane_status *lanes;
};

struct ctl_msg_prepare {
	uint32_t lane;
	uint64_t epoch;
	uint8_t target;          /* HANDOFF: the new primary to hand off to */
};

struct ctl_msg_promise {
	uint32_t lane;
	uint64_t incarnation;    /* of the dataplane that promised (as in its heartbeats) */
	struct repl_promise promise;
};

struct ctl_msg {
	uint8_t type;
	uint8_t node;            /* the node the message is about (sender for reports) */
	uint64_t term;           /* REPORT/PROMISE: the leader term it is meant for */
	union {
		struct ctl_msg_config config;
		struct ctl_msg_heartbeat hb; /* HEARTBEAT and REPORT */
		struct ctl_msg_prepare prepare; /* PREPARE and HANDOFF */
		struct ctl_msg_promise promise;
	};
};

size_t ctl_msg_encoded_bytes(const struct ctl_msg *m);
ssize_t ctl_msg_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap);
/* Arrays inside the message (CONFIG lanes, HEARTBEAT lanes) are decoded into the caller's
 * arrays of cap elements. Returns 0, -EPROTONOSUPPORT or -EBADMSG. */
struct ctl_decode_space {
	struct ctl_lane_status *status;
	struct repl_config *cfg;
	uint32_t *lane_ids;
	uint32_t cap;
};
int ctl_msg_decode(const uint8_t *buf, size_t len, struct ctl_msg *m,
		   const struct ctl_decode_space *space);

/* ---- The leader's decisions ---- */

struct ctl_leader_options {
	uint32_t node_timeout_ms;   /* no report for this long: the node is dead */
	uint32_t lease_wait_ms;     /* >= the lanes' lease_ms (repl.h gives the inequality) */
	uint32_t prepare_retry_ms;  /* PREPARE/HANDOFF resent this often until answered */
	uint32_t propose_retry_ms;  /* a command not yet in the state is proposed again */
	uint32_t not_acting_ms;     /* an appointed primary not acting for this long is replaced */
	uint32_t handoff_wait_ms;   /* a switchover goes ahead without handoff after this */
	uint32_t balance_every_ms;  /* one balancing switchover at most this often (0: never) */
};
void ctl_leader_options_default(struct ctl_leader_options *o);

struct ctl_leader_io {
	void *ctx;
	/* Appends a command to the control log (the leader's repl_propose). */
	void (*propose)(void *ctx, const struct ctl_cmd *cmd);
	/* Sends PREPARE or HANDOFF to a node's daemon. */
	void (*send)(void *ctx, unsigned node, const struct ctl_msg *m);
};

struct ctl_leader;
struct ctl_leader *ctl_leader_create(const struct ctl_leader_options *o,
				     const struct ctl_leader_io *io, const struct ctl_state *s);
void ctl_leader_destroy(struct ctl_leader *l);
/* Forget every observation: call when this daemon becomes leader (observations start over,
 * and no node is declared dead before node_timeout_ms has passed). */
void ctl_leader_reset(struct ctl_leader *l, uint64_t now_ms);
void ctl_leader_report(struct ctl_leader *l, uint64_t now_ms, unsigned node,
		       const struct ctl_msg_heartbeat *r);
void ctl_leader_promise(struct ctl_leader *l, uint64_t now_ms, unsigned node,
			const struct ctl_msg_promise *p);
/* Looks at the state and the observations and acts; call every few milliseconds. */
void ctl_leader_tick(struct ctl_leader *l, uint64_t now_ms);
/* The failure detector's verdict. */
bool ctl_leader_healthy(const struct ctl_leader *l, uint64_t now_ms, unsigned node);

struct ctl_leader_stats {
	uint64_t failovers_started, failovers_done, switchovers, members_changes, prepares_sent;
};
void ctl_leader_stats_get(const struct ctl_leader *l, struct ctl_leader_stats *out);

#endif

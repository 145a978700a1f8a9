/* The control plane in the simulation: on every node a control daemon that is a member of
 * the control group (the replication core in election mode, on simulated storage, over the
 * management network), applies the committed commands to its copy of the cluster state
 * (control/core), pushes the lanes' configurations to its dataplane, watches its dataplane
 * through heartbeats, reports to the leader, and carries PREPARE, PROMISE and HANDOFF
 * between the leader and its dataplane. The leader runs the control logic. Every message
 * goes through its wire form. An "operator" also asks for switchovers now and then. */
#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/core/ctl.h"

#define CTL_TICK_US 5000
#define DP_HEARTBEAT_US 10000   /* dataplane -> daemon */
#define DP_TIMEOUT_US 40000     /* no heartbeat for this long: the dataplane is dead */
#define REPORT_US 20000         /* daemon -> leader */
#define PUSH_US 100000          /* full configuration push to the dataplane */
#define BOOTSTRAP_RETRY_US 100000
#define OPERATOR_US 400000

enum { MGMT_RAFT = 0, MGMT_CTL = 1 };

struct sim_ctl {
	struct sim_cluster *c;
	unsigned node;
	struct repl *r;
	struct sim_store store;
	struct ctl_state *state;
	struct ctl_leader *leader;
	bool is_leader;
	uint64_t leader_since_us;
	unsigned leader_node;           /* the group's leader as far as we know */
	/* what the dataplane last said */
	uint64_t dp_seen_us;
	struct ctl_lane_status dp_lanes[SIM_LANES_MAX];
	uint64_t dp_incarnation, dp_progress, dp_peers;
	uint32_t dp_n_lanes;
	uint64_t pushed_index;
	uint64_t pushed_us;
	uint64_t reported_us;
	uint64_t bootstrap_us;
	uint64_t applied_since_snapshot;
};

struct sim_control {
	struct sim_ctl ctl[SIM_NODES_MAX];
	struct repl_options opts;
	struct ctl_leader_options lopts;
	uint64_t operator_us;
	bool spare_added;
	unsigned victim;        /* the node the operator removes, once chosen */
};

static struct sim_ctl *ctl_of(void *store)
{
	return container_of(store, struct sim_ctl, store);
}

static uint64_t ctl_now_ms(struct sim_ctl *d)
{
	return sim_clock_ms(&d->c->node[d->node].clock, d->c->sched.now_us);
}

/* ---- Management network ---- */

static void mgmt_send(struct sim_ctl *d, unsigned dst, uint8_t kind, const uint8_t *bytes,
		      size_t len)
{
	static uint8_t buf[1 + CTL_MSG_BYTES_MAX];
	if (len > CTL_MSG_BYTES_MAX)
		return;
	buf[0] = kind;
	memcpy(buf + 1, bytes, len);
	sim_net_send(&d->c->net, SIM_PLANE_MGMT, d->node, dst, buf, len + 1);
}

static void ctl_msg_send(struct sim_ctl *d, unsigned dst, const struct ctl_msg *m)
{
	static uint8_t buf[CTL_MSG_BYTES_MAX];
	ssize_t n = ctl_msg_encode(m, buf, sizeof(buf));
	if (n < 0) {
		sim_fail(d->c, "control message encode failed: %zd", n);
		return;
	}
	mgmt_send(d, dst, MGMT_CTL, buf, (size_t)n);
}

static void leader_handle(struct sim_ctl *d, unsigned src, const struct ctl_msg *m);
static void daemon_handle(struct sim_ctl *d, const struct ctl_msg *m);

/* A message for the leader: handled here if we are it, else sent to whom we believe. */
static void to_leader(struct sim_ctl *d, const struct ctl_msg *m)
{
	if (d->is_leader) {
		leader_handle(d, d->node, m);
		return;
	}
	if (d->leader_node != REPL_NODE_NONE)
		ctl_msg_send(d, d->leader_node, m);
}

/* ---- The control group's I/O table: the host half ---- */

static void raft_send(void *ctx, unsigned dst, const struct repl_msg *m)
{
	struct sim_ctl *d = ctl_of(ctx);
	static uint8_t buf[REPL_MSG_BYTES_MAX];
	ssize_t n = repl_msg_encode(m, buf, sizeof(buf));
	if (n < 0) {
		sim_fail(d->c, "control group encode failed: %zd", n);
		return;
	}
	if (dst < d->c->p.nodes)
		mgmt_send(d, dst, MGMT_RAFT, buf, (size_t)n);
}

static uint64_t raft_now_ms(void *ctx)
{
	return ctl_now_ms(ctl_of(ctx));
}

static uint64_t raft_random(void *ctx)
{
	return sim_rng_next(&ctl_of(ctx)->c->rng);
}

/* The daemon snapshots its copy of the state and compacts the control group's log, so that
 * a daemon far behind is caught up with a snapshot. */
static void compact_event(void *arg, uint64_t incarnation, uint64_t unused)
{
	(void)unused;
	struct sim_ctl *d = arg;
	struct sim_node *n = &d->c->node[d->node];
	if (!n->up || n->incarnation != incarnation || !d->r)
		return;
	struct repl_state rs;
	repl_state_get(d->r, &rs);
	const struct sim_record *rec = sim_store_get(&d->store, rs.applied_index);
	if (rs.applied_index <= rs.snapshot_index || !rec)
		return;
	size_t len = ctl_state_encoded_bytes(d->state);
	uint8_t *buf = malloc(len);
	ASSERT(buf);
	if (ctl_state_encode(d->state, buf, len) != (ssize_t)len) {
		sim_fail(d->c, "node %u: control state does not encode", d->node);
		free(buf);
		return;
	}
	struct repl_snapshot_meta meta = { .index = rs.applied_index, .epoch = rec->epoch,
					   .total_bytes = len, .members = rs.members };
	uint64_t start = sim_store_compact(&d->store, &meta, buf, sim_rng_below(&d->c->rng, 4));
	repl_log_compacted(d->r, rs.applied_index, start, &rs.members);
	free(buf);
}

/* A snapshot received from the leader replaces the daemon's copy of the state. */
static void ctl_install(void *ctx, const struct repl_snapshot_meta *m, const uint8_t *bytes,
			size_t len)
{
	struct sim_ctl *d = ctl_of(ctx);
	(void)m;
	if (ctl_state_decode(bytes, len, d->state) != 0)
		sim_fail(d->c, "node %u: installed control snapshot does not decode", d->node);
	d->c->stats.ctl_installs++;
}

static void raft_apply(void *ctx, const struct repl_entry *e)
{
	struct sim_ctl *d = ctl_of(ctx);
	sim_check_apply(d->c, SIM_CONTROL_SLOT, d->node, e);
	if (e->type != REPL_ENTRY_DATA)
		return;
	struct ctl_cmd cmd;
	if (ctl_cmd_decode(e->payload, e->len, &cmd) != 0) {
		sim_fail(d->c, "node %u: undecodable control command at %llu", d->node,
			 (unsigned long long)e->index);
		return;
	}
	int rc = ctl_state_apply(d->state, e->index, &cmd);
	if (++d->applied_since_snapshot >= d->c->p.ctl_snapshot_every) {
		d->applied_since_snapshot = 0;
		struct sim_node *n = &d->c->node[d->node];
		sim_sched_after(&d->c->sched, 0, compact_event, d, n->incarnation, 0);
	}
	if (cmd.type == CTL_CMD_LANE_PRIMARY && rc == 0 && d->is_leader) {
		d->c->stats.failovers++;
		sim_trace(d->c, "control: lane %u epoch %llu primary %u", cmd.lane,
			  (unsigned long long)cmd.epoch, cmd.node);
	}
}

static void raft_abandon(void *ctx, uint64_t from)
{
	(void)ctx;
	(void)from; /* proposals are retried by the leader's logic, not waited on */
}

static void raft_role(void *ctx, enum repl_role role, uint64_t epoch, unsigned primary)
{
	struct sim_ctl *d = ctl_of(ctx);
	d->leader_node = primary;
	bool was = d->is_leader;
	d->is_leader = role == REPL_ROLE_PRIMARY;
	if (d->is_leader) {
		sim_check_primary(d->c, SIM_CONTROL_SLOT, epoch, d->node);
		if (!was) {
			sim_trace(d->c, "control: node %u leads term %llu", d->node,
				  (unsigned long long)epoch);
			ctl_leader_reset(d->leader, ctl_now_ms(d));
			d->leader_since_us = d->c->sched.now_us;
		}
	}
}

static void raft_read_confirmed(void *ctx, uint64_t seq)
{
	(void)ctx;
	(void)seq;
}

static void raft_promised(void *ctx, const struct repl_promise *p)
{
	(void)ctx;
	(void)p; /* mode B has no promises */
}

static void raft_fatal(void *ctx, int err, uint64_t index)
{
	struct sim_ctl *d = ctl_of(ctx);
	sim_trace(d->c, "node %u control: fatal %d at %llu: node stops", d->node, err,
		  (unsigned long long)index);
	sim_node_fail_stop(&d->c->node[d->node]);
}

/* ---- The leader's I/O ---- */

static void leader_propose(void *ctx, const struct ctl_cmd *cmd)
{
	struct sim_ctl *d = ctx;
	uint8_t buf[256];
	ssize_t n = ctl_cmd_encode(cmd, buf, sizeof(buf));
	if (n < 0 || !d->r) {
		sim_fail(d->c, "control command encode failed: %zd", n);
		return;
	}
	(void)repl_propose(d->r, REPL_ENTRY_DATA, buf, (uint32_t)n);
	repl_flush(d->r);
}

static void leader_send(void *ctx, unsigned node, const struct ctl_msg *m)
{
	struct sim_ctl *d = ctx;
	if (node == d->node)
		daemon_handle(d, m);
	else if (node < d->c->p.nodes)
		ctl_msg_send(d, node, m);
}

/* ---- Life cycle ---- */

static void ctl_start(struct sim_ctl *d)
{
	struct sim_control *sc = d->c->control;
	struct repl_io io = { 0 };
	sim_store_io(&d->store, &io);
	io.send = raft_send;
	io.now_ms = raft_now_ms;
	io.random = raft_random;
	io.apply = raft_apply;
	io.abandon = raft_abandon;
	io.role = raft_role;
	io.read_confirmed = raft_read_confirmed;
	io.promised = raft_promised;
	io.fatal = raft_fatal;
	struct repl_boot boot;
	struct repl_members all = { .voters = (1ull << d->c->p.nodes) - 1 };
	sim_store_recover(&d->store, &boot, &all);
	struct repl_options o = sc->opts;
	o.node_id = d->node;
	ctl_state_init(d->state);
	if (d->store.snap.index > 0 &&
	    ctl_state_decode(d->store.snap_bytes, d->store.snap.total_bytes, d->state) != 0)
		sim_fail(d->c, "node %u: control snapshot does not decode", d->node);
	if (d->store.snap.index > 0)
		boot.members = d->store.snap.members;
	d->applied_since_snapshot = 0;
	d->is_leader = false;
	d->leader_node = REPL_NODE_NONE;
	d->dp_seen_us = 0;
	d->pushed_index = 0;
	d->pushed_us = 0;
	d->r = repl_create(&o, &io, &boot);
	ASSERT(d->r);
	d->store.r = d->r;
}

static void ctl_node_crashed(struct sim_cluster *c, unsigned node)
{
	struct sim_ctl *d = &c->control->ctl[node];
	repl_destroy(d->r);
	d->r = NULL;
	d->is_leader = false;
	sim_store_crash(&d->store);
}

static void ctl_node_started(struct sim_cluster *c, unsigned node)
{
	if (c->control)
		ctl_start(&c->control->ctl[node]);
}

/* ---- Dataplane <-> daemon (the Unix socket) ---- */

/* The dataplane's heartbeat: progress, whom it hears, and its lanes. */
static void dp_heartbeat(struct sim_cluster *c, struct sim_node *n)
{
	struct ctl_lane_status lanes[SIM_LANES_MAX];
	uint64_t peers = 0;
	for (unsigned o = 0; o < c->p.nodes; o++)
		if (o == n->id || (n->heard_us[o] && c->sched.now_us - n->heard_us[o] <= c->p.heard_us))
			peers |= 1ull << o;
	for (unsigned k = 0; k < c->p.lanes; k++)
		sim_lane_status(&n->lane[k], &lanes[k]);
	struct ctl_msg m = { .type = CTL_MSG_HEARTBEAT, .node = (uint8_t)n->id };
	m.hb = (struct ctl_msg_heartbeat){ .incarnation = n->incarnation, .progress = n->progress,
					   .peers_heard = peers, .n_lanes = c->p.lanes,
					   .lanes = lanes };
	uint8_t buf[1024];
	ssize_t len = ctl_msg_encode(&m, buf, sizeof(buf));
	struct ctl_msg got;
	struct ctl_decode_space space = { .status = c->control->ctl[n->id].dp_lanes,
					  .cap = SIM_LANES_MAX };
	if (len < 0 || ctl_msg_decode(buf, (size_t)len, &got, &space) != 0) {
		sim_fail(c, "node %u: heartbeat does not round-trip", n->id);
		return;
	}
	struct sim_ctl *d = &c->control->ctl[n->id];
	d->dp_seen_us = c->sched.now_us;
	d->dp_incarnation = got.hb.incarnation;
	d->dp_progress = got.hb.progress;
	d->dp_peers = got.hb.peers_heard;
	d->dp_n_lanes = got.hb.n_lanes;
}

/* Pushes the lanes' configurations to the dataplane, through the CONFIG message. */
static void dp_push(struct sim_ctl *d)
{
	struct sim_cluster *c = d->c;
	struct repl_config cfg[SIM_LANES_MAX], got_cfg[SIM_LANES_MAX];
	uint32_t ids[SIM_LANES_MAX], got_ids[SIM_LANES_MAX];
	uint32_t n = 0;
	for (uint32_t k = 0; k < c->p.lanes && k < d->state->n_lanes; k++)
		if (ctl_state_lane_config(d->state, k, &cfg[n]))
			ids[n++] = k;
	struct ctl_msg m = { .type = CTL_MSG_CONFIG, .node = (uint8_t)d->node };
	m.config = (struct ctl_msg_config){ .n = n, .lanes_cfg = cfg, .lane_ids = ids };
	uint8_t buf[1024];
	ssize_t len = ctl_msg_encode(&m, buf, sizeof(buf));
	struct ctl_msg got;
	struct ctl_decode_space space = { .cfg = got_cfg, .lane_ids = got_ids, .cap = SIM_LANES_MAX };
	if (len < 0 || ctl_msg_decode(buf, (size_t)len, &got, &space) != 0) {
		sim_fail(c, "node %u: configuration does not round-trip", d->node);
		return;
	}
	struct sim_node *node = &c->node[d->node];
	for (uint32_t i = 0; i < got.config.n; i++)
		sim_lane_config(&node->lane[got.config.lane_ids[i]], &got.config.lanes_cfg[i]);
	d->pushed_index = d->state->applied_index;
	d->pushed_us = c->sched.now_us;
}

/* PREPARE and HANDOFF reach the dataplane. */
static void daemon_handle(struct sim_ctl *d, const struct ctl_msg *m)
{
	struct sim_node *n = &d->c->node[d->node];
	if (!sim_node_alive(n) || m->prepare.lane >= d->c->p.lanes)
		return;
	struct sim_lane *l = &n->lane[m->prepare.lane];
	if (m->type == CTL_MSG_HANDOFF) {
		(void)repl_handoff(l->r, m->prepare.target);
		repl_flush(l->r);
		return;
	}
	struct repl_promise p;
	int rc = repl_promise(l->r, m->prepare.epoch, &p);
	repl_flush(l->r);
	if (rc != 0)
		return; /* in progress (the promised callback answers) or refused */
	struct ctl_msg out = { .type = CTL_MSG_PROMISE, .node = (uint8_t)d->node };
	out.promise.lane = m->prepare.lane;
	out.promise.incarnation = n->incarnation;
	out.promise.promise = p;
	to_leader(d, &out);
}

static void ctl_promised(struct sim_cluster *c, unsigned node, unsigned lane,
			 const struct repl_promise *p)
{
	struct sim_ctl *d = &c->control->ctl[node];
	if (!d->r)
		return;
	struct ctl_msg out = { .type = CTL_MSG_PROMISE, .node = (uint8_t)node };
	out.promise.lane = lane;
	out.promise.incarnation = c->node[node].incarnation;
	out.promise.promise = *p;
	to_leader(d, &out);
}

/* ---- The leader's inbox ---- */

static void leader_handle(struct sim_ctl *d, unsigned src, const struct ctl_msg *m)
{
	if (!d->is_leader)
		return;
	uint64_t now = ctl_now_ms(d);
	if (m->type == CTL_MSG_REPORT && m->node == src)
		ctl_leader_report(d->leader, now, src, &m->hb);
	else if (m->type == CTL_MSG_PROMISE && m->node == src) {
		const struct repl_promise *p = &m->promise.promise;
		sim_trace(d->c, "control: lane %u node %u promised %llu: last (%llu, %llu)%s%s",
			  m->promise.lane, src, (unsigned long long)p->epoch,
			  (unsigned long long)p->last_epoch, (unsigned long long)p->last_index,
			  p->damaged ? " damaged" : "", p->was_primary ? " was primary" : "");
		ctl_leader_promise(d->leader, now, src, &m->promise);
	}
}

static void ctl_deliver(struct sim_cluster *c, unsigned src, unsigned dst, const uint8_t *bytes,
			size_t len)
{
	struct sim_ctl *d = &c->control->ctl[dst];
	if (!d->r || len < 1)
		return;
	if (bytes[0] == MGMT_RAFT) {
		static struct repl_entry entries[REPL_MSG_ENTRIES_MAX];
		struct repl_msg m;
		if (repl_msg_decode(bytes + 1, len - 1, &m, entries, REPL_MSG_ENTRIES_MAX) != 0) {
			sim_fail(c, "node %u: undecodable control group message", dst);
			return;
		}
		repl_recv(d->r, &m);
		repl_flush(d->r);
		return;
	}
	static struct ctl_lane_status status[CTL_LANES_MAX];
	struct ctl_decode_space space = { .status = status, .cap = CTL_LANES_MAX };
	struct ctl_msg m;
	if (ctl_msg_decode(bytes + 1, len - 1, &m, &space) != 0) {
		sim_fail(c, "node %u: undecodable control message", dst);
		return;
	}
	if (m.type == CTL_MSG_PREPARE || m.type == CTL_MSG_HANDOFF)
		daemon_handle(d, &m);
	else
		leader_handle(d, src, &m);
}

/* ---- The daemon's loop ---- */

static void daemon_report(struct sim_ctl *d)
{
	struct sim_cluster *c = d->c;
	struct ctl_msg m = { .type = CTL_MSG_REPORT, .node = (uint8_t)d->node };
	/* The daemon's verdict: a dataplane that stopped sending heartbeats is dead. */
	bool alive = d->dp_seen_us && c->sched.now_us - d->dp_seen_us <= DP_TIMEOUT_US;
	m.hb = (struct ctl_msg_heartbeat){ .incarnation = d->dp_incarnation,
					   .progress = d->dp_progress, .peers_heard = d->dp_peers,
					   .alive = alive, .n_lanes = alive ? d->dp_n_lanes : 0,
					   .lanes = d->dp_lanes };
	d->reported_us = c->sched.now_us;
	to_leader(d, &m);
}

static void leader_work(struct sim_ctl *d)
{
	struct sim_cluster *c = d->c;
	if (d->state->n_lanes == 0) {
		if (c->sched.now_us - d->bootstrap_us < BOOTSTRAP_RETRY_US)
			return;
		d->bootstrap_us = c->sched.now_us;
		uint64_t nodes = (1ull << c->p.nodes) - 1;
		if (c->p.replace)
			nodes &= ~(1ull << (c->p.nodes - 1)); /* the spare joins later */
		struct ctl_cmd boot = { .type = CTL_CMD_BOOTSTRAP, .n_lanes = c->p.lanes,
					.members = { .voters = nodes } };
		leader_propose(d, &boot);
		return;
	}
	ctl_leader_tick(d->leader, ctl_now_ms(d));
}

/* The operator replaces a node: the spare joins, then one of the first nodes leaves. */
static bool operator_replace(struct sim_ctl *d)
{
	struct sim_cluster *c = d->c;
	unsigned spare = c->p.nodes - 1;
	if (!c->p.replace)
		return false;
	if (d->state->nodes[spare].state == CTL_NODE_NONE && !c->control->spare_added) {
		if (c->healed)
			return false; /* too late to start one */
		struct ctl_cmd add = { .type = CTL_CMD_NODE_ADD, .node = (uint8_t)spare,
				       .mgmt_addr = "spare:17100", .repl_addr = "spare:17200" };
		leader_propose(d, &add);
		sim_trace(c, "operator: add node %u", spare);
		return true;
	}
	if (d->state->nodes[spare].state == CTL_NODE_NONE)
		return false;
	c->control->spare_added = true;
	unsigned victim = c->control->victim;
	if (victim == REPL_NODE_NONE && !c->healed && sim_rng_below(&c->rng, 2)) {
		victim = (unsigned)sim_rng_below(&c->rng, spare);
		c->control->victim = victim;
		struct ctl_cmd rm = { .type = CTL_CMD_NODE_REMOVE, .node = (uint8_t)victim };
		leader_propose(d, &rm);
		sim_trace(c, "operator: remove node %u", victim);
		return true;
	}
	if (victim != REPL_NODE_NONE && d->state->nodes[victim].state == CTL_NODE_ACTIVE) {
		struct ctl_cmd rm = { .type = CTL_CMD_NODE_REMOVE, .node = (uint8_t)victim };
		leader_propose(d, &rm); /* the first proposal may have been lost */
		return true;
	}
	return false;
}

/* Now and then, an operator asks for a switchover of a random lane, or replaces a node. */
static void operator_work(struct sim_ctl *d)
{
	struct sim_cluster *c = d->c;
	struct sim_control *sc = c->control;
	if (c->sched.now_us - sc->operator_us < OPERATOR_US || d->state->n_lanes == 0)
		return;
	sc->operator_us = c->sched.now_us;
	/* A replacement is seen through (its commands retried) even after the faults end. */
	if (operator_replace(d) || c->healed)
		return;
	if (sim_rng_below(&c->rng, 2))
		return;
	uint32_t k = (uint32_t)sim_rng_below(&c->rng, d->state->n_lanes);
	unsigned t = (unsigned)sim_rng_below(&c->rng, c->p.nodes);
	if (t == d->state->lanes[k].primary || !((d->state->lanes[k].members.voters >> t) & 1))
		return;
	struct ctl_cmd sw = { .type = CTL_CMD_SWITCHOVER, .lane = k, .node = (uint8_t)t };
	leader_propose(d, &sw);
	sim_trace(c, "operator: switch lane %u over to node %u", k, t);
}

static void ctl_tick(void *arg, uint64_t a, uint64_t b)
{
	(void)a;
	(void)b;
	struct sim_cluster *c = arg;
	if (!c->control || c->sched.now_us >= c->p.end_us)
		return;
	for (unsigned i = 0; i < c->p.nodes; i++) {
		struct sim_ctl *d = &c->control->ctl[i];
		struct sim_node *n = &c->node[i];
		if (!n->up || !d->r)
			continue;
		if (sim_node_alive(n) && c->sched.now_us % DP_HEARTBEAT_US < CTL_TICK_US)
			dp_heartbeat(c, n);
		repl_tick(d->r);
		repl_flush(d->r);
		if (!d->r)
			continue;
		if (d->state->applied_index != d->pushed_index ||
		    c->sched.now_us - d->pushed_us >= PUSH_US)
			dp_push(d);
		if (c->sched.now_us - d->reported_us >= REPORT_US)
			daemon_report(d);
		if (d->is_leader) {
			leader_work(d);
			operator_work(d);
			repl_flush(d->r);
		}
	}
	sim_sched_after(&c->sched, CTL_TICK_US, ctl_tick, c, 0, 0);
}

static void ctl_free(struct sim_cluster *c)
{
	struct sim_control *sc = c->control;
	if (!sc)
		return;
	for (unsigned i = 0; i < c->p.nodes; i++) {
		struct sim_ctl *d = &sc->ctl[i];
		repl_destroy(d->r);
		sim_store_free(&d->store);
		ctl_leader_destroy(d->leader);
		free(d->state);
	}
	free(sc);
	c->control = NULL;
}

static const struct sim_cp_ops control_ops = {
	.promised = ctl_promised, .node_crashed = ctl_node_crashed,
	.node_started = ctl_node_started, .deliver = ctl_deliver, .free = ctl_free,
};

static void options(struct sim_cluster *c, struct sim_control *sc)
{
	struct repl_options *o = &sc->opts;
	repl_options_default(o, 0, REPL_MODE_ELECTION);
	o->heartbeat_ms = 20;
	o->resend_ms = 60;
	o->election_ms = 150;
	o->lease_ms = 100;
	o->lease_drift_ms = (uint32_t)((uint64_t)o->lease_ms * 2 * (uint64_t)c->p.drift_ppm_max /
				       1000000) + 2;
	o->cache_bytes = 8192;
	o->cache_entries = 64;
	o->read_bytes = 2048;
	struct ctl_leader_options *lo = &sc->lopts;
	ctl_leader_options_default(lo);
	lo->node_timeout_ms = c->p.node_timeout_ms;
	lo->lease_wait_ms = c->lane_opts.lease_ms; /* W = lease_ms: see repl.h */
	lo->balance_every_ms = 500;
}

void sim_control_start(struct sim_cluster *c)
{
	struct sim_control *sc = calloc(1, sizeof(*sc));
	ASSERT(sc);
	sc->victim = REPL_NODE_NONE;
	c->control = sc;
	c->cp = &control_ops;
	options(c, sc);
	for (unsigned i = 0; i < c->p.nodes; i++) {
		struct sim_ctl *d = &sc->ctl[i];
		d->c = c;
		d->node = i;
		d->state = malloc(sizeof(*d->state));
		ASSERT(d->state);
		sim_store_init(&d->store, &c->sched, &c->rng, &c->lat);
		d->store.install = ctl_install;
		d->store.install_ctx = &d->store;
		struct ctl_leader_io lio = { .ctx = d, .propose = leader_propose, .send = leader_send };
		d->leader = ctl_leader_create(&sc->lopts, &lio, d->state);
		ASSERT(d->leader);
		if (c->node[i].up)
			ctl_start(d);
	}
	sim_sched_after(&c->sched, CTL_TICK_US, ctl_tick, c, 0, 0);
}

/* The lane's members in the most up-to-date copy of the control state (voters only if
 * voters_only). */
uint64_t sim_control_members(struct sim_cluster *c, unsigned lane, bool voters_only)
{
	uint64_t all = (1ull << c->p.nodes) - 1;
	if (!c->control)
		return all;
	const struct ctl_state *best = NULL;
	for (unsigned i = 0; i < c->p.nodes; i++) {
		const struct ctl_state *s = c->control->ctl[i].state;
		if (c->control->ctl[i].r && (!best || s->applied_index > best->applied_index))
			best = s;
	}
	if (!best || lane >= best->n_lanes)
		return all;
	const struct ctl_lane *l = &best->lanes[lane];
	return voters_only ? l->members.voters : l->members.voters | l->members.learners;
}

/* After healing, a replacement the operator started must have completed. */
void sim_control_check_final(struct sim_cluster *c)
{
	if (!c->control || !c->p.replace || c->failed)
		return;
	const struct ctl_state *best = NULL;
	for (unsigned i = 0; i < c->p.nodes; i++) {
		const struct ctl_state *s = c->control->ctl[i].state;
		if (c->control->ctl[i].r && (!best || s->applied_index > best->applied_index))
			best = s;
	}
	unsigned spare = c->p.nodes - 1, victim = c->control->victim;
	if (!best || (c->control->spare_added && best->nodes[spare].state != CTL_NODE_ACTIVE))
		sim_fail(c, "node %u did not finish joining", spare);
	else if (victim != REPL_NODE_NONE && best->nodes[victim].state != CTL_NODE_NONE)
		sim_fail(c, "node %u did not finish leaving", victim);
}

void sim_control_print(struct sim_cluster *c)
{
	if (!c->control)
		return;
	for (unsigned i = 0; i < c->p.nodes; i++) {
		const struct sim_ctl *d = &c->control->ctl[i];
		if (!d->r)
			continue;
		struct repl_state rs;
		repl_state_get(d->r, &rs);
		printf("  control node %u: role %d term %llu commit %llu applied %llu; nodes", i, rs.role,
		       (unsigned long long)rs.epoch, (unsigned long long)rs.commit_index,
		       (unsigned long long)d->state->applied_index);
		for (unsigned n = 0; n < c->p.nodes; n++)
			printf(" %u", d->state->nodes[n].state);
		printf("\n");
		for (uint32_t k = 0; k < d->state->n_lanes; k++) {
			const struct ctl_lane *l = &d->state->lanes[k];
			printf("    lane %u: epoch %llu primary %u prep %llu target %d switch %d voters %llx "
			       "learners %llx prev %llx\n", k, (unsigned long long)l->epoch, l->primary,
			       (unsigned long long)l->prep_epoch, l->prep_target == REPL_NODE_NONE ? -1 : l->prep_target,
			       l->switch_target == REPL_NODE_NONE ? -1 : l->switch_target,
			       (unsigned long long)l->members.voters, (unsigned long long)l->members.learners,
			       (unsigned long long)l->prev_voters);
		}
		if (d->is_leader) {
			struct ctl_leader_stats ls;
			ctl_leader_stats_get(d->leader, &ls);
			printf("    leader: failovers %llu/%llu switchovers %llu members %llu prepares %llu\n",
			       (unsigned long long)ls.failovers_started, (unsigned long long)ls.failovers_done,
			       (unsigned long long)ls.switchovers, (unsigned long long)ls.members_changes,
			       (unsigned long long)ls.prepares_sent);
		}
	}
}

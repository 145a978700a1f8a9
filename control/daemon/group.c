/* The control group on this node: the replication core in election mode (Raft with pre-vote,
 * check-quorum and one membership change at a time) over the management network, its log on
 * the control store, and the cluster state (control/core) it applies. Every daemon pushes
 * the committed lane configurations to its dataplane, reports its dataplane to the leader,
 * and relays PREPARE and HANDOFF down and PROMISE up. The leader's half is in lead.c. */
#define LOG_COMPONENT "control"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/panic.h"
#include "daemon/ctld.h"

static uint64_t group_rng;

uint64_t ctld_now_ms(void)
{
	return time_mono_ns() / NS_PER_MS;
}

/* ---- The core's I/O table: the host half ---- */

static void io_send(void *ctx, unsigned dst, const struct repl_msg *m)
{
	struct ctld *d = ctld_store_host(ctx);
	ssize_t n = repl_msg_encode(m, d->mgmt.msg_buf, CTLD_DGRAM_PAYLOAD_MAX);
	if (n < 0) {
		LOG_WARN("control group message for node %u does not encode: %s", dst, strerror((int)-n));
		return;
	}
	ctld_mgmt_send(d, dst, CTLD_KIND_RAFT, d->mgmt.msg_buf, (size_t)n);
}

static uint64_t io_now_ms(void *ctx)
{
	(void)ctx;
	return ctld_now_ms();
}

static uint64_t io_random(void *ctx)
{
	(void)ctx;
	group_rng ^= group_rng >> 12; /* xorshift64*: the core only needs timer jitter */
	group_rng ^= group_rng << 25;
	group_rng ^= group_rng >> 27;
	return group_rng * 0x2545F4914F6CDD1Dull;
}

static void log_applied(struct ctld *d, const struct ctl_cmd *c, uint64_t index)
{
	char nodes[200];
	switch (c->type) {
	case CTL_CMD_BOOTSTRAP:
		ctld_nodes_text(c->members.voters, nodes, sizeof(nodes));
		LOG_INFO("applied %llu: bootstrap: %u lanes over nodes %s, epoch 1",
			 (unsigned long long)index, c->n_lanes, nodes);
		return;
	case CTL_CMD_LANE_PRIMARY:
		LOG_INFO("applied %llu: lane %u epoch %llu: primary %u", (unsigned long long)index,
			 c->lane, (unsigned long long)c->epoch, c->node);
		return;
	case CTL_CMD_LANE_PREPARE:
		LOG_INFO("applied %llu: lane %u: epoch %llu preparing", (unsigned long long)index,
			 c->lane, (unsigned long long)c->epoch);
		return;
	case CTL_CMD_LANE_MEMBERS: {
		char learners[200];
		ctld_nodes_text(c->members.voters, nodes, sizeof(nodes));
		ctld_nodes_text(c->members.learners, learners, sizeof(learners));
		LOG_INFO("applied %llu: lane %u: voters %s learners %s", (unsigned long long)index,
			 c->lane, nodes, learners);
		return;
	}
	default:
		LOG_INFO("applied %llu: command %u (node %u, lane %u, state %u)",
			 (unsigned long long)index, c->type, c->node, c->lane, c->node_state);
	}
	(void)d;
}

static void apply_command(struct ctld *d, const struct repl_entry *e)
{
	struct ctl_cmd cmd;
	if (ctl_cmd_decode(e->payload, e->len, &cmd) != 0) {
		LOG_ERROR("control log entry %llu does not decode: ignored on every replica alike",
			  (unsigned long long)e->index);
		return;
	}
	int rc = ctl_state_apply(d->state, e->index, &cmd);
	if (rc != 0) {
		d->stats.rejected++;
		LOG_DEBUG("entry %llu: command %u did not apply: %s", (unsigned long long)e->index,
			  cmd.type, strerror(-rc));
		return;
	}
	d->stats.applied++;
	if (cmd.type == CTL_CMD_LANE_PRIMARY)
		d->stats.failovers++;
	log_applied(d, &cmd, e->index);
}

static void io_apply(void *ctx, const struct repl_entry *e)
{
	struct ctld *d = ctld_store_host(ctx);
	d->applied_index = e->index;
	if (e->type == REPL_ENTRY_CONFIG) {
		struct repl_members m;
		if (ctld_members_decode(e->payload, e->len, &m)) {
			char v[200], l[200];
			ctld_nodes_text(m.voters, v, sizeof(v));
			ctld_nodes_text(m.learners, l, sizeof(l));
			LOG_INFO("applied %llu: control group: voters %s learners %s",
				 (unsigned long long)e->index, v, l);
			d->group_members = m;
			ctld_store_members_applied(d->store, &m);
		}
	} else if (e->type == REPL_ENTRY_DATA) {
		apply_command(d, e);
	}
	if (d->admin != NULL)
		ctld_admin_state_changed(d->admin);
}

static void io_abandon(void *ctx, uint64_t from)
{
	(void)ctx;
	(void)from; /* proposals are retried by the leader's logic, not waited on */
}

static void io_role(void *ctx, enum repl_role role, uint64_t epoch, unsigned primary)
{
	struct ctld *d = ctld_store_host(ctx);
	bool was = d->is_leader;
	unsigned old_leader = d->leader_node;
	d->term = epoch;
	d->is_leader = role == REPL_ROLE_PRIMARY;
	d->leader_node = d->is_leader ? d->conf.node_id : primary;
	if (d->leader_node != old_leader && d->leader_node != REPL_NODE_NONE) {
		d->stats.leader_changes++;
		LOG_INFO("control group: node %u leads term %llu", d->leader_node,
			 (unsigned long long)epoch);
	}
	if (d->is_leader && !was)
		ctld_lead_reset(d, ctld_now_ms());
	if (!d->is_leader && was)
		LOG_INFO("control group: this daemon no longer leads (term %llu)",
			 (unsigned long long)epoch);
}

static void io_read_confirmed(void *ctx, uint64_t seq)
{
	(void)ctx;
	(void)seq; /* the daemon reads its own applied state; no read barriers */
}

static void io_promised(void *ctx, const struct repl_promise *p)
{
	(void)ctx;
	(void)p; /* election mode makes no promises */
}

static void io_fatal(void *ctx, int err, uint64_t index)
{
	char why[128];
	snprintf(why, sizeof(why), "the control group stopped at entry %llu",
		 (unsigned long long)index);
	ctld_fatal(ctld_store_host(ctx), err, why);
}

/* ---- Start and stop ---- */

static void group_options(const struct ctld *d, struct repl_options *o)
{
	repl_options_default(o, d->conf.node_id, REPL_MODE_ELECTION);
	o->heartbeat_ms = d->conf.raft_heartbeat_ms;
	o->election_ms = d->conf.election_ms;
	o->lease_ms = d->conf.election_ms / 2;
	o->lease_drift_ms = o->lease_ms / 10 + 1;
	o->msg_bytes_max = CTLD_REPL_MSG_BYTES;
	o->snapshot_chunk_bytes = CTLD_SNAPSHOT_CHUNK_BYTES;
	o->cache_bytes = 1u << 20;
	o->cache_entries = 1024;
	o->read_bytes = 64u << 10;
}

int ctld_group_start(struct ctld *d, const struct repl_boot *boot)
{
	if (getrandom(&group_rng, sizeof(group_rng), 0) != sizeof(group_rng) || group_rng == 0)
		group_rng = time_mono_ns() | 1;
	struct repl_options o;
	group_options(d, &o);
	struct repl_io io;
	memset(&io, 0, sizeof(io));
	ctld_store_io(d->store, &io); /* io.ctx is the store; the host finds the daemon from it */
	io.send = io_send;
	io.now_ms = io_now_ms;
	io.random = io_random;
	io.apply = io_apply;
	io.abandon = io_abandon;
	io.role = io_role;
	io.read_confirmed = io_read_confirmed;
	io.promised = io_promised;
	io.fatal = io_fatal;
	d->group_members = boot->members;
	d->applied_index = boot->snapshot.index;
	d->r = repl_create(&o, &io, boot);
	if (d->r == NULL)
		return -EINVAL;
	ctld_store_repl_set(d->store, d->r);
	d->started = true;
	return 0;
}

void ctld_group_stop(struct ctld *d)
{
	if (d->r != NULL)
		repl_destroy(d->r);
	d->r = NULL;
	d->started = false;
}

/* ---- Messages ---- */

static void group_recv_raft(struct ctld *d, const uint8_t *p, size_t len)
{
	static struct repl_entry entries[REPL_MSG_ENTRIES_MAX];
	struct repl_msg m;
	if (d->r == NULL)
		return;
	if (repl_msg_decode(p, len, &m, entries, REPL_MSG_ENTRIES_MAX) != 0) {
		d->mgmt.stats.rx_undecodable++;
		return;
	}
	repl_recv(d->r, &m);
}

/* PREPARE or HANDOFF for this node's dataplane. */
static void group_to_dataplane(struct ctld *d, const struct ctl_msg *m)
{
	if (m->node != d->conf.node_id)
		return;
	if (!ctld_link_send(d, m)) {
		LOG_DEBUG("%s lane %u epoch %llu: the dataplane is not connected",
			  m->type == CTL_MSG_PREPARE ? "PREPARE" : "HANDOFF", m->prepare.lane,
			  (unsigned long long)m->prepare.epoch);
		return;
	}
	if (m->type == CTL_MSG_PREPARE)
		d->link.stats.prepares_sent++;
	else
		d->link.stats.handoffs_sent++;
}

void ctld_group_deliver(struct ctld *d, const struct ctl_msg *m)
{
	group_to_dataplane(d, m);
}

static void group_recv_ctl(struct ctld *d, unsigned src, const uint8_t *p, size_t len)
{
	static struct ctl_lane_status status[CTLD_LANES_MAX];
	static struct repl_config cfg[CTLD_LANES_MAX];
	static uint32_t ids[CTLD_LANES_MAX];
	struct ctl_decode_space sp = { .status = status, .cfg = cfg, .lane_ids = ids,
				       .cap = CTLD_LANES_MAX };
	struct ctl_msg m;
	if (ctl_msg_decode(p, len, &m, &sp) != 0) {
		d->mgmt.stats.rx_undecodable++;
		return;
	}
	switch (m.type) {
	case CTL_MSG_PREPARE:
	case CTL_MSG_HANDOFF:
		group_to_dataplane(d, &m);
		return;
	case CTL_MSG_REPORT:
	case CTL_MSG_PROMISE:
		if (m.node == src)
			ctld_lead_handle(d, src, &m);
		return;
	default:
		d->mgmt.stats.rx_undecodable++;
	}
}

static void group_recv_propose(struct ctld *d, unsigned src, const uint8_t *p, size_t len)
{
	struct ctl_cmd cmd;
	if (ctl_cmd_decode(p, len, &cmd) != 0) {
		d->mgmt.stats.rx_undecodable++;
		return;
	}
	if (!d->is_leader)
		return; /* the sender retries with whoever leads */
	LOG_INFO("proposal of command %u from node %u (an operator's request)", cmd.type, src);
	ctld_lead_propose(d, &cmd);
}

static void group_recv_view(struct ctld *d, unsigned src, const uint8_t *p, size_t len)
{
	static struct ctld_view v;
	if (ctld_view_decode(p, len, &v) != 0 || v.leader != src) {
		d->mgmt.stats.rx_undecodable++;
		return;
	}
	if (v.term < d->view.term && d->view_ms != 0)
		return; /* a deposed leader's */
	d->view = v;
	d->view_ms = ctld_now_ms();
	d->stats.views_received++;
}

void ctld_group_recv(struct ctld *d, unsigned src, uint8_t kind, const uint8_t *p, size_t len)
{
	if (!d->started)
		return;
	switch (kind) {
	case CTLD_KIND_RAFT:
		group_recv_raft(d, p, len);
		return;
	case CTLD_KIND_CTL:
		group_recv_ctl(d, src, p, len);
		return;
	case CTLD_KIND_PROPOSE:
		group_recv_propose(d, src, p, len);
		return;
	case CTLD_KIND_VIEW:
		group_recv_view(d, src, p, len);
		return;
	}
}

/* A message for the leader: handled here if we lead, else sent to whom we believe leads. */
static void group_to_leader(struct ctld *d, const struct ctl_msg *m)
{
	if (d->is_leader) {
		ctld_lead_handle(d, d->conf.node_id, m);
		return;
	}
	if (d->leader_node == REPL_NODE_NONE)
		return;
	ssize_t n = ctl_msg_encode(m, d->mgmt.msg_buf, CTLD_DGRAM_PAYLOAD_MAX);
	if (n < 0) {
		LOG_WARN("message of type %u does not fit a datagram (%s)", m->type, strerror((int)-n));
		return;
	}
	ctld_mgmt_send(d, d->leader_node, CTLD_KIND_CTL, d->mgmt.msg_buf, (size_t)n);
}

void ctld_group_dataplane(struct ctld *d, const struct ctl_msg *m)
{
	ASSERT(m->type == CTL_MSG_PROMISE);
	const struct repl_promise *p = &m->promise.promise;
	LOG_INFO("dataplane promised lane %u epoch %llu: last entry (%llu, %llu)%s%s",
		 m->promise.lane, (unsigned long long)p->epoch, (unsigned long long)p->last_epoch,
		 (unsigned long long)p->last_index, p->damaged ? ", damaged" : "",
		 p->was_primary ? ", stepped down as primary" : "");
	struct ctl_msg up = *m;
	up.node = (uint8_t)d->conf.node_id;
	up.term = d->term;
	d->stats.promises_relayed++;
	group_to_leader(d, &up);
}

/* ---- Reports and configurations ---- */

static void group_report(struct ctld *d, uint64_t now)
{
	const struct ctld_link *l = &d->link;
	struct ctl_msg m = { .type = CTL_MSG_REPORT, .node = (uint8_t)d->conf.node_id,
			     .term = d->term };
	m.hb = (struct ctl_msg_heartbeat){ .incarnation = l->incarnation, .progress = l->progress,
					   .peers_heard = l->peers_heard, .alive = l->alive,
					   .n_lanes = l->alive ? l->n_lanes : 0, .lanes = l->lanes };
	d->reported_ms = now;
	d->stats.reports_sent++;
	group_to_leader(d, &m);
}

static void group_push(struct ctld *d, uint64_t now)
{
	static struct repl_config cfg[CTLD_LANES_MAX];
	static uint32_t ids[CTLD_LANES_MAX];
	const struct ctl_state *s = d->state;
	if (d->link.state != CTLD_LINK_UP || s->n_lanes == 0)
		return;
	if (d->pushed_index == d->applied_index && now - d->pushed_ms < d->conf.push_ms)
		return;
	uint32_t lanes = MIN(s->n_lanes, CTLD_LANES_MAX), n = 0;
	if (d->link.have_hb && d->link.n_lanes != s->n_lanes && !d->push_lanes_warned) {
		LOG_ERROR("the cluster has %u lanes but this node's spindled has %u: configure the "
			  "same lanes on every node", s->n_lanes, d->link.n_lanes);
		d->push_lanes_warned = true;
	}
	if (d->link.have_hb)
		lanes = MIN(lanes, d->link.n_lanes);
	for (uint32_t k = 0; k < lanes; k++)
		if (ctl_state_lane_config(s, k, &cfg[n]))
			ids[n++] = k;
	struct ctl_msg m = { .type = CTL_MSG_CONFIG, .node = (uint8_t)d->conf.node_id };
	m.config = (struct ctl_msg_config){ .n = n, .lanes_cfg = cfg, .lane_ids = ids };
	if (ctld_link_send(d, &m)) {
		d->link.stats.configs_sent++;
		d->pushed_index = d->applied_index;
		d->pushed_ms = now;
	}
}

void ctld_group_dataplane_changed(struct ctld *d)
{
	uint64_t now = ctld_now_ms();
	if (!d->started)
		return;
	d->pushed_ms = 0; /* push the configuration at once */
	group_push(d, now);
	group_report(d, now);
}

bool ctld_group_propose(struct ctld *d, const struct ctl_cmd *cmd)
{
	if (d->is_leader) {
		ctld_lead_propose(d, cmd);
		return true;
	}
	if (d->leader_node == REPL_NODE_NONE)
		return false;
	uint8_t buf[256];
	ssize_t n = ctl_cmd_encode(cmd, buf, sizeof(buf));
	if (n < 0)
		return false;
	d->stats.proposals_forwarded++;
	return ctld_mgmt_send(d, d->leader_node, CTLD_KIND_PROPOSE, buf, (size_t)n);
}

void ctld_group_tick(struct ctld *d, uint64_t now)
{
	if (!d->started)
		return;
	repl_tick(d->r);
	if (d->r == NULL)
		return;
	group_push(d, now);
	if (now - d->reported_ms >= d->conf.report_ms)
		group_report(d, now);
	if (d->is_leader)
		ctld_lead_tick(d, now);
	ctld_store_snapshot_maybe(d->store, d->state, d->applied_index);
	repl_flush(d->r);
}

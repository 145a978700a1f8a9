/* The control group leader's half of the daemon: it feeds the reports and promises of every
 * node to the leader's logic (control/core), carries out what that logic decides (proposals
 * to the control log, PREPARE and HANDOFF to the nodes), writes one log line per decision
 * with its reason, keeps the control group's own membership in step with the cluster's
 * nodes (a node added joins as a learner, then a voter once caught up; a removed node
 * leaves), and broadcasts its view of the cluster's health to every daemon. */
#define LOG_COMPONENT "leader"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/panic.h"
#include "daemon/ctld.h"

#define LEAD_WHY_BYTES 1024
#define LEAD_REPEAT_LOG_MS 2000 /* the same decision proposed again is logged this often */

/* The last decision logged per lane and per node, so that retries do not flood the log. */
struct lead_logged {
	uint8_t type, node;
	uint64_t epoch, voters, learners, ms;
};
static struct lead_logged lead_lane_logged[CTLD_LANES_MAX];
static struct lead_logged lead_node_logged[CTL_NODES_MAX];

/* ---- Why a decision was made ---- */

static bool report_fresh(const struct ctld *d, unsigned node, uint64_t now)
{
	const struct ctld_report *r = &d->reports[node];
	return r->have && now - r->at_ms <= d->conf.node_timeout_ms;
}

static void why_unhealthy(const struct ctld *d, unsigned node, uint64_t now, char *out, size_t cap)
{
	const struct ctld_report *r = &d->reports[node];
	if (!r->have) {
		snprintf(out, cap, "no report from node %u since this daemon leads", node);
		return;
	}
	if (now - r->at_ms > d->conf.node_timeout_ms) {
		snprintf(out, cap, "no report from node %u for %llu ms", node,
			 (unsigned long long)(now - r->at_ms));
		return;
	}
	if (!r->hb.alive) {
		snprintf(out, cap, "node %u's daemon reports its dataplane dead", node);
		return;
	}
	uint64_t heard_by = 0;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		if (i != node && report_fresh(d, i, now) && ((d->reports[i].hb.peers_heard >> node) & 1))
			heard_by |= 1ull << i;
	char hears[200], by[200];
	ctld_nodes_text(r->hb.peers_heard & ~(1ull << node), hears, sizeof(hears));
	ctld_nodes_text(heard_by, by, sizeof(by));
	snprintf(out, cap, "node %u is cut off on the replication network (it hears %s, is heard "
		 "by %s)", node, hears, by);
}

static const struct ctl_lane_status *report_lane(const struct ctld *d, unsigned node, uint32_t k)
{
	const struct ctld_report *r = &d->reports[node];
	if (!r->have || r->lanes == NULL)
		return NULL;
	if (k < r->hb.n_lanes && r->lanes[k].lane == k)
		return &r->lanes[k];
	for (uint32_t i = 0; i < r->hb.n_lanes; i++)
		if (r->lanes[i].lane == k)
			return &r->lanes[i];
	return NULL;
}

static void why_prepare(const struct ctld *d, const struct ctl_cmd *c, uint64_t now, char *out,
			size_t cap)
{
	const struct ctl_lane *l = &d->state->lanes[c->lane];
	if (c->node != REPL_NODE_NONE) {
		snprintf(out, cap, "planned switchover from node %u to node %u", l->primary, c->node);
		return;
	}
	if (!ctl_leader_healthy(d->leader, now, l->primary)) {
		char why[LEAD_WHY_BYTES - 128];
		why_unhealthy(d, l->primary, now, why, sizeof(why));
		snprintf(out, cap, "primary %u failed: %s", l->primary, why);
		return;
	}
	const struct ctl_lane_status *st = report_lane(d, l->primary, c->lane);
	snprintf(out, cap, "primary %u does not act as primary of epoch %llu (it reports %s of "
		 "epoch %llu)", l->primary, (unsigned long long)l->epoch,
		 st && st->role == REPL_ROLE_PRIMARY ? "primary" : "follower",
		 (unsigned long long)(st ? st->epoch : 0));
}

static void why_members(const struct ctld *d, const struct ctl_cmd *c, char *out, size_t cap)
{
	const struct ctl_lane *l = &d->state->lanes[c->lane];
	uint64_t added_l = c->members.learners & ~l->members.learners & ~l->members.voters;
	uint64_t promoted = c->members.voters & l->members.learners;
	uint64_t removed = (l->members.voters | l->members.learners) &
			   ~(c->members.voters | c->members.learners);
	for (unsigned n = 0; n < CTL_NODES_MAX; n++) {
		uint64_t b = 1ull << n;
		if (added_l & b)
			snprintf(out, cap, "node %u joins: it becomes a learner", n);
		else if (promoted & b)
			snprintf(out, cap, "node %u caught up: it becomes a voter", n);
		else if (removed & b)
			snprintf(out, cap, "node %u leaves the lane", n);
		else
			continue;
		return;
	}
	snprintf(out, cap, "membership change");
}

static void why_switchover(const struct ctld *d, const struct ctl_cmd *c, char *out, size_t cap)
{
	unsigned p = d->state->lanes[c->lane].primary;
	if (p < CTL_NODES_MAX && d->state->nodes[p].state == CTL_NODE_LEAVING) {
		snprintf(out, cap, "node %u is leaving: its primary moves to node %u", p, c->node);
		return;
	}
	unsigned np = 0, nt = 0;
	for (uint32_t k = 0; k < d->state->n_lanes; k++) {
		np += d->state->lanes[k].primary == p;
		nt += d->state->lanes[k].primary == c->node;
	}
	snprintf(out, cap, "balancing: node %u leads %u lanes, node %u leads %u", p, np, c->node, nt);
}

static void lead_why(const struct ctld *d, const struct ctl_cmd *c, uint64_t now, char *out,
		     size_t cap)
{
	switch (c->type) {
	case CTL_CMD_LANE_PREPARE:
		why_prepare(d, c, now, out, cap);
		return;
	case CTL_CMD_LANE_PRIMARY:
		snprintf(out, cap, "a majority of the voters promised epoch %llu (the old primary stepped "
			 "down, or its lease ran out); node %u's log is the most up to date among them",
			 (unsigned long long)c->epoch, c->node);
		return;
	case CTL_CMD_LANE_MEMBERS:
		why_members(d, c, out, cap);
		return;
	case CTL_CMD_LANE_SETTLED:
		snprintf(out, cap, "the primary runs with the new voters");
		return;
	case CTL_CMD_SWITCHOVER:
		why_switchover(d, c, out, cap);
		return;
	case CTL_CMD_NODE_STATE:
		snprintf(out, cap, c->node_state == CTL_NODE_ACTIVE ? "node %u is a voter of every lane"
								    : "node %u left every lane", c->node);
		return;
	default:
		snprintf(out, cap, "requested");
	}
}

static const char *cmd_name(uint8_t type)
{
	static const char *const names[] = { "?", "bootstrap", "node-add", "node-remove",
					      "node-state", "lane-prepare", "lane-primary",
					      "lane-members", "lane-settled", "switchover" };
	return type < ARRAY_SIZE(names) ? names[type] : "?";
}

/* Logs a decision unless the same one was logged a moment ago (the logic retries). */
static void lead_log_decision(struct ctld *d, const struct ctl_cmd *c, uint64_t now)
{
	bool lane_cmd = c->type >= CTL_CMD_LANE_PREPARE;
	struct lead_logged *last = lane_cmd ? (c->lane < CTLD_LANES_MAX ? &lead_lane_logged[c->lane] : NULL)
					    : (c->node < CTL_NODES_MAX ? &lead_node_logged[c->node] : NULL);
	struct lead_logged cur = { .type = c->type, .node = c->node, .epoch = c->epoch,
				   .voters = c->members.voters, .learners = c->members.learners,
				   .ms = now };
	if (last != NULL && last->type == cur.type && last->node == cur.node &&
	    last->epoch == cur.epoch && last->voters == cur.voters &&
	    last->learners == cur.learners && now - last->ms < LEAD_REPEAT_LOG_MS)
		return;
	if (last != NULL)
		*last = cur;
	char why[LEAD_WHY_BYTES];
	lead_why(d, c, now, why, sizeof(why));
	if (lane_cmd)
		LOG_INFO("decision: %s lane %u epoch %llu node %d: %s", cmd_name(c->type), c->lane,
			 (unsigned long long)c->epoch, c->node == REPL_NODE_NONE ? -1 : (int)c->node, why);
	else
		LOG_INFO("decision: %s node %u: %s", cmd_name(c->type), c->node, why);
}

/* ---- The leader's I/O ---- */

void ctld_lead_propose(struct ctld *d, const struct ctl_cmd *cmd)
{
	uint8_t buf[256];
	ssize_t n = ctl_cmd_encode(cmd, buf, sizeof(buf));
	if (n < 0 || d->r == NULL) {
		LOG_WARN("command %u does not encode: %s", cmd->type, strerror((int)-n));
		return;
	}
	int64_t idx = repl_propose(d->r, REPL_ENTRY_DATA, buf, (uint32_t)n);
	if (idx < 0)
		LOG_DEBUG("proposal of command %u refused: %s (retried)", cmd->type,
			  strerror((int)-idx));
	else
		d->stats.proposals++;
}

static void lead_io_propose(void *ctx, const struct ctl_cmd *cmd)
{
	struct ctld *d = ctx;
	lead_log_decision(d, cmd, ctld_now_ms());
	ctld_lead_propose(d, cmd);
}

static void lead_io_send(void *ctx, unsigned node, const struct ctl_msg *m)
{
	struct ctld *d = ctx;
	if (node == d->conf.node_id) {
		ctld_group_deliver(d, m);
		return;
	}
	ssize_t n = ctl_msg_encode(m, d->mgmt.msg_buf, CTLD_DGRAM_PAYLOAD_MAX);
	if (n > 0)
		ctld_mgmt_send(d, node, CTLD_KIND_CTL, d->mgmt.msg_buf, (size_t)n);
}

int ctld_lead_create(struct ctld *d)
{
	struct ctl_leader_options *o = &d->lopts;
	ctl_leader_options_default(o);
	o->node_timeout_ms = d->conf.node_timeout_ms;
	o->lease_wait_ms = d->conf.lease_wait_ms;
	o->prepare_retry_ms = d->conf.prepare_retry_ms;
	o->propose_retry_ms = d->conf.propose_retry_ms;
	o->not_acting_ms = d->conf.not_acting_ms;
	o->handoff_wait_ms = d->conf.handoff_wait_ms;
	o->balance_every_ms = d->conf.balance_every_ms;
	struct ctl_leader_io io = { .ctx = d, .propose = lead_io_propose, .send = lead_io_send };
	d->leader = ctl_leader_create(o, &io, d->state);
	return d->leader == NULL ? -ENOMEM : 0;
}

void ctld_lead_destroy(struct ctld *d)
{
	ctl_leader_destroy(d->leader);
	d->leader = NULL;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		free(d->reports[i].lanes);
		d->reports[i].lanes = NULL;
	}
}

void ctld_lead_reset(struct ctld *d, uint64_t now)
{
	ctl_leader_reset(d->leader, now);
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		d->reports[i].have = false;
	memset(lead_lane_logged, 0, sizeof(lead_lane_logged));
	memset(lead_node_logged, 0, sizeof(lead_node_logged));
	d->members_ms = now;
	d->view_sent_ms = 0;
	LOG_INFO("this daemon leads the control group (term %llu): listening %u ms before acting",
		 (unsigned long long)d->term, d->conf.node_timeout_ms);
}

/* ---- Reports and promises ---- */

static void lead_store_report(struct ctld *d, unsigned src, const struct ctl_msg_heartbeat *hb,
			      uint64_t now)
{
	struct ctld_report *r = &d->reports[src];
	if (r->lanes == NULL && (r->lanes = calloc(CTLD_LANES_MAX, sizeof(*r->lanes))) == NULL)
		return;
	uint32_t n = MIN(hb->n_lanes, CTLD_LANES_MAX);
	if (r->have && hb->incarnation != r->hb.incarnation && hb->incarnation != 0)
		LOG_INFO("node %u's dataplane restarted (incarnation %llx)", src,
			 (unsigned long long)hb->incarnation);
	if (r->have && r->hb.alive != hb->alive)
		LOG_INFO("node %u's daemon reports its dataplane %s", src, hb->alive ? "alive" : "dead");
	r->hb = *hb;
	r->hb.n_lanes = n;
	memcpy(r->lanes, hb->lanes, n * sizeof(*r->lanes));
	r->hb.lanes = r->lanes;
	r->have = true;
	r->at_ms = now;
}

void ctld_lead_handle(struct ctld *d, unsigned src, const struct ctl_msg *m)
{
	if (!d->is_leader || src >= CTL_NODES_MAX)
		return;
	uint64_t now = ctld_now_ms();
	if (m->type == CTL_MSG_REPORT) {
		d->stats.reports_received++;
		lead_store_report(d, src, &m->hb, now);
		ctl_leader_report(d->leader, now, src, &m->hb);
		return;
	}
	if (m->type != CTL_MSG_PROMISE)
		return;
	const struct repl_promise *p = &m->promise.promise;
	LOG_INFO("promise from node %u: lane %u epoch %llu, last entry (%llu, %llu)%s%s", src,
		 m->promise.lane, (unsigned long long)p->epoch, (unsigned long long)p->last_epoch,
		 (unsigned long long)p->last_index, p->damaged ? ", damaged" : "",
		 p->was_primary ? ", stepped down" : "");
	ctl_leader_promise(d->leader, now, src, &m->promise);
}

/* ---- The control group's own membership ---- */

/* The nodes of the cluster: the control group follows them, one change at a time. */
static void lead_group_members(struct ctld *d)
{
	struct repl_state rs;
	repl_state_get(d->r, &rs);
	if (d->state->n_lanes == 0 || rs.commit_index < rs.epoch_start_index)
		return;
	uint64_t want = 0;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		if (d->state->nodes[i].state != CTL_NODE_NONE)
			want |= 1ull << i;
	struct repl_members m = rs.members;
	uint64_t have = m.voters | m.learners, join = want & ~have, gone = have & ~want, ready = 0;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		struct repl_peer_info pi;
		if (((m.learners & want) >> i) & 1 && repl_peer_get(d->r, i, &pi) == 0 &&
		    pi.match_index >= rs.commit_index)
			ready |= 1ull << i;
	}
	const char *why = NULL;
	unsigned n = 0;
	if (join) {
		n = (unsigned)__builtin_ctzll(join);
		m.learners |= 1ull << n;
		why = "joins the control group as a learner";
	} else if (ready) {
		n = (unsigned)__builtin_ctzll(ready);
		m.learners &= ~(1ull << n);
		m.voters |= 1ull << n;
		why = "caught up: a voter of the control group";
	} else if (gone && (m.voters & ~gone) != 0) {
		n = (unsigned)__builtin_ctzll(gone);
		m.voters &= ~(1ull << n);
		m.learners &= ~(1ull << n);
		why = "left the cluster: leaves the control group";
	}
	if (why == NULL)
		return;
	int rc = repl_members_change(d->r, &m);
	if (rc == 0)
		LOG_INFO("decision: control group: node %u %s", n, why);
	else if (rc != -EBUSY)
		LOG_WARN("control group change for node %u refused: %s", n, strerror(-rc));
}

/* ---- The view ---- */

static void lead_view_lanes(struct ctld *d, struct ctld_view *v, uint64_t now)
{
	const struct ctl_state *s = d->state;
	v->n_lanes = MIN(s->n_lanes, CTLD_LANES_MAX);
	for (uint32_t k = 0; k < v->n_lanes; k++) {
		const struct ctl_lane *l = &s->lanes[k];
		v->caught_up[k] = 0;
		v->lane_flags[k] = 0;
		const struct ctl_lane_status *st = report_fresh(d, l->primary, now)
							   ? report_lane(d, l->primary, k) : NULL;
		if (st != NULL) {
			v->caught_up[k] = st->caught_up;
			if (st->role == REPL_ROLE_PRIMARY && st->epoch == l->epoch)
				v->lane_flags[k] |= CTLD_VIEW_ACTING;
			if (st->handoff_ready)
				v->lane_flags[k] |= CTLD_VIEW_HANDOFF_READY;
		}
		for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
			const struct ctl_lane_status *o = report_fresh(d, i, now) ? report_lane(d, i, k) : NULL;
			if (o != NULL && o->damaged)
				v->lane_flags[k] |= CTLD_VIEW_DAMAGED;
		}
	}
}

static void lead_view(struct ctld *d, uint64_t now)
{
	static struct ctld_view v;
	memset(&v, 0, sizeof(v));
	v.term = d->term;
	v.leader = (uint8_t)d->conf.node_id;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		if (report_fresh(d, i, now)) {
			const struct ctld_report *r = &d->reports[i];
			v.reporting |= 1ull << i;
			v.alive |= (uint64_t)r->hb.alive << i;
			v.node[i] = (struct ctld_view_node){ .report_age_ms = (uint32_t)(now - r->at_ms),
							     .peers_heard = r->hb.peers_heard,
							     .incarnation = r->hb.incarnation };
		}
		/* A new leader listens first: until then a node it has not heard of yet counts
		 * as healthy, as the failure detector has it. */
		bool member = d->state->nodes[i].state != CTL_NODE_NONE || (v.reporting >> i) & 1;
		if (member && ctl_leader_healthy(d->leader, now, i))
			v.healthy |= 1ull << i;
	}
	ctl_leader_stats_get(d->leader, &v.stats);
	lead_view_lanes(d, &v, now);
	d->view = v;
	d->view_ms = now;
	d->view_sent_ms = now;
	ssize_t n = ctld_view_encode(&v, d->mgmt.msg_buf, CTLD_DGRAM_PAYLOAD_MAX);
	if (n < 0)
		return;
	struct repl_state rs;
	repl_state_get(d->r, &rs);
	uint64_t to = rs.members.voters | rs.members.learners;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		if (((to >> i) & 1) && i != d->conf.node_id)
			ctld_mgmt_send(d, i, CTLD_KIND_VIEW, d->mgmt.msg_buf, (size_t)n);
	d->stats.views_sent++;
}

void ctld_lead_tick(struct ctld *d, uint64_t tick_ms)
{
	/* The leader's logic must see time only move forward: a report handled a moment ago
	 * read the clock after tick_ms was taken. */
	(void)tick_ms;
	uint64_t now = ctld_now_ms();
	if (d->state->n_lanes > 0)
		ctl_leader_tick(d->leader, now);
	if (now - d->members_ms >= d->conf.propose_retry_ms) {
		d->members_ms = now;
		lead_group_members(d);
	}
	if (now - d->view_sent_ms >= CTLD_VIEW_MS)
		lead_view(d, now);
}

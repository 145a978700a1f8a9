/* Collects the daemon's status snapshot (status.h) for spindlectl status and the metrics
 * endpoint: the committed cluster state, the leader's view of health, this daemon's place in
 * the control group, its dataplane link and its counters. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "daemon/ctld.h"

static void collect_addr(const struct ctld *d, unsigned node, char *out, size_t cap)
{
	struct sockaddr_in a;
	out[0] = '\0';
	if (!ctld_mgmt_addr(d, node, &a))
		return;
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip));
	snprintf(out, cap, "%s:%u", ip, ntohs(a.sin_port));
}

static void collect_nodes(const struct ctld *d, uint64_t group_voters, uint64_t group_all,
			  struct ctld_status *st)
{
	const struct ctl_state *s = d->state;
	const struct ctld_view *v = &d->view;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		struct ctld_status_node *n = &st->node[i];
		uint64_t b = 1ull << i;
		n->state = s->nodes[i].state;
		n->in_group = (group_all & b) != 0;
		n->group_voter = (group_voters & b) != 0;
		if (n->state == CTL_NODE_NONE && !n->in_group)
			continue;
		st->node_mask |= b;
		n->healthy = (v->healthy & b) != 0;
		n->reporting = (v->reporting & b) != 0;
		n->alive = (v->alive & b) != 0;
		n->report_age_ms = v->node[i].report_age_ms;
		n->peers_heard = v->node[i].peers_heard;
		for (uint32_t k = 0; k < s->n_lanes; k++)
			n->primaries += s->lanes[k].primary == i && s->lanes[k].epoch > 0;
		collect_addr(d, i, n->mgmt_addr, sizeof(n->mgmt_addr));
		snprintf(n->repl_addr, sizeof(n->repl_addr), "%s", s->nodes[i].repl_addr);
	}
}

static void collect_lanes(const struct ctld *d, struct ctld_status *st)
{
	const struct ctl_state *s = d->state;
	st->n_lanes = s->n_lanes < CTLD_STATUS_LANES_MAX ? s->n_lanes : CTLD_STATUS_LANES_MAX;
	for (uint32_t k = 0; k < st->n_lanes; k++) {
		const struct ctl_lane *l = &s->lanes[k];
		struct ctld_status_lane *o = &st->lane[k];
		o->epoch = l->epoch;
		o->prep_epoch = l->prep_epoch;
		o->primary = l->primary;
		o->switch_target = l->switch_target;
		o->voters = l->members.voters;
		o->learners = l->members.learners;
		o->prev_voters = l->prev_voters;
		if (k < d->view.n_lanes) {
			o->caught_up = d->view.caught_up[k];
			o->flags = d->view.lane_flags[k];
		}
	}
}

static void collect_counters(const struct ctld *d, struct ctld_status_counters *c)
{
	c->applied = d->stats.applied;
	c->rejected = d->stats.rejected;
	c->proposals = d->stats.proposals;
	c->leader_changes = d->stats.leader_changes;
	c->failovers = d->stats.failovers;
	c->failovers_started = d->view.stats.failovers_started;
	c->failovers_done = d->view.stats.failovers_done;
	c->switchovers = d->view.stats.switchovers;
	c->members_changes = d->view.stats.members_changes;
	c->prepares_sent = d->view.stats.prepares_sent;
	for (unsigned k = 0; k <= CTLD_KIND_MAX; k++) {
		c->mgmt_tx += d->mgmt.stats.tx[k];
		c->mgmt_rx += d->mgmt.stats.rx[k];
	}
	c->mgmt_rx_bad = d->mgmt.stats.rx_bad + d->mgmt.stats.rx_foreign +
			 d->mgmt.stats.rx_undecodable + d->mgmt.stats.rx_version;
	c->mgmt_rx_version = d->mgmt.stats.rx_version;
	c->mgmt_tx_errors = d->mgmt.stats.tx_errors + d->mgmt.stats.tx_no_addr;
	c->link_connects = d->link.stats.connects;
	c->link_disconnects = d->link.stats.disconnects;
	c->link_heartbeats = d->link.stats.heartbeats;
	c->link_promises = d->link.stats.promises;
	c->link_rx_bad = d->link.stats.rx_bad;
	if (d->store != NULL) {
		struct ctld_store_stats ss;
		ctld_store_stats_get(d->store, &ss);
		c->log_first = ss.first_index;
		c->log_last = ss.last_index;
		c->log_bytes = ss.log_bytes;
		c->snapshot_index = ss.snapshot_index;
		c->snapshots_taken = ss.snapshots_taken;
		c->snapshots_installed = ss.snapshots_installed;
	}
}

void ctld_status_collect(const struct ctld *d, uint64_t now, struct ctld_status *st)
{
	memset(st, 0, sizeof(*st));
	st->self = d->conf.node_id;
	st->term = d->term;
	st->leader = d->leader_node;
	st->is_leader = d->is_leader;
	struct repl_state rs = { 0 };
	if (d->r != NULL)
		repl_state_get(d->r, &rs);
	st->role = rs.role;
	st->commit_index = rs.commit_index;
	st->applied_index = rs.applied_index;
	st->last_index = rs.last_index;
	st->have_view = d->view_ms != 0;
	st->view_age_ms = st->have_view ? now - d->view_ms : 0;
	st->uptime_ms = now - d->start_ms;
	const struct ctld_link *l = &d->link;
	st->link_up = l->state == CTLD_LINK_UP;
	st->dataplane_alive = l->alive;
	st->dataplane_incarnation = l->incarnation;
	st->dataplane_hb_age_ms = l->have_hb ? now - l->hb_ms : 0;
	st->dataplane_lanes = l->have_hb ? l->n_lanes : 0;
	collect_nodes(d, rs.members.voters, rs.members.voters | rs.members.learners, st);
	collect_lanes(d, st);
	collect_counters(d, &st->c);
}

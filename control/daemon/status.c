/* Rendering the daemon's status snapshot (status.h): the table spindlectl status prints,
 * the same as JSON for --json, and the Prometheus text format for the metrics endpoint. */
#include "daemon/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/wire.h"

void ctld_buf_printf(struct ctld_buf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = b->cap - b->len;
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = MAX(b->cap * 2, b->len + (size_t)n + 1);
		cap = MAX(cap, (size_t)4096);
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

void ctld_buf_json_string(struct ctld_buf *b, const char *s)
{
	ctld_buf_printf(b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			ctld_buf_printf(b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			ctld_buf_printf(b, "\\u%04x", (unsigned char)*s);
		else
			ctld_buf_printf(b, "%c", *s);
	}
	ctld_buf_printf(b, "\"");
}

void ctld_buf_free(struct ctld_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void ctld_nodes_text(uint64_t set, char *out, size_t cap)
{
	size_t off = 0;
	out[0] = '\0';
	if (set == 0) {
		snprintf(out, cap, "-");
		return;
	}
	for (unsigned i = 0; i < CTL_NODES_MAX && off < cap; i++)
		if ((set >> i) & 1)
			off += (size_t)snprintf(out + off, cap - off, "%s%u", off ? "," : "", i);
}

const char *ctld_node_state_name(uint8_t state)
{
	switch (state) {
	case CTL_NODE_JOINING: return "joining";
	case CTL_NODE_ACTIVE: return "active";
	case CTL_NODE_LEAVING: return "leaving";
	default: return "none";
	}
}

static const char *health_name(const struct ctld_status *st, const struct ctld_status_node *n)
{
	if (!st->have_view)
		return "unknown";
	if (!n->reporting)
		return "dead";
	return n->healthy ? "healthy" : "unhealthy";
}

static const char *role_name(int role)
{
	switch (role) {
	case 1: return "leader";
	case 2: return "pre-candidate";
	case 3: return "candidate";
	default: return "follower";
	}
}

/* Replicas of a lane that are in step with its primary (the primary counts itself). */
static uint64_t lane_in_sync(const struct ctld_status_lane *l)
{
	uint64_t members = l->voters | l->learners;
	uint64_t self = l->primary < CTL_NODES_MAX ? 1ull << l->primary : 0;
	return (l->caught_up | self) & members;
}

static void lane_state_text(const struct ctld_status *st, const struct ctld_status_lane *l,
			    char *out, size_t cap)
{
	if (l->prep_epoch)
		snprintf(out, cap, "failing over to epoch %llu", (unsigned long long)l->prep_epoch);
	else if (l->switch_target != REPL_NODE_NONE)
		snprintf(out, cap, "switching over to %u", l->switch_target);
	else if (l->prev_voters)
		snprintf(out, cap, "voter change settling");
	else if (st->have_view && (l->flags & 4))
		snprintf(out, cap, "a replica is damaged");
	else if (st->have_view && !(l->flags & 1))
		snprintf(out, cap, "primary not acting");
	else
		snprintf(out, cap, "ok");
}

/* ---- Text ---- */

static void text_header(const struct ctld_status *st, struct ctld_buf *b)
{
	unsigned nodes = 0;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		nodes += st->node[i].state != CTL_NODE_NONE;
	if (st->n_lanes == 0)
		ctld_buf_printf(b, "spindle cluster: not bootstrapped (spindlectl bootstrap)\n");
	else
		ctld_buf_printf(b, "spindle cluster: %u nodes, %u lanes\n", nodes, st->n_lanes);
	if (st->leader == REPL_NODE_NONE)
		ctld_buf_printf(b, "control group: NO LEADER (term %llu): a majority of the control "
				"daemons is not reachable\n", (unsigned long long)st->term);
	else
		ctld_buf_printf(b, "control group: leader node %u, term %llu\n", st->leader,
				(unsigned long long)st->term);
	ctld_buf_printf(b, "this daemon: node %u, %s, applied %llu of %llu\n", st->self,
			role_name(st->role), (unsigned long long)st->applied_index,
			(unsigned long long)st->commit_index);
	if (!st->link_up)
		ctld_buf_printf(b, "this node's dataplane: not connected\n");
	else
		ctld_buf_printf(b, "this node's dataplane: %s, heartbeat %llu ms ago, %u lanes\n",
				st->dataplane_alive ? "alive" : "DEAD",
				(unsigned long long)st->dataplane_hb_age_ms, st->dataplane_lanes);
	if (!st->have_view)
		ctld_buf_printf(b, "health: unknown (no word from the leader)\n");
	else if (st->view_age_ms > 1000)
		ctld_buf_printf(b, "health: as the leader saw it %llu ms ago (stale)\n",
				(unsigned long long)st->view_age_ms);
}

static void text_nodes(const struct ctld_status *st, struct ctld_buf *b)
{
	ctld_buf_printf(b, "\n%-5s %-8s %-10s %-10s %-8s %-10s %-8s %-22s %s\n", "NODE", "STATE",
			"HEALTH", "DATAPLANE", "REPORT", "PRIMARIES", "CONTROL", "MGMT", "REPL");
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		const struct ctld_status_node *n = &st->node[i];
		if (!((st->node_mask >> i) & 1))
			continue;
		char age[24] = "-";
		if (st->have_view && n->reporting)
			snprintf(age, sizeof(age), "%u ms", n->report_age_ms);
		const char *dp = !st->have_view ? "unknown" : !n->reporting ? "-" : n->alive ? "alive" : "dead";
		const char *group = n->group_voter ? "voter" : n->in_group ? "learner" : "-";
		ctld_buf_printf(b, "%-5u %-8s %-10s %-10s %-8s %-10u %-8s %-22s %s\n", i,
				ctld_node_state_name(n->state), health_name(st, n), dp, age,
				n->primaries, group, n->mgmt_addr[0] ? n->mgmt_addr : "-",
				n->repl_addr[0] ? n->repl_addr : "-");
	}
}

static void text_lanes(const struct ctld_status *st, struct ctld_buf *b)
{
	ctld_buf_printf(b, "\n%-5s %-6s %-8s %-12s %-9s %-8s %-10s %s\n", "LANE", "EPOCH",
			"PRIMARY", "VOTERS", "LEARNERS", "IN SYNC", "LAGGING", "STATE");
	for (uint32_t k = 0; k < st->n_lanes && k < CTLD_STATUS_LANES_MAX; k++) {
		const struct ctld_status_lane *l = &st->lane[k];
		char voters[200], learners[200], lagging[200], sync[24] = "-", state[64];
		ctld_nodes_text(l->voters, voters, sizeof(voters));
		ctld_nodes_text(l->learners, learners, sizeof(learners));
		uint64_t in_sync = lane_in_sync(l);
		ctld_nodes_text(st->have_view ? (l->voters | l->learners) & ~in_sync : 0, lagging,
				sizeof(lagging));
		if (st->have_view)
			snprintf(sync, sizeof(sync), "%d/%d", __builtin_popcountll(in_sync & l->voters),
				 __builtin_popcountll(l->voters));
		lane_state_text(st, l, state, sizeof(state));
		ctld_buf_printf(b, "%-5u %-6llu %-8u %-12s %-9s %-8s %-10s %s\n", k,
				(unsigned long long)l->epoch, l->primary, voters, learners, sync,
				lagging, state);
	}
}

void ctld_status_render_text(const struct ctld_status *st, struct ctld_buf *out)
{
	text_header(st, out);
	text_nodes(st, out);
	if (st->n_lanes > 0)
		text_lanes(st, out);
}

/* ---- JSON ---- */

static void json_nodes_array(struct ctld_buf *b, uint64_t set)
{
	ctld_buf_printf(b, "[");
	bool first = true;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		if ((set >> i) & 1) {
			ctld_buf_printf(b, "%s%u", first ? "" : ",", i);
			first = false;
		}
	}
	ctld_buf_printf(b, "]");
}

static void json_header(const struct ctld_status *st, struct ctld_buf *b)
{
	ctld_buf_printf(b, "{\"self\":%u,\"term\":%llu,\"leader\":", st->self,
			(unsigned long long)st->term);
	if (st->leader == REPL_NODE_NONE)
		ctld_buf_printf(b, "null");
	else
		ctld_buf_printf(b, "%u", st->leader);
	ctld_buf_printf(b, ",\"role\":\"%s\",\"commit_index\":%llu,\"applied_index\":%llu,"
			"\"bootstrapped\":%s,\"view_age_ms\":", role_name(st->role),
			(unsigned long long)st->commit_index, (unsigned long long)st->applied_index,
			st->n_lanes ? "true" : "false");
	if (st->have_view)
		ctld_buf_printf(b, "%llu", (unsigned long long)st->view_age_ms);
	else
		ctld_buf_printf(b, "null");
	ctld_buf_printf(b, ",\"dataplane\":{\"connected\":%s,\"alive\":%s,\"incarnation\":%llu,"
			"\"heartbeat_age_ms\":%llu,\"lanes\":%u}", st->link_up ? "true" : "false",
			st->dataplane_alive ? "true" : "false",
			(unsigned long long)st->dataplane_incarnation,
			(unsigned long long)st->dataplane_hb_age_ms, st->dataplane_lanes);
}

static void json_nodes(const struct ctld_status *st, struct ctld_buf *b)
{
	ctld_buf_printf(b, ",\"nodes\":[");
	bool first = true;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		const struct ctld_status_node *n = &st->node[i];
		if (!((st->node_mask >> i) & 1))
			continue;
		ctld_buf_printf(b, "%s{\"id\":%u,\"state\":\"%s\",\"health\":\"%s\",\"reporting\":%s,"
				"\"dataplane_alive\":%s,\"report_age_ms\":%u,\"primaries\":%u,"
				"\"control\":\"%s\",\"mgmt_addr\":", first ? "" : ",", i,
				ctld_node_state_name(n->state), health_name(st, n),
				n->reporting ? "true" : "false", n->alive ? "true" : "false",
				n->report_age_ms, n->primaries,
				n->group_voter ? "voter" : n->in_group ? "learner" : "none");
		ctld_buf_json_string(b, n->mgmt_addr);
		ctld_buf_printf(b, ",\"repl_addr\":");
		ctld_buf_json_string(b, n->repl_addr);
		ctld_buf_printf(b, ",\"hears\":");
		json_nodes_array(b, n->peers_heard);
		ctld_buf_printf(b, "}");
		first = false;
	}
	ctld_buf_printf(b, "]");
}

static void json_lanes(const struct ctld_status *st, struct ctld_buf *b)
{
	ctld_buf_printf(b, ",\"lanes\":[");
	for (uint32_t k = 0; k < st->n_lanes && k < CTLD_STATUS_LANES_MAX; k++) {
		const struct ctld_status_lane *l = &st->lane[k];
		char state[64];
		lane_state_text(st, l, state, sizeof(state));
		ctld_buf_printf(b, "%s{\"lane\":%u,\"epoch\":%llu,\"primary\":%u,\"voters\":",
				k ? "," : "", k, (unsigned long long)l->epoch, l->primary);
		json_nodes_array(b, l->voters);
		ctld_buf_printf(b, ",\"learners\":");
		json_nodes_array(b, l->learners);
		ctld_buf_printf(b, ",\"in_sync\":");
		json_nodes_array(b, st->have_view ? lane_in_sync(l) : 0);
		ctld_buf_printf(b, ",\"preparing_epoch\":%llu,\"switch_target\":",
				(unsigned long long)l->prep_epoch);
		if (l->switch_target == REPL_NODE_NONE)
			ctld_buf_printf(b, "null");
		else
			ctld_buf_printf(b, "%u", l->switch_target);
		ctld_buf_printf(b, ",\"state\":\"%s\"}", state);
	}
	ctld_buf_printf(b, "]");
}

void ctld_status_render_json(const struct ctld_status *st, struct ctld_buf *out)
{
	json_header(st, out);
	json_nodes(st, out);
	json_lanes(st, out);
	ctld_buf_printf(out, "}\n");
}

/* ---- Prometheus text ---- */

static void metric(struct ctld_buf *b, const char *name, const char *type, const char *help)
{
	ctld_buf_printf(b, "# HELP spindle_control_%s %s\n# TYPE spindle_control_%s %s\n", name,
			help, name, type);
}

static void metric_value(struct ctld_buf *b, const char *name, const char *type,
			 const char *help, uint64_t v)
{
	metric(b, name, type, help);
	ctld_buf_printf(b, "spindle_control_%s %llu\n", name, (unsigned long long)v);
}

static void metrics_group(const struct ctld_status *st, struct ctld_buf *b)
{
	const struct ctld_status_counters *c = &st->c;
	metric_value(b, "is_leader", "gauge", "1 if this daemon leads the control group.",
		     st->is_leader);
	metric_value(b, "term", "gauge", "The control group's current term.", st->term);
	metric(b, "leader_node", "gauge", "The control group's leader (-1: none known).");
	ctld_buf_printf(b, "spindle_control_leader_node %d\n",
			st->leader == REPL_NODE_NONE ? -1 : (int)st->leader);
	metric_value(b, "commit_index", "gauge", "Control log entries committed.", st->commit_index);
	metric_value(b, "applied_index", "gauge", "Control log entries applied here.", st->applied_index);
	metric_value(b, "log_last_index", "gauge", "Last entry in the local control log.", c->log_last);
	metric_value(b, "log_bytes", "gauge", "Bytes of the local control log.", c->log_bytes);
	metric_value(b, "snapshot_index", "gauge", "Entry of the newest state snapshot.", c->snapshot_index);
	metric_value(b, "commands_applied_total", "counter", "Cluster state commands applied.", c->applied);
	metric_value(b, "commands_rejected_total", "counter",
		     "Commands that did not apply (stale or invalid).", c->rejected);
	metric_value(b, "leader_changes_total", "counter", "Leaders this daemon has seen.",
		     c->leader_changes);
	metric_value(b, "view_age_ms", "gauge",
		     "Milliseconds since the leader's last view arrived.", st->view_age_ms);
}

static void metrics_decisions(const struct ctld_status *st, struct ctld_buf *b)
{
	const struct ctld_status_counters *c = &st->c;
	metric_value(b, "failovers_total", "counter",
		     "Lanes given a new primary (committed epochs), seen by this daemon.", c->failovers);
	metric_value(b, "leader_failovers_started_total", "counter",
		     "Failovers the current leader started (its view).", c->failovers_started);
	metric_value(b, "leader_switchovers_total", "counter",
		     "Planned switchovers the current leader carried out (its view).", c->switchovers);
	metric_value(b, "leader_member_changes_total", "counter",
		     "Lane membership changes the current leader proposed (its view).", c->members_changes);
	metric_value(b, "leader_prepares_sent_total", "counter",
		     "PREPAREs the current leader sent (its view).", c->prepares_sent);
}

static void metrics_io(const struct ctld_status *st, struct ctld_buf *b)
{
	const struct ctld_status_counters *c = &st->c;
	metric_value(b, "mgmt_datagrams_sent_total", "counter", "Management datagrams sent.", c->mgmt_tx);
	metric_value(b, "mgmt_datagrams_received_total", "counter",
		     "Management datagrams received and accepted.", c->mgmt_rx);
	metric_value(b, "mgmt_datagrams_dropped_total", "counter",
		     "Management datagrams dropped (bad checksum, version, cluster, node).", c->mgmt_rx_bad);
	metric_value(b, "mgmt_datagrams_version_refused_total", "counter",
		     "Management datagrams of another wire version (a daemon of another release).",
		     c->mgmt_rx_version);
	metric_value(b, "mgmt_send_errors_total", "counter", "Management sends that failed.",
		     c->mgmt_tx_errors);
	metric_value(b, "dataplane_connected", "gauge", "1 while the link to spindled is up.", st->link_up);
	metric_value(b, "dataplane_alive", "gauge",
		     "1 while spindled sends heartbeats that show progress.", st->dataplane_alive);
	metric_value(b, "dataplane_connects_total", "counter", "Links to spindled established.",
		     c->link_connects);
	metric_value(b, "dataplane_disconnects_total", "counter", "Links to spindled lost.",
		     c->link_disconnects);
	metric_value(b, "dataplane_heartbeats_total", "counter", "Heartbeats received from spindled.",
		     c->link_heartbeats);
	metric_value(b, "dataplane_promises_total", "counter", "Promises spindled made.", c->link_promises);
	metric_value(b, "dataplane_bad_messages_total", "counter",
		     "Undecodable messages from spindled.", c->link_rx_bad);
}

static void metrics_nodes(const struct ctld_status *st, struct ctld_buf *b)
{
	metric(b, "node_healthy", "gauge", "1 if the leader judges the node healthy (-1: unknown).");
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		if ((st->node_mask >> i) & 1)
			ctld_buf_printf(b, "spindle_control_node_healthy{node=\"%u\"} %d\n", i,
					st->have_view ? (int)st->node[i].healthy : -1);
	metric(b, "node_report_age_ms", "gauge", "Milliseconds since the node's last report (leader's view).");
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		if ((st->node_mask >> i) & 1 && st->node[i].reporting)
			ctld_buf_printf(b, "spindle_control_node_report_age_ms{node=\"%u\"} %u\n", i,
					st->node[i].report_age_ms);
	metric(b, "node_primaries", "gauge", "Lanes whose primary is on the node.");
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		if ((st->node_mask >> i) & 1)
			ctld_buf_printf(b, "spindle_control_node_primaries{node=\"%u\"} %u\n", i,
					st->node[i].primaries);
	metric(b, "node_state", "gauge", "The node's membership state (1 for the current one).");
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		if ((st->node_mask >> i) & 1)
			ctld_buf_printf(b, "spindle_control_node_state{node=\"%u\",state=\"%s\"} 1\n", i,
					ctld_node_state_name(st->node[i].state));
}

static void metrics_lanes(const struct ctld_status *st, struct ctld_buf *b)
{
	static const char *const names[] = { "lane_epoch", "lane_primary", "lane_voters",
					     "lane_in_sync", "lane_failing_over" };
	static const char *const helps[] = {
		"The lane's committed epoch.", "The lane's primary node.", "The lane's voters.",
		"Replicas in step with the lane's primary (leader's view).",
		"1 while a failover or switchover of the lane is under way." };
	for (unsigned m = 0; m < ARRAY_SIZE(names); m++) {
		metric(b, names[m], "gauge", helps[m]);
		for (uint32_t k = 0; k < st->n_lanes && k < CTLD_STATUS_LANES_MAX; k++) {
			const struct ctld_status_lane *l = &st->lane[k];
			uint64_t v[] = { l->epoch, l->primary, (uint64_t)__builtin_popcountll(l->voters),
					 (uint64_t)__builtin_popcountll(lane_in_sync(l) & l->voters),
					 l->prep_epoch != 0 || l->switch_target != REPL_NODE_NONE };
			ctld_buf_printf(b, "spindle_control_%s{lane=\"%u\"} %llu\n", names[m], k,
					(unsigned long long)v[m]);
		}
	}
}

/* What the leader's view says of each lane: -1 while this daemon has no view. */
static void metrics_lanes_view(const struct ctld_status *st, struct ctld_buf *b)
{
	static const char *const names[] = { "lane_primary_acting", "lane_damaged" };
	static const char *const helps[] = {
		"1 if the lane's primary acts as primary of its epoch (leader's view; -1: unknown).",
		"1 if a replica of the lane reports a damaged log (leader's view; -1: unknown)." };
	static const uint8_t flags[] = { CTLD_VIEW_ACTING, CTLD_VIEW_DAMAGED };
	for (unsigned m = 0; m < ARRAY_SIZE(names); m++) {
		metric(b, names[m], "gauge", helps[m]);
		for (uint32_t k = 0; k < st->n_lanes && k < CTLD_STATUS_LANES_MAX; k++)
			ctld_buf_printf(b, "spindle_control_%s{lane=\"%u\"} %d\n", names[m], k,
					st->have_view ? (st->lane[k].flags & flags[m]) != 0 : -1);
	}
}

void ctld_metrics_render(const struct ctld_status *st, struct ctld_buf *out)
{
	metrics_group(st, out);
	metrics_decisions(st, out);
	metrics_io(st, out);
	metrics_nodes(st, out);
	metrics_lanes(st, out);
	metrics_lanes_view(st, out);
}

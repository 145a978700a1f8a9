/* The admin commands (admin.h): status from this daemon's state and the leader's view; the
 * others check what they can here (a leader exists, the lane or node exists, a majority of
 * the voters is healthy), propose their command through the leader, and wait until the
 * committed state shows it done, proposing again if it seems lost on the way. */
#define LOG_COMPONENT "admin"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/panic.h"
#include "daemon/admin_priv.h"

/* ---- Helpers ---- */

static bool need_leader(struct admin_client *c)
{
	const struct ctld *d = c->a->d;
	if (d->leader_node != REPL_NODE_NONE)
		return true;
	admin_answerf(c, CTLD_ADMIN_NOLEADER, "no control group leader: a majority of the control "
		      "daemons cannot be reached (this is node %u, term %llu)", d->conf.node_id,
		      (unsigned long long)d->term);
	return false;
}

static bool need_bootstrapped(struct admin_client *c)
{
	if (c->a->d->state->n_lanes > 0)
		return true;
	admin_answer(c, CTLD_ADMIN_STATE, "the cluster is not bootstrapped (spindlectl bootstrap)");
	return false;
}

/* The leader's verdict; without a view yet, every node counts as healthy. */
static bool healthy(const struct ctld *d, unsigned node)
{
	return d->view_ms == 0 || ((d->view.healthy >> node) & 1);
}

static unsigned healthy_in(const struct ctld *d, uint64_t set)
{
	unsigned n = 0;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		n += ((set >> i) & 1) && healthy(d, i);
	return n;
}

static void propose(struct admin_client *c, const struct ctl_cmd *cmd)
{
	c->proposed_ms = ctld_now_ms();
	if (!ctld_group_propose(c->a->d, cmd))
		LOG_DEBUG("request '%s': no leader to propose to (retried)", c->req);
}

static void answer_ok(struct admin_client *c, const char *text)
{
	if (!c->r.json) {
		admin_answer(c, CTLD_ADMIN_OK, text);
		return;
	}
	struct ctld_buf b = { 0 };
	ctld_buf_printf(&b, "{\"ok\":true,\"ms\":%llu,\"message\":",
			(unsigned long long)(ctld_now_ms() - c->start_ms));
	ctld_buf_json_string(&b, text);
	ctld_buf_printf(&b, "}\n");
	admin_answer(c, CTLD_ADMIN_OK, b.oom ? "" : b.p);
	ctld_buf_free(&b);
}

/* ---- status ---- */

static void cmd_status(struct admin_client *c)
{
	struct ctld_status *st = malloc(sizeof(*st));
	if (st == NULL) {
		admin_answer(c, CTLD_ADMIN_INTERNAL, "out of memory");
		return;
	}
	ctld_status_collect(c->a->d, ctld_now_ms(), st);
	struct ctld_buf b = { 0 };
	if (c->r.json)
		ctld_status_render_json(st, &b);
	else
		ctld_status_render_text(st, &b);
	free(st);
	if (b.oom)
		admin_answer(c, CTLD_ADMIN_INTERNAL, "out of memory");
	else
		admin_answer(c, CTLD_ADMIN_OK, b.p);
	ctld_buf_free(&b);
}

/* ---- failover ---- */

/* A healthy voter of lane k other than its primary, leading the fewest lanes. */
static unsigned failover_pick(const struct ctld *d, uint32_t k, const unsigned *leads)
{
	const struct ctl_lane *l = &d->state->lanes[k];
	unsigned best = REPL_NODE_NONE;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		if (!((l->members.voters >> i) & 1) || i == l->primary || !healthy(d, i))
			continue;
		if (best == REPL_NODE_NONE || leads[i] < leads[best])
			best = i;
	}
	return best;
}

/* Decides lane k's target; returns false after answering with why it cannot move. */
static bool failover_lane(struct admin_client *c, uint32_t k, unsigned *leads)
{
	const struct ctld *d = c->a->d;
	const struct ctl_lane *l = &d->state->lanes[k];
	struct admin_lane *al = &c->lanes[k];
	unsigned to = c->r.to;
	if (to != REPL_NODE_NONE && l->primary == to)
		return true; /* already there */
	if (to != REPL_NODE_NONE && !((l->members.voters >> to) & 1)) {
		admin_answerf(c, CTLD_ADMIN_STATE, "node %u is not a voter of lane %u", to, k);
		return false;
	}
	if (to == REPL_NODE_NONE && (to = failover_pick(d, k, leads)) == REPL_NODE_NONE) {
		admin_answerf(c, CTLD_ADMIN_NOMAJORITY, "lane %u: no healthy voter can take over "
			      "from node %u", k, l->primary);
		return false;
	}
	unsigned h = healthy_in(d, l->members.voters), n = (unsigned)__builtin_popcountll(l->members.voters);
	if (h < n / 2 + 1) {
		admin_answerf(c, CTLD_ADMIN_NOMAJORITY, "lane %u: only %u of its %u voters are healthy: "
			      "no majority to promise a new epoch", k, h, n);
		return false;
	}
	if (!healthy(d, to)) {
		admin_answerf(c, CTLD_ADMIN_STATE, "node %u is not healthy", to);
		return false;
	}
	*al = (struct admin_lane){ .epoch = l->epoch, .primary = l->primary, .target = (uint8_t)to,
				   .wanted = true };
	leads[to]++;
	return true;
}

static void failover_propose(struct admin_client *c, bool lost_only)
{
	const struct ctl_state *s = c->a->d->state;
	for (uint32_t k = 0; k < c->n_lanes; k++) {
		const struct admin_lane *al = &c->lanes[k];
		const struct ctl_lane *l = &s->lanes[k];
		if (!al->wanted || al->done)
			continue;
		if (lost_only && (l->epoch != al->epoch || l->prep_epoch || l->switch_target != REPL_NODE_NONE))
			continue;
		struct ctl_cmd cmd = { .type = CTL_CMD_SWITCHOVER, .lane = k, .node = al->target };
		propose(c, &cmd);
	}
}

static void cmd_failover(struct admin_client *c)
{
	const struct ctld *d = c->a->d;
	const struct ctl_state *s = d->state;
	if (!need_leader(c) || !need_bootstrapped(c))
		return;
	if (!c->r.all && c->r.lane >= s->n_lanes) {
		admin_answerf(c, CTLD_ADMIN_UNKNOWN, "no lane %u: the cluster has lanes 0-%u", c->r.lane,
			      s->n_lanes - 1);
		return;
	}
	if (c->r.to != REPL_NODE_NONE && s->nodes[c->r.to].state == CTL_NODE_NONE) {
		admin_answerf(c, CTLD_ADMIN_UNKNOWN, "node %u is not in the cluster", c->r.to);
		return;
	}
	c->n_lanes = s->n_lanes;
	c->lanes = calloc(s->n_lanes, sizeof(*c->lanes));
	unsigned leads[CTL_NODES_MAX] = { 0 };
	for (uint32_t k = 0; k < s->n_lanes; k++)
		if (s->lanes[k].primary < CTL_NODES_MAX)
			leads[s->lanes[k].primary]++;
	for (uint32_t k = c->r.all ? 0 : c->r.lane; c->lanes && k < (c->r.all ? s->n_lanes : c->r.lane + 1); k++)
		if (!failover_lane(c, k, leads))
			return;
	if (c->lanes == NULL) {
		admin_answer(c, CTLD_ADMIN_INTERNAL, "out of memory");
		return;
	}
	failover_propose(c, false);
	admin_cmd_check(c, ctld_now_ms());
}

static void failover_report(struct admin_client *c, enum ctld_admin_code code, uint64_t now)
{
	const struct ctl_state *s = c->a->d->state;
	struct ctld_buf b = { 0 };
	unsigned moved = 0;
	if (c->r.json)
		ctld_buf_printf(&b, "{\"ok\":%s,\"lanes\":[", code == CTLD_ADMIN_OK ? "true" : "false");
	for (uint32_t k = 0; k < c->n_lanes; k++) {
		const struct admin_lane *al = &c->lanes[k];
		const struct ctl_lane *l = &s->lanes[k];
		if (!al->wanted)
			continue;
		uint64_t ms = (al->done ? al->done_ms : now) - c->start_ms;
		if (c->r.json)
			ctld_buf_printf(&b, "%s{\"lane\":%u,\"from\":%u,\"to\":%u,\"epoch_from\":%llu,"
					"\"epoch_to\":%llu,\"done\":%s,\"ms\":%llu}", moved ? "," : "",
					k, al->primary, l->primary, (unsigned long long)al->epoch,
					(unsigned long long)l->epoch, al->done ? "true" : "false",
					(unsigned long long)ms);
		else if (al->done)
			ctld_buf_printf(&b, "lane %u: primary %u -> %u, epoch %llu -> %llu, %llu ms\n", k,
					al->primary, l->primary, (unsigned long long)al->epoch,
					(unsigned long long)l->epoch, (unsigned long long)ms);
		else
			ctld_buf_printf(&b, "lane %u: primary still %u in epoch %llu after %llu ms%s\n", k,
					l->primary, (unsigned long long)l->epoch, (unsigned long long)ms,
					l->prep_epoch ? " (failing over)" : "");
		moved++;
	}
	if (c->r.json)
		ctld_buf_printf(&b, "]}\n");
	if (moved == 0)
		ctld_buf_printf(&b, c->r.json ? "" : "nothing to do: every lane is already there\n");
	if (code == CTLD_ADMIN_OK || !c->r.json)
		admin_answer(c, code, b.oom ? "out of memory" : (b.p ? b.p : ""));
	else
		admin_answer(c, code, "the failover did not complete in time");
	ctld_buf_free(&b);
}

/* Marks the lanes whose switchover is done; true when all are. */
static bool failover_mark(struct admin_client *c, uint64_t now)
{
	const struct ctl_state *s = c->a->d->state;
	bool all = true;
	for (uint32_t k = 0; k < c->n_lanes; k++) {
		struct admin_lane *al = &c->lanes[k];
		const struct ctl_lane *l = &s->lanes[k];
		if (al->wanted && !al->done && l->epoch > al->epoch && l->prep_epoch == 0) {
			al->done = true;
			al->done_ms = now;
		}
		all = all && (!al->wanted || al->done);
	}
	return all;
}

static void failover_check(struct admin_client *c, uint64_t now)
{
	bool all = failover_mark(c, now);
	if (all)
		failover_report(c, CTLD_ADMIN_OK, now);
	else if (now >= c->deadline_ms)
		failover_report(c, CTLD_ADMIN_TIMEOUT, now);
	else if (now - c->proposed_ms >= ADMIN_REPROPOSE_MS)
		failover_propose(c, true);
}

/* ---- node drain ---- */

/* Cancels a planned switchover to the node being drained (balancing may have asked for one
 * just before), at most once per ADMIN_REPROPOSE_MS per lane. */
static void drain_cancel(struct admin_client *c, uint32_t k, uint64_t now)
{
	struct admin_lane *al = &c->lanes[k];
	if (al->cancel_ms && now - al->cancel_ms < ADMIN_REPROPOSE_MS)
		return;
	al->cancel_ms = now;
	struct ctl_cmd cmd = { .type = CTL_CMD_SWITCHOVER, .lane = k, .node = REPL_NODE_NONE };
	propose(c, &cmd);
}

/* Moves the lanes the node leads that no switchover of this drain is moving yet: the first
 * call, and any lane that came back to it meanwhile (a balancing switchover decided before
 * it knew). Returns false after answering when a lane cannot move. */
static bool drain_lanes(struct admin_client *c, uint64_t now)
{
	const struct ctl_state *s = c->a->d->state;
	unsigned leads[CTL_NODES_MAX] = { 0 };
	for (uint32_t k = 0; k < s->n_lanes; k++)
		if (s->lanes[k].primary < CTL_NODES_MAX)
			leads[s->lanes[k].primary]++;
	bool added = false;
	for (uint32_t k = 0; k < s->n_lanes; k++) {
		const struct ctl_lane *l = &s->lanes[k];
		const struct admin_lane *al = &c->lanes[k];
		if (l->switch_target == c->r.node && l->primary != c->r.node && !l->prep_epoch)
			drain_cancel(c, k, now);
		if (l->primary != c->r.node || l->prep_epoch || l->switch_target != REPL_NODE_NONE ||
		    (al->wanted && !al->done))
			continue;
		if (!failover_lane(c, k, leads))
			return false;
		added = true;
	}
	if (added)
		failover_propose(c, false);
	return true;
}

static void cmd_drain(struct admin_client *c)
{
	const struct ctl_state *s = c->a->d->state;
	if (!need_leader(c) || !need_bootstrapped(c))
		return;
	if (s->nodes[c->r.node].state == CTL_NODE_NONE) {
		admin_answerf(c, CTLD_ADMIN_UNKNOWN, "node %u is not in the cluster", c->r.node);
		return;
	}
	c->n_lanes = s->n_lanes;
	c->lanes = calloc(s->n_lanes, sizeof(*c->lanes));
	if (c->lanes == NULL) {
		admin_answer(c, CTLD_ADMIN_INTERNAL, "out of memory");
		return;
	}
	if (!drain_lanes(c, ctld_now_ms()))
		return;
	bool any = false;
	for (uint32_t k = 0; k < c->n_lanes; k++)
		any = any || c->lanes[k].wanted || c->lanes[k].cancel_ms;
	if (!any) {
		char text[120];
		snprintf(text, sizeof(text), "node %u leads no lane: nothing to drain\n", c->r.node);
		answer_ok(c, text);
		return;
	}
	admin_cmd_check(c, ctld_now_ms());
}

/* Done when every switchover is, the node leads nothing and no switchover to it is pending;
 * a lane that went back to it meanwhile is moved again. */
static void drain_check(struct admin_client *c, uint64_t now)
{
	const struct ctl_state *s = c->a->d->state;
	bool leads = false;
	for (uint32_t k = 0; k < s->n_lanes; k++)
		leads = leads || s->lanes[k].primary == c->r.node ||
			s->lanes[k].switch_target == c->r.node;
	if (leads && now < c->deadline_ms && !drain_lanes(c, now))
		return; /* answered: a lane cannot move */
	bool all = failover_mark(c, now);
	if (all && !leads)
		failover_report(c, CTLD_ADMIN_OK, now);
	else if (now >= c->deadline_ms)
		failover_report(c, CTLD_ADMIN_TIMEOUT, now);
	else if (now - c->proposed_ms >= ADMIN_REPROPOSE_MS)
		failover_propose(c, true);
}

/* ---- node add, remove, replace ---- */

static void node_add_propose(struct admin_client *c, unsigned node)
{
	struct ctl_cmd cmd = { .type = CTL_CMD_NODE_ADD, .node = (uint8_t)node };
	snprintf(cmd.mgmt_addr, sizeof(cmd.mgmt_addr), "%s", c->r.mgmt_addr);
	snprintf(cmd.repl_addr, sizeof(cmd.repl_addr), "%s", c->r.repl_addr);
	propose(c, &cmd);
}

static void node_remove_propose(struct admin_client *c, unsigned node)
{
	struct ctl_cmd cmd = { .type = CTL_CMD_NODE_REMOVE, .node = (uint8_t)node };
	propose(c, &cmd);
}

static void cmd_node(struct admin_client *c)
{
	const struct ctl_state *s = c->a->d->state;
	if (!need_leader(c) || !need_bootstrapped(c))
		return;
	unsigned add = c->r.op == CTLD_ADMIN_NODE_REPLACE ? c->r.new_node : c->r.node;
	if (c->r.op != CTLD_ADMIN_NODE_REMOVE && s->nodes[add].state != CTL_NODE_NONE) {
		admin_answerf(c, CTLD_ADMIN_STATE, "node %u is already in the cluster (%s)", add,
			      ctld_node_state_name(s->nodes[add].state));
		return;
	}
	if (c->r.op != CTLD_ADMIN_NODE_ADD) {
		unsigned n = c->r.node, others = 0;
		if (s->nodes[n].state == CTL_NODE_NONE) {
			admin_answerf(c, CTLD_ADMIN_UNKNOWN, "node %u is not in the cluster", n);
			return;
		}
		for (unsigned i = 0; i < CTL_NODES_MAX; i++)
			others += i != n && s->nodes[i].state == CTL_NODE_ACTIVE;
		if (others == 0 && c->r.op == CTLD_ADMIN_NODE_REMOVE) {
			admin_answerf(c, CTLD_ADMIN_STATE, "node %u is the last active node", n);
			return;
		}
	}
	c->stage = c->r.op == CTLD_ADMIN_NODE_REMOVE ? 1 : 0;
	if (c->stage == 0)
		node_add_propose(c, add);
	else
		node_remove_propose(c, c->r.node);
	admin_cmd_check(c, ctld_now_ms());
}

static void node_progress(const struct ctl_state *s, unsigned n, char *out, size_t cap)
{
	unsigned voter = 0, learner = 0, primary = 0;
	for (uint32_t k = 0; k < s->n_lanes; k++) {
		voter += (s->lanes[k].members.voters >> n) & 1;
		learner += (s->lanes[k].members.learners >> n) & 1;
		primary += s->lanes[k].primary == n;
	}
	snprintf(out, cap, "node %u is %s: voter of %u lanes, learner of %u, primary of %u (of %u)",
		 n, ctld_node_state_name(s->nodes[n].state), voter, learner, primary, s->n_lanes);
}

static void node_check(struct admin_client *c, uint64_t now)
{
	const struct ctl_state *s = c->a->d->state;
	unsigned add = c->r.op == CTLD_ADMIN_NODE_REPLACE ? c->r.new_node : c->r.node;
	unsigned n = c->stage == 0 ? add : c->r.node;
	uint8_t st = s->nodes[n].state;
	uint64_t ms = now - c->start_ms;
	char progress[200];
	if (c->stage == 0 && st == CTL_NODE_ACTIVE) {
		if (c->r.op == CTLD_ADMIN_NODE_ADD) {
			char text[200];
			snprintf(text, sizeof(text), "node %u joined: a voter of every lane (%llu ms)\n", n,
				 (unsigned long long)ms);
			answer_ok(c, text);
			return;
		}
		c->stage = 1;
		node_remove_propose(c, c->r.node);
		return;
	}
	if (c->stage == 1 && st == CTL_NODE_NONE) {
		char text[200];
		if (c->r.op == CTLD_ADMIN_NODE_REPLACE)
			snprintf(text, sizeof(text), "node %u replaced by node %u (%llu ms)\n", c->r.node,
				 add, (unsigned long long)ms);
		else
			snprintf(text, sizeof(text), "node %u left the cluster (%llu ms)\n", n,
				 (unsigned long long)ms);
		answer_ok(c, text);
		return;
	}
	if (now >= c->deadline_ms) {
		node_progress(s, n, progress, sizeof(progress));
		admin_answerf(c, CTLD_ADMIN_TIMEOUT, "not done after %llu ms: %s", (unsigned long long)ms,
			      progress);
		return;
	}
	bool lost = c->stage == 0 ? st == CTL_NODE_NONE : (st == CTL_NODE_ACTIVE || st == CTL_NODE_JOINING);
	if (lost && now - c->proposed_ms >= ADMIN_REPROPOSE_MS) {
		if (c->stage == 0)
			node_add_propose(c, n);
		else
			node_remove_propose(c, n);
	}
}

/* ---- bootstrap ---- */

static void bootstrap_propose(struct admin_client *c)
{
	const struct ctld *d = c->a->d;
	struct repl_state rs;
	repl_state_get(d->r, &rs);
	struct ctl_cmd cmd = { .type = CTL_CMD_BOOTSTRAP, .n_lanes = c->r.lanes,
			       .members = { .voters = rs.members.voters } };
	propose(c, &cmd);
}

static void cmd_bootstrap(struct admin_client *c)
{
	const struct ctld *d = c->a->d;
	if (!need_leader(c))
		return;
	if (d->state->n_lanes > 0) {
		admin_answerf(c, CTLD_ADMIN_STATE, "the cluster is already bootstrapped (%u lanes)",
			      d->state->n_lanes);
		return;
	}
	if (c->r.lanes == 0 && !d->link.have_hb) {
		admin_answer(c, CTLD_ADMIN_USAGE, "this node's dataplane is not connected: give the "
			     "lane count with --lanes N");
		return;
	}
	if (c->r.lanes == 0)
		c->r.lanes = d->link.n_lanes;
	bootstrap_propose(c);
	admin_cmd_check(c, ctld_now_ms());
}

static void bootstrap_check(struct admin_client *c, uint64_t now)
{
	const struct ctl_state *s = c->a->d->state;
	if (s->n_lanes > 0) {
		char nodes[200], text[300];
		ctld_nodes_text(s->lanes[0].members.voters, nodes, sizeof(nodes));
		snprintf(text, sizeof(text), "bootstrapped: %u lanes over nodes %s, epoch 1 (%llu ms)\n",
			 s->n_lanes, nodes, (unsigned long long)(now - c->start_ms));
		answer_ok(c, text);
	} else if (now >= c->deadline_ms) {
		admin_answer(c, CTLD_ADMIN_TIMEOUT, "the bootstrap did not commit in time (is a "
			     "majority of the control daemons up?)");
	} else if (now - c->proposed_ms >= ADMIN_REPROPOSE_MS) {
		bootstrap_propose(c);
	}
}

/* ---- Dispatch ---- */

void admin_cmd_start(struct admin_client *c)
{
	switch (c->r.op) {
	case CTLD_ADMIN_STATUS:
		cmd_status(c);
		return;
	case CTLD_ADMIN_FAILOVER:
		cmd_failover(c);
		return;
	case CTLD_ADMIN_NODE_ADD:
	case CTLD_ADMIN_NODE_REMOVE:
	case CTLD_ADMIN_NODE_REPLACE:
		cmd_node(c);
		return;
	case CTLD_ADMIN_BOOTSTRAP:
		cmd_bootstrap(c);
		return;
	case CTLD_ADMIN_NODE_DRAIN:
		cmd_drain(c);
		return;
	}
	admin_answer(c, CTLD_ADMIN_INTERNAL, "unhandled request");
}

void admin_cmd_check(struct admin_client *c, uint64_t now)
{
	if (c->phase != ADMIN_WAITING)
		return;
	switch (c->r.op) {
	case CTLD_ADMIN_FAILOVER:
		failover_check(c, now);
		return;
	case CTLD_ADMIN_NODE_ADD:
	case CTLD_ADMIN_NODE_REMOVE:
	case CTLD_ADMIN_NODE_REPLACE:
		node_check(c, now);
		return;
	case CTLD_ADMIN_BOOTSTRAP:
		bootstrap_check(c, now);
		return;
	case CTLD_ADMIN_NODE_DRAIN:
		drain_check(c, now);
		return;
	default:
		return;
	}
}

/* Membership and balance, by the control group's leader. A joining node becomes a learner
 * in every lane, then a voter once the lane's primary reports it caught up; a leaving node
 * first loses its primaries (switchover), then its place in every lane. A lane changes one
 * voter at a time and waits until its primary runs with the change (SETTLED) before the
 * next, so that old and new majorities always overlap. Balancing moves one primary at a
 * time from the busiest healthy node to the idlest. */
#include "control/core/internal.h"

#include "base/compiler.h"

#define BIT(n) (1ull << (n))

/* One step for a joining node in lane k; returns true when the lane is done with it. */
static bool join_step(struct ctl_leader *l, unsigned n, uint32_t k, uint64_t now)
{
	const struct ctl_lane *cl = &l->s->lanes[k];
	struct repl_members m = cl->members;
	if (m.voters & BIT(n))
		return cl->prev_voters == 0;
	if (cl->prep_epoch || cl->prev_voters)
		return false;
	if (!(m.learners & BIT(n))) {
		m.learners |= BIT(n);
		ctl_propose_lane(l, CTL_CMD_LANE_MEMBERS, k, cl->epoch, REPL_NODE_NONE, &m, now);
		l->stats.members_changes++;
		return false;
	}
	const struct ctl_lane_status *st = ctl_status_of(l, now, cl->primary, k);
	if (!st || !(st->caught_up & BIT(n)) || !ctl_leader_healthy(l, now, n))
		return false;
	m.learners &= ~BIT(n);
	m.voters |= BIT(n);
	ctl_propose_lane(l, CTL_CMD_LANE_MEMBERS, k, cl->epoch, REPL_NODE_NONE, &m, now);
	l->stats.members_changes++;
	return false;
}

/* A healthy voter other than n to take over lane k's primary. */
static unsigned replacement(const struct ctl_leader *l, const struct ctl_lane *cl, unsigned n,
			    uint64_t now)
{
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		if (i != n && (cl->members.voters & BIT(i)) && ctl_leader_healthy(l, now, i))
			return i;
	return REPL_NODE_NONE;
}

/* A voter leaves only when the lane loses no margin it needs: no node is still joining (a
 * replacement adds first, then removes), and every other voter is healthy and undamaged. */
static bool removal_safe(const struct ctl_leader *l, const struct ctl_lane *cl, uint32_t k,
			 unsigned n, uint64_t now)
{
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		if (l->s->nodes[i].state == CTL_NODE_JOINING)
			return false;
		if (i == n || !(cl->members.voters & BIT(i)))
			continue;
		const struct ctl_lane_status *st = ctl_status_of(l, now, i, k);
		if (!ctl_leader_healthy(l, now, i) || !st || st->damaged)
			return false;
	}
	return true;
}

/* One step for a leaving node in lane k; returns true when the lane no longer has it. */
static bool leave_step(struct ctl_leader *l, unsigned n, uint32_t k, uint64_t now)
{
	const struct ctl_lane *cl = &l->s->lanes[k];
	struct repl_members m = cl->members;
	if (!((m.voters | m.learners) & BIT(n)))
		return true;
	if (cl->prep_epoch)
		return false;
	if (cl->primary == n) {
		unsigned t = replacement(l, cl, n, now);
		if (t != REPL_NODE_NONE && cl->switch_target == REPL_NODE_NONE)
			ctl_propose_lane(l, CTL_CMD_SWITCHOVER, k, cl->epoch, t, NULL, now);
		return false;
	}
	if ((m.voters & BIT(n)) && (cl->prev_voters || !removal_safe(l, cl, k, n, now)))
		return false;
	m.voters &= ~BIT(n);
	m.learners &= ~BIT(n);
	ctl_propose_lane(l, CTL_CMD_LANE_MEMBERS, k, cl->epoch, REPL_NODE_NONE, &m, now);
	l->stats.members_changes++;
	return false;
}

static void node_state(struct ctl_leader *l, unsigned n, uint8_t state, uint64_t now)
{
	if (l->node_proposed_ms[n] && now - l->node_proposed_ms[n] < l->o.propose_retry_ms)
		return;
	l->node_proposed_ms[n] = now;
	struct ctl_cmd c = { .type = CTL_CMD_NODE_STATE, .node = (uint8_t)n, .node_state = state };
	l->io.propose(l->io.ctx, &c);
}

void ctl_members_tick(struct ctl_leader *l, uint64_t now)
{
	if (now - l->reset_ms < l->o.node_timeout_ms)
		return;
	for (unsigned n = 0; n < CTL_NODES_MAX; n++) {
		uint8_t state = l->s->nodes[n].state;
		if (state != CTL_NODE_JOINING && state != CTL_NODE_LEAVING)
			continue;
		bool done = true;
		for (uint32_t k = 0; k < l->s->n_lanes; k++) {
			bool lane_done = state == CTL_NODE_JOINING ? join_step(l, n, k, now)
								   : leave_step(l, n, k, now);
			done = done && lane_done;
		}
		if (done)
			node_state(l, n, state == CTL_NODE_JOINING ? CTL_NODE_ACTIVE : CTL_NODE_NONE,
				   now);
	}
}

static bool quiet(const struct ctl_state *s)
{
	for (uint32_t k = 0; k < s->n_lanes; k++) {
		const struct ctl_lane *cl = &s->lanes[k];
		if (cl->prep_epoch || cl->prev_voters || cl->switch_target != REPL_NODE_NONE)
			return false;
	}
	for (unsigned n = 0; n < CTL_NODES_MAX; n++)
		if (s->nodes[n].state == CTL_NODE_JOINING || s->nodes[n].state == CTL_NODE_LEAVING)
			return false;
	return true;
}

void ctl_balance_tick(struct ctl_leader *l, uint64_t now)
{
	const struct ctl_state *s = l->s;
	if (!l->o.balance_every_ms || now - l->balance_ms < l->o.balance_every_ms || !quiet(s))
		return;
	l->balance_ms = now;
	unsigned busy = REPL_NODE_NONE, idle = REPL_NODE_NONE, nb = 0, ni = 0;
	for (unsigned n = 0; n < CTL_NODES_MAX; n++) {
		/* Only nodes that reported to this leader: a new leader counts a node it has not
		 * heard from yet as healthy, and that node's daemon may be stopped. */
		if (s->nodes[n].state != CTL_NODE_ACTIVE || !ctl_leader_healthy(l, now, n) ||
		    !ctl_status_of(l, now, n, 0))
			continue;
		unsigned c = ctl_primaries_on(s, n);
		if (busy == REPL_NODE_NONE || c > nb) {
			busy = n;
			nb = c;
		}
		if (idle == REPL_NODE_NONE || c < ni) {
			idle = n;
			ni = c;
		}
	}
	if (busy == REPL_NODE_NONE || nb < ni + 2)
		return;
	for (uint32_t k = 0; k < s->n_lanes; k++) {
		const struct ctl_lane *cl = &s->lanes[k];
		const struct ctl_lane_status *st = ctl_status_of(l, now, busy, k);
		if (cl->primary != busy || !(cl->members.voters & BIT(idle)) || !st ||
		    !(st->caught_up & BIT(idle)))
			continue;
		ctl_propose_lane(l, CTL_CMD_SWITCHOVER, k, cl->epoch, idle, NULL, now);
		return;
	}
}

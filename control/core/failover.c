/* Failover and planned switchover of a lane, by the control group's leader (see ctl.h for
 * the protocol). Everything here only proposes commands and sends PREPARE/HANDOFF; it
 * continues from whatever the committed state says, so a new leader picks up a failover
 * where the old one left it. */
#include "control/core/internal.h"

#include "base/compiler.h"

static bool log_ge(const struct repl_promise *a, const struct repl_promise *b)
{
	return a->last_epoch > b->last_epoch ||
	       (a->last_epoch == b->last_epoch && a->last_index >= b->last_index);
}

/* x's log is at least as up to date as those of enough good (undamaged) promisers of `set`
 * to meet every majority of it: an entry committed by a majority of `set` is durable on one
 * of them, so it is in x's log (Raft's up-to-date argument). */
static UNUSED bool covers(const struct obs_lane *ol, uint64_t good, uint64_t set, unsigned x)
{
	unsigned n = 0;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		if (((good & set) >> i) & 1 && log_ge(&ol->promise[x], &ol->promise[i]))
			n++;
	return n >= ctl_quorum_meet_of(set);
}

static bool better(const struct ctl_leader *l, const struct obs_lane *ol, unsigned x, unsigned y)
{
	unsigned px = ctl_primaries_on(l->s, x), py = ctl_primaries_on(l->s, y);
	if (px != py)
		return px < py; /* balance */
	if (!log_ge(&ol->promise[y], &ol->promise[x]))
		return true;
	return false;
}

/* The new primary: promised, healthy, undamaged, a voter, covering a majority. */
static unsigned choose(const struct ctl_leader *l, const struct ctl_lane *cl,
		       const struct obs_lane *ol, uint64_t good, uint64_t now)
{
	unsigned best = REPL_NODE_NONE;
	for (unsigned x = 0; x < CTL_NODES_MAX; x++) {
		if (!((good & cl->members.voters) >> x & 1) || !ctl_leader_healthy(l, now, x))
			continue;
#ifndef SPINDLE_PLANTED_BUG_PROMOTE_WITHOUT_LOG_CHECK
		if (!covers(ol, good, cl->members.voters, x) ||
		    (cl->prev_voters && !covers(ol, good, cl->prev_voters, x)))
			continue;
#endif
		if (x == cl->prep_target)
			return x;
		if (best == REPL_NODE_NONE || better(l, ol, x, best))
			best = x;
	}
	return best;
}

static uint64_t good_promises(const struct obs_lane *ol)
{
	uint64_t good = 0;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		if ((ol->promised >> i) & 1 && !ol->promise[i].damaged)
			good |= 1ull << i;
	return good;
}

static void failover_progress(struct ctl_leader *l, uint32_t k, uint64_t now)
{
	const struct ctl_lane *cl = &l->s->lanes[k];
	struct obs_lane *ol = &l->lane[k];
	if (ol->prep_epoch != cl->prep_epoch) {
		ol->prep_epoch = cl->prep_epoch;
		ol->promised = 0;
		ol->majority_ms = 0;
		ol->prepare_sent_ms = 0;
	}
	uint64_t ask = (cl->members.voters | cl->prev_voters) & ~ol->promised;
	if (ask && (!ol->prepare_sent_ms || now - ol->prepare_sent_ms >= l->o.prepare_retry_ms)) {
		ol->prepare_sent_ms = now;
		for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
			if ((ask >> i) & 1) {
				ctl_send_prepare(l, CTL_MSG_PREPARE, i, k, cl->prep_epoch,
						 REPL_NODE_NONE);
				l->stats.prepares_sent++;
			}
		}
	}
	/* Fenced: every majority of the voters (and of the previous voters while a change is
	 * unsettled) holds a replica that promised, so the old primary can commit no more. A
	 * damaged replica's promise fences as well; its log only does not count (choose). */
	uint64_t good = good_promises(ol);
	if ((unsigned)__builtin_popcountll(ol->promised & cl->members.voters) <
		    ctl_quorum_meet_of(cl->members.voters) ||
	    (cl->prev_voters && (unsigned)__builtin_popcountll(ol->promised & cl->prev_voters) <
					ctl_quorum_meet_of(cl->prev_voters)))
		return;
	if (!ol->majority_ms)
		ol->majority_ms = now;
	/* The old primary's lease: unless it promised (and so stepped down), it may still serve
	 * reads until lease_wait_ms after a majority stopped acknowledging it. */
	bool stepped_down = cl->primary < CTL_NODES_MAX && (ol->promised >> cl->primary) & 1 &&
			    ol->promise[cl->primary].was_primary;
	uint64_t wait = l->o.lease_wait_ms;
#ifdef SPINDLE_PLANTED_BUG_LEASE_WITHOUT_WAIT
	wait = 0; /* planted bug (simulator only) */
#endif
	if (!stepped_down && now - ol->majority_ms < wait)
		return;
	unsigned x = choose(l, cl, ol, good, now);
	if (x != REPL_NODE_NONE)
		ctl_propose_lane(l, CTL_CMD_LANE_PRIMARY, k, cl->prep_epoch, x, NULL, now);
}

static bool need_failover(struct ctl_leader *l, uint32_t k, uint64_t now)
{
	const struct ctl_lane *cl = &l->s->lanes[k];
	const struct obs_lane *ol = &l->lane[k];
	if (now - l->reset_ms < l->o.node_timeout_ms)
		return false; /* a new leader first listens */
	if (!ctl_leader_healthy(l, now, cl->primary))
		return true;
	const struct ctl_lane_status *st = ctl_status_of(l, now, cl->primary, k);
	/* Appointed but not acting (e.g. it restarted and will not resume that epoch). */
	return st && (st->role != REPL_ROLE_PRIMARY || st->epoch != cl->epoch) &&
	       now - ol->appointed_ms > l->o.not_acting_ms;
}

static void failover_start(struct ctl_leader *l, uint32_t k, uint64_t now, unsigned target)
{
	const struct ctl_lane *cl = &l->s->lanes[k];
	if (ctl_count_healthy(l, now, cl->members.voters) < ctl_majority_of(cl->members.voters))
		return; /* no majority to promise: wait */
	l->stats.failovers_started++;
	ctl_propose_lane(l, CTL_CMD_LANE_PREPARE, k, MAX(cl->epoch, cl->prep_epoch) + 1, target,
			 NULL, now);
}

/* A planned switchover: the primary stops taking writes until the target holds everything
 * (HANDOFF), then a failover that prefers the target. */
static void switchover_progress(struct ctl_leader *l, uint32_t k, uint64_t now)
{
	const struct ctl_lane *cl = &l->s->lanes[k];
	struct obs_lane *ol = &l->lane[k];
	unsigned t = cl->switch_target;
	/* The target must have reported to this leader (a new leader counts a node it has not
	 * heard from as healthy for a while); one that stays down gives the switchover up, or it
	 * would hold every later one (balancing waits for a quiet cluster). */
	if (!ctl_leader_healthy(l, now, t) || !ctl_status_of(l, now, t, k)) {
		if (!ol->target_down_ms)
			ol->target_down_ms = now;
		if (now - ol->target_down_ms >= l->o.not_acting_ms) {
			ol->target_down_ms = 0;
			ol->handoff_ms = 0;
			ctl_propose_lane(l, CTL_CMD_SWITCHOVER, k, cl->epoch, REPL_NODE_NONE, NULL, now);
		}
		return;
	}
	ol->target_down_ms = 0;
	if (!ol->handoff_ms)
		ol->handoff_ms = now;
	if (!ol->handoff_sent_ms || now - ol->handoff_sent_ms >= l->o.prepare_retry_ms) {
		ol->handoff_sent_ms = now;
		ctl_send_prepare(l, CTL_MSG_HANDOFF, cl->primary, k, cl->epoch, t);
	}
	const struct ctl_lane_status *st = ctl_status_of(l, now, cl->primary, k);
	bool ready = st && st->handoff_ready && st->epoch == cl->epoch;
	if (!ready && now - ol->handoff_ms < l->o.handoff_wait_ms)
		return;
	ol->handoff_ms = 0;
	l->stats.switchovers++;
	failover_start(l, k, now, t);
}

static void settle(struct ctl_leader *l, uint32_t k, uint64_t now)
{
	const struct ctl_lane *cl = &l->s->lanes[k];
	const struct ctl_lane_status *st = ctl_status_of(l, now, cl->primary, k);
	if (!st || st->role != REPL_ROLE_PRIMARY || st->epoch != cl->epoch ||
	    st->voters != cl->members.voters || !st->config_committed)
		return;
	ctl_propose_lane(l, CTL_CMD_LANE_SETTLED, k, cl->epoch, REPL_NODE_NONE, &cl->members, now);
}

void ctl_lane_tick(struct ctl_leader *l, uint32_t k, uint64_t now)
{
	const struct ctl_lane *cl = &l->s->lanes[k];
	struct obs_lane *ol = &l->lane[k];
	if (cl->epoch == 0)
		return;
	if (cl->epoch != ol->seen_epoch || cl->primary != ol->seen_primary || !ol->appointed_ms) {
		if (ol->seen_epoch && cl->epoch != ol->seen_epoch && cl->prep_epoch == 0)
			l->stats.failovers_done++;
		ol->seen_epoch = cl->epoch;
		ol->seen_primary = cl->primary;
		ol->appointed_ms = now;
	}
	if (cl->prep_epoch)
		failover_progress(l, k, now);
	else if (need_failover(l, k, now))
		failover_start(l, k, now, REPL_NODE_NONE);
	else if (cl->switch_target != REPL_NODE_NONE && cl->switch_target != cl->primary)
		switchover_progress(l, k, now);
	else if (cl->prev_voters)
		settle(l, k, now);
}

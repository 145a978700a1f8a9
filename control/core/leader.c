/* The control group leader's decisions (see ctl.h): it watches the reports of every node,
 * judges which nodes are healthy, and moves the committed state forward one command at a
 * time: failovers, planned switchovers, membership changes, balancing. It only proposes
 * commands and sends PREPARE/HANDOFF; the state changes when a command commits, on every
 * replica alike. Observations are volatile: a new leader starts them over. */
#include "control/core/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "base/panic.h"

void ctl_leader_options_default(struct ctl_leader_options *o)
{
	o->node_timeout_ms = 150;
	o->lease_wait_ms = 200;
	o->prepare_retry_ms = 20;
	o->propose_retry_ms = 100;
	o->not_acting_ms = 400;
	o->handoff_wait_ms = 300;
	o->balance_every_ms = 1000;
}

struct ctl_leader *ctl_leader_create(const struct ctl_leader_options *o,
				     const struct ctl_leader_io *io, const struct ctl_state *s)
{
	struct ctl_leader *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->o = *o;
	l->io = *io;
	l->s = s;
	return l;
}

/* Observation arrays follow the state's lane count (fixed at bootstrap). */
bool ctl_obs_lanes_fit(struct ctl_leader *l)
{
	uint32_t need = l->s->n_lanes;
	if (need <= l->lanes_cap)
		return true;
	struct obs_lane *v = realloc(l->lane, need * sizeof(*v));
	if (!v)
		return false;
	memset(v + l->lanes_cap, 0, (need - l->lanes_cap) * sizeof(*v));
	l->lane = v;
	l->lanes_cap = need;
	return true;
}

static bool node_lanes_fit(struct obs_node *o, uint32_t need)
{
	if (need <= o->lanes_cap)
		return true;
	struct ctl_lane_status *v = realloc(o->lanes, need * sizeof(*v));
	if (!v)
		return false;
	memset(v + o->lanes_cap, 0, (need - o->lanes_cap) * sizeof(*v));
	o->lanes = v;
	o->lanes_cap = need;
	return true;
}

void ctl_leader_destroy(struct ctl_leader *l)
{
	if (!l)
		return;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		free(l->node[i].lanes);
	free(l->lane);
	free(l);
}

void ctl_leader_reset(struct ctl_leader *l, uint64_t now_ms)
{
	l->reset_ms = now_ms;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		l->node[i].have = false;
		l->node[i].lanes_seen = 0;
		l->node_proposed_ms[i] = 0;
	}
	if (l->lane)
		memset(l->lane, 0, l->lanes_cap * sizeof(*l->lane));
	l->balance_ms = now_ms;
}

void ctl_leader_stats_get(const struct ctl_leader *l, struct ctl_leader_stats *out)
{
	*out = l->stats;
}

/* ---- Observations ---- */

void ctl_leader_report(struct ctl_leader *l, uint64_t now_ms, unsigned node,
		       const struct ctl_msg_heartbeat *r)
{
	if (node >= CTL_NODES_MAX)
		return;
	struct obs_node *o = &l->node[node];
	if (!node_lanes_fit(o, l->s->n_lanes))
		return;
	if (o->have && r->incarnation != o->hb.incarnation) {
		/* A restarted dataplane: forget what it said before, promises included (its log
		 * may have lost a damaged range since; PREPARE asks it again). */
		o->lanes_seen = 0;
		for (uint32_t k = 0; k < l->lanes_cap; k++)
			l->lane[k].promised &= ~(1ull << node);
	}
	o->have = true;
	o->seen_ms = now_ms;
	o->hb = *r;
	o->hb.lanes = NULL;
	for (uint32_t i = 0; i < r->n_lanes; i++) {
		uint32_t k = r->lanes[i].lane;
		if (k >= l->s->n_lanes)
			continue;
		o->lanes[k] = r->lanes[i];
		o->lanes_seen = MAX(o->lanes_seen, (uint64_t)k + 1);
	}
}

void ctl_leader_promise(struct ctl_leader *l, uint64_t now_ms, unsigned node,
			const struct ctl_msg_promise *p)
{
	(void)now_ms;
	if (node >= CTL_NODES_MAX || p->lane >= l->s->n_lanes || !ctl_obs_lanes_fit(l))
		return;
	struct obs_lane *ol = &l->lane[p->lane];
	if (p->promise.epoch != l->s->lanes[p->lane].prep_epoch)
		return;
	if (l->node[node].have && l->node[node].hb.incarnation != p->incarnation)
		return; /* made before the restart we have heard of */
	if (ol->prep_epoch != p->promise.epoch) {
		ol->prep_epoch = p->promise.epoch;
		ol->promised = 0;
		ol->majority_ms = 0;
	}
	ol->promise[node] = p->promise;
	ol->promised |= 1ull << node;
}

static bool fresh(const struct ctl_leader *l, uint64_t now, unsigned node)
{
	const struct obs_node *o = &l->node[node];
	return o->have && o->hb.alive && now - o->seen_ms <= l->o.node_timeout_ms;
}

static bool in_grace(const struct ctl_leader *l, uint64_t now)
{
	return now - l->reset_ms < l->o.node_timeout_ms;
}

/* Alive (its daemon reports a dataplane that makes progress) and connected on the
 * replication network: it hears at least half of the other live nodes and at least half of
 * them hear it, so that with itself it reaches a majority. */
bool ctl_leader_healthy(const struct ctl_leader *l, uint64_t now, unsigned node)
{
	if (node >= CTL_NODES_MAX)
		return false;
	if (!fresh(l, now, node))
		return in_grace(l, now) && !l->node[node].have;
	unsigned others = 0, hear_it = 0, it_hears = 0;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		if (i == node || !fresh(l, now, i))
			continue;
		others++;
		hear_it += (l->node[i].hb.peers_heard >> node) & 1;
		it_hears += (l->node[node].hb.peers_heard >> i) & 1;
	}
	return 2 * hear_it >= others && 2 * it_hears >= others;
}

/* What a node last said about a lane, if anything. */
const struct ctl_lane_status *ctl_status_of(const struct ctl_leader *l, uint64_t now,
					    unsigned node, uint32_t lane)
{
	if (node >= CTL_NODES_MAX || !fresh(l, now, node) || lane >= l->node[node].lanes_seen ||
	    lane >= l->node[node].lanes_cap)
		return NULL;
	const struct ctl_lane_status *st = &l->node[node].lanes[lane];
	return st->lane == lane ? st : NULL;
}

/* ---- Helpers ---- */

unsigned ctl_majority_of(uint64_t set)
{
	return (unsigned)__builtin_popcountll(set) / 2 + 1;
}

unsigned ctl_quorum_meet_of(uint64_t set)
{
	unsigned n = (unsigned)__builtin_popcountll(set);
	return n - n / 2;
}

unsigned ctl_count_healthy(const struct ctl_leader *l, uint64_t now, uint64_t set)
{
	unsigned n = 0;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++)
		if (((set >> i) & 1) && ctl_leader_healthy(l, now, i))
			n++;
	return n;
}

void ctl_propose_lane(struct ctl_leader *l, uint8_t type, uint32_t lane, uint64_t epoch,
		      unsigned node, const struct repl_members *m, uint64_t now)
{
	struct obs_lane *ol = &l->lane[lane];
	struct repl_members none = { 0 };
	const struct repl_members *pm = m ? m : &none;
	bool same = ol->proposed_type == type && ol->proposed_epoch == epoch &&
		    ol->proposed_node == node && ol->proposed_members.voters == pm->voters &&
		    ol->proposed_members.learners == pm->learners;
	if (same && ol->proposed_ms && now - ol->proposed_ms < l->o.propose_retry_ms)
		return;
	ol->proposed_ms = now;
	ol->proposed_type = type;
	ol->proposed_epoch = epoch;
	ol->proposed_node = (uint8_t)node;
	ol->proposed_members = *pm;
	struct ctl_cmd c = { .type = type, .lane = lane, .epoch = epoch, .node = (uint8_t)node };
	if (m)
		c.members = *m;
	l->io.propose(l->io.ctx, &c);
}

void ctl_send_prepare(struct ctl_leader *l, uint8_t type, unsigned node, uint32_t lane,
		      uint64_t epoch, unsigned target)
{
	struct ctl_msg m = { .type = type, .node = (uint8_t)node };
	m.prepare.lane = lane;
	m.prepare.epoch = epoch;
	m.prepare.target = (uint8_t)target;
	l->io.send(l->io.ctx, node, &m);
}

unsigned ctl_primaries_on(const struct ctl_state *s, unsigned node)
{
	unsigned n = 0;
	for (uint32_t k = 0; k < s->n_lanes; k++)
		n += s->lanes[k].primary == node && s->lanes[k].prep_epoch == 0;
	return n;
}

void ctl_leader_tick(struct ctl_leader *l, uint64_t now_ms)
{
	if (!ctl_obs_lanes_fit(l))
		return;
	for (uint32_t k = 0; k < l->s->n_lanes; k++)
		ctl_lane_tick(l, k, now_ms);
	ctl_members_tick(l, now_ms);
	ctl_balance_tick(l, now_ms);
}

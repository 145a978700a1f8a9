/* Faults on a schedule drawn from the seed: node crashes (losing unsynced writes, tearing
 * pending ones) and restarts, hung dataplanes, symmetric and one-way partitions of the
 * replication or management network, bursts of loss and duplication, failing syncs
 * (fail-stop), and corrupt records (on one replica of a lane at a time, so that a majority
 * always keeps its disk). Everything heals at faults_end_us. */
#include "sim.h"

#include <string.h>

enum fault {
	FAULT_CRASH, FAULT_HANG, FAULT_ISOLATE, FAULT_ONE_WAY, FAULT_CUT_PAIR, FAULT_LOSS,
	FAULT_SYNC_FAIL, FAULT_CORRUPT, FAULT_ISOLATE_PRIMARY, FAULT_KINDS
};

static void restart_ev(void *arg, uint64_t node, uint64_t b)
{
	(void)b;
	struct sim_cluster *c = arg;
	sim_node_restart(&c->node[node]);
}

static void unhang_ev(void *arg, uint64_t node, uint64_t b)
{
	(void)b;
	struct sim_cluster *c = arg;
	if (c->node[node].hung)
		sim_trace(c, "node %u: dataplane resumes", (unsigned)node);
	c->node[node].hung = false;
}

/* a: plane mask << 16 | src << 8 | dst; b: 1 to block, 0 to unblock */
static void link_ev(void *arg, uint64_t a, uint64_t b)
{
	struct sim_cluster *c = arg;
	unsigned planes = (unsigned)(a >> 16), src = (a >> 8) & 0xff, dst = a & 0xff;
	sim_trace(c, "link %u -> %u %s%s: %s", src, dst, planes & 1 ? "repl " : "",
		  planes & 2 ? "mgmt" : "", b ? "cut" : "restored");
	for (unsigned p = 0; p < 2; p++)
		if (planes & (1u << p))
			sim_net_block(&c->net, p, src, dst, b != 0);
}

static void loss_ev(void *arg, uint64_t drop_ppm, uint64_t dup_ppm)
{
	struct sim_cluster *c = arg;
	for (unsigned p = 0; p < 2; p++)
		sim_net_plane_set(&c->net, p, (uint32_t)drop_ppm, (uint32_t)dup_ppm,
				  c->p.delay_us_min, c->p.delay_us_max);
}

static void block_link(struct sim_cluster *c, uint64_t at, uint64_t until, unsigned planes,
		       unsigned src, unsigned dst)
{
	uint64_t a = ((uint64_t)planes << 16) | (src << 8) | dst;
	sim_sched_at(&c->sched, at, link_ev, c, a, 1);
	sim_sched_at(&c->sched, until, link_ev, c, a, 0);
}

static void crash_ev(void *arg, uint64_t node, uint64_t b)
{
	(void)b;
	struct sim_cluster *c = arg;
	sim_node_crash(&c->node[node]);
}

static void hang_ev(void *arg, uint64_t node, uint64_t b)
{
	(void)b;
	struct sim_cluster *c = arg;
	if (!c->node[node].up)
		return;
	sim_trace(c, "node %u: dataplane hangs", (unsigned)node);
	c->node[node].hung = true;
	c->stats.hangs++;
}

static void sync_fail_ev(void *arg, uint64_t node, uint64_t lane)
{
	struct sim_cluster *c = arg;
	c->node[node].lane[lane].store.fail_next_sync = true;
	c->stats.sync_failures++;
	sim_trace(c, "node %u lane %u: the next sync fails", (unsigned)node, (unsigned)lane);
}

/* Corrupts a durable record on a replica, unless another replica of the lane is still
 * damaged: a majority must keep its disk for the promises to hold. */
static void corrupt_ev(void *arg, uint64_t node, uint64_t lane)
{
	struct sim_cluster *c = arg;
	struct sim_lane *l = &c->node[node].lane[lane];
	/* With two voters, one damaged disk is already half of them. */
	if (__builtin_popcountll(sim_control_members(c, (unsigned)lane, true)) < 3)
		return;
	for (unsigned i = 0; i < c->p.nodes; i++) {
		const struct sim_lane *o = &c->node[i].lane[lane];
		if (!c->node[i].up || !o->r)
			return;
		struct repl_state s;
		repl_state_get(o->r, &s);
		if (s.damaged || o->store.meta.repair_index > 0 || sim_store_has_corrupt(&o->store))
			return;
	}
	uint64_t first = l->store.dur.start, last = first + l->store.dur.n;
	if (last <= first + 1)
		return;
	uint64_t index = sim_rng_range(&c->rng, first, last - 2); /* not the last record */
	if (sim_store_corrupt(&l->store, index)) {
		c->stats.corruptions++;
		sim_trace(c, "node %u lane %u: record %llu corrupt", (unsigned)node, (unsigned)lane,
			  (unsigned long long)index);
	}
}

/* The node that is primary of some lane now (or a random node). */
static unsigned some_primary(struct sim_cluster *c)
{
	unsigned lane = (unsigned)sim_rng_below(&c->rng, c->p.lanes);
	for (unsigned i = 0; i < c->p.nodes; i++) {
		const struct sim_lane *l = &c->node[i].lane[lane];
		if (!sim_node_alive(&c->node[i]) || !l->r)
			continue;
		struct repl_state s;
		repl_state_get(l->r, &s);
		if (s.role == REPL_ROLE_PRIMARY)
			return i;
	}
	return (unsigned)sim_rng_below(&c->rng, c->p.nodes);
}

/* Cuts whichever node is a primary at that moment off the others, on the planes in a (the
 * clients still reach it): the case a lease must cover. */
static void isolate_primary_ev(void *arg, uint64_t planes, uint64_t until)
{
	struct sim_cluster *c = arg;
	unsigned node = some_primary(c);
	sim_trace(c, "node %u (a primary) cut off", node);
	for (unsigned o = 0; o < c->p.nodes; o++) {
		if (o == node)
			continue;
		block_link(c, c->sched.now_us, until, (unsigned)planes, node, o);
		block_link(c, c->sched.now_us, until, (unsigned)planes, o, node);
	}
}

static void schedule_one(struct sim_cluster *c, enum fault f, uint64_t at, uint64_t until)
{
	unsigned n = c->p.nodes;
	unsigned node = (unsigned)sim_rng_below(&c->rng, n);
	unsigned planes = (unsigned)sim_rng_range(&c->rng, 1, 3); /* repl, mgmt, or both */
	switch (f) {
	case FAULT_CRASH:
		sim_sched_at(&c->sched, at, crash_ev, c, node, 0);
		sim_sched_at(&c->sched, until, restart_ev, c, node, 0);
		break;
	case FAULT_HANG:
		sim_sched_at(&c->sched, at, hang_ev, c, node, 0);
		sim_sched_at(&c->sched, until, unhang_ev, c, node, 0);
		break;
	case FAULT_ISOLATE_PRIMARY:
		c->stats.partitions++;
		sim_sched_at(&c->sched, at, isolate_primary_ev, c, planes, until);
		break;
	case FAULT_ISOLATE:
		c->stats.partitions++;
		for (unsigned o = 0; o < n; o++) {
			if (o == node)
				continue;
			block_link(c, at, until, planes, node, o);
			block_link(c, at, until, planes, o, node);
		}
		break;
	case FAULT_ONE_WAY: {
		c->stats.partitions++;
		bool out = sim_rng_below(&c->rng, 2);
		for (unsigned o = 0; o < n; o++)
			if (o != node)
				block_link(c, at, until, planes, out ? node : o, out ? o : node);
		break;
	}
	case FAULT_CUT_PAIR: {
		c->stats.partitions++;
		unsigned other = (node + 1 + (unsigned)sim_rng_below(&c->rng, n - 1)) % n;
		block_link(c, at, until, planes, node, other);
		if (sim_rng_below(&c->rng, 2))
			block_link(c, at, until, planes, other, node);
		break;
	}
	case FAULT_LOSS:
		sim_sched_at(&c->sched, at, loss_ev, c, sim_rng_range(&c->rng, 50000, 300000),
			     sim_rng_range(&c->rng, 0, 100000));
		sim_sched_at(&c->sched, until, loss_ev, c, c->p.drop_ppm, c->p.dup_ppm);
		break;
	case FAULT_SYNC_FAIL:
		sim_sched_at(&c->sched, at, sync_fail_ev, c, node, sim_rng_below(&c->rng, c->p.lanes));
		break;
	case FAULT_CORRUPT:
		if (c->p.corruption)
			sim_sched_at(&c->sched, at, corrupt_ev, c, node,
				     sim_rng_below(&c->rng, c->p.lanes));
		break;
	case FAULT_KINDS:
		break;
	}
}

static void heal_ev(void *arg, uint64_t a, uint64_t b)
{
	(void)a;
	(void)b;
	struct sim_cluster *c = arg;
	sim_net_heal(&c->net);
	loss_ev(c, c->p.drop_ppm, c->p.dup_ppm);
	for (unsigned i = 0; i < c->p.nodes; i++) {
		c->node[i].hung = false;
		for (unsigned k = 0; k < c->p.lanes; k++)
			c->node[i].lane[k].store.fail_next_sync = false;
		sim_node_restart(&c->node[i]);
	}
	c->heal_us = c->sched.now_us;
	c->healed = true;
	sim_trace(c, "all faults healed");
	sim_clients_probe(c);
}

void sim_faults_schedule(struct sim_cluster *c)
{
	uint64_t start = 100000, end = c->p.faults_end_us;
	unsigned count = (unsigned)sim_rng_range(&c->rng, 2, 10);
	for (unsigned i = 0; i < count; i++) {
		enum fault f = (enum fault)sim_rng_below(&c->rng, FAULT_KINDS);
		uint64_t at = sim_rng_range(&c->rng, start, end - 20000);
		uint64_t len = sim_rng_range(&c->rng, 20000, 800000);
		uint64_t until = at + len < end ? at + len : end;
		schedule_one(c, f, at, until);
	}
	sim_sched_at(&c->sched, end, heal_ev, c, 0, 0);
}

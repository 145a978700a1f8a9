/* A scripted control plane for the lanes, for runs without the control group: it follows
 * the failover protocol (a new epoch, promises from a majority of undamaged replicas, the
 * old primary's lease waited out, the promised replica with the most up-to-date log
 * appointed) but it learns about failures from the simulator itself rather than through
 * heartbeats, and it also switches primaries at random to exercise epoch changes. */
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ORACLE_TICK_US 5000
#define ORACLE_PUSH_US 50000
#define ORACLE_NOT_ACTING_US 400000
#define ORACLE_SPACING_US 50000 /* between two failovers of a lane */

struct oracle_lane {
	uint64_t epoch;
	unsigned primary;
	uint64_t appointed_us;
	/* a failover in progress */
	uint64_t prep_epoch;
	struct repl_promise promise[SIM_NODES_MAX];
	bool promised[SIM_NODES_MAX];
	uint64_t majority_us;
};

struct sim_oracle {
	struct oracle_lane lane[SIM_LANES_MAX];
	uint64_t last_push_us;
};

static uint64_t all_voters(const struct sim_cluster *c)
{
	return (1ull << c->p.nodes) - 1;
}

static void push(struct sim_cluster *c, unsigned k, unsigned node)
{
	struct oracle_lane *ol = &c->oracle->lane[k];
	if (ol->epoch == 0)
		return;
	struct repl_config cfg = { .epoch = ol->epoch, .primary = ol->primary,
				   .members = { .voters = all_voters(c) } };
	sim_lane_config(&c->node[node].lane[k], &cfg);
}

static void push_all(struct sim_cluster *c, unsigned k)
{
	for (unsigned i = 0; i < c->p.nodes; i++)
		push(c, k, i);
}

static void oracle_node_started(struct sim_cluster *c, unsigned node)
{
	for (unsigned k = 0; k < c->p.lanes; k++)
		push(c, k, node);
}

static void oracle_promised(struct sim_cluster *c, unsigned node, unsigned lane,
			    const struct repl_promise *p)
{
	struct oracle_lane *ol = &c->oracle->lane[lane];
	if (ol->prep_epoch == 0 || p->epoch != ol->prep_epoch)
		return;
	ol->promise[node] = *p;
	ol->promised[node] = true;
	sim_trace(c, "oracle: lane %u node %u promised %llu: last (%llu, %llu)%s%s", lane, node,
		  (unsigned long long)p->epoch, (unsigned long long)p->last_epoch,
		  (unsigned long long)p->last_index, p->damaged ? " damaged" : "",
		  p->was_primary ? " was primary" : "");
}

/* Is the primary of lane k unable to serve, as far as the simulator knows? */
static bool primary_unhealthy(struct sim_cluster *c, unsigned k)
{
	const struct oracle_lane *ol = &c->oracle->lane[k];
	const struct sim_node *n = &c->node[ol->primary];
	if (!sim_node_alive(n))
		return true;
	unsigned reach = 0;
	for (unsigned i = 0; i < c->p.nodes; i++)
		if (i != ol->primary && !c->net.link[SIM_PLANE_REPL][ol->primary][i].blocked &&
		    !c->net.link[SIM_PLANE_REPL][i][ol->primary].blocked)
			reach++;
	if (reach + 1 < c->p.nodes / 2 + 1)
		return true;
	struct repl_state s;
	repl_state_get(n->lane[k].r, &s);
	return s.role != REPL_ROLE_PRIMARY &&
	       c->sched.now_us - ol->appointed_us > ORACLE_NOT_ACTING_US;
}

static void ask_promises(struct sim_cluster *c, unsigned k)
{
	struct oracle_lane *ol = &c->oracle->lane[k];
	for (unsigned i = 0; i < c->p.nodes; i++) {
		struct sim_lane *l = &c->node[i].lane[k];
		if (ol->promised[i] || !sim_node_alive(&c->node[i]))
			continue;
		struct repl_promise p;
		int rc = repl_promise(l->r, ol->prep_epoch, &p);
		repl_flush(l->r);
		if (rc == 0)
			oracle_promised(c, i, k, &p);
	}
}

/* The promised replica with the most up-to-date log. */
static unsigned choose(const struct sim_cluster *c, const struct oracle_lane *ol)
{
	unsigned best = REPL_NODE_NONE;
	for (unsigned i = 0; i < c->p.nodes; i++) {
		if (!ol->promised[i])
			continue;
		const struct repl_promise *p = &ol->promise[i];
#ifdef SPINDLE_PLANTED_BUG_PROMOTE_WITHOUT_LOG_CHECK
		if (best == REPL_NODE_NONE)
			best = i; /* planted bug: the first one, whatever its log */
		continue;
#endif
		if (best == REPL_NODE_NONE)
			best = i;
		const struct repl_promise *b = &ol->promise[best];
		if (p->last_epoch > b->last_epoch ||
		    (p->last_epoch == b->last_epoch && p->last_index > b->last_index))
			best = i;
	}
	return best;
}

static void failover_step(struct sim_cluster *c, unsigned k)
{
	struct oracle_lane *ol = &c->oracle->lane[k];
	ask_promises(c, k);
	unsigned good = 0;
	bool old_stepped_down = false;
	for (unsigned i = 0; i < c->p.nodes; i++) {
		if (!ol->promised[i])
			continue;
		good += !ol->promise[i].damaged;
		old_stepped_down |= i == ol->primary && ol->promise[i].was_primary;
	}
	if (good < c->p.nodes / 2 + 1)
		return;
	if (ol->majority_us == 0)
		ol->majority_us = c->sched.now_us;
	uint64_t wait_us = (uint64_t)c->lane_opts.lease_ms * 1000;
#ifdef SPINDLE_PLANTED_BUG_LEASE_WITHOUT_WAIT
	wait_us = 0; /* planted bug: the old primary may still serve reads */
#endif
	if (!old_stepped_down && c->sched.now_us - ol->majority_us < wait_us)
		return;
	unsigned x = choose(c, ol);
	sim_trace(c, "oracle: lane %u epoch %llu primary %u", k, (unsigned long long)ol->prep_epoch,
		  x);
	ol->epoch = ol->prep_epoch;
	ol->primary = x;
	ol->appointed_us = c->sched.now_us;
	ol->prep_epoch = 0;
	c->stats.failovers++;
	push_all(c, k);
}

static void failover_start(struct sim_cluster *c, unsigned k)
{
	struct oracle_lane *ol = &c->oracle->lane[k];
	ol->prep_epoch = ol->epoch + 1;
	memset(ol->promised, 0, sizeof(ol->promised));
	ol->majority_us = 0;
	failover_step(c, k);
}

static void oracle_tick(void *arg, uint64_t a, uint64_t b)
{
	(void)a;
	(void)b;
	struct sim_cluster *c = arg;
	if (c->sched.now_us >= c->p.end_us || !c->oracle)
		return;
	bool push_now = c->sched.now_us - c->oracle->last_push_us >= ORACLE_PUSH_US;
	if (push_now)
		c->oracle->last_push_us = c->sched.now_us;
	for (unsigned k = 0; k < c->p.lanes; k++) {
		struct oracle_lane *ol = &c->oracle->lane[k];
		if (ol->prep_epoch)
			failover_step(c, k);
		else if (c->sched.now_us - ol->appointed_us > ORACLE_SPACING_US &&
			 (primary_unhealthy(c, k) || (!c->healed && sim_rng_ppm(&c->rng, 2000))))
			failover_start(c, k);
		else if (push_now)
			push_all(c, k);
	}
	sim_sched_after(&c->sched, ORACLE_TICK_US, oracle_tick, c, 0, 0);
}

/* A promise does not outlive a restart: recovery may have cut a damaged range. */
static void oracle_node_crashed(struct sim_cluster *c, unsigned node)
{
	for (unsigned k = 0; k < c->p.lanes; k++)
		c->oracle->lane[k].promised[node] = false;
}

static void oracle_deliver(struct sim_cluster *c, unsigned src, unsigned dst,
			   const uint8_t *bytes, size_t len)
{
	(void)c;
	(void)src;
	(void)dst;
	(void)bytes;
	(void)len; /* the oracle uses no network */
}

static void oracle_free(struct sim_cluster *c)
{
	free(c->oracle);
	c->oracle = NULL;
}

static const struct sim_cp_ops oracle_ops = {
	.promised = oracle_promised, .node_crashed = oracle_node_crashed,
	.node_started = oracle_node_started, .deliver = oracle_deliver, .free = oracle_free,
};

void sim_oracle_start(struct sim_cluster *c)
{
	c->cp = &oracle_ops;
	c->oracle = calloc(1, sizeof(*c->oracle));
	ASSERT(c->oracle);
	for (unsigned k = 0; k < c->p.lanes; k++) {
		struct oracle_lane *ol = &c->oracle->lane[k];
		ol->epoch = 1;
		ol->primary = k % c->p.nodes;
		push_all(c, k);
	}
	sim_sched_after(&c->sched, ORACLE_TICK_US, oracle_tick, c, 0, 0);
}

/* The client workload: each client runs one register operation at a time (a read, or a
 * write of a unique value) against the node it believes is the lane's primary, follows
 * "not primary" hints, and gives up after a timeout. Every operation goes into the history
 * with its call and return times; a write whose outcome is unknown (timed out, abandoned by
 * a deposed primary) stays open; a read that got no answer, or an operation refused before
 * it did anything, is left out. After healing, probe clients write to every lane until
 * each has committed a write, to measure progress. */
#include "sim.h"

#include <stdlib.h>

#include "lincheck.h"

#define CLIENT_DELAY_US_MIN 20
#define CLIENT_DELAY_US_MAX 250

static uint64_t op_new(struct sim_cluster *c, unsigned client, unsigned key, uint8_t kind,
		       uint64_t value)
{
	if (c->n_ops == c->cap_ops) {
		c->cap_ops = c->cap_ops ? 2 * c->cap_ops : 1024;
		c->ops = realloc(c->ops, c->cap_ops * sizeof(*c->ops));
		ASSERT(c->ops);
	}
	c->ops[c->n_ops] = (struct sim_op){ .client = client, .key = key, .kind = kind,
					    .value = value, .call_us = c->sched.now_us,
					    .ret_us = LIN_OPEN, .state = SIM_OP_PENDING };
	return c->n_ops++;
}

static void client_next(struct sim_cluster *c, struct sim_client *cl, uint64_t delay_us);

/* A request reaches the node: everything it carries is in the history entry. */
static void arrive_event(void *arg, uint64_t node, uint64_t op)
{
	struct sim_cluster *c = arg;
	const struct sim_op *o = &c->ops[op];
	if (c->clients_stop && o->state != SIM_OP_PENDING)
		return;
	if (o->kind == LIN_WRITE)
		sim_node_client_write(&c->node[node], o->client, op, o->key, o->value);
	else
		sim_node_client_read(&c->node[node], o->client, op, o->key);
}

static void timeout_event(void *arg, uint64_t client, uint64_t op)
{
	struct sim_cluster *c = arg;
	struct sim_client *cl = &c->client[client];
	if (cl->op != op)
		return;
	struct sim_op *o = &c->ops[op];
	o->state = o->kind == LIN_WRITE ? SIM_OP_OPEN : SIM_OP_VOID;
	cl->op = UINT64_MAX;
	unsigned lane = o->key / SIM_KEYS_PER_LANE;
	cl->target[lane] = (unsigned)sim_rng_below(&c->rng, c->p.nodes);
	client_next(c, cl, 1000);
}

static void issue(struct sim_cluster *c, struct sim_client *cl)
{
	unsigned key, lane;
	uint8_t kind;
	if (cl->probe) {
		lane = cl->probe_lane;
		key = lane * SIM_KEYS_PER_LANE;
		kind = LIN_WRITE;
	} else {
		key = (unsigned)sim_rng_below(&c->rng, (uint64_t)c->p.lanes * SIM_KEYS_PER_LANE);
		lane = key / SIM_KEYS_PER_LANE;
		kind = sim_rng_below(&c->rng, 1000) < c->p.read_permille ? LIN_READ : LIN_WRITE;
	}
	uint64_t value = kind == LIN_WRITE ? ((uint64_t)(cl->id + 1) << 40) | ++cl->next_value : 0;
	uint64_t op = op_new(c, cl->id, key, kind, value);
	cl->op = op;
	uint64_t delay = sim_rng_range(&c->rng, CLIENT_DELAY_US_MIN, CLIENT_DELAY_US_MAX);
	sim_sched_after(&c->sched, delay, arrive_event, c, cl->target[lane], op);
	sim_sched_after(&c->sched, SIM_CLIENT_TIMEOUT_US, timeout_event, c, cl->id, op);
}

static void next_event(void *arg, uint64_t client, uint64_t unused)
{
	(void)unused;
	struct sim_cluster *c = arg;
	struct sim_client *cl = &c->client[client];
	if (c->clients_stop || cl->op != UINT64_MAX)
		return;
	if (cl->probe && c->progress_ok[cl->probe_lane])
		return;
	issue(c, cl);
}

static void client_next(struct sim_cluster *c, struct sim_client *cl, uint64_t delay_us)
{
	sim_sched_after(&c->sched, delay_us, next_event, c, cl->id, 0);
}

struct response {
	struct sim_cluster *c;
	unsigned client;
	uint64_t op;
	enum sim_reply reply;
	uint64_t value;
	unsigned hint;
};

static void response_event(void *arg, uint64_t unused_a, uint64_t unused_b)
{
	(void)unused_a;
	(void)unused_b;
	struct response *rsp = arg;
	struct sim_cluster *c = rsp->c;
	struct sim_client *cl = &c->client[rsp->client];
	if (cl->op != rsp->op) {
		free(rsp);
		return; /* timed out already */
	}
	struct sim_op *o = &c->ops[rsp->op];
	unsigned lane = o->key / SIM_KEYS_PER_LANE;
	uint64_t delay = sim_rng_range(&c->rng, 0, 3000);
	switch (rsp->reply) {
	case SIM_REPLY_OK:
		o->state = SIM_OP_OK;
		o->ret_us = c->sched.now_us;
		if (o->kind == LIN_READ)
			o->value = rsp->value;
		if (o->kind == LIN_WRITE && cl->probe && o->call_us >= c->heal_us && c->healed &&
		    !c->progress_ok[lane])
			c->progress_ok[lane] = c->sched.now_us;
		break;
	case SIM_REPLY_UNKNOWN:
		o->state = SIM_OP_OPEN;
		break;
	case SIM_REPLY_NOT_PRIMARY:
	case SIM_REPLY_FAILED:
		o->state = SIM_OP_VOID;
		cl->target[lane] = rsp->hint < c->p.nodes ? rsp->hint
				   : (unsigned)sim_rng_below(&c->rng, c->p.nodes);
		delay = sim_rng_range(&c->rng, 1000, 5000);
		break;
	}
	cl->op = UINT64_MAX;
	client_next(c, cl, delay);
	free(rsp);
}

void sim_reply(struct sim_cluster *c, unsigned client, uint64_t op, enum sim_reply reply,
	       uint64_t value, unsigned hint)
{
	struct response *rsp = malloc(sizeof(*rsp));
	ASSERT(rsp);
	*rsp = (struct response){ .c = c, .client = client, .op = op, .reply = reply, .value = value,
				  .hint = hint };
	uint64_t delay = sim_rng_range(&c->rng, CLIENT_DELAY_US_MIN, CLIENT_DELAY_US_MAX);
	sim_sched_after(&c->sched, delay, response_event, rsp, 0, 0);
}

void sim_clients_start(struct sim_cluster *c)
{
	for (unsigned i = 0; i < c->p.clients; i++) {
		struct sim_client *cl = &c->client[i];
		cl->id = i;
		cl->op = UINT64_MAX;
		for (unsigned k = 0; k < c->p.lanes; k++)
			cl->target[k] = (unsigned)sim_rng_below(&c->rng, c->p.nodes);
		client_next(c, cl, sim_rng_range(&c->rng, 1000, 20000));
	}
}

void sim_clients_probe(struct sim_cluster *c)
{
	for (unsigned k = 0; k < c->p.lanes; k++) {
		unsigned id = c->p.clients + k;
		ASSERT(id < SIM_CLIENTS_MAX);
		struct sim_client *cl = &c->client[id];
		cl->id = id;
		cl->op = UINT64_MAX;
		cl->probe = true;
		cl->probe_lane = k;
		for (unsigned j = 0; j < c->p.lanes; j++)
			cl->target[j] = (unsigned)sim_rng_below(&c->rng, c->p.nodes);
		client_next(c, cl, 0);
	}
}

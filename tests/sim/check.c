/* The simulation's checks, online and at the end of a run:
 * - one entry per committed index: every apply of (lane, index) on any node, ever, carries
 *   the same epoch and payload;
 * - at most one primary per lane and epoch;
 * - no acknowledged write lost: after healing, every replica's log (or snapshot) still holds
 *   each acknowledged entry, and every replica has applied past it;
 * - replicas identical after healing (applied index and register values);
 * - progress: after the faults stop, every lane commits a write within the bound;
 * - the client history is linearizable, key by key.
 * The first violation is kept with the tail of the trace, for the report. */
#include "sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lincheck.h"

#define LIN_BUDGET 2000000

uint64_t sim_hash(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

void sim_trace(struct sim_cluster *c, const char *fmt, ...)
{
	char *line = c->trace[c->trace_next % SIM_TRACE_LINES];
	int n = snprintf(line, sizeof(c->trace[0]), "%10.3f ms  ", (double)c->sched.now_us / 1000);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(c->trace[0]))
		vsnprintf(line + n, sizeof(c->trace[0]) - (size_t)n, fmt, ap);
	va_end(ap);
	c->trace_next++;
	if (c->trace_stream)
		printf("  %s\n", line);
}

void sim_fail(struct sim_cluster *c, const char *fmt, ...)
{
	if (c->failed)
		return;
	c->failed = true;
	int n = snprintf(c->failure, sizeof(c->failure), "at %.3f ms: ",
			 (double)c->sched.now_us / 1000);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(c->failure))
		vsnprintf(c->failure + n, sizeof(c->failure) - (size_t)n, fmt, ap);
	va_end(ap);
	sim_trace(c, "VIOLATION %s", c->failure);
}

void sim_trace_dump(const struct sim_cluster *c, int fd, unsigned lines)
{
	unsigned count = c->trace_next < SIM_TRACE_LINES ? c->trace_next : SIM_TRACE_LINES;
	count = count < lines ? count : lines;
	for (unsigned i = c->trace_next - count; i < c->trace_next; i++) {
		const char *line = c->trace[i % SIM_TRACE_LINES];
		ssize_t w = write(fd, "  ", 2);
		w = write(fd, line, strlen(line));
		w = write(fd, "\n", 1);
		(void)w;
	}
}

static void *grow(void *v, uint64_t *cap, uint64_t need, size_t elem)
{
	if (need < *cap)
		return v;
	uint64_t n = *cap ? *cap : 256;
	while (n <= need)
		n *= 2;
	v = realloc(v, n * elem);
	ASSERT(v);
	memset((char *)v + *cap * elem, 0, (n - *cap) * elem);
	*cap = n;
	return v;
}

void sim_check_apply(struct sim_cluster *c, unsigned lane, unsigned node,
		     const struct repl_entry *e)
{
	c->applied[lane] = grow(c->applied[lane], &c->cap_applied[lane], e->index,
				sizeof(struct sim_applied));
	struct sim_applied *a = &c->applied[lane][e->index];
	uint64_t h = sim_hash(e->payload, e->len) ^ e->type;
	if (!a->set) {
		*a = (struct sim_applied){ .epoch = e->epoch, .hash = h, .set = true };
		return;
	}
	if (a->epoch != e->epoch || a->hash != h)
		sim_fail(c, "%s%u index %llu: node %u applied epoch %llu, another node epoch %llu"
			 " (two entries committed at one index)",
			 lane == SIM_CONTROL_SLOT ? "control group, slot " : "lane ", lane,
			 (unsigned long long)e->index, node, (unsigned long long)e->epoch,
			 (unsigned long long)a->epoch);
}

void sim_check_primary(struct sim_cluster *c, unsigned lane, uint64_t epoch, unsigned node)
{
	c->primary_of[lane] = grow(c->primary_of[lane], &c->cap_primary[lane], epoch,
				   sizeof(unsigned));
	unsigned *p = &c->primary_of[lane][epoch];
	if (*p == 0) {
		*p = node + 1;
		return;
	}
	if (*p != node + 1)
		sim_fail(c, "%s%u epoch %llu: nodes %u and %u both primary",
			 lane == SIM_CONTROL_SLOT ? "control group, slot " : "lane ", lane,
			 (unsigned long long)epoch, *p - 1, node);
}

void sim_check_ack(struct sim_cluster *c, unsigned lane, uint64_t index, uint64_t epoch)
{
	c->acks = grow(c->acks, &c->cap_acks, c->n_acks, sizeof(*c->acks));
	c->acks[c->n_acks++] = (struct sim_ack){ .lane = lane, .index = index, .epoch = epoch };
}

/* ---- End of run ---- */

static void check_converged(struct sim_cluster *c)
{
	for (unsigned k = 0; k < c->p.lanes && !c->failed; k++) {
		uint64_t members = sim_control_members(c, k, false);
		const struct sim_lane *ref = &c->node[__builtin_ctzll(members)].lane[k];
		for (unsigned i = 0; i < c->p.nodes; i++) {
			const struct sim_lane *l = &c->node[i].lane[k];
			if (!((members >> i) & 1))
				continue; /* not a replica of this lane (any more) */
			if (!c->node[i].up) {
				sim_fail(c, "node %u is down after healing", i);
				return;
			}
			if (l->applied != ref->applied ||
			    memcmp(l->kv, ref->kv, sizeof(l->kv)) != 0) {
				sim_fail(c, "lane %u: replicas differ after healing: node %u applied "
					 "%llu, node %u applied %llu", k, i,
					 (unsigned long long)l->applied, ref->node->id,
					 (unsigned long long)ref->applied);
				return;
			}
		}
	}
}

static void check_acks_durable(struct sim_cluster *c)
{
	for (uint64_t a = 0; a < c->n_acks && !c->failed; a++) {
		const struct sim_ack *ack = &c->acks[a];
		uint64_t members = sim_control_members(c, ack->lane, false);
		for (unsigned i = 0; i < c->p.nodes; i++) {
			const struct sim_lane *l = &c->node[i].lane[ack->lane];
			if (!((members >> i) & 1))
				continue;
			const struct sim_record *rec = sim_store_get(&l->store, ack->index);
			bool in_snapshot = ack->index <= l->store.snap.index;
			if (l->applied < ack->index || (!in_snapshot && (!rec || rec->epoch != ack->epoch))) {
				sim_fail(c, "acknowledged write lost: lane %u index %llu epoch %llu "
					 "missing on node %u", ack->lane,
					 (unsigned long long)ack->index,
					 (unsigned long long)ack->epoch, i);
				return;
			}
		}
	}
}

static void check_progress(struct sim_cluster *c)
{
	for (unsigned k = 0; k < c->p.lanes && !c->failed; k++) {
		uint64_t t = c->progress_ok[k];
		if (t == 0 || t - c->heal_us > c->p.progress_bound_us)
			sim_fail(c, "lane %u made no progress within %llu ms of healing", k,
				 (unsigned long long)(c->p.progress_bound_us / 1000));
	}
}

static void check_linearizable(struct sim_cluster *c)
{
	struct lin_op *ops = malloc((c->n_ops + 1) * sizeof(*ops));
	uint64_t *which = malloc((c->n_ops + 1) * sizeof(*which));
	for (unsigned key = 0; key < c->p.lanes * SIM_KEYS_PER_LANE && !c->failed; key++) {
		unsigned n = 0;
		for (uint64_t i = 0; i < c->n_ops; i++) {
			const struct sim_op *o = &c->ops[i];
			if (o->key != key || o->state == SIM_OP_VOID || o->state == SIM_OP_PENDING)
				continue;
			if (o->state == SIM_OP_OPEN && o->kind == LIN_READ)
				continue;
			ops[n] = (struct lin_op){ .kind = o->kind, .value = o->value,
						  .call_us = o->call_us,
						  .ret_us = o->state == SIM_OP_OK ? o->ret_us : LIN_OPEN };
			which[n++] = i;
		}
		unsigned culprit = 0;
		enum lin_result r = lin_check(ops, n, LIN_BUDGET, &culprit);
		if (r == LIN_VIOLATION) {
			const struct sim_op *o = &c->ops[which[culprit]];
			sim_fail(c, "history of key %u not linearizable (%u ops); stuck at %s %llx by "
				 "client %u, %.3f..%.3f ms", key, n, o->kind ? "write" : "read",
				 (unsigned long long)o->value, o->client, (double)o->call_us / 1000,
				 (double)o->ret_us / 1000);
		} else if (r == LIN_UNKNOWN) {
			sim_trace(c, "key %u: linearizability search budget spent (%u ops)", key, n);
		}
	}
	free(ops);
	free(which);
}

void sim_check_final(struct sim_cluster *c)
{
	check_converged(c);
	check_acks_durable(c);
	check_progress(c);
	sim_control_check_final(c);
	check_linearizable(c);
}

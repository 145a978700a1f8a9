/* A binary min-heap of events; ties broken by insertion order for determinism. */
#include "sim/sched.h"

#include <stdlib.h>
#include <string.h>

#include "base/panic.h"

void sim_sched_init(struct sim_sched *s)
{
	memset(s, 0, sizeof(*s));
}

void sim_sched_free(struct sim_sched *s)
{
	free(s->heap);
	memset(s, 0, sizeof(*s));
}

static bool before(const struct sim_event *x, const struct sim_event *y)
{
	return x->t_us < y->t_us || (x->t_us == y->t_us && x->seq < y->seq);
}

void sim_sched_at(struct sim_sched *s, uint64_t t_us, sim_event_fn fn, void *arg, uint64_t a,
		  uint64_t b)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->heap = realloc(s->heap, s->cap * sizeof(*s->heap));
		ASSERT(s->heap);
	}
	struct sim_event e = { .t_us = t_us < s->now_us ? s->now_us : t_us, .seq = s->seq++,
			       .fn = fn, .arg = arg, .a = a, .b = b };
	uint32_t i = s->n++;
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!before(&e, &s->heap[parent]))
			break;
		s->heap[i] = s->heap[parent];
		i = parent;
	}
	s->heap[i] = e;
}

static struct sim_event pop(struct sim_sched *s)
{
	struct sim_event top = s->heap[0];
	struct sim_event last = s->heap[--s->n];
	uint32_t i = 0;
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= s->n)
			break;
		if (c + 1 < s->n && before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->n > 0)
		s->heap[i] = last;
	return top;
}

bool sim_sched_step(struct sim_sched *s, uint64_t t_us)
{
	if (s->n == 0 || s->heap[0].t_us > t_us)
		return false;
	struct sim_event e = pop(s);
	s->now_us = e.t_us;
	s->events_run++;
	e.fn(e.arg, e.a, e.b);
	return true;
}

void sim_sched_run_until(struct sim_sched *s, uint64_t t_us)
{
	while (sim_sched_step(s, t_us))
		;
	if (t_us > s->now_us)
		s->now_us = t_us;
}

uint64_t sim_clock_us(const struct sim_clock *c, uint64_t global_us)
{
	int64_t drift = (int64_t)global_us / 1000000 * c->drift_ppm +
			(int64_t)(global_us % 1000000) * c->drift_ppm / 1000000;
	return (uint64_t)((int64_t)global_us + drift + c->offset_us);
}

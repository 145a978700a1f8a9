/* The simulator's scheduler: one global clock in microseconds and a heap of pending events
 * ordered by (time, sequence), so that two runs from the same seed do exactly the same
 * things in the same order. Also the nodes' local clocks, which drift from the global one
 * within a bound. */
#ifndef SPINDLE_SIM_SCHED_H
#define SPINDLE_SIM_SCHED_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*sim_event_fn)(void *arg, uint64_t a, uint64_t b);

struct sim_event {
	uint64_t t_us;
	uint64_t seq;
	sim_event_fn fn;
	void *arg;
	uint64_t a, b;
};

struct sim_sched {
	uint64_t now_us;
	uint64_t seq;
	struct sim_event *heap;
	uint32_t n, cap;
	uint64_t events_run;
};

void sim_sched_init(struct sim_sched *s);
void sim_sched_free(struct sim_sched *s);
/* Schedules fn(arg, a, b) at t_us (not before now). */
void sim_sched_at(struct sim_sched *s, uint64_t t_us, sim_event_fn fn, void *arg, uint64_t a,
		  uint64_t b);
static inline void sim_sched_after(struct sim_sched *s, uint64_t delay_us, sim_event_fn fn,
				   void *arg, uint64_t a, uint64_t b)
{
	sim_sched_at(s, s->now_us + delay_us, fn, arg, a, b);
}
/* Runs every event due at or before t_us, then sets the clock to t_us. */
void sim_sched_run_until(struct sim_sched *s, uint64_t t_us);
/* Runs the next event if it is due at or before t_us; false if there is none. */
bool sim_sched_step(struct sim_sched *s, uint64_t t_us);

/* A node's clock: local = global * (1 + drift_ppm / 1e6) + offset. Monotonic as long as
 * |drift_ppm| < 1e6. */
struct sim_clock {
	int64_t offset_us;
	int32_t drift_ppm;
};
uint64_t sim_clock_us(const struct sim_clock *c, uint64_t global_us);
static inline uint64_t sim_clock_ms(const struct sim_clock *c, uint64_t global_us)
{
	return sim_clock_us(c, global_us) / 1000;
}

#endif

/* The scheduler: events run in time order, ties in the order they were scheduled, events
 * scheduled from events, nothing before "now"; and the drifting clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/sched.h"

static uint64_t order[64];
static unsigned n_order;

static void record(void *arg, uint64_t a, uint64_t b)
{
	struct sim_sched *s = arg;
	order[n_order++] = a;
	if (b)
		sim_sched_after(s, b, record, s, a + 100, 0);
}

static void test_order(void **state)
{
	(void)state;
	struct sim_sched s;
	sim_sched_init(&s);
	n_order = 0;
	sim_sched_at(&s, 50, record, &s, 3, 0);
	sim_sched_at(&s, 10, record, &s, 1, 25); /* schedules 101 at 35 */
	sim_sched_at(&s, 50, record, &s, 4, 0);  /* same time: after 3 */
	sim_sched_at(&s, 20, record, &s, 2, 0);
	sim_sched_run_until(&s, 40);
	assert_int_equal(n_order, 3);
	assert_int_equal(s.now_us, 40);
	sim_sched_at(&s, 5, record, &s, 5, 0); /* in the past: runs now */
	sim_sched_run_until(&s, 1000);
	const uint64_t want[] = { 1, 2, 101, 5, 3, 4 };
	assert_int_equal(n_order, 6);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(order[i], want[i]);
	assert_int_equal(s.events_run, 6);
	assert_false(sim_sched_step(&s, UINT64_MAX));
	sim_sched_free(&s);
}

static void test_many_events_heap(void **state)
{
	(void)state;
	struct sim_sched s;
	sim_sched_init(&s);
	uint64_t x = 99;
	for (unsigned i = 0; i < 5000; i++) {
		x = x * 6364136223846793005ull + 1;
		sim_sched_at(&s, (x >> 40) % 100000, record, &s, 0, 0);
	}
	uint64_t last = 0;
	n_order = 0;
	while (s.n > 0) {
		uint64_t t = s.heap[0].t_us;
		assert_true(t >= last);
		last = t;
		n_order = 0;
		assert_true(sim_sched_step(&s, UINT64_MAX));
	}
	sim_sched_free(&s);
}

static void test_clock_drift(void **state)
{
	(void)state;
	struct sim_clock fast = { .offset_us = 1000, .drift_ppm = 1000 };
	struct sim_clock slow = { .offset_us = 0, .drift_ppm = -1000 };
	assert_int_equal(sim_clock_us(&fast, 0), 1000);
	assert_int_equal(sim_clock_us(&fast, 10000000), 10000000 + 10000 + 1000);
	assert_int_equal(sim_clock_us(&slow, 10000000), 10000000 - 10000);
	assert_int_equal(sim_clock_ms(&slow, 10000000), 9990);
	uint64_t prev = 0;
	for (uint64_t t = 0; t < 3000000; t += 777) {
		uint64_t now = sim_clock_us(&slow, t);
		assert_true(now >= prev);
		prev = now;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_many_events_heap),
		cmocka_unit_test(test_clock_drift),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

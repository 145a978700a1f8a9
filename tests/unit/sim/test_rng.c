/* The simulator's random generator: reproducible from a seed, different across seeds,
 * bounded draws in range and roughly uniform, probabilities honoured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/rng.h"

static void test_reproducible(void **state)
{
	(void)state;
	struct sim_rng a, b, c;
	sim_rng_seed(&a, 42);
	sim_rng_seed(&b, 42);
	sim_rng_seed(&c, 43);
	unsigned same = 0;
	for (unsigned i = 0; i < 1000; i++) {
		uint64_t x = sim_rng_next(&a);
		assert_int_equal(x, sim_rng_next(&b));
		same += x == sim_rng_next(&c);
	}
	assert_int_equal(same, 0);
}

static void test_ranges_and_uniformity(void **state)
{
	(void)state;
	struct sim_rng g;
	sim_rng_seed(&g, 7);
	unsigned hist[10] = { 0 };
	for (unsigned i = 0; i < 100000; i++) {
		uint64_t x = sim_rng_below(&g, 10);
		assert_true(x < 10);
		hist[x]++;
		uint64_t y = sim_rng_range(&g, 5, 9);
		assert_true(y >= 5 && y <= 9);
	}
	for (unsigned i = 0; i < 10; i++)
		assert_true(hist[i] > 9000 && hist[i] < 11000);
	assert_int_equal(sim_rng_range(&g, 3, 3), 3);
	assert_int_equal(sim_rng_range(&g, 9, 2), 9);
	unsigned hits = 0;
	for (unsigned i = 0; i < 100000; i++)
		hits += sim_rng_ppm(&g, 100000); /* 10% */
	assert_true(hits > 9000 && hits < 11000);
	assert_false(sim_rng_ppm(&g, 0));
	assert_true(sim_rng_ppm(&g, 1000000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reproducible),
		cmocka_unit_test(test_ranges_and_uniformity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

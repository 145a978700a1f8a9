/* The latency histogram against exact percentiles of known distributions (uniform,
 * exponential, constant, and log-uniform over every octave): each reported percentile must be
 * at or above the exact one and within the bucket's relative error 1/BENCH_HIST_HALF of it.
 * Also the bucket arithmetic on its own, merging, clamping and the empty histogram. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <cmocka.h>

#include "bench/hist.h"
#include "bench/keys.h"

#define SAMPLES 200000

static const double percentiles[] = { 0.001, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100 };

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Records values[0..n) and checks every percentile against the sorted values. */
static void check_against_exact(uint64_t *values, size_t n)
{
	struct bench_hist *h = malloc(sizeof(*h));
	assert_non_null(h);
	bench_hist_init(h);
	for (size_t i = 0; i < n; i++)
		bench_hist_record(h, values[i]);
	qsort(values, n, sizeof(values[0]), cmp_u64);
	assert_int_equal(h->count, n);
	assert_int_equal(h->min, values[0]);
	assert_int_equal(h->max, values[n - 1]);
	for (size_t i = 0; i < sizeof(percentiles) / sizeof(percentiles[0]); i++) {
		double p = percentiles[i];
		uint64_t exact = values[bench_hist_rank(n, p) - 1];
		uint64_t got = bench_hist_percentile(h, p);
		assert_true(got >= exact);
		/* Within one bucket: the error is below exact / HALF (and zero for small values). */
		assert_true((double)(got - exact) <= (double)exact / BENCH_HIST_HALF);
		if (exact < 2 * BENCH_HIST_HALF)
			assert_int_equal(got, exact);
	}
	assert_int_equal(bench_hist_percentile(h, 100), values[n - 1]);
	free(h);
}

static uint64_t *samples(void)
{
	uint64_t *v = malloc(SAMPLES * sizeof(*v));
	assert_non_null(v);
	return v;
}

static void test_uniform(void **state)
{
	(void)state;
	struct bench_rng rng;
	bench_rng_seed(&rng, 1);
	uint64_t *v = samples();
	for (size_t i = 0; i < SAMPLES; i++)
		v[i] = bench_rng_below(&rng, 10000000);  /* 0 to 10 ms in ns */
	check_against_exact(v, SAMPLES);
	free(v);
}

static void test_exponential(void **state)
{
	(void)state;
	struct bench_rng rng;
	bench_rng_seed(&rng, 2);
	uint64_t *v = samples();
	for (size_t i = 0; i < SAMPLES; i++) {
		double u = bench_rng_unit(&rng);
		v[i] = (uint64_t)(-log(1.0 - u) * 100000.0);  /* mean 100 us */
	}
	check_against_exact(v, SAMPLES);
	free(v);
}

static void test_constant(void **state)
{
	(void)state;
	uint64_t *v = samples();
	for (size_t i = 0; i < SAMPLES; i++)
		v[i] = 123456789;
	check_against_exact(v, SAMPLES);
	struct bench_hist *h = malloc(sizeof(*h));
	bench_hist_init(h);
	for (int i = 0; i < 1000; i++)
		bench_hist_record(h, 123456789);
	/* A constant is reported exactly: the bucket's top is capped by the exact maximum. */
	assert_int_equal(bench_hist_percentile(h, 50), 123456789);
	assert_int_equal(bench_hist_percentile(h, 0.1), 123456789);
	assert_true(fabs(bench_hist_mean(h) - 123456789.0) < 1e-3);
	free(h);
	free(v);
}

static void test_log_uniform_all_octaves(void **state)
{
	(void)state;
	struct bench_rng rng;
	bench_rng_seed(&rng, 3);
	uint64_t *v = samples();
	for (size_t i = 0; i < SAMPLES; i++) {
		double e = bench_rng_unit(&rng) * (BENCH_HIST_VALUE_BITS - 0.01);
		v[i] = (uint64_t)pow(2.0, e);
	}
	check_against_exact(v, SAMPLES);
	free(v);
}

static void test_bucket_arithmetic(void **state)
{
	(void)state;
	/* Every value falls in the bucket whose bounds contain it, buckets tile the range
	 * without gaps, and each is narrower than 1/HALF of its lower bound. */
	for (uint32_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
		uint64_t lo = bench_hist_bucket_low(i), hi = bench_hist_bucket_high(i);
		assert_true(lo <= hi);
		assert_int_equal(bench_hist_index(lo), i);
		assert_int_equal(bench_hist_index(hi), i);
		if (i + 1 < BENCH_HIST_BUCKETS)
			assert_int_equal(bench_hist_bucket_low(i + 1), hi + 1);
		if (lo >= 2 * BENCH_HIST_HALF)
			assert_true((hi - lo + 1) * BENCH_HIST_HALF <= lo);
		else
			assert_int_equal(lo, hi);
	}
	assert_int_equal(bench_hist_bucket_low(0), 0);
	assert_int_equal(bench_hist_bucket_high(BENCH_HIST_BUCKETS - 1), BENCH_HIST_VALUE_MAX);
}

static void test_merge_and_clamp(void **state)
{
	(void)state;
	struct bench_hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	bench_hist_init(a);
	bench_hist_init(b);
	assert_int_equal(bench_hist_percentile(a, 99), 0);
	for (uint64_t v = 1; v <= 1000; v++)
		bench_hist_record(v % 2 ? a : b, v * 1000);
	bench_hist_record(b, BENCH_HIST_VALUE_MAX + 12345);
	assert_int_equal(b->clamped, 1);
	assert_int_equal(b->max, BENCH_HIST_VALUE_MAX);
	bench_hist_merge(a, b);
	assert_int_equal(a->count, 1001);
	assert_int_equal(a->min, 1000);
	assert_int_equal(a->max, BENCH_HIST_VALUE_MAX);
	uint64_t p50 = bench_hist_percentile(a, 50);  /* rank 501: the value 501000 */
	assert_true(p50 >= 501000 && p50 - 501000 <= 501000 / BENCH_HIST_HALF);
	assert_int_equal(bench_hist_rank(100, 99), 99);
	assert_int_equal(bench_hist_rank(1000, 99.9), 999);
	assert_int_equal(bench_hist_rank(3, 0.001), 1);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_exponential),
		cmocka_unit_test(test_constant),
		cmocka_unit_test(test_log_uniform_all_octaves),
		cmocka_unit_test(test_bucket_arithmetic),
		cmocka_unit_test(test_merge_and_clamp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Large arrays: zeroed allocation below and above the mapping threshold, and resizes that
 * keep the contents, including across the threshold in both directions. */
#include "kv_test.h"

#include "kv/bigmem.h"

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void check(const uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i += 1 + i / 64)
		assert_int_equal(p[i], (uint8_t)(seed + i * 7));
}

static void test_bigmem_zeroed(void **state)
{
	(void)state;
	static const size_t sizes[] = { 64, 4096, KV_BIG_MMAP_BYTES - 8, KV_BIG_MMAP_BYTES,
					4 * KV_BIG_MMAP_BYTES };
	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		uint8_t *p = kv_big_alloc(0, sizes[s], true);
		assert_non_null(p);
		for (size_t i = 0; i < sizes[s]; i += 511)
			assert_int_equal(p[i], 0);
		assert_int_equal(p[sizes[s] - 1], 0);
		fill(p, sizes[s], 3);
		kv_big_free(0, p, sizes[s]);
	}
	kv_big_free(0, NULL, 100);
}

static void test_bigmem_resize(void **state)
{
	(void)state;
	size_t steps[] = { 1024, KV_BIG_MMAP_BYTES / 2, KV_BIG_MMAP_BYTES * 2,
			   KV_BIG_MMAP_BYTES * 8, KV_BIG_MMAP_BYTES * 3, KV_BIG_MMAP_BYTES / 4, 512 };
	size_t cur = steps[0];
	uint8_t *p = kv_big_alloc(0, cur, false);
	fill(p, cur, 9);
	for (size_t s = 1; s < ARRAY_SIZE(steps); s++) {
		size_t next = steps[s];
		p = kv_big_realloc(0, p, cur, next);
		assert_non_null(p);
		check(p, MIN(cur, next), 9);
		fill(p, next, 9);
		cur = next;
	}
	kv_big_free(0, p, cur);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bigmem_zeroed),
		cmocka_unit_test(test_bigmem_resize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

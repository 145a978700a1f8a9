/* The entry cache: contiguous entries up to the last index, payloads in a byte ring that
 * never splits a payload, room made by dropping the oldest entries, truncation of the
 * newest, and the slot limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "repl/internal.h"

static struct repl_entry entry(uint64_t index, uint32_t len, uint8_t fill)
{
	static uint8_t payload[4][256];
	uint8_t *p = payload[index % 4];
	memset(p, fill, len);
	return (struct repl_entry){ .epoch = 7, .index = index, .type = REPL_ENTRY_DATA,
				    .payload = p, .len = len };
}

static void test_push_get_pop(void **state)
{
	(void)state;
	struct repl_cache c;
	assert_int_equal(repl_cache_init(&c, 5, 100), 0);
	assert_int_equal(c.slots_mask, 7); /* rounded up to a power of two */
	repl_cache_reset(&c, 10);
	for (uint64_t i = 10; i < 13; i++) {
		struct repl_entry e = entry(i, 30, (uint8_t)i);
		assert_true(repl_cache_push(&c, &e));
	}
	assert_int_equal(c.payload_bytes, 90);
	struct repl_entry e4 = entry(13, 30, 13);
	assert_false(repl_cache_push(&c, &e4)); /* 120 > 100 */
	struct repl_entry out;
	assert_true(repl_cache_get(&c, 11, &out));
	assert_int_equal(out.index, 11);
	assert_int_equal(out.len, 30);
	assert_int_equal(out.payload[29], 11);
	assert_false(repl_cache_get(&c, 9, &out));
	assert_false(repl_cache_get(&c, 13, &out));
	repl_cache_pop_front(&c);
	/* 10 is gone, but 13 would wrap: 90 is where it would start, so it goes to 0 and the
	 * 10 bytes at the end count as used, which fits exactly (30 free at 0..30). */
	assert_true(repl_cache_push(&c, &e4));
	assert_true(repl_cache_get(&c, 13, &out));
	assert_ptr_equal(out.payload, c.bytes);
	assert_int_equal(out.payload[0], 13);
	assert_true(repl_cache_get(&c, 12, &out));
	assert_int_equal(out.payload[0], 12); /* not overwritten */
	repl_cache_free(&c);
}

static void test_slot_limit_and_zero_length(void **state)
{
	(void)state;
	struct repl_cache c;
	assert_int_equal(repl_cache_init(&c, 4, 64), 0);
	repl_cache_reset(&c, 1);
	for (uint64_t i = 1; i <= 4; i++) {
		struct repl_entry e = entry(i, 0, 0);
		assert_true(repl_cache_push(&c, &e));
	}
	assert_false(repl_cache_fits(&c, 0));
	repl_cache_pop_front(&c);
	assert_true(repl_cache_fits(&c, 0));
	assert_true(repl_cache_fits(&c, 64));
	assert_false(repl_cache_fits(&c, 65));
	repl_cache_free(&c);
}

static void test_truncate(void **state)
{
	(void)state;
	struct repl_cache c;
	assert_int_equal(repl_cache_init(&c, 16, 100), 0);
	repl_cache_reset(&c, 1);
	for (uint64_t i = 1; i <= 5; i++) {
		struct repl_entry e = entry(i, 20, (uint8_t)i);
		assert_true(repl_cache_push(&c, &e));
	}
	assert_false(repl_cache_fits(&c, 1));
	repl_cache_truncate(&c, 4);
	assert_int_equal(repl_cache_last(&c), 3);
	assert_int_equal(c.payload_bytes, 60);
	assert_true(repl_cache_fits(&c, 40));
	struct repl_entry e = entry(4, 40, 44);
	assert_true(repl_cache_push(&c, &e));
	struct repl_entry out;
	assert_true(repl_cache_get(&c, 4, &out));
	assert_int_equal(out.len, 40);
	assert_int_equal(out.payload[39], 44);
	repl_cache_truncate(&c, 1); /* everything */
	assert_int_equal(c.count, 0);
	assert_int_equal(c.first, 1);
	repl_cache_truncate(&c, 9); /* nothing there: no effect */
	assert_int_equal(c.count, 0);
	repl_cache_free(&c);
}

/* A long random workload checked against a plain model of the contents. */
static void test_random_against_model(void **state)
{
	(void)state;
	struct repl_cache c;
	assert_int_equal(repl_cache_init(&c, 32, 1000), 0);
	repl_cache_reset(&c, 1);
	uint64_t next = 1, x = 0x9e3779b97f4a7c15ull;
	uint32_t lens[100000];
	for (unsigned step = 0; step < 50000; step++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		unsigned op = x % 10;
		if (op < 6) {
			struct repl_entry e = entry(next, (uint32_t)(x >> 20) % 200, (uint8_t)next);
			if (repl_cache_push(&c, &e)) {
				lens[next] = e.len;
				next++;
			} else if (c.count > 0) {
				repl_cache_pop_front(&c);
			}
		} else if (op < 9 && c.count > 0) {
			repl_cache_pop_front(&c);
		} else if (c.count > 0) {
			uint64_t from = c.first + (x >> 30) % c.count;
			repl_cache_truncate(&c, from);
			next = from;
		}
		if (c.count == 0)
			repl_cache_reset(&c, next);
		assert_int_equal(c.first + c.count, next);
		uint64_t bytes = 0;
		for (uint64_t i = c.first; i < next; i++) {
			struct repl_entry out;
			assert_true(repl_cache_get(&c, i, &out));
			assert_int_equal(out.len, lens[i]);
			if (out.len)
				assert_int_equal(out.payload[out.len - 1], (uint8_t)i);
			assert_true(out.payload + out.len <= c.bytes + c.bytes_cap);
			bytes += out.len;
		}
		assert_int_equal(bytes, c.payload_bytes);
		assert_true(c.head_v - c.tail_v <= c.bytes_cap);
	}
	repl_cache_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push_get_pop),
		cmocka_unit_test(test_slot_limit_and_zero_length),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_random_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

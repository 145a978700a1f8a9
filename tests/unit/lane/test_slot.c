/* The slot function against Redis Cluster's behaviour (values from CLUSTER KEYSLOT), hash
 * tags with their edge cases, and the slot-to-lane ranges being contiguous and complete. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lane/slot.h"

static uint16_t slot(const char *k)
{
	return lane_slot_of_key(k, strlen(k));
}

static void test_slots_match_redis_cluster(void **state)
{
	(void)state;
	assert_int_equal(slot("foo"), 12182);
	assert_int_equal(slot("bar"), 5061);
	assert_int_equal(slot("hello"), 866);
	assert_int_equal(slot(""), 0);
	/* Hash tags: only the part between the first { and the next } counts. */
	assert_int_equal(slot("{user1000}.following"), slot("user1000"));
	assert_int_equal(slot("{user1000}.followers"), slot("{user1000}.following"));
	assert_int_equal(slot("foo{}{bar}"), slot("foo{}{bar}"));      /* empty tag: whole key */
	assert_int_equal(slot("foo{}{bar}"), lane_slot_of_key("foo{}{bar}", 10));
	assert_int_not_equal(slot("foo{}{bar}"), slot("bar"));
	assert_int_equal(slot("foo{{bar}}zap"), slot("{bar"));         /* from the first { */
	assert_int_equal(slot("foo{bar}{zap}"), slot("bar"));          /* to the first } */
	assert_int_equal(slot("{"), lane_slot_of_key("{", 1));         /* no closing brace */
}

static void test_slot_binary_keys(void **state)
{
	(void)state;
	const char k[] = { 'a', '\0', '{', 'x', '}', 'b' };
	assert_int_equal(lane_slot_of_key(k, sizeof(k)), slot("x"));
}

static void test_lane_ranges_are_contiguous(void **state)
{
	(void)state;
	for (uint32_t lanes = 1; lanes <= 64; lanes++) {
		uint32_t prev = 0, count = 1;
		for (uint32_t s = 0; s < LANE_SLOTS; s++) {
			uint32_t l = lane_of_slot((uint16_t)s, lanes);
			assert_true(l < lanes);
			assert_true(l == prev || l == prev + 1);
			if (l != prev) {
				assert_int_equal(lane_first_slot(l, lanes), s);
				count++;
			}
			prev = l;
		}
		assert_int_equal(count, lanes);
	}
	assert_int_equal(lane_loop_of(5, 2), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_match_redis_cluster),
		cmocka_unit_test(test_slot_binary_keys),
		cmocka_unit_test(test_lane_ranges_are_contiguous),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

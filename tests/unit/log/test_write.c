/* The write path: appends, group commit, durable index reporting, segment roll-over,
 * backpressure, truncation, and fail-stop on failed writes and flushes. */
#include "fixture.h"

static void test_append_flush_reopen(void **state)
{
	(void)state;
	struct fx f = { 0 };
	fx_disk_new(&f, 1);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 0);
	fx_append_range(&f, 1, 1, 10);
	assert_int_equal(f.durable, 0);
	fx_flush_all(&f);
	assert_int_equal(f.durable, 10);
	fx_close(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 10);
	assert_int_equal(fx_read_check(&f, 1, 10), 10);
	fx_close(&f);
	sim_disk_destroy(f.disk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_flush_reopen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Epoch runs: pushes merge equal epochs, truncation drops whole runs, dropping the head
 * clips the run that straddles the new start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "repl/internal.h"

static void test_push_merge_truncate(void **state)
{
	(void)state;
	struct repl_runs runs = { 0 };
	for (uint64_t i = 1; i <= 5; i++)
		assert_int_equal(repl_runs_push(&runs, i, 1), 0);
	assert_int_equal(runs.n, 1);
	assert_int_equal(repl_runs_push(&runs, 6, 3), 0);
	assert_int_equal(repl_runs_push(&runs, 7, 3), 0);
	assert_int_equal(repl_runs_push(&runs, 8, 4), 0);
	assert_int_equal(runs.n, 3);
	assert_int_equal(runs.v[1].start_index, 6);
	assert_int_equal(runs.v[2].epoch, 4);
	repl_runs_truncate(&runs, 7); /* cuts run 4 (starts at 8), keeps run 3 from 6 */
	assert_int_equal(runs.n, 2);
	repl_runs_truncate(&runs, 6);
	assert_int_equal(runs.n, 1);
	assert_int_equal(repl_runs_push(&runs, 6, 5), 0);
	assert_int_equal(runs.n, 2);
	free(runs.v);
}

static void test_drop_before(void **state)
{
	(void)state;
	struct repl_runs runs = { 0 };
	assert_int_equal(repl_runs_push(&runs, 1, 1), 0);
	assert_int_equal(repl_runs_push(&runs, 10, 2), 0);
	assert_int_equal(repl_runs_push(&runs, 20, 3), 0);
	repl_runs_drop_before(&runs, 5);
	assert_int_equal(runs.n, 3);
	assert_int_equal(runs.v[0].start_index, 5);
	repl_runs_drop_before(&runs, 15);
	assert_int_equal(runs.n, 2);
	assert_int_equal(runs.v[0].start_index, 15);
	assert_int_equal(runs.v[0].epoch, 2);
	repl_runs_drop_before(&runs, 20);
	assert_int_equal(runs.n, 1);
	assert_int_equal(runs.v[0].start_index, 20);
	assert_int_equal(runs.v[0].epoch, 3);
	free(runs.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push_merge_truncate),
		cmocka_unit_test(test_drop_before),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

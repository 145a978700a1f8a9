/* Result accounting: error replies grouped by their first word (with a bounded table and an
 * overflow count), merging of threads' results, error totals and throughput. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/clock.h"
#include "bench/result.h"

static struct bench_result *result_new(void)
{
	struct bench_result *r = malloc(sizeof(*r));
	assert_non_null(r);
	bench_result_init(r);
	return r;
}

static void test_error_prefixes(void **state)
{
	(void)state;
	struct bench_result *r = result_new();
	bench_result_error_reply(r, "ERR unknown command", 19);
	bench_result_error_reply(r, "ERR syntax error", 16);
	bench_result_error_reply(r, "WRONGTYPE Operation against a key", 33);
	bench_result_error_reply(r, "NOREPLICAS", 10);
	bench_result_error_reply(r, "", 0);
	bench_result_error_reply(r, "A\"quote", 7);  /* cut before characters JSON would escape */
	bench_result_error_reply(r, "AVERYLONGPREFIXTHATGOESONANDONANDON rest", 40);
	assert_int_equal(r->err_prefixes, 6);
	assert_string_equal(r->err_prefix[0].text, "ERR");
	assert_int_equal(r->err_prefix[0].count, 2);
	assert_string_equal(r->err_prefix[1].text, "WRONGTYPE");
	assert_string_equal(r->err_prefix[2].text, "NOREPLICAS");
	assert_string_equal(r->err_prefix[3].text, "(empty)");
	assert_string_equal(r->err_prefix[4].text, "A");
	assert_int_equal(strlen(r->err_prefix[5].text), BENCH_ERR_PREFIX_BYTES - 1);
	assert_int_equal(bench_result_errors(r), 7);
	/* Past the table's size, kinds are counted together. */
	char name[16];
	for (int i = 0; i < 20; i++) {
		int n = snprintf(name, sizeof(name), "E%d x", i);
		bench_result_error_reply(r, name, (size_t)n);
	}
	assert_int_equal(r->err_prefixes, BENCH_ERR_PREFIXES_MAX);
	assert_int_equal(r->err_reply_other, 6 + 20 - BENCH_ERR_PREFIXES_MAX);
	assert_int_equal(bench_result_errors(r), 27);
	free(r);
}

static void test_merge(void **state)
{
	(void)state;
	struct bench_result *a = result_new(), *b = result_new(), *total = result_new();
	a->requests = 100;
	a->measure_start_ns = 1000;
	a->last_done_ns = 1000 + NS_PER_SEC;
	a->err_timeout = 2;
	a->conns_open = 5;
	bench_hist_record(&a->hist, 500);
	bench_result_error_reply(a, "ERR x", 5);
	b->requests = 300;
	b->measure_start_ns = 1000;
	b->last_done_ns = 1000 + 2 * NS_PER_SEC;
	b->held_open = 7;
	b->connect_errno = 111;
	bench_hist_record(&b->hist, 700);
	bench_result_error_reply(b, "ERR y", 5);
	bench_result_error_reply(b, "MOVED 1 a:1", 11);
	bench_result_merge(total, a);
	bench_result_merge(total, b);
	assert_int_equal(total->requests, 400);
	assert_int_equal(total->measure_start_ns, 1000);
	assert_int_equal(total->last_done_ns, 1000 + 2 * NS_PER_SEC);
	assert_true(bench_result_rps(total) == 200.0);
	assert_int_equal(total->err_prefixes, 2);
	assert_int_equal(total->err_prefix[0].count, 2);
	assert_int_equal(bench_result_errors(total), 2 + 3);
	assert_int_equal(total->conns_open, 5);
	assert_int_equal(total->held_open, 7);
	assert_int_equal(total->connect_errno, 111);
	assert_int_equal(total->hist.count, 2);
	assert_int_equal(total->hist.min, 500);
	assert_int_equal(total->hist.max, 700);
	bench_result_held_error(b, "ERR max number of clients reached\x01\"", 35);
	bench_result_held_error(b, "DENIED later", 12);  /* only the first is kept */
	bench_result_merge(total, b);
	assert_string_equal(total->held_error, "ERR max number of clients reached??");
	struct bench_result *empty = result_new();
	assert_true(bench_result_rps(empty) == 0.0);
	free(a);
	free(b);
	free(total);
	free(empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_prefixes),
		cmocka_unit_test(test_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The request trace: the line format (fields, results, error text cut and made printable),
 * and lines appended by two writers to one file arriving whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/trace.h"

static void test_format(void **state)
{
	(void)state;
	char line[BENCH_TRACE_LINE_BYTES_MAX];
	struct bench_trace_rec rec = { .done_ns = 3000, .start_ns = 1000, .sent_ns = 2000,
				       .conn = 7, .op = "set", .key = "ab12:0042", .seq = 9,
				       .result = BENCH_TRACE_OK };
	size_t n = bench_trace_format(line, sizeof(line), &rec);
	assert_string_equal(line, "3000 1000 2000 7 set ab12:0042 9 ok\n");
	assert_int_equal(n, strlen(line));
	static const char why[] = "TRYAGAIN no\r\nprimary";
	rec.result = BENCH_TRACE_ERROR;
	rec.why = why;
	rec.why_len = sizeof(why) - 1;
	bench_trace_format(line, sizeof(line), &rec);
	assert_string_equal(line, "3000 1000 2000 7 set ab12:0042 9 error TRYAGAIN no??primary\n");
	/* Long error text is cut at BENCH_TRACE_WHY_BYTES. */
	char longwhy[300];
	memset(longwhy, 'x', sizeof(longwhy));
	rec.why = longwhy;
	rec.why_len = sizeof(longwhy);
	n = bench_trace_format(line, sizeof(line), &rec);
	assert_int_equal(n, strlen("3000 1000 2000 7 set ab12:0042 9 error \n") +
			    BENCH_TRACE_WHY_BYTES);
	/* No room: nothing. */
	assert_int_equal(bench_trace_format(line, 10, &rec), 0);
	assert_string_equal(bench_trace_result_name(BENCH_TRACE_DROPPED), "dropped");
	assert_string_equal(bench_trace_result_name(BENCH_TRACE_TIMEOUT), "timeout");
	assert_string_equal(bench_trace_result_name((enum bench_trace_result)99), "?");
}

/* Two writers, each flushing many buffers: the file holds the header and every line whole. */
static void test_file(void **state)
{
	(void)state;
	char path[] = "/tmp/spindle-bench-trace-XXXXXX";
	int tmp = mkstemp(path);
	assert_true(tmp >= 0);
	close(tmp);
	const uint16_t ports[] = { 17401, 17402 };
	int fd = bench_trace_create(path, ports, 2);
	assert_true(fd >= 0);
	struct bench_trace a, b;
	assert_int_equal(bench_trace_init(&a, fd), 0);
	assert_int_equal(bench_trace_init(&b, fd), 0);
	enum { LINES = 20000 };
	for (uint32_t i = 0; i < LINES; i++) {
		struct bench_trace_rec rec = { .done_ns = i, .start_ns = i, .sent_ns = i,
					       .conn = i % 2, .op = "get", .key = "k",
					       .result = BENCH_TRACE_TIMEOUT };
		bench_trace_record(i % 2 ? &b : &a, &rec);
	}
	assert_int_equal(bench_trace_flush(&a), 0);
	assert_int_equal(bench_trace_flush(&b), 0);
	bench_trace_free(&a);
	bench_trace_free(&b);
	close(fd);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[BENCH_TRACE_LINE_BYTES_MAX];
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, "# spindle-bench trace: " BENCH_TRACE_FORMAT "; ports 17401,17402"));
	uint32_t lines = 0;
	uint64_t sum = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long d, s, t;
		unsigned conn;
		char op[8], key[8], result[16];
		unsigned long long seq;
		assert_int_equal(sscanf(line, "%llu %llu %llu %u %7s %7s %llu %15s", &d, &s, &t,
					&conn, op, key, &seq, result), 8);
		assert_int_equal(conn, d % 2);
		assert_string_equal(result, "timeout");
		sum += d;
		lines++;
	}
	fclose(f);
	unlink(path);
	assert_int_equal(lines, LINES);
	assert_int_equal(sum, (uint64_t)LINES * (LINES - 1) / 2);
	/* Off: nothing is written, nothing fails. */
	struct bench_trace off;
	assert_int_equal(bench_trace_init(&off, -1), 0);
	struct bench_trace_rec rec = { .op = "get", .key = "k" };
	bench_trace_record(&off, &rec);
	assert_int_equal(bench_trace_flush(&off), 0);
	bench_trace_free(&off);
	assert_true(bench_trace_create("/nonexistent-dir/trace", ports, 2) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

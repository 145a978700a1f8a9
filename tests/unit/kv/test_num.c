/* Numbers in strings exactly as Redis parses and prints them. */
#include "kv_test.h"

#include <math.h>

#include "kv/num.h"

static bool ll(const char *s, int64_t *v)
{
	return kv_num_parse_ll(s, strlen(s), v);
}

static void test_num_parse_ll(void **state)
{
	(void)state;
	int64_t v;
	assert_true(ll("0", &v) && v == 0);
	assert_true(ll("1", &v) && v == 1);
	assert_true(ll("-1", &v) && v == -1);
	assert_true(ll("9223372036854775807", &v) && v == INT64_MAX);
	assert_true(ll("-9223372036854775808", &v) && v == INT64_MIN);
	static const char *const bad[] = {
		"", "-", "+1", " 1", "1 ", "01", "-0", "00", "1.0", "1e3", "0x10", "abc",
		"9223372036854775808", "-9223372036854775809", "18446744073709551616",
		"99999999999999999999", "123456789012345678901", "1a", "--1",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (ll(bad[i], &v))
			fail_msg("\"%s\" parsed", bad[i]);
	}
	assert_false(kv_num_parse_ll("12\0" "3", 4, &v)); /* an embedded NUL is not a digit */
}

static void test_num_print_ll(void **state)
{
	(void)state;
	char buf[KV_LL_STR_BYTES];
	static const int64_t vals[] = { 0, 1, -1, 10, -10, INT64_MAX, INT64_MIN, 1234567890 };
	for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
		char want[32];
		snprintf(want, sizeof(want), "%lld", (long long)vals[i]);
		size_t n = kv_num_print_ll(buf, vals[i]);
		assert_int_equal(n, strlen(want));
		assert_memory_equal(buf, want, n);
		int64_t back;
		assert_true(kv_num_parse_ll(buf, n, &back) && back == vals[i]);
	}
}

static bool ld(const char *s, long double *v)
{
	return kv_num_parse_ld(s, strlen(s), v);
}

static void test_num_parse_ld(void **state)
{
	(void)state;
	long double v;
	assert_true(ld("10.5", &v) && v == 10.5L);
	assert_true(ld("-0.25", &v) && v == -0.25L);
	assert_true(ld("1e3", &v) && v == 1000.0L);
	assert_true(ld("0x10", &v) && v == 16.0L); /* strtold reads hex */
	assert_true(ld(".5", &v) && v == 0.5L);
	assert_true(ld("5.", &v) && v == 5.0L);
	assert_true(ld("inf", &v) && isinf(v) && v > 0);
	assert_true(ld("-Infinity", &v) && isinf(v) && v < 0);
	assert_true(ld("1e400", &v) && v > 1e300L); /* beyond double, within long double */
	static const char *const bad[] = {
		"", " 1", "1 ", "\t1", "abc", "nan", "NaN", "-nan", "1e5000", "-1e5000", "1e-5000",
		"1.2.3", "1e", "--1",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (ld(bad[i], &v))
			fail_msg("\"%s\" parsed", bad[i]);
	}
	assert_false(kv_num_parse_ld("1\0" "2", 3, &v));
	char big[KV_LD_STR_BYTES];
	memset(big, '1', sizeof(big));
	assert_false(kv_num_parse_ld(big, sizeof(big), &v)); /* too long for Redis's buffer */
}

static void expect_ld(long double v, const char *want)
{
	char buf[KV_LD_STR_BYTES];
	size_t n = kv_num_print_ld(buf, v);
	buf[n] = '\0';
	if (strcmp(buf, want) != 0)
		fail_msg("got \"%s\" want \"%s\"", buf, want);
}

static void test_num_print_ld(void **state)
{
	(void)state;
	expect_ld(10.5L, "10.5");
	expect_ld(3000.0L, "3000");
	expect_ld(0.0L, "0");
	expect_ld(-0.0L, "0");
	expect_ld(-1e-20L, "0"); /* "-0.00000000000000000" trimmed to "-0", then "0" */
	expect_ld(1e-20L, "0");
	expect_ld(0.1L, "0.1");
	expect_ld(-2.5L, "-2.5");
	expect_ld(10.5L + 0.1L, "10.6");
	expect_ld(1.0L / 3.0L, "0.33333333333333333");
	expect_ld(INFINITY, "inf");
	expect_ld(-INFINITY, "-inf");
	/* The largest long double prints in full: 4933 digits, within the buffer. */
	char buf[KV_LD_STR_BYTES];
	size_t n = kv_num_print_ld(buf, 1.18e4932L);
	assert_int_equal(n, 4933);
}

static bool cur(const char *s, uint64_t *v)
{
	return kv_num_parse_cursor(s, strlen(s), v);
}

static void test_num_parse_cursor(void **state)
{
	(void)state;
	uint64_t v = 1;
	assert_true(cur("0", &v) && v == 0);
	assert_true(cur("", &v) && v == 0); /* strtoul of "" is 0 and stops at the end */
	assert_true(cur("42", &v) && v == 42);
	assert_true(cur("+7", &v) && v == 7);
	assert_true(cur("-1", &v) && v == UINT64_MAX);
	assert_true(cur("007", &v) && v == 7);
	assert_true(cur("18446744073709551615", &v) && v == UINT64_MAX);
	assert_true(kv_num_parse_cursor("5\0junk", 6, &v) && v == 5);
	static const char *const bad[] = { " 0", "0 ", "+", "-", "x", "0x", "18446744073709551616",
					   "1.5", "\t1" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (cur(bad[i], &v))
			fail_msg("\"%s\" parsed", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_num_parse_ll),
		cmocka_unit_test(test_num_print_ll),
		cmocka_unit_test(test_num_parse_ld),
		cmocka_unit_test(test_num_print_ld),
		cmocka_unit_test(test_num_parse_cursor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

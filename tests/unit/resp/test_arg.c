/* Argument helpers: case-insensitive name matching and Redis's strict integer rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "resp/resp.h"

static struct resp_arg arg_of(const char *s)
{
	return (struct resp_arg){ .ptr = s, .len = strlen(s) };
}

static void test_arg_equals(void **state)
{
	(void)state;
	struct resp_arg a = arg_of("SeT");
	assert_true(resp_arg_equals(&a, "set"));
	assert_true(resp_arg_equals(&a, "SET"));
	assert_false(resp_arg_equals(&a, "se"));
	assert_false(resp_arg_equals(&a, "sets"));
	assert_false(resp_arg_equals(&a, "get"));
	struct resp_arg empty = { .ptr = "", .len = 0 };
	assert_true(resp_arg_equals(&empty, ""));
	assert_false(resp_arg_equals(&empty, "x"));
	/* Lengths count, not NULs: "nx\0" is not "nx". */
	struct resp_arg nul = { .ptr = "nx\0", .len = 3 };
	assert_false(resp_arg_equals(&nul, "nx"));
	/* Only ASCII letters fold: '@' (0x40) is not '`' (0x60), and high bytes match exactly. */
	struct resp_arg at = arg_of("@");
	assert_false(resp_arg_equals(&at, "`"));
	struct resp_arg high = arg_of("\xc9");
	assert_false(resp_arg_equals(&high, "\xe9"));
	assert_true(resp_arg_equals(&high, "\xc9"));
}

static void expect_int(const char *s, int64_t want)
{
	struct resp_arg a = arg_of(s);
	int64_t v = 12345;
	if (resp_arg_to_int64(&a, &v) != 0)
		fail_msg("\"%s\" rejected", s);
	assert_int_equal(v, want);
}

static void expect_bad(const char *s)
{
	struct resp_arg a = arg_of(s);
	int64_t v = 12345;
	if (resp_arg_to_int64(&a, &v) != -EINVAL)
		fail_msg("\"%s\" accepted", s);
	assert_int_equal(v, 12345);
}

static void test_arg_to_int64(void **state)
{
	(void)state;
	expect_int("0", 0);
	expect_int("1", 1);
	expect_int("-1", -1);
	expect_int("10", 10);
	expect_int("9223372036854775807", INT64_MAX);
	expect_int("-9223372036854775808", INT64_MIN);
	expect_int("-9223372036854775807", INT64_MIN + 1);
	expect_bad("");
	expect_bad("-");
	expect_bad("-0");
	expect_bad("00");
	expect_bad("01");
	expect_bad("+1");
	expect_bad(" 1");
	expect_bad("1 ");
	expect_bad("1.0");
	expect_bad("1e3");
	expect_bad("0x10");
	expect_bad("9223372036854775808");
	expect_bad("-9223372036854775809");
	expect_bad("18446744073709551616");
	expect_bad("99999999999999999999999");
	/* Bounded by length, not by a NUL. */
	struct resp_arg a = { .ptr = "123", .len = 2 };
	int64_t v;
	assert_int_equal(resp_arg_to_int64(&a, &v), 0);
	assert_int_equal(v, 12);
	struct resp_arg nul = { .ptr = "1\0", .len = 2 };
	assert_int_equal(resp_arg_to_int64(&nul, &v), -EINVAL);
	/* Every value round-trips through its decimal text. */
	uint64_t x = 0x2545F4914F6CDD1Dull;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int64_t want = (int64_t)x >> (i % 64);
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", (long long)want);
		expect_int(buf, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arg_equals),
		cmocka_unit_test(test_arg_to_int64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Command templates: placeholders anywhere in an argument, exact RESP encoding and size,
 * refusal of oversized templates and of too small buffers; key names and checkable values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bench/cmd.h"

static void encode_expect(const struct bench_cmd *cmd, const char *key, const char *value,
			  const char *expected)
{
	char out[1024];
	size_t n = bench_cmd_encode(cmd, out, sizeof(out), key, strlen(key), value, strlen(value));
	assert_int_equal(n, strlen(expected));
	assert_memory_equal(out, expected, n);
	assert_int_equal(bench_cmd_bytes(cmd, strlen(key), strlen(value)), n);
	/* One byte short: nothing is written and 0 says so. */
	assert_int_equal(bench_cmd_encode(cmd, out, n - 1, key, strlen(key), value, strlen(value)), 0);
}

static void test_set_template(void **state)
{
	(void)state;
	struct bench_cmd cmd;
	char err[128];
	const char *const argv[] = { "SET", "key:__key__", "__value__" };
	assert_int_equal(bench_cmd_parse(&cmd, 3, argv, err, sizeof(err)), 0);
	assert_int_equal(cmd.argc, 3);
	assert_int_equal(cmd.keys, 1);
	assert_int_equal(cmd.values, 1);
	encode_expect(&cmd, "0042", "hello",
		      "*3\r\n$3\r\nSET\r\n$8\r\nkey:0042\r\n$5\r\nhello\r\n");
	assert_true(bench_cmd_arg_is(&cmd, 0, "set"));
	assert_false(bench_cmd_arg_is(&cmd, 1, "key:"));
}

static void test_placeholders_anywhere(void **state)
{
	(void)state;
	struct bench_cmd cmd;
	char err[128];
	const char *const argv[] = { "HSET", "h{__key__}", "f__value__g__key__", "__key____key__",
				     "plain", "" };
	assert_int_equal(bench_cmd_parse(&cmd, 6, argv, err, sizeof(err)), 0);
	assert_int_equal(cmd.keys, 4);
	assert_int_equal(cmd.values, 1);
	encode_expect(&cmd, "7", "VV",
		      "*6\r\n$4\r\nHSET\r\n$4\r\nh{7}\r\n$5\r\nfVVg7\r\n$2\r\n77\r\n"
		      "$5\r\nplain\r\n$0\r\n\r\n");
	/* A placeholder cut short is plain text. */
	const char *const partial[] = { "GET", "__key_", "__valu__" };
	assert_int_equal(bench_cmd_parse(&cmd, 3, partial, err, sizeof(err)), 0);
	assert_int_equal(cmd.keys + cmd.values, 0);
	encode_expect(&cmd, "x", "y", "*3\r\n$3\r\nGET\r\n$6\r\n__key_\r\n$8\r\n__valu__\r\n");
}

static void test_large_value_length_digits(void **state)
{
	(void)state;
	struct bench_cmd cmd;
	char err[128];
	const char *const argv[] = { "SET", "k", "__value__" };
	assert_int_equal(bench_cmd_parse(&cmd, 3, argv, err, sizeof(err)), 0);
	static char value[100000];
	static char out[100100];
	memset(value, 'z', sizeof(value));
	size_t n = bench_cmd_encode(&cmd, out, sizeof(out), "", 0, value, sizeof(value));
	assert_int_equal(n, bench_cmd_bytes(&cmd, 0, sizeof(value)));
	assert_memory_equal(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\nzz", 31);
	assert_memory_equal(out + n - 3, "z\r\n", 3);
}

static void test_bad_templates(void **state)
{
	(void)state;
	struct bench_cmd cmd;
	char err[128];
	assert_int_equal(bench_cmd_parse(&cmd, 0, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty"));
	const char *many[BENCH_CMD_ARGS_MAX + 1];
	for (int i = 0; i <= BENCH_CMD_ARGS_MAX; i++)
		many[i] = "a";
	assert_int_equal(bench_cmd_parse(&cmd, BENCH_CMD_ARGS_MAX + 1, many, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(bench_cmd_parse(&cmd, BENCH_CMD_ARGS_MAX, many, err, sizeof(err)), 0);
	static char huge[BENCH_CMD_TEXT_BYTES_MAX + 2];
	memset(huge, 'h', sizeof(huge) - 1);
	const char *const argv[] = { huge };
	assert_int_equal(bench_cmd_parse(&cmd, 1, argv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer"));
}

static void test_keys_and_values(void **state)
{
	(void)state;
	char key[BENCH_KEY_BYTES_MAX];
	assert_int_equal(bench_key_width(1), 1);
	assert_int_equal(bench_key_width(10), 1);
	assert_int_equal(bench_key_width(11), 2);
	assert_int_equal(bench_key_width(100000), 5);
	size_t n = bench_key_format(key, "", 42, 5);
	assert_int_equal(n, 5);
	assert_memory_equal(key, "00042", 5);
	n = bench_key_format(key, "ab12cd34:", 7, 3);
	assert_int_equal(n, 12);
	assert_memory_equal(key, "ab12cd34:007", 12);

	char v[64], w[64];
	bench_value_fill(v, sizeof(v), 0x1234, 7);
	assert_memory_equal(v, "00000000000000070000000000001234", 32);
	assert_true(bench_value_matches(v, sizeof(v), sizeof(v), 0x1234, 7));
	assert_false(bench_value_matches(v, sizeof(v), sizeof(v), 0x1234, 8));
	assert_false(bench_value_matches(v, sizeof(v), sizeof(v), 0x1235, 7));
	assert_false(bench_value_matches(v, sizeof(v) - 1, sizeof(v), 0x1234, 7));
	memcpy(w, v, sizeof(v));
	w[50] ^= 1;  /* filler damaged */
	assert_false(bench_value_matches(w, sizeof(w), sizeof(w), 0x1234, 7));
	bench_value_header(w, 0x1234, 9);
	w[50] ^= 1;
	assert_true(bench_value_matches(w, sizeof(w), sizeof(w), 0x1234, 9));
	bench_value_fill(v, 3, 1, 1);  /* too small for a header: filler only */
	assert_memory_equal(v, "abc", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_template),
		cmocka_unit_test(test_placeholders_anywhere),
		cmocka_unit_test(test_large_value_length_digits),
		cmocka_unit_test(test_bad_templates),
		cmocka_unit_test(test_keys_and_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The reply writer: every element type in RESP2 and RESP3, byte for byte as Redis 7.0 sends
 * it, integer formatting against printf, large bulks in dedicated chunks, and the CR/LF
 * guard on simple strings and errors. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "out_util.h"

struct fixture {
	struct resp_chunk_pool pool;
	struct resp_out out2, out3;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	resp_chunk_pool_init(&f->pool, 8);
	resp_out_init(&f->out2, &f->pool, 2);
	resp_out_init(&f->out3, &f->pool, 3);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	resp_out_reset(&f->out2);
	resp_out_reset(&f->out3);
	assert_int_equal(f->pool.chunks_out, 0);
	resp_chunk_pool_destroy(&f->pool);
	free(f);
	return 0;
}

static void test_reply_simple_and_error(void **state)
{
	struct fixture *f = *state;
	resp_add_simple(&f->out2, "OK");
	OUT_EXPECT(&f->out2, "+OK\r\n");
	resp_add_simple(&f->out3, "");
	OUT_EXPECT(&f->out3, "+\r\n");
	resp_add_error(&f->out2, RESP_ERR_SYNTAX);
	OUT_EXPECT(&f->out2, "-ERR syntax error\r\n");
	resp_add_error(&f->out3, RESP_ERR_WRONGTYPE);
	OUT_EXPECT(&f->out3,
		   "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
	/* A caller's own leading "-" is not doubled. */
	resp_add_error(&f->out2, "-ERR x");
	OUT_EXPECT(&f->out2, "-ERR x\r\n");
	/* CR and LF can never break the framing. */
	resp_add_simple(&f->out2, "a\r\nb\nc\rd");
	OUT_EXPECT(&f->out2, "+a  b c d\r\n");
	resp_add_error(&f->out3, "ERR bad\r\n+OK");
	OUT_EXPECT(&f->out3, "-ERR bad  +OK\r\n");
}

static void test_reply_errorf(void **state)
{
	struct fixture *f = *state;
	resp_add_errorf(&f->out2, "ERR unknown command '%s', with args beginning with: %s",
			"FOO", "'a' ");
	OUT_EXPECT(&f->out2, "-ERR unknown command 'FOO', with args beginning with: 'a' \r\n");
	/* Longer than the stack buffer: formatted on the heap, still whole. */
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	resp_add_errorf(&f->out3, "ERR %s\n%d", big, 42);
	char want[1100];
	int n = snprintf(want, sizeof(want), "-ERR %s 42\r\n", big);
	out_expect_take(&f->out3, want, (size_t)n);
}

static void expect_int(struct resp_out *out, int64_t v)
{
	char want[64];
	int n = snprintf(want, sizeof(want), ":%" PRId64 "\r\n", v);
	resp_add_int(out, v);
	out_expect_take(out, want, (size_t)n);
	n = snprintf(want, sizeof(want), "$%d\r\n%" PRId64 "\r\n",
		     (int)snprintf(NULL, 0, "%" PRId64, v), v);
	resp_add_bulk_int(out, v);
	out_expect_take(out, want, (size_t)n);
}

static void test_reply_integers(void **state)
{
	struct fixture *f = *state;
	resp_add_int(&f->out2, 0);
	OUT_EXPECT(&f->out2, ":0\r\n");
	resp_add_int(&f->out3, -1);
	OUT_EXPECT(&f->out3, ":-1\r\n");
	resp_add_bulk_int(&f->out2, 1234);
	OUT_EXPECT(&f->out2, "$4\r\n1234\r\n");
	resp_add_int(&f->out2, INT64_MIN);
	OUT_EXPECT(&f->out2, ":-9223372036854775808\r\n");
	resp_add_bulk_int(&f->out3, INT64_MIN);
	OUT_EXPECT(&f->out3, "$20\r\n-9223372036854775808\r\n");
	/* Every power of ten and its neighbours, both signs, and a spread of others. */
	int64_t p = 1;
	for (int i = 0; i < 19; i++, p = i < 19 ? p * 10 : p) {
		for (int64_t d = -1; d <= 1; d++) {
			expect_int(&f->out2, p + d);
			expect_int(&f->out2, -(p + d));
		}
	}
	expect_int(&f->out2, INT64_MAX);
	expect_int(&f->out2, INT64_MIN + 1);
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		expect_int(&f->out3, (int64_t)x >> (i % 64));
	}
}

static void test_reply_bulk(void **state)
{
	struct fixture *f = *state;
	resp_add_bulk(&f->out2, "foo", 3);
	OUT_EXPECT(&f->out2, "$3\r\nfoo\r\n");
	resp_add_bulk(&f->out3, NULL, 0);
	OUT_EXPECT(&f->out3, "$0\r\n\r\n");
	resp_add_bulk(&f->out2, "a\0\r\nb", 5);
	OUT_EXPECT(&f->out2, "$5\r\na\0\r\nb\r\n");
	resp_add_bulk_str(&f->out3, "hello");
	OUT_EXPECT(&f->out3, "$5\r\nhello\r\n");
}

static void test_reply_nulls_and_bools(void **state)
{
	struct fixture *f = *state;
	resp_add_null(&f->out2);
	OUT_EXPECT(&f->out2, "$-1\r\n");
	resp_add_null(&f->out3);
	OUT_EXPECT(&f->out3, "_\r\n");
	resp_add_null_array(&f->out2);
	OUT_EXPECT(&f->out2, "*-1\r\n");
	resp_add_null_array(&f->out3);
	OUT_EXPECT(&f->out3, "_\r\n");
	resp_add_bool(&f->out2, true);
	resp_add_bool(&f->out2, false);
	OUT_EXPECT(&f->out2, ":1\r\n:0\r\n");
	resp_add_bool(&f->out3, true);
	resp_add_bool(&f->out3, false);
	OUT_EXPECT(&f->out3, "#t\r\n#f\r\n");
}

static void test_reply_aggregates(void **state)
{
	struct fixture *f = *state;
	resp_add_array(&f->out2, 2);
	resp_add_bulk_str(&f->out2, "a");
	resp_add_int(&f->out2, 1);
	OUT_EXPECT(&f->out2, "*2\r\n$1\r\na\r\n:1\r\n");
	resp_add_array(&f->out3, 0);
	OUT_EXPECT(&f->out3, "*0\r\n");
	resp_add_map(&f->out2, 3);
	OUT_EXPECT(&f->out2, "*6\r\n");
	resp_add_map(&f->out3, 3);
	OUT_EXPECT(&f->out3, "%3\r\n");
	resp_add_set(&f->out2, 12);
	OUT_EXPECT(&f->out2, "*12\r\n");
	resp_add_set(&f->out3, 12);
	OUT_EXPECT(&f->out3, "~12\r\n");
	resp_add_array(&f->out3, 1234567890123ull);
	OUT_EXPECT(&f->out3, "*1234567890123\r\n");
	resp_add_map(&f->out3, 0);
	resp_add_map(&f->out2, 0);
	OUT_EXPECT(&f->out3, "%0\r\n");
	OUT_EXPECT(&f->out2, "*0\r\n");
}

static void test_reply_double(void **state)
{
	struct fixture *f = *state;
	/* As redis-server 7.0.15 answers ZSCORE for these scores (checked on the wire). */
	resp_add_double(&f->out2, 0.1);
	OUT_EXPECT(&f->out2, "$19\r\n0.10000000000000001\r\n");
	resp_add_double(&f->out3, 0.1);
	OUT_EXPECT(&f->out3, ",0.10000000000000001\r\n");
	resp_add_double(&f->out2, 3);
	OUT_EXPECT(&f->out2, "$1\r\n3\r\n");
	resp_add_double(&f->out3, 3);
	OUT_EXPECT(&f->out3, ",3\r\n");
	resp_add_double(&f->out2, INFINITY);
	resp_add_double(&f->out2, -INFINITY);
	OUT_EXPECT(&f->out2, "$3\r\ninf\r\n$4\r\n-inf\r\n");
	resp_add_double(&f->out3, INFINITY);
	resp_add_double(&f->out3, -INFINITY);
	OUT_EXPECT(&f->out3, ",inf\r\n,-inf\r\n");
	resp_add_double(&f->out3, NAN);
	resp_add_double(&f->out3, -NAN);
	OUT_EXPECT(&f->out3, ",nan\r\n,nan\r\n");
	resp_add_double(&f->out2, NAN);
	OUT_EXPECT(&f->out2, "$3\r\nnan\r\n");
	resp_add_double(&f->out3, -0.0);
	resp_add_double(&f->out3, 1.5e300);
	resp_add_double(&f->out3, -2.5e-310);
	OUT_EXPECT(&f->out3, ",-0\r\n,1.5000000000000001e+300\r\n,-2.5000000000000171e-310\r\n");
}

static void test_reply_verbatim(void **state)
{
	struct fixture *f = *state;
	resp_add_verbatim(&f->out3, "txt", "hello", 5);
	OUT_EXPECT(&f->out3, "=9\r\ntxt:hello\r\n");
	resp_add_verbatim(&f->out3, "md", "", 0);
	OUT_EXPECT(&f->out3, "=4\r\nmd :\r\n");
	resp_add_verbatim(&f->out2, "txt", "hello", 5);
	OUT_EXPECT(&f->out2, "$5\r\nhello\r\n");
}

static void test_reply_large_bulk_dedicated_chunk(void **state)
{
	struct fixture *f = *state;
	size_t len = 3 * RESP_CHUNK_BYTES + 7;
	char *data = malloc(len);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)('a' + i % 26);
	resp_add_simple(&f->out2, "OK");
	resp_add_bulk(&f->out2, data, len);
	resp_add_simple(&f->out2, "OK");
	/* "+OK" in a pooled chunk, the bulk whole in one chunk of exact size, then a new one. */
	assert_int_equal(out_check(&f->out2), 3);
	struct resp_chunk *big = f->out2.head->next;
	assert_int_equal(big->cap, big->len);
	assert_int_equal(big->len, len + strlen("$49159\r\n") + 2);
	char *want = malloc(len + 64);
	int n = snprintf(want, 64, "+OK\r\n$%zu\r\n", len);
	memcpy(want + n, data, len);
	memcpy(want + n + len, "\r\n+OK\r\n", 7);
	out_expect_take(&f->out2, want, (size_t)n + len + 7);
	/* The dedicated chunk went back to malloc, not to the pool. */
	assert_true(f->pool.free_count <= 2);
	for (const struct resp_chunk *c = f->pool.free; c != NULL; c = c->next)
		assert_int_equal(c->cap, RESP_CHUNK_BYTES);
	/* A bulk of exactly a chunk's payload, header and CRLF included, stays pooled. */
	size_t fit = RESP_CHUNK_BYTES - strlen("$16374\r\n") - 2;
	resp_add_bulk(&f->out3, data, fit);
	assert_int_equal(out_check(&f->out3), 1);
	assert_int_equal(f->out3.head->cap, RESP_CHUNK_BYTES);
	assert_int_equal(f->out3.head->len, RESP_CHUNK_BYTES);
	resp_out_reset(&f->out3);
	free(want);
	free(data);
}

static void test_reply_verbatim_large(void **state)
{
	struct fixture *f = *state;
	size_t len = RESP_CHUNK_BYTES * 2;
	char *data = malloc(len);
	memset(data, 'v', len);
	resp_add_verbatim(&f->out3, "txt", data, len);
	assert_int_equal(out_check(&f->out3), 1);
	size_t got_len;
	char *got = out_flatten(&f->out3, &got_len);
	assert_int_equal(got_len, strlen("=32772\r\ntxt:") + len + 2);
	assert_memory_equal(got, "=32772\r\ntxt:", 12);
	assert_memory_equal(got + 12, data, len);
	assert_memory_equal(got + 12 + len, "\r\n", 2);
	free(got);
	free(data);
	resp_out_reset(&f->out3);
}

static void test_reply_deferred_count(void **state)
{
	struct fixture *f = *state;
	struct resp_out elems;
	resp_out_init(&elems, &f->pool, 3);
	uint64_t n = 0;
	for (int i = 0; i < 3; i++, n++)
		resp_add_bulk_int(&elems, i * 10);
	resp_add_set(&f->out3, n);
	resp_out_splice(&f->out3, &elems);
	OUT_EXPECT(&f->out3, "~3\r\n$1\r\n0\r\n$2\r\n10\r\n$2\r\n20\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reply_simple_and_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_errorf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_integers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_bulk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_nulls_and_bools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_aggregates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_double, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_verbatim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_large_bulk_dedicated_chunk, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reply_verbatim_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_deferred_count, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The client's RESP reply parser: every RESP2 and RESP3 type, each reply cut at every byte
 * boundary (and at every pair of boundaries), resumed from a copy of the bytes at another
 * address, fed one byte at a time, and followed by the next reply; and bad input of each
 * kind refused however it is split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/reply.h"

struct reply_case {
	const char *bytes;
	enum bench_reply_type type;
	int64_t integer;
	const char *str;  /* NULL: no text to compare */
	size_t str_len;
};

#define S(x) x, sizeof(x) - 1

static const struct reply_case cases[] = {
	{ "+OK\r\n", BENCH_REPLY_SIMPLE, 0, S("OK") },
	{ "+\r\n", BENCH_REPLY_SIMPLE, 0, S("") },
	{ "-ERR unknown command 'FOO'\r\n", BENCH_REPLY_ERROR, 0, S("ERR unknown command 'FOO'") },
	{ ":12345\r\n", BENCH_REPLY_INTEGER, 12345, NULL, 0 },
	{ ":0\r\n", BENCH_REPLY_INTEGER, 0, NULL, 0 },
	{ ":-9223372036854775808\r\n", BENCH_REPLY_INTEGER, INT64_MIN, NULL, 0 },
	{ ":9223372036854775807\r\n", BENCH_REPLY_INTEGER, INT64_MAX, NULL, 0 },
	{ "$5\r\nhello\r\n", BENCH_REPLY_BULK, 0, S("hello") },
	{ "$0\r\n\r\n", BENCH_REPLY_BULK, 0, S("") },
	{ "$12\r\nab\r\ncd\r\nefgh\r\n", BENCH_REPLY_BULK, 0, S("ab\r\ncd\r\nefgh") },
	{ "$-1\r\n", BENCH_REPLY_NULL, 0, NULL, 0 },
	{ "*-1\r\n", BENCH_REPLY_NULL, 0, NULL, 0 },
	{ "_\r\n", BENCH_REPLY_NULL, 0, NULL, 0 },
	{ "*0\r\n", BENCH_REPLY_ARRAY, 0, NULL, 0 },
	{ "*2\r\n$3\r\nfoo\r\n:1\r\n", BENCH_REPLY_ARRAY, 2, NULL, 0 },
	{ "*2\r\n*1\r\n+a\r\n*0\r\n", BENCH_REPLY_ARRAY, 2, NULL, 0 },
	{ "*3\r\n$-1\r\n*-1\r\n_\r\n", BENCH_REPLY_ARRAY, 3, NULL, 0 },
	{ "*1\r\n*1\r\n*1\r\n*1\r\n$2\r\nhi\r\n", BENCH_REPLY_ARRAY, 1, NULL, 0 },
	{ "%2\r\n+k1\r\n:1\r\n+k2\r\n*1\r\n:2\r\n", BENCH_REPLY_MAP, 2, NULL, 0 },
	{ "%0\r\n", BENCH_REPLY_MAP, 0, NULL, 0 },
	{ "~2\r\n+a\r\n+b\r\n", BENCH_REPLY_SET, 2, NULL, 0 },
	{ ">2\r\n+message\r\n+hi\r\n", BENCH_REPLY_PUSH, 2, NULL, 0 },
	{ ",3.14\r\n", BENCH_REPLY_DOUBLE, 0, S("3.14") },
	{ ",-inf\r\n", BENCH_REPLY_DOUBLE, 0, S("-inf") },
	{ "#t\r\n", BENCH_REPLY_BOOL, 1, NULL, 0 },
	{ "#f\r\n", BENCH_REPLY_BOOL, 0, NULL, 0 },
	{ "(3492890328409238509324850943850943825024385\r\n", BENCH_REPLY_BIGNUM, 0,
	  S("3492890328409238509324850943850943825024385") },
	{ "(-12\r\n", BENCH_REPLY_BIGNUM, 0, S("-12") },
	{ "=15\r\ntxt:Some string\r\n", BENCH_REPLY_VERBATIM, 0, S("txt:Some string") },
	{ "!21\r\nSYNTAX invalid syntax\r\n", BENCH_REPLY_BLOB_ERROR, 0, S("SYNTAX invalid syntax") },
	/* An attribute before the reply is read and dropped. */
	{ "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
	  "*2\r\n:2039123\r\n:9543892\r\n", BENCH_REPLY_ARRAY, 2, NULL, 0 },
	/* Inside an aggregate, an attribute is not one of its elements. */
	{ "*2\r\n|1\r\n+ttl\r\n:3600\r\n+a\r\n+b\r\n", BENCH_REPLY_ARRAY, 2, NULL, 0 },
	{ "|0\r\n:7\r\n", BENCH_REPLY_INTEGER, 7, NULL, 0 },
	{ "|1\r\n+a\r\n|1\r\n+b\r\n+c\r\n+d\r\n$1\r\nx\r\n", BENCH_REPLY_BULK, 0, S("x") },
};

static void expect_reply(const struct reply_case *c, const struct bench_reply *r)
{
	assert_int_equal(r->type, c->type);
	assert_int_equal(r->integer, c->integer);
	if (c->str) {
		assert_int_equal(r->len, c->str_len);
		assert_memory_equal(r->str, c->str, c->str_len);
	}
}

/* A private copy at a new address, so a parser that kept a pointer would read freed bytes
 * (and ASan would say so). */
static char *copy(const char *bytes, size_t len)
{
	char *p = malloc(len ? len : 1);
	assert_non_null(p);
	memcpy(p, bytes, len);
	return p;
}

static void parse_expect_more(struct bench_reply_parser *p, const char *bytes, size_t len)
{
	char *buf = copy(bytes, len);
	struct bench_reply r;
	size_t used = 12345;
	assert_int_equal(bench_reply_parse(p, buf, len, &used, &r), BENCH_REPLY_MORE);
	assert_int_equal(used, 12345);  /* MORE consumes nothing */
	free(buf);
}

static void parse_expect_done(struct bench_reply_parser *p, const struct reply_case *c)
{
	size_t len = strlen(c->bytes);
	char *buf = copy(c->bytes, len);
	struct bench_reply r;
	size_t used = 0;
	assert_int_equal(bench_reply_parse(p, buf, len, &used, &r), BENCH_REPLY_DONE);
	assert_int_equal(used, len);
	expect_reply(c, &r);
	free(buf);
}

static void test_every_type_whole(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bench_reply_parser p;
		bench_reply_parser_init(&p);
		parse_expect_done(&p, &cases[i]);
		/* The parser is back at a reply boundary. */
		parse_expect_done(&p, &cases[i]);
	}
}

static void test_every_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reply_case *c = &cases[i];
		size_t len = strlen(c->bytes);
		for (size_t k = 0; k < len; k++) {
			struct bench_reply_parser p;
			bench_reply_parser_init(&p);
			parse_expect_more(&p, c->bytes, k);
			parse_expect_done(&p, c);
			for (size_t m = k + 1; m < len; m++) {
				bench_reply_parser_init(&p);
				parse_expect_more(&p, c->bytes, k);
				parse_expect_more(&p, c->bytes, m);
				parse_expect_done(&p, c);
			}
		}
	}
}

static void test_byte_by_byte(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reply_case *c = &cases[i];
		size_t len = strlen(c->bytes);
		struct bench_reply_parser p;
		bench_reply_parser_init(&p);
		for (size_t k = 0; k < len; k++)
			parse_expect_more(&p, c->bytes, k);
		parse_expect_done(&p, c);
	}
}

static void test_followed_by_next_reply(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reply_case *c = &cases[i];
		size_t len = strlen(c->bytes);
		char buf[512];
		assert_true(len + 8 < sizeof(buf));
		memcpy(buf, c->bytes, len);
		memcpy(buf + len, ":42\r\n+x", 7);
		struct bench_reply_parser p;
		bench_reply_parser_init(&p);
		struct bench_reply r;
		size_t used = 0;
		assert_int_equal(bench_reply_parse(&p, buf, len + 7, &used, &r), BENCH_REPLY_DONE);
		assert_int_equal(used, len);
		expect_reply(c, &r);
		assert_int_equal(bench_reply_parse(&p, buf + len, 7, &used, &r), BENCH_REPLY_DONE);
		assert_int_equal(used, 5);
		assert_int_equal(r.type, BENCH_REPLY_INTEGER);
		assert_int_equal(r.integer, 42);
		assert_int_equal(bench_reply_parse(&p, buf + len + 5, 2, &used, &r), BENCH_REPLY_MORE);
	}
}

static const char *const bad[] = {
	"?\r\n", "+OK\rX", ":12a\r\n", ":\r\n", ":-\r\n", ":99999999999999999999\r\n",
	"$-2\r\n", "$3\r\nabcd\r\n", "$x\r\n", "$?\r\n", "*-2\r\n", "*?\r\n", "%-1\r\n",
	"#x\r\n", "#tt\r\n", "_x\r\n", "=3\r\nabc\r\n", "=5\r\nabcde\r\n", "(\r\n", "(12x\r\n",
	",\r\n", "*2\r\n+a\r\n?\r\n", "$536870913\r\n",
};

static void test_bad_input_refused_at_any_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]);
		for (size_t k = 0; k <= len; k++) {
			struct bench_reply_parser p;
			bench_reply_parser_init(&p);
			struct bench_reply r;
			size_t used = 0;
			enum bench_reply_status st = bench_reply_parse(&p, bad[i], k, &used, &r);
			assert_int_not_equal(st, BENCH_REPLY_DONE);
			if (st == BENCH_REPLY_MORE)
				st = bench_reply_parse(&p, bad[i], len, &used, &r);
			assert_int_equal(st, BENCH_REPLY_BAD);
		}
	}
}

static void test_nesting_limit(void **state)
{
	(void)state;
	char buf[BENCH_REPLY_DEPTH_MAX * 4 + 16];
	for (uint32_t depth = BENCH_REPLY_DEPTH_MAX; depth <= BENCH_REPLY_DEPTH_MAX + 1; depth++) {
		size_t n = 0;
		for (uint32_t d = 0; d < depth; d++)
			n += (size_t)sprintf(buf + n, "*1\r\n");
		n += (size_t)sprintf(buf + n, ":1\r\n");
		struct bench_reply_parser p;
		bench_reply_parser_init(&p);
		struct bench_reply r;
		size_t used = 0;
		assert_int_equal(bench_reply_parse(&p, buf, n, &used, &r),
				 depth <= BENCH_REPLY_DEPTH_MAX ? BENCH_REPLY_DONE : BENCH_REPLY_BAD);
	}
}

static void test_long_line_refused(void **state)
{
	(void)state;
	size_t len = BENCH_REPLY_LINE_BYTES_MAX + 10;
	char *buf = malloc(len);
	assert_non_null(buf);
	buf[0] = '+';
	memset(buf + 1, 'a', len - 1);
	struct bench_reply_parser p;
	bench_reply_parser_init(&p);
	struct bench_reply r;
	size_t used;
	/* Up to the limit it may still be a line in progress; beyond it, it is not RESP. */
	assert_int_equal(bench_reply_parse(&p, buf, BENCH_REPLY_LINE_BYTES_MAX, &used, &r),
			 BENCH_REPLY_MORE);
	assert_int_equal(bench_reply_parse(&p, buf, len, &used, &r), BENCH_REPLY_BAD);
	free(buf);
}

static void test_large_bulk_resumes_without_rescan(void **state)
{
	(void)state;
	/* A 1 MiB bulk arriving in 16 KiB pieces: MORE until the last byte, then DONE. */
	size_t body = 1u << 20;
	size_t len = body + 32;
	char *buf = malloc(len);
	assert_non_null(buf);
	int hdr = snprintf(buf, 32, "$%zu\r\n", body);
	memset(buf + hdr, 'v', body);
	memcpy(buf + hdr + body, "\r\n", 2);
	size_t total = (size_t)hdr + body + 2;
	struct bench_reply_parser p;
	bench_reply_parser_init(&p);
	struct bench_reply r;
	size_t used = 0;
	for (size_t have = 0; have < total; have += 16384)
		assert_int_equal(bench_reply_parse(&p, buf, have, &used, &r), BENCH_REPLY_MORE);
	assert_int_equal(bench_reply_parse(&p, buf, total, &used, &r), BENCH_REPLY_DONE);
	assert_int_equal(used, total);
	assert_int_equal(r.type, BENCH_REPLY_BULK);
	assert_int_equal(r.len, body);
	assert_ptr_equal(r.str, buf + hdr);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_whole),
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_followed_by_next_reply),
		cmocka_unit_test(test_bad_input_refused_at_any_split),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_long_line_refused),
		cmocka_unit_test(test_large_bulk_resumes_without_rescan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

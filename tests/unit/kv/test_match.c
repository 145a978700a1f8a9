/* Glob matching: every (pattern, key) pair recorded from Redis 7.0's KEYS (match_data.h, made
 * by record_match.py) must match exactly as Redis does; case folding; and patterns that
 * would make a naive backtracking matcher slow or recurse deeply. */
#include "kv_test.h"

#include <time.h>

#include "kv/kv.h"

struct match_case {
	const char *pattern;
	size_t len;
	const char *bits; /* '1' where match_keys[i] matches */
};

#include "match_data.h"

static void test_match_redis_recorded(void **state)
{
	(void)state;
	size_t keys = sizeof(match_keys) / sizeof(match_keys[0]);
	size_t cases = sizeof(match_cases) / sizeof(match_cases[0]);
	size_t failures = 0;
	for (size_t c = 0; c < cases; c++) {
		const struct match_case *m = &match_cases[c];
		assert_int_equal(strlen(m->bits), keys);
		for (size_t k = 0; k < keys; k++) {
			bool want = m->bits[k] == '1';
			/* KEYS takes a lone "*" as "everything" before matching. */
			bool all = m->len == 1 && m->pattern[0] == '*';
			bool got = all || kv_match(m->pattern, m->len, match_keys[k].ptr,
						   match_keys[k].len, false);
			if (got != want) {
				print_error("pattern #%zu (%zu bytes) key #%zu: got %d want %d\n", c,
					    m->len, k, got, want);
				failures++;
			}
		}
	}
	assert_int_equal(failures, 0);
	assert_true(cases > 250);
}

/* The same through KEYS on a db holding the keys: the reply names exactly the keys wanted. */
static void test_match_keys_command(void **state)
{
	(void)state;
	size_t keys = sizeof(match_keys) / sizeof(match_keys[0]);
	size_t cases = sizeof(match_cases) / sizeof(match_cases[0]);
	struct kv_db *db = kv_db_create(0);
	struct resp_chunk_pool pool;
	resp_chunk_pool_init(&pool, 16);
	struct resp_out out;
	resp_out_init(&out, &pool, 2);
	for (size_t k = 0; k < keys; k++) {
		struct resp_arg argv[3] = { { "SET", 3 }, match_keys[k], { "1", 1 } };
		kv_cmd_exec(kv_cmd_lookup("set", 3), db, 3, argv, 0, &out);
	}
	resp_out_reset(&out);
	for (size_t c = 0; c < cases; c++) {
		const struct match_case *mc = &match_cases[c];
		uint64_t n = kv_db_keys(db, mc->pattern, mc->len, 0, &out);
		size_t len;
		char *got = test_out_take(&out, &len);
		uint64_t want = 0;
		for (size_t k = 0; k < keys; k++) {
			if (mc->bits[k] != '1')
				continue;
			want++;
			/* "$<len>\r\n<key>\r\n" appears in the reply */
			char head[32];
			int hn = snprintf(head, sizeof(head), "$%zu\r\n", match_keys[k].len);
			char *needle = malloc((size_t)hn + match_keys[k].len + 2);
			memcpy(needle, head, (size_t)hn);
			memcpy(needle + hn, match_keys[k].ptr, match_keys[k].len);
			memcpy(needle + hn + match_keys[k].len, "\r\n", 2);
			assert_non_null(memmem(got, len, needle, (size_t)hn + match_keys[k].len + 2));
			free(needle);
		}
		assert_int_equal(n, want);
		free(got);
	}
	resp_chunk_pool_destroy(&pool);
	kv_db_destroy(db);
}

static bool m(const char *p, const char *s, bool nocase)
{
	return kv_match(p, strlen(p), s, strlen(s), nocase);
}

static void test_match_nocase(void **state)
{
	(void)state;
	assert_true(m("HeLLo", "hello", true));
	assert_false(m("HeLLo", "hello", false));
	assert_true(m("[A-Z]x", "ax", true));
	assert_true(m("[a-z]x", "QX", true));
	assert_true(m("[Q]*", "qq", true));
	assert_true(m("config|*", "CONFIG|GET", true));
	assert_false(m("*", "", false)); /* Redis: only the empty pattern matches "" */
	assert_true(m("", "", false));
	assert_false(m("config|*", "client|id", true));
}

/* Many stars against a long string that almost matches: the single-star backtracking keeps
 * this linear in the string for each star, never exponential; and a pattern of 100000 stars
 * uses no stack. */
static void test_match_pathological(void **state)
{
	(void)state;
	enum { LEN = 20000 };
	char *s = malloc(LEN + 1);
	memset(s, 'a', LEN);
	s[LEN] = '\0';
	const char *p = "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_false(kv_match(p, strlen(p), s, LEN, false));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_true(ms < 2000);
	char *stars = malloc(100001);
	memset(stars, '*', 100000);
	stars[100000] = 'b';
	assert_false(kv_match(stars, 100001, s, LEN, false));
	assert_true(kv_match(stars, 100000, s, LEN, false));
	free(stars);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_redis_recorded),
		cmocka_unit_test(test_match_keys_command),
		cmocka_unit_test(test_match_nocase),
		cmocka_unit_test(test_match_pathological),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

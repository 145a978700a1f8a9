/* KEYS and SCAN on a db: complete iterations, MATCH/COUNT/TYPE, expired keys skipped, the
 * at-least-once guarantee while the db grows and shrinks between calls, cursors that leave
 * the high bits to the lane module, and the argument parser. */
#include "kv_run.h"

#define NOW 1700000000000ll

struct fixture {
	struct resp_chunk_pool pool;
	struct resp_out out;
	struct kv_db *db;
};

static void fx_init(struct fixture *f)
{
	resp_chunk_pool_init(&f->pool, 64);
	resp_out_init(&f->out, &f->pool, 2);
	f->db = kv_db_create(0);
}

static void fx_free(struct fixture *f)
{
	resp_out_reset(&f->out);
	kv_db_destroy(f->db);
	resp_chunk_pool_destroy(&f->pool);
}

static void set_key(struct fixture *f, const char *key, const char *px_at)
{
	struct resp_arg a[5] = { { "SET", 3 }, { key, strlen(key) }, { "v", 1 } };
	uint32_t n = 3;
	if (px_at != NULL) {
		a[n++] = (struct resp_arg){ "PXAT", 4 };
		a[n++] = (struct resp_arg){ px_at, strlen(px_at) };
	}
	kv_cmd_exec(kv_cmd_lookup("set", 3), f->db, n, a, NOW, &f->out);
	resp_out_reset(&f->out);
}

static void del_key(struct fixture *f, const char *key)
{
	struct resp_arg a[2] = { { "DEL", 3 }, { key, strlen(key) } };
	kv_cmd_exec(kv_cmd_lookup("del", 3), f->db, 2, a, NOW, &f->out);
	resp_out_reset(&f->out);
}

/* Counts "$..key:<id>" bulks in a reply into seen[]. */
static uint64_t count_keys(struct fixture *f, uint8_t *seen, uint64_t ids)
{
	size_t len;
	char *buf = test_out_take(&f->out, &len);
	uint64_t n = 0;
	for (char *p = buf; (p = strstr(p, "key:")) != NULL; p += 4) {
		uint64_t id = strtoull(p + 4, NULL, 10);
		assert_true(id < ids);
		if (seen[id] < 255)
			seen[id]++;
		n++;
	}
	free(buf);
	return n;
}

static void test_scan_complete_iteration(void **state)
{
	(void)state;
	enum { N = 10000 };
	struct fixture f;
	fx_init(&f);
	char key[32];
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		set_key(&f, key, i % 10 == 0 ? "1000" : NULL); /* every 10th key long expired */
	}
	uint8_t *seen = calloc(N, 1);
	struct kv_scan_args args = { .count = 10 };
	uint64_t cursor = 0, calls = 0, total = 0;
	do {
		uint64_t keys;
		cursor = kv_db_scan(f.db, cursor, &args, NOW, &f.out, &keys);
		assert_int_equal(count_keys(&f, seen, N), keys);
		assert_true(cursor <= KV_SCAN_CURSOR_MAX);
		total += keys;
		calls++;
	} while (cursor != 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], i % 10 == 0 ? 0 : 1); /* no repeats without changes */
	assert_int_equal(total, N - N / 10);
	assert_true(calls > N / 20); /* COUNT 10 keeps each call short */
	/* KEYS: the same set, expired keys left out. */
	memset(seen, 0, N);
	uint64_t n = kv_db_keys(f.db, "key:*", 5, NOW, &f.out);
	assert_int_equal(count_keys(&f, seen, N), n);
	assert_int_equal(n, N - N / 10);
	assert_int_equal(kv_db_keys(f.db, "key:1?", 6, NOW, &f.out), 9); /* key:11..key:19 */
	resp_out_reset(&f.out);
	free(seen);
	fx_free(&f);
}

static void test_scan_match_and_type(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	char key[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		set_key(&f, key, NULL);
	}
	uint8_t seen[1000] = { 0 };
	struct kv_scan_args args = { .match = "key:5*", .match_len = 6, .count = 1000 };
	uint64_t cursor = 0, keys;
	do {
		cursor = kv_db_scan(f.db, cursor, &args, NOW, &f.out, &keys);
		count_keys(&f, seen, 1000);
	} while (cursor != 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "%d", i);
		assert_int_equal(seen[i], key[0] == '5');
	}
	struct kv_scan_args hash = { .count = 1000, .type_given = true, .type_string = false };
	cursor = 0;
	do {
		/* COUNT counts keys looked at before the filters, as in Redis. */
		cursor = kv_db_scan(f.db, cursor, &hash, NOW, &f.out, &keys);
		assert_int_equal(keys, 0);
		assert_int_equal(f.out.bytes, 0);
	} while (cursor != 0);
	fx_free(&f);
}

/* Keys present for the whole scan are returned although the table grows from a few keys to
 * 50000 and shrinks back between calls. */
static void test_scan_guarantee_across_resizes(void **state)
{
	(void)state;
	enum { STABLE = 500, CHURN = 50000 };
	struct fixture f;
	fx_init(&f);
	char key[32];
	for (int i = 0; i < STABLE; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		set_key(&f, key, NULL);
	}
	uint8_t *seen = calloc(STABLE + CHURN, 1);
	struct kv_scan_args args = { .count = 5 };
	uint64_t cursor = 0, calls = 0;
	int next = STABLE, oldest = STABLE;
	do {
		uint64_t keys;
		cursor = kv_db_scan(f.db, cursor, &args, NOW, &f.out, &keys);
		count_keys(&f, seen, STABLE + CHURN);
		calls++;
		for (int k = 0; k < 500 && calls < 60 && next < STABLE + CHURN; k++) {
			snprintf(key, sizeof(key), "key:%d", next++);
			set_key(&f, key, NULL);
		}
		for (int k = 0; k < 1000 && calls >= 60 && oldest < next; k++) {
			snprintf(key, sizeof(key), "key:%d", oldest++);
			del_key(&f, key);
		}
		kv_db_work(f.db, 64);
	} while (cursor != 0);
	for (int i = 0; i < STABLE; i++)
		if (seen[i] == 0)
			fail_msg("key:%d never returned", i);
	free(seen);
	fx_free(&f);
}

/* The cursor uses 48 bits: bits above are ignored (the lane module's), and a small table
 * gives small cursors, as in Redis. */
static void test_scan_cursor_bits(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	set_key(&f, "a", NULL);
	set_key(&f, "b", NULL);
	set_key(&f, "c", NULL);
	struct kv_scan_args args = { .count = 1 };
	uint64_t keys, c1 = kv_db_scan(f.db, 0, &args, NOW, &f.out, &keys);
	resp_out_reset(&f.out);
	assert_true(c1 > 0 && c1 < 8); /* 8 homes: cursors 1..7 */
	uint64_t c2 = kv_db_scan(f.db, (7ull << 48) | 0, &args, NOW, &f.out, &keys);
	resp_out_reset(&f.out);
	assert_int_equal(c1, c2);
	fx_free(&f);
}

static int parse(uint32_t argc, const char *const *words, uint64_t *cursor,
		 struct kv_scan_args *args, struct resp_out *out)
{
	struct test_argv a;
	test_argv_set(&a, words, argc);
	return kv_scan_args_parse_or_reply(a.argc, a.argv, cursor, args, out);
}

static void test_scan_args(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	uint64_t cursor;
	struct kv_scan_args a;
	assert_int_equal(parse(2, (const char *[]){ "SCAN", "17" }, &cursor, &a, &f.out), 0);
	assert_int_equal(cursor, 17);
	assert_int_equal(a.count, KV_SCAN_COUNT_DEFAULT);
	assert_null(a.match);
	assert_int_equal(parse(8, (const char *[]){ "SCAN", "0", "count", "5", "MATCH", "k*",
						   "type", "STRING" }, &cursor, &a, &f.out), 0);
	assert_int_equal(a.count, 5);
	assert_int_equal(a.match_len, 2);
	assert_true(a.type_given && a.type_string);
	assert_int_equal(parse(4, (const char *[]){ "SCAN", "0", "MATCH", "*" }, &cursor, &a,
			       &f.out), 0);
	assert_null(a.match); /* "*" means no filter */
	assert_int_equal(parse(4, (const char *[]){ "SCAN", "0", "COUNT", "0" }, &cursor, &a,
			       &f.out), -EINVAL);
	OUT_EXPECT(&f.out, "-ERR syntax error\r\n");
	assert_int_equal(parse(4, (const char *[]){ "SCAN", "0", "COUNT", "x" }, &cursor, &a,
			       &f.out), -EINVAL);
	OUT_EXPECT(&f.out, "-ERR value is not an integer or out of range\r\n");
	assert_int_equal(parse(2, (const char *[]){ "SCAN", "x" }, &cursor, &a, &f.out), -EINVAL);
	OUT_EXPECT(&f.out, "-ERR invalid cursor\r\n");
	assert_int_equal(parse(3, (const char *[]){ "SCAN", "0", "MATCH" }, &cursor, &a, &f.out),
			 -EINVAL);
	OUT_EXPECT(&f.out, "-ERR syntax error\r\n");
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_complete_iteration),
		cmocka_unit_test(test_scan_match_and_type),
		cmocka_unit_test(test_scan_guarantee_across_resizes),
		cmocka_unit_test(test_scan_cursor_bits),
		cmocka_unit_test(test_scan_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

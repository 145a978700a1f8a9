/* Keyspace commands beyond the Redis battery: EXPIRE family logged as PEXPIREAT with canonical
 * flags, TTL rounding, the internal delete-if-expired and flush records, and expiry counted
 * in the stats. */
#include "kv_run.h"

#include <errno.h>

#define NOW 1700000000000ll

struct fixture {
	struct resp_chunk_pool pool;
	struct resp_out out;
	struct kv_enc enc;
	struct kv_dec dec;
	struct kv_db *db;
};

static void fx_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	resp_chunk_pool_init(&f->pool, 64);
	resp_out_init(&f->out, &f->pool, 2);
	f->db = kv_db_create(0);
}

static void fx_free(struct fixture *f)
{
	resp_out_reset(&f->out);
	kv_enc_free(&f->enc);
	kv_dec_free(&f->dec);
	kv_db_destroy(f->db);
	resp_chunk_pool_destroy(&f->pool);
}

static void run(struct fixture *f, int64_t now, const char *const *w, uint32_t n)
{
	struct test_argv a;
	test_argv_set(&a, w, n);
	struct kv_runner r = { .direct = false };
	kv_run(&r, f->db, a.argc, a.argv, now, &f->out);
	kv_runner_free(&r);
}

#define RUN(f, now, want, ...)                                     \
	do {                                                       \
		const char *w_[] = { __VA_ARGS__ };                \
		run((f), (now), w_, ARRAY_SIZE(w_));               \
		OUT_EXPECT(&(f)->out, want);                       \
	} while (0)

static const char *logged(struct fixture *f, int64_t now, const char *const *w, uint32_t n)
{
	struct test_argv a;
	test_argv_set(&a, w, n);
	kv_enc_reset(&f->enc);
	assert_int_equal(kv_cmd_prepare(kv_cmd_lookup(a.argv[0].ptr, a.argv[0].len), a.argc,
					a.argv, now, &f->enc, &f->out), 0);
	static char buf[256];
	size_t pos = 0, len = 0;
	assert_int_equal(kv_enc_next(&f->dec, f->enc.buf, f->enc.len, &pos), 1);
	for (uint32_t i = 0; i < f->dec.argc; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%.*s", i ? " " : "",
					(int)f->dec.argv[i].len, f->dec.argv[i].ptr);
	return buf;
}

#define LOGGED(f, now, ...) logged((f), (now), (const char *[]){ __VA_ARGS__ }, \
				   ARRAY_SIZE(((const char *[]){ __VA_ARGS__ })))

static void test_keys_expire_logged_absolute(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	assert_string_equal(LOGGED(&f, NOW, "EXPIRE", "k", "10"), "pexpireat k 1700000010000");
	assert_string_equal(LOGGED(&f, NOW, "PEXPIRE", "k", "-5"), "pexpireat k 1699999999995");
	assert_string_equal(LOGGED(&f, NOW, "EXPIREAT", "k", "1800000000"),
			    "pexpireat k 1800000000000");
	assert_string_equal(LOGGED(&f, NOW, "PEXPIREAT", "k", "5"), "pexpireat k 5");
	assert_string_equal(LOGGED(&f, NOW, "expire", "k", "1", "gt", "xx", "GT"),
			    "pexpireat k 1700000001000 XX GT");
	assert_string_equal(LOGGED(&f, NOW, "EXPIRE", "k", "1", "nx"), "pexpireat k 1700000001000 NX");
	assert_string_equal(LOGGED(&f, NOW, "EXPIRE", "k", "1", "lt"), "pexpireat k 1700000001000 LT");
	struct test_argv a;
	test_argv_set(&a, (const char *[]){ "EXPIRE", "k", "1", "NX", "GT" }, 5);
	kv_enc_reset(&f.enc);
	assert_int_equal(kv_cmd_prepare(kv_cmd_lookup("expire", 6), a.argc, a.argv, NOW, &f.enc,
					&f.out), -EINVAL);
	OUT_EXPECT(&f.out, "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
	assert_int_equal(f.enc.len, 0);
	fx_free(&f);
}

/* TTL rounds to the nearest second; PTTL is exact; both see the key expire after its time. */
static void test_keys_ttl(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	RUN(&f, NOW, "+OK\r\n", "SET", "k", "v", "PX", "10400");
	RUN(&f, NOW, ":10\r\n", "TTL", "k");
	RUN(&f, NOW - 100, ":11\r\n", "TTL", "k"); /* 10500 ms rounds up */
	RUN(&f, NOW, ":10400\r\n", "PTTL", "k");
	RUN(&f, NOW + 10400, ":0\r\n", "PTTL", "k");
	RUN(&f, NOW + 10401, ":-2\r\n", "PTTL", "k");
	RUN(&f, NOW + 10401, ":-2\r\n", "TTL", "k");
	assert_int_equal(kv_db_size(f.db), 1); /* reads left it */
	RUN(&f, NOW + 10401, ":0\r\n", "DEL", "k");
	assert_int_equal(kv_db_size(f.db), 0);
	fx_free(&f);
}

/* The internal record deletes a key only if it is expired at the record's time. */
static void test_keys_expired_record(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	RUN(&f, NOW, "+OK\r\n", "SET", "gone", "v", "PX", "10");
	RUN(&f, NOW, "+OK\r\n", "SET", "renewed", "v", "PX", "10");
	RUN(&f, NOW, "+OK\r\n", "SET", "later", "v", "PX", "1000");
	/* The collector reports two expired keys at NOW + 20 ... */
	kv_enc_reset(&f.enc);
	assert_int_equal(kv_enc_expired_key(&f.enc, "gone", 4), 0);
	assert_int_equal(kv_enc_expired_key(&f.enc, "renewed", 7), 0);
	assert_int_equal(kv_enc_expired_key(&f.enc, "later", 5), 0);
	assert_int_equal(kv_enc_expired_key(&f.enc, "missing", 7), 0);
	/* ... and before the record applies, a client gives "renewed" a new value. */
	RUN(&f, NOW + 25, "+OK\r\n", "SET", "renewed", "new");
	size_t pos = 0;
	int64_t deleted = 0;
	while (kv_enc_next(&f.dec, f.enc.buf, f.enc.len, &pos) == 1) {
		kv_cmd_exec(f.dec.cmd, f.db, f.dec.argc, f.dec.argv, NOW + 30, &f.out);
		size_t len;
		char *r = test_out_take(&f.out, &len);
		deleted += r[1] - '0';
		free(r);
	}
	assert_int_equal(deleted, 1);
	assert_int_equal(kv_db_size(f.db), 2);
	RUN(&f, NOW + 30, "$3\r\nnew\r\n", "GET", "renewed");
	RUN(&f, NOW + 30, "$1\r\nv\r\n", "GET", "later");
	struct kv_db_stats st;
	kv_db_stats_get(f.db, &st);
	assert_int_equal(st.expired_keys, 2); /* "renewed" when SET found it expired, "gone" */
	/* The flush record empties the lane. */
	kv_enc_reset(&f.enc);
	assert_int_equal(kv_enc_flush(&f.enc), 0);
	pos = 0;
	assert_int_equal(kv_enc_next(&f.dec, f.enc.buf, f.enc.len, &pos), 1);
	kv_cmd_exec(f.dec.cmd, f.db, f.dec.argc, f.dec.argv, NOW, &f.out);
	OUT_EXPECT(&f.out, "+OK\r\n");
	assert_int_equal(kv_db_size(f.db), 0);
	fx_free(&f);
}

/* EXPIRE with a time already past deletes the key and counts it as expired. */
static void test_keys_expire_past_deletes(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	RUN(&f, NOW, "+OK\r\n", "SET", "k", "v");
	RUN(&f, NOW, ":1\r\n", "PEXPIREAT", "k", "1700000000000"); /* == now: past */
	RUN(&f, NOW, ":0\r\n", "EXISTS", "k");
	assert_int_equal(kv_db_size(f.db), 0);
	RUN(&f, NOW, "+OK\r\n", "SET", "k", "v");
	RUN(&f, NOW, ":1\r\n", "PEXPIREAT", "k", "1700000000001");
	RUN(&f, NOW, ":1\r\n", "EXISTS", "k");
	RUN(&f, NOW + 1, ":1\r\n", "EXISTS", "k");
	RUN(&f, NOW + 2, ":0\r\n", "EXISTS", "k");
	struct kv_db_stats st;
	kv_db_stats_get(f.db, &st);
	assert_int_equal(st.expired_keys, 1);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_expire_logged_absolute),
		cmocka_unit_test(test_keys_ttl),
		cmocka_unit_test(test_keys_expired_record),
		cmocka_unit_test(test_keys_expire_past_deletes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

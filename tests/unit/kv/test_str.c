/* String commands beyond the Redis battery: what prepare logs (relative times made absolute,
 * options in a canonical form, nothing logged on a syntax error), replicas that apply the
 * same entry reaching the same state, large values, and commands running while a snapshot is
 * being written (the image stays the db as of its start). */
#include "kv_run.h"

#include <errno.h>

#include "kv/db.h"

#define NOW 1700000000000ll

struct fixture {
	struct resp_chunk_pool pool;
	struct resp_out out;
	struct kv_enc enc;
	struct kv_dec dec;
};

static void fx_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	resp_chunk_pool_init(&f->pool, 64);
	resp_out_init(&f->out, &f->pool, 2);
}

static void fx_free(struct fixture *f)
{
	resp_out_reset(&f->out);
	kv_enc_free(&f->enc);
	kv_dec_free(&f->dec);
	resp_chunk_pool_destroy(&f->pool);
}

/* Prepares words at now; returns the prepare result. */
static int prep(struct fixture *f, int64_t now, const char *const *words, uint32_t n)
{
	struct test_argv a;
	test_argv_set(&a, words, n);
	kv_enc_reset(&f->enc);
	const struct kv_cmd *cmd = kv_cmd_resolve_or_reply(a.argc, a.argv, &f->out);
	assert_non_null(cmd);
	return kv_cmd_prepare(cmd, a.argc, a.argv, now, &f->enc, &f->out);
}

/* The logged command, as "name arg arg ...". */
static const char *logged(struct fixture *f)
{
	static char buf[512];
	size_t pos = 0, n = 0;
	assert_int_equal(kv_enc_next(&f->dec, f->enc.buf, f->enc.len, &pos), 1);
	assert_int_equal(pos, f->enc.len);
	for (uint32_t i = 0; i < f->dec.argc; i++) {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%.*s", i ? " " : "",
				      (int)f->dec.argv[i].len, f->dec.argv[i].ptr);
	}
	return buf;
}

#define PREP_OK(f, now, ...)                                                         \
	do {                                                                         \
		const char *w_[] = { __VA_ARGS__ };                                  \
		assert_int_equal(prep((f), (now), w_, ARRAY_SIZE(w_)), 0);           \
		assert_int_equal((f)->out.bytes, 0);                                 \
	} while (0)

static void test_str_prepare_rewrites(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	PREP_OK(&f, NOW, "SET", "k", "v", "EX", "10");
	assert_string_equal(logged(&f), "set k v PXAT 1700000010000");
	PREP_OK(&f, NOW, "set", "k", "v", "px", "5", "nx", "get");
	assert_string_equal(logged(&f), "set k v NX GET PXAT 1700000000005");
	PREP_OK(&f, NOW, "SET", "k", "v", "EXAT", "1800000000");
	assert_string_equal(logged(&f), "set k v PXAT 1800000000000");
	PREP_OK(&f, NOW, "SET", "k", "v", "PXAT", "1800000000123", "XX");
	assert_string_equal(logged(&f), "set k v XX PXAT 1800000000123");
	PREP_OK(&f, NOW, "SET", "k", "v", "KEEPTTL");
	assert_string_equal(logged(&f), "set k v KEEPTTL");
	PREP_OK(&f, NOW, "SET", "k", "v", "EX", "1", "EX", "2");
	assert_string_equal(logged(&f), "set k v PXAT 1700000002000");
	PREP_OK(&f, NOW, "SETEX", "k", "100", "v");
	assert_string_equal(logged(&f), "set k v PXAT 1700000100000");
	PREP_OK(&f, NOW, "PSETEX", "k", "100", "v");
	assert_string_equal(logged(&f), "set k v PXAT 1700000000100");
	PREP_OK(&f, NOW, "GETEX", "k", "EX", "10");
	assert_string_equal(logged(&f), "getex k PXAT 1700000010000");
	PREP_OK(&f, NOW, "GETEX", "k", "PERSIST");
	assert_string_equal(logged(&f), "getex k PERSIST");
	/* An invalid GETEX time is logged as given: the error depends on the key existing. */
	PREP_OK(&f, NOW, "GETEX", "k", "EX", "0");
	assert_string_equal(logged(&f), "getex k EX 0");
	PREP_OK(&f, NOW, "INCRBYFLOAT", "k", "1.5");
	assert_string_equal(logged(&f), "incrbyfloat k 1.5");
	PREP_OK(&f, NOW, "MSET", "a", "1", "b", "2");
	assert_string_equal(logged(&f), "mset a 1 b 2");
	fx_free(&f);
}

/* Syntax errors are answered at prepare and nothing is logged. */
static void test_str_prepare_refuses(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	static const struct { const char *w[6]; uint32_t n; const char *err; } cases[] = {
		{ { "SET", "k", "v", "EX", "0" }, 5, "-ERR invalid expire time in 'set' command\r\n" },
		{ { "SET", "k", "v", "NX", "XX" }, 5, "-ERR syntax error\r\n" },
		{ { "SETEX", "k", "x", "v" }, 4, "-ERR value is not an integer or out of range\r\n" },
		{ { "PSETEX", "k", "-1", "v" }, 4, "-ERR invalid expire time in 'psetex' command\r\n" },
		{ { "GETEX", "k", "KEEPTTL" }, 3, "-ERR syntax error\r\n" },
		{ { "MSET", "a", "1", "b" }, 4, "-ERR wrong number of arguments for 'mset' command\r\n" },
		{ { "MSETNX", "a", "1", "b" }, 4, "-ERR wrong number of arguments for 'msetnx' command\r\n" },
		{ { "INCRBY", "k", "1.5" }, 3, "-ERR value is not an integer or out of range\r\n" },
		{ { "DECRBY", "k", "-9223372036854775808" }, 3, "-ERR decrement would overflow\r\n" },
		{ { "INCRBYFLOAT", "k", "nan" }, 3, "-ERR value is not a valid float\r\n" },
		{ { "SETRANGE", "k", "-1", "x" }, 4, "-ERR offset is out of range\r\n" },
		{ { "SETRANGE", "k", "536870912", "x" }, 4,
		  "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(prep(&f, NOW, cases[i].w, cases[i].n), -EINVAL);
		assert_int_equal(f.enc.len, 0);
		test_out_expect(&f.out, cases[i].err, strlen(cases[i].err), cases[i].w[0]);
	}
	fx_free(&f);
}

/* Replicas apply one entry at its time and end equal, whatever their clocks say; the
 * primary's replies come from the same run. */
static void test_str_replicas_agree(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	struct kv_enc entry = { 0 };
	uint64_t rng = 11;
	static const char *const ops[][5] = {
		{ "SET", "a", "1", "EX", "100" }, { "INCR", "a" }, { "APPEND", "b", "xyz" },
		{ "SETRANGE", "b", "5", "!" }, { "INCRBYFLOAT", "c", "0.1" }, { "GETEX", "b", "PX", "50" },
		{ "PEXPIRE", "a", "10" }, { "MSET", "d", "1", "e", "2" }, { "GETDEL", "d" },
		{ "SETNX", "f", "v" }, { "DECRBY", "a", "7" }, { "EXPIRE", "e", "-1" },
	};
	static const uint32_t argc[] = { 5, 2, 3, 4, 3, 4, 3, 5, 2, 3, 3, 3 };
	struct kv_db *r1 = kv_db_create(0), *r2 = kv_db_create_seeded(0, 777);
	int64_t now = NOW;
	for (int e = 0; e < 200; e++) {
		kv_enc_reset(&entry);
		for (int c = 0; c < 5; c++) {
			size_t k = test_rand(&rng) % ARRAY_SIZE(ops);
			struct test_argv a;
			test_argv_set(&a, ops[k], argc[k]);
			const struct kv_cmd *cmd = kv_cmd_lookup(a.argv[0].ptr, a.argv[0].len);
			assert_int_equal(kv_cmd_prepare(cmd, a.argc, a.argv, now, &entry, &f.out), 0);
		}
		now += (int64_t)(test_rand(&rng) % 40);
		struct resp_out o1, o2;
		resp_out_init(&o1, &f.pool, 2);
		resp_out_init(&o2, &f.pool, 3);
		for (int rep = 0; rep < 2; rep++) {
			size_t pos = 0;
			while (kv_enc_next(&f.dec, entry.buf, entry.len, &pos) == 1)
				kv_cmd_exec(f.dec.cmd, rep ? r2 : r1, f.dec.argc, f.dec.argv, now,
					    rep ? &o2 : &o1);
		}
		resp_out_reset(&o1);
		resp_out_reset(&o2);
	}
	/* Same keys, values and expiry times in both. */
	static const char *const keys[] = { "a", "b", "c", "d", "e", "f" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *v1, *v2;
		size_t l1, l2;
		bool h1 = kv_db_get(r1, keys[i], 1, now, &v1, &l1);
		bool h2 = kv_db_get(r2, keys[i], 1, now, &v2, &l2);
		assert_int_equal(h1, h2);
		if (h1) {
			assert_int_equal(l1, l2);
			assert_memory_equal(v1, v2, l1);
		}
		assert_int_equal(kv_db_expire_get(r1, keys[i], 1, now),
				 kv_db_expire_get(r2, keys[i], 1, now));
	}
	assert_int_equal(kv_db_size(r1), kv_db_size(r2));
	kv_db_destroy(r1);
	kv_db_destroy(r2);
	kv_enc_free(&entry);
	fx_free(&f);
}

static void exec_words(struct fixture *f, struct kv_db *db, const char *const *w, uint32_t n)
{
	struct test_argv a;
	test_argv_set(&a, w, n);
	struct kv_runner r = { .direct = false };
	kv_run(&r, db, a.argc, a.argv, NOW, &f->out);
	kv_runner_free(&r);
}

/* A value grown by APPEND in pieces to 4 MiB, read back in ranges, overwritten by SETRANGE. */
static void test_str_large_values(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	struct kv_db *db = kv_db_create(0);
	enum { PIECE = 65536, PIECES = 64 };
	char *piece = malloc(PIECE);
	for (int p = 0; p < PIECES; p++) {
		memset(piece, 'a' + p % 26, PIECE);
		struct resp_arg a[3] = { { "APPEND", 6 }, { "big", 3 }, { piece, PIECE } };
		kv_cmd_exec(kv_cmd_lookup("append", 6), db, 3, a, NOW, &f.out);
		char want[32];
		snprintf(want, sizeof(want), ":%d\r\n", (p + 1) * PIECE);
		test_out_expect(&f.out, want, strlen(want), "append");
	}
	const char *v;
	size_t len;
	assert_true(kv_db_get(db, "big", 3, NOW, &v, &len));
	assert_int_equal(len, (size_t)PIECE * PIECES);
	for (int p = 0; p < PIECES; p++)
		assert_int_equal(v[(size_t)p * PIECE + 17], 'a' + p % 26);
	exec_words(&f, db, (const char *[]){ "GETRANGE", "big", "65535", "65536" }, 4);
	OUT_EXPECT(&f.out, "$2\r\nab\r\n");
	exec_words(&f, db, (const char *[]){ "SETRANGE", "big", "0", "XYZ" }, 4);
	OUT_EXPECT(&f.out, ":4194304\r\n");
	exec_words(&f, db, (const char *[]){ "GETRANGE", "big", "0", "4" }, 4);
	OUT_EXPECT(&f.out, "$5\r\nXYZaa\r\n");
	exec_words(&f, db, (const char *[]){ "SETRANGE", "new", "1000000", "end" }, 4);
	OUT_EXPECT(&f.out, ":1000003\r\n");
	exec_words(&f, db, (const char *[]){ "STRLEN", "new" }, 2);
	OUT_EXPECT(&f.out, ":1000003\r\n");
	free(piece);
	kv_db_destroy(db);
	fx_free(&f);
}

/* Commands change the db while a snapshot is written; the loaded image equals the db at
 * begin, and the db ends with the commands' effects. */
static void test_str_commands_during_snapshot(void **state)
{
	(void)state;
	struct fixture f;
	fx_init(&f);
	struct kv_db *db = kv_db_create(0);
	char key[32], val[32];
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "%d", i);
		exec_words(&f, db, (const char *[]){ "SET", key, val, "PX", "100000" }, 5);
	}
	resp_out_reset(&f.out);
	struct kv_snapshot *snap = kv_snapshot_begin(db);
	uint8_t buf[256];
	uint8_t *stream = NULL;
	size_t slen = 0;
	uint64_t rng = 3;
	static const char *const verbs[] = { "APPEND", "SETRANGE", "INCR", "GETDEL", "PERSIST",
					     "EXPIRE", "SET" };
	while (!kv_snapshot_done(snap)) {
		size_t n = kv_snapshot_next(snap, buf, sizeof(buf));
		stream = realloc(stream, slen + n + 1);
		memcpy(stream + slen, buf, n);
		slen += n;
		for (int c = 0; c < 3; c++) {
			snprintf(key, sizeof(key), "k%d", (int)(test_rand(&rng) % 2100));
			const char *verb = verbs[test_rand(&rng) % ARRAY_SIZE(verbs)];
			const char *w[4] = { verb, key, "1", "x" };
			uint32_t argc = strcmp(verb, "APPEND") == 0 || strcmp(verb, "EXPIRE") == 0 ||
				strcmp(verb, "SET") == 0 ? 3 : strcmp(verb, "SETRANGE") == 0 ? 4 : 2;
			exec_words(&f, db, w, argc);
		}
		resp_out_reset(&f.out);
	}
	kv_snapshot_end(snap);
	int err = 1;
	struct kv_db *copy = kv_snapshot_load(0, stream, slen, &err);
	assert_int_equal(err, 0);
	assert_int_equal(kv_db_size(copy), 2000);
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "%d", i);
		const char *v;
		size_t len;
		assert_true(kv_db_get(copy, key, strlen(key), NOW, &v, &len));
		assert_int_equal(len, strlen(val));
		assert_memory_equal(v, val, len);
		assert_int_equal(kv_db_expire_get(copy, key, strlen(key), NOW), NOW + 100000);
	}
	kv_db_destroy(copy);
	free(stream);
	kv_db_destroy(db);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_str_prepare_rewrites),
		cmocka_unit_test(test_str_prepare_refuses),
		cmocka_unit_test(test_str_replicas_agree),
		cmocka_unit_test(test_str_large_values),
		cmocka_unit_test(test_str_commands_during_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The command battery: every case recorded from real Redis 7.0 (battery_data.h, made by
 * record_battery.py) replayed on the kv handlers, in RESP2 and RESP3, through the replicated
 * path (prepare, encode, decode, exec) and the direct path (exec), with the exact reply bytes
 * compared. After each group, both paths must have left the same keyspace. */
#include "kv_image.h"
#include "kv_run.h"

struct bat_case {
	int group;
	const char *group_name;
	long long now_ms;
	uint32_t argc;
	const struct resp_arg *argv;
	const char *r2;
	size_t r2_len;
	const char *r3;
	size_t r3_len;
};

#include "battery_data.h"

static char *argv_text(const struct bat_case *c)
{
	static char buf[512];
	size_t n = 0;
	for (uint32_t i = 0; i < c->argc && n + 4 < sizeof(buf); i++) {
		for (size_t j = 0; j < c->argv[i].len && n + 4 < sizeof(buf); j++) {
			char ch = c->argv[i].ptr[j];
			buf[n++] = (ch >= 0x20 && ch < 0x7f) ? ch : '.';
		}
		buf[n++] = ' ';
	}
	buf[n] = '\0';
	return buf;
}

/* Bytes made printable for a failure message (malloc'd). */
static char *escaped(const char *p, size_t len)
{
	char *buf = malloc(len * 4 + 1), *q = buf;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == '\r') {
			*q++ = '\\';
			*q++ = 'r';
		} else if (ch == '\n') {
			*q++ = '\\';
			*q++ = 'n';
		} else if (ch >= 0x20 && ch < 0x7f) {
			*q++ = (char)ch;
		} else {
			q += sprintf(q, "\\x%02x", ch);
		}
	}
	*q = '\0';
	return buf;
}

static size_t check_case(const struct bat_case *c, size_t i, uint8_t proto, const char *path,
			 struct resp_out *out)
{
	size_t len;
	char *got = test_out_take(out, &len);
	const char *want = proto == 2 ? c->r2 : c->r3;
	size_t want_len = proto == 2 ? c->r2_len : c->r3_len;
	size_t failed = 0;
	if (len != want_len || memcmp(got, want, len) != 0) {
		size_t at = 0;
		while (at < len && at < want_len && got[at] == want[at])
			at++;
		char *g = escaped(got + at, MIN(len - at, (size_t)300));
		char *w = escaped(want + at, MIN(want_len - at, (size_t)300));
		print_error("RESP%u %s case %zu [%s] %s: from byte %zu\n  got  %s\n  want %s\n",
			    proto, path, i, c->group_name, argv_text(c), at, g, w);
		free(g);
		free(w);
		failed = 1;
	}
	free(got);
	return failed;
}

/* Both paths must have left the same keys, values and expiry times. */
static void expect_same_keyspace(const struct kv_db *a, const struct kv_db *b)
{
	struct image ia = image_take(a), ib = image_take(b);
	image_expect_equal(&ia, &ib);
	image_free(&ia);
	image_free(&ib);
}

/* Runs every case with protocol proto, through the logged and the direct path on two dbs in
 * step; returns the number of cases. */
static size_t run_battery(uint8_t proto)
{
	struct resp_chunk_pool pool;
	resp_chunk_pool_init(&pool, 64);
	struct resp_out out;
	resp_out_init(&out, &pool, proto);
	struct kv_runner logged = { .direct = false }, direct = { .direct = true };
	struct kv_db *db_logged = NULL, *db_direct = NULL;
	int group = -1;
	size_t failures = 0, n = sizeof(bat_cases) / sizeof(bat_cases[0]);
	for (size_t i = 0; i < n; i++) {
		const struct bat_case *c = &bat_cases[i];
		if (c->group != group) {
			if (db_logged != NULL)
				expect_same_keyspace(db_logged, db_direct);
			kv_db_destroy(db_logged);
			kv_db_destroy(db_direct);
			db_logged = kv_db_create(0);
			db_direct = kv_db_create(0);
			group = c->group;
		}
		kv_run(&logged, db_logged, c->argc, c->argv, c->now_ms, &out);
		failures += check_case(c, i, proto, "logged", &out);
		kv_run(&direct, db_direct, c->argc, c->argv, c->now_ms, &out);
		failures += check_case(c, i, proto, "direct", &out);
	}
	expect_same_keyspace(db_logged, db_direct);
	kv_db_destroy(db_logged);
	kv_db_destroy(db_direct);
	kv_runner_free(&logged);
	kv_runner_free(&direct);
	resp_chunk_pool_destroy(&pool);
	if (failures > 0)
		fail_msg("%zu of %zu replies differ from Redis", failures, 2 * n);
	return n;
}

static void test_battery_resp2(void **state)
{
	(void)state;
	assert_true(run_battery(2) > 500);
}

static void test_battery_resp3(void **state)
{
	(void)state;
	assert_true(run_battery(3) > 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_battery_resp2),
		cmocka_unit_test(test_battery_resp3),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
